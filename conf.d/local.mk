# conf.d/: the snippets an operator reads and includes.  Installed as examples
# under $(docdir)/examples, never over an operator's configuration.
mailcertexamplesdir = $(docdir)/examples
dist_mailcertexamples_DATA = \
	conf.d/mailcert.conf \
	conf.d/postfix-main.cf \
	conf.d/postfix-master.cf \
	conf.d/postfix-trust.cf \
	conf.d/dovecot-99-mailcert.conf \
	conf.d/sendmail-mailcert.mc \
	conf.d/exim-mailcert.conf
