/*
 * status - `mailcert status`: a table or JSON of every host.
 */
#ifndef MC_STATUS_H
#define MC_STATUS_H

#include "conf.h"

#define MC_STATUS_JSON 0x1
#define MC_STATUS_ONLY_ERRORS 0x2

/* prints the report; returns 1 if any host is in error, else 0 */
int mc_status(mc_config *cfg, char *const *hosts, int nhosts, int flags);

#endif
