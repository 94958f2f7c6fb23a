#!/bin/bash
# tls-alpn-01 (RFC 8737) against a real Pebble: the built-in responder on Pebble's
# TLS port answers for several names at once; a wrong ALPN or an unknown name is
# refused during the handshake.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0  # every order validates afresh
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" \
    alpn.example.test:alpn2.example.test,alpn3.example.test other.example.test
sed -i 's|host "alpn.example.test" { names = { "alpn2.example.test", "alpn3.example.test" } }|host "alpn.example.test" { names = { "alpn2.example.test", "alpn3.example.test" } challenge = "tls-alpn-01" }|' "$conf"
sed -i 's|host "other.example.test" { names = {  } }|host "other.example.test" { challenge = "tls-alpn-01" }|' "$conf"
printf 'tlsalpn01 { listen = { "127.0.0.1:%s" } }\n' "$PEBBLE_TLS_PORT" >> "$conf"
# http-01 cannot succeed here (its responder listens where Pebble never looks), so a
# silent fall-back to http-01 would fail the issuance instead of passing unnoticed
nohttp=$(freeport)
sed -i "s|http01 { listen = { \"127.0.0.1:$PEBBLE_HTTP_PORT\" } }|http01 { listen = { \"127.0.0.1:$nohttp\" } }|" "$conf"
grep -q "127.0.0.1:$nohttp" "$conf" || fail "test config: http-01 listener not moved"
grep -q 'challenge = "tls-alpn-01"' "$conf" || fail "test config not as intended"
"$MAILCERT" -c "$conf" check >/dev/null || fail "config with tlsalpn01 is valid"

"$MAILCERT" -c "$conf" issue > "$W/out" 2>&1; rc=$?
expect_eq "$rc" 0 "issue over tls-alpn-01 succeeds: $(tail -1 "$W/out")"
pebble_root_refresh
check_set "$W/store" alpn.example.test "$PEBBLE_ROOT" alpn.example.test alpn2.example.test alpn3.example.test
check_set "$W/store" other.example.test "$PEBBLE_ROOT" other.example.test

# the responder is what made it work: listening elsewhere, validation fails (for a
# name never validated before, so no authorization of the first run can stand in);
# the self-check would catch this before the order (tests/e2e/selfcheck.sh), so it is
# off for this host: here it is Pebble that must fail it
other=$(freeport)
sed -i "s|tlsalpn01 { listen = { \"127.0.0.1:$PEBBLE_TLS_PORT\" } }|tlsalpn01 { listen = { \"127.0.0.1:$other\" } }|" "$conf"
grep -q "127.0.0.1:$other" "$conf" || fail "test config: tls-alpn-01 listener not moved"
echo 'host "neg.example.test" { challenge = "tls-alpn-01" self_check = false }' >> "$conf"
"$MAILCERT" -c "$conf" issue neg.example.test > "$W/out2" 2>&1; rc=$?
expect_eq "$rc" 1 "without the responder on Pebble's port, tls-alpn-01 fails"
grep -q "neg.example.test: .*tls-alpn-01 validation failed" "$W/out2" \
    && pass "the failure names the challenge" || fail "message: $(cat "$W/out2")"
expect_standin "$W/store" neg.example.test

# the handshake rules (ALPN, SNI, the extension) are checked in tests/unit/test_tlsalpn.c
finish
