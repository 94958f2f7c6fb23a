#!/bin/bash
# `./configure && make && make install` builds programs that read the file the
# documentation names (/etc/mailcert/mailcert.conf, store /var/lib/mailcert),
# installs the example configuration there, and says which file they read; and
# configuring the same build folder again with other paths rebuilds the programs
# with the new ones (the paths live in config.h, not in compiler flags).
#
# It configures and builds the tree under test in a scratch folder of its own.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir

B=$W/build
mkdir -p "$B"
# the outer `make check` must not leak its variables (TESTS=..., -j) into ours
inner_make() { (cd "$B" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j2 "$@") >>"$W/make.log" 2>&1; }
# the two programs and the units; what the rest of `make` builds does not matter here
PROGS="helpers/mailcert plugin/mailcert-milter packaging/systemd/mailcert-milter.service
       packaging/systemd/mailcert-renew.service packaging/systemd/mailcert-renew.timer"

log "configure with no options (as README says), in $B"
(cd "$B" && "$TOP_SRCDIR/configure") >"$W/configure1.log" 2>&1 || die "configure failed: $(tail -5 "$W/configure1.log")"
# shellcheck disable=SC2086
inner_make $PROGS || die "make failed: $(tail -20 "$W/make.log")"

help=$("$B/helpers/mailcert" --help)
case $help in
    *"(default /etc/mailcert/mailcert.conf)"*) pass "mailcert --help names /etc/mailcert/mailcert.conf" ;;
    *) fail "mailcert --help: $(printf '%s' "$help" | grep -i default)" ;;
esac
help=$("$B/plugin/mailcert-milter" --help)
case $help in
    *"(default /etc/mailcert/mailcert.conf)"*) pass "mailcert-milter --help names /etc/mailcert/mailcert.conf" ;;
    *) fail "mailcert-milter --help: $(printf '%s' "$help" | grep -i default)" ;;
esac
# whatever this machine has there, check says which file it read
out=$("$B/helpers/mailcert" check 2>&1)
case $out in
    "configuration /etc/mailcert/mailcert.conf OK" | "/etc/mailcert/mailcert.conf:"*)
        pass "mailcert check reads and names /etc/mailcert/mailcert.conf: $out" ;;
    *) fail "mailcert check without -c: $out" ;;
esac

# make install puts the example where the program reads it (DESTDIR keeps this machine's /etc)
D=$W/dest
inner_make install-sbinPROGRAMS install-data-local DESTDIR="$D" ||
    die "make install failed: $(tail -20 "$W/make.log")"
[ -x "$D/usr/local/sbin/mailcert" ] && pass "mailcert installed in /usr/local/sbin" ||
    fail "no $D/usr/local/sbin/mailcert: $(find "$D" -type f)"
if [ -f "$D/etc/mailcert/mailcert.conf" ]; then
    pass "make install put the example configuration at /etc/mailcert/mailcert.conf"
else
    fail "no example at $D/etc/mailcert/mailcert.conf: $(find "$D" -type f)"
fi
[ ! -e "$D/usr/local/etc" ] && pass "nothing under /usr/local/etc" || fail "$(find "$D/usr/local/etc")"
out=$("$D/usr/local/sbin/mailcert" -c "$D/etc/mailcert/mailcert.conf" check 2>"$W/check.err") # stderr: agree_tos
expect_eq "$out" "configuration $D/etc/mailcert/mailcert.conf OK" "the installed example is valid, and check names it"

printf 'store = "%s/store"\nhost "a.example.test" {\n  source = "self-signed"\n}\n' "$W" >"$W/status.conf"
out=$("$B/helpers/mailcert" -c "$W/status.conf" status 2>"$W/status.err") # stderr: warnings about this machine
case $out in
    "configuration $W/status.conf"*) pass "status names the file it read" ;;
    *) fail "status does not name its file: $out" ;;
esac
# for later: no store key, so the store is the default, LOCALSTATEDIR/lib/mailcert
printf 'host "a.example.test" {\n  source = "self-signed"\n}\n' >"$W/nostore.conf"
grep -qx '#define LOCALSTATEDIR "/var"' "$B/config.h" && grep -qx '#define SYSCONFDIR "/etc"' "$B/config.h" &&
    pass "config.h: SYSCONFDIR /etc, LOCALSTATEDIR /var" || fail "config.h: $(grep 'STATEDIR\|SYSCONFDIR' "$B/config.h")"

log "configure the same folder again with other paths; make rebuilds with them"
(cd "$B" && "$TOP_SRCDIR/configure" --sysconfdir="$W/etc2" --localstatedir="$W/var2") \
    >"$W/configure2.log" 2>&1 || die "configure failed: $(tail -5 "$W/configure2.log")"
# shellcheck disable=SC2086
inner_make $PROGS || die "make failed: $(tail -20 "$W/make.log")"
case $("$B/helpers/mailcert" --help) in
    *"(default $W/etc2/mailcert/mailcert.conf)"*) pass "after reconfiguring, mailcert --help names the new path" ;;
    *) fail "after reconfiguring: $("$B/helpers/mailcert" --help | grep -i default)" ;;
esac
case $("$B/plugin/mailcert-milter" --help) in
    *"(default $W/etc2/mailcert/mailcert.conf)"*) pass "after reconfiguring, mailcert-milter --help names the new path" ;;
    *) fail "after reconfiguring: $("$B/plugin/mailcert-milter" --help | grep -i default)" ;;
esac
mkdir -p "$W/etc2/mailcert"
cp "$W/nostore.conf" "$W/etc2/mailcert/mailcert.conf"
out=$("$B/helpers/mailcert" check 2>"$W/check2.err") # stderr: warnings about this machine's MTAs
expect_eq "$out" "configuration $W/etc2/mailcert/mailcert.conf OK" "check without -c reads the new sysconfdir"
# no store key: the store is LOCALSTATEDIR/lib/mailcert, the new one
"$B/helpers/mailcert" self-signed a.example.test >"$W/ss.log" 2>&1 || fail "self-signed: $(cat "$W/ss.log")"
[ -s "$W/var2/lib/mailcert/certs/a.example.test/cert.pem" ] &&
    pass "the default store follows the new localstatedir" ||
    fail "no store under $W/var2/lib/mailcert: $(find "$W" -name cert.pem)"
grep -q -- "-c $W/etc2/mailcert/mailcert.conf " "$B/packaging/systemd/mailcert-milter.service" &&
    grep -qx "ReadWritePaths=$W/var2/lib/mailcert" "$B/packaging/systemd/mailcert-renew.service" &&
    pass "the units were made again with the new paths" ||
    fail "units not remade: $(grep -h 'ExecStart\|ReadWrite' "$B"/packaging/systemd/*.service)"

finish
