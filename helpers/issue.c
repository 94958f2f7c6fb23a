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
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "ari.h"
#include "challenge.h"
#include "confdigest.h"
#include "dane.h"
#include "danekey.h"
#include "fsutil.h"
#include "http01.h"
#include "ipc.h"
#include "issue.h"
#include "keys.h"
#include "notify.h"
#include "privsep.h"
#include "sandbox.h"
#include "store.h"
#include "tlsalpn.h"
#include "timefmt.h"
#include "metrics.h"
#include "x509chk.h"
#include "storepath.h"

struct job {
	mc_host *host;
	int failed;
	/* the staging pass: the host's configuration digest under the production
	 * directory (what a failure is recorded under), taken before the swap */
	char digest[MC_CONFDIGEST_LEN];
};

struct pool {
	mc_config *cfg;
	mc_privsep ps;       /* the key and network processes */
	mc_chal_env chal;    /* how challenges are served */
	int acme_ok;         /* the network process has an account at the CA */
	const char *no_acme; /* why there is no ACME account, when there is none */
	int gone;            /* GONE_KEY, GONE_NET: a helper process is gone, start nothing that needs it */
	struct job *jobs;
	size_t njobs;
	size_t next;
	int flags;
	mc_notify *notify;   /* what this run mails (NULL: notify.sendmail is "") */
	pthread_mutex_t lock;
};

#define GONE_KEY 1
#define GONE_NET 2

/* one worker thread's sockets */
struct slot {
	struct pool *p;
	int key;
	int net;
	char *invalid[MC_MSG_NAMES_MAX]; /* names whose validation the CA failed in this order */
	size_t ninvalid;
	time_t budget_until;              /* the validation budget's: no order before this */
};

time_t mc_renewal_time(time_t nb, time_t na)
{
	time_t life = na - nb;

	if (life <= 0)
		return nb;
	/* a third of the lifetime left; half of it for short ones (under 10 days) */
	return life < 10 * 86400 ? nb + life / 2 : nb + life - life / 3;
}

long mc_backoff_seconds(int failures)
{
	long s = MC_BACKOFF_MIN;

	while (--failures > 0 && s < MC_BACKOFF_MAX)
		s *= 2;
	return s > MC_BACKOFF_MAX ? MC_BACKOFF_MAX : s;
}

long mc_backoff_jitter(long base, uint32_t r)
{
	long span = base / 10, s;

	/* uniform in [base - span, base + span] */
	s = base - span + (long)(((uint64_t)r * (uint64_t)(2 * span + 1)) >> 32);
	return s < MC_BACKOFF_MIN ? MC_BACKOFF_MIN : s > MC_BACKOFF_MAX ? MC_BACKOFF_MAX : s;
}

long mc_retry_delay(int failures, long retry_after, uint32_t r)
{
	long s = mc_backoff_jitter(mc_backoff_seconds(failures), r);

	/* a rateLimited problem's Retry-After: never sooner than the CA said */
	return retry_after > s ? retry_after : s;
}

void mc_issue_set_renewal(mc_state *st)
{
	time_t life = st->cert_expiration_time - st->not_before;

	st->renewal_time = mc_renewal_time(st->not_before, st->cert_expiration_time);
	/* the CA's choice, unless it falls in the last tenth of the lifetime: a window
	 * that late is not followed (the certificate could expire first) */
	if (st->ari_renewal_time && st->ari_renewal_time < st->cert_expiration_time - life / 10)
		st->renewal_time = st->ari_renewal_time;
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
	/* a stand-in is never what the host should keep */
	if (strcmp(st->source, MC_SOURCE_FALLBACK) == 0)
		return 0;
	/* nor is a revoked one */
	if (st->revoked_time)
		return 0;
	return st->has_cert && now < st->cert_expiration_time && now < st->renewal_time;
}

time_t mc_issue_due_time(const mc_config *cfg, const mc_host *h, const mc_state *st, time_t now)
{
	time_t t;

	if (!st->has_cert || !mc_store_has_cert(cfg->store, h->dir) || !names_match(st, h) ||
	    strcmp(st->source, MC_SOURCE_FALLBACK) == 0 || st->revoked_time)
		return now;
	t = st->renewal_time;
	if (!t || (st->cert_expiration_time && st->cert_expiration_time < t))
		t = st->cert_expiration_time;
	return t ? t : now;
}

/*
 * test_on_staging: H has not yet had a certificate from the staging CA (nor
 * one from the production CA), so no production order may be placed for it.
 */
