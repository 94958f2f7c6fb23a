/*
 * test_ipc - the messages between mailcert's processes are read as hostile:
 * unknown or unexpected types, wrong field counts, fields over their bound,
 * a NUL inside a field and end-of-file inside a message are all refused;
 * end-of-file between messages is told apart.  Also the store process's
 * check of the challenges the network process asks it to serve.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "challenge.h"
#include "ipc.h"
#include "unit.h"
#include "xalloc.h"

static const int any_sign[] = { MC_MSG_SIGN, MC_MSG_NONE };

static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* a frame from a format: 'u' takes a uint32_t, 's' a string with its length, 'b' raw bytes (ptr, len) */
static void frame(mc_buf *b, const char *fmt, ...)
{
	va_list ap;

	mc_buf_init(b);
	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt == 'u') {
			uint32_t u = va_arg(ap, uint32_t);
			mc_buf_append(b, &u, sizeof u);
		} else {
			const char *p = va_arg(ap, const char *);
			size_t n = va_arg(ap, size_t);
			if (*fmt == 's') {
				uint32_t u = (uint32_t)n;
				mc_buf_append(b, &u, sizeof u);
			}
			mc_buf_append(b, p, n);
		}
	}
	va_end(ap);
}

START_TEST(round_trip)
{
	int sv[2], eof = 1;
	mc_msg m;
	mc_err e;

	pair(sv);
	ck_assert_int_eq(mc_ipc_sendl(sv[0], "key", &e, MC_MSG_SIGN, "", "bm9uY2U", "https://ca/x", "{}", NULL), 0);
	ck_assert_int_eq(mc_ipc_recv(sv[1], "network", any_sign, &m, &eof, &e), 0);
	ck_assert_int_eq(eof, 0);
	ck_assert_int_eq(m.type, MC_MSG_SIGN);
	ck_assert_uint_eq(m.n, 4);
	ck_assert_str_eq(m.f[0], "");
	ck_assert_str_eq(m.f[2], "https://ca/x");
	ck_assert_str_eq(m.f[3], "{}");
	mc_msg_free(&m);
	close(sv[0]);
	ck_assert_int_eq(mc_ipc_recv(sv[1], "network", any_sign, &m, &eof, &e), -1);
	ck_assert_int_eq(eof, 1);
	ck_assert_str_eq(e.msg, "the network process is gone");
	close(sv[1]);
}
END_TEST

