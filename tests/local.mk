# tests/: unit tests (Check), end-to-end scripts against real Pebble/Postfix/Dovecot.
# Every test runs under tests/lib/run-test: sanitizer reports, time-outs, processes
# left behind and (with MAILCERT_TEST_STRICT=1) skips fail the test.
LOG_COMPILER = $(top_srcdir)/tests/lib/run-test
EXTRA_DIST += tests/lib/run-test tests/harness/selftest.sh
include tests/unit.mk
include tests/e2e.mk
include tests/plugin.mk
include tests/fuzz.mk
