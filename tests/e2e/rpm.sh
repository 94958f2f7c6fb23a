#!/bin/bash
# The RPM packages: packaging/build-rpm makes the `make dist` tarball of this
# checkout and builds mailcert and mailcert-milter from it with rpmbuild, with no
# warning from rpmbuild or the compiler; the packages hold exactly the files
# packaging/rpm/mailcert.spec promises, with its modes (the store's key folders
# root's alone, nothing writable by others), the configuration as
# %config(noreplace) (0640 root:mailcert: it can hold the EAB key) and the right
# dependencies; the scriptlets, run against stand-ins for getent, groupadd, useradd
# and systemctl, create the group and the user "mailcert" once each, enable and
# start nothing, and disable the units on erase. Then rpm installs both packages
# into an empty scratch root (with --noscripts: that root has no shell, getent or
# groupadd to run them with; its /etc/group names mailcert, as %pre would have
# made it) where the files have their modes and owners, rpm -V
# finds nothing, the installed mailcert runs and accepts its configuration, an
# operator's edit survives reinstallation and erasing keeps the store. Nothing
# outside the test's folder is touched: the machine's own rpm database and
# /etc, /var are never written.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir

if ! command -v rpmbuild >/dev/null; then
    log "SKIP: rpmbuild not found: the RPM tools are absent (apt-get install rpm)"
    exit 77
fi

# ---- build ----
OUT=$W/out
t0=$SECONDS
# make check's own make settings (jobserver, -n ...) must not reach the package build
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$TOP_SRCDIR/packaging/build-rpm" "$OUT" >"$W/build.out" 2>"$W/build.err"; then
    pass "packaging/build-rpm built in $((SECONDS - t0)) s: $(tr '\n' ' ' <"$W/build.out")"
else
    die "packaging/build-rpm failed: $(tail -40 "$W/build.err")"
fi
VERSION=$("$MAILCERT" --version | awk '{ print $2 }')
ARCH=$(rpm --eval '%{_arch}')
RPM=$OUT/mailcert-$VERSION-1.$ARCH.rpm
MRPM=$OUT/mailcert-milter-$VERSION-1.$ARCH.rpm
[ -f "$RPM" ] && [ -f "$MRPM" ] || die "missing results (want mailcert and mailcert-milter $VERSION-1.$ARCH): $(ls "$OUT")"
while read -r f; do
    grep -qxF "$f" "$W/build.out" || fail "build-rpm did not print $f"
