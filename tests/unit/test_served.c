/*
 * test_served - the listener lists mailcert-milter reads from `postconf -M`,
 * `doveconf service`, `exim -bP` and sendmail.cf (plugin/served.c), and the check of what a served
 * check process reports (hostile input: only known hosts, valid names, hex
 * serials and fingerprints, bounded printable text get through), and the verdict on
 * a served leaf (plugin/verdict.c: valid now, for the name, the loaded set).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hosts.h"
#include "log.h"
#include "served.h"
#include "unit.h"

static const ms_listener *find(const ms_listener *v, size_t n, const char *label)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].label, label) == 0)
			return &v[i];
	return NULL;
}

START_TEST(postfix_master)
{
	static const char master[] =
		"smtp       inet  n       -       y       -       1       postscreen\n"
		"smtpd      pass  -       -       y       -       -       smtpd\n"
		"127.0.0.1:2525 inet n    -       n       -       -       smtpd\n"
		"[::1]:2526 inet  n       -       n       -       -       smtpd -o smtpd_tls_wrappermode=yes\n"
		"submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt\n"
		"465        inet  n       -       y       -       -       /usr/lib/postfix/sbin/smtpd -o { smtpd_tls_wrappermode = yes }\n"
		"pickup     unix  n       -       y       60      1       pickup\n"
		"relay      inet  -       -       y       -       -       smtp\n"
		"bad.host_:25 inet n      -       n       -       -       smtpd\n"
		"127.0.0.1:99999 inet n   -       n       -       -       smtpd\n"
		"127.0.0.1:nosuchservice inet n - n      -       -       smtpd\n"
		"short inet n\n"
		"# 10.0.0.1:25 inet n     -       n       -       -       smtpd\n";
	ms_listener *v = NULL;
	const ms_listener *l;
	size_t n = 0;

	ck_assert_uint_eq(ms_parse_postfix(master, "all\n", &v, &n), 5);
	ck_assert_uint_eq(n, 5);
	l = find(v, n, "postfix postscreen 127.0.0.1:25");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_SMTP);
	l = find(v, n, "postfix smtpd 127.0.0.1:2525");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_SMTP);
	l = find(v, n, "postfix smtpd [::1]:2526");
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l->host, "::1");
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	l = find(v, n, "postfix smtpd 127.0.0.1:587");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_SMTP);
	l = find(v, n, "postfix smtpd 127.0.0.1:465");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	free(v);

	/* a service without an address listens on inet_interfaces */
	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_postfix("smtp inet n - y - - smtpd\n", "192.0.2.7, 127.0.0.1", &v, &n), 1);
	ck_assert_str_eq(v[0].label, "postfix smtpd 192.0.2.7:25");
	free(v);
	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_postfix("smtp inet n - y - - smtpd\n", "loopback-only", &v, &n), 1);
	ck_assert_str_eq(v[0].host, "127.0.0.1");
	free(v);
	/* nothing usable */
	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_postfix("", "all", &v, &n), 0);
	ck_assert_uint_eq(ms_parse_postfix(NULL, NULL, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
}
END_TEST

START_TEST(dovecot_services)
{
	static const char services[] =
		"service anvil {\n"
		"  chroot = empty\n"
		"  unix_listener anvil {\n"
		"    mode = 0600\n"
		"  }\n"
		"}\n"
		"service imap-login {\n"
		"  chroot = login\n"
		"  inet_listener imap {\n"
		"    address = \n"
		"    haproxy = no\n"
		"    port = 143\n"
		"    reuse_port = no\n"
		"    ssl = no\n"
		"  }\n"
		"  inet_listener imaps {\n"
		"    address = 192.0.2.1, ::1\n"
		"    haproxy = no\n"
		"    port = 993\n"
		"    ssl = yes\n"
		"  }\n"
		"  inet_listener proxied {\n"
		"    address = \n"
		"    haproxy = yes\n"
		"    port = 10993\n"
		"    ssl = yes\n"
		"  }\n"
		"  user = $default_login_user\n"
		"}\n"
		"service pop3-login {\n"
		"  inet_listener pop3 {\n"
		"    address = \n"
		"    port = 0\n"
		"    ssl = no\n"
		"  }\n"
		"  inet_listener pop3s {\n"
		"    address = ::\n"
		"    port = 995\n"
		"    ssl = yes\n"
		"  }\n"
		"}\n"
		"service submission-login {\n"
		"  inet_listener submission {\n"
		"    address = \n"
		"    port = 587\n"
		"    ssl = no\n"
		"  }\n"
		"}\n"
		"service lmtp {\n"
		"  inet_listener lmtp {\n"
		"    address = \n"
		"    port = 24\n"
		"    ssl = no\n"
		"  }\n"
		"}\n";
	ms_listener *v = NULL;
	const ms_listener *l;
	size_t n = 0;

	/* submission is not among the protocols: its listener is not running */
	ck_assert_uint_eq(ms_parse_dovecot(services, "imap pop3 lmtp", "*, ::", &v, &n), 3);
	l = find(v, n, "dovecot imap 127.0.0.1:143");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMAP);
	l = find(v, n, "dovecot imaps 192.0.2.1:993");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	l = find(v, n, "dovecot pop3s [::1]:995");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	free(v);

	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_dovecot(services, "imap submission", "10.1.2.3", &v, &n), 3);
	ck_assert_ptr_nonnull(find(v, n, "dovecot imap 10.1.2.3:143"));
	l = find(v, n, "dovecot submission 10.1.2.3:587");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_SMTP);
	free(v);

	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_dovecot(services, "", "*", &v, &n), 0);
	ck_assert_uint_eq(ms_parse_dovecot("service imap-login {\n  inet_listener imap {\n    port = 143\n",
					   "imap", "*", &v, &n), 0);
	free(v);
}
END_TEST

