/*
 * responder - sockets and privileges for the challenge responders.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "responder.h"
#include "xalloc.h"

int mc_responder_listen(const char *spec, const char *what, int nonblock, int *out, mc_err *e)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc;

	if (!colon)
		return mc_err_set(e, "%s listen address \"%s\" is not HOST:PORT", what, spec);
	if (spec[0] == '[')
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec - 2), spec + 1);
	else
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] && strcmp(host, "*") != 0 ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0)
		return mc_err_set(e, "%s listen address \"%s\": %s", what, spec, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
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
		return mc_err_set(e, "%s responder cannot listen on %s: %s", what, spec, strerror(errno));
	*out = fd;
	return 0;
}

int mc_responder_drop_privileges(const char *name)
{
	struct passwd *pw;

	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (geteuid() == 0) {
		pw = getpwnam("nobody");
		if (!pw)
			return -1;
		if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			return -1;
		/* make sure it stuck */
		if (setuid(0) == 0)
			return -1;
	}
	prctl(PR_SET_NAME, name); /* what ps and top show, once unprivileged */
	return 0;
}

static int int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/* close every descriptor from LO to HI (inclusive) */
static void close_from_to(int lo, int hi)
{
	DIR *d;
	struct dirent *de;

	if (lo > hi)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned int)lo, (unsigned int)hi, 0) == 0)
		return;
