/*
 * test_ari - when to renew and when to retry: the lifetime rule, the backoff
 * schedule and its jitter, and ACME Renewal Information (certID, the CA's
 * answer checked, the time picked in its window).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ari.h"
#include "issue.h"
#include "unit.h"

#define DAY 86400L

/* ---- the lifetime rule ---- */

START_TEST(lifetime_rule)
{
	const time_t nb = 1800000000;

	/* 90 days: a third (30 days) left */
	ck_assert_int_eq(mc_renewal_time(nb, nb + 90 * DAY), nb + 60 * DAY);
	/* 398 days, the longest: 132.67 days left, never less than a third */
	ck_assert_int_eq(mc_renewal_time(nb, nb + 398 * DAY), nb + 398 * DAY - (398 * DAY) / 3);
	ck_assert(nb + 398 * DAY - mc_renewal_time(nb, nb + 398 * DAY) >= (398 * DAY) / 3);
	/* 6 days (short-lived): half left */
	ck_assert_int_eq(mc_renewal_time(nb, nb + 6 * DAY), nb + 3 * DAY);
	/* just under 10 days: half; 10 days: a third */
	ck_assert_int_eq(mc_renewal_time(nb, nb + 10 * DAY - 2), nb + 5 * DAY - 1);
	ck_assert_int_eq(mc_renewal_time(nb, nb + 30 * DAY), nb + 20 * DAY);
	ck_assert_int_eq(mc_renewal_time(nb, nb + 10 * DAY), nb + 10 * DAY - (10 * DAY) / 3);
	/* 7 days + the hour some CAs backdate: still the short rule */
	ck_assert_int_eq(mc_renewal_time(nb, nb + 7 * DAY + 3600), nb + (7 * DAY + 3600) / 2);
	/* every lifetime from 6 to 398 days: renewal strictly inside it, the right share left */
	for (long d = 6; d <= 398; d++) {
		time_t na = nb + d * DAY, r = mc_renewal_time(nb, na);
		long left = (long)(na - r);

		ck_assert(r > nb && r < na);
		if (d < 10)
			ck_assert_int_eq(left, d * DAY / 2);
		else
			ck_assert(left >= d * DAY / 3 && left <= d * DAY / 3 + 1);
	}
	/* nonsense (not after before not before) never lies in the future */
	ck_assert_int_eq(mc_renewal_time(nb, nb - 5), nb);
}
END_TEST

START_TEST(renewal_with_ari)
{
	mc_state st;

	mc_state_init(&st);
	st.not_before = 1800000000;
	st.cert_expiration_time = st.not_before + 90 * DAY;
	mc_issue_set_renewal(&st);
	ck_assert_int_eq(st.renewal_time, st.not_before + 60 * DAY);
	/* the CA's chosen time wins, earlier or later */
	st.ari_renewal_time = st.not_before + 45 * DAY;
	mc_issue_set_renewal(&st);
	ck_assert_int_eq(st.renewal_time, st.not_before + 45 * DAY);
	st.ari_renewal_time = st.not_before + 70 * DAY;
	mc_issue_set_renewal(&st);
	ck_assert_int_eq(st.renewal_time, st.not_before + 70 * DAY);
	/* but not in the last tenth of the lifetime */
	st.ari_renewal_time = st.not_before + 85 * DAY;
	mc_issue_set_renewal(&st);
	ck_assert_int_eq(st.renewal_time, st.not_before + 60 * DAY);
	mc_state_free(&st);
}
END_TEST

/* ---- backoff ---- */

START_TEST(backoff_schedule)
{
	static const long want[] = { 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 43200, 43200 };
	int n;

	for (n = 1; n <= 12; n++)
		ck_assert_int_eq(mc_backoff_seconds(n), want[n - 1]);
	ck_assert_int_eq(mc_backoff_seconds(1000), 12 * 3600);
	ck_assert_int_eq(mc_backoff_seconds(0), 60);
	ck_assert_int_eq(mc_backoff_seconds(-3), 60);
}
END_TEST

