#!/bin/bash
# A host removed from the configuration leaves the store's live view (STORE/certs, so
# mailcert-milter and status drop it) at the next run; its files stay for 30 days, as
# the log says, then go; a host configured again before that keeps them.
. "$(dirname "$0")/e2e.sh"
set -u
need_test_hooks
e2e_workdir
conf=$W/mailcert.conf
S=$W/store
write() {
    {
        echo "store = \"$S\""
        echo "listeners { postfix = false  dovecot = false }"
        echo "notify { sendmail = \"\" }"
        for h in "$@"; do echo "host \"$h\" { source = \"self-signed\" }"; done
    } >"$conf"
}
write a.example.test b.example.test c.example.test
"$MAILCERT" -c "$conf" renew >"$W/r1" 2>&1; rc=$?
expect_eq "$rc" 0 "three self-signed hosts issued"
[ -L "$S/certs/b.example.test" ] && pass "b is live" || fail "b not issued: $(cat "$W/r1")"

# b and c leave the configuration
write a.example.test
now=$(date +%s)
MAILCERT_NOW=$now "$MAILCERT" -c "$conf" renew >"$W/r2" 2>&1; rc=$?
expect_eq "$rc" 0 "renew after removing two hosts"
for h in b.example.test c.example.test; do
    [ ! -e "$S/certs/$h" ] && [ ! -L "$S/certs/$h" ] && pass "$h left STORE/certs" || fail "$h still in certs/"
    [ -L "$S/retired/$h" ] && pass "$h is under STORE/retired" || fail "$h not retired"
    [ -n "$(ls "$S/versions/$h" 2>/dev/null)" ] && pass "$h's versions are kept" || fail "$h's versions are gone"
    grep -q "$h: no longer in the configuration: taken out of $S/certs (its files stay in $S/versions/$h until 20" "$W/r2" &&
        pass "the log says so, with the date" || fail "log: $(cat "$W/r2")"
done
[ -L "$S/certs/a.example.test" ] && pass "a stays" || fail "a was retired"
"$MAILCERT" -c "$conf" status --json >"$W/s2"; rc=$?
expect_eq "$rc" 0 "status is clean"
expect_eq "$(python3 -c 'import json,sys; print(" ".join(h["host"] for h in json.load(open(sys.argv[1]))["hosts"]))' "$W/s2")" \
    a.example.test "status lists only the configured host"

# c comes back before the grace period ends: its files are its own again
write a.example.test c.example.test
MAILCERT_NOW=$((now + 10 * 86400)) "$MAILCERT" -c "$conf" renew >"$W/r3" 2>&1
[ ! -L "$S/retired/c.example.test" ] && pass "c, configured again, is no longer retired" || fail "c still retired"
[ -L "$S/certs/c.example.test" ] && pass "c is live again" || fail "c not live: $(cat "$W/r3")"

# 31 days later b's files go; c's stay
MAILCERT_NOW=$((now + 31 * 86400)) "$MAILCERT" -c "$conf" renew >"$W/r4" 2>&1
[ ! -e "$S/versions/b.example.test" ] && pass "b's versions removed after 30 days" || fail "b's versions still there"
[ ! -L "$S/retired/b.example.test" ] && pass "b's retired link removed" || fail "b still under retired/"
grep -q "b.example.test: retired more than 30 days ago: its files are removed" "$W/r4" &&
    pass "the log says so" || fail "log: $(cat "$W/r4")"
[ -n "$(ls "$S/versions/c.example.test" 2>/dev/null)" ] && pass "c's versions are kept" || fail "c's versions removed"
finish
