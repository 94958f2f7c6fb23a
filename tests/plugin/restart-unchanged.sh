#!/bin/bash
# A restart of mailcert-milter reloads only what changed while it was stopped.
#  1. first start after the --once that wrote Dovecot's include before Dovecot ran:
#     Dovecot is reloaded (that --once could not), Postfix is not (it loaded these sets);
#  2. stop, start again with the store unchanged: neither is reloaded (no
#     "reloaded" line in the milter's log, no reload in Postfix's or Dovecot's log),
#     and milter.json keeps the times the sets went live;
#  3. stop, a new set for b.test, start: both are reloaded and serve it;
#  4. stop, Dovecot's include removed, start: Dovecot's is written again and Dovecot
#     reloaded, Postfix is not.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "no jq"

ca_make "$T/ca"
STORE=$T/store
leaf_make "$T/ca" "$T/a" 10 a.test
leaf_make "$T/ca" "$T/b1" 10 b.test
store_put_set "$STORE" a.test "$T/ca" "$T/a"
store_put_set "$STORE" b.test "$T/ca" "$T/b1"
read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test
milter_once_before_dovecot "$T/mailcert.conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test

J=$STORE/run/milter.json
fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }
# reloads as the MTAs themselves log them
pf_reloads() { grep -c 'postfix/master.*reload' "$T/pf/postfix.log"; }
dc_reloads() { grep -c 'SIGHUP received - reloading' "$T/dc/dovecot.log"; }
# every host's current set is recorded as live in both MTAs
all_loaded() {
    [ "$(jq -r --arg pid "$1" 'select(.pid == ($pid | tonumber)) | [.hosts[] |
        (.loaded.postfix != null and .loaded.dovecot != null)] | all' "$J" 2>/dev/null)" = true ]
}
RUNNING=
stop_running() { [ -z "$RUNNING" ] || milter_stop "$RUNNING"; }
on_exit stop_running
# run_once N: start the milter, wait until its first batch is recorded and every
# set is live, stop it; the log of this start is $T/run$N.log
run_once() {
    local n=$1
    "$MILTER" -f -v -c "$T/mailcert.conf" >"$T/run$n.log" 2>&1 &
    RUNNING=$!
    wait_for 120 all_loaded "$RUNNING" ||
        bad "start $n: the sets never went live: $(jq -c .hosts "$J"; tail -5 "$T/run$n.log")"
    milter_stop "$RUNNING" || bad "start $n: no clean stop"
    RUNNING=
    cat "$T/run$n.log" >>"$T/milter.log"
}
reloaded() { # N MTA: how many "MTA reloaded" lines start N logged
    grep -c "$2 reloaded" "$T/run$1.log"
}

run_once 1
[ "$(reloaded 1 postfix)" = 0 ] && [ "$(reloaded 1 dovecot)" -ge 1 ] &&
    ok "first start: Dovecot reloaded, Postfix (loaded by --once) not" ||
    bad "first start: $(grep reloaded "$T/run1.log" | tr '\n' ' ')"
LOADED1=$(jq -c '[.hosts[] | .loaded]' "$J")
PF=$(pf_reloads)
DC=$(dc_reloads)

# 2. unchanged (a second later: a load time written again would differ)
sleep 1.1
run_once 2
if [ "$(reloaded 2 postfix)" = 0 ] && [ "$(reloaded 2 dovecot)" = 0 ]; then
    ok "unchanged store: neither reloaded"
else
    bad "unchanged store, yet: $(grep reloaded "$T/run2.log" | tr '\n' ' ')"
fi
[ "$(pf_reloads)" = "$PF" ] && ok "Postfix logged no reload" ||
    bad "Postfix logged $(($(pf_reloads) - PF)) reload(s)"
[ "$(dc_reloads)" = "$DC" ] && ok "Dovecot logged no reload" ||
    bad "Dovecot logged $(($(dc_reloads) - DC)) reload(s)"
[ "$(jq -c '[.hosts[] | .loaded]' "$J")" = "$LOADED1" ] &&
    ok "load times kept: $LOADED1" || bad "load times $(jq -c '[.hosts[] | .loaded]' "$J"), were $LOADED1"

# 3. a new set while stopped
leaf_make "$T/ca" "$T/b2" 10 b.test
store_put_set "$STORE" b.test "$T/ca" "$T/b2"
B2=$(serial_of "$T/b2.pem")
run_once 3
[ "$(reloaded 3 postfix)" -ge 1 ] && [ "$(reloaded 3 dovecot)" -ge 1 ] &&
    ok "store changed while stopped: both reloaded" || bad "changed store: $(grep reloaded "$T/run3.log")"
[ "$(pf_reloads)" -gt "$PF" ] && [ "$(dc_reloads)" -gt "$DC" ] &&
    ok "the MTAs logged their reloads" || bad "MTA reloads: Postfix $(pf_reloads) (was $PF), Dovecot $(dc_reloads) (was $DC)"
for l in "smtp $SMTP" "tls $IMAPS"; do
    set -- $l
    wait_for 60 serves "$1" "$2" b.test "$B2" "$T/ca/root.pem" && ok "$1:$2 serves the new b.test" ||
        bad "$1:$2 serves $(served_serial "$1" "$2" b.test)"
done
PF=$(pf_reloads)
DC=$(dc_reloads)

# 4. one MTA's file gone while stopped
rm -f "$STORE/dovecot/mailcert.conf"
run_once 4
[ "$(reloaded 4 postfix)" = 0 ] && [ "$(reloaded 4 dovecot)" -ge 1 ] &&
    ok "Dovecot's include removed: only Dovecot reloaded" ||
    bad "Dovecot's include removed: $(grep reloaded "$T/run4.log" | tr '\n' ' ')"
[ -s "$STORE/dovecot/mailcert.conf" ] && ok "the include is back" || bad "no include"
[ "$(pf_reloads)" = "$PF" ] && [ "$(dc_reloads)" -gt "$DC" ] && ok "so say the MTAs' logs" ||
    bad "MTA reloads: Postfix $(pf_reloads) (was $PF), Dovecot $(dc_reloads) (was $DC)"
[ $fail = 0 ] || tail -30 "$T/milter.log" >&2
exit $fail
