/*
 * http - libcurl easy handles sharing one connection cache.
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include "http.h"

/* a longer Retry-After is taken as this (30 days): a rate limit can last a week */
#define RETRY_AFTER_MAX (30L * 86400)

static CURLSH *share;
static unsigned long n_requests, n_connections;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

void mc_http_counts(unsigned long *requests, unsigned long *connections)
{
	pthread_mutex_lock(&count_lock);
	*requests = n_requests;
	*connections = n_connections;
	pthread_mutex_unlock(&count_lock);
}
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *u)
{
	pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *u)
{
	pthread_mutex_unlock(&share_locks[data]);
}

int mc_http_global_init(mc_err *e)
{
	int i;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return mc_err_set(e, "curl_global_init failed");
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	share = curl_share_init();
	if (!share)
		return mc_err_set(e, "curl_share_init failed");
	curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	/* connections are not shared: libcurl does not support that across threads;
	 * each worker's own handle keeps its connection alive instead */
	return 0;
}

void mc_http_global_cleanup(void)
{
	if (share)
		curl_share_cleanup(share);
	share = NULL;
	curl_global_cleanup();
}

/* trust anchors read before privileges were dropped (NULL: the path, or the system's) */
static char *ca_blob;
static size_t ca_blob_len;

void mc_http_set_ca_blob(char *pem, size_t len)
{
	free(ca_blob);
	ca_blob = pem;
	ca_blob_len = len;
}

/* where the trust anchors came from, for an error that a certificate did not verify */
static char ca_source[1024];

void mc_http_set_ca_source(const char *what)
{
	snprintf(ca_source, sizeof ca_source, "%s", what ? what : "");
}

/* the usual bundle of each distribution, in this order */
static const char *const ca_bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Arch, Gentoo */
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL, Fedora (ca-trust) */
	"/etc/pki/tls/certs/ca-bundle.crt",                  /* RHEL, Fedora, CentOS */
	"/etc/ssl/ca-bundle.pem",                            /* SUSE */
	"/etc/ssl/cert.pem",                                 /* Alpine, OpenBSD */
	"/usr/local/share/certs/ca-root-nss.crt",            /* FreeBSD */
	"/usr/local/etc/ssl/cert.pem",                       /* FreeBSD */
	NULL,
};

const char *mc_http_find_ca_bundle(char *tried, size_t triedlen)
{
	size_t i, n = 0;

	if (triedlen)
		tried[0] = '\0';
	for (i = 0; ca_bundles[i]; i++) {
		struct stat sb;

		if (stat(ca_bundles[i], &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
		    access(ca_bundles[i], R_OK) == 0)
			return ca_bundles[i];
		if (n < triedlen) {
			int w = snprintf(tried + n, triedlen - n, "%s%s", n ? ", " : "", ca_bundles[i]);
			n += w > 0 ? (size_t)w : 0;
		}
	}
	return NULL;
}

int mc_http_init(mc_http *h, const char *ca_bundle, mc_err *e)
{
	h->curl = curl_easy_init();
	h->ca_bundle = ca_bundle && *ca_bundle ? mc_strdup(ca_bundle) : NULL;
	if (!h->curl)
		return mc_err_set(e, "curl_easy_init failed");
	curl_easy_setopt(h->curl, CURLOPT_SHARE, share);
	return 0;
}

void mc_http_free(mc_http *h)
{
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->ca_bundle);
	h->curl = NULL;
	h->ca_bundle = NULL;
}

void mc_http_resp_init(mc_http_resp *r)
{
	memset(r, 0, sizeof *r);
	mc_buf_init(&r->body);
	r->retry_after = -1;
}

void mc_http_resp_free(mc_http_resp *r)
{
	size_t i;

	mc_buf_free(&r->body);
	free(r->location);
	free(r->nonce);
	free(r->content_type);
	for (i = 0; i < r->nalternates; i++)
		free(r->alternates[i]);
	free(r->alternates);
	free(r->link_index);
	mc_http_resp_init(r);
}

static size_t on_body(char *p, size_t size, size_t n, void *u)
{
	mc_http_resp *r = u;
	size_t len = size * n;

	if (r->body.len + len > MC_HTTP_BODY_MAX)
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	mc_buf_append(&r->body, p, len);
	return len;
}

static char *trimdup(const char *p, size_t len)
{
	while (len && isspace((unsigned char)*p)) {
		p++;
		len--;
	}
	while (len && isspace((unsigned char)p[len - 1]))
		len--;
	return mc_strndup(p, len);
}

