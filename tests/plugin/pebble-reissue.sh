#!/bin/bash
# `mailcert issue` gets certificates from a real Pebble; mailcert-milter loads them
# into Postfix and Dovecot (verified against Pebble's root on every listener).
# Reissuing one host with the milter running: the new serial is served on every
# listener within 2 s of the store change, and an SMTP session and a logged-in
# IMAP session opened before still answer NOOP more than 8 s after it.  `mailcert
# status --json` shows when each host's set was loaded.
. "$(dirname "$0")/lib.sh"
MAILCERT=${MAILCERT:-$PWD/helpers/mailcert}
[ -x "$MAILCERT" ] || skip "$MAILCERT not built"
command -v pebble >/dev/null || skip "no pebble"
command -v python3 >/dev/null || skip "no python3"
# shellcheck source=tests/lib/pebble.sh
. "$srcdir/tests/lib/pebble.sh"

export PEBBLE_VA_NOSLEEP=1
pebble_start "$T/pebble"
STORE=$T/store
read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
mkdir -p "$T/dc"
DC_CONF=$T/dc/dovecot.conf
conf=$T/mailcert.conf
pebble_mta_conf "$conf" "$STORE" 'host "mail.example.test" { names = { "smtp.example.test" } }
host "imap.example.test" { }'
"$MAILCERT" -c "$conf" issue >"$T/issue.out" 2>&1 || die "mailcert issue: $(tail -5 "$T/issue.out")"
pebble_root_refresh
ROOT=$PEBBLE_ROOT
milter_once_before_dovecot "$conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
milter_start "$conf"

leaf() { openssl x509 -in "$STORE/certs/$1/fullchain.pem" -noout -serial | sed 's/^serial=//' |
    tr 'A-F' 'a-f' | sed 's/^0*//'; }
fail=0
M1=$(leaf mail.example.test)
I1=$(leaf imap.example.test)
wait_for 60 serves tls "$IMAPS" imap.example.test "$I1" || die "imap.example.test not served"
for l in "smtp $SMTP" "tls $SMTPS" "imap $IMAP" "tls $IMAPS" "tls $POP3S"; do
    set -- $l
    for n in "mail.example.test $M1" "smtp.example.test $M1" "imap.example.test $I1"; do
        set -- "$1" "$2" $n
        if serves "$1" "$2" "$3" "$4" "$ROOT"; then log "ok   $1:$2 $3 serves Pebble's $4"; else
            log "FAIL $1:$2 $3 serves '$(served_serial "$1" "$2" "$3")', want $4"; fail=1; fi
    done
done

python3 "$srcdir/tests/plugin/sessions.py" "$SMTP" "$IMAPS" "$T/ready" "$T/changed" 9 \
    >"$T/sessions.out" 2>&1 &
SESS=$!
wait_for 60 test -e "$T/ready" || die "sessions did not open: $(cat "$T/sessions.out")"
"$MAILCERT" -c "$conf" issue --force mail.example.test >"$T/issue2.out" 2>&1 ||
    die "mailcert issue --force: $(tail -5 "$T/issue2.out")"
t0=$(date +%s%N)
touch "$T/changed"
M2=$(leaf mail.example.test)
[ "$M2" != "$M1" ] || die "reissue did not change the serial"
for l in "smtp $SMTP" "tls $SMTPS" "imap $IMAP" "tls $IMAPS" "tls $POP3S"; do
    set -- $l
    wait_for 60 serves "$1" "$2" mail.example.test "$M2" "$ROOT" ||
        { log "FAIL $1:$2 does not serve the reissued $M2"; fail=1; }
done
ms=$((($(date +%s%N) - t0) / 1000000))
# a figure, not a limit (bench/milter-latency.sh measures it)
log "info reissued certificate served everywhere after $ms ms"
serves tls "$IMAPS" "" "$M2" "$ROOT" || { log "FAIL no-SNI default is not the new set"; fail=1; }
if wait "$SESS"; then log "ok   $(tr '\n' ' ' <"$T/sessions.out")"; else
    log "FAIL sessions: $(tr '\n' ' ' <"$T/sessions.out")"; fail=1; fi

# status: "loaded" per MTA for the current set, and the listeners object
"$MAILCERT" -c "$conf" status --json >"$T/status.json" 2>&1
for m in postfix dovecot; do
    v=$(jq -r ".hosts[] | select(.host == \"mail.example.test\") | .loaded.$m" "$T/status.json" 2>/dev/null)
    case $v in
        20*Z) log "ok   status --json: mail.example.test loaded in $m at $v" ;;
        *) log "FAIL status --json: loaded.$m is '$v'"; fail=1 ;;
    esac
done
jq -e '.listeners | type == "object"' "$T/status.json" >/dev/null ||
    { log "FAIL status --json has no listeners object"; fail=1; }
[ $fail = 0 ] || tail -20 "$T/milter.log" >&2
exit $fail
