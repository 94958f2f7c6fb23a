#!/bin/bash
# Notifications (notify { }), against a real Pebble and the real postconf/postmap with a
# Postfix configuration made here; a stand-in sendmail keeps each message and its argv.
#  - recipients: {domain} is the host's name or the first parent domain Postfix
#    receives mail for (mydestination with $mydomain expanded, a plain /file, a hash:
#    table of virtual_mailbox_domains, a regexp: table of virtual_alias_domains);
#    none found: notify.contact and acme.email only;
#  - a digest for the addresses that would get news of more than 5 hosts in one run;
#  - RFC 5322 messages (python3's email module): Auto-Submitted, Date, Message-ID,
#    From mailcert@myhostname, To = the recipients given to sendmail, no header
#    injected from an error message, wrapped ASCII body naming `mailcert status HOST`;
#  - failures: a host without a certificate at once, at most one mail per hour
#    (MAILCERT_NOW moves the clock); a host with one only after an hour;
#  - expiry warnings once per threshold; a refused set and a wrong served certificate
#    read from STORE/run/milter.json, once each;
#  - a failing sendmail is logged and the run still succeeds; sendmail = "" sends
#    nothing; a bad address is a FILE:LINE error.
. "$(dirname "$0")/e2e.sh"
set -u
need_test_hooks
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"

# --- Postfix's view of the domains hosted here
PF=$W/postfix
mkdir -p "$PF"
: >"$PF/master.cf"
echo "filed.test" >"$PF/local-domains"
printf 'virt.test\tOK\n' >"$PF/vdomains"
# a table that cannot be listed (postmap -s): asked name by name with postmap -q
printf '/^nocert\\.hosted\\.test$/ OK\n' >"$PF/vregexp"
cat >"$PF/main.cf" <<EOF
compatibility_level = 3.6
myhostname = mx.notify.test
mydomain = hosted.test
mydestination = \$myhostname, localhost.\$mydomain, \$mydomain, $PF/local-domains
virtual_mailbox_domains = hash:$PF/vdomains
virtual_alias_domains = regexp:$PF/vregexp
EOF
postmap -c "$PF" "hash:$PF/vdomains" || fail "postmap of the test table"

# --- the stand-in sendmail: one NAME.argv and NAME.eml per message
mkdir -p "$W/mail" "$W/batch"
cat >"$W/sendmail" <<EOF
#!/bin/sh
n=\$(date +%s%N).\$\$
printf '%s\n' "\$@" >"$W/mail/\$n.argv"
cat >"$W/mail/\$n.eml"
EOF
chmod 755 "$W/sendmail"
printf '#!/bin/sh\ncat >/dev/null\necho "mail system down" >&2\nexit 75\n' >"$W/sendmail-fails"
chmod 755 "$W/sendmail-fails"
# the dns-01 hook of the failing hosts: its message carries a header to inject
printf '#!/bin/sh\nprintf "some detail\\nDNS provider refused the record\\rBcc: intruder@evil.test\\r\\n"\nexit 1\n' >"$W/hook"
chmod 755 "$W/hook"

conf=$W/mailcert.conf
OK_HOSTS="mail.hosted.test smtp.sub.virt.test mx.filed.test mx.elsewhere.test a1.elsewhere.test a2.elsewhere.test"
E2E_NOTIFY="notify {
  sendmail = \"$W/sendmail\"
  contact = \"certs@ops.example\"
}" e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" $OK_HOSTS nocert.hosted.test
sed -i "s|^listeners { postfix = false  dovecot = false }|listeners { postfix = false  dovecot = false  postfix_config_dir = \"$PF\" }|" "$conf"
sed -i 's|host "nocert.hosted.test" { names = {  } }|host "nocert.hosted.test" { challenge = "dns-01" }|' "$conf"
printf 'dns01 { hook = "%s" }\n' "$W/hook" >>"$conf"
"$MAILCERT" -c "$conf" check >"$W/check" 2>&1 || fail "config refused: $(cat "$W/check")"

