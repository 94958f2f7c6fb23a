#!/bin/bash
# bench/issue-rate.sh [N] [JOBS] - certificates per second against a local Pebble
# (PEBBLE_VA_NOSLEEP=1), compared with certbot on the same kind of Pebble.
# Prints:  mailcert: N certificates in S s = R certs/s
#          certbot: ...
#          ratio: X
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100}
JOBS=${2:-16}
CERTBOT_N=${CERTBOT_N:-3}
MAILCERT=${MAILCERT:-$top/_build/helpers/mailcert}
[ -x "$MAILCERT" ] || { echo "build first: $MAILCERT not found" >&2; exit 1; }
# shellcheck source=tests/lib/pebble.sh
. "$top/tests/lib/pebble.sh"
W=$(mktemp -d /tmp/mailcert-bench.XXXXXX)
on_exit "rm -rf '$W'"
export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0
pebble_start "$W/pebble" 2>/dev/null
{
    echo "store = \"$W/store\""
    echo "acme {"
    echo "  directory = \"$PEBBLE_DIR_URL\""
    echo "  agree_tos = true"
    echo "  ca_bundle = \"$PEBBLE_API_CA\""
    echo "}"
    echo "http01 { listen = { \"127.0.0.1:$PEBBLE_HTTP_PORT\" } public_port = $PEBBLE_HTTP_PORT }"
    echo "resolver = \"$PEBBLE_DNS\""
    for i in $(seq 1 "$N"); do echo "host \"host$i.bench.test\" { }"; done
} > "$W/mailcert.conf"
# register the account first so the figure is issuance alone
"$MAILCERT" -c "$W/mailcert.conf" issue host1.bench.test >/dev/null 2>&1
start=$(date +%s.%N)
"$MAILCERT" -c "$W/mailcert.conf" issue --force -j "$JOBS" > "$W/issue.log" 2>&1 || {
    echo "mailcert issue failed:" >&2; grep -v "certificate installed" "$W/issue.log" | tail >&2; exit 1; }
end=$(date +%s.%N)
ok=$(grep -c "certificate installed" "$W/issue.log" || true)
conns=$(sed -n "s/.*; \(.*requests to the CA over .*\)/\1/p" "$W/issue.log")
[ "$ok" -eq "$N" ] || { echo "only $ok of $N installed" >&2; exit 1; }
mc_rate=$(python3 -c "print('%.2f' % ($N / ($end - $start)))")
python3 -c "print('mailcert: %d certificates in %.2f s = %s certs/s (%d jobs; %s)' % ($N, $end - $start, '$mc_rate', $JOBS, '$conns'))"
pebble_stop

[ "$CERTBOT_N" -gt 0 ] || exit 0
cb_line=$("$top/bench/certbot-rate.sh" "$CERTBOT_N" | tail -1)
echo "$cb_line"
cb_rate=$(echo "$cb_line" | sed -n 's/.*= *\([0-9.]*\) certs\/s.*/\1/p')
python3 -c "print('ratio: mailcert is %.1f times as fast as certbot' % ($mc_rate / $cb_rate))"
