/*
 * test_http01 - the built-in http-01 responder, spoken to with a plain
 * socket, and the webroot alternative.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http01.h"
#include "unit.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define PREFIX "/.well-known/acme-challenge/"

/* a port nobody listens on right now (bound to 0, then released) */

static int have_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;
	struct sockaddr_in6 sin6;

	if (fd < 0)
		return 0;
	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof sin6) == 0;
	close(fd);
	return ok;
}

typedef struct responder {
	mc_http01 *h;
	int port;
} responder;

static void start(responder *r)
{
	char addr[64];
	char *listen[1];
	mc_err e;
	int tries;

	/* the port may be taken between probing and binding: try a few */
	for (tries = 0; tries < 5; tries++) {
		r->port = unit_free_port(AF_INET);
		snprintf(addr, sizeof addr, "127.0.0.1:%d", r->port);
		listen[0] = addr;
		if (mc_http01_start(listen, 1, NULL, NULL, &r->h, &e) == 0)
			return;
	}
	ck_abort_msg("cannot start the responder: %s", e.msg);
}

static int connect_to(int family, int port)
{
	int fd = socket(family, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	if (family == AF_INET) {
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons((unsigned short)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0, "connect: %s",
			      strerror(errno));
	} else {
		struct sockaddr_in6 sin6;
		memset(&sin6, 0, sizeof sin6);
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((unsigned short)port);
		sin6.sin6_addr = in6addr_loopback;
		ck_assert_msg(connect(fd, (struct sockaddr *)&sin6, sizeof sin6) == 0, "connect: %s",
			      strerror(errno));
	}
	return fd;
}

static void send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* read until the server closes (bounded by 5 s); malloc'd, NUL-terminated */
static char *recv_all(int fd)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap + 1);

	ck_assert_ptr_nonnull(buf);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		ck_assert_msg(poll(&p, 1, 5000) == 1, "no answer within 5 s");
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		ck_assert_uint_lt(len, cap);
	}
	buf[len] = '\0';
	return buf;
}

/* send REQ over FAMILY to PORT and return the whole answer */
static char *exchange(int family, int port, const char *req, size_t len)
{
	int fd = connect_to(family, port);
	char *ans;

	send_all(fd, req, len);
	ans = recv_all(fd);
	close(fd);
	return ans;
}

static int status_of(const char *ans)
{
	int code = 0;

	if (sscanf(ans, "HTTP/1.1 %d ", &code) != 1)
		return -1;
	return code;
}

static const char *body_of(const char *ans)
{
	const char *p = strstr(ans, "\r\n\r\n");

	return p ? p + 4 : NULL;
}

static char *get(responder *r, const char *method, const char *target)
{
	char req[1024];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: mail.example.com\r\n"
			 "User-Agent: mc-unit\r\nAccept: */*\r\n\r\n", method, target);

	return exchange(AF_INET, r->port, req, (size_t)n);
}