# batch NAME CMD...: run CMD (its exit status in RC), its messages go to batch/NAME
batch() {
    local name=$1
    shift
    "$@" >"$W/$name.log" 2>&1
    RC=$?
    mkdir -p "$W/batch/$name"
    find "$W/mail" -type f -exec mv {} "$W/batch/$name/" \;
}
# mails NAME: check every message of the batch; prints "SUBJECT|RCPT,RCPT" sorted
mails() {
    python3 - "$W/batch/$1" <<'EOP'
import email, email.policy, email.utils, glob, os, re, sys
bad = []
out = []
for eml in sorted(glob.glob(os.path.join(sys.argv[1], "*.eml"))):
    raw = open(eml, "rb").read()
    argv = open(eml[:-4] + ".argv").read().split("\n")[:-1]
    m = email.message_from_bytes(raw, policy=email.policy.default)
    name = os.path.basename(eml)
    if argv[0] != "-oi" or "-t" in argv:
        bad.append(f"{name}: argv {argv}")
    rcpts = argv[1:]
    for h in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type", "Auto-Submitted"):
        if len(m.get_all(h, [])) != 1:
            bad.append(f"{name}: {h} appears {len(m.get_all(h, []))} times")
    if m["Auto-Submitted"] != "auto-generated":
        bad.append(f"{name}: Auto-Submitted {m['Auto-Submitted']}")
    if email.utils.parsedate_to_datetime(m["Date"]) is None:
        bad.append(f"{name}: Date {m['Date']}")
    if not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", m["Message-ID"]):
        bad.append(f"{name}: Message-ID {m['Message-ID']}")
    if m["From"].addresses[0].addr_spec != "mailcert@mx.notify.test":
        bad.append(f"{name}: From {m['From']}")
    if sorted(a.addr_spec for a in m["To"].addresses) != sorted(rcpts):
        bad.append(f"{name}: To {m['To']} is not argv {rcpts}")
    if m.get_content_type() != "text/plain" or m.get_content_charset() not in ("us-ascii", "utf-8"):
        bad.append(f"{name}: Content-Type {m['Content-Type']}")
    if "Bcc" in m or any("intruder" in str(v) for v in m.values()):
        bad.append(f"{name}: a header came from the error message")
    head, _, body = raw.partition(b"\n\n")
    if b"\r" in raw:
        bad.append(f"{name}: a CR in the message")
    for line in body.split(b"\n"):
        if len(line) > 78 or any(c >= 0x80 for c in line):
            bad.append(f"{name}: body line {line[:40]!r}... too long or not ASCII")
            break
    if b"mailcert status" not in body:
        bad.append(f"{name}: the body names no `mailcert status`")
    out.append(f"{m['Subject']}|{','.join(sorted(rcpts))}")
    with open(eml[:-4] + ".body", "wb") as f:
        f.write(body)
for b in bad:
    print("BAD " + b)
for o in sorted(out):
    print(o)
EOP
}
has() { # has NAME LINE: the batch's listing has exactly that line
    if grep -qxF "$2" "$W/batch/$1.list"; then pass "$1: $2"; else fail "$1: no \"$2\" in: $(cat "$W/batch/$1.list")"; fi
}
count() { # count NAME N
    expect_eq "$(grep -vc '^BAD ' "$W/batch/$1.list")" "$2" "$1: $2 message(s)"
    if grep -q '^BAD ' "$W/batch/$1.list"; then fail "$1: $(grep '^BAD ' "$W/batch/$1.list")"; else pass "$1: every message is well formed"; fi
}
listing() { mails "$1" >"$W/batch/$1.list"; }
C="certs@ops.example,postmaster@example.test"
# S ADDR...: the addresses as the listing shows them (sorted bytewise, joined by commas)
S() { printf '%s\n' "$@" | LC_ALL=C sort | paste -sd, -; }
epoch() { python3 -c 'import datetime,sys; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$1"; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=[h for h in d["hosts"] if h["host"]==sys.argv[2]][0]; print(h[sys.argv[3]])' "$@"; }

