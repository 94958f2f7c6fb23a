#!/bin/bash
# Alternate chains (preferred_chain), an RSA account key, RSA host keys, the webroot
# alternative to the built-in responder, and one failing host among good ones.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_ALTERNATE_ROOTS=2
pebble_start "$W/pebble"
conf=$W/mailcert.conf

# --- preferred_chain picks the chain issued by the named root ---
alt_cn=$(openssl x509 -in "$W/pebble/root-2.pem" -noout -subject -nameopt multiline 2>/dev/null | sed -n 's/^ *commonName *= *//p')
[ -n "$alt_cn" ] || alt_cn=$(openssl x509 -in "$W/pebble/root-1.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
dflt_cn=$(openssl x509 -in "$PEBBLE_ROOT" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
log "default root: $dflt_cn; preferring: $alt_cn"
PREFERRED_CHAIN=$alt_cn e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" chain.example.test

# an RSA account key placed before the first run is used (RS256)
acct=$(printf '%s' "$PEBBLE_DIR_URL" | sha256sum | cut -c1-16)
mkdir -p "$W/store/accounts/$acct" && chmod 700 "$W/store" "$W/store/accounts" "$W/store/accounts/$acct"
(umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/store/accounts/$acct/key.pem" 2>/dev/null)
chmod 755 "$W/store"
keyhash=$(sha256sum < "$W/store/accounts/$acct/key.pem")

"$MAILCERT" -c "$conf" issue > "$W/out1" 2>&1 || fail "issue with preferred_chain: $(cat "$W/out1")"
expect_eq "$(sha256sum < "$W/store/accounts/$acct/key.pem")" "$keyhash" "the RSA account key was used, not replaced"
grep -q '"url"' "$W/store/accounts/$acct/account.json" && pass "account URL recorded" || fail "no account.json"
d=$W/store/certs/chain.example.test
top_issuer=$(awk '/BEGIN CERT/{n++} {print > ("'"$W"'/c" n ".pem")}' "$d/fullchain.pem"; n=$(ls "$W"/c*.pem | wc -l); openssl x509 -in "$W/c$n.pem" -noout -issuer -nameopt multiline | sed -n 's/^ *commonName *= *//p')
expect_eq "$top_issuer" "$alt_cn" "installed chain ends at the preferred root"
if openssl verify -CAfile "$W/pebble/roots-all.pem" -untrusted "$d/cert_auth.pem" "$d/fullchain.pem" >/dev/null 2>&1 && \
   ! openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/cert_auth.pem" "$d/fullchain.pem" >/dev/null 2>&1; then
    pass "the preferred chain verifies to the alternate root, not the default one"
else
    fail "preferred chain verification"
fi
# a preferred chain nobody offers: the default chain is kept
PREFERRED_CHAIN="No Such Root" e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" chain.example.test
"$MAILCERT" -c "$conf" issue --force > "$W/out2" 2>&1 || fail "issue with an unknown preferred chain"
openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/cert_auth.pem" "$d/fullchain.pem" >/dev/null 2>&1 \
    && pass "unknown preferred_chain falls back to the default chain" || fail "default chain not used"

# --- RSA host keys and the webroot ---
mkdir -p "$W/webroot"
python3 -m http.server "$PEBBLE_HTTP_PORT" --bind 127.0.0.1 --directory "$W/webroot" > "$W/webroot.log" 2>&1 &
web=$!
on_exit "kill $web 2>/dev/null"
wait_port 127.0.0.1 "$PEBBLE_HTTP_PORT" 10 || fail "webroot server did not start"
for kt in rsa2048 ec384; do
    KEY_TYPE=$kt e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" 1 web-$kt.example.test
    sed -i "s|http01 { listen = { \"127.0.0.1:1\" } }|http01 { webroot = \"$W/webroot\" }|" "$conf"
    "$MAILCERT" -c "$conf" issue > "$W/out-$kt" 2>&1 || fail "webroot issue ($kt): $(cat "$W/out-$kt")"
    check_set "$W/store" web-$kt.example.test "$PEBBLE_ROOT" web-$kt.example.test
    case $kt in
        rsa2048) want="Public-Key: (2048 bit)"; alg="rsaEncryption" ;;
        ec384) want="Public-Key: (384 bit)"; alg="id-ecPublicKey" ;;
    esac
    txt=$(openssl x509 -in "$W/store/certs/web-$kt.example.test/fullchain.pem" -noout -text)
    case "$txt" in *"$alg"*"$want"*) pass "$kt: leaf key type" ;; *) fail "$kt: leaf key is not $want" ;; esac