#endif
	/* no close_range: the descriptors that are open, from /proc */
	d = opendir("/proc/self/fd");
	if (!d) {
		int fd, max = (int)sysconf(_SC_OPEN_MAX);
		for (fd = lo; fd <= hi && fd < max; fd++)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd >= lo && fd <= hi && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

/*
 * In the child: only stderr, KEEP and the two pipe ends stay open.  The
 * parent may hold anything at this point (another responder's command pipe,
 * the store's run lock, connections to the CA): a child holding the first
 * responder's pipe would keep it from ever seeing end-of-file.
 */
static void close_inherited(const int *keep, size_t nkeep, int ctl, int ready)
{
	int *k = mc_calloc(nkeep + 3, sizeof *k), lo = 3, devnull;
	size_t i, n = 0;

	closelog(); /* its socket, if any, is among those closed below */
	for (i = 0; i < nkeep; i++)
		k[n++] = keep[i];
	k[n++] = ctl;
	k[n++] = ready;
	qsort(k, n, sizeof *k, int_cmp);
	for (i = 0; i < n; i++) {
		if (k[i] < lo)
			continue;
		close_from_to(lo, k[i] - 1);
		lo = k[i] + 1;
	}
	close_from_to(lo, INT_MAX);
	/* a responder reads no stdin and writes no stdout: do not hold the caller's
	 * (unless a kept descriptor is there: the caller started with them closed) */
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		int fd, kept;
		for (fd = STDIN_FILENO; fd <= STDOUT_FILENO; fd++) {
			for (kept = 0, i = 0; i < n; i++)
				kept |= k[i] == fd;
			if (!kept && fd != devnull)
				dup2(devnull, fd);
		}
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	free(k);
}

int mc_responder_spawn(mc_responder *r, const char *what, void (*child)(void *arg, int ctl, int ready),
		       void *arg, const int *keep, size_t nkeep, void (*wipe)(void *), void *wipe_arg,
		       mc_err *e)
{
	int ctl[2], ready[2], status = 0;
	ssize_t got;
	char byte;

	r->what = what;
	if (pipe2(ctl, O_CLOEXEC) < 0)
		return mc_err_set(e, "%s responder: pipe: %s", what, strerror(errno));
	if (pipe2(ready, O_CLOEXEC) < 0) {
		close(ctl[0]);
		close(ctl[1]);
		return mc_err_set(e, "%s responder: pipe: %s", what, strerror(errno));
	}
	r->pid = fork();
	if (r->pid < 0) {
		close(ctl[0]);
		close(ctl[1]);
		close(ready[0]);
		close(ready[1]);
		return mc_err_set(e, "%s responder: fork: %s", what, strerror(errno));
	}
	if (r->pid == 0) {
		close_inherited(keep, nkeep, ctl[0], ready[1]);
		if (wipe)
			wipe(wipe_arg);
		child(arg, ctl[0], ready[1]);
		_exit(1); /* not reached */
	}
	close(ctl[0]);
	close(ready[1]);
	do
		got = read(ready[0], &byte, 1);
	while (got < 0 && errno == EINTR);
	close(ready[0]);
	r->ctl = ctl[1];
	if (got != 1) {
		close(r->ctl);
		waitpid(r->pid, &status, 0);
		return mc_err_set(e, "the %s responder did not start (status %d)", what,
				  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	return 0;
}

#define SCRUB_MIN 12
#define SCRUB_WINDOW (1024 * 1024)
#define SCRUB_REGION_MAX (1UL << 30) /* larger: sanitizer shadow, never our data */

#define NEXT_PAGE(a) (((a) | 4095UL) + 1)

/* wipe the copies of NEEDLE (LEN) in [LO, HI) through MEM, reading via BUF */
static int scrub_range(int mem, unsigned long lo, unsigned long hi, const unsigned char *needle, size_t len,
		       unsigned char *buf, const unsigned char *zeros)
{
	unsigned long off = lo;
	int wiped = 0;

	while (off < hi && hi - off >= len) {
		size_t want = hi - off < SCRUB_WINDOW ? (size_t)(hi - off) : SCRUB_WINDOW, at = 0;
		ssize_t got = pread(mem, buf, want, (off_t)off);
		unsigned char *m;

		if (got < (ssize_t)len) { /* an unreadable page: skip it */
			off = NEXT_PAGE(off);
			continue;
		}
		while ((m = memmem(buf + at, (size_t)got - at, needle, len)) != NULL) {
			at = (size_t)(m - buf);
			if (pwrite(mem, zeros, len, (off_t)(off + at)) == (ssize_t)len)
				wiped++;
			at += len;
		}
		if ((size_t)got < want) /* stopped at an unreadable page: skip that one */
			off = NEXT_PAGE(off + (size_t)got);
		else if (off + (size_t)got >= hi)
			break;
		else
			off += (size_t)got - (len - 1); /* a copy may straddle two windows */
	}
	return wiped;
}

int mc_responder_scrub(const void *secret, size_t len)
{
	size_t scratch_len;
	unsigned char *scratch, *needle, *zeros, *buf;
	unsigned long s_lo, s_hi;
	char line[512];
	FILE *maps;
	int mem, wiped = 0;

	if (!secret || len < SCRUB_MIN || len > 4096)
		return 0;
	/* the needle and the window live in a mapping of their own, left out of the scan */
	scratch_len = 2 * len + SCRUB_WINDOW;
	scratch = mmap(NULL, scratch_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED)
		return -1;
	needle = scratch;
	zeros = scratch + len;
	buf = scratch + 2 * len;
	memcpy(needle, secret, len);
	s_lo = (unsigned long)scratch;
	s_hi = s_lo + scratch_len;
	mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	maps = mem < 0 ? NULL : fopen("/proc/self/maps", "re");
	if (!maps) {
		if (mem >= 0)
			close(mem);
		OPENSSL_cleanse(scratch, scratch_len);
		munmap(scratch, scratch_len);
		return -1;
	}
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || perms[1] != 'w' ||
		    hi - lo > SCRUB_REGION_MAX || strstr(line, "[vvar") || strstr(line, "[vsyscall]"))
			continue;
		/* around the scratch mapping (the kernel may have merged it with a neighbour) */
		if (lo < s_lo)
			wiped += scrub_range(mem, lo, hi < s_lo ? hi : s_lo, needle, len, buf, zeros);
		if (hi > s_hi)
			wiped += scrub_range(mem, lo > s_hi ? lo : s_hi, hi, needle, len, buf, zeros);
	}
	fclose(maps);
	close(mem);
	OPENSSL_cleanse(scratch, scratch_len);
	munmap(scratch, scratch_len);
	return wiped;
}

void mc_responder_ready(int ready)
{
	if (write(ready, "R", 1) != 1)
		_exit(1);
	close(ready);
}

int mc_responder_send(mc_responder *r, const char *line, mc_err *e)
{
	size_t len = strlen(line);
	ssize_t n;

	if (len >= PIPE_BUF)
		return mc_err_set(e, "%s responder: command too long", r->what);
	/* SIGPIPE is ignored (main): a dead child is an error here, not our end */
	do
		n = write(r->ctl, line, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len)
		return mc_err_set(e, "the %s responder is gone (%s)", r->what,
				  n < 0 ? strerror(errno) : "short write");
	return 0;
}

void mc_responder_stop(mc_responder *r)
{
	int status = 0;

	close(r->ctl);
	while (waitpid(r->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 0;
			break;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		mc_warn("%s responder exited with status %d", r->what, WEXITSTATUS(status));
}