/* `doveconf service` of Dovecot 2.4.1: the listener's address is "listen", and
 * a service holds blocks of its own (imap_capability) */
START_TEST(dovecot24_services)
{
	static const char services[] =
		"service imap-login {\n"
		"  imap_capability {\n"
		"    IMAP4rev1 = yes\n"
		"    IDLE = yes\n"
		"  }\n"
		"  chroot = \n"
		"  protocol = imap\n"
		"  inet_listener imap {\n"
		"    port = 11143\n"
		"    listen = 127.0.0.2\n"
		"  }\n"
		"  inet_listener imaps {\n"
		"    port = 11993\n"
		"    ssl = yes\n"
		"    listen = 127.0.0.3\n"
		"  }\n"
		"  unix_listener \"srv.imap-login/%{pid}\" {\n"
		"    mode = 0600\n"
		"  }\n"
		"}\n";
	ms_listener *v = NULL;
	const ms_listener *l;
	size_t n = 0;

	ck_assert_uint_eq(ms_parse_dovecot(services, "imap pop3", "*, ::", &v, &n), 2);
	l = find(v, n, "dovecot imap 127.0.0.2:11143");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMAP);
	l = find(v, n, "dovecot imaps 127.0.0.3:11993");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	free(v);
}
END_TEST

START_TEST(exim_listeners)
{
	ms_listener *v = NULL;
	const ms_listener *l;
	size_t n = 0;

	/* per-interface ports in both spellings, a wildcard, TLS on connect, service names */
	ck_assert_uint_eq(ms_parse_exim("local_interfaces = <; ::0 ; 192.0.2.1.2525 ; [::1]:2526 ; "
					"0.0.0.0 ; [2001:db8::1]:465\n"
					"daemon_smtp_ports = smtp : 465\n"
					"tls_on_connect_ports = 465\n",
					&v, &n),
			 5);
	l = find(v, n, "exim smtp 127.0.0.1:25");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_SMTP);
	l = find(v, n, "exim smtps 127.0.0.1:465");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	ck_assert_ptr_nonnull(find(v, n, "exim smtp 192.0.2.1:2525"));
	ck_assert_ptr_nonnull(find(v, n, "exim smtp [::1]:2526"));
	l = find(v, n, "exim smtps [2001:db8::1]:465");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	free(v);

	/* Exim's defaults: every interface, port 25; a ':' list with a doubled ':' */
	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_exim("tls_on_connect_ports = \n", &v, &n), 1);
	ck_assert_ptr_nonnull(find(v, n, "exim smtp 127.0.0.1:25"));
	ck_assert_uint_eq(ms_parse_exim("local_interfaces = 10.1.2.3 : ::::1 : junk.25 : 10.1.2.4.99999\n"
					"daemon_smtp_ports = 587\n",
					&v, &n),
			 2);
	ck_assert_ptr_nonnull(find(v, n, "exim smtp 10.1.2.3:587"));
	ck_assert_ptr_nonnull(find(v, n, "exim smtp [::1]:587"));
	free(v);

	/* nothing usable */
	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_exim("local_interfaces = x.y : [1.2.3.4\ndaemon_smtp_ports = 25\n", &v, &n), 0);
	ck_assert_uint_eq(ms_parse_exim("daemon_smtp_ports = no-such-service-x\n", &v, &n), 0);
	ck_assert_uint_eq(ms_parse_exim(NULL, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
}
END_TEST

/* an interface's port longer than its buffer: the item is skipped, the round goes on
 * (mc_pathf would end the served check's process) */
START_TEST(exim_long_port)
{
	char bp[1024], zeros[201];
	ms_listener *v = NULL;
	size_t n = 0;

	memset(zeros, '0', sizeof zeros - 1);
	zeros[sizeof zeros - 1] = '\0';
	snprintf(bp, sizeof bp,
		 "local_interfaces = <; [127.0.0.1]:%s25 ; 127.0.0.2.%s26 ; 127.0.0.3.27\n"
		 "daemon_smtp_ports = 25\n",
		 zeros, zeros);
	ck_assert_uint_eq(ms_parse_exim(bp, &v, &n), 1);
	ck_assert_ptr_nonnull(find(v, n, "exim smtp 127.0.0.3:27"));
	free(v);
}
END_TEST

static mh_table table(void)
{
	mh_table t;

	memset(&t, 0, sizeof t);
	t.n = 1;
	t.v = calloc(1, sizeof *t.v);
	strcpy(t.v[0].dir, "a.example.test");
	strcpy(t.v[0].serial, "0a1b");
	return t;
}

START_TEST(sendmail_daemons)
{
	/* as m4 writes them from Debian's sendmail.mc (two daemons on 127.0.0.1), and
	 * further ones of the kinds sendmail.cf may hold */
	static const char cf[] =
		"# SMTP daemon options\n"
		"\n"
		"O DaemonPortOptions=Family=inet,  Name=MTA-v4, Port=smtp, Addr=127.0.0.1\n"
		"O DaemonPortOptions=Family=inet,  Name=MSP-v4, Port=submission, M=Ea, Addr=127.0.0.1\n"
		"#O DaemonPortOptions=Family=inet, Name=Commented, Port=2000\n"
		"O DaemonPortOptions=Port=465, Name=TLSMTA, M=s\r\n"
		"O DaemonPortOptions=Family=inet6, Name=MTA-v6, Port=smtp, Addr=::1\n"
		"O DaemonPortOptions=Family=inet6, Name=Any6, Port=2525, Modifiers=Es\n"
		"O DaemonPortOptions=Family=inet6, Name=Tagged6, Port=2526, Addr=IPv6:2001:db8::1\n"
		"O DaemonPortOptions=Family=local, Name=Sock, Addr=/run/sendmail.sock\n"
		"O DaemonPortOptions=Family=iso, Name=Old, Port=25\n"
		"O DaemonPortOptions=Addr=192.0.2.9, Port=2527, Name=has space\n"
		"o DaemonPortOptions=Port=2001, Name=Lowercase-O\n"
		"O ClientPortOptions=Family=inet, Address=0.0.0.0\n"
		"O  daemonportoptions = Name=Spaced, Port=2528, Address=192.0.2.10\n"
		"O DaemonPortOptions=Name=Dup, Port=25, Addr=127.0.0.1\n"
		"O DaemonPortOptions=Name=Ssl, Port=submissions, Addr=0.0.0.0, Listen=10, InputMailFilters=x, SndBufSize=4096\n"
		"O DaemonPortOptions=Name=NoTLS, Port=2529, Addr=127.0.0.1, M=ES\n"
		"O DaemonPortOptions=Name=TlsNoStarttls, Port=2530, Addr=127.0.0.1, M=sS\n";
	ms_listener *v = NULL;
	const ms_listener *l;
	size_t n = 0, i;

	ck_assert_uint_eq(ms_parse_sendmail(cf, &v, &n), 9);
	ck_assert_uint_eq(n, 9);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(v[i].default_only, 1);
	l = find(v, n, "sendmail MTA-v4 127.0.0.1:25");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_SMTP);
	l = find(v, n, "sendmail MSP-v4 127.0.0.1:587");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_SMTP); /* E and a are no TLS modifiers */
	/* S: no STARTTLS offered, nothing to probe; with s, TLS from the first byte */
	ck_assert_ptr_null(find(v, n, "sendmail NoTLS 127.0.0.1:2529"));
	l = find(v, n, "sendmail TlsNoStarttls 127.0.0.1:2530");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	l = find(v, n, "sendmail TLSMTA 127.0.0.1:465");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	l = find(v, n, "sendmail MTA-v6 [::1]:25");
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l->host, "::1");
	l = find(v, n, "sendmail Any6 [::1]:2525");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_IMPLICIT);
	ck_assert_ptr_nonnull(find(v, n, "sendmail Tagged6 [2001:db8::1]:2526"));
	/* a Name that is no plain word: Sendmail's own, by the daemon's place */
	ck_assert_ptr_nonnull(find(v, n, "sendmail Daemon8 192.0.2.9:2527"));
	ck_assert_ptr_nonnull(find(v, n, "sendmail Spaced 192.0.2.10:2528"));
	l = find(v, n, "sendmail Ssl 127.0.0.1:465");
	ck_assert_ptr_null(l); /* 127.0.0.1:465 is TLSMTA's already */
	ck_assert_ptr_null(find(v, n, "sendmail Dup 127.0.0.1:25"));
	ck_assert_ptr_null(find(v, n, "sendmail Sock 127.0.0.1:25"));
	ck_assert_ptr_null(find(v, n, "sendmail Old 127.0.0.1:25"));
	ck_assert_ptr_null(find(v, n, "sendmail Commented 127.0.0.1:2000"));
	ck_assert_ptr_null(find(v, n, "sendmail Lowercase-O 127.0.0.1:2001"));
	free(v);

	/* m4's defaults without DAEMON_OPTIONS; M=E is no TLS */
	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_sendmail("O DaemonPortOptions=Name=MTA\n"
					    "O DaemonPortOptions=Port=587, Name=MSA, M=E\n", &v, &n), 2);
	ck_assert_ptr_nonnull(find(v, n, "sendmail MTA 127.0.0.1:25"));
	l = find(v, n, "sendmail MSA 127.0.0.1:587");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(l->proto, MS_SMTP);
	free(v);
	/* no DaemonPortOptions at all: Sendmail's one default daemon */
	v = NULL;
	n = 0;
	ck_assert_uint_eq(ms_parse_sendmail("V10/Berkeley\nO QueueDirectory=/var/spool/mqueue\n", &v, &n), 1);
	ck_assert_str_eq(v[0].label, "sendmail Daemon0 127.0.0.1:25");
	ck_assert_int_eq(v[0].proto, MS_SMTP);
	free(v);
}
END_TEST

