/*
 * trust - outgoing trust for SMTP peers with self-signed certificates.
 *
 * `trust add HOST[:PORT]` fetches the peer's leaf certificate over SMTP
 * STARTTLS (connect within 10 s, the whole exchange within 30 s; nothing is
 * verified: showing what the peer presents is the point), `trust add FILE
 * --host DEST` reads it from a PEM file.  After confirmation the entry goes
 * into the index STORE/postfix/tls_policy.json, and from the index the
 * Postfix table (`DEST fingerprint match=AA:BB:..`, the SHA-256 of the
 * certificate) and the CA file trusted-peers.pem are rebuilt; the table is
 * compiled with postmap.  Nothing here is secret: every file is 0644.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conf.h"
#include "fsutil.h"
#include "hostname.h"
#include "privdrop.h"
#include "spawn.h"
#include "storepath.h"
#include "timefmt.h"
#include "trust.h"
#include "x509chk.h"
#include "xalloc.h"

#define CONNECT_MS 10000
#define EXCHANGE_MS 30000
#define POSTMAP_MS 60000
#define REPLY_MAX 16384
#define INDEX_MAX (16 * 1024 * 1024)
#define PEM_MAX (64 * 1024)
#define DEST_MAX (MC_HOSTNAME_MAX + 16)
#define CHILD_MS (EXCHANGE_MS + CONNECT_MS * 4 + 5000) /* a look-up, up to 4 addresses, the exchange */

/* ---- the peer ---------------------------------------------------------- */

typedef struct peer {
	char host[MC_HOSTNAME_MAX + 1]; /* a lower-case hostname or an IP literal (no brackets) */
	int is_ip;
	unsigned port;
	int fd;
	SSL *ssl;
	long deadline; /* mc_mono_ms() */
	char rbuf[REPLY_MAX];
	size_t rlen;
} peer;

/* HOST, HOST:PORT, [IP] or [IP]:PORT (an IPv6 literal needs its brackets) */
static int parse_target(const char *s, peer *p, mc_err *e)
{
	char h[MC_HOSTNAME_MAX + 1];
	const char *port = NULL, *end;
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	p->port = 25;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return mc_err_set(e, "%s: no closing ']'", s);
		n = (size_t)(end - s - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return mc_err_set(e, "%s: only \":PORT\" may follow ']'", s);
		s++;
	} else {
		end = strchr(s, ':');
		if (end && strchr(end + 1, ':'))
			return mc_err_set(e, "%s: write an IPv6 address in brackets: [ADDRESS]:PORT", s);
		n = end ? (size_t)(end - s) : strlen(s);
		if (end)
			port = end + 1;
	}
	if (n == 0 || n >= sizeof h)
		return mc_err_set(e, "%.*s: not a hostname or IP address", (int)(n < 300 ? n : 300), s);
	memcpy(h, s, n);
	h[n] = '\0';
	if (port) {
		char *pe;
		long v = strtol(port, &pe, 10);
		if (!*port || *pe || v < 1 || v > 65535)
			return mc_err_set(e, "%s: the port must be a number from 1 to 65535", port);
		p->port = (unsigned)v;
	}
	if (inet_pton(AF_INET, h, &a4) == 1 || inet_pton(AF_INET6, h, &a6) == 1) {
		snprintf(p->host, sizeof p->host, "%s", h);
		p->is_ip = 1;
		return 0;
	}
	if (mc_hostname_check(h, 0, p->host, e) < 0)
		return -1;
	p->is_ip = 0;
	return 0;
}

/* wait for EVENTS on the socket until the deadline */
static int wait_fd(peer *p, short events, long deadline, const char *what, mc_err *e)
{
	struct pollfd pfd = { .fd = p->fd, .events = events };
	long left;
	int r;

	for (;;) {
		left = deadline - mc_mono_ms();
		if (left <= 0)
			return mc_err_set(e, "%s:%u: timed out %s", p->host, p->port, what);
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return mc_err_set(e, "poll: %s", strerror(errno));
	}
}

