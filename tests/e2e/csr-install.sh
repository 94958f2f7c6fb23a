#!/bin/bash
# mailcert csr / install: csr keeps a pending key (0600, never world-readable, not in
# the live view) and prints a CSR with every configured name; a test CA (openssl x509
# -req) signs it; install activates exactly that certificate (same chain building and
# checks as import); a certificate for another key is refused and the pending key kept.
. "$(dirname "$0")/e2e.sh"
. "$(dirname "$0")/import-lib.sh"
set -u
e2e_workdir
conf=$W/mailcert.conf
S=$W/store
H=mail.example.test
imp_conf "$conf" "$S"
cd "$W" || die "cd $W"
imp_ca ca
imp_leaf ca other 90 $H smtp.example.test
trust_root ca/root.pem

"$MAILCERT" -c "$conf" install $H other.pem ca/int.pem >out 2>&1
expect_eq "$?" 1 "install before csr: exit 1"
grep -q "there is no pending key: make one and its CSR with \`mailcert csr $H\` first" out && pass "install before csr says so" || fail "install before csr: $(cat out)"

umask 022
"$MAILCERT" -c "$conf" csr $H >req.pem 2>csr.err
expect_eq "$?" 0 "csr: exit 0"
openssl req -in req.pem -noout -verify >/dev/null 2>&1 && pass "the CSR is valid and self-signed" || fail "bad CSR: $(cat req.pem csr.err)"
sans=$(openssl req -in req.pem -noout -text | grep -A1 "Subject Alternative Name" | tail -1 | tr -d ' ')
expect_eq "$sans" "DNS:$H,DNS:smtp.example.test" "the CSR names every configured name"
openssl req -in req.pem -noout -subject | grep -q "CN *= *$H" && pass "CSR subject CN is the host" || fail "subject: $(openssl req -in req.pem -noout -subject)"
openssl req -in req.pem -noout -text | grep -q "ASN1 OID: prime256v1" && pass "default key type ec256" || fail "key type: $(openssl req -in req.pem -noout -text | head -20)"
pk=$S/pending/$H/key.pem
[ -f "$pk" ] && pass "pending key kept under STORE/pending" || fail "no $pk"
expect_eq "$(stat -c %a "$pk")" 600 "pending key mode 0600"
expect_eq "$(stat -c %U "$pk")" root "pending key owned by root"
expect_eq "$(stat -c %a "$S/pending")" 700 "STORE/pending mode 0700"
expect_eq "$(stat -c %a "$S/pending/$H")" 700 "STORE/pending/HOST mode 0700"
[ ! -e "$S/certs/$H" ] && pass "nothing in the live view yet" || fail "certs/$H exists"
expect_eq "$(openssl pkey -in "$pk" -pubout | sha256sum)" "$(openssl req -in req.pem -noout -pubkey | sha256sum)" "the CSR is for the pending key"

# run again: the same key, a fresh CSR
"$MAILCERT" -c "$conf" csr $H >req2.pem 2>csr2.err
expect_eq "$(openssl req -in req2.pem -noout -pubkey | sha256sum)" "$(openssl req -in req.pem -noout -pubkey | sha256sum)" "csr again keeps the pending key"
grep -q "using the pending ec256 key" csr2.err && pass "csr again says it reuses the key" || fail "csr2: $(cat csr2.err)"

# the CA signs it
imp_sign ca req.pem signed.pem 90
# a certificate for another key: refused, pending key kept
"$MAILCERT" -c "$conf" install $H other.pem ca/int.pem >out 2>&1
expect_eq "$?" 1 "install of a certificate for another key: exit 1"
grep -q "is for another key, not the pending key that \`mailcert csr $H\` made at .*; the pending key is kept" out && pass "another key: refused with its reason" || fail "another key: $(cat out)"
[ -f "$pk" ] && pass "the pending key is still there" || fail "pending key gone"
[ ! -e "$S/certs/$H" ] && pass "nothing installed" || fail "certs/$H exists after a refusal"
# the right certificate, chain not given: same message as import
"$MAILCERT" -c "$conf" install $H signed.pem >out 2>&1
expect_eq "$?" 1 "install without the intermediate: exit 1"
grep -q "no issuer found for CN=$H, issued by CN=mailcert import test intermediate .* add that intermediate certificate" out && pass "missing intermediate: import's message" || fail "missing int: $(cat out)"
# a key in the files is not used
cp other.key stray.key
"$MAILCERT" -c "$conf" install $H ca/int.pem signed.pem stray.key >out 2>&1
expect_eq "$?" 0 "install of the CA's certificate (intermediate first, a stray key given): exit 0"
grep -q "not using the private key in it" out && pass "the stray key is not used" || fail "stray key: $(cat out)"
check_set "$S" $H ca/root.pem $H smtp.example.test
expect_eq "$(leaf_serial "$S" $H)" "$(openssl x509 -in signed.pem -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f')" "the installed leaf is the CA's certificate"
expect_eq "$(openssl pkey -in "$S/certs/$H/key.pem" -pubout | sha256sum)" "$(openssl req -in req.pem -noout -pubkey | sha256sum)" "the installed key is the pending key"
[ ! -e "$pk" ] && [ ! -e "$S/pending/$H" ] && pass "the pending key is gone once active" || fail "pending key still there"
"$MAILCERT" -c "$conf" status --json >st.json 2>/dev/null
expect_eq "$(jq -r '.hosts[] | select(.host=="mail.example.test") | .source' st.json)" manual "status: source manual"
"$MAILCERT" -c "$conf" install $H signed.pem ca/int.pem >out 2>&1
expect_eq "$?" 1 "install again without a pending key: exit 1"

# --key-type, and a type change replaces the pending key
"$MAILCERT" -c "$conf" csr $H --key-type rsa2048 >req3.pem 2>csr3.err
expect_eq "$?" 0 "csr --key-type rsa2048: exit 0"
openssl req -in req3.pem -noout -text | grep -q "Public-Key: (2048 bit)" && pass "rsa2048 CSR" || fail "rsa: $(head -5 req3.pem)"
"$MAILCERT" -c "$conf" csr $H --key-type ec384 >req4.pem 2>csr4.err
grep -q "replacing the pending rsa2048 key" csr4.err && pass "another --key-type replaces the pending key, saying so" || fail "replace: $(cat csr4.err)"
"$MAILCERT" -c "$conf" csr $H --key-type dsa >out 2>&1
expect_eq "$?" 64 "unknown --key-type: usage error"
"$MAILCERT" -c "$conf" csr auto.example.test >out 2>&1
expect_eq "$?" 1 "csr for a source=acme host: exit 1"
grep -q 'csr needs source = "manual"' out && pass "csr for an acme host refused clearly" || fail "acme csr: $(cat out)"
finish