# 1. the first issue: 6 certificates, 1 failure (no certificate: mailed at once).
# certs@ and postmaster@example.test hear of 7 hosts: one digest to both; the
# hosted domains' postmasters get one mail per event of their hosts.
batch first "$MAILCERT" -c "$conf" issue
expect_eq "$RC" 1 "first issue: the dns-01 host fails"
listing first
count first 5
has first "mailcert: mail.hosted.test: certificate issued|postmaster+Alerts@hosted.test"
has first "mailcert: nocert.hosted.test: no certificate: obtaining one fails|postmaster+Alerts@nocert.hosted.test"
has first "mailcert: smtp.sub.virt.test: certificate issued|postmaster+Alerts@virt.test"
has first "mailcert: mx.filed.test: certificate issued|postmaster+Alerts@filed.test"
has first "mailcert: 7 notifications for 7 hosts|$C"
digest=$(grep -l "7 notifications for 7 hosts" "$W"/batch/first/*.eml | head -1)
for h in $OK_HOSTS nocert.hosted.test; do
    grep -q "^  $h: " "${digest%.eml}.body" && pass "digest lists $h" || fail "digest lacks $h"
done
fb=$(grep -l "Subject: mailcert: nocert.hosted.test: no certificate" "$W"/batch/first/*.eml | head -1)
tr '\n' ' ' <"${fb%.eml}.body" | tr -s ' ' | grep -q "DNS provider refused the record Bcc: intruder@evil.test" && pass "the failure mail quotes the error" ||
    fail "error not in the failure mail: $(cat "${fb%.eml}.body")"
grep -q "mailcert retry nocert.hosted.test" "${fb%.eml}.body" && pass "the failure mail says what to run" ||
    fail "no retry command in the failure mail"
grep -q "mailcert status nocert.hosted.test" "${fb%.eml}.body" && pass "the failure mail names mailcert status HOST" ||
    fail "no status command in the failure mail"
[ -f "$W/store/run/notify.json" ] && pass "what was mailed is remembered in STORE/run/notify.json" || fail "no notify.json"

"$MAILCERT" -c "$conf" status --json >"$W/s1"
t0=$(epoch "$(jget "$W/s1" nocert.hosted.test last_failure_time)")

# 2. half a minute later: nothing due, the failure in its backoff: no mail
batch quiet env MAILCERT_NOW=$((t0 + 30)) "$MAILCERT" -c "$conf" renew
listing quiet
count quiet 0
# 3. a new failure two minutes later: within the hour, no second failure mail
batch retry1 env MAILCERT_NOW=$((t0 + 120)) "$MAILCERT" -c "$conf" retry nocert.hosted.test
expect_eq "$RC" 1 "retry fails again"
listing retry1
count retry1 0
# 4. after the hour, a new failure is mailed again
batch retry2 env MAILCERT_NOW=$((t0 + 3700)) "$MAILCERT" -c "$conf" retry nocert.hosted.test
listing retry2
count retry2 1
has retry2 "mailcert: nocert.hosted.test: no certificate: obtaining one fails|$(S certs@ops.example postmaster@example.test postmaster+Alerts@nocert.hosted.test)"
grep -q "3 attempts" "$W"/batch/retry2/*.body && pass "the failure mail counts the attempts" ||
    fail "attempts not counted: $(cat "$W"/batch/retry2/*.body)"

# 5. no hosted domain: the contacts only (a forced renewal of one host)
batch elsewhere "$MAILCERT" -c "$conf" issue --force mx.elsewhere.test
expect_eq "$RC" 0 "forced renewal succeeds"
listing elsewhere
count elsewhere 1
has elsewhere "mailcert: mx.elsewhere.test: certificate renewed|$C"

# 6. a host with a certificate starts failing near its expiry: the expiry warning at
# once, the failure only once it has lasted an hour, and each once.  (A new name,
# never validated, through the failing hook: Pebble may reuse the old name's
# authorization.)
"$MAILCERT" -c "$conf" status --json >"$W/s2"
exp=$(epoch "$(jget "$W/s2" mx.filed.test cert_expiration_time)")
sed -i 's|host "mx.filed.test" { names = {  } }|host "mx.filed.test" { names = { "new.filed.test" } challenge = "dns-01" }|' "$conf"
t1=$((exp - 3 * 86400))
batch expiry1 env MAILCERT_NOW=$t1 "$MAILCERT" -c "$conf" renew mx.filed.test
expect_eq "$RC" 1 "the renewal of mx.filed.test fails"
listing expiry1
count expiry1 1
has expiry1 "mailcert: mx.filed.test: the certificate expires in 3 days|$(S certs@ops.example postmaster@example.test postmaster+Alerts@filed.test)"
batch expiry2 env MAILCERT_NOW=$((t1 + 600)) "$MAILCERT" -c "$conf" retry mx.filed.test
listing expiry2
count expiry2 0
batch expiry3 env MAILCERT_NOW=$((t1 + 3700)) "$MAILCERT" -c "$conf" retry mx.filed.test
listing expiry3
count expiry3 1
has expiry3 "mailcert: mx.filed.test: renewing the certificate fails|$(S certs@ops.example postmaster@example.test postmaster+Alerts@filed.test)"
# the next threshold (a day before expiry) is one more warning
batch expiry4 env MAILCERT_NOW=$((exp - 43200)) "$MAILCERT" -c "$conf" renew mx.filed.test
listing expiry4
has expiry4 "mailcert: mx.filed.test: the certificate expires in 12 hours|$(S certs@ops.example postmaster@example.test postmaster+Alerts@filed.test)"

# 7. what mailcert-milter wrote: a refused set and a listener serving something else
python3 - "$W/store/run/milter.json" <<'EOP'
import json, sys
json.dump({"version": 1, "pid": 1, "hosts": {
    "a1.elsewhere.test": {"serial": "01", "load_error": "key does not match\r\nBcc: intruder@evil.test",
                          "load_error_time": "2026-11-30T10:00:00Z"},
    "a2.elsewhere.test": {"serial": "02", "served": [
        {"listener": "postfix smtpd 127.0.0.1:25", "name": "a2.elsewhere.test", "result": "mismatch",
         "serial": "0badbad", "expected_serial": "02", "detail": "an older certificate\r\nBcc: x@evil.test",
         "time": "2026-11-30T10:00:00Z"},
        {"listener": "dovecot imap 127.0.0.1:993", "name": "a2.elsewhere.test", "result": "ok",
         "serial": "02", "expected_serial": "02", "detail": None, "time": "2026-11-30T10:00:00Z"}]}}},
    open(sys.argv[1], "w"))
EOP
batch milter "$MAILCERT" -c "$conf" renew a1.elsewhere.test a2.elsewhere.test
listing milter
count milter 2
has milter "mailcert: a1.elsewhere.test: mailcert-milter refused the new certificate|$C"
has milter "mailcert: a2.elsewhere.test: a listener serves the wrong certificate|$C"
grep -q "postfix smtpd 127.0.0.1:25 (SNI a2.elsewhere.test) serves serial 0badbad" "$W"/batch/milter/*.body && pass "the listener and what it serves are named" ||
    fail "listener not named: $(cat "$W"/batch/milter/*.body)"
batch milter2 "$MAILCERT" -c "$conf" renew a1.elsewhere.test a2.elsewhere.test
listing milter2
count milter2 0

# 8. a failing sendmail is logged, the run succeeds
sed -i "s|sendmail = \"$W/sendmail\"|sendmail = \"$W/sendmail-fails\"|" "$conf"
batch failing "$MAILCERT" -c "$conf" issue --force a1.elsewhere.test
expect_eq "$RC" 0 "a failing sendmail does not fail the run"
grep -q "not mailed to .*exited with status 75: mail system down" "$W/failing.log" && pass "the failing sendmail is logged" ||
    fail "not logged: $(cat "$W/failing.log")"

# 9. sendmail = "": no mail at all
sed -i "s|sendmail = \"$W/sendmail-fails\"|sendmail = \"\"|" "$conf"
batch off "$MAILCERT" -c "$conf" issue --force a2.elsewhere.test
expect_eq "$RC" 0 "issue with mail off"
listing off
count off 0

# 10. a bad address is refused where it is written
sed -i 's|contact = "certs@ops.example"|contact = "certs at ops.example"|' "$conf"
line=$(grep -n 'contact = "certs at' "$conf" | cut -d: -f1)
"$MAILCERT" -c "$conf" check >"$W/bad" 2>&1; rc=$?
expect_eq "$rc" 78 "a bad notify.contact is a configuration error"
grep -qF "$conf:$line: contact: \"certs at ops.example\" is not" "$W/bad" && pass "the error names FILE:LINE" ||
    fail "error: $(cat "$W/bad")"
finish
