/*
 * test_conf - mailcert.conf: every key, conf.d order, and errors that name
 * FILE:LINE.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "unit.h"

/* a scratch directory holding mailcert.conf and conf.d/ */
typedef struct cfdir {
	char *dir;
	char main[512];
	char confd[512];
} cfdir;

static void cf_open(cfdir *d)
{
	d->dir = unit_tmpdir();
	snprintf(d->main, sizeof d->main, "%s/mailcert.conf", d->dir);
	snprintf(d->confd, sizeof d->confd, "%s/conf.d", d->dir);
	ck_assert_int_eq(mkdir(d->confd, 0755), 0);
}

static void cf_close(cfdir *d)
{
	unit_rmtree(d->dir);
	free(d->dir);
}

/* write conf.d/NAME; returns its path in a static buffer */
static const char *cf_confd(cfdir *d, const char *name, const char *text)
{
	static char path[600];

	snprintf(path, sizeof path, "%s/%s", d->confd, name);
	unit_write(path, text);
	return path;
}

/* load must fail with "FILE:LINE: " and a message containing WHY */
static void load_fails(const char *file, const char *where_file, int line, const char *why)
{
	char prefix[700];
	mc_config *c = NULL;
	mc_err e;

	e.msg[0] = '\0';
	ck_assert_msg(mc_config_load(file, &c, &e) == -1, "config accepted, expected %s:%d: %s",
		      where_file, line, why);
	ck_assert_ptr_null(c);
	snprintf(prefix, sizeof prefix, "%s:%d: ", where_file, line);
	ck_assert_msg(unit_starts(e.msg, prefix), "message \"%s\" does not start with \"%s\"", e.msg,
		      prefix);
	ck_assert_msg(strstr(e.msg + strlen(prefix), why) != NULL, "message \"%s\" lacks \"%s\"",
		      e.msg, why);
}

/* the main file alone with TEXT must fail at LINE for WHY */
static void main_fails(const char *text, int line, const char *why)
{
	cfdir d;

	cf_open(&d);
	unit_write(d.main, text);
	load_fails(d.main, d.main, line, why);
	cf_close(&d);
}

static mc_config *load_ok(const char *file)
{
	mc_config *c = NULL;
	mc_err e;

	e.msg[0] = '\0';
	ck_assert_msg(mc_config_load(file, &c, &e) == 0, "refused: %s", e.msg);
	ck_assert_ptr_nonnull(c);
	return c;
}

