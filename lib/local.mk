# lib/: what both programs need (config, store, x509 checks, logging, files, spawn)
noinst_LIBRARIES += lib/libmailcert.a
lib_libmailcert_a_SOURCES = \
	lib/b64url.c lib/b64url.h \
	lib/conf.c lib/conf.h \
	lib/metrics.c lib/metrics.h \
	lib/confdigest.c lib/confdigest.h \
	lib/danekey.c lib/danekey.h \
	lib/err.c lib/err.h \
	lib/fsutil.c lib/fsutil.h \
	lib/hostname.c lib/hostname.h \
	lib/keys.c lib/keys.h \
	lib/log.c lib/log.h \
	lib/mailaddr.c lib/mailaddr.h \
	lib/mtasyntax.c lib/mtasyntax.h \
	lib/netaddr.c lib/netaddr.h \
	lib/privdrop.c lib/privdrop.h \
	lib/pending.c lib/pending.h \
	lib/spawn.c lib/spawn.h \
	lib/state.c lib/state.h \
	lib/store.c lib/store.h \
	lib/storepath.c lib/storepath.h \
	lib/storewatch.c lib/storewatch.h \
	lib/timefmt.c lib/timefmt.h \
	lib/x509chk.c lib/x509chk.h \
	lib/xalloc.c lib/xalloc.h \
	lib/loaded.c lib/loaded.h

MAILCERT_LIBS = lib/libmailcert.a $(OPENSSL_LIBS) $(CURL_LIBS) $(CONFUSE_LIBS) \
	$(JANSSON_LIBS) $(RESOLV_LIBS) $(PTHREAD_LIBS)
