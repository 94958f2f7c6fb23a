/*
 * aia - fetch a missing issuer certificate from the caIssuers URL in a
 * certificate's Authority Information Access extension (RFC 5280 4.2.2.1),
 * for `mailcert import --fetch-intermediates`.
 */
#ifndef MC_AIA_H
#define MC_AIA_H

#include <openssl/x509.h>

#include "err.h"
#include "xalloc.h"

#define MC_AIA_MAX_BYTES (256 * 1024) /* one certificate or a small PKCS#7 bundle */
#define MC_AIA_TIMEOUT_S 20           /* the whole fetch, redirects included */

/* the http:// and https:// caIssuers URLs of X; NULL-terminated (maybe empty) */
char **mc_aia_urls(X509 *x);
/* GET URL (http or https only, at most 3 redirects, bounded in size and time) */
int mc_aia_fetch(const char *url, mc_buf *out, mc_err *e);

#endif
