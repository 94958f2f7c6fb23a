/*
 * privdrop - who an unprivileged helper process becomes, and becoming it.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "privdrop.h"

int mc_priv_identity(uid_t *uid, gid_t *gid, mc_err *e)
{
	struct passwd *pw = getpwnam("mailcert");
	gid_t keys = mc_group_gid();

	if (!pw)
		pw = getpwnam("nobody");
	if (!pw)
		return mc_err_set(e, "neither user \"mailcert\" nor \"nobody\" exists");
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	/* the group that may read the store's keys is exactly what it must not have */
	if ((keys != (gid_t)-1 && *gid == keys) || *gid == 0) {
		struct group *g = getgrnam("nogroup");
		if (!g)
			g = getgrnam("nobody");
		if (!g || g->gr_gid == 0 || g->gr_gid == keys)
			return mc_err_set(e, "no group \"nogroup\" to run as but one that reads keys");
		*gid = g->gr_gid;
	}
	if (*uid == 0)
		return mc_err_set(e, "the unprivileged user has uid 0");
	return 0;
}

int mc_priv_become(uid_t uid, gid_t gid, mc_err *e)
{
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return mc_err_set(e, "dropping privileges to %lu:%lu: %s", (unsigned long)uid,
				  (unsigned long)gid, strerror(errno));
	if (setuid(0) == 0 || geteuid() != uid || getegid() != gid)
		return mc_err_set(e, "still privileged after dropping privileges to %lu:%lu",
				  (unsigned long)uid, (unsigned long)gid);
	return 0;
}
