/*
 * keyproc - one poll(2) loop over the store's and the network process's
 * sockets; every request is checked before a key is touched.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
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
	EVP_PKEY *next;  /* a rollover's next account key, once made (also in key.pem.next) */
};

/* a deactivated account (account.json says so) signs nothing more */
static int deactivated(const char *dir, mc_err *e)
{
	char path[4200];
	json_t *j;
	const char *st;
	int rc = 0;

	mc_pathf(path, sizeof path, "%s/account.json", dir);
	j = json_load_file(path, 0, NULL);
	st = json_string_value(json_object_get(j, "status"));
	if (st && strcmp(st, "deactivated") == 0)
		rc = mc_err_set(e, "the ACME account %s for %s was deactivated (mailcert account deactivate): no "
				"request is signed with its key; to register a new account, remove %s (as root: "
				"rm -r %s) and run mailcert issue again",
				json_string_value(json_object_get(j, "url")) ? json_string_value(json_object_get(j, "url"))
									      : "",
				json_string_value(json_object_get(j, "directory")) ? json_string_value(json_object_get(j, "directory"))
										    : "this directory",
				dir, dir);
	json_decref(j);
	return rc;
}


static int account_key(struct kp *k, mc_err *e)
{
	char dir[4096], path[4200];
	mc_buf b;
	int rc;

	if (k->akey)
		return 0;
	mc_acme_account_dir(k->cfg->store, k->cfg->acme_directory, dir, sizeof dir);
	if (deactivated(dir, e) < 0)
		return -1;
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

static int reply_err(int fd, const char *peer, const char *msg)
{
	mc_err e;

	return mc_ipc_sendl(fd, peer, &e, MC_MSG_ERR, msg, NULL);
}

/* ec256 ... rsa4096: the type of KEY, for a next key of the same kind */
static const char *key_type(EVP_PKEY *key)
{
	int bits = EVP_PKEY_get_bits(key);

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC)
		return bits == 384 ? "ec384" : "ec256";
	return bits >= 4096 ? "rsa4096" : bits >= 3072 ? "rsa3072" : "rsa2048";
}

/*
 * The keyChange request (RFC 8555 section 7.3.5) for account KID at URL: the
 * inner JWS (the next key's JWK, no nonce) over {account, oldKey}, signed by
 * the next key, as the payload of the outer one signed by the current key.
 * The next key is made once and written to key.pem.next before anything is
 * signed with it: if the CA takes the change, the new key is on disk.
 */
static char *rollover_sign(struct kp *k, const char *kid, const char *nonce, const char *url, mc_err *e)
{
	char dir[4096], path[4200], *oldjwk, *payload, *inner, *out;
	json_t *req;
	mc_buf b;
	int rc;

	mc_acme_account_dir(k->cfg->store, k->cfg->acme_directory, dir, sizeof dir);
	if (!k->next) {
		mc_pathf(path, sizeof path, "%s/key.pem.next", dir);
		if (access(path, F_OK) == 0) {
			mc_err_set(e, "%s is left from a key change that did not finish: if the CA refuses the key in "
				   "key.pem (mailcert account fails), it took the change: as root, mv %s %s/key.pem; "
				   "otherwise remove %s", path, path, dir, path);
			return NULL;
		}
		if (mc_key_generate(key_type(k->akey), &k->next, e) < 0)
			return NULL;
		mc_buf_init(&b);
		mc_pem_append_key(&b, k->next);
		rc = mc_file_write_atomic(dir, "key.pem.next", b.data, b.len, 0600, (gid_t)-1, e);
		mc_buf_cleanse(&b);
		if (rc < 0) {
			EVP_PKEY_free(k->next);
			k->next = NULL;
			mc_err_prefix(e, "writing the next account key");
			return NULL;
		}
	}
	oldjwk = mc_jwk_json(k->akey, e);
	if (!oldjwk)
		return NULL;
	req = json_object();
	json_object_set_new(req, "account", json_string(kid));
	json_object_set_new(req, "oldKey", json_loads(oldjwk, 0, NULL));
	payload = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	free(oldjwk);
	inner = payload ? mc_jws_sign(k->next, NULL, NULL, url, payload, e) : NULL;
	out = inner ? mc_jws_sign(k->akey, kid, nonce, url, inner, e) : NULL;
	free(payload);
	free(inner);
	return out;
}

