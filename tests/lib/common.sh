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
#                         last-registered first, each one even if an earlier one fails;
#                         a handler that calls exit_fail MSG makes a passing script fail
#   exit_fail MSG         (in an on_exit handler) log MSG; the script then exits 1
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

# Sanitizer reports that reached a log or output file of the test (a daemon's log, a
# command's captured stderr): UBSan in a combined ASan+UBSan build ignores log_path, so
# tests/lib/run-test cannot see those. Scanned at exit, before the work dirs go.
MAILCERT_SANITIZER_RE='(ERROR|WARNING): (Address|Leak|Thread|Memory)Sanitizer|runtime error: |SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer'
_common_sanitizer_scan() {
    local d f found=0
    for d in "$@"; do
        [ -n "$d" ] && [ -d "$d" ] || continue
        while IFS= read -r f; do
            log "FAIL: sanitizer report in $f:"
            grep -m5 -E -A3 "$MAILCERT_SANITIZER_RE" "$f" >&2
            found=1
        done < <(grep -rIlE "$MAILCERT_SANITIZER_RE" "$d" 2>/dev/null)
    done
    return $found
}

_common_run_exit() {
    local rc=$? i
    # Handlers must not abort the chain, whatever the caller's set -e/-u say.
    set +e +u
    trap - EXIT
    _common_sanitizer_scan "${W:-}" "${T:-}" || MAILCERT_EXIT_FAILED=1
    for ((i = ${#MAILCERT_EXIT_HANDLERS[@]} - 1; i >= 0; i--)); do
        eval "${MAILCERT_EXIT_HANDLERS[i]}"
    done
    MAILCERT_EXIT_HANDLERS=()
    if [ -n "$MAILCERT_EXIT_FAILED" ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; }; then
        rc=1
    fi
    exit "$rc"
}

# A cleanup found a problem (a daemon that did not exit cleanly, say).
MAILCERT_EXIT_FAILED=
exit_fail() {
    log "FAIL: $*"
    MAILCERT_EXIT_FAILED=1
}

trap _common_run_exit EXIT
# A signal exits with the conventional status; that exit runs the handlers once.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

freeport() {
    local n=${1:-1}
    # Ports come from 20000-32767, below Linux's ephemeral range, so no client socket
    # of another test takes one by chance; a registry shared by all tests (under a
    # lock) hands no port out twice within 30 minutes, so tests running in parallel
    # (make -j2 check) never collide; a port that is busy is skipped and another tried.
    python3 - "$n" <<'EOF'
import fcntl, json, os, random, socket, sys, time
n = int(sys.argv[1])
reg_path = "/tmp/mailcert-test-ports.json"
with open("/tmp/mailcert-test-ports.lock", "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        reg = {int(k): v for k, v in json.load(open(reg_path)).items()}
    except (OSError, ValueError):
        reg = {}
    now = time.time()
    reg = {p: t for p, t in reg.items() if now - t < 1800}
    out = []
    for _ in range(10000):
        if len(out) == n:
            break
        p = random.randint(20000, 32767)
        if p in reg or p in out:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        out.append(p)
    if len(out) != n:
        sys.exit("freeport: no free port found")
    for p in out:
        reg[p] = now
    tmp = reg_path + ".%d" % os.getpid()
    json.dump(reg, open(tmp, "w"))
    os.rename(tmp, reg_path)
for p in out:
    print(p)
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
