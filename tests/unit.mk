# Unit tests (Check): one program per module of lib/ and helpers/.
# Each runs its suite with CK_FORK and exits non-zero when any check fails.
if HAVE_CHECK

UNIT_TESTS = \
	tests/unit/test_b64url \
	tests/unit/test_hostname \
	tests/unit/test_netaddr \
	tests/unit/test_timefmt \
	tests/unit/test_spawn \
	tests/unit/test_state \
	tests/unit/test_conf \
	tests/unit/test_x509chk \
	tests/unit/test_store \
	tests/unit/test_jws \
	tests/unit/test_keys \
	tests/unit/test_danekey \
	tests/unit/test_acme_problem \
	tests/unit/test_http01 \
	tests/unit/test_loaded \
	tests/unit/test_tlsalpn \
	tests/unit/test_responder_fds \
	tests/unit/test_tlsalpn_limits \
	tests/unit/test_http01_idle \
	tests/unit/test_webroot \
	tests/unit/test_timefmt_nohooks \
	tests/unit/test_ipc \
	tests/unit/test_hosts \
	tests/unit/test_loader \
	tests/unit/test_exim \
	tests/unit/test_ari \
	tests/unit/test_served \
	tests/unit/test_mtaconf \
	tests/unit/test_notifyq

check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

UNIT_COMMON = tests/unit/unit.c tests/unit/unit.h
UNIT_CF = $(AM_CFLAGS) $(CHECK_CFLAGS)
UNIT_CPPF = $(AM_CPPFLAGS) -I$(top_srcdir)/helpers -I$(top_srcdir)/tests/unit
UNIT_LINK = helpers/libhelper.a $(MAILCERT_LIBS) $(SECCOMP_LIBS) $(CHECK_LIBS)
PLUGIN_UNIT_CPPF = $(UNIT_CPPF) -I$(top_srcdir)/plugin
PLUGIN_UNIT_LINK = plugin/libplugin.a $(MAILCERT_LIBS) $(MILTER_LIBS) $(CHECK_LIBS)

tests_unit_test_hosts_SOURCES = tests/unit/test_hosts.c $(UNIT_COMMON)
tests_unit_test_hosts_CFLAGS = $(UNIT_CF)
tests_unit_test_hosts_CPPFLAGS = $(PLUGIN_UNIT_CPPF)
tests_unit_test_hosts_LDADD = $(PLUGIN_UNIT_LINK)

tests_unit_test_loader_SOURCES = tests/unit/test_loader.c $(UNIT_COMMON)
tests_unit_test_loader_CFLAGS = $(UNIT_CF)
tests_unit_test_loader_CPPFLAGS = $(PLUGIN_UNIT_CPPF)
tests_unit_test_loader_LDADD = $(PLUGIN_UNIT_LINK)

tests_unit_test_exim_SOURCES = tests/unit/test_exim.c $(UNIT_COMMON)
tests_unit_test_exim_CFLAGS = $(UNIT_CF)
tests_unit_test_exim_CPPFLAGS = $(PLUGIN_UNIT_CPPF)
tests_unit_test_exim_LDADD = $(PLUGIN_UNIT_LINK)

tests_unit_test_ari_SOURCES = tests/unit/test_ari.c $(UNIT_COMMON)
tests_unit_test_ari_CFLAGS = $(UNIT_CF)
tests_unit_test_ari_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_ari_LDADD = $(UNIT_LINK)

tests_unit_test_served_SOURCES = tests/unit/test_served.c $(UNIT_COMMON)
tests_unit_test_served_CFLAGS = $(UNIT_CF)
tests_unit_test_served_CPPFLAGS = $(PLUGIN_UNIT_CPPF)
tests_unit_test_served_LDADD = $(PLUGIN_UNIT_LINK)

tests_unit_test_mtaconf_SOURCES = tests/unit/test_mtaconf.c $(UNIT_COMMON)
tests_unit_test_mtaconf_CFLAGS = $(UNIT_CF)
tests_unit_test_mtaconf_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_mtaconf_LDADD = $(UNIT_LINK)

tests_unit_test_notifyq_SOURCES = tests/unit/test_notifyq.c $(UNIT_COMMON)
tests_unit_test_notifyq_CFLAGS = $(UNIT_CF)
tests_unit_test_notifyq_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_notifyq_LDADD = $(UNIT_LINK)

tests_unit_test_ipc_SOURCES = tests/unit/test_ipc.c $(UNIT_COMMON)
tests_unit_test_ipc_CFLAGS = $(UNIT_CF)
tests_unit_test_ipc_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_ipc_LDADD = $(UNIT_LINK)

tests_unit_test_tlsalpn_SOURCES = tests/unit/test_tlsalpn.c $(UNIT_COMMON)
tests_unit_test_tlsalpn_CFLAGS = $(UNIT_CF)
tests_unit_test_tlsalpn_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_tlsalpn_LDADD = $(UNIT_LINK)

tests_unit_test_loaded_SOURCES = tests/unit/test_loaded.c $(UNIT_COMMON)
tests_unit_test_loaded_CFLAGS = $(UNIT_CF)
tests_unit_test_loaded_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_loaded_LDADD = $(UNIT_LINK)

tests_unit_test_b64url_SOURCES = tests/unit/test_b64url.c $(UNIT_COMMON)
tests_unit_test_b64url_CFLAGS = $(UNIT_CF)
tests_unit_test_b64url_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_b64url_LDADD = $(UNIT_LINK)

