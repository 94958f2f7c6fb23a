#!/bin/bash
# mailcert trust: a "peer" Postfix serves a self-signed certificate on loopback
# (and relays what it accepts on to smtp-sink); `trust add 127.0.0.1:PORT --yes`
# records its SHA-256 fingerprint in STORE/postfix/tls_policy; a sending Postfix
# with conf.d/postfix-trust.cf's lines and relayhost = [127.0.0.1]:PORT delivers
# through that entry ("Verified TLS connection"); once the peer serves another
# self-signed certificate the sender defers; `trust remove` takes the entry away.
. "$(dirname "$0")/lib.sh"
MAILCERT=${MAILCERT:-$PWD/helpers/mailcert}
[ -x "$MAILCERT" ] || skip "$MAILCERT not built"
command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null || skip "no smtp-source/smtp-sink"
command -v jq >/dev/null || skip "no jq"

fail=0
ok() { log "ok   $*"; }
bad() {
    log "FAIL $*"
    fail=1
}
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }

STORE=$T/store
mkdir -p "$STORE"
read -r PSMTP PSMTPS SSMTP SSMTPS SINK < <(freeport 5 | tr '\n' ' ')

# the peer's self-signed certificate (key + certificate in one file, as Postfix takes it)
selfsigned_make "$T/peer1.pem" peer.test
selfsigned_make "$T/peer2.pem" peer.test
cp "$T/peer1.pem" "$T/peer-live.pem"
openssl x509 -in "$T/peer1.pem" -out "$T/peer1.crt"
openssl x509 -in "$T/peer2.pem" -out "$T/peer2.crt"

mkdir -p "$T/sink"
chown postfix "$T/sink"
smtp-sink -u postfix -d "$T/sink/msg." "127.0.0.1:$SINK" 100 >"$T/sink.log" 2>&1 &
SINK_PID=$!
on_exit "kill $SINK_PID 2>/dev/null"
wait_port 127.0.0.1 "$SINK" 10 || die "smtp-sink did not start"

postfix_start "$T/peer" "$STORE" "$PSMTP" "$PSMTPS" \
    "myhostname = peer.test" "smtpd_tls_chain_files = $T/peer-live.pem" "tls_server_sni_maps =" \
    "relayhost = [127.0.0.1]:$SINK" "smtp_tls_security_level = none"
PEER_DIR=$PF_DIR

# the sender: the lines of conf.d/postfix-trust.cf, with this test's store
snippet=$(sed -n 's#/var/lib/mailcert#'"$STORE"'#; /^smtp_tls_/p' "$srcdir/conf.d/postfix-trust.cf")
[ "$(printf '%s\n' "$snippet" | wc -l)" = 2 ] || die "conf.d/postfix-trust.cf: expected two smtp_tls_ lines: $snippet"
mapfile -t snippet_lines <<<"$snippet"
postfix_start "$T/sender" "$STORE" "$SSMTP" "$SSMTPS" \
    "myhostname = sender.test" "smtpd_tls_security_level = none" "tls_server_sni_maps =" \
    "relayhost = [127.0.0.1]:$PSMTP" "smtp_tls_loglevel = 1" "${snippet_lines[@]}"
SENDER_DIR=$PF_DIR

conf=$T/mailcert.conf
printf 'store = "%s"\nlisteners {\n  postfix = true\n  dovecot = false\n  postfix_config_dir = "%s"\n}\n' \
    "$STORE" "$SENDER_DIR" >"$conf"
"$MAILCERT" -c "$conf" check >"$T/check.out" 2>&1 || die "mailcert check: $(cat "$T/check.out")"
mc() { "$MAILCERT" -c "$conf" "$@"; }

# without --yes and without a terminal: refused, nothing written
mc trust add "127.0.0.1:$PSMTP" </dev/null >"$T/noyes.out" 2>&1
rc=$?
if [ $rc = 64 ] && [ ! -e "$STORE/postfix/tls_policy" ] && [ ! -e "$STORE/postfix/tls_policy.json" ] &&
    [ ! -e "$STORE/postfix/trusted-peers.pem" ] && grep -q -- --yes "$T/noyes.out"; then
    ok "no terminal, no --yes: exit 64, nothing written"
else
    bad "no terminal, no --yes: exit $rc, $(ls "$STORE/postfix" 2>&1): $(cat "$T/noyes.out")"
fi
# on a terminal it asks; anything but y/yes: exit 1, nothing written
printf 'n\n' | script -qec "$MAILCERT -c $conf trust add 127.0.0.1:$PSMTP" /dev/null >"$T/tty-no.out" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "\[y/N\]" "$T/tty-no.out" && grep -q "not confirmed" "$T/tty-no.out" &&
    [ ! -e "$STORE/postfix/tls_policy.json" ]; then
    ok "on a terminal, answered n: exit 1, nothing written"
