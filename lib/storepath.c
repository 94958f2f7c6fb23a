/*
 * storepath - where things are in the certificate store.
 */
#include "config.h"

#include "fsutil.h"
#include "storepath.h"

static const char *const area_names[] = {
	[MC_AREA_CERTS] = "certs",       [MC_AREA_VERSIONS] = "versions",
	[MC_AREA_RUN] = "run",           [MC_AREA_KEPT] = "run/kept",
	[MC_AREA_POSTFIX] = "postfix",   [MC_AREA_DOVECOT] = "dovecot",
	[MC_AREA_ACCOUNTS] = "accounts", [MC_AREA_LOCKS] = "locks",
	[MC_AREA_RETIRED] = "retired",   [MC_AREA_PENDING] = "pending",
	[MC_AREA_NEXTKEY] = "nextkey",   [MC_AREA_EXIM] = "exim",
};

void mc_store_area_path(const char *store, mc_store_area area, const char *name, char *out,
			size_t outlen)
{
	mc_pathf(out, outlen, "%s/%s%s%s", store, area_names[area], name ? "/" : "", name ? name : "");
}
