/*
 * unit - what every Check test program of tests/unit shares: the runner,
 * scratch directories, small file helpers, an independent base64url
 * decoder, and X.509 fixtures built with OpenSSL at run time.
 */
#ifndef MC_UNIT_H
#define MC_UNIT_H

#include <stddef.h>
#include <time.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* generous per-test limit: RSA key generation under ASan is slow */
#define UNIT_TIMEOUT 120

/* run S with CK_NORMAL output; EXIT_SUCCESS only when every check passed */
int unit_run(Suite *s);
/* a TCase with UNIT_TIMEOUT set */
TCase *unit_tcase(const char *name);

/* a fresh private directory under $TMPDIR (malloc'd); unit_rmtree removes it */
char *unit_tmpdir(void);
/* a free TCP port on FAMILY's loopback address, never handed to another test
 * (tests/lib/common.sh's freeport shares the registry) */
int unit_free_port(int family);
void unit_rmtree(const char *dir);
/* write TEXT to PATH (mode 0644), creating it; aborts the test on failure */
void unit_write(const char *path, const char *text);
/* the whole file (malloc'd, NUL-terminated), or NULL when it cannot be read */
char *unit_read(const char *path, size_t *len);
/* 1 if S starts with PREFIX */
int unit_starts(const char *s, const char *prefix);

/* base64url without padding, decoded without the library under test;
 * returns a malloc'd buffer (NUL-terminated) or NULL on a bad string */
unsigned char *unit_b64url_decode(const char *s, size_t *len);
char *unit_b64url_encode(const void *data, size_t len);

/* a fresh key: "ec256", "ec384" or "rsa2048" */
EVP_PKEY *unit_key(const char *type);
/*
 * A certificate for KEY named CN with dNSName SANS (NULL-terminated, may be
 * NULL), valid from now+NB to now+NA seconds, signed by ISSUER/ISSUER_KEY
 * (NULL: self-signed), a CA when CA is set.
 */
X509 *unit_cert(EVP_PKEY *key, const char *cn, const char *const *sans, X509 *issuer,
		EVP_PKEY *issuer_key, long nb, long na, int ca);

/* root -> intermediate -> leaf, the leaf for SANS with key KEY */
typedef struct unit_pki {
	EVP_PKEY *root_key, *inter_key, *leaf_key;
	X509 *root, *inter, *leaf;
} unit_pki;
void unit_pki_make(unit_pki *p, const char *leaf_type, const char *const *sans);
void unit_pki_free(unit_pki *p);
/*
 * Publish KEY + CHAIN in STORE as the store does: versions/DIR/GEN.gen/cert.pem
 * (0640), then certs/DIR swapped to it by a rename.  STORE/certs must exist.
 */
void unit_put_set(const char *store, const char *dir, int gen, EVP_PKEY *key, STACK_OF(X509) *chain);
/* a new stack holding up-refs of the given certificates (NULL-terminated) */
STACK_OF(X509) *unit_chain(X509 *first, ...);

#endif