START_TEST(sendmail_garbage)
{
	static const char bad[] =
		"O DaemonPortOptions=Port=99999\n"
		"O DaemonPortOptions=Port=no-such-service-x\n"
		"O DaemonPortOptions=Port=25x\n"
		"O DaemonPortOptions=Family=inet, Addr=::1\n"
		"O DaemonPortOptions=Family=inet6, Addr=127.0.0.1\n"
		"O DaemonPortOptions=Addr=bad_host!, Port=25\n"
		"O DaemonPortOptions=Family=inet7\n"
		"O DaemonPortOptions=Family=local\n"
		"O DaemonPortOptions=Port=\n"
		"O DaemonPortOptions\n"
		"O DaemonPortOptionsX=Port=26\n"
		"ODaemonPortOptions=Port=27\n";
	char *huge, *p;
	ms_listener *v = NULL;
	size_t n = 0, i;

	/* every daemon unusable: none, and no default daemon in their place */
	ck_assert_uint_eq(ms_parse_sendmail(bad, &v, &n), 0);
	ck_assert_uint_eq(ms_parse_sendmail("", &v, &n), 0);
	ck_assert_uint_eq(ms_parse_sendmail(NULL, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* an over-long line, an over-long address, a name past the label's room */
	huge = malloc(20000);
	p = huge;
	p += sprintf(p, "O DaemonPortOptions=Port=2600, Addr=");
	for (i = 0; i < 10000; i++)
		*p++ = 'a';
	p += sprintf(p, "\nO DaemonPortOptions=Port=2601, Addr=");
	for (i = 0; i < 300; i++)
		*p++ = '1';
	p += sprintf(p, "\nO DaemonPortOptions=Port=2602, Name=");
	for (i = 0; i < 3000; i++)
		*p++ = 'N';
	p += sprintf(p, ", Addr=");
	for (i = 0; i < 24; i++)
		p += sprintf(p, "abcdefghi.");
	p += sprintf(p, "test\n");
	ck_assert_uint_eq(ms_parse_sendmail(huge, &v, &n), 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].port, "2602");
	ck_assert_uint_lt(strlen(v[0].label), sizeof v[0].label);
	ck_assert(strncmp(v[0].label, "sendmail Daemon2 abcdefghi.", 27) == 0);
	free(v);
	/* more daemons than Sendmail takes: the first ones */
	v = NULL;
	n = 0;
	p = huge;
	for (i = 0; i < 40; i++)
		p += sprintf(p, "O DaemonPortOptions=Port=%zu\n", 3000 + i);
	ck_assert_uint_eq(ms_parse_sendmail(huge, &v, &n), 16);
	ck_assert_str_eq(v[15].port, "3015");
	free(v);
	free(huge);
}
END_TEST

START_TEST(accept_checks_everything)
{
	mh_table t = table();
	json_t *raw, *doc, *arr;
	const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

	raw = json_pack(
		"{s:s, s:[s, i], s:i, s:[s], s:["
		"{s:s, s:s, s:n, s:s, s:s, s:s, s:s, s:n, s:s}," /* good, no SNI */
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}," /* good, hostile detail */
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s}," /* unknown host */
		"{s:s, s:s, s:s, s:s, s:n, s:n, s:s, s:n, s:s}," /* bad name */
		"{s:s, s:s, s:s, s:s, s:n, s:n, s:s, s:n, s:s}," /* unknown result */
		"{s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:n, s:s}," /* serial not hex */
		"{s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:n, s:s}," /* short fingerprint */
		"{s:s, s:s, s:s, s:s, s:n, s:n, s:s, s:n, s:s}"  /* bad time */
		"]}",
		"time", "2026-11-30T10:00:00Z", "listeners", "postfix smtpd 127.0.0.1:25", 7, "skipped", 3,
		"errors", "dovecot: doveconf failed\x01", "results",
		"host", "a.example.test", "listener", "postfix smtpd 127.0.0.1:25", "name", "result", "ok",
		"serial", "0a1b", "sha256", sha, "expected_serial", "0a1b", "detail", "time",
		"2026-11-30T10:00:00Z",
		"host", "a.example.test", "listener", "dovecot imaps 127.0.0.1:993", "name", "a.example.test",
		"result", "mismatch", "serial", "0c", "sha256", sha, "expected_serial", "0a1b", "detail",
		"serves\nserial\x1b[31m 0c", "time", "2026-11-30T10:00:01Z",
		"host", "../etc", "listener", "x", "name", "a.example.test", "result", "ok", "serial", "0a1b",
		"sha256", sha, "expected_serial", "0a1b", "detail", "time", "2026-11-30T10:00:00Z",
		"host", "a.example.test", "listener", "x", "name", "a/../b", "result", "ok", "serial",
		"sha256", "expected_serial", "0a1b", "detail", "time", "2026-11-30T10:00:00Z",
		"host", "a.example.test", "listener", "x", "name", "a.example.test", "result", "fine",
		"serial", "sha256", "expected_serial", "0a1b", "detail", "time", "2026-11-30T10:00:00Z",
		"host", "a.example.test", "listener", "x", "name", "a.example.test", "result", "ok",
		"serial", "0A1B", "sha256", "expected_serial", "0a1b", "detail", "time",
		"2026-11-30T10:00:00Z",
		"host", "a.example.test", "listener", "x", "name", "a.example.test", "result", "ok",
		"serial", "sha256", "00ff", "expected_serial", "0a1b", "detail", "time",
		"2026-11-30T10:00:00Z",
		"host", "a.example.test", "listener", "x", "name", "a.example.test", "result", "ok",
		"serial", "sha256", "expected_serial", "0a1b", "detail", "time", "yesterday");
	ck_assert_ptr_nonnull(raw);
	doc = ms_accept(raw, &t);
	ck_assert_ptr_nonnull(doc);
	arr = json_object_get(json_object_get(doc, "hosts"), "a.example.test");
	ck_assert_uint_eq(json_array_size(arr), 2);
	ck_assert_ptr_null(json_object_get(json_object_get(doc, "hosts"), "../etc"));
	ck_assert(json_is_null(json_object_get(json_array_get(arr, 0), "name")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 1), "detail")),
			 "serves?serial?[31m 0c");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "errors"), 0)),
			 "dovecot: doveconf failed?");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "skipped")), 3);
	/* the listener list keeps its strings only */
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "listeners")), 1);
	json_decref(doc);
	json_decref(raw);

	/* not a round at all */
	raw = json_pack("{s:s}", "time", "2026-11-30T10:00:00Z");
	ck_assert_ptr_null(ms_accept(raw, &t));
	json_decref(raw);
	raw = json_pack("[i]", 1);
	ck_assert_ptr_null(ms_accept(raw, &t));
	json_decref(raw);
	free(t.v);
}
END_TEST


