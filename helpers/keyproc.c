/*
 * keyproc - one poll(2) loop over the store's and the network process's
 * sockets; every request is checked before a key is touched.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "acme.h"
#include "b64url.h"
#include "fsutil.h"
#include "hostname.h"
#include "ipc.h"
#include "jws.h"
#include "keyproc.h"
#include "keys.h"
#include "sandbox.h"
#include "x509chk.h"
#include "storepath.h"

struct kp {
	const mc_config *cfg;
	EVP_PKEY *akey;
};


static int account_key(struct kp *k, mc_err *e)
{
	char dir[4096], path[4200];
	mc_buf b;
	int rc;

	if (k->akey)
		return 0;
	mc_acme_account_dir(k->cfg->store, k->cfg->acme_directory, dir, sizeof dir);
	mc_pathf(path, sizeof path, "%s/key.pem", dir);
	mc_buf_init(&b);
	if (access(path, F_OK) == 0) {
		rc = mc_file_read_private(path, 65536, &b, e);
		if (rc == 0)
			rc = mc_pem_read_key(b.data, b.len, &k->akey, e);
		mc_buf_cleanse(&b);
		if (rc < 0)
			return mc_err_prefix(e, "account key %s", path);
		if (!mc_jws_alg(k->akey)) {
			EVP_PKEY_free(k->akey);
			k->akey = NULL;
			return mc_err_set(e, "account key %s: unsupported type (P-256, P-384 or RSA >= 2048)", path);
		}
		return 0;
	}
	if (mc_mkdir_p(dir, 0700, e) < 0 || mc_key_generate("ec256", &k->akey, e) < 0)
		return -1;
	mc_pem_append_key(&b, k->akey);
	rc = mc_file_write_atomic(dir, "key.pem", b.data, b.len, 0600, (gid_t)-1, e);
	mc_buf_cleanse(&b);
	if (rc < 0) {
		EVP_PKEY_free(k->akey);
		k->akey = NULL;
	}
	return rc;
}

/* a JWS payload is empty (POST-as-GET) or one JSON object */
static int payload_ok(const char *p)
{
	json_t *j;
	int ok;

	if (!*p)
		return 1;
	j = json_loads(p, JSON_REJECT_DUPLICATES, NULL);
	ok = json_is_object(j);
	json_decref(j);
	return ok;
}

static int reply_err(int fd, const char *peer, const char *msg)
{
	mc_err e;

	return mc_ipc_sendl(fd, peer, &e, MC_MSG_ERR, msg, NULL);
}

static int net_request(struct kp *k, int fd, const mc_msg *m)
{
	char *out = NULL, *thumb = NULL, *jwk = NULL;
	mc_err e;
	int rc;

	if (account_key(k, &e) < 0)
		return reply_err(fd, "network", e.msg);
	switch (m->type) {
	case MC_MSG_JWK:
		jwk = mc_jwk_json(k->akey, &e);
		thumb = jwk ? mc_jwk_thumbprint(k->akey, &e) : NULL;
		rc = thumb ? mc_ipc_sendl(fd, "network", &e, MC_MSG_JWK_OK, mc_jws_alg(k->akey), jwk, thumb, NULL)
			   : reply_err(fd, "network", e.msg);
		free(jwk);
		free(thumb);
		return rc;
	case MC_MSG_SIGN:
		if ((m->f[0][0] && !mc_ipc_https_url(m->f[0])) || !mc_b64url_valid(m->f[1], 512) || !m->f[1][0] ||
		    !mc_ipc_https_url(m->f[2]) || !payload_ok(m->f[3]))
			return reply_err(fd, "network", "refusing to sign a malformed request");
		out = mc_jws_sign(k->akey, m->f[0][0] ? m->f[0] : NULL, m->f[1], m->f[2], m->f[3], &e);
		break;
	case MC_MSG_EAB:
		if (!mc_ipc_https_url(m->f[0]))
			return reply_err(fd, "network", "refusing an external account binding for a malformed URL");
		if (!k->cfg->acme_eab_kid[0] || !k->cfg->acme_eab_hmac_key[0])
			return reply_err(fd, "network", "no external account binding is configured");
		out = mc_jws_eab(k->akey, k->cfg->acme_eab_kid, k->cfg->acme_eab_hmac_key, m->f[0], &e);
		break;
	default:
		return -1;
	}
	rc = out ? mc_ipc_sendl(fd, "network", &e, MC_MSG_JWS, out, NULL) : reply_err(fd, "network", e.msg);
	free(out);
	return rc;
}

/* NAMES (N of them) are host names the store asked a certificate for */
static int names_ok(char *const *names, size_t n, mc_err *e)
{
	char norm[MC_HOSTNAME_MAX + 1];
	size_t i;

	for (i = 0; i < n; i++)
		if (mc_hostname_check(names[i], 1, norm, e) < 0)
			return -1;
	return 0;
}

