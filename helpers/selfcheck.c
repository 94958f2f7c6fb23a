/*
 * selfcheck - the checks before an order (see selfcheck.h), run in the
 * network process.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "b64url.h"
#include "dnscheck.h"
#include "log.h"
#include "selfcheck.h"
#include "xalloc.h"

#define PREFIX "Self-check failed: "
#define MAX_ADDRS 8
#define PROBE_TIMEOUT_S 10L
#define BODY_MAX 4096
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"

static const char *resolver_name(const mc_config *cfg)
{
	return cfg->resolver[0] ? cfg->resolver : "the system's resolver";
}

/* a fresh random token and key authorization, shaped like the CA's (token "." 43 characters) */
static int probe_values(char **token, char **keyauth, mc_err *e)
{
	unsigned char r[64];
	char *a, *b;

	if (RAND_bytes(r, sizeof r) != 1)
		return mc_err_set(e, "no random bytes for the self-check probe");
	a = mc_b64url_encode(r, 32);
	b = mc_b64url_encode(r + 32, 32);
	*token = a;
	*keyauth = mc_asprintf("%s.%s", a, b);
	free(b);
	return 0;
}

/* ---- http-01 ---- */

struct body {
	char buf[BODY_MAX + 1];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;

	if (len > BODY_MAX - b->len)
		return 0; /* far longer than a key authorization: not our responder */
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return len;
}

static int http_probe(const mc_config *cfg, const char *name, const char *addr, const char *token,
		      const char *keyauth, mc_err *e)
{
	long port = cfg->http01_public_port, status = 0;
	int v6 = strchr(addr, ':') != NULL;
	char url[512], errbuf[CURL_ERROR_SIZE] = "", r1[400], r2[400], r3[400];
	struct curl_slist *resolve = NULL;
	struct body *b = mc_calloc(1, sizeof *b);
	CURLcode rc;
	CURL *c = curl_easy_init();
	int ret = -1;

	if (!c) {
		free(b);
		return mc_err_set(e, "curl_easy_init failed");
	}
	snprintf(url, sizeof url, "http://%s:%ld/.well-known/acme-challenge/%s", name, port, token);
	/* the name goes to the address the resolver gave, here and on redirects to 80 and 443 */
	snprintf(r1, sizeof r1, "%s:%ld:%s%s%s", name, port, v6 ? "[" : "", addr, v6 ? "]" : "");
	snprintf(r2, sizeof r2, "%s:80:%s%s%s", name, v6 ? "[" : "", addr, v6 ? "]" : "");
	snprintf(r3, sizeof r3, "%s:443:%s%s%s", name, v6 ? "[" : "", addr, v6 ? "]" : "");
	resolve = curl_slist_append(resolve, r1);
	resolve = curl_slist_append(resolve, r2);
	resolve = curl_slist_append(resolve, r3);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* as a CA does: redirects are followed, a certificate behind one is not judged */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, PROBE_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 2 * PROBE_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION " self-check");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) {
		mc_err_set(e, PREFIX "%s resolves to %s at %s, but the http-01 probe %s could not be fetched "
			   "there (%s): the CA would fail the same way. Make %s point to this server and port %ld "
			   "reach mailcert's http-01 responder (http01.listen, http01.public_port) or the web "
			   "server of http01.webroot",
			   name, addr, resolver_name(cfg), url, errbuf[0] ? errbuf : curl_easy_strerror(rc), name,
			   port);
	} else {
		while (b->len > 0 && strchr(" \t\r\n", b->buf[b->len - 1]))
			b->buf[--b->len] = '\0';
		if (rc == CURLE_OK && status == 200 && strcmp(b->buf, keyauth) == 0)
			ret = 0;
		else
			mc_err_set(e, PREFIX "%s resolves to %s at %s, and %s answered HTTP %ld with %s instead of "
				   "the probe mailcert served: another server answers there. Make %s point to this "
				   "server and port %ld reach mailcert's http-01 responder (http01.listen, "
				   "http01.public_port), or set http01.webroot to the document root that server uses",
				   name, addr, resolver_name(cfg), url, status,
				   b->len ? "something else" : "an empty body", name, port);
	}
	curl_slist_free_all(resolve);
	curl_easy_cleanup(c);
	free(b);
	return ret;
}

