#!/bin/bash
# bench/milter-throughput.sh [MESSAGES] [SESSIONS] - SMTP messages per second
# through a throwaway Postfix into smtp-sink (smtp-source as the client), without
# and with mailcert-milter in smtpd_milters; prints the overhead.  Aim: under 5 %.
# Two client patterns: one message per connection (the milter's worst case:
# every message pays its connect, HELO and MAIL round trips), and connections
# reused for many messages (smtp-source -d).
# Run from the build directory as root.
. "$(dirname "$0")/../tests/plugin/lib.sh"
MSGS=${1:-2000}
SESSIONS=${2:-20}
command -v smtp-source >/dev/null || skip "no smtp-source"

STORE=$T/store
ca_make "$T/ca"
leaf_make "$T/ca" "$T/a" 10 a.test
store_put_set "$STORE" a.test "$T/ca" "$T/a"
read -r SMTP SMTPS SINK < <(freeport 3 | tr '\n' ' ')
smtp-sink -u postfix -c "127.0.0.1:$SINK" 1000 >"$T/sink.log" 2>&1 &
on_exit "kill $! 2>/dev/null"
wait_port 127.0.0.1 "$SINK" 10 || die "smtp-sink"
SOCK=$T/milter.sock
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS" \
    "milter_default_action = accept" "relayhost = [127.0.0.1]:$SINK" \
    "smtp_tls_security_level = none" "default_process_limit = 200" \
    "smtpd_client_connection_count_limit = 0" "smtpd_client_connection_rate_limit = 0"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes" a.test
milter_start "$T/mailcert.conf" -p "unix:$SOCK"
wait_for 10 test -S "$SOCK" || die "no milter socket"
# the socket is 0660, group mailcert: in a real setup postfix is in that group
# (without this, smtpd could not connect and milter_default_action hid it)
chgrp postfix "$SOCK" || die "chgrp postfix $SOCK"

queue_empty() { [ -z "$(find "$T/pf/queue/incoming" "$T/pf/queue/active" "$T/pf/queue/deferred" -type f 2>/dev/null | head -1)" ]; }
run() { # label
    local t0 t1
    t0=$(date +%s%N)
    smtp-source $REUSE -s "$SESSIONS" -m "$MSGS" -l 2048 -f s@client.test -t r@dest.test \
        "127.0.0.1:$SMTP" >>"$T/source.log" 2>&1 || die "smtp-source failed"
    wait_for 300 queue_empty || die "queue did not drain"
    t1=$(date +%s%N)
    echo $((MSGS * 1000000000 / (t1 - t0)))
}
set_milter() {
    postconf -c "$PF_DIR" -e "smtpd_milters = $1"
    postfix -c "$PF_DIR" reload >/dev/null 2>&1
    sleep 1
}
ROUNDS=${ROUNDS:-3}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
REUSE=
run warmup >/dev/null
echo "smtp-source -> Postfix -> smtp-sink, $MSGS messages, $SESSIONS parallel sessions," \
    "median of $ROUNDS alternating rounds:"
for REUSE in "" -d; do
    without=() with=()
    for ((r = 0; r < ROUNDS; r++)); do
        set_milter ""
        without+=("$(run without)")
        set_milter "unix:$SOCK"
        with+=("$(run with)")
    done
    set_milter ""
    a=$(printf '%s\n' "${without[@]}" | median)
    b=$(printf '%s\n' "${with[@]}" | median)
    if [ -n "$REUSE" ]; then echo "  connections reused (smtp-source -d):"; else
        echo "  one message per connection:"; fi
    echo "    without milter: $a msg/s (rounds: ${without[*]})"
    echo "    with mailcert-milter: $b msg/s (rounds: ${with[*]})"
    echo "    overhead: $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (a - b) * 100 / a }') %"
done
sleep 1.5 # the counts reach milter.json once a second
echo "  milter counted: $(jq -c .listeners "$STORE/run/milter.json")"
