/*
 * acme - RFC 8555 protocol steps on top of http.c and jws.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "acme.h"
#include "ari.h"
#include "b64url.h"
#include "fsutil.h"
#include "hostname.h"
#include "http01.h"
#include "timefmt.h"
#include "x509chk.h"
#include "storepath.h"

#define BADNONCE_RETRIES 25 /* Pebble rejects up to half of all nonces on request */
#define ERR_PREFIX "urn:ietf:params:acme:error:"
#define ERR_BADNONCE ERR_PREFIX "badNonce"
#define ERR_RATELIMITED ERR_PREFIX "rateLimited"
#define MAX_PROFILES_SHOWN 16
#define PEM_CHAIN "application/pem-certificate-chain"
#define MAX_ALTERNATES 8

/* ---- nonces ---- */

static void nonce_put(mc_acme *a, const char *nonce)
{
	if (!nonce || !*nonce)
		return;
	pthread_mutex_lock(&a->lock);
	if (a->nnonces < MC_NONCE_POOL)
		a->nonces[a->nnonces++] = mc_strdup(nonce);
	pthread_mutex_unlock(&a->lock);
}

static char *nonce_take(mc_acme_conn *c, mc_err *e)
{
	mc_acme *a = c->a;
	mc_http_resp r;
	char *n = NULL;

	pthread_mutex_lock(&a->lock);
	if (a->nnonces > 0)
		n = a->nonces[--a->nnonces];
	pthread_mutex_unlock(&a->lock);
	if (n)
		return n;
	mc_http_resp_init(&r);
	if (mc_http_request(&c->http, "HEAD", a->u_nonce, NULL, NULL, &r, e) == 0) {
		if (r.nonce && mc_b64url_valid(r.nonce, 512))
			n = r.nonce, r.nonce = NULL;
		else
			mc_err_set(e, "%s: no usable Replay-Nonce in the response (HTTP %ld)", a->u_nonce, r.status);
	}
	mc_http_resp_free(&r);
	return n;
}

/* ---- problem documents ---- */

char *mc_acme_problem(const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL), *subs, *sub;
	const char *type, *detail;
	mc_buf b;
	size_t i;

	if (!j)
		return NULL;
	type = json_string_value(json_object_get(j, "type"));
	detail = json_string_value(json_object_get(j, "detail"));
	if (!type) {
		json_decref(j);
		return NULL;
	}
	mc_buf_init(&b);
	mc_buf_printf(&b, "%s: %s", type, detail ? detail : "(no detail)");
	subs = json_object_get(j, "subproblems");
	json_array_foreach(subs, i, sub) {
		const char *st = json_string_value(json_object_get(sub, "type"));
		const char *sd = json_string_value(json_object_get(sub, "detail"));
		const char *id = json_string_value(json_object_get(json_object_get(sub, "identifier"), "value"));
		mc_buf_printf(&b, "; %s%s%s: %s", id ? id : "", id ? " " : "", st ? st : "?", sd ? sd : "");
	}
	json_decref(j);
	/* one line, no control characters from the server */
	for (i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
			b.data[i] = ' ';
	return mc_buf_steal(&b);
}

static int http_error(const char *url, mc_http_resp *r, mc_err *e)
{
	char *prob = mc_acme_problem(r->body.data ? r->body.data : "", r->body.len);
	int rc;

	if (prob)
		rc = mc_err_set(e, "%s", prob);
	else
		rc = mc_err_set(e, "%s: unexpected HTTP status %ld", url, r->status);
	free(prob);
	return rc;
}

