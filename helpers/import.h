/*
 * import - `mailcert import` and `mailcert install`: certificates from
 * outside ACME into the store, for hosts with source = "manual".
 *
 *   mailcert import HOST FILE... [--password-file F] [--fetch-intermediates]
 *       the key and the certificates in PEM, DER, PKCS#12 or PKCS#7, in any
 *       order and any number of files (certfiles.h)
 *   mailcert install HOST FILE...
 *       the certificate a CA issued for the pending key of `mailcert csr`
 *
 * Both pick the leaf that matches the key, check that it covers every name
 * of the host and is valid now, build the chain (chain.h) and publish the set
 * with mc_store_install under the host's lock, with source "manual" in its
 * state.  ACME never renews such a host; `mailcert status` warns before it
 * expires (expiry.h).
 */
#ifndef MC_IMPORT_H
#define MC_IMPORT_H

#include "conf.h"

/* the subcommands; ARGV[0] is the command name; returns the exit status */
int mc_import_main(const char *config_file, int argc, char **argv);
int mc_install_main(const char *config_file, int argc, char **argv);

/* shared with csr.c: load the configuration and find HOST, which must have
 * source = "manual"; prints why not and sets *EXIT_CODE */
mc_config *mc_import_config(const char *config_file, const char *cmd, const char *host,
			    mc_host **h, int *exit_code);

#endif
