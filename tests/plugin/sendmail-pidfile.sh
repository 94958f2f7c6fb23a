#!/bin/bash
# listeners { sendmail = true }: the pid file is really checked before SIGHUP.  A pid
# file that is missing, empty or not a number, has something after the number, holds
# a number too large for a pid (it must not wrap onto another process, init, or
# kill(-1)), or names a process that is not running (gone, or a zombie), is an error
# (mailcert-milter --once exits 1 and says why in milter.json), and nothing gets the
# signal.  Sendmail's own format (the pid, then its command line) is accepted.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "no jq"
command -v python3 >/dev/null || skip "no python3"

ca_make "$T/ca"
STORE=$T/store
leaf_make "$T/ca" "$T/a1" 10 a.test
store_put_set "$STORE" a.test "$T/ca" "$T/a1"

# a stand-in Sendmail that records its SIGHUPs, and SIGUSR1s as marks: a SIGHUP sent
# before a mark is recorded before it
bash -c 'trap "echo HUP >>\"$0\"" HUP; trap "echo MARK >>\"$0\"" USR1; while :; do sleep 0.1; done' \
    "$T/signals" &
FAKE=$!
on_exit "kill $FAKE 2>/dev/null"
count() { if [ -e "$T/signals" ]; then grep -c "^$1\$" "$T/signals"; else echo 0; fi; }
hups() { count HUP; }
# everything signalled so far is recorded
sync_signals() {
    local marks
    marks=$(count MARK)
    kill -USR1 "$FAKE"
    wait_for 60 eval '[ "$(count MARK)" -gt "$marks" ]' || die "the stand-in does not answer"
}
# a zombie: a child its parent never reaps
python3 -c 'import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(0)
print(pid, flush=True)
time.sleep(3600)' >"$T/zombie.pid" &
ZPARENT=$!
on_exit "kill $ZPARENT 2>/dev/null"
zombie_ready() { [ -s "$T/zombie.pid" ] && grep -q '^State:.*Z' "/proc/$(cat "$T/zombie.pid")/status" 2>/dev/null; }
wait_for 60 zombie_ready || die "no zombie"
ZOMBIE=$(cat "$T/zombie.pid")
# a process that is gone
sleep 0 &
GONE=$!
wait $GONE

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
CONF
fail=0
# expect_refused WHAT PATTERN: --once fails, says PATTERN, and nothing got SIGHUP
expect_refused() {
    local before rc err
    before=$(hups)
    "$MILTER" -c "$T/mailcert.conf" --once >"$T/once.log" 2>&1
    rc=$?
    sync_signals
    err=$(jq -r '.mta.sendmail.last_error' "$STORE/run/milter.json" 2>/dev/null)
    if [ "$rc" = 1 ] && [ "$(hups)" = "$before" ] && printf '%s' "$err" | grep -Eq -- "$2"; then
        log "ok   $1: $err"
    else
        log "FAIL $1: exit $rc, $(($(hups) - before)) SIGHUPs, error '$err' (want /$2/)"
        fail=1
    fi
}

rm -f "$T/sendmail.pid"
expect_refused "missing pid file" "sendmail.pid.*(No such file|cannot)"
: >"$T/sendmail.pid"
expect_refused "empty pid file" "no process id"
echo "sendmail" >"$T/sendmail.pid"
expect_refused "not a number" "no process id"
echo "${FAKE}x" >"$T/sendmail.pid"
expect_refused "a number with junk after it" "no process id"
# Every number here is safe should the check regress: it names the stand-in, or
# nothing.  Never try one that wraps to -1, 0 or 1 (4294967295, 4294967296,
# 4294967297): without the check, that SIGHUPs every process on the machine, this
# test's process group, or init.
echo "$((FAKE + 4294967296))" >"$T/sendmail.pid"
expect_refused "a pid past the range that wraps onto the stand-in" "out of range"
echo "$((FAKE + 4294967296 * 1000000))" >"$T/sendmail.pid"
expect_refused "a pid far past the range" "out of range"
echo "$GONE" >"$T/sendmail.pid"
expect_refused "a process that is gone" "not running|No such process"
echo "$ZOMBIE" >"$T/sendmail.pid"
expect_refused "a zombie" "not running"

# the real thing: Sendmail writes its pid and its command line
printf '%s\n/usr/sbin/sendmail-mta -Am -L sm-mta -bd -q10m\n' "$FAKE" >"$T/sendmail.pid"
before=$(hups)
if "$MILTER" -c "$T/mailcert.conf" --once >"$T/once.log" 2>&1; then
    log "ok   --once with a good pid file"
else
    log "FAIL --once with a good pid file: $(cat "$T/once.log")"
    fail=1
fi
sync_signals
[ "$(hups)" = $((before + 1)) ] && log "ok   the stand-in got SIGHUP" ||
    { log "FAIL $(($(hups) - before)) SIGHUPs with a good pid file, want 1"; fail=1; }
[ "$(jq -r '.mta.sendmail.last_error' "$STORE/run/milter.json")" = null ] ||
    { log "FAIL last_error after success: $(jq -r '.mta.sendmail.last_error' "$STORE/run/milter.json")"; fail=1; }
kill "$FAKE"
wait "$FAKE" 2>/dev/null
kill "$ZPARENT"
wait "$ZPARENT" 2>/dev/null
exit $fail
