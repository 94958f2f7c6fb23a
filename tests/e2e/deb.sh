#!/bin/bash
# The Debian packages: packaging/build-deb builds mailcert and mailcert-milter from
# this checkout; lintian finds no error and no warning; the contents, modes and
# conffiles are what packaging/debian promises (units in /usr/lib/systemd/system,
# nothing under /lib); then (as root, on a machine where neither package nor an
# /etc/mailcert or /var/lib/mailcert of an operator exists) dpkg installs them for
# real: the example configuration passes `mailcert check` and is 0640
# root:mailcert (or as dpkg-statoverride says), the group and the system user
# "mailcert" exist, no unit is enabled or started; purge removes the configuration
# and the store and leaves the group and the user. Both packages are purged at exit
# whatever happens (a user or group the test made goes too). Tests running alongside are not disturbed: they run the programs
# of the build under test, never /usr/sbin's, and no service is started.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir

for tool in dpkg-buildpackage lintian dh; do
    if ! command -v "$tool" >/dev/null; then
        log "SKIP: $tool not found: the packaging tools are absent (apt-get install dpkg-dev debhelper lintian)"
        exit 77
    fi
done

# ---- build ----
OUT=$W/out
# make check's own make settings (jobserver, -n ...) must not reach the package build
t0=$SECONDS
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$TOP_SRCDIR/packaging/build-deb" "$OUT" >"$W/build.out" 2>"$W/build.err"; then
    pass "packaging/build-deb built in $((SECONDS - t0)) s: $(tr '\n' ' ' <"$W/build.out")"
else
    die "packaging/build-deb failed: $(tail -40 "$W/build.err")"
fi
DEB=$(ls "$OUT"/mailcert_*.deb 2>/dev/null | head -1)
MDEB=$(ls "$OUT"/mailcert-milter_*.deb 2>/dev/null | head -1)
CHANGES=$(ls "$OUT"/mailcert_*.changes 2>/dev/null | head -1)
[ -n "$DEB" ] && [ -n "$MDEB" ] && [ -n "$CHANGES" ] || die "missing results: $(ls "$OUT")"
while read -r f; do
    grep -qxF "$f" "$W/build.out" || fail "build-deb did not print $f"
