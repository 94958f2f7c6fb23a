#!/bin/bash
# 1000 self-signed hosts in the store: regeneration, postmap and the reloads of
# Postfix and Dovecot finish; each host is served by SNI; the compiled map is
# not readable by others.
. "$(dirname "$0")/lib.sh"
N=${MANY_HOSTS:-1000}

STORE=$T/store
bash "$srcdir/tests/plugin/mkhosts.sh" "$STORE" "$N" || die "mkhosts failed"
read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
write_conf "$T/mailcert.conf" "$STORE" "" "postfix=yes dovecot=yes"
milter_once_before_dovecot "$T/mailcert.conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
write_conf "$T/mailcert.conf" "$STORE" "" "postfix=yes dovecot=yes"
rm -rf "$STORE/postfix" "$STORE/dovecot" "$STORE/run"
t0=$(date +%s%N)
"$MILTER" -c "$T/mailcert.conf" --once >>"$T/milter.log" 2>&1 ||
    die "mailcert-milter --once failed: $(tail -5 "$T/milter.log")"
ms=$((($(date +%s%N) - t0) / 1000000))
log "ok   $N hosts: check + regeneration + postmap + both reloads took $ms ms"

fail=0
mode=$(stat -c %a "$STORE/postfix/sni.db")
case $mode in
    *[1-7]) log "FAIL sni.db mode $mode is open to others"; fail=1 ;;
    *) log "ok   sni.db mode $mode" ;;
esac
[ "$(grep -c '\.bulk\.test ' "$STORE/postfix/sni")" = "$N" ] || { log "FAIL sni has not $N lines"; fail=1; }
loaded=$(jq '[.hosts[] | select(.loaded.postfix != null and .loaded.dovecot != null)] | length' \
    "$STORE/run/milter.json")
[ "$loaded" = "$N" ] && log "ok   milter.json: $loaded hosts loaded" ||
    { log "FAIL milter.json: $loaded of $N loaded"; fail=1; }
grep -q 'vsz_limit' "$STORE/dovecot/mailcert.conf" ||
    { log "FAIL no vsz_limit for Dovecot's config process with $N names"; fail=1; }
# a second reload: Dovecot's config process must survive holding them all twice
"$MILTER" -c "$T/mailcert.conf" --once >>"$T/milter.log" 2>&1 || { log "FAIL second --once"; fail=1; }
for i in 1 $((N / 2)) "$N"; do
    h=$(printf 'h%05d.bulk.test' "$i")
    want=$(serial_of "$STORE/certs/$h/cert.pem")
    for l in "smtp $SMTP" "tls $IMAPS"; do
        set -- $l
        if serves "$1" "$2" "$h" "$want"; then log "ok   $1:$2 serves $h"; else
            log "FAIL $1:$2 serves '$(served_serial "$1" "$2" "$h")' for $h, want $want"; fail=1; fi
    done
done
exit $fail
