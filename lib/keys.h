/*
 * keys - private keys, CSRs and self-signed certificates for hosts.
 */
#ifndef MC_KEYS_H
#define MC_KEYS_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "xalloc.h"

/* a fresh key of TYPE: ec256 | ec384 | rsa2048 | rsa3072 | rsa4096 */
int mc_key_generate(const char *type, EVP_PKEY **out, mc_err *e);
/*
 * Read the PEM PrivateKeyInfo of a key of TYPE (as for mc_key_generate):
 * OpenSSL's decoders are narrowed to that one key type, a third of the cost
 * of trying every decoder (what a store process pays for each host key the
 * key process hands it).
 */
int mc_key_from_pem(const char *type, const char *pem, size_t len, EVP_PKEY **out, mc_err *e);
/* a CSR for NAMES (first is the subject CN when it fits) signed by KEY; DER */
int mc_csr_make(EVP_PKEY *key, char *const *names, size_t nnames, const char *subject,
		mc_buf *der, mc_err *e);
/* a self-signed certificate for NAMES valid DAYS days */
int mc_selfsigned_make(EVP_PKEY *key, char *const *names, size_t nnames, int days, X509 **out,
		       mc_err *e);

#endif
