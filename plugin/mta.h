/*
 * mta - what each MTA reads, and how it is told to read it again.
 *
 * postfix.c, dovecot.c and sendmail.c each provide a writer (regenerate
 * the files the MTA reads from the hosts' loaded sets) and a reloader;
 * exim.c only a writer (Exim reads its lookup file in every handshake).
 * reload.c runs them once per batch, with backoff after a failure.
 */
#ifndef MCM_MTA_H
#define MCM_MTA_H

#include <time.h>

#include "conf.h"
#include "err.h"
#include "hosts.h"
#include "xalloc.h"

#define MTA_CMD_TIMEOUT_MS 60000
#define MTA_POSTMAP_TIMEOUT_MS 600000

typedef struct mta_ctx {
	const char *store;
	const mc_config *cfg;
	mh_table *hosts;
	const mh_host *def;     /* default host, or NULL when the store has none */
} mta_ctx;

/* STORE/run/default.pem: a symlink to the default host's loaded set; while
 * there is none, a self-signed stand-in (standin.h) */
int mta_write_default_link(const mta_ctx *c, mc_err *e);
/* 1 when STORE/run/default.pem is what mta_write_default_link would make */
int mta_default_link_current(const mta_ctx *c);

/* the *_current functions: 1 when the files that MTA reads are exactly what
 * its *_write would write now (nothing to regenerate) */
int postfix_current(const mta_ctx *c);
int postfix_write(const mta_ctx *c, mc_err *e);
int postfix_reload(const mta_ctx *c, mc_err *e);

/* Dovecot's major*100+minor from `dovecot --version`, 203 when unknown */
int dovecot_version(void);
int dovecot_current(const mta_ctx *c, int version);
int dovecot_write(const mta_ctx *c, int version, mc_err *e);
int dovecot_reload(const mta_ctx *c, mc_err *e);

int sendmail_reload(const mta_ctx *c, mc_err *e);

/* STORE/exim/sni; nothing to reload: the next TLS handshake reads it */
int exim_current(const mta_ctx *c);
int exim_write(const mta_ctx *c, mc_err *e);

/* STORE/run, 0755 */
int mta_mkdir_run(const char *store, mc_err *e);
/* make DIR with MODE exactly (our umask is 077) */
int mta_mkdir(const char *dir, mode_t mode, mc_err *e);
/* 1 when PATH is a regular file holding exactly LEN bytes of DATA */
int mta_file_is(const char *path, const char *data, size_t len);
/* run ARGV; on failure E holds its exit and its last output line */
int mta_run(const char *const argv[], int timeout_ms, mc_err *e);
/* the same, with the output given back */
int mta_run_output(const char *const argv[], int timeout_ms, mc_buf *out, mc_err *e);

#endif
