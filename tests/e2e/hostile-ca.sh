#!/bin/bash
# A CA that answers badly never gets anything installed, and an existing set is left
# byte-for-byte untouched. Uses the scripted fake CA for answers Pebble cannot give,
# after proving with mode "good" that the fake is usable at all.
. "$(dirname "$0")/e2e.sh"
# shellcheck source=tests/lib/fakeca.sh
. "$TOP_SRCDIR/tests/lib/fakeca.sh"
set -u
e2e_workdir
conf=$W/mailcert.conf
HOST=mail.example.test
port=$(freeport)

# run_mode MODE: start the fake in MODE, issue --force, stop the fake; sets rc.
# (Not in a $(...) subshell: the fake's clean-up handler must stay registered.)
run_mode() {
    fakeca_start "$W/fake-$1" "$1" >/dev/null
    e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$HOST:smtp.example.test"
    "$MAILCERT" -c "$conf" issue --force > "$W/out-$1" 2>&1
    rc=$?
    fakeca_stop
}
ACCT_OR_ORDER='^/new-account$|^/new-order$'

run_mode good
# the pattern used below for "no account or order request" does match them here
n=$(fakeca_requests "$ACCT_OR_ORDER" | wc -l)
[ "$n" -ge 2 ] && pass "good: account and order requests are seen in the fake's log ($n)" ||
    fail "good: account/order requests not found in the fake's log ($n)"
expect_eq "$rc" 0 "good: a correct answer is installed"
check_set "$W/store" "$HOST" "$W/fake-good/ca/root.pem" "$HOST" smtp.example.test
before=$(set_digest "$W/store" "$HOST")

for mode in wrongkey wrongnames expired notyetvalid badchain badchain-samename garbage problem hugebody; do
    run_mode "$mode"
    expect_eq "$rc" 1 "$mode: issue fails"
    expect_eq "$(set_digest "$W/store" "$HOST")" "$before" "$mode: installed set untouched"
    msg=$(grep "$HOST" "$W/out-$mode" | tail -1)
    case "$mode" in
        wrongkey) want="key does not match" ;;
        wrongnames) want="does not cover" ;;
        expired|notyetvalid) want="not valid now" ;;
        badchain|badchain-samename) want="chain does not link" ;;
        garbage) want="no PEM certificate" ;;
        problem) want="urn:ietf:params:acme:error:rejectedIdentifier: fake CA refuses" ;;
        hugebody) want="larger than" ;;
    esac
    case "$msg" in *"$want"*) pass "$mode: error says why ($want)" ;; *) fail "$mode: error '$msg' lacks '$want'" ;; esac
    # the failure is recorded for status, and status reports the error
    "$MAILCERT" -c "$conf" status --json > "$W/st-$mode.json"; src=$?
    expect_eq "$src" 1 "$mode: status exits 1 while the host is in error"
    python3 - "$W/st-$mode.json" "$want" "$(leaf_serial "$W/store" "$HOST")" <<'EOP' && pass "$mode: status --json shows the error, a retry time and the installed serial" || fail "$mode: status json"
import json, sys
h = json.load(open(sys.argv[1]))["hosts"][0]
assert sys.argv[2] in h["last_failure_error_message"], h
assert h["last_failure_time"] and h["next_retry_time"] and h["has_cert"] is True
# the state still describes the set that is installed, not the refused one
assert h["serial"] == sys.argv[3], (h["serial"], sys.argv[3])
assert h["consecutive_failures"] >= 1
EOP
done
# a slow CA (pending, processing, Retry-After: 1): the client waits as told and succeeds
fakeca_start "$W/fake-slow" slow >/dev/null
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$HOST:smtp.example.test"
"$MAILCERT" -c "$conf" issue --force > "$W/out-slow" 2>&1; rc=$?
expect_eq "$rc" 0 "slow: issuance completes after polling"
python3 - "$W/fake-slow/requests.log" <<'EOP' && pass "slow: polls honour Retry-After (>= 0.9 s apart)" || fail "slow: polls too fast or missing"
import json, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["method"] == "POST" and (r["path"].startswith("/authz/") or r["path"].startswith("/order/")):
        t[r["path"]].append(r["t"])
