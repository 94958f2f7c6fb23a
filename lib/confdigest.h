/*
 * confdigest - a fingerprint of what the configuration says about one host.
 *
 * A failure is recorded with the fingerprint of the configuration it happened
 * under; once the operator has changed that configuration, the failure no longer
 * describes it (status and renew treat it as stale).  Covered: the host's names,
 * challenge and source, the acme section, and the challenge sections.
 */
#ifndef MC_CONFDIGEST_H
#define MC_CONFDIGEST_H

#include "conf.h"

#define MC_CONFDIGEST_LEN 65 /* SHA-256 in hex, NUL-terminated */

void mc_config_host_digest(const mc_config *c, const mc_host *h, char out[MC_CONFDIGEST_LEN]);

#endif