static int peer_connect(peer *p, mc_err *e)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char port[8];
	int rc, err = 0;

	snprintf(port, sizeof port, "%u", p->port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = p->is_ip ? AI_NUMERICHOST : 0;
	rc = getaddrinfo(p->host, port, &hints, &res);
	if (rc != 0)
		return mc_err_set(e, "%s: %s", p->host, gai_strerror(rc));
	p->fd = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		long deadline = mc_mono_ms() + CONNECT_MS;
		socklen_t sl = sizeof err;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);

		if (fd < 0) {
			err = errno;
			continue;
		}
		p->fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(p, POLLOUT, deadline, "connecting", e) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0)
			break;
		if (errno != EINPROGRESS)
			err = errno;
		else if (!err)
			err = ETIMEDOUT;
		close(fd);
		p->fd = -1;
	}
	freeaddrinfo(res);
	if (p->fd < 0)
		return mc_err_set(e, "%s:%u: cannot connect: %s", p->host, p->port, strerror(err ? err : ECONNREFUSED));
	p->deadline = mc_mono_ms() + EXCHANGE_MS;
	return 0;
}

static int plain_write(peer *p, const char *s, mc_err *e)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(p->fd, s + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return mc_err_set(e, "%s:%u: send: %s", p->host, p->port, strerror(errno));
		if (wait_fd(p, POLLOUT, p->deadline, "sending", e) < 0)
			return -1;
	}
	return 0;
}

/* one SMTP reply (all its lines); returns its code, or -1.  Only bytes up to
 * the end of the reply are consumed: nothing after STARTTLS's 220 is read
 * as plain text. */
static int read_reply(peer *p, char **lines_out, mc_err *e)
{
	p->rlen = 0;
	for (;;) {
		char *start = p->rbuf, *nl;
		ssize_t n;

		/* the last complete line decides whether the reply is over */
		while ((nl = memchr(start, '\n', p->rlen - (size_t)(start - p->rbuf)))) {
			if (nl - start < 3 || start[0] < '2' || start[0] > '5' || !isdigit((unsigned char)start[1]) ||
			    !isdigit((unsigned char)start[2]) || (nl - start > 3 && start[3] != ' ' &&
								   start[3] != '-' && start[3] != '\r'))
				return mc_err_set(e, "%s:%u: not an SMTP reply: %.60s", p->host, p->port, p->rbuf);
			if (nl - start == 3 || start[3] != '-') {
				int code = atoi(start);
				*nl = '\0';
				if (lines_out)
					*lines_out = p->rbuf;
				return code;
			}
			start = nl + 1;
		}
		if (p->rlen >= sizeof p->rbuf - 1)
			return mc_err_set(e, "%s:%u: SMTP reply longer than %d bytes", p->host, p->port, REPLY_MAX);
		n = recv(p->fd, p->rbuf + p->rlen, 1, 0); /* byte by byte: see above */
		if (n > 0) {
			p->rlen++;
			p->rbuf[p->rlen] = '\0';
			continue;
		}
		if (n == 0)
			return mc_err_set(e, "%s:%u: the server closed the connection", p->host, p->port);
		if (errno != EAGAIN && errno != EINTR)
			return mc_err_set(e, "%s:%u: recv: %s", p->host, p->port, strerror(errno));
		if (wait_fd(p, POLLIN, p->deadline, "waiting for the SMTP reply", e) < 0)
			return -1;
	}
}

static int has_starttls(const char *reply)
{
	const char *l = reply;

	while (l && *l) {
		if (strlen(l) >= 12 && strncasecmp(l + 4, "STARTTLS", 8) == 0 &&
		    (l[12] == '\r' || l[12] == '\n' || l[12] == '\0' || l[12] == ' '))
			return 1;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return 0;
}

static int tls_handshake(peer *p, SSL_CTX *ctx, mc_err *e)
{
	int r;

	p->ssl = SSL_new(ctx);
	if (!p->ssl || !SSL_set_fd(p->ssl, p->fd))
		return mc_err_ssl(e, "SSL_new");
	if (!p->is_ip && !SSL_set_tlsext_host_name(p->ssl, p->host))
		return mc_err_ssl(e, "SNI");
	while ((r = SSL_connect(p->ssl)) != 1) {
		int err = SSL_get_error(p->ssl, r);
		if (err == SSL_ERROR_WANT_READ) {
			if (wait_fd(p, POLLIN, p->deadline, "in the TLS handshake", e) < 0)
				return -1;
		} else if (err == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(p, POLLOUT, p->deadline, "in the TLS handshake", e) < 0)
				return -1;
		} else {
			return mc_err_ssl(e, "%s:%u: TLS handshake failed", p->host, p->port);
		}
	}
	return 0;
}

