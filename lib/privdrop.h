/*
 * privdrop - who an unprivileged helper process becomes, and becoming it.
 *
 * One policy for every process that gives up root (mailcert's network
 * process, mailcert-milter's filter): user "mailcert" when it exists, else
 * "nobody"; never uid 0, never group 0 nor the group that may read the
 * store's keys (then "nogroup"); no supplementary groups.
 */
#ifndef MC_PRIVDROP_H
#define MC_PRIVDROP_H

#include <sys/types.h>

#include "err.h"

/* the uid and gid to become, by the policy above */
int mc_priv_identity(uid_t *uid, gid_t *gid, mc_err *e);
/* become UID:GID with no supplementary groups, and make sure root cannot come back */
int mc_priv_become(uid_t uid, gid_t gid, mc_err *e);

#endif
