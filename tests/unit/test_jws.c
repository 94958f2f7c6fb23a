/*
 * test_jws - JWS signatures checked independently with OpenSSL: the
 * flattened JSON is split, the protected header read, the public key
 * rebuilt from the embedded JWK, and the signature verified.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include "jws.h"
#include "unit.h"

#define NONCE "oFvnlFP1wIhRlYS2jTaXbA"
#define URL "https://ca.example/acme/new-account"

/* the parts of a flattened JWS */
typedef struct jws {
	json_t *outer, *hdr;
	const char *prot_b64, *payload_b64, *sig_b64;
	unsigned char *payload, *sig;
	size_t payload_len, sig_len;
} jws;

static void jws_split(const char *text, jws *j)
{
	unsigned char *h;
	size_t hlen;

	memset(j, 0, sizeof *j);
	j->outer = json_loads(text, 0, NULL);
	ck_assert_msg(j->outer != NULL && json_is_object(j->outer), "not JSON: %s", text);
	ck_assert_int_eq(json_object_size(j->outer), 3);
	j->prot_b64 = json_string_value(json_object_get(j->outer, "protected"));
	j->payload_b64 = json_string_value(json_object_get(j->outer, "payload"));
	j->sig_b64 = json_string_value(json_object_get(j->outer, "signature"));
	ck_assert_ptr_nonnull(j->prot_b64);
	ck_assert_ptr_nonnull(j->payload_b64);
	ck_assert_ptr_nonnull(j->sig_b64);
	h = unit_b64url_decode(j->prot_b64, &hlen);
	ck_assert_ptr_nonnull(h);
	j->hdr = json_loadb((const char *)h, hlen, 0, NULL);
	free(h);
	ck_assert_msg(j->hdr != NULL && json_is_object(j->hdr), "protected header is not JSON");
	j->payload = unit_b64url_decode(j->payload_b64, &j->payload_len);
	ck_assert_ptr_nonnull(j->payload);
	j->sig = unit_b64url_decode(j->sig_b64, &j->sig_len);
	ck_assert_ptr_nonnull(j->sig);
}

static void jws_free(jws *j)
{
	json_decref(j->outer);
	json_decref(j->hdr);
	free(j->payload);
	free(j->sig);
}

static const char *hdr_str(jws *j, const char *key)
{
	return json_string_value(json_object_get(j->hdr, key));
}

static BIGNUM *jwk_bn(json_t *jwk, const char *member)
{
	const char *s = json_string_value(json_object_get(jwk, member));
	unsigned char *raw;
	size_t len;
	BIGNUM *bn;

	ck_assert_msg(s != NULL, "JWK has no \"%s\"", member);
	raw = unit_b64url_decode(s, &len);
	ck_assert_ptr_nonnull(raw);
	bn = BN_bin2bn(raw, (int)len, NULL);
	free(raw);
	return bn;
}

/* the public key of a JWK, built with EVP_PKEY_fromdata */
static EVP_PKEY *jwk_to_pkey(json_t *jwk)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx;
	OSSL_PARAM *params;
	EVP_PKEY *pk = NULL;
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	BIGNUM *a, *b;
	/* the builder keeps a pointer to the octets until _to_param */
	unsigned char pub[1 + 2 * 48];

	ck_assert_ptr_nonnull(kty);
	if (strcmp(kty, "RSA") == 0) {
		a = jwk_bn(jwk, "n");
		b = jwk_bn(jwk, "e");
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, a);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, b);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		const char *crv = json_string_value(json_object_get(jwk, "crv"));
		const char *xs = json_string_value(json_object_get(jwk, "x"));
		const char *ys = json_string_value(json_object_get(jwk, "y"));
		unsigned char *x, *y;
		size_t xl, yl, sz;

		ck_assert_str_eq(kty, "EC");
		ck_assert_ptr_nonnull(crv);
		sz = strcmp(crv, "P-256") == 0 ? 32 : 48;
		ck_assert_ptr_nonnull(xs);
		ck_assert_ptr_nonnull(ys);
		x = unit_b64url_decode(xs, &xl);
		y = unit_b64url_decode(ys, &yl);
		/* coordinates are fixed-length (RFC 7518 section 6.2.1.2) */
		ck_assert_uint_eq(xl, sz);
		ck_assert_uint_eq(yl, sz);
		pub[0] = 0x04;
		memcpy(pub + 1, x, sz);
		memcpy(pub + 1 + sz, y, sz);
		free(x);
		free(y);
		OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						strcmp(crv, "P-256") == 0 ? "prime256v1" : "secp384r1", 0);
		OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * sz);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		a = b = NULL;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ck_assert_ptr_nonnull(params);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params), 1);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(a);
	BN_free(b);
	return pk;
}

