#!/bin/bash
# The first hour after `make install`, on a Postfix and a Dovecot configured as
# Debian ships them, started in the order a first boot may take: the installed
# mailcert-prepare.service's command on the empty store, then Postfix and Dovecot
# (each must start and serve the self-signed stand-in), and only then the first
# certificates and mailcert-milter.  Postfix and Dovecot are as Debian ships them:
# smtpd chrooted (Debian's master.cf), Dovecot's own dovecot.conf and conf.d/ with 10-ssl.conf naming certificate files that do not
# exist.  Everything is wired exactly as the installed conf.d/ snippets say, with
# only ports and paths changed: the main.cf lines (milter lines uncommented), the
# master.cf listeners, Dovecot's 99-mailcert.conf and the step it documents for
# 10-ssl.conf.  mailcert-milter runs as the installed unit's ExecStart says (its
# -c file is the installed example configuration, plus a conf.d/ file beside it).
# Then every name is served by every listener with its chain to the test CA, the
# default set without SNI, and the chrooted smtpd reaches the milter socket.
# A second Dovecot run shows the snippet replacing 10-ssl.conf's certificate when
# those files do exist (Debian's snakeoil links).
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "no jq"
command -v dovecot >/dev/null || skip "no dovecot"
command -v postconf >/dev/null || skip "no postfix"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"
B=${TOP_BUILDDIR:-$PWD}
[ -f "$B/Makefile" ] || skip "no build folder (TOP_BUILDDIR) to install from"

fails=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fails=$((fails + 1)); }

# ---- make install (DESTDIR: this machine's /etc and /usr/local stay as they are)
D=$T/dest
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$B" install DESTDIR="$D" >"$T/install.log" 2>&1 ||
    die "make install: $(tail -20 "$T/install.log")"
UNIT=$(find "$D" -name mailcert-milter.service | head -1)
[ -n "$UNIT" ] || die "make install installed no mailcert-milter.service: $(find "$D" -type f)"
EX=$(dirname "$(find "$D" -name postfix-main.cf | head -1)")
[ -f "$EX/dovecot-99-mailcert.conf" ] || die "no installed snippets: $(find "$D" -type f)"

