# shellcheck shell=bash
# tests/lib/fakeca.sh - run tests/fakeca/fakeca.py, a scripted ACME server that
# misbehaves on purpose (the modes are listed at the top of fakeca.py).
#
#   . tests/lib/fakeca.sh            (sources common.sh itself)
#   fakeca_start WORKDIR MODE [FAKECA-OPTION...]
#       make a TLS listener certificate, start the fake on a free port, wait until its
#       directory answers, and export:
#         FAKECA_DIR_URL   https://127.0.0.1:PORT/dir   the ACME directory
#         FAKECA_API_CA    WORKDIR/api-ca.pem           trust anchor for the API (ca_bundle)
#         FAKECA_ROOT      WORKDIR/ca/root.pem          root of the certificates it issues
#         FAKECA_PID, FAKECA_PORT, FAKECA_WORKDIR
#       Extra options go to fakeca.py, e.g. --days 2 or --huge-size 1048576.
#       Log: WORKDIR/fakeca.log; every request: WORKDIR/requests.log (JSON lines).
#       The process is killed at exit.
#   fakeca_stop                      kill the latest instance now (idempotent)
#   fakeca_requests [PATH-REGEX]     print requests.log lines whose path matches

# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

FAKECA_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")/../fakeca" && pwd)/fakeca.py"

_fakeca_kill() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || :
    return 0
}

fakeca_stop() {
    _fakeca_kill "${FAKECA_PID:-}"
    FAKECA_PID=
}

fakeca_requests() {
    python3 - "$FAKECA_WORKDIR/requests.log" "${1:-}" <<'EOF'
import json, re, sys
pat = re.compile(sys.argv[2])
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        if pat.search(json.loads(line).get("path", "")):
            sys.stdout.write(line)
EOF
}

fakeca_start() {
    [ $# -ge 2 ] || die "usage: fakeca_start WORKDIR MODE [OPTION...]"
    local wd mode attempt port deadline
    mkdir -p "$1" || die "fakeca_start: cannot create $1"
    wd=$(cd "$1" && pwd)
    mode=$2
    shift 2
    [ -s "$wd/api-cert.pem" ] || mk_listener_cert "$wd" || die "fakeca_start: no listener cert"
    FAKECA_WORKDIR=$wd
    FAKECA_API_CA="$wd/api-ca.pem"
    FAKECA_ROOT="$wd/ca/root.pem"

    for attempt in 1 2 3; do
        port=$(freeport 1) || die "fakeca_start: freeport failed"
        : >"$wd/fakeca.log"
        python3 "$FAKECA_PY" --port "$port" --cert "$wd/api-cert.pem" \
            --key "$wd/api-key.pem" --mode "$mode" --workdir "$wd" "$@" \
            >>"$wd/fakeca.log" 2>&1 </dev/null &
        FAKECA_PID=$!
        on_exit "_fakeca_kill $FAKECA_PID"
        FAKECA_DIR_URL="https://127.0.0.1:$port/dir"
        deadline=$((SECONDS + 20))
        while ! curl -sf --max-time 2 --cacert "$FAKECA_API_CA" -o /dev/null "$FAKECA_DIR_URL"; do
            if ! kill -0 "$FAKECA_PID" 2>/dev/null; then
                wait "$FAKECA_PID" 2>/dev/null || :
                break
            fi
            [ "$SECONDS" -lt "$deadline" ] || die "fakeca: no answer after 20 s, see $wd/fakeca.log"
            sleep 0.1
        done
        if kill -0 "$FAKECA_PID" 2>/dev/null; then
            FAKECA_PORT=$port
            export FAKECA_DIR_URL FAKECA_API_CA FAKECA_ROOT FAKECA_PID FAKECA_PORT FAKECA_WORKDIR
            log "fakeca: mode $mode at $FAKECA_DIR_URL"
            return 0
        fi
        grep -q 'cannot listen' "$wd/fakeca.log" ||
            die "fakeca: exited at start: $(tail -n 3 "$wd/fakeca.log")"
        log "fakeca: port $port taken, retrying ($attempt)"
    done
    die "fakeca_start: could not find a free port"
}
