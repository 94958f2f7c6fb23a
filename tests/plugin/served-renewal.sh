#!/bin/bash
# No false alarm during renewals: mailcert-milter's check of what the listeners serve
# (served.h) compares what a listener serves with the set that listener should serve
# now. Two hosts renewed one after the other, again and again, under a real Postfix
# (SMTP STARTTLS, SMTPS) and Dovecot (IMAP STARTTLS, IMAPS, POP3S), as `mailcert run`
# renews hosts due a moment apart. One more smtpd listener greets after a pause (a
# `sleep 2` client restriction, as a greeting pause or a slow DNS lookup does), so each
# check takes several seconds and the next host's reload comes while it runs: a check
# must not go on comparing the listeners with the sets loaded before that reload. The
# plugin logs no "serves the wrong certificate" line, status never lists a served
# problem, and the last check finds every listener serving every host's newest set.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "no jq"
MAILCERT=${MAILCERT:-$PWD/helpers/mailcert}
[ -x "$MAILCERT" ] || skip "mailcert not built"

STORE=$T/store
read -r SMTP SMTPS IMAP IMAPS POP3S SLOW < <(freeport 6 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
postconf -c "$PF_DIR" -M "127.0.0.1:$SLOW/inet = 127.0.0.1:$SLOW inet n - n - - smtpd -o smtpd_delay_reject=no -o { smtpd_client_restrictions = sleep 2 }" ||
    die "postconf -M"
postfix -c "$PF_DIR" reload >/dev/null 2>&1 || die "postfix reload"
wait_port 127.0.0.1 "$SLOW" 30 || die "the slow listener did not start"
conf=$T/mailcert.conf
two_selfsigned_started "$conf" "$STORE" "$IMAP" "$IMAPS" "$POP3S"

fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }
st_json() { "$MAILCERT" -c "$conf" status --json >"$T/st.json" 2>"$T/st.err"; ST_RC=$?; }
serial() { jq -r .serial "$STORE/certs/$1/state.json"; }
# the last check saw every listener serve both hosts' current sets (6 listeners:
# a.test, the default host, by its name and without SNI; b.test by its name)
clean_for() {
    st_json
    [ "$ST_RC" = 0 ] &&
        [ "$(jq --arg a "$1" --arg b "$2" '[.hosts[] | select((.host == "a.test" and .serial == $a) or
            (.host == "b.test" and .serial == $b)) | .served[] | select(.result == "ok")] | length' "$T/st.json")" = 18 ]
}
wait_for 120 clean_for "$(serial a.test)" "$(serial b.test)" ||
    die "never clean before the renewals: $(jq -c '[.problems, (.hosts[] | {host, served})]' "$T/st.json")"
wrong_lines() { grep -c 'serves the wrong certificate' "$T/milter.log"; }
before=$(wrong_lines)

# two hosts renewed a moment apart: a.test's reload starts a check, b.test's reload
# comes while that check still waits for the slow listener's greeting
problems=0
pf_serves_a() { serves smtp "$SMTP" a.test "$(serial a.test | sed 's/^0*//')"; }
for round in 1 2 3; do
    "$MAILCERT" -c "$conf" self-signed a.test >>"$T/mailcert.log" 2>&1 || die "renew a.test"
    wait_for 60 pf_serves_a || die "Postfix did not take a.test's new set"
    "$MAILCERT" -c "$conf" self-signed b.test >>"$T/mailcert.log" 2>&1 || die "renew b.test"
    # status while the checks run: no served problem may show
    for _ in $(seq 20); do
        sleep 0.5
        st_json
        n=$(jq '[.problems[] | select(test("serves the wrong certificate"))] | length' "$T/st.json")
        [ "$n" = 0 ] || { problems=$((problems + n)); log "round $round: $(jq -c .problems "$T/st.json")"; }
    done
done
A=$(serial a.test)
B=$(serial b.test)
if wait_for 120 clean_for "$A" "$B"; then ok "the last check finds every listener serving a.test $A and b.test $B"; else
    bad "not clean after the renewals (exit $ST_RC): $(jq -c '[.problems, (.hosts[] | {host, serial, served})]' "$T/st.json")"; fi
after=$(wrong_lines)
[ "$after" = "$before" ] && ok "no 'serves the wrong certificate' line in the plugin's log during 6 renewals" ||
    bad "$((after - before)) 'serves the wrong certificate' lines: $(grep 'wrong certificate' "$T/milter.log" | tail -5)"
[ "$problems" = 0 ] && ok "status listed no served problem while the renewals went on" ||
    bad "status listed $problems served problems during the renewals"
reloads=$(grep -c 'postfix reloaded' "$T/milter.log")
[ "$reloads" -ge 6 ] && ok "$reloads Postfix reloads" || bad "only $reloads Postfix reloads: the renewals did not make reloads"
[ $fail = 0 ] || grep 'served' "$T/milter.log" | tail -30 >&2
exit $fail
