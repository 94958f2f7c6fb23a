/*
 * served - proof of what is served: after each reload, connect to every
 * listener mailcert-milter manages and compare the leaf each one serves,
 * by SNI for every name and once without SNI, with the loaded set.  Sendmail,
 * which has no SNI, serves the default host's set to every client: its
 * listeners are probed without SNI and with the default host's names only.
 *
 * A round runs in a child process forked from the loader, so loading never
 * waits for it: the child asks Postfix (`postconf -M`, inet services running
 * smtpd or postscreen), Dovecot (`doveconf`, inet_listener blocks of the
 * login services whose protocol is enabled), Exim (`exim -bP`) and Sendmail (its
 * sendmail.cf, DaemonPortOptions) where they listen, reads the expected leaves, gives up root (privdrop.h), probes with a deadline per
 * connection and per handshake, judges each leaf served (verdict.h: valid now,
 * for the name asked, the loaded set), re-probes what is wrong a few times with
 * backoff (a graceful reload takes a moment), and writes one JSON document
 * on a pipe.  The loader reads that as hostile input: bounded, and every
 * field checked before it reaches milter.json (shape in loaded.h).
 */
#ifndef MCM_SERVED_H
#define MCM_SERVED_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "conf.h"
#include "err.h"
#include "hosts.h"
#include "verdict.h"
#include "xalloc.h"

#define MS_CONNECT_MS 3000     /* per connection */
#define MS_HANDSHAKE_MS 5000   /* STARTTLS dialogue and TLS handshake together */
#define MS_PROBES_MAX 256      /* listeners x (names + 1) per round, at most */
#define MS_ROUND_MS 120000     /* a round stops probing after this long */
#define MS_RETRIES 3           /* re-probes of what is wrong: after 1, 2, 4 s (the grace a
				* listener has to take a reload) */
#define MS_KILL_MS 300000      /* the loader kills a round that runs this long */
#define MS_OUTPUT_MAX (4 * 1024 * 1024)
#define MS_PERIOD_S 3600       /* a round at least this often, even without reloads */
#define MS_RECHECK_S 30        /* ...and this often while the last one found a problem */

/* how a listener is spoken to */
enum { MS_IMPLICIT, MS_SMTP, MS_IMAP, MS_POP3 };


typedef struct ms_listener {
	char label[160];   /* "postfix smtpd 127.0.0.1:25", "dovecot imaps 127.0.0.1:993" */
	char host[256];    /* an IP literal or a checked host name */
	char port[8];      /* decimal */
	int proto;         /* MS_IMPLICIT .. MS_POP3 */
	int default_only;  /* serves the default host's set to every client (Sendmail: no SNI) */
} ms_listener;

/*
 * The listeners in `postconf -M` output MASTER: inet services whose command
 * is smtpd or postscreen; smtpd_tls_wrappermode=yes (-o) means implicit TLS.
 * A service without an address listens on INET_INTERFACES (`postconf -h
 * inet_interfaces`); all or loopback-only is probed on 127.0.0.1.  Appends
 * to *V (*N entries); lines it cannot use are skipped.  Returns how many it added.
 */
size_t ms_parse_postfix(const char *master, const char *inet_interfaces, ms_listener **v,
			size_t *n);

/*
 * The listeners in `doveconf service` output SERVICES: inet_listener blocks
 * with a non-zero port in imap-login, pop3-login and submission-login, when
 * PROTOCOLS (`doveconf -h protocols`) enables that protocol; ssl = yes means
 * implicit TLS; a listener behind haproxy is skipped.  An empty address is
 * LISTEN's (`doveconf -h listen`); * and :: are probed on 127.0.0.1 and ::1.
 */
size_t ms_parse_dovecot(const char *services, const char *protocols, const char *listen,
			ms_listener **v, size_t *n);

/*
 * The listeners in `exim -bP local_interfaces daemon_smtp_ports
 * tls_on_connect_ports` output BP: each interface ([ADDR]:PORT, ADDR.PORT, or
 * ADDR on every port of daemon_smtp_ports; Exim's list syntax, "<;" and all),
 * implicit TLS on the ports of tls_on_connect_ports; 0.0.0.0 and ::0 are
 * probed on 127.0.0.1, each address and port once.
 */
size_t ms_parse_exim(const char *bp, ms_listener **v, size_t *n);

/*
 * The listeners in the text of a sendmail.cf CF: one per "O DaemonPortOptions="
 * line (keys by their first letter, as Sendmail reads them: Addr, Family, Modifiers,
 * Name, Port).  Family inet or inet6 (default inet; local and the rest are
 * skipped); Addr unset, 0.0.0.0 or :: is probed on 127.0.0.1 or ::1; Port a
 * number or a service name (default 25); the modifier s means implicit TLS
 * (SMTPS).  A text without any such line is Sendmail's default daemon,
 * 127.0.0.1:25.  The listeners are marked default_only: Sendmail has no SNI.
 */
size_t ms_parse_sendmail(const char *cf, ms_listener **v, size_t *n);

/* the loader's side of a round */
typedef struct ms_proc {
	pid_t pid;           /* the round's process, 0 when none runs */
	int fd;              /* its pipe, -1 when none */
	mc_buf out;          /* what it wrote so far */
	int overflow;
	long long started_ms;
	int again;           /* asked for while one was running */
	time_t last_start;
	size_t rounds;       /* started so far: where the next one starts in the names */
} ms_proc;

void ms_proc_init(ms_proc *p);
/* start a round for the hosts in T (DEF: the default host); when one is
 * running, one more is due after it */
int ms_proc_start(ms_proc *p, const mc_config *cfg, const mh_table *t, const mh_host *def,
		  mc_err *e);
int ms_proc_fd(const ms_proc *p);
/* read what the pipe holds; when the round ended, its checked result (for
 * loaded.h's "served" object, hosts not in T dropped) is returned, else NULL */
json_t *ms_proc_read(ms_proc *p, const mh_table *t);
/* kill the running round, if any (its result is dropped), and start one:
 * SIGUSR1 wants a fresh answer, not the end of a round's waits */
int ms_proc_restart(ms_proc *p, const mc_config *cfg, const mh_table *t, const mh_host *def,
		    mc_err *e);
/* kill a round that overran MS_KILL_MS */
void ms_proc_tick(ms_proc *p, long long now_ms);
void ms_proc_stop(ms_proc *p);

/* check a round's raw document (exported for the unit tests); NULL when unusable */
json_t *ms_accept(json_t *raw, const mh_table *t);
/* 1 when entry V (of a checked round's "hosts") was judged against the set
 * host H has now: a round that began before a reload compared some listeners
 * with the sets they served before it, and those entries say nothing */
int ms_entry_current(json_t *v, const mh_host *h);
/* log what a checked round found for the sets of T: mismatches as errors;
 * entries judged against a set replaced since (a reload during the round)
 * are left out.  Returns 1 when something was not ok (a re-check is due soon) */
int ms_log(json_t *doc, const mh_table *t);

#endif
