/*
 * certfiles - certificates and keys from PEM, DER, PKCS#7 and PKCS#12 files.
 *
 * Every PEM block and every DER structure must parse whole: a block OpenSSL
 * cannot read, or bytes after the DER structure, is an error naming the
 * file, never something skipped.  Passwords come from --password-file; a
 * wrong one is told apart from a missing one.
 */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>

#include "certfiles.h"
#include "fsutil.h"

void mc_material_init(mc_material *m, const char *password)
{
	memset(m, 0, sizeof *m);
	m->certs = sk_X509_new_null();
	if (!m->certs)
		mc_fatal("out of memory");
	m->password = password;
}

void mc_material_free(mc_material *m)
{
	size_t i;

	sk_X509_pop_free(m->certs, X509_free);
	for (i = 0; i < m->nkeys; i++)
		EVP_PKEY_free(m->keys[i]);
	free(m->keys);
	memset(m, 0, sizeof *m);
}

/* takes X; a certificate given twice counts once */
static void add_cert(mc_material *m, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(m->certs); i++)
		if (X509_cmp(sk_X509_value(m->certs, i), x) == 0) {
			X509_free(x);
			return;
		}
	if (!sk_X509_push(m->certs, x))
		mc_fatal("out of memory");
}

static int add_key(mc_material *m, const char *what, EVP_PKEY *k, int keys_ok, mc_err *e)
{
	size_t i;

	if (!keys_ok) {
		EVP_PKEY_free(k);
		return mc_err_set(e, "%s: holds a private key, which is not expected there", what);
	}
	for (i = 0; i < m->nkeys; i++)
		if (EVP_PKEY_eq(m->keys[i], k) == 1) {
			EVP_PKEY_free(k);
			return 0;
		}
	ERR_clear_error();
	m->keys = mc_realloc(m->keys, (m->nkeys + 1) * sizeof *m->keys);
	m->keys[m->nkeys++] = k;
	return 0;
}

static int add_pkcs7(mc_material *m, const char *what, PKCS7 *p7, mc_err *e)
{
	STACK_OF(X509) *certs = NULL;
	int i, n;

	if (PKCS7_type_is_signed(p7))
		certs = p7->d.sign->cert;
	else if (PKCS7_type_is_signedAndEnveloped(p7))
		certs = p7->d.signed_and_enveloped->cert;
	n = certs ? sk_X509_num(certs) : 0;
	if (n == 0)
		return mc_err_set(e, "%s: the PKCS#7 structure holds no certificate", what);
	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(certs, i);
		if (!X509_up_ref(x))
			mc_fatal("out of memory");
		add_cert(m, x);
	}
	return 0;
}

struct pwctx {
	const char *pw;
	int asked;
};

static int pw_cb(char *buf, int size, int rwflag, void *u)
{
	struct pwctx *c = u;
	size_t n;

	(void)rwflag;
	c->asked = 1;
	if (!c->pw || size <= 0)
		return -1;
	n = strlen(c->pw);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, c->pw, n);
	return (int)n;
}

static int key_failed(const char *what, const struct pwctx *c, mc_err *e)
{
	if (c->asked && !c->pw) {
		ERR_clear_error();
		return mc_err_set(e, "%s: the private key is encrypted: give its password with "
				  "--password-file", what);
	}
	if (c->asked) {
		ERR_clear_error();
		return mc_err_set(e, "%s: wrong password for the encrypted private key (from "
				  "--password-file)", what);
	}
	return mc_err_ssl(e, "%s: cannot read the private key", what);
}

/* a PEM private key block of any kind: OpenSSL's reader handles the forms
 * and their encryption, so the block is handed back to it as PEM */
static int pem_key(mc_material *m, const char *what, const char *name, const char *header,
		   const unsigned char *der, long dlen, int keys_ok, mc_err *e)
{
	struct pwctx c = { m->password, 0 };
	BIO *bio = BIO_new(BIO_s_secmem());
	EVP_PKEY *k;

	if (!bio || !PEM_write_bio(bio, name, header, der, dlen))
		mc_fatal("out of memory");
	k = PEM_read_bio_PrivateKey(bio, NULL, pw_cb, &c);
	BIO_free(bio);
	if (!k)
		return key_failed(what, &c, e);
	return add_key(m, what, k, keys_ok, e);
}

