#!/bin/bash
# The store never prunes a generation the MTAs still read.  mailcert-milter
# --once loads the first sets; then, with the plugin stopped, each host is
# installed twice more (mailcert self-signed): run/default.pem and every file
# named by the Postfix SNI table and the Dovecot include must still exist, and a
# Postfix or Dovecot reload must still serve what was loaded.  Once the plugin
# has moved on, the old generations are pruned after all.
. "$(dirname "$0")/lib.sh"
MAILCERT=${MAILCERT:-$PWD/helpers/mailcert}
[ -x "$MAILCERT" ] || skip "$MAILCERT not built"

STORE=$T/store
read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }

install() { # HOST
    "$MAILCERT" -c "$T/mailcert.conf" self-signed "$1" >>"$T/mailcert.log" 2>&1 ||
        die "mailcert self-signed $1: $(tail -3 "$T/mailcert.log")"
}

# every file the MTAs were given still exists
check_refs() { # WHEN
    local when=$1 p n=0
    if [ -e "$STORE/run/default.pem" ]; then
        ok "$when: run/default.pem resolves ($(readlink "$STORE/run/default.pem"))"
    else
        bad "$when: run/default.pem dangles (-> $(readlink "$STORE/run/default.pem"))"
    fi
    while read -r p; do
        n=$((n + 1))
        [ -f "$p" ] || bad "$when: postfix/sni names $p, which is gone"
    done < <(awk '!/^#/ && NF == 2 { print $2 }' "$STORE/postfix/sni")
    while read -r p; do
        n=$((n + 1))
        [ -f "$p" ] || bad "$when: dovecot/mailcert.conf names $p, which is gone"
    done < <(sed -n 's/^ *ssl_\(cert\|key\|server_cert_file\|server_key_file\) = <\{0,1\}//p' \
        "$STORE/dovecot/mailcert.conf")
    [ "$n" -ge 6 ] && ok "$when: checked $n paths in the Postfix and Dovecot files" ||
        bad "$when: only $n paths found in the Postfix and Dovecot files"
}

postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test
install a.test
install b.test
milter_once_before_dovecot "$T/mailcert.conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test
"$MILTER" -c "$T/mailcert.conf" --once >>"$T/milter.log" 2>&1 ||
    die "mailcert-milter --once: $(tail -5 "$T/milter.log")"
A1=$(serial_of "$STORE/certs/a.test/cert.pem")
B1=$(serial_of "$STORE/certs/b.test/cert.pem")
wait_for 60 serves smtp "$SMTP" "" "$A1" || die "Postfix does not serve a.test's first set"
wait_for 60 serves tls "$IMAPS" b.test "$B1" || die "Dovecot does not serve b.test's first set"
check_refs "loaded"

# the plugin is stopped: two more sets per host
for h in a.test b.test; do install "$h"; install "$h"; done
[ "$(serial_of "$STORE/certs/a.test/cert.pem")" != "$A1" ] || die "a.test did not change"
check_refs "after two installs"
# an MTA reloaded now (logrotate, the operator) still has what the plugin gave it
postfix -c "$T/pf/etc" reload >/dev/null 2>&1 || bad "postfix reload failed"
wait_for 60 serves smtp "$SMTP" "" "$A1" && ok "Postfix still serves a.test's loaded set" ||
    bad "Postfix serves '$(served_serial smtp "$SMTP")' by default, not the loaded $A1"
doveadm -c "$DC_CONF" reload >"$T/doveadm.out" 2>&1 && ok "doveadm reload" ||
    bad "doveadm reload: $(cat "$T/doveadm.out")"
wait_for 60 serves tls "$IMAPS" b.test "$B1" && ok "Dovecot still serves b.test's loaded set" ||
    bad "Dovecot serves '$(served_serial tls "$IMAPS" b.test)' for b.test, not the loaded $B1"

# the plugin catches up; the next install prunes what nothing names any more
"$MILTER" -c "$T/mailcert.conf" --once >>"$T/milter.log" 2>&1 ||
    bad "mailcert-milter --once after the installs: $(tail -5 "$T/milter.log")"
install a.test
check_refs "caught up"
n=$(find "$STORE/versions/a.test" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$n" = 2 ] && ok "a.test keeps 2 generations (current and previous, the loaded one)" ||
    bad "a.test has $n generations, want 2: $(ls "$STORE/versions/a.test" | tr '\n' ' ')"
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
