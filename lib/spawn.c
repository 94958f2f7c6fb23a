/*
 * spawn - fork/exec with a pipe for output and a deadline.
 *
 * The deadline governs the whole run, not only the reading: a program that
 * closes its output and then hangs is still ended on time.  The child runs
 * in a process group of its own, so that a time-out ends whatever it started
 * too (SIGTERM, a grace period, then SIGKILL).  The run is over when the
 * child exits: a background process it left holding the pipe is not waited
 * for.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"
#include "timefmt.h"

static void last_line(const mc_buf *b, char *out, size_t outlen)
{
	size_t end, start;

	out[0] = '\0';
	if (!b || !b->len)
		return;
	end = b->len;
	while (end > 0 && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && b->data[start - 1] != '\n')
		start--;
	snprintf(out, outlen, "%.*s", (int)(end - start), b->data + start);
}

extern char **environ;

/* environ plus ENV_ADD, where ENV_ADD's NAME= replaces an inherited one */
static char **build_env(char *const env_add[])
{
	size_t n = 0, k = 0, i, j;
	char **v;

	while (environ[n])
		n++;
	while (env_add && env_add[k])
		k++;
	v = mc_calloc(n + k + 1, sizeof *v);
	for (i = j = 0; i < n; i++) {
		size_t a, len = strcspn(environ[i], "=");
		int replaced = 0;

		for (a = 0; a < k && !replaced; a++)
			replaced = strncmp(env_add[a], environ[i], len) == 0 && env_add[a][len] == '=';
		if (!replaced)
			v[j++] = environ[i];
	}
	for (i = 0; i < k; i++)
		v[j++] = env_add[i];
	v[j] = NULL;
	return v;
}

/* after SIGTERM, how long the program has before SIGKILL */
#define SPAWN_KILL_GRACE_MS 1000
/* how often the child is looked at when no pidfd tells us it exited */
#define SPAWN_POLL_SLICE_MS 50

/* a descriptor that polls readable when PID exits, or -1 (old kernel) */
static int pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	return -1;
#endif
}

/* 1 when the child has exited; it stays a zombie (WNOWAIT), so its pid
 * and process group id cannot be reused while we still signal them */
static int child_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != EINTR;
	return si.si_pid != 0;
}

/* wait for the child to exit, at most until the monotonic time DEADLINE;
 * 1 when it did */
static int child_wait_until(pid_t pid, int pidfd, long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		long left;

		if (child_exited(pid))
			return 1;
		left = deadline - mc_mono_ms();
		if (left <= 0)
			return 0;
		if (pidfd < 0 && left > SPAWN_POLL_SLICE_MS)
			left = SPAWN_POLL_SLICE_MS;
		poll(&p, pidfd >= 0 ? 1 : 0, (int)left);
	}
}

/* end the child and everything in its process group: SIGTERM, then SIGKILL */
static void kill_group(pid_t pid, int pidfd)
{
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	child_wait_until(pid, pidfd, mc_mono_ms() + SPAWN_KILL_GRACE_MS);
	/* the group may outlive its leader: kill what is left before the
	 * leader is reaped and its id freed */
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/* read what the pipe has into OB (bounded); 0 at EOF or on error, else 1 */
static int read_some(int fd, mc_buf *ob)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof chunk);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return 0;
	if (ob->len + (size_t)n <= MC_SPAWN_OUTPUT_MAX)
		mc_buf_append(ob, chunk, (size_t)n);
	return 1;
}

/*
 * Collect the child's output until it exits or DEADLINE passes.  Returns 1
 * when the child exited in time (not yet reaped), 0 at the deadline.
 */
