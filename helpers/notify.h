/*
 * notify - mail to a person when something needs one, through the local
 * sendmail(8) (notify.sendmail; "" turns mail off).
 *
 * A run (issue, renew, retry, and the daemon's passes) opens a context,
 * names the hosts it works on, reports the certificates it installs, and at
 * its end mc_notify_end looks at each of those hosts and mails what happened:
 *
 *   - the first certificate of a host, and each renewal;
 *   - a failure, once a host with a certificate has been failing for an hour
 *     (a host without one: at once); at most one such mail per host per hour,
 *     and only for a failure not yet reported;
 *   - a certificate within 7 days of its expiry (a sixth of its lifetime when
 *     that is under 42 days), within a seventh of that, and expired: one mail
 *     each per certificate;
 *   - a set mailcert-milter refused, and a listener serving another
 *     certificate than the one loaded (both from STORE/run/milter.json): one
 *     mail per distinct problem.
 *
 * What was mailed is remembered in STORE/run/notify.json.  Recipients: each
 * notify.to address with {domain} replaced by the first of the host's parent
 * domains (the host's name, then its parents, never a bare TLD) this server
 * receives mail for according to Postfix (mydestination,
 * virtual_mailbox_domains, virtual_alias_domains); entries with {domain} are
 * left out when there is none; then notify.contact and acme.email.  When more
 * than MC_NOTIFY_DIGEST_HOSTS hosts have something for the same address in one
 * run, that address gets one digest instead.  A failing sendmail is logged,
 * never a failure of the run: what it did not take is kept in notify.json's
 * queue (notifyq.h) and sent first at the next run; after one failure the rest
 * of a run is queued without trying.
 */
#ifndef MC_NOTIFY_H
#define MC_NOTIFY_H

#include "conf.h"
#include "state.h"

#define MC_NOTIFY_DIGEST_HOSTS 5

typedef struct mc_notify mc_notify;

/* a context for one run under CFG (which must outlive it); NULL when mail is off */
mc_notify *mc_notify_begin(const mc_config *cfg);
/*
 * H (one of CFG's hosts) is part of this run; N may be NULL.  Only these hosts
 * are looked at: a daemon's pass that wants expiry and milter news of every
 * host names every host.
 */
void mc_notify_host(mc_notify *n, const mc_host *h);
/*
 * H got a new certificate, described by ST; PREV_SOURCE is the source of the
 * certificate it replaced, NULL when it had none.  Safe from worker threads.
 */
void mc_notify_installed(mc_notify *n, const mc_host *h, const char *prev_source, const mc_state *st);
/* look at the run's hosts, send what is owed, remember it; frees N (NULL: nothing) */
void mc_notify_end(mc_notify *n);

#endif
