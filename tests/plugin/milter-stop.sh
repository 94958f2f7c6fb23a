#!/bin/bash
# mailcert-milter stops at once on SIGTERM, SIGINT and SIGHUP, with exit status 0,
# also while an MTA holds a milter connection open, and removes its unix socket;
# a socket that is no longer the one it made (another instance took the path) is
# left alone.  (How fast it stops is measured by bench/milter-stop.sh; here the
# deadlines are generous.)
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "no python3"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"

STORE=$T/store
write_conf "$T/mailcert.conf" "$STORE" "" "none"
SOCK=$T/run/milter.sock
fail=0

# the milter this script started and has not reaped yet (signalled only then)
RUNNING=
stop_running() { [ -z "$RUNNING" ] || milter_stop "$RUNNING"; }
on_exit stop_running

# stop_with SIGNAL: the milter must exit 0 within 60 s
stop_with() {
    local sig=$1 i rc
    kill "-$sig" "$RUNNING"
    for ((i = 0; i < 600; i++)); do
        kill -0 "$RUNNING" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$RUNNING" 2>/dev/null; then
        log "FAIL still running 60 s after SIG$sig"
        fail=1
        stop_running
        RUNNING=
        return
    fi
    wait "$RUNNING"
    rc=$?
    RUNNING=
    if [ "$rc" = 0 ]; then log "ok   SIG$sig: exit 0"; else log "FAIL SIG$sig: exit $rc"; fail=1; fi
}

start() {
    "$MILTER" -f -v -c "$T/mailcert.conf" -p "unix:$SOCK" >>"$T/milter.log" 2>&1 &
    RUNNING=$!
    wait_for 60 test -S "$SOCK" || die "no milter socket: $(tail -5 "$T/milter.log")"
}

for sig in TERM INT HUP; do
    : >"$T/milter.log"
    start
    # an idle connection, as an MTA keeps one between sessions
    python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(120)' "$SOCK" &
    IDLE=$!
    on_exit "kill $IDLE 2>/dev/null; wait $IDLE 2>/dev/null"
    sleep 0.5
    stop_with "$sig"
    kill "$IDLE" 2>/dev/null
    wait "$IDLE" 2>/dev/null
    if [ -e "$SOCK" ]; then
        log "FAIL SIG$sig: the socket is still there: $(ls -l "$SOCK")"
        fail=1
        rm -f "$SOCK"
    else
        log "ok   SIG$sig: the socket is gone"
    fi
done

# another process took the path: not ours any more, not removed
: >"$T/milter.log"
start
rm -f "$SOCK"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(120)' "$SOCK" &
OTHER=$!
on_exit "kill $OTHER 2>/dev/null; wait $OTHER 2>/dev/null"
wait_for 60 test -S "$SOCK" || die "the other socket did not appear"
stop_with TERM
if [ -S "$SOCK" ]; then
    log "ok   a socket that is not its own is left alone"
else
    log "FAIL it removed a socket another process made"
    fail=1
fi
kill "$OTHER" 2>/dev/null
wait "$OTHER" 2>/dev/null
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
