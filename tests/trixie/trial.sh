#!/bin/bash
# tests/trixie/trial.sh SRC DEBS - the Debian 13 trial, run inside a trixie root (its
# Postfix 3.10, Dovecot 2.4 and Pebble) by tests/e2e/trixie.sh, in a network namespace
# of its own: the standard mail ports are free there, and nothing leaves loopback.
# SRC holds the project's tests/lib; DEBS the packages packaging/build-deb built in
# this root.  As a newcomer would, with only what the packages install:
#  1. dpkg -i both packages: a system user mailcert, the configuration 0640
#     root:mailcert, and the files the MTAs name already there (the stand-in);
#  2. Postfix and Dovecot wired with the installed snippets exactly as documented
#     (main.cf lines with the milter, master.cf's listeners, 99-mailcert.conf and
#     its 10-ssl.conf step), and started before anything of mailcert runs: every
#     listener comes up and serves the stand-in;
#  3. a configuration for Pebble, `mailcert check` clean, `mailcert issue`, and
#     mailcert-milter as its unit runs it: every listener serves every name,
#     verified by openssl (chain and name) and, for SMTP, by posttls-finger;
#  4. a renewal is served while an IMAP, a POP3 and an SMTP session are held, and
#     each of them still answers afterwards;
#  5. notifications: while sendmail fails (EX_TEMPFAIL), the mail is kept in
#     the queue (status --json) and nothing is delivered; at the next run it is
#     sent, and Postfix delivers it to root's mailbox;
#  6. a certificate that expires while the CA is gone: every listener serves it,
#     and `mailcert status` exits 1 saying it is expired.
set -u
SRC=$1
DEBS=$2
# shellcheck source=tests/lib/pebble.sh
. "$SRC/tests/lib/pebble.sh"
fails=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fails=$((fails + 1)); }
wait_for() { # SECONDS CMD...: poll until CMD succeeds
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt "$end" ] || return 1
        sleep 0.5
    done
}
W=$(mktemp -d /var/tmp/mailcert-trial.XXXXXX)
chmod 755 "$W"
CONF=/etc/mailcert/mailcert.conf
STORE=/var/lib/mailcert
EX=/usr/share/doc/mailcert-milter/examples
ip link set lo up 2>/dev/null || true

log "Debian $(cat /etc/debian_version), Postfix $(postconf -h mail_version), Dovecot $(dovecot --version), $(openssl version)"

# ---- 1. the packages
dpkg -i "$DEBS"/mailcert_*.deb "$DEBS"/mailcert-milter_*.deb >"$W/dpkg.log" 2>&1 ||
    die "dpkg -i: $(tail -20 "$W/dpkg.log")"
ok "dpkg -i mailcert mailcert-milter"
getent passwd mailcert >/dev/null && ok "system user mailcert: $(getent passwd mailcert)" || bad "no user mailcert"
[ "$(stat -c '%a %U:%G' "$CONF")" = "640 root:mailcert" ] && ok "$CONF is 0640 root:mailcert" ||
    bad "$CONF: $(stat -c '%a %U:%G' "$CONF")"
for u in mailcert.service mailcert-milter.service mailcert-prepare.service; do
    [ -f "/usr/lib/systemd/system/$u" ] && ok "$u in /usr/lib/systemd/system" || bad "no /usr/lib/systemd/system/$u"
done

