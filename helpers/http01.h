/*
 * http01 - the built-in http-01 responder (RFC 8555 section 8.3).
 *
 * A child process, running as "nobody", serves
 * GET /.well-known/acme-challenge/TOKEN on every http01.listen address,
 * answering only the tokens of challenges in progress.  Requests are bounded in size (4 KiB) and time (10 s); token
 * syntax is checked before lookup.  All connections are served by one
 * poll(2) loop; at most MC_HTTP01_MAX_CLIENTS are held, and a new one
 * evicts the connection idle the longest, so idle clients never delay a
 * validator.  The webroot alternative writes
 * WEBROOT/.well-known/acme-challenge/TOKEN instead, never following a
 * symbolic link below WEBROOT.
 */
#ifndef MC_HTTP01_H
#define MC_HTTP01_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define MC_TOKEN_MAX 256
#define MC_HTTP01_MAX_CLIENTS 1024 /* connections held at once */

typedef struct mc_http01 mc_http01;

/*
 * Parse a request head (NUL-terminated, "\r\n\r\n" seen).  Returns 200 with
 * TOKEN filled for GET/HEAD of a well-formed challenge path, else the status
 * to answer: 400 malformed, 405 other method, 404 other path or bad token.
 */
int mc_http01_parse_request(const char *req, char *token, size_t tokenlen, int *head);

/* bind, fork the responder and wait until it serves; WIPE(ARG) runs in the child
 * first, to erase secrets it must not keep (may be NULL) */
int mc_http01_start(char *const *listen, size_t nlisten, void (*wipe)(void *), void *wipe_arg,
		    mc_http01 **out, mc_err *e);
/* fails when the responder is gone */
int mc_http01_add(mc_http01 *h, const char *token, const char *keyauth, mc_err *e);
/* the responder's process id, for logs and tests */
pid_t mc_http01_pid(const mc_http01 *h);
void mc_http01_remove(mc_http01 *h, const char *token);
void mc_http01_stop(mc_http01 *h);

/* write WEBROOT/.well-known/acme-challenge/TOKEN; a symbolic link at
 * .well-known or acme-challenge is refused (the docroot's owner may not be root) */
int mc_webroot_add(const char *webroot, const char *token, const char *keyauth, mc_err *e);
void mc_webroot_remove(const char *webroot, const char *token);

#endif
