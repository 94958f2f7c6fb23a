#!/bin/bash
# mailcert account against a real Pebble: the display (URL, status, contact, key type,
# RFC 7638 thumbprint computed here from key.pem), usage errors, a key rollover
# (RFC 8555 7.3.5) after which the new key issues and the old one is refused by the CA,
# a local switch that fails after the CA took the new key (test build: the message
# says what to do, and doing it works), and deactivation: confirmation refused
# without a terminal, the local record, issue failing with the way out, and a new
# account once the operator removed the old one. The scripted fake CA refuses a key
# change (the old key stays, nothing left) and loses the answer to one (the new key is
# kept in key.pem.next and the message says how to finish).
. "$(dirname "$0")/e2e.sh"
# shellcheck source=tests/lib/fakeca.sh
. "$TOP_SRCDIR/tests/lib/fakeca.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
conf=$W/mailcert.conf
H=mail.account.test
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" "$H"

# the JWK thumbprint (RFC 7638) of the EC P-256 key in PEM file $1, computed independently
thumb() {
    python3 - "$1" <<'EOF'
import base64, hashlib, json, sys
from cryptography.hazmat.primitives.serialization import load_pem_private_key
k = load_pem_private_key(open(sys.argv[1], "rb").read(), None).public_key().public_numbers()
b = lambda n: base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()
jwk = json.dumps({"crv": "P-256", "kty": "EC", "x": b(k.x), "y": b(k.y)}, separators=(",", ":"), sort_keys=True)
print(base64.urlsafe_b64encode(hashlib.sha256(jwk.encode()).digest()).rstrip(b"=").decode())
EOF
}
jfield() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if v is None else v)' "$@"; }
serial_of() { "$MAILCERT" -c "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hosts"][0]["serial"])'; }
mc() { "$MAILCERT" -c "$conf" "$@"; }

# ---- before any account ----
mc account > "$W/none.out" 2>&1; rc=$?
expect_eq "$rc" 1 "account before any issue fails"
grep -q "no ACME account for $PEBBLE_DIR_URL yet" "$W/none.out" && pass "it says there is none yet" ||
    fail "no-account message: $(cat "$W/none.out")"
[ -z "$(ls "$W/store/accounts" 2>/dev/null)" ] && pass "and made no account key" || fail "account dir: $(ls -R "$W/store/accounts")"

# ---- usage errors ----
for args in "account bogus" "account --yes" "account rollover --json" "account deactivate extra" "account --nope"; do
    # shellcheck disable=SC2086
    mc $args > "$W/usage.out" 2>&1; rc=$?
    expect_eq "$rc" 64 "mailcert $args is a usage error"
done

mc issue > "$W/issue1.out" 2>&1 || fail "first issue: $(cat "$W/issue1.out")"
acct_dir=$(dirname "$(ls "$W"/store/accounts/*/key.pem)")
url1=$(jfield "$acct_dir/account.json" url)

# ---- display ----
mc account > "$W/show1.out" 2>&1; rc=$?
expect_eq "$rc" 0 "account shows the account"
t1=$(thumb "$acct_dir/key.pem")
grep -q "^account: *$url1\$" "$W/show1.out" && pass "account URL shown" || fail "URL: $(cat "$W/show1.out")"
grep -q "^status: *valid\$" "$W/show1.out" && pass "status valid (asked of the CA)" || fail "status: $(cat "$W/show1.out")"
grep -q "^contact: *mailto:postmaster@example.test\$" "$W/show1.out" && pass "contact shown" || fail "contact: $(cat "$W/show1.out")"
grep -q "^key: *ES256, JWK thumbprint (RFC 7638) $t1\$" "$W/show1.out" && pass "key type and thumbprint shown" ||
    fail "key line (want $t1): $(cat "$W/show1.out")"
grep -q "^files: *$acct_dir/key.pem" "$W/show1.out" && pass "files shown" || fail "files: $(cat "$W/show1.out")"
mc account --json > "$W/show1.json" 2>"$W/show1.err" || fail "account --json: $(cat "$W/show1.err")"
expect_eq "$(jfield "$W/show1.json" key_thumbprint)" "$t1" "--json: thumbprint"
expect_eq "$(jfield "$W/show1.json" status)" valid "--json: status"
expect_eq "$(jfield "$W/show1.json" account_url)" "$url1" "--json: account URL"

