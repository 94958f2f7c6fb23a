/*
 * spawn - run an external program with fork/exec (never a shell), a time
 * limit, extra environment, and its stdout+stderr captured (bounded).
 */
#ifndef MC_SPAWN_H
#define MC_SPAWN_H

#include "err.h"
#include "xalloc.h"

#define MC_SPAWN_OUTPUT_MAX (64 * 1024)

/*
 * Run ARGV[0] (looked up in PATH when it has no '/') with ARGV.  ENV_ADD is a
 * NULL-terminated list of "NAME=value" added to the environment (may be NULL).
 * Output goes to OUT (may be NULL).  Returns 0 when the program exited 0;
 * otherwise -1 with E saying how it ended (exit code, signal, time-out) and
 * the last line of its output.  TIMEOUT_MS bounds the whole run, also after
 * the program closed its output; at the deadline its process group gets
 * SIGTERM, then SIGKILL.  A background process left holding the output
 * pipe after the program exited is not waited for.
 */
int mc_spawn(char *const argv[], char *const env_add[], int timeout_ms, mc_buf *out, mc_err *e);
/* as mc_spawn, with IN_FD (a file positioned at its start) as the program's
 * standard input instead of /dev/null; -1: /dev/null */
int mc_spawn_input(char *const argv[], char *const env_add[], int in_fd, int timeout_ms, mc_buf *out,
		   mc_err *e);

#endif
