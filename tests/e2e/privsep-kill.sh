#!/bin/bash
# kill -9 of one of mailcert's processes (store, network or key, in turn) at a
# random moment while it issues for 20 hosts against a real Pebble, until 10 runs
# were killed mid-run (a round whose run ended before the kill is not counted: its
# length becomes the new range of the random moment; at most 30 rounds):
#  - the others exit by themselves (no process of the run is left), and when the
#    store process survives it exits 1 saying which process is gone;
#  - the store holds only complete sets whose key matches the leaf and whose chain
#    verifies (a host without a certificate has no key or chain file either);
#  - no temporary file is left (after a kill of the store process itself, the next
#    run removes what it left);
#  - the next run completes every host.
. "$(dirname "$0")/e2e.sh"
set -u
N=${PRIVSEP_KILL_HOSTS:-20}
ROUNDS=${PRIVSEP_KILL_ROUNDS:-10}
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0
pebble_start "$W/pebble"
conf=$W/mailcert.conf
hosts=()
for i in $(seq 1 "$N"); do hosts+=("h$i.kill.example.test"); done
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" "${hosts[@]}"

mark=${MAILCERT_TEST_MARK:-privsep-kill.$$}
export MAILCERT_TEST_MARK=$mark
child() { local p; for p in $(ps -o pid= --ppid "$1"); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && echo "$p"; done; }

# a first run: the account, and how long a run takes
t0=$(date +%s%N)
"$MAILCERT" -c "$conf" issue -j 4 > "$W/out0" 2>&1 || fail "first run: $(tail -3 "$W/out0")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "a run for $N hosts takes $ms ms"
pebble_root_refresh

victims=(network key store)
kills=0
r=0
while [ "$kills" -lt "$ROUNDS" ] && [ "$r" -lt $((ROUNDS * 3)) ]; do
    r=$((r + 1))
    victim=${victims[$((kills % 3))]}
    delay=$(python3 -c "import random; print('%.3f' % (random.uniform(0.05, max(0.1, $ms / 1000.0 * 0.9))))")
    t0=$(date +%s%N)
    "$MAILCERT" -c "$conf" issue --force -j 4 > "$W/out$r" 2>&1 &
    mpid=$!
    sleep "$delay"
    case $victim in
        store) pid=$mpid ;;
        network) pid=$(child "$mpid" mailcert-net) ;;
        key) pid=$(child "$mpid" mailcert-key) ;;
    esac
    if [ -n "$pid" ] && [ "$pid" -gt 1 ] && kill -9 "$pid" 2>/dev/null; then
        kills=$((kills + 1))
        log "round $r: killed the $victim process ($pid) after $delay s"
    else
        log "round $r: the $victim process was not running after $delay s"
        victim=none
    fi
    rc=0; wait "$mpid" || rc=$?
    # a run that ended before the kill: how long runs take now
    [ "$victim" = none ] && ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    deadline=$((SECONDS + 120))
    while [ -n "$(test_procs)" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    left=$(test_procs)
    expect_eq "$left" "" "round $r ($victim): no process of the run is left"
    [ -z "$left" ] || kill -9 $left 2>/dev/null
    log "round $r: exit $rc; $(grep -v 'certificate installed' "$W/out$r" | head -4 | tr '\n' '|')"
    case $victim in
        network|key)
            if [ "$rc" = 1 ] && grep -q "the $victim process \(is gone\|was killed by signal 9\)" "$W/out$r"; then
                pass "round $r: the store process exits 1 saying the $victim process is gone"
            elif [ "$rc" = 0 ]; then
                # killed after its last answer: nothing was lost
                pass "round $r: the $victim process was killed after the run's work was done"
            else
                fail "round $r: exit $rc, and no clear error: $(grep -i error "$W/out$r" | head -3)"
            fi ;;
    esac
    check_store "round $r ($victim)" "$([ "$victim" = store ] && echo 0 || echo 1)"
done
[ "$kills" -eq "$ROUNDS" ] && pass "$kills runs killed mid-run, in $r rounds" ||
    fail "only $kills runs killed mid-run in $r rounds"

# the next run repairs and completes everything
"$MAILCERT" -c "$conf" issue --force -j 4 > "$W/out-last" 2>&1 || fail "the run after the kills: $(grep -i error "$W/out-last" | head -3)"
check_store "after the kills" 1
n=0
for h in "${hosts[@]}"; do [ -s "$W/store/certs/$h/cert.pem" ] && n=$((n + 1)); done
expect_eq "$n" "$N" "every host has a certificate after the next run"
"$MAILCERT" -c "$conf" status > "$W/status" 2>&1
expect_eq "$?" 0 "status: no host in error after the next run"
finish