/* the store process's word on a key change: the CA took it (commit), refused it (abort), all done (finish) */
static int rollover_end(struct kp *k, int fd, const char *what)
{
	char dir[4096], path[4200], next[4200];
	mc_buf b;
	mc_err e;
	int rc;

	mc_acme_account_dir(k->cfg->store, k->cfg->acme_directory, dir, sizeof dir);
	mc_pathf(path, sizeof path, "%s/key.pem.old", dir);
	mc_pathf(next, sizeof next, "%s/key.pem.next", dir);
	if (strcmp(what, "finish") == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			return reply_err(fd, "store", "cannot remove key.pem.old");
		return mc_ipc_sendl(fd, "store", &e, MC_MSG_OK, NULL);
	}
	if (strcmp(what, "abort") == 0 && !k->next) /* nothing made: a key.pem.next on disk is not ours */
		return mc_ipc_sendl(fd, "store", &e, MC_MSG_OK, NULL);
	if (!k->next || !k->akey)
		return reply_err(fd, "store", "no key change under way");
	if (strcmp(what, "abort") == 0) {
		EVP_PKEY_free(k->next);
		k->next = NULL;
		if (unlink(next) < 0 && errno != ENOENT)
			return reply_err(fd, "store", "cannot remove key.pem.next");
		return mc_ipc_sendl(fd, "store", &e, MC_MSG_OK, NULL);
	}
	if (strcmp(what, "commit") != 0)
		return reply_err(fd, "store", "unknown key change step");
	/* the old key stays beside it until the new one has been seen to work */
	mc_buf_init(&b);
	mc_pem_append_key(&b, k->akey);
	rc = mc_file_write_atomic(dir, "key.pem.old", b.data, b.len, 0600, (gid_t)-1, &e);
	mc_buf_cleanse(&b);
#ifdef MAILCERT_TEST_HOOKS
	/* a test build: what an operator sees when the switch fails after the CA took the key */
	if (rc == 0 && getenv("MAILCERT_TEST_FAIL_KEY_SWITCH"))
		rc = mc_err_set(&e, "MAILCERT_TEST_FAIL_KEY_SWITCH is set");
#endif
	if (rc == 0) {
		mc_pem_append_key(&b, k->next);
		rc = mc_file_write_atomic(dir, "key.pem", b.data, b.len, 0600, (gid_t)-1, &e);
		mc_buf_cleanse(&b);
	}
	if (rc < 0) {
		char *msg = mc_asprintf("the CA accepted the new account key, but it could not be made the "
					"account key (%s): the new key is in %s and the old key no longer works; as "
					"root, run: mv %s %s/key.pem", e.msg, next, next, dir);
		if (strlen(msg) >= MC_MSG_FIELD_MAX)
			msg[MC_MSG_FIELD_MAX - 1] = '\0';
		rc = reply_err(fd, "store", msg);
		free(msg);
		return rc;
	}
	if (unlink(next) < 0 && errno != ENOENT)
		mc_warn("cannot remove %s: %s", next, strerror(errno));
	EVP_PKEY_free(k->akey);
	k->akey = k->next;
	k->next = NULL;
	return mc_ipc_sendl(fd, "store", &e, MC_MSG_OK, NULL);
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
	case MC_MSG_ROLLOVER:
		if (!mc_ipc_https_url(m->f[0]) || !mc_b64url_valid(m->f[1], 512) || !m->f[1][0] ||
		    !mc_ipc_https_url(m->f[2]))
			return reply_err(fd, "network", "refusing to sign a malformed key change");
		out = rollover_sign(k, m->f[0], m->f[1], m->f[2], &e);
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

static int store_request(struct kp *k, int fd, const mc_msg *m)
{
	size_t first = m->type == MC_MSG_KEYGEN ? 1 : 2;
	int reuse = m->type == MC_MSG_REUSE, selfsigned = m->type == MC_MSG_SELFSIGNED || (reuse && m->f[1][0]);
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	mc_buf pem, out;
	char *csr = NULL;
	mc_err e;
	int rc = -1, days = 0;

	if (m->type == MC_MSG_ROLLOVER_END)
		return rollover_end(k, fd, m->f[0]);
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
	static const int from_net[] = { MC_MSG_JWK, MC_MSG_SIGN, MC_MSG_EAB, MC_MSG_ROLLOVER, MC_MSG_NONE };
	static const int from_store[] = { MC_MSG_KEYGEN, MC_MSG_SELFSIGNED, MC_MSG_REUSE, MC_MSG_ROLLOVER_END,
					  MC_MSG_NONE };
	size_t i, n = nstore + nnet, open_store = 0;
	struct pollfd *pfd = mc_calloc(n + 1, sizeof *pfd);
	struct kp k = { cfg, NULL, NULL };

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
				rc = is_store ? store_request(&k, pfd[i].fd, &m) : net_request(&k, pfd[i].fd, &m);
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
	EVP_PKEY_free(k.next);
	free(pfd);
	_exit(0);
}
