/*
 * log - one logging module for both programs.
 *
 * Messages go to stderr (foreground, CLI) or syslog (daemons).  Levels:
 * debug (only with -v), info, warn (something odd, we carry on), err (an
 * operation failed), fatal (the environment broke: exits 75).
 */
#ifndef MC_LOG_H
#define MC_LOG_H

#include <stdarg.h>

#define MC_PRINTF(a, b) __attribute__((format(printf, a, b)))

void mc_log_init(const char *ident, int to_stderr, int verbose);
int mc_log_verbose(void);
void mc_debug(const char *fmt, ...) MC_PRINTF(1, 2);
void mc_info(const char *fmt, ...) MC_PRINTF(1, 2);
void mc_warn(const char *fmt, ...) MC_PRINTF(1, 2);
void mc_error(const char *fmt, ...) MC_PRINTF(1, 2);
void mc_fatal(const char *fmt, ...) MC_PRINTF(1, 2) __attribute__((noreturn));

#endif
