#!/bin/bash
# An expired certificate served is a problem, even when it is the one loaded: Pebble
# issues a certificate valid for two minutes (certificateValidityPeriod), mailcert-milter
# loads it into a real Postfix and Dovecot, and the CA is gone (stopped) until after it
# expires, so nothing renews it:
#  - before it expires, `mailcert status` with its clock moved past the expiry
#    (MAILCERT_NOW, a test-hooks build) already judges the recorded probes: exit 1,
#    SERVED expired, the problem named;
#  - once it has expired, mailcert-milter checks the listeners by itself (no SIGUSR1,
#    no reload): every probe says "expired"; status (real clock) exits 1, the table
#    says SERVED expired, --json lists the problem in problems[] and in the host's
#    served array, --only-errors lists the host, the Prometheus file counts the probes
#    as expired, and the plugin logs it.
. "$(dirname "$0")/lib.sh"
MAILCERT=${MAILCERT:-$PWD/helpers/mailcert}
[ -x "$MAILCERT" ] || skip "$MAILCERT not built"
command -v jq >/dev/null || skip "no jq"
command -v pebble >/dev/null || skip "no pebble"
# shellcheck source=tests/lib/pebble.sh
. "$srcdir/tests/lib/pebble.sh"
# long enough for a slow or busy machine to record the first probes before the
# expiry (the test then waits for the real expiry)
VALIDITY=300

export PEBBLE_VA_NOSLEEP=1 PEBBLE_START_CERT_VALIDITY=$VALIDITY
pebble_start "$T/pebble"
STORE=$T/store
read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
mkdir -p "$T/dc"
DC_CONF=$T/dc/dovecot.conf
conf=$T/mailcert.conf
pebble_mta_conf "$conf" "$STORE"
"$MAILCERT" -c "$conf" issue >"$T/issue.out" 2>&1 || die "mailcert issue: $(tail -5 "$T/issue.out")"
# the CA is gone until after the certificate expired
pebble_stop
NA=$(date -d "$(openssl x509 -in "$STORE/certs/mail.example.test/fullchain.pem" -noout -enddate | sed 's/^notAfter=//')" +%s) ||
    die "no notAfter"
NA_TEXT=$(date -u -d "@$NA" +%Y-%m-%dT%H:%M:%SZ)
milter_once_before_dovecot "$conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
milter_start "$conf"

fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }
st_json() { "$MAILCERT" -c "$conf" status --json "$@" >"$T/st.json" 2>"$T/st.err"; ST_RC=$?; }
hq() { jq -r ".hosts[] | select(.host == \"mail.example.test\") | $1" "$T/st.json"; }
# 5 listeners x (2 names + no SNI)
served_all() { [ "$(hq "[.served[] | select(.result == \"$1\")] | length")" = 15 ]; }
clean() { st_json; [ "$ST_RC" = 0 ] && served_all ok; }

# 1. served and valid; status with its clock past the expiry judges the probes again
# (an "ok" probe was made while the certificate was valid: what status says with its
# clock past the expiry does not depend on how long that took)
if wait_for $((VALIDITY - 30)) clean; then
    ok "before the expiry: status exits 0, 15 probes ok"
    MAILCERT_NOW=$((NA + 1)) st_json
    [ "$ST_RC" = 1 ] && served_all expired && ok "status at the expiry (MAILCERT_NOW): exit 1, 15 probes expired" ||
        bad "status at the expiry: exit $ST_RC, $(hq '[.served[].result] | unique')"
    jq -r '.problems[]' "$T/st.json" | grep -q "^mail.example.test: postfix smtpd 127.0.0.1:$SMTP serves an expired certificate for smtp.example.test: serves serial [0-9a-f]*, expired at $NA_TEXT" &&
        ok "problems[] names it" || bad "problems: $(jq -c .problems "$T/st.json")"
else
    bad "never clean before the expiry: exit $ST_RC, $(jq -c .problems "$T/st.json")"
fi

# 2. expired: the plugin looks again by itself
expired_now() { [ "$(date +%s)" -gt "$NA" ]; }
wait_for $((VALIDITY + 60)) expired_now || die "the clock did not pass $NA_TEXT"
plugin_saw() { [ "$(jq '[.hosts[].served[] | select(.result == "expired")] | length' "$STORE/run/milter.json")" = 15 ]; }
if wait_for 120 plugin_saw; then ok "mailcert-milter checked again at the expiry: 15 probes expired"; else
    bad "milter.json: $(jq -c '[.hosts[].served[] | {listener, name, result, time}]' "$STORE/run/milter.json")"; fi
st_json
[ "$ST_RC" = 1 ] && served_all expired && ok "status exits 1, every probe expired" ||
    bad "status: exit $ST_RC, $(hq '[.served[].result] | unique')"
[ "$(hq .has_cert)" = true ] && [ "$(hq .loaded.postfix)" != null ] && ok "CERT yes and LOADED yes, as before" ||
    bad "has_cert $(hq .has_cert), loaded $(hq .loaded)"
n=$(jq '[.problems[] | select(test("^mail.example.test: .* serves an expired certificate for .*expired at '"$NA_TEXT"'"))] | length' "$T/st.json")
[ "$n" = 15 ] && ok "problems[]: 15, e.g. $(jq -r '.problems[0]' "$T/st.json")" || bad "problems: $(jq -c .problems "$T/st.json")"
"$MAILCERT" -c "$conf" status >"$T/table" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -qE '^mail\.example\.test +yes +[^ ]+ +acme +yes +expired ' "$T/table" && ok "table: SERVED expired" ||
    bad "table (exit $rc): $(cat "$T/table")"
"$MAILCERT" -c "$conf" status --only-errors >"$T/errs" 2>&1
grep -q '^mail\.example\.test' "$T/errs" && ok "--only-errors lists the host" || bad "--only-errors: $(cat "$T/errs")"
grep -qx 'mailcert_served_probes{host="mail.example.test",result="expired"} 15' "$STORE/run/mailcert.prom" &&
    ok "mailcert.prom: 15 probes expired" || bad "mailcert.prom: $(grep served_probes "$STORE/run/mailcert.prom")"
grep -q "error: served: mail.example.test: dovecot imaps 127.0.0.1:$IMAPS serves an expired certificate" "$T/milter.log" &&
    ok "the plugin logged it" || bad "not logged: $(grep served: "$T/milter.log" | tail -5)"
exit $fail