static int store_request(int fd, const mc_msg *m)
{
	size_t first = m->type == MC_MSG_KEYGEN ? 1 : 2;
	int reuse = m->type == MC_MSG_REUSE, selfsigned = m->type == MC_MSG_SELFSIGNED || (reuse && m->f[1][0]);
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	mc_buf pem, out;
	char *csr = NULL;
	mc_err e;
	int rc = -1, days = 0;

	mc_buf_init(&pem);
	mc_buf_init(&out);
	if (selfsigned) {
		char *end;
		long d = strtol(m->f[1], &end, 10);
		if (*end || d < 1 || d > 3650)
			return reply_err(fd, "store", "bad validity period");
		days = (int)d;
	}
	if (names_ok(m->f + first, m->n - first, &e) < 0)
		return reply_err(fd, "store", e.msg);
	/* REUSE: the store's key, checked to be one (a private key) before it signs anything */
	if (reuse ? mc_pem_read_key(m->f[0], m->len[0], &key, &e) < 0 : mc_key_generate(m->f[0], &key, &e) < 0)
		return reply_err(fd, "store", e.msg);
	if (!selfsigned) {
		if (mc_csr_make(key, m->f + first, m->n - first, NULL, &out, &e) == 0) {
			csr = mc_b64url_encode(out.data, out.len);
			rc = 0;
		}
	} else if (mc_selfsigned_make(key, m->f + first, m->n - first, days, &x, &e) == 0) {
		mc_pem_append_cert(&out, x);
		X509_free(x);
		csr = mc_buf_steal(&out);
		rc = 0;
	}
	if (rc == 0) {
		if (!reuse) /* the store has its own key already: it is not sent back */
			mc_pem_append_key(&pem, key);
		rc = mc_ipc_sendl(fd, "store", &e, MC_MSG_KEY, reuse ? "" : pem.data, csr, NULL);
	} else {
		rc = reply_err(fd, "store", e.msg);
	}
	mc_buf_cleanse(&pem);
	mc_buf_free(&out);
	free(csr);
	EVP_PKEY_free(key);
	return rc;
}

static void sandbox(const mc_config *cfg)
{
	static const char *const rd[] = { "/etc", "/usr", "/lib", "/lib64", "/dev", "/proc", "/sys", NULL };
	char accounts[4096];
	const char *wr[] = { accounts, NULL };
	mc_err e;

	int ll, sc;

	mc_sandbox_harden("mailcert-key");
	mc_store_area_path(cfg->store, MC_AREA_ACCOUNTS, NULL, accounts, sizeof accounts);
	/* uid 0 owns the account files; no capability is needed to use them */
	if (mc_sandbox_drop_caps(&e) < 0 || (ll = mc_sandbox_landlock(rd, wr, &e)) < 0 ||
	    (sc = mc_sandbox_seccomp(MC_SANDBOX_KEY, &e)) < 0)
		mc_fatal("key process: %s", e.msg);
	mc_debug("key process: no capabilities; landlock %s; seccomp %s", ll == 0 ? "on" : "not in this kernel",
		 sc == 0 ? "on" : "not built in");
}

void mc_keyproc_main(const mc_config *cfg, int *store_fds, size_t nstore, int *net_fds, size_t nnet)
{
	static const int from_net[] = { MC_MSG_JWK, MC_MSG_SIGN, MC_MSG_EAB, MC_MSG_NONE };
	static const int from_store[] = { MC_MSG_KEYGEN, MC_MSG_SELFSIGNED, MC_MSG_REUSE, MC_MSG_NONE };
	size_t i, n = nstore + nnet, open_store = 0;
	struct pollfd *pfd = mc_calloc(n + 1, sizeof *pfd);
	struct kp k = { cfg, NULL };

	sandbox(cfg);
	for (i = 0; i < n; i++) {
		pfd[i].fd = i < nstore ? store_fds[i] : net_fds[i - nstore];
		pfd[i].events = POLLIN;
		if (i < nstore && pfd[i].fd >= 0)
			open_store++;
	}
	while (open_store > 0) {
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			mc_fatal("key process: poll: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			int is_store = i < nstore, eof = 0, rc;
			mc_msg m;
			mc_err e;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			rc = mc_ipc_recv(pfd[i].fd, is_store ? "store" : "network", is_store ? from_store : from_net,
					 &m, &eof, &e);
			if (rc == 0)
				rc = is_store ? store_request(pfd[i].fd, &m) : net_request(&k, pfd[i].fd, &m);
			else if (!eof)
				mc_error("key process: %s", e.msg);
			mc_msg_cleanse(&m); /* a REUSE brings a host key */
			if (rc < 0) { /* gone, or not to be trusted any more */
				close(pfd[i].fd);
				pfd[i].fd = -1;
				if (is_store)
					open_store--;
			}
		}
	}
	EVP_PKEY_free(k.akey);
	free(pfd);
	_exit(0);
}
