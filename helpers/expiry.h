/*
 * expiry - warnings for certificates mailcert does not renew itself (source
 * "manual": imported, or installed after `mailcert csr`): 30, 14 and 7 days
 * before they expire, and once they have.
 */
#ifndef MC_EXPIRY_H
#define MC_EXPIRY_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "conf.h"
#include "state.h"

#define MC_EXPIRY_DAYS_1 30
#define MC_EXPIRY_DAYS_2 14
#define MC_EXPIRY_DAYS_3 7

/* the warning level a certificate expiring at NOT_AFTER is at, seen at NOW:
 * 30, 14 or 7 (days or fewer left), 0 (expired), or -1 (none yet) */
int mc_expiry_level(time_t not_after, time_t now);
/* the warning for ST at NOW as one line into OUT; 0 when there is one, -1 when
 * none is due (also for certificates mailcert renews itself) */
int mc_expiry_message(const mc_state *st, time_t now, char *out, size_t outlen);
/*
 * For `mailcert status`: sets "expiry_warning" in the host's JSON J (the
 * message, or null) and, with F, prints "warning: HOST: MESSAGE" on it.
 */
void mc_expiry_note(const mc_host *h, const mc_state *st, json_t *j, time_t now, FILE *f);

#endif
