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

# run_mode MODE: start the fake in MODE, issue --force, print the exit status
run_mode() {
    fakeca_start "$W/fake-$1" "$1" >/dev/null
    e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$HOST:smtp.example.test"
    "$MAILCERT" -c "$conf" issue --force > "$W/out-$1" 2>&1
    echo $?
    fakeca_stop
}

rc=$(run_mode good)
expect_eq "$rc" 0 "good: a correct answer is installed"
check_set "$W/store" "$HOST" "$W/fake-good/ca/root.pem" "$HOST" smtp.example.test
before=$(set_digest "$W/store" "$HOST")

for mode in wrongkey wrongnames expired notyetvalid badchain badchain-samename garbage problem hugebody; do
    rc=$(run_mode "$mode")
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
    python3 - "$W/st-$mode.json" "$want" <<'EOP' && pass "$mode: status --json shows the error and a retry time" || fail "$mode: status json"
import json, sys
h = json.load(open(sys.argv[1]))["hosts"][0]
assert sys.argv[2] in h["last_failure_error_message"], h
assert h["last_failure_time"] and h["next_retry_time"] and h["has_cert"] is True
EOP
done
# no stray version directories from refused sets
nver=$(find "$W/store/versions/$HOST" -mindepth 1 -maxdepth 1 -type d | wc -l)
expect_eq "$nver" 1 "refused sets left no version directory behind"

# the CA unreachable: a clear message, the set untouched
fakeca_start "$W/fake-down" good >/dev/null
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$HOST:smtp.example.test"
fakeca_stop
"$MAILCERT" -c "$conf" issue --force > "$W/out-down" 2>&1; rc=$?
expect_eq "$rc" 1 "unreachable CA: issue fails"
grep -q "Could not connect\|Connection refused\|Failed to connect" "$W/out-down" && pass "unreachable CA: message says so" || fail "unreachable CA message: $(cat "$W/out-down")"
expect_eq "$(set_digest "$W/store" "$HOST")" "$before" "unreachable CA: installed set untouched"

# agree_tos = false refuses before any order
fakeca_start "$W/fake-tos" good >/dev/null
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$HOST:smtp.example.test"
sed -i 's/agree_tos = true/agree_tos = false/' "$conf"
"$MAILCERT" -c "$conf" issue --force > "$W/out-tos" 2>&1; rc=$?
expect_eq "$rc" 1 "agree_tos = false: issue fails"
grep -q "agree_tos" "$W/out-tos" && pass "agree_tos = false: message names the setting" || fail "tos message: $(cat "$W/out-tos")"
n=$(fakeca_requests 'new-?[Aa]cct|new-?[Oo]rder|newAccount|newOrder' | wc -l)
expect_eq "$n" 0 "agree_tos = false: no account or order request reached the CA"
fakeca_stop
finish
