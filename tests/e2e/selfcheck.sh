#!/bin/bash
# Self-checks before every order, and the validation budget, against a real Pebble
# whose DNS is pebble-challtestsrv (every name is 127.0.0.1 unless the test says
# otherwise through its management API):
#  - a name that resolves elsewhere, a name that does not resolve, an http-01 or
#    tls-alpn-01 responder the public port does not reach, CAA records that forbid
#    the CA: each fails with its own "Self-check failed:" message, status shows it,
#    and no order reaches the CA (Pebble's log; the fake CA's requests.log for CAA,
#    since Pebble publishes no caaIdentities and the fake CA does);
#  - self_check = false lets the order go;
#  - 3 validations the CA failed within the hour, then the 4th attempt is refused
#    locally, saying when it may try again; an hour later the CA is asked again.
. "$(dirname "$0")/e2e.sh"
. "$TOP_SRCDIR/tests/lib/fakeca.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0
pebble_start "$W/pebble"
conf=$W/mailcert.conf

cts() { curl -sSf --max-time 10 -d "$2" "$CHALLTESTSRV_URL/$1" >/dev/null || fail "challtestsrv $1 $2"; }
# how many orders Pebble has made so far (it logs each one it adds)
orders() { grep -c 'Added order' "$W/pebble/pebble.log"; }
# mailcert issue HOST... with conf; OUT gets the output, RC the exit status
run_issue() {
    local out=$1
    shift
    RC=0
    "$MAILCERT" -c "$conf" issue "$@" >"$out" 2>&1 || RC=$?
}
status_error() {
    "$MAILCERT" -c "$conf" status --json "$1" 2>/dev/null |
        python3 -c 'import json,sys; d=json.load(sys.stdin); h=d["hosts"][0] if isinstance(d, dict) and "hosts" in d else (d[0] if isinstance(d, list) else d); print(h.get("last_failure_error_message") or "")'
}

e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" \
    ok.example.test far.example.test nowhere.example.test semi.example.test:semi2.example.test \
    port.example.test budget.example.test nocheck.example.test caa-none.example.test
"$MAILCERT" -c "$conf" check >/dev/null || fail "config check"

# --- a baseline: the self-checks pass for a name that reaches us, the order goes ---
n0=$(orders)
RC=0
"$MAILCERT" -v -c "$conf" issue ok.example.test >"$W/ok.out" 2>&1 || RC=$?
expect_eq "$RC" 0 "ok.example.test issued: $(tail -1 "$W/ok.out")"
grep -q "ok.example.test: self-check: 1 address(es) answer with the http-01 probe" "$W/ok.out" &&
    pass "the http-01 probe was fetched back through the public port" ||
    fail "no probe seen: $(grep -i self-check "$W/ok.out")"
[ "$(orders)" -gt "$n0" ] && pass "its order reached Pebble" || fail "no order at Pebble for ok.example.test"

# --- the name resolves elsewhere (127.0.0.2: nothing of ours listens there) ---
cts add-a '{"host":"far.example.test.","addresses":["127.0.0.2"]}'
n0=$(orders)
run_issue "$W/far.out" far.example.test
expect_eq "$RC" 1 "far.example.test fails"
grep -q "far.example.test: Self-check failed: far.example.test resolves to 127.0.0.2 at $PEBBLE_DNS, but the http-01 probe http://far.example.test:$PEBBLE_HTTP_PORT/.well-known/acme-challenge/.* could not be fetched there" "$W/far.out" &&
    pass "resolving elsewhere: says where the name points and that the probe did not come back" ||
    fail "resolving elsewhere: $(cat "$W/far.out")"
expect_eq "$(orders)" "$n0" "resolving elsewhere: no order reached Pebble"
case $(status_error far.example.test) in
    "Self-check failed: far.example.test resolves to 127.0.0.2"*) pass "status shows the self-check failure" ;;
    *) fail "status: $(status_error far.example.test)" ;;
esac

# --- the name does not resolve at all (challtestsrv without its default address) ---
cts set-default-ipv4 '{"ip":""}'
n0=$(orders)
run_issue "$W/nowhere.out" nowhere.example.test
cts set-default-ipv4 '{"ip":"127.0.0.1"}'
expect_eq "$RC" 1 "nowhere.example.test fails"
grep -q "nowhere.example.test: Self-check failed: nowhere.example.test does not resolve at $PEBBLE_DNS (no A or AAAA record)" "$W/nowhere.out" &&
    pass "no address: its own message" || fail "no address: $(cat "$W/nowhere.out")"
