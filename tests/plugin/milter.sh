#!/bin/bash
# mailcert-milter as a milter, driven by miltertest (counts.lua plays Postfix and
# Sendmail with TLS macros): every step continues, messages are accepted, and
# milter.json counts sessions, TLS versions and ciphers per listener.
. "$(dirname "$0")/lib.sh"
command -v miltertest >/dev/null || skip "no miltertest"
command -v jq >/dev/null || skip "no jq"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"

STORE=$T/store
write_conf "$T/mailcert.conf" "$STORE" "" "none"
export MILTER_SOCK="unix:$T/milter.sock"
milter_start "$T/mailcert.conf" -p "$MILTER_SOCK"
wait_for 60 test -S "$T/milter.sock" || die "no milter socket: $(cat "$T/milter.log")"

miltertest -s "$srcdir/tests/plugin/counts.lua" >"$T/mt.out" 2>&1 ||
    die "miltertest failed: $(cat "$T/mt.out")"
log "miltertest: $(tr '\n' ' ' <"$T/mt.out")"

J=$STORE/run/milter.json
q() { jq -c "$1" "$J" 2>/dev/null; }
counted() { [ "$(q '.listeners["MTA/192.0.2.25"].sessions')" = 1 ]; }
wait_for 60 counted || die "counts never reached milter.json: $(q .listeners)"
fail=0
expect() { # JQ WANT
    local got
    got=$(q "$1")
    if [ "$got" = "$2" ]; then log "ok   $1 = $got"; else log "FAIL $1 = $got, want $2"; fail=1; fi
}
expect '.listeners["smtpd/127.0.0.1"].sessions' 3
expect '.listeners["smtpd/127.0.0.1"].tls_sessions' 2
expect '.listeners["smtpd/127.0.0.1"].tls_versions' '{"TLSv1.3":2}'
expect '.listeners["smtpd/127.0.0.1"].ciphers' '{"TLS_AES_256_GCM_SHA384":2}'
expect '.listeners["smtps/127.0.0.1"].sessions' 1
expect '.listeners["smtps/127.0.0.1"].tls_versions' '{"TLSv1.2":1}'
expect '.listeners["smtps/127.0.0.1"].ciphers' '{"ECDHE-ECDSA-AES256-GCM-SHA384":1}'
expect '.listeners["MTA/192.0.2.25"].tls_versions' '{"TLSv1.3":1}'
expect '.listeners | length' 3

# it stops cleanly on SIGTERM and removes nothing it should keep
if milter_stop "$MILTER_PID"; then log "ok   stopped on SIGTERM with exit 0"; else fail=1; fi
expect '.listeners["smtpd/127.0.0.1"].sessions' 3

# a socket it cannot open does not stop the certificate loading
rm -f "$J"
"$MILTER" -f -c "$T/mailcert.conf" -p "unix:$T/no/such/dir/sock" >"$T/bad.log" 2>&1 &
BAD=$!
on_exit "milter_stop $BAD"
wait_for 60 test -s "$J"
if kill -0 "$BAD" 2>/dev/null && [ -s "$J" ] && grep -q "milter:" "$T/bad.log"; then
    log "ok   an unusable milter socket is logged and loading goes on: $(grep -m1 milter: "$T/bad.log")"
else
    log "FAIL with an unusable socket: $(cat "$T/bad.log")"
    fail=1
fi
exit $fail
