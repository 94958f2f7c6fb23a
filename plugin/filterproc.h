/*
 * filterproc - the loader's side of the filter process (milter.c): start it
 * with only the descriptors it needs, read its reports as hostile input
 * into the counts (counts.h), restart it with backoff when it dies, stop
 * it, and remove the unix socket at the end when it is still the one our
 * filter made.
 */
#ifndef MCM_FILTERPROC_H
#define MCM_FILTERPROC_H

#include <sys/types.h>

#include "counts.h"
#include "err.h"

#define MM_RESTART_MIN_S 1
#define MM_RESTART_MAX_S 60
#define MM_STOP_WAIT_MS 5000   /* after SIGTERM, before SIGKILL */

typedef struct mm_proc {
	char *socket;           /* as given to -p */
	char exe[4096];         /* this program, for exec */
	int foreground, verbose;
	pid_t pid;              /* the filter process, 0 when none */
	int fd;                 /* its report pipe, -1 when none */
	int ready;              /* it said R */
	int stopping;
	char line[MM_LINE_MAX]; /* a report line being read */
	size_t len;
	int skipping;           /* the line is too long: drop it up to its newline */
	int have_sock;          /* sock_dev/sock_ino: the socket our filter made */
	dev_t sock_dev;
	ino_t sock_ino;
	int failures;           /* consecutive */
	long long ready_ms;     /* when it became ready (monotonic) */
	long long next_start_ms; /* 0: no start due */
} mm_proc;

int mm_proc_init(mm_proc *p, const char *socket, int foreground, int verbose, mc_err *e);
void mm_proc_free(mm_proc *p);
/* start the filter process now; on failure a start is due later */
int mm_proc_start(mm_proc *p, mc_err *e);
/* its report pipe, -1 while there is none */
int mm_proc_fd(const mm_proc *p);
/* read what the pipe holds; notices the end of the process */
void mm_proc_read(mm_proc *p);
/* when a restart is due (monotonic ms), 0 when none is */
long long mm_proc_next_start(const mm_proc *p);
/* a restart that waits for its backoff is due now (SIGUSR1) */
void mm_proc_hurry(mm_proc *p, long long now_ms);
/* restart it when that is due */
void mm_proc_tick(mm_proc *p, long long now_ms);
/* stop it (its last reports are counted), and remove our socket */
void mm_proc_stop(mm_proc *p);

#endif
