/*
 * fuzz_acme - what a CA sends back: problem documents, response headers
 * (Replay-Nonce, Location, Retry-After, Link), certificate chains and account
 * objects.
 * The first byte picks the parser.
 */
#include "config.h"

#include <string.h>

#include <openssl/x509.h>

#include "acme.h"
#include "fuzz.h"
#include "http.h"
#include "x509chk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text;
	char *copy;

	if (size < 1)
		return 0;
	copy = mc_strndup((const char *)data + 1, size - 1);
	text = copy;
	switch (data[0] % 4) {
	case 0: {
		char *p = mc_acme_problem(text, size - 1);
		if (p && strchr(p, '\n'))
			__builtin_trap(); /* a problem must come out as one line */
		free(p);
		break;
	}
	case 1: {
		mc_http_resp r;
		const char *line = text, *nl;
		mc_http_resp_init(&r);
		while ((nl = strchr(line, '\n')) != NULL) {
			mc_http_parse_header(&r, line, (size_t)(nl - line + 1));
			line = nl + 1;
		}
		mc_http_parse_header(&r, line, strlen(line));
		mc_http_resp_free(&r);
		break;
	}
	case 3: {
		char *status = NULL, *contact = NULL, *p;
		mc_err e;
		if (mc_acme_account_parse(text, strlen(text), &status, &contact, &e) == 0) {
			for (p = status; *p; p++)
				if ((unsigned char)*p < 0x20)
					__builtin_trap(); /* shown on a terminal: no control characters */
			for (p = contact; *p; p++)
				if ((unsigned char)*p < 0x20)
					__builtin_trap();
		}
		free(status);
		free(contact);
		break;
	}
	default: {
		STACK_OF(X509) *chain = NULL;
		EVP_PKEY *key = NULL;
		char *names[] = { (char *)"mail.example.test", NULL };
		mc_err e;
		if (mc_pem_read_certs(text, size - 1, &chain, &e) == 0) {
			mc_pem_read_key(text, size - 1, &key, &e);
			mc_certset_check(key, chain, names, 1, 1800000000, &e);
			sk_X509_pop_free(chain, X509_free);
		}
		EVP_PKEY_free(key);
		break;
	}
	}
	free(copy);
	return 0;
}
