# helpers/: the mailcert helper (ACME client, store writer, operator CLI)
sbin_PROGRAMS += helpers/mailcert
noinst_LIBRARIES += helpers/libhelper.a
helpers_libhelper_a_SOURCES = \
	helpers/account.c helpers/account.h \
	helpers/acme.c helpers/acme.h \
	helpers/aia.c helpers/aia.h \
	helpers/ari.c helpers/ari.h \
	helpers/certfiles.c helpers/certfiles.h \
	helpers/chain.c helpers/chain.h \
	helpers/challenge.c helpers/challenge.h \
	helpers/csr.c helpers/csr.h \
	helpers/daemon.c helpers/daemon.h \
	helpers/dane.c helpers/dane.h \
	helpers/dns01.c helpers/dns01.h \
	helpers/dnscheck.c helpers/dnscheck.h \
	helpers/dnsfile.c helpers/dnsfile.h \
	helpers/http.c helpers/http.h \
	helpers/expiry.c helpers/expiry.h \
	helpers/http01.c helpers/http01.h \
	helpers/import.c helpers/import.h \
	helpers/ipc.c helpers/ipc.h \
	helpers/issue.c helpers/issue.h \
	helpers/jws.c helpers/jws.h \
	helpers/keyproc.c helpers/keyproc.h \
	helpers/mtaconf.c helpers/mtaconf.h \
	helpers/netproc.c helpers/netproc.h \
	helpers/notify.c helpers/notify.h \
	helpers/notifyq.c helpers/notifyq.h \
	helpers/privsep.c helpers/privsep.h \
	helpers/responder.c helpers/responder.h \
	helpers/sandbox.c helpers/sandbox.h \
	helpers/selfcheck.c helpers/selfcheck.h \
	helpers/status.c helpers/status.h \
	helpers/tlsalpn.c helpers/tlsalpn.h \
	helpers/trust.c helpers/trust.h
helpers_mailcert_SOURCES = helpers/main.c
helpers_mailcert_LDADD = helpers/libhelper.a $(MAILCERT_LIBS) $(SECCOMP_LIBS)

# The example configuration (conf.d/local.mk installs it under examples/) also
# becomes the live config when there is none yet: an operator's file is never
# overwritten. It can come to hold the EAB key: 0640, and group mailcert when that
# group exists (not with DESTDIR: a package sets the group at installation).
install-data-local: install-mailcert-conf
install-mailcert-conf:
	$(MKDIR_P) $(DESTDIR)$(sysconfdir)/mailcert/conf.d
	if test ! -f $(DESTDIR)$(sysconfdir)/mailcert/mailcert.conf; then \
	  $(INSTALL) -m 0640 $(srcdir)/conf.d/mailcert.conf $(DESTDIR)$(sysconfdir)/mailcert/mailcert.conf && \
	  if test -z "$(DESTDIR)" && getent group mailcert >/dev/null 2>&1; then \
	    chgrp mailcert $(sysconfdir)/mailcert/mailcert.conf; fi; \
	fi
uninstall-local: uninstall-mailcert-conf
uninstall-mailcert-conf:
	@# an operator's edited configuration stays; the untouched example goes
	if cmp -s $(srcdir)/conf.d/mailcert.conf $(DESTDIR)$(sysconfdir)/mailcert/mailcert.conf; then \
	  rm -f $(DESTDIR)$(sysconfdir)/mailcert/mailcert.conf; fi

# dns-01 hooks shipped with mailcert (dns01.hook names one): RFC 2136 dynamic
# updates with nsupdate and a TSIG key, in $(libexecdir)/mailcert
dist_pkglibexec_SCRIPTS = scripts/mailcert-hook-rfc2136
