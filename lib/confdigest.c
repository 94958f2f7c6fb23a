/*
 * confdigest - a fingerprint of what the configuration says about one host.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "confdigest.h"

/* each field as "key=value\n" (length-prefixed, so no value can fake another) */
static void put(EVP_MD_CTX *md, const char *key, const char *val)
{
	char len[32];

	val = val ? val : "";
	snprintf(len, sizeof len, "%zu:", strlen(val));
	EVP_DigestUpdate(md, key, strlen(key));
	EVP_DigestUpdate(md, "=", 1);
	EVP_DigestUpdate(md, len, strlen(len));
	EVP_DigestUpdate(md, val, strlen(val));
	EVP_DigestUpdate(md, "\n", 1);
}

static void put_long(EVP_MD_CTX *md, const char *key, long v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%ld", v);
	put(md, key, buf);
}

static void put_list(EVP_MD_CTX *md, const char *key, char *const *v, size_t n)
{
	size_t i;

	put_long(md, key, (long)n);
	for (i = 0; i < n; i++)
		put(md, key, v[i]);
}

void mc_config_host_digest(const mc_config *c, const mc_host *h, char out[MC_CONFDIGEST_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	out[0] = '\0';
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return;
	}
	put(md, "host", h->name);
	put_list(md, "names", h->names, h->nnames);
	put_long(md, "challenge", (long)h->challenge);
	put_long(md, "source", (long)h->source);
	put_long(md, "self_check", (long)h->self_check);
	put(md, "resolver", c->resolver);
	put_long(md, "acme", c->acme_present);
	put(md, "acme.directory", c->acme_directory);
	put(md, "acme.email", c->acme_email);
	put_long(md, "acme.agree_tos", c->acme_agree_tos);
	put(md, "acme.ca_bundle", c->acme_ca_bundle);
	put(md, "acme.key_type", c->acme_key_type);
	put(md, "acme.profile", c->acme_profile);
	put(md, "acme.preferred_chain", c->acme_preferred_chain);
	put_long(md, "acme.test_on_staging", c->acme_test_on_staging);
	put(md, "acme.staging_directory", c->acme_staging_directory);
	put(md, "acme.eab_kid", c->acme_eab_kid);
	/* the EAB key itself goes in only as part of this one-way digest */
	put(md, "acme.eab_hmac_key", c->acme_eab_hmac_key);
	put_list(md, "http01.listen", c->http01_listen, c->http01_nlisten);
	put(md, "http01.webroot", c->http01_webroot);
	put_long(md, "http01.public_port", c->http01_public_port);
	put_long(md, "tlsalpn01.public_port", c->tlsalpn01_public_port);
	put_list(md, "tlsalpn01.listen", c->tlsalpn01_listen, c->tlsalpn01_nlisten);
	put(md, "dns01.hook", c->dns01_hook);
	put(md, "dns01.resolver", c->dns01_resolver);
	put(md, "dns01.challenge_file", c->dns01_challenge_file);
	put_long(md, "dns01.propagation_timeout", c->dns01_propagation_timeout);
	if (EVP_DigestFinal_ex(md, d, &n) == 1)
		for (i = 0; i < n; i++)
			snprintf(out + 2 * i, 3, "%02x", d[i]);
	EVP_MD_CTX_free(md);
}
