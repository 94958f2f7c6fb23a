#!/bin/bash
# Issue for several hosts against a real Pebble and check every installed set.
# PEBBLE_* variables from the environment reach Pebble (see the nonce and sleep variants).
. "$(dirname "$0")/e2e.sh"
set -u

e2e_workdir
export PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP-1}
[ -n "$PEBBLE_VA_NOSLEEP" ] || unset PEBBLE_VA_NOSLEEP
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" \
    mail.example.test:smtp.example.test imap.example.test pop.example.test:pop3.example.test,mx.example.test \
    "*.wild.example.test"
# the wildcard host needs dns-01; give it a hook that publishes into challtestsrv
cat > "$W/hook" <<EOH
#!/bin/sh
# \$1 add|remove  \$2 dns-01  \$3 name  \$4 value
case "\$1" in
add) curl -fsS -d "{\"host\":\"\$3\",\"value\":\"\$4\"}" "$CHALLTESTSRV_URL/set-txt" ;;
remove) curl -fsS -d "{\"host\":\"\$3\"}" "$CHALLTESTSRV_URL/clear-txt" ;;
esac
echo "\$1 \$MAILCERT_HOST \$MAILCERT_IDENTIFIER \$MAILCERT_TXT_NAME" >> "$W/hook.log"
EOH
chmod 755 "$W/hook"
sed -i 's|^host "\*.wild.example.test" { names = {  } }|host "*.wild.example.test" { names = { "wild.example.test" } challenge = "dns-01" }|' "$conf"
# the resolver check waits until challtestsrv (Pebble's DNS) answers with the record
printf 'dns01 {\n  hook = "%s"\n  resolver = "%s"\n  propagation_timeout = 30\n}\n' "$W/hook" "$PEBBLE_DNS" >> "$conf"

"$MAILCERT" -c "$conf" check >/dev/null || fail "config check"
"$MAILCERT" -v -c "$conf" issue > "$W/issue.out" 2>&1 &
issue_pid=$!
# while validations are slow, look at who answers http-01: never root
responder_users=""
if [ -z "${PEBBLE_VA_NOSLEEP:-}" ]; then
    while :; do
        # the responder names itself; hooks are other children (and run as root)
        responder_users="$responder_users $(ps -o user=,comm= --ppid "$issue_pid" 2>/dev/null | awk '$2 == "mailcert-http01" {print $1}' | tr '\n' ' ')"
        kill -0 "$issue_pid" 2>/dev/null || break
        sleep 0.1
    done
fi
if wait "$issue_pid"; then
    pass "issue for 4 hosts exited 0"
else
    fail "issue exited non-zero: $(cat "$W/issue.out")"
fi
if [ -z "${PEBBLE_VA_NOSLEEP:-}" ]; then
    case "$responder_users" in
        *nobody*) pass "the http-01 responder runs as nobody" ;;
        *) fail "no unprivileged responder process seen (saw:$responder_users)" ;;
    esac
    case "$responder_users" in *root*) fail "a responder process ran as root: $responder_users" ;; esac
fi
# the variants must really have exercised what they are for
if [ "${PEBBLE_WFE_NONCEREJECT:-0}" -ge 10 ]; then
    n=$(grep -c "badNonce, retrying with a fresh nonce" "$W/issue.out")
    [ "$n" -ge 1 ] && pass "badNonce answers were retried ($n times)" ||
        fail "PEBBLE_WFE_NONCEREJECT=$PEBBLE_WFE_NONCEREJECT but no badNonce retry was logged"
fi
if [ -z "${PEBBLE_VA_NOSLEEP:-}" ]; then
    n=$(grep -c "pending, polling again" "$W/issue.out")
    [ "$n" -ge 1 ] && pass "pending authorizations were polled ($n polls)" ||
        fail "validation sleeps on but no pending poll was logged"
fi
pebble_root_refresh
check_set "$W/store" mail.example.test "$PEBBLE_ROOT" mail.example.test smtp.example.test
check_set "$W/store" imap.example.test "$PEBBLE_ROOT" imap.example.test
check_set "$W/store" pop.example.test "$PEBBLE_ROOT" pop.example.test pop3.example.test mx.example.test
check_set "$W/store" _wildcard.wild.example.test "$PEBBLE_ROOT" '*.wild.example.test' wild.example.test
grep -q "add \*.wild.example.test wild.example.test _acme-challenge.wild.example.test." "$W/hook.log" \
    && pass "dns-01 hook called with the documented arguments and environment" \
    || fail "dns-01 hook log: $(cat "$W/hook.log" 2>/dev/null)"
grep -q "^remove " "$W/hook.log" && pass "dns-01 hook removed its record" || fail "dns-01 hook never removed"

# keys are never world-readable, anywhere in the store
bad=$(find "$W/store" -type f \( -name 'key.pem' -o -name 'cert.pem' \) -perm /o=r)
expect_eq "$bad" "" "no key file is world-readable"
bad=$(find "$W/store/accounts" -type f -perm /go=rwx)
expect_eq "$bad" "" "account files are private to root"
expect_eq "$(file_mode "$W/store/accounts")" 700 "accounts directory mode"