expect_eq "$(orders)" "$n0" "no address: no order reached Pebble"

# --- every name of a host is checked: the second one resolves elsewhere ---
cts add-a '{"host":"semi2.example.test.","addresses":["127.0.0.2"]}'
n0=$(orders)
run_issue "$W/semi.out" semi.example.test
expect_eq "$RC" 1 "semi.example.test fails on its second name"
grep -q "Self-check failed: semi2.example.test resolves to 127.0.0.2" "$W/semi.out" &&
    pass "the failing name is the one named" || fail "second name: $(cat "$W/semi.out")"
expect_eq "$(orders)" "$n0" "second name: no order reached Pebble"

# --- the responder is not reached through the public port ---
noport=$(freeport)
cp "$conf" "$W/port.conf"
echo "http01 { public_port = $noport }" >>"$W/port.conf"
n0=$(orders)
RC=0
"$MAILCERT" -c "$W/port.conf" issue port.example.test >"$W/port.out" 2>&1 || RC=$?
expect_eq "$RC" 1 "port.example.test fails with public_port where nothing listens"
grep -q "Self-check failed: port.example.test resolves to 127.0.0.1 at $PEBBLE_DNS, but the http-01 probe http://port.example.test:$noport/.well-known/acme-challenge/.* could not be fetched there (.*): the CA would fail the same way. Make port.example.test point to this server and port $noport reach mailcert's http-01 responder" "$W/port.out" &&
    pass "unreachable responder: names the port to fix" || fail "unreachable responder: $(cat "$W/port.out")"
expect_eq "$(orders)" "$n0" "unreachable responder: no order reached Pebble"
expect_standin "$W/store" port.example.test

# --- tls-alpn-01: the handshake through tlsalpn01.public_port ---
alpnport=$(freeport)
cp "$conf" "$W/alpn.conf"
echo 'host "alpn.example.test" { challenge = "tls-alpn-01" }' >>"$W/alpn.conf"
echo "tlsalpn01 { listen = { \"127.0.0.1:$alpnport\" } }" >>"$W/alpn.conf"
n0=$(orders)
RC=0
"$MAILCERT" -c "$W/alpn.conf" issue alpn.example.test >"$W/alpn.out" 2>&1 || RC=$?
expect_eq "$RC" 1 "alpn.example.test fails: its responder listens where the public port does not lead"
grep -q "Self-check failed: alpn.example.test resolves to 127.0.0.1 at $PEBBLE_DNS, but nothing answers on port $PEBBLE_TLS_PORT there (connect: Connection refused)" "$W/alpn.out" &&
    pass "tls-alpn-01: its own message, naming the public port" || fail "tls-alpn-01: $(cat "$W/alpn.out")"
expect_eq "$(orders)" "$n0" "tls-alpn-01: no order reached Pebble"

# --- CAA that forbids every CA (Pebble publishes no caaIdentities: only this can be judged) ---
cts add-caa '{"host":"example.test.","policies":[{"tag":"issue","value":";"}]}'
n0=$(orders)
run_issue "$W/caa-none.out" caa-none.example.test
expect_eq "$RC" 1 "caa-none.example.test fails: CAA at its parent forbids every CA"
grep -q "Self-check failed: caa-none.example.test: the CAA records at example.test forbid every CA to issue for it" "$W/caa-none.out" &&
    pass "CAA at a parent that forbids all: its own message" || fail "CAA ';': $(cat "$W/caa-none.out")"
expect_eq "$(orders)" "$n0" "CAA forbids: no order reached Pebble"
cts clear-caa '{"host":"example.test."}'

