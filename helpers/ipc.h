/*
 * ipc - the messages between mailcert's three processes, and their framing.
 *
 *   store  (root, the parent)   the store, state, challenge transports
 *   net    (unprivileged)       libcurl, the CA's answers, the ACME state machine
 *   key    (no network)         the account key, host keys, CSRs, signatures
 *
 * Every process talks to each other one over socketpairs: per worker slot one
 * store-net, one store-key and one net-key pair, plus a control pair
 * store-net and net-key for the account set-up.  A message is
 *
 *   u32 type, u32 nfields, u32 body length, then nfields times (u32 length, bytes)
 *
 * in host byte order (both ends are this binary).  Every field is text with
 * no NUL.  The receiver names the types it answers; anything else, a field
 * count or length outside the type's bounds, or end-of-file in the middle,
 * is an error, and end-of-file between messages says the peer is gone.
 * What each process answers (request -> reply):
 *
 * key process
 *   from net:   JWK ()                                    -> JWK_OK (alg, jwk, thumbprint)
 *               SIGN (kid or "", nonce, url, payload)      -> JWS (flattened JWS) | ERR
 *               EAB (url)                                  -> JWS | ERR
 *               ROLLOVER (kid, nonce, keyChange url)       -> JWS | ERR: the key process makes the
 *                 next account key (same type), writes it to key.pem.next and signs the
 *                 keyChange request (RFC 8555 section 7.3.5) it builds itself: the inner JWS
 *                 {account, oldKey} with the next key, the outer with the current one
 *   from store: KEYGEN (type, name...)                     -> KEY (key PEM, CSR base64url) | ERR
 *               SELFSIGNED (type, days, name...)           -> KEY (key PEM, certificate PEM) | ERR
 *               REUSE (key PEM, days or "", name...)       -> KEY ("", CSR base64url, or with days
 *                                                            the self-signed certificate PEM) | ERR
 *                 (key_reuse: the store's own key, the installed or the announced next one)
 *               ROLLOVER_END ("commit" | "abort" | "finish") -> OK | ERR: commit makes the next key
 *                 the account key (key.pem, the old one kept as key.pem.old), abort forgets it,
 *                 finish removes key.pem.old once the CA accepted a request signed with the new key
 * net process
 *   from store: ISSUE (host, challenge, CSR base64url, replaces certID or "", name...)
 *                 -> any number of PROVISION / DEPROVISION, then DONE | FAIL
 *               ARI (certID)                              -> ARI_OK (start, end, explanationURL or "",
 *                                                            seconds until the next check) | NOARI () | ERR
 *                 (start and end in seconds since the epoch; NOARI: the CA has no renewalInfo)
 *               ACCT_GET () | ACCT_DEACTIVATE () | ACCT_ROLLOVER ()
 *                 -> ACCT_INFO (account URL, status, contact, key alg, thumbprint) | ERR
 *                 (ACCT_ROLLOVER answers once the CA accepted the key change, before any switch)
 *               REVOKE (certificate DER base64url, reason code or "")  -> OK | ERR
 * store process
 *   from net (control):  ACCOUNT (url, contact)            -> OK | ERR
 *                        READY () | NOACME (reason)         (once, at start)
 *                        STATS (requests, connections)      (once, at the end)
 *   from net (in ISSUE): PROVISION (type, identifier, token, keyauth) -> OK | ERR
 *                        DEPROVISION (type, identifier, token)        -> OK
 *                        DONE (chain PEM, certificate URL)
 *                        | FAIL (reason[, Retry-After seconds of a rateLimited problem or "",
 *                          name...]): the names are those whose validation the CA failed,
 *                          for the validation budget (a failed self-check has none)
 */
#ifndef MC_IPC_H
#define MC_IPC_H

#include <stddef.h>

#include "err.h"

enum mc_msg_type {
	MC_MSG_NONE = 0,
	MC_MSG_JWK,
	MC_MSG_SIGN,
	MC_MSG_EAB,
	MC_MSG_KEYGEN,
	MC_MSG_SELFSIGNED,
	MC_MSG_ISSUE,
	MC_MSG_ACCOUNT,
	MC_MSG_READY,
	MC_MSG_NOACME,
	MC_MSG_STATS,
	MC_MSG_PROVISION,
	MC_MSG_DEPROVISION,
	MC_MSG_DONE,
	MC_MSG_FAIL,
	MC_MSG_OK,
	MC_MSG_ERR,
	MC_MSG_JWK_OK,
	MC_MSG_JWS,
	MC_MSG_KEY,
	MC_MSG_ARI,
	MC_MSG_ARI_OK,
	MC_MSG_NOARI,
	MC_MSG_REUSE,
	MC_MSG_ROLLOVER,
	MC_MSG_ROLLOVER_END,
	MC_MSG_ACCT_GET,
	MC_MSG_ACCT_DEACTIVATE,
	MC_MSG_ACCT_ROLLOVER,
	MC_MSG_ACCT_INFO,
	MC_MSG_REVOKE,
	MC_MSG_NTYPES
};

#define MC_MSG_NAMES_MAX 100     /* names in one certificate */
#define MC_MSG_FIELD_MAX 4096    /* an ordinary field: a URL, a name, a reason */
#define MC_MSG_BIG_MAX (1024 * 1024 + 65536) /* a chain, a JWS, a key */

typedef struct mc_msg {
	int type;
	size_t n;
	char **f;     /* N NUL-terminated fields */
	size_t *len;
} mc_msg;

/* PEER names the other process in errors ("network", "key", "store") */
int mc_ipc_send(int fd, const char *peer, int type, char *const *fields, size_t n, mc_err *e);
/* the same with the fields as arguments, ended by NULL */
int mc_ipc_sendl(int fd, const char *peer, mc_err *e, int type, ...);
/*
 * Read one message whose type is in ACCEPT (ended by MC_MSG_NONE) and whose
 * fields are within that type's bounds.  -1 with E saying so otherwise;
 * *EOF (may be NULL) is set to 1 when the peer closed between messages.
 */
int mc_ipc_recv(int fd, const char *peer, const int *accept, mc_msg *m, int *eof, mc_err *e);
void mc_msg_free(mc_msg *m);
/* wipe, then free: for messages that carried a private key */
void mc_msg_cleanse(mc_msg *m);
const char *mc_msg_name(int type);
/* 1 when S is an https:// URL with no space, control character, quote or backslash
 * (what a message may carry as a URL, and what may go into a JWS header) */
int mc_ipc_https_url(const char *s);

#endif