done < <(ls "$OUT"/*.deb)
for f in "$DEB" "$MDEB"; do log "$(basename "$f"): $(stat -c %s "$f") bytes"; done

# ---- lintian: no E: and no W: (I: and P: are fine) ----
lrc=0
lintian -I --pedantic --fail-on error,warning "$CHANGES" >"$W/lintian.out" 2>"$W/lintian.err" || lrc=$?
sed 's/^/lintian: /' "$W/lintian.out" >&2
if grep -q '^[EW]: ' "$W/lintian.out" || [ "$lrc" != 0 ]; then
    fail "lintian (exit $lrc) reports errors or warnings: $(grep '^[EW]: ' "$W/lintian.out" | tr '\n' ' ') $(cat "$W/lintian.err")"
elif grep -qv '^[IPNOX]: \|^$' "$W/lintian.out" || grep -qi 'error' "$W/lintian.err"; then
    fail "lintian did not run cleanly: $(cat "$W/lintian.out" "$W/lintian.err")"
else
    pass "lintian: no error and no warning ($(grep -c '^[IP]: ' "$W/lintian.out") info/pedantic tags)"
fi

# ---- contents, modes, conffiles ----
# expect_entry DEB MODE PATH: dpkg-deb -c lists PATH with that mode, owned root/root
expect_entry() {
    local line
    line=$(dpkg-deb -c "$1" | awk -v p="./$3" '$6 == p || $6 == p "/" { print $1, $2; exit }')
    expect_eq "$line" "$2 root/root" "$(basename "$1"): $3"
}
expect_entry "$DEB" -rwxr-xr-x usr/sbin/mailcert
expect_entry "$DEB" -rw-r--r-- etc/mailcert/mailcert.conf
expect_entry "$DEB" drwxr-xr-x var/lib/mailcert
expect_entry "$DEB" -rw-r--r-- usr/lib/systemd/system/mailcert.service
expect_entry "$DEB" -rw-r--r-- usr/lib/systemd/system/mailcert-renew.service
expect_entry "$DEB" -rw-r--r-- usr/lib/systemd/system/mailcert-renew.timer
expect_entry "$DEB" -rw-r--r-- usr/share/man/man8/mailcert.8.gz
expect_entry "$DEB" -rw-r--r-- usr/share/man/man5/mailcert.conf.5.gz
expect_entry "$DEB" -rwxr-xr-x usr/libexec/mailcert/mailcert-hook-rfc2136
expect_entry "$DEB" -rw-r--r-- usr/share/doc/mailcert/examples/postfix-trust.cf
expect_entry "$MDEB" -rwxr-xr-x usr/sbin/mailcert-milter
expect_entry "$MDEB" -rw-r--r-- usr/lib/systemd/system/mailcert-milter.service
expect_entry "$MDEB" -rw-r--r-- usr/lib/systemd/system/mailcert-prepare.service
expect_entry "$MDEB" -rw-r--r-- usr/share/man/man8/mailcert-milter.8.gz
for f in postfix-main.cf postfix-master.cf dovecot-99-mailcert.conf sendmail-mailcert.mc exim-mailcert.conf; do
    expect_entry "$MDEB" -rw-r--r-- "usr/share/doc/mailcert-milter/examples/$f"
done
# nothing in either package is writable by others, set-id, or a key
bad=$(dpkg-deb -c "$DEB"; dpkg-deb -c "$MDEB")
bad=$(awk '$1 ~ /^.{8}w/ || $1 ~ /[sS]/ || $6 ~ /\.(key|pem)$/' <<<"$bad")
[ -z "$bad" ] && pass "no world-writable, set-id or key file" || fail "unexpected entries: $bad"
# nothing in the aliased /lib (the /usr merge): lintian on trixie calls it an error
bad=$( (dpkg-deb -c "$DEB"; dpkg-deb -c "$MDEB") | awk '$6 ~ /^\.\/lib\//')
expect_eq "$bad" "" "nothing under /lib in either package"
# the maintainer scripts handle the units that can be enabled (those with an
# [Install] section): debhelper's snippets record an operator's enabling and undo it
# on purge. (bookworm's debhelper writes them only for units it finds in
# lib/systemd/system: packaging/debian/rules.)
for pair in "$DEB:mailcert.service mailcert-renew.service mailcert-renew.timer" "$MDEB:mailcert-milter.service"; do
    pkg=${pair%%:*}
    postrm=$(dpkg-deb --ctrl-tarfile "$pkg" | tar -xOf - ./postrm 2>/dev/null)
    postinst=$(dpkg-deb --ctrl-tarfile "$pkg" | tar -xOf - ./postinst 2>/dev/null)
    for u in ${pair#*:}; do
        dpkg-deb --fsys-tarfile "$pkg" | tar -xOf - "./usr/lib/systemd/system/$u" | grep -qx '\[Install\]' || continue
        grep -q "deb-systemd-helper purge .*'$u'" <<<"$postrm" &&
            grep -q "deb-systemd-helper update-state '$u'" <<<"$postinst" &&
            pass "$(basename "$pkg"): the maintainer scripts handle $u" ||
            fail "$(basename "$pkg"): no deb-systemd-helper snippet for $u in postinst/postrm"
    done
done
# each package has only its own programs and units
dpkg-deb -c "$DEB" | grep -q 'mailcert-milter' && fail "mailcert holds milter files: $(dpkg-deb -c "$DEB" | grep mailcert-milter)"
dpkg-deb -c "$MDEB" | grep -q '\./usr/sbin/mailcert$\|/etc/' && fail "mailcert-milter holds mailcert's files"
conffiles=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles)
expect_eq "$conffiles" /etc/mailcert/mailcert.conf "mailcert: the configuration is its only conffile"
expect_eq "$(dpkg-deb --ctrl-tarfile "$MDEB" | tar -tf - | grep -c conffiles)" 0 "mailcert-milter has no conffile"
cmp -s <(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./etc/mailcert/mailcert.conf) "$TOP_SRCDIR/conf.d/mailcert.conf" &&
    pass "the conffile is conf.d/mailcert.conf" || fail "the conffile differs from conf.d/mailcert.conf"
# the units run the packaged programs with the packaged configuration
for u in mailcert.service mailcert-renew.service; do
    grep -q '^ExecStart=/usr/sbin/mailcert -c /etc/mailcert/mailcert.conf ' \
        <(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - "./usr/lib/systemd/system/$u") &&
        pass "$u runs /usr/sbin/mailcert -c /etc/mailcert/mailcert.conf" || fail "$u: wrong ExecStart"
done
grep -q '^ExecStart=/usr/sbin/mailcert-milter -f -c /etc/mailcert/mailcert.conf -p unix:/var/spool/postfix/mailcert/' \
    <(dpkg-deb --fsys-tarfile "$MDEB" | tar -xOf - ./usr/lib/systemd/system/mailcert-milter.service) &&
    pass "mailcert-milter.service: socket under Postfix's queue directory" || fail "mailcert-milter.service: wrong ExecStart"
expect_eq "$(dpkg-deb -f "$MDEB" Depends | grep -o 'mailcert (= [^)]*)')" "mailcert (= $(dpkg-deb -f "$DEB" Version))" \
    "mailcert-milter depends on the same version of mailcert"

# ---- install for real, then purge ----
install_ok=1
if [ "$(id -u)" != 0 ]; then
    log "install part not run: needs root (dpkg -i)"; install_ok=0
fi
for p in mailcert mailcert-milter; do
    if [ "$install_ok" = 1 ] && dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
        log "install part not run: package $p is already on this machine (not touched)"; install_ok=0
    fi
done
for d in /etc/mailcert /var/lib/mailcert; do
    if [ "$install_ok" = 1 ] && [ -e "$d" ]; then
        log "install part not run: $d exists (an operator's; not touched)"; install_ok=0
    fi
done
if [ "$install_ok" = 0 ]; then
    finish
fi

# dpkg holds a lock: another installation at the same moment is waited for
dpkg_locked() {
    local out deadline=$((SECONDS + 120))
    while :; do
        if out=$("$@" 2>&1); then printf '%s\n' "$out"; return 0; fi
        printf '%s\n' "$out" >>"$W/dpkg.log"
        if grep -q 'lock' <<<"$out" && [ "$SECONDS" -lt "$deadline" ]; then sleep 2; continue; fi
        printf '%s\n' "$out" >&2
        return 1
    done
}
group_before=0 user_before=0
getent group mailcert >/dev/null && group_before=1
getent passwd mailcert >/dev/null && user_before=1
gid_before=$(getent group mailcert | cut -d: -f3)
wants_before=$(find /etc/systemd/system -name 'mailcert*' 2>/dev/null | sort)
# restore the machine whatever happens: both packages purged, a group or user the
# test made removed (the package keeps them on purge by design)
cleanup_install() {
    dpkg_locked dpkg --purge mailcert-milter mailcert >>"$W/dpkg.log" 2>&1 ||
        exit_fail "purge at exit failed: $(tail -5 "$W/dpkg.log")"
    dpkg-statoverride --list /etc/mailcert/mailcert.conf >/dev/null 2>&1 &&
        dpkg-statoverride --remove /etc/mailcert/mailcert.conf
    # neither existed before the test (checked above): a store kept or a file left
    # by a failed step goes too
    rm -rf /etc/mailcert /var/lib/mailcert
    if [ "$user_before" = 0 ] && getent passwd mailcert >/dev/null; then
        # userdel also deletes a group of the user's name that has no other member
        userdel mailcert || exit_fail "could not remove the user mailcert this test created"
        if [ "$group_before" = 1 ] && ! getent group mailcert >/dev/null; then
            groupadd --system --gid "$gid_before" mailcert || exit_fail "could not make the group mailcert (gid $gid_before) again"
        fi
    fi
    if [ "$group_before" = 0 ] && getent group mailcert >/dev/null; then
        groupdel mailcert || exit_fail "could not remove the group mailcert this test created"
    fi
}
on_exit cleanup_install

export DEBIAN_FRONTEND=noninteractive
if dpkg_locked dpkg -i "$DEB" "$MDEB" >"$W/install.log" 2>&1; then
    pass "dpkg -i installed both packages"
else
    die "dpkg -i failed: $(tail -20 "$W/install.log")"
fi
for p in mailcert mailcert-milter; do
    expect_eq "$(dpkg-query -W -f='${Status}' "$p")" "install ok installed" "$p is installed"
done
[ -x /usr/sbin/mailcert ] && [ -x /usr/sbin/mailcert-milter ] && pass "both programs in /usr/sbin" ||
    fail "programs missing: $(ls -l /usr/sbin/mailcert*)"
expect_eq "$(/usr/sbin/mailcert --version)" "mailcert $(dpkg-deb -f "$DEB" Version)" "mailcert --version names the package version"
if /usr/sbin/mailcert -c /etc/mailcert/mailcert.conf check >"$W/check.out" 2>"$W/check.err"; then
    pass "mailcert check accepts the installed example configuration: $(cat "$W/check.out")"
else
    fail "mailcert check on the installed configuration: $(cat "$W/check.out" "$W/check.err")"
fi
grep -q '^/etc/mailcert/mailcert.conf ' <(dpkg-query -W -f='${Conffiles}\n' mailcert | sed 's/^ //') &&
    pass "dpkg knows /etc/mailcert/mailcert.conf as a conffile" || fail "conffile not registered: $(dpkg-query -W -f='${Conffiles}' mailcert)"
getent group mailcert >/dev/null && pass "the group mailcert exists" || fail "no group mailcert after installation"
# the system user the unprivileged processes run as (made by the package, or by
# scripts/install-deps before it: then the package left it as it was)
IFS=: read -r _ _ uid ugid _ home shell < <(getent passwd mailcert)
if [ -n "${uid:-}" ]; then
    [ "$user_before" = 1 ] && log "the user mailcert existed before the installation (scripts/install-deps makes it)"
    expect_eq "$ugid" "$(getent group mailcert | cut -d: -f3)" "the user mailcert's group is mailcert"
    sysmax=$(awk '$1 == "SYS_UID_MAX" { print $2 }' /etc/login.defs 2>/dev/null)
    [ "$uid" -gt 0 ] && [ "$uid" -le "${sysmax:-999}" ] && pass "the user mailcert is a system user (uid $uid)" ||
        fail "the user mailcert has uid $uid, not a system uid"
    case $shell in */nologin | /bin/false) pass "the user mailcert has no shell ($shell)" ;; *) fail "the user mailcert has the shell $shell" ;; esac
    case $home in /nonexistent | /var/lib/mailcert) pass "the user mailcert's home: $home" ;; *) fail "the user mailcert's home is $home" ;; esac
    [ "$user_before" = 1 ] || [ ! -e /nonexistent ] || fail "the installation made /nonexistent"
