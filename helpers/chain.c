/*
 * chain - chain building for imported certificates.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "aia.h"
#include "certfiles.h"
#include "chain.h"
#include "x509chk.h"

void mc_chain_name(X509 *x, int issuer, char *out, size_t outlen)
{
	mc_certinfo ci;

	mc_cert_info(x, &ci);
	snprintf(out, outlen, "%s", issuer ? ci.issuer : ci.subject);
	if (!out[0])
		snprintf(out, outlen, "(empty name, serial %s)", ci.serial);
}

/* PARENT's name and key match what CHILD says of its issuer, and its key signed CHILD */
static int issued_by(X509 *child, X509 *parent)
{
	int ok = X509_check_issued(parent, child) == X509_V_OK &&
		 X509_verify(child, X509_get0_pubkey(parent)) == 1;

	ERR_clear_error();
	return ok;
}

static int in_chain(STACK_OF(X509) *chain, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(chain); i++)
		if (X509_cmp(sk_X509_value(chain, i), x) == 0)
			return 1;
	return 0;
}

static X509 *find_issuer(X509 *cur, STACK_OF(X509) *pool, STACK_OF(X509) *chain)
{
	int i;

	for (i = 0; i < sk_X509_num(pool); i++) {
		X509 *c = sk_X509_value(pool, i);
		if (!in_chain(chain, c) && issued_by(cur, c))
			return c;
	}
	return NULL;
}

/* the system's trust anchors (no CRLs, no verification: only looked up) */
static X509_STORE *anchors_open(void)
{
	X509_STORE *st = X509_STORE_new();

	if (!st)
		mc_fatal("out of memory");
	if (!X509_STORE_set_default_paths(st))
		mc_warn("cannot read the system's trust anchors; the chain must be given up to a root");
	ERR_clear_error();
	return st;
}

/* 1 when a trust anchor issued CUR, or when CUR is one (same name and key:
 * a cross-signed root such as an intermediate copy of a root) */
static int anchored(X509_STORE *st, X509 *cur)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *same;
	X509 *iss = NULL;
	int i, found = 0;

	if (!ctx || !X509_STORE_CTX_init(ctx, st, cur, NULL))
		mc_fatal("out of memory");
	if (X509_STORE_CTX_get1_issuer(&iss, ctx, cur) == 1 && iss) {
		found = X509_verify(cur, X509_get0_pubkey(iss)) == 1;
		X509_free(iss);
	}
	same = found ? NULL : X509_STORE_CTX_get1_certs(ctx, X509_get_subject_name(cur));
	for (i = 0; same && i < sk_X509_num(same) && !found; i++)
		found = EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(same, i)), X509_get0_pubkey(cur)) == 1;
	sk_X509_pop_free(same, X509_free);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return found;
}

static int self_signed(X509 *x)
{
	return issued_by(x, x);
}

/* fetch CUR's issuer from its caIssuers URLs; returns it (held by POOL) or NULL */
static X509 *fetch_issuer(X509 *cur, STACK_OF(X509) *pool, STACK_OF(X509) *chain, int *tried,
			  mc_err *e)
{
	char **urls = mc_aia_urls(cur), name[512];
	X509 *found = NULL;
	size_t i;

	mc_chain_name(cur, 0, name, sizeof name);
	for (i = 0; urls[i] && !found; i++) {
		mc_material got;
		mc_buf b;
		int k;

		*tried = 1;
		mc_buf_init(&b);
		mc_material_init(&got, NULL);
		mc_info("fetching the issuer of %s from %s", name, urls[i]);
		if (mc_aia_fetch(urls[i], &b, e) == 0 &&
		    mc_material_read_mem(&got, urls[i], (unsigned char *)b.data, b.len, 0, e) == 0) {
			for (k = 0; k < sk_X509_num(got.certs); k++) {
				X509 *c = sk_X509_value(got.certs, k);
				if (!X509_up_ref(c) || !sk_X509_push(pool, c))
					mc_fatal("out of memory");
			}
			found = find_issuer(cur, pool, chain);
			if (!found)
				mc_err_set(e, "%s did not give the issuer of %s", urls[i], name);
		}
		if (!found)
			mc_debug("%s", e->msg);
		mc_material_free(&got);
		mc_buf_free(&b);
	}
	mc_strv_free(urls);
	return found;
}

/* FETCHED: why fetching failed, when it was tried */
static int no_issuer(X509 *cur, int fetch, const char *fetched, mc_err *e)
{
	char subj[512], iss[512], **urls = mc_aia_urls(cur), why[MC_ERRLEN + 64];
	const char *hint = "";

	mc_chain_name(cur, 0, subj, sizeof subj);
	mc_chain_name(cur, 1, iss, sizeof iss);
	if (fetched) {
		snprintf(why, sizeof why, " (fetching it failed: %s)", fetched);
		hint = why;
	} else if (fetch)
		hint = " (the certificate names no caIssuers URL to fetch it from)";
	else if (urls[0])
		hint = " (or let --fetch-intermediates fetch it from the certificate's caIssuers URL)";
	mc_strv_free(urls);
	return mc_err_set(e, "no issuer found for %s, issued by %s \xe2\x80\x94 add that intermediate "
			  "certificate%s", subj, iss, hint);
}

int mc_chain_build(X509 *leaf, STACK_OF(X509) *pool, int fetch, STACK_OF(X509) **out, mc_err *e)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509_STORE *st = anchors_open();
	X509 *cur = leaf, *next;
	int rc = -1;

	if (!chain || !X509_up_ref(leaf) || !sk_X509_push(chain, leaf))
		mc_fatal("out of memory");
	for (;;) {
		int tried = 0;

		if (sk_X509_num(chain) > MC_CHAIN_MAX_DEPTH) {
			mc_err_set(e, "the chain is longer than %d certificates", MC_CHAIN_MAX_DEPTH);
			break;
		}
		if (self_signed(cur)) {
			if (cur != leaf) {
				char name[512];

				mc_chain_name(cur, 0, name, sizeof name);
				mc_info("leaving the root %s out of the served chain (clients have it)", name);
				X509_free(sk_X509_pop(chain));
			}
			rc = 0;
			break;
		}
		next = find_issuer(cur, pool, chain);
		if (!next && anchored(st, cur)) {
			rc = 0;
			break;
		}
		if (!next && fetch)
			next = fetch_issuer(cur, pool, chain, &tried, e);
		if (!next) {
			char fetched[MC_ERRLEN];

			snprintf(fetched, sizeof fetched, "%s", tried ? e->msg : "");
			no_issuer(cur, fetch, tried ? fetched : NULL, e);
			break;
		}
		if (!X509_up_ref(next) || !sk_X509_push(chain, next))
			mc_fatal("out of memory");
		cur = next;
	}
	X509_STORE_free(st);
	if (rc < 0) {
		sk_X509_pop_free(chain, X509_free);
		return -1;
	}
	*out = chain;
	return 0;
}
