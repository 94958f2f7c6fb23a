/*
 * sendmail - Sendmail reads its certificate once: SIGHUP makes the daemon
 * re-exec itself and read STORE/run/default.pem again.
 *
 * The signal goes only to a process the pid file really names: its first
 * line is the pid, digits alone (Sendmail writes its command line on the
 * second), and that process is alive.  Anything else is an error: a number
 * read loosely could wrap onto init, onto our own process group (0) or onto
 * every process (-1).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "mta.h"
#include "xalloc.h"

#define PID_DIGITS_MAX 10 /* INT_MAX has 10 */

/* the pid on the first line of TEXT, 0 when there is none, -1 when it is too large */
static long pid_parse(const char *text)
{
	const char *p = text;
	long pid = 0;

	while (*p >= '0' && *p <= '9') {
		if (p - text >= PID_DIGITS_MAX)
			return -1;
		pid = pid * 10 + (*p++ - '0');
	}
	if (p == text)
		return 0;
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p != '\n' && *p != '\0')
		return 0;
	return pid > INT_MAX ? -1 : pid;
}

/* 1 when process PID is running: it exists and is not a zombie */
static int pid_running(long pid)
{
	char path[64], *state;
	mc_buf b;
	mc_err e;
	int running;

	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 0;
	mc_pathf(path, sizeof path, "/proc/%ld/stat", pid);
	mc_buf_init(&b);
	if (mc_file_read(path, 4096, &b, &e) < 0) {
		mc_buf_free(&b);
		/* no /proc to ask, or gone since: kill() decides */
		return !(kill((pid_t)pid, 0) < 0 && errno == ESRCH);
	}
	/* "PID (COMM) STATE ...": COMM may hold anything, the state follows the last ')' */
	state = b.data ? strrchr(b.data, ')') : NULL;
	running = !state || (state[1] != ' ' || (state[2] != 'Z' && state[2] != 'X'));
	mc_buf_free(&b);
	return running;
}

int sendmail_reload(const mta_ctx *c, mc_err *e)
{
	const char *pidfile = c->cfg->sendmail_pid_file;
	mc_buf b;
	long pid;

	mc_buf_init(&b);
	if (mc_file_read(pidfile, 4096, &b, e) < 0) {
		mc_buf_free(&b);
		return mc_err_prefix(e, "sendmail pid file");
	}
	pid = pid_parse(b.data ? b.data : "");
	mc_buf_free(&b);
	if (pid < 0)
		return mc_err_set(e, "%s: the process id in it is out of range", pidfile);
	if (pid <= 1)
		return mc_err_set(e, "%s: no process id in it", pidfile);
	if (!pid_running(pid))
		return mc_err_set(e, "%s: process %ld is not running", pidfile, pid);
	if (kill((pid_t)pid, SIGHUP) < 0)
		return mc_err_set(e, "kill -HUP %ld (from %s): %s", pid, pidfile, strerror(errno));
	return 0;
}
