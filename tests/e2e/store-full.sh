#!/bin/bash
# A full disk during a renewal: the store on a small tmpfs, filled up before a forced
# renewal against a real Pebble. The renewal fails with an error that says so, the
# installed set stays byte for byte what it was (and still verifies), nothing
# half-written is left, and once there is room again the next run installs.
. "$(dirname "$0")/e2e.sh"
set -u
[ "$(id -u)" = 0 ] || { log "SKIP: needs root (mounts a tmpfs)"; exit 77; }
e2e_workdir
mkdir -p "$W/store"
if ! mount -t tmpfs -o size=2m,mode=0755 mailcert-test "$W/store" 2>"$W/mount.err"; then
    log "SKIP: cannot mount a tmpfs here: $(cat "$W/mount.err")"
    exit 77
fi
on_exit "umount -l '$W/store' 2>/dev/null"
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" full.example.test
"$MAILCERT" -c "$conf" issue > "$W/out1" 2>&1 || fail "first issue: $(tail -3 "$W/out1")"
pebble_root_refresh
check_set "$W/store" full.example.test "$PEBBLE_ROOT" full.example.test
before=$(set_digest "$W/store" full.example.test)

# fill the disk to the last block
dd if=/dev/zero of="$W/store/filler" bs=4k 2>/dev/null
dd if=/dev/zero of="$W/store/filler2" bs=64 2>/dev/null
avail=$(df --output=avail -k "$W/store" | tail -1 | tr -d ' ')
expect_eq "$avail" 0 "the store's disk is full"

"$MAILCERT" -c "$conf" issue --force > "$W/out2" 2>&1; rc=$?
expect_eq "$rc" 1 "a renewal on a full disk fails"
grep -q "full.example.test: .*No space left on device" "$W/out2" && pass "the error says the disk is full" ||
    fail "error: $(grep -i error "$W/out2" | head -3)"
expect_eq "$(set_digest "$W/store" full.example.test)" "$before" "the installed set is untouched"
check_set "$W/store" full.example.test "$PEBBLE_ROOT" full.example.test
t=$(find "$W/store" -name '.*.tmp.*' -o -name '.*.new.*')
expect_eq "$t" "" "nothing half-written is left"
"$MAILCERT" -c "$conf" status > "$W/st" 2>&1
grep -q "^full.example.test" "$W/st" && pass "status still reads the store" || fail "status: $(cat "$W/st")"

# room again: the next run installs
rm -f "$W/store/filler" "$W/store/filler2"
"$MAILCERT" -c "$conf" issue --force > "$W/out3" 2>&1 || fail "issue with room again: $(tail -3 "$W/out3")"
[ "$(set_digest "$W/store" full.example.test)" != "$before" ] && pass "with room again a new set is installed" ||
    fail "no new set after the disk had room again"
check_set "$W/store" full.example.test "$PEBBLE_ROOT" full.example.test
finish
