# packaging/: systemd units (installed only when asked: --with-systemdsystemunitdir)
EXTRA_DIST += packaging/systemd/mailcert-renew.service packaging/systemd/mailcert-renew.timer
