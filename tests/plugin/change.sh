#!/bin/bash
# With mailcert-milter running, a new set for one host is served on every listener
# (SMTP STARTTLS, SMTPS, IMAP STARTTLS, IMAPS, POP3S), and an SMTP
# session and a logged-in IMAP session opened before the change still answer NOOP
# more than 8 s after it.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "no python3"

ca_make "$T/ca"
STORE=$T/store
leaf_make "$T/ca" "$T/a1" 10 a.test
leaf_make "$T/ca" "$T/b" 10 b.test
store_put_set "$STORE" a.test "$T/ca" "$T/a1"
store_put_set "$STORE" b.test "$T/ca" "$T/b"

read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
write_conf "$T/mailcert.conf" "$STORE" b.test "postfix=yes dovecot=yes" a.test b.test
milter_once_before_dovecot "$T/mailcert.conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
write_conf "$T/mailcert.conf" "$STORE" b.test "postfix=yes dovecot=yes" a.test b.test
milter_start "$T/mailcert.conf"
A1=$(serial_of "$T/a1.pem")
wait_for 60 serves tls "$IMAPS" a.test "$A1" || die "a.test not served at start"

python3 "$srcdir/tests/plugin/sessions.py" "$SMTP" "$IMAPS" "$T/ready" "$T/changed" 9 \
    >"$T/sessions.out" 2>&1 &
SESS=$!
wait_for 60 test -e "$T/ready" || die "sessions did not open: $(cat "$T/sessions.out")"

leaf_make "$T/ca" "$T/a2" 10 a.test
A2=$(serial_of "$T/a2.pem")
t0=$(date +%s%N)
store_put_set "$STORE" a.test "$T/ca" "$T/a2"
touch "$T/changed"
fail=0
for l in "smtp $SMTP" "tls $SMTPS" "imap $IMAP" "tls $IMAPS" "tls $POP3S"; do
    set -- $l
    if wait_for 60 serves "$1" "$2" a.test "$A2" "$T/ca/root.pem"; then
        ms=$((($(date +%s%N) - t0) / 1000000))
        log "ok   $1:$2 serves the new serial after ${ms} ms"
    else
        log "FAIL $1:$2 still serves $(served_serial "$1" "$2" a.test)"
        fail=1
    fi
done
# The latency is a figure for bench/milter-latency.sh, never a limit here.
ms=$((($(date +%s%N) - t0) / 1000000))
log "info every listener served the new certificate after ${ms} ms"
[ "$(served_serial tls "$IMAPS" b.test "$T/ca/root.pem")" = "$(serial_of "$T/b.pem")" ] ||
    { log "FAIL b.test changed"; fail=1; }
if wait "$SESS"; then
    log "ok   sessions survived: $(tr '\n' ' ' <"$T/sessions.out")"
else
    log "FAIL sessions: $(tr '\n' ' ' <"$T/sessions.out")"
    fail=1
fi
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
