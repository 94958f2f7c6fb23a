#!/bin/bash
# Listener ({daemon_name}, {daemon_addr}), TLS version and cipher macros that are not
# valid UTF-8, or that are cut inside a UTF-8 character at 255 bytes, must neither
# corrupt memory nor be lost: mailcert-milter runs under valgrind, its filter process
# too (jansson frees a value it refuses, and the accesses after that are inside
# libjansson, where AddressSanitizer does not look), badnames.lua sends such names,
# and after SIGTERM valgrind must report no error and no definite leak in either.  milter.json must hold every
# session under a valid (replaced) name.
. "$(dirname "$0")/lib.sh"
command -v miltertest >/dev/null || skip "no miltertest"
command -v jq >/dev/null || skip "no jq"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"
VG_RC=99
VALGRIND=(valgrind --error-exitcode=$VG_RC --errors-for-leak-kinds=definite --leak-check=full
    --trace-children=yes --log-file="$T/valgrind.%p.log")
if ldd "$MILTER" | grep -Eq 'libasan|libubsan'; then
    # a sanitizer build cannot run under valgrind: the counts and the clean exit are
    # still checked, and the sanitizers report what they see
    log "sanitizer build: without valgrind"
    VALGRIND=()
else
    command -v valgrind >/dev/null || skip "no valgrind"
fi

STORE=$T/store
write_conf "$T/mailcert.conf" "$STORE" "" "none"
export MILTER_SOCK="unix:$T/milter.sock"
"${VALGRIND[@]}" "$MILTER" -f -v -c "$T/mailcert.conf" -p "$MILTER_SOCK" >>"$T/milter.log" 2>&1 &
VG=$!
on_exit "kill $VG 2>/dev/null; wait $VG 2>/dev/null"
wait_for 60 test -S "$T/milter.sock" ||
    die "no milter socket: $(cat "$T/milter.log" "$T"/valgrind.*.log 2>/dev/null)"

fail=0
if miltertest -s "$srcdir/tests/plugin/badnames.lua" >"$T/mt.out" 2>&1; then
    log "ok   miltertest: $(tr '\n' ' ' <"$T/mt.out")"
else
    log "FAIL miltertest: $(cat "$T/mt.out")"
    fail=1
fi

J=$STORE/run/milter.json
q() { jq -c "$1" "$J" 2>/dev/null; }
sum() { q "[.listeners[] | .$1] | add"; }
all_counted() { [ "$(sum sessions)" = 7 ]; }
wait_for 60 all_counted || { log "FAIL milter.json counts $(sum sessions) sessions, want 7"; fail=1; }
expect() { # JQ WANT
    local got
    got=$(q "$1")
    if [ "$got" = "$2" ]; then log "ok   $1 = $got"; else log "FAIL $1 = $got, want $2"; fail=1; fi
}
expect '[.listeners[] | .tls_sessions] | add' 6
expect '.listeners["smtpd/127.0.0.1"]' \
    '{"ciphers":{"TLS_AES_256_GCM_SHA384":1},"sessions":1,"tls_sessions":1,"tls_versions":{"TLSv1.3":1}}'
expect '[.listeners[] | .tls_versions[]] | add' 6
expect '[.listeners[] | .ciphers[]] | add' 6
# the same cut name twice is one listener: 6 distinct listeners in all
expect '.listeners | length' 6
expect '.listeners["\("b" * 63)/127.0.0.1"].sessions' 1
expect '[.listeners | keys[] | select(length > 200)] | length' 0

# SIGTERM: a clean exit, and valgrind saw nothing wrong
kill -TERM "$VG"
wait "$VG"
rc=$?
if [ "$rc" = 0 ]; then
    log "ok   mailcert-milter exited 0 on SIGTERM"
else
    log "FAIL mailcert-milter exited $rc on SIGTERM (valgrind's error exit is $VG_RC)"
    fail=1
fi
# one log for mailcert-milter and one for its filter process
if [ ${#VALGRIND[@]} != 0 ] && [ "$(find "$T" -maxdepth 1 -name 'valgrind.*.log' | wc -l)" -lt 2 ]; then
    log "FAIL valgrind did not see both processes: $(ls "$T")"
    fail=1
fi
for vlog in "$T"/valgrind.*.log; do
    [ ${#VALGRIND[@]} != 0 ] || break
    if grep -q 'ERROR SUMMARY: 0 errors' "$vlog" &&
        ! grep -Eq 'definitely lost: [1-9]|Invalid (read|write)' "$vlog"; then
        log "ok   valgrind ${vlog##*/}: $(grep -o 'ERROR SUMMARY:.*' "$vlog")"
    else
        log "FAIL valgrind ${vlog##*/}:"
        grep -E -A12 'Invalid|definitely lost in|ERROR SUMMARY' "$vlog" | head -80 >&2
        fail=1
    fi
done
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
