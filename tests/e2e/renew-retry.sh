#!/bin/bash
# `renew` acts only on hosts that are due or whose retry time has come; failures back
# off (1 min, doubling, with +-10% jitter); `retry` clears the backoff. MAILCERT_NOW moves mailcert's clock.
. "$(dirname "$0")/e2e.sh"
set -u
need_test_hooks
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" ok.example.test bad.example.test
printf '#!/bin/sh\necho "DNS provider says no" >&2\nexit 1\n' > "$W/hook"; chmod 755 "$W/hook"
sed -i 's|host "bad.example.test" { names = {  } }|host "bad.example.test" { challenge = "dns-01" }|' "$conf"
printf 'dns01 { hook = "%s" }\n' "$W/hook" >> "$conf"

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=[h for h in d["hosts"] if h["host"]==sys.argv[2]][0]; print(h[sys.argv[3]])' "$@"; }
epoch() { python3 -c 'import datetime,sys; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$1"; }

# The first run uses the real clock (Pebble's certificates start at the current
# second); the later runs that depend on the backoff use the test clock
# (MAILCERT_NOW) counted from the recorded failure, so a slow machine cannot slip
# past the real 60 s backoff between two of them.
"$MAILCERT" -c "$conf" renew > "$W/r1" 2>&1; rc=$?
expect_eq "$rc" 1 "first renew: the bad host fails"
[ -f "$W/store/certs/ok.example.test/cert.pem" ] && pass "first renew issues what has no certificate" || fail "ok host not issued: $(cat "$W/r1")"
"$MAILCERT" -c "$conf" status --json > "$W/s1"
expect_eq "$(jget "$W/s1" bad.example.test consecutive_failures)" 1 "one failure recorded"
now=$(epoch "$(jget "$W/s1" bad.example.test last_failure_time)")
serial=$(jget "$W/s1" ok.example.test serial)
renewal=$(jget "$W/s1" ok.example.test renewal_time)
d=$(($(epoch "$(jget "$W/s1" bad.example.test next_retry_time)") - now))
[ "$d" -ge 60 ] && [ "$d" -le 66 ] && pass "first retry a minute after the first failure (jitter never below 1 min)" ||
    fail "first backoff is $d s"

# immediately again: nothing is due, the bad host waits for its retry time
MAILCERT_NOW=$((now + 30)) "$MAILCERT" -c "$conf" renew > "$W/r2" 2>&1; rc=$?
expect_eq "$rc" 0 "renew before anything is due does nothing and succeeds"
"$MAILCERT" -c "$conf" status --json > "$W/s2"
expect_eq "$(jget "$W/s2" bad.example.test consecutive_failures)" 1 "backoff respected: no new attempt"
expect_eq "$(jget "$W/s2" ok.example.test serial)" "$serial" "valid certificate left alone"

# two minutes later: the retry time has come; the next backoff is longer
MAILCERT_NOW=$((now + 120)) "$MAILCERT" -c "$conf" renew > "$W/r3" 2>&1
"$MAILCERT" -c "$conf" status --json > "$W/s3"
expect_eq "$(jget "$W/s3" bad.example.test consecutive_failures)" 2 "retried once its time came"
python3 - "$W/s3" "$((now + 120))" <<'EOP' && pass "second backoff is 2 minutes, +-10% jitter" || fail "backoff doubling"
import json, sys, datetime
h = [h for h in json.load(open(sys.argv[1]))["hosts"] if h["host"] == "bad.example.test"][0]
t = datetime.datetime.strptime(h["next_retry_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
assert 108 <= t - int(sys.argv[2]) <= 132, (h["next_retry_time"], sys.argv[2])
assert "DNS provider says no" in h["last_failure_error_message"]
EOP
# retry clears the backoff at once
"$MAILCERT" -c "$conf" retry bad.example.test > "$W/r4" 2>&1; rc=$?
expect_eq "$rc" 1 "retry tries now (and fails again)"
"$MAILCERT" -c "$conf" status --json > "$W/s4"
expect_eq "$(jget "$W/s4" bad.example.test consecutive_failures)" 3 "retry made an attempt despite the backoff"

# after the renewal time the certificate is renewed
late=$(($(epoch "$renewal") + 3600))
MAILCERT_NOW=$late "$MAILCERT" -c "$conf" renew ok.example.test > "$W/r5" 2>&1; rc=$?
expect_eq "$rc" 0 "renew after the renewal time succeeds"
"$MAILCERT" -c "$conf" status --json > "$W/s5"
[ "$(jget "$W/s5" ok.example.test serial)" != "$serial" ] && pass "the due certificate was renewed" || fail "not renewed"
# the bad host fixed: a good hook, retry, and status is clean again
cat > "$W/hook" <<EOH
#!/bin/sh
case "\$1" in
add) curl -fsS -d "{\"host\":\"\$3\",\"value\":\"\$4\"}" "$CHALLTESTSRV_URL/set-txt" ;;
remove) curl -fsS -d "{\"host\":\"\$3\"}" "$CHALLTESTSRV_URL/clear-txt" ;;
esac
EOH
"$MAILCERT" -c "$conf" retry bad.example.test > "$W/r6" 2>&1; rc=$?
expect_eq "$rc" 0 "retry after fixing the hook succeeds"
"$MAILCERT" -c "$conf" status > "$W/s6"; rc=$?
expect_eq "$rc" 0 "status is clean again"
finish
