/*
 * test_danekey - the SPKI SHA-256 of a "3 1 1" TLSA record, its owner name,
 * the next key kept in the store, and the key type check of key_reuse.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "dane.h"
#include "danekey.h"
#include "keys.h"
#include "unit.h"
#include "x509chk.h"

/* a fixed P-256 key; its digest as `openssl pkey -pubout -outform DER | sha256sum` gives it */
static const char key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYYt+J62rTZt0GaVN\n"
	"2kMUuBrIoa/S2PrJPri59OnGiu2hRANCAASNhKqh0TE1Tb+IAdCzWFMKtgdSGSk1\n"
	"YDgwyt9rduZgsP4Yh4Z/XbpRX82c3h9x34Qn3NBs9au250PERYIPGGue\n"
	"-----END PRIVATE KEY-----\n";
static const char key_spki[] = "e7c4e4be4e628040f0bdc2cde8eb2544b94f1ef4fab03795caa83eef67609ffa";

static EVP_PKEY *fixed_key(void)
{
	EVP_PKEY *k = NULL;
	mc_err e;

	ck_assert_msg(mc_pem_read_key(key_pem, strlen(key_pem), &k, &e) == 0, "%s", e.msg);
	return k;
}

START_TEST(spki_known_digest)
{
	char hex[MC_SPKI_HEX_LEN];
	EVP_PKEY *k = fixed_key();
	mc_err e;

	ck_assert_int_eq(mc_spki_sha256(k, hex, &e), 0);
	ck_assert_str_eq(hex, key_spki);
	EVP_PKEY_free(k);
}
END_TEST

/* a certificate for the key has the key's digest (selector 1: the SPKI, not the certificate) */
START_TEST(spki_cert_same_as_key)
{
	static char *const names[] = { (char *)"mx.example.com" };
	char a[MC_SPKI_HEX_LEN], b[MC_SPKI_HEX_LEN];
	EVP_PKEY *k = fixed_key(), *other = NULL;
	X509 *x = NULL, *y = NULL;
	mc_err e;

	ck_assert_int_eq(mc_selfsigned_make(k, names, 1, 10, &x, &e), 0);
	ck_assert_int_eq(mc_selfsigned_make(k, names, 1, 20, &y, &e), 0);
	ck_assert_int_eq(mc_spki_sha256_cert(x, a, &e), 0);
	ck_assert_int_eq(mc_spki_sha256_cert(y, b, &e), 0);
	ck_assert_str_eq(a, key_spki);
	ck_assert_str_eq(b, key_spki);
	ck_assert_int_eq(mc_key_generate("ec256", &other, &e), 0);
	ck_assert_int_eq(mc_spki_sha256(other, a, &e), 0);
	ck_assert_str_ne(a, key_spki);
	ck_assert_int_eq((int)strlen(a), 64);
	ck_assert_int_eq(mc_spki_sha256_cert(NULL, a, &e), -1);
	ck_assert_int_eq(mc_spki_sha256(NULL, a, &e), -1);
	X509_free(x);
	X509_free(y);
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(owner_names)
{
	char out[300], big[300];

	ck_assert_int_eq(mc_tlsa_owner("mx.example.com", 25, out, sizeof out), 0);
	ck_assert_str_eq(out, "_25._tcp.mx.example.com.");
	ck_assert_int_eq(mc_tlsa_owner("mx.example.com", 465, out, sizeof out), 0);
	ck_assert_str_eq(out, "_465._tcp.mx.example.com.");
	ck_assert_int_eq(mc_tlsa_owner("*.example.com", 25, out, sizeof out), -1);
	ck_assert_int_eq(mc_tlsa_owner("", 25, out, sizeof out), -1);
	ck_assert_int_eq(mc_tlsa_owner("mx.example.com", 0, out, sizeof out), -1);
	ck_assert_int_eq(mc_tlsa_owner("mx.example.com", 65536, out, sizeof out), -1);
	ck_assert_int_eq(mc_tlsa_owner("mx.example.com", 25, out, 10), -1);
	/* over 253 characters with the prefix: no such DNS name */
	memset(big, 'a', 250);
	big[250] = '\0';
	ck_assert_int_eq(mc_tlsa_owner(big, 25, out, sizeof out), -1);
}
END_TEST

START_TEST(nextkey_store)
{
	char *store = unit_tmpdir(), path[600], hex[MC_SPKI_HEX_LEN];
	EVP_PKEY *k = fixed_key(), *back = NULL;
	struct stat st;
	mc_err e;

	ck_assert_int_eq(mc_nextkey_load(store, "mx.example.com", &back, &e), 1);
	ck_assert_ptr_null(back);
	ck_assert_msg(mc_nextkey_save(store, "mx.example.com", k, &e) == 0, "%s", e.msg);
	snprintf(path, sizeof path, "%s/nextkey/mx.example.com/key.pem", store);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	snprintf(path, sizeof path, "%s/nextkey", store);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(mc_nextkey_load(store, "mx.example.com", &back, &e), 0);
	ck_assert_int_eq(mc_spki_sha256(back, hex, &e), 0);
	ck_assert_str_eq(hex, key_spki);
	EVP_PKEY_free(back);
	ck_assert_int_eq(mc_nextkey_remove(store, "mx.example.com", &e), 0);
	back = NULL;
	ck_assert_int_eq(mc_nextkey_load(store, "mx.example.com", &back, &e), 1);
	snprintf(path, sizeof path, "%s/nextkey/mx.example.com", store);
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_int_eq(mc_nextkey_remove(store, "mx.example.com", &e), 0); /* none: not an error */
	/* a next key others can read is refused */
	ck_assert_int_eq(mc_nextkey_save(store, "mx.example.com", k, &e), 0);
	snprintf(path, sizeof path, "%s/nextkey/mx.example.com/key.pem", store);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(mc_nextkey_load(store, "mx.example.com", &back, &e), -1);
	EVP_PKEY_free(k);
	unit_rmtree(store);
	free(store);
}
END_TEST

START_TEST(key_types)
{
	EVP_PKEY *k = fixed_key(), *r = NULL;
	mc_err e;

	ck_assert_int_eq(mc_dane_key_is_type(k, "ec256"), 1);
	ck_assert_int_eq(mc_dane_key_is_type(k, "ec384"), 0);
	ck_assert_int_eq(mc_dane_key_is_type(k, "rsa2048"), 0);
	ck_assert_int_eq(mc_key_generate("rsa2048", &r, &e), 0);
	ck_assert_int_eq(mc_dane_key_is_type(r, "rsa2048"), 1);
	ck_assert_int_eq(mc_dane_key_is_type(r, "rsa3072"), 0);
	ck_assert_int_eq(mc_dane_key_is_type(r, "ec256"), 0);
	EVP_PKEY_free(r);
	EVP_PKEY_free(k);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("danekey");
	TCase *t = tcase_create("danekey");

	tcase_add_test(t, spki_known_digest);
	tcase_add_test(t, spki_cert_same_as_key);
	tcase_add_test(t, owner_names);
	tcase_add_test(t, nextkey_store);
	tcase_add_test(t, key_types);
	suite_add_tcase(s, t);
	return unit_run(s);
}