done
grep -q "GET /.well-known/acme-challenge/" "$W/webroot.log" && pass "Pebble fetched the token from the webroot" || fail "webroot not used"
left=$(find "$W/webroot/.well-known/acme-challenge" -type f | wc -l)
expect_eq "$left" 0 "webroot tokens removed after validation"
kill $web 2>/dev/null; wait $web 2>/dev/null

# --- one failing host never stops the others ---
printf '#!/bin/sh\necho "no DNS API credentials" >&2\nexit 3\n' > "$W/badhook"; chmod 755 "$W/badhook"
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" a.example.test b.example.test c.example.test d.example.test
sed -i 's|host "b.example.test" { names = {  } }|host "b.example.test" { challenge = "dns-01" }|' "$conf"
printf 'dns01 { hook = "%s" }\n' "$W/badhook" >> "$conf"
"$MAILCERT" -c "$conf" issue -j 2 > "$W/out-partial" 2>&1; rc=$?
expect_eq "$rc" 1 "one failed host makes issue exit 1"
for h in a c d; do
    [ -f "$W/store/certs/$h.example.test/cert.pem" ] && pass "$h.example.test issued despite b failing" || fail "$h.example.test missing"
done
grep -q "b.example.test: .*dns-01 hook.*exited with status 3: no DNS API credentials" "$W/out-partial" \
    && pass "the failure names the host and the hook's reason" || fail "partial failure message: $(cat "$W/out-partial")"
"$MAILCERT" -c "$conf" status --only-errors > "$W/st" ; rc=$?
expect_eq "$rc" 1 "status exits 1 with a host in error"
expect_eq "$(grep -c example.test "$W/st")" 1 "status --only-errors lists only the failed host"
# --- the http-01 port is taken: a clear error, recorded, nothing else disturbed ---
busy=$(freeport)
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(3600)' "$busy" &
squatter=$!
on_exit "kill $squatter 2>/dev/null"
wait_port 127.0.0.1 "$busy" 10 || fail "port squatter did not start"
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$busy" busy.example.test
"$MAILCERT" -c "$conf" issue > "$W/out-busy" 2>&1; rc=$?
expect_eq "$rc" 1 "http-01 port in use: issue fails"
grep -q "busy.example.test: http-01 responder cannot listen on 127.0.0.1:$busy: Address already in use" "$W/out-busy" \
    && pass "the failure names the host and the address" || fail "busy port: $(cat "$W/out-busy")"
kill $squatter 2>/dev/null; wait $squatter 2>/dev/null

# --- a hook that claims success but publishes nothing: the propagation check catches it ---
printf '#!/bin/sh\necho "$1" >> "%s"\nexit 0\n' "$W/lazy.log" > "$W/lazyhook"; chmod 755 "$W/lazyhook"
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" lazy.example.test
sed -i 's|host "lazy.example.test" { names = {  } }|host "lazy.example.test" { challenge = "dns-01" }|' "$conf"
printf 'dns01 {\n  hook = "%s"\n  resolver = "%s"\n  propagation_timeout = 3\n}\n' "$W/lazyhook" "$PEBBLE_DNS" >> "$conf"
"$MAILCERT" -c "$conf" issue > "$W/out-lazy" 2>&1; rc=$?
expect_eq "$rc" 1 "unpublished TXT record: issue fails"
grep -q "_acme-challenge.lazy.example.test. not visible at $PEBBLE_DNS after 3 s" "$W/out-lazy" \
    && pass "the propagation check names the record and the resolver" || fail "lazy hook: $(cat "$W/out-lazy")"
expect_eq "$(tr '\n' ' ' < "$W/lazy.log")" "add remove " "the record is removed again after the failed wait"
finish
