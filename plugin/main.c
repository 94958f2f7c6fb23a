/*
 * mailcert-milter - load the certificate store into Postfix, Dovecot and
 * Sendmail, reload them when it changes, and (with -p) count TLS use per
 * listener as a libmilter filter.
 *
 * The loader (this process, root) owns the store, the generated files and
 * milter.json.  The milter is a separate, unprivileged filter process
 * (milter.c, started and supervised by filterproc.c) that holds no key and
 * reports what it sees over a pipe; the loader counts (counts.c).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "counts.h"
#include "filterproc.h"
#include "loaded.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "record.h"
#include "served.h"
#include "store.h"
#include "timefmt.h"
#include "storewatch.h"

#define QUIET_MS 200        /* a burst of changes ends after this much quiet */
#define BATCH_MAX_MS 1000   /* ...or this long after its first change */
#define SCAN_INOTIFY_S 60   /* safety scan even with inotify */
#define SCAN_POLL_S 2       /* scan interval without inotify */

static void usage(FILE *f)
{
	fprintf(f, "usage: mailcert-milter [-f] [-v] [-c FILE] [-p SOCKET] [--once | --prepare]\n"
		   "  -f, --foreground  stay in the foreground, log to stderr\n"
		   "  -c, --config FILE configuration (default %s)\n"
		   "  -p, --socket SOCK also serve the milter protocol on SOCK\n"
		   "                    (unix:/path or inet:port@host)\n"
		   "      --once        regenerate and reload once, then exit\n"
		   "      --prepare     write what the MTAs read (a self-signed stand-in for\n"
		   "                    the default certificate until there is one), reload\n"
		   "                    nothing, exit: before the MTAs start\n"
		   "  -v, --verbose     debug logging\n"
		   "  -h, --help        this text\n"
		   "      --version     print the version\n",
		mc_config_default_path());
}

static int sigfd_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	/* blocked before any thread starts, so every thread inherits the mask */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void record(const loader *l, int with_milter, time_t started)
{
	json_t *counts = with_milter ? mm_counts(NULL) : NULL;
	mc_err e;

	static time_t metrics_at;
	static unsigned long metrics_reloads;
	static const json_t *metrics_served;

	if (record_write(l, counts, started, &e) < 0)
		mc_error("%s", e.msg);
	json_decref(counts);
	/* the Prometheus file: after a reload or a served check at once, else at most
	 * once a minute (session counts move every second on a busy server) */
	if (l->reloads != metrics_reloads || l->served != metrics_served || mc_now() >= metrics_at + 60) {
		metrics_at = mc_now();
		metrics_reloads = l->reloads;
		metrics_served = l->served;
		if (mc_metrics_write(l->cfg, &e) < 0)
			mc_warn("metrics: %s", e.msg);
	}
}

/* some listener is probed by the served check (Sendmail's when its sendmail.cf is named) */
static int probed(const mc_config *cfg)
{
	return cfg->listen_postfix || cfg->listen_dovecot || cfg->listen_exim ||
	       (cfg->listen_sendmail && cfg->sendmail_config && cfg->sendmail_config[0]);
}

/* a served check (served.h) is owed: start it, or one more after the running
 * one; FRESH: a running one is stopped and started again (SIGUSR1) */
static void check_served(loader *l, ms_proc *sp, int fresh)
{
	const mh_host *def = mh_default(&l->hosts, l->cfg->default_host);
	mc_err e;

	if (!probed(l->cfg))
		return;
	if ((fresh ? ms_proc_restart(sp, l->cfg, &l->hosts, def, &e) :
		     ms_proc_start(sp, l->cfg, &l->hosts, def, &e)) < 0)
		mc_error("%s", e.msg);
}

/*
 * When the next served check is due without a reload (wall clock): an hour
 * after the last one, MS_RECHECK_S after one that found a problem (a listener
 * fixed is seen soon), and as soon as a loaded leaf expires after the last one
 * began (an expired leaf served is a problem, and nothing else would look).
 */
static time_t served_due(const loader *l, const ms_proc *sp)
{
	time_t due = sp->last_start + (l->served_failing ? MS_RECHECK_S : MS_PERIOD_S);
	size_t i;

	for (i = 0; i < l->hosts.n; i++) {
		const mh_host *h = &l->hosts.v[i];
		if (h->file[0] && h->not_after >= sp->last_start && h->not_after + 1 < due)
			due = h->not_after + 1;
	}
	return due;
}

/* SIGUSR1: no wait goes on: a reload's or the default link's backoff, the
 * filter process's restart */