static int collect(pid_t pid, int pidfd, int rfd, long deadline, mc_buf *ob)
{
	for (;;) {
		struct pollfd p[2];
		nfds_t n = 0;
		long left;

		if (child_exited(pid)) {
			/* what it wrote before exiting is in the pipe already */
			while (rfd >= 0) {
				struct pollfd q = { .fd = rfd, .events = POLLIN };
				if (mc_mono_ms() >= deadline || poll(&q, 1, 0) <= 0 ||
				    !read_some(rfd, ob))
					break;
			}
			return 1;
		}
		left = deadline - mc_mono_ms();
		if (left <= 0)
			return 0;
		if (rfd >= 0) {
			p[n].fd = rfd;
			p[n++].events = POLLIN;
		}
		if (pidfd >= 0) {
			p[n].fd = pidfd;
			p[n++].events = POLLIN;
		} else if (left > SPAWN_POLL_SLICE_MS) {
			left = SPAWN_POLL_SLICE_MS;
		}
		if (poll(p, n, (int)left) <= 0)
			continue;
		if (rfd >= 0 && p[0].revents && !read_some(rfd, ob)) {
			/* EOF: the child may still run; from here on only its exit counts */
			rfd = -1;
		}
	}
}

static void format_limit(int timeout_ms, char *out, size_t outlen)
{
	if (timeout_ms % 1000 == 0)
		snprintf(out, outlen, "%d s", timeout_ms / 1000);
	else
		snprintf(out, outlen, "%d ms", timeout_ms);
}

int mc_spawn(char *const argv[], char *const env_add[], int timeout_ms, mc_buf *out, mc_err *e)
{
	return mc_spawn_input(argv, env_add, -1, timeout_ms, out, e);
}

int mc_spawn_input(char *const argv[], char *const env_add[], int in_fd, int timeout_ms, mc_buf *out,
		   mc_err *e)
{
	mc_buf local;
	mc_buf *ob = out ? out : &local;
	int pfd[2], pidfd, status = 0, timed_out;
	long deadline = mc_mono_ms() + timeout_ms;
	char tail[300], limit[32];
	char **envp;
	pid_t pid;

	mc_buf_init(&local);
	/* the environment is built before fork: the child only calls exec-safe functions */
	envp = build_env(env_add);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(envp);
		return mc_err_set(e, "%s: pipe: %s", argv[0], strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		free(envp);
		return mc_err_set(e, "%s: fork: %s", argv[0], strerror(errno));
	}
	if (pid == 0) {
		int devnull = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
		sigset_t none;

		/* a process group of its own, so a time-out reaches all it started */
		setpgid(0, 0);
		if (devnull >= 0 && devnull != STDIN_FILENO)
			dup2(devnull, STDIN_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		/* nothing of ours leaks into the program: no descriptors (CA
		 * connections, locks), no blocked or ignored signals */
		close_range(3, ~0U, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		execvpe(argv[0], argv, envp);
		dprintf(STDERR_FILENO, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	/* also from this side: the group exists before we may signal it */
	setpgid(pid, pid);
	close(pfd[1]);
	free(envp);
	pidfd = pidfd_for(pid);
	timed_out = !collect(pid, pidfd, pfd[0], deadline, ob);
	close(pfd[0]);
	if (timed_out)
		kill_group(pid, pidfd);
	if (pidfd >= 0)
		close(pidfd);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			/* never mistake "could not tell" for success */
			mc_buf_free(&local);
			return mc_err_set(e, "%s: waitpid: %s", argv[0], strerror(errno));
		}
	}
	last_line(ob, tail, sizeof tail);
	mc_buf_free(&local);
	format_limit(timeout_ms, limit, sizeof limit);
	if (timed_out)
		return mc_err_set(e, "%s timed out after %s%s%s", argv[0], limit,
				  tail[0] ? ": " : "", tail);
	if (WIFSIGNALED(status))
		return mc_err_set(e, "%s killed by signal %d%s%s", argv[0], WTERMSIG(status),
				  tail[0] ? ": " : "", tail);
	if (WEXITSTATUS(status) != 0)
		return mc_err_set(e, "%s exited with status %d%s%s", argv[0], WEXITSTATUS(status),
				  tail[0] ? ": " : "", tail);
	return 0;
}