START_TEST(backoff_jitter_bounds)
{
	int n, i;

	/* the extremes of the random value */
	ck_assert_int_eq(mc_backoff_jitter(60, 0), 60);          /* 54 -> never below 1 min */
	ck_assert_int_eq(mc_backoff_jitter(60, UINT32_MAX), 66);
	ck_assert_int_eq(mc_backoff_jitter(3840, 0), 3456);
	ck_assert_int_eq(mc_backoff_jitter(3840, UINT32_MAX), 4224);
	ck_assert_int_eq(mc_backoff_jitter(43200, 0), 38880);
	ck_assert_int_eq(mc_backoff_jitter(43200, UINT32_MAX), 43200); /* never above 12 h */
	for (n = 1; n <= 14; n++) {
		long base = mc_backoff_seconds(n), lo = base, hi = base;

		for (i = 0; i < 2000; i++) {
			uint32_t r;
			long s;

			ck_assert_int_eq(RAND_bytes((unsigned char *)&r, sizeof r), 1);
			s = mc_backoff_jitter(base, r);
			ck_assert_msg(s >= base - base / 10 && s <= base + base / 10, "n=%d: %ld from %ld", n, s, base);
			ck_assert(s >= 60 && s <= 12 * 3600);
			lo = s < lo ? s : lo;
			hi = s > hi ? s : hi;
		}
		/* it does spread: both sides of the base are reached (but at the bounds) */
		if (base > 60)
			ck_assert_msg(lo < base, "n=%d: never below %ld", n, base);
		if (base < 12 * 3600)
			ck_assert_msg(hi > base, "n=%d: never above %ld", n, base);
	}
}
END_TEST

START_TEST(retry_after_rate_limited)
{
	/* a rateLimited Retry-After longer than the backoff is waited out in full */
	ck_assert_int_eq(mc_retry_delay(1, 7200, 12345), 7200);
	ck_assert_int_eq(mc_retry_delay(1, 3 * DAY, 0), 3 * DAY);
	/* a shorter one does not shorten the backoff */
	ck_assert_int_eq(mc_retry_delay(5, 10, 0), 864);
	ck_assert_int_eq(mc_retry_delay(5, -1, UINT32_MAX), 1056);
}
END_TEST

/* ---- ARI ---- */

static X509 *cert_with(const unsigned char *kid, size_t kidlen, uint64_t serial)
{
	EVP_PKEY *key = unit_key("ec256");
	X509 *x = X509_new(), *out;
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	unsigned char *der = NULL;
	const unsigned char *p;
	int n;

	ck_assert(ASN1_INTEGER_set_uint64(sn, serial) == 1);
	X509_set_version(x, 2);
	X509_set_serialNumber(x, sn);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (kid) {
		AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();

		akid->keyid = ASN1_OCTET_STRING_new();
		ASN1_OCTET_STRING_set(akid->keyid, kid, (int)kidlen);
		ck_assert(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0) == 1);
		AUTHORITY_KEYID_free(akid);
	}
	ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
	/* as it would come from a PEM file */
	n = i2d_X509(x, &der);
	p = der;
	out = d2i_X509(NULL, &p, n);
	OPENSSL_free(der);
	X509_free(x);
	ASN1_INTEGER_free(sn);
	EVP_PKEY_free(key);
	return out;
}

