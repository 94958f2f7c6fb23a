# packaging/: systemd units, shipped in the tarball for distribution packages to install
EXTRA_DIST += packaging/systemd/mailcert-renew.service packaging/systemd/mailcert-renew.timer \
	packaging/systemd/mailcert-milter.service
