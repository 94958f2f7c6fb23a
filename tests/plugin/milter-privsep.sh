#!/bin/bash
# The milter filter runs as a separate, unprivileged process that cannot read keys:
#  - its uid and gids are not root's, it has no supplementary groups, none of them
#    is a group that may read keys (mailcert), NoNewPrivs is set, it is not dumpable,
#    its working directory is /, and its descriptors are standard ones, pipes and
#    sockets only (no file or directory of the store);
#  - as that user, a cert.pem 0640 root:root of the store cannot be read;
#  - it counts (miltertest), the loader writes the counts;
#  - kill -9 of the filter: the loader logs it, starts a new one, loading goes on
#    meanwhile and counting resumes;
#  - kill -9 of the loader: the filter does not outlive it.
. "$(dirname "$0")/lib.sh"
command -v miltertest >/dev/null || skip "no miltertest"
command -v jq >/dev/null || skip "no jq"
command -v setpriv >/dev/null || skip "no setpriv"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"

STORE=$T/store
ca_make "$T/ca"
leaf_make "$T/ca" "$T/a" 10 a.test
leaf_make "$T/ca" "$T/b" 10 b.test
store_put_set "$STORE" a.test "$T/ca" "$T/a"
KEYFILE=$(readlink -f "$STORE/certs/a.test/cert.pem")
chown root:root "$KEYFILE"
chmod 640 "$KEYFILE"
write_conf "$T/mailcert.conf" "$STORE" a.test "none" a.test b.test
SOCK=$T/sock/milter.sock
export MILTER_SOCK="unix:$SOCK"
"$MILTER" -f -v -c "$T/mailcert.conf" -p "$MILTER_SOCK" >>"$T/milter.log" 2>&1 &
MILTER_PID=$!
# stopped at exit unless this script killed and reaped it (no signal to a stale pid)
RUNNING=$MILTER_PID
stop_running() { [ -z "$RUNNING" ] || milter_stop "$RUNNING"; }
on_exit stop_running
J=$STORE/run/milter.json
q() { jq -c "$1" "$J" 2>/dev/null; }
fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }

# the loader's only child that is a filter process (a pid > 1 whose parent is PARENT)
filter_of() { # PARENT
    local p
    for p in $(ps -o pid= --ppid "$1"); do
        [ "$p" -gt 1 ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mailcert-filter ] && echo "$p"
    done
}
has_filter() { [ -n "$(filter_of "$MILTER_PID")" ]; }
wait_for 60 test -S "$SOCK" || die "no milter socket: $(cat "$T/milter.log")"
wait_for 60 has_filter || die "no filter process under the loader $MILTER_PID: $(ps -o pid,user,args --ppid "$MILTER_PID")"
F=$(filter_of "$MILTER_PID")
log "loader $MILTER_PID ($(ps -o user= -p "$MILTER_PID")), filter $F ($(ps -o user=,args= -p "$F"))"

# --- (a) who it is and what it holds
st() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$F/status"; }
read -r U1 U2 U3 U4 <<<"$(st Uid)"
read -r G1 G2 G3 G4 <<<"$(st Gid)"
KEYGID=$(getent group mailcert | cut -d: -f3)
if [ "$U1" != 0 ] && [ "$U1" = "$U2" ] && [ "$U1" = "$U3" ] && [ "$U1" = "$U4" ]; then
    ok "uid $U1 (real, effective, saved, fs): $(getent passwd "$U1" | cut -d: -f1)"
else
    bad "uids: $(st Uid)"
fi
if [ "$G1" != 0 ] && [ "$G1" = "$G2" ] && [ "$G1" = "$G3" ] && [ "$G1" = "$G4" ] &&
    [ "$G1" != "${KEYGID:-none}" ]; then
    ok "gid $G1, not root's nor mailcert's (${KEYGID:-no such group})"
else
    bad "gids: $(st Gid) (mailcert: ${KEYGID:-none})"
