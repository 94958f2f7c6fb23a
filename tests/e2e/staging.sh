#!/bin/bash
# acme.test_on_staging: a host the production CA has never issued for is ordered
# from the staging CA first, and from the production CA only once the staging CA
# has issued. Production is a real Pebble; staging is the scripted fake CA (a second
# CA whose answers the test chooses: refusing, then issuing).
#  - staging refuses: the production CA is never asked, the error names the staging
#    CA, status is in error (a self-signed stand-in serves meanwhile);
#  - staging issues: its certificate is checked and thrown away, production issues,
#    the installed set is production's;
#  - a host with a production certificate is not sent to staging again;
#  - test_on_staging with no known staging CA is a FILE:LINE error.
. "$(dirname "$0")/e2e.sh"
. "$TOP_SRCDIR/tests/lib/fakeca.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
fakeca_start "$W/fake1" problem >/dev/null || fail "the fake CA did not start"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" st.example.test
cat "$PEBBLE_API_CA" "$FAKECA_API_CA" > "$W/bundle.pem"
sed -i "s|^  ca_bundle = .*|  ca_bundle = \"$W/bundle.pem\"\n  test_on_staging = true\n  staging_directory = \"$FAKECA_DIR_URL\"|" "$conf"
grep -q "staging_directory = \"$FAKECA_DIR_URL\"" "$conf" || fail "test config not as intended"

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=[h for h in d["hosts"] if h["host"]==sys.argv[2]][0]; v=h[sys.argv[3]]; print("" if v is None else v)' "$@"; }
pebble_orders() { grep -c 'Added order' "$W/pebble/pebble.log"; }
fake_orders() { fakeca_requests '^/new-order$' | wc -l; }

# ---- staging refuses
"$MAILCERT" -c "$conf" check > "$W/check" 2>&1 || fail "check: $(cat "$W/check")"
"$MAILCERT" -c "$conf" issue > "$W/out1" 2>&1; rc=$?
expect_eq "$rc" 1 "the staging CA refuses: issue exits 1"
[ "$(fake_orders)" -ge 1 ] && pass "the staging CA was asked" || fail "no order at the staging CA: $(cat "$W/out1")"
expect_eq "$(pebble_orders)" 0 "the production CA was never asked"
"$MAILCERT" -c "$conf" status --json > "$W/s1"
case $(jget "$W/s1" st.example.test last_failure_error_message) in
    "staging CA $FAKECA_DIR_URL: "*"fake CA refuses"*) pass "status: the error names the staging CA and its answer" ;;
    *) fail "status error: $(jget "$W/s1" st.example.test last_failure_error_message)" ;;
esac
expect_eq "$(jget "$W/s1" st.example.test staging_passed_time)" "" "status: staging not passed"
expect_eq "$(jget "$W/s1" st.example.test source)" self-signed-fallback "a self-signed stand-in serves meanwhile"

# ---- staging issues (a new staging CA: a configuration change, tried at once)
fakeca_stop
fakeca_start "$W/fake2" good >/dev/null || fail "the second fake CA did not start"
cat "$PEBBLE_API_CA" "$FAKECA_API_CA" > "$W/bundle.pem"
sed -i "s|^  staging_directory = .*|  staging_directory = \"$FAKECA_DIR_URL\"|" "$conf"
"$MAILCERT" -c "$conf" issue > "$W/out2" 2>&1 || fail "issue with a staging CA that issues: $(tail -5 "$W/out2")"
expect_eq "$(fake_orders)" 1 "the staging CA issued once"
fake_fin=$(fakeca_requests '^/finalize' | wc -l)
[ "$fake_fin" -ge 1 ] && pass "the staging order was finalized" || fail "no finalize at the staging CA"
expect_eq "$(pebble_orders)" 1 "then the production CA was asked"
grep -q "staging CA issued a certificate (checked, not installed)" "$W/out2" && pass "the log says staging passed" ||
    fail "no word of staging: $(cat "$W/out2")"
pebble_root_refresh
check_set "$W/store" st.example.test "$PEBBLE_ROOT" st.example.test
"$MAILCERT" -c "$conf" status --json > "$W/s2"; src=$?
expect_eq "$src" 0 "status exits 0"
expect_eq "$(jget "$W/s2" st.example.test source)" acme "the production certificate is installed"
[ -n "$(jget "$W/s2" st.example.test staging_passed_time)" ] && pass "status: staging_passed_time set" ||
    fail "no staging_passed_time"
openssl verify -CAfile "$FAKECA_ROOT" "$W/store/certs/st.example.test/fullchain.pem" >/dev/null 2>&1 &&
    fail "the staging CA's certificate was installed" || pass "nothing of the staging CA's was installed"

# ---- a host with a production certificate is not sent to staging again
"$MAILCERT" -c "$conf" issue --force > "$W/out3" 2>&1 || fail "issue --force: $(tail -3 "$W/out3")"
expect_eq "$(fake_orders)" 1 "a renewal does not go to the staging CA"
expect_eq "$(pebble_orders)" 2 "a renewal goes to the production CA"

# ---- no staging CA known: a FILE:LINE error
e2e_config "$W/bad.conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" st.example.test
sed -i "s|^  agree_tos = true|  agree_tos = true\n  test_on_staging = true|" "$W/bad.conf"
line=$(grep -n test_on_staging "$W/bad.conf" | cut -d: -f1)
"$MAILCERT" -c "$W/bad.conf" check > "$W/bad.out" 2>&1; rc=$?
expect_eq "$rc" 78 "test_on_staging without a staging CA: check exits 78"
grep -q "^$W/bad.conf:$line: test_on_staging: no staging CA is known" "$W/bad.out" && pass "the error names FILE:LINE" ||
    fail "error: $(cat "$W/bad.out")"
# with Let's Encrypt the staging CA is known
sed -i "s|^  directory = .*|  directory = \"letsencrypt\"|" "$W/bad.conf"
"$MAILCERT" -c "$W/bad.conf" check > "$W/le.out" 2>&1 && pass "with letsencrypt the staging CA is known" ||
    fail "letsencrypt + test_on_staging: $(cat "$W/le.out")"
finish