done < <(ls "$OUT"/*.rpm)
grep -qxF "$RPM" "$W/build.out" && grep -qxF "$MRPM" "$W/build.out" &&
    pass "build-rpm printed the names of both packages" || fail "build-rpm did not print both: $(cat "$W/build.out")"
for f in "$RPM" "$MRPM"; do log "$(basename "$f"): $(stat -c %s "$f") bytes"; done
expect_eq "$(rpm -qp --qf '%{NAME} %{VERSION}\n' "$RPM" "$MRPM" | tr '\n' ' ')" \
    "mailcert $VERSION mailcert-milter $VERSION " "package names and the version of the program under test"

# no warning from configure, make dist, rpmbuild or the compiler (the configure
# summary names the warning flags, autoreconf echoes WARNINGS=)
warnings=$(grep -i 'warning' "$OUT/build-rpm.log" | grep -v '^autoreconf: export WARNINGS=$\|^  warnings: ')
expect_eq "$warnings" "" "the build log holds no warning"
# the host's post-install scripts ran cleanly (Debian's man page compressor fails under dash)
bad=$(grep -i 'illegal option\|command not found\|^error' "$OUT/build-rpm.log")
expect_eq "$bad" "" "no failed step in the build log"

# ---- contents ----
# files PKG: "PERMS USER:GROUP PATH" for every entry of rpm -qlvp, build-id links left out
files() {
    rpm -qlvp "$1" | awk '$9 !~ /^\/usr\/lib\/\.build-id/ { print $1, $3 ":" $4, $9 }'
}
files "$RPM" >"$W/mailcert.files"
files "$MRPM" >"$W/milter.files"
UNITDIR=/usr/lib/systemd/system
cat >"$W/mailcert.want" <<EOF
drwxr-xr-x root:root /etc/mailcert
drwxr-xr-x root:root /etc/mailcert/conf.d
-rw-r----- root:mailcert /etc/mailcert/mailcert.conf
-rw-r--r-- root:root $UNITDIR/mailcert-renew.service
-rw-r--r-- root:root $UNITDIR/mailcert-renew.timer
-rw-r--r-- root:root $UNITDIR/mailcert.service
drwxr-xr-x root:root /usr/libexec/mailcert
-rwxr-xr-x root:root /usr/libexec/mailcert/mailcert-hook-rfc2136
-rwxr-xr-x root:root /usr/sbin/mailcert
drwxr-xr-x root:root /usr/share/doc/mailcert
-rw-r--r-- root:root /usr/share/doc/mailcert/README.md
drwxr-xr-x root:root /usr/share/doc/mailcert/examples
-rw-r--r-- root:root /usr/share/doc/mailcert/examples/mailcert.conf
-rw-r--r-- root:root /usr/share/doc/mailcert/examples/postfix-trust.cf
-rw-r--r-- root:root /usr/share/man/man5/mailcert.conf.5.gz
-rw-r--r-- root:root /usr/share/man/man8/mailcert.8.gz
drwxr-xr-x root:root /var/lib/mailcert
drwx------ root:root /var/lib/mailcert/accounts
drwxr-xr-x root:root /var/lib/mailcert/certs
drwx------ root:root /var/lib/mailcert/locks
drwxr-xr-x root:root /var/lib/mailcert/versions
EOF
cat >"$W/milter.want" <<EOF
-rw-r--r-- root:root $UNITDIR/mailcert-milter.service
-rw-r--r-- root:root $UNITDIR/mailcert-prepare.service
-rwxr-xr-x root:root /usr/sbin/mailcert-milter
drwxr-xr-x root:root /usr/share/doc/mailcert-milter
drwxr-xr-x root:root /usr/share/doc/mailcert-milter/examples
-rw-r--r-- root:root /usr/share/doc/mailcert-milter/examples/dovecot-99-mailcert.conf
-rw-r--r-- root:root /usr/share/doc/mailcert-milter/examples/exim-mailcert.conf
-rw-r--r-- root:root /usr/share/doc/mailcert-milter/examples/postfix-main.cf
-rw-r--r-- root:root /usr/share/doc/mailcert-milter/examples/postfix-master.cf
-rw-r--r-- root:root /usr/share/doc/mailcert-milter/examples/sendmail-mailcert.mc
-rw-r--r-- root:root /usr/share/man/man8/mailcert-milter.8.gz
EOF
for p in mailcert milter; do
    if diff <(sort -k3 "$W/$p.want") <(sort -k3 "$W/$p.files") >"$W/$p.diff"; then
        pass "$p: exactly the expected files, modes and owners ($(wc -l <"$W/$p.want") entries)"
    else
        fail "$p: file list differs (< expected, > package): $(cat "$W/$p.diff")"
    fi
done
# the folders of private keys: no bit for group or others (0750 would be the most allowed)
for d in accounts locks; do
    mode=$(rpm -qp --qf '[%{FILEMODES:octal} %{FILENAMES}\n]' "$RPM" | awk -v p="/var/lib/mailcert/$d" '$2 == p { print $1 }')
    [ -n "$mode" ] && [ $((0$mode & 027)) = 0 ] &&
        pass "/var/lib/mailcert/$d is $(printf %04o $((0$mode & 07777))): not group-writable, nothing for others" ||
        fail "/var/lib/mailcert/$d has mode '$mode'"
done
# nothing writable by others (links aside), set-id, a key, or owned by anyone but
# root (the configuration's group aside)
bad=$(cat "$W/mailcert.files" "$W/milter.files" | awk '($1 ~ /^[^l].{7}w/) || ($1 ~ /[sStT]/) || ($3 ~ /\.(key|pem)$/) ||
    ($2 != "root:root" && !($2 == "root:mailcert" && $3 == "/etc/mailcert/mailcert.conf"))')
expect_eq "$bad" "" "no world-writable, set-id, sticky, key or non-root entry"

# configuration files: the one %config(noreplace) file, documentation marked as such
expect_eq "$(rpm -qp --configfiles "$RPM")" /etc/mailcert/mailcert.conf "mailcert: the configuration is its only config file"
expect_eq "$(rpm -qp --configfiles "$MRPM")" "" "mailcert-milter has no config file"
# fflags: c config, n noreplace, d doc ("|" separates: the flags may be empty)
flags=$(rpm -qp --qf '[%{FILEFLAGS:fflags}|%{FILENAMES}\n]' "$RPM" | awk -F'|' '$2 == "/etc/mailcert/mailcert.conf" { print $1 }')
case $flags in
    *c*n* | *n*c*) pass "mailcert.conf is %config(noreplace) (flags $flags)" ;;
    *) fail "mailcert.conf flags are '$flags', not config and noreplace" ;;
esac
nodoc=$(rpm -qp --qf '[%{FILEFLAGS:fflags}|%{FILEMODES:perms}|%{FILENAMES}\n]' "$RPM" "$MRPM" |
    awk -F'|' '$3 ~ /^\/usr\/share\/doc\// && $2 ~ /^-/ && $1 !~ /d/')
expect_eq "$nodoc" "" "every file under /usr/share/doc is marked %doc"

# dependencies: the milter needs this very mailcert; only the milter links libmilter
req=$(rpm -qp --requires "$MRPM")
grep -qxF "mailcert$(rpm --eval '%{?_isa}') = $VERSION-1" <<<"$req" &&
    pass "mailcert-milter requires mailcert = $VERSION-1" || fail "mailcert-milter does not require mailcert = $VERSION-1: $req"
grep -q '^libmilter' <<<"$req" && pass "mailcert-milter requires libmilter" || fail "mailcert-milter: no libmilter among $req"
req=$(rpm -qp --requires "$RPM")
grep -q 'libmilter' <<<"$req" && fail "mailcert requires libmilter: the split is wrong"
for lib in libssl libcurl libconfuse libjansson; do
    grep -q "^$lib" <<<"$req" || fail "mailcert: no $lib among its requirements"
done
grep -qx 'shadow-utils' <<<"$req" && pass "mailcert requires shadow-utils (groupadd, useradd) for %pre" || fail "mailcert: no shadow-utils requirement"

# ---- scriptlets, against stand-ins ----
rpm -qp --scripts "$RPM" "$MRPM" >"$W/scripts"
grep -q 'getent group mailcert' "$W/scripts" && grep -q 'groupadd -r mailcert' "$W/scripts" &&
    pass "rpm -qp --scripts: %pre looks the group up and creates it" || fail "no group creation in the scriptlets: $(cat "$W/scripts")"
grep -q 'getent passwd mailcert' "$W/scripts" && grep -q 'useradd -r -g mailcert ' "$W/scripts" &&
    pass "rpm -qp --scripts: %pre looks the user up and creates it" || fail "no user creation in the scriptlets: $(cat "$W/scripts")"
# stand-ins: each logs its arguments; getent answers as GETENT_GROUP_RC and
# GETENT_PASSWD_RC say, groupadd and useradd as GROUPADD_RC and USERADD_RC
STUBS=$W/stubs
mkdir -p "$STUBS"
for t in getent groupadd useradd systemctl; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$t" "$W" >"$STUBS/$t"
done
# shellcheck disable=SC2016
echo 'case $1 in group) exit ${GETENT_GROUP_RC:-0} ;; passwd) exit ${GETENT_PASSWD_RC:-0} ;; *) exit 2 ;; esac' >>"$STUBS/getent"
# shellcheck disable=SC2016
echo 'exit ${GROUPADD_RC:-0}' >>"$STUBS/groupadd"
# shellcheck disable=SC2016
echo 'exit ${USERADD_RC:-0}' >>"$STUBS/useradd"
chmod +x "$STUBS"/*
# scriptlet PKG TAG ARG: run that scriptlet with $1 = ARG; prints the calls it made
scriptlet() {
    : >"$W/calls"
    rpm -qp --qf "%{$2}" "$1" >"$W/scriptlet.sh"
    PATH=$STUBS:$PATH sh "$W/scriptlet.sh" "$3" >"$W/scriptlet.out" 2>&1
    local rc=$?
    cat "$W/calls"
    return $rc
}
useradd_call="useradd -r -g mailcert -d /nonexistent -M -s /sbin/nologin mailcert"
calls=$(GETENT_GROUP_RC=2 GETENT_PASSWD_RC=2 scriptlet "$RPM" PREIN 1) && [ "$calls" = "getent group mailcert
groupadd -r mailcert
getent passwd mailcert
$useradd_call" ] && pass "%pre without group and user: groupadd -r mailcert, then $useradd_call" ||
    fail "%pre without group and user: calls '$calls'"
calls=$(GETENT_GROUP_RC=0 GETENT_PASSWD_RC=2 scriptlet "$RPM" PREIN 1) && [ "$calls" = "getent group mailcert
getent passwd mailcert
$useradd_call" ] && pass "%pre with the group, without the user: only useradd" || fail "%pre with the group only: calls '$calls'"
calls=$(GETENT_GROUP_RC=0 GETENT_PASSWD_RC=0 scriptlet "$RPM" PREIN 2) && [ "$calls" = "getent group mailcert
getent passwd mailcert" ] && pass "%pre with group and user: neither groupadd nor useradd" || fail "%pre with group and user: calls '$calls'"
if calls=$(GETENT_GROUP_RC=2 GETENT_PASSWD_RC=2 GROUPADD_RC=1 scriptlet "$RPM" PREIN 1); then
    fail "%pre succeeds although groupadd failed ($calls)"
else
    pass "%pre fails when the group cannot be made (the installation stops)"
fi
if calls=$(GETENT_GROUP_RC=0 GETENT_PASSWD_RC=2 USERADD_RC=1 scriptlet "$RPM" PREIN 1); then
    fail "%pre succeeds although useradd failed ($calls)"
else
    pass "%pre fails when the user cannot be made (the installation stops)"
fi
for p in "$RPM" "$MRPM"; do
    n=$(rpm -qp --qf '%{NAME}' "$p")
    calls=$(scriptlet "$p" POSTIN 1) || fail "$n %post failed: $(cat "$W/scriptlet.out")"
    if grep -qw 'enable\|start\|restart\|try-restart' <<<"$calls"; then
        fail "$n %post enables or starts: $calls"
    elif grep -qw preset <<<"$calls" && [ -z "$(rpm --eval '%{?systemd_requires}%{?systemd_ordering}')" ]; then
        fail "$n %post runs a preset without the distribution's systemd macros: $calls"
    else
        pass "$n %post enables and starts nothing (${calls:-no systemctl call})"
    fi
    calls=$(scriptlet "$p" PREUN 1) && [ -z "$calls" ] && pass "$n %preun on upgrade: no call" ||
        fail "$n %preun on upgrade: '$calls'"
done
calls=$(scriptlet "$RPM" PREUN 0)
expect_eq "$calls" "systemctl --no-reload disable --now mailcert.service mailcert-renew.service mailcert-renew.timer" \
    "mailcert %preun on erase disables and stops its units"
calls=$(scriptlet "$MRPM" PREUN 0)
expect_eq "$calls" "systemctl --no-reload disable --now mailcert-milter.service mailcert-prepare.service" \
    "mailcert-milter %preun on erase disables and stops its unit"
grep -q 'rm -rf\|/var/lib/mailcert' <(rpm -qp --qf '%{POSTUN}' "$RPM" | grep -v '^#') &&
    fail "mailcert %postun touches the store: $(rpm -qp --qf '%{POSTUN}' "$RPM")"

# ---- install into a scratch root ----
R=$W/root
mkdir -p "$R"
if ! rpm --root "$R" --initdb 2>"$W/rpm.err"; then
    die "rpm --root --initdb failed: $(cat "$W/rpm.err")"
fi
# --noscripts: the scriptlets run chrooted into R, which has no shell, getent or
# groupadd (they are exercised above); --nodeps: R has no libraries either. The
# group and user %pre makes: in R's own files, where rpm looks names up.
mkdir -p "$R/etc"
printf 'root:x:0:0:root:/root:/bin/sh\nmailcert:x:990:990::/nonexistent:/sbin/nologin\n' >"$R/etc/passwd"
printf 'root:x:0:\nmailcert:x:990:\n' >"$R/etc/group"
if rpm --root "$R" --nodeps --noscripts -i "$RPM" "$MRPM" >"$W/install.log" 2>&1; then
    pass "rpm --root installed both packages into an empty root"
else
    die "rpm --root -i failed: $(cat "$W/install.log")"
fi
expect_eq "$(rpm --root "$R" -q mailcert mailcert-milter | tr '\n' ' ')" \
    "mailcert-$VERSION-1.$ARCH mailcert-milter-$VERSION-1.$ARCH " "both packages registered in the root's database"
verify=$(rpm --root "$R" -V --nodeps mailcert mailcert-milter 2>&1)
expect_eq "$verify" "" "rpm -V: every installed file as the packages say"
for e in "755 /var/lib/mailcert" "700 /var/lib/mailcert/accounts" "700 /var/lib/mailcert/locks" \
    "755 /var/lib/mailcert/certs" "755 /usr/sbin/mailcert" "755 /usr/sbin/mailcert-milter" \
    "640 /etc/mailcert/mailcert.conf" "644 $UNITDIR/mailcert-milter.service"; do
    expect_eq "$(stat -c %a "$R${e#* }")" "${e%% *}" "installed ${e#* } has mode ${e%% *}"
done
expect_eq "$(stat -c '%u:%g' "$R/etc/mailcert/mailcert.conf")" "0:990" \
    "installed /etc/mailcert/mailcert.conf belongs to root and the root's group mailcert"
expect_eq "$("$R/usr/sbin/mailcert" --version)" "mailcert $VERSION" "the installed mailcert runs: --version"
[ -x "$R/usr/sbin/mailcert-milter" ] && ldd "$R/usr/sbin/mailcert-milter" | grep -q libmilter &&
    ! ldd "$R/usr/sbin/mailcert-milter" | grep -q 'not found' && pass "the installed mailcert-milter finds its libraries" ||
    fail "mailcert-milter: $(ldd "$R/usr/sbin/mailcert-milter" 2>&1 | grep 'not found')"
# `check` reads the configuration (and Postfix's, if any) and writes nothing
if "$R/usr/sbin/mailcert" -c "$R/etc/mailcert/mailcert.conf" check >"$W/check.out" 2>"$W/check.err"; then
    pass "the installed mailcert accepts the installed configuration: $(cat "$W/check.out")"
else
    fail "mailcert check on the installed configuration: $(cat "$W/check.out" "$W/check.err")"
fi
cmp -s "$R/etc/mailcert/mailcert.conf" "$TOP_SRCDIR/conf.d/mailcert.conf" &&
    pass "the config file is conf.d/mailcert.conf" || fail "the config file differs from conf.d/mailcert.conf"
for u in mailcert.service mailcert-renew.service; do
    grep -q '^ExecStart=/usr/sbin/mailcert -c /etc/mailcert/mailcert.conf ' "$R$UNITDIR/$u" &&
        pass "$u runs /usr/sbin/mailcert -c /etc/mailcert/mailcert.conf" || fail "$u: wrong ExecStart"
done
grep -q '^ExecStart=/usr/sbin/mailcert-milter -f -c /etc/mailcert/mailcert.conf -p unix:/var/spool/postfix/mailcert/' \
    "$R$UNITDIR/mailcert-milter.service" &&
    pass "mailcert-milter.service: socket under Postfix's queue directory" || fail "mailcert-milter.service: wrong ExecStart"
grep -q 'ReadWritePaths=/var/lib/mailcert$' "$R$UNITDIR/mailcert-renew.service" &&
    pass "mailcert-renew.service may write the store" || fail "mailcert-renew.service: wrong ReadWritePaths"
[ -z "$(find "$R/etc" -path '*.wants*' -name 'mailcert*')" ] && pass "no unit enabled in the root" ||
    fail "enabled: $(find "$R/etc" -path '*.wants*')"

# an operator's edit survives reinstallation (noreplace); erasing keeps it as
# .rpmsave and keeps the store's contents
echo "# edited by the operator" >>"$R/etc/mailcert/mailcert.conf"
rpm --root "$R" --nodeps --noscripts -U --replacepkgs "$RPM" >>"$W/install.log" 2>&1 ||
    fail "reinstalling mailcert failed: $(tail -5 "$W/install.log")"
tail -1 "$R/etc/mailcert/mailcert.conf" | grep -q 'edited by the operator' &&
    pass "reinstalling keeps the operator's edit of the configuration" || fail "the operator's edit was overwritten"
echo test >"$R/var/lib/mailcert/accounts/marker"
if rpm --root "$R" --nodeps --noscripts -e mailcert-milter mailcert >"$W/erase.log" 2>&1; then
    pass "rpm -e removed both packages"
else
    fail "rpm -e failed: $(cat "$W/erase.log")"
fi
[ -f "$R/var/lib/mailcert/accounts/marker" ] && pass "erasing keeps the store's contents" || fail "erasing removed the store's contents"
[ -f "$R/etc/mailcert/mailcert.conf.rpmsave" ] && pass "erasing keeps the edited configuration as mailcert.conf.rpmsave" ||
    fail "no mailcert.conf.rpmsave after erasing: $(ls -la "$R/etc/mailcert" 2>&1)"
left=$(cd "$R" && ls -d usr/sbin/mailcert* usr/libexec/mailcert usr/share/doc/mailcert* usr/share/man/man*/mailcert* \
    ".$UNITDIR"/mailcert* var/lib/mailcert/certs var/lib/mailcert/locks 2>/dev/null)
expect_eq "$left" "" "erasing left no program, document, unit or empty store folder"

finish