/* the peer's leaf certificate, over SMTP STARTTLS */
static X509 *fetch_leaf(peer *p, mc_err *e)
{
	SSL_CTX *ctx = NULL;
	X509 *leaf = NULL;
	char *reply;
	int code;

	p->fd = -1;
	p->ssl = NULL;
	if (peer_connect(p, e) < 0)
		return NULL;
	if ((code = read_reply(p, NULL, e)) < 0)
		goto out;
	if (code != 220) {
		mc_err_set(e, "%s:%u: greeting %d, not 220: %.200s", p->host, p->port, code, p->rbuf);
		goto out;
	}
	if (plain_write(p, "EHLO mailcert.invalid\r\n", e) < 0 || (code = read_reply(p, &reply, e)) < 0)
		goto out;
	if (code != 250) {
		mc_err_set(e, "%s:%u: EHLO refused: %.200s", p->host, p->port, p->rbuf);
		goto out;
	}
	if (!has_starttls(reply)) {
		mc_err_set(e, "%s:%u: the server does not offer STARTTLS", p->host, p->port);
		goto out;
	}
	if (plain_write(p, "STARTTLS\r\n", e) < 0 || (code = read_reply(p, NULL, e)) < 0)
		goto out;
	if (code != 220) {
		mc_err_set(e, "%s:%u: STARTTLS refused: %.200s", p->host, p->port, p->rbuf);
		goto out;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		mc_err_ssl(e, "SSL_CTX_new");
		goto out;
	}
	/* no verification: the certificate is shown to the operator, who decides */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (tls_handshake(p, ctx, e) < 0)
		goto out;
	leaf = SSL_get_peer_certificate(p->ssl);
	if (!leaf)
		mc_err_set(e, "%s:%u: the server sent no certificate", p->host, p->port);
	else
		SSL_write(p->ssl, "QUIT\r\n", 6); /* a courtesy: its answer is not awaited */
out:
	if (p->ssl)
		SSL_free(p->ssl);
	SSL_CTX_free(ctx);
	if (p->fd >= 0)
		close(p->fd);
	ERR_clear_error();
	return leaf;
}

/* a certificate's text is the peer's: anything but printable ASCII becomes '?' */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/*
 * The fetch runs in a child that is not root (the peer's bytes are parsed
 * there) and answers on a pipe: "C" and the certificate's DER, or "E" and
 * the message.  It is forked before the configuration is read, so it holds
 * nothing of it.
 */
static void fetch_child(peer *p, int out)
{
	unsigned char *der = NULL;
	mc_buf b;
	mc_err e;
	X509 *leaf = NULL;
	uid_t uid;
	gid_t gid;
	int n;

	mc_buf_init(&b);
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (geteuid() == 0 && (mc_priv_identity(&uid, &gid, &e) < 0 || mc_priv_become(uid, gid, &e) < 0))
		mc_err_prefix(&e, "giving up root before connecting");
	else
		leaf = fetch_leaf(p, &e);
	if (leaf && (n = i2d_X509(leaf, &der)) > 0) {
		mc_buf_append(&b, "C", 1);
		mc_buf_append(&b, der, (size_t)n);
	} else {
		mc_buf_printf(&b, "E%s", leaf ? "cannot encode the certificate" : e.msg);
	}
	(void)!write(out, b.data, b.len);
	_exit(0);
}

static X509 *fetch_leaf_unprivileged(peer *p, mc_err *e)
{
	static unsigned char buf[PEM_MAX + 1];
	const unsigned char *q;
	size_t len = 0;
	X509 *leaf = NULL;
	pid_t pid;
	long deadline;
	int fds[2], st;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		mc_err_set(e, "pipe: %s", strerror(errno));
		return NULL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		mc_err_set(e, "fork: %s", strerror(errno));
		return NULL;
	}
	if (pid == 0) {
		close(fds[0]);
		fetch_child(p, fds[1]);
	}
	close(fds[1]);
	deadline = mc_mono_ms() + CHILD_MS;
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		long left = deadline - mc_mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			mc_err_set(e, "%s:%u: no answer within %d s", p->host, p->port, CHILD_MS / 1000);
			kill(pid, SIGKILL);
			len = 0;
			break;
		}
		n = read(fds[0], buf + len, sizeof buf - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf) {
			mc_err_set(e, "%s:%u: a certificate larger than %d bytes", p->host, p->port, PEM_MAX);
			kill(pid, SIGKILL);
			len = 0;
			break;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (len == 0) {
		if (!e->msg[0])
			mc_err_set(e, "%s:%u: the fetching process ended without an answer", p->host, p->port);
		return NULL;
	}
	if (buf[0] == 'E') {
		mc_err_set(e, "%.*s", (int)(len - 1 < 900 ? len - 1 : 900), (const char *)buf + 1);
		clean(e->msg);
		return NULL;
	}
	q = buf + 1;
	if (buf[0] != 'C' || !(leaf = d2i_X509(NULL, &q, (long)(len - 1))) || q != buf + len) {
		X509_free(leaf);
		mc_err_set(e, "%s:%u: the fetching process sent no certificate", p->host, p->port);
		ERR_clear_error();
		return NULL;
	}
	return leaf;
}

