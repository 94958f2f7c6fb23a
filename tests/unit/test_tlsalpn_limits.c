/*
 * test_tlsalpn_limits - the tls-alpn-01 responder under abuse, with real
 * sockets: many idle connections never make more handshake threads than
 * the cap, a client that drips a byte now and then is cut off after the
 * whole-handshake deadline, and a validator's handshake still succeeds
 * meanwhile.  Every wait polls for a condition under a generous deadline.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsalpn.h"
#include "x509chk.h"
#include "unit.h"

#define NAME "mail.example.test"
#define KEYAUTH "tok3n-Value_1234567890.thumbprint-abcdefghijklmnop"
#define NIDLE 400
#ifndef MC_TLSALPN_MAX_CONNS
#define MC_TLSALPN_MAX_CONNS 64 /* what the fix sets (for a run against older code) */
#endif

static mc_tlsalpn *t;
static int port;


static void setup(void)
{
	char addr[64], *listen[1] = { addr };
	struct rlimit rl;
	mc_err e;
	int tries;

	signal(SIGPIPE, SIG_IGN);
	/* room for NIDLE client sockets in this process */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < NIDLE + 64 && rl.rlim_max >= NIDLE + 64) {
		rl.rlim_cur = NIDLE + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (tries = 0; tries < 5; tries++) {
		port = unit_free_port(AF_INET);
		snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
		if (mc_tlsalpn_start(listen, 1, NULL, NULL, &t, &e) == 0)
			break;
	}
	ck_assert_msg(t != NULL, "%s", e.msg);
	ck_assert_msg(mc_tlsalpn_add(t, NAME, KEYAUTH, &e) == 0, "%s", e.msg);
}

static void teardown(void)
{
	mc_tlsalpn_stop(t);
	t = NULL;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int connect_lo(void)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0, "connect: %s", strerror(errno));
	return fd;
}

/* a validator's handshake: 1 when it got the challenge certificate for NAME */
static int good_handshake(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	static const unsigned char alpn[] = "\x0a" "acme-tls/1";
	X509 *peer = NULL;
	int fd = connect_lo(), ok = 0;

	SSL_set_tlsext_host_name(ssl, NAME);
	SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) == 1) {
		peer = SSL_get1_peer_certificate(ssl);
		ok = peer && mc_cert_covers(peer, NAME) == 1;
		X509_free(peer);
	}
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return ok;
}

static int thread_count(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		char stat[512], *rp;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		/* a thread already joined may linger a moment as a zombie: not a live one */
		snprintf(stat, sizeof stat, "%s/%s/stat", path, de->d_name);
		f = fopen(stat, "r");
		if (!f)
			continue; /* gone meanwhile */
		if (fgets(stat, sizeof stat, f) && (rp = strrchr(stat, ')')) != NULL &&
		    (rp[2] == 'Z' || rp[2] == 'X')) {
			fclose(f);
			continue;
		}
		fclose(f);
		n++;
	}
	closedir(d);
	return n;
}

/* 1 when the server has closed FD (EOF or reset), without blocking */
static int closed_by_server(int fd)
{
	char b[256];
	ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

START_TEST(idle_connections_capped)
{
	pid_t pid = mc_tlsalpn_pid(t);
	int fds[NIDLE], i, most = 0, n;

	for (i = 0; i < NIDLE; i++) {
		fds[i] = connect_lo();
		if (i % 20 == 0 && (n = thread_count(pid)) > most)
			most = n;
	}
	/* let the accept loop catch up with the backlog, watching all the while */
	for (i = 0; i < 40; i++) {
		if ((n = thread_count(pid)) > most)
			most = n;
		nap_ms(25);
	}
	/* the accept loop plus at most one thread per connection under the cap
	 * (+1: a thread just joined can still be seen for an instant while the
	 * kernel tears it down) */
	ck_assert_msg(most <= MC_TLSALPN_MAX_CONNS + 2,
		      "%d idle connections made %d threads (cap %d + the accept loop)", NIDLE, most,
		      MC_TLSALPN_MAX_CONNS);
	/* a validator is still served while the idle connections are held */
	ck_assert_msg(good_handshake(), "a good handshake failed while idle connections were held");
	for (i = 0; i < NIDLE; i++)
		close(fds[i]);
}
END_TEST

START_TEST(slow_drip_cut_off)
{
	/* a TLS record header announcing a 16 KiB handshake message, then a byte at a time */
	static const unsigned char hdr[] = { 0x16, 0x03, 0x01, 0x40, 0x00, 0x01 };
	int fd = connect_lo(), i, cut = 0, served = 0;

	for (i = 0; i < (int)sizeof hdr; i++) {
		ck_assert_int_eq(send(fd, hdr + i, 1, MSG_NOSIGNAL), 1);
		nap_ms(200);
	}
	/* a byte every second for up to 90 s: the responder must give up well before
	 * (its deadline is for the whole handshake, not for each read) */
	for (i = 0; i < 90 && !cut; i++) {
		unsigned char b = 0x00;
		if (i == 2)
			served = good_handshake(); /* meanwhile, a validator is served */
		if (closed_by_server(fd) || send(fd, &b, 1, MSG_NOSIGNAL) != 1) {
			cut = 1;
			break;
		}
		nap_ms(1000);
	}
	close(fd);
	ck_assert_msg(served, "a good handshake failed while a slow client was connected");
	ck_assert_msg(cut, "a client sending a byte a second was never cut off (90 s)");
	/* and the responder still works afterwards */
	ck_assert(good_handshake());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tlsalpn_limits");
	TCase *tc = unit_tcase("limits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, idle_connections_capped);
	tcase_add_test(tc, slow_drip_cut_off);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
