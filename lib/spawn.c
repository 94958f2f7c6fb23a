/*
 * spawn - fork/exec with a pipe for output and a deadline.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int mc_spawn(char *const argv[], char *const env_add[], int timeout_ms, mc_buf *out, mc_err *e)
{
	mc_buf local;
	mc_buf *ob = out ? out : &local;
	int pfd[2], status = 0, timed_out = 0;
	long deadline = mc_mono_ms() + timeout_ms;
	char tail[300];
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
		int devnull = open("/dev/null", O_RDONLY);
		sigset_t none;

		if (devnull >= 0)
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
		setpgid(0, 0);
		execvpe(argv[0], argv, envp);
		dprintf(STDERR_FILENO, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		long left = deadline - mc_mono_ms();
		char chunk[4096];
		ssize_t n;
		int r;

		if (left <= 0) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		n = read(pfd[0], chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (ob->len + (size_t)n <= MC_SPAWN_OUTPUT_MAX)
			mc_buf_append(ob, chunk, (size_t)n);
	}
	close(pfd[0]);
	free(envp);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			/* never mistake "could not tell" for success */
			mc_buf_free(&local);
			return mc_err_set(e, "%s: waitpid: %s", argv[0], strerror(errno));
		}
	}
	last_line(ob, tail, sizeof tail);
	mc_buf_free(&local);
	if (timed_out)
		return mc_err_set(e, "%s timed out after %d ms%s%s", argv[0], timeout_ms,
				  tail[0] ? ": " : "", tail);
	if (WIFSIGNALED(status))
		return mc_err_set(e, "%s killed by signal %d%s%s", argv[0], WTERMSIG(status),
				  tail[0] ? ": " : "", tail);
	if (WEXITSTATUS(status) != 0)
		return mc_err_set(e, "%s exited with status %d%s%s", argv[0], WEXITSTATUS(status),
				  tail[0] ? ": " : "", tail);
	return 0;
}
