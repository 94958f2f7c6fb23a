/*
 * test_b64url - base64url without padding (RFC 4648 section 5).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "unit.h"

/* RFC 4648 section 10, in the url alphabet without padding */
static const struct {
	const char *raw, *enc;
} vectors[] = {
	{ "", "" },
	{ "f", "Zg" },
	{ "fo", "Zm8" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg" },
	{ "fooba", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy" },
};

START_TEST(encode_rfc4648_vectors)
{
	size_t i;

	for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		char *s = mc_b64url_encode(vectors[i].raw, strlen(vectors[i].raw));
		ck_assert_str_eq(s, vectors[i].enc);
		free(s);
	}
}
END_TEST

START_TEST(decode_rfc4648_vectors)
{
	size_t i;

	for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		mc_buf b;

		mc_buf_init(&b);
		ck_assert_int_eq(mc_b64url_decode(vectors[i].enc, &b), 0);
		ck_assert_uint_eq(b.len, strlen(vectors[i].raw));
		ck_assert_ptr_nonnull(b.data);
		ck_assert_mem_eq(b.data, vectors[i].raw, b.len);
		ck_assert_int_eq(b.data[b.len], '\0');
		mc_buf_free(&b);
	}
}
END_TEST

START_TEST(url_alphabet)
{
	/* 0xfb 0xef 0xff is "++//" in the standard alphabet */
	static const unsigned char raw[] = { 0xfb, 0xef, 0xff, 0xfe };
	char *s = mc_b64url_encode(raw, sizeof raw);
	mc_buf b;

	ck_assert_str_eq(s, "--___g");
	mc_buf_init(&b);
	ck_assert_int_eq(mc_b64url_decode(s, &b), 0);
	ck_assert_uint_eq(b.len, sizeof raw);
	ck_assert_mem_eq(b.data, raw, sizeof raw);
	mc_buf_free(&b);
	free(s);
}
END_TEST

START_TEST(decode_rejects)
{
	static const char *const bad[] = {
		"Z",        /* 1 mod 4: not a length base64 can produce */
		"Zm9vY",    /* same */
		"Zg==",     /* padding is not part of base64url here */
		"Zg=",
		"Zm+v",     /* standard alphabet */
		"Zm/v",
		"Zm9v!",
		"Zm 9v",
		"Zm9v\n",
		"Z\xc3\xa9v",
		".",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mc_buf b;

		mc_buf_init(&b);
		ck_assert_msg(mc_b64url_decode(bad[i], &b) == -1, "accepted \"%s\"", bad[i]);
		mc_buf_free(&b);
	}
}
END_TEST

START_TEST(valid)
{
	ck_assert_int_eq(mc_b64url_valid("", 10), 0);
	ck_assert_int_eq(mc_b64url_valid("abc-_XYZ09", 10), 1);
	ck_assert_int_eq(mc_b64url_valid("abc-_XYZ09", 9), 0);
	ck_assert_int_eq(mc_b64url_valid("abc=", 10), 0);
	ck_assert_int_eq(mc_b64url_valid("../x", 10), 0);
	ck_assert_int_eq(mc_b64url_valid("a/b", 10), 0);
	ck_assert_int_eq(mc_b64url_valid("a+b", 10), 0);
}
END_TEST

START_TEST(round_trip_random)
{
	/* a fixed LCG keeps failures reproducible */
	unsigned long seed = 0x2545f491UL;
	unsigned char raw[100] = { 0 }; /* gcc 14 (trixie): "may be used uninitialized" at len 0 */
	size_t len, i;

	for (len = 0; len <= sizeof raw; len++) {
		char *s;
		mc_buf b;
		unsigned char *indep;
		size_t ilen;

		for (i = 0; i < len; i++) {
			seed = seed * 1103515245UL + 12345UL;
			raw[i] = (unsigned char)(seed >> 16);
		}
		s = mc_b64url_encode(raw, len);
		ck_assert_uint_eq(strlen(s), (4 * len + 2) / 3);
		ck_assert_msg(len == 0 || mc_b64url_valid(s, 200), "bad characters for length %zu: %s",
			      len, s);
		/* an independent encoder and decoder agree */
		{
			char *mine = unit_b64url_encode(raw, len);
			ck_assert_str_eq(s, mine);
			free(mine);
		}
		indep = unit_b64url_decode(s, &ilen);
		ck_assert_ptr_nonnull(indep);
		ck_assert_uint_eq(ilen, len);
		ck_assert_int_eq(memcmp(indep, raw, len), 0);
		free(indep);
		mc_buf_init(&b);
		ck_assert_int_eq(mc_b64url_decode(s, &b), 0);
		ck_assert_uint_eq(b.len, len);
		ck_assert_int_eq(memcmp(b.data, raw, len), 0);
		mc_buf_free(&b);
		free(s);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("b64url");
	TCase *tc = unit_tcase("core");

	tcase_add_test(tc, encode_rfc4648_vectors);
	tcase_add_test(tc, decode_rfc4648_vectors);
	tcase_add_test(tc, url_alphabet);
	tcase_add_test(tc, decode_rejects);
	tcase_add_test(tc, valid);
	tcase_add_test(tc, round_trip_random);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
