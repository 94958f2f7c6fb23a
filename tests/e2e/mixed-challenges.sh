#!/bin/bash
# One run with an http-01 host and a tls-alpn-01 host, against a real Pebble: both
# responders run at once.  The second responder child used to inherit the first
# one's command pipe (and both the store's run lock), so the run never finished and
# every later run waited on the lock.  mailcert runs under `timeout 300` (in its own
# process group, so the responders die with it): a hang fails instead of hanging.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0  # every order validates afresh
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" \
    web.example.test alpn.example.test
sed -i 's|^host "alpn.example.test" { names = {  } }|host "alpn.example.test" { challenge = "tls-alpn-01" }|' "$conf"
printf 'tlsalpn01 { listen = { "127.0.0.1:%s" } }\n' "$PEBBLE_TLS_PORT" >> "$conf"
grep -q 'challenge = "tls-alpn-01"' "$conf" || fail "test config not as intended"

# bounded_run OUT ARGS...: mailcert ARGS under timeout 300; sets RC (124: it hung)
bounded_run() {
    local out=$1 tpid
    shift
    timeout 300 "$MAILCERT" -c "$conf" "$@" > "$out" 2>&1 &
    tpid=$!
    # timeout leads a process group of its own: whatever is left of it goes at exit
    on_exit "kill -TERM -- -$tpid 2>/dev/null"
    RC=0
    wait "$tpid" || RC=$?
}

bounded_run "$W/out1" issue
if [ "$RC" = 124 ]; then
    fail "a run with http-01 and tls-alpn-01 hosts did not finish within 300 s: $(tail -3 "$W/out1")"
    finish
fi
expect_eq "$RC" 0 "http-01 and tls-alpn-01 hosts in one run: $(tail -1 "$W/out1")"
pebble_root_refresh
check_set "$W/store" web.example.test "$PEBBLE_ROOT" web.example.test
check_set "$W/store" alpn.example.test "$PEBBLE_ROOT" alpn.example.test

# the next run is not kept waiting by the first one's lock
bounded_run "$W/out2" issue --force
if [ "$RC" = 124 ]; then
    fail "the second run did not finish within 300 s: $(tail -3 "$W/out2")"
else
    expect_eq "$RC" 0 "a second run with both kinds of hosts: $(tail -1 "$W/out2")"
    grep -q "another mailcert run is working" "$W/out2" \
        && fail "the second run waited for the first one's lock" \
        || pass "the second run found the store unlocked"
fi
finish