else
    fail "no user mailcert after installation"
fi
# the configuration can hold the EAB key
expect_eq "$(stat -c '%a %U:%G' /etc/mailcert/mailcert.conf)" "640 root:mailcert" "/etc/mailcert/mailcert.conf is 0640 root:mailcert"
expect_eq "$(stat -c '%a %U:%G' /var/lib/mailcert)" "755 root:root" "the store folder /var/lib/mailcert"
# the installed program writes a set into the installed store (a stand-in: no CA,
# no network) with the modes the README promises: keys 0640 root:mailcert
if /usr/sbin/mailcert -c /etc/mailcert/mailcert.conf self-signed mail.example.com >"$W/ss.out" 2>&1; then
    pass "the installed mailcert writes a self-signed set into /var/lib/mailcert"
    for f in key.pem cert.pem; do
        expect_eq "$(stat -L -c '%a %U:%G' "/var/lib/mailcert/certs/mail.example.com/$f")" "640 root:mailcert" \
            "installed store: $f is 0640 root:mailcert"
    done
    expect_eq "$(stat -L -c '%a %U:%G' /var/lib/mailcert/certs/mail.example.com/fullchain.pem)" "644 root:root" \
        "installed store: fullchain.pem is 0644"
    expect_eq "$(stat -c '%a' /var/lib/mailcert/accounts)" 700 "installed store: accounts/ is 0700"
