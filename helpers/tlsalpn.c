/*
 * tlsalpn - a child process, running as "nobody", with one accept loop and
 * a short-lived thread per handshake (joined when it is over, and all of
 * them at stop).  Handshakes use non-blocking I/O under one deadline for the
 * whole handshake, and at most MC_TLSALPN_MAX_CONNS run at once: a new
 * connection shuts the oldest one down, so idle or dripping clients can
 * neither pile up threads nor hold the run (which joins them all) open.  The parent sends "A NAME SHA256HEX\n" and "R NAME\n" over
 * a pipe; the child makes the challenge certificates itself, so nothing
 * secret crosses.  A handshake that finds no certificate for its name first
 * takes the commands waiting in the pipe: the parent always sends before it
 * asks the CA to validate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "hostname.h"
#include "keys.h"
#include "responder.h"
#include "timefmt.h"
#include "tlsalpn.h"
#include "xalloc.h"

#define MAX_LISTEN 16
#define HANDSHAKE_TIMEOUT_MS (MC_TLSALPN_DEADLINE_S * 1000L)
#define MAX_CONNS MC_TLSALPN_MAX_CONNS
#define ACME_TLS_1 "acme-tls/1"
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"

struct entry {
	char *name;
	X509 *cert;
	EVP_PKEY *key;
};

#define CTL_LINE_MAX 512

/* the parent's handle */
struct mc_tlsalpn {
	mc_responder proc;
};

/* the child's state */
struct alpn {
	int lfd[MAX_LISTEN];
	size_t nlfd;
	int ctl;                /* read end of the command pipe (non-blocking) */
	char ctlbuf[CTL_LINE_MAX * 4];
	size_t ctllen;
	int ctl_closed;
	pthread_mutex_t lock;   /* the table, the command buffer, conns */
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

static int table_use(struct alpn *t, SSL *ssl, const char *sni)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcasecmp(t->entries[i].name, sni) == 0)
			return SSL_use_certificate(ssl, t->entries[i].cert) == 1 &&
			       SSL_use_PrivateKey(ssl, t->entries[i].key) == 1;
	return -1;
}

static void read_commands(struct alpn *t);

/* pick the challenge certificate by SNI; unknown names are refused */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	struct alpn *t = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int found;

	if (!sni)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	pthread_mutex_lock(&t->lock);
	found = table_use(t, ssl, sni);
	if (found < 0) {
		/* the command for this name may still be in the pipe */
		read_commands(t);
		found = table_use(t, ssl, sni);
	}
	pthread_mutex_unlock(&t->lock);
	if (found != 1) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

struct conn {
	struct alpn *t;
	int fd;                 /* closed by reap(), after the thread is joined */
	long started;           /* mc_mono_ms() at accept */
	pthread_t thread;
	int done;               /* set under t->lock when the handshake is over */
	int evicted;            /* shut down by the accept loop to make room */
};

/* wait (POLLIN or POLLOUT) until FD is ready or DEADLINE passes; 0 when ready */
static int wait_io(int fd, short events, long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long left = deadline - mc_mono_ms();
		int r;

		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0 || errno != EINTR)
			return -1;
	}
}

static void *handshake(void *arg)
{
	struct conn *c = arg;
	long deadline = c->started + HANDSHAKE_TIMEOUT_MS;
	SSL *ssl = SSL_new(c->t->ctx);

	/* the socket is non-blocking: every wait is bounded by the one deadline */
	if (ssl && SSL_set_fd(ssl, c->fd) == 1) {
		for (;;) {
			int r = SSL_accept(ssl), err;

			if (r == 1) {
				SSL_shutdown(ssl); /* the validator only needs the handshake */
				break;
			}
			err = SSL_get_error(ssl, r);
			if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) ||
			    wait_io(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) < 0)
				break;
		}
	}
	SSL_free(ssl);
	ERR_clear_error();
	pthread_mutex_lock(&c->t->lock);
	c->done = 1;
	pthread_mutex_unlock(&c->t->lock);
	return NULL;
}

/* join handshake threads that are over (all of them with WAIT_ALL) */
static void reap(struct alpn *t, int wait_all)
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
		pthread_join(c->thread, NULL); /* bounded by the handshake deadline */
		close(c->fd);
		free(c);
	}
}

/*
 * Make room for one more handshake: shut the oldest one's connection down
 * (its thread then fails at once) and join it, so that there are never
 * more than MAX_CONNS threads.
 */
static void evict_oldest(struct alpn *t)
{
	struct conn *c = NULL;
	size_t i, oldest = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 1; i < t->nconns; i++)
		if (t->conns[i]->started < t->conns[oldest]->started)
			oldest = i;
	if (oldest < t->nconns) {
		c = t->conns[oldest];
		t->conns[oldest] = t->conns[--t->nconns];
		if (!c->done)
			shutdown(c->fd, SHUT_RDWR);
		c->evicted = 1;
	}
	pthread_mutex_unlock(&t->lock);
	if (!c)
		return;
	pthread_join(c->thread, NULL);
	close(c->fd);
	free(c);
}

