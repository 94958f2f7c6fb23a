#!/bin/bash
# bench/milter-latency.sh [ROUNDS] - change-to-served latency of mailcert-milter:
# a new set is published for one host (of 3) and the time until both Postfix
# (SMTP STARTTLS) and Dovecot (IMAPS) serve it is measured.  Aim: under 2 s.
# Run from the build directory as root (or set MAILCERT_MILTER).
. "$(dirname "$0")/../tests/plugin/lib.sh"
ROUNDS=${1:-10}

ca_make "$T/ca"
STORE=$T/store
for h in a b c; do
    leaf_make "$T/ca" "$T/$h" 10 "$h.test"
    store_put_set "$STORE" "$h.test" "$T/ca" "$T/$h"
done
read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test c.test
"$MILTER" -c "$T/mailcert.conf" --once >>"$T/milter.log" 2>&1
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test c.test
milter_start "$T/mailcert.conf"
wait_for 10 serves tls "$IMAPS" b.test "$(serial_of "$T/b.pem")" || die "not serving"

results=()
for ((r = 1; r <= ROUNDS; r++)); do
    leaf_make "$T/ca" "$T/n$r" 10 b.test
    want=$(serial_of "$T/n$r.pem")
    t0=$(date +%s%N)
    store_put_set "$STORE" b.test "$T/ca" "$T/n$r"
    until serves smtp "$SMTP" b.test "$want" && serves tls "$IMAPS" b.test "$want"; do
        [ $(($(date +%s%N) - t0)) -lt 10000000000 ] || die "round $r: not served after 10 s"
        sleep 0.02
    done
    ms=$((($(date +%s%N) - t0) / 1000000))
    results+=("$ms")
    sleep 0.5
done
sorted=$(printf '%s\n' "${results[@]}" | sort -n)
min=$(echo "$sorted" | head -1)
max=$(echo "$sorted" | tail -1)
med=$(echo "$sorted" | sed -n "$(((ROUNDS + 1) / 2))p")
echo "change-to-served latency over $ROUNDS rounds (Postfix SMTP + Dovecot IMAPS):" \
    "min ${min} ms, median ${med} ms, max ${max} ms"
