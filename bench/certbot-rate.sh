#!/bin/bash
# bench/certbot-rate.sh - how fast certbot gets certificates from a local Pebble: the
# yardstick for mailcert's own issuance rate.
#
# Usage: bench/certbot-rate.sh [N]      (N hosts, default 3, issued one after another)
#
# Starts Pebble (PEBBLE_VA_NOSLEEP=1) in a temporary directory, runs
# `certbot certonly --standalone` once per host hostK.example.test, and prints as its
# last line:
#   certbot: N certificates in S.SS s = R.RRR certs/s
# The time covers the certbot runs only (account registration included in the first),
# not Pebble's start. Progress and certbot's output go to stderr / the temp directory.
# Set KEEP=1 to keep the temporary directory.
set -euo pipefail

n=${1:-3}
case $n in '' | *[!0-9]* | 0) echo "usage: $0 [N>0]" >&2; exit 64 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/pebble.sh
. "$here/../tests/lib/pebble.sh"

command -v certbot >/dev/null || die "certbot is not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/certbot-rate.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    log "keeping $tmp"
else
    on_exit "rm -rf '$tmp'"
fi

# Certbot through Pebble's 5 % badNonce rejections is part of the real-world figure.
export PEBBLE_VA_NOSLEEP=1
pebble_start "$tmp/pebble"

# certbot (python-requests) must trust Pebble's API listener, and nothing else here.
export REQUESTS_CA_BUNDLE=$PEBBLE_API_CA

start=$(date +%s.%N)
for ((i = 1; i <= n; i++)); do
    host="host$i.example.test"
    if ! certbot certonly --standalone \
        --http-01-port "$PEBBLE_HTTP_PORT" --http-01-address 127.0.0.1 \
        --server "$PEBBLE_DIR_URL" --agree-tos -m x@example.test --no-eff-email \
        --non-interactive \
        --config-dir "$tmp/config" --work-dir "$tmp/work" --logs-dir "$tmp/logs" \
        -d "$host" >>"$tmp/certbot.out" 2>&1; then
        tail -n 20 "$tmp/certbot.out" >&2
        die "certbot failed for $host (see $tmp/logs/letsencrypt.log; run with KEEP=1)"
    fi
    cert="$tmp/config/live/$host/fullchain.pem"
    openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$cert" "$cert" >/dev/null ||
        die "certificate for $host does not verify against Pebble's root"
    log "issued $host"
done
end=$(date +%s.%N)

awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN {
    t = e - s
    printf "certbot: %d certificates in %.2f s = %.3f certs/s\n", n, t, n / t
}'
