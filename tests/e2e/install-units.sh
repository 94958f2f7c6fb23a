#!/bin/bash
# `make install` installs the systemd units, made for this build: ExecStart names
# the program where make installed it and passes -c with the file that program
# reads by default (where make installed the example configuration); systemd
# accepts the units; `make uninstall` removes them again.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
B=${TOP_BUILDDIR:?TOP_BUILDDIR is set by make check}
D=$W/dest

inner_make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$B" "$@" >>"$W/make.log" 2>&1; }
inner_make install DESTDIR="$D" || die "make install failed: $(tail -20 "$W/make.log")"

unitdir=$(sed -n 's/^systemdsystemunitdir = //p' "$B/Makefile")
if [ -z "$unitdir" ] || [ "$unitdir" = no ]; then
    # configured --with-systemdsystemunitdir=no: nothing may be installed
    if find "$D" -name 'mailcert*.service' -o -name 'mailcert*.timer' | grep -q .; then
        fail "units installed although configured without: $(find "$D" -name 'mailcert*.service')"
    else
        pass "configured without a unit directory: no unit installed"
    fi
    finish
fi
log "units go to $unitdir"
for u in mailcert.service mailcert-milter.service mailcert-prepare.service mailcert-renew.service mailcert-renew.timer; do
    [ -f "$D$unitdir/$u" ] && pass "$u installed in $unitdir" || fail "no $D$unitdir/$u: $(find "$D" -type f)"
done

# check_exec UNIT PROGRAM: ExecStart runs the installed PROGRAM with -c FILE, FILE
# is what that program reads by default, and make install put a configuration there
check_exec() {
    local unit=$D$unitdir/$1 prog=$2 line bin conf dflt
    line=$(sed -n 's/^ExecStart=//p' "$unit")
    read -r bin _ <<<"$line"
    case $bin in
        /*/"$prog") ;;
        *) fail "$1: ExecStart does not run $prog: $line"; return ;;
    esac
    [ -x "$D$bin" ] && pass "$1: ExecStart runs the installed $bin" || fail "$1: $bin not installed ($line)"
    conf=$(sed -n 's/.* -c \([^ ]*\).*/\1/p' <<<"$line")
    [ -n "$conf" ] || { fail "$1: ExecStart passes no -c: $line"; return; }
    dflt=$("$D$bin" --help | sed -n 's/.*(default \(.*\))$/\1/p' | head -1)
    expect_eq "$conf" "$dflt" "$1: -c names the file $prog reads by default"
    [ -f "$D$conf" ] && pass "$1: make install put a configuration at $conf" || fail "$1: nothing at $D$conf"
}
check_exec mailcert-milter.service mailcert-milter
check_exec mailcert-prepare.service mailcert-milter
grep -q -- '--prepare$' "$D$unitdir/mailcert-prepare.service" && pass "prepare: runs mailcert-milter --prepare" ||
    fail "prepare: $(grep ExecStart "$D$unitdir/mailcert-prepare.service")"
# before every MTA, which names the files it writes: a first boot cannot take one down
for m in postfix dovecot exim4 sendmail; do
    grep -Eq "^Before=.*\b$m\.service" "$D$unitdir/mailcert-prepare.service" && pass "prepare: before $m" ||
        fail "prepare: not ordered before $m.service"
done
check_exec mailcert-renew.service mailcert
check_exec mailcert.service mailcert
grep -q 'run -f$' "$D$unitdir/mailcert.service" && pass "daemon: runs mailcert run -f" || fail "daemon: $(grep ExecStart "$D$unitdir/mailcert.service")"
store=$(sed -n 's/^ReadWritePaths=\(\/.*lib\/mailcert\)$/\1/p' "$D$unitdir/mailcert.service")
case $store in
    /*/lib/mailcert) pass "daemon: the store is writable ($store)" ;;
    *) fail "daemon: ReadWritePaths: $(grep ReadWritePaths "$D$unitdir/mailcert.service")" ;;
esac

# the sandboxing and the socket survived the substitution
grep -qx 'UMask=0027' "$D$unitdir/mailcert-renew.service" && pass "renew: UMask kept" || fail "renew: no UMask=0027"
store=$(sed -n 's/^ReadWritePaths=//p' "$D$unitdir/mailcert-renew.service")
case $store in
    /*/lib/mailcert) pass "renew: ReadWritePaths=$store" ;;
    *) fail "renew: ReadWritePaths=$store" ;;
esac
grep -q -- '-p unix:/var/spool/postfix/mailcert/milter.sock$' "$D$unitdir/mailcert-milter.service" &&
    pass "milter: the socket is in Postfix's queue directory" ||
    fail "milter: $(grep ExecStart "$D$unitdir/mailcert-milter.service")"
if grep -n '@[a-z_]*@' "$D$unitdir"/mailcert-*; then fail "a template variable was left"; fi

# systemd accepts them (the program paths and man pages as seen through DESTDIR)
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$W/verify"
    for u in mailcert.service mailcert-milter.service mailcert-prepare.service mailcert-renew.service mailcert-renew.timer; do
        sed "s|^ExecStart=/|ExecStart=$D/|" "$D$unitdir/$u" >"$W/verify/$u"
    done
    mandir=$(dirname "$(find "$D" -name mailcert.8 | head -1)")
    if (cd "$W/verify" && MANPATH=${mandir%/man8} systemd-analyze verify ./mailcert.service ./mailcert-milter.service \
        ./mailcert-prepare.service ./mailcert-renew.service ./mailcert-renew.timer) >"$W/verify.log" 2>&1; then
        pass "systemd-analyze verify accepts the units"
    else
        fail "systemd-analyze verify: $(cat "$W/verify.log")"
    fi
else
    log "no systemd-analyze here: units not verified by systemd"
fi

# the configuration can hold the EAB key: installed 0640 (root's group under DESTDIR:
# a package sets the group), and group mailcert when installed for real by root
conf=$(sed -n 's/^ExecStart=.* -c \([^ ]*\).*/\1/p' "$D$unitdir/mailcert.service")
expect_eq "$(stat -c %a "$D$conf")" 640 "make install: $conf is 0640"
if [ "$(id -u)" = 0 ] && getent group mailcert >/dev/null; then
    mkdir -p "$W/etc"
    inner_make install-mailcert-conf sysconfdir="$W/etc" || fail "make install-mailcert-conf failed: $(tail -5 "$W/make.log")"
    expect_eq "$(stat -c '%a %U:%G' "$W/etc/mailcert/mailcert.conf")" "640 root:mailcert" \
        "make install without DESTDIR: the configuration is 0640 root:mailcert"
    echo "# the operator's" >"$W/etc/mailcert/mailcert.conf"
    chmod 600 "$W/etc/mailcert/mailcert.conf"
    inner_make install-mailcert-conf sysconfdir="$W/etc" || fail "make install-mailcert-conf (again) failed"
    expect_eq "$(stat -c %a "$W/etc/mailcert/mailcert.conf"):$(cat "$W/etc/mailcert/mailcert.conf")" "600:# the operator's" \
        "make install leaves an existing configuration and its mode alone"
else
    log "not root or no group mailcert: the group of an installed configuration is not checked"
fi

inner_make uninstall DESTDIR="$D" || fail "make uninstall failed: $(tail -20 "$W/make.log")"
left=$(find "$D" -name 'mailcert*.service' -o -name 'mailcert*.timer')
[ -z "$left" ] && pass "make uninstall removed the units" || fail "left after uninstall: $left"

finish