/* a self-signed certificate for NAME with the critical acmeIdentifier extension */
static int make_cert(const char *name, const unsigned char *digest32, X509 **cert, EVP_PKEY **key)
{
	ASN1_OCTET_STRING *digest = ASN1_OCTET_STRING_new(), *wrapped = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	char *names[] = { (char *)name, NULL };
	int derlen, rc = -1;
	mc_err e;

	*cert = NULL;
	*key = NULL;
	if (!digest || !wrapped || !oid)
		mc_fatal("out of memory");
	/* extnValue holds the DER of Authorization ::= OCTET STRING (SIZE (32)) */
	if (ASN1_OCTET_STRING_set(digest, digest32, 32) &&
	    (derlen = i2d_ASN1_OCTET_STRING(digest, &der)) > 0 &&
	    ASN1_OCTET_STRING_set(wrapped, der, derlen) &&
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, wrapped)) != NULL &&
	    mc_key_generate("ec256", key, &e) == 0 && mc_selfsigned_make(*key, names, 1, 7, cert, &e) == 0 &&
	    X509_add_ext(*cert, ext, -1) && X509_sign(*cert, *key, EVP_sha256()))
		rc = 0; /* signed again after adding the extension */
	if (rc < 0) {
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
		ERR_clear_error();
	}
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(digest);
	ASN1_OCTET_STRING_free(wrapped);
	return rc;
}

static void table_remove(struct alpn *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strcasecmp(t->entries[i].name, name) != 0)
			continue;
		free(t->entries[i].name);
		X509_free(t->entries[i].cert);
		EVP_PKEY_free(t->entries[i].key);
		t->entries[i] = t->entries[--t->n];
		return;
	}
}

static void table_add(struct alpn *t, const char *name, const char *hex)
{
	unsigned char digest[32];
	char norm[MC_HOSTNAME_MAX + 1];
	X509 *cert;
	EVP_PKEY *key;
	size_t i;

	if (mc_hostname_check(name, 0, norm, NULL) < 0 || strlen(hex) != 64)
		return;
	for (i = 0; i < 32; i++) {
		unsigned int b;
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return;
		digest[i] = (unsigned char)b;
	}
	if (make_cert(norm, digest, &cert, &key) < 0) {
		mc_error("tls-alpn-01 responder: cannot make the certificate for %s", norm);
		return;
	}
	table_remove(t, norm);
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 8;
		t->entries = mc_realloc(t->entries, t->cap * sizeof *t->entries);
	}
	t->entries[t->n].name = mc_strdup(norm);
	t->entries[t->n].cert = cert;
	t->entries[t->n].key = key;
	t->n++;
}

/* take every complete command waiting in the pipe; T->lock held */
static void read_commands(struct alpn *t)
{
	for (;;) {
		ssize_t n = read(t->ctl, t->ctlbuf + t->ctllen, sizeof t->ctlbuf - t->ctllen - 1);
		char *start, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			t->ctl_closed = 1;
		if (n <= 0)
			return;
		t->ctllen += (size_t)n;
		t->ctlbuf[t->ctllen] = '\0';
		start = t->ctlbuf;
		while ((nl = memchr(start, '\n', t->ctllen - (size_t)(start - t->ctlbuf))) != NULL) {
			char *sp;

			*nl = '\0';
			if (start[0] == 'A' && start[1] == ' ' && (sp = strchr(start + 2, ' ')) != NULL) {
				*sp = '\0';
				table_add(t, start + 2, sp + 1);
			} else if (start[0] == 'R' && start[1] == ' ') {
				table_remove(t, start + 2);
			}
			start = nl + 1;
		}
		t->ctllen -= (size_t)(start - t->ctlbuf);
		memmove(t->ctlbuf, start, t->ctllen);
		if (t->ctllen >= sizeof t->ctlbuf - 1)
			t->ctllen = 0; /* longer than any command: drop it */
	}
}

