#!/bin/bash
# A failure on a host that still has a valid certificate does not keep monitoring red
# forever (against a real Pebble):
#  - `check` warns when agree_tos = false while ACME hosts are configured;
#  - a forced issue with agree_tos = false fails and status exits 1;
#  - `retry` on a host in error tries again (it used to refuse: "certificate is valid");
#  - once the configuration is fixed, status exits 0 at once (the failure is shown as
#    stale), and the next `renew` forgets the failure without placing an order;
#  - `retry` on a host not in error with a valid certificate orders nothing.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
conf=$W/mailcert.conf
H=mail.example.test
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" "$H"
jh() { python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["hosts"][0]; v=h[sys.argv[2]]; print("null" if v is None else v)' "$@"; }

"$MAILCERT" -c "$conf" issue >"$W/i1" 2>&1; rc=$?
expect_eq "$rc" 0 "first issue succeeds"
serial=$(leaf_serial "$W/store" "$H")

# agree_tos off: check warns (and still accepts the file), a forced issue fails
sed -i 's/agree_tos = true/agree_tos = false/' "$conf"
"$MAILCERT" -c "$conf" check >"$W/c1" 2>"$W/c1.err"; rc=$?
expect_eq "$rc" 0 "check accepts agree_tos = false"
grep -q "warning: acme.agree_tos is false: no certificate can be ordered for the 1 host(s).*$H" "$W/c1.err" &&
    pass "check warns about agree_tos = false" || fail "no warning: $(cat "$W/c1" "$W/c1.err")"
"$MAILCERT" -c "$conf" issue --force "$H" >"$W/i2" 2>&1; rc=$?
expect_eq "$rc" 1 "forced issue with agree_tos = false fails"
"$MAILCERT" -c "$conf" status --json >"$W/s2"; rc=$?
expect_eq "$rc" 1 "status exits 1 with the host in error"
expect_eq "$(jh "$W/s2" consecutive_failures)" 1 "one failure recorded"

# retry tries again for a host in error, even with a valid certificate
"$MAILCERT" -c "$conf" retry "$H" >"$W/r1" 2>&1; rc=$?
expect_eq "$rc" 1 "retry of a host in error tries (and fails again: config not fixed)"
"$MAILCERT" -c "$conf" status --json >"$W/s3"
expect_eq "$(jh "$W/s3" consecutive_failures)" 2 "retry made a new attempt"
grep -q "nothing to retry" "$W/r1" && fail "retry refused a host in error: $(cat "$W/r1")"

# the configuration fixed: status is clean at once, no order needed
sed -i 's/agree_tos = false/agree_tos = true/' "$conf"
"$MAILCERT" -c "$conf" status --json >"$W/s4"; rc=$?
expect_eq "$rc" 0 "after the fix, status exits 0 without any run"
expect_eq "$(jh "$W/s4" failure_stale)" True "status --json marks the failure stale"
"$MAILCERT" -c "$conf" status >"$W/t4"; rc=$?
grep -q "^$H .* ok (the failure at .* happened under an earlier configuration)" "$W/t4" &&
    pass "the table says the failure is from an earlier configuration" || fail "table: $(cat "$W/t4")"
"$MAILCERT" -c "$conf" renew >"$W/n1" 2>&1; rc=$?
expect_eq "$rc" 0 "renew after the fix succeeds"
"$MAILCERT" -c "$conf" status --json >"$W/s5"
expect_eq "$(jh "$W/s5" last_failure_error_message)" null "renew forgot the stale failure"
expect_eq "$(jh "$W/s5" consecutive_failures)" 0 "no failures counted"
expect_eq "$(leaf_serial "$W/store" "$H")" "$serial" "no order was placed to clear it (same certificate)"

# the same failure under the same configuration is not stale
sed -i 's/agree_tos = true/agree_tos = false/' "$conf"
"$MAILCERT" -c "$conf" issue --force "$H" >/dev/null 2>&1
"$MAILCERT" -c "$conf" renew >/dev/null 2>&1
"$MAILCERT" -c "$conf" status --json >"$W/s6"; rc=$?
expect_eq "$rc" 1 "an unchanged configuration keeps the failure"
expect_eq "$(jh "$W/s6" failure_stale)" False "not stale"
sed -i 's/agree_tos = false/agree_tos = true/' "$conf"
"$MAILCERT" -c "$conf" renew >/dev/null 2>&1

# retry of a host that is fine orders nothing
"$MAILCERT" -c "$conf" retry "$H" >"$W/r2" 2>&1; rc=$?
expect_eq "$rc" 0 "retry of a host not in error succeeds"
grep -q "nothing to retry" "$W/r2" && pass "retry says there is nothing to retry" || fail "retry said: $(cat "$W/r2")"
expect_eq "$(leaf_serial "$W/store" "$H")" "$serial" "retry of a valid host ordered nothing"
finish
