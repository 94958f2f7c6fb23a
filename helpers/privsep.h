/*
 * privsep - the store process's side of the process split: start the key
 * process and (when a CA is needed) the network process, joined by
 * socketpairs, give the network process what it asks for while it sets up
 * the account, and at the end close everything and reap them.
 *
 *   process  user                  holds                          may
 *   store    root                  the store, state, hooks        write the store, run hooks, start responders
 *   net      mailcert or nobody    libcurl, the CA's answers      connect to the CA; read-only filesystem
 *   key      root, no network      the account key, host keys     write STORE/accounts
 *
 * A child that dies shows up as end-of-file on its sockets: the store
 * process fails what was in progress with that reason and starts nothing
 * more; the children exit when the store process's sockets close.
 */
#ifndef MC_PRIVSEP_H
#define MC_PRIVSEP_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "err.h"

typedef struct mc_privsep {
	pid_t key_pid, net_pid;   /* 0: not running */
	size_t nslots;
	int *key;                 /* per worker slot: socket to the key process */
	int *net;                 /* per worker slot: socket to the network process, or -1 */
	int net_ctl;              /* the network process's control socket, or -1 */
	int net_ready;            /* it said READY (and reports STATS at the end) */
	char account_url[4097];   /* the account it uses at the CA (ACCOUNT), "" before */
} mc_privsep;

#define MC_PRIVSEP_NET_EXISTING 2 /* WITH_NET: the account must exist already (account, revoke) */
/* fork the key process, and the network process when WITH_NET, with NSLOTS slots */
int mc_privsep_start(mc_config *cfg, size_t nslots, int with_net, mc_privsep *ps, mc_err *e);
/*
 * Serve the network process's set-up (its account record) until it is
 * ready; -1 with E: why it has no account, -2: it is gone.
 */
int mc_privsep_net_ready(mc_privsep *ps, const mc_config *cfg, mc_err *e);
/*
 * Close every socket and reap both children; REQS and CONNS get the network
 * process's counts (0 without).  -1 with E when a child died or failed.
 */
int mc_privsep_stop(mc_privsep *ps, unsigned long *reqs, unsigned long *conns, mc_err *e);

#endif
