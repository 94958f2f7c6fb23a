/*
 * tlsalpn - one accept thread, a short-lived thread per handshake (joined
 * by the accept thread when it is over, and all of them at stop).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "hostname.h"
#include "keys.h"
#include "tlsalpn.h"
#include "xalloc.h"

#define MAX_LISTEN 16
#define HANDSHAKE_TIMEOUT_S 10
#define ACME_TLS_1 "acme-tls/1"
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"

struct entry {
	char *name;
	X509 *cert;
	EVP_PKEY *key;
};

struct mc_tlsalpn {
	int lfd[MAX_LISTEN];
	size_t nlfd;
	int wake[2];
	pthread_t thread;
	pthread_mutex_t lock;
	struct conn **conns;    /* handshake threads, joined when done and at stop */
	size_t nconns, capconns;
	SSL_CTX *ctx;
	struct entry *entries;
	size_t n, cap;
};

/* only "acme-tls/1" is spoken here */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int i = 0;

	while (i < inlen) {
		unsigned int len = in[i];
		if (i + 1 + len > inlen)
			break;
		if (len == strlen(ACME_TLS_1) && memcmp(in + i + 1, ACME_TLS_1, len) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)len;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + len;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * OpenSSL asks the ALPN callback only when the client offers ALPN at all;
 * a client that offers none must be refused too, so look at the hello first.
 */
static int on_client_hello(SSL *ssl, int *alert, void *arg)
{
	const unsigned char *ext;
	size_t len, i;

	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext, &len) ||
	    len < 2) {
		*alert = SSL_AD_NO_APPLICATION_PROTOCOL;
		return SSL_CLIENT_HELLO_ERROR;
	}
	/* ProtocolNameList: a 2-byte length, then <1-byte length, name> entries */
	for (i = 2; i < len;) {
		size_t n = ext[i];
		if (i + 1 + n > len)
			break;
		if (n == strlen(ACME_TLS_1) && memcmp(ext + i + 1, ACME_TLS_1, n) == 0)
			return SSL_CLIENT_HELLO_SUCCESS;
		i += 1 + n;
	}
	*alert = SSL_AD_NO_APPLICATION_PROTOCOL;
	return SSL_CLIENT_HELLO_ERROR;
}

/* pick the challenge certificate by SNI; unknown names are refused */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	mc_tlsalpn *t = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int found = 0;
	size_t i;

	if (!sni)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n; i++) {
		if (strcasecmp(t->entries[i].name, sni) != 0)
			continue;
		found = SSL_use_certificate(ssl, t->entries[i].cert) == 1 &&
			SSL_use_PrivateKey(ssl, t->entries[i].key) == 1;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	if (!found) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

struct conn {
	mc_tlsalpn *t;
	int fd;
	pthread_t thread;
	int done;               /* set under t->lock when the handshake is over */
};

static void *handshake(void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { HANDSHAKE_TIMEOUT_S, 0 };
	SSL *ssl = SSL_new(c->t->ctx);

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (ssl && SSL_set_fd(ssl, c->fd) == 1 && SSL_accept(ssl) == 1)
		SSL_shutdown(ssl); /* the validator only needs the handshake */
	SSL_free(ssl);
	ERR_clear_error();
	close(c->fd);
	pthread_mutex_lock(&c->t->lock);
	c->done = 1;
	pthread_mutex_unlock(&c->t->lock);
	return NULL;
}

/* join handshake threads that are over (all of them with WAIT_ALL) */
static void reap(mc_tlsalpn *t, int wait_all)
{
	size_t i = 0;

	for (;;) {
		struct conn *c = NULL;

		pthread_mutex_lock(&t->lock);
		while (i < t->nconns && !(wait_all || t->conns[i]->done))
			i++;
		if (i < t->nconns) {
			c = t->conns[i];
			t->conns[i] = t->conns[--t->nconns];
		}
		pthread_mutex_unlock(&t->lock);
		if (!c)
			return;
		pthread_join(c->thread, NULL); /* bounded by the handshake time-out */
		free(c);
	}
}

static void *serve(void *arg)
{
	mc_tlsalpn *t = arg;
	struct pollfd pfd[MAX_LISTEN + 1];
	size_t i;

	for (;;) {
		pfd[0].fd = t->wake[0];
		pfd[0].events = POLLIN;
		for (i = 0; i < t->nlfd; i++) {
			pfd[i + 1].fd = t->lfd[i];
			pfd[i + 1].events = POLLIN;
		}
		if (poll(pfd, t->nlfd + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		reap(t, 0);
		for (i = 0; i < t->nlfd; i++) {
			struct conn *c;
			int fd;

			if (!(pfd[i + 1].revents & POLLIN))
				continue;
			fd = accept4(t->lfd[i], NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			c = mc_calloc(1, sizeof *c);
			c->t = t;
			c->fd = fd;
			if (pthread_create(&c->thread, NULL, handshake, c) != 0) {
				close(fd);
				free(c);
				continue;
			}
			pthread_mutex_lock(&t->lock);
			if (t->nconns == t->capconns) {
				t->capconns = t->capconns ? 2 * t->capconns : 16;
				t->conns = mc_realloc(t->conns, t->capconns * sizeof *t->conns);
			}
			t->conns[t->nconns++] = c;
			pthread_mutex_unlock(&t->lock);
		}
	}
	return NULL;
}

static int listen_on(const char *spec, int *out, mc_err *e)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc;

	if (!colon)
		return mc_err_set(e, "tls-alpn-01 listen address \"%s\" is not HOST:PORT", spec);
	if (spec[0] == '[')
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec - 2), spec + 1);
	else
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] && strcmp(host, "*") != 0 ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0)
		return mc_err_set(e, "tls-alpn-01 listen address \"%s\": %s", spec, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6) {
			int zero = 0;
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return mc_err_set(e, "tls-alpn-01 responder cannot listen on %s: %s", spec, strerror(errno));
	*out = fd;
	return 0;
}

