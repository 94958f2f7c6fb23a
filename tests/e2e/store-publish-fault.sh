#!/bin/bash
# A failure after the publish rename never removes the set just published: with
# fsync of a directory failing right after certs/HOST was renamed into place
# (LD_PRELOAD fault shim), certs/HOST still resolves to a complete set.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir

host=mail.example.test
store=$W/store
command -v "${CC:-cc}" >/dev/null || { log "SKIP: no C compiler for the fault shim"; exit 77; }
"${CC:-cc}" -shared -fPIC -o "$W/fault-fsync.so" "$TOP_SRCDIR/tests/e2e/fault-fsync.c" -ldl ||
    die "cannot build the fault shim"

printf 'store = "%s"\ndefault_host = "%s"\nhost "%s" {\n  source = "self-signed"\n}\n' \
    "$store" "$host" "$host" > "$W/mailcert.conf"

# complete_set DIR: every file of a set is there and the key matches the leaf
complete_set() {
    local d=$1 f
    for f in cert.pem key.pem fullchain.pem cert_auth.pem state.json; do
        [ -f "$d/$f" ] || { log "$d/$f is missing"; return 1; }
    done
    [ "$(openssl pkey -in "$d/cert.pem" -pubout 2>/dev/null)" = \
      "$(openssl x509 -in "$d/cert.pem" -noout -pubkey 2>/dev/null)" ] ||
        { log "$d/cert.pem: the key does not match the leaf"; return 1; }
}

"$MAILCERT" -c "$W/mailcert.conf" self-signed "$host" > "$W/first.out" 2>&1 ||
    die "first install failed: $(cat "$W/first.out")"
complete_set "$store/certs/$host" && pass "first set installed" || fail "first set incomplete"
first=$(readlink "$store/certs/$host")

# the second install: the fsync of certs/ after the rename fails
LD_PRELOAD=$W/fault-fsync.so MC_FAULT_FSYNC_AFTER_RENAME="/certs/$host" MC_FAULT_LOG=$W/fault.log \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "$MAILCERT" -c "$W/mailcert.conf" self-signed "$host" > "$W/second.out" 2>&1
rc=$?
log "second install (exit $rc): $(tr '\n' ' ' < "$W/second.out")"
[ -s "$W/fault.log" ] && pass "the fault was injected" || fail "the fault shim never fired"

target=$(readlink "$store/certs/$host")
if [ -n "$target" ] && [ -d "$store/certs/$host/" ]; then
    pass "certs/$host resolves ($target)"
else
    fail "certs/$host is dangling (-> $target)"
fi
complete_set "$store/certs/$host/" && pass "certs/$host is a complete set" ||
    fail "certs/$host is not a complete set"
[ "$target" != "$first" ] && pass "the new set is live" || fail "certs/$host still names the first set"
expect_eq "$rc" 0 "the install succeeded (the set went live)"
grep -qi "fsync" "$W/second.out" && pass "the fsync failure is reported" ||
    fail "no warning about the failed fsync"
finish
