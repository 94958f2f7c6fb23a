/*
 * daemon - `mailcert run`: keep every certificate valid without a person.
 *
 * One event loop (ppoll on a signalfd and an inotify watch of STORE/certs, with
 * the time to the next due host as its timeout; no polling, no sleep loops)
 * schedules the hosts from their state: a host is due when it has no
 * certificate, when its renewal time has come, when its names changed, when
 * its retry time has come after a failure, or when the CA's renewal
 * information is to be asked for again; the loop wakes at the first of those
 * times, and at the time notifications sendmail did not take are tried again
 * (notifyq.h).  A set installed by a command-line run (issue, renew, import,
 * install, self-signed) is seen at once through the watch, and the plan made
 * again.  Each pass is a child process that runs what `mailcert renew` runs (the
 * store, network and key processes of issue.c), so a pass starts from a
 * clean address space and the loop itself holds no key, no CA answer and no
 * network connection. SIGHUP reads the configuration again (a bad one is
 * reported with FILE:LINE and the running one kept); SIGUSR1 looks at the
 * store again at once (what the watch does not see: a failure recorded by a
 * `retry` by hand); SIGTERM and SIGINT stop
 * a pass in flight (its order is resumed or replaced next time: an
 * interrupted pass leaves the previous set in place, see lib/store.c) and
 * exit 0.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "http.h"
#include "issue.h"
#include "log.h"
#include "notifyq.h"
#include "state.h"
#include "store.h"
#include "storepath.h"
#include "storewatch.h"
#include "timefmt.h"
#include "xalloc.h"

/* longest sleep: what the watch does not see (a failure recorded by a
 * command-line run, a kernel without inotify) is seen within this */
#define MAX_SLEEP 3600
/* a burst of changes in the store (a command-line run installing many sets)
 * is planned for at most this often */
#define WATCH_SETTLE_MS 1000
/* shortest time between the starts of two passes (a reload starts one at once) */
#define MIN_PASS_GAP 60
/* a pass at least this often even when no host is due: what needs a person
 * (a set the milter refused, a listener serving the wrong certificate, an
 * expiry coming) is mailed by passes */
#define PASS_EVERY (6 * 3600)
/* a pass asked to stop is killed after this long */
#define STOP_GRACE 30

/* a file as stat saw it */
struct filestamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int valid;
};

/* what a host's state said, kept while its state.json is unchanged */
struct seen {
	struct filestamp f;
	time_t due; /* computed at time 1: a value <= now is due now; 0 never */
	uint64_t serial; /* a hash of its certificate's serial, 0 when none */
	int looked;      /* DUE and SERIAL hold what was found */
};

struct daemon {
	const char *config_file;
	mc_config *cfg;
	struct seen *seen; /* one per configured host, reset with the configuration */
	size_t reread;     /* states read again in this scheduling pass */
	struct filestamp queue_f; /* notify.json, when its queue was last read */
	time_t queue_due;         /* when the queued notifications are tried again; 0: none queued */
	int wfd;                  /* the watch on STORE/certs, or -1 */
	int replan;               /* the store changed: plan again */
	long planned_ms;          /* when the last plan was made (monotonic) */
	int jobs;
	pid_t pass;          /* the running pass, or 0 */
	time_t pass_started; /* when the last pass started */
	time_t pass_end;     /* when the last pass ended */
	int pass_now;        /* start a pass without waiting for the gap */
	long gap;            /* time between passes while a host stays due (doubles) */
	int pass_ended;      /* a pass ended since the last schedule */
	int stopping;        /* the pass was told to stop */
	unsigned long passes;
};

time_t mc_daemon_host_due(const mc_config *cfg, const mc_host *h, const mc_state *st, time_t now)
{
	time_t due;

	if (h->source == MC_SRC_MANUAL)
		return 0; /* nothing to obtain: never due */
	time_t ari;

	due = mc_issue_due_time(cfg, h, st, now);
	if (st->next_retry_time > due && !mc_issue_error_stale(cfg, h, st))
		due = st->next_retry_time;
	/* the CA's renewal information is asked for on its own schedule */
	ari = mc_issue_ari_check_time(cfg, h, st);
	if (ari && ari < due)
		due = ari;
	return due;
}

