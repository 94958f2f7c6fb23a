/*
 * dns01 - run the operator's hook for TXT records.
 */
#include "config.h"

#include <stdlib.h>

#include "dns01.h"
#include "spawn.h"
#include "xalloc.h"

int mc_dns01_hook(const mc_config *cfg, const char *verb, const char *host, const char *identifier,
		  const char *txt_name, const char *txt_value, mc_err *e)
{
	char *argv[] = { cfg->dns01_hook, (char *)verb, (char *)"dns-01", (char *)txt_name,
			 (char *)txt_value, NULL };
	char *env[5];
	int rc, i;

	if (!cfg->dns01_hook[0])
		return mc_err_set(e, "dns-01 needs dns01.hook or dns01.challenge_file");
	env[0] = mc_asprintf("MAILCERT_HOST=%s", host);
	env[1] = mc_asprintf("MAILCERT_IDENTIFIER=%s", identifier);
	env[2] = mc_asprintf("MAILCERT_TXT_NAME=%s", txt_name);
	env[3] = mc_asprintf("MAILCERT_TXT_VALUE=%s", txt_value);
	env[4] = NULL;
	rc = mc_spawn(argv, env, MC_HOOK_TIMEOUT_MS, NULL, e);
	for (i = 0; i < 4; i++)
		free(env[i]);
	if (rc < 0)
		return mc_err_prefix(e, "dns-01 hook (%s %s)", verb, txt_name);
	return 0;
}
