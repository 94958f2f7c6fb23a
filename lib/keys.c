/*
 * keys - key generation and certificate requests with OpenSSL 3.
 */
#include "config.h"

#include <string.h>

#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "keys.h"

int mc_key_generate(const char *type, EVP_PKEY **out, mc_err *e)
{
	EVP_PKEY *k = NULL;

	if (strcmp(type, "ec256") == 0)
		k = EVP_EC_gen("P-256");
	else if (strcmp(type, "ec384") == 0)
		k = EVP_EC_gen("P-384");
	else if (strcmp(type, "rsa2048") == 0)
		k = EVP_RSA_gen(2048);
	else if (strcmp(type, "rsa3072") == 0)
		k = EVP_RSA_gen(3072);
	else if (strcmp(type, "rsa4096") == 0)
		k = EVP_RSA_gen(4096);
	else
		return mc_err_set(e, "unknown key type \"%s\"", type);
	if (!k)
		return mc_err_ssl(e, "generating a %s key", type);
	*out = k;
	return 0;
}

int mc_key_from_pem(const char *type, const char *pem, size_t len, EVP_PKEY **out, mc_err *e)
{
	const char *kt = strncmp(type, "ec", 2) == 0 ? "EC" : strncmp(type, "rsa", 3) == 0 ? "RSA" : NULL;
	const unsigned char *p = (const unsigned char *)pem;
	OSSL_DECODER_CTX *d;
	EVP_PKEY *k = NULL;
	size_t left = len;
	int ok;

	if (!kt)
		return mc_err_set(e, "unknown key type \"%s\"", type);
	d = OSSL_DECODER_CTX_new_for_pkey(&k, "PEM", "PrivateKeyInfo", kt, EVP_PKEY_KEYPAIR, NULL, NULL);
	if (!d)
		return mc_err_ssl(e, "no decoder for a %s key", kt);
	ok = OSSL_DECODER_from_data(d, &p, &left);
	OSSL_DECODER_CTX_free(d);
	if (!ok || !k) {
		EVP_PKEY_free(k);
		return mc_err_ssl(e, "not a PEM %s private key", kt);
	}
	*out = k;
	return 0;
}

/* subjectAltName value "DNS:a,DNS:b" */
static char *san_value(char *const *names, size_t n)
{
	mc_buf b;
	size_t i;

	mc_buf_init(&b);
	for (i = 0; i < n; i++)
		mc_buf_printf(&b, "%sDNS:%s", i ? "," : "", names[i]);
	return mc_buf_steal(&b);
}

static int set_subject(X509_NAME *xn, const char *subject, const char *cn, mc_err *e)
{
	if (subject && *subject) {
		X509_NAME *parsed = X509_NAME_new();
		/* "/CN=x/O=y" or "CN=x,O=y": accept both common spellings */
		char *copy = mc_strdup(subject), *tok, *save = NULL;
		const char *sep = subject[0] == '/' ? "/" : ",";
		int ok = 1;

		for (tok = strtok_r(copy, sep, &save); tok && ok; tok = strtok_r(NULL, sep, &save)) {
			char *eq = strchr(tok, '=');
			while (*tok == ' ')
				tok++;
			if (!eq) {
				ok = 0;
				break;
			}
			*eq = '\0';
			ok = X509_NAME_add_entry_by_txt(xn, tok, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1, 0);
		}
		free(copy);
		X509_NAME_free(parsed);
		if (!ok)
			return mc_err_ssl(e, "bad subject \"%s\"", subject);
		return 0;
	}
	if (strlen(cn) <= 64 &&
	    !X509_NAME_add_entry_by_txt(xn, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0))
		return mc_err_ssl(e, "setting the subject");
	return 0;
}

int mc_csr_make(EVP_PKEY *key, char *const *names, size_t nnames, const char *subject,
		mc_buf *der, mc_err *e)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext;
	char *san = san_value(names, nnames);
	unsigned char *p = NULL;
	int len, rc = -1;

	if (!req || !exts)
		mc_fatal("out of memory");
	if (!X509_REQ_set_version(req, 0) ||
	    set_subject(X509_REQ_get_subject_name(req), subject, names[0], e) < 0)
		goto out;
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	if (!ext) {
		mc_err_ssl(e, "building subjectAltName");
		goto out;
	}
	sk_X509_EXTENSION_push(exts, ext);
	if (!X509_REQ_add_extensions(req, exts) || !X509_REQ_set_pubkey(req, key) ||
	    !X509_REQ_sign(req, key, EVP_sha256())) {
		mc_err_ssl(e, "signing the CSR");
		goto out;
	}
	len = i2d_X509_REQ(req, &p);
	if (len <= 0) {
		mc_err_ssl(e, "encoding the CSR");
		goto out;
	}
	mc_buf_append(der, p, (size_t)len);
	OPENSSL_free(p);
	rc = 0;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	free(san);
	return rc;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

int mc_selfsigned_make(EVP_PKEY *key, char *const *names, size_t nnames, int days, X509 **out,
		       mc_err *e)
{
	X509 *x = X509_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char *san = san_value(names, nnames);
	int ok;

	if (!x)
		mc_fatal("out of memory");
	RAND_bytes(serial, sizeof serial);
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) && X509_set_version(x, 2) &&
	     set_subject(X509_get_subject_name(x), NULL, names[0], e) == 0 &&
	     X509_set_issuer_name(x, X509_get_subject_name(x)) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -300) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400L) &&
	     X509_set_pubkey(x, key) && add_ext(x, NID_subject_alt_name, san) &&
	     add_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
	     add_ext(x, NID_ext_key_usage, "serverAuth") &&
	     add_ext(x, NID_subject_key_identifier, "hash") &&
	     X509_sign(x, key, EVP_sha256());
	BN_free(bn);
	free(san);
	if (!ok) {
		X509_free(x);
		return mc_err_ssl(e, "making a self-signed certificate");
	}
	*out = x;
	return 0;
}
