#!/bin/bash
# `mailcert run -f` watches the store and wakes at each host's own due time, against
# a real Pebble whose certificates live 300 s (renewal due when half is left), on the
# real clock:
#  - a set installed from the command line (`mailcert issue --force`) while the
#    daemon sleeps is seen at once, without SIGHUP: its log names the new serial
#    and not-after (those status shows) and the plan is made again;
#  - two hosts due a few seconds apart, the first of them slow to renew (its dns-01
#    hook, and the sendmail that mails its renewal, wait past the second's due
#    time): each is renewed at or after its own due time, in that order, and the
#    second in the pass right after the first's, without a wait planned in between
#    (before, the gap between passes held it back two minutes).
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 PEBBLE_START_CERT_VALIDITY=300
pebble_start "$W/pebble"
conf=$W/mailcert.conf
A=a.watch.example.test
B=b.watch.example.test
C=c.watch.example.test
mkdir -p "$W/nopostfix" "$W/mail"
E2E_NOTIFY="notify { sendmail = \"$W/sendmail\" }" \
    e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" $A $B $C
sed -i "s|^listeners { postfix = false  dovecot = false }|listeners { postfix = false  dovecot = false  postfix_config_dir = \"$W/nopostfix\" }|" "$conf"
# what makes A's renewal slow: wait until the time in $W/slow-until, once that file exists
cat >"$W/slow" <<EOS
#!/bin/sh
[ -s "$W/slow-until" ] || exit 0
end=\$(cat "$W/slow-until")
while [ "\$(date +%s)" -lt "\$end" ]; do sleep 0.2; done
echo "\$1 waited until \$(date +%s)" >>"$W/slow.log"
EOS
# A answers dns-01 through this hook, slow when adding its record
cat >"$W/hook" <<EOH
#!/bin/sh
case "\$1" in
add)
    curl -fsS -d "{\"host\":\"\$3\",\"value\":\"\$4\"}" "$CHALLTESTSRV_URL/set-txt" >/dev/null
    "$W/slow" hook ;;
remove) curl -fsS -d "{\"host\":\"\$3\"}" "$CHALLTESTSRV_URL/clear-txt" >/dev/null ;;
esac
exit 0
EOH
# the stand-in sendmail: slow for the mail about A's renewal (Pebble may reuse A's
# authorization now and then, and skip the hook), at most mailcert's time-out
cat >"$W/sendmail" <<EOM
#!/bin/sh
n=\$(date +%s%N).\$\$
cat >"$W/mail/\$n.eml"
grep -q "^Subject: mailcert: $A: certificate renewed" "$W/mail/\$n.eml" && exec "$W/slow" sendmail
exit 0
EOM
chmod 755 "$W/hook" "$W/slow" "$W/sendmail"
sed -i "s|^host \"$A\" { names = {  } }|host \"$A\" { challenge = \"dns-01\" }|" "$conf"
printf 'dns01 { hook = "%s" }\n' "$W/hook" >>"$conf"

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=[h for h in d["hosts"] if h["host"]==sys.argv[2]][0]; v=h[sys.argv[3]]; print("" if v is None else v)' "$@"; }
epoch() { python3 -c 'import datetime,sys; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$1"; }
field() { "$MAILCERT" -c "$conf" status --json >"$W/st.json" 2>/dev/null; jget "$W/st.json" "$1" "$2"; }
until_true() {
    local deadline=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$@" && return 0
        kill -0 "$DPID" 2>/dev/null || return 1
        sleep 0.5
    done
    "$@"
}

# A, then B a few seconds later: their renewals fall due as far apart as their issues were
for h in $A $B $C; do
    "$MAILCERT" -c "$conf" issue "$h" >"$W/issue-$h.log" 2>&1 || fail "issue $h: $(tail -3 "$W/issue-$h.log")"
    [ "$h" = "$A" ] && sleep 3
done
due_a=$(epoch "$(field $A renewal_time)")
due_b=$(epoch "$(field $B renewal_time)")
sa=$(field $A serial)
sb=$(field $B serial)
sep=$((due_b - due_a))
[ "$sep" -ge 3 ] && pass "B falls due $sep s after A" || fail "B does not fall due a few seconds after A ($sep s)"
# A's renewal, once it starts, lasts past B's due time
echo $((due_b + 4)) >"$W/slow-until"

: >"$W/daemon.log"
"$MAILCERT" -v -c "$conf" run -f >"$W/daemon.log" 2>&1 &
DPID=$!
on_exit "kill $DPID 2>/dev/null"
planned() { grep -q "run: next: " "$W/daemon.log"; }
until_true 120 planned && pass "the daemon planned its first wake" || fail "no plan: $(tail -5 "$W/daemon.log")"

# ---- a set installed from the command line is seen at once
"$MAILCERT" -c "$conf" issue --force $C >"$W/force.log" 2>&1 || fail "issue --force $C: $(tail -3 "$W/force.log")"
sc=$(field $C serial)
exp_c=$(field $C cert_expiration_time)
seen() { grep -q "run: $C: certificate $sc in the store, valid until $exp_c; next due " "$W/daemon.log"; }
until_true 60 seen && pass "the daemon saw the new set of $C (serial $sc, valid until $exp_c) without SIGHUP" ||
    fail "the daemon did not see $C's new set: $(grep 'run:' "$W/daemon.log" | tail -5)"
grep -q "run: the store changed: planning again" "$W/daemon.log" && pass "and planned again" ||
    fail "no new plan: $(grep 'run:' "$W/daemon.log" | tail -5)"

# ---- two hosts due a few seconds apart
renewed() { [ "$(field "$1" serial)" != "$2" ]; }
until_true 400 renewed $A "$sa" && pass "A renewed by the daemon" || fail "A not renewed: $(tail -5 "$W/daemon.log")"
until_true 300 renewed $B "$sb" && pass "B renewed by the daemon" || fail "B not renewed: $(tail -5 "$W/daemon.log")"
slow_end=$(awk '{ print $4 }' "$W/slow.log" 2>/dev/null | sort -n | tail -1)
[ "${slow_end:-0}" -gt "$due_b" ] && pass "A's renewal lasted past B's due time ($(cut -d' ' -f1 "$W/slow.log" | paste -sd,))" ||
    fail "A's renewal was not slow: $(cat "$W/slow.log" 2>/dev/null)"
ta=$(epoch "$(field $A last_success_time)")
tb=$(epoch "$(field $B last_success_time)")
[ "$ta" -ge "$due_a" ] && pass "A renewed at or after its due time" || fail "A renewed $((due_a - ta)) s before its due time"
[ "$tb" -ge "$due_b" ] && pass "B renewed at or after its due time" || fail "B renewed $((due_b - tb)) s before its due time"
[ "$tb" -ge "$ta" ] && pass "B after A, as they fell due" || fail "B renewed before A"
# between A's install and B's, the daemon planned no wait
between=$(awk -v a="$A: certificate installed" -v b="$B: certificate installed" '
    index($0, a) { on = 1; next } index($0, b) && on { exit } on' "$W/daemon.log")
grep -q "$B: certificate installed" "$W/daemon.log" || fail "no install of B in the daemon's log"
if printf '%s\n' "$between" | grep -q "run: next: "; then
    fail "the daemon planned a wait before renewing B: $(printf '%s\n' "$between" | grep 'run: next: ')"
else
    pass "B was renewed in the pass right after A's, with no wait planned ($((tb - ta)) s after A; due $sep s apart)"
fi
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
expect_eq "$rc" 0 "SIGTERM: the daemon exits 0"
finish
