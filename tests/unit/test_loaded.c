/*
 * test_loaded - how mailcert-milter's record (STORE/run/milter.json) is
 * folded into `mailcert status --json`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "loaded.h"
#include "timefmt.h"
#include "xalloc.h"
#include "unit.h"

static const char doc_text[] =
	"{\"version\":1,\"hosts\":{"
	" \"a.example.test\":{\"serial\":\"0a\",\"loaded\":{\"postfix\":\"2026-11-22T10:00:02Z\","
	"   \"dovecot\":\"2026-11-22T10:00:03Z\",\"sendmail\":null},"
	"   \"load_error\":null,\"load_error_time\":null},"
	" \"b.example.test\":{\"serial\":\"0b\",\"loaded\":{\"postfix\":\"2026-11-22T10:00:02Z\","
	"   \"dovecot\":\"2026-11-22T10:00:03Z\"},"
	"   \"load_error\":\"private key does not match the certificate\","
	"   \"load_error_time\":\"2026-11-23T08:00:00Z\"}},"
	"\"listeners\":{\"smtpd/127.0.0.1\":{\"sessions\":3,\"tls_sessions\":2}}}";

static json_t *host_with_serial(const char *serial)
{
	return serial ? json_pack("{s:s}", "serial", serial) : json_pack("{s:n}", "serial");
}

START_TEST(current_set_loaded)
{
	json_t *doc = json_loads(doc_text, 0, NULL), *h = host_with_serial("0a");

	ck_assert_ptr_nonnull(doc);
	mc_loaded_annotate(h, doc, "a.example.test");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(h, "loaded"), "postfix")),
			 "2026-11-22T10:00:02Z");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(h, "loaded"), "dovecot")),
			 "2026-11-22T10:00:03Z");
	ck_assert(json_is_null(json_object_get(json_object_get(h, "loaded"), "sendmail")));
	ck_assert_str_eq(json_string_value(json_object_get(h, "loaded_serial")), "0a");
	ck_assert(json_is_null(json_object_get(h, "load_error")));
	json_decref(h);
	json_decref(doc);
}
END_TEST

START_TEST(refused_set_not_loaded)
{
	json_t *doc = json_loads(doc_text, 0, NULL), *h = host_with_serial("0c");

	/* the store holds 0c, the MTAs still serve 0b: no loaded time for 0c */
	mc_loaded_annotate(h, doc, "b.example.test");
	ck_assert(json_is_null(json_object_get(json_object_get(h, "loaded"), "postfix")));
	ck_assert(json_is_null(json_object_get(json_object_get(h, "loaded"), "dovecot")));
	ck_assert_str_eq(json_string_value(json_object_get(h, "loaded_serial")), "0b");
	ck_assert_str_eq(json_string_value(json_object_get(h, "load_error")),
			 "private key does not match the certificate");
	ck_assert_str_eq(json_string_value(json_object_get(h, "load_error_time")), "2026-11-23T08:00:00Z");
	json_decref(h);
	json_decref(doc);
}
END_TEST

START_TEST(no_milter)
{
	json_t *h = host_with_serial("0a"), *l;

	/* no record at all: every field present and null */
	mc_loaded_annotate(h, NULL, "a.example.test");
	ck_assert(json_is_null(json_object_get(json_object_get(h, "loaded"), "postfix")));
	ck_assert(json_is_null(json_object_get(json_object_get(h, "loaded"), "dovecot")));
	ck_assert(json_is_null(json_object_get(h, "loaded_serial")));
	ck_assert(json_is_null(json_object_get(h, "load_error")));
	l = mc_loaded_listeners(NULL);
	ck_assert(json_is_object(l));
	ck_assert_uint_eq(json_object_size(l), 0);
	json_decref(l);
	json_decref(h);
}
END_TEST

