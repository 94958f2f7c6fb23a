/*
 * issue - obtain certificates for many hosts: a bounded pool of worker
 * threads in the store process, each driving one slot of the key and network
 * processes (privsep.h: a host key and CSR from the key process, the order
 * by the network process over its own keep-alive connection, the chain
 * checked and installed here); one host's failure never stops the others.
 * Also the per-host state bookkeeping (renewal window, backoff) that
 * `issue`, `renew` and `retry` share.
 */
#ifndef MC_ISSUE_H
#define MC_ISSUE_H

#include <time.h>

#include "conf.h"
#include "state.h"

#define MC_ISSUE_FORCE 0x1   /* ignore the renewal window */
#define MC_ISSUE_DUE_ONLY 0x2 /* renew: only hosts due or whose retry time came */
#define MC_ISSUE_SELFSIGNED 0x4 /* self-signed certificates, whatever the source */
#define MC_ISSUE_RETRY 0x8      /* retry: a host in error is tried again now */

/* run for HOSTS (NULL: every configured host); returns the number that failed */
int mc_issue_run(mc_config *cfg, char *const *hosts, int nhosts, int flags, int jobs);

/*
 * 1 when ST records a failure that happened under another configuration of H
 * than CFG's (the operator has changed it since): the failure no longer
 * describes what mailcert would do now.
 */
int mc_issue_error_stale(const mc_config *cfg, const mc_host *h, const mc_state *st);

/* 1 when ST's certificate is installed, valid at NOW and not yet due for renewal */
int mc_issue_cert_current(const mc_state *st, time_t now);

/* fill host, names and source of ST from the configuration where unset */
void mc_issue_state_defaults(mc_state *st, const mc_host *h);
const char *mc_source_name(mc_source s);

/* when a certificate valid from NB to NA should be renewed: 2/3 through its life */
time_t mc_renewal_time(time_t nb, time_t na);
/* backoff after N consecutive failures: 1 min doubling to at most 1 day */
long mc_backoff_seconds(int failures);

#endif
