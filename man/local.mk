dist_man_MANS += man/mailcert.8 man/mailcert.conf.5