START_TEST(full_config)
{
	cfdir d;
	mc_config *c;
	const mc_host *h;

	cf_open(&d);
	unit_write(d.main,
		   "# every key of the interface document\n"
		   "store = \"/var/lib/mc-unit\"\n"
		   "default_host = \"SMTP.Example.COM\"\n"
		   "\n"
		   "acme {\n"
		   "  directory = \"letsencrypt-staging\"\n"
		   "  email = \"postmaster@example.com\"\n"
		   "  agree_tos = true\n"
		   "  ca_bundle = \"/etc/ssl/certs/ca-certificates.crt\"\n"
		   "  key_type = \"rsa3072\"\n"
		   "  profile = \"tlsserver\"\n"
		   "  preferred_chain = \"ISRG Root X1\"\n"
		   "  test_on_staging = false\n"
		   "  eab_kid = \"kid-1\"\n"
		   "  eab_hmac_key = \"c2VjcmV0\"\n"
		   "}\n"
		   "\n"
		   "http01 {\n"
		   "  listen = { \"[::]:80\", \"127.0.0.1:8080\" }\n"
		   "  webroot = \"/var/www/html\"\n"
		   "}\n"
		   "\n"
		   "dns01 {\n"
		   "  hook = \"/usr/local/bin/dns-hook\"\n"
		   "  resolver = \"127.0.0.1:53\"\n"
		   "  challenge_file = \"\"\n"
		   "  propagation_timeout = 120\n"
		   "}\n"
		   "\n"
		   "notify {\n"
		   "}\n"
		   "\n"
		   "listeners {\n"
		   "  postfix = false\n"
		   "  dovecot = false\n"
		   "  sendmail = true\n"
		   "  exim = true\n"
		   "  postfix_config_dir = \"/etc/postfix-out\"\n"
		   "  postfix_map_type = \"lmdb\"\n"
		   "  dovecot_config = \"/etc/dovecot/dovecot.conf\"\n"
		   "  sendmail_pid_file = \"/run/sendmail.pid\"\n"
		   "  sendmail_config = \"/etc/mail-out/sendmail.cf\"\n"
		   "}\n"
		   "\n"
		   "host \"Mail.Example.com\" {\n"
		   "  names = { \"imap.example.com\", \"mail.example.com\" }\n"
		   "  challenge = \"http-01\"\n"
		   "  source = \"acme\"\n"
		   "}\n"
		   "\n"
		   "host \"*.example.org\" {\n"
		   "  challenge = \"dns-01\"\n"
		   "  source = \"acme\"\n"
		   "}\n"
		   "\n"
		   "host \"smtp.example.com\" {\n"
		   "  challenge = \"tls-alpn-01\"\n"
		   "  source = \"manual\"\n"
		   "}\n"
		   "\n"
		   "host \"self.example.com\" {\n"
		   "  source = \"self-signed\"\n"
		   "}\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->file, d.main);
	ck_assert_str_eq(c->store, "/var/lib/mc-unit");
	ck_assert_str_eq(c->default_host, "smtp.example.com");
	ck_assert_int_eq(c->acme_present, 1);
	ck_assert_str_eq(c->acme_directory, MC_DIRECTORY_LETSENCRYPT_STAGING);
	ck_assert_str_eq(c->acme_email, "postmaster@example.com");
	ck_assert_int_eq(c->acme_agree_tos, 1);
	ck_assert_str_eq(c->acme_ca_bundle, "/etc/ssl/certs/ca-certificates.crt");
	ck_assert_str_eq(c->acme_key_type, "rsa3072");
	ck_assert_str_eq(c->acme_profile, "tlsserver");
	ck_assert_str_eq(c->acme_preferred_chain, "ISRG Root X1");
	ck_assert_int_eq(c->acme_test_on_staging, 0);
	ck_assert_str_eq(c->acme_eab_kid, "kid-1");
	ck_assert_str_eq(c->acme_eab_hmac_key, "c2VjcmV0");
	ck_assert_uint_eq(c->http01_nlisten, 2);
	ck_assert_str_eq(c->http01_listen[0], "[::]:80");
	ck_assert_str_eq(c->http01_listen[1], "127.0.0.1:8080");
	ck_assert_ptr_null(c->http01_listen[2]);
	ck_assert_str_eq(c->http01_webroot, "/var/www/html");
	ck_assert_str_eq(c->dns01_hook, "/usr/local/bin/dns-hook");
	ck_assert_str_eq(c->dns01_resolver, "127.0.0.1:53");
	ck_assert_str_eq(c->dns01_challenge_file, "");
	ck_assert_int_eq(c->dns01_propagation_timeout, 120);
	ck_assert_str_eq(c->notify_sendmail, "/usr/sbin/sendmail");
	ck_assert_uint_eq(c->notify_nto, 1);
	ck_assert_str_eq(c->notify_to[0], "postmaster+Alerts@{domain}");
	ck_assert_str_eq(c->notify_contact, "");
	ck_assert_int_eq(c->listen_postfix, 0);
	ck_assert_int_eq(c->listen_dovecot, 0);
	ck_assert_int_eq(c->listen_sendmail, 1);
	ck_assert_int_eq(c->listen_exim, 1);
	ck_assert_str_eq(c->postfix_config_dir, "/etc/postfix-out");
	ck_assert_str_eq(c->postfix_map_type, "lmdb");
	ck_assert_str_eq(c->dovecot_config, "/etc/dovecot/dovecot.conf");
	ck_assert_str_eq(c->sendmail_pid_file, "/run/sendmail.pid");
	ck_assert_str_eq(c->sendmail_config, "/etc/mail-out/sendmail.cf");

	ck_assert_uint_eq(c->nhosts, 4);
	h = &c->hosts[0];
	ck_assert_str_eq(h->name, "mail.example.com");
	ck_assert_str_eq(h->dir, "mail.example.com");
	/* the primary first; a repeat of it in names is kept once */
	ck_assert_uint_eq(h->nnames, 2);
	ck_assert_str_eq(h->names[0], "mail.example.com");
	ck_assert_str_eq(h->names[1], "imap.example.com");
	ck_assert_ptr_null(h->names[2]);
	ck_assert_int_eq(h->challenge, MC_CHAL_HTTP01);
	ck_assert_int_eq(h->source, MC_SRC_ACME);
	ck_assert_msg(unit_starts(h->where, d.main) && strcmp(h->where + strlen(d.main), ":45") == 0,
		      "where: %s", h->where);
	h = &c->hosts[1];
	ck_assert_str_eq(h->name, "*.example.org");
	ck_assert_str_eq(h->dir, "_wildcard.example.org");
	ck_assert_int_eq(h->challenge, MC_CHAL_DNS01);
	h = &c->hosts[2];
	ck_assert_str_eq(h->name, "smtp.example.com");
	ck_assert_int_eq(h->challenge, MC_CHAL_TLSALPN01);
	ck_assert_int_eq(h->source, MC_SRC_MANUAL);
	h = &c->hosts[3];
	ck_assert_int_eq(h->challenge, MC_CHAL_HTTP01);
	ck_assert_int_eq(h->source, MC_SRC_SELFSIGNED);

	ck_assert_ptr_eq(mc_config_default(c), &c->hosts[2]);
	ck_assert_ptr_eq(mc_config_find_host(c, "MAIL.example.com"), &c->hosts[0]);
	ck_assert_ptr_eq(mc_config_find_host(c, "_wildcard.example.org"), &c->hosts[1]);
	ck_assert_ptr_eq(mc_config_find_host(c, "*.example.org"), &c->hosts[1]);
	ck_assert_ptr_null(mc_config_find_host(c, "imap.example.com"));
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(host_where)
{
	char want[600];
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "# comment\n\nhost \"a.example.com\" {\n  challenge = \"http-01\"\n\n}\n"
			   "host \"b.example.com\" {}\n");
	c = load_ok(d.main);
	snprintf(want, sizeof want, "%s:3", d.main);
	ck_assert_str_eq(c->hosts[0].where, want);
	snprintf(want, sizeof want, "%s:7", d.main);
	ck_assert_str_eq(c->hosts[1].where, want);
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(defaults)
{
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "");
	c = load_ok(d.main);
	ck_assert_int_eq(c->acme_present, 0);
	ck_assert_uint_eq(c->nhosts, 0);
	ck_assert_ptr_null(mc_config_default(c));
	ck_assert_str_eq(c->acme_directory, MC_DIRECTORY_LETSENCRYPT);
	ck_assert_str_eq(c->acme_key_type, "ec256");
	ck_assert_int_eq(c->acme_agree_tos, 0);
	ck_assert_uint_eq(c->http01_nlisten, 1);
	ck_assert_str_eq(c->http01_listen[0], "[::]:80");
	ck_assert_uint_eq(c->notify_nto, 1);
	ck_assert_str_eq(c->notify_to[0], "postmaster+Alerts@{domain}");
	ck_assert_str_eq(c->notify_sendmail, "/usr/sbin/sendmail");
	ck_assert_int_eq(c->dns01_propagation_timeout, 300);
	ck_assert_int_eq(c->listen_postfix, 1);
	ck_assert_int_eq(c->listen_dovecot, 1);
	ck_assert_int_eq(c->listen_sendmail, 0);
	ck_assert_int_eq(c->listen_exim, 0);
	ck_assert_str_eq(c->postfix_config_dir, "/etc/postfix");
	ck_assert_str_eq(c->postfix_map_type, "hash");
	ck_assert_str_eq(c->sendmail_pid_file, "/run/sendmail/mta/sendmail.pid");
	ck_assert_str_eq(c->sendmail_config, "/etc/mail/sendmail.cf");
	ck_assert_str_eq(c->default_host, "");
	ck_assert(c->store[0] == '/');
	mc_config_free(c);

	/* the first host serves clients without SNI when default_host is unset */
	unit_write(d.main, "host \"b.example.com\" {}\nhost \"a.example.com\" {}\n");
	c = load_ok(d.main);
	ck_assert_ptr_eq(mc_config_default(c), &c->hosts[0]);
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(err_unknown_key)
{
	main_fails("store = \"/tmp/s\"\nbogus = 1\n", 2, "no such option 'bogus'");
	main_fails("acme {\n  email = \"a@b.c\"\n  emial = \"x\"\n}\n", 3, "emial");
	main_fails("host \"a.example.com\" {\n  challenge = \"http-01\"\n\n\n  bogus = 2\n}\n", 5,
		   "bogus");
}
END_TEST

START_TEST(err_host_title)
{
	char text[1024], name[400];
	size_t i;

	main_fails("store = \"/tmp/s\"\n\nhost \"../x\" {\n  challenge = \"http-01\"\n}\n", 3,
		   "invalid hostname \"../x\"");
	main_fails("store = \"/tmp/s\"\n\nhost \"a..b\" {\n}\n", 3, "invalid hostname \"a..b\"");
	for (i = 0; i < 300; i++)
		name[i] = (i % 50 == 49) ? '.' : 'a';
	name[300] = '\0';
	snprintf(text, sizeof text, "# long\n\n\nhost \"%s\" {\n}\n", name);
	main_fails(text, 4, "300 characters long");
	main_fails("host \"localhost\" {\n}\n", 1, "fully qualified");
	main_fails("host \"mail.exa_mple.com\" {\n}\n", 1, "not allowed");
	/* the error names the line of the title even when the section is long */
	main_fails("\nhost \"bad..name\" {\n  challenge = \"http-01\"\n\n  source = \"acme\"\n}\n", 2,
		   "empty label");
}
END_TEST

START_TEST(err_names_list)
{
	main_fails("store = \"/tmp/s\"\nhost \"ok.example.com\" {\n  names = { \"a.example.com\",\n"
		   "            \"bad..name\" }\n}\n", 4, "names: invalid hostname \"bad..name\"");
	main_fails("host \"ok.example.com\" {\n  names = { \"../x\" }\n}\n", 2, "../x");
	main_fails("host \"ok.example.com\" {\n  names = { \"single\" }\n}\n", 2, "fully qualified");
}
END_TEST

START_TEST(err_not_available)
{
	/* keys of the interface this version cannot honour are refused where written */
	/* test_on_staging needs a staging CA: known for letsencrypt, else staging_directory */
	main_fails("acme {\n  directory = \"https://ca.example/dir\"\n  test_on_staging = true\n}\n", 3,
		   "test_on_staging: no staging CA is known for https://ca.example/dir");
	main_fails("acme {\n  directory = \"letsencrypt-staging\"\n  test_on_staging = true\n}\n", 3,
		   "the directory is the staging CA itself");
	main_fails("acme {\n  staging_directory = \"http://plain.example/dir\"\n}\n", 2,
		   "is not an https:// URL");
}
END_TEST

START_TEST(err_eab)
{
	/* external account binding needs both halves; the key must be base64url and is never echoed */
	main_fails("acme {\n  email = \"a@b.c\"\n  eab_kid = \"kid-1\"\n}\n", 3,
		   "eab_kid is set but eab_hmac_key is not; external account binding needs both");
	main_fails("acme {\n  eab_hmac_key = \"c2VjcmV0\"\n}\n", 2,
		   "eab_hmac_key is set but eab_kid is not");
	main_fails("acme {\n  eab_kid = \"kid-1\"\n  eab_hmac_key = \"c2VjcmV0==\"\n}\n", 3,
		   "eab_hmac_key: not a base64url key");
	main_fails("acme {\n  eab_kid = \"kid-1\"\n  eab_hmac_key = \"abcde\"\n}\n", 3,
		   "eab_hmac_key: not a base64url key (A-Z a-z 0-9 - _, no \"=\" padding, as the CA gave it)");
	main_fails("acme {\n  eab_kid = \"kid 1\"\n  eab_hmac_key = \"c2VjcmV0\"\n}\n", 2,
		   "eab_kid: only printable ASCII without spaces is allowed");
}
END_TEST

START_TEST(err_challenge_file)
{
	cfdir d;
	mc_config *c;

	/* both ways of publishing dns-01 records at once: refused, naming the file's line */
	main_fails("dns01 {\n  hook = \"/bin/true\"\n  challenge_file = \"/run/x\"\n}\n", 3,
		   "challenge_file: dns01.hook is set too; set only one of them");
	main_fails("dns01 {\n  challenge_file = \"/run/x\"\n\n  hook = \"/bin/true\"\n}\n", 2,
		   "dns01.hook is set too");
	main_fails("dns01 {\n  challenge_file = \"run/x\"\n}\n", 2, "is not an absolute path");
	main_fails("dns01 {\n  challenge_file = \"/run/\"\n}\n", 2, "names a directory, not a file");
	main_fails("dns01 {\n  challenge_file = \"/run/a\tb\"\n}\n", 2, "control character in the path");
	/* alone, it is taken, and it serves a dns-01 host */
	cf_open(&d);
	unit_write(d.main, "dns01 {\n  challenge_file = \"/run/mailcert/dns01.txt\"\n}\n"
			   "host \"mail.example.com\" { challenge = \"dns-01\" }\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->dns01_challenge_file, "/run/mailcert/dns01.txt");
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(notify_keys)
{
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "notify {\n"
			   "  sendmail = \"/usr/lib/sendmail\"\n"
			   "  to = { \"postmaster+Alerts@{domain}\", \"tls-admin@alerts.{domain}\", \"ops@example.net\" }\n"
			   "  contact = \"hostmaster@example.org\"\n"
			   "}\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->notify_sendmail, "/usr/lib/sendmail");
	ck_assert_uint_eq(c->notify_nto, 3);
	ck_assert_str_eq(c->notify_to[1], "tls-admin@alerts.{domain}");
	ck_assert_str_eq(c->notify_contact, "hostmaster@example.org");
	mc_config_free(c);
	/* mail off, and nobody but the contact */
	unit_write(d.main, "notify {\n  sendmail = \"\"\n  to = { }\n}\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->notify_sendmail, "");
	ck_assert_uint_eq(c->notify_nto, 0);
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(err_notify)
{
	/* every bad value is refused on its own line */
	main_fails("notify {\n\n  to = { \"postmaster@{domain}\",\n         \"not an address\" }\n}\n", 4,
		   "to: \"not an address\" is not a mail address");
	main_fails("notify {\n  to = { \"postmaster@{host}\" }\n}\n", 2, "unknown placeholder");
	main_fails("notify {\n  to = { \"{domain}@example.com\" }\n}\n", 2, "only stand in the domain");
	main_fails("notify {\n  to = { \"-oQ/tmp@example.com\" }\n}\n", 2, "to: ");
	main_fails("notify {\n  to = { \"|/bin/sh@example.com\" }\n}\n", 2, "'|' before @");
	main_fails("notify {\n  to = { \"root@localhost\" }\n}\n", 2, "the domain after @ is not valid");
	main_fails("notify {\n  contact = \"x\"\n}\n", 2, "contact: \"x\" is not a mail address");
	main_fails("notify {\n\n  contact = \"ops@{domain}\"\n}\n", 3, "only replaced in notify.to");
	main_fails("notify {\n  sendmail = \"sendmail\"\n}\n", 2, "sendmail: \"sendmail\" is not an absolute path");
}
END_TEST

START_TEST(err_duplicate_host_same_file)
{
	main_fails("host \"a.example.com\" {\n}\n\nhost \"a.example.com\" {\n}\n", 4,
		   "duplicate host \"a.example.com\" (first defined at ");
	/* the same host spelled in another case is the same host */
	main_fails("host \"a.example.com\" {\n  names = { \"x.example.com\" }\n}\n\n"
		   "host \"A.example.com\" {\n  challenge = \"http-01\"\n}\n", 5,
		   "duplicate host \"a.example.com\"");
	/* a name may belong to one host only */
	main_fails("host \"a.example.com\" {\n  names = { \"x.example.com\" }\n}\n\n"
		   "host \"b.example.com\" {\n  names = { \"x.example.com\" }\n}\n", 5,
		   "\"x.example.com\" is already used by host \"a.example.com\"");
}
END_TEST

START_TEST(err_duplicate_host_confd)
{
	const char *p;
	cfdir d;

	cf_open(&d);
	unit_write(d.main, "host \"a.example.com\" {\n}\n");
	cf_confd(&d, "10-b.conf", "host \"b.example.com\" {\n}\n");
	p = cf_confd(&d, "20-dup.conf", "\nhost \"c.example.com\" {\n}\n\nhost \"a.example.com\" {\n}\n");
	{
		char want[700];

		/* libconfuse's own wording is replaced by the one a single file gets */
		snprintf(want, sizeof want, "duplicate host \"a.example.com\" (first defined at %s:1)", d.main);
		load_fails(d.main, p, 5, want);
	}
	cf_close(&d);

	/* two conf.d files: the error is in the later one (sorted order) */
	cf_open(&d);
	unit_write(d.main, "");
	p = cf_confd(&d, "b.conf", "\n\nhost \"m.example.com\" {\n}\n");
	{
		char later[600];

		snprintf(later, sizeof later, "%s", p);
		cf_confd(&d, "a.conf", "host \"m.example.com\" {\n}\n");
		load_fails(d.main, later, 3, "duplicate host \"m.example.com\" (first defined at ");
	}
	cf_close(&d);
}
END_TEST

START_TEST(err_bad_values)
{
	main_fails("acme {\n  key_type = \"dsa\"\n}\n", 2, "key_type: invalid key type");
	main_fails("\n\nhost \"a.example.com\" {\n  challenge = \"smoke-01\"\n}\n", 4,
		   "challenge: invalid challenge");
	main_fails("host \"a.example.com\" {\n  source = \"magic\"\n}\n", 2, "source: invalid source");
	main_fails("store = \"relative/path\"\n", 1, "not an absolute path");
	main_fails("listeners {\n  sendmail_config = \"mail/sendmail.cf\"\n}\n", 2, "not an absolute path");
	main_fails("acme {\n  directory = \"http://insecure.example\"\n}\n", 2, "directory");
	main_fails("http01 {\n  listen = { \"[::]:80\", \"nope\" }\n}\n", 2, "not HOST:PORT");
	main_fails("http01 {\n  listen = { \"1.2.3.4:70000\" }\n}\n", 2, "bad port");
	main_fails("dns01 {\n  propagation_timeout = 0\n}\n", 2, "positive");
	main_fails("listeners {\n  postfix_map_type = \"dbm\"\n}\n", 2, "map type");
	main_fails("host \"*.example.com\" {\n}\n", 1, "wildcard names need challenge = \"dns-01\"");
	main_fails("default_host = \"bad..host\"\n", 1, "default_host");
	main_fails("store = \"/tmp/s\"\nresolver = \"dns.example.com\"\n", 2, "resolver: \"dns.example.com\" is not an IP address");
	main_fails("resolver = \"127.0.0.1:0\"\n", 1, "resolver: \"127.0.0.1:0\": bad port");
	main_fails("resolver = \"127.0.0.1:\"\n", 1, "resolver: \"127.0.0.1:\": bad port");
	main_fails("dns01 {\n  resolver = \"1.2.3\"\n}\n", 2, "resolver");
	main_fails("resolver = \"[::1\"\n", 1, "resolver: \"[::1\": an IPv6 address in brackets");
	main_fails("resolver = \"[::1]:0\"\n", 1, "resolver: \"[::1]:0\": bad port");
	main_fails("http01 {\n  public_port = 0\n}\n", 2, "public_port: must be a port number");
	main_fails("\ntlsalpn01 {\n  public_port = 65536\n}\n", 3, "public_port: must be a port number");
	main_fails("host \"a.example.com\" {\n  self_check = maybe\n}\n", 2, "self_check");
	main_fails("host \"a.example.com\" {\n\n  key_rollover = \"now\"\n}\n", 3,
		   "key_rollover: invalid key rollover (\"\" or \"announce\")");
	main_fails("host \"a.example.com\" {\n  key_reuse = sometimes\n}\n", 2, "key_reuse");
	main_fails("host \"a.example.com\" {\n  key_rollover_wait = -1\n}\n", 2,
		   "key_rollover_wait: must be a number of seconds");
	main_fails("host \"a.example.com\" {\n  key_rollover_wait = 2h\n}\n", 2, "key_rollover_wait");
	main_fails("host \"a.example.com\" {\n  tlsa_ports = { 25, 0 }\n}\n", 2, "tlsa_ports: must be a port number");
	main_fails("\nhost \"a.example.com\" {\n  source = \"manual\"\n  key_reuse = true\n}\n", 2,
		   "key_reuse needs a source that makes keys");
	main_fails("host \"a.example.com\" {\n  source = \"manual\"\n  key_rollover = \"announce\"\n}\n", 1,
		   "key_rollover needs a source that makes keys");
}
END_TEST

/* key_reuse, key_rollover and their defaults */
START_TEST(dane_keys)
{
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "host \"a.example.com\" {}\nhost \"b.example.com\" {\n  key_reuse = true\n"
			   "  tlsa_ports = { 25, 465 }\n}\nhost \"c.example.com\" {\n  key_rollover = \"announce\"\n"
			   "  key_rollover_wait = 7200\n}\n");
	c = load_ok(d.main);
	ck_assert_int_eq(c->hosts[0].key_reuse, 0);
	ck_assert_int_eq(c->hosts[0].key_rollover, MC_ROLLOVER_NONE);
	ck_assert_int_eq(c->hosts[0].key_rollover_wait, 0);
	ck_assert_int_eq((int)c->hosts[0].ntlsa_ports, 1);
	ck_assert_int_eq(c->hosts[0].tlsa_ports[0], 25);
	ck_assert_int_eq(c->hosts[1].key_reuse, 1);
	ck_assert_int_eq(c->hosts[1].key_rollover, MC_ROLLOVER_NONE);
	ck_assert_int_eq((int)c->hosts[1].ntlsa_ports, 2);
	ck_assert_int_eq(c->hosts[1].tlsa_ports[1], 465);
	/* a rollover keeps the key between switches */
	ck_assert_int_eq(c->hosts[2].key_reuse, 1);
	ck_assert_int_eq(c->hosts[2].key_rollover, MC_ROLLOVER_ANNOUNCE);
	ck_assert_int_eq(c->hosts[2].key_rollover_wait, 7200);
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

/* the self-check keys: their defaults, and the top-level resolver as dns-01's default */
START_TEST(selfcheck_keys)
{
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "host \"a.example.com\" {}\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->resolver, "");
	ck_assert_str_eq(c->dns01_resolver, "");
	ck_assert_int_eq(c->http01_public_port, 80);
	ck_assert_int_eq(c->tlsalpn01_public_port, 443);
	ck_assert_int_eq(c->hosts[0].self_check, 1);
	mc_config_free(c);

	unit_write(d.main, "resolver = \"192.0.2.53:5353\"\nhttp01 { public_port = 8080 }\n"
			   "tlsalpn01 { public_port = 8443 }\n"
			   "host \"a.example.com\" { self_check = false }\nhost \"b.example.com\" {}\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->resolver, "192.0.2.53:5353");
	ck_assert_str_eq(c->dns01_resolver, "192.0.2.53:5353");
	ck_assert_int_eq(c->http01_public_port, 8080);
	ck_assert_int_eq(c->tlsalpn01_public_port, 8443);
	ck_assert_int_eq(c->hosts[0].self_check, 0);
	ck_assert_int_eq(c->hosts[1].self_check, 1);
	mc_config_free(c);

	/* an IPv6 server, bracketed with a port or bare */
	unit_write(d.main, "resolver = \"[2001:db8::53]:5353\"\ndns01 { resolver = \"2001:db8::54\" }\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->resolver, "[2001:db8::53]:5353");
	ck_assert_str_eq(c->dns01_resolver, "2001:db8::54");
	mc_config_free(c);

	/* dns01.resolver, when set, wins for the propagation check */
	unit_write(d.main, "resolver = \"192.0.2.53\"\ndns01 { resolver = \"192.0.2.54:53\" }\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->resolver, "192.0.2.53");
	ck_assert_str_eq(c->dns01_resolver, "192.0.2.54:53");
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

/*
 * libconfuse 3.3 miscounts lines after comments; conf.c parses a copy with
 * the comments blanked out, so errors still name the right line.
 */
START_TEST(comments_keep_line_numbers)
{
	main_fails("# mailcert.conf\n# second comment\nbogus = 1\n", 3, "no such option");
	main_fails("store = \"/tmp/s\" # trailing comment\nbogus = 1\n", 2, "no such option");
	main_fails("/* block\n   comment */\nacme {\n  key_type = \"dsa\"\n}\n", 4, "invalid key type");
	main_fails("# c\nhost \"a.example.com\" {\n}\nhost \"a.example.com\" {\n}\n", 4, "duplicate");
	/* a file that ends inside a section is refused, naming where it opened */
	main_fails("# c\nacme {\n  email = \"a@example.com\"\n", 2, "never closed");
	main_fails("acme {\n}\n}\n", 3, "without a matching");
	main_fails("store = \"/tmp/x\n", 1, "unterminated string");
}
END_TEST

START_TEST(comments_where)
{
	/* what is right today with comments: a host's own FILE:LINE */
	char want[600];
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "# one\n# two\n// three\nhost \"a.example.com\" {\n  # inside\n}\n"
			   "/* four\n */\nhost \"b.example.com\" {}\n");
	c = load_ok(d.main);
	snprintf(want, sizeof want, "%s:4", d.main);
	ck_assert_str_eq(c->hosts[0].where, want);
	snprintf(want, sizeof want, "%s:9", d.main);
	ck_assert_str_eq(c->hosts[1].where, want);
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(err_default_host)
{
	main_fails("store = \"/tmp/s\"\ndefault_host = \"x.example.com\"\nhost \"a.example.com\" {\n}\n", 2,
		   "default_host \"x.example.com\" is not a configured host");
}
END_TEST

START_TEST(err_default_host_confd)
{
	cfdir d;
	const char *p;

	cf_open(&d);
	unit_write(d.main, "host \"a.example.com\" {\n}\n");
	p = cf_confd(&d, "50-default.conf", "\ndefault_host = \"nothere.example.com\"\n");
	load_fails(d.main, p, 2, "not a configured host");
	cf_close(&d);
}
END_TEST

START_TEST(err_dns01_without_hook)
{
	main_fails("\nhost \"a.example.com\" {\n  challenge = \"dns-01\"\n}\n", 2,
		   "uses dns-01 but neither dns01.hook nor dns01.challenge_file is set");
}
END_TEST

START_TEST(dns01_with_hook_ok)
{
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "dns01 {\n  hook = \"/bin/true\"\n}\nhost \"*.example.com\" {\n"
			   "  challenge = \"dns-01\"\n}\n");
	c = load_ok(d.main);
	ck_assert_str_eq(c->hosts[0].dir, "_wildcard.example.com");
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(err_missing_file)
{
	cfdir d;
	mc_config *c = NULL;
	mc_err e;
	char want[600];

	cf_open(&d);
	ck_assert_int_eq(mc_config_load(d.main, &c, &e), -1);
	snprintf(want, sizeof want, "%s: cannot read", d.main);
	ck_assert_msg(unit_starts(e.msg, want), "message: %s", e.msg);
	cf_close(&d);
}
END_TEST

START_TEST(err_syntax)
{
	main_fails("store = \"/tmp/s\"\nacme {\n  email = \"a\"\n  = 3\n}\n", 4, "unexpected token");
}
END_TEST

START_TEST(confd_order)
{
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "store = \"/from/main\"\nhost \"a.example.com\" {}\n");
	/* written out of order: they are read sorted */
	cf_confd(&d, "20-last.conf", "store = \"/from/20\"\nhost \"c.example.com\" {}\n");
	cf_confd(&d, "10-first.conf", "store = \"/from/10\"\nhost \"b.example.com\" {}\n"
				      "acme {\n  email = \"ten@example.com\"\n}\n");
	/* not *.conf, hidden, or not a regular file: never read (they would fail) */
	cf_confd(&d, "README", "this is not a config\n");
	cf_confd(&d, "30-x.conf.bak", "bogus = 1\n");
	cf_confd(&d, ".hidden.conf", "bogus = 1\n");
	{
		char sub[600];
		snprintf(sub, sizeof sub, "%s/40-dir.conf", d.confd);
		ck_assert_int_eq(mkdir(sub, 0755), 0);
	}
	c = load_ok(d.main);
	ck_assert_str_eq(c->store, "/from/20");
	ck_assert_str_eq(c->acme_email, "ten@example.com");
	ck_assert_uint_eq(c->nhosts, 3);
	ck_assert_str_eq(c->hosts[0].name, "a.example.com");
	ck_assert_str_eq(c->hosts[1].name, "b.example.com");
	ck_assert_str_eq(c->hosts[2].name, "c.example.com");
	ck_assert_msg(strstr(c->hosts[2].where, "/conf.d/20-last.conf:2") != NULL, "where: %s",
		      c->hosts[2].where);
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(confd_sections_merge)
{
	/* a conf.d file that sets one key of a section keeps the others */
	cfdir d;
	mc_config *c;

	cf_open(&d);
	unit_write(d.main, "acme {\n  email = \"a@example.com\"\n  key_type = \"ec384\"\n}\n"
			   "http01 {\n  listen = { \"127.0.0.1:80\" }\n}\n");
	cf_confd(&d, "email.conf", "acme {\n  email = \"b@example.com\"\n}\n"
				   "http01 {\n  webroot = \"/srv/www\"\n}\n");
	c = load_ok(d.main);
	ck_assert_int_eq(c->acme_present, 1);
	ck_assert_str_eq(c->acme_email, "b@example.com");
	ck_assert_str_eq(c->acme_key_type, "ec384");
	ck_assert_uint_eq(c->http01_nlisten, 1);
	ck_assert_str_eq(c->http01_listen[0], "127.0.0.1:80");
	ck_assert_str_eq(c->http01_webroot, "/srv/www");
	mc_config_free(c);
	cf_close(&d);
}
END_TEST

START_TEST(confd_errors_name_their_file)
{
	cfdir d;
	const char *p;

	cf_open(&d);
	unit_write(d.main, "store = \"/tmp/s\"\n");
	cf_confd(&d, "10-ok.conf", "host \"a.example.com\" {}\n");
	p = cf_confd(&d, "20-bad.conf", "\n\nacme {\n  key_type = \"ec521\"\n}\n");
	load_fails(d.main, p, 4, "invalid key type");
	cf_close(&d);
}
END_TEST

START_TEST(reload_is_clean)
{
	/* a failed load leaves nothing behind that breaks the next one */
	cfdir d;
	mc_config *c;
	mc_err e;
	int i;

	cf_open(&d);
	for (i = 0; i < 3; i++) {
		unit_write(d.main, "bogus = 1\n");
		ck_assert_int_eq(mc_config_load(d.main, &c, &e), -1);
		unit_write(d.main, "default_host = \"a.example.com\"\nhost \"a.example.com\" {}\n");
		c = load_ok(d.main);
		mc_config_free(c);
	}
	cf_close(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf");
	TCase *good = unit_tcase("valid");
	TCase *bad = unit_tcase("errors");

	tcase_add_test(good, full_config);
	tcase_add_test(good, host_where);
	tcase_add_test(good, defaults);
	tcase_add_test(good, selfcheck_keys);
	tcase_add_test(good, dane_keys);
	tcase_add_test(good, dns01_with_hook_ok);
	tcase_add_test(good, confd_order);
	tcase_add_test(good, confd_sections_merge);
	tcase_add_test(good, reload_is_clean);
	tcase_add_test(good, comments_where);
	tcase_add_test(bad, comments_keep_line_numbers);
	tcase_add_test(bad, err_unknown_key);
	tcase_add_test(bad, err_host_title);
	tcase_add_test(bad, err_names_list);
	tcase_add_test(bad, err_duplicate_host_same_file);
	tcase_add_test(bad, err_not_available);
	tcase_add_test(bad, err_challenge_file);
	tcase_add_test(bad, err_eab);
	tcase_add_test(good, notify_keys);
	tcase_add_test(bad, err_notify);
	tcase_add_test(bad, err_duplicate_host_confd);
	tcase_add_test(bad, err_bad_values);
	tcase_add_test(bad, err_default_host);
	tcase_add_test(bad, err_default_host_confd);
	tcase_add_test(bad, err_dns01_without_hook);
	tcase_add_test(bad, err_missing_file);
	tcase_add_test(bad, err_syntax);
	tcase_add_test(bad, confd_errors_name_their_file);
	suite_add_tcase(s, good);
	suite_add_tcase(s, bad);
	return unit_run(s);
}