else
    fail "self-signed with the installed program: $(cat "$W/ss.out")"
fi
[ -e /var/spool/postfix/mailcert ] && log "note: /var/spool/postfix/mailcert exists (made by a milter, not by the package)"
# no unit enabled (no symlink in a .wants folder) and none running, but
# mailcert-prepare.service: it only writes the files the MTAs name, at boot before them
wants_after=$(find /etc/systemd/system -name 'mailcert*' ! -name 'mailcert-prepare.service' 2>/dev/null | sort)
# (the link stays in place across the test: it is removed with the package)
expect_eq "$wants_after" "$wants_before" "no mailcert unit but mailcert-prepare enabled by the installation (no other link in /etc/systemd/system)"
find /etc/systemd/system -path '*multi-user.target.wants/mailcert-prepare.service' | grep -q . &&
    pass "mailcert-prepare.service is enabled (multi-user.target wants it)" ||
    fail "mailcert-prepare.service is not enabled: $(find /etc/systemd/system -name 'mailcert*')"
# nor recorded as enabled by the maintainer scripts (deb-systemd-helper's state)
recorded=$(find /var/lib/systemd/deb-systemd-helper-enabled -path '*.wants/mailcert*' ! -name 'mailcert-prepare.service' 2>/dev/null)
expect_eq "$recorded" "" "no other mailcert unit recorded as enabled by deb-systemd-helper"
# the postinst's mailcert-milter --prepare: the stand-in the MTAs can start with
if [ -f /var/lib/mailcert/run/default.pem ] && [ ! -L /var/lib/mailcert/run/default.pem ]; then
    expect_eq "$(stat -c '%a %U:%G' /var/lib/mailcert/run/default.pem)" "640 root:mailcert" \
        "the installation left a stand-in run/default.pem, 0640 root:mailcert"
