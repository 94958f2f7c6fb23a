/*
 * netproc - drop privileges, set up the account, then serve ISSUE requests
 * from the store process on a pool of worker threads.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "acme.h"
#include "ari.h"
#include "b64url.h"
#include "fsutil.h"
#include "hostname.h"
#include "ipc.h"
#include "netproc.h"
#include "sandbox.h"
#include "selfcheck.h"
#include "x509chk.h"

struct slot {
	int store;
	int key;
	mc_acme *acme;
	char *invalid[MC_MSG_NAMES_MAX]; /* names whose validation the CA failed in this order */
	size_t ninvalid;
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t live;
static int done_pipe[2] = { -1, -1 }; /* a worker that ends says so: the main thread wakes at once */

/* ---- what the ACME code asks of the other processes ---- */

/* ask PEER on FD; the answer is one of REPLY or ERR */
static int ask(int fd, const char *peer, int reply, mc_msg *m, mc_err *e, int type, char *const *f, size_t n)
{
	int accept[] = { reply, MC_MSG_ERR, MC_MSG_NONE };

	if (mc_ipc_send(fd, peer, type, f, n, e) < 0 || mc_ipc_recv(fd, peer, accept, m, NULL, e) < 0)
		return -1;
	if (m->type == MC_MSG_ERR) {
		mc_err_set(e, "%s", m->f[0]);
		mc_msg_free(m);
		return -1;
	}
	return 0;
}

static char *np_thumbprint(void *ctx, mc_err *e)
{
	struct slot *s = ctx;
	char *out = NULL;
	mc_msg m;

	if (ask(s->key, "key", MC_MSG_JWK_OK, &m, e, MC_MSG_JWK, NULL, 0) < 0)
		return NULL;
	if (strlen(m.f[2]) == 43 && mc_b64url_valid(m.f[2], 43))
		out = mc_strdup(m.f[2]);
	else
		mc_err_set(e, "the key process sent a malformed thumbprint");
	mc_msg_free(&m);
	return out;
}

static char *jws_reply(struct slot *s, int type, char *const *f, size_t n, mc_err *e)
{
	char *out;
	mc_msg m;

	if (ask(s->key, "key", MC_MSG_JWS, &m, e, type, f, n) < 0)
		return NULL;
	out = m.f[0];
	m.f[0] = NULL;
	mc_msg_free(&m);
	return out;
}

static char *np_sign(void *ctx, const char *kid, const char *nonce, const char *url, const char *payload,
		     mc_err *e)
{
	char *f[] = { (char *)(kid ? kid : ""), (char *)nonce, (char *)url, (char *)(payload ? payload : "") };

	return jws_reply(ctx, MC_MSG_SIGN, f, 4, e);
}

static char *np_eab(void *ctx, const char *url, mc_err *e)
{
	char *f[] = { (char *)url };

	return jws_reply(ctx, MC_MSG_EAB, f, 1, e);
}

static char *np_rollover(void *ctx, const char *kid, const char *nonce, const char *url, mc_err *e)
{
	char *f[] = { (char *)kid, (char *)nonce, (char *)url };

	return jws_reply(ctx, MC_MSG_ROLLOVER, f, 3, e);
}

static int np_save_account(void *ctx, const char *url, const char *contact, mc_err *e)
{
	struct slot *s = ctx;
	char *f[] = { (char *)url, (char *)contact };
	mc_msg m;

	if (ask(s->store, "store", MC_MSG_OK, &m, e, MC_MSG_ACCOUNT, f, 2) < 0)
		return -1;
	mc_msg_free(&m);
	return 0;
}

static const char *chal_name(mc_challenge t)
{
	return t == MC_CHAL_DNS01 ? "dns-01" : t == MC_CHAL_TLSALPN01 ? "tls-alpn-01" : "http-01";
}

static int np_provision(void *ctx, mc_challenge type, const char *identifier, const char *token,
			const char *keyauth, mc_err *e)
{
	struct slot *s = ctx;
	char *f[] = { (char *)chal_name(type), (char *)identifier, (char *)token, (char *)keyauth };
	mc_msg m;

	if (ask(s->store, "store", MC_MSG_OK, &m, e, MC_MSG_PROVISION, f, 4) < 0)
		return -1;
	mc_msg_free(&m);
	return 0;
}

static void np_deprovision(void *ctx, mc_challenge type, const char *identifier, const char *token)
{
	struct slot *s = ctx;
	char *f[] = { (char *)chal_name(type), (char *)identifier, (char *)token };
	mc_msg m;
	mc_err e;

	if (ask(s->store, "store", MC_MSG_OK, &m, &e, MC_MSG_DEPROVISION, f, 3) == 0)
		mc_msg_free(&m);
}