tests_unit_test_hostname_SOURCES = tests/unit/test_hostname.c $(UNIT_COMMON)
tests_unit_test_hostname_CFLAGS = $(UNIT_CF)
tests_unit_test_hostname_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_hostname_LDADD = $(UNIT_LINK)

tests_unit_test_netaddr_SOURCES = tests/unit/test_netaddr.c $(UNIT_COMMON)
tests_unit_test_netaddr_CFLAGS = $(UNIT_CF)
tests_unit_test_netaddr_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_netaddr_LDADD = $(UNIT_LINK)

tests_unit_test_timefmt_SOURCES = tests/unit/test_timefmt.c $(UNIT_COMMON)
tests_unit_test_timefmt_CFLAGS = $(UNIT_CF)
tests_unit_test_timefmt_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_timefmt_LDADD = $(UNIT_LINK)

# test_timefmt again, with lib/timefmt.c built as in production: without
# MAILCERT_TEST_HOOKS (tests/unit/nohooks/config.h, found first via -iquote)
tests_unit_test_timefmt_nohooks_SOURCES = tests/unit/test_timefmt.c lib/timefmt.c $(UNIT_COMMON)
tests_unit_test_timefmt_nohooks_CFLAGS = $(UNIT_CF)
tests_unit_test_timefmt_nohooks_CPPFLAGS = -iquote $(top_srcdir)/tests/unit/nohooks $(UNIT_CPPF)
tests_unit_test_timefmt_nohooks_LDADD = $(UNIT_LINK)
EXTRA_DIST += tests/unit/nohooks/config.h

tests_unit_test_spawn_SOURCES = tests/unit/test_spawn.c $(UNIT_COMMON)
tests_unit_test_spawn_CFLAGS = $(UNIT_CF)
tests_unit_test_spawn_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_spawn_LDADD = $(UNIT_LINK)

tests_unit_test_state_SOURCES = tests/unit/test_state.c $(UNIT_COMMON)
tests_unit_test_state_CFLAGS = $(UNIT_CF)
tests_unit_test_state_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_state_LDADD = $(UNIT_LINK)

tests_unit_test_conf_SOURCES = tests/unit/test_conf.c $(UNIT_COMMON)
tests_unit_test_conf_CFLAGS = $(UNIT_CF)
tests_unit_test_conf_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_conf_LDADD = $(UNIT_LINK)

tests_unit_test_x509chk_SOURCES = tests/unit/test_x509chk.c $(UNIT_COMMON)
tests_unit_test_x509chk_CFLAGS = $(UNIT_CF)
tests_unit_test_x509chk_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_x509chk_LDADD = $(UNIT_LINK)

tests_unit_test_store_SOURCES = tests/unit/test_store.c $(UNIT_COMMON)
tests_unit_test_store_CFLAGS = $(UNIT_CF)
tests_unit_test_store_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_store_LDADD = $(UNIT_LINK)

tests_unit_test_jws_SOURCES = tests/unit/test_jws.c $(UNIT_COMMON)
tests_unit_test_jws_CFLAGS = $(UNIT_CF)
tests_unit_test_jws_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_jws_LDADD = $(UNIT_LINK)

tests_unit_test_danekey_SOURCES = tests/unit/test_danekey.c $(UNIT_COMMON)
tests_unit_test_danekey_CFLAGS = $(UNIT_CF)
tests_unit_test_danekey_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_danekey_LDADD = $(UNIT_LINK)

tests_unit_test_keys_SOURCES = tests/unit/test_keys.c $(UNIT_COMMON)
tests_unit_test_keys_CFLAGS = $(UNIT_CF)
tests_unit_test_keys_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_keys_LDADD = $(UNIT_LINK)

tests_unit_test_acme_problem_SOURCES = tests/unit/test_acme_problem.c $(UNIT_COMMON)
tests_unit_test_acme_problem_CFLAGS = $(UNIT_CF)
tests_unit_test_acme_problem_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_acme_problem_LDADD = $(UNIT_LINK)

tests_unit_test_http01_SOURCES = tests/unit/test_http01.c $(UNIT_COMMON)
tests_unit_test_http01_CFLAGS = $(UNIT_CF)
tests_unit_test_http01_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_http01_LDADD = $(UNIT_LINK)

tests_unit_test_responder_fds_SOURCES = tests/unit/test_responder_fds.c $(UNIT_COMMON)
tests_unit_test_responder_fds_CFLAGS = $(UNIT_CF)
tests_unit_test_responder_fds_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_responder_fds_LDADD = $(UNIT_LINK)

tests_unit_test_tlsalpn_limits_SOURCES = tests/unit/test_tlsalpn_limits.c $(UNIT_COMMON)
tests_unit_test_tlsalpn_limits_CFLAGS = $(UNIT_CF)
tests_unit_test_tlsalpn_limits_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_tlsalpn_limits_LDADD = $(UNIT_LINK)

tests_unit_test_http01_idle_SOURCES = tests/unit/test_http01_idle.c $(UNIT_COMMON)
tests_unit_test_http01_idle_CFLAGS = $(UNIT_CF)
tests_unit_test_http01_idle_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_http01_idle_LDADD = $(UNIT_LINK)

tests_unit_test_webroot_SOURCES = tests/unit/test_webroot.c $(UNIT_COMMON)
tests_unit_test_webroot_CFLAGS = $(UNIT_CF)
tests_unit_test_webroot_CPPFLAGS = $(UNIT_CPPF)
tests_unit_test_webroot_LDADD = $(UNIT_LINK)

else
# Built --without-check: say so in the results instead of vanishing.
TESTS += tests/unit/no-check.sh
endif
EXTRA_DIST += tests/unit/no-check.sh
