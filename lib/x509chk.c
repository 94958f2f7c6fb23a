/*
 * x509chk - certificate set checks on OpenSSL.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "danekey.h"
#include "x509chk.h"

static int count_cert_blocks(const char *pem, size_t len)
{
	static const char marker[] = "-----BEGIN CERTIFICATE-----";
	const char *p = pem, *end = pem + len;
	int n = 0;

	while ((p = memmem(p, (size_t)(end - p), marker, sizeof marker - 1)) != NULL) {
		n++;
		p += sizeof marker - 1;
	}
	return n;
}

int mc_pem_read_certs(const char *pem, size_t len, STACK_OF(X509) **out, mc_err *e)
{
	int blocks;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;

	if (!bio || !sk)
		mc_fatal("out of memory");
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	BIO_free(bio);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return mc_err_set(e, "no PEM certificate found");
	}
	/* OpenSSL stops quietly at the first block it cannot read: a cut-off or
	 * damaged intermediate would simply go missing, so every block must parse */
	blocks = count_cert_blocks(pem, len);
	if (blocks != sk_X509_num(sk)) {
		int bad = blocks - sk_X509_num(sk);

		sk_X509_pop_free(sk, X509_free);
		return mc_err_set(e, "%d of %d PEM certificates are malformed or truncated", bad, blocks);
	}
	*out = sk;
	return 0;
}

int mc_pem_read_key(const char *pem, size_t len, EVP_PKEY **out, mc_err *e)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k;

	if (!bio)
		mc_fatal("out of memory");
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (!k)
		return mc_err_ssl(e, "no usable PEM private key found");
	*out = k;
	return 0;
}

static void bio_to_buf(BIO *bio, mc_buf *b)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);

	if (n > 0)
		mc_buf_append(b, p, (size_t)n);
}

void mc_pem_append_cert(mc_buf *b, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());

	if (!bio || !PEM_write_bio_X509(bio, x))
		mc_fatal("cannot encode certificate");
	bio_to_buf(bio, b);
	BIO_free(bio);
}

void mc_pem_append_key(mc_buf *b, EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_secmem());

	if (!bio || !PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL))
		mc_fatal("cannot encode private key");
	bio_to_buf(bio, b);
	BIO_free(bio); /* secure-heap BIO is wiped on free */
}

int mc_asn1_time_to_time_t(const ASN1_TIME *at, time_t *t)
{
	struct tm tm;

	if (!at || !ASN1_TIME_to_tm(at, &tm))
		return -1;
	*t = timegm(&tm);
	return 0;
}

static void name_to_str(const X509_NAME *n, char *out, size_t outlen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long len;

	out[0] = '\0';
	if (!bio)
		return;
	X509_NAME_print_ex(bio, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	len = BIO_get_mem_data(bio, &p);
	if (len > 0)
		snprintf(out, outlen, "%.*s", (int)len, p);
	BIO_free(bio);
}

int mc_cert_info(X509 *x, mc_certinfo *ci)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	size_t i;
	int idx;

	memset(ci, 0, sizeof *ci);
	if (hex) {
		snprintf(ci->serial, sizeof ci->serial, "%s", hex);
		for (i = 0; ci->serial[i]; i++)
			if (ci->serial[i] >= 'A' && ci->serial[i] <= 'F')
				ci->serial[i] = (char)(ci->serial[i] - 'A' + 'a');
	}
	OPENSSL_free(hex);
	BN_free(bn);
	name_to_str(X509_get_issuer_name(x), ci->issuer, sizeof ci->issuer);
	name_to_str(X509_get_subject_name(x), ci->subject, sizeof ci->subject);
	idx = X509_NAME_get_index_by_NID(X509_get_issuer_name(x), NID_commonName, -1);
	if (idx >= 0) {
		X509_NAME_ENTRY *ne = X509_NAME_get_entry(X509_get_issuer_name(x), idx);
		unsigned char *u = NULL;
		int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(ne));
		if (n > 0)
			snprintf(ci->issuer_cn, sizeof ci->issuer_cn, "%.*s", n, u);
		OPENSSL_free(u);
	}
	if (mc_asn1_time_to_time_t(X509_get0_notBefore(x), &ci->not_before) < 0 ||
	    mc_asn1_time_to_time_t(X509_get0_notAfter(x), &ci->not_after) < 0)
		return -1;
	return 0;
}