static int staging_pending(const mc_config *cfg, const mc_host *h, const mc_state *st)
{
	if (!cfg->acme_test_on_staging || h->source != MC_SRC_ACME)
		return 0;
	if (st->staging_passed_time)
		return 0;
	return !(st->has_cert && strcmp(st->source, "acme") == 0);
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

/* the CA's earlier renewal information, which described another certificate */
static void ari_clear(mc_state *st)
{
	st->ari_window_start = st->ari_window_end = st->ari_renewal_time = st->ari_next_check_time = 0;
	free(st->ari_explanation_url);
	st->ari_explanation_url = NULL;
}

static void state_from_chain(mc_state *st, const mc_host *h, STACK_OF(X509) *chain,
			     const char *source, const char *cert_url, const char *account, const char *dir,
			     time_t now)
{
	mc_certinfo ci;
	mc_err e;

	mc_cert_info(sk_X509_value(chain, 0), &ci);
	ari_clear(st);
	st->ari_cert_id[0] = '\0';
	free(st->account_url);
	free(st->directory_url);
	st->account_url = account && *account ? mc_strdup(account) : NULL;
	st->directory_url = account && *account ? mc_strdup(dir) : NULL;
	if (strcmp(source, "acme") == 0 &&
	    mc_ari_cert_id(sk_X509_value(chain, 0), st->ari_cert_id, sizeof st->ari_cert_id, &e) < 0) {
		mc_debug("%s: no renewal information can be asked for: %s", h->name, e.msg);
		st->ari_cert_id[0] = '\0';
	}
	snprintf(st->host, sizeof st->host, "%s", h->name);
	copy_names(st, h);
	snprintf(st->source, sizeof st->source, "%s", source);
	st->has_cert = 1;
	st->revoked_time = 0;
	st->revocation_reason[0] = '\0';
	snprintf(st->serial, sizeof st->serial, "%s", ci.serial);
	snprintf(st->issuer, sizeof st->issuer, "%s", ci.issuer);
	st->not_before = ci.not_before;
	st->cert_expiration_time = ci.not_after;
	mc_issue_set_renewal(st);
	st->last_success_time = now;
	st->failures = 0;
	st->failing_since_time = 0;
	st->next_retry_time = 0;
	mc_state_set_error(st, NULL);
	free(st->cert_url);
	st->cert_url = cert_url ? mc_strdup(cert_url) : NULL;
}

/* control characters from another process never reach a log line or state.json */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static void set_gone(struct pool *p, int which)
{
	__atomic_or_fetch(&p->gone, which, __ATOMIC_SEQ_CST);
}

/* the helper process H needs is gone */
static int cannot_attempt(struct pool *p, const mc_host *h)
{
	int gone = __atomic_load_n(&p->gone, __ATOMIC_SEQ_CST);
	int selfsigned = h->source == MC_SRC_SELFSIGNED || (p->flags & MC_ISSUE_SELFSIGNED);

	return (gone & GONE_KEY) || (!selfsigned && (gone & GONE_NET));
}

/*
 * A fresh key for H from the key process: M keeps its answer (the key's PEM,
 * then the CSR in base64url, or the self-signed certificate's PEM).
 */
static int keygen(struct slot *s, const mc_host *h, int selfsigned, EVP_PKEY **key, mc_msg *m, mc_err *e)
{
	static const int accept[] = { MC_MSG_KEY, MC_MSG_ERR, MC_MSG_NONE };
	char *f[MC_MSG_NAMES_MAX + 2];
	size_t n = 0, i;

	if (h->nnames > MC_MSG_NAMES_MAX)
		return mc_err_set(e, "more than %d names", MC_MSG_NAMES_MAX);
	f[n++] = s->p->cfg->acme_key_type;
	if (selfsigned)
		f[n++] = (char *)"90";
	for (i = 0; i < h->nnames; i++)
		f[n++] = h->names[i];
	if (mc_ipc_send(s->key, "key", selfsigned ? MC_MSG_SELFSIGNED : MC_MSG_KEYGEN, f, n, e) < 0 ||
	    mc_ipc_recv(s->key, "key", accept, m, NULL, e) < 0) {
		set_gone(s->p, GONE_KEY);
		return -1;
	}
	if (m->type == MC_MSG_ERR) {
		printable(m->f[0]);
		mc_err_set(e, "%s", m->f[0]);
		mc_msg_free(m);
		return -1;
	}
	if (mc_key_from_pem(s->p->cfg->acme_key_type, m->f[0], m->len[0], key, e) < 0) {
		mc_msg_cleanse(m);
		return mc_err_prefix(e, "the key process's key");
	}
	return 0;
}

/*
 * key_reuse: a CSR (or with SELFSIGNED a self-signed certificate) for the
 * store's own KEY from the key process; M keeps its answer as keygen's.
 */
static int keyreuse(struct slot *s, const mc_host *h, int selfsigned, EVP_PKEY *key, mc_msg *m, mc_err *e)
{
	static const int accept[] = { MC_MSG_KEY, MC_MSG_ERR, MC_MSG_NONE };
	char *f[MC_MSG_NAMES_MAX + 2];
	size_t n = 0, i;
	mc_buf pem;
	int rc;

	if (h->nnames > MC_MSG_NAMES_MAX)
		return mc_err_set(e, "more than %d names", MC_MSG_NAMES_MAX);
	mc_buf_init(&pem);
	mc_pem_append_key(&pem, key);
	f[n++] = pem.data;
	f[n++] = (char *)(selfsigned ? "90" : "");
	for (i = 0; i < h->nnames; i++)
		f[n++] = h->names[i];
	rc = mc_ipc_send(s->key, "key", MC_MSG_REUSE, f, n, e);
	mc_buf_cleanse(&pem);
	if (rc < 0 || mc_ipc_recv(s->key, "key", accept, m, NULL, e) < 0) {
		set_gone(s->p, GONE_KEY);
		return -1;
	}
	if (m->type == MC_MSG_ERR) {
		printable(m->f[0]);
		mc_err_set(e, "%s", m->f[0]);
		mc_msg_free(m);
		return -1;
	}
	return 0;
}

/* key_rollover: a new next key for H from the key process */
static int next_key(struct slot *s, const mc_host *h, EVP_PKEY **key, mc_err *e)
{
	mc_msg m;

	if (keygen(s, h, 0, key, &m, e) < 0)
		return -1;
	mc_msg_cleanse(&m);
	return 0;
}

/*
 * The DANE fields of ST for a set with KEY (REUSED: the store's key; SW: the
 * announced next key), and for key_rollover the new next key to keep once
 * the set is installed (*NEXT; NULL when the one kept stays).
 */
static int dane_state(struct slot *s, const mc_host *h, mc_state *st, EVP_PKEY *key, int reused, int sw,
		      EVP_PKEY **next, mc_err *e)
{
	const mc_config *cfg = s->p->cfg;
	EVP_PKEY *have = NULL;
	time_t now = mc_now();
	int had_next;

	*next = NULL;
	if (mc_spki_sha256(key, st->key_spki_sha256, e) < 0)
		return -1;
	if (sw) {
		st->key_switched_time = now;
		mc_info("%s: switched to the announced key; a new next key is made: publish its TLSA record "
			"(mailcert tlsa %s)", h->name, h->name);
	}
	if (!h->key_rollover) {
		if (st->next_key_spki_sha256[0] && mc_nextkey_remove(cfg->store, h->dir, e) < 0)
			mc_warn("%s: the next key of an earlier key_rollover: %s", h->name, e->msg);
		st->next_key_spki_sha256[0] = st->key_rollover_state[0] = st->key_rollover_note[0] = '\0';
		st->next_key_created_time = st->next_key_tlsa_seen_time = st->next_key_ready_time = 0;
		return 0;
	}
	had_next = mc_nextkey_load(cfg->store, h->dir, &have, e) == 0;
	EVP_PKEY_free(have);
	/* a next key is made after a switch, when there is none, and with a new (not reused) key */
	if (had_next && !sw && reused)
		return 0;
	if (next_key(s, h, next, e) < 0)
		return mc_err_prefix(e, "making the next key");
	if (mc_spki_sha256(*next, st->next_key_spki_sha256, e) < 0) {
		EVP_PKEY_free(*next);
		*next = NULL;
		return -1;
	}
	st->next_key_created_time = now;
	st->next_key_tlsa_seen_time = st->next_key_ready_time = 0;
	snprintf(st->key_rollover_state, sizeof st->key_rollover_state, "waiting");
	snprintf(st->key_rollover_note, sizeof st->key_rollover_note,
		 "a new next key: publish its TLSA records (mailcert tlsa %s) beside the current ones", h->name);
	return 0;
}

static const char *chal_name(mc_challenge t)
{
	return t == MC_CHAL_DNS01 ? "dns-01" : t == MC_CHAL_TLSALPN01 ? "tls-alpn-01" : "http-01";
}

/* one reply to the network process; a failure to send ends the conversation */
static int answer(struct slot *s, int ok, const char *why, mc_err *e)
{
	int rc = ok ? mc_ipc_sendl(s->net, "network", e, MC_MSG_OK, NULL)
		    : mc_ipc_sendl(s->net, "network", e, MC_MSG_ERR, why, NULL);

	if (rc < 0)
		set_gone(s->p, GONE_NET);
	return rc;
}

/* a non-negative decimal number of seconds from another process, -1 when it is not one */
static long parse_seconds(const char *v)
{
	char *end;
	long long n;

	if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 12)
		return -1;
	n = strtoll(v, &end, 10);
	return n > 400LL * 86400 ? 400L * 86400 : (long)n;
}

