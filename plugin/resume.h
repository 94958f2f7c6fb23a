/*
 * resume - what the previous run of mailcert-milter left live, from the
 * milter.json it wrote, so that a restart reloads only what changed while
 * it was stopped.
 *
 * A host's set counts as live in an MTA when the previous run recorded that
 * very set (serial, version and file) as loaded there.  An MTA needs no
 * reload at start when every current set is live in it, the files it reads
 * (default.pem, the SNI table and its compiled map, Dovecot's include) are
 * exactly what this run would write, and it is the same instance (the
 * previous run recorded the same postfix_config_dir, dovecot_config or
 * sendmail_pid_file).  Anything missing or odd in the record means: reload.
 */
#ifndef MCM_RESUME_H
#define MCM_RESUME_H

#include <jansson.h>

#include "hosts.h"
#include "mta.h"

/* the configuration that names MTA M's instance, as recorded in milter.json */
const char *resume_instance(const mc_config *cfg, int m);
/* mark the sets of T that PREV records as loaded, with the times it records */
void resume_hosts(mh_table *t, json_t *prev);
/* 1 when MTA M needs neither new files nor a reload (after resume_hosts) */
int resume_current(json_t *prev, const mta_ctx *c, int m, int dovecot_version);
/* when PREV says MTA M was last reloaded, 0 when it does not */
time_t resume_last_reload(json_t *prev, int m);

#endif
