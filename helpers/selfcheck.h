/*
 * selfcheck - what the network process checks before it places an order, so
 * that a mistake of ours or of the DNS costs no failed validation at the CA:
 *
 *   every name of an http-01 or tls-alpn-01 host resolves (A/AAAA) at the
 *   resolver;
 *   http-01: a random probe token, served by our own responder (or written to
 *   the webroot) through the store process like a real challenge, is fetched
 *   back from http://NAME:http01.public_port/.well-known/acme-challenge/TOKEN
 *   at each address NAME resolves to;
 *   tls-alpn-01: a handshake with ALPN acme-tls/1 and SNI NAME on
 *   tlsalpn01.public_port at each address gets the probe's certificate;
 *   CAA (RFC 8659): the first CAA record set found at NAME or its parents
 *   lets this CA (the directory's meta.caaIdentities) issue.
 *
 * dns-01's check (the TXT record is visible at the resolver) stays where the
 * record is made, in the store process.  Every failure reads
 * "Self-check failed: ..." with the name, what was seen and what to fix.
 */
#ifndef MC_SELFCHECK_H
#define MC_SELFCHECK_H

#include <jansson.h>

#include "acme.h"
#include "conf.h"
#include "err.h"

/*
 * Check NAMES of a host using challenge TYPE.  CAA_IDENTITIES is the
 * directory's meta.caaIdentities (NULL when the CA publishes none); OPS and
 * CTX serve and remove the probes (provision, deprovision).
 */
int mc_selfcheck(const mc_config *cfg, mc_challenge type, char *const *names, size_t nnames,
		 json_t *caa_identities, const mc_acme_ops *ops, void *ctx, mc_err *e);

/*
 * The CAA part alone for NAME ("*." for a wildcard), for tests: 0 when
 * issuance by a CA with IDENTITIES is allowed, -1 with E saying why not.
 */
int mc_selfcheck_caa(const char *resolver, const char *name, json_t *identities, mc_err *e);

#endif
