/*
 * issue - the worker pool and one host's whole issuance.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "acme.h"
#include "confdigest.h"
#include "b64url.h"
#include "fsutil.h"
#include "http01.h"
#include "issue.h"
#include "keys.h"
#include "responder.h"
#include "store.h"
#include "tlsalpn.h"
#include "timefmt.h"
#include "x509chk.h"

struct job {
	mc_host *host;
	int failed;
};

struct pool {
	mc_config *cfg;
	mc_acme *acme;       /* NULL when no host needs ACME or the CA is unavailable */
	const char *no_acme; /* why there is no ACME account, when there is none */
	struct job *jobs;
	size_t njobs;
	size_t next;
	int flags;
	pthread_mutex_t lock;
};

time_t mc_renewal_time(time_t nb, time_t na)
{
	return nb + (na - nb) * 2 / 3;
}

long mc_backoff_seconds(int failures)
{
	long s = 60;

	while (--failures > 0 && s < 86400)
		s *= 2;
	return s > 86400 ? 86400 : s;
}

/* does the installed certificate cover exactly what the config asks for? */
static int names_match(const mc_state *st, const mc_host *h)
{
	size_t i, n = 0;

	while (st->names && st->names[n])
		n++;
	if (n != h->nnames)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(st->names[i], h->names[i]) != 0)
			return 0;
	return 1;
}

int mc_issue_error_stale(const mc_config *cfg, const mc_host *h, const mc_state *st)
{
	char now_digest[MC_CONFDIGEST_LEN];

	if (!st->last_failure_error_message || !st->failure_config[0])
		return 0;
	mc_config_host_digest(cfg, h, now_digest);
	return strcmp(now_digest, st->failure_config) != 0;
}

int mc_issue_cert_current(const mc_state *st, time_t now)
{
	return st->has_cert && now < st->cert_expiration_time && now < st->renewal_time;
}

/* 1 when the host should be left alone now, with the reason logged */
static int skip_host(struct pool *p, const mc_host *h, const mc_state *st, time_t now)
{
	char t[MC_TIMEFMT_LEN];

	if (p->flags & MC_ISSUE_FORCE)
		return 0;
	/* retry is for hosts in error: whatever failed is tried again now */
	if ((p->flags & MC_ISSUE_RETRY) && st->last_failure_error_message)
		return 0;
	if (mc_issue_cert_current(st, now) && mc_store_has_cert(p->cfg->store, h->dir) && names_match(st, h)) {
		if (p->flags & MC_ISSUE_DUE_ONLY)
			return 1;
		mc_time_format(st->renewal_time, t);
		if (p->flags & MC_ISSUE_RETRY)
			mc_info("%s: not in error and the certificate is valid: nothing to retry; renewal due %s "
				"(use issue --force to renew now)", h->name, t);
		else
			mc_info("%s: certificate is valid, renewal due %s (use --force to renew now)", h->name, t);
		return 1;
	}
	if ((p->flags & MC_ISSUE_DUE_ONLY) && st->next_retry_time && now < st->next_retry_time)
		return 1;
	return 0;
}

const char *mc_source_name(mc_source s)
{
	return s == MC_SRC_SELFSIGNED ? "self-signed" : s == MC_SRC_MANUAL ? "manual" : "acme";
}

static void copy_names(mc_state *st, const mc_host *h)
{
	size_t i;

	mc_strv_free(st->names);
	st->names = mc_calloc(h->nnames + 1, sizeof *st->names);
	for (i = 0; i < h->nnames; i++)
		st->names[i] = mc_strdup(h->names[i]);
}

void mc_issue_state_defaults(mc_state *st, const mc_host *h)
{
	if (!st->host[0])
		snprintf(st->host, sizeof st->host, "%s", h->name);
	if (!st->names)
		copy_names(st, h);
	if (!st->source[0])
		snprintf(st->source, sizeof st->source, "%s", mc_source_name(h->source));
}

