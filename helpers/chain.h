/*
 * chain - put a leaf's chain together from the certificates an operator
 * gave (in any order), the system's trust anchors (OpenSSL's default paths:
 * /etc/ssl/certs on Debian; SSL_CERT_FILE and SSL_CERT_DIR override them)
 * and, when asked, the caIssuers URLs of the certificates (aia.h).
 *
 * The chain served is the leaf and its intermediates, up to the one a trust
 * anchor issued (or that is itself one); a self-signed root that was given is
 * left out, as clients have it.  A certificate whose issuer is nowhere is the
 * error "no issuer found for CN=..., issued by CN=... — add that intermediate
 * certificate".
 */
#ifndef MC_CHAIN_H
#define MC_CHAIN_H

#include <openssl/x509.h>

#include "err.h"

#define MC_CHAIN_MAX_DEPTH 10

/* build LEAF's chain (leaf first) from POOL; FETCH: follow caIssuers URLs */
int mc_chain_build(X509 *leaf, STACK_OF(X509) *pool, int fetch, STACK_OF(X509) **out, mc_err *e);
/* "CN=x,O=y" of X's subject (ISSUER 0) or issuer (1) into OUT */
void mc_chain_name(X509 *x, int issuer, char *out, size_t outlen);

#endif
