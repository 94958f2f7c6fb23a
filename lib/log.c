/*
 * log - stderr or syslog, format-checked, thread-safe (one write per line).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "mailcert";
static int log_stderr = 1;
static int log_verbose;

void mc_log_init(const char *ident, int to_stderr, int verbose)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_verbose = verbose;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int mc_log_verbose(void)
{
	return log_verbose;
}

static void vlog(int prio, const char *tag, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (!log_stderr) {
		vsyslog(prio, fmt, ap);
		return;
	}
	n = snprintf(line, sizeof line, "%s: %s", log_ident, tag);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* one write() so lines from several threads never interleave */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

#define LOGFN(name, prio, tag, cond)                 \
	void name(const char *fmt, ...)              \
	{                                            \
		va_list ap;                          \
		if (!(cond))                         \
			return;                      \
		va_start(ap, fmt);                   \
		vlog(prio, tag, fmt, ap);            \
		va_end(ap);                          \
	}

LOGFN(mc_debug, LOG_DEBUG, "debug: ", log_verbose)
LOGFN(mc_info, LOG_INFO, "", 1)
LOGFN(mc_warn, LOG_WARNING, "warning: ", 1)
LOGFN(mc_error, LOG_ERR, "error: ", 1)

void mc_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(75); /* EX_TEMPFAIL: the environment broke, not the input */
}