# status: table and JSON
"$MAILCERT" -c "$conf" status > "$W/status.txt"; rc=$?
expect_eq "$rc" 0 "status exits 0 when all hosts are fine"
grep -q '^mail.example.test *yes' "$W/status.txt" && pass "status table row" || fail "status table: $(cat "$W/status.txt")"
"$MAILCERT" -c "$conf" status --json > "$W/status.json"
serial=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([h for h in d["hosts"] if h["host"]=="mail.example.test"][0]["serial"])' "$W/status.json")
expect_eq "$serial" "$(leaf_serial "$W/store" mail.example.test)" "status --json serial matches the installed leaf"
python3 - "$W/status.json" <<'EOP' && pass "status --json has the documented fields" || fail "status --json fields"
import json, sys
d = json.load(open(sys.argv[1]))
need = ["host", "names", "source", "has_cert", "serial", "issuer", "cert_expiration_time",
        "renewal_time", "last_success_time", "last_failure_time",
        "last_failure_error_message", "next_retry_time", "loaded"]
for h in d["hosts"]:
    for k in need:
        assert k in h, k
    assert h["has_cert"] is True and h["last_failure_time"] is None
    assert h["cert_expiration_time"].endswith("Z")
EOP
# Debian 12's Pebble 2.4 has no renewalInfo in its directory: no window, the lifetime
# rule, and the directory looked at again for it a day later. Debian 13's Pebble 2.6
# has: the CA's window, and the renewal time inside it.
if curl -fsS --cacert "$PEBBLE_API_CA" "$PEBBLE_DIR_URL" | grep -q '"renewalInfo"'; then
python3 - "$W/status.json" <<'EOP' && pass "with renewal information: the CA's window" || fail "status --json ARI window"
import json, sys, datetime
def t(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
for h in json.load(open(sys.argv[1]))["hosts"]:
    assert h["ari_window_start"] and h["ari_window_end"], h
    s, e, r = t(h["ari_window_start"]), t(h["ari_window_end"]), t(h["renewal_time"])
    assert s <= r <= e, (h["renewal_time"], h["ari_window_start"], h["ari_window_end"])
    assert t(h["cert_start_time"]) < s < e <= t(h["cert_expiration_time"]), h
    assert h["ari_next_check_time"], h
EOP
else
python3 - "$W/status.json" <<'EOP' && pass "without renewal information: the lifetime rule" || fail "status --json ARI fallback"
import json, sys, datetime
def t(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
for h in json.load(open(sys.argv[1]))["hosts"]:
    for k in ("ari_window_start", "ari_window_end", "ari_explanation_url", "ari_next_check_time"):
        assert k in h, k
    assert h["ari_window_start"] is None and h["ari_window_end"] is None and h["ari_explanation_url"] is None, h
    nb, na = t(h["cert_start_time"]), t(h["cert_expiration_time"])
    life = na - nb
    want = nb + life / 2 if life < 10 * 86400 else na - life // 3
    assert abs(t(h["renewal_time"]) - want) <= 1, (h["renewal_time"], want)
    assert abs(t(h["ari_next_check_time"]) - t(h["last_success_time"]) - 86400) <= 5, h
EOP
fi

# a second run leaves valid certificates alone; --force replaces them
before=$(leaf_serial "$W/store" imap.example.test)
"$MAILCERT" -c "$conf" issue imap.example.test > "$W/issue2.out" 2>&1 || fail "second issue failed"
expect_eq "$(leaf_serial "$W/store" imap.example.test)" "$before" "issue without --force keeps a valid certificate"
grep -q "renewal due" "$W/issue2.out" && pass "issue says why it skipped" || fail "no skip message: $(cat "$W/issue2.out")"
"$MAILCERT" -c "$conf" issue --force imap.example.test > "$W/issue3.out" 2>&1 || fail "issue --force failed: $(cat "$W/issue3.out")"
after=$(leaf_serial "$W/store" imap.example.test)
[ "$after" != "$before" ] && pass "issue --force installs a new certificate" || fail "serial unchanged after --force"
check_set "$W/store" imap.example.test "$PEBBLE_ROOT" imap.example.test
# a host named several times is done once
"$MAILCERT" -c "$conf" issue --force imap.example.test imap.example.test imap.example.test > "$W/issue-dup.out" 2>&1 \
    || fail "issue with a repeated host: $(cat "$W/issue-dup.out")"
expect_eq "$(grep -c 'certificate installed' "$W/issue-dup.out")" 1 "a repeated host is ordered once"
nver=$(find "$W/store/versions/imap.example.test" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$nver" -le 2 ] && pass "old versions pruned ($nver kept)" || fail "$nver versions kept"

# renaming a host's names makes the next plain issue replace it
sed -i 's|host "imap.example.test" { names = {  } }|host "imap.example.test" { names = { "imap2.example.test" } }|' "$conf"
"$MAILCERT" -c "$conf" issue imap.example.test > "$W/issue4.out" 2>&1 || fail "issue after adding a name"
check_set "$W/store" imap.example.test "$PEBBLE_ROOT" imap.example.test imap2.example.test
finish