/* 1 when PATH is the file F saw (F is updated to what PATH is now, or made invalid) */
static int unchanged(struct filestamp *f, const char *path)
{
	struct stat sb;
	int same;

	if (stat(path, &sb) < 0) {
		same = !f->valid;
		memset(f, 0, sizeof *f);
		return same;
	}
	same = f->valid && f->dev == sb.st_dev && f->ino == sb.st_ino && f->size == sb.st_size &&
	       f->mtime.tv_sec == sb.st_mtim.tv_sec && f->mtime.tv_nsec == sb.st_mtim.tv_nsec;
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
	f->size = sb.st_size;
	f->mtime = sb.st_mtim;
	f->valid = 1;
	return same;
}

/* FNV-1a of S, never 0: what tells one certificate from the next in a few bytes a host */
static uint64_t serial_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h ? h : 1;
}

/* a new certificate of host H came into the store (a pass's, or a command-line run's) */
static void log_new_cert(const mc_host *h, const mc_state *st, time_t due)
{
	char exp[MC_TIMEFMT_LEN], when[MC_TIMEFMT_LEN];

	mc_time_format(st->cert_expiration_time, exp);
	if (due > mc_now())
		mc_time_format(due, when);
	else
		snprintf(when, sizeof when, "%s", due ? "now" : "never");
	mc_info("run: %s: certificate %s in the store, valid until %s; next due %s", h->name, st->serial, exp, when);
}

/*
 * When host I is due. Its state is read again only when its state.json has
 * changed (every install and every recorded failure or check replaces it), so
 * a pass over many hosts that nothing happened to costs a stat each.
 */
static time_t host_due(struct daemon *d, size_t i)
{
	const mc_host *h = &d->cfg->hosts[i];
	struct seen *c = &d->seen[i];
	char path[PATH_MAX];
	mc_state st;

	mc_store_path(d->cfg->store, h->dir, "state.json", path, sizeof path);
	if (unchanged(&c->f, path) && c->looked)
		return c->due;
	if (!c->f.valid || mc_store_state_load(d->cfg->store, h->dir, &st, NULL) < 0)
		mc_state_init(&st);
	c->due = mc_daemon_host_due(d->cfg, h, &st, 1);
	if (!st.has_cert)
		st.serial[0] = '\0';
	/* the first look (at start, after a reload) finds nothing new */
	if (c->looked && st.serial[0] && serial_hash(st.serial) != c->serial)
		log_new_cert(h, &st, c->due);
	c->serial = st.serial[0] ? serial_hash(st.serial) : 0;
	c->looked = 1;
	mc_state_free(&st);
	d->reread++;
	return c->due;
}

/*
 * When the notifications sendmail did not take are tried again (0: none are
 * queued, or mail is off); notify.json is read again only when it changed.
 */
static time_t queue_due(struct daemon *d)
{
	char path[PATH_MAX];
	time_t oldest, retry;
	size_t count;

	mc_store_area_path(d->cfg->store, MC_AREA_RUN, MC_STORE_NOTIFY_FILE, path, sizeof path);
	if (unchanged(&d->queue_f, path))
		return d->queue_due;
	mc_notifyq_info_file(path, &count, &oldest, &retry);
	d->queue_due = !count || !d->cfg->notify_sendmail[0] ? 0 : retry ? retry : 1;
	return d->queue_due;
}

/* the earliest time a configured host is due (0: none ever is) */
static time_t next_due(struct daemon *d, const char **which)
{
	time_t first = 0, t;
	size_t i;

	*which = NULL;
	d->reread = 0;
	for (i = 0; i < d->cfg->nhosts; i++) {
		t = host_due(d, i);
		if (t && (!first || t < first)) {
			first = t;
			*which = d->cfg->hosts[i].name;
		}
	}
	t = queue_due(d);
	if (t && (!first || t < first)) {
		first = t;
		*which = "the queued notifications";
	}
	return first;
}

