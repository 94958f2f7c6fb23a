/*
 * timefmt - RFC 3339 UTC times ("2027-02-20T10:00:00Z") and ASN1_TIME.
 */
#ifndef MC_TIMEFMT_H
#define MC_TIMEFMT_H

#include <stddef.h>
#include <time.h>

#define MC_TIMEFMT_LEN 32

/* write T as RFC 3339 UTC into OUT (MC_TIMEFMT_LEN) */
void mc_time_format(time_t t, char *out);
/* parse an RFC 3339 time (Z or +hh:mm, optional fraction); -1 if malformed */
int mc_time_parse(const char *s, time_t *t);
/* milliseconds of CLOCK_MONOTONIC, for time-outs and deadlines */
long mc_mono_ms(void);
/* current time; in a build with test hooks (MAILCERT_TEST_HOOKS, from
 * configure --enable-test-hooks) MAILCERT_NOW (seconds since the epoch)
 * overrides it; a production build ignores MAILCERT_NOW */
time_t mc_now(void);

#endif