/* ---- the entries ------------------------------------------------------- */

/* SHA-256 of the certificate, "AA:BB:..." as Postfix and openssl print it */
static int cert_fingerprint(X509 *x, char out[96], mc_err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32)
		return mc_err_ssl(e, "certificate digest");
	for (i = 0; i < n; i++)
		sprintf(out + 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
	return 0;
}

/* DEST: a next-hop as Postfix looks it up: DOMAIN, [HOST] or [HOST]:PORT */
static int dest_check(const char *s, char *out, mc_err *e)
{
	peer p;

	if (s[0] == '[') {
		if (parse_target(s, &p, e) < 0)
			return -1;
		if (p.port == 25 && !strstr(s, "]:"))
			snprintf(out, DEST_MAX, "[%s]", p.host);
		else
			snprintf(out, DEST_MAX, "[%s]:%u", p.host, p.port);
		return 0;
	}
	if (strchr(s, ':'))
		return mc_err_set(e, "%s: a destination is DOMAIN, [HOST] or [HOST]:PORT", s);
	return mc_hostname_check(s, 0, out, e);
}

static void policy_dir(const mc_config *cfg, char *out, size_t len)
{
	mc_store_area_path(cfg->store, MC_AREA_POSTFIX, NULL, out, len);
}

static const char *map_type(const mc_config *cfg)
{
	return cfg->postfix_map_type && cfg->postfix_map_type[0] ? cfg->postfix_map_type : "hash";
}

static const char *map_suffix(const char *type)
{
	if (strcmp(type, "lmdb") == 0)
		return ".lmdb";
	if (strcmp(type, "cdb") == 0)
		return ".cdb";
	return ".db";
}

/* the index: a JSON array (empty when there is none yet) */
static json_t *index_load(const char *dir, mc_err *e)
{
	char path[4200];
	json_error_t je;
	json_t *a;
	mc_buf b;
	size_t i;

	mc_pathf(path, sizeof path, "%s/%s", dir, MC_STORE_TLS_POLICY_INDEX);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return json_array();
	mc_buf_init(&b);
	if (mc_file_read(path, INDEX_MAX, &b, e) < 0) {
		mc_buf_free(&b);
		return NULL;
	}
	a = json_loadb(b.data ? b.data : "", b.len, 0, &je);
	mc_buf_free(&b);
	if (!a || !json_is_array(a)) {
		json_decref(a);
		mc_err_set(e, "%s: not a JSON array%s%s", path, a ? "" : ": ", a ? "" : je.text);
		return NULL;
	}
	for (i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		char d[DEST_MAX];
		mc_err ie;
		const char *dest = json_string_value(json_object_get(o, "destination"));
		const char *fp = json_string_value(json_object_get(o, "fingerprint"));
		const char *pem = json_string_value(json_object_get(o, "pem"));
		if (!dest || !fp || !pem || dest_check(dest, d, &ie) < 0 || strcmp(d, dest) != 0 ||
		    strlen(fp) != 95 || strspn(fp, "0123456789ABCDEF:") != 95) {
			json_decref(a);
			mc_err_set(e, "%s: entry %zu is not one mailcert wrote", path, i + 1);
			return NULL;
		}
	}
	return a;
}

/* the table, the CA file and the index, from A: the compiled map first (built
 * beside the live one), then the source, the CA file, the index last */