static int block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -1;
	return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void start_pass(struct daemon *d, int sfd, const sigset_t *set)
{
	pid_t pid;

	d->pass_started = mc_now();
	d->pass_now = 0;
	pid = fork();
	if (pid < 0) {
		mc_error("run: cannot start a pass: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/* the pass: what `mailcert renew` does, with the signals back to normal;
		 * it ends with the daemon (a daemon killed and started again must not
		 * find an orphaned pass holding the store's run lock) */
		pid_t parent = getppid();
		int failed;
		mc_err e;

		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(1);
		close(sfd);
		mc_storewatch_close(d->wfd);
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		sigprocmask(SIG_UNBLOCK, set, NULL);
		if (mc_http_global_init(&e) < 0) {
			mc_error("run: %s", e.msg);
			mc_config_free(d->cfg);
			exit(1);
		}
		free(d->seen);
		failed = mc_issue_run(d->cfg, NULL, 0, MC_ISSUE_DUE_ONLY, d->jobs);
		mc_http_global_cleanup();
		mc_config_free(d->cfg);
		exit(failed ? 1 : 0);
	}
	d->pass = pid;
	d->passes++;
	mc_debug("run: pass %lu started (pid %ld)", d->passes, (long)pid);
}

/* collect the pass if it ended; 1 when it did */
static int reap_pass(struct daemon *d, int block)
{
	int status;
	pid_t r;

	if (!d->pass)
		return 0;
	do
		r = waitpid(d->pass, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r != d->pass)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		mc_debug("run: pass %lu done", d->passes);
	else if (WIFEXITED(status))
		mc_info("run: pass %lu done; some hosts failed (mailcert status shows which, and when each is retried)",
			d->passes);
	else if (d->stopping)
		mc_info("run: pass %lu stopped", d->passes);
	else
		mc_error("run: pass %lu ended by signal %d", d->passes, WTERMSIG(status));
	d->pass = 0;
	d->pass_ended = 1;
	d->pass_end = mc_now();
	return 1;
}

static void stop_pass(struct daemon *d)
{
	time_t deadline;

	if (!d->pass)
		return;
	mc_info("run: stopping the pass in flight (pid %ld); what it was ordering is resumed next time",
		(long)d->pass);
	d->stopping = 1;
	kill(d->pass, SIGTERM);
	deadline = time(NULL) + STOP_GRACE;
	while (d->pass && time(NULL) < deadline) {
		if (reap_pass(d, 0))
			break;
		poll(NULL, 0, 100);
	}
	if (d->pass) {
		kill(d->pass, SIGKILL);
		reap_pass(d, 1);
	}
}

static void reload(struct daemon *d)
{
	mc_config *cfg = NULL;
	mc_err e;

	if (mc_config_load(d->config_file, &cfg, &e) < 0) {
		mc_error("run: SIGHUP: %s; still running with the configuration read before", e.msg);
		return;
	}
	mc_config_free(d->cfg);
	d->cfg = cfg;
	/* the store may have moved */
	mc_storewatch_close(d->wfd);
	d->wfd = mc_storewatch_open(cfg->store);
	memset(&d->queue_f, 0, sizeof d->queue_f);
	free(d->seen);
	d->seen = mc_calloc(cfg->nhosts ? cfg->nhosts : 1, sizeof *d->seen);
	d->pass_now = 1;
	mc_info("run: configuration %s read again: %zu host(s)", d->config_file, cfg->nhosts);
}

/*
 * Plan: start a pass when something is due, else set *TS to the time until
 * the next wake (the first due host, no sooner than the gap, no later than
 * MAX_SLEEP).  The gap holds back only what the last pass should have done
 * (a host due when it started and still due: one that cannot be attempted as
 * configured, say), and doubles while that lasts; a host that came due while
 * a pass was running gets the next pass at once.
 */
static void plan(struct daemon *d, int sfd, const sigset_t *set, struct timespec *ts)
{
	struct timespec t0, t1;
	time_t now = mc_now(), due, wake, not_before;
	const char *which = NULL;
	char t[MC_TIMEFMT_LEN];
	int left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	d->replan = 0;
	d->planned_ms = mc_mono_ms();
	due = next_due(d, &which);
	if (!due || d->pass_started + PASS_EVERY < due) {
		due = d->pass_started + PASS_EVERY;
		which = "the periodic pass";
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	mc_debug("run: %zu host(s) scheduled in %.1f ms (%zu state(s) read)", d->cfg->nhosts,
		 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6, d->reread);
	/* many states read and freed: give the memory back while it sleeps */
	if (d->reread > 100)
		malloc_trim(0);
	left = due && due <= now && due <= d->pass_started;
	if (d->pass_ended)
		d->gap = left ? (d->gap * 2 > MAX_SLEEP ? MAX_SLEEP : d->gap * 2) : MIN_PASS_GAP;
	d->pass_ended = 0;
	if (d->pass_now)
		d->gap = MIN_PASS_GAP;
	not_before = left ? d->pass_started + d->gap : 0;
	if (due && due <= now && (d->pass_now || now >= not_before)) {
		start_pass(d, sfd, set);
		return;
	}
	wake = now + MAX_SLEEP;
	if (due && due < wake)
		wake = due;
	if (due && wake < not_before)
		wake = not_before;
	if (wake < now)
		wake = now;
	mc_time_format(due, t);
	mc_debug("run: next: %s at %s%s", which, t, wake > due ? " (held back: the last pass left it due)" : "");
	ts->tv_sec = wake - now;
	ts->tv_nsec = 0;
}

/* what the signals say; 1 when the daemon is to stop */
static int read_signals(struct daemon *d, int sfd)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGHUP:
			reload(d);
			break;
		case SIGTERM:
		case SIGINT:
			stop = 1;
			break;
		case SIGCHLD:
			reap_pass(d, 0);
			break;
		case SIGUSR1:
			/* look at the store again now (what the watch does not see) */
			mc_debug("run: SIGUSR1: scheduling again");
			break;
		}
	}
	return stop;
}

