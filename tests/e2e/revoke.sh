#!/bin/bash
# mailcert revoke against a real Pebble: usage errors (64), a revocation per reason
# checked at Pebble's management interface (status and RFC 5280 reason code), the
# status table and JSON showing it, the next renew replacing only the revoked
# certificate, and keyCompromise recording the key's SPKI digest (computed here)
# in key_compromised, which the new key never matches.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
conf=$W/mailcert.conf
A=a.revoke.test
B=b.revoke.test
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" "$A" "$B"
printf 'host "ss.revoke.test" { source = "self-signed" }\n' >> "$conf"

mc() { "$MAILCERT" -c "$conf" "$@"; }
# field F of host H in status --json
hget() { "$MAILCERT" -c "$conf" status --json | python3 -c 'import json,sys
for h in json.load(sys.stdin)["hosts"]:
    if h["host"] == sys.argv[1]:
        v = h[sys.argv[2]]; print("null" if v is None else json.dumps(v) if isinstance(v, list) else v)' "$1" "$2"; }
# Pebble's view of serial $1: "STATUS REASON"
ca_status() {
    pebble_mgmt_get "/cert-status-by-serial/$1" | python3 -c 'import json,sys
d = json.load(sys.stdin); print(d.get("Status"), d.get("Reason"))'
}
spki() { openssl pkey -in "$1" -pubout -outform DER | sha256sum | cut -d" " -f1; }

# ---- usage errors ----
for args in "revoke" "revoke $A $B" "revoke $A --reason nonsense" "revoke nosuch.revoke.test" "revoke $A --bogus"; do
    # shellcheck disable=SC2086
    mc $args > "$W/usage.out" 2>&1; rc=$?
    expect_eq "$rc" 64 "mailcert $args is a usage error"
done
mc revoke "$A" --reason cACompromise > "$W/usage.out" 2>&1
grep -q 'unknown reason "cACompromise" (unspecified, keyCompromise, superseded, cessationOfOperation or affiliationChanged)' "$W/usage.out" &&
    pass "an unknown reason lists the known ones" || fail "reason message: $(cat "$W/usage.out")"
mc revoke "$A" > "$W/nocert.out" 2>&1; rc=$?
expect_eq "$rc" 1 "revoke before any certificate"
grep -q "$A has no certificate" "$W/nocert.out" && pass "says there is none" || fail "no cert: $(cat "$W/nocert.out")"

mc issue > "$W/issue1.out" 2>&1 || fail "issue: $(cat "$W/issue1.out")"
sa1=$(hget "$A" serial)
sb1=$(hget "$B" serial)
expect_eq "$(ca_status "$sa1")" "Valid None" "Pebble: $A's certificate valid before"

mc revoke ss.revoke.test > "$W/ss.out" 2>&1; rc=$?
expect_eq "$rc" 1 "a self-signed certificate is not revoked through ACME"
grep -q "source self-signed) was not issued through ACME" "$W/ss.out" && pass "says why" || fail "self-signed: $(cat "$W/ss.out")"

# ---- superseded ----
mc revoke "$A" --reason superseded > "$W/rev-a.out" 2>&1; rc=$?
expect_eq "$rc" 0 "revoke $A --reason superseded"
grep -q "^$A: certificate $sa1 revoked (superseded)" "$W/rev-a.out" && pass "revocation reported" || fail "out: $(cat "$W/rev-a.out")"
expect_eq "$(ca_status "$sa1")" "Revoked 4" "Pebble: revoked, reason superseded (4)"
expect_eq "$(ca_status "$sb1")" "Valid None" "Pebble: $B untouched"
expect_eq "$(hget "$A" revocation_reason)" superseded "status --json: revocation_reason"
[ "$(hget "$A" revoked_time)" != null ] && pass "status --json: revoked_time set" || fail "no revoked_time"
mc status > "$W/table.out"
grep -q "^$A .* revoked at .* (superseded); the next issue or renew replaces it" "$W/table.out" &&
    pass "status table shows the revocation" || fail "table: $(cat "$W/table.out")"
mc revoke "$A" > "$W/again.out" 2>&1; rc=$?
expect_eq "$rc" 1 "revoking it again"
grep -q "alreadyRevoked" "$W/again.out" && pass "the CA's alreadyRevoked is shown" || fail "again: $(cat "$W/again.out")"

# ---- the next renew replaces the revoked certificate only ----
mc renew > "$W/renew1.out" 2>&1; rc=$?
expect_eq "$rc" 0 "renew after the revocation"
sa2=$(hget "$A" serial)
[ "$sa2" != "$sa1" ] && pass "$A has a new certificate" || fail "$A serial unchanged"
expect_eq "$(hget "$B" serial)" "$sb1" "$B left alone"
expect_eq "$(hget "$A" revoked_time)" null "the new certificate is not marked revoked"
expect_eq "$(ca_status "$sa2")" "Valid None" "Pebble: the new one is valid"

# ---- keyCompromise ----
kb1=$(spki "$W/store/certs/$B/key.pem")
mc revoke "$B" --reason keyCompromise > "$W/rev-b.out" 2>&1; rc=$?
expect_eq "$rc" 0 "revoke $B --reason keyCompromise"
expect_eq "$(ca_status "$sb1")" "Revoked 1" "Pebble: revoked, reason keyCompromise (1)"
expect_eq "$(hget "$B" key_compromised)" "[\"$kb1\"]" "key_compromised holds the key's SPKI SHA-256"
grep -q "$kb1) is marked compromised and never used again for $B" "$W/rev-b.out" && pass "the output says so" ||
    fail "out: $(cat "$W/rev-b.out")"
mc renew > "$W/renew2.out" 2>&1; rc=$?
expect_eq "$rc" 0 "renew after the key compromise"
sb2=$(hget "$B" serial)
kb2=$(spki "$W/store/certs/$B/key.pem")
[ "$sb2" != "$sb1" ] && pass "$B has a new certificate" || fail "$B serial unchanged"
[ "$kb2" != "$kb1" ] && pass "with another key" || fail "the compromised key was reused"
expect_eq "$(hget "$B" key_compromised)" "[\"$kb1\"]" "the compromised key stays recorded"

# ---- no reason given: unspecified ----
mc revoke "$A" > "$W/rev-a2.out" 2>&1; rc=$?
expect_eq "$rc" 0 "revoke $A (no reason)"
# unspecified goes as no reason at all (RFC 5280 5.3.1: the code 0 should be left out)
expect_eq "$(ca_status "$sa2")" "Revoked None" "Pebble: revoked, no reason code (unspecified)"
expect_eq "$(hget "$A" revocation_reason)" unspecified "status --json: unspecified"

finish
