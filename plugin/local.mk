# plugin/: mailcert-milter, which loads the store into the MTAs and is a milter.
# Everything but main.c is a library, so the unit tests reach hosts.c, loader.c, ...
sbin_PROGRAMS += plugin/mailcert-milter
noinst_LIBRARIES += plugin/libplugin.a
plugin_libplugin_a_SOURCES = \
	plugin/hosts.c plugin/hosts.h \
	plugin/loader.c plugin/loader.h \
	plugin/mta.c plugin/mta.h \
	plugin/standin.c plugin/standin.h \
	plugin/postfix.c plugin/dovecot.c plugin/sendmail.c plugin/exim.c \
	plugin/record.c plugin/record.h \
	plugin/resume.c plugin/resume.h \
	plugin/milter.c plugin/milter.h \
	plugin/counts.c plugin/counts.h \
	plugin/filterproc.c plugin/filterproc.h \
	plugin/served.c plugin/served.h \
	plugin/verdict.c plugin/verdict.h
plugin_mailcert_milter_SOURCES = plugin/main.c
plugin_mailcert_milter_LDADD = plugin/libplugin.a $(MAILCERT_LIBS) $(MILTER_LIBS)
