/*
 * notifyq - the messages sendmail(8) did not take (it failed or timed out:
 * Postfix not started yet, a full queue), kept in STORE/run/notify.json beside
 * what notify.c remembers, and handed to sendmail again at the next run (the
 * daemon runs a pass for them at queue_retry_time), oldest first:
 *
 *   "queue": [{"what": "HOST: issued", "to": [ADDR, ...], "message": TEXT,
 *              "queued_time": T, "attempts": N, "last_attempt_time": T|0,
 *              "last_error": "..."}],
 *   "queue_failures": K,       runs in a row whose sendmail failed
 *   "queue_retry_time": T      when a daemon tries the queue again
 *
 * TEXT is the whole RFC 5322 message as it was made (its Date is when the
 * event happened).  The three keys are absent when nothing is queued.  The
 * queue is bounded: at most MC_NOTIFYQ_MAX messages (the oldest go first),
 * none older than MC_NOTIFYQ_MAX_AGE; each message dropped is logged.
 */
#ifndef MC_NOTIFYQ_H
#define MC_NOTIFYQ_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "err.h"

#define MC_NOTIFYQ_MAX 100
#define MC_NOTIFYQ_MAX_AGE_DAYS 7
#define MC_NOTIFYQ_MAX_AGE (MC_NOTIFYQ_MAX_AGE_DAYS * 86400)
/* the daemon's first try again after a failed run; doubles per failed run up to the max */
#define MC_NOTIFYQ_RETRY_MIN 60
#define MC_NOTIFYQ_RETRY_MAX 3600

/* hand MSG to sendmail for TO; 0 when it took it, else -1 with E */
typedef int (*mc_notifyq_send_fn)(void *arg, char *const *to, const char *msg, mc_err *e);

/* drop from MEM's queue what is older than MC_NOTIFYQ_MAX_AGE at NOW, logged */
void mc_notifyq_expire(json_t *mem, time_t now);
/*
 * Send MEM's queue with SEND, oldest first; each message taken leaves it.  The
 * first failure stops there (the rest is not tried).  0: all sent (or none
 * queued); -1: SEND failed.
 */
int mc_notifyq_flush(json_t *mem, mc_notifyq_send_fn send, void *arg, time_t now);
/* keep MSG for TO (WHAT names it in the log); ERROR: why it was not sent, NULL
 * when it was not tried (sendmail failed before in the run) */
void mc_notifyq_add(json_t *mem, const char *what, char *const *to, const char *msg, const char *error,
		    time_t now);
/*
 * End of a run: FAILED (sendmail failed in it) counts a failed run and sets
 * when the queue is tried again; the cap is applied (the oldest dropped,
 * logged); an empty queue leaves no key behind.
 */
void mc_notifyq_settle(json_t *mem, int failed, time_t now);

/* what STORE's notify.json holds: how many queued, the oldest's time, the retry time (0s when none) */
void mc_notifyq_info(const char *store, size_t *count, time_t *oldest, time_t *retry);
/* the same from notify.json's text at PATH (the daemon reads it when it changed) */
void mc_notifyq_info_file(const char *path, size_t *count, time_t *oldest, time_t *retry);

#endif
