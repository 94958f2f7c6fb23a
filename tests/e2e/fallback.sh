#!/bin/bash
# A host that has never had a certificate and whose order fails gets a self-signed
# stand-in (source self-signed-fallback) so that its listeners can start; the host
# stays in error, is retried on its backoff, and the CA's certificate replaces the
# stand-in as soon as one is issued. A host with a certificate from the CA whose
# renewal fails keeps it: no stand-in then. Against a real Pebble.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" fb.example.test
cat > "$W/hook" <<EOH
#!/bin/sh
[ -e "$W/fixed" ] || { echo "DNS provider says no" >&2; exit 1; }
case "\$1" in
add) curl -fsS -d "{\"host\":\"\$3\",\"value\":\"\$4\"}" "$CHALLTESTSRV_URL/set-txt" >/dev/null ;;
remove) curl -fsS -d "{\"host\":\"\$3\"}" "$CHALLTESTSRV_URL/clear-txt" >/dev/null ;;
esac
exit 0
EOH
chmod 755 "$W/hook"
sed -i 's|^host "fb.example.test" { names = {  }\(.*\)}|host "fb.example.test" { challenge = "dns-01"\1}|' "$conf"
printf 'dns01 { hook = "%s" }\n' "$W/hook" >> "$conf"
grep -q 'challenge = "dns-01"' "$conf" || fail "test config not as intended: $(grep fb "$conf")"

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=[h for h in d["hosts"] if h["host"]==sys.argv[2]][0]; v=h[sys.argv[3]]; print("" if v is None else v)' "$@"; }
d=$W/store/certs/fb.example.test

# ---- the order fails: a stand-in
"$MAILCERT" -c "$conf" issue > "$W/out1" 2>&1; rc=$?
expect_eq "$rc" 1 "the failed order makes issue exit 1"
grep -q "self-signed certificate stands in" "$W/out1" && pass "the log says a stand-in is installed" ||
    fail "no word of the stand-in: $(cat "$W/out1")"
"$MAILCERT" -c "$conf" status --json > "$W/s1"; src=$?
expect_eq "$src" 1 "status exits 1: the host is in error"
"$MAILCERT" -c "$conf" status --only-errors > "$W/oe0" 2>&1
grep -q '^fb\.example\.test' "$W/oe0" && pass "--only-errors lists a host with only a stand-in" ||
    fail "--only-errors: $(cat "$W/oe0")"
expect_eq "$(jget "$W/s1" fb.example.test source)" self-signed-fallback "status: source self-signed-fallback"
expect_eq "$(jget "$W/s1" fb.example.test has_cert)" True "status: a certificate is there"
case $(jget "$W/s1" fb.example.test last_failure_error_message) in
    *"DNS provider says no"*) pass "status keeps the order's error" ;;
    *) fail "error: $(jget "$W/s1" fb.example.test last_failure_error_message)" ;;
esac
[ -s "$d/cert.pem" ] && pass "cert.pem is there for the listeners" || fail "no cert.pem"
expect_eq "$(openssl x509 -in "$d/fullchain.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')" \
    "$(openssl x509 -in "$d/fullchain.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')" "the stand-in is self-signed"
openssl x509 -in "$d/fullchain.pem" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:fb.example.test" &&
    pass "the stand-in names the host" || fail "the stand-in lacks the host's name"
kp=$(openssl pkey -in "$d/key.pem" -pubout | sha256sum)
cp=$(openssl x509 -in "$d/cert.pem" -noout -pubkey | sha256sum)
expect_eq "$kp" "$cp" "the stand-in's key matches"
expect_eq "$(file_mode "$d/key.pem")" 640 "the stand-in's key is 0640"
serial1=$(jget "$W/s1" fb.example.test serial)

# ---- renew before the retry time: nothing happens, the stand-in stays
"$MAILCERT" -c "$conf" renew > "$W/out2" 2>&1
"$MAILCERT" -c "$conf" status --json > "$W/s2"
expect_eq "$(jget "$W/s2" fb.example.test consecutive_failures)" 1 "the backoff holds: no attempt before the retry time"
expect_eq "$(jget "$W/s2" fb.example.test serial)" "$serial1" "the stand-in is left as it is"

# ---- fixed: the CA's certificate replaces the stand-in
touch "$W/fixed"
"$MAILCERT" -c "$conf" retry fb.example.test > "$W/out3" 2>&1 || fail "retry after the fix: $(tail -3 "$W/out3")"
"$MAILCERT" -c "$conf" status --json > "$W/s3"; src=$?
expect_eq "$src" 0 "status exits 0 once the CA issued"
expect_eq "$(jget "$W/s3" fb.example.test source)" acme "the CA's certificate replaced the stand-in"
expect_eq "$(jget "$W/s3" fb.example.test last_failure_error_message)" "" "no error left"
pebble_root_refresh
check_set "$W/store" fb.example.test "$PEBBLE_ROOT" fb.example.test
serial2=$(jget "$W/s3" fb.example.test serial)

# ---- a renewal that fails keeps the CA's certificate: no stand-in
# (a name never validated: Pebble would otherwise often reuse fb's authorization)
rm -f "$W/fixed"
sed -i 's|^host "fb.example.test" {|host "fb.example.test" { names = { "more.fb.example.test" }|' "$conf"
grep -q more.fb.example.test "$conf" || fail "test config not as intended: $(grep fb "$conf")"
"$MAILCERT" -c "$conf" issue > "$W/out4" 2>&1; rc=$?
expect_eq "$rc" 1 "the failed renewal exits 1"
"$MAILCERT" -c "$conf" status --json > "$W/s4"
expect_eq "$(jget "$W/s4" fb.example.test source)" acme "after a failed renewal the source is still acme"
expect_eq "$(jget "$W/s4" fb.example.test serial)" "$serial2" "after a failed renewal the CA's certificate stays"
grep -q "stands in" "$W/out4" && fail "a stand-in replaced a certificate from the CA" || pass "no stand-in over a certificate from the CA"
check_set "$W/store" fb.example.test "$PEBBLE_ROOT" fb.example.test

# ---- --only-errors: a renewal failing for less than an hour needs nobody yet
"$MAILCERT" -c "$conf" status --only-errors > "$W/oe1" 2>&1; rc=$?
expect_eq "$rc" 1 "status still exits 1 (the host is in error)"
grep -q '^fb\.example\.test' "$W/oe1" && fail "--only-errors lists a renewal failing for minutes: $(cat "$W/oe1")" ||
    pass "--only-errors leaves out a renewal failing for less than an hour"
if [ "${MAILCERT_TEST_HOOKS_BUILT:-yes}" = yes ]; then
    MAILCERT_NOW=$(($(date +%s) + 7200)) "$MAILCERT" -c "$conf" status --only-errors > "$W/oe2" 2>&1
    grep -q '^fb\.example\.test' "$W/oe2" && pass "--only-errors lists it once it has failed for over an hour" ||
        fail "--only-errors two hours later: $(cat "$W/oe2")"
fi
finish