char **mc_cert_dns_names(X509 *leaf, size_t *count)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	int i, n = gens ? sk_GENERAL_NAME_num(gens) : 0;
	char **v = mc_calloc((size_t)n + 1, sizeof *v);
	size_t k = 0;

	for (i = 0; i < n; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;
		int len;

		if (g->type != GEN_DNS)
			continue;
		d = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		if (len <= 0 || memchr(d, '\0', (size_t)len))
			continue;
		v[k++] = mc_strndup((const char *)d, (size_t)len);
	}
	GENERAL_NAMES_free(gens);
	if (count)
		*count = k;
	return v;
}

static int san_matches(const char *san, const char *name)
{
	const char *dot;

	if (strcasecmp(san, name) == 0)
		return 1;
	/* "*.example.com" covers "a.example.com" (one label), not "a.b.example.com" */
	if (san[0] == '*' && san[1] == '.' && name[0] != '*') {
		dot = strchr(name, '.');
		return dot && dot != name && strcasecmp(dot + 1, san + 2) == 0;
	}
	return 0;
}

int mc_cert_covers(X509 *leaf, const char *name)
{
	size_t i, n;
	char **sans = mc_cert_dns_names(leaf, &n);
	int ok = 0;

	for (i = 0; i < n && !ok; i++)
		ok = san_matches(sans[i], name);
	mc_strv_free(sans);
	return ok;
}

static int check_dates(X509 *x, int depth, time_t now, mc_err *e)
{
	mc_certinfo ci;
	char a[32], b[32];

	if (mc_cert_info(x, &ci) < 0)
		return mc_err_set(e, "certificate %d has unreadable validity dates", depth);
	if (now < ci.not_before || now >= ci.not_after) {
		struct tm tm;
		gmtime_r(&ci.not_before, &tm);
		strftime(a, sizeof a, "%Y-%m-%dT%H:%M:%SZ", &tm);
		gmtime_r(&ci.not_after, &tm);
		strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return mc_err_set(e, "%s %s is not valid now (valid %s to %s)",
				  depth == 0 ? "leaf certificate" : "chain certificate", ci.subject, a, b);
	}
	return 0;
}

int mc_certset_check(EVP_PKEY *key, STACK_OF(X509) *chain, char *const *names, size_t nnames,
		     time_t now, mc_err *e)
{
	int i, n = chain ? sk_X509_num(chain) : 0;
	X509 *leaf;
	size_t k;

	if (n == 0)
		return mc_err_set(e, "no certificate");
	leaf = sk_X509_value(chain, 0);
	if (key && EVP_PKEY_eq(key, X509_get0_pubkey(leaf)) != 1) {
		ERR_clear_error();
		return mc_err_set(e, "private key does not match the certificate");
	}
	for (k = 0; k < nnames; k++)
		if (!mc_cert_covers(leaf, names[k]))
			return mc_err_set(e, "certificate does not cover %s", names[k]);
	for (i = 0; i < n; i++)
		if (check_dates(sk_X509_value(chain, i), i, now, e) < 0)
			return -1;
	for (i = 0; i + 1 < n; i++) {
		X509 *child = sk_X509_value(chain, i), *parent = sk_X509_value(chain, i + 1);
		mc_certinfo ci;

		if (X509_check_issued(parent, child) != X509_V_OK ||
		    X509_verify(child, X509_get0_pubkey(parent)) != 1) {
			ERR_clear_error();
			mc_cert_info(child, &ci);
			return mc_err_set(e, "chain does not link: certificate %d (%s) is not signed by the next one",
					  i, ci.subject);
		}
	}
	return 0;
}

int mc_key_spki_sha256(EVP_PKEY *key, char out[65])
{
	mc_err e;

	return mc_spki_sha256(key, out, &e);
}