static void np_invalid(void *ctx, const char *name)
{
	struct slot *s = ctx;
	size_t i;

	for (i = 0; i < s->ninvalid; i++)
		if (strcmp(s->invalid[i], name) == 0)
			return;
	if (s->ninvalid < MC_MSG_NAMES_MAX)
		s->invalid[s->ninvalid++] = mc_strdup(name);
}

static const mc_acme_ops ops = {
	np_thumbprint, np_sign, np_eab, np_save_account, np_provision, np_deprovision, np_invalid, np_rollover,
};

/* ---- the workers ---- */

static int parse_issue(const mc_msg *m, mc_challenge *type, mc_err *e)
{
	char norm[MC_HOSTNAME_MAX + 1];
	size_t i;

	if (strcmp(m->f[1], "http-01") == 0)
		*type = MC_CHAL_HTTP01;
	else if (strcmp(m->f[1], "dns-01") == 0)
		*type = MC_CHAL_DNS01;
	else if (strcmp(m->f[1], "tls-alpn-01") == 0)
		*type = MC_CHAL_TLSALPN01;
	else
		return mc_err_set(e, "unknown challenge type");
	if (!mc_b64url_valid(m->f[2], 65536) || !m->f[2][0])
		return mc_err_set(e, "malformed CSR");
	if (m->f[3][0] && !mc_ari_cert_id_valid(m->f[3]))
		return mc_err_set(e, "malformed certificate identifier to replace");
	for (i = 4; i < m->n; i++)
		if (mc_hostname_check(m->f[i], 1, norm, e) < 0)
			return -1;
	return 0;
}

/* the host's self_check setting (on for a host this configuration does not know) */
static int wants_self_check(const mc_config *cfg, const char *host)
{
	size_t i;

	for (i = 0; i < cfg->nhosts; i++)
		if (strcmp(cfg->hosts[i].name, host) == 0)
			return cfg->hosts[i].self_check;
	return 1;
}

static int issue_one(struct slot *s, mc_acme_conn *conn, const mc_msg *m)
{
	STACK_OF(X509) *chain = NULL;
	char *cert_url = NULL, *f[MC_MSG_NAMES_MAX + 2], ra[32] = "";
	mc_challenge type = MC_CHAL_HTTP01;
	mc_buf pem;
	mc_err e;
	int rc, i;
	size_t k;

	mc_buf_init(&pem);
	conn->rate_limited = -1; /* a failed self-check says nothing of the CA's limits */
	rc = parse_issue(m, &type, &e);
	/* checked before every order: what would fail at the CA fails here, and costs it nothing */
	if (rc == 0 && wants_self_check(s->acme->cfg, m->f[0]))
		rc = mc_selfcheck(s->acme->cfg, type, m->f + 4, m->n - 4, s->acme->caa_identities, &ops, s, &e);
	if (rc == 0)
		rc = mc_acme_issue(conn, m->f[0], m->f + 4, m->n - 4, type, m->f[2], m->f[3], &chain, &cert_url, &e);
	if (rc == 0) {
		for (i = 0; i < sk_X509_num(chain); i++)
			mc_pem_append_cert(&pem, sk_X509_value(chain, i));
		rc = mc_ipc_sendl(s->store, "store", &e, MC_MSG_DONE, pem.data, cert_url, NULL);
	} else {
		/* the reason, a rateLimited problem's Retry-After (or ""), the names whose validation failed */
		if (conn->rate_limited >= 0)
			snprintf(ra, sizeof ra, "%ld", conn->rate_limited);
		f[0] = e.msg;
		f[1] = ra;
		for (k = 0; k < s->ninvalid; k++)
			f[k + 2] = s->invalid[k];
		rc = mc_ipc_send(s->store, "store", MC_MSG_FAIL, f, s->ninvalid + 2, &e);
	}
	for (k = 0; k < s->ninvalid; k++)
		free(s->invalid[k]);
	s->ninvalid = 0;
	sk_X509_pop_free(chain, X509_free);
	free(cert_url);
	mc_buf_free(&pem);
	return rc;
}

/* the CA's renewal information for one certificate; its failure is only reported */
static int ari_one(struct slot *s, mc_acme_conn *conn, const mc_msg *m)
{
	char start[32], end[32], next[32];
	mc_ari_info info;
	long ra = -1;
	mc_err e;
	int rc;

	rc = mc_acme_renewal_info(conn, m->f[0], &info, &ra, &e);
	if (rc == 1)
		return mc_ipc_sendl(s->store, "store", &e, MC_MSG_NOARI, NULL);
	if (rc < 0)
		return mc_ipc_sendl(s->store, "store", &e, MC_MSG_ERR, e.msg, NULL);
	snprintf(start, sizeof start, "%lld", (long long)info.start);
	snprintf(end, sizeof end, "%lld", (long long)info.end);
	snprintf(next, sizeof next, "%ld", mc_ari_next_check(ra));
	return mc_ipc_sendl(s->store, "store", &e, MC_MSG_ARI_OK, start, end, info.url, next, NULL);
}