else
    bad "on a terminal, answered n: exit $rc: $(cat "$T/tty-no.out")"
fi
# names are checked before anything is done
for t in 'bad_name!' 'a..b:25' '127.0.0.1:0' '127.0.0.1:99999' '::1:25'; do
    mc trust add "$t" --yes >"$T/badname.out" 2>&1
    rc=$?
    [ $rc = 64 ] || bad "trust add '$t': exit $rc, not 64: $(cat "$T/badname.out")"
done
mc trust add "$T/peer2.crt" --yes >"$T/nohost.out" 2>&1
rc=$?
[ $rc = 64 ] && grep -q -- --host "$T/nohost.out" || bad "trust add FILE without --host: exit $rc: $(cat "$T/nohost.out")"

# a port where nobody listens, and a server that accepts and never speaks: each its
# own error, exit 1, nothing written
read -r CLOSED SILENT < <(freeport 2 | tr '\n' ' ')
mc trust add "127.0.0.1:$CLOSED" --yes >"$T/closed.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "cannot connect" "$T/closed.out" ||
    bad "trust add to a closed port: exit $rc: $(cat "$T/closed.out")"
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
c = s.accept()[0]; time.sleep(300)' "$SILENT" &
SILENT_PID=$!
on_exit "kill $SILENT_PID 2>/dev/null"
wait_port 127.0.0.1 "$SILENT" 10 || die "the silent server did not start"
mc trust add "127.0.0.1:$SILENT" --yes >"$T/silent.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "timed out waiting for the SMTP reply" "$T/silent.out" ||
    bad "trust add to a silent server: exit $rc: $(cat "$T/silent.out")"
# a server without STARTTLS (its greeting has a control character: shown as '?')
read -r PLAIN < <(freeport 1)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
while True:  # wait_port connects too
    c = s.accept()[0]
    try:
        c.sendall(b"220 plain\x1b[31m.test\r\n")
        c.recv(1000)
        c.sendall(b"250-plain.test\r\n250 8BITMIME\r\n")
        c.recv(1000)
    except OSError:
        pass
    c.close()' "$PLAIN" &
on_exit "kill $! 2>/dev/null"
wait_port 127.0.0.1 "$PLAIN" 10 || die "the plain server did not start"
mc trust add "127.0.0.1:$PLAIN" --yes >"$T/plain.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "does not offer STARTTLS" "$T/plain.out" ||
    bad "trust add to a server without STARTTLS: exit $rc: $(cat "$T/plain.out")"
[ ! -e "$STORE/postfix/tls_policy" ] && ok "closed port, silent server, no STARTTLS: clear errors, nothing written" ||
    bad "a failed trust add wrote $(ls "$STORE/postfix")"

# the peer's certificate, fetched over STARTTLS
if mc trust add "127.0.0.1:$PSMTP" --yes </dev/null >"$T/add.out" 2>&1; then
    ok "trust add 127.0.0.1:$PSMTP: $(tr '\n' '|' <"$T/add.out")"
else
    bad "trust add 127.0.0.1:$PSMTP failed: $(cat "$T/add.out")"
fi
fp1=$(fp_of "$T/peer1.crt")
line="[127.0.0.1]:$PSMTP fingerprint match=$fp1"
if grep -qxF "$line" "$STORE/postfix/tls_policy"; then
    ok "table entry: $line"
else
    bad "no line '$line' in tls_policy: $(cat "$STORE/postfix/tls_policy" 2>&1)"
fi
grep -q "SHA-256 *$fp1" "$T/add.out" && grep -q "subject *CN=peer.test" "$T/add.out" ||
    bad "trust add did not show the subject and fingerprint: $(cat "$T/add.out")"
postmap -c "$SENDER_DIR" -q "[127.0.0.1]:$PSMTP" "hash:$STORE/postfix/tls_policy" >"$T/q.out" 2>&1
[ "$(cat "$T/q.out")" = "fingerprint match=$fp1" ] || bad "postmap -q: $(cat "$T/q.out")"
[ "$(fp_of "$STORE/postfix/trusted-peers.pem")" = "$fp1" ] || bad "trusted-peers.pem does not hold the peer's certificate"
for f in tls_policy tls_policy.db tls_policy.json trusted-peers.pem; do
    m=$(stat -c %a "$STORE/postfix/$f" 2>/dev/null)
    [ "$m" = 644 ] || bad "$f mode $m, not 644"
