/*
 * aia - caIssuers URLs and a bounded fetch with libcurl.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/x509v3.h>

#include "aia.h"

char **mc_aia_urls(X509 *x)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	int i, n = aia ? sk_ACCESS_DESCRIPTION_num(aia) : 0;
	char **v = mc_calloc((size_t)n + 1, sizeof *v);
	size_t k = 0;

	for (i = 0; i < n; i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		const unsigned char *d;
		int len;

		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers || ad->location->type != GEN_URI)
			continue;
		d = ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(ad->location->d.uniformResourceIdentifier);
		/* printable ASCII only: it goes into messages and to libcurl */
		if (len <= 0 || len > 2000 || memchr(d, '\0', (size_t)len))
			continue;
		if (strncasecmp((const char *)d, "http://", 7) != 0 &&
		    strncasecmp((const char *)d, "https://", 8) != 0)
			continue;
		v[k] = mc_strndup((const char *)d, (size_t)len);
		for (len = 0; v[k][len]; len++)
			if ((unsigned char)v[k][len] <= 0x20 || (unsigned char)v[k][len] >= 0x7f)
				break;
		if (v[k][len]) {
			free(v[k]);
			v[k] = NULL;
			continue;
		}
		k++;
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	return v;
}

struct sink {
	mc_buf *b;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *u)
{
	struct sink *s = u;
	size_t n = size * nmemb;

	if (s->b->len + n > MC_AIA_MAX_BYTES) {
		s->too_big = 1;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	mc_buf_append(s->b, p, n);
	return n;
}

int mc_aia_fetch(const char *url, mc_buf *out, mc_err *e)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct sink s = { out, 0 };
	CURL *c;
	CURLcode rc;
	long status = 0;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return mc_err_set(e, "curl_global_init failed");
	c = curl_easy_init();
	if (!c) {
		curl_global_cleanup();
		return mc_err_set(e, "curl_easy_init failed");
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)MC_AIA_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MC_AIA_MAX_BYTES);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mailcert/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return mc_err_set(e, "%s: the answer is larger than %d bytes", url, MC_AIA_MAX_BYTES);
	if (rc != CURLE_OK)
		return mc_err_set(e, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	if (status != 200)
		return mc_err_set(e, "%s: HTTP status %ld", url, status);
	if (out->len == 0)
		return mc_err_set(e, "%s: empty answer", url);
	return 0;
}