static void hurry(loader *l, mm_proc *proc, int milter)
{
	if (loader_hurry(l))
		mc_info("SIGUSR1: retrying now what waited for its backoff");
	if (milter)
		mm_proc_hurry(proc, (long long)mc_mono_ms());
}

/* the served check ended: keep and log what it found */
static void served_read(loader *l, ms_proc *sp, int milter, time_t started)
{
	json_t *doc = ms_proc_read(sp, &l->hosts);

	if (ms_proc_fd(sp) >= 0)
		return; /* still running */
	if (doc) {
		json_decref(l->served);
		l->served = doc;
		l->served_failing = ms_log(doc, &l->hosts);
		record(l, milter, started);
	}
	if (sp->again)
		check_served(l, sp, 0);
}

static int serve(loader *l, const char *socket, int foreground, int verbose, time_t started)
{
	int sfd, wfd, milter = socket != NULL, stop = 0;
	long long first_change = 0, last_change = 0, next_scan, next_flush;
	unsigned long reloads;
	mm_proc proc;
	ms_proc sp;
	mc_err e;

	sfd = sigfd_open();
	if (sfd < 0)
		mc_fatal("signalfd: %s", strerror(errno));
	wfd = mc_storewatch_open(l->store);
	if (milter && mm_proc_init(&proc, socket, foreground, verbose, &e) < 0) {
		mc_error("%s; going on without the milter", e.msg);
		mm_proc_free(&proc);
		milter = 0;
	}
	if (milter && mm_proc_start(&proc, &e) < 0)
		mc_error("%s; trying again later", e.msg);
	ms_proc_init(&sp);
	loader_batch(l, mc_now());
	record(l, milter, started);
	/* what is served right now, reloaded or not */
	check_served(l, &sp, 0);
	reloads = l->reloads;
	next_scan = (long long)mc_mono_ms() + (wfd >= 0 ? SCAN_INOTIFY_S : SCAN_POLL_S) * 1000LL;
	next_flush = (long long)mc_mono_ms() + 1000;
	while (!stop) {
		struct pollfd pfd[4];
		long long t = (long long)mc_mono_ms(), wake = next_scan;
		time_t retry = loader_next_retry(l);
		int n = 0, timeout, rescan = 0, usr1 = 0, i;

		if (first_change) {
			long long due = last_change + QUIET_MS;
			if (due > first_change + BATCH_MAX_MS)
				due = first_change + BATCH_MAX_MS;
			if (due < wake)
				wake = due;
		}
		if (retry) {
			long long due = t + ((long long)retry - (long long)mc_now()) * 1000;
			if (due < wake)
				wake = due;
		}
		if (milter && next_flush < wake)
			wake = next_flush;
		if (milter && mm_proc_next_start(&proc) && mm_proc_next_start(&proc) < wake)
			wake = mm_proc_next_start(&proc);
		if (sp.pid && sp.started_ms + MS_KILL_MS < wake)
			wake = sp.started_ms + MS_KILL_MS;
		if (!sp.pid && probed(l->cfg)) {
			long long due = t + ((long long)served_due(l, &sp) - (long long)mc_now()) * 1000;
			if (due < wake)
				wake = due;
		}
		timeout = wake > t ? (int)(wake - t) : 0;
		pfd[n].fd = sfd;
		pfd[n++].events = POLLIN;
		if (wfd >= 0) {
			pfd[n].fd = wfd;
			pfd[n++].events = POLLIN;
		}
		if (milter && mm_proc_fd(&proc) >= 0) {
			pfd[n].fd = mm_proc_fd(&proc);
			pfd[n++].events = POLLIN;
		}
		if (ms_proc_fd(&sp) >= 0) {
			pfd[n].fd = ms_proc_fd(&sp);
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			mc_fatal("poll: %s", strerror(errno));
		t = (long long)mc_mono_ms();
		for (i = 0; i < n; i++) {
			/* a pipe whose writer is gone says POLLHUP only */
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (pfd[i].fd == sfd) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
					if (si.ssi_signo == SIGUSR1) {
						/* rescan and retry now, then check what is served */
						rescan = 1;
						usr1 = 1;
					} else {
						mc_info("signal %u: stopping", si.ssi_signo);
						stop = 1;
					}
				}
			} else if (pfd[i].fd == wfd) {
				int r = mc_storewatch_read(wfd);
				if (r != 0) {
					if (!first_change)
						first_change = t;
					last_change = t;
				}
				if (r < 0) {
					/* certs/ itself was replaced: watch the new one */
					mc_storewatch_close(wfd);
					wfd = mc_storewatch_open(l->store);
				}
			} else if (pfd[i].fd == ms_proc_fd(&sp)) {
				served_read(l, &sp, milter, started);
			} else if (!stop) {
				mm_proc_read(&proc);
			}
		}
		if (stop)
			break;
		if (milter)
			mm_proc_tick(&proc, t);
		if (first_change && (t >= last_change + QUIET_MS || t >= first_change + BATCH_MAX_MS))
			rescan = 1;
		if (t >= next_scan) {
			rescan = 1;
			next_scan = t + (wfd >= 0 ? SCAN_INOTIFY_S : SCAN_POLL_S) * 1000LL;
		}
		if (usr1)
			hurry(l, &proc, milter);
		if (rescan) {
			first_change = last_change = 0;
			loader_batch(l, mc_now());
			record(l, milter, started);
		} else if (retry && retry <= mc_now()) {
			loader_apply(l, mc_now());
			record(l, milter, started);
		}
		ms_proc_tick(&sp, t);
		if (usr1 || l->reloads != reloads ||
		    (!sp.pid && probed(l->cfg) && mc_now() >= served_due(l, &sp))) {
			/* after every reload: does each listener serve what was loaded?
			 * A check running since before the reload goes on, and another
			 * follows it (its probes of the replaced sets are left out) */
			reloads = l->reloads;
			check_served(l, &sp, usr1);
		}
		if (milter && t >= next_flush) {
			int changed = 0;
			json_decref(mm_counts(&changed));
			/* mm_counts cleared the flag; write only when something moved */
			if (changed)
				record(l, milter, started);
			next_flush = t + 1000;
		}
	}
	ms_proc_stop(&sp);
	if (milter) {
		mm_proc_stop(&proc);
		mm_proc_free(&proc);
	}
	record(l, socket != NULL, started);
	mm_counts_free();
	mc_storewatch_close(wfd);
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "once", no_argument, NULL, 'O' },
		{ "prepare", no_argument, NULL, 'P' },
		{ "version", no_argument, NULL, 'V' },
		/* internal: the filter process (milter.c), started by filterproc.c */
		{ "filter", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *socket = NULL, *filter = NULL;
	int foreground = 0, once = 0, prepare = 0, verbose = 0, c, rc;
	mc_config *cfg;
	time_t started;
	loader l;
	mc_err e;

	while ((c = getopt_long(argc, argv, "fc:p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = 1; break;
		case 'c': file = optarg; break;
		case 'p': socket = optarg; break;
		case 'v': verbose = 1; break;
		case 'O': once = 1; break;
		case 'P': prepare = 1; break;
		case 'F': filter = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mailcert-milter %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return MC_EX_USAGE;
		}
	}
	if (optind != argc || (once && prepare)) {
		usage(stderr);
		return MC_EX_USAGE;
	}
	mc_log_init("mailcert-milter", foreground || once || prepare, verbose);
	if (filter)
		return mm_filter_main(filter); /* it reads no configuration */
	if (!file)
		file = mc_config_default_path();
	if (mc_config_load(file, &cfg, &e) < 0) {
		fprintf(stderr, "mailcert-milter: %s\n", e.msg);
		return MC_EX_CONFIG;
	}
	/* the store's directories first, with their modes, then a strict umask:
	 * everything else is created with an explicit mode, and postmap derives
	 * the compiled map's mode from the umask */
	if (mc_store_prepare(cfg->store, &e) < 0) {
		fprintf(stderr, "mailcert-milter: %s\n", e.msg);
		mc_config_free(cfg);
		return 1;
	}
	umask(077);
	loader_init(&l, cfg);
	started = mc_now();
	if (prepare) {
		/* before the MTAs: nothing to reload, and milter.json stays the
		 * loader's (it says what was loaded, and nothing was) */
		l.prepare = 1;
		rc = loader_batch(&l, started);
	} else if (once) {
		rc = loader_batch(&l, started);
		record(&l, 0, started);
	} else {
		if (!foreground && daemon(0, 0) < 0) {
			fprintf(stderr, "mailcert-milter: daemon: %s\n", strerror(errno));
			return 1;
		}
		mc_info("starting (store %s)", cfg->store);
		/* a restart reloads only what changed since the last run */
		loader_resume(&l, mc_loaded_read(cfg->store));
		rc = serve(&l, socket, foreground, verbose, started);
	}
	loader_free(&l);
	mc_config_free(cfg);
	return rc < 0 ? 1 : 0;
}