START_TEST(unknown_host_and_listeners)
{
	json_t *doc = json_loads(doc_text, 0, NULL), *h = host_with_serial(NULL), *l;

	mc_loaded_annotate(h, doc, "c.example.test");
	ck_assert(json_is_null(json_object_get(h, "loaded_serial")));
	l = mc_loaded_listeners(doc);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(l, "smtpd/127.0.0.1"), "sessions")), 3);
	json_decref(l);
	json_decref(h);
	json_decref(doc);
}
END_TEST

START_TEST(read_from_store)
{
	char *store = unit_tmpdir(), path[4096];
	json_t *doc;

	ck_assert_ptr_null(mc_loaded_read(store)); /* nothing yet */
	snprintf(path, sizeof path, "%s/run", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/run/milter.json", store);
	unit_write(path, "[1, 2]"); /* not an object: ignored */
	ck_assert_ptr_null(mc_loaded_read(store));
	unit_write(path, "{\"hosts\": {"); /* torn: ignored */
	ck_assert_ptr_null(mc_loaded_read(store));
	unit_write(path, doc_text);
	doc = mc_loaded_read(store);
	ck_assert_ptr_nonnull(doc);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(doc, "hosts"), "a.example.test"));
	json_decref(doc);
	unit_rmtree(store);
	free(store);
}
END_TEST


/* a host of `status --json` after annotate: has a certificate, current serial 0d */
static json_t *judged_host(json_t *doc, const char *dir)
{
	json_t *h = json_pack("{s:s, s:b}", "serial", "0d", "has_cert", 1);

	mc_loaded_annotate(h, doc, dir);
	return h;
}

static const char judge_doc[] =
	"{\"version\":1,\"pid\":1,\"updated\":\"2026-11-30T10:00:00Z\",\"hosts\":{"
	" \"live.test\":{\"serial\":\"0d\",\"loaded\":{\"postfix\":\"2026-11-30T09:00:00Z\","
	"   \"dovecot\":\"2026-11-30T09:00:01Z\",\"sendmail\":null}},"
	" \"half.test\":{\"serial\":\"0d\",\"loaded\":{\"postfix\":\"2026-11-30T09:00:00Z\","
	"   \"dovecot\":null}}},"
	"\"mta\":{\"postfix\":{\"last_error\":null,\"failures\":0},"
	"  \"dovecot\":{\"last_error\":\"doveadm reload: Dovecot is not running\","
	"   \"last_error_time\":\"2026-11-30T09:30:00Z\",\"failures\":3}}}";

START_TEST(judge_live_everywhere)
{
	json_t *doc = json_loads(judge_doc, 0, NULL), *h = judged_host(doc, "live.test");
	const int pd[MC_LOADED_MTAS] = { 1, 1, 0 }, pds[MC_LOADED_MTAS] = { 1, 1, 1 };

	ck_assert_int_eq(mc_loaded_judge(h, doc, pd, 0, 1, 100, 1000), MC_LOAD_OK);
	ck_assert(json_is_null(json_object_get(h, "load_error")));
	/* Sendmail serves only the default host: it does not count for another */
	ck_assert_int_eq(mc_loaded_judge(h, doc, pds, 0, 1, 100, 1000), MC_LOAD_OK);
	/* for the default host, a set not loaded into Sendmail is not live */
	ck_assert_int_eq(mc_loaded_judge(h, doc, pds, 1, 1, 100, 100000), MC_LOAD_ERROR);
	json_decref(h);
	json_decref(doc);
}
END_TEST

START_TEST(judge_failing_reload)
{
	json_t *doc = json_loads(judge_doc, 0, NULL), *h = judged_host(doc, "half.test");
	const int pd[MC_LOADED_MTAS] = { 1, 1, 0 }, p[MC_LOADED_MTAS] = { 1, 0, 0 };
	const char *msg;

	/* loaded into Postfix, not into Dovecot, whose reload is failing */
	ck_assert_int_eq(mc_loaded_judge(h, doc, pd, 0, 1, 100, 110), MC_LOAD_ERROR);
	msg = json_string_value(json_object_get(h, "load_error"));
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strstr(msg, "dovecot") && strstr(msg, "Dovecot is not running"), "%s", msg);
	ck_assert_str_eq(json_string_value(json_object_get(h, "load_error_time")), "2026-11-30T09:30:00Z");
	json_decref(h);
	/* with Dovecot not managed, the same host is fine */
	h = judged_host(doc, "half.test");
	ck_assert_int_eq(mc_loaded_judge(h, doc, p, 0, 1, 100, 110), MC_LOAD_OK);
	json_decref(h);
	json_decref(doc);
}
END_TEST

