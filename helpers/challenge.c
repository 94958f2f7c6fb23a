/*
 * challenge - the store process's challenge transports, behind one check of
 * what the network process asked for.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "b64url.h"
#include "challenge.h"
#include "dns01.h"
#include "dnsfile.h"
#include "dnscheck.h"
#include "hostname.h"
#include "xalloc.h"

struct mc_chal {
	mc_challenge type;
	char *identifier;
	char *token;
	char *txt_name;
	char *txt_value;
};

static int type_of(const char *name, mc_challenge *t)
{
	if (strcmp(name, "http-01") == 0)
		*t = MC_CHAL_HTTP01;
	else if (strcmp(name, "dns-01") == 0)
		*t = MC_CHAL_DNS01;
	else if (strcmp(name, "tls-alpn-01") == 0)
		*t = MC_CHAL_TLSALPN01;
	else
		return -1;
	return 0;
}

/* IDENTIFIER (no "*.") is one of H's names, or the base of one of its wildcards */
static int host_has(const mc_host *h, const char *identifier)
{
	size_t i;

	for (i = 0; i < h->nnames; i++) {
		const char *n = h->names[i];
		if (strncmp(n, "*.", 2) == 0)
			n += 2;
		if (strcasecmp(n, identifier) == 0)
			return 1;
	}
	return 0;
}

static int check(const mc_chal_set *s, const char *type, const char *identifier, const char *token,
		 const char *keyauth, mc_challenge *t, mc_err *e)
{
	char norm[MC_HOSTNAME_MAX + 1];
	size_t tl = strlen(token);

	if (type_of(type, t) < 0 || *t != s->host->challenge)
		return mc_err_set(e, "refusing a %.20s challenge: %s is configured for another", type,
				  s->host->name);
	if (mc_hostname_check(identifier, 0, norm, e) < 0 || strcmp(norm, identifier) != 0 ||
	    !host_has(s->host, identifier))
		return mc_err_set(e, "refusing a challenge for a name %s does not have", s->host->name);
	if (tl < 16 || !mc_b64url_valid(token, MC_TOKEN_MAX))
		return mc_err_set(e, "%s: refusing a malformed challenge token", identifier);
	if (keyauth && (strncmp(keyauth, token, tl) != 0 || keyauth[tl] != '.' || strlen(keyauth + tl + 1) != 43 ||
			!mc_b64url_valid(keyauth + tl + 1, 43)))
		return mc_err_set(e, "%s: refusing a malformed key authorization", identifier);
	return 0;
}

void mc_chal_set_init(mc_chal_set *s, const mc_host *h)
{
	memset(s, 0, sizeof *s);
	s->host = h;
}

/*
 * dns01.challenge_file: list the record in the file, then wait until the
 * resolver answers with it (the operator's utility publishes it); there is
 * no other way to know it was done.
 */
static int serve_file(const mc_config *cfg, struct mc_chal *c, mc_err *e)
{
	const char *path = cfg->dns01_challenge_file;

	if (mc_dnsfile_add(path, c->txt_name, c->txt_value, e) < 0) {
		free(c->txt_name); /* nothing to remove */
		c->txt_name = NULL;
		return -1;
	}
	if (mc_dns_txt_wait(cfg->dns01_resolver, c->txt_name, c->txt_value, cfg->dns01_propagation_timeout,
			    e) < 0)
		return mc_err_prefix(e, "the record %s TXT \"%s\" written to %s was never seen", c->txt_name,
				     c->txt_value, path);
	return 0;
}

