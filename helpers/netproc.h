/*
 * netproc - the network process: the only one that talks to the CA.
 *
 * It holds libcurl, parses every answer of the CA (JSON, PEM) and runs the
 * ACME state machine, one worker thread per slot, as the unprivileged user
 * (see sandbox.h), with no key and no writable filesystem.  It asks the key
 * process to sign and the store process to provision challenges, and hands
 * the store process the chains it downloaded.  It exits when the store
 * process closes its control socket, or dies.  See ipc.h for the messages.
 */
#ifndef MC_NETPROC_H
#define MC_NETPROC_H

#include <stddef.h>

#include "conf.h"

/*
 * CTL_STORE/CTL_KEY: control sockets for the account set-up; STORE_FDS and
 * KEY_FDS: NSLOTS sockets, one per worker thread; ONLY_EXISTING: find the
 * account of the key, never register one.  Never returns.
 */
void mc_netproc_main(mc_config *cfg, int ctl_store, int ctl_key, const int *store_fds, const int *key_fds,
		     size_t nslots, int only_existing) __attribute__((noreturn));

#endif
