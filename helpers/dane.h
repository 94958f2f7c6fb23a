/*
 * dane - keys that DANE senders (RFC 7672) can pin with "3 1 1" TLSA records.
 *
 * key_reuse: a renewal asks the CA for a certificate for the installed key.
 * key_rollover = "announce": beside the installed key the store keeps the
 * next one (danekey.h); a renewal switches to it only once its TLSA record
 * has been visible at the resolver, for every name of the host and every
 * port of tlsa_ports, for key_rollover_wait seconds (default twice the
 * record's TTL); until then the installed key is kept.  After a switch a new
 * next key is made.  A key revoked as compromised is never used again.
 */
#ifndef MC_DANE_H
#define MC_DANE_H

#include <time.h>

#include <openssl/evp.h>

#include "conf.h"
#include "state.h"

/*
 * key_rollover hosts with a next key: look its TLSA records up and update
 * ST's rollover fields (seen since, ready at, the note saying what is
 * missing).  Returns 1 when ST changed (to be saved), 0 when not.
 */
int mc_dane_observe(const mc_config *cfg, const mc_host *h, mc_state *st, time_t now);

/*
 * The key H's next certificate is for.  *KEY NULL: a new key (key_reuse is
 * off, there is no installed key, or it was compromised or no longer has
 * acme.key_type, each said in the log).  Otherwise the store's key:
 * the installed one, or with *SWITCH the announced next one, ready now.
 */
void mc_dane_choose(const mc_config *cfg, const mc_host *h, mc_state *st, EVP_PKEY **key, int *sw);

/* is KEY of TYPE (ec256, ec384, rsa2048, rsa3072, rsa4096)? */
int mc_dane_key_is_type(EVP_PKEY *key, const char *type);

/* `mailcert tlsa HOST`: the 3 1 1 records of the installed and the next key */
int mc_tlsa_main(const char *config_file, int argc, char **argv);

#endif
