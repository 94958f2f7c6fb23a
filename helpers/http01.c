/*
 * http01 - a small poll(2) loop in a child process of its own.
 *
 * The parent binds the listening sockets (port 80 needs root), then forks.
 * The child drops to the unprivileged "nobody" user, makes itself
 * non-dumpable and serves; it never sees a key: the parent hands it each
 * token and key authorization over a pipe ("A TOKEN KEYAUTH\n", "R TOKEN\n")
 * and closes the pipe to stop it.  Lines are shorter than PIPE_BUF, so
 * workers may write concurrently without a lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "b64url.h"
#include "fsutil.h"
#include "http01.h"
#include "responder.h"
#include "timefmt.h"
#include "xalloc.h"

#define MAX_LISTEN 16
#define MAX_CLIENTS MC_HTTP01_MAX_CLIENTS
#define REQ_MAX 4096
#define REQ_TIMEOUT_MS 10000
#define PREFIX "/.well-known/acme-challenge/"

struct token {
	char *token;
	char *keyauth;
};

struct client {
	int fd;
	long deadline;           /* for the whole request, from accept */
	long seen;               /* accepted or last sent us a byte: oldest idle goes first */
	size_t len;
	char buf[REQ_MAX + 1];
};

#define CTL_LINE_MAX 1024

/* the parent's handle */
struct mc_http01 {
	mc_responder proc;
};

/* the child's state */
struct responder {
	int lfd[MAX_LISTEN];
	size_t nlfd;
	int ctl;                 /* read end of the command pipe */
	char ctlbuf[CTL_LINE_MAX * 4];
	size_t ctllen;
	int ctl_closed;
	struct token *tokens;
	size_t ntokens, captokens;
	struct client *clients[MAX_CLIENTS];
	size_t nclients;
	size_t maxclients;       /* MAX_CLIENTS, or less when descriptors are short */
};

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
static void read_commands(struct responder *h);

int mc_http01_parse_request(const char *req, char *token, size_t tokenlen, int *head)
{
	const char *sp1, *sp2, *eol = strstr(req, "\r\n"), *t;
	size_t mlen, tlen;

	*head = 0;
	token[0] = '\0';
	if (!eol)
		return 400;
	sp1 = memchr(req, ' ', (size_t)(eol - req));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || (size_t)(eol - sp2 - 1) < 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return 400;
	mlen = (size_t)(sp1 - req);
	*head = mlen == 4 && strncmp(req, "HEAD", 4) == 0;
	if (!*head && !(mlen == 3 && strncmp(req, "GET", 3) == 0))
		return 405;
	t = sp1 + 1;
	tlen = (size_t)(sp2 - t);
	if (tlen <= strlen(PREFIX) || strncmp(t, PREFIX, strlen(PREFIX)) != 0)
		return 404;
	t += strlen(PREFIX);
	tlen -= strlen(PREFIX);
	if (tlen >= tokenlen || tlen > MC_TOKEN_MAX)
		return 404;
	memcpy(token, t, tlen);
	token[tlen] = '\0';
	if (!mc_b64url_valid(token, MC_TOKEN_MAX)) {
		token[0] = '\0';
		return 404;
	}
	return 200;
}

static void answer(struct responder *h, struct client *c)
{
	char token[MC_TOKEN_MAX + 1];
	char *keyauth = NULL;
	size_t i;
	int head, status = mc_http01_parse_request(c->buf, token, sizeof token, &head);

	if (status == 200) {
		/* a challenge is provisioned before the CA is told to validate it */
		read_commands(h);
		for (i = 0; i < h->ntokens; i++)
			if (strcmp(h->tokens[i].token, token) == 0) {
				keyauth = mc_strdup(h->tokens[i].keyauth);
				break;
			}
		if (!keyauth)
			status = 404;
	}
	switch (status) {
	case 200:
		reply(c->fd, 200, "OK", keyauth, head);
		break;
	case 405:
		reply(c->fd, 405, "Method Not Allowed", "method not allowed\n", 0);
		break;
	case 404:
		reply(c->fd, 404, "Not Found", "not found\n", head);
		break;
	default:
		reply(c->fd, 400, "Bad Request", "bad request\n", 0);
		break;
	}
	free(keyauth);
}