/* a CA that answers 500, 502, 503 or 504 is asked again this many times */
#define SERVER_ERROR_RETRIES 2
/* ... after its Retry-After, at most this long, or after 1 s, then 2 s */
#define SERVER_ERROR_WAIT_MAX_S 10

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ROLLOVER: the body is the keyChange request the key process builds (PAYLOAD unused) */
static int post_signed(mc_acme_conn *c, const char *url, const char *payload, const char *accept, int rollover,
		       mc_http_resp *r, mc_err *e)
{
	int attempt, server_errors = 0;

	for (attempt = 0;; attempt++) {
		char *nonce = nonce_take(c, e), *jws, *prob;

		if (!nonce)
			return -1;
		jws = rollover ? c->a->ops->rollover(c->ctx, c->a->kid, nonce, url, e)
			       : c->a->ops->sign(c->ctx, c->a->kid, nonce, url, payload, e);
		free(nonce);
		if (!jws)
			return -1;
		if (mc_http_request(&c->http, "POST", url, jws, accept, r, e) < 0) {
			free(jws);
			return -1;
		}
		free(jws);
		nonce_put(c->a, r->nonce);
		if (r->status >= 200 && r->status < 300)
			return 0;
		prob = mc_acme_problem(r->body.data ? r->body.data : "", r->body.len);
		if (prob && strncmp(prob, ERR_BADNONCE ":", strlen(ERR_BADNONCE) + 1) == 0 &&
		    attempt < BADNONCE_RETRIES) {
			/* the fresh nonce from this answer is already in the pool */
			mc_debug("%s: badNonce, retrying with a fresh nonce (retry %d)", url, attempt + 1);
			free(prob);
			continue;
		}
		/* a passing trouble of the CA's (overload, a restart): a short wait, a few times */
		if (r->status >= 500 && r->status <= 504 && server_errors < SERVER_ERROR_RETRIES) {
			long ms = r->retry_after >= 0 ? (r->retry_after > SERVER_ERROR_WAIT_MAX_S ? SERVER_ERROR_WAIT_MAX_S
												 : r->retry_after) * 1000L
						      : 1000L << server_errors;

			server_errors++;
			mc_info("%s: the CA answered HTTP %ld%s%s; asking again in %ld ms (%d of %d)", url, r->status,
				prob ? ": " : "", prob ? prob : "", ms, server_errors, SERVER_ERROR_RETRIES);
			free(prob);
			pause_ms(ms);
			continue;
		}
		/* the store process waits at least this long before it tries again */
		if (prob && strncmp(prob, ERR_RATELIMITED ":", strlen(ERR_RATELIMITED) + 1) == 0)
			c->rate_limited = r->retry_after;
		free(prob);
		return http_error(url, r, e);
	}
}

int mc_acme_post(mc_acme_conn *c, const char *url, const char *payload, const char *accept,
		 mc_http_resp *r, mc_err *e)
{
	return post_signed(c, url, payload, accept, 0, r, e);
}

static json_t *body_json(mc_http_resp *r, const char *what, mc_err *e)
{
	json_error_t jerr;
	json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);

	if (!j || !json_is_object(j)) {
		json_decref(j);
		mc_err_set(e, "%s: the server's answer is not a JSON object", what);
		return NULL;
	}
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- directory and account ---- */

static char *dup_url(json_t *dir, const char *key)
{
	const char *v = jstr(dir, key);

	return v && strncmp(v, "https://", 8) == 0 ? mc_strdup(v) : NULL;
}

static int load_directory(mc_acme_conn *c, mc_err *e)
{
	mc_acme *a = c->a;
	mc_http_resp r;
	json_t *dir, *meta;
	int rc = -1;

	mc_http_resp_init(&r);
	if (mc_http_request(&c->http, "GET", a->dir_url, NULL, "application/json", &r, e) < 0)
		goto out;
	if (r.status != 200) {
		http_error(a->dir_url, &r, e);
		goto out;
	}
	dir = body_json(&r, a->dir_url, e);
	if (!dir)
		goto out;
	a->u_nonce = dup_url(dir, "newNonce");
	a->u_account = dup_url(dir, "newAccount");
	a->u_order = dup_url(dir, "newOrder");
	a->u_revoke = dup_url(dir, "revokeCert");
	a->u_keychange = dup_url(dir, "keyChange");
	a->u_renewal = dup_url(dir, "renewalInfo");
	meta = json_object_get(dir, "meta");
	if (jstr(meta, "termsOfService"))
		a->tos = mc_strdup(jstr(meta, "termsOfService"));
	a->eab_required = json_is_true(json_object_get(meta, "externalAccountRequired"));
	a->profiles = json_incref(json_object_get(meta, "profiles"));
	if (json_is_array(json_object_get(meta, "caaIdentities")))
		a->caa_identities = json_incref(json_object_get(meta, "caaIdentities"));
	json_decref(dir);
	if (!a->u_nonce || !a->u_account || !a->u_order) {
		mc_err_set(e, "%s: not an ACME directory (newNonce, newAccount or newOrder missing)", a->dir_url);
		goto out;
	}
	rc = 0;
out:
	mc_http_resp_free(&r);
	return rc;
}

void mc_acme_account_dir(const char *store, const char *dir_url, char *out, size_t outlen)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[17];
	int i;

	EVP_Digest(dir_url, strlen(dir_url), md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	mc_store_area_path(store, MC_AREA_ACCOUNTS, hex, out, outlen);
}