/* Link: <url>;rel="alternate", <url2>;rel="index" (several per header allowed) */
static void parse_link(mc_http_resp *r, const char *v, size_t len)
{
	const char *end = v + len;

	while (v < end) {
		const char *lt = memchr(v, '<', (size_t)(end - v)), *gt, *next, *rel;
		char *url, *params;

		if (!lt)
			return;
		gt = memchr(lt, '>', (size_t)(end - lt));
		if (!gt)
			return;
		next = memchr(gt, ',', (size_t)(end - gt));
		if (!next)
			next = end;
		url = mc_strndup(lt + 1, (size_t)(gt - lt - 1));
		params = mc_strndup(gt + 1, (size_t)(next - gt - 1));
		rel = strstr(params, "rel=");
		if (rel && (strncmp(rel + 4, "\"alternate\"", 11) == 0 || strncmp(rel + 4, "alternate", 9) == 0)) {
			r->alternates = mc_realloc(r->alternates, (r->nalternates + 2) * sizeof *r->alternates);
			r->alternates[r->nalternates++] = url;
			r->alternates[r->nalternates] = NULL;
			url = NULL;
		} else if (rel && (strncmp(rel + 4, "\"index\"", 7) == 0 || strncmp(rel + 4, "index", 5) == 0)) {
			free(r->link_index);
			r->link_index = url;
			url = NULL;
		}
		free(url);
		free(params);
		v = next + 1;
	}
}

static size_t on_header(char *p, size_t size, size_t n, void *u)
{
	mc_http_parse_header(u, p, size * n);
	return size * n;
}

void mc_http_parse_header(mc_http_resp *r, const char *p, size_t len)
{
	const char *colon = memchr(p, ':', len);
	size_t nlen, vlen;
	const char *v;

	if (!colon)
		return;
	nlen = (size_t)(colon - p);
	v = colon + 1;
	vlen = len - nlen - 1;
#define HDR(name) (nlen == sizeof(name) - 1 && strncasecmp(p, name, nlen) == 0)
	if (HDR("Replay-Nonce")) {
		free(r->nonce);
		r->nonce = trimdup(v, vlen);
	} else if (HDR("Location")) {
		free(r->location);
		r->location = trimdup(v, vlen);
	} else if (HDR("Content-Type")) {
		free(r->content_type);
		r->content_type = trimdup(v, vlen);
	} else if (HDR("Retry-After")) {
		char *s = trimdup(v, vlen), *end;
		long secs = strtol(s, &end, 10);

		/* delta-seconds or an HTTP-date (RFC 9110 section 10.2.3) */
		if (end != s && *end == '\0' && secs >= 0) {
			r->retry_after = secs > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : secs;
		} else {
			time_t t = curl_getdate(s, NULL), now = time(NULL);
			if (t != (time_t)-1)
				r->retry_after = t <= now ? 0 : t - now > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (long)(t - now);
		}
		free(s);
	} else if (HDR("Link")) {
		parse_link(r, v, vlen);
	}
#undef HDR
}

int mc_http_request(mc_http *h, const char *method, const char *url, const char *body,
		    const char *accept, mc_http_resp *r, mc_err *e)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	CURL *c = h->curl;

	mc_http_resp_free(r);
	/* reset keeps live connections and the share (set once in mc_http_init) */
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#ifdef MAILCERT_TEST_HOOKS
	/* a test-only switch: a production build never traces its CA traffic */
	if (getenv("MAILCERT_CURL_VERBOSE"))
		curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
#endif
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MC_HTTP_BODY_MAX);
	if (ca_blob) {
		struct curl_blob blob = { ca_blob, ca_blob_len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	} else if (h->ca_bundle) {
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
	}
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "POST") == 0) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	}
	if (accept) {
		char *a = mc_asprintf("Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, a);
		free(a);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	{
		long conns = 0;
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
		pthread_mutex_lock(&count_lock);
		n_requests++;
		n_connections += (unsigned long)conns;
		pthread_mutex_unlock(&count_lock);
	}
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		if (rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED)
			return mc_err_set(e, "%s %s: response larger than %d bytes", method, url, MC_HTTP_BODY_MAX);
		if ((rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) && ca_source[0])
			return mc_err_set(e, "%s %s: %s (trust anchors: %s)", method, url,
					  errbuf[0] ? errbuf : curl_easy_strerror(rc), ca_source);
		return mc_err_set(e, "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	return 0;
}
