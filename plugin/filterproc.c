/*
 * filterproc - start, watch, restart and stop the filter process.
 *
 * Its reports are read as hostile: a line is at most MM_LINE_MAX bytes (a
 * longer one is dropped whole), a line of an unknown type or with the wrong
 * number of fields is ignored, and the names in it are cleaned and bounded
 * again by counts.c.  At most MM_READ_MAX bytes are read per turn of the
 * main loop, so a flood cannot hold up certificate loading.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "filterproc.h"
#include "fsutil.h"
#include "log.h"
#include "milter.h"
#include "timefmt.h"
#include "xalloc.h"

#define MM_READ_MAX (256 * 1024)

int mm_proc_init(mm_proc *p, const char *socket, int foreground, int verbose, mc_err *e)
{
	ssize_t n;

	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->socket = mc_strdup(socket);
	p->foreground = foreground;
	p->verbose = verbose;
#ifndef HAVE_LIBMILTER
	return mc_err_set(e, "milter: built without libmilter");
#endif
#ifdef MAILCERT_TEST_HOOKS
	/* tests play a hostile filter process with a program of their own */
	if (getenv("MAILCERT_TEST_FILTER") && getenv("MAILCERT_TEST_FILTER")[0]) {
		mc_pathf(p->exe, sizeof p->exe, "%s", getenv("MAILCERT_TEST_FILTER"));
		return 0;
	}
#endif
	/* resolved now: exec'ing /proc/self/exe itself would run whatever a
	 * debugger or valgrind put there */
	n = readlink("/proc/self/exe", p->exe, sizeof p->exe - 1);
	if (n <= 0 || (size_t)n >= sizeof p->exe - 1)
		return mc_err_set(e, "milter: cannot find this program (/proc/self/exe): %s",
				  n < 0 ? strerror(errno) : "name too long");
	p->exe[n] = '\0';
	return 0;
}

void mm_proc_free(mm_proc *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	free(p->socket);
	p->socket = NULL;
}

/* the path of a unix socket ("unix:/p", "local:/p" or "/p"), NULL for inet */
static const char *unix_path(const char *socket)
{
	if (strncmp(socket, "unix:", 5) == 0)
		return socket + 5;
	if (strncmp(socket, "local:", 6) == 0)
		return socket + 6;
	return socket[0] == '/' ? socket : NULL;
}

/* in the child, between fork and exec: only async-signal-safe calls */
static void exec_filter(const mm_proc *p, int wfd)
{
	char *argv[6];
	sigset_t none;
	int i = 0, null;

	argv[i++] = (char *)"mailcert-milter";
	argv[i++] = (char *)"--filter";
	argv[i++] = p->socket;
	if (p->foreground)
		argv[i++] = (char *)"-f";
	if (p->verbose)
		argv[i++] = (char *)"-v";
	argv[i] = NULL;
	if (wfd == MM_REPORT_FD) {
		if (fcntl(wfd, F_SETFD, 0) < 0)
			_exit(127);
	} else if (dup2(wfd, MM_REPORT_FD) < 0) {
		_exit(127);
	}
	null = open("/dev/null", O_RDONLY);
	if (null >= 0 && null != STDIN_FILENO) {
		dup2(null, STDIN_FILENO);
		if (null != MM_REPORT_FD)
			close(null);
	}
	/* the store, inotify, signalfd, a lock: none of it goes along */
	close_range(MM_REPORT_FD + 1, ~0U, 0);
	/* the loader blocks its signals for signalfd; exec would keep that */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(p->exe, argv);
	_exit(127);
}

static long long backoff_ms(int failures)
{
	long long s = MM_RESTART_MIN_S;
	int k;

	for (k = 1; k < failures && s < MM_RESTART_MAX_S; k++)
		s *= 2;
	return (s > MM_RESTART_MAX_S ? MM_RESTART_MAX_S : s) * 1000;
}

