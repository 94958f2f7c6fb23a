#!/bin/bash
# Bad sets are refused and the old one stays served: a key that does not match,
# an expired certificate, a truncated cert.pem, an empty one.  The reason is
# recorded in milter.json (what `mailcert status` shows).  A reload caused by
# another host does not let the refused set in, even after the store pruned the
# version directory of the loaded set; a good set afterwards is served and clears
# the error.
. "$(dirname "$0")/lib.sh"

ca_make "$T/ca"
STORE=$T/store
leaf_make "$T/ca" "$T/a1" 10 a.test
leaf_make "$T/ca" "$T/b1" 10 b.test
store_put_set "$STORE" a.test "$T/ca" "$T/a1"
store_put_set "$STORE" b.test "$T/ca" "$T/b1"
A1=$(serial_of "$T/a1.pem")

read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
write_conf "$T/mailcert.conf" "$STORE" b.test "postfix=yes dovecot=yes" a.test b.test
milter_once_before_dovecot "$T/mailcert.conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
write_conf "$T/mailcert.conf" "$STORE" b.test "postfix=yes dovecot=yes" a.test b.test
milter_start "$T/mailcert.conf"
wait_for 60 serves tls "$IMAPS" a.test "$A1" || die "a.test not served at start"
A1GEN=$(readlink "$STORE/certs/a.test")

J=$STORE/run/milter.json
load_error() { jq -r '.hosts["a.test"].load_error' "$J" 2>/dev/null; }
error_matches() { load_error | grep -q -- "$1"; }

fail=0
# bump b.test so that both MTAs reload while a.test's bad set is current
n=1
bump_b() {
    n=$((n + 1))
    leaf_make "$T/ca" "$T/b$n" 10 b.test
    store_put_set "$STORE" b.test "$T/ca" "$T/b$n"
    wait_for 60 serves tls "$IMAPS" b.test "$(serial_of "$T/b$n.pem")" ||
        { log "FAIL b.test's new set was not loaded"; fail=1; }
}
expect_refused() { # WHAT PATTERN
    if wait_for 60 error_matches "$2"; then
        log "ok   $1 refused: $(load_error)"
    else
        log "FAIL $1: load_error is '$(load_error)', want /$2/"
        fail=1
    fi
    bump_b
    local l
    for l in "smtp $SMTP" "tls $SMTPS" "imap $IMAP" "tls $IMAPS" "tls $POP3S"; do
        set -- $l
        if serves "$1" "$2" a.test "$A1" "$T/ca/root.pem"; then
            :
        else
            log "FAIL $1:$2 serves '$(served_serial "$1" "$2" a.test)' instead of $A1"
            fail=1
        fi
    done
}

# key mismatch: a.test's new leaf with some other key
leaf_make "$T/ca" "$T/x" 10 a.test
leaf_make "$T/ca" "$T/y" 10 a.test
store_put "$STORE" a.test "$T/y.key" "$T/x.pem" "$T/ca/int.pem"
expect_refused "key mismatch" "does not match"

# expired
leaf_make "$T/ca" "$T/old" -1 a.test
store_put_set "$STORE" a.test "$T/ca" "$T/old"
expect_refused "expired certificate" "not valid now"

# the store prunes old versions: the loaded set must not depend on them
rm -rf "$STORE/certs/$A1GEN"
[ ! -e "$STORE/versions/a.test/${A1GEN##*/}" ] || die "could not prune"

# truncated cert.pem (cut inside the intermediate)
cat "$T/x.key" "$T/x.pem" "$T/ca/int.pem" >"$T/full.pem"
head -c $(($(stat -c %s "$T/full.pem") * 85 / 100)) "$T/full.pem" >"$T/trunc.pem"
store_put "$STORE" a.test "$T/trunc.pem"
expect_refused "truncated cert.pem" "truncated"
[ "$(jq -r '.hosts["a.test"].file' "$J")" = "$STORE/run/kept/a.test.pem" ] ||
    { log "FAIL the loaded set is not the kept copy: $(jq -r '.hosts["a.test"].file' "$J")"; fail=1; }

: >"$T/empty.pem"
store_put "$STORE" a.test "$T/empty.pem"
expect_refused "empty cert.pem" "empty"

[ "$(jq -r '.hosts["a.test"].serial' "$J" | sed 's/^0*//')" = "$A1" ] || { log "FAIL milter.json serial"; fail=1; }
[ "$(jq -r '.hosts["a.test"].load_error_time' "$J")" != null ] || { log "FAIL no load_error_time"; fail=1; }

# a good set is taken and clears the error
leaf_make "$T/ca" "$T/a3" 10 a.test
store_put_set "$STORE" a.test "$T/ca" "$T/a3"
A3=$(serial_of "$T/a3.pem")
for l in "smtp $SMTP" "tls $IMAPS"; do
    set -- $l
    wait_for 60 serves "$1" "$2" a.test "$A3" "$T/ca/root.pem" ||
        { log "FAIL $1:$2 does not serve the good set $A3"; fail=1; }
done
no_error() { [ "$(load_error)" = null ]; }
wait_for 60 no_error || { log "FAIL error not cleared: $(load_error)"; fail=1; }
[ ! -e "$STORE/run/kept/a.test.pem" ] || { log "FAIL the kept copy was not removed"; fail=1; }
[ $fail = 0 ] && log "ok   good set after bad ones is served, error cleared, kept copy gone"
[ $fail = 0 ] || tail -30 "$T/milter.log" >&2
exit $fail
