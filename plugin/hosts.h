/*
 * hosts - mailcert-milter's view of the store: for every host, the set the
 * MTAs are given (checked, known good), and why a newer one was refused.
 *
 * A set is examined only when its cert.pem changes (symlink target, inode,
 * size or mtime).  A good set is referenced by its resolved, immutable
 * version path STORE/versions/HOST/GEN/cert.pem, never by the symlink, so a
 * later bad set cannot slip into an MTA through a path that moved under it.
 * When a set is refused while an older one is loaded, the older one is
 * copied to STORE/run/kept/HOST.pem (the store prunes old versions).
 */
#ifndef MCM_HOSTS_H
#define MCM_HOSTS_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

enum { MTA_POSTFIX, MTA_DOVECOT, MTA_SENDMAIL, MTA_EXIM, MTA_N };

extern const char *const mta_names[MTA_N];

typedef struct mh_host {
	char dir[300];          /* store directory name */
	char **names;           /* DNS SANs of the loaded set that are valid host names
				 * (mc_hostname_check), lower case; NULL-terminated */
	size_t nnames;
	char file[PATH_MAX];    /* what generated configs reference; "" = nothing loadable */
	char gen[128];          /* version directory of the loaded set, "" for a kept copy */
	char serial[130];
	time_t not_after;
	unsigned char digest[32]; /* SHA-256 of the loaded cert.pem */
	char sig[PATH_MAX + 96];  /* identity of the last examined cert.pem */
	char *error;            /* why the current store set was refused, or NULL */
	time_t error_time;
	time_t loaded[MTA_N];   /* when this set went live in each MTA (0: not yet) */
	unsigned pending;       /* bit per MTA: set changed, not yet loaded */
} mh_host;

typedef struct mh_table {
	mh_host *v;             /* sorted by dir */
	size_t n;
	int scanned;            /* the first scan is done */
} mh_table;

#define MH_CHANGED_SETS 1  /* served certificates changed: MTAs must reload */
#define MH_CHANGED_PATHS 2 /* only file paths changed: regenerate, no reload needed */

/* rescan STORE/certs; returns a mask of MH_CHANGED_* */
int mh_scan(mh_table *t, const char *store, time_t now);
mh_host *mh_find(mh_table *t, const char *dir);
void mh_free(mh_table *t);

/* one SNI name and the host that serves it */
typedef struct mh_name {
	const char *name;
	const mh_host *host;
} mh_name;

/*
 * Every name of every loadable host, sorted, each once.  A name claimed by
 * several hosts goes to the host whose directory is that name, else to the
 * first host in order.  Free with free().
 */
mh_name *mh_names(const mh_table *t, size_t *count);

/* remove copies in STORE/run/kept that no host refers to any more; only
 * once every MTA has been reloaded without them */
void mh_prune_kept(mh_table *t, const char *store);

/* the default host: DEFAULT_HOST (a host name) when loadable, else the first loadable host */
const mh_host *mh_default(const mh_table *t, const char *default_host);

#endif
