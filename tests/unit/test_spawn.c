/*
 * test_spawn - fork/exec with a time limit and captured output.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* mc_spawn_input: the program reads the file given as its standard input, from its start */
START_TEST(input_file)
{
	char *argv[] = { S("/bin/cat"), NULL };
	char path[] = "/tmp/mc-spawn-in.XXXXXX";
	int fd = mkstemp(path);
	mc_buf out;
	mc_err e;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, "line one\nline two\n", 18), 18);
	lseek(fd, 0, SEEK_SET);
	mc_buf_init(&out);
	ck_assert_int_eq(mc_spawn_input(argv, NULL, fd, 5000, &out, &e), 0);
	mc_buf_puts(&out, "");
	ck_assert_str_eq(out.data, "line one\nline two\n");
	mc_buf_free(&out);
	close(fd);
	/* without one: /dev/null, so a program reading stdin ends at once */
	mc_buf_init(&out);
	ck_assert_int_eq(mc_spawn_input(argv, NULL, -1, 5000, &out, &e), 0);
	ck_assert_uint_eq(out.len, 0);
	mc_buf_free(&out);
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
	/* a child that would outlive the whole test run: only the time limit ends it
	 * (no upper bound on the time taken: a busy machine is slow, not wrong) */
	char *argv[] = { S("sleep"), S("100000"), NULL };
	struct timespec t0;
	mc_err e;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	e.msg[0] = '\0';
	ck_assert_int_eq(mc_spawn(argv, NULL, 200, NULL, &e), -1);
	ms = ms_since(&t0);
	ck_assert_msg(strstr(e.msg, "timed out") != NULL, "message: %s", e.msg);
	ck_assert_msg(ms >= 150, "returned after %ld ms, before its 200 ms limit", ms);
}
END_TEST

START_TEST(timeout_kills_the_group)
{
	/* the shell's child holds the pipe too; killing only the shell would hang */
	char *argv[] = { S("/bin/sh"), S("-c"), S("sleep 100000; echo late"), NULL };
	mc_err e;

	ck_assert_int_eq(mc_spawn(argv, NULL, 200, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "timed out after 200 ms") != NULL, "message: %s", e.msg);
	ck_assert_msg(strstr(e.msg, "late") == NULL, "message: %s", e.msg);
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

/* the pid a test child wrote to FILE, or 0 */
static long pid_from(const char *file)
{
	FILE *f = fopen(file, "r");
	long pid = 0;

	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid;
}

/* 1 while PID runs (a zombie, dead but not yet reaped by whoever adopted it,
 * counts as gone) */
static int alive(long pid)
{
	char path[64], stat[256];
	const char *p;
	FILE *f;
	size_t n;

	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = '\0';
	p = strrchr(stat, ')');
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/* PID is gone, polled with a generous deadline (an adopted grandchild is
 * reaped by init in its own time) */
static int gone(long pid)
{
	int i;

	for (i = 0; i < 600 && alive(pid); i++)
		usleep(100 * 1000);
	return !alive(pid);
}

/* a child that closes stdout and stderr and then hangs: the time limit must
 * hold after EOF on the pipe, and the child must be gone afterwards */
START_TEST(timeout_after_eof)
{
	char *tmp = unit_tmpdir();
	char pidfile[600], script[1400];
	char *argv[] = { S("/bin/sh"), S("-c"), script, NULL };
	mc_err e;
	long pid;

	snprintf(pidfile, sizeof pidfile, "%s/pid", tmp);
	snprintf(script, sizeof script, "echo $$ >%s; exec >&- 2>&-; exec sleep 1000", pidfile);
	e.msg[0] = '\0';
	ck_assert_int_eq(mc_spawn(argv, NULL, 2000, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "timed out after 2 s") != NULL, "message: %s", e.msg);
	pid = pid_from(pidfile);
	ck_assert_int_gt(pid, 1);
	ck_assert_msg(gone(pid), "the child %ld is still running", pid);
	unit_rmtree(tmp);
	free(tmp);
}
END_TEST

/* the child closes its output and hangs while a background grandchild keeps
 * the pipe open: both are killed at the deadline */
START_TEST(timeout_kills_grandchild_holding_pipe)
{
	char *tmp = unit_tmpdir();
	char dir[600], script[1800];
	char *argv[] = { S("/bin/sh"), S("-c"), script, NULL };
	mc_err e;
	long pid, gpid;

	snprintf(dir, sizeof dir, "%s", tmp);
	snprintf(script, sizeof script,
		 "echo $$ >%s/pid; sleep 1000 & echo $! >%s/gpid; exec >&- 2>&-; exec sleep 1000",
		 dir, dir);
	e.msg[0] = '\0';
	ck_assert_int_eq(mc_spawn(argv, NULL, 2000, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "timed out") != NULL, "message: %s", e.msg);
	snprintf(dir, sizeof dir, "%s/pid", tmp);
	pid = pid_from(dir);
	snprintf(dir, sizeof dir, "%s/gpid", tmp);
	gpid = pid_from(dir);
	ck_assert_int_gt(pid, 1);
	ck_assert_int_gt(gpid, 1);
	ck_assert_msg(gone(pid), "the child %ld is still running", pid);
	ck_assert_msg(gone(gpid), "the grandchild %ld is still running", gpid);
	unit_rmtree(tmp);
	free(tmp);
}
END_TEST

/* a child that has exited is done, even while a background grandchild
 * still holds the pipe: its status is reported, not a time-out */
START_TEST(exit_with_grandchild_holding_pipe)
{
	char *tmp = unit_tmpdir();
	char gpidfile[600], script[1400];
	char *argv[] = { S("/bin/sh"), S("-c"), script, NULL };
	mc_buf out;
	mc_err e;
	long gpid;
	int rc;

	snprintf(gpidfile, sizeof gpidfile, "%s/gpid", tmp);
	snprintf(script, sizeof script, "sleep 1000 & echo $! >%s; echo done; exit 4", gpidfile);
	mc_buf_init(&out);
	e.msg[0] = '\0';
	rc = mc_spawn(argv, NULL, 600000, &out, &e);
	gpid = pid_from(gpidfile);
	if (gpid > 1)
		kill((pid_t)gpid, SIGKILL);
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(e.msg, "status 4: done") != NULL, "message: %s", e.msg);
	mc_buf_free(&out);
	unit_rmtree(tmp);
	free(tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = unit_tcase("core");

	tcase_add_test(tc, true_ok);
	tcase_add_test(tc, path_lookup);
	tcase_add_test(tc, input_file);
	tcase_add_test(tc, false_status);
	tcase_add_test(tc, timeout);
	tcase_add_test(tc, timeout_kills_the_group);
	tcase_add_test(tc, output_captured);
	tcase_add_test(tc, failure_names_last_line);
	tcase_add_test(tc, signal_reported);
	tcase_add_test(tc, missing_program);
	tcase_add_test(tc, output_bounded);
	tcase_add_test(tc, no_shell);
	tcase_add_test(tc, timeout_after_eof);
	tcase_add_test(tc, timeout_kills_grandchild_holding_pipe);
	tcase_add_test(tc, exit_with_grandchild_holding_pipe);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