static int rebuild(const mc_config *cfg, const char *dir, json_t *a, mc_err *e)
{
	const char *type = map_type(cfg), *sfx = map_suffix(type);
	char src[4200], map[4300], dbnew[4300], db[4300], live[4200];
	mc_buf tab, ca;
	char *js;
	size_t i;
	int rc = -1;

	mc_buf_init(&tab);
	mc_buf_init(&ca);
	mc_buf_puts(&tab, "# Generated by `mailcert trust` from tls_policy.json; do not edit.\n"
			  "# Next-hop destination, then the SHA-256 fingerprint its certificate must have\n"
			  "# (main.cf: smtp_tls_fingerprint_digest = sha256).\n");
	mc_buf_puts(&ca, "# Generated by `mailcert trust`: the peers' certificates trusted for outgoing mail.\n");
	for (i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		mc_buf_printf(&tab, "%s fingerprint match=%s\n",
			      json_string_value(json_object_get(o, "destination")),
			      json_string_value(json_object_get(o, "fingerprint")));
		mc_buf_puts(&ca, json_string_value(json_object_get(o, "pem")));
	}
	if (mc_file_write_atomic(dir, MC_STORE_TLS_POLICY ".new", tab.data, tab.len, 0644, (gid_t)-1, e) < 0)
		goto out;
	mc_pathf(src, sizeof src, "%s/%s.new", dir, MC_STORE_TLS_POLICY);
	mc_pathf(map, sizeof map, "%s:%s", type, src);
	mc_pathf(dbnew, sizeof dbnew, "%s%s", src, sfx);
	unlink(dbnew);
	{
		char *argv[] = { (char *)"postmap", (char *)"-c", cfg->postfix_config_dir, map, NULL };
		mc_buf outb;
		mc_buf_init(&outb);
		rc = mc_spawn(argv, NULL, POSTMAP_MS, &outb, e);
		mc_buf_free(&outb);
		if (rc < 0) {
			mc_err_prefix(e, "postmap -c %s %s", cfg->postfix_config_dir, map);
			unlink(src);
			goto out;
		}
		rc = -1;
	}
	if (chmod(dbnew, 0644) < 0) {
		mc_err_set(e, "%s: %s", dbnew, strerror(errno));
		goto out;
	}
	mc_pathf(db, sizeof db, "%s/%s%s", dir, MC_STORE_TLS_POLICY, sfx);
	mc_pathf(live, sizeof live, "%s/%s", dir, MC_STORE_TLS_POLICY);
	if (rename(dbnew, db) < 0 || rename(src, live) < 0) {
		mc_err_set(e, "rename into %s: %s", dir, strerror(errno));
		goto out;
	}
	if (mc_file_write_atomic(dir, MC_STORE_TRUSTED_PEERS, ca.data, ca.len, 0644, (gid_t)-1, e) < 0)
		goto out;
	js = json_dumps(a, JSON_INDENT(2));
	if (!js) {
		mc_err_set(e, "out of memory");
		goto out;
	}
	{
		char *line = mc_asprintf("%s\n", js);
		rc = mc_file_write_atomic(dir, MC_STORE_TLS_POLICY_INDEX, line, strlen(line), 0644, (gid_t)-1, e);
		free(line);
	}
	free(js);
out:
	mc_buf_free(&tab);
	mc_buf_free(&ca);
	return rc;
}

/* the store's postfix directory, created when missing, and locked for us */
static int open_locked(const mc_config *cfg, char *dir, size_t len, mc_err *e)
{
	char lock[4200];
	int fd;

	policy_dir(cfg, dir, len);
	if (mc_mkdir_p(dir, 0755, e) < 0)
		return -1;
	mc_pathf(lock, sizeof lock, "%s/.%s.lock", dir, MC_STORE_TLS_POLICY);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return mc_err_set(e, "%s: %s", lock, strerror(errno));
	if (flock(fd, LOCK_EX) < 0) {
		close(fd);
		return mc_err_set(e, "%s: %s", lock, strerror(errno));
	}
	return fd;
}

/* 1 when the operator said yes; stdin not a terminal: refused (64) */
static int confirm(const char *question, int *exit_code)
{
	char line[64];

	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "mailcert: trust add: refusing without --yes when standard input is not a terminal; "
			"nothing written\n");
		*exit_code = MC_EX_USAGE;
		return 0;
	}
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof line, stdin) || (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0)) {
		fprintf(stderr, "mailcert: not confirmed; nothing changed\n");
		*exit_code = 1;
		return 0;
	}
	return 1;
}

