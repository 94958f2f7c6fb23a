#!/bin/bash
# bench/run-schedule.sh - the daemon's scheduling pass and memory with many hosts.
#
# Usage: bench/run-schedule.sh [N] [MAILCERT]   (N hosts, default 10000)
#
# Makes a store under /dev/shm (or TMPDIR) with N self-signed hosts (one `mailcert
# issue` run, 16 at a time), starts `mailcert -v run -f` over it, and reads from its
# log how long each scheduling pass over all N hosts took (the first reads every
# host's state; later ones, as on every wake, stat each state.json and read only
# what changed), and its resident memory from /proc. Prints:
#   run-schedule: N hosts: scheduling pass P ms (median of K; the first: F ms), resident R MB (peak H MB)
# Set KEEP=1 to keep the temporary directory.
set -euo pipefail
n=${1:-10000}
here=$(cd "$(dirname "$0")" && pwd)
mailcert=${2:-$here/../_build-test-normal/helpers/mailcert}
[ -x "$mailcert" ] || { echo "no mailcert at $mailcert (build first, or pass its path)" >&2; exit 1; }
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
tmp=$(mktemp -d "$base/run-schedule.XXXXXX")
dpid=
cleanup() {
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT

{
    echo "store = \"$tmp/store\""
    echo "listeners { postfix = false  dovecot = false }"
    for ((i = 1; i <= n; i++)); do echo "host \"h$i.bench.example.test\" { source = \"self-signed\" }"; done
} > "$tmp/mailcert.conf"
t0=$(date +%s.%N)
"$mailcert" -c "$tmp/mailcert.conf" issue -j 16 > "$tmp/issue.log" 2>&1 || { tail -5 "$tmp/issue.log" >&2; exit 1; }
t1=$(date +%s.%N)
echo "run-schedule: $n self-signed sets made in $(echo "$t1 - $t0" | bc) s" >&2

: > "$tmp/run.log"
"$mailcert" -v -c "$tmp/mailcert.conf" run -f > "$tmp/run.log" 2>&1 &
dpid=$!
# the first pass reads every state.json; SIGUSR1 makes it schedule again, the way it
# does on every wake: a stat per host whose state did not change
K=${K:-9}
for ((k = 1; k <= K + 1; k++)); do
    deadline=$((SECONDS + 120))
    until [ "$(grep -c 'scheduled in' "$tmp/run.log")" -ge "$k" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
    [ "$k" -le "$K" ] && kill -USR1 "$dpid"
done
grep -q 'scheduled in' "$tmp/run.log" || { tail -5 "$tmp/run.log" >&2; exit 1; }
rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$dpid/status")
hwm=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$dpid/status")
all=$(sed -n 's/.*scheduled in \([0-9.]*\) ms.*/\1/p' "$tmp/run.log")
first=$(echo "$all" | head -1)
times=$(echo "$all" | tail -n +2 | sort -n)
k=$(echo "$times" | wc -l)
median=$(echo "$times" | sed -n "$(((k + 1) / 2))p")
echo "run-schedule: $n hosts: scheduling pass $median ms (median of $k; the first, reading every state: $first ms), resident $rss MB (peak $hwm MB)"