# ---- 2. Postfix and Dovecot as documented, started first
sed -e 's/^#\(smtpd_milters\|milter_default_action\) /\1 /' "$EX/postfix-main.cf" >>/etc/postfix/main.cf
postconf -e "myhostname = mail.example.test" "inet_protocols = ipv4" "maillog_file = /var/log/postfix.log"
postconf -M# smtp/inet
cat "$EX/postfix-master.cf" >>/etc/postfix/master.cf
cp "$EX/dovecot-99-mailcert.conf" /etc/dovecot/conf.d/99-mailcert.conf
step=$(sed -n 's/^#   \(sed -i .*10-ssl\.conf\)$/\1/p' "$EX/dovecot-99-mailcert.conf")
[ -n "$step" ] || die "the Dovecot snippet gives no 10-ssl.conf step"
[ -e /etc/dovecot/private/dovecot.pem ] || eval "$step"
# Debian's Dovecot logs to syslog, which this root has not: to a file
printf 'log_path = /var/log/dovecot.log\n' >/etc/dovecot/conf.d/98-trial-log.conf
newaliases 2>/dev/null
for f in localtime services resolv.conf hosts nsswitch.conf; do
    [ -e "/etc/$f" ] && mkdir -p /var/spool/postfix/etc && cp -L "/etc/$f" /var/spool/postfix/etc/
done
script -qc "postfix start" /dev/null >"$W/postfix-start.out" 2>&1 || bad "postfix start: $(cat "$W/postfix-start.out")"
dovecot >"$W/dovecot-start.out" 2>&1 || bad "dovecot start: $(cat "$W/dovecot-start.out")"
on_exit "doveadm stop >/dev/null 2>&1; postfix stop >/dev/null 2>&1"
for p in 25 587 465 143 993 110 995; do
    wait_port 127.0.0.1 "$p" 30 || bad "nothing listens on $p (started before mailcert): $(tail -3 /var/log/postfix.log /var/log/dovecot.log 2>/dev/null)"
done
serial() { # MODE PORT [NAME [CA]]: the serial served; with CA it must verify for NAME
    local mode=$1 port=$2 name=${3:-} ca=${4:-} args=()
    case $mode in smtp | imap | pop3) args+=(-starttls "$mode") ;; esac
    if [ -n "$name" ]; then args+=(-servername "$name"); else args+=(-noservername); fi
    [ -n "$ca" ] && args+=(-CAfile "$ca" -verify_return_error -verify_hostname "$name")
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" "${args[@]}" 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//' | tr 'A-F' 'a-f' | sed 's/^0*//'
}
fileserial() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f' | sed 's/^0*//'; }
LISTENERS="smtp:25 smtp:587 tls:465 imap:143 tls:993 pop3:110 tls:995"
if [ -f "$STORE/run/default.pem" ] && [ ! -L "$STORE/run/default.pem" ]; then
    standin=$(fileserial "$STORE/run/default.pem")
    for l in $LISTENERS; do
        s=$(serial "${l%%:*}" "${l#*:}")
        [ "$s" = "$standin" ] && ok "port ${l#*:} serves the stand-in before any certificate" ||
            bad "port ${l#*:} serves '$s', not the stand-in $standin"
    done
else
    bad "the package left no stand-in run/default.pem: $(ls -l "$STORE/run" 2>&1)"
fi

# ---- 3. Pebble, a configuration, issue, the milter
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
cat >"$CONF" <<EOF
store = "$STORE"
default_host = "mail.example.test"
resolver = "$PEBBLE_DNS"
acme {
  directory = "$PEBBLE_DIR_URL"
  email = "postmaster@example.test"
  agree_tos = true
  ca_bundle = "$PEBBLE_API_CA"
}
http01 {
  listen = { "127.0.0.1:$PEBBLE_HTTP_PORT" }
  public_port = $PEBBLE_HTTP_PORT
}
notify {
  sendmail = "/usr/sbin/sendmail"
  to = { "root@mail.example.test" }
}
listeners {
  postfix = true
  dovecot = true
}
host "mail.example.test" {
  names = { "smtp.example.test" }
}
host "imap.example.test" { }
EOF
mailcert check >"$W/check.out" 2>"$W/check.err" && [ ! -s "$W/check.err" ] &&
    ok "mailcert check: $(cat "$W/check.out"), no warning" || bad "mailcert check: $(cat "$W/check.out" "$W/check.err")"