/* the leaf of a probe, valid from T-1d to T+1d, for the name checked when COVERS */
static ms_leaf leaf_at(time_t t, const char *sha, int covers)
{
	ms_leaf l;

	memset(&l, 0, sizeof l);
	strcpy(l.sha256, sha);
	strcpy(l.serial, "0a1b");
	l.not_before = t - 86400;
	l.not_after = t + 86400;
	l.covers = covers;
	return l;
}

START_TEST(verdict_judges_what_is_served)
{
	const char *mine = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	const char *other = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
	time_t t = 1800000000;
	ms_leaf l = leaf_at(t, mine, 1);
	char d[300];

	/* the loaded leaf, valid now, for the name */
	ck_assert_int_eq(ms_verdict(&l, mine, "0a1b", "a.example.test", t, d, sizeof d), MS_OK);
	ck_assert_str_eq(d, "");
	ck_assert(ms_verdict_final(MS_OK, &l, mine));
	/* the loaded leaf itself has expired: a problem, and probing again changes nothing */
	ck_assert_int_eq(ms_verdict(&l, mine, "0a1b", "a.example.test", t + 86400, d, sizeof d), MS_EXPIRED);
	ck_assert_str_eq(d, "serves serial 0a1b, expired at 2027-01-16T08:00:00Z");
	ck_assert(ms_verdict_final(MS_EXPIRED, &l, mine));
	/* not valid yet (a clock behind, a set issued for later) */
	ck_assert_int_eq(ms_verdict(&l, mine, "0a1b", "a.example.test", t - 86401, d, sizeof d),
			 MS_NOT_YET_VALID);
	ck_assert_str_eq(d, "serves serial 0a1b, not valid before 2027-01-14T08:00:00Z");
	/* not valid for the name asked */
	l.covers = 0;
	ck_assert_int_eq(ms_verdict(&l, mine, "0a1b", "b.example.test", t, d, sizeof d), MS_WRONG_NAME);
	ck_assert_str_eq(d, "serves serial 0a1b, which is not valid for b.example.test");
	/* another leaf, valid and for the name: the wrong set (probed again: a reload may be
	 * under way) */
	l = leaf_at(t, other, 1);
	strcpy(l.serial, "0c");
	ck_assert_int_eq(ms_verdict(&l, mine, "0a1b", "a.example.test", t, d, sizeof d), MS_MISMATCH);
	ck_assert_str_eq(d, "serves serial 0c, the loaded set has 0a1b");
	ck_assert(!ms_verdict_final(MS_MISMATCH, &l, mine));
	/* another leaf that has expired: what a client sees first, and that it is not the set */
	ck_assert_int_eq(ms_verdict(&l, mine, "0a1b", NULL, t + 86400, d, sizeof d), MS_EXPIRED);
	ck_assert_str_eq(d, "serves serial 0c, expired at 2027-01-16T08:00:00Z, not the loaded set (0a1b)");
	ck_assert(!ms_verdict_final(MS_EXPIRED, &l, mine));
	/* the loaded leaf could not be read */
	ck_assert_int_eq(ms_verdict(&l, NULL, NULL, "a.example.test", t, d, sizeof d), MS_MISMATCH);
	ck_assert_str_eq(d, "serves serial 0c, the loaded set has (unreadable)");
	l.covers = 0;
	ck_assert_int_eq(ms_verdict(&l, mine, "0a1b", NULL, t, d, sizeof d), MS_WRONG_NAME);
	ck_assert_str_eq(d, "serves serial 0c, which is not valid for the default host, not the loaded set (0a1b)");
	ck_assert_str_eq(ms_result_names[MS_NOT_YET_VALID], "not-yet-valid");
}
END_TEST

