#!/bin/bash
# A failed update of STORE/run/default.pem is an error, is retried, and is not
# taken as done: with run/default.pem blocked (a directory, so the rename fails)
# --once exits 1 naming it, and the daemon keeps trying until the link can be
# made, then points it at the default host's set.
. "$(dirname "$0")/lib.sh"

STORE=$T/store
selfsigned_make "$T/a.pem" a.test
store_put "$STORE" a.test "$T/a.pem"
write_conf "$T/mailcert.conf" "$STORE" a.test "none" a.test
want=$(readlink -f "$STORE/certs/a.test")/cert.pem
fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }

mkdir -p "$STORE/run/default.pem/blocked"
"$MILTER" -c "$T/mailcert.conf" --once >"$T/once.log" 2>&1
rc=$?
cat "$T/once.log" >>"$T/milter.log"
[ "$rc" != 0 ] && ok "--once fails (exit $rc)" || bad "--once exits 0 though run/default.pem was not made"
grep -q "default.pem" "$T/once.log" && ok "the error names run/default.pem" ||
    bad "no error about run/default.pem: $(cat "$T/once.log")"

link_right() { [ -L "$STORE/run/default.pem" ] && [ "$(readlink "$STORE/run/default.pem")" = "$want" ]; }
reported() { [ "$(grep -c "default.pem" "$T/milter.log")" -gt "$1" ]; }
before=$(grep -c "default.pem" "$T/milter.log")
milter_start "$T/mailcert.conf"
wait_for 60 reported "$before" || die "the daemon reported nothing: $(tail -5 "$T/milter.log")"
rm -rf "$STORE/run/default.pem"
# the safety rescan comes only every 60 s: well before it, the retry must have done it
wait_for 30 link_right && ok "the daemon retried: run/default.pem -> $want" ||
    bad "run/default.pem was not retried: $(ls -l "$STORE/run" | tr '\n' ' ')"
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