# --- self_check = false: the order goes, and the CA fails the validation ---
cts add-a '{"host":"nocheck.example.test.","addresses":["127.0.0.2"]}'
sed -i 's|^host "nocheck.example.test" { names = {  } }|host "nocheck.example.test" { self_check = false }|' "$conf"
grep -q 'host "nocheck.example.test" { self_check = false }' "$conf" || fail "test config: self_check not set"
n0=$(orders)
run_issue "$W/nocheck.out" nocheck.example.test
expect_eq "$RC" 1 "nocheck.example.test fails at the CA"
grep -q "Self-check failed" "$W/nocheck.out" && fail "self_check = false still ran the self-checks: $(cat "$W/nocheck.out")" ||
    pass "self_check = false: no self-check"
[ "$(orders)" -gt "$n0" ] && pass "self_check = false: the order reached Pebble" || fail "no order at Pebble with self_check = false"
grep -q "nocheck.example.test: .*http-01 validation failed" "$W/nocheck.out" &&
    pass "Pebble failed the validation" || fail "no validation failure: $(cat "$W/nocheck.out")"

# --- the validation budget: 3 failed validations in an hour, then a local refusal ---
cts add-a '{"host":"budget.example.test.","addresses":["127.0.0.2"]}'
sed -i 's|^host "budget.example.test" { names = {  } }|host "budget.example.test" { self_check = false }|' "$conf"
for i in 1 2 3; do
    run_issue "$W/budget$i.out" budget.example.test
    grep -q "budget.example.test: .*http-01 validation failed" "$W/budget$i.out" &&
        pass "budget: attempt $i reached Pebble and failed its validation" ||
        fail "budget: attempt $i: $(cat "$W/budget$i.out")"
done
nvf=$(python3 -c 'import json,sys; print(len([v for v in json.load(open(sys.argv[1]))["failed_validations"] if v["name"] == "budget.example.test"]))' \
    "$W/store/certs/budget.example.test/state.json")
expect_eq "$nvf" 3 "state.json counts 3 failed validations for budget.example.test"
n0=$(orders)
run_issue "$W/budget4.out" budget.example.test
expect_eq "$RC" 1 "budget: the 4th attempt fails"
grep -q "budget.example.test: Validation budget spent: the CA failed the validation of budget.example.test 3 times in the last hour; mailcert does not ask the CA again for it before 20[0-9-]*T[0-9:]*Z" "$W/budget4.out" &&
    pass "budget: refused locally, saying when it may try again" || fail "budget: $(cat "$W/budget4.out")"
expect_eq "$(orders)" "$n0" "budget: no order reached Pebble"
case $(status_error budget.example.test) in
    "Validation budget spent"*) pass "status shows the refusal" ;;
    *) fail "status: $(status_error budget.example.test)" ;;
esac
# the budget is per name: another host in the same run is ordered
RC=0
"$MAILCERT" -c "$conf" issue --force budget.example.test ok.example.test >"$W/budget-other.out" 2>&1 || RC=$?
grep -q "budget.example.test: Validation budget spent" "$W/budget-other.out" &&
    grep -q "ok.example.test: certificate installed" "$W/budget-other.out" &&
    pass "budget: one name refused, another host in the same run issued" ||
    fail "budget and another host: $(cat "$W/budget-other.out")"
# the cause is fixed: the name now reaches the responder
cts clear-a '{"host":"budget.example.test."}'
# an hour after the first failure the budget is free again and the CA is asked
# (mailcert's clock moved with MAILCERT_NOW, which only a test-hooks build honours)
if [ "${MAILCERT_TEST_HOOKS_BUILT:-yes}" = yes ]; then
    first=$(python3 -c 'import json,sys,datetime; t=min(v["time"] for v in json.load(open(sys.argv[1]))["failed_validations"]); print(int(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' \
        "$W/store/certs/budget.example.test/state.json")
    n0=$(orders)
    RC=0
    MAILCERT_NOW=$((first + 3601)) "$MAILCERT" -c "$conf" issue budget.example.test >"$W/budget5.out" 2>&1 || RC=$?
    grep -q "Validation budget spent" "$W/budget5.out" && fail "budget still spent an hour later: $(cat "$W/budget5.out")" ||
        pass "budget: an hour after the first failure the name may be ordered again"
    [ "$(orders)" -gt "$n0" ] && pass "budget: then the order reaches Pebble" || fail "no order an hour later: $(cat "$W/budget5.out")"
    expect_eq "$RC" 0 "budget: with the cause fixed, that order is issued: $(tail -1 "$W/budget5.out")"
