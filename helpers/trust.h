/*
 * trust - outgoing trust for SMTP peers with self-signed certificates:
 * `mailcert trust add|list|remove`.  A managed Postfix smtp_tls_policy_maps
 * table (STORE/postfix/tls_policy, "fingerprint" entries), its index
 * (tls_policy.json) and a CA file of the trusted certificates
 * (trusted-peers.pem), all rebuilt from the index.
 */
#ifndef MC_TRUST_H
#define MC_TRUST_H

int mc_trust_main(const char *config_file, int argc, char **argv);

#endif