/* ---- tls-alpn-01 ---- */

/* a TCP connection to ADDR:PORT within the probe's time-out, or -1 with WHY */
static int tcp_connect(const char *addr, long port, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct timeval tv = { PROBE_TIMEOUT_S, 0 };
	struct pollfd p;
	int fd, err = 0, flags;
	socklen_t errlen = sizeof err;

	memset(&ss, 0, sizeof ss);
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			goto bad;
		sslen = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			goto bad;
		sslen = sizeof *s4;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 && errno != EINPROGRESS) {
		snprintf(why, whylen, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	p.fd = fd;
	p.events = POLLOUT;
	p.revents = 0;
	while ((err = poll(&p, 1, (int)PROBE_TIMEOUT_S * 1000)) < 0 && errno == EINTR)
		;
	if (err == 0) {
		snprintf(why, whylen, "connect: no answer within %ld s", PROBE_TIMEOUT_S);
		close(fd);
		return -1;
	}
	err = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0 || err != 0) {
		snprintf(why, whylen, "connect: %s", strerror(err ? err : errno));
		close(fd);
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
bad:
	snprintf(why, whylen, "not an address");
	return -1;
}

/* what is wrong with CERT as the answer for NAME with KEYAUTH, or NULL */
static const char *alpn_cert_problem(X509 *cert, const char *name, const char *keyauth)
{
	unsigned char want[32];
	GENERAL_NAMES *sans;
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
	const char *why = NULL;
	int i, idx, nsan = 0, match = 0;

	if (!oid)
		return "out of memory";
	EVP_Digest(keyauth, strlen(keyauth), want, NULL, EVP_sha256(), NULL);
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		nsan++;
		if (g->type == GEN_DNS && (size_t)ASN1_STRING_length(g->d.dNSName) == strlen(name) &&
		    strncasecmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), name, strlen(name)) == 0)
			match = 1;
	}
	GENERAL_NAMES_free(sans);
	idx = X509_get_ext_by_OBJ(cert, oid, -1);
	ASN1_OBJECT_free(oid);
	if (!match || nsan != 1) {
		why = "a certificate that is not the probe's (its subjectAltName is not just the name)";
	} else if (idx < 0) {
		why = "a certificate without the acmeIdentifier extension";
	} else {
		ASN1_OCTET_STRING *wrapped = X509_EXTENSION_get_data(X509_get_ext(cert, idx)), *inner;
		const unsigned char *p = ASN1_STRING_get0_data(wrapped);

		inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(wrapped));
		if (!inner || ASN1_STRING_length(inner) != 32 || memcmp(ASN1_STRING_get0_data(inner), want, 32) != 0)
			why = "a tls-alpn-01 certificate for another key authorization than the probe's";
		ASN1_OCTET_STRING_free(inner);
	}
	return why;
}

static int alpn_probe(const mc_config *cfg, const char *name, const char *addr, const char *keyauth, mc_err *e)
{
	static const unsigned char alpn[] = "\x0a" "acme-tls/1";
	long port = cfg->tlsalpn01_public_port;
	const unsigned char *proto = NULL;
	unsigned int protolen = 0;
	char why[256] = "";
	const char *problem = NULL;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *cert = NULL;
	int fd, ret = -1;

	fd = tcp_connect(addr, port, why, sizeof why);
	if (fd < 0)
		return mc_err_set(e, PREFIX "%s resolves to %s at %s, but nothing answers on port %ld there (%s): "
				  "the CA's tls-alpn-01 validation would fail the same way. Make %s point to this "
				  "server and port %ld reach mailcert's tls-alpn-01 responder (tlsalpn01.listen, "
				  "tlsalpn01.public_port)",
				  name, addr, resolver_name(cfg), port, why, name, port);
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		ssl = SSL_new(ctx);
	}
	if (!ssl || SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1) != 0 ||
	    SSL_set_fd(ssl, fd) != 1) {
		mc_err_set(e, "self-check: cannot set up a TLS client");
		goto out;
	}
	if (SSL_connect(ssl) != 1) {
		unsigned long err = ERR_peek_last_error();
		snprintf(why, sizeof why, "%s", err ? ERR_reason_error_string(err) : "the connection was closed");
	} else {
		SSL_get0_alpn_selected(ssl, &proto, &protolen);
		cert = SSL_get1_peer_certificate(ssl);
		if (protolen != 10 || memcmp(proto, "acme-tls/1", 10) != 0)
			problem = "a handshake without the acme-tls/1 protocol";
		else if (!cert)
			problem = "no certificate";
		else
			problem = alpn_cert_problem(cert, name, keyauth);
		if (!problem)
			ret = 0;
		else
			snprintf(why, sizeof why, "%s", problem);
	}
	ERR_clear_error();
	if (ret < 0)
		mc_err_set(e, PREFIX "%s resolves to %s at %s; a TLS handshake with port %ld there (ALPN acme-tls/1, "
			   "SNI %s) got %s%s, not mailcert's probe: another server answers there. Make %s point to "
			   "this server and port %ld reach mailcert's tls-alpn-01 responder (tlsalpn01.listen, "
			   "tlsalpn01.public_port)",
			   name, addr, resolver_name(cfg), port, name, problem ? "" : "a failure: ", why, name, port);
