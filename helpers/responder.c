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
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "responder.h"

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

int mc_responder_spawn(mc_responder *r, const char *what, void (*child)(void *arg, int ctl, int ready),
		       void *arg, void (*wipe)(void *), void *wipe_arg, mc_err *e)
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
		close(ctl[1]);
		close(ready[0]);
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
