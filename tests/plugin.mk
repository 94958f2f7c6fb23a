# tests/plugin/: mailcert-milter against real, throwaway Postfix and Dovecot
# instances on free loopback ports, and miltertest scripts for the filter.
PLUGIN_TESTS = \
	tests/plugin/sni.sh \
	tests/plugin/status-truth.sh \
	tests/plugin/change.sh \
	tests/plugin/badset.sh \
	tests/plugin/milter.sh \
	tests/plugin/milter-postfix.sh \
	tests/plugin/many.sh \
	tests/plugin/pebble-reissue.sh \
	tests/plugin/sendmail.sh \
	tests/plugin/milter-badnames.sh \
	tests/plugin/milter-socket.sh \
	tests/plugin/milter-bounds.sh \
	tests/plugin/sni-badnames.sh \
	tests/plugin/prune-in-use.sh \
	tests/plugin/default-link-retry.sh \
	tests/plugin/sendmail-pidfile.sh \
	tests/plugin/install-first-hour.sh
TESTS += $(PLUGIN_TESTS)
EXTRA_DIST += $(PLUGIN_TESTS)
EXTRA_DIST += tests/plugin/lib.sh tests/plugin/sessions.py tests/plugin/mkhosts.sh $(TESTS_PLUGIN_LUA)
TESTS_PLUGIN_LUA = tests/plugin/counts.lua
TESTS_PLUGIN_LUA += tests/plugin/badnames.lua
TESTS_PLUGIN_LUA += tests/plugin/manynames.lua
PLUGIN_TESTS += tests/plugin/milter-listen-errors.sh
PLUGIN_TESTS += tests/plugin/milter-stop.sh tests/plugin/milter-privsep.sh
PLUGIN_TESTS += tests/plugin/restart-unchanged.sh
PLUGIN_TESTS += tests/plugin/milter-hostile.sh
EXTRA_DIST += tests/plugin/hostile-filter.py
PLUGIN_TESTS += tests/plugin/served.sh
PLUGIN_TESTS += tests/plugin/served-renewal.sh tests/plugin/served-expired.sh tests/plugin/served-lag.sh
PLUGIN_TESTS += tests/plugin/trust.sh
PLUGIN_TESTS += tests/plugin/check-mtaconf.sh
PLUGIN_TESTS += tests/plugin/sendmail-real.sh
EXTRA_DIST += tests/lib/sendmail-fetch
PLUGIN_TESTS += tests/plugin/exim.sh
EXTRA_DIST += tests/lib/exim-fetch.sh