/* the new results and the leaf's validity get through the check; a bad time does not */
START_TEST(accept_validity)
{
	mh_table t = table();
	const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	json_t *raw, *doc, *arr, *v;

	raw = json_pack("{s:s, s:[], s:["
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s},"
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s},"
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n}"
			"]}",
			"time", "2026-11-30T10:00:00Z", "listeners", "results",
			"host", "a.example.test", "listener", "x", "name", "a.example.test", "result", "expired",
			"serial", "0a1b", "sha256", sha, "expected_serial", "0a1b", "time", "2026-11-30T10:00:00Z",
			"detail", "serves serial 0a1b, expired at 2026-11-29T10:00:00Z", "not_before",
			"2026-08-31T10:00:00Z", "not_after", "2026-11-29T10:00:00Z",
			"host", "a.example.test", "listener", "x", "name", "a.example.test", "result", "ok",
			"serial", "0a1b", "sha256", sha, "expected_serial", "0a1b", "time", "2026-11-30T10:00:00Z",
			"detail", "", "not_before", "2026-08-31T10:00:00Z", "not_after", "soon",
			"host", "a.example.test", "listener", "x", "name", "a.example.test", "result", "wrong-name",
			"serial", "0a1b", "sha256", sha, "expected_serial", "0a1b", "time", "2026-11-30T10:00:00Z",
			"not_before", "not_after");
	ck_assert_ptr_nonnull(raw);
	doc = ms_accept(raw, &t);
	ck_assert_ptr_nonnull(doc);
	arr = json_object_get(json_object_get(doc, "hosts"), "a.example.test");
	ck_assert_uint_eq(json_array_size(arr), 2);
	v = json_array_get(arr, 0);
	ck_assert_str_eq(json_string_value(json_object_get(v, "result")), "expired");
	ck_assert_str_eq(json_string_value(json_object_get(v, "not_after")), "2026-11-29T10:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(v, "not_before")), "2026-08-31T10:00:00Z");
	v = json_array_get(arr, 1);
	ck_assert_str_eq(json_string_value(json_object_get(v, "result")), "wrong-name");
	ck_assert(json_is_null(json_object_get(v, "not_after")));
	/* judged against the set loaded now (0a1b): current; against a replaced one: not */
	strcpy(t.v[0].file, "/store/versions/a.example.test/1/cert.pem");
	ck_assert(ms_entry_current(v, &t.v[0]));
	strcpy(t.v[0].serial, "0c");
	ck_assert(!ms_entry_current(v, &t.v[0]));
	ck_assert(!ms_entry_current(v, NULL));
	/* a round whose every problem concerns a replaced set is no reason to check again soon */
	ck_assert_int_eq(ms_log(doc, &t), 0);
	strcpy(t.v[0].serial, "0a1b");
	ck_assert_int_eq(ms_log(doc, &t), 1);
	json_decref(doc);
	json_decref(raw);
	free(t.v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("served");
	TCase *tc;

	mc_log_init("test_served", 1, 0);
	tc = unit_tcase("served");
	tcase_add_test(tc, postfix_master);
	tcase_add_test(tc, dovecot_services);
	tcase_add_test(tc, dovecot24_services);
	tcase_add_test(tc, exim_listeners);
	tcase_add_test(tc, exim_long_port);
	tcase_add_test(tc, sendmail_daemons);
	tcase_add_test(tc, sendmail_garbage);
	tcase_add_test(tc, accept_checks_everything);
	tcase_add_test(tc, verdict_judges_what_is_served);
	tcase_add_test(tc, accept_validity);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