mailcert issue >"$W/issue.log" 2>&1 || bad "mailcert issue: $(tail -5 "$W/issue.log")"
ARGV=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/mailcert-milter.service)
log "mailcert-milter as its unit runs it: $ARGV"
# shellcheck disable=SC2086
$ARGV >"$W/milter.log" 2>&1 &
MPID=$!
on_exit "kill $MPID 2>/dev/null; wait $MPID 2>/dev/null"
M=$(fileserial "$STORE/certs/mail.example.test/cert.pem")
I=$(fileserial "$STORE/certs/imap.example.test/cert.pem")
pairs_ok() { # the number of verified listener/name pairs
    local l n want c=0
    for l in $LISTENERS; do
        for n in mail.example.test smtp.example.test imap.example.test; do
            want=$M
            [ "$n" = imap.example.test ] && want=$I
            [ -n "$want" ] && [ "$(serial "${l%%:*}" "${l#*:}" "$n" "$PEBBLE_ROOT")" = "$want" ] && c=$((c + 1))
        done
    done
    echo "$c"
}
all_pairs() { [ "$(pairs_ok)" = 21 ]; }
if wait_for 90 all_pairs; then ok "21 of 21 listener/name pairs verified (openssl: chain to Pebble's root and name)"; else
    bad "$(pairs_ok) of 21 listener/name pairs verified: $(tail -5 "$W/milter.log")"; fi
for p in 25 587; do
    for n in mail.example.test smtp.example.test imap.example.test; do
        if posttls-finger -c -l secure -F "$PEBBLE_ROOT" -s "$n" -P /dev/null "[127.0.0.1]:$p" "$n" >"$W/ptf.out" 2>&1 &&
            grep -q 'Verified TLS connection established' "$W/ptf.out"; then
            ok "posttls-finger: port $p $n verified"
        else
            bad "posttls-finger port $p $n: $(grep -iE 'verif|error|fail' "$W/ptf.out" | head -3)"
        fi
    done
done

# ---- 4. a renewal served with sessions held (a user to log in as, through Debian's
# own Dovecot authentication: PAM)
id trial >/dev/null 2>&1 || useradd -m trial
echo trial:trialpass | chpasswd
python3 "$SRC/tests/trixie/held.py" "$W/held" 993 995 25 &
HPID=$!
wait_for 30 test -e "$W/held.ready" || bad "sessions not held: $(cat "$W/held.log" 2>/dev/null)"
mailcert issue --force mail.example.test >"$W/renew.log" 2>&1 || bad "renew: $(tail -5 "$W/renew.log")"
M2=$(fileserial "$STORE/certs/mail.example.test/cert.pem")
[ "$M2" != "$M" ] && ok "renewed: $M -> $M2" || bad "no new certificate"
M=$M2
if wait_for 90 all_pairs; then ok "the renewal is served on every listener for every name"; else
    bad "after the renewal: $(pairs_ok) of 21 pairs"; fi
touch "$W/held.go"
wait "$HPID"
hrc=$?
[ "$hrc" = 0 ] && ok "held IMAP, POP3 and SMTP sessions answer after the renewal: $(tail -1 "$W/held.log")" ||
    bad "held sessions: $(tail -5 "$W/held.log")"

# ---- 5. notifications survive a sendmail that fails.  Postfix's own sendmail,
# through a wrapper that refuses (EX_TEMPFAIL) while $W/mail-down exists, as a
# sendmail does while the MTA cannot take mail; delivery is Postfix's, into
# root's mailbox.
printf '#!/bin/sh\n[ -e "%s/mail-down" ] && { echo "sendmail-trial: mail is down" >&2; exit 75; }\nexec /usr/sbin/sendmail "$@"\n' "$W" \
    >/usr/local/sbin/sendmail-trial
chmod 755 /usr/local/sbin/sendmail-trial
sed -i 's|sendmail = "/usr/sbin/sendmail"|sendmail = "/usr/local/sbin/sendmail-trial"|' "$CONF"
mails() { grep -c '^From ' /var/mail/root 2>/dev/null || echo 0; }
queued() { mailcert status --json 2>/dev/null | jq -r '.notifications.queued // 0'; }
before=$(mails)
touch "$W/mail-down"
mailcert issue --force imap.example.test >"$W/renew2.log" 2>&1 || bad "renew imap: $(tail -5 "$W/renew2.log")"
I=$(fileserial "$STORE/certs/imap.example.test/cert.pem")
q=$(queued)
[ "${q:-0}" -ge 1 ] && ok "sendmail failed: $q notification(s) kept (status --json)" ||
    bad "nothing queued after sendmail failed: $(grep -i 'sendmail\|notif' "$W/renew2.log" | tail -3)"
sleep 2
now_mails=$(mails)
[ "$now_mails" = "$before" ] && ok "nothing was delivered while sendmail failed" ||
    bad "mail delivered while sendmail failed ($before -> $now_mails)"
rm -f "$W/mail-down"
mailcert renew >"$W/renew3.log" 2>&1 || true
more_mail() { [ "$(mails)" -gt "$before" ]; }
# the messages delivered from here on: after the BEFORE-th "From " line
new_mail() { awk -v n="$before" '/^From /{c++} c > n' /var/mail/root; }
if wait_for 60 more_mail && new_mail | grep -q 'imap.example.test'; then
    ok "the kept notification reached root's mailbox at the next run ($before -> $(mails) messages): $(new_mail | grep -m1 '^Subject:')"
else
    bad "no new notification in /var/mail/root ($before -> $(mails)): $(tail -3 /var/log/postfix.log; tail -3 "$W/renew3.log")"
fi
q=$(queued)
[ "${q:-0}" = 0 ] && ok "the queue is empty again" || bad "still queued: $q"

# ---- 6. a certificate that expires while the CA is gone
pebble_stop
PEBBLE_START_CERT_VALIDITY=40 pebble_start "$W/pebble2"
sed -i "s|directory = .*|directory = \"$PEBBLE_DIR_URL\"|; s|ca_bundle = .*|ca_bundle = \"$PEBBLE_API_CA\"|; s|resolver = .*|resolver = \"$PEBBLE_DNS\"|; s|listen = { .*|listen = { \"127.0.0.1:$PEBBLE_HTTP_PORT\" }|; s|public_port = .*|public_port = $PEBBLE_HTTP_PORT|" "$CONF"
mailcert issue --force imap.example.test >"$W/renew4.log" 2>&1 || bad "short renew: $(tail -5 "$W/renew4.log")"
short=$(fileserial "$STORE/certs/imap.example.test/cert.pem")
end=$(date -d "$(openssl x509 -in "$STORE/certs/imap.example.test/cert.pem" -noout -enddate | cut -d= -f2)" +%s)
pebble_stop
serves_short() { [ "$(serial tls 993 imap.example.test)" = "$short" ]; }
wait_for 120 serves_short || bad "the short certificate is not served: $(serial tls 993 imap.example.test), not $short"
past_end() { [ "$(date +%s)" -gt "$((end + 1))" ]; }
wait_for 120 past_end
status_fails() { mailcert status --json >"$W/status.json" 2>"$W/status.err"; [ $? = 1 ] && grep -qi 'expired' "$W/status.json"; }
kill -USR1 "$MPID"
if wait_for 120 status_fails; then
    ok "status exits 1 while an expired certificate is served: $(jq -c '.problems' "$W/status.json" 2>/dev/null | cut -c1-300)"
else
    mailcert status >"$W/status.txt" 2>&1
    bad "status with an expired certificate served: exit $?, $(cut -c1-200 "$W/status.txt" | head -8)"
fi

[ "$fails" -eq 0 ] || die "$fails check(s) failed (logs in $W)"
log "the Debian 13 trial passed"
