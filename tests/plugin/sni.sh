#!/bin/bash
# Three hosts (one with several names) and a wildcard host are served by SNI on SMTP STARTTLS, SMTPS,
# IMAP STARTTLS, IMAPS and POP3S, each verifying against the test root; without
# SNI, or with an unknown name, default_host's certificate is served.  The
# compiled SNI map is not readable by others and milter.json says what is loaded.
. "$(dirname "$0")/lib.sh"

ca_make "$T/ca"
STORE=$T/store
leaf_make "$T/ca" "$T/a" 10 a.test
leaf_make "$T/ca" "$T/b" 10 b.test mail.b.test smtp.b.test
leaf_make "$T/ca" "$T/c" 10 c.test
leaf_make "$T/ca" "$T/w" 10 '*.w.test'
store_put_set "$STORE" a.test "$T/ca" "$T/a"
store_put_set "$STORE" b.test "$T/ca" "$T/b"
store_put_set "$STORE" c.test "$T/ca" "$T/c"
store_put_set "$STORE" _wildcard.w.test "$T/ca" "$T/w"

read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
write_conf "$T/mailcert.conf" "$STORE" b.test "postfix=yes dovecot=yes" a.test b.test c.test
# Dovecot refuses to start with ssl = yes and no certificate: generate first
milter_once_before_dovecot "$T/mailcert.conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
write_conf "$T/mailcert.conf" "$STORE" b.test "postfix=yes dovecot=yes" a.test b.test c.test
"$MILTER" -c "$T/mailcert.conf" --once >>"$T/milter.log" 2>&1 ||
    die "mailcert-milter --once failed: $(tail -5 "$T/milter.log")"

fail=0
check() { # MODE PORT NAME WANT [CA]
    local got
    got=$(served_serial "$1" "$2" "$3" "${5:-}")
    if [ "$got" = "$4" ]; then
        log "ok   $1:$2 sni=${3:-none} serial $got"
    else
        log "FAIL $1:$2 sni=${3:-none} served '${got}', want $4"
        fail=1
    fi
}
A=$(serial_of "$T/a.pem")
B=$(serial_of "$T/b.pem")
C=$(serial_of "$T/c.pem")
W=$(serial_of "$T/w.pem")
for l in "smtp $SMTP" "tls $SMTPS" "imap $IMAP" "tls $IMAPS" "tls $POP3S"; do
    set -- $l
    check "$1" "$2" a.test "$A" "$T/ca/root.pem"
    check "$1" "$2" b.test "$B" "$T/ca/root.pem"
    check "$1" "$2" mail.b.test "$B" "$T/ca/root.pem"
    check "$1" "$2" smtp.b.test "$B" "$T/ca/root.pem"
    check "$1" "$2" c.test "$C" "$T/ca/root.pem"
    check "$1" "$2" x.w.test "$W" "$T/ca/root.pem"
    check "$1" "$2" "" "$B" "$T/ca/root.pem"
    check "$1" "$2" unknown.test "$B"
done

mode=$(stat -c %a "$STORE/postfix/sni.db")
case $mode in
    *[4-7]) log "FAIL sni.db is readable by others (mode $mode)"; fail=1 ;;
    *) log "ok   sni.db mode $mode" ;;
esac
grep -q '^mail.b.test ' "$STORE/postfix/sni" || { log "FAIL sni lacks mail.b.test"; fail=1; }
grep -q 'shutdown_clients = no' "$STORE/dovecot/mailcert.conf" || { log "FAIL no shutdown_clients"; fail=1; }
for h in a.test b.test c.test; do
    for m in postfix dovecot; do
        v=$(jq -r ".hosts[\"$h\"].loaded.$m" "$STORE/run/milter.json")
        [ "$v" != null ] || { log "FAIL milter.json: $h not loaded in $m"; fail=1; }
    done
done
[ "$(jq -r .default_host "$STORE/run/milter.json")" = b.test ] || { log "FAIL default_host"; fail=1; }
[ "$(stat -c %a "$STORE/run")" = 755 ] || { log "FAIL STORE/run mode"; fail=1; }
[ $fail = 0 ] || { tail -20 "$T/milter.log" >&2; }
exit $fail
