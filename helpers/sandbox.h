/*
 * sandbox - what mailcert's network and key processes give up right after
 * they start: root (the network process becomes the "mailcert" user, or
 * "nobody"), the right to gain privileges again, core dumps and ptrace
 * attachment, the filesystem beyond what they read (Landlock, where the
 * kernel has it), and system calls they never make (seccomp, when built with
 * libseccomp).
 */
#ifndef MC_SANDBOX_H
#define MC_SANDBOX_H

#include <sys/types.h>

#include "err.h"

/* which process a seccomp filter is for */
#define MC_SANDBOX_NET 1 /* may make Internet sockets */
#define MC_SANDBOX_KEY 2 /* AF_UNIX sockets only */

/*
 * The unprivileged identity: user "mailcert" if it exists, else "nobody";
 * its group, unless that is the group the store's keys belong to
 * ("mailcert"), in which case "nogroup".
 */
int mc_sandbox_identity(uid_t *uid, gid_t *gid, mc_err *e);
/* chdir to /, drop every group and become UID/GID for good; then harden */
int mc_sandbox_drop(uid_t uid, gid_t gid, const char *name, mc_err *e);
/* not dumpable, no new privileges, NAME for ps (for a process that stays root) */
void mc_sandbox_harden(const char *name);
/* give up every capability, for good (a process that stays uid 0 for its files' sake) */
int mc_sandbox_drop_caps(mc_err *e);
/*
 * Landlock: from now on files can be read only below READ (NULL-terminated)
 * and written only below WRITE (may be NULL).  0 when applied, 1 when the
 * kernel has no Landlock (silently nothing), -1 on failure.
 */
int mc_sandbox_landlock(const char *const *read, const char *const *write, mc_err *e);
/* seccomp for KIND (MC_SANDBOX_*): 0 applied, 1 not built with libseccomp, -1 failure */
int mc_sandbox_seccomp(int kind, mc_err *e);
/* erase from this process's memory the configuration's secrets (EAB key); ARG is an mc_config */
void mc_sandbox_wipe_secrets(void *arg);

#endif
