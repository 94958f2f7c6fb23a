#!/bin/bash
# Notifications sendmail did not take are kept and sent later (notify.json's queue),
# against a real Pebble, with a stand-in sendmail that can fail once (exit 75, as
# Postfix's does before Postfix is up), hang, or deliver into a folder:
#  - a sendmail that fails: the run succeeds, sendmail is called once (the rest of
#    the run is queued without trying), status --json counts the queued messages;
#    the next run sends them, oldest first, and the queue is gone;
#  - a sendmail that hangs costs one time-out (15 s), not one per message;
#  - the queue is bounded: a message queued more than 7 days ago is dropped, and
#    at most 100 are kept (the oldest go first); each drop is logged by name;
#  - `mailcert run` tries the queue again by itself (about a minute later), long
#    before any host is due.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"

mkdir -p "$W/mail" "$W/nopostfix"
# the stand-in sendmail: every call counted; fails once when $W/fail-once exists,
# hangs while $W/hang exists, else keeps the message as mail/N.eml (argv in N.argv)
cat >"$W/sendmail" <<EOF
#!/bin/sh
echo call >>"$W/calls"
if [ -e "$W/fail-once" ]; then
    rm -f "$W/fail-once"
    cat >/dev/null
    echo "postdrop: warning: unable to look up public/pickup: No such file or directory" >&2
    exit 75
fi
[ -e "$W/hang" ] && exec sleep 600
n=\$(date +%s%N).\$\$
printf '%s\n' "\$@" >"$W/mail/\$n.argv"
cat >"$W/mail/\$n.eml"
EOF
chmod 755 "$W/sendmail"

conf=$W/mailcert.conf
A=a.queue.example.test
B=b.queue.example.test
E2E_NOTIFY="notify {
  sendmail = \"$W/sendmail\"
  contact = \"certs@ops.example\"
}" e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" $A $B
# no Postfix to ask for hosted domains: the contacts only
sed -i "s|^listeners { postfix = false  dovecot = false }|listeners { postfix = false  dovecot = false  postfix_config_dir = \"$W/nopostfix\" }|" "$conf"
"$MAILCERT" -c "$conf" check >"$W/check" 2>&1 || fail "config refused: $(cat "$W/check")"

