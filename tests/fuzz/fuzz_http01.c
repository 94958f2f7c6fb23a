/*
 * fuzz_http01 - request heads as the http-01 responder sees them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "fuzz.h"
#include "http01.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *req = mc_strndup((const char *)data, size);
	char token[MC_TOKEN_MAX + 1];
	int head, st = mc_http01_parse_request(req, token, sizeof token, &head);

	/* a 200 always carries a token that is safe to look up */
	if (st == 200 && !mc_b64url_valid(token, MC_TOKEN_MAX))
		__builtin_trap();
	if (st != 200 && token[0])
		__builtin_trap();
	free(req);
	return 0;
}
