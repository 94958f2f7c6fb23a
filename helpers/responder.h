/*
 * responder - what the challenge responders (http01.c, tlsalpn.c) share:
 * binding their listening sockets while still root, and giving up root in
 * the child process that serves them.
 */
#ifndef MC_RESPONDER_H
#define MC_RESPONDER_H

#include "err.h"

/* bind and listen on SPEC ("HOST:PORT", "[V6]:PORT", "*:PORT"); WHAT names the
 * responder in errors; NONBLOCK for accept loops that poll */
int mc_responder_listen(const char *spec, const char *what, int nonblock, int *fd, mc_err *e);
/* become "nobody" (when root), non-dumpable, without new privileges; then NAME
 * the process for ps.  -1 when that fails */
int mc_responder_drop_privileges(const char *name);

#endif
