#!/bin/bash
# dns01.challenge_file against a real Pebble: a small script plays the operator's DNS
# utility (polls the file, publishes every record listed through pebble-challtestsrv,
# clears those no longer listed). Several hosts at once, a wildcard and its base name
# (two values for one TXT name) are issued; the file has the documented format and
# mode, and is gone afterwards. With the utility stopped, a short propagation_timeout
# fails the host naming the record never seen and the file.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0
pebble_start "$W/pebble"
DROP=$W/dnsdrop
mkdir -p "$DROP"
F=$DROP/acme-challenges.txt
UTIL_LOG=$W/utility.log

# The operator's utility: every 0.2 s read the file; publish what is new, and for a
# name whose values changed clear it and publish what is left.
utility() {
    local cur prev="" name
    : >"$UTIL_LOG"
    while :; do
        cur=
        if [ -e "$F" ]; then
            [ -e "$W/first-file" ] || { cp "$F" "$W/first-file"; stat -c %a "$F" >"$W/first-mode"; }
            cur=$(grep -v '^#' "$F" | sort) || :
        fi
        if [ "$cur" != "$prev" ]; then
            for name in $( (printf '%s\n' "$prev"; printf '%s\n' "$cur") | awk 'NF {print $1}' | sort -u); do
                [ "$(printf '%s\n' "$prev" | awk -v n="$name" '$1 == n')" = "$(printf '%s\n' "$cur" | awk -v n="$name" '$1 == n')" ] && continue
                pebble_clear_txt "$name" || echo "clear $name failed" >>"$UTIL_LOG"
                printf '%s\n' "$cur" | awk -v n="$name" '$1 == n && $2 == "TXT" {gsub(/"/, "", $3); print $3}' |
                    while read -r v; do
                        pebble_set_txt "$name" "$v" && echo "set $name $v" >>"$UTIL_LOG"
                    done
                printf '%s\n' "$cur" | grep -q "^$name " || echo "cleared $name" >>"$UTIL_LOG"
            done
            prev=$cur
        fi
        sleep 0.2
    done
}

write_conf() { # TIMEOUT HOST-LINES...
    local timeout=$1
    shift
    cat >"$W/mailcert.conf" <<EOC
store = "$W/store"
resolver = "$PEBBLE_DNS"
listeners { postfix = false  dovecot = false }
notify { sendmail = "" }
acme {
  directory = "$PEBBLE_DIR_URL"
  email = "postmaster@example.test"
  agree_tos = true
  ca_bundle = "$PEBBLE_API_CA"
}
dns01 {
  challenge_file = "$F"
  propagation_timeout = $timeout
}
EOC
    printf '%s\n' "$@" >>"$W/mailcert.conf"
}

# --- several hosts at once, a wildcard with its base name ------------------------------
utility &
UTIL_PID=$!
on_exit "kill $UTIL_PID 2>/dev/null"
write_conf 60 \
    'host "mail.dnsfile.test" { names = { "smtp.dnsfile.test" } challenge = "dns-01" }' \
    'host "*.wild.dnsfile.test" { names = { "wild.dnsfile.test" } challenge = "dns-01" }' \
    'host "mx1.dnsfile.test" { challenge = "dns-01" }' \
    'host "mx2.dnsfile.test" { challenge = "dns-01" }'
"$MAILCERT" -v -c "$W/mailcert.conf" issue --jobs 4 >"$W/issue.out" 2>&1
rc=$?
expect_eq "$rc" 0 "issue through the challenge file: exit 0"
[ "$rc" = 0 ] || log "issue output: $(tail -20 "$W/issue.out")"
check_set "$W/store" mail.dnsfile.test "$PEBBLE_ROOT" mail.dnsfile.test smtp.dnsfile.test
check_set "$W/store" _wildcard.wild.dnsfile.test "$PEBBLE_ROOT" "*.wild.dnsfile.test" wild.dnsfile.test
check_set "$W/store" mx1.dnsfile.test "$PEBBLE_ROOT" mx1.dnsfile.test
check_set "$W/store" mx2.dnsfile.test "$PEBBLE_ROOT" mx2.dnsfile.test
[ ! -e "$F" ] && pass "the file is removed once nothing is pending" || fail "the file is left: $(cat "$F")"
ls -A "$DROP" | grep -q . && fail "something left in the directory: $(ls -A "$DROP")" || pass "no temporary file left beside it"
expect_eq "$(cat "$W/first-mode" 2>/dev/null)" 644 "the file is mode 0644"
head -1 "$W/first-file" | grep -q '^# dns-01 records mailcert needs published now' &&
    pass "the file starts with its header comment" || fail "no header: $(cat "$W/first-file")"
