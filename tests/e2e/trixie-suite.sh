#!/bin/bash
# The suite's tests of real Postfix, Dovecot, Sendmail, Exim and Pebble, run again on
# Debian 13 (trixie: Postfix 3.10, Dovecot 2.4, OpenSSL 3.5, Pebble 2.6, Exim 4.98,
# Sendmail 8.18), in the cached root of tests/lib/trixie-root: scripts/test there, on
# a copy of this checkout, builds as this build was built (normal, or with the
# sanitizers) and runs every plugin test and the end-to-end tests listed below. It
# passes when that run counts every one of them passed, none failed and none skipped.
# run-test: timeout 3600
. "$(dirname "$0")/e2e.sh"
set -u
[ "$(id -u)" = 0 ] || { log "SKIP: needs root (namespaces, the trixie root)"; exit 77; }
if [ -e /etc/mailcert-test-root ]; then
    expect_eq "$(cat /etc/mailcert-test-root)" trixie "this suite already runs inside the trixie root: nothing to run again"
    finish
fi
e2e_workdir
TR=$TOP_SRCDIR/tests/lib/trixie-root
B=${TOP_BUILDDIR:-$PWD}
sanitizers=no
grep -q -- '--enable-sanitizers' "$B/config.status" 2>/dev/null && sanitizers=only
# every plugin test; the end-to-end tests where the MTAs' or the CA's version shows
plugin=$(sed -n 's|.*\(tests/plugin/[a-z0-9-]*\.sh\).*|\1|p' "$TOP_SRCDIR/tests/plugin.mk" |
    grep -vx 'tests/plugin/lib.sh\|tests/plugin/mkhosts.sh' | sort -u)
e2e="tests/e2e/demo.sh tests/e2e/issue-pebble.sh tests/e2e/tls-alpn.sh tests/e2e/mixed-challenges.sh
tests/e2e/notify.sh tests/e2e/notify-queue.sh tests/e2e/run-watch.sh tests/e2e/renew-retry.sh
tests/e2e/privsep.sh tests/e2e/store-umask.sh"
list=$(echo $plugin $e2e)
n=$(wc -w <<<"$list")
log "running $n tests in trixie (SANITIZERS=$sanitizers)"
mkdir -p "$W/out"
t0=$SECONDS
"$TR" checkout env MAILCERT_TESTS="$list" SANITIZERS=$sanitizers SELFTEST=no BUILD_ROOT=/src \
    scripts/test >"$W/run.log" 2>&1
rc=$?
log "the run in trixie took $((SECONDS - t0)) s (exit $rc)"
grep -E '^  \[[a-z]+\] (PASS|FAIL|SKIP|ERROR|XPASS|XFAIL):' "$W/run.log" >&2
summary=$(grep -E '^mailcert: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$W/run.log" | tail -1)
expect_eq "$summary" "mailcert: $n passed, 0 failed, 0 skipped" "trixie: every one of the $n tests passed"
expect_eq "$rc" 0 "trixie: scripts/test exits 0"
[ "$FAILURES" -eq 0 ] || tail -150 "$W/run.log" >&2
finish
