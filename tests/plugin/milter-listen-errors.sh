#!/bin/bash
# When mailcert-milter cannot listen on its milter socket, the log says why (the
# system's reason, not just "cannot listen"): a unix socket in a directory that does
# not exist, under a path component that is a file, and a TCP port already in use.
# Certificate loading goes on (milter.json is written) and SIGTERM stops it cleanly.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "no python3"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"

STORE=$T/store
write_conf "$T/mailcert.conf" "$STORE" "" "none"
: >"$T/a-file"
PORT=$(freeport)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)' "$PORT" &
HOLDER=$!
on_exit "kill $HOLDER 2>/dev/null; wait $HOLDER 2>/dev/null"
wait_port 127.0.0.1 "$PORT" 30 || die "could not occupy port $PORT"

fail=0
n=0
try() { # SOCKET REASON
    local sock=$1 want="cannot listen on $1: $2" log
    n=$((n + 1))
    log=$T/case$n.log
    rm -f "$STORE/run/milter.json"
    "$MILTER" -f -c "$T/mailcert.conf" -p "$sock" >"$log" 2>&1 &
    MILTER_PID=$!
    if wait_for 60 grep -qF "$want" "$log"; then
        log "ok   $(grep -m1 -F "$want" "$log")"
    else
        log "FAIL no \"$want\" in the log: $(cat "$log")"
        fail=1
    fi
    wait_for 60 test -s "$STORE/run/milter.json" ||
        { log "FAIL no milter.json: certificate loading stopped"; fail=1; }
    milter_stop "$MILTER_PID" || fail=1
}
try "unix:$T/no/such/dir/milter.sock" "No such file or directory"
try "unix:$T/a-file/milter.sock" "Not a directory"
try "inet:$PORT@127.0.0.1" "Address already in use"
exit $fail
