# End-to-end tests: real Pebble (and the scripted fake CA for hostile answers).
# Tests that move mailcert's clock (MAILCERT_NOW) need a build with test hooks.
if TEST_HOOKS
TEST_HOOKS_BUILT = yes
else
TEST_HOOKS_BUILT = no
endif
AM_TESTS_ENVIRONMENT = \
	MAILCERT_TEST_HOOKS_BUILT=$(TEST_HOOKS_BUILT); export MAILCERT_TEST_HOOKS_BUILT; \
	MAILCERT='$(abs_top_builddir)/helpers/mailcert'; export MAILCERT; \
	MAILCERT_MILTER='$(abs_top_builddir)/plugin/mailcert-milter'; export MAILCERT_MILTER; \
	TOP_SRCDIR='$(abs_top_srcdir)'; export TOP_SRCDIR; \
	TOP_BUILDDIR='$(abs_top_builddir)'; export TOP_BUILDDIR;

E2E_TESTS = \
	tests/e2e/config-errors.sh \
	tests/e2e/issue-pebble.sh \
	tests/e2e/issue-nonce-reject.sh \
	tests/e2e/issue-va-sleep.sh \
	tests/e2e/hostile-ca.sh \
	tests/e2e/chains-keys-webroot.sh \
	tests/e2e/renew-retry.sh \
	tests/e2e/ari.sh \
	tests/e2e/stale-error.sh \
	tests/e2e/retire.sh \
	tests/e2e/tls-alpn.sh \
	tests/e2e/store-publish-fault.sh \
	tests/e2e/store-umask.sh \
	tests/e2e/test-hooks-gate.sh \
	tests/e2e/configure-paths.sh \
	tests/e2e/install-units.sh \
	tests/e2e/mixed-challenges.sh \
	tests/e2e/responder-secrets.sh \
	tests/e2e/authz-identifier.sh \
	tests/e2e/privsep.sh \
	tests/e2e/privsep-kill.sh \
	tests/e2e/notify.sh \
	tests/e2e/notify-queue.sh \
	tests/e2e/selfcheck.sh \
	tests/e2e/fallback.sh \
	tests/e2e/staging.sh \
	tests/e2e/store-full.sh \
	tests/e2e/metrics.sh \
	tests/e2e/ca-bundle.sh \
	tests/e2e/demo.sh \
	tests/e2e/docs-agree.sh \
	tests/e2e/resolver-ipv6.sh

TESTS += $(E2E_TESTS)
EXTRA_DIST += $(E2E_TESTS) tests/e2e/e2e.sh \
	scripts/demo scripts/install-deps \
	tests/lib/common.sh tests/lib/mta.sh tests/lib/pebble.sh tests/lib/fakeca.sh tests/fakeca/fakeca.py tests/lib/memscan.py
# the LD_PRELOAD fault shim store-publish-fault.sh builds at test time
EXTRA_DIST += tests/e2e/fault-fsync.c

# import, csr and install (certificates from outside ACME)
E2E_TESTS += tests/e2e/import.sh tests/e2e/csr-install.sh
EXTRA_DIST += tests/e2e/import-lib.sh

# the ACME account (show, key rollover, deactivation) and revocation
E2E_TESTS += tests/e2e/account.sh tests/e2e/revoke.sh

# the RFC 2136 dns-01 hook against a throwaway BIND 9 (and Pebble resolving with it)
E2E_TESTS += tests/e2e/rfc2136.sh
# DANE-safe keys: key_reuse and an announced key rollover (Pebble, and BIND serving TLSA)
E2E_TESTS += tests/e2e/dane.sh
EXTRA_DIST += tests/e2e/rfc2136-lib.sh

# dns01.challenge_file: a script plays the operator's DNS utility, publishing through Pebble's DNS
E2E_TESTS += tests/e2e/dns-file.sh

# external account binding against a Pebble that requires it
E2E_TESTS += tests/e2e/eab.sh

# mailcert run: the renewal daemon, on the real clock against short-lived certificates
E2E_TESTS += tests/e2e/run-daemon.sh tests/e2e/run-kill.sh tests/e2e/run-watch.sh

# the Debian packages: packaging/build-deb, lintian, contents, dpkg -i and purge
E2E_TESTS += tests/e2e/deb.sh

# the RPM packages: packaging/build-rpm, contents, scriptlets, rpm --root install and erase
E2E_TESTS += tests/e2e/rpm.sh

# Debian 13 (trixie): build, package, lint and install in a cached debootstrap'd
# trixie root (tests/lib/trixie-root; scripts/test makes it before the tests)
E2E_TESTS += tests/e2e/trixie.sh tests/e2e/trixie-suite.sh
EXTRA_DIST += tests/lib/trixie-root tests/trixie/trial.sh tests/trixie/held.py