static X509 *read_file_leaf(const char *path, mc_err *e)
{
	STACK_OF(X509) *chain = NULL;
	X509 *leaf;
	mc_buf b;

	mc_buf_init(&b);
	if (mc_file_read(path, PEM_MAX, &b, e) < 0 ||
	    mc_pem_read_certs(b.data ? b.data : "", b.len, &chain, e) < 0) {
		mc_buf_free(&b);
		return NULL;
	}
	mc_buf_free(&b);
	if (sk_X509_num(chain) != 1) {
		sk_X509_pop_free(chain, X509_free);
		mc_err_set(e, "%s: holds more than one certificate: give the peer's own certificate only", path);
		return NULL;
	}
	leaf = sk_X509_shift(chain);
	sk_X509_free(chain);
	return leaf;
}

static int trust_add(const char *config_file, const char *target, const char *dest_opt, int yes)
{
	mc_config *cfg = NULL;
	char dest[DEST_MAX], fp[96], nb[32], na[32], now[32], dir[4096], q[1400];
	mc_certinfo ci;
	X509 *leaf = NULL;
	json_t *a = NULL, *o;
	mc_buf pem;
	size_t i;
	int rc = 1, lock = -1, replaced = 0;
	mc_err e;

	mc_buf_init(&pem);
	e.msg[0] = '\0';
	if (dest_opt && dest_check(dest_opt, dest, &e) < 0) {
		fprintf(stderr, "mailcert: trust add: --host %s\n", e.msg);
		return MC_EX_USAGE;
	}
	if (strchr(target, '/')) {
		if (!dest_opt) {
			fprintf(stderr, "mailcert: trust add %s: a certificate file needs --host DEST "
				"(DOMAIN, [HOST] or [HOST]:PORT: the next hop it is for)\n", target);
			return MC_EX_USAGE;
		}
		leaf = read_file_leaf(target, &e);
	} else {
		peer p;
		if (parse_target(target, &p, &e) < 0) {
			fprintf(stderr, "mailcert: trust add: %s\n", e.msg);
			return MC_EX_USAGE;
		}
		if (!dest_opt) {
			if (p.port == 25)
				snprintf(dest, sizeof dest, "[%s]", p.host);
			else
				snprintf(dest, sizeof dest, "[%s]:%u", p.host, p.port);
		}
		leaf = fetch_leaf_unprivileged(&p, &e);
	}
	if (!leaf) {
		fprintf(stderr, "mailcert: trust add: %s\n", e.msg);
		return 1;
	}
	if (mc_config_load(config_file, &cfg, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		rc = MC_EX_CONFIG;
		goto out;
	}
	if (cert_fingerprint(leaf, fp, &e) < 0 || mc_cert_info(leaf, &ci) < 0) {
		fprintf(stderr, "mailcert: trust add: %s\n", e.msg[0] ? e.msg : "unreadable certificate");
		goto out;
	}
	clean(ci.subject);
	clean(ci.issuer);
	mc_time_format(ci.not_before, nb);
	mc_time_format(ci.not_after, na);
	printf("destination  %s\nsubject      %s\nissuer       %s\nvalid        %s to %s%s\n"
	       "SHA-256      %s\n",
	       dest, ci.subject, ci.issuer, nb, na, ci.not_after < mc_now() ? " (EXPIRED)" : "", fp);
	fflush(stdout);
	snprintf(q, sizeof q, "trust this certificate for mail to %s?", dest);
	if (!yes && !confirm(q, &rc))
		goto out;
	rc = 1;
	if ((lock = open_locked(cfg, dir, sizeof dir, &e)) < 0 || !(a = index_load(dir, &e))) {
		fprintf(stderr, "mailcert: trust add: %s\n", e.msg);
		goto out;
	}
	mc_pem_append_cert(&pem, leaf);
	mc_time_format(mc_now(), now);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s%}", "destination", dest, "fingerprint", fp,
		      "subject", ci.subject, "issuer", ci.issuer, "not_after", na, "added", now, "pem",
		      pem.data, pem.len);
	for (i = 0; i < json_array_size(a); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(a, i), "destination")), dest) == 0)
			break;
	if (i < json_array_size(a)) {
		json_array_set_new(a, i, o);
		replaced = 1;
	} else {
		json_array_append_new(a, o);
	}
	if (rebuild(cfg, dir, a, &e) < 0) {
		fprintf(stderr, "mailcert: trust add: %s\n", e.msg);
		goto out;
	}
	printf("%s %s: %s/%s (fingerprint match), %s/%s\n", replaced ? "replaced" : "added", dest, dir,
	       MC_STORE_TLS_POLICY, dir, MC_STORE_TRUSTED_PEERS);
	rc = 0;