# ---- the unit's ExecStart: the installed program, its -c file, its socket
read -r -a ARGV <<<"$(sed -n 's/^ExecStart=//p' "$UNIT")"
log "unit: ExecStart=${ARGV[*]}"
CONF= SOCK=
for ((i = 1; i < ${#ARGV[@]}; i++)); do
    case ${ARGV[i]} in
        -c) CONF=${ARGV[i + 1]} ;;
        -p) SOCK=${ARGV[i + 1]} ;;
    esac
done
[ -x "$D${ARGV[0]}" ] || die "ExecStart names ${ARGV[0]}, which make install did not install"
[ -f "$D$CONF" ] || die "ExecStart's -c $CONF: make install put no configuration there"
case $SOCK in
    unix:/var/spool/postfix/*) ;;
    *) die "the unit's milter socket $SOCK is not in Postfix's queue directory" ;;
esac

STORE=$T/store
PF=$T/pf
DC=$T/dc
read -r SMTP SUBM SMTPS IMAP IMAPS POP3 POP3S < <(freeport 7 | tr '\n' ' ')

# ---- the configuration: the installed example, paths changed; one more host in conf.d/
sed -i -e "s|^store = \"/var/lib/mailcert\"|store = \"$STORE\"|" \
    -e "s|postfix_config_dir = \"/etc/postfix\"|postfix_config_dir = \"$PF/etc\"|" \
    -e "s|dovecot_config = \"\"|dovecot_config = \"$DC/etc/dovecot.conf\"|" "$D$CONF"
grep -q "^store = \"$STORE\"" "$D$CONF" || die "the example has no store line to change: $(grep store "$D$CONF")"
mkdir -p "$(dirname "$D$CONF")/conf.d"
printf 'host "mx2.example.net" {\n  source = "manual"\n}\n' >"$(dirname "$D$CONF")/conf.d/10-mx2.conf"
out=$("$D${ARGV[0]%-milter}" -c "$D$CONF" check 2>"$T/check.err")
[ "$out" = "configuration $D$CONF OK" ] && ok "installed mailcert check: $out" ||
    bad "installed mailcert check: $out $(cat "$T/check.err")"

# ---- the package's (and mailcert-prepare.service's) step on the empty store: every
# file the MTAs name exists before anything else runs, run/default.pem a stand-in
PUNIT=$(find "$D" -name mailcert-prepare.service | head -1)
[ -n "$PUNIT" ] || die "make install installed no mailcert-prepare.service"
read -r -a PARGV <<<"$(sed -n 's/^ExecStart=//p' "$PUNIT")"
PRUN=("$D${PARGV[0]}")
for ((i = 1; i < ${#PARGV[@]}; i++)); do
    a=${PARGV[i]}
    [ "$a" = "$CONF" ] && a=$D$CONF
    PRUN+=("$a")
done
log "prepare: ${PRUN[*]}"
mkdir -p "$PF/etc"
: >"$PF/etc/main.cf"
"${PRUN[@]}" >"$T/prepare.log" 2>&1 || bad "prepare failed: $(cat "$T/prepare.log")"
for f in run/default.pem postfix/sni.db dovecot/mailcert.conf; do
    [ -s "$STORE/$f" ] && ok "prepare wrote $f" || bad "prepare wrote no $f: $(cat "$T/prepare.log")"
done
[ -f "$STORE/run/default.pem" ] && [ ! -L "$STORE/run/default.pem" ] &&
    [ "$(stat -c '%a %G' "$STORE/run/default.pem")" = "640 mailcert" ] &&
    ok "run/default.pem: a stand-in (a regular file, 0640 root:mailcert)" ||
    bad "run/default.pem: $(ls -l "$STORE/run/default.pem")"
STANDIN_SERIAL=$(serial_of "$STORE/run/default.pem")
openssl x509 -in "$STORE/run/default.pem" -noout -subject | grep -q 'CN *= *mail.example.com' &&
    ok "the stand-in is for default_host" || bad "stand-in: $(openssl x509 -in "$STORE/run/default.pem" -noout -subject)"

# ---- Postfix as Debian ships it (master.cf with chroot y), plus the snippets
mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
chown postfix "$PF/data"
cp /usr/share/postfix/master.cf.dist "$PF/etc/master.cf"
grep -Eq '^smtp +inet +n +- +y ' "$PF/etc/master.cf" || log "note: Debian's master.cf does not chroot smtpd here"
: >"$PF/etc/main.cf"
postconf -c "$PF/etc" -e \
    "compatibility_level = 3.6" \
    "queue_directory = $PF/queue" "data_directory = $PF/data" \
    "mail_owner = postfix" "setgid_group = postdrop" \
    "inet_interfaces = loopback-only" "inet_protocols = ipv4" \
    "myhostname = first-hour.example.com" "mydestination =" \
    "alias_maps =" "alias_database =" "mynetworks = 127.0.0.0/8" \
    "maillog_file = $PF/postfix.log" "maillog_file_prefixes = $PF" || die "postconf main.cf"
# main.cf: the snippet's settings, the optional milter lines uncommented
sed -e "s|/var/lib/mailcert|$STORE|g" -e 's/^#\(smtpd_milters\|milter_default_action\) /\1 /' \
    "$EX/postfix-main.cf" >>"$PF/etc/main.cf"
log "main.cf from the snippet: $(grep -v '^#' "$EX/postfix-main.cf" | grep . | tr '\n' ';') + $(grep -E '^#(smtpd_milters|milter_default_action)' "$EX/postfix-main.cf" | tr '\n' ';')"
# master.cf: the snippet's listeners on loopback ports instead of Debian's smtp line
postconf -c "$PF/etc" -M# smtp/inet
sed -e "s/^smtp\( *\)inet/127.0.0.1:$SMTP inet/" -e "s/^submission inet/127.0.0.1:$SUBM inet/" \
    -e "s/^smtps\( *\)inet/127.0.0.1:$SMTPS inet/" "$EX/postfix-master.cf" >>"$PF/etc/master.cf"
# what Debian's init script copies into the chroot
mkdir -p "$PF/queue/etc"
for f in localtime services resolv.conf hosts host.conf nsswitch.conf; do
    [ -e "/etc/$f" ] && cp -L "/etc/$f" "$PF/queue/etc/"
done
postfix -c "$PF/etc" check >"$PF/check.out" 2>&1 || log "postfix check: $(cat "$PF/check.out")"
postfix -c "$PF/etc" set-permissions >/dev/null 2>&1
script -qc "postfix -c $PF/etc start" /dev/null >"$PF/start.out" 2>&1 ||
    die "postfix start: $(cat "$PF/start.out" "$PF/postfix.log" 2>/dev/null | tail -5)"
on_exit "postfix -c '$PF/etc' stop >/dev/null 2>&1"
for p in "$SMTP" "$SUBM" "$SMTPS"; do
    wait_port 127.0.0.1 "$p" 30 || die "postfix not listening on $p: $(tail -5 "$PF/postfix.log")"
done
chrooted=$(postconf -c "$PF/etc" -F "127.0.0.1:$SMTP/inet/chroot" | sed 's/.*= *//')
log "Postfix smtpd chroot = $chrooted"

# the stand-in is what Postfix serves before any certificate exists: smtpd does not stop
if wait_for 60 serves smtp "$SMTP" "" "$STANDIN_SERIAL"; then
    ok "Postfix, started before mailcert-milter on an empty store, serves the stand-in"
else
    bad "Postfix before the first certificate: '$(served_serial smtp "$SMTP")', not the stand-in $STANDIN_SERIAL: $(tail -3 "$PF/postfix.log")"
fi

# ---- Dovecot as Debian ships it: dovecot.conf, conf.d/ (10-ssl.conf), plus the snippet
DSRC=/etc/dovecot
[ -f "$DSRC/conf.d/10-ssl.conf" ] || DSRC=/usr/share/dovecot
mkdir -p "$DC/etc" "$DC/etc/private" "$DC/base" "$DC/state"
cp "$DSRC/dovecot.conf" "$DC/etc/" && cp -r "$DSRC/conf.d" "$DC/etc/" && cp "$DSRC"/*.ext "$DC/etc/" 2>/dev/null
[ -f "$DC/etc/conf.d/10-ssl.conf" ] || die "no 10-ssl.conf in $DSRC"
grep -q '^!include conf.d/\*.conf' "$DC/etc/dovecot.conf" || die "$DSRC/dovecot.conf does not include conf.d/*.conf"
grep -q '^!include_try local.conf' "$DC/etc/dovecot.conf" || echo '!include_try local.conf' >>"$DC/etc/dovecot.conf"
# 10-ssl.conf's files under this folder (not this machine's /etc/dovecot/private)
sed -i "s|/etc/dovecot/private/|$DC/etc/private/|" "$DC/etc/conf.d/10-ssl.conf"
grep -Eq "^(ssl_cert = <|ssl_server_cert_file = )$DC/etc/private/dovecot.pem" "$DC/etc/conf.d/10-ssl.conf" ||
    die "10-ssl.conf is not Debian's: $(grep ssl_ "$DC/etc/conf.d/10-ssl.conf")"
sed "s|/var/lib/mailcert|$STORE|g" "$EX/dovecot-99-mailcert.conf" >"$DC/etc/conf.d/99-mailcert.conf"
# a throwaway instance: its own folders, log and loopback ports
cat >"$DC/etc/local.conf" <<CONF
base_dir = $DC/base
state_dir = $DC/state
instance_name = mailcert-first-hour-$$
listen = 127.0.0.1
log_path = $DC/dovecot.log
protocols = imap pop3
service imap-login {
  inet_listener imap {
    port = $IMAP
  }
  inet_listener imaps {
    port = $IMAPS
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3
  }
  inet_listener pop3s {
    port = $POP3S
  }
}
CONF
DCONF=$DC/etc/dovecot.conf
dc_start() { dovecot -c "$DCONF" >"$DC/start.out" 2>&1; }
dc_stop() {
    local pid
    pid=$(cat "$DC/base/master.pid" 2>/dev/null) || return 0
    doveadm -c "$DCONF" stop >/dev/null 2>&1
    wait_for 30 sh -c "! kill -0 $pid 2>/dev/null" || log "dovecot $pid still running"
}
on_exit dc_stop

# 1. 10-ssl.conf's files exist (Debian's snakeoil links): the include's certificate wins
# (the stand-in: nothing is issued yet, and mailcert-milter has not run)
selfsigned_make "$DC/snakeoil.pem" first-hour.example.com
cp "$DC/snakeoil.pem" "$DC/etc/private/dovecot.pem"
cp "$DC/snakeoil.pem" "$DC/etc/private/dovecot.key"
if dc_start && wait_port 127.0.0.1 "$IMAPS" 30; then
    s=$(served_serial tls "$IMAPS")
    [ "$s" = "$STANDIN_SERIAL" ] && ok "with 10-ssl.conf's files present, Dovecot serves the stand-in, not theirs" ||
        bad "with 10-ssl.conf's files present, Dovecot serves $s, not the stand-in $STANDIN_SERIAL"
else
    bad "Dovecot did not start with 10-ssl.conf's files present: $(cat "$DC/start.out"; tail -3 "$DC/dovecot.log" 2>/dev/null)"
fi
dc_stop
rm -f "$DC/etc/private/dovecot.pem" "$DC/etc/private/dovecot.key"

# 2. the files are absent: as the snippet says, Dovecot does not start until
# 10-ssl.conf's two lines are commented out with the command it gives
if dc_start; then
    log "note: Dovecot started although 10-ssl.conf names absent files (the snippet's step may be unneeded)"
    dc_stop
else
    ok "Dovecot refuses 10-ssl.conf's absent files, as the snippet says: $(head -1 "$DC/start.out")"
fi
step=$(sed -n 's/^#   \(sed -i .*10-ssl\.conf\)$/\1/p' "$EX/dovecot-99-mailcert.conf")
[ -n "$step" ] || die "the Dovecot snippet gives no sed command for 10-ssl.conf"
step=${step//\/etc\/dovecot\/conf.d\/10-ssl.conf/$DC/etc/conf.d/10-ssl.conf}
log "the snippet's step: $step"
eval "$step" || die "the snippet's command failed: $step"
dc_start || die "Dovecot does not start after the snippet's step: $(cat "$DC/start.out"; tail -3 "$DC/dovecot.log" 2>/dev/null)"
for p in "$IMAP" "$IMAPS" "$POP3" "$POP3S"; do
    wait_port 127.0.0.1 "$p" 30 || die "dovecot not listening on $p: $(tail -5 "$DC/dovecot.log")"
done
ok "stock Debian Dovecot with 99-mailcert.conf starts before mailcert-milter ever ran"

# ---- certificates from a test CA for the example's host (3 names) and the conf.d/ one
ca_make "$T/ca"
leaf_make "$T/ca" "$T/mail" 10 mail.example.com smtp.example.com imap.example.com
leaf_make "$T/ca" "$T/mx2" 10 mx2.example.net
store_put_set "$STORE" mail.example.com "$T/ca" "$T/mail"
store_put_set "$STORE" mx2.example.net "$T/ca" "$T/mx2"
MAIL_SERIAL=$(serial_of "$T/mail.pem")
MX2_SERIAL=$(serial_of "$T/mx2.pem")

# ---- then the first certificates, and mailcert-milter exactly as the unit runs it (paths into DESTDIR, socket into the queue)
SOCKPATH=$PF/queue/${SOCK#unix:/var/spool/postfix/}
RUN=("$D${ARGV[0]}")
for ((i = 1; i < ${#ARGV[@]}; i++)); do
    a=${ARGV[i]}
    case $a in
        "$CONF") a=$D$CONF ;;
        "$SOCK") a=unix:$SOCKPATH ;;
    esac
    RUN+=("$a")
done
log "running: ${RUN[*]}"
"${RUN[@]}" >>"$T/milter.log" 2>&1 &
MILTER_PID=$!
on_exit "milter_stop $MILTER_PID"
wait_for 60 test -S "$SOCKPATH" || die "no milter socket $SOCKPATH: $(tail -5 "$T/milter.log")"
wait_for 60 test -s "$STORE/dovecot/mailcert.conf" || die "no Dovecot include: $(tail -5 "$T/milter.log")"
wait_for 60 test -e "$STORE/run/default.pem" || die "no run/default.pem: $(tail -5 "$T/milter.log")"
# the snippet's `adduser postfix mailcert`, without changing this machine's groups:
# the socket and its folder are postfix's group: the chrooted smtpd connects as is
[ "$(stat -c %G "$SOCKPATH")" = postfix ] || die "socket group: $(stat -c %G "$SOCKPATH")"
# (the milter's own check of what Postfix serves may have come before that: only
# what Postfix logs from here on counts)
PFLOG_FROM=$(($(wc -l <"$PF/postfix.log") + 1))

# ---- every name on every listener, with its chain to the test CA; no SNI: default_host
ROOT=$T/ca/root.pem
check_listener() { # LABEL MODE PORT
    local label=$1 mode=$2 port=$3 n want s
    for n in mail.example.com smtp.example.com imap.example.com mx2.example.net; do
        want=$MAIL_SERIAL
        [ "$n" = mx2.example.net ] && want=$MX2_SERIAL
        if wait_for 60 serves "$mode" "$port" "$n" "$want" "$ROOT"; then
            ok "$label serves $n (verified against the test CA)"
        else
            bad "$label serves '$(served_serial "$mode" "$port" "$n" "$ROOT")' for $n, not $want"
        fi
    done
    s=$(served_serial "$mode" "$port")
    [ "$s" = "$MAIL_SERIAL" ] && ok "$label without SNI: default_host's set" || bad "$label without SNI: '$s'"
}
check_listener "Postfix smtp (STARTTLS)" smtp "$SMTP"
check_listener "Postfix submission (STARTTLS)" smtp "$SUBM"
check_listener "Postfix smtps" tls "$SMTPS"
check_listener "Dovecot imap (STARTTLS)" imap "$IMAP"
check_listener "Dovecot imaps" tls "$IMAPS"
check_listener "Dovecot pop3 (STARTTLS)" pop3 "$POP3"
check_listener "Dovecot pop3s" tls "$POP3S"

# ---- the (chrooted) smtpd reached the milter: sessions counted, no connect errors
sessions() { jq -r '[.listeners[]? | .sessions] | add // 0' "$STORE/run/milter.json" 2>/dev/null; }
sessions_ge() { [ "$(sessions)" -ge "$1" ]; }
if wait_for 60 sessions_ge 1; then
    ok "the milter counted $(sessions) sessions from smtpd (chroot = $chrooted) on unix:mailcert/milter.sock"
else
    bad "the milter counted no session: $(grep -i milter "$PF/postfix.log" | tail -3)"
fi
if tail -n "+$PFLOG_FROM" "$PF/postfix.log" | grep -i 'milter' | grep -qi 'warning'; then
    bad "Postfix warns about the milter: $(tail -n "+$PFLOG_FROM" "$PF/postfix.log" | grep -i milter | grep -i warning | tail -3)"
else
    ok "no milter warning in Postfix's log"
fi

# ---- and mailcert status (installed) sees both hosts loaded
"$D${ARGV[0]%-milter}" -c "$D$CONF" status --json >"$T/status.json" 2>"$T/status.err"
for h in mail.example.com mx2.example.net; do
    l=$(jq -r ".hosts[] | select(.host == \"$h\") | .loaded_serial" "$T/status.json" 2>/dev/null)
    [ -n "$l" ] && [ "$l" != null ] && ok "status: $h loaded ($l)" || bad "status: $h not loaded: $(jq -c ".hosts[] | select(.host == \"$h\")" "$T/status.json")"
done

[ "$fails" -eq 0 ] || die "$fails check(s) failed (logs: $PF/postfix.log $DC/dovecot.log $T/milter.log)"
log "all checks passed"
