#!/bin/bash
# kill -9 of the daemon (`mailcert run -f`) at a random moment while it issues
# for 20 hosts against a real Pebble, started again each time, 10 times (each
# round gives every host a new extra name, so all 20 are due again):
#  - its pass ends with it (no process of the daemon is left: no orphaned pass
#    holds the store's run lock for the next start);
#  - the store holds only complete sets whose key matches the leaf and whose chain
#    verifies;
#  - started once more, the daemon completes every host, and once it is stopped
#    no temporary file is left anywhere in the store.
. "$(dirname "$0")/e2e.sh"
set -u
N=20
ROUNDS=10
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0
pebble_start "$W/pebble"
conf=$W/mailcert.conf
hosts=()
for i in $(seq 1 "$N"); do hosts+=("d$i.kill.example.test"); done
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" "${hosts[@]}"

mark=${MAILCERT_TEST_MARK:-run-kill.$$}
export MAILCERT_TEST_MARK=$mark
kills=0
for r in $(seq 1 "$ROUNDS"); do
    # every host due: a name it does not have yet
    specs=()
    for h in "${hosts[@]}"; do specs+=("$h:$h,r$r.$h"); done
    e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" "${specs[@]}"
    delay=$(python3 -c "import random; print('%.3f' % random.uniform(0.05, 0.8))")
    "$MAILCERT" -c "$conf" run -f -j 4 > "$W/out$r" 2>&1 &
    dpid=$!
    sleep "$delay"
    pass_pid=$(ps -o pid= --ppid "$dpid" | head -1 | tr -d ' ')
    if kill -9 "$dpid" 2>/dev/null; then
        kills=$((kills + 1))
        log "round $r: killed the daemon after $delay s (its pass: ${pass_pid:-none})"
    fi
    wait "$dpid" 2>/dev/null
    deadline=$((SECONDS + 60))
    while [ -n "$(test_procs)" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    left=$(test_procs)
    expect_eq "$left" "" "round $r: no process of the daemon is left"
    [ -z "$left" ] || kill -9 $left 2>/dev/null
    pebble_root_refresh
    check_store "round $r" 0
done
expect_eq "$kills" "$ROUNDS" "the daemon was killed in every round"

# started again, it completes every host, with the last round's names
"$MAILCERT" -c "$conf" run -f -j 4 > "$W/out-last" 2>&1 &
dpid=$!
all_valid() {
    local h now
    now=$(date +%s)
    "$MAILCERT" -c "$conf" status --json > "$W/st.json" 2>/dev/null
    python3 - "$W/st.json" "$now" <<'EOP'
import datetime, json, sys
now = int(sys.argv[2])
def t(s): return int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp())
hosts = json.load(open(sys.argv[1]))["hosts"]
ok = all(h["has_cert"] and h["cert_expiration_time"] and t(h["cert_expiration_time"]) > now + 20
         and any(n.startswith("r10.") for n in h["names"]) for h in hosts)
sys.exit(0 if ok and len(hosts) == 20 else 1)
EOP
}
deadline=$((SECONDS + 180))
until all_valid || [ "$SECONDS" -ge "$deadline" ]; do sleep 1; done
all_valid && pass "the daemon, started again, has a valid certificate for all $N hosts" ||
    fail "not every host valid: $("$MAILCERT" -c "$conf" status 2>&1 | tail -5)"
kill -TERM "$dpid"
rc=0; wait "$dpid" || rc=$?
expect_eq "$rc" 0 "the daemon stops with exit 0"
pebble_root_refresh
check_store "after the restart" 1
finish