bad=$(grep -v '^#' "$W/first-file" | grep -Ev '^_acme-challenge\.[a-z0-9.]+\.test\. TXT "[A-Za-z0-9_-]{43}"$')
[ -z "$bad" ] && grep -q '^_acme' "$W/first-file" && pass "each record a line: NAME. TXT \"VALUE\"" ||
    fail "unexpected lines: $(cat "$W/first-file")"
# every name's record was published and cleared again; the wildcard and its base share one name
# (the utility polls the file: give it time to see the last removal on a loaded machine)
all_cleared() { for n in mail smtp mx1 mx2 wild; do grep -q "^cleared _acme-challenge.$n.dnsfile.test.$" "$UTIL_LOG" || return 1; done; }
deadline=$((SECONDS + 60))
until all_cleared || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
for n in mail smtp mx1 mx2 wild; do
    grep -q "^set _acme-challenge.$n.dnsfile.test. " "$UTIL_LOG" && grep -q "^cleared _acme-challenge.$n.dnsfile.test.$" "$UTIL_LOG" &&
        pass "$n: record published, then removed from the file" || fail "$n: $(grep "$n" "$UTIL_LOG")"
done
nwild=$(grep -c "^set _acme-challenge.wild.dnsfile.test. " "$UTIL_LOG")
[ "$(grep "^set _acme-challenge.wild.dnsfile.test. " "$UTIL_LOG" | awk '{print $3}' | sort -u | wc -l)" -ge 2 ] &&
    pass "the wildcard and its base name: two values for one TXT name ($nwild sets)" ||
    fail "wildcard values: $(grep wild "$UTIL_LOG")"
grep -q "failed" "$UTIL_LOG" && fail "the utility failed: $(grep failed "$UTIL_LOG")"

# --- the utility not running: a clear time-out naming the record and the file ---------------
kill "$UTIL_PID" 2>/dev/null
wait "$UTIL_PID" 2>/dev/null
write_conf 4 'host "late.dnsfile.test" { challenge = "dns-01" }'
"$MAILCERT" -c "$W/mailcert.conf" issue >"$W/timeout.out" 2>&1
rc=$?
[ "$rc" != 0 ] && pass "no record published: issue fails (exit $rc)" || fail "issue succeeded without the record"
grep -q "the record _acme-challenge.late.dnsfile.test. TXT \"[A-Za-z0-9_-]*\" written to $F was never seen: TXT record _acme-challenge.late.dnsfile.test. not visible at $PEBBLE_DNS after 4 s" "$W/timeout.out" &&
    pass "the time-out names the record and the file" || fail "time-out message: $(cat "$W/timeout.out")"
[ ! -e "$F" ] && pass "the file is removed after the failure too" || fail "left after the failure: $(cat "$F")"
"$MAILCERT" -c "$W/mailcert.conf" status --json >"$W/status.json" 2>&1
grep -q "never seen" "$W/status.json" && pass "status shows the host's error" || fail "status: $(cat "$W/status.json")"

# --- the directory must exist ----------------------------------------------------------------
sed -i "s|challenge_file = \"$F\"|challenge_file = \"$W/nodir/x.txt\"|" "$W/mailcert.conf"
"$MAILCERT" -c "$W/mailcert.conf" retry late.dnsfile.test >"$W/nodir.out" 2>&1
grep -q "dns01.challenge_file $W/nodir/x.txt: the directory $W/nodir does not exist" "$W/nodir.out" &&
    pass "a missing directory is named" || fail "missing directory: $(cat "$W/nodir.out")"
finish
