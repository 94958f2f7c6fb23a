#!/bin/bash
# listeners { sendmail = true }: the daemon in sendmail_pid_file gets SIGHUP when
# the default host's certificate changes (Sendmail serves only that one), not when
# another host changes; STORE/run/default.pem follows the default host's checked set.
# A stand-in process records the signals.
. "$(dirname "$0")/lib.sh"

ca_make "$T/ca"
STORE=$T/store
leaf_make "$T/ca" "$T/a1" 10 a.test
leaf_make "$T/ca" "$T/b1" 10 b.test
store_put_set "$STORE" a.test "$T/ca" "$T/a1"
store_put_set "$STORE" b.test "$T/ca" "$T/b1"

bash -c 'trap "echo HUP >>\"$0\"" HUP; while :; do sleep 0.1; done' "$T/hups" &
FAKE=$!
on_exit "kill $FAKE 2>/dev/null"
echo "$FAKE" >"$T/sendmail.pid"
cat >"$T/mailcert.conf" <<CONF
store = "$STORE"
default_host = "a.test"
listeners {
  postfix = false
  dovecot = false
  sendmail = true
  sendmail_pid_file = "$T/sendmail.pid"
  sendmail_config = ""                 # its Sendmail is a stand-in: nothing listens
}
host "a.test" { source = "manual" }
host "b.test" { source = "manual" }
CONF
hups() { [ -e "$T/hups" ] && wc -l <"$T/hups" || echo 0; }
hups_eq() { [ "$(hups)" -eq "$1" ]; }
milter_start "$T/mailcert.conf"
fail=0
wait_for 60 hups_eq 1 && log "ok   SIGHUP at start" || { log "FAIL $(hups) SIGHUPs at start"; fail=1; }
[ "$(serial_of "$STORE/run/default.pem")" = "$(serial_of "$T/a1.pem")" ] ||
    { log "FAIL run/default.pem is not a.test's set"; fail=1; }

leaf_make "$T/ca" "$T/b2" 10 b.test
store_put_set "$STORE" b.test "$T/ca" "$T/b2"
# wait until the milter has taken b.test's new set, then count the SIGHUPs
B2=$(serial_of "$T/b2.pem")
b_taken() { [ "$(jq -r '.hosts["b.test"].serial' "$STORE/run/milter.json" 2>/dev/null | sed 's/^0*//')" = "$B2" ]; }
wait_for 60 b_taken || { log "FAIL the milter never took b.test's new set"; fail=1; }
hups_eq 1 && log "ok   no SIGHUP for another host" || { log "FAIL $(hups) SIGHUPs after b.test changed"; fail=1; }

leaf_make "$T/ca" "$T/a2" 10 a.test
store_put_set "$STORE" a.test "$T/ca" "$T/a2"
wait_for 60 hups_eq 2 && log "ok   SIGHUP when the default host changed" ||
    { log "FAIL $(hups) SIGHUPs after a.test changed"; fail=1; }
[ "$(serial_of "$STORE/run/default.pem")" = "$(serial_of "$T/a2.pem")" ] ||
    { log "FAIL run/default.pem did not follow a.test"; fail=1; }
case $(readlink "$STORE/run/default.pem") in
    "$STORE"/versions/a.test/*/cert.pem) log "ok   run/default.pem -> the version path" ;;
    *) log "FAIL run/default.pem -> $(readlink "$STORE/run/default.pem")"; fail=1 ;;
esac
case $(jq -r '.hosts["a.test"].loaded.sendmail' "$STORE/run/milter.json") in
    20*Z) log "ok   milter.json: a.test loaded in sendmail" ;;
    *) log "FAIL milter.json: a.test not loaded in sendmail"; fail=1 ;;
esac
[ "$(jq -r '.hosts["b.test"].loaded.sendmail' "$STORE/run/milter.json")" = null ] ||
    { log "FAIL milter.json: b.test loaded in sendmail"; fail=1; }
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