# ---- rollover ----
cp "$acct_dir/key.pem" "$W/old-key.pem"
mc account rollover > "$W/roll.out" 2>&1; rc=$?
expect_eq "$rc" 0 "rollover"
t2=$(thumb "$acct_dir/key.pem")
[ "$t2" != "$t1" ] && pass "the account key changed" || fail "key unchanged after rollover"
grep -q "new key ES256, JWK thumbprint $t2" "$W/roll.out" && pass "rollover names the new thumbprint" || fail "rollover out: $(cat "$W/roll.out")"
[ ! -e "$acct_dir/key.pem.old" ] && [ ! -e "$acct_dir/key.pem.next" ] && pass "no key.pem.old or .next left" ||
    fail "left over: $(ls "$acct_dir")"
expect_eq "$(file_mode "$acct_dir/key.pem")" 600 "new account key mode"
mc account --json > "$W/show2.json" 2>&1 || fail "account after rollover: $(cat "$W/show2.json")"
expect_eq "$(jfield "$W/show2.json" key_thumbprint)" "$t2" "the CA knows the account by the new key"
expect_eq "$(jfield "$W/show2.json" account_url)" "$url1" "same account URL"
s1=$(serial_of "$conf")
mc issue --force > "$W/issue2.out" 2>&1; rc=$?
expect_eq "$rc" 0 "issue with the new key"
s2=$(serial_of "$conf")
[ "$s2" != "$s1" ] && pass "a new certificate with the new key" || fail "serial unchanged ($s1)"
expect_eq "$(jfield "$acct_dir/account.json" url)" "$url1" "issued by the same account"
# the old key: the CA knows no account by it any more
mkdir -p "$W/old/store/accounts/$(basename "$acct_dir")"
cp "$W/old-key.pem" "$W/old/store/accounts/$(basename "$acct_dir")/key.pem"
sed "s|$W/store|$W/old/store|" "$conf" > "$W/old.conf"
"$MAILCERT" -c "$W/old.conf" account > "$W/oldkey.out" 2>&1; rc=$?
expect_eq "$rc" 1 "a request signed with the old key"
grep -q "accountDoesNotExist" "$W/oldkey.out" && pass "is refused by the CA (no account for that key)" ||
    fail "old key: $(cat "$W/oldkey.out")"

# ---- a local switch that fails after the CA took the new key (test build only) ----
if [ "$MAILCERT_TEST_HOOKS_BUILT" = yes ]; then
    cp "$acct_dir/key.pem" "$W/key2.pem"
    MAILCERT_TEST_FAIL_KEY_SWITCH=1 mc account rollover > "$W/fail.out" 2>&1; rc=$?
    expect_eq "$rc" 1 "rollover whose local switch fails"
    grep -q "the CA accepted the new account key, but it could not be made the account key.*as root, run: mv $acct_dir/key.pem.next $acct_dir/key.pem" "$W/fail.out" &&
        pass "it says exactly what to do" || fail "message: $(cat "$W/fail.out")"
    cmp -s "$W/key2.pem" "$acct_dir/key.pem" && pass "key.pem untouched" || fail "key.pem changed"
    [ -s "$acct_dir/key.pem.next" ] && pass "the new key is in key.pem.next" || fail "no key.pem.next"
    mc account > "$W/fail-show.out" 2>&1; rc=$?
    expect_eq "$rc" 1 "the previous key is refused by the CA now"
    mc account rollover > "$W/fail-again.out" 2>&1; rc=$?
    expect_eq "$rc" 1 "no new rollover over a left key.pem.next"
    grep -q "key.pem.next is left from a key change that did not finish" "$W/fail-again.out" &&
        pass "it says why" || fail "second rollover: $(cat "$W/fail-again.out")"
    mv "$acct_dir/key.pem.next" "$acct_dir/key.pem"
    mc account --json > "$W/fixed.json" 2>&1 || fail "after the operator's mv: $(cat "$W/fixed.json")"
    expect_eq "$(jfield "$W/fixed.json" key_thumbprint)" "$(thumb "$acct_dir/key.pem")" "after the mv the account works with that key"
    rm -f "$acct_dir/key.pem.old"
fi

# ---- deactivation ----
mc account deactivate < /dev/null > "$W/deact0.out" 2>&1; rc=$?
expect_eq "$rc" 64 "deactivate without --yes and no terminal"
grep -q "refusing without --yes when standard input is not a terminal" "$W/deact0.out" && pass "it says why" ||
    fail "deactivate message: $(cat "$W/deact0.out")"
