/*
 * test_keys - key generation, CSRs and self-signed certificates, read back
 * with OpenSSL.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "keys.h"
#include "unit.h"
#include "x509chk.h"

static char *const three[] = { (char *)"mail.example.com", (char *)"smtp.example.com",
			       (char *)"*.mx.example.com" };

static void key_type(const char *type, int base_id, int bits)
{
	EVP_PKEY *k = NULL;
	mc_err e;

	ck_assert_msg(mc_key_generate(type, &k, &e) == 0, "%s: %s", type, e.msg);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(EVP_PKEY_get_base_id(k), base_id);
	ck_assert_int_eq(EVP_PKEY_get_bits(k), bits);
	/* a private key, usable for signing */
	{
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
		ck_assert_int_eq(EVP_PKEY_private_check(ctx), 1);
		EVP_PKEY_CTX_free(ctx);
	}
	EVP_PKEY_free(k);
}

START_TEST(gen_ec256)
{
	key_type("ec256", EVP_PKEY_EC, 256);
}
END_TEST

START_TEST(gen_ec384)
{
	key_type("ec384", EVP_PKEY_EC, 384);
}
END_TEST

START_TEST(gen_rsa2048)
{
	key_type("rsa2048", EVP_PKEY_RSA, 2048);
}
END_TEST

START_TEST(gen_rsa3072)
{
	key_type("rsa3072", EVP_PKEY_RSA, 3072);
}
END_TEST

START_TEST(gen_rsa4096)
{
	key_type("rsa4096", EVP_PKEY_RSA, 4096);
}
END_TEST

START_TEST(gen_unknown)
{
	EVP_PKEY *k = NULL;
	mc_err e;

	ck_assert_int_eq(mc_key_generate("dsa1024", &k, &e), -1);
	ck_assert_msg(strstr(e.msg, "unknown key type \"dsa1024\"") != NULL, "message: %s", e.msg);
	ck_assert_ptr_null(k);
	ck_assert_int_eq(mc_key_generate("", &k, &e), -1);
	ck_assert_int_eq(mc_key_generate("EC256", &k, &e), -1);
}
END_TEST

/* the CSR's dNSName SANs, in order */
static char **req_sans(X509_REQ *req, size_t *n)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens = NULL;
	char **v;
	int i, loc;

	ck_assert_ptr_nonnull(exts);
	loc = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
	ck_assert_int_ge(loc, 0);
	gens = X509V3_EXT_d2i(X509v3_get_ext(exts, loc));
	ck_assert_ptr_nonnull(gens);
	v = calloc((size_t)sk_GENERAL_NAME_num(gens) + 1, sizeof *v);
	*n = 0;
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		ck_assert_int_eq(g->type, GEN_DNS);
		v[(*n)++] = strndup((const char *)ASN1_STRING_get0_data(g->d.dNSName),
				    (size_t)ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return v;
}

static void cn_of(X509_NAME *xn, char *out, size_t outlen)
{
	int idx = X509_NAME_get_index_by_NID(xn, NID_commonName, -1);

	out[0] = '\0';
	if (idx >= 0) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(xn, idx));
		snprintf(out, outlen, "%.*s", ASN1_STRING_length(d),
			 (const char *)ASN1_STRING_get0_data(d));
	}
}

static X509_REQ *make_csr(EVP_PKEY *k, char *const *names, size_t n, const char *subject)
{
	mc_buf der;
	mc_err e;
	const unsigned char *p;
	X509_REQ *req;

	mc_buf_init(&der);
	ck_assert_msg(mc_csr_make(k, names, n, subject, &der, &e) == 0, "%s", e.msg);
	ck_assert_uint_gt(der.len, 0);
	p = (const unsigned char *)der.data;
	req = d2i_X509_REQ(NULL, &p, (long)der.len);
	ck_assert_msg(req != NULL, "the CSR DER does not parse");
	ck_assert_ptr_eq(p, (const unsigned char *)der.data + der.len);
	mc_buf_free(&der);
	return req;
}

static void csr_for(const char *type)
{
	EVP_PKEY *k = NULL;
	X509_REQ *req;
	char **sans, cn[256];
	size_t n, i;
	mc_err e;

	ck_assert_int_eq(mc_key_generate(type, &k, &e), 0);
	req = make_csr(k, three, 3, NULL);
	/* signed by its key, and carries that key */
	ck_assert_int_eq(X509_REQ_verify(req, k), 1);
	ck_assert_int_eq(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), k), 1);
	sans = req_sans(req, &n);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_str_eq(sans[i], three[i]);
		free(sans[i]);
	}
	free(sans);
	cn_of(X509_REQ_get_subject_name(req), cn, sizeof cn);
	ck_assert_str_eq(cn, "mail.example.com");
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

START_TEST(csr_ec256)
{
	csr_for("ec256");
}
END_TEST

START_TEST(csr_ec384)
{
	csr_for("ec384");
}
END_TEST

START_TEST(csr_rsa2048)
{
	csr_for("rsa2048");
}
END_TEST

