/*
 * privsep - fork, descriptor hygiene, set-up and reaping of the key and
 * network processes.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>

#include "acme.h"
#include "fsutil.h"
#include "ipc.h"
#include "keyproc.h"
#include "netproc.h"
#include "privsep.h"
#include "xalloc.h"

/* in a child: only stderr and KEEP stay open; stdin and stdout become /dev/null */
static void keep_only(const int *keep, size_t nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int *fds = NULL, devnull;
	size_t n = 0, cap = 0, i, k;

	closelog();
	if (!d)
		mc_fatal("child process: /proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd <= STDERR_FILENO || fd == dirfd(d))
			continue;
		for (k = 0; k < nkeep && keep[k] != fd; k++)
			;
		if (k < nkeep)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			fds = mc_realloc(fds, cap * sizeof *fds);
		}
		fds[n++] = fd;
	}
	closedir(d);
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
}

static int pair(int sv[2], mc_err *e)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return mc_err_set(e, "socketpair: %s", strerror(errno));
	return 0;
}

static void close_pair(int sv[2])
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

int mc_privsep_start(mc_config *cfg, size_t nslots, int with_net, mc_privsep *ps, mc_err *e)
{
	int (*sk)[2] = mc_calloc(nslots + 1, sizeof *sk), (*sn)[2] = mc_calloc(nslots + 1, sizeof *sn);
	int (*nk)[2] = mc_calloc(nslots + 1, sizeof *nk), csn[2] = { -1, -1 }, cnk[2] = { -1, -1 };
	int *keep = mc_calloc(3 * nslots + 4, sizeof *keep), *a = mc_calloc(nslots + 1, sizeof *a);
	int *b = mc_calloc(nslots + 2, sizeof *b), rc = -1;
	size_t i, nkeep;

	memset(ps, 0, sizeof *ps);
	ps->nslots = nslots;
	ps->key = mc_calloc(nslots + 1, sizeof *ps->key);
	ps->net = mc_calloc(nslots + 1, sizeof *ps->net);
	ps->net_ctl = -1;
	for (i = 0; i < nslots; i++)
		sk[i][0] = sk[i][1] = sn[i][0] = sn[i][1] = nk[i][0] = nk[i][1] = ps->key[i] = ps->net[i] = -1;
	for (i = 0; i < nslots; i++)
		if (pair(sk[i], e) < 0 || (with_net && (pair(sn[i], e) < 0 || pair(nk[i], e) < 0)))
			goto out;
	if (with_net && (pair(csn, e) < 0 || pair(cnk, e) < 0))
		goto out;

	ps->key_pid = fork();
	if (ps->key_pid < 0) {
		ps->key_pid = 0;
		mc_err_set(e, "fork: %s", strerror(errno));
		goto out;
	}
	if (ps->key_pid == 0) {
		for (nkeep = 0, i = 0; i < nslots; i++) {
			keep[nkeep++] = a[i] = sk[i][1];
			if (with_net)
				keep[nkeep++] = b[i] = nk[i][1];
		}
		keep[nkeep++] = b[nslots] = cnk[1];
		keep_only(keep, nkeep);
		mc_keyproc_main(cfg, a, nslots, b, with_net ? nslots + 1 : 0);
	}
	if (with_net) {
		ps->net_pid = fork();
		if (ps->net_pid < 0) {
			ps->net_pid = 0;
			mc_err_set(e, "fork: %s", strerror(errno));
			goto out;
		}
		if (ps->net_pid == 0) {
			for (nkeep = 0, i = 0; i < nslots; i++) {
				keep[nkeep++] = a[i] = sn[i][1];
				keep[nkeep++] = b[i] = nk[i][0];
			}
			keep[nkeep++] = csn[1];
			keep[nkeep++] = cnk[0];
			keep_only(keep, nkeep);
			mc_netproc_main(cfg, csn[1], cnk[0], a, b, nslots, with_net == MC_PRIVSEP_NET_EXISTING);
		}
	}
	for (i = 0; i < nslots; i++) {
		ps->key[i] = sk[i][0];
		ps->net[i] = sn[i][0];
		sk[i][0] = sn[i][0] = -1;
	}
	ps->net_ctl = csn[0];
	csn[0] = -1;
	rc = 0;
out:
	for (i = 0; i < nslots; i++) {
		close_pair(sk[i]);
		close_pair(sn[i]);
		close_pair(nk[i]);
	}
	close_pair(csn);
	close_pair(cnk);
	free(sk);
	free(sn);
	free(nk);
	free(keep);
	free(a);
	free(b);
	if (rc < 0)
		mc_privsep_stop(ps, NULL, NULL, NULL);
	return rc;
}


