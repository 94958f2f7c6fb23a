/*
 * milter - the libmilter filter: accepts everything, counts per listener
 * ({daemon_name}/{daemon_addr}) the sessions and the TLS versions and
 * ciphers negotiated (the HELO after STARTTLS carries them).
 *
 * It runs smfi_main() in a thread of its own; the counts are read by the
 * main loop, which writes them into STORE/run/milter.json.
 */
#ifndef MCM_MILTER_H
#define MCM_MILTER_H

#include <jansson.h>

#include "err.h"

/* listen on SOCKET ("unix:/path", "inet:port@host") in a new thread;
 * NOTIFY_FD is written to when that thread ends */
int mm_start(const char *socket, int notify_fd, mc_err *e);
/* 1 when the milter thread ended on an error rather than on a signal */
int mm_failed(void);
/* ask libmilter to stop and wait for the thread */
void mm_stop(void);
/* a copy of the counts; *CHANGED says whether they moved since the last call */
json_t *mm_counts(int *changed);

#endif
