/*
 * ari - certID, the renewalInfo answer checked, the chosen renewal time.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ari.h"
#include "b64url.h"
#include "timefmt.h"
#include "xalloc.h"

#define TIME_MIN ((time_t)946684800)   /* 2000-01-01: anything earlier is not a window */
#define TIME_MAX ((time_t)7258118400LL) /* 2200-01-01 */

int mc_ari_cert_id(X509 *leaf, char *out, size_t outlen, mc_err *e)
{
	const ASN1_OCTET_STRING *kid = X509_get0_authority_key_id(leaf);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(leaf);
	unsigned char *der = NULL;
	const unsigned char *p;
	long len = 0;
	int tag, xclass, n;
	char *a = NULL, *b = NULL;
	int rc = -1;

	if (!kid || ASN1_STRING_length(kid) <= 0)
		return mc_err_set(e, "the certificate has no authority key identifier");
	n = i2d_ASN1_INTEGER(serial, &der);
	if (n <= 0)
		return mc_err_ssl(e, "encoding the serial number");
	/* the content octets of the DER INTEGER: what follows its tag and length */
	p = der;
	if ((ASN1_get_object(&p, &len, &tag, &xclass, n) & 0x80) || tag != V_ASN1_INTEGER || len <= 0 ||
	    p + len != der + n) {
		mc_err_set(e, "the serial number does not encode as a DER INTEGER");
		goto out;
	}
	a = mc_b64url_encode(ASN1_STRING_get0_data(kid), (size_t)ASN1_STRING_length(kid));
	b = mc_b64url_encode(p, (size_t)len);
	if (strlen(a) + 1 + strlen(b) > MC_ARI_CERTID_MAX || strlen(a) + 1 + strlen(b) >= outlen) {
		mc_err_set(e, "the certificate's identifier for renewal information is too long");
		goto out;
	}
	snprintf(out, outlen, "%s.%s", a, b);
	rc = 0;
out:
	OPENSSL_free(der);
	free(a);
	free(b);
	return rc;
}

int mc_ari_cert_id_valid(const char *s)
{
	const char *dot = s ? strchr(s, '.') : NULL;
	char first[MC_ARI_CERTID_MAX + 1];

	if (!dot || strlen(s) > MC_ARI_CERTID_MAX || dot == s)
		return 0;
	memcpy(first, s, (size_t)(dot - s));
	first[dot - s] = '\0';
	return mc_b64url_valid(first, MC_ARI_CERTID_MAX) && mc_b64url_valid(dot + 1, MC_ARI_CERTID_MAX);
}

int mc_ari_url_ok(const char *s)
{
	const char *p;

	if (!s || strlen(s) > MC_ARI_URL_MAX)
		return 0;
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\' ||
		    *p == '<' || *p == '>')
			return 0;
	return strlen(s) > 8;
}

static int window_time(json_t *w, const char *key, time_t *t, mc_err *e)
{
	const char *v = json_string_value(json_object_get(w, key));

	if (!v)
		return mc_err_set(e, "suggestedWindow.%s is not a string", key);
	if (strlen(v) > 64 || mc_time_parse(v, t) < 0)
		return mc_err_set(e, "suggestedWindow.%s is not an RFC 3339 time", key);
	if (*t < TIME_MIN || *t > TIME_MAX)
		return mc_err_set(e, "suggestedWindow.%s is out of range", key);
	return 0;
}

int mc_ari_parse(const char *body, size_t len, mc_ari_info *out, mc_err *e)
{
	json_t *j, *w, *u;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (len > MC_ARI_BODY_MAX)
		return mc_err_set(e, "renewal information larger than %d bytes", MC_ARI_BODY_MAX);
	j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		mc_err_set(e, "renewal information is not a JSON object");
		goto out;
	}
	w = json_object_get(j, "suggestedWindow");
	if (!json_is_object(w)) {
		mc_err_set(e, "renewal information without a suggestedWindow object");
		goto out;
	}
	if (window_time(w, "start", &out->start, e) < 0 || window_time(w, "end", &out->end, e) < 0)
		goto out;
	if (out->start >= out->end) {
		mc_err_set(e, "renewal information: the suggested window ends before it starts");
		goto out;
	}
	/* only a help for the operator: an unusable one is left out, the window kept */
	u = json_object_get(j, "explanationURL");
	if (json_is_string(u) && mc_ari_url_ok(json_string_value(u)))
		snprintf(out->url, sizeof out->url, "%s", json_string_value(u));
	rc = 0;
out:
	json_decref(j);
	return rc;
}

long mc_ari_next_check(long ra)
{
	if (ra < 0)
		return MC_ARI_CHECK_DEFAULT;
	if (ra < MC_ARI_CHECK_MIN)
		return MC_ARI_CHECK_MIN;
	return ra > MC_ARI_CHECK_MAX ? MC_ARI_CHECK_MAX : ra;
}

time_t mc_ari_pick(time_t start, time_t end, time_t now, uint64_t r)
{
	time_t lo = start > now ? start : now;

	/* a window that has passed (or closes now): renew now */
	if (end <= lo)
		return now;
	return lo + (time_t)(r % (uint64_t)(end - lo));
}

uint64_t mc_random_u64(void)
{
	uint64_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		r = (uint64_t)mc_mono_ms() * 6364136223846793005ULL + 1442695040888963407ULL;
	return r;
}