done
mc trust list >"$T/list.out" 2>&1 || bad "trust list failed: $(cat "$T/list.out")"
if grep -qF "[127.0.0.1]:$PSMTP" "$T/list.out" && grep -q "fingerprint *$fp1" "$T/list.out" &&
    grep -q "subject *CN=peer.test" "$T/list.out" && grep -q "added *20" "$T/list.out"; then
    ok "trust list shows it"
else
    bad "trust list: $(cat "$T/list.out")"
fi

# a second entry from a file, for a domain: both in the table, both in the CA file
# (confirmed with "y" on a terminal)
printf 'y\n' | script -qec "$MAILCERT -c $conf trust add $T/peer2.crt --host Other.Example" /dev/null \
    >"$T/addfile.out" 2>&1 || bad "trust add FILE --host, answered y: $(cat "$T/addfile.out")"
grep -qxF "other.example fingerprint match=$(fp_of "$T/peer2.crt")" "$STORE/postfix/tls_policy" ||
    bad "no other.example entry: $(cat "$STORE/postfix/tls_policy")"
n=$(grep -c 'BEGIN CERTIFICATE' "$STORE/postfix/trusted-peers.pem")
[ "$n" = 2 ] || bad "trusted-peers.pem holds $n certificates, not 2"
mc trust remove other.example >"$T/rm2.out" 2>&1 || bad "trust remove other.example: $(cat "$T/rm2.out")"
grep -q other.example "$STORE/postfix/tls_policy" && bad "other.example still in the table"

delivered() { find "$T/sink" -name 'msg.*' | wc -l; }
delivered_ge() { [ "$(delivered)" -ge "$1" ]; }
send() {
    smtp-source -m 1 -f sender@sender.test -t rcpt@dest.test "127.0.0.1:$SSMTP" >>"$T/source.log" 2>&1
}
slog=$T/sender/postfix.log
send || die "smtp-source: $(cat "$T/source.log")"
if wait_for 90 delivered_ge 1; then
    ok "delivered through the peer with the fingerprint entry"
else
    bad "nothing delivered: $(grep 'postfix/smtp\[' "$slog" | tail -5)"
fi
if wait_for 30 grep -q "Verified TLS connection established to 127.0.0.1\[127.0.0.1\]:$PSMTP" "$slog"; then
    ok "the sender logged: $(grep -o 'Verified TLS connection established to [^ ]*' "$slog" | head -1)"
else
    bad "no 'Verified TLS connection' in the sender's log: $(grep 'TLS' "$slog" | tail -3)"
fi

# the peer's certificate changes: the sender refuses to deliver
cp "$T/peer2.pem" "$T/peer-live.pem"
postfix -c "$PEER_DIR" reload >/dev/null 2>&1
wait_for 60 serves smtp "$PSMTP" "" "$(serial_of "$T/peer2.crt")" || die "the peer does not serve its new certificate"
before=$(delivered)
send || die "smtp-source: $(cat "$T/source.log")"
mismatch() { grep -q "Server certificate not verified\|certificate verification failed" "$slog"; }
if wait_for 90 mismatch; then
    ok "the sender refused the changed certificate: $(grep -o "verification failed.*" "$slog" | tail -1)"
else
    bad "no refusal in the sender's log: $(grep 'postfix/smtp\[' "$slog" | tail -5)"
fi
sleep 2
[ "$(delivered)" = "$before" ] || bad "a message reached the peer with a changed certificate"
queued=$(postqueue -c "$SENDER_DIR" -j 2>/dev/null | jq -s length)
[ "$queued" -ge 1 ] && ok "$queued message(s) deferred in the sender's queue" || bad "nothing deferred in the sender's queue"

# remove: the entry goes, the table and the CA file are rebuilt empty
mc trust remove "[127.0.0.1]:$PSMTP" >"$T/rm.out" 2>&1 || bad "trust remove: $(cat "$T/rm.out")"
if ! grep -q "fingerprint match" "$STORE/postfix/tls_policy" && ! grep -q 'BEGIN CERTIFICATE' "$STORE/postfix/trusted-peers.pem" &&
    [ -z "$(postmap -c "$SENDER_DIR" -q "[127.0.0.1]:$PSMTP" "hash:$STORE/postfix/tls_policy")" ] &&
    [ "$(jq length "$STORE/postfix/tls_policy.json")" = 0 ]; then
    ok "trust remove emptied the table, the index and the CA file"
else
    bad "after trust remove: $(cat "$STORE/postfix/tls_policy")"
fi
mc trust remove "[127.0.0.1]:$PSMTP" >"$T/rm-again.out" 2>&1 && bad "removing a missing entry succeeded"
mc trust list >"$T/list2.out" 2>&1
grep -q "no trusted peers" "$T/list2.out" || bad "trust list after remove: $(cat "$T/list2.out")"

[ $fail = 0 ] || tail -20 "$slog" >&2
exit $fail
