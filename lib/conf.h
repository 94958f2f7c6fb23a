/*
 * conf - mailcert.conf (libconfuse), read once into plain structs.
 *
 * The main file is read first, then every conf.d/ *.conf beside it in sorted
 * order.  Every error names FILE:LINE.  The option table is the one in the
 * interface document; features that come later still have their keys here.
 */
#ifndef MC_CONF_H
#define MC_CONF_H

#include <stddef.h>

#include "err.h"

#define MC_EX_CONFIG 78 /* EX_CONFIG */
#define MC_EX_USAGE 64  /* EX_USAGE */

typedef enum { MC_CHAL_HTTP01, MC_CHAL_DNS01, MC_CHAL_TLSALPN01 } mc_challenge;
typedef enum { MC_SRC_ACME, MC_SRC_MANUAL, MC_SRC_SELFSIGNED } mc_source;
#define MC_ROLLOVER_NONE 0
#define MC_ROLLOVER_ANNOUNCE 1

typedef struct mc_host {
	char *name;        /* primary name, lower case */
	char dir[300];     /* its store directory name */
	char **names;      /* primary first, then extra names; NULL-terminated */
	size_t nnames;
	mc_challenge challenge;
	mc_source source;
	int self_check;    /* run the self-checks before each order */
	int key_reuse;     /* keep the key across renewals (also implied by key_rollover) */
	int key_rollover;  /* MC_ROLLOVER_NONE | MC_ROLLOVER_ANNOUNCE */
	long key_rollover_wait; /* seconds the next key's TLSA must be seen; 0: 2 x its TTL */
	long *tlsa_ports;  /* the ports `mailcert tlsa` and the rollover check name (default 25) */
	size_t ntlsa_ports;
	char where[512];   /* FILE:LINE of its section, for messages */
} mc_host;

typedef struct mc_config {
	char *file;
	char *store;
	char *default_host;
	char *resolver;        /* ADDR[:PORT] for every DNS look-up; "" = the system's */

	int acme_present;
	char *acme_directory;  /* resolved URL */
	char *acme_email;
	int acme_agree_tos;
	char *acme_ca_bundle;
	char *acme_key_type;
	char *acme_profile;
	char *acme_preferred_chain;
	int acme_test_on_staging;
	char *acme_staging_directory; /* resolved URL; "" when none is known */
	char *acme_eab_kid;
	char *acme_eab_hmac_key;

	char **http01_listen;
	size_t http01_nlisten;
	char *http01_webroot;
	long http01_public_port;

	char **tlsalpn01_listen;
	size_t tlsalpn01_nlisten;
	long tlsalpn01_public_port;

	char *dns01_hook;
	char *dns01_resolver;  /* dns01.resolver, else the top-level resolver */
	char *dns01_challenge_file;
	long dns01_propagation_timeout;

	char *notify_sendmail;
	char **notify_to;
	size_t notify_nto;
	char *notify_contact;

	int listen_postfix;
	int listen_dovecot;
	int listen_sendmail;
	int listen_exim;
	char *postfix_config_dir;
	char *postfix_map_type;
	char *dovecot_config;
	char *sendmail_pid_file;
	char *sendmail_config;  /* read for its DaemonPortOptions by the served check ("": not read) */
	char *exim_command;     /* asked with -bP where Exim listens ("": not asked) */
	char *exim_config;      /* passed to it as -C; "": Exim's own */

	mc_host *hosts;
	size_t nhosts;
} mc_config;

#define MC_DIRECTORY_LETSENCRYPT "https://acme-v02.api.letsencrypt.org/directory"
#define MC_DIRECTORY_LETSENCRYPT_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"

/* the default config path, $(sysconfdir)/mailcert/mailcert.conf */
const char *mc_config_default_path(void);
/* read FILE and its conf.d; on failure E holds "FILE:LINE: reason" */
int mc_config_load(const char *file, mc_config **out, mc_err *e);
void mc_config_free(mc_config *c);
mc_host *mc_config_find_host(mc_config *c, const char *name);
/* the host served to clients without SNI: default_host, else the first host */
const mc_host *mc_config_default(const mc_config *c);

#endif
