# helpers/: the mailcert helper (ACME client, store writer, operator CLI)
sbin_PROGRAMS += helpers/mailcert
helpers_mailcert_SOURCES = helpers/main.c
helpers_mailcert_LDADD = $(MAILCERT_LIBS)
