/*
 * netaddr - a numeric server address as the configuration spells it:
 * "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]" or
 * "[2001:db8::53]:5353".  No names: a resolver's own address is never looked up.
 */
#ifndef MC_NETADDR_H
#define MC_NETADDR_H

#include <sys/socket.h>

#include "err.h"

/* SPEC into SS/LEN, DEFAULT_PORT when it names none; -1 with E saying why */
int mc_netaddr_parse(const char *spec, unsigned short default_port, struct sockaddr_storage *ss,
		     socklen_t *len, mc_err *e);

#endif