static void schedule(mm_proc *p)
{
	long long now = (long long)mc_mono_ms();

	/* a filter that served a good while has not been failing */
	if (p->ready && now - p->ready_ms >= 1000LL * MM_RESTART_MAX_S)
		p->failures = 0;
	p->failures++;
	p->next_start_ms = now + backoff_ms(p->failures);
}

int mm_proc_start(mm_proc *p, mc_err *e)
{
	int pfd[2];
	pid_t pid;

	p->next_start_ms = 0;
	p->ready = 0;
	p->len = 0;
	p->skipping = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		schedule(p);
		return mc_err_set(e, "milter: pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		int err = errno;
		close(pfd[0]);
		close(pfd[1]);
		schedule(p);
		return mc_err_set(e, "milter: fork: %s", strerror(err));
	}
	if (pid == 0)
		exec_filter(p, pfd[1]);
	close(pfd[1]);
	if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0)
		mc_warn("milter: report pipe: %s", strerror(errno));
	p->pid = pid;
	p->fd = pfd[0];
	mc_debug("milter: started the filter process %ld", (long)pid);
	return 0;
}

int mm_proc_fd(const mm_proc *p)
{
	return p->fd;
}

long long mm_proc_next_start(const mm_proc *p)
{
	return p->pid == 0 ? p->next_start_ms : 0;
}

void mm_proc_hurry(mm_proc *p, long long now_ms)
{
	if (p->pid == 0 && p->next_start_ms > now_ms)
		p->next_start_ms = now_ms;
}

void mm_proc_tick(mm_proc *p, long long now_ms)
{
	mc_err e;

	if (p->stopping || p->pid != 0 || !p->next_start_ms || now_ms < p->next_start_ms)
		return;
	if (mm_proc_start(p, &e) < 0)
		mc_error("%s", e.msg);
}

/* the filter said it is ready: remember which socket is ours */
static void on_ready(mm_proc *p)
{
	const char *path = unix_path(p->socket);
	struct stat st;

	if (p->ready)
		return;
	p->ready = 1;
	p->ready_ms = (long long)mc_mono_ms();
	if (path && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		p->have_sock = 1;
		p->sock_dev = st.st_dev;
		p->sock_ino = st.st_ino;
	}
	mc_info("milter: listening on %s (filter process %ld)", p->socket, (long)p->pid);
}

/* one report line, without its newline (NUL-terminated at LEN) */
static void report_line(mm_proc *p, char *line, size_t len)
{
	char *f[5];
	size_t nf = 0;
	char *s = line, *tab;

	for (;;) {
		if (nf == sizeof f / sizeof f[0])
			return; /* too many fields */
		f[nf++] = s;
		tab = memchr(s, '\t', (size_t)(line + len - s));
		if (!tab)
			break;
		*tab = '\0';
		s = tab + 1;
	}
	if (strlen(f[0]) != 1) {
		mc_debug("milter: ignored a report of unknown type");
		return;
	}
	switch (f[0][0]) {
	case 'R':
		if (nf == 1)
			on_ready(p);
		return;
	case 'S':
		if (nf == 2)
			mm_counts_session(f[1]);
		return;
	case 'T':
		if (nf == 4)
			mm_counts_tls(f[1], f[2], f[3]);
		return;
	case 'L':
		if (nf == 2 && strspn(f[1], "0123456789") == strlen(f[1]) && strlen(f[1]) < 10)
			mc_warn("milter: %s session reports were lost (the loader was busy)", f[1]);
		return;
	default:
		mc_debug("milter: ignored a report of unknown type");
	}
}

static void report_bytes(mm_proc *p, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (!p->skipping) {
				p->line[p->len] = '\0';
				report_line(p, p->line, p->len);
			}
			p->len = 0;
			p->skipping = 0;
		} else if (p->skipping) {
			continue;
		} else if (p->len + 1 >= sizeof p->line) {
			mc_debug("milter: ignored an over-long report");
			p->skipping = 1;
		} else {
			p->line[p->len++] = buf[i];
		}
	}
}

