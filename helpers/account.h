/*
 * account - `mailcert account [--json]`, `account rollover`, `account
 * deactivate [--yes]` and `mailcert revoke HOST [--reason R]`.
 *
 * The account of the configured directory is found by its key
 * (onlyReturnExisting: these commands never register one).  A rollover
 * switches the key files only once the CA accepted the new key; a
 * deactivated account is recorded in its account.json, and the key process
 * signs nothing more with its key.  A revocation marks the host's state
 * (revoked_time, revocation_reason) so the next issue or renew replaces the
 * certificate; keyCompromise adds the key's SPKI digest to key_compromised.
 */
#ifndef MC_ACCOUNT_H
#define MC_ACCOUNT_H

/* the RFC 5280 code of a reason mailcert revoke takes by name, or -1 */
int mc_revoke_reason_code(const char *name);

int mc_account_main(const char *config_file, int argc, char **argv);
int mc_revoke_main(const char *config_file, int argc, char **argv);

#endif