static int register_account(mc_acme_conn *c, mc_err *e)
{
	mc_acme *a = c->a;
	const mc_config *cfg = a->cfg;
	json_t *req = json_object();
	mc_http_resp r;
	char *payload;
	int rc = -1;

	if (a->only_existing) {
		json_object_set_new(req, "onlyReturnExisting", json_true());
		goto send;
	}
	json_object_set_new(req, "termsOfServiceAgreed", json_true());
	if (cfg->acme_email[0]) {
		char *mailto = mc_asprintf("mailto:%s", cfg->acme_email);
		json_object_set_new(req, "contact", json_pack("[s]", mailto));
		free(mailto);
	}
	if (a->have_eab) {
		char *eab = a->ops->eab(c->ctx, a->u_account, e);
		if (!eab) {
			json_decref(req);
			return -1;
		}
		json_object_set_new(req, "externalAccountBinding", json_loads(eab, 0, NULL));
		free(eab);
	} else if (a->eab_required) {
		json_decref(req);
		return mc_err_set(e, "%s requires external account binding: set acme.eab_kid and acme.eab_hmac_key", a->dir_url);
	}
send:
	payload = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	mc_http_resp_init(&r);
	if (mc_acme_post(c, a->u_account, payload, NULL, &r, e) < 0) {
		if (a->only_existing)
			mc_err_prefix(e, "looking up the account of this key at %s", a->dir_url);
		else if (a->have_eab) /* most likely the binding: say which, never the key */
			mc_err_prefix(e, "account registration at %s with external account binding (acme.eab_kid \"%s\") "
				      "failed; check acme.eab_kid and acme.eab_hmac_key", a->dir_url, cfg->acme_eab_kid);
		else
			mc_err_prefix(e, "account registration at %s", a->dir_url);
		goto out;
	}
	if (!r.location || strncmp(r.location, "https://", 8) != 0) {
		mc_err_set(e, "account registration at %s: no account URL in the answer", a->dir_url);
		goto out;
	}
	a->kid = mc_strdup(r.location);
	rc = a->ops->save_account(c->ctx, a->kid, cfg->acme_email, e);
out:
	free(payload);
	mc_http_resp_free(&r);
	return rc;
}

int mc_acme_open(mc_acme *a, const mc_config *cfg, const mc_acme_ops *ops, void *ctx, int flags,
		 mc_err *e)
{
	mc_acme_conn c;
	int rc;

	memset(a, 0, sizeof *a);
	a->cfg = cfg;
	a->ops = ops;
	a->have_eab = (flags & MC_ACME_EAB) != 0;
	a->only_existing = (flags & MC_ACME_EXISTING) != 0;
	a->dir_url = mc_strdup(cfg->acme_directory);
	a->poll_deadline_s = 300;
	pthread_mutex_init(&a->lock, NULL);
	if (mc_acme_conn_init(&c, a, ctx, e) < 0)
		return -1;
	rc = load_directory(&c, e);
	if (rc == 0 && !cfg->acme_agree_tos && !a->only_existing)
		rc = mc_err_set(e, "acme.agree_tos is false: read the CA's terms of service%s%s and set agree_tos = true before any certificate is ordered",
				a->tos ? " at " : "", a->tos ? a->tos : "");
	if (rc == 0) {
		a->thumbprint = ops->thumbprint(ctx, e);
		if (!a->thumbprint)
			rc = -1;
	}
	/* newAccount with an existing key returns that account: one request, always correct */
	if (rc == 0)
		rc = register_account(&c, e);
	mc_acme_conn_free(&c);
	return rc;
}

void mc_acme_close(mc_acme *a)
{
	size_t i;

	free(a->dir_url);
	free(a->u_nonce);
	free(a->u_account);
	free(a->u_order);
	free(a->u_revoke);
	free(a->u_keychange);
	free(a->u_renewal);
	free(a->tos);
	json_decref(a->profiles);
	json_decref(a->caa_identities);
	free(a->kid);
	free(a->thumbprint);
	for (i = 0; i < a->nnonces; i++)
		free(a->nonces[i]);
	pthread_mutex_destroy(&a->lock);
	memset(a, 0, sizeof *a);
}

int mc_acme_conn_init(mc_acme_conn *c, mc_acme *a, void *ctx, mc_err *e)
{
	c->a = a;
	c->ctx = ctx;
	c->rate_limited = -1;
	return mc_http_init(&c->http, a->cfg->acme_ca_bundle, e);
}

void mc_acme_conn_free(mc_acme_conn *c)
{
	mc_http_free(&c->http);
}

/* ---- the account itself ---- */

int mc_acme_account_parse(const char *body, size_t len, char **status, char **contact, mc_err *e)
{
	json_t *j = json_loadb(body, len, 0, NULL), *v;
	const char *st;
	mc_buf b;
	size_t i;

	if (!json_is_object(j)) {
		json_decref(j);
		return mc_err_set(e, "account: the server's answer is not a JSON object");
	}
	st = jstr(j, "status");
	if (!st || !*st || strlen(st) > 64) {
		json_decref(j);
		return mc_err_set(e, "account: no usable status in the CA's answer");
	}
	*status = mc_strdup(st);
	mc_buf_init(&b);
	json_array_foreach(json_object_get(j, "contact"), i, v) {
		if (json_is_string(v) && b.len + json_string_length(v) < 2048)
			mc_buf_printf(&b, "%s%s", b.len ? ", " : "", json_string_value(v));
	}
	*contact = b.data ? mc_buf_steal(&b) : mc_strdup("");
	mc_buf_free(&b);
	json_decref(j);
	/* one line, no control characters from the server */
	for (i = 0; (*status)[i]; i++)
		if ((unsigned char)(*status)[i] < 0x20 || (*status)[i] == 0x7f)
			(*status)[i] = ' ';
	for (i = 0; (*contact)[i]; i++)
		if ((unsigned char)(*contact)[i] < 0x20 || (*contact)[i] == 0x7f)
			(*contact)[i] = ' ';
	return 0;
}