static int pem_block(mc_material *m, const char *what, int n, const char *name,
		     const char *header, const unsigned char *der, long dlen, int keys_ok, mc_err *e)
{
	const unsigned char *p = der;
	size_t nl = strlen(name);

	if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
	    strcmp(name, PEM_STRING_X509_TRUSTED) == 0) {
		X509 *x = strcmp(name, PEM_STRING_X509_TRUSTED) == 0 ? d2i_X509_AUX(NULL, &p, dlen)
								      : d2i_X509(NULL, &p, dlen);
		if (!x || p != der + dlen) {
			X509_free(x);
			return mc_err_ssl(e, "%s: PEM block %d (%s) is not a valid certificate", what, n,
					  name);
		}
		add_cert(m, x);
		return 0;
	}
	if (strcmp(name, PEM_STRING_PKCS7) == 0) {
		PKCS7 *p7 = d2i_PKCS7(NULL, &p, dlen);
		int rc;

		if (!p7 || p != der + dlen) {
			PKCS7_free(p7);
			return mc_err_ssl(e, "%s: PEM block %d (PKCS7) is not valid PKCS#7", what, n);
		}
		rc = add_pkcs7(m, what, p7, e);
		PKCS7_free(p7);
		return rc;
	}
	if (nl >= 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0)
		return pem_key(m, what, name, header, der, dlen, keys_ok, e);
	/* what commonly travels with a certificate and is of no use here */
	if (strstr(name, "CERTIFICATE REQUEST") || strstr(name, "PARAMETERS") ||
	    strcmp(name, "X509 CRL") == 0 || strcmp(name, "PUBLIC KEY") == 0) {
		mc_debug("%s: skipping PEM block %d (%s)", what, n, name);
		return 0;
	}
	mc_warn("%s: skipping PEM block %d of a kind not used here (%s)", what, n, name);
	return 0;
}

/* how many "-----BEGIN " lines the text has: each must become a block */
static int count_begin_lines(const unsigned char *data, size_t len)
{
	static const char marker[] = "-----BEGIN ";
	const unsigned char *p = data, *end = data + len;
	int n = 0;

	while ((p = memmem(p, (size_t)(end - p), marker, sizeof marker - 1)) != NULL) {
		if (p == data || p[-1] == '\n' || p[-1] == '\r')
			n++;
		p += sizeof marker - 1;
	}
	return n;
}

static int read_pem(mc_material *m, const char *what, const unsigned char *data, size_t len,
		    int keys_ok, mc_err *e)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	int n = 0, rc = 0, begins = count_begin_lines(data, len);

	if (!bio)
		mc_fatal("out of memory");
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long dlen = 0;
		unsigned long err;

		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &der, &dlen)) {
			err = ERR_peek_last_error();
			if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break;
			}
			rc = mc_err_ssl(e, "%s: PEM block %d is malformed or truncated", what, n + 1);
			break;
		}
		n++;
		rc = pem_block(m, what, n, name, header, der, dlen, keys_ok, e);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(der, (size_t)dlen);
		if (rc < 0)
			break;
	}
	BIO_free(bio);
	if (rc == 0 && n != begins)
		rc = mc_err_set(e, "%s: %d of its %d PEM blocks could not be read (a damaged BEGIN or "
				"END line?)", what, begins - n, begins);
	return rc;
}

static int p12_contents(mc_material *m, const char *what, PKCS12 *p12, const char *pw,
			int keys_ok, mc_err *e)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	OSSL_PROVIDER *legacy = NULL;
	int ok = PKCS12_parse(p12, pw, &key, &cert, &ca);

	if (!ok) {
		/* files exported by older tools use RC2 or RC4, in OpenSSL 3's legacy provider */
		legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
		if (legacy) {
			ERR_clear_error();
			ok = PKCS12_parse(p12, pw, &key, &cert, &ca);
		}
	}
	if (!ok) {
		if (legacy)
			OSSL_PROVIDER_unload(legacy);
		return mc_err_ssl(e, "%s: cannot read the PKCS#12 contents", what);
	}
	if (cert)
		add_cert(m, cert);
	while (ca && sk_X509_num(ca) > 0)
		add_cert(m, sk_X509_shift(ca));
	sk_X509_free(ca);
	if (legacy)
		OSSL_PROVIDER_unload(legacy);
	if (key)
		return add_key(m, what, key, keys_ok, e);
	return 0;
}

static int read_p12(mc_material *m, const char *what, PKCS12 *p12, int keys_ok, mc_err *e)
{
	const char *pw = m->password;

	if (PKCS12_mac_present(p12)) {
		if (pw) {
			if (!PKCS12_verify_mac(p12, pw, -1)) {
				ERR_clear_error();
				return mc_err_set(e, "%s: wrong password for this PKCS#12 file (from "
						  "--password-file)", what);
			}
		} else if (PKCS12_verify_mac(p12, "", 0)) {
			pw = "";
		} else if (PKCS12_verify_mac(p12, NULL, 0)) {
			pw = NULL;
		} else {
			ERR_clear_error();
			return mc_err_set(e, "%s: this PKCS#12 file is protected by a password: give it "
					  "with --password-file", what);
		}
	}
	return p12_contents(m, what, p12, pw, keys_ok, e);
}

