/*
 * loader - one batch: rescan the store, regenerate what each enabled MTA
 * reads, reload each MTA at most once, retry failures with backoff.
 */
#ifndef MCM_LOADER_H
#define MCM_LOADER_H

#include <time.h>

#include <jansson.h>

#include "conf.h"
#include "hosts.h"

#define LOADER_BACKOFF_MIN 2
#define LOADER_BACKOFF_MAX 300

typedef struct mta_state {
	int enabled;
	int dirty;          /* files must be regenerated */
	int reload;         /* a reload is owed */
	int failures;       /* consecutive */
	time_t next_try;    /* backoff: not before this */
	time_t last_reload;
	char *last_error;
	time_t last_error_time;
} mta_state;

typedef struct loader {
	const mc_config *cfg;
	const char *store;
	mh_table hosts;
	mta_state mta[MTA_N];
	int dovecot_version;
	char def_dir[300];      /* default host's directory, for change detection */
	char def_file[PATH_MAX];
	/* STORE/run/default.pem: owed until it names def_file; Postfix and
	 * Sendmail read it, so they are not up to date before it is */
	int link_owed;
	int link_failures;      /* consecutive */
	time_t link_next_try;   /* backoff: not before this */
	char *link_error;
	json_t *prev;           /* the previous run's milter.json, until the first batch */
	unsigned long reloads;  /* successful reloads (and Exim files written) so far: each
				 * one owes a served check */
	json_t *served;         /* the last served check (served.h), or NULL */
	int prepare;            /* write what the MTAs read, reload none (--prepare) */
	int served_failing;     /* it found a problem: check again soon */
} loader;

void loader_init(loader *l, const mc_config *cfg);
void loader_free(loader *l);
/* let the first batch reload only what changed since PREV, the milter.json
 * of the previous run (resume.h; the loader owns PREV now, NULL is fine) */
void loader_resume(loader *l, json_t *prev);
/* rescan and apply; 0 when every enabled MTA is up to date */
int loader_batch(loader *l, time_t now);
/* apply owed work whose backoff has passed (no rescan) */
int loader_apply(loader *l, time_t now);
/* owed work waiting for its backoff may be retried now (SIGUSR1); 1 when
 * something was waiting */
int loader_hurry(loader *l);
/* the earliest time owed work may be retried, 0 when nothing is owed */
time_t loader_next_retry(const loader *l);

#endif
