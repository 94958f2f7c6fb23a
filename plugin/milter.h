/*
 * milter - the filter process: the libmilter filter, unprivileged.  It
 * accepts everything and reports each session, with the TLS version and
 * cipher the HELO after STARTTLS carries, to the loader (counts.h has the
 * report lines); the loader counts.
 *
 * The loader (filterproc.c) starts it as "mailcert-milter --filter SOCKET"
 * with the report pipe on descriptor MM_REPORT_FD and nothing else open
 * beyond standard input, output and error.  As root it only opens SOCKET;
 * then it becomes user "mailcert" (or "nobody"), without supplementary
 * groups and never in the group that may read keys, without new privileges
 * or core dumps, and dies with the loader.  It never reads the
 * configuration, the store or a key.
 */
#ifndef MCM_MILTER_H
#define MCM_MILTER_H

#define MM_REPORT_FD 3

/* the filter process's main; its exit status: 0 stopped by SIGTERM or
 * SIGINT (or the loader went away), 1 libmilter failed, 2 it could not start
 * (the reason is logged) */
int mm_filter_main(const char *socket);

#endif
