dist_man_MANS += man/mailcert.8 man/mailcert.conf.5
dist_man_MANS += man/mailcert-milter.8
