#!/bin/bash
# bench/milter-scale.sh [N...] - regeneration plus reload time of mailcert-milter
# for N self-signed hosts (default: 100 1000 10000): a full `--once` pass (check
# every set, write and postmap the SNI table, write Dovecot's file, reload both),
# then, with the daemon running, one host changed among N until it is served.
# Aim: 10000 hosts under 30 s.  Run from the build directory as root.
#
# Dovecot keeps every local_name block in its config process (mailcert-milter
# raises its memory limit; the first login after a reload waits for it).  Above DOVECOT_MAX
# hosts (default 10000) only Postfix is measured.
. "$(dirname "$0")/../tests/plugin/lib.sh"
[ $# -gt 0 ] || set -- 100 1000 10000
DOVECOT_MAX=${DOVECOT_MAX:-10000}

printf '%8s  %-16s  %10s  %12s  %14s\n' hosts listeners "mkhosts(s)" "--once(ms)" "1 change(ms)"
for N in "$@"; do
    W=$T/n$N
    STORE=$W/store
    mkdir -p "$W"
    g0=$(date +%s)
    bash "$srcdir/tests/plugin/mkhosts.sh" "$STORE" "$N" || die "mkhosts $N"
    gen=$(($(date +%s) - g0))
    read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
    unset PF_DIR DC_CONF
    postfix_start "$W/pf" "$STORE" "$SMTP" "$SMTPS"
    if [ "$N" -le "$DOVECOT_MAX" ]; then
        which="postfix=yes dovecot=yes"
        write_conf "$W/mailcert.conf" "$STORE" "" "$which"
        "$MILTER" -c "$W/mailcert.conf" --once >>"$W/milter.log" 2>&1
        dovecot_start "$W/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
    else
        which="postfix=yes"
    fi
    write_conf "$W/mailcert.conf" "$STORE" "" "$which"
    rm -rf "$STORE/postfix" "$STORE/dovecot" "$STORE/run"
    t0=$(date +%s%N)
    "$MILTER" -c "$W/mailcert.conf" --once >>"$W/milter.log" 2>&1 || die "--once failed for $N"
    once=$((($(date +%s%N) - t0) / 1000000))
    # one change among N, daemon running
    "$MILTER" -f -c "$W/mailcert.conf" >"$W/daemon.log" 2>&1 &
    pid=$!
    on_exit "kill $pid 2>/dev/null"
    sleep 1
    until grep -q 'postfix reloaded' "$W/daemon.log"; do sleep 0.1; done
    sleep 0.5
    h=$(printf 'h%05d.bulk.test' $((N / 2)))
    selfsigned_make "$W/new.pem" "$h"
    want=$(serial_of "$W/new.pem")
    t0=$(date +%s%N)
    store_put "$STORE" "$h" "$W/new.pem"
    until serves smtp "$SMTP" "$h" "$want" &&
        { [ -z "${DC_CONF:-}" ] || serves tls "$IMAPS" "$h" "$want"; }; do
        [ $(($(date +%s%N) - t0)) -lt 120000000000 ] || die "change not served for $N"
        sleep 0.05
    done
    change=$((($(date +%s%N) - t0) / 1000000))
    kill "$pid"
    wait "$pid" 2>/dev/null
    postfix -c "$W/pf/etc" stop >/dev/null 2>&1
    [ -z "${DC_CONF:-}" ] || doveadm -c "$W/dc/dovecot.conf" stop >/dev/null 2>&1
    printf '%8s  %-16s  %10s  %12s  %14s\n' "$N" "${which//=yes/}" "$gen" "$once" "$change"
    rm -rf "$W"
done