/* the pipe ended: reap the process and say how it ended */
static void ended(mm_proc *p)
{
	int status = 0, gone, held = 0, i;
	pid_t pid = p->pid;

	close(p->fd);
	p->fd = -1;
	p->pid = 0;
	if (pid <= 1)
		return;
	/* a process killed outright closes its pipe a moment before it can be
	 * reaped: give it up to 1 s to be gone before calling it a runaway */
	for (i = 0; (gone = waitpid(pid, &status, WNOHANG)) == 0 && i < 100; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (gone == 0) {
		/* it closed its pipe but runs on: it is of no use */
		held = !p->stopping;
		kill(pid, SIGKILL);
		gone = waitpid(pid, &status, 0);
	}
	if (gone < 0) {
		mc_error("milter: filter process %ld: waitpid: %s", (long)pid, strerror(errno));
		status = 0;
	}
	if (p->stopping) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			mc_debug("milter: filter process %ld stopped", (long)pid);
		else
			mc_warn("milter: filter process %ld ended with status 0x%x", (long)pid, status);
		return;
	}
	schedule(p);
	if (held)
		mc_error("milter: filter process %ld closed its report pipe but ran on: killed; "
			 "restarting it in %lld s",
			 (long)pid, backoff_ms(p->failures) / 1000);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		/* SIGTERM or SIGINT reached it alone (systemd's control-group kill
		 * reaches both, the loader's signal maybe a moment later) */
		mc_info("milter: filter process %ld stopped; restarting it in %lld s", (long)pid,
			backoff_ms(p->failures) / 1000);
	else if (WIFSIGNALED(status))
		mc_error("milter: filter process %ld killed by signal %d; restarting it in %lld s",
			 (long)pid, WTERMSIG(status), backoff_ms(p->failures) / 1000);
	else
		mc_error("milter: filter process %ld exited with status %d%s; restarting it in %lld s",
			 (long)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			 p->ready ? "" : " before it could serve", backoff_ms(p->failures) / 1000);
}

void mm_proc_read(mm_proc *p)
{
	char buf[16384];
	size_t total = 0;

	while (p->fd >= 0 && total < MM_READ_MAX) {
		ssize_t n = read(p->fd, buf, sizeof buf);
		if (n > 0) {
			report_bytes(p, buf, (size_t)n);
			total += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return;
		} else {
			ended(p);
		}
	}
}

/* remove the socket when it is still the one our filter made */
static void remove_socket(mm_proc *p)
{
	const char *path = unix_path(p->socket);
	struct stat st;

	if (!path || !p->have_sock)
		return;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == p->sock_dev &&
	    st.st_ino == p->sock_ino) {
		if (unlink(path) < 0)
			mc_warn("milter: cannot remove %s: %s", path, strerror(errno));
	} else {
		mc_debug("milter: %s is no longer ours: left alone", path);
	}
	p->have_sock = 0;
}

void mm_proc_stop(mm_proc *p)
{
	long long deadline = (long long)mc_mono_ms() + MM_STOP_WAIT_MS;

	/* a "ready" already sent says which socket is ours */
	if (p->fd >= 0)
		mm_proc_read(p);
	p->stopping = 1;
	if (p->pid > 1) {
		kill(p->pid, SIGTERM);
		/* its last reports, until it closes the pipe by exiting */
		while (p->fd >= 0) {
			struct pollfd pfd = { p->fd, POLLIN, 0 };
			long long left = deadline - (long long)mc_mono_ms();
			if (left <= 0) {
				mc_warn("milter: filter process %ld still running %d ms after SIGTERM",
					(long)p->pid, MM_STOP_WAIT_MS);
				kill(p->pid, SIGKILL);
				ended(p);
				break;
			}
			if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
				break;
			mm_proc_read(p);
		}
		if (p->fd >= 0)
			ended(p);
	}
	remove_socket(p);
}