/* verify J's signature with PUB; EC signatures are r||s and become DER first */
static int jws_verify(jws *j, EVP_PKEY *pub)
{
	const char *alg = hdr_str(j, "alg");
	const EVP_MD *md = strcmp(alg, "ES384") == 0 ? EVP_sha384() : EVP_sha256();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *input = malloc(strlen(j->prot_b64) + strlen(j->payload_b64) + 2);
	unsigned char *der = NULL;
	const unsigned char *sig = j->sig;
	size_t siglen = j->sig_len;
	int ok;

	ck_assert_ptr_nonnull(input);
	sprintf(input, "%s.%s", j->prot_b64, j->payload_b64);
	if (alg[0] == 'E') {
		size_t sz = strcmp(alg, "ES256") == 0 ? 32 : 48;
		ECDSA_SIG *es = ECDSA_SIG_new();
		int len;

		ck_assert_uint_eq(j->sig_len, 2 * sz);
		ck_assert_int_eq(ECDSA_SIG_set0(es, BN_bin2bn(j->sig, (int)sz, NULL),
						BN_bin2bn(j->sig + sz, (int)sz, NULL)), 1);
		len = i2d_ECDSA_SIG(es, &der);
		ck_assert_int_gt(len, 0);
		ECDSA_SIG_free(es);
		sig = der;
		siglen = (size_t)len;
	}
	ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub), 1);
	ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input, strlen(input)) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	free(input);
	return ok;
}

/* sign with KEY (embedded JWK), check header and signature independently */
static void sign_and_verify(const char *type, const char *alg)
{
	EVP_PKEY *key = unit_key(type), *pub;
	const char *payload = "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:a@example.com\"]}";
	mc_err e;
	char *out;
	jws j;

	ck_assert_str_eq(mc_jws_alg(key), alg);
	out = mc_jws_sign(key, NULL, NONCE, URL, payload, &e);
	ck_assert_msg(out != NULL, "%s", e.msg);
	jws_split(out, &j);
	ck_assert_str_eq(hdr_str(&j, "alg"), alg);
	ck_assert_str_eq(hdr_str(&j, "nonce"), NONCE);
	ck_assert_str_eq(hdr_str(&j, "url"), URL);
	ck_assert_ptr_null(json_object_get(j.hdr, "kid"));
	ck_assert(json_is_object(json_object_get(j.hdr, "jwk")));
	ck_assert_uint_eq(j.payload_len, strlen(payload));
	ck_assert_int_eq(memcmp(j.payload, payload, j.payload_len), 0);
	pub = jwk_to_pkey(json_object_get(j.hdr, "jwk"));
	/* the JWK is the signer's public key */
	ck_assert_int_eq(EVP_PKEY_eq(pub, key), 1);
	ck_assert_msg(jws_verify(&j, pub), "%s signature does not verify", alg);
	/* and a changed byte does not */
	j.sig[0] ^= 0x01;
	ck_assert_msg(!jws_verify(&j, pub), "%s: a corrupted signature verifies", alg);
	EVP_PKEY_free(pub);
	jws_free(&j);
	free(out);
	EVP_PKEY_free(key);
}

START_TEST(es256)
{
	sign_and_verify("ec256", "ES256");
}
END_TEST

START_TEST(es384)
{
	sign_and_verify("ec384", "ES384");
}
END_TEST

START_TEST(rs256)
{
	sign_and_verify("rsa2048", "RS256");
}
END_TEST

START_TEST(es256_repeated)
{
	/* r and s with leading zero bytes must keep their fixed width */
	int i;

	for (i = 0; i < 40; i++) {
		EVP_PKEY *key = unit_key("ec256");
		mc_err e;
		char *out = mc_jws_sign(key, "https://ca.example/acct/1", NONCE, URL, "{}", &e);
		jws j;

		ck_assert_ptr_nonnull(out);
		jws_split(out, &j);
		ck_assert_uint_eq(j.sig_len, 64);
		ck_assert(jws_verify(&j, key));
		jws_free(&j);
		free(out);
		EVP_PKEY_free(key);
	}
}
END_TEST

