/*
 * http01 - a small poll(2) loop; one thread, non-blocking sockets.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "b64url.h"
#include "fsutil.h"
#include "http01.h"
#include "xalloc.h"

#define MAX_LISTEN 16
#define MAX_CLIENTS 512
#define REQ_MAX 4096
#define REQ_TIMEOUT_MS 10000
#define PREFIX "/.well-known/acme-challenge/"

struct token {
	char *token;
	char *keyauth;
};

struct client {
	int fd;
	long deadline;
	size_t len;
	char buf[REQ_MAX + 1];
};

struct mc_http01 {
	int lfd[MAX_LISTEN];
	size_t nlfd;
	int wake[2];
	pthread_t thread;
	pthread_mutex_t lock;
	struct token *tokens;
	size_t ntokens, captokens;
	struct client *clients[MAX_CLIENTS];
	size_t nclients;
	unsigned long nok, nrefused;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int listen_one(const char *spec, int *out, mc_err *e)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc;

	if (!colon)
		return mc_err_set(e, "http-01 listen address \"%s\" is not HOST:PORT", spec);
	if (spec[0] == '[')
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec - 2), spec + 1);
	else
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] && strcmp(host, "*") != 0 ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0)
		return mc_err_set(e, "http-01 listen address \"%s\": %s", spec, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6) {
			int zero = 0; /* [::] also takes IPv4 */
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
		return mc_err_set(e, "http-01 responder cannot listen on %s: %s", spec, strerror(errno));
	*out = fd;
	return 0;
}

static void send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				if (poll(&pfd, 1, 1000) > 0)
					continue;
			}
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static void reply(int fd, int code, const char *reason, const char *body, int head)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof hdr,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code, reason, strlen(body));

	send_all(fd, hdr, (size_t)n);
	if (!head)
		send_all(fd, body, strlen(body));
}

/* answer one complete request head */
static void answer(mc_http01 *h, struct client *c)
{
	char method[8], target[REQ_MAX], *sp1, *sp2, *eol;
	const char *token;
	char *keyauth = NULL;
	size_t i;
	int head;

	eol = strstr(c->buf, "\r\n");
	sp1 = memchr(c->buf, ' ', (size_t)(eol - c->buf));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || (size_t)(sp1 - c->buf) >= sizeof method || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		reply(c->fd, 400, "Bad Request", "bad request\n", 0);
		goto refused;
	}
	snprintf(method, sizeof method, "%.*s", (int)(sp1 - c->buf), c->buf);
	snprintf(target, sizeof target, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		reply(c->fd, 405, "Method Not Allowed", "method not allowed\n", 0);
		goto refused;
	}
	if (strncmp(target, PREFIX, strlen(PREFIX)) != 0 ||
	    !mc_b64url_valid(target + strlen(PREFIX), MC_TOKEN_MAX)) {
		reply(c->fd, 404, "Not Found", "not found\n", head);
		goto refused;
	}
	token = target + strlen(PREFIX);
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->ntokens; i++)
		if (strcmp(h->tokens[i].token, token) == 0) {
			keyauth = mc_strdup(h->tokens[i].keyauth);
			break;
		}
	pthread_mutex_unlock(&h->lock);
	if (!keyauth) {
		reply(c->fd, 404, "Not Found", "not found\n", head);
		goto refused;
	}
	reply(c->fd, 200, "OK", keyauth, head);
	free(keyauth);
	h->nok++;
	return;
refused:
	h->nrefused++;
}

static void drop(mc_http01 *h, size_t i)
{
	close(h->clients[i]->fd);
	free(h->clients[i]);
	h->clients[i] = h->clients[--h->nclients];
}

static void *serve(void *arg)
{
	mc_http01 *h = arg;
	struct pollfd pfd[MAX_LISTEN + 1 + MAX_CLIENTS];

	for (;;) {
		size_t i, n = 0, base;
		long now = now_ms(), next = now + 1000;
		int r;

		pfd[n].fd = h->wake[0];
		pfd[n++].events = POLLIN;
		for (i = 0; i < h->nlfd; i++) {
			pfd[n].fd = h->nclients < MAX_CLIENTS ? h->lfd[i] : -1;
			pfd[n++].events = POLLIN;
		}
		base = n;
		for (i = 0; i < h->nclients; i++) {
			pfd[n].fd = h->clients[i]->fd;
			pfd[n++].events = POLLIN;
			if (h->clients[i]->deadline < next)
				next = h->clients[i]->deadline;
		}
		r = poll(pfd, n, (int)(next > now ? next - now : 0));
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && pfd[0].revents)
			break;
		for (i = 1; r > 0 && i < base; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (;;) {
				int fd = accept4(pfd[i].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				struct client *c;
				if (fd < 0)
					break;
				if (h->nclients >= MAX_CLIENTS) {
					close(fd);
					break;
				}
				c = mc_calloc(1, sizeof *c);
				c->fd = fd;
				c->deadline = now_ms() + REQ_TIMEOUT_MS;
				h->clients[h->nclients++] = c;
			}
		}
		/* walk clients backwards: drop() moves the last one into the hole */
		for (i = n; i-- > base;) {
			size_t ci = i - base;
			struct client *c;
			ssize_t got;

			if (ci >= h->nclients)
				continue;
			c = h->clients[ci];
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				got = recv(c->fd, c->buf + c->len, REQ_MAX - c->len, 0);
				if (got <= 0) {
					if (got < 0 && (errno == EAGAIN || errno == EINTR))
						continue;
					drop(h, ci);
					continue;
				}
				c->len += (size_t)got;
				c->buf[c->len] = '\0';
				if (strstr(c->buf, "\r\n\r\n")) {
					answer(h, c);
					drop(h, ci);
				} else if (c->len >= REQ_MAX) {
					reply(c->fd, 431, "Request Header Fields Too Large", "too large\n", 0);
					h->nrefused++;
					drop(h, ci);
				}
			} else if (now_ms() >= c->deadline) {
				h->nrefused++;
				drop(h, ci);
			}
		}
	}
	return NULL;
}

