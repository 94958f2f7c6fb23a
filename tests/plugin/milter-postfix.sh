#!/bin/bash
# A real Postfix with smtpd_milters pointing at mailcert-milter delivers mail to
# smtp-sink with the milter up (and the milter counts the sessions) and with the
# milter killed (milter_default_action = accept, as conf.d/ recommends).
. "$(dirname "$0")/lib.sh"
command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null || skip "no smtp-source/smtp-sink"
command -v jq >/dev/null || skip "no jq"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"

STORE=$T/store
ca_make "$T/ca"
leaf_make "$T/ca" "$T/a" 10 a.test
store_put_set "$STORE" a.test "$T/ca" "$T/a"
read -r SMTP SMTPS SINK < <(freeport 3 | tr '\n' ' ')
mkdir -p "$T/sink"
chown postfix "$T/sink"
smtp-sink -u postfix -d "$T/sink/msg." "127.0.0.1:$SINK" 100 >"$T/sink.log" 2>&1 &
SINK_PID=$!
on_exit "kill $SINK_PID 2>/dev/null"
wait_port 127.0.0.1 "$SINK" 10 || die "smtp-sink did not start"

SOCK=$T/milter.sock
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS" \
    "smtpd_milters = unix:$SOCK" "milter_default_action = accept" \
    "relayhost = [127.0.0.1]:$SINK" "smtp_tls_security_level = none"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes" a.test
milter_start "$T/mailcert.conf" -p "unix:$SOCK"
wait_for 60 test -S "$SOCK" || die "no milter socket: $(cat "$T/milter.log")"
# the socket is 0660, group postfix: smtpd connects without any help
[ "$(stat -c %G "$SOCK")" = postfix ] || die "socket group is $(stat -c %G "$SOCK"), not postfix"

delivered() { find "$T/sink" -name 'msg.*' | wc -l; }
delivered_ge() { [ "$(delivered)" -ge "$1" ]; }
send() { # N
    smtp-source -m "$1" -s 1 -f sender@client.test -t rcpt@dest.test "127.0.0.1:$SMTP" \
        >>"$T/source.log" 2>&1
}
fail=0
send 5 || die "smtp-source failed: $(cat "$T/source.log")"
if wait_for 60 delivered_ge 5; then
    log "ok   5 messages delivered through Postfix with the milter up"
else
    log "FAIL only $(delivered) of 5 delivered with the milter up"
    fail=1
fi
sessions() { jq -r '[.listeners[] | .sessions] | add // 0' "$STORE/run/milter.json" 2>/dev/null; }
sessions_ge() { [ "$(sessions)" -ge "$1" ]; }
if wait_for 60 sessions_ge 5; then
    log "ok   the milter counted $(sessions) sessions: $(jq -c .listeners "$STORE/run/milter.json")"
else
    log "FAIL the milter counted $(sessions) sessions"
    fail=1
fi

# a STARTTLS session: the HELO after STARTTLS carries {tls_version} and {cipher}
python3 - "$SMTP" <<'PY' || log "STARTTLS session failed"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.test")
s.starttls(context=ctx)
s.ehlo("client.test")
s.quit()
PY
tls() { jq -r '[.listeners[] | .tls_sessions] | add // 0' "$STORE/run/milter.json" 2>/dev/null; }
tls_ge() { [ "$(tls)" -ge "$1" ]; }
if wait_for 60 tls_ge 1; then
    log "ok   the milter counted TLS: $(jq -c .listeners "$STORE/run/milter.json")"
else
    log "FAIL no TLS session counted: $(jq -c .listeners "$STORE/run/milter.json")"
    fail=1
fi

kill -9 "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null
send 5 || { log "FAIL smtp-source failed with the milter killed: $(tail -3 "$T/source.log")"; fail=1; }
if wait_for 60 delivered_ge 10; then
    log "ok   5 more messages delivered with the milter killed"
else
    log "FAIL only $(($(delivered) - 5)) of 5 delivered with the milter killed"
    fail=1
fi
[ $fail = 0 ] || tail -20 "$T/pf/postfix.log" >&2
exit $fail
