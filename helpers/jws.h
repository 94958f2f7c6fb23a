/*
 * jws - JSON Web Signatures for ACME (RFC 7515, RFC 8555 section 6.2).
 *
 * Account keys are ES256 (P-256) by default; P-384 (ES384) and RSA (RS256)
 * keys are accepted.  Output is the flattened JSON serialisation.
 */
#ifndef MC_JWS_H
#define MC_JWS_H

#include <openssl/evp.h>

#include "err.h"

/* the public JWK, members in lexical order (as the thumbprint needs) */
char *mc_jwk_json(EVP_PKEY *key, mc_err *e);
/* base64url SHA-256 of the JWK (RFC 7638) */
char *mc_jwk_thumbprint(EVP_PKEY *key, mc_err *e);
/* "ES256" / "ES384" / "RS256", or NULL for an unusable key */
const char *mc_jws_alg(EVP_PKEY *key);
/*
 * Sign PAYLOAD (NULL or "" for POST-as-GET) for URL with NONCE.  With KID the
 * header names the account; without it the JWK is embedded.
 */
char *mc_jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
		  const char *payload, mc_err *e);
/* an external account binding JWS (HS256 over the account JWK) */
char *mc_jws_eab(EVP_PKEY *account_key, const char *eab_kid, const char *hmac_key_b64url,
		 const char *url, mc_err *e);

#endif
