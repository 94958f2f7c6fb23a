#!/bin/bash
# The README's first command, scripts/demo, without its installation and build (it
# uses the binaries under test): issues from a throwaway Pebble, starts Postfix and
# Dovecot on free loopback ports and mailcert-milter, and shows what each listener
# serves for each name.
#  - It exits 0 and ends its table with "15 of 15 listener/name pairs verified"
#    (5 listeners x 3 names); every row says yes, and its serial is the current leaf
#    of the host that has the name (read here from the store the demo leaves);
#    `mailcert status` in it says SERVED ok for both hosts; nothing it started is
#    left running (the harness fails a test that leaves processes).
#  - With a mailcert-milter that loads nothing, the demo exits non-zero, says
#    FAILED, and its table counts fewer verified pairs than pairs.
. "$(dirname "$0")/e2e.sh"
[ "$(id -u)" = 0 ] || { log "SKIP: needs root (throwaway Postfix and Dovecot)"; exit 77; }
e2e_workdir
chmod 755 "$W"
build=$W/build
mkdir -p "$build/helpers" "$build/plugin"
ln -s "$MAILCERT" "$build/helpers/mailcert"
ln -s "$MAILCERT_MILTER" "$build/plugin/mailcert-milter"

serial_of() {
    openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f' | sed 's/^0*//'
}

out=$W/demo.out
DEMO_BUILD=$build DEMO_DIR=$W/demo "$TOP_SRCDIR/scripts/demo" >"$out" 2>&1
rc=$?
expect_eq "$rc" 0 "the demo exits 0"
expect_eq "$(grep -c ' listener/name pairs verified$' "$out")" 1 "one verified line"
grep -q '^15 of 15 listener/name pairs verified$' "$out" && pass "15 of 15 pairs verified" ||
    fail "not 15 of 15: $(grep 'pairs verified' "$out")"
M=$(serial_of "$W/demo/store/certs/mail.example.test/cert.pem")
I=$(serial_of "$W/demo/store/certs/imap.example.test/cert.pem")
[ -n "$M" ] && [ -n "$I" ] && [ "$M" != "$I" ] && pass "two sets in the store" || fail "store sets: '$M' '$I'"
rows=0
while read -r lst port name serial verified; do
    case $name in imap.example.test) want=$I ;; *) want=$M ;; esac
    rows=$((rows + 1))
    [ "$serial" = "$want" ] && [ "$verified" = yes ] ||
        fail "row $lst $port $name: serial $serial verified $verified (want $want yes)"
done < <(grep -E '^(smtp|smtps|imap|imaps|pop3s) +[0-9]+ ' "$out")
expect_eq "$rows" 15 "15 table rows"
for l in smtp smtps imap imaps pop3s; do
    expect_eq "$(grep -cE "^$l +[0-9]+ .* yes$" "$out")" 3 "$l: 3 names verified"
done
for h in mail.example.test imap.example.test; do
    # (STATUS may go on: "ok; renewal ... in the CA's window ..." with a CA that has ARI)
    grep -qE "^$h +yes .* yes +ok +ok(;.*)?$" "$out" && pass "status: $h loaded, served ok" ||
        fail "status line for $h: $(grep "^$h " "$out")"
done
if [ "$FAILURES" -gt 0 ]; then cat "$out" >&2; fi

# from a folder the mail servers' users cannot reach (a clone in /root, 0700 on
# Debian): the demo runs where they can, and DEMO_DIR links to it
mkdir -m 700 "$W/closed"
out3=$W/demo-closed.out
DEMO_BUILD=$build DEMO_DIR=$W/closed/demo "$TOP_SRCDIR/scripts/demo" >"$out3" 2>&1
rc=$?
expect_eq "$rc" 0 "from a 0700 folder, the demo exits 0"
grep -q '^15 of 15 listener/name pairs verified$' "$out3" && pass "from a 0700 folder: 15 of 15 pairs verified" ||
    { fail "from a 0700 folder: $(grep -E 'pairs verified|FAILED|Permission' "$out3" | head -3)"; tail -20 "$out3" >&2; }
[ -L "$W/closed/demo" ] && [ -s "$W/closed/demo/store/certs/mail.example.test/cert.pem" ] &&
    pass "the demo's folder is reachable through DEMO_DIR" || fail "DEMO_DIR: $(ls -la "$W/closed")"
rm -rf "$(readlink "$W/closed/demo")"

# a milter that loads nothing: nothing is served, and the demo says so
cat >"$W/idle-milter" <<'SH'
#!/bin/sh
trap 'exit 0' TERM
while :; do sleep 0.2; done
SH
chmod 755 "$W/idle-milter"
ln -sf "$W/idle-milter" "$build/plugin/mailcert-milter"
out2=$W/demo-broken.out
DEMO_WAIT=3 DEMO_BUILD=$build DEMO_DIR=$W/demo2 "$TOP_SRCDIR/scripts/demo" >"$out2" 2>&1
rc=$?
[ "$rc" -ne 0 ] && pass "without loading, the demo exits $rc" || fail "without loading, the demo exits 0"
grep -q '^== FAILED' "$out2" && pass "it says FAILED" || fail "no FAILED line"
line=$(grep ' listener/name pairs verified$' "$out2")
case $line in
    "15 of 15 "*) fail "without loading: $line" ;;
    *" of 15 listener/name pairs verified") pass "without loading: $line" ;;
    *) fail "no count line without loading: '$line'" ;;
esac
finish