START_TEST(csr_long_first_name)
{
	/* a CN holds at most 64 characters: a longer first name is left to the SAN */
	char longname[120];
	char *names[2];
	EVP_PKEY *k = unit_key("ec256");
	X509_REQ *req;
	char **sans, cn[256];
	size_t n;

	memset(longname, 'a', 70);
	snprintf(longname + 70, sizeof longname - 70, ".example.com");
	names[0] = longname;
	names[1] = (char *)"short.example.com";
	req = make_csr(k, names, 2, NULL);
	ck_assert_int_eq(X509_REQ_verify(req, k), 1);
	cn_of(X509_REQ_get_subject_name(req), cn, sizeof cn);
	ck_assert_str_eq(cn, "");
	sans = req_sans(req, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(sans[0], longname);
	free(sans[0]);
	free(sans[1]);
	free(sans);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(csr_subject)
{
	EVP_PKEY *k = unit_key("ec256");
	X509_REQ *req;
	char buf[256], cn[256];
	int idx;
	mc_buf der;
	mc_err e;

	req = make_csr(k, three, 1, "/CN=mail.example.com/O=Example Org/C=DE");
	cn_of(X509_REQ_get_subject_name(req), cn, sizeof cn);
	ck_assert_str_eq(cn, "mail.example.com");
	idx = X509_NAME_get_index_by_NID(X509_REQ_get_subject_name(req), NID_organizationName, -1);
	ck_assert_int_ge(idx, 0);
	X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_countryName, buf, sizeof buf);
	ck_assert_str_eq(buf, "DE");
	X509_REQ_free(req);

	req = make_csr(k, three, 1, "CN=mail.example.com, O=Example Org");
	X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_organizationName, buf,
				  sizeof buf);
	ck_assert_str_eq(buf, "Example Org");
	X509_REQ_free(req);

	/* a subject that is not NAME=VALUE pairs is refused */
	mc_buf_init(&der);
	ck_assert_int_eq(mc_csr_make(k, three, 1, "/CN=ok/garbage", &der, &e), -1);
	ck_assert_msg(strstr(e.msg, "bad subject") != NULL, "message: %s", e.msg);
	ck_assert_int_eq(mc_csr_make(k, three, 1, "/NOTANATTR=x", &der, &e), -1);
	ck_assert_uint_eq(der.len, 0);
	mc_buf_free(&der);
	EVP_PKEY_free(k);
}
END_TEST

static void selfsigned_for(const char *type)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *chain;
	mc_certinfo ci;
	time_t now, before;
	size_t i;
	mc_err e;

	ck_assert_int_eq(mc_key_generate(type, &k, &e), 0);
	/* the dates are checked against the clock read around the signing itself:
	 * however long key generation took on a busy machine does not matter */
	before = time(NULL);
	ck_assert_msg(mc_selfsigned_make(k, three, 3, 30, &x, &e) == 0, "%s", e.msg);
	now = time(NULL);
	for (i = 0; i < 3; i++)
		ck_assert_msg(mc_cert_covers(x, three[i]), "does not cover %s", three[i]);
	ck_assert_int_eq(mc_cert_covers(x, "a.mx.example.com"), 1);
	ck_assert_int_eq(mc_cert_covers(x, "other.example.com"), 0);
	ck_assert_int_eq(X509_verify(x, k), 1);
	ck_assert_int_eq(X509_check_issued(x, x), X509_V_OK);
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert_int_eq(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	ck_assert_int_eq(mc_cert_info(x, &ci), 0);
	ck_assert_str_eq(ci.subject, "CN=mail.example.com");
	ck_assert_str_eq(ci.issuer, "CN=mail.example.com");
	ck_assert_int_le(ci.not_before, now);
	ck_assert_int_ge(ci.not_after, before + 30L * 86400 - 1);
	ck_assert_int_le(ci.not_after, now + 30L * 86400 + 1);
	chain = unit_chain(x, NULL);
	ck_assert_msg(mc_certset_check(k, chain, three, 3, now, &e) == 0, "%s", e.msg);
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	EVP_PKEY_free(k);
}

START_TEST(selfsigned_ec256)
{
	selfsigned_for("ec256");
}
END_TEST

START_TEST(selfsigned_ec384)
{
	selfsigned_for("ec384");
}
END_TEST

START_TEST(selfsigned_rsa2048)
{
	selfsigned_for("rsa2048");
}
END_TEST

START_TEST(selfsigned_serials_differ)
{
	EVP_PKEY *k = unit_key("ec256");
	X509 *a = NULL, *b = NULL;
	mc_err e;

	ck_assert_int_eq(mc_selfsigned_make(k, three, 1, 1, &a, &e), 0);
	ck_assert_int_eq(mc_selfsigned_make(k, three, 1, 1, &b, &e), 0);
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
	/* positive serials (RFC 5280 section 4.1.2.2) */
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(a), NULL);
		ck_assert_int_eq(BN_is_negative(bn), 0);
		BN_free(bn);
	}
	X509_free(a);
	X509_free(b);
	EVP_PKEY_free(k);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keys");
	TCase *gen = unit_tcase("generate");
	TCase *csr = unit_tcase("csr");
	TCase *ss = unit_tcase("self-signed");

	tcase_add_test(gen, gen_ec256);
	tcase_add_test(gen, gen_ec384);
	tcase_add_test(gen, gen_rsa2048);
	tcase_add_test(gen, gen_rsa3072);
	tcase_add_test(gen, gen_rsa4096);
	tcase_add_test(gen, gen_unknown);
	tcase_add_test(csr, csr_ec256);
	tcase_add_test(csr, csr_ec384);
	tcase_add_test(csr, csr_rsa2048);
	tcase_add_test(csr, csr_long_first_name);
	tcase_add_test(csr, csr_subject);
	tcase_add_test(ss, selfsigned_ec256);
	tcase_add_test(ss, selfsigned_ec384);
	tcase_add_test(ss, selfsigned_rsa2048);
	tcase_add_test(ss, selfsigned_serials_differ);
	suite_add_tcase(s, gen);
	suite_add_tcase(s, csr);
	suite_add_tcase(s, ss);
	return unit_run(s);
}
