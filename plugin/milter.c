/*
 * milter - per-listener session and TLS counts, never in the way of mail.
 *
 * Every callback returns CONTINUE (or ACCEPT for the message); nothing here
 * can make the MTA reject or delay mail.  State per connection lives in
 * smfi_setpriv; the shared counts sit behind one mutex.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBMILTER
#include <libmilter/mfapi.h>
#endif

#include "fsutil.h"
#include "log.h"
#include "milter.h"
#include "xalloc.h"

#ifdef HAVE_LIBMILTER
/* a name from the MTA is kept to this many bytes (cut at a character) */
#define MM_NAME_MAX 64
/* the counts are bounded whatever names come in: at most this many listeners,
 * and TLS versions and ciphers per listener, by name; the rest as "other" */
#define MM_LISTENERS_MAX 64
#define MM_KEYS_MAX 32
#define MM_OTHER "other"

typedef struct conn {
	char listener[2 * MM_NAME_MAX + 2];  /* "{daemon_name}/{daemon_addr}" */
	int tls_counted;
} conn;

static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *counts;      /* listener -> {sessions, tls_sessions, tls_versions, ciphers} */
static int counts_changed;
static pthread_t milter_thread;
static int milter_running;
static int milter_notify = -1;
static volatile int milter_failed;

/* the length of the well-formed UTF-8 character at P, 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are not) */
static size_t utf8_len(const unsigned char *p)
{
	unsigned long cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1fu;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0fu;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07u;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * NAME as a JSON key: jansson refuses (and frees the value of) a key that
 * is not UTF-8, and any local user can send any bytes as a macro.  Bytes
 * that are not part of a well-formed character, and control characters,
 * become '?'; the copy ends at a character boundary within OUTLEN - 1 bytes.
 */
static void clean_name(const char *name, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t o = 0;

	while (*p) {
		size_t n = utf8_len(p);
		const unsigned char *from = p;

		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			from = (const unsigned char *)"?";
			n = 1;
			p++;
		} else {
			p += n;
		}
		if (o + n >= outlen)
			break;
		memcpy(out + o, from, n);
		o += n;
	}
	out[o] = '\0';
}

/* add one to OBJ[KEY], or to OBJ["other"] when KEY is new and OBJ has
 * MAX keys besides "other" already (MAX 0: no limit); call with counts_lock held */
static void bump(json_t *obj, const char *key, size_t max)
{
	json_t *v;

	if (!obj)
		return;
	v = json_object_get(obj, key);
	if (!v && max && json_object_size(obj) - (json_object_get(obj, MM_OTHER) != NULL) >= max) {
		key = MM_OTHER;
		v = json_object_get(obj, key);
	}
	if (json_is_integer(v))
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(obj, key, json_integer(1));
}

/* the counts of LISTENER, created on first use, NULL when they cannot be;
 * call with counts_lock held */
static json_t *listener_obj(const char *listener)
{
	json_t *l = json_object_get(counts, listener);

	if (l)
		return l;
	if (json_object_size(counts) - (json_object_get(counts, MM_OTHER) != NULL) >=
	    MM_LISTENERS_MAX) {
		listener = MM_OTHER;
		l = json_object_get(counts, listener);
		if (l)
			return l;
	}
	l = json_pack("{s:i, s:i, s:{}, s:{}}", "sessions", 0, "tls_sessions", 0,
		      "tls_versions", "ciphers");
	/* on failure json_object_set_new has freed L already */
	if (!l || json_object_set_new(counts, listener, l) < 0)
		return NULL;
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
	char cname[MM_NAME_MAX + 1], caddr[MM_NAME_MAX + 1];

	if (!c)
		return SMFIS_ACCEPT; /* out of memory: stay out of the way */
	if (!daddr)
		daddr = macro(ctx, "{if_addr}"); /* Sendmail */
	clean_name(name ? name : "unknown", cname, sizeof cname);
	clean_name(daddr ? daddr : "unknown", caddr, sizeof caddr);
	snprintf(c->listener, sizeof c->listener, "%s/%s", cname, caddr);
	smfi_setpriv(ctx, c);
	pthread_mutex_lock(&counts_lock);
	bump(listener_obj(c->listener), "sessions", 0);
	counts_changed = 1;
	pthread_mutex_unlock(&counts_lock);
	return SMFIS_CONTINUE;
}

static sfsistat mm_helo(SMFICTX *ctx, char *helohost)
{
	conn *c = smfi_getpriv(ctx);
	const char *version = macro(ctx, "{tls_version}");
	const char *cipher = macro(ctx, "{cipher}");
	char cversion[MM_NAME_MAX + 1], ccipher[MM_NAME_MAX + 1];
	json_t *l;

	if (!c || c->tls_counted || !version)
		return SMFIS_CONTINUE;
	c->tls_counted = 1;
	clean_name(version, cversion, sizeof cversion);
	if (cipher)
		clean_name(cipher, ccipher, sizeof ccipher);
	pthread_mutex_lock(&counts_lock);
	l = listener_obj(c->listener);
	bump(l, "tls_sessions", 0);
	bump(json_object_get(l, "tls_versions"), cversion, MM_KEYS_MAX);
	if (cipher)
		bump(json_object_get(l, "ciphers"), ccipher, MM_KEYS_MAX);
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
 * The directory of a unix socket, when it does not exist yet: 0750 and the
 * mailcert group.  Only the last component is made; an existing directory
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

int mm_start(const char *socket, int notify_fd, mc_err *e)
{
	const char *path = unix_path(socket);
	gid_t gid = mc_group_gid();
	mode_t old;
	int rc, err;

	pthread_mutex_lock(&counts_lock);
	if (!counts)
		counts = json_object();
	pthread_mutex_unlock(&counts_lock);
	if (smfi_setconn((char *)socket) == MI_FAILURE)
		return mc_err_set(e, "milter: bad socket %s", socket);
	if (smfi_register(desc) == MI_FAILURE)
		return mc_err_set(e, "milter: smfi_register failed");
	if (path)
		socket_dir(path, gid);
	/* a stale unix socket left by a crash is removed.  The socket is
	 * 0660 from bind on (umask), group mailcert when that group exists:
	 * the MTA's user must be in that group.  This runs before any other
	 * thread exists, so the umask change is not seen elsewhere. */
	old = umask(0117);
	errno = 0;
	rc = smfi_opensocket(1);
	err = errno; /* libmilter leaves the failing call's errno */
	umask(old);
	if (rc == MI_FAILURE)
		return mc_err_set(e, "milter: cannot listen on %s: %s", socket,
				  err ? strerror(err) : "unknown reason (see libmilter's syslog message)");
	if (path && ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, 0660) < 0))
		mc_warn("milter: %s: %s", path, strerror(errno));
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
