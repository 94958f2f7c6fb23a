/*
 * pending - keys made by `mailcert csr` that wait for the certificate a
 * third-party CA issues for them.
 *
 *   STORE/pending/          0700 root
 *   STORE/pending/DIR/      0700 root
 *   STORE/pending/DIR/key.pem   the pending private key, 0600 root
 *   STORE/pending/DIR/csr.pem   the CSR made with it (printed again on request)
 *
 * A pending key is never part of the live view (STORE/certs): mailcert-milter
 * and the MTAs do not see it.  `mailcert install` moves it into a published
 * set with mc_store_install and then removes it; a certificate for another
 * key leaves it where it is.
 */
#ifndef MC_PENDING_H
#define MC_PENDING_H

#include <time.h>

#include <openssl/evp.h>

#include "err.h"
#include "xalloc.h"

/* keep KEY and CSR_PEM as DIR's pending key (replacing any earlier one) */
int mc_pending_save(const char *store, const char *dir, EVP_PKEY *key, const char *csr_pem,
		    mc_err *e);
/* DIR's pending key and when it was made; returns 1 (KEY untouched) when there is none */
int mc_pending_load(const char *store, const char *dir, EVP_PKEY **key, time_t *made, mc_err *e);
/* the CSR kept with DIR's pending key */
int mc_pending_csr(const char *store, const char *dir, mc_buf *csr, mc_err *e);
/* forget DIR's pending key (the files are wiped and removed); no key is not an error */
int mc_pending_remove(const char *store, const char *dir, mc_err *e);

#endif
