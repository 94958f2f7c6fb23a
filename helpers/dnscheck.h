/*
 * dnscheck - wait until a dns-01 TXT record is visible at a given resolver
 * (dns01.resolver, host:port), so the CA is not asked to validate before
 * the record has propagated.  Uses the system's libresolv.
 */
#ifndef MC_DNSCHECK_H
#define MC_DNSCHECK_H

#include "err.h"

/* 1 if NAME has a TXT record VALUE at RESOLVER, 0 if not (yet), -1 on a bad resolver */
int mc_dns_txt_visible(const char *resolver, const char *name, const char *value, mc_err *e);
/* poll mc_dns_txt_visible every 2 s for up to TIMEOUT_S seconds */
int mc_dns_txt_wait(const char *resolver, const char *name, const char *value, long timeout_s,
		    mc_err *e);

#endif
