#!/bin/bash
# The milter's counts are bounded: made-up listener, TLS version and cipher names
# (manynames.lua sends thousands) must not grow mailcert-milter and milter.json
# without limit.  At most 64 listeners and 32 versions and 32 ciphers per listener
# are counted by name, everything beyond under "other"; the counts still add up.
. "$(dirname "$0")/lib.sh"
command -v miltertest >/dev/null || skip "no miltertest"
command -v jq >/dev/null || skip "no jq"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"

NAMES=3000
CIPHERS=100
TOTAL=$((NAMES + CIPHERS))
STORE=$T/store
write_conf "$T/mailcert.conf" "$STORE" "" "none"
export MILTER_SOCK="unix:$T/milter.sock" NAMES CIPHERS
milter_start "$T/mailcert.conf" -p "$MILTER_SOCK"
wait_for 60 test -S "$T/milter.sock" || die "no milter socket: $(cat "$T/milter.log")"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$MILTER_PID/status"; }
RSS0=$(rss)

fail=0
miltertest -s "$srcdir/tests/plugin/manynames.lua" >"$T/mt.out" 2>&1 ||
    die "miltertest failed: $(cat "$T/mt.out")"
J=$STORE/run/milter.json
q() { jq -c "$1" "$J" 2>/dev/null; }
all_counted() { [ "$(q '[.listeners[] | .sessions] | add')" = "$TOTAL" ]; }
wait_for 60 all_counted ||
    { log "FAIL milter.json counts $(q '[.listeners[] | .sessions] | add') sessions, want $TOTAL"; fail=1; }
log "mailcert-milter VmRSS ${RSS0} kB before, $(rss) kB after $TOTAL sessions; milter.json $(stat -c %s "$J") bytes"

expect() { # JQ WANT
    local got
    got=$(q "$1")
    if [ "$got" = "$2" ]; then log "ok   $1 = $got"; else log "FAIL $1 = $got, want $2"; fail=1; fi
}
size=$(stat -c %s "$J")
if [ "$size" -le 65536 ]; then
    log "ok   milter.json is $size bytes"
else
    log "FAIL milter.json is $size bytes (more than 64 KiB)"
    fail=1
fi
# 64 named listeners (smtpd and the first 63 made-up ones) and "other"
expect '.listeners | length' 65
expect '.listeners["smtpd/127.0.0.1"].sessions' "$CIPHERS"
expect '.listeners["smtpd/127.0.0.1"].tls_versions | length' 33
expect '.listeners["smtpd/127.0.0.1"].ciphers | length' 33
expect '.listeners["smtpd/127.0.0.1"].ciphers.other' $((CIPHERS - 32))
expect '.listeners.other.sessions' $((NAMES - 63))
expect '.listeners.other.tls_versions | length' 33
expect '.listeners.other.ciphers.other' $((NAMES - 63 - 32))
expect '[.listeners[] | .tls_versions | length] | max' 33
expect '[.listeners[] | .ciphers | length] | max' 33
# every session is counted once, by name or as "other"
expect '[.listeners[] | .tls_sessions] | add' "$TOTAL"
expect '[.listeners[] | .tls_versions[]] | add' "$TOTAL"
expect '[.listeners[] | .ciphers[]] | add' "$TOTAL"
expect '[.listeners | keys[] | select(length > 129)] | length' 0

kill -TERM "$MILTER_PID"
wait "$MILTER_PID"
rc=$?
[ "$rc" = 0 ] && log "ok   stopped on SIGTERM" || { log "FAIL exit $rc on SIGTERM"; fail=1; }
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
