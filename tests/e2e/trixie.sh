#!/bin/bash
# Debian 13 (trixie): in the cached trixie root of tests/lib/trixie-root, on a copy
# of this checkout's tracked files, ./autogen.sh warns of nothing, configure and
# make build the programs and the test programs with no compiler warning
# (--enable-werror --enable-test-hooks, as scripts/test), packaging/build-deb builds
# both packages, lintian --pedantic finds no error and no warning, and dpkg -i
# installs them into that fresh root: the group and the system user "mailcert" are
# made, the configuration is 0640 root:mailcert, the units are in
# /usr/lib/systemd/system, and `mailcert check` accepts the installed configuration.
# Then scripts/install-deps installs everything it names for trixie (the library
# names of trixie: libldap2, the t64 renames) and fetches trixie's own Sendmail and
# Exim, whose binaries find their libraries.
# The helper itself: a run leaves no mount behind (the machine's /proc/mounts, also
# while it runs: the mounts live in the run's own namespace), and a run whose
# script is killed with SIGKILL takes every process it started along.
# Needs root and Debian's archive (the root is made once, about 4 minutes, when
# scripts/test or this test first needs it).
. "$(dirname "$0")/e2e.sh"
set -u
[ "$(id -u)" = 0 ] || { log "SKIP: needs root (debootstrap, namespaces, dpkg in the root)"; exit 77; }
# The suite itself runs in the trixie root (tests/lib/trixie-root checkout ...
# scripts/test): that run, its build and deb.sh are the trixie test; no root is
# made inside the root.
if [ -e /etc/mailcert-test-root ]; then
    expect_eq "$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)" "$(cat /etc/mailcert-test-root)" \
        "this suite runs inside the $(cat /etc/mailcert-test-root) test root: the build and the other tests are the trixie test"
    finish
fi
e2e_workdir
TR=$TOP_SRCDIR/tests/lib/trixie-root
CACHE=${MAILCERT_TRIXIE_CACHE:-/var/cache/mailcert-test}

t0=$SECONDS
ROOT=$("$TR" ensure 2>"$W/ensure.err") || die "trixie-root ensure failed: $(tail -20 "$W/ensure.err")"
log "trixie root: $ROOT (ready after $((SECONDS - t0)) s)"
expect_eq "$(sed -n 's/^VERSION_CODENAME=//p' "$ROOT/etc/os-release")" trixie "the root is Debian trixie"

# mounts of the root or of a run, as the machine sees them
our_mounts() { awk -v a="$ROOT" -v b="$CACHE/trixie-runs" 'index($2, a) == 1 || index($2, b) == 1' /proc/mounts; }
expect_eq "$(our_mounts)" "" "no mount of the trixie root before the test"

# ---- the helper: namespaces, mounts, and a killed run ----
token=trixie-sh-$$-$RANDOM
"$TR" run sh -c "sleep 600; : $token" &
runpid=$!
inner=""
deadline=$((SECONDS + 120))
while [ -z "$inner" ] && [ "$SECONDS" -lt "$deadline" ] && kill -0 "$runpid" 2>/dev/null; do
    # the shell running inside (its command line is "sh -c ..."; the helper's
    # processes carry the token in their arguments too)
    for p in $(pgrep -f "$token"); do
        [ "$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -d' ' -f1-2)" = "sh -c" ] && inner=$p
    done
    [ -n "$inner" ] || sleep 0.2