/* the account and revocation messages: their bounds hold */
START_TEST(account_messages)
{
	static const int revoke[] = { MC_MSG_REVOKE, MC_MSG_NONE };
	static const int end[] = { MC_MSG_ROLLOVER_END, MC_MSG_NONE };
	static const int info[] = { MC_MSG_ACCT_INFO, MC_MSG_NONE };
	int sv[2];
	mc_msg m;
	mc_err e;

	pair(sv);
	ck_assert_int_eq(mc_ipc_sendl(sv[0], "store", &e, MC_MSG_REVOKE, "MIIB", "4", NULL), 0);
	ck_assert_int_eq(mc_ipc_recv(sv[1], "store", revoke, &m, NULL, &e), 0);
	ck_assert_str_eq(m.f[1], "4");
	mc_msg_free(&m);
	/* a reason code is a few digits at most */
	ck_assert_int_eq(mc_ipc_sendl(sv[0], "store", &e, MC_MSG_REVOKE, "MIIB", "12345", NULL), 0);
	ck_assert_int_eq(mc_ipc_recv(sv[1], "store", revoke, &m, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "REVOKE with field 1 too long") != NULL, "%s", e.msg);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	ck_assert_int_eq(mc_ipc_sendl(sv[0], "store", &e, MC_MSG_ROLLOVER_END, "commit", "x", NULL), 0);
	ck_assert_int_eq(mc_ipc_recv(sv[1], "store", end, &m, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "ROLLOVER_END with 2 fields") != NULL, "%s", e.msg);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	ck_assert_int_eq(mc_ipc_sendl(sv[0], "network", &e, MC_MSG_ACCT_INFO, "https://ca/acct/1", "valid", "", "ES256",
				      "t", NULL), 0);
	ck_assert_int_eq(mc_ipc_recv(sv[1], "network", info, &m, NULL, &e), 0);
	ck_assert_uint_eq(m.n, 5);
	mc_msg_free(&m);
	/* one the store did not ask for is not taken */
	ck_assert_int_eq(mc_ipc_sendl(sv[0], "network", &e, MC_MSG_ACCT_INFO, "https://ca/acct/1", "valid", "", "ES256",
				      "t", NULL), 0);
	ck_assert_int_eq(mc_ipc_recv(sv[1], "network", revoke, &m, NULL, &e), -1);
	ck_assert_msg(strstr(e.msg, "unexpected message") != NULL, "%s", e.msg);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* each hostile frame is refused with a reason, never taken */
START_TEST(hostile_frames)
{
	mc_buf f[12];
	const char *why[12];
	size_t i, n = 0;

	frame(&f[n], "uuu", 999u, 0u, 0u), why[n++] = "unexpected message";
	frame(&f[n], "uuu", 0u, 0u, 0u), why[n++] = "unexpected message";
	/* a type the receiver of SIGN does not answer */
	frame(&f[n], "uuu", (uint32_t)MC_MSG_DONE, 2u, 0u), why[n++] = "unexpected message";
	frame(&f[n], "uuu", (uint32_t)MC_MSG_SIGN, 3u, 0u), why[n++] = "with 3 fields";
	frame(&f[n], "uuu", (uint32_t)MC_MSG_SIGN, 200u, 0u), why[n++] = "with 200 fields";
	frame(&f[n], "uuu", (uint32_t)MC_MSG_SIGN, 4u, 1000000u), why[n++] = "too long";
	frame(&f[n], "uuu", (uint32_t)MC_MSG_SIGN, 4u, 0xffffffffu), why[n++] = "too long";
	/* a URL field over its 4096 bytes, though the body is small */
	frame(&f[n], "uuuub", (uint32_t)MC_MSG_SIGN, 4u, 19u, 5000u, "aaaaaaaaaaaaaaa", (size_t)15), why[n++] = "too long";
	frame(&f[n], "uuusuuu", (uint32_t)MC_MSG_SIGN, 4u, 19u, "a\0b", (size_t)3, 0u, 0u, 0u), why[n++] = "NUL";
	frame(&f[n], "uuub", (uint32_t)MC_MSG_SIGN, 4u, 100u, "abc", (size_t)3), why[n++] = "in the middle";
	frame(&f[n], "u", (uint32_t)MC_MSG_SIGN), why[n++] = "gone"; /* half a header */
	frame(&f[n], "uuuuuuub", (uint32_t)MC_MSG_SIGN, 4u, 18u, 0u, 0u, 0u, 0u, "xx", (size_t)2), why[n++] = "too many";
	for (i = 0; i < n; i++) {
		int sv[2], eof = 1;
		mc_msg m;
		mc_err e;

		pair(sv);
		ck_assert_int_eq(write(sv[0], f[i].data, f[i].len), (ssize_t)f[i].len);
		close(sv[0]);
		ck_assert_int_eq(mc_ipc_recv(sv[1], "network", any_sign, &m, &eof, &e), -1);
		ck_assert_msg(strstr(e.msg, why[i]) != NULL, "case %zu: %s", i, e.msg);
		ck_assert_int_eq(eof, 0);
		ck_assert_ptr_null(m.f);
		close(sv[1]);
		mc_buf_free(&f[i]);
	}
}
END_TEST

START_TEST(big_fields)
{
	static const int key[] = { MC_MSG_KEY, MC_MSG_NONE };
	size_t big = 512 * 1024;
	char *pem = malloc(big + 1);
	int sv[2], status = -1;
	pid_t pid;
	mc_msg m;
	mc_err e;

	memset(pem, 'A', big);
	pem[big] = '\0';
	pair(sv);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) { /* the reader must run meanwhile: the socket buffer is smaller */
		close(sv[1]);
		_exit(mc_ipc_sendl(sv[0], "store", &e, MC_MSG_KEY, "k", pem, NULL) == 0 ? 0 : 1);
	}
	close(sv[0]);
	ck_assert_int_eq(mc_ipc_recv(sv[1], "key", key, &m, NULL, &e), 0);
	ck_assert_uint_eq(m.len[1], big);
	ck_assert_int_eq(memcmp(m.f[1], pem, big), 0);
	mc_msg_cleanse(&m);
	close(sv[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	free(pem);
}
END_TEST

static mc_host *host(const char *name, const char *extra, mc_challenge c)
{
	mc_host *h = calloc(1, sizeof *h);

	h->name = (char *)name;
	h->names = calloc(3, sizeof *h->names);
	h->names[0] = (char *)name;
	h->names[1] = (char *)extra;
	h->nnames = extra ? 2 : 1;
	h->challenge = c;
	return h;
}

#define TOKEN "abcdefghijklmnopqrstuvwxyz012345"
#define THUMB "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

START_TEST(challenge_requests_checked)
{
	mc_config cfg;
	mc_chal_env env = { &cfg, NULL, NULL };
	mc_host *h = host("mail.example.test", "*.wild.example.test", MC_CHAL_HTTP01);
	mc_chal_set s;
	mc_err e;

	memset(&cfg, 0, sizeof cfg);
	cfg.http01_webroot = (char *)"";
	mc_chal_set_init(&s, h);
	/* another type than the host's */
	ck_assert_int_eq(mc_chal_add(&env, &s, "dns-01", "mail.example.test", TOKEN, TOKEN "." THUMB, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "configured for another"));
	/* a name the host does not have */
	ck_assert_int_eq(mc_chal_add(&env, &s, "http-01", "evil.example.test", TOKEN, TOKEN "." THUMB, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "does not have"));
	ck_assert_int_eq(mc_chal_add(&env, &s, "http-01", "../etc", TOKEN, TOKEN "." THUMB, &e), -1);
	/* a malformed token or key authorization */
	ck_assert_int_eq(mc_chal_add(&env, &s, "http-01", "mail.example.test", "../../x/abcdefghijkl", "x", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "token"));
	ck_assert_int_eq(mc_chal_add(&env, &s, "http-01", "mail.example.test", TOKEN, "other." THUMB, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "key authorization"));
	/* well-formed (for the wildcard's base too): checked, then refused for want of a responder */
	ck_assert_int_eq(mc_chal_add(&env, &s, "http-01", "wild.example.test", TOKEN, TOKEN "." THUMB, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not running"));
	ck_assert_uint_eq(s.n, 0);
	mc_chal_set_free(&env, &s);
	free(h->names);
	free(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = unit_tcase("core");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, hostile_frames);
	tcase_add_test(tc, big_fields);
	tcase_add_test(tc, challenge_requests_checked);
	tcase_add_test(tc, account_messages);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
