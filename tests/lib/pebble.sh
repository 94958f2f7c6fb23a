# shellcheck shell=bash
# tests/lib/pebble.sh - run a throwaway Pebble (test ACME CA) and pebble-challtestsrv
# (its mock DNS) on free loopback ports.
#
#   . tests/lib/pebble.sh          (sources common.sh itself)
#   pebble_start WORKDIR           start both, wait until Pebble answers, export:
#       PEBBLE_DIR_URL     https://127.0.0.1:PORT/dir    the ACME directory
#       PEBBLE_API_CA      WORKDIR/api-ca.pem            trust anchor for the ACME API (ca_bundle)
#       PEBBLE_HTTP_PORT   port Pebble validates http-01 on: the client's responder
#                          must listen on 127.0.0.1:$PEBBLE_HTTP_PORT
#       PEBBLE_TLS_PORT    port Pebble validates tls-alpn-01 on
#       PEBBLE_MGMT_URL    https://127.0.0.1:PORT   Pebble management API (same CA)
#       CHALLTESTSRV_URL   http://127.0.0.1:PORT    challtestsrv management API (plain HTTP)
#       PEBBLE_DNS         127.0.0.1:PORT           the mock DNS server Pebble resolves with
#       PEBBLE_DNS6        [::1]:PORT               the same server over IPv6 (empty when this
#                                                   machine has no IPv6 loopback)
#       PEBBLE_ROOT        WORKDIR/root.pem         the root issued chains must verify against
#       PEBBLE_INTERMEDIATE WORKDIR/intermediate.pem
#       PEBBLE_PID, CHALLTESTSRV_PID
#     Pebble inherits PEBBLE_* variables from the caller (PEBBLE_VA_NOSLEEP,
#     PEBBLE_WFE_NONCEREJECT, PEBBLE_ALTERNATE_ROOTS, PEBBLE_CHAIN_LENGTH, ...).
#     PEBBLE_DNSSERVER=HOST:PORT (read by pebble_start) makes Pebble resolve with that
#     server instead of challtestsrv (a real DNS server under test).
#     PEBBLE_START_CERT_VALIDITY=SECONDS (read by pebble_start, not Pebble) sets the
#     lifetime of issued certificates; Pebble 2.4.0's default is 5 years.
#     PEBBLE_START_EAB="KID:KEY [KID:KEY...]" (read by pebble_start, not Pebble) makes
#     Pebble require external account binding, with these MAC keys (KEY: base64url,
#     no padding; HS256).
#     With PEBBLE_ALTERNATE_ROOTS=N, alternate chain K's root and top intermediate are
#     fetched to WORKDIR/root-K.pem and intermediate-K.pem; WORKDIR/roots-all.pem holds all.
#     Logs: WORKDIR/pebble.log, WORKDIR/challtestsrv.log. Both processes are killed at exit.
#     Every name resolves to 127.0.0.1 (A) and to nothing over AAAA.
#   pebble_stop                    kill both now (idempotent)
#   pebble_root_refresh            fetch the roots and intermediates again
#   pebble_set_txt NAME VALUE      publish a TXT record (NAME with or without trailing dot)
#   pebble_clear_txt NAME          remove it
#   pebble_mgmt_get PATH           GET a Pebble management path, e.g. /cert-status-by-serial/HEX

# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

_pebble_kill() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    return 0
}

pebble_stop() {
    _pebble_kill "${PEBBLE_PID:-}"
    _pebble_kill "${CHALLTESTSRV_PID:-}"
    # Reap them if they are our children; their exit status is of no interest.
    local pid
    for pid in ${PEBBLE_PID:-} ${CHALLTESTSRV_PID:-}; do
        wait "$pid" 2>/dev/null || :
    done
    PEBBLE_PID=
    CHALLTESTSRV_PID=
    return 0
}

# Fetch a management path over HTTPS, trusting only the API CA. Empty body is an error.
pebble_mgmt_get() {
    curl -sSf --max-time 10 --cacert "$PEBBLE_API_CA" "$PEBBLE_MGMT_URL$1"
}