mc account --json > "$W/still.json" 2>&1
expect_eq "$(jfield "$W/still.json" status)" valid "account still valid"
mc account deactivate --yes > "$W/deact.out" 2>&1; rc=$?
expect_eq "$rc" 0 "deactivate --yes"
grep -q "account $url1 deactivated" "$W/deact.out" && pass "deactivation reported" || fail "deactivate: $(cat "$W/deact.out")"
expect_eq "$(jfield "$acct_dir/account.json" status)" deactivated "local record says deactivated"
mc account > "$W/deact-show.out" 2>&1; rc=$?
expect_eq "$rc" 0 "account after deactivation"
grep -q "^status: *deactivated (local record, since .*; the CA is not asked)" "$W/deact-show.out" &&
    pass "shown as deactivated (local record)" || fail "show: $(cat "$W/deact-show.out")"
mc issue --force > "$W/issue3.out" 2>&1; rc=$?
expect_eq "$rc" 1 "issue with a deactivated account fails"
grep -q "was deactivated (mailcert account deactivate).*rm -r $acct_dir" "$W/issue3.out" &&
    pass "and says how to get a new account" || fail "issue: $(cat "$W/issue3.out")"
mc account rollover > "$W/roll3.out" 2>&1; rc=$?
expect_eq "$rc" 1 "no rollover of a deactivated account"
# the CA itself refuses the key (the local record moved aside)
mv "$acct_dir/account.json" "$W/account.json.saved"
mc account > "$W/ca-deact.out" 2>&1; rc=$?
expect_eq "$rc" 1 "the CA refuses the deactivated account's key"
grep -qi "deactivated\|unauthorized" "$W/ca-deact.out" && pass "with the CA's reason" || fail "CA: $(cat "$W/ca-deact.out")"
mv "$W/account.json.saved" "$acct_dir/account.json"
# the way out the message gave
rm -r "$acct_dir"
mc issue --force > "$W/issue4.out" 2>&1; rc=$?
expect_eq "$rc" 0 "issue after removing the deactivated account"
url2=$(jfield "$acct_dir/account.json" url)
[ -n "$url2" ] && [ "$url2" != "$url1" ] && pass "a new account was registered ($url2)" || fail "account URL $url2"

# ---- key changes Pebble always takes: the scripted fake CA refuses one, loses the answer to another ----
fakeca_start "$W/fake" good >/dev/null
fconf=$W/fake.conf
sed -e "s|$W/store|$W/fstore|" "$conf" > "$fconf"
sed -i -e "s|directory = \".*\"|directory = \"$FAKECA_DIR_URL\"|" -e "s|ca_bundle = \".*\"|ca_bundle = \"$FAKECA_API_CA\"|" \
    -e 's|^resolver = .*||' -e 's|names = { *}|names = { } self_check = false|' "$fconf"
"$MAILCERT" -c "$fconf" issue > "$W/fissue.out" 2>&1 || fail "issue against the fake CA: $(cat "$W/fissue.out")"
fdir=$(dirname "$(ls "$W"/fstore/accounts/*/key.pem)")
cp "$fdir/key.pem" "$W/fkey.pem"
echo refuse > "$FAKECA_WORKDIR/key-change"
"$MAILCERT" -c "$fconf" account rollover > "$W/frefuse.out" 2>&1; rc=$?
expect_eq "$rc" 1 "a key change the CA refuses"
grep -q "conflict: the fake CA refuses this key change; the account key is unchanged" "$W/frefuse.out" &&
    pass "says the CA refused and nothing changed" || fail "refused: $(cat "$W/frefuse.out")"
cmp -s "$W/fkey.pem" "$fdir/key.pem" && [ ! -e "$fdir/key.pem.next" ] && [ ! -e "$fdir/key.pem.old" ] &&
    pass "the old key stays, no other key file" || fail "after refusal: $(ls "$fdir")"
echo lost > "$FAKECA_WORKDIR/key-change"
"$MAILCERT" -c "$fconf" account rollover > "$W/flost.out" 2>&1; rc=$?
expect_eq "$rc" 1 "a key change whose answer is lost"
grep -q "whether the CA kept the old key could not be confirmed .*the new key stays in $fdir/key.pem.next; if mailcert account fails, the CA took it: as root, mv $fdir/key.pem.next $fdir/key.pem" "$W/flost.out" &&
    pass "the new key is kept and the way to finish is said" || fail "lost: $(cat "$W/flost.out")"
cmp -s "$W/fkey.pem" "$fdir/key.pem" && [ -s "$fdir/key.pem.next" ] && pass "key.pem unchanged, key.pem.next kept" ||
    fail "after a lost answer: $(ls "$fdir")"

finish