else
    fail "no stand-in run/default.pem after the installation: $(ls -l /var/lib/mailcert/run 2>&1)"
fi
[ -s /var/lib/mailcert/dovecot/mailcert.conf ] && pass "the installation wrote Dovecot's include" ||
    fail "no Dovecot include after the installation: $(grep -i prepare "$W/install.log" | tail -3)"
for u in mailcert.service mailcert-renew.timer mailcert-milter.service; do
    if command -v systemctl >/dev/null; then
        # reads the unit files; works without a running systemd too
        expect_eq "$(systemctl is-enabled "$u" 2>/dev/null)" disabled "systemctl: $u is not enabled"
    fi
done
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for u in mailcert.service mailcert-renew.timer mailcert-milter.service; do
        expect_eq "$(systemctl is-active "$u" 2>/dev/null)" inactive "$u is not running"
    done
else
    log "systemd is not running here: no unit can have been started"
fi
pgrep -x mailcert-milter -U 0 >/dev/null 2>&1 && ps -o pid=,args= -C mailcert-milter | grep -q '^ *[0-9]* /usr/sbin/' &&
    fail "a mailcert-milter from /usr/sbin runs: $(ps -o pid=,args= -C mailcert-milter)"
# an operator's edit survives reinstallation of the same package
echo "# edited by the operator" >>/etc/mailcert/mailcert.conf
dpkg_locked dpkg -i "$DEB" >>"$W/install.log" 2>&1 || fail "reinstalling mailcert failed: $(tail -5 "$W/install.log")"
tail -1 /etc/mailcert/mailcert.conf | grep -q 'edited by the operator' &&
    pass "reinstalling keeps the operator's edit of the configuration" || fail "the operator's edit was overwritten"
