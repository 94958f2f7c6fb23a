/*
 * keyproc - the key process: the only one that holds the ACME account key
 * and the only one that makes host keys.
 *
 * It loads (or creates) the account key on first use and answers the network
 * process with signatures, the public JWK thumbprint and the EAB binding;
 * it answers the store process with a fresh host key and its CSR (or a
 * self-signed certificate).  Host private keys go to the store process
 * only; nothing private goes to the network process.  It has no network
 * socket, writes only below STORE/accounts, and exits when the store
 * process closes its sockets (or dies).  See ipc.h for the messages.
 */
#ifndef MC_KEYPROC_H
#define MC_KEYPROC_H

#include <stddef.h>

#include "conf.h"

/* serve STORE_FDS and NET_FDS (each -1 when unused) until no store socket is left; never returns */
void mc_keyproc_main(const mc_config *cfg, int *store_fds, size_t nstore, int *net_fds, size_t nnet)
	__attribute__((noreturn));

#endif
