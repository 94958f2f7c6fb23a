/*
 * test_http01_idle - idle connections do not delay the http-01 responder.
 *
 * One client holding hundreds of idle connections used to fill the
 * responder's table, so every GET waited for an idle connection's 10 s
 * deadline.  No wall-clock limit here: a GET must be answered while every
 * idle connection is still open, that is before any of their deadlines
 * could have expired.  bench/http01-idle.sh prints the latency itself.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http01.h"
#include "unit.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define PREFIX "/.well-known/acme-challenge/"
#define NIDLE 600
#ifndef MC_HTTP01_MAX_CLIENTS
#define MC_HTTP01_MAX_CLIENTS 1024 /* what the fix sets (for a run against older code) */
#endif
#define NOVER (MC_HTTP01_MAX_CLIENTS + 64)

static mc_http01 *h;
static int port;


/* room for N sockets of our own; 0 when the hard limit does not allow it */
static int want_fds(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= n)
		return 1;
	if (rl.rlim_max < n)
		return 0;
	rl.rlim_cur = n;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

static void setup(void)
{
	char addr[64], *listen[1] = { addr };
	mc_err e;
	int tries;

	signal(SIGPIPE, SIG_IGN);
	want_fds(2 * NOVER + 256); /* before the fork: the responder inherits the limit */
	for (tries = 0; tries < 5; tries++) {
		port = unit_free_port(AF_INET);
		snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
		if (mc_http01_start(listen, 1, NULL, NULL, &h, &e) == 0)
			break;
	}
	ck_assert_msg(h != NULL, "%s", e.msg);
	ck_assert_msg(mc_http01_add(h, TOKEN, KEYAUTH, &e) == 0, "%s", e.msg);
}

static void teardown(void)
{
	mc_http01_stop(h);
	h = NULL;
}

/* a connection the responder accepted or queued; aborts the test when the
 * handshake does not complete within 10 s (nobody takes new connections) */
static int connect_nb(int i)
{
	struct sockaddr_in sin;
	struct pollfd p;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	socklen_t len = sizeof err;

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		ck_assert_msg(errno == EINPROGRESS, "connect %d: %s", i, strerror(errno));
		p.fd = fd;
		p.events = POLLOUT;
		ck_assert_msg(poll(&p, 1, 10000) == 1,
			      "connection %d not accepted within 10 s: the responder stopped taking connections", i);
		ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
		ck_assert_msg(err == 0, "connect %d: %s", i, strerror(err));
	}
	return fd;
}

/* 1 when the server closed FD (EOF or reset); never blocks */
static int closed_by_server(int fd)
{
	char b[64];
	ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* GET the token on a fresh connection; the answer, malloc'd (generous 60 s bound) */
static char *get_token(void)
{
	static const char req[] = "GET " PREFIX TOKEN " HTTP/1.1\r\nHost: mail.example.test\r\n\r\n";
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	int fd = connect_nb(-1);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)(sizeof req - 1));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ck_assert_msg(poll(&p, 1, 60000) == 1, "no answer to the GET within 60 s");
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		ck_assert_uint_lt(len, cap);
	}
	buf[len] = '\0';
	close(fd);
	return buf;
}

static void expect_keyauth(const char *ans)
{
	const char *body = strstr(ans, "\r\n\r\n");

	ck_assert_msg(strncmp(ans, "HTTP/1.1 200 ", 13) == 0, "answer: %.80s", ans);
	ck_assert_ptr_nonnull(body);
	ck_assert_str_eq(body + 4, KEYAUTH);
}

START_TEST(get_answered_while_idle_held)
{
	int fds[NIDLE], i, closed = 0;
	char *ans;

	ck_assert_msg(want_fds(NIDLE + 64), "cannot raise RLIMIT_NOFILE to %d", NIDLE + 64);
	for (i = 0; i < NIDLE; i++)
		fds[i] = connect_nb(i);
	ans = get_token();
	/* right after the answer: had the GET waited for a slot, idle connections
	 * would have been closed at their deadline first */
	for (i = 0; i < NIDLE; i++)
		closed += closed_by_server(fds[i]);
	expect_keyauth(ans);
	ck_assert_msg(closed == 0,
		      "the GET was answered only after %d of %d idle connections were dropped", closed, NIDLE);
	free(ans);
	for (i = 0; i < NIDLE; i++)
		close(fds[i]);
}
END_TEST

START_TEST(overflow_evicts_oldest_idle)
{
	int *fds, i, closed_new = 0;
	char *ans;

	if (!want_fds(2 * NOVER + 256)) {
		fprintf(stderr, "skipped: RLIMIT_NOFILE hard limit below %d\n", 2 * NOVER + 256);
		return;
	}
	fds = calloc(NOVER, sizeof *fds);
	ck_assert_ptr_nonnull(fds);
	for (i = 0; i < NOVER; i++)
		fds[i] = connect_nb(i);
	ans = get_token();
	expect_keyauth(ans);
	/* what made room were the oldest idle connections, not the newest */
	for (i = NOVER - MC_HTTP01_MAX_CLIENTS / 2; i < NOVER; i++)
		closed_new += closed_by_server(fds[i]);
	ck_assert_msg(closed_new == 0, "%d of the newest idle connections were dropped", closed_new);
	free(ans);
	for (i = 0; i < NOVER; i++)
		close(fds[i]);
	free(fds);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http01_idle");
	TCase *tc = unit_tcase("idle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, get_answered_while_idle_held);
	tcase_add_test(tc, overflow_evicts_oldest_idle);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
