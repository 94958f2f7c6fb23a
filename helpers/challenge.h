/*
 * challenge - how the store process serves a challenge the network process
 * asks for: the built-in http-01 responder or the webroot, the dns-01 hook
 * and its propagation check, the tls-alpn-01 responder.  The network process
 * is not trusted: a request is served only for a name of the host being
 * issued, with the challenge type that host is configured for, and with a
 * well-formed token and key authorization.  Every challenge served is
 * remembered, so that whatever happens to the network process it is
 * removed again.
 */
#ifndef MC_CHALLENGE_H
#define MC_CHALLENGE_H

#include <stddef.h>

#include "conf.h"
#include "err.h"
#include "http01.h"
#include "tlsalpn.h"

typedef struct mc_chal_env {
	const mc_config *cfg;
	mc_http01 *http01;   /* NULL: webroot, or no http-01 host */
	mc_tlsalpn *tlsalpn; /* NULL: no tls-alpn-01 host */
} mc_chal_env;

/* the challenges in progress for one host */
typedef struct mc_chal_set {
	const mc_host *host;
	struct mc_chal *items;
	size_t n, cap;
} mc_chal_set;

void mc_chal_set_init(mc_chal_set *s, const mc_host *h);
/* check and serve TYPE ("http-01"...) for IDENTIFIER with TOKEN and KEYAUTH */
int mc_chal_add(const mc_chal_env *env, mc_chal_set *s, const char *type, const char *identifier,
		const char *token, const char *keyauth, mc_err *e);
/* stop serving one (unknown ones are ignored) */
void mc_chal_remove(const mc_chal_env *env, mc_chal_set *s, const char *type, const char *identifier,
		    const char *token);
/* stop serving all that are left, and free S */
void mc_chal_set_free(const mc_chal_env *env, mc_chal_set *s);

#endif