/* the store changed: plan again (once the pass in flight, if any, ends) */
static void read_watch(struct daemon *d)
{
	int r = mc_storewatch_read(d->wfd);

	if (r != 0) {
		mc_debug("run: the store changed: planning again");
		d->replan = 1;
	}
	if (r < 0) {
		/* certs/ itself was replaced: watch the new one */
		mc_storewatch_close(d->wfd);
		d->wfd = mc_storewatch_open(d->cfg->store);
	}
}

static int loop(struct daemon *d)
{
	sigset_t set;
	int sfd = block_signals(&set), stop = 0;

	if (sfd < 0) {
		mc_error("run: signals: %s", strerror(errno));
		return 1;
	}
	d->wfd = mc_storewatch_open(d->cfg->store);
	d->pass_now = 1;
	d->gap = MIN_PASS_GAP;
	while (!stop) {
		struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { d->wfd, POLLIN, 0 } };
		struct timespec ts, *tsp = NULL;
		long since = mc_mono_ms() - d->planned_ms;

		if (!d->pass && d->replan && since >= 0 && since < WATCH_SETTLE_MS) {
			/* a burst of changes: plan once it settles */
			ts.tv_sec = 0;
			ts.tv_nsec = (WATCH_SETTLE_MS - since) * 1000000L;
			tsp = &ts;
		} else if (!d->pass) {
			plan(d, sfd, &set, &ts);
			if (d->pass)
				continue;
			tsp = &ts;
		}
		if (ppoll(pfd, d->wfd >= 0 ? 2 : 1, tsp, NULL) < 0 && errno != EINTR) {
			mc_error("run: ppoll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			stop = read_signals(d, sfd);
		if (d->wfd >= 0 && pfd[1].revents)
			read_watch(d);
		/* a SIGCHLD may stand for several children: reap what ended */
		reap_pass(d, 0);
	}
	stop_pass(d);
	mc_storewatch_close(d->wfd);
	close(sfd);
	mc_info("run: stopped after %lu pass(es)", d->passes);
	return 0;
}

static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	return 0;
}

int mc_daemon_main(const char *config_file, int argc, char **argv, int verbose)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "jobs", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	int c, foreground = 0, rc;
	char *end;
	mc_err e;

	memset(&d, 0, sizeof d);
	d.config_file = config_file;
	d.wfd = -1;
	d.jobs = 10;
	optind = 1;
	while ((c = getopt_long(argc, argv, "fj:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = 1;
			break;
		case 'j':
			d.jobs = (int)strtol(optarg, &end, 10);
			if (*end || d.jobs < 1 || d.jobs > 256) {
				fprintf(stderr, "mailcert: --jobs wants a number from 1 to 256\n");
				return MC_EX_USAGE;
			}
			break;
		default:
			fprintf(stderr, "usage: mailcert [-c FILE] [-v] run [-f] [-j N]\n");
			return MC_EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usage: mailcert [-c FILE] [-v] run [-f] [-j N]\n");
		return MC_EX_USAGE;
	}
	/* a configuration that does not load stops the start, on the terminal */
	if (mc_config_load(config_file, &d.cfg, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return MC_EX_CONFIG;
	}
	if (mc_store_prepare(d.cfg->store, &e) < 0) {
		fprintf(stderr, "mailcert: %s\n", e.msg);
		mc_config_free(d.cfg);
		return 1;
	}
	if (!foreground) {
		mc_log_init("mailcert", 0, verbose);
		if (daemonize() < 0) {
			mc_error("run: cannot become a daemon: %s", strerror(errno));
			mc_config_free(d.cfg);
			return 1;
		}
	}
	mc_info("run: started with %s: %zu host(s)", config_file, d.cfg->nhosts);
	d.seen = mc_calloc(d.cfg->nhosts ? d.cfg->nhosts : 1, sizeof *d.seen);
	rc = loop(&d);
	free(d.seen);
	mc_config_free(d.cfg);
	return rc;
}