static void state_from_chain(mc_state *st, const mc_host *h, STACK_OF(X509) *chain,
			     const char *source, const char *cert_url, time_t now)
{
	mc_certinfo ci;

	mc_cert_info(sk_X509_value(chain, 0), &ci);
	snprintf(st->host, sizeof st->host, "%s", h->name);
	copy_names(st, h);
	snprintf(st->source, sizeof st->source, "%s", source);
	st->has_cert = 1;
	snprintf(st->serial, sizeof st->serial, "%s", ci.serial);
	snprintf(st->issuer, sizeof st->issuer, "%s", ci.issuer);
	st->not_before = ci.not_before;
	st->cert_expiration_time = ci.not_after;
	st->renewal_time = mc_renewal_time(ci.not_before, ci.not_after);
	st->last_success_time = now;
	st->failures = 0;
	st->next_retry_time = 0;
	mc_state_set_error(st, NULL);
	free(st->cert_url);
	st->cert_url = cert_url ? mc_strdup(cert_url) : NULL;
}

static int obtain(struct pool *p, mc_acme_conn *conn, const mc_host *h, mc_state *st, mc_err *e)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	char *cert_url = NULL;
	const char *source = "acme";
	int rc;

	int selfsigned = h->source == MC_SRC_SELFSIGNED || (p->flags & MC_ISSUE_SELFSIGNED);

	if (!selfsigned && !conn)
		return mc_err_set(e, "%s", p->no_acme ? p->no_acme : "no connection to the CA");
	rc = mc_key_generate(p->cfg->acme_key_type, &key, e);
	if (rc == 0 && selfsigned) {
		X509 *x = NULL;
		source = "self-signed";
		rc = mc_selfsigned_make(key, h->names, h->nnames, 90, &x, e);
		if (rc == 0) {
			chain = sk_X509_new_null();
			sk_X509_push(chain, x);
		}
	} else if (rc == 0) {
		rc = mc_acme_issue(conn, h->name, h->names, h->nnames, h->challenge, key, &chain,
				   &cert_url, e);
	}
	if (rc == 0) {
		state_from_chain(st, h, chain, source, cert_url, mc_now());
		rc = mc_store_install(p->cfg->store, h->dir, key, chain, h->names, h->nnames, st, e);
	}
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	free(cert_url);
	return rc;
}

static void record_failure(struct pool *p, const mc_host *h, mc_state *st, const char *msg)
{
	time_t now = mc_now();
	mc_err e;

	mc_issue_state_defaults(st, h);
	st->failures++;
	st->last_failure_time = now;
	st->next_retry_time = now + mc_backoff_seconds(st->failures);
	mc_state_set_error(st, msg);
	mc_config_host_digest(p->cfg, h, st->failure_config);
	/* the installed certificate is untouched; only its state.json changes */
	if (mc_store_state_save(p->cfg->store, h->dir, st, &e) < 0)
		mc_error("%s: recording the failure: %s", h->name, e.msg);
}

/*
 * A failure recorded under a configuration the operator has changed since no
 * longer holds: its backoff is dropped (the new configuration is tried as soon
 * as the host is due), and when the installed certificate is valid and not due
 * the failure is forgotten — nothing needs a person, and no order is placed
 * just to clear it.
 */
static void forget_stale_error(struct pool *p, const mc_host *h, mc_state *st, time_t now)
{
	char t[MC_TIMEFMT_LEN];
	mc_err e;

	if (!mc_issue_error_stale(p->cfg, h, st))
		return;
	st->next_retry_time = 0;
	if (!mc_issue_cert_current(st, now))
		return;
	mc_time_format(st->last_failure_time, t);
	mc_info("%s: the failure of %s happened under an earlier configuration and the installed "
		"certificate is valid: failure cleared", h->name, t);
	mc_state_set_error(st, NULL);
	st->failures = 0;
	st->failure_config[0] = '\0';
	if (mc_store_state_save(p->cfg->store, h->dir, st, &e) < 0)
		mc_error("%s: %s", h->name, e.msg);
}

