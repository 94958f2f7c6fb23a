/*
 * milter - per-listener session and TLS counts, never in the way of mail.
 *
 * Every callback returns CONTINUE (or ACCEPT for the message); nothing here
 * can make the MTA reject or delay mail.  State per connection lives in
 * smfi_setpriv; the shared counts sit behind one mutex.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBMILTER
#include <libmilter/mfapi.h>
#endif

#include "log.h"
#include "milter.h"
#include "xalloc.h"

#ifdef HAVE_LIBMILTER
typedef struct conn {
	char listener[256];
	int tls_counted;
} conn;

static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *counts;      /* listener -> {sessions, tls_sessions, tls_versions, ciphers} */
static int counts_changed;
static pthread_t milter_thread;
static int milter_running;
static int milter_notify = -1;
static volatile int milter_failed;

static void bump(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	json_object_set_new(obj, key, json_integer(json_is_integer(v) ? json_integer_value(v) + 1 : 1));
}

/* the counts of LISTENER, created on first use; call with counts_lock held */
static json_t *listener_obj(const char *listener)
{
	json_t *l = json_object_get(counts, listener);

	if (!l) {
		l = json_pack("{s:i, s:i, s:{}, s:{}}", "sessions", 0, "tls_sessions", 0,
			      "tls_versions", "ciphers");
		json_object_set_new(counts, listener, l);
	}
	return l;
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

	if (!c)
		return SMFIS_ACCEPT; /* out of memory: stay out of the way */
	if (!daddr)
		daddr = macro(ctx, "{if_addr}"); /* Sendmail */
	snprintf(c->listener, sizeof c->listener, "%s/%s", name ? name : "unknown",
		 daddr ? daddr : "unknown");
	smfi_setpriv(ctx, c);
	pthread_mutex_lock(&counts_lock);
	bump(listener_obj(c->listener), "sessions");
	counts_changed = 1;
	pthread_mutex_unlock(&counts_lock);
	return SMFIS_CONTINUE;
}

static sfsistat mm_helo(SMFICTX *ctx, char *helohost)
{
	conn *c = smfi_getpriv(ctx);
	const char *version = macro(ctx, "{tls_version}");
	const char *cipher = macro(ctx, "{cipher}");
	json_t *l;

	if (!c || c->tls_counted || !version)
		return SMFIS_CONTINUE;
	c->tls_counted = 1;
	pthread_mutex_lock(&counts_lock);
	l = listener_obj(c->listener);
	bump(l, "tls_sessions");
	bump(json_object_get(l, "tls_versions"), version);
	if (cipher)
		bump(json_object_get(l, "ciphers"), cipher);
	counts_changed = 1;
	pthread_mutex_unlock(&counts_lock);
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

static void *run(void *arg)
{
	char c = 'x';

	if (smfi_main() != MI_SUCCESS) {
		mc_error("milter: smfi_main failed");
		milter_failed = 1;
	} else
		mc_info("milter stopped");
	if (milter_notify >= 0 && write(milter_notify, &c, 1) < 0)
		mc_debug("milter: cannot notify the main loop");
	return NULL;
}

int mm_start(const char *socket, int notify_fd, mc_err *e)
{
	mode_t old;
	int rc;

	pthread_mutex_lock(&counts_lock);
	if (!counts)
		counts = json_object();
	pthread_mutex_unlock(&counts_lock);
	if (smfi_setconn((char *)socket) == MI_FAILURE)
		return mc_err_set(e, "milter: bad socket %s", socket);
	if (smfi_register(desc) == MI_FAILURE)
		return mc_err_set(e, "milter: smfi_register failed");
	/* a stale unix socket left by a crash is removed.  The MTA (user
	 * postfix) must be able to connect: the socket itself is open to all,
	 * and the directory it is in decides who reaches it.  This runs before
	 * any other thread exists, so the umask change is not seen elsewhere. */
	old = umask(0);
	rc = smfi_opensocket(1);
	umask(old);
	if (rc == MI_FAILURE)
		return mc_err_set(e, "milter: cannot listen on %s", socket);
	milter_notify = notify_fd;
	if (pthread_create(&milter_thread, NULL, run, NULL) != 0)
		return mc_err_set(e, "milter: cannot start its thread");
	milter_running = 1;
	return 0;
}

int mm_failed(void)
{
	return milter_failed;
}

void mm_stop(void)
{
	if (!milter_running)
		return;
	smfi_stop();
	pthread_join(milter_thread, NULL);
	milter_running = 0;
}

#else /* built --without-milter */
static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *counts;
static int counts_changed;

int mm_start(const char *socket, int notify_fd, mc_err *e)
{
	return mc_err_set(e, "milter: built without libmilter");
}

void mm_stop(void)
{
}

int mm_failed(void)
{
	return 1;
}
#endif

json_t *mm_counts(int *changed)
{
	json_t *copy;

	pthread_mutex_lock(&counts_lock);
	copy = counts ? json_deep_copy(counts) : json_object();
	if (changed)
		*changed = counts_changed;
	counts_changed = 0;
	pthread_mutex_unlock(&counts_lock);
	return copy;
}