static int account_post(mc_acme_conn *c, const char *payload, char **status, char **contact, mc_err *e)
{
	mc_http_resp r;
	int rc;

	if (!c->a->kid)
		return mc_err_set(e, "no account");
	mc_http_resp_init(&r);
	rc = mc_acme_post(c, c->a->kid, payload, NULL, &r, e);
	if (rc == 0)
		rc = mc_acme_account_parse(r.body.data ? r.body.data : "", r.body.len, status, contact, e);
	mc_http_resp_free(&r);
	return rc;
}

int mc_acme_account_get(mc_acme_conn *c, char **status, char **contact, mc_err *e)
{
	return account_post(c, NULL, status, contact, e);
}

int mc_acme_account_deactivate(mc_acme_conn *c, char **status, char **contact, mc_err *e)
{
	return account_post(c, "{\"status\":\"deactivated\"}", status, contact, e);
}

int mc_acme_key_change(mc_acme_conn *c, mc_err *e)
{
	mc_http_resp r;
	int rc;

	if (!c->a->u_keychange)
		return mc_err_set(e, "%s offers no keyChange: the account key cannot be changed", c->a->dir_url);
	if (!c->a->kid || !c->a->ops->rollover)
		return mc_err_set(e, "no account");
	mc_http_resp_init(&r);
	rc = post_signed(c, c->a->u_keychange, NULL, NULL, 1, &r, e);
	mc_http_resp_free(&r);
	return rc;
}

int mc_acme_revoke(mc_acme_conn *c, const char *der_b64, int reason, mc_err *e)
{
	mc_http_resp r;
	char *payload;
	int rc;

	if (!c->a->u_revoke)
		return mc_err_set(e, "%s offers no revokeCert", c->a->dir_url);
	if (!mc_b64url_valid(der_b64, 65536) || !*der_b64)
		return mc_err_set(e, "malformed certificate");
	if (reason >= 0)
		payload = mc_asprintf("{\"certificate\":\"%s\",\"reason\":%d}", der_b64, reason);
	else
		payload = mc_asprintf("{\"certificate\":\"%s\"}", der_b64);
	mc_http_resp_init(&r);
	rc = mc_acme_post(c, c->a->u_revoke, payload, NULL, &r, e);
	mc_http_resp_free(&r);
	free(payload);
	return rc;
}

/* ---- polling ---- */


/*
 * POST-as-GET URL until its "status" is not one of PENDING (space separated);
 * honours Retry-After, otherwise backs off from 100 ms to 2 s, under the
 * overall deadline.  Returns the final object.
 */
/* is STATUS one of the space-separated words in LIST? */
static int status_in(const char *status, const char *list)
{
	size_t n = strlen(status);

	while (*list) {
		size_t w = strcspn(list, " ");
		if (w == n && strncmp(list, status, n) == 0)
			return 1;
		list += w;
		list += strspn(list, " ");
	}
	return 0;
}

/*
 * POST-as-GET URL until its "status" is not one of PENDING (space separated);
 * honours Retry-After, otherwise backs off from 100 ms to 2 s, under the
 * overall deadline.  Returns the final object.
 */
static json_t *poll_status(mc_acme_conn *c, const char *url, const char *pending, const char *what,
			   mc_err *e)
{
	long deadline = mc_mono_ms() + c->a->poll_deadline_s * 1000L, wait = 100;
	mc_http_resp r;
	json_t *j = NULL;

	mc_http_resp_init(&r);
	for (;;) {
		const char *st;
		long next, left;

		if (mc_acme_post(c, url, NULL, NULL, &r, e) < 0)
			break;
		j = body_json(&r, what, e);
		if (!j)
			break;
		st = jstr(j, "status");
		if (!st) {
			mc_err_set(e, "%s: no status in the server's answer", what);
			json_decref(j);
			j = NULL;
			break;
		}
		if (!status_in(st, pending))
			break; /* final */
		next = r.retry_after >= 0 ? r.retry_after * 1000L : wait;
		left = deadline - mc_mono_ms();
		if (next > 60000)
			next = 60000;
		if (left <= 0 || next > left) {
			/* ST lives in J: report before letting go of it */
			mc_err_set(e, "%s: still %s after %ld s", what, st, c->a->poll_deadline_s);
			json_decref(j);
			j = NULL;
			break;
		}
		mc_debug("%s: %s, polling again in %ld ms", what, st, next);
		json_decref(j);
		j = NULL;
		pause_ms(next);
		wait = wait * 3 / 2 > 2000 ? 2000 : wait * 3 / 2;
	}
	mc_http_resp_free(&r);
	return j;
}

