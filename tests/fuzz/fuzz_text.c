/*
 * fuzz_text - small text parsers: hostnames (config, SAN lists, directory
 * names), RFC 3339 times, base64url, and state.json.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "b64url.h"
#include "fuzz.h"
#include "hostname.h"
#include "state.h"
#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = mc_strndup((const char *)data, size);
	char out[MC_HOSTNAME_MAX + 1], dir[MC_HOSTNAME_MAX + 16], back[MC_HOSTNAME_MAX + 1];
	mc_buf b;
	time_t t;
	json_t *j;

	if (mc_hostname_check(s, 1, out, NULL) == 0) {
		/* what passes never escapes a directory and round-trips */
		if (strchr(out, '/') || strstr(out, ".."))
			__builtin_trap();
		mc_hostname_dirname(out, dir, sizeof dir);
		if (mc_hostname_from_dirname(dir, back, sizeof back) != 0 || strcmp(back, out) != 0)
			__builtin_trap();
	}
	mc_time_parse(s, &t);
	mc_buf_init(&b);
	if (mc_b64url_decode(s, &b) == 0) {
		char *again = mc_b64url_encode(b.data ? b.data : "", b.len);
		if (strcmp(again, s) != 0 && strlen(s) % 4 != 1) {
			/* non-canonical trailing bits may decode; they must not grow */
			if (strlen(again) != strlen(s))
				__builtin_trap();
		}
		free(again);
	}
	mc_buf_free(&b);
	j = json_loadb((const char *)data, size, 0, NULL);
	if (j) {
		mc_state st;
		mc_state_from_json(j, &st, NULL);
		json_decref(mc_state_to_json(&st));
		mc_state_free(&st);
		json_decref(j);
	}
	free(s);
	return 0;
}