/* NAME is one of H's names, exactly as ordered */
static int host_orders(const mc_host *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nnames; i++)
		if (strcmp(h->names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * The validation budget: a name whose validation the CA failed
 * MC_VALFAIL_BUDGET times within the window is not ordered again before the
 * oldest of those leaves it (the CA pauses accounts that fail too often).
 */
static int budget_refuses(struct slot *s, const mc_host *h, const mc_state *st, time_t now, mc_err *e)
{
	char t[MC_TIMEFMT_LEN];
	time_t until;
	size_t i;
	int n;

	for (i = 0; i < h->nnames; i++) {
		n = mc_state_valfail_count(st, h->names[i], now, &until);
		if (n < MC_VALFAIL_BUDGET)
			continue;
		s->budget_until = until;
		mc_time_format(until, t);
		return mc_err_set(e, "Validation budget spent: the CA failed the validation of %s %d times in the "
				  "last hour; mailcert does not ask the CA again for it before %s, so that the account "
				  "is not paused. Fix what the earlier failures said (see the log), then retry after "
				  "that time",
				  h->names[i], n, t);
	}
	return 0;
}

/*
 * Have the network process order a certificate for H with CSR, serving the
 * challenges it asks for, until it sends the chain (DONE) or gives up (FAIL).
 */
static int net_issue(struct slot *s, const mc_host *h, const char *csr, const char *replaces,
		     STACK_OF(X509) **chain, char **cert_url, long *retry_after, mc_err *e)
{
	static const int accept[] = { MC_MSG_PROVISION, MC_MSG_DEPROVISION, MC_MSG_DONE, MC_MSG_FAIL,
				      MC_MSG_NONE };
	char *f[MC_MSG_NAMES_MAX + 4];
	mc_chal_set cs;
	size_t n = 0, i;
	int rc = 1;

	f[n++] = (char *)h->name;
	f[n++] = (char *)chal_name(h->challenge);
	f[n++] = (char *)csr;
	f[n++] = (char *)replaces;
	for (i = 0; i < h->nnames; i++)
		f[n++] = h->names[i];
	if (mc_ipc_send(s->net, "network", MC_MSG_ISSUE, f, n, e) < 0) {
		set_gone(s->p, GONE_NET);
		return -1;
	}
	mc_chal_set_init(&cs, h);
	while (rc > 0) {
		mc_msg m;
		mc_err ce;

		if (mc_ipc_recv(s->net, "network", accept, &m, NULL, e) < 0) {
			set_gone(s->p, GONE_NET);
			rc = -1;
			break;
		}
		switch (m.type) {
		case MC_MSG_PROVISION:
			ce.msg[0] = '\0';
			i = mc_chal_add(&s->p->chal, &cs, m.f[0], m.f[1], m.f[2], m.f[3], &ce) == 0;
			if (answer(s, (int)i, ce.msg, e) < 0)
				rc = -1;
			break;
		case MC_MSG_DEPROVISION:
			mc_chal_remove(&s->p->chal, &cs, m.f[0], m.f[1], m.f[2]);
			if (answer(s, 1, NULL, e) < 0)
				rc = -1;
			break;
		case MC_MSG_DONE:
			rc = 0;
			if (!mc_ipc_https_url(m.f[1]))
				rc = mc_err_set(e, "the network process sent a malformed certificate URL");
			else if (mc_pem_read_certs(m.f[0], m.len[0], chain, e) < 0)
				rc = mc_err_prefix(e, "the chain from the network process");
			else
				*cert_url = mc_strdup(m.f[1]);
			break;
		default:
			printable(m.f[0]);
			rc = mc_err_set(e, "%s", m.f[0]);
			if (m.n > 1) /* a rateLimited problem's Retry-After, in seconds ("" when none) */
				*retry_after = parse_seconds(m.f[1]);
			/* then the names whose validation failed: only names of this host are counted */
			for (i = 2; i < m.n && s->ninvalid < MC_MSG_NAMES_MAX; i++)
				if (host_orders(h, m.f[i]))
					s->invalid[s->ninvalid++] = mc_strdup(m.f[i]);
			break;
		}
		mc_msg_free(&m);
	}
	/* whatever became of the network process, nothing stays served */
	mc_chal_set_free(&s->p->chal, &cs);
	return rc;
}

/*
 * The certID to send as "replaces": only for a certificate this account
 * ordered from this directory (RFC 9773 section 5), "" otherwise.
 */
static const char *replaces_for(const struct pool *p, const mc_state *st)
{
	if (!st->has_cert || strcmp(st->source, "acme") != 0 || !mc_ari_cert_id_valid(st->ari_cert_id))
		return "";
	if (!st->account_url || !p->ps.account_url[0] || strcmp(st->account_url, p->ps.account_url) != 0)
		return "";
	if (!st->directory_url || strcmp(st->directory_url, p->cfg->acme_directory) != 0)
		return "";
	return st->ari_cert_id;
}

/*
 * Obtain and install a set for H: from the CA, or self-signed (a self-signed
 * host, `mailcert self-signed`, or FALLBACK: the stand-in for a host that has
 * no certificate from the CA yet).
 */
static int obtain(struct slot *s, const mc_host *h, mc_state *st, int fallback, long *retry_after, mc_err *e)
{
	struct pool *p = s->p;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL, *next = NULL;
	char *cert_url = NULL;
	const char *source = "acme";
	mc_msg m;
	int rc, sw = 0, reused;

	int selfsigned = fallback || h->source == MC_SRC_SELFSIGNED || (p->flags & MC_ISSUE_SELFSIGNED);

	if (!selfsigned && !p->acme_ok)
		return mc_err_set(e, "%s", p->no_acme ? p->no_acme : "no connection to the CA");
	if (!selfsigned && budget_refuses(s, h, st, mc_now(), e) < 0)
		return -1;
	/* key_reuse, key_rollover: the store's key; a stand-in and the staging CA get a new one */
	if (!fallback && !(p->flags & MC_ISSUE_STAGING))
		mc_dane_choose(p->cfg, h, st, &key, &sw);
	reused = key != NULL;
	if (reused ? keyreuse(s, h, selfsigned, key, &m, e) < 0 : keygen(s, h, selfsigned, &key, &m, e) < 0) {
		EVP_PKEY_free(key);
		return -1;
	}
	mc_debug("%s: ordering for %s key", h->name, sw ? "the announced next" : reused ? "the installed" : "a new");
	if (selfsigned) {
		source = fallback ? MC_SOURCE_FALLBACK : "self-signed";
		rc = mc_pem_read_certs(m.f[1], m.len[1], &chain, e);
	} else {
		rc = net_issue(s, h, m.f[1], replaces_for(p, st), &chain, &cert_url, retry_after, e);
	}
	mc_msg_cleanse(&m);
	if (rc == 0 && !selfsigned && (p->flags & MC_ISSUE_STAGING)) {
		/* the staging CA issued: checked as a set would be, then thrown away */
		rc = mc_certset_check(key, chain, h->names, h->nnames, mc_now(), e);
		if (rc == 0) {
			st->staging_passed_time = mc_now();
			rc = mc_store_state_save(p->cfg->store, h->dir, st, e);
		}
	} else if (rc == 0) {
		state_from_chain(st, h, chain, source, cert_url, selfsigned ? NULL : p->ps.account_url,
				 p->cfg->acme_directory, mc_now());
		if (!fallback)
			rc = dane_state(s, h, st, key, reused, sw, &next, e);
		if (rc == 0)
			rc = mc_store_install(p->cfg->store, h->dir, key, chain, h->names, h->nnames, st, e);
		/* the old next key is the installed one now, or a new next key replaces it */
		if (rc == 0 && (sw || next)) {
			mc_err ne;

			if (mc_nextkey_remove(p->cfg->store, h->dir, &ne) < 0 ||
			    (next && mc_nextkey_save(p->cfg->store, h->dir, next, &ne) < 0)) {
				mc_error("%s: %s; a next key is made at the next renewal", h->name, ne.msg);
				st->next_key_spki_sha256[0] = st->key_rollover_state[0] = '\0';
				snprintf(st->key_rollover_note, sizeof st->key_rollover_note, "keeping the next key failed: %.400s",
					 ne.msg);
				if (mc_store_state_save(p->cfg->store, h->dir, st, &ne) < 0)
					mc_error("%s: %s", h->name, ne.msg);
			}
		}
	}
	EVP_PKEY_free(next);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	free(cert_url);
	return rc;
}

static void record_failure(struct pool *p, struct slot *s, const mc_host *h, mc_state *st, const char *msg,
			   long retry_after)
{
	time_t now = mc_now();
	size_t i;
	mc_err e;

	mc_issue_state_defaults(st, h);
	st->failures++;
	if (st->failures == 1 || !st->failing_since_time)
		st->failing_since_time = now;
	st->last_failure_time = now;
	st->next_retry_time = now + mc_retry_delay(st->failures, retry_after, (uint32_t)mc_random_u64());
	for (i = 0; i < s->ninvalid; i++)
		mc_state_add_valfail(st, s->invalid[i], now);
	if (st->next_retry_time < s->budget_until)
		st->next_retry_time = s->budget_until;
	mc_state_set_error(st, msg);
	mc_config_host_digest(p->cfg, h, st->failure_config);
	if (p->flags & MC_ISSUE_STAGING)
		for (i = 0; i < p->njobs; i++)
			if (p->jobs[i].host == h)
				snprintf(st->failure_config, sizeof st->failure_config, "%s", p->jobs[i].digest);
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

time_t mc_issue_ari_check_time(const mc_config *cfg, const mc_host *h, const mc_state *st)
{
	if (h->source != MC_SRC_ACME)
		return 0;
	if (!st->has_cert || strcmp(st->source, "acme") != 0 || !mc_ari_cert_id_valid(st->ari_cert_id))
		return 0;
	/* only the directory that issued it knows the certificate */
	if (!st->directory_url || strcmp(st->directory_url, cfg->acme_directory) != 0)
		return 0;
	return st->ari_next_check_time ? st->ari_next_check_time : 1;
}

/* is it time to ask the CA when H's certificate should be renewed? */
static int ari_due(const struct pool *p, const mc_host *h, const mc_state *st, time_t now)
{
	time_t t;

	if (p->flags & (MC_ISSUE_SELFSIGNED | MC_ISSUE_FORCE | MC_ISSUE_STAGING))
		return 0;
	t = mc_issue_ari_check_time(p->cfg, h, st);
	/* a certificate due anyway needs no advice */
	return t && now >= t && mc_issue_cert_current(st, now);
}

/* ARI_OK's fields into INFO and NEXT; -1 when the network process sent nonsense */
static int ari_fields(const mc_msg *m, mc_ari_info *info, long *next)
{
	long long v[2];
	int i;

	memset(info, 0, sizeof *info);
	for (i = 0; i < 2; i++) {
		const char *f = m->f[i];
		if (!*f || strlen(f) > 12 || strspn(f, "0123456789") != strlen(f))
			return -1;
		v[i] = strtoll(f, NULL, 10);
	}
	info->start = (time_t)v[0];
	info->end = (time_t)v[1];
	*next = parse_seconds(m->f[3]);
	if (info->start >= info->end || *next < MC_ARI_CHECK_MIN || *next > MC_ARI_CHECK_MAX)
		return -1;
	if (m->f[2][0] && mc_ari_url_ok(m->f[2]))
		snprintf(info->url, sizeof info->url, "%s", m->f[2]);
	return 0;
}

/*
 * Ask the CA (through the network process) when ST's certificate should be
 * renewed, and keep the answer in ST and state.json.  Nothing here fails the
 * host: without an answer the window known before, or the lifetime rule, holds.
 */
static void ari_check(struct slot *s, const mc_host *h, mc_state *st, time_t now)
{
	static const int accept[] = { MC_MSG_ARI_OK, MC_MSG_NOARI, MC_MSG_ERR, MC_MSG_NONE };
	char *f[1] = { st->ari_cert_id };
	char t[MC_TIMEFMT_LEN], a[MC_TIMEFMT_LEN], b[MC_TIMEFMT_LEN];
	time_t before = st->renewal_time;
	mc_ari_info info;
	long next;
	mc_msg m;
	mc_err e;

	if (mc_ipc_send(s->net, "network", MC_MSG_ARI, f, 1, &e) < 0 ||
	    mc_ipc_recv(s->net, "network", accept, &m, NULL, &e) < 0) {
		set_gone(s->p, GONE_NET);
		mc_warn("%s: renewal information: %s", h->name, e.msg);
		return;
	}
	if (m.type == MC_MSG_NOARI) {
		if (st->ari_window_end)
			mc_info("%s: the CA offers no renewal information any more: the lifetime rule holds", h->name);
		ari_clear(st);
		st->ari_next_check_time = now + MC_ARI_CHECK_MAX;
	} else if (m.type == MC_MSG_ERR || ari_fields(&m, &info, &next) < 0) {
		if (m.type == MC_MSG_ERR)
			printable(m.f[0]);
		mc_warn("%s: renewal information: %s; asked again in an hour, %s meanwhile", h->name,
			m.type == MC_MSG_ERR ? m.f[0] : "the network process sent a malformed answer",
			st->ari_renewal_time ? "the window known before holds" : "the lifetime rule holds");
		st->ari_next_check_time = now + MC_ARI_CHECK_ERROR;
	} else {
		/* a new window, a new random time in it; the same window keeps the time chosen */
		if (info.start != st->ari_window_start || info.end != st->ari_window_end || !st->ari_renewal_time) {
			st->ari_window_start = info.start;
			st->ari_window_end = info.end;
			st->ari_renewal_time = mc_ari_pick(info.start, info.end, now, mc_random_u64());
		}
		free(st->ari_explanation_url);
		st->ari_explanation_url = info.url[0] ? mc_strdup(info.url) : NULL;
		st->ari_next_check_time = now + next;
	}
	mc_msg_free(&m);
	mc_issue_set_renewal(st);
	if (st->renewal_time != before) {
		mc_time_format(st->renewal_time, t);
		if (st->ari_window_end) {
			mc_time_format(st->ari_window_start, a);
			mc_time_format(st->ari_window_end, b);
			if (st->renewal_time <= now)
				snprintf(t, sizeof t, "now");
			mc_info("%s: renewal %s%s, %s the CA's suggested window %s .. %s%s%s", h->name,
				st->renewal_time <= now ? "" : "at ", t, st->ari_window_end <= now ? "after" : "inside", a, b,
				st->ari_explanation_url ? "; see " : "",
				st->ari_explanation_url ? st->ari_explanation_url : "");
		} else {
			mc_info("%s: renewal at %s (lifetime rule)", h->name, t);
		}
	}
	if (mc_store_state_save(s->p->cfg->store, h->dir, st, &e) < 0)
		mc_error("%s: recording the renewal information: %s", h->name, e.msg);
}

/*
 * A host that has no certificate from the CA and whose order failed gets a
 * self-signed stand-in, so that its listeners can start; it is never
 * "current" (mc_issue_cert_current), so the host is tried again on its
 * backoff and the CA's certificate replaces it as soon as one is issued. A
 * stand-in is made again only when the one installed is due. The failure is
 * recorded after this, on the state it leaves.
 */
static void fallback(struct slot *s, const mc_host *h, mc_state *st, int had, const char *prev_source)
{
	struct pool *p = s->p;
	long ignored;
	mc_err e;

	if (h->source != MC_SRC_ACME || (p->flags & MC_ISSUE_SELFSIGNED))
		return;
	if (had && (strcmp(prev_source, MC_SOURCE_FALLBACK) != 0 || mc_now() < st->renewal_time))
		return;
	if (obtain(s, h, st, 1, &ignored, &e) < 0) {
		mc_error("%s: no self-signed stand-in either: %s", h->name, e.msg);
		mc_state_free(st);
		if (mc_store_state_load(p->cfg->store, h->dir, st, NULL) < 0)
			mc_state_init(st);
		return;
	}
	mc_warn("%s: a self-signed certificate stands in (source %s) until the CA issues one, so that "
		"listeners can start; clients that check certificates will refuse it", h->name, MC_SOURCE_FALLBACK);
}

static void run_job(struct slot *s, struct job *j)
{
	struct pool *p = s->p;
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
	/* key_rollover: is the next key's TLSA record visible yet?  Asked at every run, so
	 * that the wait counts from when it first was */
	if (!(p->flags & (MC_ISSUE_STAGING | MC_ISSUE_SELFSIGNED)) && mc_dane_observe(p->cfg, h, &st, mc_now()) &&
	    mc_store_state_save(p->cfg->store, h->dir, &st, &e) < 0)
		mc_error("%s: recording the next key's TLSA check: %s", h->name, e.msg);
	if (p->acme_ok && !cannot_attempt(p, h) && ari_due(p, h, &st, mc_now()))
		ari_check(s, h, &st, mc_now());
	else if (ari_due(p, h, &st, mc_now()))
		mc_warn("%s: renewal information not asked (%s); %s meanwhile", h->name,
			p->no_acme ? p->no_acme : "no connection to the CA",
			st.ari_renewal_time ? "the window known before holds" : "the lifetime rule holds");
	if (h->source == MC_SRC_MANUAL && !(p->flags & MC_ISSUE_SELFSIGNED)) {
		mc_debug("%s: source is manual; nothing to obtain", h->name);
	} else if (!(p->flags & MC_ISSUE_STAGING) && skip_host(p, h, &st, mc_now())) {
		;
	} else if (!(p->flags & (MC_ISSUE_STAGING | MC_ISSUE_SELFSIGNED)) && staging_pending(p->cfg, h, &st)) {
		/* its staging order failed in this run (the failure is recorded) or was not placed */
		mc_info("%s: not ordered from the production CA: the staging CA (%s) has not issued for it yet",
			h->name, p->cfg->acme_staging_directory);
	} else if (cannot_attempt(p, h)) {
		/* not attempted: its state says what it said before */
		mc_error("%s: not attempted: a helper process of this run is gone", h->name);
		j->failed = 1;
	} else {
		long retry_after = -1;
		/* what it had before, for the notification: a first certificate or a renewal */
		char prev_source[sizeof st.source];
		int had = st.has_cert && mc_store_has_cert(p->cfg->store, h->dir);

		snprintf(prev_source, sizeof prev_source, "%s", st.source);
		rc = obtain(s, h, &st, 0, &retry_after, &e);
		if (rc == 0 && (p->flags & MC_ISSUE_STAGING)) {
			mc_info("%s: the staging CA issued a certificate (checked, not installed): the production CA is "
				"asked next", h->name);
		} else if (rc == 0) {
			char t[MC_TIMEFMT_LEN];
			mc_notify_installed(p->notify, h, had ? prev_source : NULL, &st);
			mc_time_format(st.cert_expiration_time, t);
			mc_info("%s: certificate installed (serial %s, expires %s)", h->name, st.serial, t);
			/* when the CA wants the new one renewed */
			if (p->acme_ok && !cannot_attempt(p, h) && !(p->flags & MC_ISSUE_SELFSIGNED) &&
			    h->source == MC_SRC_ACME && st.ari_cert_id[0])
				ari_check(s, h, &st, mc_now());
		} else {
			if (p->flags & MC_ISSUE_STAGING) {
				mc_err staged;

				mc_err_set(&staged, "staging CA %s: %s", p->cfg->acme_directory, e.msg);
				e = staged;
			}
			mc_error("%s: %s", h->name, e.msg);
			/* ST may describe the refused set: start again from what is published */
			mc_state_free(&st);
			if (mc_store_state_load(p->cfg->store, h->dir, &st, NULL) < 0)
				mc_state_init(&st);
			fallback(s, h, &st, had, prev_source);
			record_failure(p, s, h, &st, e.msg, retry_after);
			j->failed = 1;
		}
	}
	while (s->ninvalid > 0)
		free(s->invalid[--s->ninvalid]);
	s->budget_until = 0;
	mc_state_free(&st);
	mc_store_unlock(lock);
}

static void *worker(void *arg)
{
	struct slot *s = arg;
	struct pool *p = s->p;

	for (;;) {
		struct job *j = NULL;

		pthread_mutex_lock(&p->lock);
		if (p->next < p->njobs)
			j = &p->jobs[p->next++];
		pthread_mutex_unlock(&p->lock);
		if (!j)
			break;
		run_job(s, j);
	}
	return NULL;
}

static int needs_acme(struct pool *p)
{
	size_t i;
	time_t now = mc_now();

	if (p->flags & MC_ISSUE_STAGING)
		return p->njobs > 0;
	for (i = 0; i < p->njobs; i++) {
		const mc_host *h = p->jobs[i].host;
		mc_state st;
		int skip;

		if (h->source != MC_SRC_ACME)
			continue;
		if (mc_store_state_load(p->cfg->store, h->dir, &st, NULL) < 0)
			return 1;
		skip = (skip_host(p, h, &st, now) && !ari_due(p, h, &st, now)) || staging_pending(p->cfg, h, &st);
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

	mc_store_area_path(store, MC_AREA_LOCKS, ".run", path, sizeof path);
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

/* A and B are https:// URLs of the same host and port */
static int same_origin(const char *a, const char *b)
{
	size_t la, lb;

	if (strncmp(a, "https://", 8) != 0 || strncmp(b, "https://", 8) != 0)
		return 0;
	la = 8 + strcspn(a + 8, "/?#");
	lb = 8 + strcspn(b + 8, "/?#");
	return la == lb && strncasecmp(a, b, la) == 0;
}

/*
 * A certificate ordered by a mailcert that kept no renewal information: its
 * certID from the installed leaf, and the configured directory when the
 * certificate was downloaded from that CA, so that the CA is asked about it
 * now rather than after its next renewal.  Its account is not known: no
 * "replaces" is sent for it.
 */
static void adopt_installed(const mc_config *cfg, const mc_host *h)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	mc_certinfo ci;
	mc_state st;
	mc_err e;
	int lock;

	if (h->source != MC_SRC_ACME || (lock = mc_store_lock_host(cfg->store, h->dir, &e)) < 0)
		return;
	if (mc_store_state_load(cfg->store, h->dir, &st, &e) != 0)
		goto out;
	if (!st.has_cert || strcmp(st.source, "acme") != 0 || st.ari_cert_id[0] || st.directory_url ||
	    st.account_url || !st.cert_url || !same_origin(st.cert_url, cfg->acme_directory))
		goto out;
	if (mc_store_load(cfg->store, h->dir, &key, &chain, &e) < 0)
		goto out;
	EVP_PKEY_free(key);
	if (mc_cert_info(sk_X509_value(chain, 0), &ci) < 0 || strcmp(ci.serial, st.serial) != 0)
		goto out;
	if (mc_ari_cert_id(sk_X509_value(chain, 0), st.ari_cert_id, sizeof st.ari_cert_id, &e) < 0)
		st.ari_cert_id[0] = '\0';
	st.directory_url = mc_strdup(cfg->acme_directory);
	if (mc_store_state_save(cfg->store, h->dir, &st, &e) < 0)
		mc_error("%s: %s", h->name, e.msg);
out:
	sk_X509_pop_free(chain, X509_free);
	mc_state_free(&st);
	mc_store_unlock(lock);
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

/* start the responders the ACME hosts need; -1 with E when one cannot serve */
static int start_responders(struct pool *p, mc_err *e)
{
	mc_config *cfg = p->cfg;
	int uses_http01 = 0, uses_tlsalpn = 0;
	size_t k;

	for (k = 0; k < p->njobs; k++) {
		if (p->jobs[k].host->source != MC_SRC_ACME)
			continue;
		uses_http01 |= p->jobs[k].host->challenge == MC_CHAL_HTTP01;
		uses_tlsalpn |= p->jobs[k].host->challenge == MC_CHAL_TLSALPN01;
	}
	/* forked before any key exists in a process; the EAB key is wiped in them */
	if (uses_http01 && !cfg->http01_webroot[0] &&
	    mc_http01_start(cfg->http01_listen, cfg->http01_nlisten, mc_sandbox_wipe_secrets, cfg,
			    &p->chal.http01, e) < 0)
		return -1;
	if (uses_tlsalpn &&
	    mc_tlsalpn_start(cfg->tlsalpn01_listen, cfg->tlsalpn01_nlisten, mc_sandbox_wipe_secrets, cfg,
			     &p->chal.tlsalpn, e) < 0)
		return -1;
	return 0;
}

static void collect_jobs(struct pool *p, char *const *hosts, int nhosts, int *failed)
{
	mc_config *cfg = p->cfg;
	int i;

	p->jobs = mc_calloc(cfg->nhosts + 1, sizeof *p->jobs);
	if (!hosts) {
		for (i = 0; i < (int)cfg->nhosts; i++)
			p->jobs[p->njobs++].host = &cfg->hosts[i];
		return;
	}
	for (i = 0; i < nhosts; i++) {
		mc_host *h = mc_config_find_host(cfg, hosts[i]);
		size_t k;

		if (!h) {
			mc_error("%s: not a configured host", hosts[i]);
			(*failed)++;
			continue;
		}
		for (k = 0; k < p->njobs && p->jobs[k].host != h; k++)
			;
		if (k == p->njobs) /* a host named twice is done once */
			p->jobs[p->njobs++].host = h;
	}
}

/* the worker threads, one per slot; returns how many jobs failed */
static int run_workers(struct pool *p, int nthreads)
{
	pthread_t *threads = mc_calloc((size_t)nthreads + 1, sizeof *threads);
	struct slot *slots = mc_calloc((size_t)nthreads + 1, sizeof *slots);
	int i, failed = 0;

	for (i = 0; i < nthreads; i++) {
		slots[i].p = p;
		slots[i].key = p->ps.key[i];
		slots[i].net = p->ps.net[i];
		if (pthread_create(&threads[i], NULL, worker, &slots[i]) != 0)
			mc_fatal("cannot start a worker thread");
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < (int)p->njobs; i++)
		if (p->jobs[i].failed)
			failed++;
	free(threads);
	free(slots);
	return failed;
}

/* one pass over P's jobs: the responders, the three processes, the workers */
static int issue_pass(struct pool *p, int jobs)
{
	mc_config *cfg = p->cfg;
	int with_net = 0, nthreads, failed = 0;
	unsigned long reqs = 0, conns = 0;
	mc_err e, why_no_acme;

	if (!(p->flags & MC_ISSUE_SELFSIGNED) && needs_acme(p)) {
		if (start_responders(p, &why_no_acme) < 0)
			p->no_acme = why_no_acme.msg; /* every ACME host fails with this; the others proceed */
		else
			with_net = 1;
	}
	nthreads = jobs < 1 ? 1 : jobs;
	if ((size_t)nthreads > p->njobs)
		nthreads = (int)p->njobs;
	if (nthreads > 0 && mc_privsep_start(cfg, (size_t)nthreads, with_net, &p->ps, &e) < 0) {
		mc_error("%s", e.msg);
		failed += (int)p->njobs;
		nthreads = 0;
	} else if (with_net) {
		int rc = mc_privsep_net_ready(&p->ps, cfg, &why_no_acme);

		if (rc == 0)
			p->acme_ok = 1;
		else
			p->no_acme = why_no_acme.msg;
		if (rc == -2) { /* it died: that says nothing about the hosts */
			mc_error("%s", why_no_acme.msg);
			p->gone = GONE_NET;
		}
	}
	if (nthreads > 0) {
		failed += run_workers(p, nthreads);
		if (mc_privsep_stop(&p->ps, &reqs, &conns, &e) < 0) {
			mc_error("%s", e.msg);
			if (failed == 0)
				failed = 1;
		}
	}
	if (p->acme_ok)
		mc_info("%s%zu host(s) processed, %d failed; %lu requests to the CA over %lu connection(s)",
			(p->flags & MC_ISSUE_STAGING) ? "staging CA: " : "", p->njobs, failed, reqs, conns);
	mc_http01_stop(p->chal.http01);
	mc_tlsalpn_stop(p->chal.tlsalpn);
	p->chal.http01 = NULL;
	p->chal.tlsalpn = NULL;
	p->no_acme = NULL;
	return failed;
}

/*
 * test_on_staging: the hosts of P that the production CA has never issued for
 * are ordered from the staging CA first, in a pass of their own with the
 * staging directory (and its own account); only those the staging CA issued
 * for go on to the production pass.
 */
static int staging_pass(struct pool *p, int jobs)
{
	mc_config *cfg = p->cfg;
	char *production = cfg->acme_directory;
	time_t now = mc_now();
	struct pool sp;
	size_t i;
	int failed;

	memset(&sp, 0, sizeof sp);
	sp.cfg = cfg;
	sp.chal.cfg = cfg;
	sp.flags = p->flags | MC_ISSUE_STAGING;
	sp.notify = p->notify;
	sp.jobs = mc_calloc(p->njobs + 1, sizeof *sp.jobs);
	for (i = 0; i < p->njobs; i++) {
		mc_host *h = p->jobs[i].host;
		mc_state st;

		if (mc_store_state_load(cfg->store, h->dir, &st, NULL) < 0)
			mc_state_init(&st);
		if (staging_pending(cfg, h, &st) && !skip_host(p, h, &st, now)) {
			sp.jobs[sp.njobs].host = h;
			mc_config_host_digest(cfg, h, sp.jobs[sp.njobs].digest);
			sp.njobs++;
		}
		mc_state_free(&st);
	}
	if (sp.njobs == 0) {
		free(sp.jobs);
		return 0;
	}
	mc_info("%zu host(s) the production CA has not issued for yet: ordered from the staging CA %s first",
		sp.njobs, cfg->acme_staging_directory);
	pthread_mutex_init(&sp.lock, NULL);
	cfg->acme_directory = cfg->acme_staging_directory;
	failed = issue_pass(&sp, jobs);
	cfg->acme_directory = production;
	pthread_mutex_destroy(&sp.lock);
	free(sp.jobs);
	return failed;
}

int mc_issue_run(mc_config *cfg, char *const *hosts, int nhosts, int flags, int jobs)
{
	int runlock = -1, failed = 0, i;
	struct pool p;
	mc_err e;

	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	p.chal.cfg = cfg;
	p.flags = flags;
	pthread_mutex_init(&p.lock, NULL);
	collect_jobs(&p, hosts, nhosts, &failed);
	if (mc_store_prepare(cfg->store, &e) < 0 || (runlock = run_lock(cfg->store, &e)) < 0) {
		mc_error("%s", e.msg);
		free(p.jobs);
		return (int)p.njobs + failed;
	}
	mc_store_sweep(cfg->store);
	retire_unconfigured(cfg);
	if (!(flags & MC_ISSUE_SELFSIGNED))
		for (i = 0; i < (int)p.njobs; i++)
			adopt_installed(cfg, p.jobs[i].host);
	/* `mailcert self-signed` is an operator's act of the moment: nothing to tell */
	if (!(flags & MC_ISSUE_SELFSIGNED)) {
		size_t k;

		p.notify = mc_notify_begin(cfg);
		for (k = 0; k < p.njobs; k++)
			mc_notify_host(p.notify, p.jobs[k].host);
	}
	if (cfg->acme_test_on_staging && !(flags & MC_ISSUE_SELFSIGNED))
		failed += staging_pass(&p, jobs);
	failed += issue_pass(&p, jobs);
	/* still under the run lock: one writer of what was mailed */
	mc_notify_end(p.notify);
	if (mc_metrics_write(cfg, &e) < 0)
		mc_warn("metrics: %s", e.msg);
	mc_store_unlock(runlock);
	free(p.jobs);
	pthread_mutex_destroy(&p.lock);
	return failed;
}
