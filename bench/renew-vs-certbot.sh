#!/bin/bash
# bench/renew-vs-certbot.sh - one renewal check over N certificates none of which is
# due: `certbot renew` against `mailcert renew` (the cron path, a whole process) and
# the daemon's scheduling pass (`mailcert run`, which keeps what it read).
#
# Usage: bench/renew-vs-certbot.sh [N] [MAILCERT]     (default 500 hosts)
#
# certbot gets N lineages made by hand in a config folder of its own (renewal
# configuration, archive and live links, a 90-day certificate each): exactly what it
# reads to decide that nothing is due; mailcert gets a store of N self-signed hosts.
# Prints as its last line:
#   renew-vs-certbot: N hosts, nothing due: certbot renew C s, mailcert renew M s
#   (certbot/mailcert = R), mailcert run's scheduling pass P ms
set -euo pipefail
n=${1:-500}
here=$(cd "$(dirname "$0")" && pwd)
mailcert=${2:-$here/../_build-test-normal/helpers/mailcert}
[ -x "$mailcert" ] || { echo "no mailcert at $mailcert (build first, or pass its path)" >&2; exit 1; }
command -v certbot >/dev/null || { echo "certbot is not installed (apt-get install certbot)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/renew-vs-certbot.XXXXXX")
dpid=
cleanup() {
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
now() { date +%s.%N; }

# ---- certbot's lineages
C=$tmp/certbot
mkdir -p "$C/renewal" "$C/archive" "$C/live" "$C/work" "$C/logs"
for ((i = 1; i <= n; i++)); do
    h=h$i.bench.example.test
    a=$C/archive/$h l=$C/live/$h
    mkdir -p "$a" "$l"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 -subj "/CN=$h" \
        -addext "subjectAltName=DNS:$h" -keyout "$a/privkey1.pem" -out "$a/cert1.pem" 2>/dev/null
    cp "$a/cert1.pem" "$a/chain1.pem"
    cat "$a/cert1.pem" "$a/chain1.pem" > "$a/fullchain1.pem"
    for f in cert privkey chain fullchain; do ln -s "../../archive/$h/${f}1.pem" "$l/$f.pem"; done
    cat > "$C/renewal/$h.conf" <<EOC
version = 2.1.0
archive_dir = $a
cert = $l/cert.pem
privkey = $l/privkey.pem
chain = $l/chain.pem
fullchain = $l/fullchain.pem

[renewalparams]
account = 0123456789abcdef0123456789abcdef
authenticator = standalone
server = https://127.0.0.1:9/directory
key_type = ecdsa
EOC
done
t0=$(now)
certbot renew --config-dir "$C" --work-dir "$C/work" --logs-dir "$C/logs" --no-random-sleep-on-renew \
    > "$tmp/certbot.out" 2>&1 || { tail -20 "$tmp/certbot.out" >&2; exit 1; }
t1=$(now)
grep -q "No renewals were attempted" "$tmp/certbot.out" || { tail -20 "$tmp/certbot.out" >&2; exit 1; }
cb=$(echo "$t1 - $t0" | bc)

# ---- mailcert's store
{
    echo "store = \"$tmp/store\""
    echo "listeners { postfix = false  dovecot = false }"
    echo "notify { sendmail = \"\" }"
    for ((i = 1; i <= n; i++)); do echo "host \"h$i.bench.example.test\" { source = \"self-signed\" }"; done
} > "$tmp/mailcert.conf"
"$mailcert" -c "$tmp/mailcert.conf" issue -j 16 > "$tmp/issue.log" 2>&1 || { tail -5 "$tmp/issue.log" >&2; exit 1; }
t0=$(now)
"$mailcert" -c "$tmp/mailcert.conf" renew > "$tmp/renew.log" 2>&1 || { tail -5 "$tmp/renew.log" >&2; exit 1; }
t1=$(now)
mc=$(echo "$t1 - $t0" | bc)

: > "$tmp/run.log"
"$mailcert" -v -c "$tmp/mailcert.conf" run -f > "$tmp/run.log" 2>&1 &
dpid=$!
for k in 1 2 3 4 5 6; do
    deadline=$((SECONDS + 60))
    until [ "$(grep -c 'scheduled in' "$tmp/run.log")" -ge "$k" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
    [ "$k" -lt 6 ] && kill -USR1 "$dpid"
done
pass=$(sed -n 's/.*scheduled in \([0-9.]*\) ms.*/\1/p' "$tmp/run.log" | tail -n +2 | sort -n | sed -n 3p)
printf 'renew-vs-certbot: %d hosts, nothing due: certbot renew %.2f s, mailcert renew %.2f s (certbot/mailcert = %.1f), mailcert run'"'"'s scheduling pass %s ms\n' \
    "$n" "$cb" "$mc" "$(echo "$cb / $mc" | bc -l)" "$pass"