# Roots and intermediates are made anew at every Pebble start. Chain 0 goes to
# root.pem/intermediate.pem; alternate chain N (PEBBLE_ALTERNATE_ROOTS=N) to
# root-N.pem/intermediate-N.pem; roots-all.pem holds every root.
pebble_root_refresh() {
    local wd=$PEBBLE_WORKDIR n=0 last=${PEBBLE_ALTERNATE_ROOTS:-0} root inter suffix
    case $last in '' | *[!0-9]*) last=0 ;; esac
    : >"$wd/roots-all.pem.tmp"
    while [ "$n" -le "$last" ]; do
        if ! root=$(pebble_mgmt_get "/roots/$n") || [ -z "$root" ] ||
            ! inter=$(pebble_mgmt_get "/intermediates/$n") || [ -z "$inter" ]; then
            log "pebble: cannot fetch root/intermediate $n from $PEBBLE_MGMT_URL"
            return 1
        fi
        suffix=; [ "$n" -eq 0 ] || suffix="-$n"
        printf '%s\n' "$root" >"$wd/root$suffix.pem"
        printf '%s\n' "$inter" >"$wd/intermediate$suffix.pem"
        printf '%s\n' "$root" >>"$wd/roots-all.pem.tmp"
        n=$((n + 1))
    done
    mv -f "$wd/roots-all.pem.tmp" "$wd/roots-all.pem"
}

_pebble_fqdn() {
    case $1 in
    *.) printf '%s' "$1" ;;
    *) printf '%s.' "$1" ;;
    esac
}

_pebble_json_str() {
    python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
}

pebble_set_txt() {
    local host value
    host=$(_pebble_json_str "$(_pebble_fqdn "$1")") || return 1
    value=$(_pebble_json_str "$2") || return 1
    curl -sSf --max-time 10 -d "{\"host\":$host,\"value\":$value}" \
        "$CHALLTESTSRV_URL/set-txt" >/dev/null
}

pebble_clear_txt() {
    local host
    host=$(_pebble_json_str "$(_pebble_fqdn "$1")") || return 1
    curl -sSf --max-time 10 -d "{\"host\":$host}" "$CHALLTESTSRV_URL/clear-txt" >/dev/null
}

# One attempt with freshly chosen ports. Returns 2 if a port was taken meanwhile
# (the caller retries), 1 on any other failure.
_pebble_try_start() {
    local wd=$1 ports
    ports=$(freeport 6) || return 1
    # Keep a failed attempt's logs for the record, start each attempt with empty ones.
    local f
    for f in challtestsrv.log pebble.log; do
        [ -s "$wd/$f" ] && cat "$wd/$f" >>"$wd/$f.old"
        : >"$wd/$f"
    done
    local dnsport cmgmt apiport mgmtport httpport tlsport validity=
    { read -r dnsport; read -r cmgmt; read -r apiport; read -r mgmtport
      read -r httpport; read -r tlsport; } <<<"$ports"

    # its DNS answers on [::1] too when this machine has IPv6 loopback
    local dns6=
    grep -q '^0\{31\}1 .* lo$' /proc/net/if_inet6 2>/dev/null && dns6=",[::1]:$dnsport"
    pebble-challtestsrv -http01 "" -https01 "" -tlsalpn01 "" \
        -dns01 "127.0.0.1:$dnsport$dns6" -management "127.0.0.1:$cmgmt" \
        -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
        >"$wd/challtestsrv.log" 2>&1 </dev/null &
    CHALLTESTSRV_PID=$!

    case ${PEBBLE_START_CERT_VALIDITY:-} in
    *[!0-9]*) log "pebble: PEBBLE_START_CERT_VALIDITY must be seconds"; return 1 ;;
    esac
    if [ -n "${PEBBLE_START_CERT_VALIDITY:-}" ]; then
        validity=",
    \"certificateValidityPeriod\": $PEBBLE_START_CERT_VALIDITY"
    fi
    local eab_required=false eab= pair kid key
    if [ -n "${PEBBLE_START_EAB:-}" ]; then
        eab_required=true
        for pair in $PEBBLE_START_EAB; do
            kid=${pair%%:*} key=${pair#*:}
            case $kid$key in
            '' | *[!A-Za-z0-9_-]*) log "pebble: PEBBLE_START_EAB wants KID:KEY pairs of base64url text"; return 1 ;;
            esac
            eab="$eab${eab:+, }\"$kid\": \"$key\""
        done
        eab=",
    \"externalAccountMACKeys\": { $eab }"
    fi
    cat >"$wd/pebble-config.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$apiport",
    "managementListenAddress": "127.0.0.1:$mgmtport",
    "certificate": "$wd/api-cert.pem",
    "privateKey": "$wd/api-key.pem",
    "httpPort": $httpport,
    "tlsPort": $tlsport,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": $eab_required$eab$validity
  }
}
EOF
    # challtestsrv must answer DNS before Pebble's first validation; its management
    # port opens after the DNS listener, so waiting for it is enough.
    # If one of its ports was taken meanwhile it exits at once: the management port
    # may then belong to someone else, so check that our process is still alive.
    if ! wait_port 127.0.0.1 "$cmgmt" 10 || ! kill -0 "$CHALLTESTSRV_PID" 2>/dev/null; then
        sleep 0.2
        grep -q 'address already in use' "$wd/challtestsrv.log" && return 2
        log "pebble: challtestsrv did not start, see $wd/challtestsrv.log"
        return 1
    fi

    pebble -config "$wd/pebble-config.json" -dnsserver "${PEBBLE_DNSSERVER:-127.0.0.1:$dnsport}" -strict=false \
        >"$wd/pebble.log" 2>&1 </dev/null &
    PEBBLE_PID=$!

    PEBBLE_DIR_URL="https://127.0.0.1:$apiport/dir"
    PEBBLE_MGMT_URL="https://127.0.0.1:$mgmtport"
    local deadline=$((SECONDS + 20))
    until curl -sf --max-time 2 --cacert "$PEBBLE_API_CA" -o /dev/null "$PEBBLE_DIR_URL"; do
        if ! kill -0 "$PEBBLE_PID" 2>/dev/null; then
            grep -q 'address already in use' "$wd/pebble.log" && return 2
            log "pebble: exited at start, see $wd/pebble.log"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "pebble: $PEBBLE_DIR_URL not answering after 20 s, see $wd/pebble.log"
            return 1
        fi
        sleep 0.1
    done
    # The management listener starts in its own goroutine: wait for it too.
    wait_port 127.0.0.1 "$mgmtport" 10 || { log "pebble: management port not open"; return 1; }
    # challtestsrv reports a taken DNS port only after its management server is up,
    # and goes on running for a moment: by now the message is in its log.
    if grep -q 'address already in use' "$wd/challtestsrv.log" "$wd/pebble.log" ||
        ! kill -0 "$CHALLTESTSRV_PID" 2>/dev/null; then
        grep -q 'address already in use' "$wd/challtestsrv.log" "$wd/pebble.log" && return 2
        log "pebble: challtestsrv died, see $wd/challtestsrv.log"
        return 1
    fi

    PEBBLE_HTTP_PORT=$httpport
    PEBBLE_TLS_PORT=$tlsport
    PEBBLE_DNS="127.0.0.1:$dnsport"
    PEBBLE_DNS6=${dns6:+[::1]:$dnsport}
    CHALLTESTSRV_URL="http://127.0.0.1:$cmgmt"
    return 0
}