expect_eq "$(stat -c '%a %U:%G' /etc/mailcert/mailcert.conf)" "640 root:mailcert" "after reinstalling: the configuration is 0640 root:mailcert"
# an operator's dpkg-statoverride is what counts
if dpkg-statoverride --update --add root root 0600 /etc/mailcert/mailcert.conf 2>"$W/so.err"; then
    dpkg_locked dpkg -i "$DEB" >>"$W/install.log" 2>&1 || fail "reinstalling mailcert failed: $(tail -5 "$W/install.log")"
    expect_eq "$(stat -c '%a %U:%G' /etc/mailcert/mailcert.conf)" "600 root:root" \
        "with a statoverride (0600 root:root) reinstalling leaves the configuration as the operator said"
    dpkg-statoverride --remove /etc/mailcert/mailcert.conf || fail "dpkg-statoverride --remove failed"
else
    fail "dpkg-statoverride --add failed: $(cat "$W/so.err")"
fi

# purge: the configuration and the store (with the set above) go, the group
# stays; KEEP-ON-PURGE keeps the store. The milter's socket folder in Postfix's
# queue directory (made by the milter at start) goes with mailcert-milter.
spool=0
if [ -d /var/spool/postfix ] && [ ! -e /var/spool/postfix/mailcert ]; then
    mkdir -m 0750 /var/spool/postfix/mailcert && : >/var/spool/postfix/mailcert/milter.sock && spool=1
    on_exit "rm -rf /var/spool/postfix/mailcert"
fi
if dpkg_locked dpkg --purge mailcert-milter mailcert >"$W/purge.log" 2>&1; then
    pass "dpkg --purge removed both packages"
else
    fail "dpkg --purge failed: $(tail -20 "$W/purge.log")"
fi
for p in mailcert mailcert-milter; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok' && fail "$p still installed after purge"
done
left=$(ls -d /etc/mailcert /var/lib/mailcert /usr/sbin/mailcert /usr/sbin/mailcert-milter \
    /usr/lib/systemd/system/mailcert* /lib/systemd/system/mailcert* /usr/libexec/mailcert /usr/share/doc/mailcert* 2>/dev/null)
[ -z "$left" ] && pass "purge left nothing of the packages" || fail "left after purge: $left"
getent group mailcert >/dev/null && pass "the group mailcert stays after purge" || fail "purge removed the group"
getent passwd mailcert >/dev/null && pass "the user mailcert stays after purge" || fail "purge removed the user"
if [ "$spool" = 1 ]; then
    [ ! -e /var/spool/postfix/mailcert ] && pass "purge removed /var/spool/postfix/mailcert" ||
        fail "left after purge: $(ls -la /var/spool/postfix/mailcert)"
fi

dpkg_locked dpkg -i "$DEB" >>"$W/install.log" 2>&1 || fail "installing again failed: $(tail -5 "$W/install.log")"
touch /var/lib/mailcert/KEEP-ON-PURGE
echo test >/var/lib/mailcert/marker
dpkg_locked dpkg --purge mailcert >"$W/purge2.log" 2>&1 || fail "second purge failed: $(tail -5 "$W/purge2.log")"
[ -f /var/lib/mailcert/marker ] && pass "KEEP-ON-PURGE keeps the store" || fail "the store went despite KEEP-ON-PURGE"
grep -q 'KEEP-ON-PURGE' "$W/purge2.log" && pass "purge says the store was kept" || fail "purge kept the store silently"
rm -rf /var/lib/mailcert
[ -e /etc/mailcert ] && fail "/etc/mailcert left after the second purge"

finish
