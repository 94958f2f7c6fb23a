/*
 * x509chk - parse PEM material and check a certificate set before anyone
 * installs or loads it: the key matches the leaf, the leaf covers every
 * name, each certificate is signed by the next, every validity period is
 * current.
 */
#ifndef MC_X509CHK_H
#define MC_X509CHK_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "xalloc.h"

#define MC_SERIAL_MAX 130

typedef struct mc_certinfo {
	char serial[MC_SERIAL_MAX]; /* lower-case hex */
	char issuer[512];           /* RFC 2253: "CN=R11,O=Let's Encrypt,C=US" */
	char subject[512];
	char issuer_cn[256];
	time_t not_before;
	time_t not_after;
} mc_certinfo;

/* every certificate in PEM (at least one, and every certificate block must
 * parse); other PEM blocks are skipped */
int mc_pem_read_certs(const char *pem, size_t len, STACK_OF(X509) **out, mc_err *e);
/* the first private key in PEM */
int mc_pem_read_key(const char *pem, size_t len, EVP_PKEY **out, mc_err *e);
void mc_pem_append_cert(mc_buf *b, X509 *x);
void mc_pem_append_key(mc_buf *b, EVP_PKEY *k);

int mc_cert_info(X509 *x, mc_certinfo *ci);
/* SHA-256 of KEY's SubjectPublicKeyInfo, lower-case hex (the digest of a TLSA 3 1 1 record) */
int mc_key_spki_sha256(EVP_PKEY *key, char out[65]);
int mc_asn1_time_to_time_t(const ASN1_TIME *at, time_t *t);
/* 1 if the leaf's subjectAltName covers NAME (the CN is not looked at: RFC 6125) */
int mc_cert_covers(X509 *leaf, const char *name);

/* the leaf's dNSName SANs as a malloc'd NULL-terminated array */
char **mc_cert_dns_names(X509 *leaf, size_t *count);

/*
 * The checks every set passes before install or load.  NAMES may be NULL
 * (no name check).  KEY may be NULL (no key check).  CHAIN is leaf first;
 * a chain of one certificate (self-signed) has nothing to link.
 */
int mc_certset_check(EVP_PKEY *key, STACK_OF(X509) *chain, char *const *names, size_t nnames,
		     time_t now, mc_err *e);

#endif
