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

#define MC_NONCE_POOL 64

/*
 * What the protocol asks of the processes around it (keys live in the key
 * process, challenges are served by the store process): CTX is the
 * connection's, or mc_acme_open's for the account set-up.
 */
typedef struct mc_acme_ops {
	/* the account key's public JWK thumbprint (the key is loaded or made on first use) */
	char *(*thumbprint)(void *ctx, mc_err *e);
	/* a flattened JWS of PAYLOAD for URL (KID NULL: the JWK is embedded) */
	char *(*sign)(void *ctx, const char *kid, const char *nonce, const char *url,
		      const char *payload, mc_err *e);
	/* the external account binding JWS for URL */
	char *(*eab)(void *ctx, const char *url, mc_err *e);
	/* record the account URL */
	int (*save_account)(void *ctx, const char *url, const char *contact, mc_err *e);
	/* serve (remove) the challenge for IDENTIFIER (no "*.") */
	int (*provision)(void *ctx, mc_challenge type, const char *identifier, const char *token,
			 const char *keyauth, mc_err *e);
	void (*deprovision)(void *ctx, mc_challenge type, const char *identifier, const char *token);
	/* the CA failed the validation of NAME ("*." for a wildcard's): its answer was "invalid" */
	void (*invalid)(void *ctx, const char *name);
	/* the keyChange request for URL (RFC 8555 section 7.3.5), signed by the next and the current key */
	char *(*rollover)(void *ctx, const char *kid, const char *nonce, const char *url, mc_err *e);
} mc_acme_ops;

typedef struct mc_acme {
	const mc_config *cfg;
	char *dir_url;
	char *u_nonce, *u_account, *u_order, *u_revoke, *u_keychange, *u_renewal;
	char *tos;
	int eab_required;
	json_t *profiles;
	json_t *caa_identities; /* meta.caaIdentities (an array of strings), or NULL */
	const mc_acme_ops *ops;
	int have_eab;          /* acme.eab_kid and eab_hmac_key are set (the key process has the key) */
	int only_existing;     /* find the account of the key, never register one (onlyReturnExisting) */
	char *kid;
	char *thumbprint;
	pthread_mutex_t lock;
	char *nonces[MC_NONCE_POOL];
	size_t nnonces;
	long poll_deadline_s;  /* overall limit for one authorization or order */
} mc_acme;

typedef struct mc_acme_conn {
	mc_acme *a;
	mc_http http;
	void *ctx;             /* for OPS */
	long rate_limited;     /* Retry-After (s) of the last rateLimited problem, -1: none */
} mc_acme_conn;

#define MC_ACME_EAB 0x1       /* acme.eab_kid and eab_hmac_key are set */
#define MC_ACME_EXISTING 0x2  /* only find the existing account of the key (account, revoke) */
/* fetch the directory and register (or find) the account; CTX for OPS meanwhile */
int mc_acme_open(mc_acme *a, const mc_config *cfg, const mc_acme_ops *ops, void *ctx, int flags,
		 mc_err *e);
void mc_acme_close(mc_acme *a);

int mc_acme_conn_init(mc_acme_conn *c, mc_acme *a, void *ctx, mc_err *e);
void mc_acme_conn_free(mc_acme_conn *c);

/* a signed POST (PAYLOAD NULL: POST-as-GET); problems become errors */
int mc_acme_post(mc_acme_conn *c, const char *url, const char *payload, const char *accept,
		 mc_http_resp *r, mc_err *e);

/*
 * Order, authorize, finalize with CSR (DER, base64url) and download a
 * certificate for NAMES.  CHAIN is leaf first; CERT_URL is where it was
 * downloaded from.  REPLACES (NULL or ""): the certID of the certificate
 * this one replaces (RFC 9773 section 5); a CA that refuses it gets the
 * order once more without it.  acme.profile must be one the directory offers.
 */
int mc_acme_issue(mc_acme_conn *c, const char *host, char *const *names, size_t nnames,
		  mc_challenge challenge, const char *csr_b64, const char *replaces, STACK_OF(X509) **chain,
		  char **cert_url, mc_err *e);

struct mc_ari_info;
/*
 * GET the CA's renewal information for CERTID: 0 with INFO and RETRY_AFTER
 * (seconds, -1 when the CA sent none), 1 when the directory has no
 * renewalInfo, -1 with E on any error.
 */
int mc_acme_renewal_info(mc_acme_conn *c, const char *certid, struct mc_ari_info *info, long *retry_after,
			 mc_err *e);

/* an account object's status and contact (one line each, no control characters) */
int mc_acme_account_parse(const char *body, size_t len, char **status, char **contact, mc_err *e);
/* the account as the CA has it (POST-as-GET): *STATUS and *CONTACT (", "-joined) */
int mc_acme_account_get(mc_acme_conn *c, char **status, char **contact, mc_err *e);
/* deactivate the account (RFC 8555 section 7.3.6); its new status as above */
int mc_acme_account_deactivate(mc_acme_conn *c, char **status, char **contact, mc_err *e);
/* change the account key (RFC 8555 section 7.3.5): 0 once the CA accepted it */
int mc_acme_key_change(mc_acme_conn *c, mc_err *e);
/* revoke the certificate DER_B64 (base64url); REASON an RFC 5280 code, -1: none given */
int mc_acme_revoke(mc_acme_conn *c, const char *der_b64, int reason, mc_err *e);

/* STORE/accounts/HASH: where the account for directory DIR_URL is kept */
void mc_acme_account_dir(const char *store, const char *dir_url, char *out, size_t outlen);

/* "TYPE: DETAIL" of a problem document body, or NULL when it is not one */
char *mc_acme_problem(const char *body, size_t len);

#endif