polled = [p for p in t if len(t[p]) >= 3]
assert polled, t
for p in polled:
    # after the first fetch (before the challenge is answered), every poll waited
    gaps = [b - a for a, b in zip(t[p][1:], t[p][2:])]
    assert gaps and min(gaps) >= 0.9, (p, gaps)
EOP
fakeca_stop
before=$(set_digest "$W/store" "$HOST")

# no stray version directories from refused sets
nver=$(find "$W/store/versions/$HOST" -mindepth 1 -maxdepth 1 -type d | wc -l)
expect_eq "$nver" 2 "refused sets left no version directory behind (good + slow kept)"

# the CA unreachable: a clear message, the set untouched
fakeca_start "$W/fake-down" good >/dev/null
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$HOST:smtp.example.test"
fakeca_stop
"$MAILCERT" -c "$conf" issue --force > "$W/out-down" 2>&1; rc=$?
expect_eq "$rc" 1 "unreachable CA: issue fails"
grep -q "Could not connect\|Connection refused\|Failed to connect" "$W/out-down" && pass "unreachable CA: message says so" || fail "unreachable CA message: $(cat "$W/out-down")"
expect_eq "$(set_digest "$W/store" "$HOST")" "$before" "unreachable CA: installed set untouched"

# the CA answers 503 now and then: asked again after its Retry-After, the order goes through
fakeca_start "$W/fake-5xx" good >/dev/null
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$HOST:smtp.example.test"
echo 2 > "$FAKECA_WORKDIR/server-error"
"$MAILCERT" -c "$conf" issue --force > "$W/out-5xx" 2>&1; rc=$?
expect_eq "$rc" 0 "two 503 answers in a row: asked again, issued: $(tail -1 "$W/out-5xx")"
expect_eq "$(grep -c 'the CA answered HTTP 503.*asking again' "$W/out-5xx")" 2 "each 503 was asked again, after saying so"
n503=$(fakeca_requests . | python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l).get("status") == 503))')
expect_eq "$n503" 2 "the fake answered 503 twice"
before=$(set_digest "$W/store" "$HOST")
# ... but a CA that keeps failing is not asked forever: the host fails, the set stays
echo 50 > "$FAKECA_WORKDIR/server-error"
"$MAILCERT" -c "$conf" issue --force > "$W/out-5xx-2" 2>&1; rc=$?
expect_eq "$rc" 1 "a CA that keeps answering 503: issue fails"
grep -q "$HOST: .*serverInternal.*overloaded" "$W/out-5xx-2" && pass "the failure carries the CA's problem" ||
    fail "503 failure message: $(tail -3 "$W/out-5xx-2")"
left=$(cat "$FAKECA_WORKDIR/server-error")
[ "$left" -ge 40 ] && pass "a few requests, not a loop ($((50 - left)) answered 503)" || fail "$((50 - left)) requests to a failing CA"
expect_eq "$(set_digest "$W/store" "$HOST")" "$before" "a failing CA: installed set untouched"
fakeca_stop

# agree_tos = false refuses before any order
fakeca_start "$W/fake-tos" good >/dev/null
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$HOST:smtp.example.test"
sed -i 's/agree_tos = true/agree_tos = false/' "$conf"
"$MAILCERT" -c "$conf" issue --force > "$W/out-tos" 2>&1; rc=$?
expect_eq "$rc" 1 "agree_tos = false: issue fails"
grep -q "agree_tos" "$W/out-tos" && pass "agree_tos = false: message names the setting" || fail "tos message: $(cat "$W/out-tos")"
n=$(fakeca_requests "$ACCT_OR_ORDER" | wc -l)
expect_eq "$n" 0 "agree_tos = false: no account or order request reached the CA"
fakeca_stop
finish