static int der_key(mc_material *m, const char *what, const unsigned char *data, size_t len,
		   int keys_ok, size_t *used, mc_err *e)
{
	const unsigned char *p = data;
	EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long)len);
	X509_SIG *p8;
	PKCS8_PRIV_KEY_INFO *inf;

	if (k) {
		*used = (size_t)(p - data);
		return add_key(m, what, k, keys_ok, e);
	}
	ERR_clear_error();
	p = data;
	p8 = d2i_X509_SIG(NULL, &p, (long)len);
	if (!p8)
		return 1;
	*used = (size_t)(p - data);
	if (!m->password) {
		X509_SIG_free(p8);
		return mc_err_set(e, "%s: the private key is encrypted: give its password with "
				  "--password-file", what);
	}
	inf = PKCS8_decrypt(p8, m->password, (int)strlen(m->password));
	X509_SIG_free(p8);
	if (!inf) {
		ERR_clear_error();
		return mc_err_set(e, "%s: wrong password for the encrypted private key (from "
				  "--password-file)", what);
	}
	k = EVP_PKCS82PKEY(inf);
	PKCS8_PRIV_KEY_INFO_free(inf);
	if (!k)
		return mc_err_ssl(e, "%s: cannot read the private key", what);
	return add_key(m, what, k, keys_ok, e);
}

/* one DER structure: which kind is told by which parser takes it */
static int read_der(mc_material *m, const char *what, const unsigned char *data, size_t len,
		    int keys_ok, mc_err *e)
{
	const unsigned char *p = data;
	const char *kind = NULL;
	size_t used = 0;
	X509 *x;
	PKCS7 *p7;
	PKCS12 *p12;
	int rc = 0;

	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
		kind = "certificate";
		used = (size_t)(p - data);
		add_cert(m, x);
	} else if ((p = data, p7 = d2i_PKCS7(NULL, &p, (long)len)) != NULL) {
		kind = "PKCS#7 structure";
		used = (size_t)(p - data);
		rc = add_pkcs7(m, what, p7, e);
		PKCS7_free(p7);
	} else if ((p = data, p12 = d2i_PKCS12(NULL, &p, (long)len)) != NULL) {
		kind = "PKCS#12 structure";
		used = (size_t)(p - data);
		if (used == len)
			rc = read_p12(m, what, p12, keys_ok, e);
		PKCS12_free(p12);
	} else {
		ERR_clear_error();
		rc = der_key(m, what, data, len, keys_ok, &used, e);
		if (rc == 1) {
			ERR_clear_error();
			return mc_err_set(e, "%s: neither PEM nor a DER certificate, PKCS#7, PKCS#12 or "
					  "private key", what);
		}
		kind = "private key";
	}
	ERR_clear_error();
	if (rc == 0 && used < len)
		return mc_err_set(e, "%s: %zu bytes of trailing garbage after the DER %s (which ends at "
				  "byte %zu of %zu)", what, len - used, kind, used, len);
	return rc;
}

int mc_material_read_mem(mc_material *m, const char *what, const unsigned char *data, size_t len,
			 int keys_ok, mc_err *e)
{
	static const char begin[] = "-----BEGIN ";
	int certs = sk_X509_num(m->certs);
	size_t keys = m->nkeys;
	int rc;

	if (len == 0)
		return mc_err_set(e, "%s: empty", what);
	if (len > MC_CERTFILE_MAX)
		return mc_err_set(e, "%s: larger than %d bytes", what, MC_CERTFILE_MAX);
	if (memmem(data, len, begin, sizeof begin - 1))
		rc = read_pem(m, what, data, len, keys_ok, e);
	else
		rc = read_der(m, what, data, len, keys_ok, e);
	if (rc == 0 && certs == sk_X509_num(m->certs) && keys == m->nkeys) {
		/* not a new one: perhaps the same certificate named twice */
		mc_debug("%s: nothing new in it", what);
	}
	return rc;
}

int mc_material_read_file(mc_material *m, const char *path, mc_err *e)
{
	mc_buf b;
	int rc;

	mc_buf_init(&b);
	rc = mc_file_read(path, MC_CERTFILE_MAX, &b, e);
	if (rc == 0)
		rc = mc_material_read_mem(m, path, (const unsigned char *)b.data, b.len, 1, e);
	mc_buf_cleanse(&b);
	return rc;
}

int mc_password_read(const char *file, char **out, mc_err *e)
{
	mc_buf b;
	size_t n;

	mc_buf_init(&b);
	if (mc_file_read(file, 4096, &b, e) < 0) {
		mc_buf_cleanse(&b);
		return mc_err_prefix(e, "--password-file");
	}
	n = b.data ? strcspn(b.data, "\n") : 0;
	if (n > 0 && b.data[n - 1] == '\r')
		n--;
	*out = mc_strndup(b.data ? b.data : "", n);
	mc_buf_cleanse(&b);
	return 0;
}
