#!/bin/bash
# The process split of `mailcert issue`, checked on the running processes against
# a real Pebble while a dns-01 hook holds the run open:
#  - the network process (mailcert-net) is not root, has no supplementary groups
#    and not the keys' group, holds no descriptor of the store, cannot open any
#    key file (its credentials against each file's owner, group and mode, and a
#    real attempt with those credentials), runs with no_new_privs (and seccomp
#    when built with libseccomp), and has no copy of the account key in memory;
#  - the key process (mailcert-key) holds no network socket (only AF_UNIX ones);
#  - afterwards every set is complete and no helper process is left.
. "$(dirname "$0")/e2e.sh"
set -u
[ "$(id -u)" = 0 ] || { log "SKIP: needs root (reads other processes' /proc entries)"; exit 77; }
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" \
    web.example.test dns.example.test
cat > "$W/hook" <<EOH
#!/bin/sh
case "\$1" in
add) curl -fsS -d "{\"host\":\"\$3\",\"value\":\"\$4\"}" "$CHALLTESTSRV_URL/set-txt" >/dev/null
     echo add >> "$W/hook.log"
     # hold the run open until the test says go (at most 120 s)
     i=0
     while [ ! -e "$W/go" ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done ;;
remove) curl -fsS -d "{\"host\":\"\$3\"}" "$CHALLTESTSRV_URL/clear-txt" >/dev/null ;;
esac
exit 0
EOH
chmod 755 "$W/hook"
sed -i 's|^host "dns.example.test" { names = {  } }|host "dns.example.test" { challenge = "dns-01" }|' "$conf"
printf 'dns01 { hook = "%s" }\n' "$W/hook" >> "$conf"

# a first run makes the account key and a first set for each host
touch "$W/go"
"$MAILCERT" -c "$conf" issue > "$W/out1" 2>&1 || fail "first issue: $(cat "$W/out1")"
rm -f "$W/go" "$W/hook.log"
# Pebble reuses a valid authorization now and then even with PEBBLE_AUTHZREUSE=0
# (its test is rand.Intn(100) > percent): a name never validated before makes sure
# the held run calls the hook
sed -i 's|^host "dns.example.test" { challenge = "dns-01" }|host "dns.example.test" { challenge = "dns-01" names = { "hold.dns.example.test" } }|' "$conf"
grep -q '"hold.dns.example.test"' "$conf" || fail "test config not as intended"

"$MAILCERT" -v -c "$conf" issue --force > "$W/out2" 2>&1 &
mpid=$!
on_exit "touch '$W/go'; kill $mpid 2>/dev/null"
deadline=$((SECONDS + 120))
until [ -s "$W/hook.log" ]; do
    [ "$SECONDS" -lt "$deadline" ] && kill -0 "$mpid" 2>/dev/null || break
    sleep 0.1
done
[ -s "$W/hook.log" ] || fail "the hook was not reached: $(cat "$W/out2")"
child() { for p in $(ps -o pid= --ppid "$mpid"); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && echo "$p"; done; }
net=$(child mailcert-net)
key=$(child mailcert-key)
[ -n "$net" ] && pass "network process running (pid $net)" || fail "no mailcert-net child of $mpid"
[ -n "$key" ] && pass "key process running (pid $key)" || fail "no mailcert-key child of $mpid"

