/*
 * milter - the filter process: per-listener session and TLS reports, never
 * in the way of mail.
 *
 * Every callback returns CONTINUE (or ACCEPT for the message); nothing here
 * can make the MTA reject or delay mail.  State per connection lives in
 * smfi_setpriv.  The callbacks only append report lines to a bounded queue
 * (a full queue loses reports, counted, rather than holding up a session);
 * the main thread writes the queue to the loader.  libmilter runs in a
 * thread of its own, with SIGTERM and SIGINT blocked, so that they reach the
 * main thread, which ends the process at once instead of waiting for
 * libmilter's listener to notice.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBMILTER
#include <libmilter/mfapi.h>
#endif

#include "counts.h"
#include "fsutil.h"
#include "log.h"
#include "privdrop.h"
#include "milter.h"

#ifdef HAVE_LIBMILTER
/* reports waiting for the main thread; about 2000 sessions' worth */
#define MM_QUEUE_MAX (256 * 1024)
#define MM_FILTER_NAME "mailcert-filter" /* what ps shows (15 bytes at most) */

typedef struct conn {
	char listener[MM_LISTENER_MAX + 1]; /* "{daemon_name}/{daemon_addr}" */
	int tls_reported;
} conn;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static char queue[MM_QUEUE_MAX];
static size_t queue_len;
static unsigned long queue_lost;
static int wake_fd[2] = { -1, -1 };       /* callbacks and signals wake the main thread */
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t milter_done; /* 1: smfi_main returned */
static volatile sig_atomic_t milter_rc;

static void wake(void)
{
	char c = 'w';

	/* non-blocking: a full pipe already says "wake up" */
	if (write(wake_fd[1], &c, 1) < 0 && errno != EAGAIN)
		return;
}

/* queue one report line (formatted without its newline); never blocks on the loader */
static void report(const char *fmt, ...) MC_PRINTF(1, 2);
static void report(const char *fmt, ...)
{
	char line[MM_LINE_MAX];
	va_list ap;
	int n, was_empty;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 1)
		return; /* cannot happen with names cut to MM_NAME_MAX */
	line[n++] = '\n';
	pthread_mutex_lock(&queue_lock);
	was_empty = queue_len == 0 && queue_lost == 0;
	if (queue_len + (size_t)n <= sizeof queue) {
		memcpy(queue + queue_len, line, (size_t)n);
		queue_len += (size_t)n;
	} else {
		queue_lost++;
	}
	pthread_mutex_unlock(&queue_lock);
	if (was_empty)
		wake();
}

static const char *macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return v && v[0] ? v : NULL;
}

static sfsistat mm_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
	conn *c = calloc(1, sizeof *c);
	const char *name = macro(ctx, "{daemon_name}");
	const char *daddr = macro(ctx, "{daemon_addr}");
	char cname[MM_NAME_MAX + 1], caddr[MM_NAME_MAX + 1];

	if (!c)
		return SMFIS_ACCEPT; /* out of memory: stay out of the way */
	if (!daddr)
		daddr = macro(ctx, "{if_addr}"); /* Sendmail */
	mm_clean_name(name ? name : "unknown", cname, sizeof cname);
	mm_clean_name(daddr ? daddr : "unknown", caddr, sizeof caddr);
	snprintf(c->listener, sizeof c->listener, "%s/%s", cname, caddr);
	smfi_setpriv(ctx, c);
	report("S\t%s", c->listener);
	return SMFIS_CONTINUE;
}

static sfsistat mm_helo(SMFICTX *ctx, char *helohost)
{
	conn *c = smfi_getpriv(ctx);
	const char *version = macro(ctx, "{tls_version}");
	const char *cipher = macro(ctx, "{cipher}");
	char cversion[MM_NAME_MAX + 1], ccipher[MM_NAME_MAX + 1];

	if (!c || c->tls_reported || !version)
		return SMFIS_CONTINUE;
	c->tls_reported = 1;
	mm_clean_name(version, cversion, sizeof cversion);
	mm_clean_name(cipher ? cipher : "", ccipher, sizeof ccipher);
	report("T\t%s\t%s\t%s", c->listener, cversion, ccipher);
	return SMFIS_CONTINUE;
}

