#!/bin/bash
# The milter's unix socket is 0660 (not open to every local user), group postfix
# (never mailcert, which reads keys; root's group without postfix); a directory mailcert-milter has
# to create for it is 0750 with the same group, and an existing one is left alone.
# SIGTERM stops it cleanly.
. "$(dirname "$0")/lib.sh"
command -v miltertest >/dev/null || skip "no miltertest"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"

STORE=$T/store
write_conf "$T/mailcert.conf" "$STORE" "" "none"
GID=$(getent group postfix | cut -d: -f3)
GID=${GID:-0}
fail=0
check_mode() { # PATH MODE
    local got
    got=$(stat -c '%a %g' "$1")
    if [ "$got" = "$2 $GID" ]; then
        log "ok   $1: mode and gid $got"
    else
        log "FAIL $1: mode and gid $got, want $2 $GID"
        fail=1
    fi
}
run_milter() { # SOCKETPATH
    milter_start "$T/mailcert.conf" -p "unix:$1"
    wait_for 60 test -S "$1" || die "no milter socket $1: $(cat "$T/milter.log")"
    # it still serves: miltertest (root) connects
    printf 'local c = mt.connect("unix:%s", 20, 0.2)\nif c == nil then error("connect") end\nmt.disconnect(c)\n' \
        "$1" >"$T/connect.lua"
    miltertest -s "$T/connect.lua" >"$T/mt.out" 2>&1 ||
        { log "FAIL miltertest cannot connect to $1: $(cat "$T/mt.out")"; fail=1; }
}
stop_milter() {
    local rc
    kill -TERM "$MILTER_PID"
    wait "$MILTER_PID"
    rc=$?
    [ "$rc" = 0 ] && log "ok   stopped on SIGTERM" || { log "FAIL exit $rc on SIGTERM"; fail=1; }
}

# in an existing directory: the directory is not touched
mkdir -m 755 "$T/existing"
run_milter "$T/existing/milter.sock"
check_mode "$T/existing/milter.sock" 660
[ "$(stat -c %a "$T/existing")" = 755 ] || { log "FAIL an existing directory was changed"; fail=1; }
stop_milter

# in a directory it creates itself
run_milter "$T/made/milter.sock"
check_mode "$T/made" 750
check_mode "$T/made/milter.sock" 660
stop_milter
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