static void drop(struct responder *h, size_t i)
{
	close(h->clients[i]->fd);
	free(h->clients[i]);
	h->clients[i] = h->clients[--h->nclients];
}

/*
 * A full table never stops new connections: the connection idle the longest
 * makes room.  One client holding hundreds of idle connections then only
 * ever evicts its own, and a validator's GET is served at once.
 */
static void evict_oldest_idle(struct responder *h)
{
	size_t i, oldest = 0;

	if (h->nclients == 0)
		return;
	for (i = 1; i < h->nclients; i++)
		if (h->clients[i]->seen < h->clients[oldest]->seen)
			oldest = i;
	drop(h, oldest);
}

static void accept_all(struct responder *h, int lfd)
{
	int retried = 0, n;

	/* a bounded batch: the others wait for the next turn of the loop */
	for (n = 0; n < 256; n++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;

		if (fd < 0) {
			if ((errno == EMFILE || errno == ENFILE) && !retried && h->nclients > 0) {
				evict_oldest_idle(h); /* out of descriptors: same remedy */
				retried = 1;
				continue;
			}
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		retried = 0;
		if (h->nclients >= h->maxclients)
			evict_oldest_idle(h);
		c = mc_calloc(1, sizeof *c);
		c->fd = fd;
		c->seen = mc_mono_ms();
		c->deadline = c->seen + REQ_TIMEOUT_MS;
		h->clients[h->nclients++] = c;
	}
}

static void serve(struct responder *h)
{
	static struct pollfd pfd[MAX_LISTEN + 1 + MAX_CLIENTS];

	for (;;) {
		size_t i, n = 0, base;
		long now = mc_mono_ms(), next = now + 1000;
		int r;

		pfd[n].fd = h->ctl_closed ? -1 : h->ctl;
		pfd[n++].events = POLLIN;
		for (i = 0; i < h->nlfd; i++) {
			pfd[n].fd = h->lfd[i];
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
			read_commands(h);
		if (h->ctl_closed)
			break;
		/* clients first, while pfd still matches h->clients; walk backwards:
		 * drop() moves the last one into the hole */
		now = mc_mono_ms();
		for (i = n; i-- > base;) {
			size_t ci = i - base;
			struct client *c;
			ssize_t got;

			if (ci >= h->nclients)
				continue;
			c = h->clients[ci];
			if (r > 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				got = recv(c->fd, c->buf + c->len, REQ_MAX - c->len, 0);
				if (got <= 0) {
					if (got < 0 && (errno == EAGAIN || errno == EINTR))
						continue;
					drop(h, ci);
					continue;
				}
				c->seen = now;
				c->len += (size_t)got;
				c->buf[c->len] = '\0';
				if (strstr(c->buf, "\r\n\r\n")) {
					answer(h, c);
					drop(h, ci);
				} else if (c->len >= REQ_MAX) {
					reply(c->fd, 431, "Request Header Fields Too Large", "too large\n", 0);
					drop(h, ci);
				} else if (now >= c->deadline) {
					drop(h, ci);
				}
			} else if (now >= c->deadline) {
				drop(h, ci);
			}
		}
		for (i = 1; r > 0 && i < base; i++)
			if (pfd[i].revents & POLLIN)
				accept_all(h, pfd[i].fd);
	}
}

static void token_add(struct responder *h, const char *token, const char *keyauth)
{
	if (h->ntokens == h->captokens) {
		h->captokens = h->captokens ? 2 * h->captokens : 16;
		h->tokens = mc_realloc(h->tokens, h->captokens * sizeof *h->tokens);
	}
	h->tokens[h->ntokens].token = mc_strdup(token);
	h->tokens[h->ntokens].keyauth = mc_strdup(keyauth);
	h->ntokens++;
}

static void token_remove(struct responder *h, const char *token)
{
	size_t i;

	for (i = 0; i < h->ntokens; i++) {
		if (strcmp(h->tokens[i].token, token) != 0)
			continue;
		free(h->tokens[i].token);
		free(h->tokens[i].keyauth);
		h->tokens[i] = h->tokens[--h->ntokens];
		return;
	}
}

static void run_command(struct responder *h, char *line)
{
	char *sp;

	if (line[0] == 'A' && line[1] == ' ') {
		sp = strchr(line + 2, ' ');
		if (!sp)
			return;
		*sp = '\0';
		if (mc_b64url_valid(line + 2, MC_TOKEN_MAX))
			token_add(h, line + 2, sp + 1);
	} else if (line[0] == 'R' && line[1] == ' ') {
		token_remove(h, line + 2);
	}
}

/* take every complete command waiting in the pipe (non-blocking) */
static void read_commands(struct responder *h)
{
	for (;;) {
		ssize_t n = read(h->ctl, h->ctlbuf + h->ctllen, sizeof h->ctlbuf - h->ctllen - 1);
		char *start, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			h->ctl_closed = 1;
		if (n <= 0)
			return;
		h->ctllen += (size_t)n;
		h->ctlbuf[h->ctllen] = '\0';
		start = h->ctlbuf;
		while ((nl = memchr(start, '\n', h->ctllen - (size_t)(start - h->ctlbuf))) != NULL) {
			*nl = '\0';
			run_command(h, start);
			start = nl + 1;
		}
		h->ctllen -= (size_t)(start - h->ctlbuf);
		memmove(h->ctlbuf, start, h->ctllen);
		if (h->ctllen >= sizeof h->ctlbuf - 1)
			h->ctllen = 0; /* a line longer than any command: drop it */
	}
}

static void child_main(void *arg, int ctl, int ready) __attribute__((noreturn));
static void child_main(void *arg, int ctl, int ready)
{
	struct responder *h = arg;
	struct rlimit rl;
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	h->ctl = ctl;
	/* room for a full table (while still allowed to raise the limit) */
	h->maxclients = MAX_CLIENTS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = MAX_CLIENTS + MAX_LISTEN + 16;
		if (rl.rlim_cur < want) {
			rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur < want)
			h->maxclients = rl.rlim_cur > MAX_LISTEN + 32 ? (size_t)rl.rlim_cur - MAX_LISTEN - 16 : 16;
	}
	if (mc_responder_drop_privileges("mailcert-http01") < 0) {
		mc_error("http-01 responder: cannot drop privileges to \"nobody\": %s", strerror(errno));
		_exit(1);
	}
	mc_responder_ready(ready);
	fcntl(h->ctl, F_SETFL, O_NONBLOCK);
	serve(h);
	for (i = 0; i < h->nclients; i++) {
		close(h->clients[i]->fd);
		free(h->clients[i]);
	}
	for (i = 0; i < h->ntokens; i++) {
		free(h->tokens[i].token);
		free(h->tokens[i].keyauth);
	}
	free(h->tokens);
	free(h);
	_exit(0);
}

int mc_http01_start(char *const *listen, size_t nlisten, void (*wipe)(void *), void *wipe_arg,
		    mc_http01 **out, mc_err *e)
{
	struct responder *r;
	mc_http01 *h;
	size_t i;
	int rc;

	if (nlisten == 0 || nlisten > MAX_LISTEN)
		return mc_err_set(e, "http01.listen needs 1 to %d addresses", MAX_LISTEN);
	r = mc_calloc(1, sizeof *r);
	for (i = 0; i < nlisten; i++) {
		if (mc_responder_listen(listen[i], "http-01", 1, &r->lfd[i], e) < 0) {
			while (i-- > 0)
				close(r->lfd[i]);
			free(r);
			return -1;
		}
		r->nlfd++;
	}
	h = mc_calloc(1, sizeof *h);
	rc = mc_responder_spawn(&h->proc, "http-01", child_main, r, r->lfd, r->nlfd, wipe, wipe_arg, e);
	/* the child has the sockets now */
	for (i = 0; i < r->nlfd; i++)
		close(r->lfd[i]);
	free(r);
	if (rc < 0) {
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

int mc_http01_add(mc_http01 *h, const char *token, const char *keyauth, mc_err *e)
{
	char line[CTL_LINE_MAX];

	if (!mc_b64url_valid(token, MC_TOKEN_MAX) || strchr(keyauth, '\n') || strchr(keyauth, ' ') ||
	    strlen(token) + strlen(keyauth) + 4 >= sizeof line)
		return mc_err_set(e, "refusing a malformed challenge token");
	if (snprintf(line, sizeof line, "A %s %s\n", token, keyauth) >= (int)sizeof line)
		return mc_err_set(e, "refusing a malformed challenge token");
	return mc_responder_send(&h->proc, line, e);
}

pid_t mc_http01_pid(const mc_http01 *h)
{
	return h->proc.pid;
}

void mc_http01_remove(mc_http01 *h, const char *token)
{
	char line[CTL_LINE_MAX];
	mc_err e;

	if (!mc_b64url_valid(token, MC_TOKEN_MAX))
		return;
	if (snprintf(line, sizeof line, "R %s\n", token) >= (int)sizeof line)
		return;
	if (mc_responder_send(&h->proc, line, &e) < 0)
		mc_warn("%s", e.msg);
}

void mc_http01_stop(mc_http01 *h)
{
	if (!h)
		return;
	mc_responder_stop(&h->proc);
	free(h);
}

/*
 * Open WEBROOT/.well-known/acme-challenge one step at a time with O_NOFOLLOW,
 * creating what is missing with mkdirat when CREATE: whoever owns the
 * document root must not be able to point root at another directory.
 * Returns the directory's descriptor, or -1 with E set.
 */
static int webroot_dir(const char *webroot, int create, mc_err *e)
{
	static const char *const steps[] = { ".well-known", "acme-challenge" };
	int dfd = open(webroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC), i;

	if (dfd < 0)
		return mc_err_set(e, "webroot %s: %s", webroot, strerror(errno));
	for (i = 0; i < 2; i++) {
		int next = openat(dfd, steps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;

		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(dfd, steps[i], 0755) < 0 && errno != EEXIST) {
				mc_err_set(e, "webroot: cannot create %s/%s%s: %s", webroot, i ? ".well-known/" : "",
					   steps[i], strerror(errno));
				close(dfd);
				return -1;
			}
			next = openat(dfd, steps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int err = errno;
			if (fstatat(dfd, steps[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				mc_err_set(e, "webroot: refusing %s/%s%s: it is a symbolic link (it must be a real directory)",
					   webroot, i ? ".well-known/" : "", steps[i]);
			else
				mc_err_set(e, "webroot: %s/%s%s: %s", webroot, i ? ".well-known/" : "", steps[i],
					   err == ENOTDIR ? "not a directory" : strerror(err));
			close(dfd);
			return -1;
		}
		close(dfd);
		dfd = next;
	}
	return dfd;
}

int mc_webroot_add(const char *webroot, const char *token, const char *keyauth, mc_err *e)
{
	char tmp[MC_TOKEN_MAX + 32];
	int dfd, rc;

	if (!mc_b64url_valid(token, MC_TOKEN_MAX))
		return mc_err_set(e, "refusing a malformed challenge token");
	dfd = webroot_dir(webroot, 1, e);
	if (dfd < 0)
		return -1;
	/* a new file (O_EXCL|O_NOFOLLOW) renamed over the name: a link there is replaced, not followed */
	snprintf(tmp, sizeof tmp, ".%s.%ld.tmp", token, (long)getpid());
	unlinkat(dfd, tmp, 0);
	rc = mc_file_write_new_at(dfd, tmp, keyauth, strlen(keyauth), 0644, (gid_t)-1, e);
	if (rc == 0 && renameat(dfd, tmp, dfd, token) < 0) {
		rc = mc_err_set(e, "webroot: rename %s/.well-known/acme-challenge/%s: %s", webroot, token,
				strerror(errno));
		unlinkat(dfd, tmp, 0);
	} else if (rc < 0) {
		mc_err_prefix(e, "webroot %s/.well-known/acme-challenge", webroot);
	}
	close(dfd);
	return rc;
}

void mc_webroot_remove(const char *webroot, const char *token)
{
	mc_err e;
	int dfd;

	if (!mc_b64url_valid(token, MC_TOKEN_MAX))
		return;
	dfd = webroot_dir(webroot, 0, &e);
	if (dfd < 0) {
		mc_warn("removing the challenge token: %s", e.msg);
		return;
	}
	unlinkat(dfd, token, 0);
	close(dfd);
}
