# shellcheck shell=bash
# tests/e2e/rfc2136-lib.sh - a throwaway BIND 9 primary on loopback for the RFC 2136 hook.
#
#   bind_start DIR ZONE     named on 127.0.0.1:BIND_PORT (a free port), authoritative
#                           for ZONE, taking TXT updates signed with the TSIG key
#                           DIR/tsig.key (name mailcert-test; the types in
#                           BIND_UPDATE_TYPES, default TXT); also DIR/wrong.key (same
#                           name, another secret) and DIR/other.key (another name).
#                           Stopped at exit. Exports BIND_PORT, BIND_PID.
#   bind_txt NAME           the TXT values of NAME, one per line, sorted

bind_start() {
    local d=$1 zone=$2 try
    mkdir -p "$d/zones"
    tsig-keygen -a hmac-sha256 mailcert-test >"$d/tsig.key" || die "tsig-keygen"
    tsig-keygen -a hmac-sha256 mailcert-test >"$d/wrong.key" || die "tsig-keygen"
    tsig-keygen -a hmac-sha256 stranger >"$d/other.key" || die "tsig-keygen"
    chmod 600 "$d"/*.key
    cat >"$d/zones/$zone.zone" <<EOZ
\$TTL 60
@   IN SOA ns.$zone. hostmaster.$zone. 1 60 60 600 60
@   IN NS  ns.$zone.
ns  IN A   127.0.0.1
EOZ
    for try in 1 2 3 4 5; do
        BIND_PORT=$(freeport) || die "freeport"
        cat >"$d/named.conf" <<EOC
include "$d/tsig.key";
options {
    directory "$d/zones";
    pid-file "$d/named.pid";
    session-keyfile "$d/session.key";
    listen-on port $BIND_PORT { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    allow-query { any; };
    notify no;
};
controls { };
zone "$zone" {
    type primary;
    file "$d/zones/$zone.zone";
    update-policy { grant mailcert-test zonesub ${BIND_UPDATE_TYPES:-TXT}; };
};
EOC
        named -g -c "$d/named.conf" -n 1 >"$d/named.log" 2>&1 </dev/null &
        BIND_PID=$!
        on_exit "bind_stop $BIND_PID"
        local i
        for i in $(seq 100); do
            if grep -q "running" "$d/named.log" && dig +short +time=1 +tries=1 \
                @127.0.0.1 -p "$BIND_PORT" SOA "$zone" | grep -q "ns.$zone"; then
                export BIND_PORT BIND_PID
                return 0
            fi
            kill -0 "$BIND_PID" 2>/dev/null || break
            sleep 0.1
        done
        bind_stop "$BIND_PID"
        grep -q "address in use" "$d/named.log" || break
    done
    die "named did not start: $(tail -20 "$d/named.log")"
}

bind_stop() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

bind_txt() {
    dig +short +time=2 +tries=2 @127.0.0.1 -p "$BIND_PORT" TXT "$1" | tr -d '"' | sort
}