/* ---- challenges ---- */

struct pending_chal {
	char *authz_url;
	char *chal_url;
	char *token;
	char *identifier;   /* as in the authorization: no "*." */
	int wildcard;
	mc_challenge type;
	int provisioned;
};

static void chal_free(struct pending_chal *p)
{
	free(p->authz_url);
	free(p->chal_url);
	free(p->token);
	free(p->identifier);
}

static const char *chal_type_name(mc_challenge t)
{
	return t == MC_CHAL_DNS01 ? "dns-01" : t == MC_CHAL_TLSALPN01 ? "tls-alpn-01" : "http-01";
}

static int provision(mc_acme_conn *c, struct pending_chal *p, mc_err *e)
{
	char *keyauth = mc_asprintf("%s.%s", p->token, c->a->thumbprint);
	int rc;

	/* removed again even if the provisioning failed half-way (a hook's record) */
	p->provisioned = 1;
	rc = c->a->ops->provision(c->ctx, p->type, p->identifier, p->token, keyauth, e);
	free(keyauth);
	return rc;
}

static void deprovision(mc_acme_conn *c, struct pending_chal *p)
{
	if (!p->provisioned)
		return;
	p->provisioned = 0;
	c->a->ops->deprovision(c->ctx, p->type, p->identifier, p->token);
}

/* pick our challenge from a pending authorization */
static int choose_challenge(json_t *authz, const char *authz_url, mc_challenge type,
			    struct pending_chal *p, mc_err *e)
{
	json_t *chals = json_object_get(authz, "challenges"), *ch;
	json_t *id = json_object_get(authz, "identifier");
	const char *want = chal_type_name(type), *value = jstr(id, "value");
	char norm[MC_HOSTNAME_MAX + 1];
	size_t i;

	if (!value || mc_hostname_check(value, 0, norm, e) < 0)
		return mc_err_set(e, "%s: authorization has no valid identifier", authz_url);
	json_array_foreach(chals, i, ch) {
		const char *t = jstr(ch, "type"), *url = jstr(ch, "url"), *token = jstr(ch, "token");

		if (!t || strcmp(t, want) != 0)
			continue;
		if (!url || strncmp(url, "https://", 8) != 0)
			return mc_err_set(e, "%s: %s challenge without a usable URL", norm, want);
		if (!token || !mc_b64url_valid(token, MC_TOKEN_MAX) || strlen(token) < 16)
			return mc_err_set(e, "%s: refusing a malformed %s token from the server", norm, want);
		p->authz_url = mc_strdup(authz_url);
		p->chal_url = mc_strdup(url);
		p->token = mc_strdup(token);
		p->identifier = mc_strdup(norm);
		p->wildcard = json_is_true(json_object_get(authz, "wildcard"));
		p->type = type;
		return 0;
	}
	return mc_err_set(e, "%s: the CA offers no %s challenge", norm, want);
}

/* the reason a failed authorization gives, from its challenges */
static void authz_failure(json_t *authz, const char *ident, mc_err *e)
{
	json_t *chals = json_object_get(authz, "challenges"), *ch;
	size_t i;

	json_array_foreach(chals, i, ch) {
		json_t *err = json_object_get(ch, "error");
		if (err) {
			char *s = json_dumps(err, JSON_COMPACT);
			char *prob = mc_acme_problem(s, strlen(s));
			mc_err_set(e, "%s: %s validation failed: %s", ident, jstr(ch, "type") ? jstr(ch, "type") : "?",
				   prob ? prob : s);
			free(prob);
			free(s);
			return;
		}
	}
	mc_err_set(e, "%s: authorization is %s", ident, jstr(authz, "status") ? jstr(authz, "status") : "?");
}

/*
 * The authorization must be for one of the names this order asked for
 * (a wildcard authorization names the base domain, with "wildcard": true):
 * otherwise a CA (or whoever answers in its name) could have a hook or a
 * responder act for a name nobody configured.
 */
static int authz_for_order(json_t *authz, const char *url, char *const *names, size_t nnames, mc_err *e)
{
	json_t *id = json_object_get(authz, "identifier");
	const char *type = jstr(id, "type"), *value = jstr(id, "value");
	int wildcard = json_is_true(json_object_get(authz, "wildcard"));
	char norm[MC_HOSTNAME_MAX + 1], want[MC_HOSTNAME_MAX + 3];
	size_t i;
	mc_err ignored;

	if (!type || strcmp(type, "dns") != 0 || !value || mc_hostname_check(value, 0, norm, &ignored) < 0 ||
	    norm[0] == '*')
		return mc_err_set(e, "%s: refusing an authorization without a valid DNS identifier", url);
	snprintf(want, sizeof want, "%s%s", wildcard ? "*." : "", norm);
	for (i = 0; i < nnames; i++)
		if (strcasecmp(names[i], want) == 0)
			return 0;
	return mc_err_set(e, "refusing an authorization for %s from the CA: the order did not ask for that name (%s)",
			  want, url);
}