out:
	X509_free(cert);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return ret;
}

/* ---- CAA (RFC 8659) ---- */

static int tag_is(const mc_caa *r, const char *tag)
{
	return strcasecmp(r->tag, tag) == 0;
}

/* the issuer-domain-name of an issue or issuewild value: before any ';', without blanks */
static void issuer_of(const char *value, char *out, size_t outlen)
{
	size_t n;

	while (*value == ' ' || *value == '\t')
		value++;
	n = strcspn(value, "; \t");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, value, n);
	out[n] = '\0';
}

static int known_tag(const mc_caa *r)
{
	static const char *const tags[] = { "issue", "issuewild", "iodef", "issuemail", "issuevmc",
					    "contactemail", "contactphone", NULL };
	size_t i;

	for (i = 0; tags[i]; i++)
		if (tag_is(r, tags[i]))
			return 1;
	return 0;
}

static int caa_judge(const char *name, const char *at, const mc_caa *recs, int n, int wildcard,
		     json_t *ids, mc_err *e)
{
	const char *prop = "issue";
	char issuer[256], seen[1024] = "", want[512] = "", first[256];
	int i, nprop = 0, named = 0;
	json_t *v;
	size_t k;

	for (i = 0; i < n; i++)
		if ((recs[i].flags & 0x80) && !known_tag(&recs[i]))
			return mc_err_set(e, PREFIX "%s: the CAA records at %s hold a critical property \"%s\" that "
					  "CAs do not know, so no CA may issue for it: remove that record or clear its "
					  "critical flag",
					  name, at, recs[i].tag);
	if (wildcard)
		for (i = 0; i < n; i++)
			if (tag_is(&recs[i], "issuewild"))
				prop = "issuewild";
	for (i = 0; i < n; i++) {
		if (!tag_is(&recs[i], prop))
			continue;
		nprop++;
		issuer_of(recs[i].value, issuer, sizeof issuer);
		if (!issuer[0])
			continue;
		named++;
		if (strlen(seen) + strlen(issuer) + 4 < sizeof seen)
			snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s\"%s\"", seen[0] ? ", " : "",
				 issuer);
		json_array_foreach(ids, k, v)
			if (json_string_value(v) && strcasecmp(json_string_value(v), issuer) == 0)
				return 0;
	}
	/* no property that restricts issuance: CAA does not restrict it (RFC 8659 section 4.2) */
	if (nprop == 0)
		return 0;
	/* a CA that does not say who it is can only be refused by records that name no CA at all */
	if (!json_array_size(ids)) {
		if (named == 0)
			return mc_err_set(e, PREFIX "%s: the CAA records at %s forbid every CA to issue%s for it "
					  "(%s \";\"): add a %s property naming this CA, or remove them",
					  name, at, wildcard ? " wildcard certificates" : "", prop, prop);
		mc_debug("%s: CAA at %s names %s; the CA publishes no caaIdentities to compare", name, at, seen);
		return 0;
	}
	snprintf(first, sizeof first, "%s", json_string_value(json_array_get(ids, 0)) ? json_string_value(json_array_get(ids, 0)) : "?");
	json_array_foreach(ids, k, v)
		if (json_string_value(v) && strlen(want) + strlen(json_string_value(v)) + 4 < sizeof want)
			snprintf(want + strlen(want), sizeof want - strlen(want), "%s\"%s\"", want[0] ? ", " : "",
				 json_string_value(v));
	return mc_err_set(e, PREFIX "%s: the CAA records at %s let only %s issue%s for it, not this CA (its "
			  "caaIdentities: %s), so the CA must refuse: add %s. CAA 0 %s \"%s\", or remove the CAA records",
			  name, at, named ? seen : "no CA at all", wildcard ? " wildcard certificates" : "", want,
			  at, prop, first);
}

