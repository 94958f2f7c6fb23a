/*
 * b64url - base64url without padding (RFC 4648 section 5), as JWS needs.
 * Encoding uses OpenSSL's base64 and then maps the alphabet.
 */
#ifndef MC_B64URL_H
#define MC_B64URL_H

#include <stddef.h>

#include "xalloc.h"

char *mc_b64url_encode(const void *data, size_t len);
/* decode; -1 on any character outside the alphabet or bad length */
int mc_b64url_decode(const char *s, mc_buf *out);
/* true if S is a non-empty base64url string of at most MAXLEN characters */
int mc_b64url_valid(const char *s, size_t maxlen);

#endif
