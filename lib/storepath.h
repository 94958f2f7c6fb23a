/*
 * storepath - where things are in the certificate store: the one module that
 * knows its layout (see store.h for what each part holds).  Everything else
 * asks here instead of writing "STORE/run/..." itself.
 */
#ifndef MC_STOREPATH_H
#define MC_STOREPATH_H

#include <stddef.h>

typedef enum {
	MC_AREA_CERTS,    /* STORE/certs: HOST -> ../versions/HOST/GEN (the live view) */
	MC_AREA_VERSIONS, /* STORE/versions: HOST/GEN, immutable generation directories */
	MC_AREA_RUN,      /* STORE/run: what mailcert-milter keeps (default.pem, milter.json) */
	MC_AREA_KEPT,     /* STORE/run/kept: copies of loaded sets the store may prune */
	MC_AREA_POSTFIX,  /* STORE/postfix: the SNI table, the outgoing TLS policy table */
	MC_AREA_DOVECOT,  /* STORE/dovecot: the include */
	MC_AREA_ACCOUNTS, /* STORE/accounts: ACME accounts (0700) */
	MC_AREA_LOCKS,    /* STORE/locks: one lock file per host, .run for a whole run */
	MC_AREA_RETIRED,  /* STORE/retired: hosts no longer configured */
	MC_AREA_PENDING,  /* STORE/pending: keys made by `mailcert csr`, not yet active */
	MC_AREA_NEXTKEY,  /* STORE/nextkey: announced next keys (key_rollover, danekey.h) */
	MC_AREA_EXIM      /* STORE/exim: the SNI lookup file Exim's tls_certificate reads */
} mc_store_area;

/* the files of the run area and the MTA areas */
#define MC_STORE_DEFAULT_PEM "default.pem" /* in MC_AREA_RUN */
#define MC_STORE_SNI_TABLE "sni"           /* in MC_AREA_POSTFIX */
#define MC_STORE_DOVECOT_INC "mailcert.conf" /* in MC_AREA_DOVECOT */
#define MC_STORE_EXIM_SNI "sni"            /* in MC_AREA_EXIM */
#define MC_STORE_NOTIFY_FILE "notify.json" /* in MC_AREA_RUN: what was mailed (helpers/notify.c) */
/* outgoing trust (helpers/trust.c), in MC_AREA_POSTFIX */
#define MC_STORE_TLS_POLICY "tls_policy"           /* smtp_tls_policy_maps source */
#define MC_STORE_TLS_POLICY_INDEX "tls_policy.json" /* what `trust list` shows */
#define MC_STORE_TRUSTED_PEERS "trusted-peers.pem"  /* the trusted certificates, a CA file */

/* STORE/AREA into OUT, or STORE/AREA/NAME when NAME is not NULL */
void mc_store_area_path(const char *store, mc_store_area area, const char *name, char *out,
			size_t outlen);

#endif
