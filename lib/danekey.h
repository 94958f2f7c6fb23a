/*
 * danekey - what DANE (RFC 7671, RFC 7672) needs of a host key: the SHA-256
 * digest of its SubjectPublicKeyInfo (the data of a "3 1 1" TLSA record), the
 * record's owner name, and the announced next key of a host with
 * key_rollover = "announce":
 *
 *   STORE/nextkey/           0700 root
 *   STORE/nextkey/DIR/       0700 root
 *   STORE/nextkey/DIR/key.pem   the next private key, 0640 root:mailcert
 *
 * The next key is never part of the live view: it becomes a set's key.pem
 * only when a renewal switches to it, and is then removed from here.
 */
#ifndef MC_DANEKEY_H
#define MC_DANEKEY_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

#define MC_SPKI_HEX_LEN 65 /* 64 hex digits and the NUL */

/* SHA-256 of KEY's DER SubjectPublicKeyInfo, lower-case hex; -1 with E on failure */
int mc_spki_sha256(EVP_PKEY *key, char out[MC_SPKI_HEX_LEN], mc_err *e);
/* the same for a certificate's public key */
int mc_spki_sha256_cert(X509 *x, char out[MC_SPKI_HEX_LEN], mc_err *e);
/*
 * The TLSA owner of NAME on TCP PORT: "_PORT._tcp.NAME." into OUT; -1 when
 * NAME is a wildcard (a TLSA record cannot be published for it) or too long.
 */
int mc_tlsa_owner(const char *name, long port, char *out, size_t outlen);

/* keep KEY as DIR's next key (replacing any earlier one) */
int mc_nextkey_save(const char *store, const char *dir, EVP_PKEY *key, mc_err *e);
/* DIR's next key; returns 1 (KEY untouched) when there is none */
int mc_nextkey_load(const char *store, const char *dir, EVP_PKEY **key, mc_err *e);
/* forget DIR's next key (wiped, then removed); none is not an error */
int mc_nextkey_remove(const char *store, const char *dir, mc_err *e);

#endif
