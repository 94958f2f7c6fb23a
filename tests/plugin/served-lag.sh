#!/bin/bash
# status does not lag behind the listeners, under a real Postfix and Dovecot:
#  - Dovecot stopped: the check after SIGUSR1 finds its listeners unreachable; Dovecot
#    started again, nobody signals anything: mailcert-milter checks a failing listener
#    again soon (every MS_RECHECK_S, 30 s), and status sees every listener ok well
#    within the poll's deadline (the hourly check would come an hour later);
#  - the status table says when each listener was probed (LISTENER, PROBED "N s ago",
#    SERVED), and --json has each listener's probe time (.served.listeners[].probed);
#  - a Dovecot reload failing for a while (Dovecot stopped, a host renewed) waits for
#    its backoff (2, 4, 8, 16, 32 s ...); Dovecot started again and SIGUSR1 sent, the
#    reload is retried at once: loaded before the retry time the plugin had recorded.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "no jq"
MAILCERT=${MAILCERT:-$PWD/helpers/mailcert}
[ -x "$MAILCERT" ] || skip "mailcert not built"

STORE=$T/store
read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
conf=$T/mailcert.conf
two_selfsigned_started "$conf" "$STORE" "$IMAP" "$IMAPS" "$POP3S"

fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }
st_json() { "$MAILCERT" -c "$conf" status --json >"$T/st.json" 2>"$T/st.err"; ST_RC=$?; }
DOVECOT=("dovecot imap 127.0.0.1:$IMAP" "dovecot imaps 127.0.0.1:$IMAPS" "dovecot pop3s 127.0.0.1:$POP3S")
# every probe of every host ok (a.test: 5 listeners x 2, b.test: 5), status exits 0
clean() {
    st_json
    [ "$ST_RC" = 0 ] && [ "$(jq '[.hosts[].served[] | select(.result == "ok")] | length' "$T/st.json")" = 15 ]
}
round_time() { jq -r '.served.time // ""' "$STORE/run/milter.json" 2>/dev/null; }
new_round() { local t; t=$(round_time); [ -n "$t" ] && [[ "$t" > "$1" ]]; }
dovecot_stop() {
    doveadm -c "$DC_CONF" stop >/dev/null 2>&1 || bad "doveadm stop"
    imaps_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$IMAPS") 2>/dev/null; }
    wait_for 60 imaps_closed || die "Dovecot did not stop"
}
dovecot_again() {
    dovecot -c "$DC_CONF" >"$T/dc/restart.out" 2>&1 || die "dovecot restart: $(cat "$T/dc/restart.out")"
    wait_port 127.0.0.1 "$IMAPS" 30 || die "Dovecot did not start again"
}
wait_for 120 clean || die "never clean at the start: $(jq -c .problems "$T/st.json")"

# 1. a listener down, then fixed: seen without SIGUSR1
dovecot_stop
t0=$(round_time)
sleep 1.1 # the next check's time must differ from this one's (one-second resolution)
kill -USR1 "$MILTER_PID"
wait_for 120 new_round "$t0" || bad "no check after SIGUSR1"
st_json
n=$(jq '[.hosts[].served[] | select((.listener | startswith("dovecot ")) and .result == "unreachable")] | length' "$T/st.json")
[ "$ST_RC" = 1 ] && [ "$n" = 9 ] && ok "Dovecot stopped: its 9 probes unreachable, status exits 1" ||
    bad "Dovecot stopped: exit $ST_RC, $n unreachable"
dovecot_again
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# no signal from here on: the plugin's own re-check must see it (the deadline is generous;
# the hourly check would be an hour away)
if wait_for 150 clean; then ok "Dovecot started again: every listener ok without SIGUSR1"; else
    bad "Dovecot back, no SIGUSR1: still $(jq -c .problems "$T/st.json")"; fi
for l in "${DOVECOT[@]}"; do
    p=$(jq -r --arg l "$l" '.served.listeners[] | select(.listener == $l) | .probed' "$T/st.json")
    [[ "$p" > "$started" || "$p" == "$started" ]] && ok "--json: $l probed at $p (after the start at $started)" ||
        bad "--json: $l probed '$p': $(jq -c .served "$T/st.json")"
done
"$MAILCERT" -c "$conf" status >"$T/table" 2>&1
grep -qE '^LISTENER +PROBED +SERVED$' "$T/table" &&
    grep -qE "^dovecot imaps 127\.0\.0\.1:$IMAPS +[0-9]+ (s|min) ago +ok$" "$T/table" &&
    grep -qE "^postfix smtpd 127\.0\.0\.1:$SMTP +[0-9]+ (s|min) ago +ok$" "$T/table" &&
    ok "table: each listener, when it was probed: $(grep "^dovecot imaps" "$T/table")" || bad "table: $(cat "$T/table")"

# 2. SIGUSR1 cuts a reload's backoff
dovecot_stop
"$MAILCERT" -c "$conf" self-signed a.test >>"$T/mailcert.log" 2>&1 || die "renew a.test"
# the plugin's retry of Dovecot's reload: at least 30 s away (its fifth failure or later)
long_wait() {
    local next upd
    next=$(jq -r '.mta.dovecot.next_retry // ""' "$STORE/run/milter.json")
    upd=$(jq -r '.updated // ""' "$STORE/run/milter.json")
    [ -n "$next" ] && [ -n "$upd" ] && [ $(($(date -d "$next" +%s) - $(date -d "$upd" +%s))) -ge 30 ]
}
wait_for 180 long_wait || die "the reload's backoff never reached 30 s: $(jq -c .mta.dovecot "$STORE/run/milter.json")"
NEXT=$(jq -r .mta.dovecot.next_retry "$STORE/run/milter.json")
log "Dovecot's reload: $(jq -r .mta.dovecot.failures "$STORE/run/milter.json") failures, next retry at $NEXT"
dovecot_again
kill -USR1 "$MILTER_PID"
loaded() { st_json; [ "$(jq -r '.hosts[] | select(.host == "a.test") | .loaded.dovecot' "$T/st.json")" != null ]; }
if wait_for 120 loaded; then
    at=$(jq -r .mta.dovecot.last_reload "$STORE/run/milter.json")
    [[ "$at" < "$NEXT" ]] && ok "SIGUSR1: Dovecot reloaded at $at, before the backoff's $NEXT" ||
        bad "Dovecot reloaded at $at, not before the backoff's $NEXT: SIGUSR1 did not cut it"
else
    bad "a.test never loaded into Dovecot after SIGUSR1: $(jq -c .mta.dovecot "$STORE/run/milter.json")"
fi
grep -q 'SIGUSR1: retrying now what waited for its backoff' "$T/milter.log" && ok "the plugin logged the retry" ||
    bad "no retry logged"
wait_for 120 clean && ok "status clean again" || bad "not clean at the end: $(jq -c .problems "$T/st.json")"
exit $fail
