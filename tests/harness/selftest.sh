#!/bin/bash
# tests/harness/selftest.sh - shows that scripts/test cannot report green while
# something is broken. In a scratch copy of this checkout it plants, one at a time:
#   - a sanitizer report right after an expected error (mailcert exits 78 as the
#     test expects, but UBSan fired first),
#   - a unit test that does not compile (the previous run's results must not count),
#   - a missing dependency (the test skips),
#   - a hang (the per-test time limit must end it),
#   - a process left running after the test,
# and checks that scripts/test says so in its final line and exit status. A control
# run of the same tests without any plant must pass, so the plants are what fail.
# Run by scripts/test after the suite (SELFTEST=no skips it); prints ok/FAIL lines.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
S=$(mktemp -d "${TMPDIR:-/tmp}/mailcert-selftest.XXXXXX") || exit 1
[ -n "${KEEP:-}" ] || trap 'rm -rf "$S"' EXIT
failures=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The checkout as it is now (tracked and new files, not build output).
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$S" || { echo "FAIL: cannot copy the checkout"; exit 1; }

# run NAME ENV... : scripts/test in the scratch copy, output in $S/NAME.out;
# sets RC and LAST (the final line)
run() {
    local name=$1
    shift
    env SELFTEST=no "$@" "$S/scripts/test" >"$S/$name.out" 2>&1
    RC=$?
    LAST=$(tail -1 "$S/$name.out")
}

# expect_fail NAME WHY_PATTERN: the run must exit non-zero, its final line must count
# a failure, and the output must say WHY_PATTERN
expect_fail() {
    local name=$1 why=$2
    if [ "$RC" -eq 0 ]; then
        bad "$name: scripts/test exited 0 ($LAST)"
        tail -30 "$S/$name.out"
        return
    fi
    case $LAST in
        "mailcert: "*" passed, 0 failed"*) bad "$name: final line counts no failure: $LAST" ;;
        "mailcert: "*" passed, "*" failed"*) ok "$name: exit $RC, final line '$LAST'" ;;
        *) bad "$name: no summary line: $LAST" ;;
    esac
    if grep -qE "$why" "$S/$name.out"; then
        ok "$name: the output says why (/$why/)"
    else
        bad "$name: the output does not match /$why/"
        tail -30 "$S/$name.out"
    fi
}

planted() { cp "$S/$1" "$S/$1.orig"; }
restore() { mv "$S/$1.orig" "$S/$1"; }

# Control: both builds, the tests the plants will touch, nothing planted.
run control MAILCERT_TESTS="tests/unit/test_b64url tests/e2e/config-errors.sh"
if [ "$RC" -eq 0 ] && [ "$LAST" = "mailcert: 4 passed, 0 failed, 0 skipped" ]; then
    ok "control: '$LAST'"
else
    bad "control run did not pass cleanly (exit $RC, '$LAST')"
    tail -40 "$S/control.out"
fi

# 1. A sanitizer report after the expected error: config-errors.sh wants exit 78.
f=helpers/main.c
planted $f
sed -i 's|^\(\t\t\)fprintf(stderr, "%s\\n", e.msg);|&\n\1{ volatile int planted = __INT_MAX__; planted = planted + 1; (void)planted; }|' "$S/$f"
if grep -q 'planted = planted + 1' "$S/$f"; then
    run sanitizer SANITIZERS=only MAILCERT_TESTS=tests/e2e/config-errors.sh
    # the report is seen as a report: in a log, by run-test, or as exit 87 where 78 was due
    expect_fail sanitizer "sanitizer report in |UndefinedBehaviorSanitizer report \\(exit 87\\)|got '87'"
else
    bad "sanitizer: could not plant the report in $f"
fi
restore $f

# 2. A unit test that does not compile (its binary from the control run is still there).
f=tests/unit/test_b64url.c
planted $f
echo '#error planted by the harness self-test' >>"$S/$f"
run nocompile SANITIZERS=no MAILCERT_TESTS=tests/unit/test_b64url
expect_fail nocompile 'ran no test|build failed'
restore $f

# 3. A missing dependency: the test skips.
f=tests/e2e/config-errors.sh
planted $f
sed -i '0,/^set -u/s//&\ncommand -v mailcert-planted-missing-tool >\/dev\/null || { echo "SKIP: no mailcert-planted-missing-tool"; exit 77; }/' "$S/$f"
run skip SANITIZERS=no MAILCERT_TESTS=tests/e2e/config-errors.sh
expect_fail skip 'SKIPPED, which MAILCERT_TEST_STRICT=1 does not allow'
restore $f

# 4. A hang: the per-test limit ends it.
planted $f
sed -i '0,/^set -u/s//&\nsleep 100001/' "$S/$f"
run hang SANITIZERS=no MAILCERT_TEST_TIMEOUT=10 MAILCERT_TESTS=tests/e2e/config-errors.sh
expect_fail hang 'TIMED OUT'
if pgrep -f 'sleep 100001' >/dev/null; then bad "hang: the hung process is still running"; pkill -f 'sleep 100001'; else ok "hang: nothing of it left running"; fi
restore $f

# 5. A process left running after the test (in a session of its own).
planted $f
sed -i '0,/^set -u/s//&\nsetsid sleep 100002 >\/dev\/null 2>\&1 \&/' "$S/$f"
run leftover SANITIZERS=no MAILCERT_TESTS=tests/e2e/config-errors.sh
expect_fail leftover 'left 1 process\(es\) running'
if pgrep -f 'sleep 100002' >/dev/null; then bad "leftover: the process is still running"; pkill -f 'sleep 100002'; else ok "leftover: it was killed"; fi
restore $f

if [ "$failures" -gt 0 ]; then
    echo "selftest: $failures check(s) failed (scratch copy: $S${KEEP:+, kept})"
    exit 1
fi
echo "selftest: every planted failure was reported"
