/*
 * responder - what the challenge responders (http01.c, tlsalpn.c) share:
 * binding their listening sockets while still root, and giving up root in
 * the child process that serves them.
 */
#ifndef MC_RESPONDER_H
#define MC_RESPONDER_H

#include <sys/types.h>

#include "err.h"

/* a responder child as its parent sees it */
typedef struct mc_responder {
	pid_t pid;
	int ctl;              /* write end of the command pipe */
	const char *what;     /* "http-01", "tls-alpn-01": for messages */
} mc_responder;

/* bind and listen on SPEC ("HOST:PORT", "[V6]:PORT", "*:PORT"); WHAT names the
 * responder in errors; NONBLOCK for accept loops that poll */
int mc_responder_listen(const char *spec, const char *what, int nonblock, int *fd, mc_err *e);
/* become "nobody" (when root), non-dumpable, without new privileges; then NAME
 * the process for ps.  -1 when that fails */
int mc_responder_drop_privileges(const char *name);

/*
 * Fork a responder.  The child keeps only stderr, the descriptors in KEEP
 * (its listening sockets) and its ends of the two pipes: every other
 * descriptor of the parent (other responders' pipes, the store's run lock,
 * connections) is closed, and stdin/stdout point at /dev/null.  It then runs
 * WIPE(WIPE_ARG) (may be NULL) to erase secrets of the parent it must not
 * keep, then CHILD(ARG, CTL, READY), which never returns;
 * CTL is the read end of the command pipe, and the child writes one byte to
 * READY once it serves unprivileged.  The parent waits for that byte: EOF
 * means the child died, and is an error.
 */
int mc_responder_spawn(mc_responder *r, const char *what, void (*child)(void *arg, int ctl, int ready),
		       void *arg, const int *keep, size_t nkeep, void (*wipe)(void *), void *wipe_arg,
		       mc_err *e);
/*
 * In a responder child, before it serves: overwrite every copy of the LEN
 * bytes at SECRET found in this process's writable memory (heap, freed
 * blocks included, stacks, data), the one at SECRET too.  Secrets shorter
 * than 12 bytes are not searched for (too likely to match something else).
 * Returns the number of copies wiped, -1 when /proc/self/mem is unusable.
 */
int mc_responder_scrub(const void *secret, size_t len);
/* say "ready" from the child */
void mc_responder_ready(int ready);
/* send one command line (shorter than PIPE_BUF, so writes never interleave) */
int mc_responder_send(mc_responder *r, const char *line, mc_err *e);
/* close the pipe (the child finishes and exits) and reap the child */
void mc_responder_stop(mc_responder *r);

#endif