static sfsistat mm_envfrom(SMFICTX *ctx, char **argv)
{
	/* nothing to do with messages: accept this one without seeing the rest */
	return SMFIS_ACCEPT;
}

static sfsistat mm_close(SMFICTX *ctx)
{
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static sfsistat mm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	/* no modifications; skip every stage we do not look at.  Not the
	 * no-reply flags (SMFIP_NR_CONN, SMFIP_NR_HELO): with Postfix 3.7 they
	 * save a round trip, but connect and HELO events of short sessions
	 * then go missing and the counts come out low. */
	unsigned long skip = SMFIP_NORCPT | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY |
			     SMFIP_NOUNKNOWN | SMFIP_NODATA;

	*pf0 = 0;
	*pf1 = f1 & skip;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static char filter_name[] = "mailcert-milter";

static struct smfiDesc desc = {
	.xxfi_name = filter_name,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = mm_connect,
	.xxfi_helo = mm_helo,
	.xxfi_envfrom = mm_envfrom,
	.xxfi_close = mm_close,
	.xxfi_negotiate = mm_negotiate,
};

/* the path of a unix SOCKET ("unix:/p", "local:/p" or "/p"), NULL for inet */
static const char *unix_path(const char *socket)
{
	if (strncmp(socket, "unix:", 5) == 0)
		return socket + 5;
	if (strncmp(socket, "local:", 6) == 0)
		return socket + 6;
	return socket[0] == '/' ? socket : NULL;
}

/*
 * The group that may connect to the socket: Postfix's own group, whose smtpd
 * connects; never group mailcert, which may read the store's keys (joining it
 * just to reach the milter would hand Postfix every key).  No postfix group:
 * root's (Sendmail connects as root).
 */
static gid_t socket_gid(void)
{
	struct group *gr = getgrnam("postfix");

	return gr ? gr->gr_gid : (gid_t)-1;
}

/*
 * The directory of a unix socket, when it does not exist yet: 0750 and the
 * socket's group.  Only the last component is made; an existing directory
 * is the operator's and is left as it is.
 */
static void socket_dir(const char *path, gid_t gid)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path || (size_t)(slash - path) >= sizeof dir)
		return;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (mkdir(dir, 0750) < 0)
		return; /* there already, or smfi_opensocket says why not */
	if ((gid != (gid_t)-1 && chown(dir, (uid_t)-1, gid) < 0) || chmod(dir, 0750) < 0)
		mc_warn("milter: %s: %s", dir, strerror(errno));
}

/* listen on SOCKET (as root: the socket's directory may be root's) */
static int open_socket(const char *socket, gid_t gid, mc_err *e)
{
	const char *path = unix_path(socket);
	gid_t old_gid;
	mode_t old;
	int rc, err;

	if (smfi_setconn((char *)socket) == MI_FAILURE)
		return mc_err_set(e, "milter: bad socket %s", socket);
	if (smfi_register(desc) == MI_FAILURE)
		return mc_err_set(e, "milter: smfi_register failed");
	if (path)
		socket_dir(path, gid);
	/* a stale unix socket left by a crash is removed.  The socket is
	 * 0660 from bind on (umask), and group postfix from bind on when that
	 * group exists (bind gives it our effective group): smtpd never meets
	 * it with root's group, not even for a moment. */
	old = umask(0117);
	old_gid = getegid();
	if (path && gid != (gid_t)-1 && setegid(gid) < 0)
		mc_warn("milter: setegid %ld: %s", (long)gid, strerror(errno));
	errno = 0;
	rc = smfi_opensocket(1);
	err = errno; /* libmilter leaves the failing call's errno */
	if (getegid() != old_gid && setegid(old_gid) < 0)
		return mc_err_set(e, "milter: setegid %ld: %s", (long)old_gid, strerror(errno));
	umask(old);
	if (rc == MI_FAILURE)
		return mc_err_set(e, "milter: cannot listen on %s: %s", socket,
				  err ? strerror(err) : "unknown reason (see libmilter's syslog message)");
	if (path && ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, 0660) < 0))
		mc_warn("milter: %s: %s", path, strerror(errno));
	return 0;
}

/*
 * Become who lib/privdrop.c says ("mailcert" or "nobody", never a group that
 * reads keys, no supplementary groups).  Not root: stay who we are.
 */
