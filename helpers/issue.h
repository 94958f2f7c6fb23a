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

#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "state.h"

#define MC_ISSUE_FORCE 0x1   /* ignore the renewal window */
#define MC_ISSUE_DUE_ONLY 0x2 /* renew: only hosts due or whose retry time came */
#define MC_ISSUE_SELFSIGNED 0x4 /* self-signed certificates, whatever the source */
#define MC_ISSUE_RETRY 0x8      /* retry: a host in error is tried again now */
#define MC_ISSUE_STAGING 0x10   /* (inside mc_issue_run) the staging pass of test_on_staging */

/* the source of a self-signed stand-in for a host the CA has not issued for yet */
#define MC_SOURCE_FALLBACK "self-signed-fallback"

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

/*
 * When H's certificate in ST is due for renewal, not counting any backoff: NOW
 * when there is none, it lacks a name the configuration asks for, or its files
 * are missing.
 */
time_t mc_issue_due_time(const mc_config *cfg, const mc_host *h, const mc_state *st, time_t now);

/*
 * When a pass should ask the CA for H's renewal information (RFC 9773): 0 when
 * it cannot be asked for this certificate (no certID, another CA).
 */
time_t mc_issue_ari_check_time(const mc_config *cfg, const mc_host *h, const mc_state *st);

/* fill host, names and source of ST from the configuration where unset */
void mc_issue_state_defaults(mc_state *st, const mc_host *h);
const char *mc_source_name(mc_source s);

/*
 * When a certificate valid from NB to NA should be renewed without the CA's
 * renewal information: when a third of its lifetime is left, or half of it
 * when the lifetime is under 10 days.
 */
time_t mc_renewal_time(time_t nb, time_t na);
/* ST's renewal_time: the CA's chosen ARI time (ari_renewal_time) when it has one, else the lifetime rule */
void mc_issue_set_renewal(mc_state *st);

#define MC_BACKOFF_MIN 60L            /* the first retry, a minute after the first failure */
#define MC_BACKOFF_MAX (12L * 3600)   /* never longer than 12 hours */
/* backoff after N consecutive failures: 1 min doubling to at most 12 hours, without jitter */
long mc_backoff_seconds(int failures);
/* BASE with jitter of +-10% from the uniform random R, kept within 1 min .. 12 h */
long mc_backoff_jitter(long base, uint32_t r);
/* seconds until the next attempt after N failures; RETRY_AFTER (a rateLimited
 * problem's, -1: none) is never cut short */
long mc_retry_delay(int failures, long retry_after, uint32_t r);

#endif