static int authorize(mc_acme_conn *c, char *const *names, size_t nnames, json_t *authzs,
		     mc_challenge type, mc_err *e)
{
	size_t i, n = json_array_size(authzs), np = 0;
	struct pending_chal *pend = mc_calloc(n ? n : 1, sizeof *pend);
	mc_http_resp r;
	json_t *v;
	int rc = 0;

	mc_http_resp_init(&r);
	/* fetch every authorization, provision and trigger each pending challenge */
	json_array_foreach(authzs, i, v) {
		const char *url = json_string_value(v), *st;
		json_t *authz;

		if (!url || strncmp(url, "https://", 8) != 0) {
			rc = mc_err_set(e, "order lists an authorization without a usable URL");
			break;
		}
		if (mc_acme_post(c, url, NULL, NULL, &r, e) < 0) {
			rc = -1;
			break;
		}
		authz = body_json(&r, url, e);
		if (!authz) {
			rc = -1;
			break;
		}
		if (authz_for_order(authz, url, names, nnames, e) < 0) {
			json_decref(authz);
			rc = -1;
			break;
		}
		st = jstr(authz, "status");
		if (st && strcmp(st, "valid") == 0) {
			json_decref(authz);
			continue;
		}
		if (!st || strcmp(st, "pending") != 0) {
			const char *ident = jstr(json_object_get(authz, "identifier"), "value");

			authz_failure(authz, ident ? ident : url, e);
			json_decref(authz);
			rc = -1;
			break;
		}
		rc = choose_challenge(authz, url, type, &pend[np], e);
		json_decref(authz);
		if (rc < 0)
			break;
		np++;
		rc = provision(c, &pend[np - 1], e);
		if (rc < 0)
			break;
		if (mc_acme_post(c, pend[np - 1].chal_url, "{}", NULL, &r, e) < 0) {
			mc_err_prefix(e, "%s: answering the %s challenge", pend[np - 1].identifier,
				      chal_type_name(type));
			rc = -1;
			break;
		}
	}
	/* wait for each to become valid */
	for (i = 0; rc == 0 && i < np; i++) {
		json_t *authz = poll_status(c, pend[i].authz_url, "pending processing", pend[i].identifier, e);
		const char *st;

		if (!authz) {
			rc = -1;
			break;
		}
		st = jstr(authz, "status");
		if (strcmp(st, "valid") != 0) {
			authz_failure(authz, pend[i].identifier, e);
			rc = -1;
		}
		/* a failed validation counts against the CA's limits: the store process keeps the count */
		if (strcmp(st, "invalid") == 0 && c->a->ops->invalid) {
			char *name = mc_asprintf("%s%s", pend[i].wildcard ? "*." : "", pend[i].identifier);
			c->a->ops->invalid(c->ctx, name);
			free(name);
		}
		json_decref(authz);
	}
	for (i = 0; i < np; i++) {
		deprovision(c, &pend[i]);
		chal_free(&pend[i]);
	}
	free(pend);
	mc_http_resp_free(&r);
	return rc;
}

/* ---- certificate download and chain choice ---- */

static int chain_matches(STACK_OF(X509) *chain, const char *preferred)
{
	int i;

	/* from the top of the chain down: the root-most issuer is what operators name */
	for (i = sk_X509_num(chain) - 1; i >= 0; i--) {
		mc_certinfo ci;
		if (mc_cert_info(sk_X509_value(chain, i), &ci) == 0 && strcmp(ci.issuer_cn, preferred) == 0)
			return 1;
	}
	return 0;
}

/*
 * An expired cross-sign at the top of an otherwise good chain (as CAs have
 * served for old clients) is dropped rather than failing the whole set;
 * the leaf and its issuer are always kept and checked.
 */
static void trim_expired_top(STACK_OF(X509) *chain)
{
	time_t now = mc_now();

	while (sk_X509_num(chain) > 2) {
		X509 *top = sk_X509_value(chain, sk_X509_num(chain) - 1);
		mc_certinfo ci;

		if (mc_cert_info(top, &ci) < 0 || now < ci.not_after)
			break;
		mc_info("dropping the expired certificate %s from the top of the chain", ci.subject);
		X509_free(sk_X509_pop(chain));
	}
}