int mc_tlsalpn_start(char *const *listen, size_t nlisten, mc_tlsalpn **out, mc_err *e)
{
	mc_tlsalpn *t = mc_calloc(1, sizeof *t);
	size_t i;

	if (nlisten == 0 || nlisten > MAX_LISTEN) {
		free(t);
		return mc_err_set(e, "tlsalpn01.listen needs 1 to %d addresses", MAX_LISTEN);
	}
	for (i = 0; i < nlisten; i++) {
		if (listen_on(listen[i], &t->lfd[i], e) < 0) {
			while (i-- > 0)
				close(t->lfd[i]);
			free(t);
			return -1;
		}
		t->nlfd++;
	}
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx)
		mc_fatal("SSL_CTX_new failed");
	/* RFC 8737: TLS 1.2 or later */
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_client_hello_cb(t->ctx, on_client_hello, t);
	SSL_CTX_set_alpn_select_cb(t->ctx, on_alpn, t);
	SSL_CTX_set_tlsext_servername_callback(t->ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(t->ctx, t);
	if (pipe2(t->wake, O_CLOEXEC) < 0)
		mc_fatal("pipe: %s", strerror(errno));
	pthread_mutex_init(&t->lock, NULL);
	if (pthread_create(&t->thread, NULL, serve, t) != 0)
		mc_fatal("cannot start the tls-alpn-01 responder thread");
	*out = t;
	return 0;
}

/* a self-signed certificate for NAME with the critical acmeIdentifier extension */
static int make_cert(const char *name, const char *keyauth, X509 **cert, EVP_PKEY **key, mc_err *e)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	ASN1_OCTET_STRING *digest = ASN1_OCTET_STRING_new(), *wrapped = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	char *names[] = { (char *)name, NULL };
	int derlen, rc = -1;

	*cert = NULL;
	*key = NULL;
	if (!digest || !wrapped || !oid)
		mc_fatal("out of memory");
	EVP_Digest(keyauth, strlen(keyauth), md, &mdlen, EVP_sha256(), NULL);
	/* extnValue holds the DER of Authorization ::= OCTET STRING (SIZE (32)) */
	if (!ASN1_OCTET_STRING_set(digest, md, (int)mdlen) || (derlen = i2d_ASN1_OCTET_STRING(digest, &der)) <= 0 ||
	    !ASN1_OCTET_STRING_set(wrapped, der, derlen)) {
		mc_err_ssl(e, "encoding the acmeIdentifier extension");
		goto out;
	}
	ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, wrapped);
	if (!ext) {
		mc_err_ssl(e, "making the acmeIdentifier extension");
		goto out;
	}
	if (mc_key_generate("ec256", key, e) < 0 || mc_selfsigned_make(*key, names, 1, 7, cert, e) < 0)
		goto out;
	/* re-sign after adding the extension */
	if (!X509_add_ext(*cert, ext, -1) || !X509_sign(*cert, *key, EVP_sha256())) {
		mc_err_ssl(e, "signing the tls-alpn-01 certificate");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
	}
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(digest);
	ASN1_OCTET_STRING_free(wrapped);
	return rc;
}

int mc_tlsalpn_add(mc_tlsalpn *t, const char *identifier, const char *keyauth, mc_err *e)
{
	char norm[MC_HOSTNAME_MAX + 1];
	X509 *cert;
	EVP_PKEY *key;

	if (mc_hostname_check(identifier, 0, norm, e) < 0)
		return -1;
	if (make_cert(norm, keyauth, &cert, &key, e) < 0)
		return -1;
	mc_tlsalpn_remove(t, norm);
	pthread_mutex_lock(&t->lock);
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 8;
		t->entries = mc_realloc(t->entries, t->cap * sizeof *t->entries);
	}
	t->entries[t->n].name = mc_strdup(norm);
	t->entries[t->n].cert = cert;
	t->entries[t->n].key = key;
	t->n++;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void mc_tlsalpn_remove(mc_tlsalpn *t, const char *identifier)
{
	size_t i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n; i++) {
		if (strcasecmp(t->entries[i].name, identifier) != 0)
			continue;
		free(t->entries[i].name);
		X509_free(t->entries[i].cert);
		EVP_PKEY_free(t->entries[i].key);
		t->entries[i] = t->entries[--t->n];
		break;
	}
	pthread_mutex_unlock(&t->lock);
}

void mc_tlsalpn_stop(mc_tlsalpn *t)
{
	size_t i;

	if (!t)
		return;
	if (write(t->wake[1], "x", 1) < 0)
		mc_warn("waking the tls-alpn-01 responder: %s", strerror(errno));
	pthread_join(t->thread, NULL);
	for (i = 0; i < t->nlfd; i++)
		close(t->lfd[i]);
	close(t->wake[0]);
	close(t->wake[1]);
	/* let handshakes in flight finish (each is bounded by its time-out) */
	reap(t, 1);
	free(t->conns);
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n; i++) {
		free(t->entries[i].name);
		X509_free(t->entries[i].cert);
		EVP_PKEY_free(t->entries[i].key);
	}
	free(t->entries);
	pthread_mutex_unlock(&t->lock);
	SSL_CTX_free(t->ctx);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