out:
	if (lock >= 0)
		close(lock);
	json_decref(a);
	mc_buf_free(&pem);
	X509_free(leaf);
	mc_config_free(cfg);
	return rc;
}

static int trust_list(const mc_config *cfg)
{
	char dir[4096];
	json_t *a;
	size_t i;
	mc_err e;

	policy_dir(cfg, dir, sizeof dir);
	a = index_load(dir, &e);
	if (!a) {
		fprintf(stderr, "mailcert: trust list: %s\n", e.msg);
		return 1;
	}
	for (i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		const char *s;
		char buf[1024];
#define FIELD(k) (s = json_string_value(json_object_get(o, k)), snprintf(buf, sizeof buf, "%s", s ? s : "-"), clean(buf), buf)
		printf("%s\n", FIELD("destination"));
		printf("  fingerprint  %s\n", FIELD("fingerprint"));
		printf("  subject      %s\n", FIELD("subject"));
		printf("  not after    %s\n", FIELD("not_after"));
		printf("  added        %s\n", FIELD("added"));
#undef FIELD
	}
	if (i == 0)
		printf("no trusted peers (%s/%s)\n", dir, MC_STORE_TLS_POLICY_INDEX);
	json_decref(a);
	return 0;
}

static int trust_remove(const mc_config *cfg, const char *arg)
{
	char dest[DEST_MAX], dir[4096];
	json_t *a = NULL;
	size_t i;
	int lock, rc = 1, found = 0;
	mc_err e;

	if (dest_check(arg, dest, &e) < 0) {
		fprintf(stderr, "mailcert: trust remove: %s\n", e.msg);
		return MC_EX_USAGE;
	}
	if ((lock = open_locked(cfg, dir, sizeof dir, &e)) < 0 || !(a = index_load(dir, &e))) {
		fprintf(stderr, "mailcert: trust remove: %s\n", e.msg);
		goto out;
	}
	for (i = 0; i < json_array_size(a);)
		if (strcmp(json_string_value(json_object_get(json_array_get(a, i), "destination")), dest) == 0) {
			json_array_remove(a, i);
			found = 1;
		} else {
			i++;
		}
	if (!found) {
		fprintf(stderr, "mailcert: trust remove: %s is not in %s/%s\n", dest, dir, MC_STORE_TLS_POLICY);
		goto out;
	}
	if (rebuild(cfg, dir, a, &e) < 0) {
		fprintf(stderr, "mailcert: trust remove: %s\n", e.msg);
		goto out;
	}
	printf("removed %s\n", dest);
	rc = 0;
out:
	if (lock >= 0)
		close(lock);
	json_decref(a);
	return rc;
}

int mc_trust_main(const char *config_file, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ "host", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *dest = NULL;
	int c, yes = 0, rc;
	mc_config *cfg;
	mc_err e;

	optind = 0; /* a full restart: options may follow the words */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'y')
			yes = 1;
		else if (c == 'H')
			dest = optarg;
		else
			return MC_EX_USAGE;
	}
	sub = optind < argc ? argv[optind++] : NULL;
	if (!sub || (strcmp(sub, "add") == 0 && argc - optind != 1) ||
	    (strcmp(sub, "remove") == 0 && argc - optind != 1) || (strcmp(sub, "list") == 0 && argc != optind) ||
	    (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0 && strcmp(sub, "list") != 0) ||
	    (strcmp(sub, "add") != 0 && (yes || dest))) {
		fprintf(stderr, "mailcert: usage: mailcert trust add HOST[:PORT] [--host DEST] [--yes] | "
			"trust add FILE --host DEST [--yes] | trust list | trust remove DEST\n");
		return MC_EX_USAGE;
	}
	/* add reads the configuration only once the peer answered: its fetching
	 * process must not hold any of it */
	if (strcmp(sub, "add") == 0)
		return trust_add(config_file, argv[optind], dest, yes);
	if (mc_config_load(config_file, &cfg, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return MC_EX_CONFIG;
	}
	if (strcmp(sub, "list") == 0)
		rc = trust_list(cfg);
	else
		rc = trust_remove(cfg, argv[optind]);
	mc_config_free(cfg);
	return rc;
}
