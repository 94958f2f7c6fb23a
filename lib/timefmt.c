/*
 * timefmt - RFC 3339 formatting and parsing, via OpenSSL's ASN1_TIME where
 * it helps (it understands GeneralizedTime, which RFC 3339 maps onto).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>

#include "timefmt.h"

void mc_time_format(time_t t, char *out)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, MC_TIMEFMT_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int mc_time_parse(const char *s, time_t *t)
{
	char gen[32];
	const char *p;
	ASN1_TIME *at;
	struct tm tm;
	long off = 0;
	size_t i;

	/* YYYY-MM-DDTHH:MM:SS */
	if (strlen(s) < 20)
		return -1;
	for (i = 0; i < 19; i++) {
		static const char shape[] = "dddd-dd-ddTdd:dd:dd";
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9')
				    : (shape[i] == 'T' ? (s[i] != 'T' && s[i] != 't') : s[i] != shape[i]))
			return -1;
	}
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
		   p[1] >= '0' && p[1] <= '2' && p[2] >= '0' && p[2] <= '9' &&
		   p[4] >= '0' && p[4] <= '5' && p[5] >= '0' && p[5] <= '9') {
		int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[4] - '0') * 10 + (p[5] - '0');
		if (hh > 23)
			return -1;
		off = (hh * 60L + mm) * 60L * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	snprintf(gen, sizeof gen, "%.4s%.2s%.2s%.2s%.2s%.2sZ", s, s + 5, s + 8, s + 11, s + 14, s + 17);
	at = ASN1_TIME_new();
	if (!at || !ASN1_GENERALIZEDTIME_set_string(at, gen) || !ASN1_TIME_to_tm(at, &tm)) {
		ASN1_TIME_free(at);
		return -1;
	}
	ASN1_TIME_free(at);
	*t = timegm(&tm) - off;
	return 0;
}

time_t mc_now(void)
{
#ifdef MAILCERT_TEST_HOOKS
	/* tests move the clock; a production build (no --enable-test-hooks)
	 * never lets the environment do that */
	const char *fake = getenv("MAILCERT_NOW");

	if (fake && *fake)
		return (time_t)strtoll(fake, NULL, 10);
#endif
	return time(NULL);
}

long mc_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}