START_TEST(known_token)
{
	responder r;
	char *ans, want[64];

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	ans = get(&r, "GET", PREFIX TOKEN);
	ck_assert_int_eq(status_of(ans), 200);
	ck_assert_ptr_nonnull(body_of(ans));
	ck_assert_str_eq(body_of(ans), KEYAUTH);
	snprintf(want, sizeof want, "Content-Length: %zu\r\n", strlen(KEYAUTH));
	ck_assert_msg(strstr(ans, want) != NULL, "answer: %s", ans);
	free(ans);
	/* HEAD: the same head, no body */
	ans = get(&r, "HEAD", PREFIX TOKEN);
	ck_assert_int_eq(status_of(ans), 200);
	ck_assert_str_eq(body_of(ans), "");
	free(ans);
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(several_tokens)
{
	responder r;
	char *ans;

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, "tokA", "tokA.thumb", NULL), 0);
	ck_assert_int_eq(mc_http01_add(r.h, "tokB", "tokB.thumb", NULL), 0);
	ck_assert_int_eq(mc_http01_add(r.h, "tokC", "tokC.thumb", NULL), 0);
	ans = get(&r, "GET", PREFIX "tokB");
	ck_assert_str_eq(body_of(ans), "tokB.thumb");
	free(ans);
	mc_http01_remove(r.h, "tokA");
	ans = get(&r, "GET", PREFIX "tokA");
	ck_assert_int_eq(status_of(ans), 404);
	free(ans);
	ans = get(&r, "GET", PREFIX "tokC");
	ck_assert_str_eq(body_of(ans), "tokC.thumb");
	free(ans);
	mc_http01_remove(r.h, "never-added");
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(unknown_and_malformed)
{
	static const char *const targets[] = {
		PREFIX "unknownToken",
		PREFIX "../x",
		PREFIX "..%2fx",
		PREFIX,
		PREFIX TOKEN "/extra",
		PREFIX TOKEN "?q=1",
		"/.well-known/acme-challenge",
		"/" TOKEN,
		"/",
		"http://mail.example.com" PREFIX TOKEN,
	};
	responder r;
	size_t i;

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	for (i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		char *ans = get(&r, "GET", targets[i]);
		ck_assert_msg(status_of(ans) == 404, "%s: %s", targets[i], ans);
		ck_assert_msg(strstr(ans, KEYAUTH) == NULL, "%s leaked the key authorization", targets[i]);
		free(ans);
	}
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(removed_token)
{
	responder r;
	char *ans;

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	mc_http01_remove(r.h, TOKEN);
	ans = get(&r, "GET", PREFIX TOKEN);
	ck_assert_int_eq(status_of(ans), 404);
	free(ans);
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(methods)
{
	static const char post[] = "POST " PREFIX TOKEN " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
	responder r;
	char *ans;

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	ans = exchange(AF_INET, r.port, post, strlen(post));
	ck_assert_int_eq(status_of(ans), 405);
	ck_assert(strstr(ans, KEYAUTH) == NULL);
	free(ans);
	ans = get(&r, "PUT", PREFIX TOKEN);
	ck_assert_int_eq(status_of(ans), 405);
	free(ans);
	ans = get(&r, "DELETE", PREFIX TOKEN);
	ck_assert_int_eq(status_of(ans), 405);
	free(ans);
	ans = get(&r, "VERYLONGMETHODNAME", PREFIX TOKEN);
	ck_assert_int_eq(status_of(ans), 405);
	ck_assert(strstr(ans, KEYAUTH) == NULL);
	free(ans);
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(bad_request_line)
{
	static const char *const reqs[] = {
		"garbage\r\n\r\n",
		"GET\r\n\r\n",
		"GET " PREFIX TOKEN "\r\n\r\n",
		"GET " PREFIX TOKEN " SPDY/3\r\n\r\n",
	};
	responder r;
	size_t i;

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	for (i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		char *ans = exchange(AF_INET, r.port, reqs[i], strlen(reqs[i]));
		ck_assert_msg(status_of(ans) == 400, "request %zu: %s", i, ans);
		free(ans);
	}
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(header_too_large)
{
	responder r;
	char *req, *ans;
	size_t n = 0, cap = 6000;

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	req = malloc(cap);
	ck_assert_ptr_nonnull(req);
	n += (size_t)snprintf(req, cap, "GET " PREFIX TOKEN " HTTP/1.1\r\nHost: x\r\nX-Filler: ");
	while (n < 5 * 1024)
		req[n++] = 'a';
	memcpy(req + n, "\r\n\r\n", 4);
	n += 4;
	ans = exchange(AF_INET, r.port, req, n);
	ck_assert_msg(status_of(ans) == 431, "answer: %.200s", ans);
	ck_assert(strstr(ans, KEYAUTH) == NULL);
	free(ans);
	free(req);
	/* the responder still serves afterwards */
	ans = get(&r, "GET", PREFIX TOKEN);
	ck_assert_int_eq(status_of(ans), 200);
	free(ans);
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(request_in_pieces)
{
	static const char *const parts[] = { "GE", "T " PREFIX, TOKEN " HTTP/1.1\r\nHo", "st: x\r\n",
					     "\r\n" };
	responder r;
	int fd;
	size_t i;
	char *ans;

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	fd = connect_to(AF_INET, r.port);
	for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		send_all(fd, parts[i], strlen(parts[i]));
		usleep(20000);
	}
	ans = recv_all(fd);
	close(fd);
	ck_assert_int_eq(status_of(ans), 200);
	ck_assert_str_eq(body_of(ans), KEYAUTH);
	free(ans);
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(idle_clients_do_not_block)
{
	/* a client that connects and says nothing must not stall the others */
	responder r;
	int idle[8], i;
	char *ans;

	start(&r);
	ck_assert_int_eq(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	for (i = 0; i < 8; i++)
		idle[i] = connect_to(AF_INET, r.port);
	send_all(idle[0], "GET ", 4);
	ans = get(&r, "GET", PREFIX TOKEN);
	ck_assert_int_eq(status_of(ans), 200);
	free(ans);
	for (i = 0; i < 8; i++)
		close(idle[i]);
	mc_http01_stop(r.h);
}
END_TEST

START_TEST(two_addresses)
{
	char a4[64], a6[64];
	char *listen[2];
	mc_http01 *h = NULL;
	int p4 = unit_free_port(AF_INET), p6, fd;
	char *ans;
	mc_err e;
	static const char req[] = "GET " PREFIX TOKEN " HTTP/1.1\r\nHost: x\r\n\r\n";

	snprintf(a4, sizeof a4, "127.0.0.1:%d", p4);
	listen[0] = a4;
	if (have_ipv6()) {
		p6 = unit_free_port(AF_INET6);
		snprintf(a6, sizeof a6, "[::1]:%d", p6);
	} else {
		p6 = unit_free_port(AF_INET);
		snprintf(a6, sizeof a6, "127.0.0.1:%d", p6);
	}
	listen[1] = a6;
	ck_assert_msg(mc_http01_start(listen, 2, NULL, NULL, &h, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(mc_http01_add(h, TOKEN, KEYAUTH, NULL), 0);
	ans = exchange(AF_INET, p4, req, strlen(req));
	ck_assert_str_eq(body_of(ans), KEYAUTH);
	free(ans);
	fd = connect_to(have_ipv6() ? AF_INET6 : AF_INET, p6);
	send_all(fd, req, strlen(req));
	ans = recv_all(fd);
	close(fd);
	ck_assert_str_eq(body_of(ans), KEYAUTH);
	free(ans);
	mc_http01_stop(h);
}
END_TEST

START_TEST(start_errors)
{
	char *bad1[] = { (char *)"no-port-here" };
	char *bad2[] = { (char *)"not.an.ip:80" };
	char addr[64];
	char *busy[1];
	responder r;
	mc_http01 *h = NULL;
	mc_err e;

	ck_assert_int_eq(mc_http01_start(bad1, 1, NULL, NULL, &h, &e), -1);
	ck_assert_msg(strstr(e.msg, "HOST:PORT") != NULL, "message: %s", e.msg);
	ck_assert_int_eq(mc_http01_start(bad2, 1, NULL, NULL, &h, &e), -1);
	ck_assert_int_eq(mc_http01_start(bad1, 0, NULL, NULL, &h, &e), -1);
	/* a port already taken */
	start(&r);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", r.port);
	busy[0] = addr;
	ck_assert_int_eq(mc_http01_start(busy, 1, NULL, NULL, &h, &e), -1);
	ck_assert_msg(strstr(e.msg, "cannot listen") != NULL, "message: %s", e.msg);
	ck_assert_ptr_null(h);
	mc_http01_stop(r.h);
	mc_http01_stop(NULL);
}
END_TEST

static int parse(const char *req, char *token, size_t len, int *head)
{
	*head = -1;
	return mc_http01_parse_request(req, token, len, head);
}

START_TEST(parse_request)
{
	char token[MC_TOKEN_MAX + 1], longreq[600], small[4];
	int head;
	size_t i;

	ck_assert_int_eq(parse("GET " PREFIX TOKEN " HTTP/1.1\r\nHost: x\r\n\r\n", token,
			       sizeof token, &head), 200);
	ck_assert_str_eq(token, TOKEN);
	ck_assert_int_eq(head, 0);
	ck_assert_int_eq(parse("HEAD " PREFIX "abc HTTP/1.0\r\n\r\n", token, sizeof token, &head),
			 200);
	ck_assert_str_eq(token, "abc");
	ck_assert_int_eq(head, 1);
	ck_assert_int_eq(parse("POST " PREFIX "abc HTTP/1.1\r\n\r\n", token, sizeof token, &head),
			 405);
	ck_assert_int_eq(parse("GETX " PREFIX "abc HTTP/1.1\r\n\r\n", token, sizeof token, &head),
			 405);
	ck_assert_int_eq(parse("get " PREFIX "abc HTTP/1.1\r\n\r\n", token, sizeof token, &head),
			 405);
	ck_assert_int_eq(parse("GET /index.html HTTP/1.1\r\n\r\n", token, sizeof token, &head), 404);
	ck_assert_int_eq(parse("GET " PREFIX " HTTP/1.1\r\n\r\n", token, sizeof token, &head), 404);
	ck_assert_int_eq(parse("GET " PREFIX "../x HTTP/1.1\r\n\r\n", token, sizeof token, &head),
			 404);
	ck_assert_str_eq(token, "");
	ck_assert_int_eq(parse("GET " PREFIX "a%2e HTTP/1.1\r\n\r\n", token, sizeof token, &head),
			 404);
	ck_assert_str_eq(token, "");
	ck_assert_int_eq(parse("GET " PREFIX "abc HTTP/2.0\r\n\r\n", token, sizeof token, &head), 400);
	ck_assert_int_eq(parse("GET " PREFIX "abc HTTP/1.\r\n\r\n", token, sizeof token, &head), 400);
	ck_assert_int_eq(parse("GET " PREFIX "abc\r\n\r\n", token, sizeof token, &head), 400);
	ck_assert_int_eq(parse("GET " PREFIX "abc HTTP/1.1", token, sizeof token, &head), 400);
	ck_assert_int_eq(parse("", token, sizeof token, &head), 400);
	ck_assert_int_eq(parse("\r\n\r\n", token, sizeof token, &head), 400);
	/* a token longer than MC_TOKEN_MAX, or than the caller's buffer */
	i = (size_t)snprintf(longreq, sizeof longreq, "GET " PREFIX);
	while (i < strlen("GET " PREFIX) + MC_TOKEN_MAX + 1)
		longreq[i++] = 'a';
	snprintf(longreq + i, sizeof longreq - i, " HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(parse(longreq, token, sizeof token, &head), 404);
	ck_assert_int_eq(parse("GET " PREFIX "abcd HTTP/1.1\r\n\r\n", small, sizeof small, &head),
			 404);
	ck_assert_int_eq(parse("GET " PREFIX "abc HTTP/1.1\r\n\r\n", small, sizeof small, &head),
			 200);
	ck_assert_str_eq(small, "abc");
}
END_TEST

START_TEST(webroot)
{
	char *dir = unit_tmpdir(), path[1024], *txt;
	struct stat st;
	mc_err e;

	ck_assert_msg(mc_webroot_add(dir, TOKEN, KEYAUTH, &e) == 0, "%s", e.msg);
	snprintf(path, sizeof path, "%s/.well-known/acme-challenge/%s", dir, TOKEN);
	txt = unit_read(path, NULL);
	ck_assert_ptr_nonnull(txt);
	ck_assert_str_eq(txt, KEYAUTH);
	free(txt);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	/* replacing is fine */
	ck_assert_int_eq(mc_webroot_add(dir, TOKEN, "other", &e), 0);
	mc_webroot_remove(dir, TOKEN);
	ck_assert_int_ne(access(path, F_OK), 0);
	unit_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(webroot_refuses_paths)
{
	static const char *const bad[] = { "../x", "..", "a/b", "/etc/passwd", "", "x y", "tok.en" };
	char *dir = unit_tmpdir(), path[1024];
	size_t i;
	mc_err e;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e.msg[0] = '\0';
		ck_assert_msg(mc_webroot_add(dir, bad[i], KEYAUTH, &e) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_msg(strstr(e.msg, "malformed") != NULL, "message: %s", e.msg);
	}
	/* nothing was written anywhere under the webroot */
	snprintf(path, sizeof path, "%s/.well-known/x", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/.well-known", dir);
	ck_assert_int_ne(access(path, F_OK), 0);

	/* remove with a path token touches nothing outside the challenge dir */
	ck_assert_int_eq(mc_webroot_add(dir, TOKEN, KEYAUTH, &e), 0);
	snprintf(path, sizeof path, "%s/.well-known/x", dir);
	unit_write(path, "keep me");
	mc_webroot_remove(dir, "../x");
	ck_assert_int_eq(access(path, F_OK), 0);
	unit_rmtree(dir);
	free(dir);
}
END_TEST

/* a responder that died makes add fail cleanly instead of killing us with SIGPIPE */
START_TEST(responder_gone)
{
	responder r;
	int status;

	signal(SIGPIPE, SIG_IGN); /* as mailcert's main() does */
	start(&r);
	kill(mc_http01_pid(r.h), SIGKILL);
	waitpid(mc_http01_pid(r.h), &status, 0);
	ck_assert_int_ne(mc_http01_add(r.h, TOKEN, KEYAUTH, NULL), 0);
	mc_http01_stop(r.h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http01");
	TCase *resp = unit_tcase("responder");
	TCase *web = unit_tcase("webroot");

	tcase_add_test(resp, parse_request);
	tcase_add_test(resp, responder_gone);
	tcase_add_test(resp, known_token);
	tcase_add_test(resp, several_tokens);
	tcase_add_test(resp, unknown_and_malformed);
	tcase_add_test(resp, removed_token);
	tcase_add_test(resp, methods);
	tcase_add_test(resp, bad_request_line);
	tcase_add_test(resp, header_too_large);
	tcase_add_test(resp, request_in_pieces);
	tcase_add_test(resp, idle_clients_do_not_block);
	tcase_add_test(resp, two_addresses);
	tcase_add_test(resp, start_errors);
	tcase_add_test(web, webroot);
	tcase_add_test(web, webroot_refuses_paths);
	suite_add_tcase(s, resp);
	suite_add_tcase(s, web);
	return unit_run(s);
}
