# packaging/: systemd units, made from packaging/systemd/*.in with the configured
# paths (@sbindir@, @sysconfdir@, @localstatedir@) and installed in
# $(systemdsystemunitdir) (configure --with-systemdsystemunitdir=DIR; default from
# pkg-config systemd; "no" builds them without installing them).
SYSTEMD_UNITS = \
	packaging/systemd/mailcert.service \
	packaging/systemd/mailcert-milter.service \
	packaging/systemd/mailcert-prepare.service \
	packaging/systemd/mailcert-renew.service \
	packaging/systemd/mailcert-renew.timer
EXTRA_DIST += $(SYSTEMD_UNITS:=.in)
CLEANFILES += $(SYSTEMD_UNITS)
if HAVE_SYSTEMD
systemdsystemunit_DATA = $(SYSTEMD_UNITS)
else
noinst_DATA = $(SYSTEMD_UNITS)
endif

# Made by make, not configure: make expands ${prefix} in the paths, and an
# installation with `make prefix=...` gets units that match it.
systemd_unit_subst = $(AM_V_GEN)$(MKDIR_P) packaging/systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@localstatedir[@]|$(localstatedir)|g' \
	    $(srcdir)/$@.in >$@.tmp && \
	if grep -n '@[a-z_]*@' $@.tmp; then echo "$@: unknown substitution" >&2; rm -f $@.tmp; exit 1; fi && \
	mv -f $@.tmp $@

packaging/systemd/mailcert-milter.service: $(srcdir)/packaging/systemd/mailcert-milter.service.in Makefile
	$(systemd_unit_subst)
packaging/systemd/mailcert-prepare.service: $(srcdir)/packaging/systemd/mailcert-prepare.service.in Makefile
	$(systemd_unit_subst)
packaging/systemd/mailcert-renew.service: $(srcdir)/packaging/systemd/mailcert-renew.service.in Makefile
	$(systemd_unit_subst)
packaging/systemd/mailcert-renew.timer: $(srcdir)/packaging/systemd/mailcert-renew.timer.in Makefile
	$(systemd_unit_subst)
packaging/systemd/mailcert.service: $(srcdir)/packaging/systemd/mailcert.service.in Makefile
	$(systemd_unit_subst)

# Debian packages: packaging/build-deb OUTDIR (README, "Debian package")
EXTRA_DIST += packaging/build-deb \
	packaging/debian/changelog packaging/debian/control packaging/debian/copyright \
	packaging/debian/rules packaging/debian/source/format \
	packaging/debian/mailcert.install packaging/debian/mailcert.dirs \
	packaging/debian/mailcert.docs packaging/debian/mailcert.postinst \
	packaging/debian/mailcert.postrm packaging/debian/mailcert-milter.install \
	packaging/debian/mailcert-milter.postinst packaging/debian/mailcert-milter.postrm

# RPM packages: packaging/build-rpm OUTDIR (README, "RPM package"); the tarball
# holds the spec, so `rpmbuild -tb mailcert-VERSION.tar.gz` works as well
EXTRA_DIST += packaging/build-rpm packaging/rpm/mailcert.spec
