/*
 * test_served - the listener lists mailcert-milter reads from `postconf -M`
 * and `doveconf service` (plugin/served.c), and the check of what a served
 * check process reports (hostile input: only known hosts, valid names, hex
 * serials and fingerprints, bounded printable text get through).
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

int main(void)
{
	Suite *s = suite_create("served");
	TCase *tc;

	mc_log_init("test_served", 1, 0);
	tc = unit_tcase("served");
	tcase_add_test(tc, postfix_master);
	tcase_add_test(tc, dovecot_services);
	tcase_add_test(tc, exim_listeners);
	tcase_add_test(tc, accept_checks_everything);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
