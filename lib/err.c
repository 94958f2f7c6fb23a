/*
 * err - error messages passed up to the caller.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "err.h"

int mc_err_set(mc_err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int mc_err_prefix(mc_err *e, const char *fmt, ...)
{
	char old[MC_ERRLEN], pre[MC_ERRLEN];
	va_list ap;

	if (!e)
		return -1;
	memcpy(old, e->msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	if (snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old) >= (int)sizeof e->msg)
		e->msg[sizeof e->msg - 1] = '\0'; /* long messages are cut, never overrun */
	return -1;
}

int mc_err_ssl(mc_err *e, const char *fmt, ...)
{
	char what[MC_ERRLEN / 2], detail[256] = "";
	unsigned long code;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	code = ERR_peek_last_error();
	if (code)
		ERR_error_string_n(code, detail, sizeof detail);
	ERR_clear_error();
	if (e) {
		if (detail[0])
			snprintf(e->msg, sizeof e->msg, "%s: %s", what, detail);
		else
			snprintf(e->msg, sizeof e->msg, "%s", what);
	}
	return -1;
}