START_TEST(kid_and_post_as_get)
{
	EVP_PKEY *key = unit_key("ec256");
	mc_err e;
	char *out = mc_jws_sign(key, "https://ca.example/acct/42", NONCE,
				"https://ca.example/order/7", NULL, &e);
	char *out2;
	jws j;

	ck_assert_ptr_nonnull(out);
	jws_split(out, &j);
	ck_assert_str_eq(hdr_str(&j, "kid"), "https://ca.example/acct/42");
	ck_assert_ptr_null(json_object_get(j.hdr, "jwk"));
	ck_assert_str_eq(hdr_str(&j, "url"), "https://ca.example/order/7");
	/* POST-as-GET: the payload is the empty string */
	ck_assert_str_eq(j.payload_b64, "");
	ck_assert(jws_verify(&j, key));
	jws_free(&j);
	out2 = mc_jws_sign(key, "https://ca.example/acct/42", NONCE, "https://ca.example/order/7", "",
			   &e);
	jws_split(out2, &j);
	ck_assert_str_eq(j.payload_b64, "");
	jws_free(&j);
	free(out);
	free(out2);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(no_nonce)
{
	EVP_PKEY *key = unit_key("ec256");
	mc_err e;
	char *out = mc_jws_sign(key, NULL, NULL, URL, "{}", &e);
	jws j;

	jws_split(out, &j);
	ck_assert_ptr_null(json_object_get(j.hdr, "nonce"));
	jws_free(&j);
	free(out);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(unsupported_keys)
{
	EVP_PKEY *p521 = EVP_EC_gen("P-521");
	EVP_PKEY *small = EVP_RSA_gen(1024);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	mc_err e;

	ck_assert_ptr_nonnull(p521);
	ck_assert_ptr_null(mc_jws_alg(p521));
	ck_assert_ptr_null(mc_jws_alg(small));
	ck_assert_ptr_null(mc_jws_alg(ed));
	ck_assert_ptr_null(mc_jws_sign(p521, NULL, NONCE, URL, "{}", &e));
	ck_assert_msg(strstr(e.msg, "unsupported") != NULL, "message: %s", e.msg);
	ck_assert_ptr_null(mc_jwk_json(small, &e));
	ck_assert_msg(strstr(e.msg, "unsupported") != NULL, "message: %s", e.msg);
	ck_assert_ptr_null(mc_jwk_thumbprint(ed, &e));
	EVP_PKEY_free(p521);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ed);
}
END_TEST

START_TEST(jwk_members_ordered)
{
	EVP_PKEY *ec = unit_key("ec256"), *rsa = unit_key("rsa2048");
	mc_err e;
	char *a = mc_jwk_json(ec, &e), *b = mc_jwk_json(rsa, &e);

	/* RFC 7638: required members only, lexical order, no whitespace */
	ck_assert_msg(unit_starts(a, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""), "%s", a);
	ck_assert_msg(strstr(a, "\",\"y\":\"") != NULL && a[strlen(a) - 1] == '}', "%s", a);
	ck_assert_msg(unit_starts(b, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\""), "%s", b);
	ck_assert(strchr(a, ' ') == NULL && strchr(b, ' ') == NULL);
	free(a);
	free(b);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}
END_TEST

static const char rfc7638_n[] =
	"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
	"ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvz"
	"qY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6We"
	"Zu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

START_TEST(thumbprint_rfc7638)
{
	json_t *jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", rfc7638_n, "e", "AQAB");
	EVP_PKEY *pub = jwk_to_pkey(jwk);
	mc_err e;
	char *tp = mc_jwk_thumbprint(pub, &e), *js = mc_jwk_json(pub, &e);

	ck_assert_msg(tp != NULL, "%s", e.msg);
	ck_assert_str_eq(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	/* and the JWK is the RFC's, member for member */
	ck_assert_ptr_nonnull(js);
	{
		char want[600];
		snprintf(want, sizeof want, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", rfc7638_n);
		ck_assert_str_eq(js, want);
	}
	free(tp);
	free(js);
	EVP_PKEY_free(pub);
	json_decref(jwk);
}
END_TEST

START_TEST(thumbprint_ec)
{
	EVP_PKEY *key = unit_key("ec384");
	BIGNUM *x = NULL, *y = NULL;
	unsigned char xb[48], yb[48], md[32];
	unsigned int mdlen = 0;
	char *xs, *ys, canon[512], *want, *got;
	mc_err e;

	ck_assert_int_eq(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
	ck_assert_int_eq(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
	ck_assert_int_eq(BN_bn2binpad(x, xb, 48), 48);
	ck_assert_int_eq(BN_bn2binpad(y, yb, 48), 48);
	xs = unit_b64url_encode(xb, 48);
	ys = unit_b64url_encode(yb, 48);
	snprintf(canon, sizeof canon, "{\"crv\":\"P-384\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs,
		 ys);
	ck_assert_int_eq(EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL), 1);
	want = unit_b64url_encode(md, mdlen);
	got = mc_jwk_thumbprint(key, &e);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(strlen(got), 43);
	free(got);
	got = mc_jwk_json(key, &e);
	ck_assert_str_eq(got, canon);
	free(got);
	free(xs);
	free(ys);
	free(want);
	BN_free(x);
	BN_free(y);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(eab)
{
	EVP_PKEY *acct = unit_key("ec256"), *pub;
	unsigned char raw[32], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *keyb64, *out, *jwk, *input;
	json_t *pj;
	size_t i;
	mc_err e;
	jws j;

	for (i = 0; i < sizeof raw; i++)
		raw[i] = (unsigned char)(i * 7 + 0xf0); /* bytes that need '-' and '_' */
	keyb64 = unit_b64url_encode(raw, sizeof raw);
	out = mc_jws_eab(acct, "kid-eab-1", keyb64, URL, &e);
	ck_assert_msg(out != NULL, "%s", e.msg);
	jws_split(out, &j);
	ck_assert_str_eq(hdr_str(&j, "alg"), "HS256");
	ck_assert_str_eq(hdr_str(&j, "kid"), "kid-eab-1");
	ck_assert_str_eq(hdr_str(&j, "url"), URL);
	ck_assert_ptr_null(json_object_get(j.hdr, "nonce"));
	ck_assert_ptr_null(json_object_get(j.hdr, "jwk"));
	/* the payload is the account's public JWK */
	jwk = mc_jwk_json(acct, &e);
	ck_assert_uint_eq(j.payload_len, strlen(jwk));
	ck_assert_int_eq(memcmp(j.payload, jwk, j.payload_len), 0);
	pj = json_loadb((const char *)j.payload, j.payload_len, 0, NULL);
	ck_assert_ptr_nonnull(pj);
	pub = jwk_to_pkey(pj);
	ck_assert_int_eq(EVP_PKEY_eq(pub, acct), 1);
	/* HMAC-SHA256 over "protected.payload" with the decoded key */
	input = malloc(strlen(j.prot_b64) + strlen(j.payload_b64) + 2);
	ck_assert_ptr_nonnull(input);
	sprintf(input, "%s.%s", j.prot_b64, j.payload_b64);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), raw, sizeof raw, (unsigned char *)input,
				   strlen(input), mac, &maclen));
	ck_assert_uint_eq(maclen, 32);
	ck_assert_uint_eq(j.sig_len, 32);
	ck_assert_int_eq(memcmp(j.sig, mac, 32), 0);
	free(input);
	json_decref(pj);
	EVP_PKEY_free(pub);
	free(jwk);
	jws_free(&j);
	free(out);

	/* a key that is not base64url, or empty, is refused */
	ck_assert_ptr_null(mc_jws_eab(acct, "kid", "not base64!", URL, &e));
	ck_assert_msg(strstr(e.msg, "eab_hmac_key") != NULL, "message: %s", e.msg);
	ck_assert_ptr_null(mc_jws_eab(acct, "kid", "", URL, &e));
	ck_assert_ptr_null(mc_jws_eab(acct, "kid", "c2VjcmV0==", URL, &e));
	free(keyb64);
	EVP_PKEY_free(acct);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jws");
	TCase *tc = unit_tcase("sign");
	TCase *tp = unit_tcase("thumbprint");

	tcase_add_test(tc, es256);
	tcase_add_test(tc, es384);
	tcase_add_test(tc, rs256);
	tcase_add_test(tc, es256_repeated);
	tcase_add_test(tc, kid_and_post_as_get);
	tcase_add_test(tc, no_nonce);
	tcase_add_test(tc, unsupported_keys);
	tcase_add_test(tp, jwk_members_ordered);
	tcase_add_test(tp, thumbprint_rfc7638);
	tcase_add_test(tp, thumbprint_ec);
	tcase_add_test(tc, eab);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tp);
	return unit_run(s);
}
