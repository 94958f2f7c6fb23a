/*
 * counts - the milter's counts per listener, kept by the loader from what
 * the filter process (milter.c) reports, for STORE/run/milter.json.
 *
 * The filter process is unprivileged and talks to whoever can reach the
 * milter socket: the loader takes what it reports as hostile.  Each name
 * is cleaned again here (at most MM_NAME_MAX bytes of valid UTF-8, other
 * bytes and control characters as '?'), and the counts are bounded
 * whatever names arrive: at most MM_LISTENERS_MAX listeners and
 * MM_KEYS_MAX TLS versions and ciphers per listener by name, the rest
 * under "other".
 *
 * The report protocol (filter process -> loader), one line per report,
 * fields separated by one tab, each line at most MM_LINE_MAX bytes with its
 * newline; the loader ignores a longer line, an unknown type and a line
 * with the wrong number of fields:
 *   R                                   ready: the socket is open and
 *                                       privileges are dropped
 *   S <listener>                        a session began on LISTENER
 *                                       ("{daemon_name}/{daemon_addr}")
 *   T <listener> <version> <cipher>     that session negotiated TLS
 *                                       (CIPHER may be empty)
 *   L <n>                               N reports were lost (the loader did
 *                                       not read them in time)
 */
#ifndef MCM_COUNTS_H
#define MCM_COUNTS_H

#include <stddef.h>

#include <jansson.h>

#define MM_NAME_MAX 64                      /* bytes of one name from the MTA */
#define MM_LISTENER_MAX (2 * MM_NAME_MAX + 1) /* "name/addr" */
#define MM_LISTENERS_MAX 64
#define MM_KEYS_MAX 32
#define MM_LINE_MAX 512

/* NAME cut to a character boundary within OUTLEN - 1 bytes of valid UTF-8,
 * without control characters (they, and bytes that are not part of a
 * well-formed character, become '?') */
void mm_clean_name(const char *name, char *out, size_t outlen);

/* count a session on LISTENER */
void mm_counts_session(const char *listener);
/* count a TLS session on LISTENER with VERSION and CIPHER ("" when unknown) */
void mm_counts_tls(const char *listener, const char *version, const char *cipher);
/* a copy of the counts; *CHANGED (when not NULL) says whether they moved
 * since the last call */
json_t *mm_counts(int *changed);
void mm_counts_free(void);

#endif