calls() { if [ -f "$W/calls" ]; then wc -l <"$W/calls"; else echo 0; fi; }
delivered() { find "$W/mail" -name '*.eml' | wc -l; }
subjects() { grep -h '^Subject: ' "$W"/mail/*.eml 2>/dev/null | sed 's/^Subject: //' | LC_ALL=C sort; }
queued() { "$MAILCERT" -c "$conf" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["notifications"]["queued"])'; }
# qfield EXPR: a python expression over q, the queue in notify.json ([] when none)
qfield() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); q=m.get("queue", []); print(eval(sys.argv[2]))' "$W/store/run/notify.json" "$1"; }

# 1. sendmail fails: both messages are kept, sendmail was called once
touch "$W/fail-once"
"$MAILCERT" -c "$conf" issue >"$W/first.log" 2>&1 || fail "the first issue failed: $(tail -3 "$W/first.log")"
expect_eq "$(calls)" 1 "one failed sendmail: the rest of the run is not tried"
expect_eq "$(delivered)" 0 "nothing delivered while sendmail fails"
grep -q "not mailed to .*exited with status 75: postdrop: warning.*kept for the next run" "$W/first.log" &&
    pass "the failure is logged, and that the message is kept" || fail "not logged: $(cat "$W/first.log")"
expect_eq "$(grep -c 'kept for the next run' "$W/first.log")" 2 "both messages are kept"
expect_eq "$(queued)" 2 "status --json counts 2 queued notifications"
"$MAILCERT" -c "$conf" status >"$W/status.txt" 2>&1
grep -q "^2 notification(s) not mailed yet" "$W/status.txt" && pass "the status table says so" ||
    fail "status table: $(head -3 "$W/status.txt")"
expect_eq "$(qfield '[m["what"] for m in q]')" "['$A: issued', '$B: issued']" "the queue names the messages"
r=$(qfield 'm.get("queue_retry_time", 0) - q[0]["queued_time"]')
expect_eq "$r" 60 "the daemon's next try is a minute after the failure"

# 2. the next run (nothing due) sends them, oldest first
"$MAILCERT" -c "$conf" renew >"$W/second.log" 2>&1 || fail "renew failed: $(tail -3 "$W/second.log")"
expect_eq "$(calls)" 3 "the next run calls sendmail for each queued message"
expect_eq "$(subjects | tr '\n' '|')" "mailcert: $A: certificate issued|mailcert: $B: certificate issued|" \
    "the queued messages arrive"
grep -q "notify: $A: issued: mailed to certs@ops.example, postmaster@example.test (queued at " "$W/second.log" &&
    pass "the log says a queued message was mailed" || fail "log: $(cat "$W/second.log")"
expect_eq "$(queued)" 0 "status --json: nothing queued any more"
expect_eq "$(qfield '"queue" in m or "queue_retry_time" in m or "queue_failures" in m')" False \
    "notify.json keeps no queue keys once it is empty"
first=$(ls "$W"/mail/*.eml | head -1)
grep -q "^To: " "$first" && grep -q "^Message-ID: <" "$first" && pass "a queued message is the whole message" ||
    fail "queued message: $(head -5 "$first")"
rm -f "$W"/mail/*

# 3. sendmail hangs: one time-out, the other message queued without a wait
touch "$W/hang"
c0=$(calls)
"$MAILCERT" -c "$conf" issue --force $A $B >"$W/hang.log" 2>&1 || fail "issue --force failed: $(tail -3 "$W/hang.log")"
expect_eq "$(($(calls) - c0))" 1 "a hanging sendmail is waited for once in a run"
grep -q "timed out after 15" "$W/hang.log" && pass "its time-out is 15 s" || fail "no time-out logged: $(grep notify "$W/hang.log")"
expect_eq "$(queued)" 2 "both renewals are queued"
rm -f "$W/hang"
"$MAILCERT" -c "$conf" renew >"$W/after-hang.log" 2>&1
expect_eq "$(subjects | tr '\n' '|')" "mailcert: $A: certificate renewed|mailcert: $B: certificate renewed|" \
    "sent at the next run"
rm -f "$W"/mail/*

# 4. the bounds: one message from 8 days ago and 100 from an hour ago; sendmail fails
# once more and a renewal adds one
python3 - "$W/store/run/notify.json" <<'EOP'
import json, sys, time
now = int(time.time())
m = json.load(open(sys.argv[1]))
def msg(what, t):
    return {"what": what, "to": ["certs@ops.example"], "queued_time": t, "attempts": 1,
            "last_attempt_time": t, "last_error": "exited with status 75",
            "message": f"Subject: mailcert: {what}\nTo: certs@ops.example\n\nseeded\n"}
m["queue"] = [msg("old one", now - 8 * 86400)] + [msg(f"seed {i}", now - 3600) for i in range(1, 101)]
m["queue_failures"] = 1
m["queue_retry_time"] = now - 10
json.dump(m, open(sys.argv[1], "w"))
EOP
touch "$W/fail-once"
"$MAILCERT" -c "$conf" issue --force $A >"$W/cap.log" 2>&1 || fail "issue --force failed: $(tail -3 "$W/cap.log")"
grep -q "notify: old one: dropped from the queue (older than 7 days): never mailed to certs@ops.example" "$W/cap.log" &&
    pass "a message older than 7 days is dropped, and the log says which" || fail "age: $(grep notify "$W/cap.log")"
grep -q "notify: seed 1: dropped from the queue (the queue holds at most 100 messages)" "$W/cap.log" &&
    pass "over 100 messages, the oldest is dropped, and the log says which" || fail "cap: $(grep notify "$W/cap.log")"
expect_eq "$(grep -c 'dropped from the queue' "$W/cap.log")" 2 "nothing else is dropped"
expect_eq "$(qfield 'len(q)')" 100 "the queue holds 100 messages"
expect_eq "$(qfield 'q[0]["what"] + " .. " + q[-1]["what"]')" "seed 2 .. $A: renewed" "the newest are kept, in order"
expect_eq "$(qfield 'm["queue_failures"]')" 2 "a second failed run in a row is counted"
r=$(qfield 'm["queue_retry_time"] - q[-1]["queued_time"]')
expect_eq "$r" 120 "the daemon's next try backs off (2 minutes)"
expect_eq "$(qfield 'sorted(m["hosts"])')" "['$A', '$B']" "what was mailed before is still remembered"
"$MAILCERT" -c "$conf" renew >"$W/cap2.log" 2>&1
expect_eq "$(delivered)" 100 "the next run sends all 100"
expect_eq "$(queued)" 0 "and the queue is empty"
rm -f "$W"/mail/*

# 5. the daemon tries the queue again by itself, with no host due for a long time
C=c.queue.example.test
printf 'host "%s" { }\n' "$C" >>"$conf"
touch "$W/fail-once"
"$MAILCERT" -v -c "$conf" run -f >"$W/daemon.log" 2>&1 &
DPID=$!
on_exit "kill $DPID 2>/dev/null"
arrived() { subjects | grep -qx "mailcert: $C: certificate issued"; }
deadline=$((SECONDS + 400))
while ! arrived && [ "$SECONDS" -lt "$deadline" ] && kill -0 "$DPID" 2>/dev/null; do sleep 1; done
grep -q "notify: $C: issued: not mailed to .*kept for the next run" "$W/daemon.log" &&
    pass "the daemon's first pass could not mail" || fail "no failed mail in the daemon's log: $(grep notify "$W/daemon.log")"
arrived && pass "the daemon mailed the queued message by itself" ||
    fail "the queued message never arrived: $(grep -E 'notify|run:' "$W/daemon.log" | tail -5)"
grep -q "run: next: the queued notifications at" "$W/daemon.log" && pass "the daemon planned a pass for the queue" ||
    fail "no pass planned for the queue: $(grep 'run: next' "$W/daemon.log" | tail -3)"
kill -TERM "$DPID"
wait "$DPID"
expect_eq "$?" 0 "the daemon stops on SIGTERM"
finish