/* the account: show it, deactivate it, change its key; the answer is its state at the CA */
static int account_one(struct slot *s, mc_acme_conn *conn, const mc_msg *m)
{
	char *status = NULL, *contact = NULL;
	mc_msg jwk;
	mc_err e;
	int rc = 0;

	if (m->type == MC_MSG_ACCT_ROLLOVER) {
		/* the store process switches the key files only on this answer */
		if (mc_acme_key_change(conn, &e) < 0)
			return mc_ipc_sendl(s->store, "store", &e, MC_MSG_ERR, e.msg, NULL);
		return mc_ipc_sendl(s->store, "store", &e, MC_MSG_ACCT_INFO, s->acme->kid, "", "", "", "", NULL);
	}
	if (m->type == MC_MSG_ACCT_DEACTIVATE)
		rc = mc_acme_account_deactivate(conn, &status, &contact, &e);
	else
		rc = mc_acme_account_get(conn, &status, &contact, &e);
	if (rc == 0 && ask(s->key, "key", MC_MSG_JWK_OK, &jwk, &e, MC_MSG_JWK, NULL, 0) == 0) {
		rc = mc_ipc_sendl(s->store, "store", &e, MC_MSG_ACCT_INFO, s->acme->kid, status, contact, jwk.f[0],
				  jwk.f[2], NULL);
		mc_msg_free(&jwk);
	} else {
		rc = mc_ipc_sendl(s->store, "store", &e, MC_MSG_ERR, e.msg, NULL);
	}
	free(status);
	free(contact);
	return rc;
}

static int revoke_one(struct slot *s, mc_acme_conn *conn, const mc_msg *m)
{
	char *end;
	long reason = -1;
	mc_err e;

	if (m->f[1][0]) {
		reason = strtol(m->f[1], &end, 10);
		if (*end || reason < 0 || reason > 10)
			return mc_ipc_sendl(s->store, "store", &e, MC_MSG_ERR, "malformed revocation reason", NULL);
	}
	if (mc_acme_revoke(conn, m->f[0], (int)reason, &e) < 0)
		return mc_ipc_sendl(s->store, "store", &e, MC_MSG_ERR, e.msg, NULL);
	return mc_ipc_sendl(s->store, "store", &e, MC_MSG_OK, NULL);
}

static int serve_one(struct slot *s, mc_acme_conn *conn, const mc_msg *m)
{
	switch (m->type) {
	case MC_MSG_ARI:
		return ari_one(s, conn, m);
	case MC_MSG_REVOKE:
		return revoke_one(s, conn, m);
	case MC_MSG_ISSUE:
		return issue_one(s, conn, m);
	default:
		return account_one(s, conn, m);
	}
}