if [ -n "$net" ]; then
    read -r _ ruid euid suid fsuid < <(grep '^Uid:' "/proc/$net/status")
    read -r _ rgid egid sgid fsgid < <(grep '^Gid:' "/proc/$net/status")
    groups=$(grep '^Groups:' "/proc/$net/status" | cut -f2 | tr -d ' ')
    for u in "$ruid" "$euid" "$suid" "$fsuid"; do [ "$u" != 0 ] || fail "network process has uid 0 ($ruid $euid $suid $fsuid)"; done
    [ "$ruid" != 0 ] && pass "network process runs as uid $ruid ($(id -nu "$ruid" 2>/dev/null))"
    for g in "$rgid" "$egid" "$sgid" "$fsgid"; do [ "$g" != 0 ] || fail "network process has gid 0"; done
    expect_eq "$groups" "" "network process has no supplementary groups"
    kgid=$(getent group mailcert | cut -d: -f3)
    [ -z "$kgid" ] || [ "$egid" != "$kgid" ] && pass "network process is not in the keys' group" ||
        fail "network process runs with the keys' group $kgid"
    expect_eq "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$net/status")" 1 "network process has no_new_privs"
    expect_eq "$(readlink "/proc/$net/cwd")" / "network process works in /"
    if ldd "$MAILCERT" | grep -q libseccomp; then
        expect_eq "$(awk '/^Seccomp:/ {print $2}' "/proc/$net/status")" 2 "network process runs under a seccomp filter"
    fi
    # no descriptor of the store or of any key
    held=$(for f in /proc/"$net"/fd/*; do readlink "$f"; done 2>/dev/null | grep -e "$W/store" -e 'key\.pem' -e 'cert\.pem' || true)
    expect_eq "$held" "" "network process holds no descriptor of the store or a key"
    # every key file: by its owner, group and mode, and by trying
    nkeys=0
    while IFS= read -r f; do
        nkeys=$((nkeys + 1))
        read -r mode owner group < <(stat -c '%a %u %g' "$f")
        readable=no
        [ "$owner" = "$euid" ] && [ $((0$mode & 0400)) -ne 0 ] && readable=yes
        [ "$group" = "$egid" ] && [ $((0$mode & 040)) -ne 0 ] && readable=yes
        [ $((0$mode & 04)) -ne 0 ] && readable=yes
        [ "$readable" = no ] || fail "$f ($mode $owner:$group) is readable with the network process's credentials"
        if setpriv --reuid="$euid" --regid="$egid" --clear-groups cat "$f" >/dev/null 2>&1; then
            fail "$f can be read with the network process's credentials"
        fi
    done < <(find "$W/store" -name key.pem -o -name cert.pem)
    [ "$nkeys" -ge 3 ] && pass "none of the $nkeys key files can be opened with the network process's credentials" ||
        fail "only $nkeys key files found"
    # no copy of the account key in its memory
    akey=$(ls "$W"/store/accounts/*/key.pem | head -1)
    python3 "$TOP_SRCDIR/tests/lib/memscan.py" --perm r "$net" -- "eckey:account key:$akey" > "$W/scan" 2>&1
    if [ $? = 0 ]; then pass "no copy of the account key in the network process ($(tail -1 "$W/scan"))"
    else fail "account key material in the network process: $(cat "$W/scan")"; fi
    # the same search finds the key where it is meant to be: the scan can fail
    if [ -n "$key" ]; then
        python3 "$TOP_SRCDIR/tests/lib/memscan.py" --perm r "$key" -- "eckey:account key:$akey" > "$W/scan-key" 2>&1 &&
            fail "the memory search did not find the account key in the key process either: $(cat "$W/scan-key")" ||
            pass "control: the same search finds the account key in the key process ($(grep -c ' at 0x' "$W/scan-key") copies)"
    fi
fi

if [ -n "$key" ]; then
    nsock=0
    for f in /proc/"$key"/fd/*; do
        l=$(readlink "$f" 2>/dev/null) || continue
        case $l in
            socket:\[*\])
                nsock=$((nsock + 1))
                ino=${l#socket:[}; ino=${ino%]}
                awk -v i="$ino" '$7 == i {found=1} END {exit !found}' "/proc/$key/net/unix" ||
                    fail "key process holds a socket that is not AF_UNIX ($l)"
                ;;
        esac
        case $l in *"$W/store/certs"*|*"$W/store/versions"*) fail "key process holds a store file: $l" ;; esac
    done
    [ "$nsock" -ge 1 ] && pass "key process holds only AF_UNIX sockets ($nsock)" || fail "key process has no socket at all"
    expect_eq "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$key/status")" 1 "key process has no_new_privs"
    expect_eq "$(awk '/^CapEff:/ {print $2}' "/proc/$key/status")" 0000000000000000 "key process has no capabilities"
    if ldd "$MAILCERT" | grep -q libseccomp; then
        expect_eq "$(awk '/^Seccomp:/ {print $2}' "/proc/$key/status")" 2 "key process runs under a seccomp filter"
    fi
    expect_eq "$(awk '/^CapBnd:/ {print $2}' "/proc/$key/status")" 0000000000000000 "key process cannot regain capabilities"
fi
# what each process says it put in place (-v)
if python3 -c 'import ctypes, sys; sys.exit(0 if ctypes.CDLL(None).syscall(444, None, 0, 1) >= 1 else 1)'; then
    grep -q "network process: .*landlock on" "$W/out2" && pass "network process under Landlock" ||
        fail "Landlock is available but the network process did not apply it: $(grep 'network process:' "$W/out2")"
    grep -q "key process: .*landlock on" "$W/out2" && pass "key process under Landlock" ||
        fail "Landlock is available but the key process did not apply it"
else
    log "this kernel has no Landlock: not checked"
fi

touch "$W/go"
rc=0; wait "$mpid" || rc=$?
expect_eq "$rc" 0 "issue with the split exits 0: $(tail -1 "$W/out2")"
left=$(ps -eo pid=,comm= | awk '$2 ~ /^mailcert-(net|key)$/ {print $1}' | while read -r p; do
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "MAILCERT_TEST_MARK=${MAILCERT_TEST_MARK:-none}" && echo "$p"; done)
expect_eq "$left" "" "no helper process left"
pebble_root_refresh
check_set "$W/store" web.example.test "$PEBBLE_ROOT" web.example.test
check_set "$W/store" dns.example.test "$PEBBLE_ROOT" dns.example.test hold.dns.example.test
finish