done
if [ -n "$inner" ]; then
    pass "a command runs in the root (pid $inner)"
    [ "$(readlink /proc/$inner/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] &&
        [ "$(readlink /proc/$inner/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] &&
        pass "it runs in mount and PID namespaces of its own" || fail "the command shares a namespace with the machine"
    grep -q ' / overlay ' "/proc/$inner/mounts" && pass "inside, / is the overlay on the root" ||
        fail "no overlay at / inside: $(head -3 "/proc/$inner/mounts")"
    expect_eq "$(our_mounts)" "" "while it runs, the machine's mount table holds none of its mounts"
    killed_dir=$(grep -lx "$runpid" "$CACHE"/trixie-runs/run.*/pid 2>/dev/null)
    killed_dir=${killed_dir%/pid}
    [ -n "$killed_dir" ] || fail "no run folder holds the helper's pid $runpid"
    kill -KILL "$runpid"
    deadline=$((SECONDS + 60))
    while pgrep -f "$token" >/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    left=$(pgrep -af "$token")
    expect_eq "$left" "" "killing the helper with SIGKILL ends every process of the run"
else
    fail "the command did not start in the root: $(wait "$runpid"; echo "exit $?")"
    kill -KILL "$runpid" 2>/dev/null
fi
wait "$runpid" 2>/dev/null
expect_eq "$(our_mounts)" "" "after the killed run, no mount is left"
expect_eq "$("$TR" run sh -c 'exit 7'; echo $?)" 7 "run passes the command's exit status on"
if [ -n "${killed_dir:-}" ]; then
    [ ! -e "$killed_dir" ] && pass "the next run removed the killed run's folder" || fail "$killed_dir was left"
fi

# ---- build, package, lint, install in trixie ----
IN=$W/in
mkdir -p "$IN"
cat >"$IN/steps.sh" <<'EOF'
#!/bin/bash
# runs in /src, the copy of the checkout, inside the trixie root; results in /out
set -u
out=/out
# step NAME CMD...: NAME.log, NAME.rc and NAME.time in /out
step() {
    local name=$1 t=$SECONDS rc
    shift
    "$@" >"$out/$name.log" 2>&1
    rc=$?
    echo "$rc" >"$out/$name.rc"
    echo $((SECONDS - t)) >"$out/$name.time"
    return "$rc"
}
step autogen ./autogen.sh &&
    step configure sh -c 'mkdir -p _build && cd _build && ../configure --enable-werror --enable-test-hooks' &&
    step make make -C _build -j2 &&
    step make-tests make -C _build -j2 check TESTS=
step build-deb packaging/build-deb "$out/debs"
step lintian sh -c 'lintian -I --pedantic --fail-on error,warning /out/debs/mailcert_*.changes 2>/out/lintian.err'
lintian --version >"$out/lintian.version" 2>&1
# a fresh root: neither group nor user before the packages
{ getent group mailcert; getent passwd mailcert; } >"$out/before"
step dpkg sh -c 'DEBIAN_FRONTEND=noninteractive dpkg -i /out/debs/mailcert_*.deb /out/debs/mailcert-milter_*.deb'
getent passwd mailcert >"$out/passwd"
getent group mailcert >"$out/group"
stat -c '%a %U:%G' /etc/mailcert/mailcert.conf >"$out/conf-mode" 2>&1
ls -1 /usr/lib/systemd/system/ | grep mailcert >"$out/units"
dpkg -L mailcert mailcert-milter | grep '^/lib/' >"$out/dpkg-lib"
step check /usr/sbin/mailcert -c /etc/mailcert/mailcert.conf check
/usr/sbin/mailcert --version >"$out/version" 2>&1
# scripts/install-deps on trixie, with its Sendmail and Exim
step install-deps env MAILCERT_INSTALL_LOG=/out/install-deps-apt.log scripts/install-deps
sm=$(sed -n 's/^install-deps: Sendmail for the tests in //p' "$out/install-deps.log")
{ [ -n "$sm" ] && ldd "$sm/usr/libexec/sendmail/sendmail"; } >"$out/sendmail-ldd" 2>&1
tests/lib/exim-fetch.sh --path >"$out/exim-path" 2>&1 && ldd "$(cat "$out/exim-path")" >"$out/exim-ldd" 2>&1
exit 0
EOF
t1=$SECONDS
"$TR" checkout --bind "$IN:/out" bash /out/steps.sh >"$W/run.log" 2>&1 || fail "the steps did not run: $(tail -20 "$W/run.log")"
log "the steps in trixie took $((SECONDS - t1)) s"
expect_eq "$(our_mounts)" "" "after the run, no mount of the root is left"

# stepok NAME WHAT: NAME's exit status was 0
stepok() {
    local rc
    rc=$(cat "$IN/$1.rc" 2>/dev/null)
    if [ "$rc" = 0 ]; then
        pass "trixie: $2 ($(cat "$IN/$1.time") s)"
        return 0
    fi
    fail "trixie: $2: exit ${rc:-none}: $(tail -30 "$IN/$1.log" 2>/dev/null)"
    return 1
}
stepok autogen "./autogen.sh" &&
    expect_eq "$(grep -i warning "$IN/autogen.log" | grep -v 'export WARNINGS=')" "" "trixie: autoreconf warns of nothing"
stepok configure "configure --enable-werror"
stepok make "make" &&
    expect_eq "$(grep 'warning:' "$IN/make.log")" "" "trixie: the compiler warns of nothing"
stepok make-tests "make check TESTS= (the unit tests and the test programs build)" &&
    expect_eq "$(grep 'warning:' "$IN/make-tests.log")" "" "trixie: the compiler warns of nothing in the tests either"
stepok build-deb "packaging/build-deb"
DEB=$(ls "$IN"/debs/mailcert_*.deb 2>/dev/null | head -1)
MDEB=$(ls "$IN"/debs/mailcert-milter_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] && [ -n "$MDEB" ] && pass "trixie: both packages built" || fail "trixie: packages missing: $(ls "$IN/debs" 2>&1)"

# lintian: no E: and no W: (I: and P: are fine)
sed 's/^/lintian (trixie): /' "$IN/lintian.log" "$IN/lintian.err" >&2
# (trixie's lintian says on stderr that it runs as root: nothing else may be there)
if [ "$(cat "$IN/lintian.rc" 2>/dev/null)" = 0 ] && ! grep -q '^[EW]: ' "$IN/lintian.log" &&
    ! grep -qv '^[IPNOX]: \|^$' "$IN/lintian.log" &&
    ! grep -qv '^running with root privileges is not recommended!$' "$IN/lintian.err"; then
    pass "trixie: $(cat "$IN/lintian.version"): no error and no warning ($(grep -c '^[IP]: ' "$IN/lintian.log") info/pedantic tags)"
else
    fail "trixie: lintian (exit $(cat "$IN/lintian.rc")): $(grep -v '^[IP]: ' "$IN/lintian.log" | tr '\n' ' ')"
fi

expect_eq "$(cat "$IN/before")" "" "trixie: before the packages the root has neither group nor user mailcert"
stepok dpkg "dpkg -i installed both packages"
IFS=: read -r name _ uid ugid _ home shell <"$IN/passwd"
if [ "${name:-}" = mailcert ]; then
    expect_eq "$ugid" "$(cut -d: -f3 "$IN/group")" "trixie: the package made the user mailcert, in group mailcert"
    [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] && pass "trixie: mailcert is a system user (uid $uid)" || fail "trixie: mailcert has uid $uid"
    expect_eq "$home:$shell" "/nonexistent:/usr/sbin/nologin" "trixie: the user mailcert has no home and no shell"
else
    fail "trixie: no user mailcert after dpkg -i: $(cat "$IN/passwd")"
fi
expect_eq "$(cat "$IN/conf-mode")" "640 root:mailcert" "trixie: /etc/mailcert/mailcert.conf is 0640 root:mailcert"
expect_eq "$(tr '\n' ' ' <"$IN/units")" "mailcert-milter.service mailcert-prepare.service mailcert-renew.service mailcert-renew.timer mailcert.service " \
    "trixie: the units are in /usr/lib/systemd/system"
expect_eq "$(cat "$IN/dpkg-lib")" "" "trixie: dpkg knows no file of the packages under /lib"
stepok check "mailcert check accepts the installed configuration: $(cat "$IN/check.log")"
expect_eq "$(cat "$IN/version")" "mailcert $(dpkg-deb -f "$DEB" Version 2>/dev/null)" "trixie: the installed mailcert runs"

# scripts/install-deps on trixie
if stepok install-deps "scripts/install-deps"; then
    grep -q '(trixie)' "$IN/install-deps.log" && pass "trixie: install-deps installed trixie's packages: $(grep -o 'installing (trixie):.*' "$IN/install-deps.log" | cut -c1-300)" ||
        log "install-deps installed nothing (all present)"
fi
if grep -q 'libc.so' "$IN/sendmail-ldd" && ! grep -q 'not found' "$IN/sendmail-ldd"; then
    pass "trixie: the Sendmail copy finds its libraries"
else
    fail "trixie: the Sendmail copy: $(grep 'not found' "$IN/sendmail-ldd" || cat "$IN/sendmail-ldd")"
fi
if grep -q 'libc.so' "$IN/exim-ldd" 2>/dev/null && ! grep -q 'not found' "$IN/exim-ldd"; then
    pass "trixie: the Exim copy finds its libraries ($(cat "$IN/exim-path"))"
else
    fail "trixie: the Exim copy: $(cat "$IN/exim-path" "$IN/exim-ldd" 2>&1 | grep -v '=> /')"
fi

# ---- the Debian 13 trial (tests/trixie/trial.sh): the packages just built, in a
# fresh root, Postfix 3.10 and Dovecot 2.4 wired as documented and started first, in
# a network namespace of the run's own (the standard ports, loopback only)
if [ -n "$DEB" ] && [ -n "$MDEB" ]; then
    t2=$SECONDS
    if "$TR" checkout --bind "$IN:/out" unshare --net sh -c 'ip link set lo up && exec bash tests/trixie/trial.sh /src /out/debs' \
        >"$W/trial.log" 2>&1; then
        pass "trixie: the Debian 13 trial passed ($((SECONDS - t2)) s): $(grep -c '\] ok ' "$W/trial.log") checks"
    else
        fail "trixie: the Debian 13 trial: $(grep -E 'FAIL|FATAL' "$W/trial.log" | head -20)"
    fi
    grep -E '\] (ok|FAIL) ' "$W/trial.log" | sed 's/^/trial: /' >&2
fi

log "trixie.sh took $((SECONDS - t0)) s"
finish
