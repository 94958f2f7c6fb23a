/*
 * test_notifyq - the queue of notifications sendmail did not take: order,
 * stopping at the first failure, the bounds, the daemon's retry time, and
 * what stays of notify.json's other keys.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifyq.h"
#include "unit.h"

#define NOW 1800000000

/* a sender that records what it got and fails from call FAIL_AT on (0: never) */
struct sender {
	int calls, fail_at;
	char got[8][64];
};

static int send_rec(void *arg, char *const *to, const char *msg, mc_err *e)
{
	struct sender *s = arg;

	ck_assert_ptr_nonnull(to[0]);
	s->calls++;
	if (s->fail_at && s->calls >= s->fail_at)
		return mc_err_set(e, "exited with status 75");
	if (s->calls <= 8)
		snprintf(s->got[s->calls - 1], sizeof s->got[0], "%s", msg);
	return 0;
}

static json_t *memory(void)
{
	return json_pack("{s:i,s:{s:{s:i}}}", "version", 1, "hosts", "a.example", "failure_mailed", 5);
}

static void add(json_t *mem, const char *what, time_t t, const char *err)
{
	char *const to[] = { (char *)"ops@example.net", NULL };

	mc_notifyq_add(mem, what, to, what, err, t);
}

static size_t qlen(json_t *mem)
{
	return json_array_size(json_object_get(mem, "queue"));
}

static const char *qwhat(json_t *mem, size_t i)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(mem, "queue"), i), "what"));
}

START_TEST(flush_in_order)
{
	json_t *mem = memory();
	struct sender s = { 0 };

	add(mem, "one", NOW - 20, "exited with status 75");
	add(mem, "two", NOW - 10, NULL);
	ck_assert_int_eq(mc_notifyq_flush(mem, send_rec, &s, NOW), 0);
	ck_assert_int_eq(s.calls, 2);
	ck_assert_str_eq(s.got[0], "one");
	ck_assert_str_eq(s.got[1], "two");
	mc_notifyq_settle(mem, 0, NOW);
	ck_assert_ptr_null(json_object_get(mem, "queue"));
	ck_assert_ptr_null(json_object_get(mem, "queue_failures"));
	ck_assert_ptr_null(json_object_get(mem, "queue_retry_time"));
	/* what notify.c remembers is left alone */
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(mem, "hosts"), "a.example"),
							 "failure_mailed")),
			 5);
	json_decref(mem);
}
END_TEST

START_TEST(flush_stops_at_failure)
{
	json_t *mem = memory(), *first;
	struct sender s = { .fail_at = 2 };

	add(mem, "one", NOW - 30, NULL);
	add(mem, "two", NOW - 20, NULL);
	add(mem, "three", NOW - 10, NULL);
	ck_assert_int_eq(mc_notifyq_flush(mem, send_rec, &s, NOW), -1);
	ck_assert_int_eq(s.calls, 2); /* the third is not tried */
	ck_assert_uint_eq(qlen(mem), 2);
	ck_assert_str_eq(qwhat(mem, 0), "two");
	first = json_array_get(json_object_get(mem, "queue"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(first, "attempts")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(first, "last_attempt_time")), NOW);
	ck_assert_str_eq(json_string_value(json_object_get(first, "last_error")), "exited with status 75");
	json_decref(mem);
}
END_TEST

START_TEST(bounds)
{
	json_t *mem = memory();
	char what[32];
	int i;

	add(mem, "old", NOW - MC_NOTIFYQ_MAX_AGE - 1, NULL);
	add(mem, "just young enough", NOW - MC_NOTIFYQ_MAX_AGE, NULL);
	mc_notifyq_expire(mem, NOW);
	ck_assert_uint_eq(qlen(mem), 1);
	ck_assert_str_eq(qwhat(mem, 0), "just young enough");
	for (i = 1; i <= MC_NOTIFYQ_MAX; i++) {
		snprintf(what, sizeof what, "m%d", i);
		add(mem, what, NOW, NULL);
	}
	ck_assert_uint_eq(qlen(mem), MC_NOTIFYQ_MAX + 1);
	mc_notifyq_settle(mem, 1, NOW);
	ck_assert_uint_eq(qlen(mem), MC_NOTIFYQ_MAX);
	ck_assert_str_eq(qwhat(mem, 0), "m1");
	ck_assert_str_eq(qwhat(mem, MC_NOTIFYQ_MAX - 1), "m100");
	json_decref(mem);
}
END_TEST

START_TEST(retry_backs_off)
{
	static const long want[] = { 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600 };
	json_t *mem = memory();
	size_t i;

	add(mem, "one", NOW, "exited with status 75");
	for (i = 0; i < sizeof want / sizeof *want; i++) {
		mc_notifyq_settle(mem, 1, NOW);
		ck_assert_int_eq(json_integer_value(json_object_get(mem, "queue_failures")), (json_int_t)i + 1);
		ck_assert_int_eq(json_integer_value(json_object_get(mem, "queue_retry_time")), NOW + want[i]);
	}
	/* a run that tried nothing keeps the retry time */
	mc_notifyq_settle(mem, 0, NOW + 5);
	ck_assert_int_eq(json_integer_value(json_object_get(mem, "queue_retry_time")), NOW + 3600);
	json_decref(mem);
}
END_TEST

START_TEST(unreadable_entries)
{
	json_t *mem = memory();
	struct sender s = { 0 };

	json_object_set_new(mem, "queue", json_pack("[s,{s:s},{s:s,s:[s],s:I}]", "junk", "what", "no message",
						     "message", "ok", "to", "ops@example.net", "queued_time",
						     (json_int_t)NOW));
	ck_assert_int_eq(mc_notifyq_flush(mem, send_rec, &s, NOW), 0);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_str_eq(s.got[0], "ok");
	json_decref(mem);
}
END_TEST

START_TEST(info_from_file)
{
	char *dir = unit_tmpdir(), path[4096];
	time_t oldest, retry;
	size_t count;

	snprintf(path, sizeof path, "%s/notify.json", dir);
	mc_notifyq_info_file(path, &count, &oldest, &retry);
	ck_assert_uint_eq(count, 0);
	unit_write(path, "{\"version\": 1, \"hosts\": {}}");
	mc_notifyq_info_file(path, &count, &oldest, &retry);
	ck_assert_uint_eq(count, 0);
	ck_assert_int_eq(retry, 0);
	unit_write(path, "{\"version\": 1, \"hosts\": {}, \"queue_retry_time\": 1800000060, \"queue\": ["
			 "{\"what\": \"a\", \"to\": [\"x@y.z\"], \"message\": \"m\", \"queued_time\": 1799999000},"
			 "{\"what\": \"b\", \"to\": [\"x@y.z\"], \"message\": \"m\", \"queued_time\": 1800000000}]}");
	mc_notifyq_info_file(path, &count, &oldest, &retry);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(oldest, 1799999000);
	ck_assert_int_eq(retry, 1800000060);
	unit_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notifyq");
	TCase *tc = unit_tcase("notifyq");

	tcase_add_test(tc, flush_in_order);
	tcase_add_test(tc, flush_stops_at_failure);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, retry_backs_off);
	tcase_add_test(tc, unreadable_entries);
	tcase_add_test(tc, info_from_file);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