static void run_job(struct pool *p, mc_acme_conn *conn, struct job *j)
{
	const mc_host *h = j->host;
	mc_state st;
	mc_err e;
	int lock, rc;

	lock = mc_store_lock_host(p->cfg->store, h->dir, &e);
	if (lock < 0) {
		mc_error("%s: %s", h->name, e.msg);
		j->failed = 1;
		return;
	}
	if (mc_store_state_load(p->cfg->store, h->dir, &st, &e) < 0) {
		mc_warn("%s: ignoring unreadable state: %s", h->name, e.msg);
		mc_state_init(&st);
	}
	forget_stale_error(p, h, &st, mc_now());
	if (h->source == MC_SRC_MANUAL && !(p->flags & MC_ISSUE_SELFSIGNED)) {
		mc_debug("%s: source is manual; nothing to obtain", h->name);
	} else if (!skip_host(p, h, &st, mc_now())) {
		rc = obtain(p, conn, h, &st, &e);
		if (rc == 0) {
			char t[MC_TIMEFMT_LEN];
			mc_time_format(st.cert_expiration_time, t);
			mc_info("%s: certificate installed (serial %s, expires %s)", h->name, st.serial, t);
		} else {
			mc_error("%s: %s", h->name, e.msg);
			/* ST may describe the refused set: start again from what is published */
			mc_state_free(&st);
			if (mc_store_state_load(p->cfg->store, h->dir, &st, NULL) < 0)
				mc_state_init(&st);
			record_failure(p, h, &st, e.msg);
			j->failed = 1;
		}
	}
	mc_state_free(&st);
	mc_store_unlock(lock);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	mc_acme_conn conn, *cp = NULL;
	mc_err e;

	if (p->acme) {
		if (mc_acme_conn_init(&conn, p->acme, &e) < 0)
			mc_error("%s", e.msg);
		else
			cp = &conn;
	}
	for (;;) {
		struct job *j = NULL;

		pthread_mutex_lock(&p->lock);
		if (p->next < p->njobs)
			j = &p->jobs[p->next++];
		pthread_mutex_unlock(&p->lock);
		if (!j)
			break;
		run_job(p, cp, j);
	}
	if (cp)
		mc_acme_conn_free(cp);
	return NULL;
}

static int needs_acme(struct pool *p)
{
	size_t i;
	time_t now = mc_now();

	for (i = 0; i < p->njobs; i++) {
		const mc_host *h = p->jobs[i].host;
		mc_state st;
		int skip;

		if (h->source != MC_SRC_ACME)
			continue;
		if (mc_store_state_load(p->cfg->store, h->dir, &st, NULL) < 0)
			return 1;
		skip = skip_host(p, h, &st, now);
		if (!skip) {
			mc_state_free(&st);
			return 1;
		}
		mc_state_free(&st);
	}
	return 0;
}

/*
 * One run at a time per store: a second `issue` or `renew` (cron and an
 * operator, say) waits instead of failing to bind port 80 and recording
 * false failures for every host.
 */
static int run_lock(const char *store, mc_err *e)
{
	char path[4200];
	int fd;

	mc_pathf(path, sizeof path, "%s/locks/.run", store);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return mc_err_set(e, "lock %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		mc_info("another mailcert run is working on %s; waiting for it", store);
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				close(fd);
				return mc_err_set(e, "lock %s: %s", path, strerror(errno));
			}
		}
	}
	return fd;
}

/*
 * The responder children must not keep secrets they do not need.  They are
 * forked before the account key is loaded (mc_acme_open comes after), but
 * the EAB HMAC key is in the configuration, and copies of it linger in
 * blocks freed while the configuration was parsed (the file's text,
 * libconfuse's values and lexer buffers): wipe every copy of its text and
 * of its decoded bytes from the child's memory.
 */
static void wipe_secrets(void *arg)
{
	mc_config *cfg = arg;
	mc_buf raw;

	if (!cfg->acme_eab_hmac_key || !cfg->acme_eab_hmac_key[0])
		return;
	mc_buf_init(&raw);
	if (mc_b64url_decode(cfg->acme_eab_hmac_key, &raw) == 0 && raw.len > 0)
		mc_responder_scrub(raw.data, raw.len);
	mc_buf_cleanse(&raw);
	if (mc_responder_scrub(cfg->acme_eab_hmac_key, strlen(cfg->acme_eab_hmac_key)) < 0)
		mc_warn("responder: cannot search its memory for secrets (/proc/self/mem)");
	/* short keys are not searched for: this copy at least */
	OPENSSL_cleanse(cfg->acme_eab_hmac_key, strlen(cfg->acme_eab_hmac_key));
}

