#!/bin/bash
# bench/milter-stop.sh [ROUNDS] - how long mailcert-milter takes to exit after
# SIGTERM while it serves the milter protocol on a unix socket (with one idle
# milter connection open, as an MTA keeps them), and whether it removed its
# socket.  Aim: well under a second.  IDLE=0: no connection open.  Run from the build directory as root
# (or set MAILCERT_MILTER).
. "$(dirname "$0")/../tests/plugin/lib.sh"
ROUNDS=${1:-10}
IDLE=${IDLE:-1}
command -v python3 >/dev/null || skip "no python3"

STORE=$T/store
write_conf "$T/mailcert.conf" "$STORE" "" "none"
SOCK=$T/milter.sock
results=()
left=0
for ((r = 1; r <= ROUNDS; r++)); do
    "$MILTER" -f -c "$T/mailcert.conf" -p "unix:$SOCK" >>"$T/milter.log" 2>&1 &
    pid=$!
    wait_for 60 test -S "$SOCK" || die "round $r: no socket: $(tail -5 "$T/milter.log")"
    # give the milter's threads time to settle into their loops, and hold one
    # connection open as an MTA's smtpd does between sessions
    idle=
    if [ "$IDLE" = 1 ]; then
        python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(30)' "$SOCK" &
        idle=$!
    fi
    sleep 0.5
    t0=$(date +%s%N)
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    if [ -n "$idle" ]; then
        kill "$idle" 2>/dev/null
        wait "$idle" 2>/dev/null
    fi
    [ "$rc" = 0 ] || die "round $r: exit status $rc: $(tail -5 "$T/milter.log")"
    if [ -e "$SOCK" ]; then
        left=$((left + 1))
        rm -f "$SOCK"
    fi
    results+=("$ms")
done
sorted=$(printf '%s\n' "${results[@]}" | sort -n)
min=$(echo "$sorted" | head -1)
max=$(echo "$sorted" | tail -1)
med=$(echo "$sorted" | sed -n "$(((ROUNDS + 1) / 2))p")
echo "SIGTERM to exit over $ROUNDS rounds ($IDLE idle milter connection): min ${min} ms, median ${med} ms, max ${max} ms;" \
    "socket left behind in $left of $ROUNDS rounds"
