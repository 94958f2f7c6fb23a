/*
 * dnscheck - wait until a dns-01 TXT record is visible at a given resolver
 * (dns01.resolver, host:port), so the CA is not asked to validate before
 * the record has propagated.  Uses the system's libresolv.
 */
#ifndef MC_DNSCHECK_H
#define MC_DNSCHECK_H

#include <netinet/in.h>

#include "err.h"

#define MC_NS_T_CAA 257

/* one CAA record (RFC 8659): a value longer than the buffer is cut */
typedef struct mc_caa {
	unsigned char flags;
	char tag[16];
	char value[256];
} mc_caa;

/*
 * RESOLVER is "ADDR[:PORT]" (an IPv4 address) or "" for the servers of
 * /etc/resolv.conf.  The look-ups below return how many records they found
 * (0: the name or the type does not exist), or -1 with E when no server
 * answered (time-out, server failure, refusal).
 */
/* NAME's A, then AAAA addresses, as text, at most MAX */
int mc_dns_addrs(const char *resolver, const char *name, char (*addrs)[INET6_ADDRSTRLEN], int max, mc_err *e);
/* NAME's own CAA records (no climbing to parents), at most MAX */
int mc_dns_caa(const char *resolver, const char *name, mc_caa *out, int max, mc_err *e);

/* one TLSA record (RFC 6698): the association data as lower-case hex, "" when over 64 bytes */
typedef struct mc_tlsa_rr {
	unsigned char usage, selector, mtype;
	char hex[129];
	unsigned long ttl;
} mc_tlsa_rr;

/* NAME's TLSA records (NAME is "_PORT._tcp.HOST."), at most MAX */
int mc_dns_tlsa(const char *resolver, const char *name, mc_tlsa_rr *out, int max, mc_err *e);

/* 1 if NAME has a TXT record VALUE at RESOLVER ("" = the system's), 0 if not (yet), -1 on a bad resolver */
int mc_dns_txt_visible(const char *resolver, const char *name, const char *value, mc_err *e);
/* poll mc_dns_txt_visible every 2 s for up to TIMEOUT_S seconds */
int mc_dns_txt_wait(const char *resolver, const char *name, const char *value, long timeout_s,
		    mc_err *e);

#endif
