/*
 * test_responder_fds - a responder child holds no descriptor of its parent
 * but its own listening socket(s) and its command pipe (and stdio).
 *
 * A run with both http-01 and tls-alpn-01 hosts used to hang: the second
 * child inherited the first one's command pipe, so closing it never gave
 * the first child end-of-file; both children also held the store's run lock.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http01.h"
#include "tlsalpn.h"
#include "unit.h"


/* inode numbers of the TCP sockets in LISTEN state (/proc/net/tcp{,6}) */
static int is_listening(unsigned long ino)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	size_t i;

	for (i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			char st[8];
			unsigned long inode;
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line, "%*s %*s %*s %7s %*s %*s %*s %*s %*s %lu", st, &inode) == 2 &&
			    strcmp(st, "0A") == 0 && inode == ino) {
				fclose(f);
				return 1;
			}
		}
		fclose(f);
	}
	return 0;
}

struct fdcount {
	int listening, pipes, other;
	char what[1024]; /* the unexpected ones, for the message */
};

/* classify the descriptors of PID above 2; -1 when they cannot be read */
static int count_fds(pid_t pid, struct fdcount *c)
{
	char dir[64], path[384], target[256];
	struct dirent *de;
	DIR *d;

	memset(c, 0, sizeof *c);
	snprintf(dir, sizeof dir, "/proc/%ld/fd", (long)pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		unsigned long ino;
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd <= 2)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) == 1 && is_listening(ino)) {
			c->listening++;
		} else if (strncmp(target, "pipe:", 5) == 0) {
			c->pipes++;
		} else {
			c->other++;
			if (strlen(c->what) + strlen(target) + 8 < sizeof c->what)
				snprintf(c->what + strlen(c->what), sizeof c->what - strlen(c->what),
					 " %d=%s", fd, target);
		}
	}
	closedir(d);
	return 0;
}

/* poll (generous deadline) until PID holds exactly NLISTEN listening sockets and one pipe */
static void expect_only_own(pid_t pid, int nlisten, const char *who)
{
	struct fdcount c;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int i;

	for (i = 0; i < 200; i++) { /* the child closes its "ready" pipe just after saying so */
		ck_assert_msg(count_fds(pid, &c) == 0, "%s: cannot read /proc/%ld/fd", who, (long)pid);
		if (c.listening == nlisten && c.pipes == 1 && c.other == 0)
			return;
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("%s responder holds more than its own descriptors: %d listening socket(s) "
		     "(want %d), %d pipe end(s) (want 1), others:%s",
		     who, c.listening, nlisten, c.pipes, c.other ? c.what : " none");
}

static int start_http01(mc_http01 **h, int naddr)
{
	char a[2][64], *listen[2] = { a[0], a[1] };
	mc_err e;
	int tries, i;

	for (tries = 0; tries < 5; tries++) {
		for (i = 0; i < naddr; i++)
			snprintf(a[i], sizeof a[i], "127.0.0.1:%d", unit_free_port(AF_INET));
		if (mc_http01_start(listen, (size_t)naddr, NULL, NULL, h, &e) == 0)
			return 0;
	}
	ck_abort_msg("http-01 responder: %s", e.msg);
	return -1;
}

static int start_tlsalpn(mc_tlsalpn **t)
{
	char a[64], *listen[1] = { a };
	mc_err e;
	int tries;

	for (tries = 0; tries < 5; tries++) {
		snprintf(a, sizeof a, "127.0.0.1:%d", unit_free_port(AF_INET));
		if (mc_tlsalpn_start(listen, 1, NULL, NULL, t, &e) == 0)
			return 0;
	}
	ck_abort_msg("tls-alpn-01 responder: %s", e.msg);
	return -1;
}

/* both responders of one run, as mc_issue_run starts them, with a lock and a
 * few other descriptors of the parent open (without close-on-exec) */
START_TEST(children_hold_only_their_own)
{
	char *dir = unit_tmpdir(), path[1024];
	int lockfd, sp[2], pp[2], fd;
	mc_http01 *h = NULL;
	mc_tlsalpn *t = NULL;

	signal(SIGPIPE, SIG_IGN);
	snprintf(path, sizeof path, "%s/.run", dir);
	lockfd = open(path, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(lockfd, 0);
	ck_assert_int_eq(flock(lockfd, LOCK_EX), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(pipe(pp), 0);
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);

	start_http01(&h, 2);
	start_tlsalpn(&t);
	expect_only_own(mc_http01_pid(h), 2, "http-01");
	expect_only_own(mc_tlsalpn_pid(t), 1, "tls-alpn-01");

	mc_tlsalpn_stop(t);
	mc_http01_stop(h);
	close(fd);
	close(pp[0]);
	close(pp[1]);
	close(sp[0]);
	close(sp[1]);
	close(lockfd);
	unit_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("responder_fds");
	TCase *tc = unit_tcase("fds");

	tcase_add_test(tc, children_hold_only_their_own);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
