/*
 * tlsalpn - the tls-alpn-01 responder (RFC 8737).
 *
 * Listens on every tlsalpn01.listen address; a client that offers the ALPN
 * protocol "acme-tls/1" and names, by SNI, an identifier whose challenge is
 * in progress gets a self-signed certificate for that name carrying the
 * critical acmeIdentifier extension (SHA-256 of the key authorization).
 * Anything else is refused during the handshake.  It runs in a child process
 * as "nobody"; the certificates are made there for each challenge from the
 * digest alone.  At most MC_TLSALPN_MAX_CONNS handshakes run at once (a new
 * connection evicts the oldest), and each has MC_TLSALPN_DEADLINE_S in all.
 */
#ifndef MC_TLSALPN_H
#define MC_TLSALPN_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define MC_TLSALPN_MAX_CONNS 64  /* handshakes (threads) at once */
#define MC_TLSALPN_DEADLINE_S 10 /* for a whole handshake, however the client paces it */

typedef struct mc_tlsalpn mc_tlsalpn;

/* bind, fork the responder and wait until it serves; WIPE(ARG) runs in the child
 * first, to erase secrets it must not keep (may be NULL) */
int mc_tlsalpn_start(char *const *listen, size_t nlisten, void (*wipe)(void *), void *wipe_arg,
		     mc_tlsalpn **out, mc_err *e);
/* answer for IDENTIFIER (a DNS name) with KEYAUTH's digest */
int mc_tlsalpn_add(mc_tlsalpn *t, const char *identifier, const char *keyauth, mc_err *e);
void mc_tlsalpn_remove(mc_tlsalpn *t, const char *identifier);
void mc_tlsalpn_stop(mc_tlsalpn *t);
/* the responder's process id, for logs and tests */
pid_t mc_tlsalpn_pid(const mc_tlsalpn *t);

#endif