int mc_http01_start(char *const *listen, size_t nlisten, mc_http01 **out, mc_err *e)
{
	mc_http01 *h = mc_calloc(1, sizeof *h);
	size_t i;

	if (nlisten == 0 || nlisten > MAX_LISTEN) {
		free(h);
		return mc_err_set(e, "http01.listen needs 1 to %d addresses", MAX_LISTEN);
	}
	for (i = 0; i < nlisten; i++) {
		if (listen_one(listen[i], &h->lfd[i], e) < 0) {
			while (i-- > 0)
				close(h->lfd[i]);
			free(h);
			return -1;
		}
		h->nlfd++;
	}
	if (pipe2(h->wake, O_CLOEXEC) < 0)
		mc_fatal("pipe: %s", strerror(errno));
	pthread_mutex_init(&h->lock, NULL);
	if (pthread_create(&h->thread, NULL, serve, h) != 0)
		mc_fatal("cannot start the http-01 responder thread");
	*out = h;
	return 0;
}

void mc_http01_add(mc_http01 *h, const char *token, const char *keyauth)
{
	pthread_mutex_lock(&h->lock);
	if (h->ntokens == h->captokens) {
		h->captokens = h->captokens ? 2 * h->captokens : 16;
		h->tokens = mc_realloc(h->tokens, h->captokens * sizeof *h->tokens);
	}
	h->tokens[h->ntokens].token = mc_strdup(token);
	h->tokens[h->ntokens].keyauth = mc_strdup(keyauth);
	h->ntokens++;
	pthread_mutex_unlock(&h->lock);
}

void mc_http01_remove(mc_http01 *h, const char *token)
{
	size_t i;

	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->ntokens; i++) {
		if (strcmp(h->tokens[i].token, token) != 0)
			continue;
		free(h->tokens[i].token);
		free(h->tokens[i].keyauth);
		h->tokens[i] = h->tokens[--h->ntokens];
		break;
	}
	pthread_mutex_unlock(&h->lock);
}

void mc_http01_counts(mc_http01 *h, unsigned long *ok, unsigned long *refused)
{
	*ok = h->nok;
	*refused = h->nrefused;
}

void mc_http01_stop(mc_http01 *h)
{
	size_t i;

	if (!h)
		return;
	if (write(h->wake[1], "x", 1) < 0)
		mc_warn("waking the http-01 responder: %s", strerror(errno));
	pthread_join(h->thread, NULL);
	for (i = 0; i < h->nclients; i++) {
		close(h->clients[i]->fd);
		free(h->clients[i]);
	}
	for (i = 0; i < h->nlfd; i++)
		close(h->lfd[i]);
	for (i = 0; i < h->ntokens; i++) {
		free(h->tokens[i].token);
		free(h->tokens[i].keyauth);
	}
	free(h->tokens);
	close(h->wake[0]);
	close(h->wake[1]);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int mc_webroot_add(const char *webroot, const char *token, const char *keyauth, mc_err *e)
{
	char dir[4096];

	if (!mc_b64url_valid(token, MC_TOKEN_MAX))
		return mc_err_set(e, "refusing a malformed challenge token");
	mc_pathf(dir, sizeof dir, "%s/.well-known/acme-challenge", webroot);
	if (mc_mkdir_p(dir, 0755, e) < 0)
		return -1;
	return mc_file_write_atomic(dir, token, keyauth, strlen(keyauth), 0644, (gid_t)-1, e);
}

void mc_webroot_remove(const char *webroot, const char *token)
{
	char path[4096];

	if (!mc_b64url_valid(token, MC_TOKEN_MAX))
		return;
	mc_pathf(path, sizeof path, "%s/.well-known/acme-challenge/%s", webroot, token);
	unlink(path);
}
