/*
 * test_spawn - fork/exec with a time limit and captured output.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spawn.h"
#include "unit.h"

/* argv wants char *; the literals are never written */
#define S(x) ((char *)(x))

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L + (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

START_TEST(true_ok)
{
	char *argv[] = { S("/bin/true"), NULL };
	mc_err e;

	ck_assert_int_eq(mc_spawn(argv, NULL, 5000, NULL, &e), 0);
}
END_TEST

START_TEST(path_lookup)
{
	char *argv[] = { S("true"), NULL };
	mc_err e;

	ck_assert_int_eq(mc_spawn(argv, NULL, 5000, NULL, &e), 0);
}
END_TEST

START_TEST(false_status)
{
	char *argv[] = { S("/bin/false"), NULL };
	mc_err e;

	e.msg[0] = '\0';
	ck_assert_int_eq(mc_spawn(argv, NULL, 5000, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "status 1") != NULL, "message: %s", e.msg);
	ck_assert_msg(strstr(e.msg, "/bin/false") != NULL, "message: %s", e.msg);
}
END_TEST

START_TEST(timeout)
{
	char *argv[] = { S("sleep"), S("5"), NULL };
	struct timespec t0;
	mc_err e;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	e.msg[0] = '\0';
	ck_assert_int_eq(mc_spawn(argv, NULL, 200, NULL, &e), -1);
	ms = ms_since(&t0);
	ck_assert_msg(strstr(e.msg, "timed out") != NULL, "message: %s", e.msg);
	ck_assert_msg(ms >= 150 && ms < 2000, "took %ld ms", ms);
}
END_TEST

START_TEST(timeout_kills_the_group)
{
	/* the shell's child holds the pipe too; killing only the shell would hang */
	char *argv[] = { S("/bin/sh"), S("-c"), S("sleep 5; echo late"), NULL };
	struct timespec t0;
	mc_err e;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(mc_spawn(argv, NULL, 200, NULL, &e), -1);
	ms = ms_since(&t0);
	ck_assert_msg(strstr(e.msg, "timed out after 200 ms") != NULL, "message: %s", e.msg);
	ck_assert_msg(ms < 2000, "took %ld ms", ms);
}
END_TEST

START_TEST(output_captured)
{
	char *argv[] = { S("/bin/sh"), S("-c"), S("echo to-stdout; echo to-stderr >&2; printf '%s' \"$MC_UNIT_VAR\""),
			 NULL };
	char *env[] = { S("MC_UNIT_VAR=from-env"), NULL };
	mc_buf out;
	mc_err e;

	mc_buf_init(&out);
	ck_assert_int_eq(mc_spawn(argv, env, 5000, &out, &e), 0);
	ck_assert_ptr_nonnull(out.data);
	ck_assert_str_eq(out.data, "to-stdout\nto-stderr\nfrom-env");
	mc_buf_free(&out);
}
END_TEST

START_TEST(failure_names_last_line)
{
	char *argv[] = { S("/bin/sh"), S("-c"), S("echo first; echo 'TXT record refused' >&2; exit 3"), NULL };
	mc_err e;

	ck_assert_int_eq(mc_spawn(argv, NULL, 5000, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "status 3: TXT record refused") != NULL, "message: %s", e.msg);
	ck_assert_msg(strstr(e.msg, "first") == NULL, "message: %s", e.msg);
}
END_TEST

START_TEST(signal_reported)
{
	char *argv[] = { S("/bin/sh"), S("-c"), S("kill -TERM $$"), NULL };
	mc_err e;

	ck_assert_int_eq(mc_spawn(argv, NULL, 5000, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "signal 15") != NULL, "message: %s", e.msg);
}
END_TEST

START_TEST(missing_program)
{
	char *argv[] = { S("/nonexistent/mc-unit-no-such-program"), NULL };
	char *argv2[] = { S("mc-unit-no-such-program-in-path"), NULL };
	mc_err e;

	ck_assert_int_eq(mc_spawn(argv, NULL, 5000, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "status 127") != NULL, "message: %s", e.msg);
	ck_assert_msg(strstr(e.msg, "No such file") != NULL, "message: %s", e.msg);
	ck_assert_int_eq(mc_spawn(argv2, NULL, 5000, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "status 127") != NULL, "message: %s", e.msg);
}
END_TEST

START_TEST(output_bounded)
{
	char *argv[] = { S("head"), S("-c"), S("300000"), S("/dev/zero"), NULL };
	mc_buf out;
	mc_err e;

	mc_buf_init(&out);
	ck_assert_int_eq(mc_spawn(argv, NULL, 10000, &out, &e), 0);
	ck_assert_uint_le(out.len, MC_SPAWN_OUTPUT_MAX);
	ck_assert_uint_gt(out.len, 0);
	mc_buf_free(&out);
}
END_TEST

START_TEST(no_shell)
{
	/* the argument is passed as is, never interpreted */
	char *argv[] = { S("/bin/echo"), S("a;b"), S("$HOME"), S("`id`"), NULL };
	mc_buf out;
	mc_err e;

	mc_buf_init(&out);
	ck_assert_int_eq(mc_spawn(argv, NULL, 5000, &out, &e), 0);
	ck_assert_str_eq(out.data, "a;b $HOME `id`\n");
	mc_buf_free(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = unit_tcase("core");

	tcase_add_test(tc, true_ok);
	tcase_add_test(tc, path_lookup);
	tcase_add_test(tc, false_status);
	tcase_add_test(tc, timeout);
	tcase_add_test(tc, timeout_kills_the_group);
	tcase_add_test(tc, output_captured);
	tcase_add_test(tc, failure_names_last_line);
	tcase_add_test(tc, signal_reported);
	tcase_add_test(tc, missing_program);
	tcase_add_test(tc, output_bounded);
	tcase_add_test(tc, no_shell);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
