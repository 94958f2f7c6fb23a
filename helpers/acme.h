/*
 * acme - the RFC 8555 client: directory, nonces, account, orders.
 *
 * One mc_acme per run holds the directory, the account and a pool of
 * nonces, shared by worker threads.  Each worker has an mc_acme_conn (its own
 * keep-alive HTTP handle).  Every ACME problem document becomes an error
 * "TYPE: DETAIL"; badNonce is retried with the fresh nonce, a bounded number
 * of times.
 */
#ifndef MC_ACME_H
#define MC_ACME_H

#include <pthread.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "conf.h"
#include "err.h"
#include "http.h"
#include "http01.h"

#define MC_NONCE_POOL 64

typedef struct mc_acme {
	const mc_config *cfg;
	char *dir_url;
	char *u_nonce, *u_account, *u_order, *u_revoke, *u_keychange, *u_renewal;
	char *tos;
	int eab_required;
	json_t *profiles;
	EVP_PKEY *akey;
	char *kid;
	char *thumbprint;
	char account_dir[4096];
	pthread_mutex_t lock;
	char *nonces[MC_NONCE_POOL];
	size_t nnonces;
	mc_http01 *http01;     /* NULL when webroot is used */
	struct mc_tlsalpn *tlsalpn; /* NULL when no host uses tls-alpn-01 */
	long poll_deadline_s;  /* overall limit for one authorization or order */
} mc_acme;

typedef struct mc_acme_conn {
	mc_acme *a;
	mc_http http;
} mc_acme_conn;

/* fetch the directory and load or register the account */
int mc_acme_open(mc_acme *a, const mc_config *cfg, mc_err *e);
void mc_acme_close(mc_acme *a);

int mc_acme_conn_init(mc_acme_conn *c, mc_acme *a, mc_err *e);
void mc_acme_conn_free(mc_acme_conn *c);

/* a signed POST (PAYLOAD NULL: POST-as-GET); problems become errors */
int mc_acme_post(mc_acme_conn *c, const char *url, const char *payload, const char *accept,
		 mc_http_resp *r, mc_err *e);

/*
 * Order, authorize, finalize and download a certificate for NAMES with KEY.
 * CHAIN is leaf first; CERT_URL is where it was downloaded from.
 */
int mc_acme_issue(mc_acme_conn *c, const char *host, char *const *names, size_t nnames,
		  mc_challenge challenge, EVP_PKEY *key, STACK_OF(X509) **chain, char **cert_url,
		  mc_err *e);

/* "TYPE: DETAIL" of a problem document body, or NULL when it is not one */
char *mc_acme_problem(const char *body, size_t len);

#endif
