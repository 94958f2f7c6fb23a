/*
 * sendmail - Sendmail reads its certificate once: SIGHUP makes the daemon
 * re-exec itself and read STORE/run/default.pem again.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "mta.h"
#include "xalloc.h"

int sendmail_reload(const mta_ctx *c, mc_err *e)
{
	const char *pidfile = c->cfg->sendmail_pid_file;
	mc_buf b;
	long pid;
	char *end;

	mc_buf_init(&b);
	if (mc_file_read(pidfile, 4096, &b, e) < 0)
		return mc_err_prefix(e, "sendmail pid file");
	pid = strtol(b.data ? b.data : "", &end, 10);
	mc_buf_free(&b);
	if (pid <= 1 || end == NULL)
		return mc_err_set(e, "%s: no process id in it", pidfile);
	if (kill((pid_t)pid, SIGHUP) < 0)
		return mc_err_set(e, "kill -HUP %ld (from %s): %s", pid, pidfile, strerror(errno));
	return 0;
}