static void *worker(void *arg)
{
	static const int accept[] = { MC_MSG_ISSUE, MC_MSG_ARI, MC_MSG_ACCT_GET, MC_MSG_ACCT_DEACTIVATE,
				      MC_MSG_ACCT_ROLLOVER, MC_MSG_REVOKE, MC_MSG_NONE };
	struct slot *s = arg;
	mc_acme_conn conn;
	mc_err e;

	if (mc_acme_conn_init(&conn, s->acme, s, &e) < 0) {
		mc_error("network process: %s", e.msg);
	} else {
		for (;;) {
			mc_msg m;
			int eof = 0;

			if (mc_ipc_recv(s->store, "store", accept, &m, &eof, &e) < 0) {
				if (!eof)
					mc_error("network process: %s", e.msg);
				break;
			}
			if (serve_one(s, &conn, &m) < 0) {
				mc_msg_free(&m);
				break;
			}
			mc_msg_free(&m);
		}
		mc_acme_conn_free(&conn);
	}
	/* the store process waiting on this slot sees end-of-file, never silence */
	close(s->store);
	close(s->key);
	pthread_mutex_lock(&live_lock);
	live--;
	pthread_mutex_unlock(&live_lock);
	while (write(done_pipe[1], "x", 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* ---- set-up ---- */

static void sandbox(mc_config *cfg)
{
	static const char *const rd[] = { "/etc", "/usr", "/lib", "/lib64", "/dev", "/proc", "/sys", "/run", NULL };
	uid_t uid;
	gid_t gid;
	size_t len;
	int ll, sc;
	mc_buf ca;
	mc_err e;
	const char *bundle;
	char tried[768], what[1024];

	/* the EAB key is the key process's; this one never needs it */
	mc_sandbox_wipe_secrets(cfg);
	/* the CA bundle may be anywhere root can read: read it now */
	/* acme.ca_bundle, else the distribution's usual bundle, else libcurl's default */
	bundle = cfg->acme_ca_bundle && cfg->acme_ca_bundle[0] ? cfg->acme_ca_bundle
								: mc_http_find_ca_bundle(tried, sizeof tried);
	if (bundle) {
		mc_buf_init(&ca);
		if (mc_file_read(bundle, 4 * 1024 * 1024, &ca, &e) < 0)
			mc_fatal("network process: %s%s", bundle == cfg->acme_ca_bundle ? "acme.ca_bundle: " : "", e.msg);
		len = ca.len;
		mc_http_set_ca_blob(mc_buf_steal(&ca), len);
		snprintf(what, sizeof what, "%s%s", bundle == cfg->acme_ca_bundle ? "acme.ca_bundle " : "", bundle);
	} else {
		snprintf(what, sizeof what, "libcurl's default, none of %s found; set acme.ca_bundle", tried);
	}
	mc_http_set_ca_source(what);
	mc_debug("network process: trust anchors for the CA: %s", what);
	if (geteuid() != 0) { /* run by an unprivileged user: there is nothing to give up */
		uid = geteuid();
		gid = getegid();
		if (chdir("/") < 0)
			mc_fatal("network process: chdir /: %s", strerror(errno));
		mc_sandbox_harden("mailcert-net");
	} else if (mc_sandbox_identity(&uid, &gid, &e) < 0 || mc_sandbox_drop(uid, gid, "mailcert-net", &e) < 0) {
		mc_fatal("network process: %s", e.msg);
	}
	if ((ll = mc_sandbox_landlock(rd, NULL, &e)) < 0 || (sc = mc_sandbox_seccomp(MC_SANDBOX_NET, &e)) < 0)
		mc_fatal("network process: %s", e.msg);
	mc_debug("network process: uid %lu gid %lu; landlock %s; seccomp %s", (unsigned long)uid,
		 (unsigned long)gid, ll == 0 ? "on" : "not in this kernel", sc == 0 ? "on" : "not built in");
}

/* until the store process closes the control socket (or dies) */
static void wait_store(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c;

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

void mc_netproc_main(mc_config *cfg, int ctl_store, int ctl_key, const int *store_fds, const int *key_fds,
		     size_t nslots, int only_existing)
{
	int flags = (cfg->acme_eab_kid[0] && cfg->acme_eab_hmac_key[0] ? MC_ACME_EAB : 0) |
		    (only_existing ? MC_ACME_EXISTING : 0);
	struct slot ctl = { .store = ctl_store, .key = ctl_key }, *slots;
	pthread_t *threads;
	unsigned long reqs, conns;
	char rs[32], cs[32];
	mc_acme acme;
	size_t i;
	mc_err e;

	sandbox(cfg);
	if (mc_acme_open(&acme, cfg, &ops, &ctl, flags, &e) < 0) {
		mc_ipc_sendl(ctl_store, "store", &e, MC_MSG_NOACME, e.msg, NULL);
		wait_store(ctl_store);
		_exit(0);
	}
	if (mc_ipc_sendl(ctl_store, "store", &e, MC_MSG_READY, NULL) < 0)
		_exit(1);
	if (pipe2(done_pipe, O_CLOEXEC) < 0)
		mc_fatal("network process: pipe: %s", strerror(errno));
	slots = mc_calloc(nslots + 1, sizeof *slots);
	threads = mc_calloc(nslots + 1, sizeof *threads);
	live = nslots;
	for (i = 0; i < nslots; i++) {
		slots[i].store = store_fds[i];
		slots[i].key = key_fds[i];
		slots[i].acme = &acme;
		if (pthread_create(&threads[i], NULL, worker, &slots[i]) != 0)
			mc_fatal("network process: cannot start a worker thread");
	}
	/* the store process going away ends everything at once, whatever the workers do */
	for (;;) {
		struct pollfd p[2] = { { ctl_store, POLLIN, 0 }, { done_pipe[0], POLLIN, 0 } };
		char buf[64];
		size_t n;

		pthread_mutex_lock(&live_lock);
		n = live;
		pthread_mutex_unlock(&live_lock);
		if (n == 0)
			break;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			mc_fatal("network process: poll: %s", strerror(errno));
		if (p[0].revents) {
			mc_error("network process: the store process is gone");
			_exit(1);
		}
		if (p[1].revents && read(done_pipe[0], buf, sizeof buf) < 0 && errno != EINTR)
			mc_fatal("network process: read: %s", strerror(errno));
	}
	for (i = 0; i < nslots; i++)
		pthread_join(threads[i], NULL);
	mc_http_counts(&reqs, &conns);
	snprintf(rs, sizeof rs, "%lu", reqs);
	snprintf(cs, sizeof cs, "%lu", conns);
	mc_ipc_sendl(ctl_store, "store", &e, MC_MSG_STATS, rs, cs, NULL);
	wait_store(ctl_store);
	_exit(0);
}
