/*
 * metrics - STORE/run/mailcert.prom, Prometheus text format for
 * node_exporter's textfile collector (see metrics.c).
 */
#ifndef MC_METRICS_H
#define MC_METRICS_H

#include <time.h>

#include "xalloc.h"
#include "conf.h"
#include "err.h"

#define MC_METRICS_FILE "mailcert.prom" /* in MC_AREA_RUN */

/* the metrics of CFG's store at NOW, appended to B */
int mc_metrics_text(const mc_config *cfg, time_t now, mc_buf *b);
/* write them to STORE/run/mailcert.prom, atomically, 0644 (nothing in it is secret) */
int mc_metrics_write(const mc_config *cfg, mc_err *e);

#endif
