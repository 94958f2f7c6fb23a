#!/bin/bash
# A certificate's subjectAltName dNSNames go into the Postfix SNI table (whose
# values `postmap -F` reads as files, as root) and into Dovecot's include; a name
# that is not a hostname must reach neither.  A real certificate carries
# "evil.test /etc/shadow" (which embedded /etc/shadow in sni.db), "a\nb" (a line of
# its own), and good names: the bad names are dropped with a warning, the good
# ones are still served by Postfix and Dovecot.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "no python3"

ca_make "$T/ca"
STORE=$T/store
# the leaf, with a subjectAltName given as DER (openssl's config cannot spell "\n")
python3 - "$T/san.ext" <<'PY' || die "san.ext"
import sys
names = [b"a.test", b"evil.test /etc/shadow", b"a\nb", b"b.test", b"*.w.test",
         b"c.test\r", b"d.test;x", b"e.test"]
def tlv(tag, body):
    n = len(body)
    if n < 128:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body
der = tlv(0x30, b"".join(tlv(0x82, n) for n in names))
with open(sys.argv[1], "w") as f:
    f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=DER:" + der.hex() + "\n")
PY
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/a.key" \
    -out "$T/a.csr" -subj "/CN=a.test" 2>/dev/null || die "csr"
openssl x509 -req -in "$T/a.csr" -CA "$T/ca/int.pem" -CAkey "$T/ca/int.key" -days 10 \
    -set_serial "0x$(openssl rand -hex 12)" -extfile "$T/san.ext" -out "$T/a.pem" 2>/dev/null ||
    die "leaf"
openssl x509 -in "$T/a.pem" -noout -ext subjectAltName | grep -q 'evil.test /etc/shadow' ||
    die "the leaf does not carry the bad name: $(openssl x509 -in "$T/a.pem" -noout -ext subjectAltName)"
store_put_set "$STORE" a.test "$T/ca" "$T/a"
A=$(serial_of "$T/a.pem")

read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
DC_CONF=$T/dc/dovecot.conf # not started yet: the first reload of Dovecot fails, harmlessly
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test
milter_once_before_dovecot "$T/mailcert.conf" "$STORE"

fail=0
SNI=$STORE/postfix/sni
DC=$STORE/dovecot/mailcert.conf
[ -s "$SNI" ] && [ -s "$DC" ] || die "nothing generated: $(cat "$T/milter.log")"
good='.w.test a.test b.test e.test'
got=$(grep -v '^#' "$SNI" | awk '{ print $1 }' | sort | tr '\n' ' ')
[ "$got" = "$good " ] && log "ok   sni names: $got" || { log "FAIL sni names: '$got', want '$good '"; fail=1; }
bad=$(grep -v '^#' "$SNI" | grep -Evc "^[a-z0-9.-]+ $STORE/versions/a.test/[^ ]+/cert.pem$")
[ "$bad" = 0 ] && log "ok   every sni line is NAME FILE" || { log "FAIL $bad odd sni lines:"; cat -A "$SNI" >&2; fail=1; }
grep -q shadow "$SNI" && { log "FAIL /etc/shadow is in the sni table"; fail=1; }
if [ -n "$(postmap -c "$PF_DIR" -q evil.test "hash:$SNI" 2>/dev/null)" ]; then
    log "FAIL sni.db answers for evil.test"
    fail=1
fi
good='*.w.test a.test b.test e.test'
got=$(sed -n 's/^local_name \(.*\) {$/\1/p' "$DC" | sort | tr '\n' ' ')
[ "$got" = "$good " ] && log "ok   dovecot local_name blocks: $got" ||
    { log "FAIL dovecot local_name blocks: '$got', want '$good '"; fail=1; }
odd=$(grep -Ev '^(#.*|)$|^(shutdown_clients|service|  vsz_limit|ssl_cert|ssl_key|ssl_server_cert_file|ssl_server_key_file) |^  ssl_(cert|key) = <|^  ssl_server_(cert|key)_file = /|^local_name [*a-z0-9.-]+ \{$|^\}$' "$DC")
[ -z "$odd" ] && log "ok   no odd line in the dovecot include" || { log "FAIL odd dovecot lines: $odd"; fail=1; }
grep -Eq 'evil\.test /etc/shadow.*(not|invalid)|(not|invalid).*evil\.test /etc/shadow' "$T/milter.log" &&
    log "ok   the bad name is logged: $(grep -m1 'evil' "$T/milter.log")" ||
    { log "FAIL no warning about the bad name in the log"; fail=1; }

# the good names of the set are served
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
if "$MILTER" -v -c "$T/mailcert.conf" --once >>"$T/milter.log" 2>&1; then
    log "ok   mailcert-milter --once: both MTAs updated"
else
    log "FAIL mailcert-milter --once exited $?"
    fail=1
fi
for l in "tls $SMTPS b.test" "smtp $SMTP e.test" "tls $IMAPS b.test" "tls $POP3S x.w.test"; do
    set -- $l
    if wait_for 15 serves "$1" "$2" "$3" "$A" "$T/ca/root.pem"; then
        log "ok   $1:$2 serves a.test's set for $3"
    else
        log "FAIL $1:$2 serves '$(served_serial "$1" "$2" "$3")' for $3, want $A"
        fail=1
    fi
done
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
