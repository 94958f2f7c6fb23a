# shellcheck shell=bash
# tests/lib/common.sh - shared helpers for mailcert's shell tests.
#
# Source it (it is safe to source more than once):
#   . "$(dirname "$0")/../lib/common.sh"
#
#   log MSG...            print "[script hh:mm:ss] MSG" on stderr
#   die MSG...            log MSG and exit 1 (the exit handlers still run)
#   freeport [N]          print N (default 1) distinct free TCP ports on 127.0.0.1,
#                         one per line
#   wait_port HOST PORT TIMEOUT_S
#                         poll until HOST:PORT accepts a TCP connection;
#                         returns 1 after TIMEOUT_S seconds
#   on_exit CMD           run the shell command CMD when the script exits; handlers run
#                         last-registered first, each one even if an earlier one fails
#   mk_listener_cert DIR  make a throwaway CA and a TLS server certificate for
#                         localhost/127.0.0.1 signed by it:
#                         DIR/api-ca.pem (trust this), DIR/api-cert.pem, DIR/api-key.pem
#
# Do not set your own "trap ... EXIT" after sourcing this file: use on_exit, so that
# several libraries (pebble.sh, fakeca.sh, ...) can all clean up after themselves.

if [ -z "${MAILCERT_COMMON_SH:-}" ]; then
MAILCERT_COMMON_SH=1

# Handlers registered with on_exit, run in reverse order by _common_run_exit.
MAILCERT_EXIT_HANDLERS=()

log() {
    printf '[%s %s] %s\n' "${0##*/}" "$(date +%H:%M:%S)" "$*" >&2
}

die() {
    log "FATAL: $*"
    exit 1
}

on_exit() {
    [ $# -gt 0 ] || die "on_exit: no command given"
    MAILCERT_EXIT_HANDLERS+=("$*")
}

_common_run_exit() {
    local rc=$? i
    # Handlers must not abort the chain, whatever the caller's set -e/-u say.
    set +e +u
    trap - EXIT
    for ((i = ${#MAILCERT_EXIT_HANDLERS[@]} - 1; i >= 0; i--)); do
        eval "${MAILCERT_EXIT_HANDLERS[i]}"
    done
    MAILCERT_EXIT_HANDLERS=()
    exit "$rc"
}

trap _common_run_exit EXIT
# A signal exits with the conventional status; that exit runs the handlers once.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

freeport() {
    local n=${1:-1}
    # All sockets stay bound until every port is chosen, so the N ports are distinct.
    python3 - "$n" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
    s.close()
EOF
}

wait_port() {
    local host=$1 port=$2 timeout=${3:-10}
    local deadline=$((SECONDS + timeout))
    while :; do
        # bash's /dev/tcp connects without needing nc; the subshell closes the fd again.
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

mk_listener_cert() {
    local dir=$1
    mkdir -p "$dir" || return 1
    (
        set -e
        cd "$dir"
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout api-ca.key -out api-ca.pem -days 30 \
            -subj "/CN=mailcert test API CA $$" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout api-key.pem -out api-cert.csr -subj "/CN=localhost" 2>/dev/null
        printf '%s\n' \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" \
            "subjectAltName=DNS:localhost,IP:127.0.0.1" >api-cert.ext
        openssl x509 -req -in api-cert.csr -CA api-ca.pem -CAkey api-ca.key \
            -set_serial "0x$(openssl rand -hex 8)" -days 30 \
            -extfile api-cert.ext -out api-cert.pem 2>/dev/null
        rm -f api-cert.csr api-cert.ext
        chmod 644 api-ca.pem api-cert.pem
    ) || { log "mk_listener_cert: openssl failed in $dir"; return 1; }
}

fi