static int save_account(const mc_config *cfg, const mc_msg *m, mc_err *e)
{
	char dir[4096], *out;
	json_t *acct;
	int rc;

	if (!mc_ipc_https_url(m->f[0]))
		return mc_err_set(e, "refusing a malformed account URL");
	mc_acme_account_dir(cfg->store, cfg->acme_directory, dir, sizeof dir);
	acct = json_object();
	json_object_set_new(acct, "url", json_string(m->f[0]));
	json_object_set_new(acct, "directory", json_string(cfg->acme_directory));
	json_object_set_new(acct, "contact", json_string(cfg->acme_email));
	out = json_dumps(acct, JSON_INDENT(2));
	json_decref(acct);
	if (!out)
		return mc_err_set(e, "refusing an account URL that is not UTF-8");
	rc = mc_mkdir_p(dir, 0700, e);
	if (rc == 0)
		rc = mc_file_write_atomic(dir, "account.json", out, strlen(out), 0600, (gid_t)-1, e);
	free(out);
	return rc;
}

/* control characters from another process never reach a log line or state.json */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

int mc_privsep_net_ready(mc_privsep *ps, const mc_config *cfg, mc_err *e)
{
	static const int accept[] = { MC_MSG_ACCOUNT, MC_MSG_READY, MC_MSG_NOACME, MC_MSG_NONE };

	for (;;) {
		mc_msg m;
		mc_err se;
		int rc;

		if (mc_ipc_recv(ps->net_ctl, "network", accept, &m, NULL, e) < 0)
			return -2;
		if (m.type == MC_MSG_READY) {
			ps->net_ready = 1;
			mc_msg_free(&m);
			return 0;
		}
		if (m.type == MC_MSG_NOACME) {
			printable(m.f[0]);
			mc_err_set(e, "%s", m.f[0]);
			mc_msg_free(&m);
			return -1;
		}
		rc = save_account(cfg, &m, &se);
		if (rc == 0)
			snprintf(ps->account_url, sizeof ps->account_url, "%s", m.f[0]);
		mc_msg_free(&m);
		if (rc == 0)
			rc = mc_ipc_sendl(ps->net_ctl, "network", e, MC_MSG_OK, NULL);
		else
			rc = mc_ipc_sendl(ps->net_ctl, "network", e, MC_MSG_ERR, se.msg, NULL);
		if (rc < 0)
			return -2;
	}
}

static int reap(pid_t pid, const char *what, mc_err *e)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 0;
	}
	if (WIFSIGNALED(status))
		return mc_err_set(e, "the %s process was killed by signal %d", what, WTERMSIG(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return mc_err_set(e, "the %s process exited with status %d", what, WEXITSTATUS(status));
	return 0;
}

int mc_privsep_stop(mc_privsep *ps, unsigned long *reqs, unsigned long *conns, mc_err *e)
{
	static const int accept[] = { MC_MSG_STATS, MC_MSG_NONE };
	mc_err ignored, *err = e ? e : &ignored;
	size_t i;
	int rc = 0;

	if (reqs)
		*reqs = *conns = 0;
	for (i = 0; i < ps->nslots; i++) {
		if (ps->key[i] >= 0)
			close(ps->key[i]);
		if (ps->net[i] >= 0)
			close(ps->net[i]);
	}
	if (ps->net_ctl >= 0) {
		mc_msg m;
		/* its workers are done once their sockets closed: it reports, then waits for us */
		if (ps->net_ready && mc_ipc_recv(ps->net_ctl, "network", accept, &m, NULL, &ignored) == 0) {
			if (reqs) {
				*reqs = strtoul(m.f[0], NULL, 10);
				*conns = strtoul(m.f[1], NULL, 10);
			}
			mc_msg_free(&m);
		}
		close(ps->net_ctl);
	}
	if (ps->net_pid && reap(ps->net_pid, "network", err) < 0)
		rc = -1;
	if (ps->key_pid && reap(ps->key_pid, "key", rc < 0 ? &ignored : err) < 0)
		rc = -1;
	free(ps->key);
	free(ps->net);
	memset(ps, 0, sizeof *ps);
	ps->net_ctl = -1;
	return rc;
}