static int serve(const mc_chal_env *env, const mc_host *h, struct mc_chal *c, const char *keyauth, mc_err *e)
{
	const mc_config *cfg = env->cfg;

	switch (c->type) {
	case MC_CHAL_HTTP01:
		if (env->http01)
			return mc_http01_add(env->http01, c->token, keyauth, e);
		if (!cfg->http01_webroot[0])
			return mc_err_set(e, "the http-01 responder is not running");
		return mc_webroot_add(cfg->http01_webroot, c->token, keyauth, e);
	case MC_CHAL_DNS01: {
		unsigned char md[32];
		unsigned int mdlen = 0;

		EVP_Digest(keyauth, strlen(keyauth), md, &mdlen, EVP_sha256(), NULL);
		c->txt_value = mc_b64url_encode(md, mdlen);
		c->txt_name = mc_asprintf("_acme-challenge.%s.", c->identifier);
		if (cfg->dns01_challenge_file[0])
			return serve_file(cfg, c, e);
		if (mc_dns01_hook(cfg, "add", h->name, c->identifier, c->txt_name, c->txt_value, e) < 0) {
			free(c->txt_name); /* nothing to remove */
			c->txt_name = NULL;
			return -1;
		}
		if (cfg->dns01_resolver[0])
			return mc_dns_txt_wait(cfg->dns01_resolver, c->txt_name, c->txt_value,
					       cfg->dns01_propagation_timeout, e);
		return 0;
	}
	case MC_CHAL_TLSALPN01:
		if (!env->tlsalpn)
			return mc_err_set(e, "the tls-alpn-01 responder is not running");
		return mc_tlsalpn_add(env->tlsalpn, c->identifier, keyauth, e);
	}
	return mc_err_set(e, "unknown challenge");
}

int mc_chal_add(const mc_chal_env *env, mc_chal_set *s, const char *type, const char *identifier,
		const char *token, const char *keyauth, mc_err *e)
{
	struct mc_chal *c;
	mc_challenge t;

	if (check(s, type, identifier, token, keyauth, &t, e) < 0)
		return -1;
	if (s->n >= 2 * s->host->nnames + 2)
		return mc_err_set(e, "refusing more challenges than %s has names", s->host->name);
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->items = mc_realloc(s->items, s->cap * sizeof *s->items);
	}
	c = &s->items[s->n++];
	memset(c, 0, sizeof *c);
	c->type = t;
	c->identifier = mc_strdup(identifier);
	c->token = mc_strdup(token);
	if (serve(env, s->host, c, keyauth, e) == 0)
		return 0;
	/* a TXT record added but not yet visible is removed again later; nothing else was served */
	if (!c->txt_name) {
		free(c->identifier);
		free(c->token);
		free(c->txt_value);
		s->n--;
	}
	return -1;
}

static void unserve(const mc_chal_env *env, const mc_host *h, struct mc_chal *c)
{
	mc_err e;

	if (c->type == MC_CHAL_HTTP01) {
		if (env->http01)
			mc_http01_remove(env->http01, c->token);
		else if (env->cfg->http01_webroot[0])
			mc_webroot_remove(env->cfg->http01_webroot, c->token);
	} else if (c->type == MC_CHAL_TLSALPN01) {
		if (env->tlsalpn)
			mc_tlsalpn_remove(env->tlsalpn, c->identifier);
	} else if (c->txt_name && env->cfg->dns01_challenge_file[0]) {
		if (mc_dnsfile_remove(env->cfg->dns01_challenge_file, c->txt_name, c->txt_value, &e) < 0)
			mc_warn("%s: removing the TXT record %s: %s", h->name, c->txt_name, e.msg);
	} else if (c->txt_name) {
		if (mc_dns01_hook(env->cfg, "remove", h->name, c->identifier, c->txt_name, c->txt_value, &e) < 0)
			mc_warn("%s: removing the TXT record %s: %s", h->name, c->txt_name, e.msg);
	}
	free(c->identifier);
	free(c->token);
	free(c->txt_name);
	free(c->txt_value);
}

void mc_chal_remove(const mc_chal_env *env, mc_chal_set *s, const char *type, const char *identifier,
		    const char *token)
{
	mc_challenge t;
	size_t i;

	if (type_of(type, &t) < 0)
		return;
	for (i = 0; i < s->n; i++) {
		struct mc_chal *c = &s->items[i];
		if (c->type == t && strcmp(c->identifier, identifier) == 0 && strcmp(c->token, token) == 0) {
			unserve(env, s->host, c);
			s->items[i] = s->items[--s->n];
			return;
		}
	}
}

void mc_chal_set_free(const mc_chal_env *env, mc_chal_set *s)
{
	while (s->n > 0)
		unserve(env, s->host, &s->items[--s->n]);
	free(s->items);
	memset(s, 0, sizeof *s);
}