START_TEST(judge_new_set_and_no_plugin)
{
	json_t *doc = json_loads(doc_text, 0, NULL), *h;
	const int pd[MC_LOADED_MTAS] = { 1, 1, 0 }, none[MC_LOADED_MTAS] = { 0, 0, 0 };

	/* the store has 0d, the plugin still serves 0a: just installed, pending */
	h = judged_host(doc, "a.example.test");
	ck_assert_int_eq(mc_loaded_judge(h, doc, pd, 0, 1, 1000, 1000 + MC_LOAD_GRACE_S - 1),
			 MC_LOAD_PENDING);
	ck_assert(json_is_null(json_object_get(h, "load_error")));
	/* ... long after: an error that says so */
	ck_assert_int_eq(mc_loaded_judge(h, doc, pd, 0, 1, 1000, 1000 + MC_LOAD_GRACE_S + 1),
			 MC_LOAD_ERROR);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(h, "load_error")), "not loaded into postfix"));
	json_decref(h);
	/* the plugin is not running: an error at once */
	h = judged_host(doc, "a.example.test");
	ck_assert_int_eq(mc_loaded_judge(h, doc, pd, 0, 0, 1000, 1001), MC_LOAD_ERROR);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(h, "load_error")), "not running"));
	json_decref(h);
	/* no MTA managed: nothing to judge */
	h = judged_host(NULL, "a.example.test");
	ck_assert_int_eq(mc_loaded_judge(h, NULL, none, 0, 0, 1000, 100000), MC_LOAD_NONE);
	json_decref(h);
	json_decref(doc);
}
END_TEST

START_TEST(milter_liveness)
{
	json_t *doc;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(mc_loaded_milter_running(NULL), 0);
	/* a pid that is gone */
	doc = json_pack("{s:i}", "pid", (int)pid);
	ck_assert_int_eq(mc_loaded_milter_running(doc), 0);
	json_decref(doc);
	/* a live pid that is another program (this test) */
	doc = json_pack("{s:i}", "pid", (int)getpid());
	ck_assert_int_eq(mc_loaded_milter_running(doc), 0);
	json_decref(doc);
}
END_TEST


/* what the listeners served, judged again when status runs; and per listener,
 * when it was last probed */
