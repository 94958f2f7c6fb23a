/*
 * state - what `mailcert status` reports about one host, kept as
 * STORE/certs/HOST/state.json.  Field names are part of the interface.
 */
#ifndef MC_STATE_H
#define MC_STATE_H

#include <time.h>

#include <jansson.h>

#include "err.h"

/* one validation the CA failed, for the validation budget */
typedef struct mc_valfail {
	char name[256];       /* as ordered: "*." for a wildcard */
	time_t when;
} mc_valfail;

#define MC_VALFAIL_BUDGET 3     /* failed validations per name ... */
#define MC_VALFAIL_WINDOW 3600  /* ... within this many seconds, then the CA is not asked */
#define MC_VALFAIL_MAX 256      /* kept in state.json at most */

typedef struct mc_state {
	char host[256];
	char **names;         /* NULL-terminated */
	char source[32];      /* acme | manual | self-signed | import */
	int has_cert;
	char serial[130];
	char issuer[512];
	time_t not_before;
	time_t cert_expiration_time;
	time_t renewal_time;
	time_t last_success_time;
	time_t last_failure_time;
	char *last_failure_error_message;
	time_t next_retry_time;
	int failures;         /* consecutive failures, for backoff */
	char *cert_url;       /* ACME certificate URL (for revocation, ARI) */
	char failure_config[65]; /* mc_config_host_digest when the failure happened */
	/* ACME Renewal Information (RFC 9773), and who ordered the certificate */
	char ari_cert_id[161];        /* the certificate's certID, "" when it has none */
	time_t ari_window_start;      /* the CA's suggested window (0: none known) */
	time_t ari_window_end;
	time_t ari_renewal_time;      /* picked at random inside it, kept until it changes */
	time_t ari_next_check_time;   /* when to ask the CA again */
	time_t staging_passed_time;   /* test_on_staging: when the staging CA issued for it */
	time_t failing_since_time;    /* the first failure since the last success (0: not failing) */
	char *ari_explanation_url;
	char *account_url;            /* the ACME account that ordered the certificate */
	char *directory_url;          /* and its directory */
	/* the host key (DANE, RFC 7672): SPKI SHA-256 digests in lower-case hex, "" when unknown */
	char key_spki_sha256[65];     /* the installed key */
	char next_key_spki_sha256[65];/* key_rollover "announce": the next key */
	char key_rollover_state[16];  /* "" | waiting | ready | switched */
	time_t next_key_created_time;
	time_t next_key_tlsa_seen_time; /* its TLSA records first seen at the resolver (0: not seen) */
	time_t next_key_ready_time;   /* from then on the next renewal switches to it */
	time_t key_switched_time;     /* the last switch to an announced key */
	char key_rollover_note[512];  /* why the current key is kept, "" when nothing to say */
	mc_valfail *valfail;  /* failed validations of the last MC_VALFAIL_WINDOW seconds */
	size_t nvalfail;
	/* mailcert revoke: when the current certificate was revoked and why (RFC 5280 name) */
	time_t revoked_time;
	char revocation_reason[32];
	/* SHA-256 (hex) of the SubjectPublicKeyInfo of every key revoked as compromised:
	 * never to be used again for this host (NULL-terminated, or NULL) */
	char **key_compromised;
} mc_state;

void mc_state_init(mc_state *s);
void mc_state_free(mc_state *s);
void mc_state_set_error(mc_state *s, const char *msg);
json_t *mc_state_to_json(const mc_state *s);
int mc_state_from_json(json_t *j, mc_state *s, mc_err *e);
/* record a failed validation of NAME at NOW (older ones past the window are dropped) */
void mc_state_add_valfail(mc_state *s, const char *name, time_t now);
/*
 * How many validations of NAME failed within the window before NOW; when that
 * is the budget or more, *UNTIL is when the oldest of them leaves the window.
 */
int mc_state_valfail_count(const mc_state *s, const char *name, time_t now, time_t *until);
/* 1 when the key with SPKI digest SPKI_HEX was revoked as compromised */
int mc_state_key_compromised(const mc_state *s, const char *spki_hex);
/* record it */
void mc_state_add_key_compromised(mc_state *s, const char *spki_hex);
/* read PATH; a missing file gives an empty state and returns 1 */
int mc_state_load(const char *path, mc_state *s, mc_err *e);

#endif
