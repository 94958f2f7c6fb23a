/*
 * daemon - `mailcert run`: the renewal loop (see daemon.c).
 */
#ifndef MC_DAEMON_H
#define MC_DAEMON_H

#include <time.h>

#include "conf.h"
#include "state.h"

/* `mailcert run [-f] [-j N]`; returns the exit status */
int mc_daemon_main(const char *config_file, int argc, char **argv, int verbose);

/*
 * When host H, in state ST, is next due for a pass at NOW: a time at or before
 * NOW means now; 0 means never (nothing to obtain for it).
 */
time_t mc_daemon_host_due(const mc_config *cfg, const mc_host *h, const mc_state *st, time_t now);

#endif
