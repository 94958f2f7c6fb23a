/*
 * standin - a self-signed STORE/run/default.pem until default_host has a
 * set, so that every MTA naming that file starts before the first
 * certificate exists.
 */
#ifndef MCM_STANDIN_H
#define MCM_STANDIN_H

#include "err.h"

/* 1 when STORE/run/default.pem is a stand-in (a regular file, not a link) */
int mta_standin_present(const char *store);
/* write a stand-in for NAME (NULL or "": localhost) unless one is there;
 * STORE/run must exist */
int mta_standin_write(const char *store, const char *name, mc_err *e);

#endif
