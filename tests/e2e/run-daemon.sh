#!/bin/bash
# `mailcert run -f`, the renewal daemon, against a real Pebble whose certificates
# live 300 s (renewed when half is left: room for a slow, loaded machine), on the
# real clock:
#  - it issues every host at start and renews each one inside its window by
#    itself (the served files change and stay valid);
#  - a failing host is retried on its backoff (about a minute, then longer), and
#    recovers once what failed is fixed, while the other hosts go on;
#  - SIGHUP with a broken configuration logs FILE:LINE and keeps running; SIGHUP
#    with a new host issues it at once;
#  - SIGTERM while a pass is held open at a dns-01 hook stops the pass and the
#    daemon (exit 0), leaves no process of it behind, and the next run completes.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_START_CERT_VALIDITY=300
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" \
    a.run.example.test b.run.example.test flaky.run.example.test
# flaky's dns-01 hook fails until $W/fixed exists; "hold" waits for $W/go
cat > "$W/hook" <<EOH
#!/bin/sh
case "\$1" in
add)
    [ -e "$W/fixed" ] || { echo "DNS provider says no" >&2; exit 1; }
    curl -fsS -d "{\"host\":\"\$3\",\"value\":\"\$4\"}" "$CHALLTESTSRV_URL/set-txt" >/dev/null
    case "\$3" in *hold*)
        echo held >> "$W/held.log"
        i=0
        while [ ! -e "$W/go" ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done ;;
    esac ;;
remove) curl -fsS -d "{\"host\":\"\$3\"}" "$CHALLTESTSRV_URL/clear-txt" >/dev/null ;;
esac
exit 0
EOH
chmod 755 "$W/hook"
sed -i 's|^host "flaky.run.example.test" { names = {  } }|host "flaky.run.example.test" { challenge = "dns-01" }|' "$conf"
printf 'dns01 { hook = "%s" }\n' "$W/hook" >> "$conf"
cp "$conf" "$W/good.conf"

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=[h for h in d["hosts"] if h["host"]==sys.argv[2]][0]; v=h[sys.argv[3]]; print("" if v is None else v)' "$@"; }
epoch() { python3 -c 'import datetime,sys; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$1"; }
status() { "$MAILCERT" -c "$conf" status --json > "$W/st.json" 2>/dev/null; }
field() { status; jget "$W/st.json" "$1" "$2"; }
# until_field HOST FIELD TEST SECONDS: poll status until [ "$value" TEST ] holds
until_true() {
    local deadline=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$@" && return 0
        kill -0 "$DPID" 2>/dev/null || return 1
        sleep 0.5
    done
    "$@"
}

"$MAILCERT" -v -c "$conf" run -f > "$W/daemon.log" 2>&1 &
DPID=$!
on_exit "kill $DPID 2>/dev/null; touch '$W/go'"

# ---- it issues at start
has_cert() { [ "$(field "$1" has_cert)" = True ]; }
until_true 120 has_cert a.run.example.test && until_true 60 has_cert b.run.example.test &&
    pass "the daemon issued both hosts at start" || fail "not issued at start: $(tail -5 "$W/daemon.log")"
pebble_root_refresh
check_set "$W/store" a.run.example.test "$PEBBLE_ROOT" a.run.example.test
sa=$(field a.run.example.test serial)
sb=$(field b.run.example.test serial)
renew_a=$(epoch "$(field a.run.example.test renewal_time)")
exp_a=$(epoch "$(field a.run.example.test cert_expiration_time)")

# ---- flaky fails and is retried on its backoff, not at once and not never
f1=$(field flaky.run.example.test consecutive_failures)
[ "${f1:-0}" -ge 1 ] && pass "the failing host failed ($f1)" || fail "flaky did not fail: $(field flaky.run.example.test last_failure_error_message)"
t1=$(epoch "$(field flaky.run.example.test last_failure_time)")
retry1=$(epoch "$(field flaky.run.example.test next_retry_time)")
d1=$((retry1 - t1))
[ "$d1" -ge 30 ] && [ "$d1" -le 120 ] && pass "first retry about a minute after the failure ($d1 s)" ||
    fail "first retry $d1 s after the failure"
two_failures() { [ "$(field flaky.run.example.test consecutive_failures)" -ge 2 ]; }
until_true 240 two_failures && pass "the daemon retried the failing host by itself" ||
    fail "no second attempt: $(tail -5 "$W/daemon.log")"
t2=$(epoch "$(field flaky.run.example.test last_failure_time)")
[ $((t2 - t1)) -ge $((d1 - 2)) ] && pass "the retry waited for its time ($((t2 - t1)) s)" ||
    fail "the retry came $((t2 - t1)) s after the failure, before its time ($d1 s)"
retry2=$(epoch "$(field flaky.run.example.test next_retry_time)")
[ $((retry2 - t2)) -gt "$d1" ] && pass "the next backoff is longer ($((retry2 - t2)) s)" ||
    fail "the backoff did not grow: $d1 then $((retry2 - t2)) s"

# ---- renewal inside the window, by itself
renewed_a() { [ "$(field a.run.example.test serial)" != "$sa" ]; }
until_true 450 renewed_a && pass "a renewed by the daemon ($(($(date +%s) - renew_a)) s after its renewal time)" ||
    fail "a was not renewed: $(tail -5 "$W/daemon.log")"
now=$(date +%s)
[ "$now" -lt "$exp_a" ] && pass "renewed before the old certificate expired" || fail "renewed only after expiry"
renewed_b() { [ "$(field b.run.example.test serial)" != "$sb" ]; }
until_true 200 renewed_b && pass "b renewed by the daemon" || fail "b was not renewed"
pebble_root_refresh
check_set "$W/store" a.run.example.test "$PEBBLE_ROOT" a.run.example.test
check_set "$W/store" b.run.example.test "$PEBBLE_ROOT" b.run.example.test

# ---- what failed is fixed: flaky recovers at its next retry
touch "$W/fixed"
recovered() { [ "$(field flaky.run.example.test has_cert)" = True ] && [ -z "$(field flaky.run.example.test last_failure_error_message)" ]; }
until_true 400 recovered && pass "the failing host recovered on its own" ||
    fail "flaky did not recover: $(field flaky.run.example.test last_failure_error_message)"

# ---- SIGHUP: a broken configuration is reported and the running one kept
echo 'host "broken.example.test" { colour = "blue" }' >> "$conf"
line=$(wc -l < "$conf")
kill -HUP "$DPID"
logged() { grep -q "mailcert.conf:$line" "$W/daemon.log"; }
until_true 60 logged && pass "a bad configuration on SIGHUP is reported with FILE:LINE" ||
    fail "no FILE:LINE for the bad configuration: $(tail -3 "$W/daemon.log")"
kill -0 "$DPID" 2>/dev/null && pass "still running after a bad SIGHUP" || fail "the daemon died on a bad configuration"

# ---- SIGHUP with a new host: issued at once
cp "$W/good.conf" "$conf"
printf 'host "new.run.example.test" { }\n' >> "$conf"
kill -HUP "$DPID"
until_true 120 has_cert new.run.example.test && pass "a host added with SIGHUP is issued" ||
    fail "new host not issued: $(tail -5 "$W/daemon.log")"

# ---- SIGTERM during a pass held at a hook
rm -f "$W/go"
printf 'host "hold.run.example.test" { challenge = "dns-01" }\n' >> "$conf"
kill -HUP "$DPID"
held() { [ -s "$W/held.log" ]; }
until_true 120 held && pass "a pass is held at the hook" || fail "the hook was not reached: $(tail -5 "$W/daemon.log")"
kill -TERM "$DPID"
rc=0
deadline=$((SECONDS + 90))
while kill -0 "$DPID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
if kill -0 "$DPID" 2>/dev/null; then
    fail "the daemon did not stop within 90 s of SIGTERM"
else
    wait "$DPID" || rc=$?
    expect_eq "$rc" 0 "SIGTERM: the daemon exits 0"
fi
left=""
deadline=$((SECONDS + 30))
while :; do
    left=$(ps -eo pid=,comm= | awk '$2 ~ /^mailcert/ {print $1}' | while read -r p; do
        tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "MAILCERT_TEST_MARK=${MAILCERT_TEST_MARK:-none}" && echo "$p"; done)
    [ -z "$left" ] || [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.2
done
expect_eq "$left" "" "nothing of the daemon or its pass is left running"
grep -q "stopping the pass in flight" "$W/daemon.log" && pass "the log says the pass was stopped" ||
    fail "no word of the stopped pass: $(tail -3 "$W/daemon.log")"
t=$(find "$W/store" -name '.*.tmp.*' -o -name '.*.new.*')
expect_eq "$t" "" "no temporary file left in the store"
touch "$W/go"
"$MAILCERT" -c "$conf" issue hold.run.example.test > "$W/after" 2>&1 &&
    pass "the next run completes the interrupted host" || fail "the next run: $(tail -3 "$W/after")"
pebble_root_refresh
check_set "$W/store" hold.run.example.test "$PEBBLE_ROOT" hold.run.example.test
finish
