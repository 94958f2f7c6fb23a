/*
 * err - how a function tells its caller why it failed.
 *
 * Functions return 0 on success and -1 on failure after filling an mc_err
 * with one line that names what failed and why.  Only main() decides to exit.
 */
#ifndef MC_ERR_H
#define MC_ERR_H

#include "log.h"

#define MC_ERRLEN 1024

typedef struct mc_err {
	char msg[MC_ERRLEN];
} mc_err;

/* always returns -1 so callers can write: return mc_err_set(e, ...); */
int mc_err_set(mc_err *e, const char *fmt, ...) MC_PRINTF(2, 3);
/* prefix an existing message: "what: <old message>" */
int mc_err_prefix(mc_err *e, const char *fmt, ...) MC_PRINTF(2, 3);
/* append OpenSSL's error queue (and clear it) */
int mc_err_ssl(mc_err *e, const char *fmt, ...) MC_PRINTF(2, 3);

#endif
