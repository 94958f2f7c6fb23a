/*
 * jws - ES256/ES384/RS256 signing with OpenSSL EVP; JSON built with jansson.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64url.h"
#include "jws.h"

static int ec_bits(EVP_PKEY *key)
{
	return EVP_PKEY_get_bits(key);
}

const char *mc_jws_alg(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_EC:
		return ec_bits(key) == 256 ? "ES256" : ec_bits(key) == 384 ? "ES384" : NULL;
	case EVP_PKEY_RSA:
		return EVP_PKEY_get_bits(key) >= 2048 && EVP_PKEY_get_bits(key) <= 8192 ? "RS256" : NULL;
	default:
		return NULL;
	}
}

static char *bn_param_b64(EVP_PKEY *key, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int len;
	char *out;

	if (!EVP_PKEY_get_bn_param(key, param, &bn))
		return NULL;
	if (BN_num_bytes(bn) > (int)sizeof buf || pad > (int)sizeof buf) {
		BN_free(bn);
		return NULL;
	}
	len = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	if (len <= 0)
		return NULL;
	out = mc_b64url_encode(buf, (size_t)len);
	return out;
}

char *mc_jwk_json(EVP_PKEY *key, mc_err *e)
{
	char *a = NULL, *b = NULL, *out = NULL;

	if (!mc_jws_alg(key)) {
		mc_err_set(e, "unsupported account key (use P-256, P-384 or RSA of 2048 to 8192 bits)");
		return NULL;
	}
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
		int sz = ec_bits(key) / 8;
		a = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, sz);
		b = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, sz);
		if (a && b)
			out = mc_asprintf("{\"crv\":\"P-%d\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
					  ec_bits(key), a, b);
	} else {
		a = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
		b = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N, 0);
		if (a && b)
			out = mc_asprintf("{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a, b);
	}
	free(a);
	free(b);
	if (!out)
		mc_err_ssl(e, "reading the account public key");
	return out;
}

char *mc_jwk_thumbprint(EVP_PKEY *key, mc_err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *jwk = mc_jwk_json(key, e), *out;

	if (!jwk)
		return NULL;
	if (!EVP_Digest(jwk, strlen(jwk), md, &mdlen, EVP_sha256(), NULL)) {
		free(jwk);
		mc_err_ssl(e, "hashing the JWK");
		return NULL;
	}
	free(jwk);
	out = mc_b64url_encode(md, mdlen);
	return out;
}

/* sign DATA; for EC convert the DER ECDSA-Sig to the raw r||s JWS wants */
static char *sign_b64(EVP_PKEY *key, const char *data, mc_err *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = ec_bits(key) == 384 && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC
				   ? EVP_sha384() : EVP_sha256();
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *out = NULL;

	if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data, strlen(data)) != 1) {
		mc_err_ssl(e, "JWS signing");
		goto out;
	}
	sig = mc_malloc(siglen);
	if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, strlen(data)) != 1) {
		mc_err_ssl(e, "JWS signing");
		goto out;
	}
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		int sz = ec_bits(key) / 8;
		unsigned char raw[2 * 66];
		const BIGNUM *r, *s;

		if (!es) {
			mc_err_ssl(e, "decoding the ECDSA signature");
			goto out;
		}
		ECDSA_SIG_get0(es, &r, &s);
		BN_bn2binpad(r, raw, sz);
		BN_bn2binpad(s, raw + sz, sz);
		ECDSA_SIG_free(es);
		out = mc_b64url_encode(raw, (size_t)(2 * sz));
	} else {
		out = mc_b64url_encode(sig, siglen);
	}
out:
	free(sig);
	EVP_MD_CTX_free(ctx);
	return out;
}

static char *flatten(const char *prot_json, const char *payload, const char *sig_b64)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "protected", json_string(prot_json));
	json_object_set_new(o, "payload", json_string(payload));
	json_object_set_new(o, "signature", json_string(sig_b64));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

char *mc_jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
		  const char *payload, mc_err *e)
{
	json_t *hdr = json_object();
	char *hdr_s, *prot, *pay, *input, *sig, *out = NULL;
	const char *alg = mc_jws_alg(key);

	if (!alg) {
		json_decref(hdr);
		mc_err_set(e, "unsupported account key type");
		return NULL;
	}
	json_object_set_new(hdr, "alg", json_string(alg));
	if (kid) {
		json_object_set_new(hdr, "kid", json_string(kid));
	} else {
		char *jwk = mc_jwk_json(key, e);
		if (!jwk) {
			json_decref(hdr);
			return NULL;
		}
		json_object_set_new(hdr, "jwk", json_loads(jwk, 0, NULL));
		free(jwk);
	}
	if (nonce)
		json_object_set_new(hdr, "nonce", json_string(nonce));
	json_object_set_new(hdr, "url", json_string(url));
	hdr_s = json_dumps(hdr, JSON_COMPACT);
	json_decref(hdr);
	prot = mc_b64url_encode(hdr_s, strlen(hdr_s));
	pay = payload && *payload ? mc_b64url_encode(payload, strlen(payload)) : mc_strdup("");
	input = mc_asprintf("%s.%s", prot, pay);
	sig = sign_b64(key, input, e);
	if (sig)
		out = flatten(prot, pay, sig);
	free(hdr_s);
	free(prot);
	free(pay);
	free(input);
	free(sig);
	return out;
}

char *mc_jws_eab(EVP_PKEY *account_key, const char *eab_kid, const char *hmac_key_b64url,
		 const char *url, mc_err *e)
{
	json_t *hdr = json_object();
	char *hdr_s, *prot, *jwk, *pay, *input, *sig, *out;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	mc_buf key;

	mc_buf_init(&key);
	if (mc_b64url_decode(hmac_key_b64url, &key) < 0 || key.len == 0) {
		json_decref(hdr);
		mc_buf_cleanse(&key);
		mc_err_set(e, "acme.eab_hmac_key is not base64url");
		return NULL;
	}
	jwk = mc_jwk_json(account_key, e);
	if (!jwk) {
		json_decref(hdr);
		mc_buf_cleanse(&key);
		return NULL;
	}
	json_object_set_new(hdr, "alg", json_string("HS256"));
	json_object_set_new(hdr, "kid", json_string(eab_kid));
	json_object_set_new(hdr, "url", json_string(url));
	hdr_s = json_dumps(hdr, JSON_COMPACT);
	json_decref(hdr);
	prot = mc_b64url_encode(hdr_s, strlen(hdr_s));
	pay = mc_b64url_encode(jwk, strlen(jwk));
	input = mc_asprintf("%s.%s", prot, pay);
	HMAC(EVP_sha256(), key.data, (int)key.len, (unsigned char *)input, strlen(input), mac, &maclen);
	sig = mc_b64url_encode(mac, maclen);
	out = flatten(prot, pay, sig);
	mc_buf_cleanse(&key);
	free(hdr_s);
	free(prot);
	free(jwk);
	free(pay);
	free(input);
	free(sig);
	return out;
}