static void serve(struct alpn *t)
{
	struct pollfd pfd[MAX_LISTEN + 1];
	size_t i;

	for (;;) {
		pfd[0].fd = t->ctl;
		pfd[0].events = POLLIN;
		for (i = 0; i < t->nlfd; i++) {
			pfd[i + 1].fd = t->lfd[i];
			pfd[i + 1].events = POLLIN;
		}
		/* wake up now and then to join finished handshakes */
		if (poll(pfd, t->nlfd + 1, 1000) < 0 && errno != EINTR)
			break;
		reap(t, 0);
		if (pfd[0].revents) {
			pthread_mutex_lock(&t->lock);
			read_commands(t);
			pthread_mutex_unlock(&t->lock);
			if (t->ctl_closed)
				break;
		}
		for (i = 0; i < t->nlfd; i++) {
			struct conn *c;
			size_t busy;
			int fd;

			if (!(pfd[i + 1].revents & POLLIN))
				continue;
			fd = accept4(t->lfd[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			pthread_mutex_lock(&t->lock);
			busy = t->nconns;
			pthread_mutex_unlock(&t->lock);
			if (busy >= MAX_CONNS) {
				reap(t, 0);
				pthread_mutex_lock(&t->lock);
				busy = t->nconns;
				pthread_mutex_unlock(&t->lock);
				if (busy >= MAX_CONNS)
					evict_oldest(t);
			}
			c = mc_calloc(1, sizeof *c);
			c->t = t;
			c->fd = fd;
			c->started = mc_mono_ms();
			pthread_mutex_lock(&t->lock);
			if (t->nconns == t->capconns) {
				t->capconns = t->capconns ? 2 * t->capconns : 16;
				t->conns = mc_realloc(t->conns, t->capconns * sizeof *t->conns);
			}
			t->conns[t->nconns++] = c;
			if (pthread_create(&c->thread, NULL, handshake, c) != 0) {
				t->nconns--;
				pthread_mutex_unlock(&t->lock);
				close(fd);
				free(c);
				continue;
			}
			pthread_mutex_unlock(&t->lock);
		}
	}
}

/* at stop: no validation needs the handshakes in flight any more */
static void shutdown_all(struct alpn *t)
{
	size_t i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nconns; i++)
		if (!t->conns[i]->done)
			shutdown(t->conns[i]->fd, SHUT_RDWR);
	pthread_mutex_unlock(&t->lock);
}

static void child_main(void *arg, int ctl, int ready) __attribute__((noreturn));
static void child_main(void *arg, int ctl, int ready)
{
	struct alpn *t = arg;
	size_t i;

	t->ctl = ctl;
	signal(SIGPIPE, SIG_IGN);
	if (mc_responder_drop_privileges("mailcert-alpn") < 0) {
		mc_error("tls-alpn-01 responder: cannot drop privileges to \"nobody\": %s", strerror(errno));
		_exit(1);
	}
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx)
		_exit(1);
	/* RFC 8737: TLS 1.2 or later */
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_client_hello_cb(t->ctx, on_client_hello, t);
	SSL_CTX_set_alpn_select_cb(t->ctx, on_alpn, t);
	SSL_CTX_set_tlsext_servername_callback(t->ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(t->ctx, t);
	fcntl(t->ctl, F_SETFL, O_NONBLOCK);
	pthread_mutex_init(&t->lock, NULL);
	mc_responder_ready(ready);
	serve(t);
	shutdown_all(t);
	reap(t, 1);
	for (i = 0; i < t->n; i++) {
		free(t->entries[i].name);
		X509_free(t->entries[i].cert);
		EVP_PKEY_free(t->entries[i].key);
	}
	free(t->entries);
	free(t->conns);
	SSL_CTX_free(t->ctx);
	free(t);
	_exit(0);
}

int mc_tlsalpn_start(char *const *listen, size_t nlisten, void (*wipe)(void *), void *wipe_arg,
		     mc_tlsalpn **out, mc_err *e)
{
	struct alpn *t;
	mc_tlsalpn *h;
	size_t i;
	int rc;

	if (nlisten == 0 || nlisten > MAX_LISTEN)
		return mc_err_set(e, "tlsalpn01.listen needs 1 to %d addresses", MAX_LISTEN);
	t = mc_calloc(1, sizeof *t);
	for (i = 0; i < nlisten; i++) {
		if (mc_responder_listen(listen[i], "tls-alpn-01", 1, &t->lfd[i], e) < 0) {
			while (i-- > 0)
				close(t->lfd[i]);
			free(t);
			return -1;
		}
		t->nlfd++;
	}
	h = mc_calloc(1, sizeof *h);
	rc = mc_responder_spawn(&h->proc, "tls-alpn-01", child_main, t, t->lfd, t->nlfd, wipe, wipe_arg, e);
	/* the child has the sockets now */
	for (i = 0; i < t->nlfd; i++)
		close(t->lfd[i]);
	free(t);
	if (rc < 0) {
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

int mc_tlsalpn_add(mc_tlsalpn *h, const char *identifier, const char *keyauth, mc_err *e)
{
	char norm[MC_HOSTNAME_MAX + 1], line[CTL_LINE_MAX], hex[65];
	unsigned char md[32];
	unsigned int mdlen = 0, i;

	if (mc_hostname_check(identifier, 0, norm, e) < 0)
		return -1;
	EVP_Digest(keyauth, strlen(keyauth), md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (snprintf(line, sizeof line, "A %s %s\n", norm, hex) >= (int)sizeof line)
		return mc_err_set(e, "tls-alpn-01: name too long");
	return mc_responder_send(&h->proc, line, e);
}

void mc_tlsalpn_remove(mc_tlsalpn *h, const char *identifier)
{
	char line[CTL_LINE_MAX];
	mc_err e;

	if (snprintf(line, sizeof line, "R %s\n", identifier) >= (int)sizeof line || strchr(identifier, '\n'))
		return;
	if (mc_responder_send(&h->proc, line, &e) < 0)
		mc_warn("%s", e.msg);
}

pid_t mc_tlsalpn_pid(const mc_tlsalpn *h)
{
	return h->proc.pid;
}

void mc_tlsalpn_stop(mc_tlsalpn *h)
{
	if (!h)
		return;
	mc_responder_stop(&h->proc);
	free(h);
}
