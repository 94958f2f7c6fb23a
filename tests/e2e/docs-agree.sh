#!/bin/bash
# The man pages, the README and the snippets say what the code and the units do: each
# fact is read from where it is decided (the program's source, the unit templates,
# the Debian rules, the shipped snippets) and looked for in every document that states
# it; a document that says otherwise fails the test.
#  - the milter socket: its path (mailcert-milter.service's -p), the name main.cf gives
#    it (relative to Postfix's queue directory), its group (plugin/milter.c), and no
#    document telling the operator to add Postfix to group mailcert (which reads keys);
#  - where the units are installed (packaging/debian/rules) is where the man pages say;
#  - the Dovecot step for 10-ssl.conf: the README gives the snippet's command, and it
#    covers Dovecot 2.3's and 2.4's setting names.
. "$(dirname "$0")/e2e.sh"
S=$TOP_SRCDIR
DOCS=("$S/README.md" "$S/man/mailcert.8" "$S/man/mailcert-milter.8" "$S/man/mailcert.conf.5" "$S"/conf.d/*)
# man pages as text: roff's line breaks and font escapes gone
mantext() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/^\.[A-Z]* *//' "$1" | tr '\n' ' ' | tr -s ' '; }
alltext() { local f; for f in "$@"; do case $f in *.[58]) mantext "$f" ;; *) tr '\n' ' ' <"$f" | tr -s ' ' ;; esac; echo; done; }

# ---- the socket
sock=$(sed -n 's/^ExecStart=.* -p \(unix:[^ ]*\).*/\1/p' "$S/packaging/systemd/mailcert-milter.service.in")
case $sock in unix:/var/spool/postfix/*) pass "unit: socket $sock" ;; *) fail "unit socket: '$sock'" ;; esac
rel=${sock#unix:/var/spool/postfix/}
for f in "$S/README.md" "$S/man/mailcert-milter.8"; do
    alltext "$f" | grep -qF -- "${sock}" && pass "${f#"$S"/} names the socket $sock" || fail "${f#"$S"/} does not name $sock"
    alltext "$f" | grep -qF -- "unix:$rel" && pass "${f#"$S"/}: smtpd_milters = unix:$rel" || fail "${f#"$S"/}: no unix:$rel"
done
grep -q "^#smtpd_milters = unix:$rel\$" "$S/conf.d/postfix-main.cf" && pass "postfix-main.cf: smtpd_milters = unix:$rel" ||
    fail "postfix-main.cf: $(grep smtpd_milters "$S/conf.d/postfix-main.cf")"

group=$(sed -n '/^static gid_t socket_gid/,/^}/s/.*getgrnam("\([a-z_-]*\)").*/\1/p' "$S/plugin/milter.c")
[ -n "$group" ] && pass "code: the socket's group is $group" || fail "no group found in plugin/milter.c socket_gid"
alltext "$S/man/mailcert-milter.8" | grep -qE "socket is created mode 0660, group $group " &&
    pass "mailcert-milter(8): the socket's group is $group" ||
    fail "mailcert-milter(8) socket group: $(alltext "$S/man/mailcert-milter.8" | grep -oE 'socket is created mode [0-9]+, group [a-z]+')"
alltext "$S/README.md" | grep -qE "of Postfix's group \`$group\`" && pass "README: the socket's group is $group" ||
    fail "README does not give the socket's group $group"
grep -qF "0660" "$S/packaging/systemd/mailcert-milter.service.in" && grep -q "group $group" "$S/packaging/systemd/mailcert-milter.service.in" &&
    pass "mailcert-milter.service's comment: 0660, group $group" || fail "the unit's comment disagrees on the socket"
bad=$(alltext "${DOCS[@]}" | grep -oiE "(adduser|usermod -a?G) +(mailcert +postfix|postfix +mailcert)|add (the MTA's user|postfix)[^.]* to (that|the) group( mailcert)?" || true)
[ -z "$bad" ] && pass "no document tells the operator to put Postfix in group mailcert" || fail "a document says: $bad"

# ---- the units' directory
unitdir=$(sed -n 's/.*--with-systemdsystemunitdir=\([^ ]*\).*/\1/p' "$S/packaging/debian/rules")
[ -n "$unitdir" ] && pass "Debian units go to $unitdir" || fail "no unit directory in packaging/debian/rules"
for f in "$S"/man/*.[58] "$S/README.md"; do
    other=$(alltext "$f" | grep -oE '(/usr)?/lib/systemd/system' | grep -vx -- "$unitdir" | sort -u || true)
    [ -z "$other" ] && pass "${f#"$S"/}: units only under $unitdir" || fail "${f#"$S"/} names units under $other, not $unitdir"
done

# ---- Dovecot's 10-ssl.conf step
step=$(sed -n 's/^#   \(sed -i .*10-ssl\.conf\)$/\1/p' "$S/conf.d/dovecot-99-mailcert.conf")
[ -n "$step" ] && pass "the Dovecot snippet gives the 10-ssl.conf step" || fail "no 10-ssl.conf step in the Dovecot snippet"
for n in ssl_cert ssl_key ssl_server_cert_file ssl_server_key_file; do
    grep -qF "$n" <<<"$step" && pass "the step covers $n" || fail "the step misses $n: $step"
done
alltext "$S/README.md" | grep -qF -- "$(tr -s ' ' <<<"$step")" && pass "README gives the snippet's step" ||
    fail "README's 10-ssl.conf step differs from the snippet's: $step"
e2e_workdir
printf 'ssl = yes\nssl_cert = </etc/dovecot/private/dovecot.pem\nssl_key = </etc/dovecot/private/dovecot.key\nssl_server_cert_file = /etc/dovecot/private/dovecot.pem\nssl_server_key_file = /etc/dovecot/private/dovecot.key\n' >"$W/10-ssl.conf"
eval "${step//\/etc\/dovecot\/conf.d\/10-ssl.conf/$W/10-ssl.conf}"
left=$(grep -E '^ssl_(cert|key|server_cert_file|server_key_file) =' "$W/10-ssl.conf" || true)
[ -z "$left" ] && grep -qx 'ssl = yes' "$W/10-ssl.conf" && pass "the step comments out both versions' lines, and only those" ||
    fail "after the step: $(cat "$W/10-ssl.conf")"
finish
