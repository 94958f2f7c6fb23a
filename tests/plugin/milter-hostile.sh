#!/bin/bash
# The loader takes what its filter process reports as hostile (a filter that talks
# to every local client of the milter socket may be compromised).  With test hooks,
# MAILCERT_TEST_FILTER makes mailcert-milter run hostile-filter.py as its filter:
#  junk   bad reports of every kind (over-long lines, unknown types, wrong field
#         counts, bytes that are not UTF-8, controls, NULs, thousands of names) are
#         ignored or cleaned and bounded; the good reports among them are counted;
#  hold   a filter that closes its pipe but runs on is killed and restarted;
#  flood  a filter that writes without end does not hold up certificate loading,
#         and one that ignores SIGTERM does not keep the loader from stopping.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "no python3"
command -v jq >/dev/null || skip "no jq"
[ "${MAILCERT_TEST_HOOKS_BUILT:-yes}" = yes ] || skip "needs a build with --enable-test-hooks"

STORE=$T/store
ca_make "$T/ca"
leaf_make "$T/ca" "$T/a" 10 a.test
store_put_set "$STORE" a.test "$T/ca" "$T/a"
write_conf "$T/mailcert.conf" "$STORE" a.test "none" a.test
J=$STORE/run/milter.json
q() { jq -c "$1" "$J" 2>/dev/null; }
fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }
export MAILCERT_TEST_FILTER=$srcdir/tests/plugin/hostile-filter.py

RUNNING=
stop_running() { [ -z "$RUNNING" ] || milter_stop "$RUNNING"; }
on_exit stop_running
start() { # MODE
    : >"$T/milter.log"
    HOSTILE_MODE=$1 "$MILTER" -f -v -c "$T/mailcert.conf" -p "unix:$T/milter.sock" \
        >>"$T/milter.log" 2>&1 &
    RUNNING=$!
}
stop() {
    milter_stop "$RUNNING" && ok "stopped: exit 0" || fail=1
    RUNNING=
}
# the loader's children that run hostile-filter.py (pids > 1)
fakes() {
    local p
    for p in $(ps -o pid= --ppid "$RUNNING"); do
        [ "$p" -gt 1 ] && grep -q hostile-filter "/proc/$p/cmdline" 2>/dev/null && echo "$p"
    done
}

# --- junk
start junk
good_counted() { [ "$(q '.listeners["good/127.0.0.1"].sessions')" = 3 ]; }
if wait_for 60 good_counted; then
    ok "the good reports are counted: $(q '.listeners["good/127.0.0.1"]')"
else
    bad "good/127.0.0.1: $(q '.listeners["good/127.0.0.1"]')"
fi
[ "$(q '.listeners["good/127.0.0.1"]')" = \
    '{"ciphers":{"TLS_AES_256_GCM_SHA384":1},"sessions":3,"tls_sessions":1,"tls_versions":{"TLSv1.3":1}}' ] ||
    bad "good/127.0.0.1 counted wrong: $(q '.listeners["good/127.0.0.1"]')"
n=$(q '.listeners | length')
[ "$n" -le 65 ] && ok "$n listeners (at most 64 by name and \"other\")" || bad "$n listeners"
[ "$(q '[.listeners[] | .tls_versions | length] | max')" -le 33 ] &&
    [ "$(q '[.listeners[] | .ciphers | length] | max')" -le 33 ] &&
    ok "at most 33 versions and ciphers per listener" || bad "versions/ciphers unbounded"
[ "$(q '[.listeners | keys[] | select(length > 129)] | length')" = 0 ] &&
    ok "no listener name longer than 129 characters" || bad "a long listener name: $(q '.listeners | keys')"
# names of the bad lines: cleaned (no control characters, valid UTF-8: jq read it)
[ "$(q '[.listeners | keys[] | explode[] | select(. < 32 or . == 127)] | length')" = 0 ] &&
    ok "no control characters in names" || bad "control characters: $(q '.listeners | keys')"
[ "$(q '[.listeners | keys[] | select(startswith("xxxxxxxx"))] | length')" = 0 ] &&
    ok "an over-long line is dropped whole" || bad "a piece of an over-long line was counted"
for key in 'a/1' 'l/1' 'nul/1'; do
    [ "$(q ".listeners[\"$key\"]")" = null ] || bad "a malformed report counted: $key $(q ".listeners[\"$key\"]")"
done
size=$(stat -c %s "$J")
[ "$size" -le 65536 ] && ok "milter.json is $size bytes" || bad "milter.json is $size bytes"
kill -0 "$RUNNING" && ok "the loader runs on" || bad "the loader died"
stop

# --- hold: closes its pipe, runs on, ignores SIGTERM
start hold
has_fake() { [ -n "$(fakes)" ]; }
wait_for 60 has_fake || die "no fake filter: $(tail -5 "$T/milter.log")"
FIRST=$(fakes | head -1)
killed_logged() { grep -q "filter process $FIRST closed its report pipe but ran on: killed" "$T/milter.log"; }
wait_for 60 killed_logged && ok "a filter that closed its pipe was killed: $(grep -m1 "filter process $FIRST closed" "$T/milter.log")" ||
    bad "not killed: $(tail -5 "$T/milter.log")"
restarted() { local f; f=$(fakes | head -1); [ -n "$f" ] && [ "$f" != "$FIRST" ]; }
wait_for 60 restarted && ok "and started again" || bad "not started again"
stop

# --- flood: loading goes on; a filter ignoring SIGTERM does not stop the stop
start flood
wait_for 60 has_fake || die "no fake filter: $(tail -5 "$T/milter.log")"
leaf_make "$T/ca" "$T/b" 10 b.test
store_put_set "$STORE" b.test "$T/ca" "$T/b"
loaded_b() { [ "$(jq -r '.hosts["b.test"].serial' "$J" 2>/dev/null | sed 's/^0*//')" = "$(serial_of "$T/b.pem")" ]; }
wait_for 120 loaded_b && ok "a set published during the flood is loaded" || bad "b.test never loaded"
[ "$(q '.listeners | length')" -le 65 ] && ok "flood counts bounded: $(q '.listeners | length') listeners" ||
    bad "$(q '.listeners | length') listeners"
FLOODER=$(fakes | head -1)
stop
gone() { ! kill -0 "$FLOODER" 2>/dev/null || grep -q '^State:.*Z' "/proc/$FLOODER/status" 2>/dev/null; }
wait_for 60 gone && ok "the flooding filter did not outlive the loader" || bad "the flooder runs on"
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