START_TEST(served_judged_at_status_time)
{
	json_t *h, *doc, *probes, *l;
	char **problems = NULL;
	time_t t;

	h = json_pack("{s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, {s:s, s:n, s:s, s:s, s:s, s:s, s:s}]}",
		      "host", "a.example.test", "served",
		      "listener", "postfix smtpd 127.0.0.1:25", "name", "a.example.test", "result", "ok",
		      "serial", "0a", "time", "2026-11-30T10:00:00Z", "not_before", "2026-11-01T00:00:00Z",
		      "not_after", "2026-12-01T00:00:00Z",
		      "listener", "dovecot imaps 127.0.0.1:993", "name", "result", "ok", "serial", "0a", "time",
		      "2026-11-30T10:00:05Z", "not_before", "2026-11-01T00:00:00Z", "not_after",
		      "2026-12-01T00:00:00Z");
	ck_assert_int_eq(mc_time_parse("2026-11-30T12:00:00Z", &t), 0);
	ck_assert_str_eq(mc_loaded_served(h, &problems, t), "ok");
	ck_assert_ptr_null(problems);
	/* the day after it expired: nobody probed again, status knows anyway */
	ck_assert_int_eq(mc_time_parse("2026-12-02T00:00:00Z", &t), 0);
	ck_assert_str_eq(mc_loaded_served(h, &problems, t), "expired");
	ck_assert_ptr_nonnull(problems);
	ck_assert_str_eq(problems[0], "a.example.test: postfix smtpd 127.0.0.1:25 serves an expired certificate "
				      "for a.example.test: serves serial 0a, expired at 2026-12-01T00:00:00Z");
	ck_assert_str_eq(problems[1], "a.example.test: dovecot imaps 127.0.0.1:993 serves an expired certificate "
				      "for clients without SNI: serves serial 0a, expired at 2026-12-01T00:00:00Z");
	ck_assert_ptr_null(problems[2]);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(h, "served"), 0),
							    "result")), "expired");
	mc_strv_free(problems);
	problems = NULL;
	/* a clock before the leaf's start */
	json_decref(h);
	h = json_pack("{s:s, s:[{s:s, s:n, s:s, s:s, s:s, s:s, s:s}]}", "host", "a.example.test", "served",
		      "listener", "x", "name", "result", "ok", "serial", "0a", "time", "2026-11-30T10:00:00Z",
		      "not_before", "2026-11-01T00:00:00Z", "not_after", "2026-12-01T00:00:00Z");
	ck_assert_int_eq(mc_time_parse("2026-10-01T00:00:00Z", &t), 0);
	ck_assert_str_eq(mc_loaded_served(h, NULL, t), "not-yet-valid");
	json_decref(h);

	/* per listener: the latest probe and the worst result; a listener not probed: null */
	doc = json_pack("{s:{s:s, s:[s, s, s]}, s:{s:{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]},"
			" s:{s:[{s:s, s:s, s:s}]}}}",
			"served", "time", "2026-11-30T10:00:09Z", "listeners", "postfix smtpd 127.0.0.1:25",
			"dovecot imaps 127.0.0.1:993", "dovecot pop3s 127.0.0.1:995",
			"hosts", "a.example.test", "served",
			"listener", "postfix smtpd 127.0.0.1:25", "result", "ok", "time", "2026-11-30T10:00:00Z",
			"listener", "dovecot imaps 127.0.0.1:993", "result", "unreachable", "time", "2026-11-30T10:00:08Z",
			"b.example.test", "served",
			"listener", "postfix smtpd 127.0.0.1:25", "result", "ok", "time", "2026-11-30T10:00:02Z");
	probes = mc_loaded_probes(doc);
	ck_assert_str_eq(json_string_value(json_object_get(probes, "time")), "2026-11-30T10:00:09Z");
	ck_assert_uint_eq(json_array_size(json_object_get(probes, "listeners")), 3);
	l = json_array_get(json_object_get(probes, "listeners"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(l, "listener")), "postfix smtpd 127.0.0.1:25");
	ck_assert_str_eq(json_string_value(json_object_get(l, "probed")), "2026-11-30T10:00:02Z");
	ck_assert_str_eq(json_string_value(json_object_get(l, "result")), "ok");
	l = json_array_get(json_object_get(probes, "listeners"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(l, "result")), "unreachable");
	l = json_array_get(json_object_get(probes, "listeners"), 2);
	ck_assert(json_is_null(json_object_get(l, "probed")));
	json_decref(probes);
	json_decref(doc);
	/* no record at all */
	probes = mc_loaded_probes(NULL);
	ck_assert(json_is_null(json_object_get(probes, "time")));
	ck_assert_uint_eq(json_array_size(json_object_get(probes, "listeners")), 0);
	json_decref(probes);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loaded");
	TCase *tc = unit_tcase("loaded");

	tcase_add_test(tc, current_set_loaded);
	tcase_add_test(tc, refused_set_not_loaded);
	tcase_add_test(tc, no_milter);
	tcase_add_test(tc, unknown_host_and_listeners);
	tcase_add_test(tc, read_from_store);
	tcase_add_test(tc, judge_live_everywhere);
	tcase_add_test(tc, judge_failing_reload);
	tcase_add_test(tc, judge_new_set_and_no_plugin);
	tcase_add_test(tc, milter_liveness);
	tcase_add_test(tc, served_judged_at_status_time);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