static int drop_privileges(mc_err *e)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0) {
		mc_debug("milter: not root: the filter runs as uid %ld", (long)geteuid());
		return 0;
	}
	if (mc_priv_identity(&uid, &gid, e) < 0 || mc_priv_become(uid, gid, e) < 0)
		return mc_err_prefix(e, "milter: the filter process");
	return 0;
}

static void on_signal(int sig)
{
	int saved = errno;

	stop_signal = sig;
	wake();
	errno = saved;
}

static void *run_milter(void *arg)
{
	milter_rc = smfi_main() == MI_SUCCESS ? 0 : 1;
	milter_done = 1;
	wake();
	return NULL;
}

/* write all of BUF to the loader; -1 when it is gone */
static int write_all(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(MM_REPORT_FD, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* hand the queued reports to the loader */
static int flush(void)
{
	static char out[MM_QUEUE_MAX + 64];
	size_t len;
	unsigned long lost;

	pthread_mutex_lock(&queue_lock);
	len = queue_len;
	memcpy(out, queue, len);
	lost = queue_lost;
	queue_len = 0;
	queue_lost = 0;
	pthread_mutex_unlock(&queue_lock);
	if (lost)
		len += (size_t)snprintf(out + len, sizeof out - len, "L\t%lu\n", lost);
	return write_all(out, len);
}

/* the set-up that needs root, then the privileges go */
static int filter_start(const char *socket, pid_t parent, mc_err *e)
{
	struct stat st;

	/* nothing but the report pipe beyond 0-2 (the loader closed the rest too) */
	close_range(MM_REPORT_FD + 1, ~0U, 0);
	if (fstat(MM_REPORT_FD, &st) < 0 || !S_ISFIFO(st.st_mode))
		return mc_err_set(e, "milter: descriptor %d is not the loader's pipe", MM_REPORT_FD);
	if (open_socket(socket, socket_gid(), e) < 0)
		return -1;
	/* after the socket: a relative path is the loader's */
	if (chdir("/") < 0)
		return mc_err_set(e, "milter: chdir /: %s", strerror(errno));
	if (drop_privileges(e) < 0)
		return -1;
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	/* set after the credentials changed (that clears it); the loader may
	 * have died already */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return mc_err_set(e, "milter: the loader is gone");
	prctl(PR_SET_NAME, MM_FILTER_NAME);
	if (pipe2(wake_fd, O_CLOEXEC | O_NONBLOCK) < 0)
		return mc_err_set(e, "milter: pipe: %s", strerror(errno));
	return 0;
}

int mm_filter_main(const char *socket)
{
	struct sigaction sa;
	sigset_t stopset;
	pthread_t tid;
	pid_t parent = getppid();
	mc_err e;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN); /* the loader decides when the filter stops */
	if (filter_start(socket, parent, &e) < 0) {
		mc_error("%s", e.msg);
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: poll and write return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* libmilter's threads (and its own signal thread) start with these
	 * blocked: only this thread takes them */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stopset, NULL);
	if (write_all("R\n", 2) < 0 || pthread_create(&tid, NULL, run_milter, NULL) != 0) {
		mc_error("milter: cannot start");
		return 2;
	}
	pthread_sigmask(SIG_UNBLOCK, &stopset, NULL);
	mc_debug("milter: filter process %ld serving %s as uid %ld", (long)getpid(), socket,
		 (long)geteuid());
	for (;;) {
		struct pollfd pfd[2] = { { wake_fd[0], POLLIN, 0 }, { MM_REPORT_FD, 0, 0 } };
		char buf[64];

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		while (read(wake_fd[0], buf, sizeof buf) > 0)
			;
		if (flush() < 0 || (pfd[1].revents & (POLLERR | POLLHUP)))
			_exit(0); /* the loader is gone: nobody to count for */
		if (stop_signal) {
			mc_debug("milter: filter process stopping on signal %d", (int)stop_signal);
			_exit(0);
		}
		if (milter_done) {
			if (milter_rc)
				mc_error("milter: smfi_main failed");
			_exit(milter_rc);
		}
	}
	_exit(1);
}

#else /* built --without-milter */
int mm_filter_main(const char *socket)
{
	mc_error("milter: built without libmilter");
	return 2;
}
#endif