START_TEST(cert_id)
{
	/* the example of RFC 9773 section 4.1 */
	static const unsigned char kid[] = { 0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
					     0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4 };
	char id[MC_ARI_CERTID_MAX + 1];
	X509 *x = cert_with(kid, sizeof kid, 0x87654321);
	mc_err e;

	ck_assert_int_eq(mc_ari_cert_id(x, id, sizeof id, &e), 0);
	/* the serial's high bit is set: its DER content starts with 0x00 */
	ck_assert_str_eq(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
	ck_assert(mc_ari_cert_id_valid(id));
	X509_free(x);
	x = cert_with(kid, 2, 1);
	ck_assert_int_eq(mc_ari_cert_id(x, id, sizeof id, &e), 0);
	ck_assert_str_eq(id, "aYg.AQ");
	X509_free(x);
	/* no authority key identifier: no certID */
	x = cert_with(NULL, 0, 5);
	ck_assert_int_eq(mc_ari_cert_id(x, id, sizeof id, &e), -1);
	ck_assert_msg(strstr(e.msg, "authority key identifier") != NULL, "%s", e.msg);
	X509_free(x);
}
END_TEST

START_TEST(cert_id_shape)
{
	ck_assert(mc_ari_cert_id_valid("aYg.AQ"));
	ck_assert(!mc_ari_cert_id_valid(""));
	ck_assert(!mc_ari_cert_id_valid(NULL));
	ck_assert(!mc_ari_cert_id_valid("aYg"));
	ck_assert(!mc_ari_cert_id_valid(".AQ"));
	ck_assert(!mc_ari_cert_id_valid("aYg."));
	ck_assert(!mc_ari_cert_id_valid("aYg.A.Q"));
	ck_assert(!mc_ari_cert_id_valid("aY/g.AQ"));
	ck_assert(!mc_ari_cert_id_valid("aYg.AQ=="));
	ck_assert(!mc_ari_cert_id_valid("../x.AQ"));
}
END_TEST

static int parse(const char *body, mc_ari_info *i, mc_err *e)
{
	return mc_ari_parse(body, strlen(body), i, e);
}

START_TEST(renewal_info_parse)
{
	mc_ari_info i;
	mc_err e;

	ck_assert_int_eq(parse("{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\","
			       "\"end\":\"2027-01-03T00:00:00Z\"},\"explanationURL\":\"https://ca.example/why\"}",
			       &i, &e), 0);
	ck_assert_int_eq(i.start, 1798761600);
	ck_assert_int_eq(i.end, 1798761600 + 2 * DAY);
	ck_assert_str_eq(i.url, "https://ca.example/why");
	/* fractions and offsets are RFC 3339 too; no explanationURL */
	ck_assert_int_eq(parse("{\"suggestedWindow\":{\"start\":\"2027-01-01T01:00:00.5+01:00\","
			       "\"end\":\"2027-01-01T00:00:01Z\"}}", &i, &e), 0);
	ck_assert_int_eq(i.start, 1798761600);
	ck_assert_str_eq(i.url, "");
	/* an unusable explanationURL is dropped, the window kept */
	ck_assert_int_eq(parse("{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-02T00:00:00Z\"},"
			       "\"explanationURL\":\"javascript:alert(1)\"}", &i, &e), 0);
	ck_assert_str_eq(i.url, "");
	ck_assert_int_eq(parse("{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-02T00:00:00Z\"},"
			       "\"explanationURL\":\"https://x.example/a b\\n\"}", &i, &e), 0);
	ck_assert_str_eq(i.url, "");
	ck_assert_int_eq(parse("{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-02T00:00:00Z\"},"
			       "\"explanationURL\":7}", &i, &e), 0);
	ck_assert_str_eq(i.url, "");
}
END_TEST

START_TEST(renewal_info_hostile)
{
	static const char *const bad[] = {
		"",
		"[]",
		"\"x\"",
		"{}",
		"{\"suggestedWindow\":[]}",
		"{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\"}}",
		"{\"suggestedWindow\":{\"start\":1798761600,\"end\":1798848000}}",
		"{\"suggestedWindow\":{\"start\":\"2027-01-02T00:00:00Z\",\"end\":\"2027-01-01T00:00:00Z\"}}",
		"{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-01T00:00:00Z\"}}",
		"{\"suggestedWindow\":{\"start\":\"tomorrow\",\"end\":\"2027-01-01T00:00:00Z\"}}",
		"{\"suggestedWindow\":{\"start\":\"2027-01-01 00:00:00\",\"end\":\"2027-01-02T00:00:00Z\"}}",
		"{\"suggestedWindow\":{\"start\":\"1970-01-01T00:00:00Z\",\"end\":\"1970-01-02T00:00:00Z\"}}",
		"{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"9999-01-02T00:00:00Z\"}}",
		"{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"start\":\"2027-01-01T00:00:00Z\","
		"\"end\":\"2027-01-02T00:00:00Z\"}}",
		"{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-02T00:00:00Z\"}",
		NULL,
	};
	mc_ari_info i;
	mc_err e;
	size_t k, n = MC_ARI_BODY_MAX + 10;
	char *big;

	for (k = 0; bad[k]; k++)
		ck_assert_msg(parse(bad[k], &i, &e) == -1, "accepted %s", bad[k]);
	/* bounded size, whatever is inside */
	big = malloc(n + 1);
	memset(big, ' ', n);
	big[n] = '\0';
	memcpy(big, "{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-02T00:00:00Z\"}}",
	       strlen("{\"suggestedWindow\":{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-02T00:00:00Z\"}}"));
	ck_assert_int_eq(mc_ari_parse(big, n, &i, &e), -1);
	ck_assert_msg(strstr(e.msg, "larger") != NULL, "%s", e.msg);
	free(big);
}
END_TEST

START_TEST(pick_in_window)
{
	const time_t now = 1800000000;
	int k;

	for (k = 0; k < 1000; k++) {
		uint64_t r;
		time_t t;

		ck_assert_int_eq(RAND_bytes((unsigned char *)&r, sizeof r), 1);
		/* a future window: inside it */
		t = mc_ari_pick(now + 10 * DAY, now + 12 * DAY, now, r);
		ck_assert(t >= now + 10 * DAY && t < now + 12 * DAY);
		/* a window open now: between now and its end */
		t = mc_ari_pick(now - 3600, now + 3600, now, r);
		ck_assert(t >= now && t < now + 3600);
		/* a window in the past: now */
		ck_assert_int_eq(mc_ari_pick(now - 2 * DAY, now - DAY, now, r), now);
		ck_assert_int_eq(mc_ari_pick(now - 2 * DAY, now, now, r), now);
	}
	/* the extremes */
	ck_assert_int_eq(mc_ari_pick(now + 100, now + 200, now, 0), now + 100);
	ck_assert_int_eq(mc_ari_pick(now + 100, now + 200, now, 99), now + 199);
	ck_assert_int_eq(mc_ari_pick(now + 100, now + 200, now, 100), now + 100);
}
END_TEST

START_TEST(next_check)
{
	ck_assert_int_eq(mc_ari_next_check(-1), 6 * 3600);
	ck_assert_int_eq(mc_ari_next_check(0), 3600);
	ck_assert_int_eq(mc_ari_next_check(60), 3600);
	ck_assert_int_eq(mc_ari_next_check(7200), 7200);
	ck_assert_int_eq(mc_ari_next_check(86400), 86400);
	ck_assert_int_eq(mc_ari_next_check(30 * DAY), 86400);
}
END_TEST

START_TEST(explanation_url_shape)
{
	ck_assert(mc_ari_url_ok("https://letsencrypt.org/docs/ari"));
	ck_assert(mc_ari_url_ok("http://ca.example/x?y=1"));
	ck_assert(!mc_ari_url_ok("https://"));
	ck_assert(!mc_ari_url_ok("ftp://ca.example/"));
	ck_assert(!mc_ari_url_ok("https://ca.example/\"x"));
	ck_assert(!mc_ari_url_ok("https://ca.example/\x1b[31m"));
	ck_assert(!mc_ari_url_ok("https://ca.example/\xc3\xa9"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ari");
	TCase *tc = unit_tcase("ari");

	tcase_add_test(tc, lifetime_rule);
	tcase_add_test(tc, renewal_with_ari);
	tcase_add_test(tc, backoff_schedule);
	tcase_add_test(tc, backoff_jitter_bounds);
	tcase_add_test(tc, retry_after_rate_limited);
	tcase_add_test(tc, cert_id);
	tcase_add_test(tc, cert_id_shape);
	tcase_add_test(tc, renewal_info_parse);
	tcase_add_test(tc, renewal_info_hostile);
	tcase_add_test(tc, pick_in_window);
	tcase_add_test(tc, next_check);
	tcase_add_test(tc, explanation_url_shape);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