fi
[ -z "$(st Groups)" ] && ok "no supplementary groups" || bad "groups: $(st Groups)"
[ "$(st NoNewPrivs)" = 1 ] && ok "NoNewPrivs" || bad "NoNewPrivs: $(st NoNewPrivs)"
# a process that is not dumpable has its /proc files owned by root
[ "$(stat -c %u "/proc/$F/fd")" = 0 ] && ok "not dumpable" || bad "dumpable: /proc/$F/fd is $(stat -c %U "/proc/$F/fd")'s"
[ "$(readlink "/proc/$F/cwd")" = / ] && ok "working directory /" || bad "cwd $(readlink "/proc/$F/cwd")"
pipe_fd3=no
for fd in /proc/"$F"/fd/*; do
    n=${fd##*/}
    target=$(readlink "$fd") || continue
    case $n:$target in
        3:pipe:*) pipe_fd3=yes ;;
        [012]:*) ;;
        *:socket:* | *:pipe:*) ;;
        *) bad "descriptor $n is $target" ;;
    esac
done
[ $pipe_fd3 = yes ] && ok "descriptors: $(ls "/proc/$F/fd" | tr '\n' ' ')(3 the report pipe; the rest sockets and pipes)" ||
    bad "descriptor 3 is not the report pipe: $(readlink "/proc/$F/fd/3")"
if setpriv --reuid="$U1" --regid="$G1" --clear-groups cat "$KEYFILE" >/dev/null 2>&1; then
    bad "uid $U1 gid $G1 can read $KEYFILE"
else
    ok "uid $U1 gid $G1 cannot read the store's cert.pem (0640 root:root)"
fi

# --- it counts
mt() { miltertest -s "$srcdir/tests/plugin/counts.lua" >"$T/mt.out" 2>&1 || bad "miltertest: $(cat "$T/mt.out")"; }
sessions_are() { [ "$(q '.listeners["MTA/192.0.2.25"].sessions')" = "$1" ]; }
mt
wait_for 60 sessions_are 1 && ok "counted: $(q '.listeners["smtpd/127.0.0.1"]')" ||
    bad "counts: $(q .listeners)"

# --- (c) kill -9 of the filter
[ "$F" -gt 1 ] && [ "$(filter_of "$MILTER_PID")" = "$F" ] || die "$F is no longer the filter"
kill -9 "$F"
new_filter() { local n; n=$(filter_of "$MILTER_PID"); [ -n "$n" ] && [ "$n" != "$F" ]; }
store_put_set "$STORE" b.test "$T/ca" "$T/b"
served_b() { [ "$(jq -r '.hosts["b.test"].serial' "$J" 2>/dev/null | sed 's/^0*//')" = "$(serial_of "$T/b.pem")" ]; }
wait_for 60 served_b && ok "loading went on with the filter killed" || bad "b.test never loaded: $(q .hosts)"
if wait_for 60 new_filter; then
    F2=$(filter_of "$MILTER_PID")
    ok "a new filter process $F2 after kill -9 of $F: $(grep -m1 "filter process $F killed" "$T/milter.log")"
else
    bad "no new filter process after kill -9 of $F: $(tail -5 "$T/milter.log")"
fi
grep -q "filter process $F killed by signal 9" "$T/milter.log" || bad "the loader did not log the kill"
listening_again() { grep -q "listening on $MILTER_SOCK (filter process $F2)" "$T/milter.log"; }
wait_for 60 listening_again || bad "the new filter never listened"
mt
wait_for 60 sessions_are 2 && ok "counting resumed: $(q '.listeners["MTA/192.0.2.25"]')" ||
    bad "counts after the restart: $(q .listeners)"

# --- (c) kill -9 of the loader: the filter goes too
[ "$MILTER_PID" -gt 1 ] && [ "$(cat "/proc/$MILTER_PID/comm")" = mailcert-milter ] ||
    die "$MILTER_PID is not the loader"
kill -9 "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null
RUNNING=
alive() { # PID: running, not a zombie
    local s
    s=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}
gone() { ! alive "$F2"; }
if wait_for 60 gone; then
    ok "the filter $F2 ended with the loader"
else
    bad "the filter $F2 outlived the loader"
    [ "$F2" -gt 1 ] && [ "$(cat "/proc/$F2/comm" 2>/dev/null)" = mailcert-filter ] && kill -9 "$F2"
fi
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