static int download_chain(mc_acme_conn *c, const char *url, STACK_OF(X509) **chain,
			  char ***alternates, mc_err *e)
{
	mc_http_resp r;
	int rc;

	mc_http_resp_init(&r);
	rc = mc_acme_post(c, url, NULL, PEM_CHAIN, &r, e);
	if (rc == 0 && mc_pem_read_certs(r.body.data ? r.body.data : "", r.body.len, chain, e) < 0)
		rc = mc_err_prefix(e, "certificate from %s", url);
	if (rc == 0 && sk_X509_num(*chain) < 2) {
		rc = mc_err_set(e, "certificate from %s: the CA sent no intermediate certificate", url);
		sk_X509_pop_free(*chain, X509_free);
		*chain = NULL;
	} else if (rc == 0) {
		trim_expired_top(*chain);
	}
	if (rc == 0 && alternates) {
		*alternates = r.alternates;
		r.alternates = NULL;
		r.nalternates = 0;
	}
	mc_http_resp_free(&r);
	return rc;
}

static int fetch_certificate(mc_acme_conn *c, const char *host, const char *url,
			     STACK_OF(X509) **chain, mc_err *e)
{
	const char *pref = c->a->cfg->acme_preferred_chain;
	char **alts = NULL;
	size_t i;

	if (download_chain(c, url, chain, &alts, e) < 0)
		return -1;
	if (pref[0] && !chain_matches(*chain, pref)) {
		/* a handful at most: a server can list any number */
		for (i = 0; alts && alts[i] && i < MAX_ALTERNATES; i++) {
			STACK_OF(X509) *alt = NULL;
			mc_err ae;

			if (strncmp(alts[i], "https://", 8) != 0)
				continue;
			if (download_chain(c, alts[i], &alt, NULL, &ae) < 0) {
				mc_warn("%s: alternate chain %s: %s", host, alts[i], ae.msg);
				continue;
			}
			if (chain_matches(alt, pref)) {
				sk_X509_pop_free(*chain, X509_free);
				*chain = alt;
				mc_debug("%s: using the alternate chain issued by \"%s\"", host, pref);
				break;
			}
			sk_X509_pop_free(alt, X509_free);
		}
		if (!alts || !alts[i] || i >= MAX_ALTERNATES)
			mc_info("%s: no chain issued by \"%s\" offered; using the default chain", host, pref);
	}
	mc_strv_free(alts);
	return 0;
}

/* ---- profiles ---- */

/* a profile name worth showing in an error: short, no punctuation from the server */
static int profile_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* acme.profile must be a key of the directory's meta.profiles */
static int check_profile(mc_acme *a, mc_err *e)
{
	const char *want = a->cfg->acme_profile, *k;
	json_t *v;
	mc_buf b;
	size_t shown = 0;

	if (!want[0] || (json_is_object(a->profiles) && json_object_get(a->profiles, want)))
		return 0;
	mc_buf_init(&b);
	if (json_is_object(a->profiles)) {
		json_object_foreach(a->profiles, k, v) {
			if (!profile_name_ok(k))
				continue;
			if (shown++ == MAX_PROFILES_SHOWN) {
				mc_buf_printf(&b, ", ...");
				break;
			}
			mc_buf_printf(&b, "%s%s", shown > 1 ? ", " : "", k);
		}
	}
	if (shown)
		mc_err_set(e, "acme.profile \"%s\" is not offered by %s (it offers: %s); no order placed", want,
			   a->dir_url, b.data);
	else
		mc_err_set(e, "acme.profile \"%s\" is not offered by %s (it offers no profiles); no order placed",
			   want, a->dir_url);
	mc_buf_free(&b);
	return -1;
}

/* ---- renewal information (RFC 9773) ---- */

int mc_acme_renewal_info(mc_acme_conn *c, const char *certid, struct mc_ari_info *info, long *retry_after,
			 mc_err *e)
{
	const char *base = c->a->u_renewal;
	mc_http_resp r;
	char *url;
	size_t n;
	int rc = -1;

	if (!base)
		return 1;
	if (!mc_ari_cert_id_valid(certid))
		return mc_err_set(e, "malformed certificate identifier");
	n = strlen(base);
	url = mc_asprintf("%.*s/%s", (int)(n > 0 && base[n - 1] == '/' ? n - 1 : n), base, certid);
	mc_http_resp_init(&r);
	if (mc_http_request(&c->http, "GET", url, NULL, "application/json", &r, e) < 0)
		goto out;
	if (r.status != 200) {
		http_error(url, &r, e);
		goto out;
	}
	if (mc_ari_parse(r.body.data, r.body.len, info, e) < 0)
		goto out;
	*retry_after = r.retry_after;
	rc = 0;
out:
	mc_http_resp_free(&r);
	free(url);
	return rc;
}

/* ---- the order ---- */

/* a CA that will not take REPLACES: the certificate was replaced already, or it
 * does not know it (RFC 9773 section 5 names alreadyReplaced, malformed and 409).
 * Others say it otherwise: Pebble 2.6 answers 500 serverInternal "could not find an
 * order for the given certificate".  Any problem answer to an order that named a
 * certificate is worth one order without it: a renewal must not hang on a hint */
