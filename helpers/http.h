/*
 * http - the HTTPS client ACME runs on (libcurl).
 *
 * One mc_http per thread, reused for every request so connections are kept
 * alive; all of them share DNS, TLS sessions and the connection cache.
 * Bodies are bounded; only https:// is spoken.
 */
#ifndef MC_HTTP_H
#define MC_HTTP_H

#include <curl/curl.h>

#include "err.h"
#include "xalloc.h"

#define MC_HTTP_BODY_MAX (1024 * 1024)

typedef struct mc_http_resp {
	long status;
	mc_buf body;
	char *location;
	char *nonce;
	char *content_type;
	long retry_after;    /* seconds, -1 when absent */
	char **alternates;   /* Link: rel="alternate" targets, NULL-terminated */
	size_t nalternates;
	char *link_index;    /* Link: rel="index" */
} mc_http_resp;

typedef struct mc_http {
	CURL *curl;
	char *ca_bundle;
} mc_http;

/* requests made and new connections opened, process-wide (for logs and benchmarks) */
void mc_http_counts(unsigned long *requests, unsigned long *connections);

/* process-wide setup and teardown (curl_global_init, the share handle) */
int mc_http_global_init(mc_err *e);
void mc_http_global_cleanup(void);

int mc_http_init(mc_http *h, const char *ca_bundle, mc_err *e);
/*
 * Use PEM (LEN bytes; taken over, never freed while requests run) as the
 * trust anchors of every request: for a process that has read its
 * ca_bundle before giving up the right to open it.
 */
void mc_http_set_ca_blob(char *pem, size_t len);
/* say where the trust anchors came from in errors of certificates that do not verify */
void mc_http_set_ca_source(const char *what);
/*
 * The first readable bundle among the distributions' usual paths (Debian/Ubuntu,
 * RHEL/Fedora, SUSE, Alpine, FreeBSD), or NULL; TRIED gets the paths looked at.
 */
const char *mc_http_find_ca_bundle(char *tried, size_t triedlen);
void mc_http_free(mc_http *h);

void mc_http_resp_init(mc_http_resp *r);
void mc_http_resp_free(mc_http_resp *r);

/* take one response header line into R (Replay-Nonce, Location, Retry-After, Link...) */
void mc_http_parse_header(mc_http_resp *r, const char *line, size_t len);

/* METHOD is "GET", "HEAD" or "POST" (BODY sent as application/jose+json) */
int mc_http_request(mc_http *h, const char *method, const char *url, const char *body,
		    const char *accept, mc_http_resp *r, mc_err *e);

#endif
