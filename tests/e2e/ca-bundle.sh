#!/bin/bash
# Trust anchors for the ACME API: acme.ca_bundle when set, else the distribution's
# usual bundle (on Debian /etc/ssl/certs/ca-certificates.crt), else libcurl's default.
# A CA certificate that does not verify says which anchors were used. Pebble's API
# certificate is signed by its own test CA, which no system bundle holds.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
conf=$W/mailcert.conf

# no ca_bundle: the system's bundle is used, and the error says so
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" ca.example.test
sed -i '/^  ca_bundle = /d' "$conf"
"$MAILCERT" -c "$conf" issue > "$W/out1" 2>&1; rc=$?
expect_eq "$rc" 1 "without ca_bundle Pebble's test CA is not trusted"
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    grep -q "(trust anchors: /etc/ssl/certs/ca-certificates.crt)" "$W/out1" &&
        pass "the error names the system bundle used" || fail "error: $(grep -i 'certificate\|anchor' "$W/out1" | head -2)"
else
    grep -q "(trust anchors: " "$W/out1" && pass "the error names the trust anchors used" ||
        fail "error: $(grep -i 'certificate\|anchor' "$W/out1" | head -2)"
fi
[ ! -e "$W/store/certs/ca.example.test/cert.pem" ] || expect_standin "$W/store" ca.example.test

# a ca_bundle that does not hold Pebble's CA: the error names it
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=unrelated test CA" \
    -keyout "$W/other-key.pem" -out "$W/other.pem" 2>/dev/null
e2e_config "$conf" "$PEBBLE_DIR_URL" "$W/other.pem" "$PEBBLE_HTTP_PORT" ca.example.test
"$MAILCERT" -c "$conf" issue > "$W/out2" 2>&1; rc=$?
expect_eq "$rc" 1 "a ca_bundle without the CA's issuer fails"
grep -q "(trust anchors: acme.ca_bundle $W/other.pem)" "$W/out2" && pass "the error names acme.ca_bundle" ||
    fail "error: $(grep -i 'certificate\|anchor' "$W/out2" | head -2)"

# the right one works
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" ca.example.test
"$MAILCERT" -c "$conf" issue --force > "$W/out3" 2>&1 || fail "with Pebble's CA as ca_bundle: $(tail -3 "$W/out3")"
pebble_root_refresh
check_set "$W/store" ca.example.test "$PEBBLE_ROOT" ca.example.test
finish
