/*
 * ari - ACME Renewal Information (RFC 9773): when the CA wants a certificate
 * renewed.
 *
 * A certificate is named to the CA by its certID: the base64url of its
 * Authority Key Identifier's keyIdentifier, ".", the base64url of its serial
 * number's DER INTEGER content octets.  The CA answers GET renewalInfo/CERTID
 * with a suggested window {start, end} and maybe an explanationURL, and says
 * with Retry-After when to ask again.  Everything the CA sends is checked
 * here before the store process keeps any of it.
 */
#ifndef MC_ARI_H
#define MC_ARI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "err.h"

#define MC_ARI_CERTID_MAX 160    /* 20-byte key id, 20-byte serial: 55; room for longer ones */
#define MC_ARI_URL_MAX 1024      /* explanationURL */
#define MC_ARI_BODY_MAX 65536    /* a renewalInfo answer */
#define MC_ARI_CHECK_DEFAULT (6 * 3600) /* no Retry-After: ask again in 6 h */
#define MC_ARI_CHECK_MIN 3600    /* Retry-After is clamped to 1 h .. 1 day */
#define MC_ARI_CHECK_MAX 86400
#define MC_ARI_CHECK_ERROR 3600  /* after an error fetching it */

typedef struct mc_ari_info {
	time_t start, end;           /* the suggested window, start < end */
	char url[MC_ARI_URL_MAX + 1]; /* explanationURL, "" when none (or unusable) */
} mc_ari_info;

/* LEAF's certID into OUT (MC_ARI_CERTID_MAX + 1); -1 when it has no key identifier */
int mc_ari_cert_id(X509 *leaf, char *out, size_t outlen, mc_err *e);
/* 1 when S has the shape of a certID (two non-empty base64url parts, bounded) */
int mc_ari_cert_id_valid(const char *s);
/* 1 when S may be kept and shown as an explanationURL (http(s), printable, bounded) */
int mc_ari_url_ok(const char *s);
/* the renewalInfo answer BODY checked: an object, RFC 3339 times, start < end */
int mc_ari_parse(const char *body, size_t len, mc_ari_info *out, mc_err *e);
/* seconds until the next renewalInfo request for a Retry-After of RA (-1: none) */
long mc_ari_next_check(long ra);
/* the renewal time chosen inside [START, END) with the random R; never before NOW */
time_t mc_ari_pick(time_t start, time_t end, time_t now, uint64_t r);
/* 64 random bits (OpenSSL's generator) */
uint64_t mc_random_u64(void);

#endif
