/*
 * record - STORE/run/milter.json: what was loaded, what was refused, the
 * reload state of each MTA and the milter's counts (shape in loaded.h).
 */
#ifndef MCM_RECORD_H
#define MCM_RECORD_H

#include <time.h>

#include <jansson.h>

#include "err.h"
#include "loader.h"

/* LISTENERS may be NULL (no milter) */
int record_write(const loader *l, json_t *listeners, time_t started, mc_err *e);

#endif