pebble_start() {
    [ $# -eq 1 ] || die "usage: pebble_start WORKDIR"
    command -v pebble >/dev/null || die "pebble is not installed"
    local wd attempt rc
    mkdir -p "$1" || die "pebble_start: cannot create $1"
    wd=$(cd "$1" && pwd)
    PEBBLE_WORKDIR=$wd
    PEBBLE_API_CA="$wd/api-ca.pem"
    [ -s "$wd/api-cert.pem" ] || mk_listener_cert "$wd" || die "pebble_start: no listener cert"

    # Registered once per shell; pebble_stop kills whatever PIDs are current, which
    # covers a start that dies half-way.
    if [ -z "${_PEBBLE_ON_EXIT:-}" ]; then
        on_exit pebble_stop
        _PEBBLE_ON_EXIT=1
    fi

    for attempt in 1 2 3; do
        rc=0
        _pebble_try_start "$wd" || rc=$?
        [ "$rc" -eq 0 ] && break
        pebble_stop
        [ "$rc" -eq 2 ] || die "pebble_start failed (logs in $wd)"
        log "pebble: port clash, retrying ($attempt)"
    done
    [ "$rc" -eq 0 ] || die "pebble_start: could not find free ports"
    # pebble_stop only knows the latest instance: a test that runs two at once
    # (in one shell) still gets both killed at exit.
    on_exit "_pebble_kill $PEBBLE_PID; _pebble_kill $CHALLTESTSRV_PID"

    PEBBLE_ROOT="$wd/root.pem"
    PEBBLE_INTERMEDIATE="$wd/intermediate.pem"
    pebble_root_refresh || die "pebble_start: cannot fetch roots"
    export PEBBLE_DIR_URL PEBBLE_API_CA PEBBLE_HTTP_PORT PEBBLE_TLS_PORT PEBBLE_DNS6 PEBBLE_MGMT_URL \
        CHALLTESTSRV_URL PEBBLE_DNS PEBBLE_ROOT PEBBLE_INTERMEDIATE PEBBLE_PID \
        CHALLTESTSRV_PID PEBBLE_WORKDIR
    log "pebble: $PEBBLE_DIR_URL (http-01 on 127.0.0.1:$PEBBLE_HTTP_PORT, dns $PEBBLE_DNS)"
}