int mc_selfcheck_caa(const char *resolver, const char *name, json_t *ids, mc_err *e)
{
	int wildcard = strncmp(name, "*.", 2) == 0;
	const char *at = wildcard ? name + 2 : name;
	mc_caa recs[32];

	/* the relevant record set: at the name, else at the closest parent that has one */
	while (at && *at) {
		const char *dot;
		int n = mc_dns_caa(resolver, at, recs, 32, e);

		if (n < 0)
			return mc_err_prefix(e, PREFIX "%s: the CAA look-up failed (a CA refuses to issue while it cannot "
					     "read CAA; fix the DNS of %s)",
					     name, at);
		if (n > 0)
			return caa_judge(name, at, recs, n, wildcard, ids, e);
		dot = strchr(at, '.');
		at = dot ? dot + 1 : NULL;
	}
	return 0;
}

/* ---- all of it ---- */

static int probe_name(const mc_config *cfg, mc_challenge type, const char *name, const mc_acme_ops *ops,
		      void *ctx, mc_err *e)
{
	char addrs[MAX_ADDRS][INET6_ADDRSTRLEN];
	char *token = NULL, *keyauth = NULL;
	int n, i, rc;

	n = mc_dns_addrs(cfg->resolver, name, addrs, MAX_ADDRS, e);
	if (n < 0)
		return mc_err_prefix(e, PREFIX "%s: its address look-up failed (the CA must resolve it; fix the DNS, or "
				     "the resolver mailcert asks)",
				     name);
	if (n == 0)
		return mc_err_set(e, PREFIX "%s does not resolve at %s (no A or AAAA record), so the CA cannot reach it "
				  "for %s: publish an address record pointing to this server (or set self_check = false "
				  "where the public DNS differs from what this server sees)",
				  name, resolver_name(cfg), type == MC_CHAL_TLSALPN01 ? "tls-alpn-01" : "http-01");
	if (probe_values(&token, &keyauth, e) < 0)
		return -1;
	rc = ops->provision(ctx, type, name, token, keyauth, e);
	if (rc < 0)
		mc_err_prefix(e, PREFIX "%s: serving the probe", name);
	for (i = 0; rc == 0 && i < n; i++)
		rc = type == MC_CHAL_TLSALPN01 ? alpn_probe(cfg, name, addrs[i], keyauth, e)
					       : http_probe(cfg, name, addrs[i], token, keyauth, e);
	ops->deprovision(ctx, type, name, token);
	if (rc == 0)
		mc_debug("%s: self-check: %d address(es) answer with the %s probe", name, n,
			 type == MC_CHAL_TLSALPN01 ? "tls-alpn-01" : "http-01");
	free(token);
	free(keyauth);
	return rc;
}

int mc_selfcheck(const mc_config *cfg, mc_challenge type, char *const *names, size_t nnames,
		 json_t *caa_identities, const mc_acme_ops *ops, void *ctx, mc_err *e)
{
	size_t i;

	for (i = 0; i < nnames; i++) {
		/* a wildcard is only ever dns-01, whose record the store process checks */
		if (type != MC_CHAL_DNS01 && strncmp(names[i], "*.", 2) != 0 &&
		    probe_name(cfg, type, names[i], ops, ctx, e) < 0)
			return -1;
		if (mc_selfcheck_caa(cfg->resolver, names[i], caa_identities, e) < 0)
			return -1;
	}
	return 0;
}
