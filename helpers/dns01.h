/*
 * dns01 - the dns-01 hook protocol (see mailcert.conf(5)):
 *   HOOK add|remove dns-01 TXTNAME TXTVALUE
 * run with fork/exec and MAILCERT_HOST, MAILCERT_IDENTIFIER,
 * MAILCERT_TXT_NAME, MAILCERT_TXT_VALUE in its environment.
 */
#ifndef MC_DNS01_H
#define MC_DNS01_H

#include "conf.h"
#include "err.h"

#define MC_HOOK_TIMEOUT_MS 120000

int mc_dns01_hook(const mc_config *cfg, const char *verb, const char *host, const char *identifier,
		  const char *txt_name, const char *txt_value, mc_err *e);

#endif
