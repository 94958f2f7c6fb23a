/*
 * store - the certificate store, the one interface between mailcert and
 * mailcert-milter.
 *
 *   STORE/certs/HOST        symlink -> ../versions/HOST/GEN (swapped atomically)
 *   STORE/versions/HOST/GEN cert.pem key.pem (0640 root:mailcert),
 *                           fullchain.pem cert_auth.pem state.json (0644)
 *   STORE/accounts/         ACME accounts (0700)
 *   STORE/locks/            one lock file per host
 *   STORE/retired/HOST      the last link of a host no longer configured (kept
 *                           with its versions for MC_STORE_RETIRE_DAYS)
 *
 * A new set is written into a fresh GEN directory, fsync'd, and published by
 * renaming a new symlink over STORE/certs/HOST, so readers see the old set or
 * the new one, never a mix.  Nothing is published before mc_certset_check.
 * An install prunes the host's older versions except the previous one and
 * any that mailcert-milter gave the MTAs (STORE/run/default.pem,
 * STORE/postfix/sni, STORE/dovecot/mailcert.conf, links in STORE/run/kept):
 * those go at a later install, once nothing names them.
 */
#ifndef MC_STORE_H
#define MC_STORE_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "state.h"

#define MC_STORE_FILE_MAX (1024 * 1024)

/* create the store's directories where missing */
int mc_store_prepare(const char *store, mc_err *e);
/* path of FILE for host directory DIR: STORE/certs/DIR/FILE */
void mc_store_path(const char *store, const char *dir, const char *file, char *out, size_t outlen);
/* exclusive lock on one host (blocks); returns an fd for mc_store_unlock */
int mc_store_lock_host(const char *store, const char *dir, mc_err *e);
void mc_store_unlock(int fd);

/* check and publish a new set; STATE is written with it as state.json */
int mc_store_install(const char *store, const char *dir, EVP_PKEY *key, STACK_OF(X509) *chain,
		     char *const *names, size_t nnames, const mc_state *state, mc_err *e);
/* read the current set from cert.pem (key checked to be private) */
int mc_store_load(const char *store, const char *dir, EVP_PKEY **key, STACK_OF(X509) **chain,
		  mc_err *e);
/* 1 if the host has a published cert.pem */
int mc_store_has_cert(const char *store, const char *dir);

/* state.json of the current set; returns 1 (empty state) when there is none */
int mc_store_state_load(const char *store, const char *dir, mc_state *s, mc_err *e);
/* replace state.json of the current set (creating a certificate-less set if needed) */
int mc_store_state_save(const char *store, const char *dir, const mc_state *s, mc_err *e);

/*
 * Remove what a run killed half-way through writing left behind: temporary
 * files in the version and account directories and half-made links in
 * STORE/certs.  Only under the run lock (no other writer is at work).
 */
void mc_store_sweep(const char *store);

/* host directory names under STORE/certs, sorted; NULL-terminated */
char **mc_store_list(const char *store);

/* how long a host that left the configuration keeps its files */
#define MC_STORE_RETIRE_DAYS 30
/*
 * Hosts in STORE/certs that none of DIRS (the configured hosts' directories)
 * owns leave the live view: the link moves to STORE/retired/HOST (so
 * mailcert-milter drops them from what the MTAs read), each logged with the
 * date its files go; STORE/versions/HOST stays until MC_STORE_RETIRE_DAYS have
 * passed, unless the host is configured again.  Returns how many were retired now.
 */
int mc_store_retire(const char *store, char *const *dirs, size_t ndirs, time_t now, mc_err *e);

#endif
