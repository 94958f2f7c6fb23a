# plugin/: mailcert-milter, which loads the store into the MTAs and is a milter
sbin_PROGRAMS += plugin/mailcert-milter
plugin_mailcert_milter_SOURCES = plugin/main.c \
	plugin/hosts.c plugin/hosts.h \
	plugin/loader.c plugin/loader.h \
	plugin/mta.c plugin/mta.h \
	plugin/postfix.c plugin/dovecot.c plugin/sendmail.c \
	plugin/record.c plugin/record.h \
	plugin/resume.c plugin/resume.h \
	plugin/watch.c plugin/watch.h \
	plugin/milter.c plugin/milter.h \
	plugin/counts.c plugin/counts.h \
	plugin/filterproc.c plugin/filterproc.h
plugin_mailcert_milter_LDADD = $(MAILCERT_LIBS) $(MILTER_LIBS)