/* hosts the operator removed from the configuration leave the store's live view */
static void retire_unconfigured(const mc_config *cfg)
{
	char **dirs = mc_calloc(cfg->nhosts + 1, sizeof *dirs);
	size_t i;
	mc_err e;

	for (i = 0; i < cfg->nhosts; i++)
		dirs[i] = (char *)cfg->hosts[i].dir;
	if (mc_store_retire(cfg->store, dirs, cfg->nhosts, mc_now(), &e) < 0)
		mc_error("%s", e.msg);
	free(dirs);
}

int mc_issue_run(mc_config *cfg, char *const *hosts, int nhosts, int flags, int jobs)
{
	int runlock = -1;
	struct pool p;
	mc_acme acme;
	mc_http01 *http01 = NULL;
	mc_tlsalpn *tlsalpn = NULL;
	pthread_t *threads;
	int i, nthreads, failed = 0;
	mc_err e;

	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	p.flags = flags;
	pthread_mutex_init(&p.lock, NULL);
	p.jobs = mc_calloc(cfg->nhosts + 1, sizeof *p.jobs);
	if (hosts) {
		for (i = 0; i < nhosts; i++) {
			mc_host *h = mc_config_find_host(cfg, hosts[i]);
			size_t k;

			if (!h) {
				mc_error("%s: not a configured host", hosts[i]);
				failed++;
				continue;
			}
			for (k = 0; k < p.njobs && p.jobs[k].host != h; k++)
				;
			if (k == p.njobs) /* a host named twice is done once */
				p.jobs[p.njobs++].host = h;
		}
	} else {
		for (i = 0; i < (int)cfg->nhosts; i++)
			p.jobs[p.njobs++].host = &cfg->hosts[i];
	}
	if (mc_store_prepare(cfg->store, &e) < 0 || (runlock = run_lock(cfg->store, &e)) < 0) {
		mc_error("%s", e.msg);
		free(p.jobs);
		return (int)p.njobs + failed;
	}
	retire_unconfigured(cfg);
	if (!(flags & MC_ISSUE_SELFSIGNED) && needs_acme(&p)) {
		int uses_http01 = 0, uses_tlsalpn = 0;
		size_t k;

		for (k = 0; k < p.njobs; k++) {
			if (p.jobs[k].host->source != MC_SRC_ACME)
				continue;
			uses_http01 |= p.jobs[k].host->challenge == MC_CHAL_HTTP01;
			uses_tlsalpn |= p.jobs[k].host->challenge == MC_CHAL_TLSALPN01;
		}
		if (uses_http01 && !cfg->http01_webroot[0] &&
		    mc_http01_start(cfg->http01_listen, cfg->http01_nlisten, wipe_secrets, cfg,
				    &http01, &e) < 0) {
			; /* reported per host below */
		} else if (uses_tlsalpn &&
			   mc_tlsalpn_start(cfg->tlsalpn01_listen, cfg->tlsalpn01_nlisten, wipe_secrets, cfg,
					    &tlsalpn, &e) < 0) {
			; /* reported per host below */
		} else if (mc_acme_open(&acme, cfg, &e) < 0) {
			mc_acme_close(&acme);
		} else {
			acme.http01 = http01;
			acme.tlsalpn = tlsalpn;
			p.acme = &acme;
		}
		if (!p.acme) /* every ACME host fails with this reason; the others still proceed */
			p.no_acme = e.msg;
	}
	nthreads = jobs < 1 ? 1 : jobs;
	if ((size_t)nthreads > p.njobs)
		nthreads = (int)p.njobs;
	threads = mc_calloc((size_t)nthreads + 1, sizeof *threads);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, worker, &p) != 0)
			mc_fatal("cannot start a worker thread");
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < (int)p.njobs; i++)
		if (p.jobs[i].failed)
			failed++;
	free(threads);
	if (p.acme) {
		unsigned long reqs, conns;
		mc_http_counts(&reqs, &conns);
		mc_info("%zu host(s) processed, %d failed; %lu requests to the CA over %lu connection(s)",
			p.njobs, failed, reqs, conns);
		mc_acme_close(&acme);
	}
	mc_http01_stop(http01);
	mc_tlsalpn_stop(tlsalpn);
	mc_store_unlock(runlock);
	free(p.jobs);
	pthread_mutex_destroy(&p.lock);
	return failed;
}