static int replaces_refused(const mc_http_resp *r, const mc_err *e)
{
	return r->status >= 400 || strncmp(e->msg, ERR_PREFIX, strlen(ERR_PREFIX)) == 0;
}

static int new_order(mc_acme_conn *c, char *const *names, size_t nnames, const char *replaces,
		     mc_http_resp *r, mc_err *e)
{
	json_t *req = json_object(), *ids = json_array();
	char *payload;
	size_t i;
	int rc;

	for (i = 0; i < nnames; i++)
		json_array_append_new(ids, json_pack("{s:s,s:s}", "type", "dns", "value", names[i]));
	json_object_set_new(req, "identifiers", ids);
	if (c->a->cfg->acme_profile[0])
		json_object_set_new(req, "profile", json_string(c->a->cfg->acme_profile));
	if (replaces)
		json_object_set_new(req, "replaces", json_string(replaces));
	payload = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	rc = mc_acme_post(c, c->a->u_order, payload, NULL, r, e);
	free(payload);
	return rc;
}

int mc_acme_issue(mc_acme_conn *c, const char *host, char *const *names, size_t nnames,
		  mc_challenge challenge, const char *csr_b64, const char *replaces, STACK_OF(X509) **chain,
		  char **cert_url, mc_err *e)
{
	json_t *order = NULL, *fin = NULL;
	const char *st, *finalize, *certurl;
	char *order_url = NULL;
	mc_http_resp r;
	int rc = -1;

	c->rate_limited = -1;
	if (check_profile(c->a, e) < 0)
		return -1;
	/* "replaces" is part of renewal information: only to a CA that offers it */
	if (replaces && (!*replaces || !mc_ari_cert_id_valid(replaces) || !c->a->u_renewal))
		replaces = NULL;
	mc_http_resp_init(&r);
	rc = new_order(c, names, nnames, replaces, &r, e);
	if (rc < 0 && replaces && replaces_refused(&r, e)) {
		mc_warn("%s: the CA refused \"replaces\" (%s); ordering again without it", host, e->msg);
		mc_http_resp_free(&r);
		mc_http_resp_init(&r);
		rc = new_order(c, names, nnames, NULL, &r, e);
	}
	if (rc < 0) {
		rc = -1;
		mc_err_prefix(e, "new order");
		goto out;
	}
	rc = -1;
	if (!r.location || strncmp(r.location, "https://", 8) != 0) {
		mc_err_set(e, "new order: no order URL in the answer");
		goto out;
	}
	order_url = mc_strdup(r.location);
	order = body_json(&r, "new order", e);
	if (!order)
		goto out;
	st = jstr(order, "status");
	if (!st || strcmp(st, "invalid") == 0) {
		mc_err_set(e, "new order is %s", st ? st : "without status");
		goto out;
	}
	if (strcmp(st, "pending") == 0 &&
	    authorize(c, names, nnames, json_object_get(order, "authorizations"), challenge, e) < 0)
		goto out;
	finalize = jstr(order, "finalize");
	if (!finalize || strncmp(finalize, "https://", 8) != 0) {
		mc_err_set(e, "order has no usable finalize URL");
		goto out;
	}
	/* wait for "ready" (authorizations settle asynchronously on some CAs) */
	json_decref(fin);
	fin = poll_status(c, order_url, "pending", "order", e);
	if (!fin)
		goto out;
	st = jstr(fin, "status");
	if (strcmp(st, "ready") == 0) {
		char *body;
		body = mc_asprintf("{\"csr\":\"%s\"}", csr_b64);
		rc = mc_acme_post(c, finalize, body, NULL, &r, e);
		free(body);
		if (rc < 0) {
			mc_err_prefix(e, "finalize");
			goto out;
		}
		rc = -1;
		json_decref(fin);
		fin = poll_status(c, order_url, "ready processing", "order", e);
		if (!fin)
			goto out;
		st = jstr(fin, "status");
	}
	if (strcmp(st, "valid") != 0) {
		json_t *err = json_object_get(fin, "error");
		char *s = err ? json_dumps(err, JSON_COMPACT) : NULL;
		char *prob = s ? mc_acme_problem(s, strlen(s)) : NULL;
		mc_err_set(e, "order is %s%s%s", st, prob ? ": " : "", prob ? prob : "");
		free(prob);
		free(s);
		goto out;
	}
	certurl = jstr(fin, "certificate");
	if (!certurl || strncmp(certurl, "https://", 8) != 0) {
		mc_err_set(e, "valid order without a usable certificate URL");
		goto out;
	}
	if (fetch_certificate(c, host, certurl, chain, e) < 0)
		goto out;
	*cert_url = mc_strdup(certurl);
	rc = 0;
out:
	free(order_url);
	json_decref(order);
	json_decref(fin);
	mc_http_resp_free(&r);
	return rc;
}