else
    log "not a test-hooks build: the end of the budget's hour is not checked"
fi

# --- CAA against a CA that says who it is: the fake CA (caaIdentities fakeca.invalid) ---
fakeca_start "$W/fake" good >/dev/null
fport=$(freeport)
e2e_config "$W/fake.conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$fport" \
    caa.example.test mail.sub.caa2.example.test caa-ok.example.test "*.wild.example.test"
sed -i 's/ self_check = false//' "$W/fake.conf"
sed -i 's|^host "\*.wild.example.test" { names = {  } }|host "*.wild.example.test" { challenge = "dns-01" }|' "$W/fake.conf"
{ echo "resolver = \"$PEBBLE_DNS\""
  echo "http01 { public_port = $fport }"
  echo "dns01 { hook = \"/bin/true\" resolver = \"\" }"; } >>"$W/fake.conf"
# the propagation check of dns-01 is the store process's and not part of this test:
# the wildcard's hook publishes nothing, so its resolver is a DNS server that has it all
grep -q 'challenge = "dns-01"' "$W/fake.conf" || fail "test config: wildcard not dns-01"
fake_orders() { fakeca_requests '^/new-order$' | wc -l; }
cts add-caa '{"host":"caa.example.test.","policies":[{"tag":"issue","value":"other-ca.example"}]}'
cts add-caa '{"host":"caa2.example.test.","policies":[{"tag":"issue","value":"other-ca.example; account=1"},{"tag":"iodef","value":"mailto:x@example.test"}]}'
cts add-caa '{"host":"caa-ok.example.test.","policies":[{"tag":"issue","value":"fakeca.invalid"}]}'
cts add-caa '{"host":"wild.example.test.","policies":[{"tag":"issue","value":"fakeca.invalid"},{"tag":"issuewild","value":"other-ca.example"}]}'
n0=$(fake_orders)
RC=0
"$MAILCERT" -c "$W/fake.conf" issue caa.example.test >"$W/caa.out" 2>&1 || RC=$?
expect_eq "$RC" 1 "caa.example.test fails: CAA names another CA"
grep -q 'Self-check failed: caa.example.test: the CAA records at caa.example.test let only "other-ca.example" issue for it, not this CA (its caaIdentities: "fakeca.invalid")' "$W/caa.out" &&
    pass "CAA forbids: says who may issue and who the CA is" || fail "CAA: $(cat "$W/caa.out")"
grep -q 'add caa.example.test. CAA 0 issue "fakeca.invalid"' "$W/caa.out" &&
    pass "CAA forbids: says what record to add" || fail "CAA fix: $(cat "$W/caa.out")"
RC=0
"$MAILCERT" -c "$W/fake.conf" issue mail.sub.caa2.example.test >"$W/caa2.out" 2>&1 || RC=$?
expect_eq "$RC" 1 "mail.sub.caa2.example.test fails: CAA two labels up names another CA"
grep -q 'Self-check failed: mail.sub.caa2.example.test: the CAA records at caa2.example.test let only "other-ca.example" issue' "$W/caa2.out" &&
    pass "CAA found at an ancestor is the one judged" || fail "CAA ancestor: $(cat "$W/caa2.out")"
RC=0
"$MAILCERT" -c "$W/fake.conf" issue "*.wild.example.test" >"$W/wild.out" 2>&1 || RC=$?
expect_eq "$RC" 1 "*.wild.example.test fails: issuewild names another CA"
grep -q 'Self-check failed: \*.wild.example.test: the CAA records at wild.example.test let only "other-ca.example" issue wildcard certificates' "$W/wild.out" &&
    pass "issuewild is what counts for a wildcard" || fail "issuewild: $(cat "$W/wild.out")"
expect_eq "$(fake_orders)" "$n0" "CAA forbids: no new-order reached the fake CA"
RC=0
"$MAILCERT" -c "$W/fake.conf" issue caa-ok.example.test >"$W/caa-ok.out" 2>&1 || RC=$?
expect_eq "$RC" 0 "caa-ok.example.test: CAA naming this CA lets the order go: $(tail -1 "$W/caa-ok.out")"
[ "$(fake_orders)" -gt "$n0" ] && pass "CAA allows: the order reached the fake CA" || fail "no order at the fake CA"

finish
