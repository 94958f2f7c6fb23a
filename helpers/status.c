/*
 * status - reads each host's state.json (and the certificate when state is
 * missing) and prints it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "issue.h"
#include "loaded.h"
#include "status.h"
#include "store.h"
#include "timefmt.h"
#include "xalloc.h"

static int in_error(const mc_state *st)
{
	return st->last_failure_error_message != NULL;
}

/* fills ST's defaults and checks has_cert against the store, then the JSON */
static json_t *host_json(const mc_config *cfg, const mc_host *h, mc_state *st, json_t *loaded)
{
	json_t *j;

	mc_issue_state_defaults(st, h);
	st->has_cert = st->has_cert && mc_store_has_cert(cfg->store, h->dir);
	j = mc_state_to_json(st);
	mc_loaded_annotate(j, loaded, h->dir);
	return j;
}

static void fmt_time(time_t t, char *out)
{
	if (t)
		mc_time_format(t, out);
	else
		snprintf(out, MC_TIMEFMT_LEN, "-");
}

int mc_status(mc_config *cfg, char *const *hosts, int nhosts, int flags)
{
	json_t *arr = json_array(), *loaded = mc_loaded_read(cfg->store);
	size_t i;
	int any_error = 0, k;

	if (!(flags & MC_STATUS_JSON))
		printf("%-32s %-5s %-21s %-11s %s\n", "HOST", "CERT", "EXPIRES", "SOURCE", "STATUS");
	for (i = 0; i < cfg->nhosts; i++) {
		const mc_host *h = &cfg->hosts[i];
		const char *refused;
		mc_state st;
		mc_err e;
		json_t *j;
		int wanted = !hosts;

		for (k = 0; hosts && k < nhosts; k++)
			if (mc_config_find_host(cfg, hosts[k]) == h)
				wanted = 1;
		if (!wanted)
			continue;
		if (mc_store_state_load(cfg->store, h->dir, &st, &e) < 0) {
			mc_state_init(&st);
			mc_state_set_error(&st, e.msg);
		}
		j = host_json(cfg, h, &st, loaded);
		/* what the milter says about this host: a refused set is an error too */
		refused = json_string_value(json_object_get(j, "load_error"));
		if (in_error(&st) || refused)
			any_error = 1;
		if ((flags & MC_STATUS_ONLY_ERRORS) && !in_error(&st) && !refused) {
			json_decref(j);
		} else if (flags & MC_STATUS_JSON) {
			json_array_append_new(arr, j);
		} else {
			char exp[MC_TIMEFMT_LEN], fail[MC_TIMEFMT_LEN], retry[MC_TIMEFMT_LEN];

			fmt_time(st.has_cert ? st.cert_expiration_time : 0, exp);
			printf("%-32s %-5s %-21s %-11s ", h->name, st.has_cert ? "yes" : "no", exp, st.source);
			if (in_error(&st)) {
				fmt_time(st.last_failure_time, fail);
				fmt_time(st.next_retry_time, retry);
				printf("error at %s, retry %s: %s\n", fail, retry, st.last_failure_error_message);
			} else if (refused) {
				printf("refused by mailcert-milter: %s\n", refused);
			} else {
				printf("%s\n", st.has_cert ? "ok" : "no certificate yet");
			}
			json_decref(j);
		}
		mc_state_free(&st);
	}
	if (flags & MC_STATUS_JSON) {
		json_t *doc = json_pack("{s:o,s:o}", "hosts", arr, "listeners", mc_loaded_listeners(loaded));
		char *s = json_dumps(doc, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(doc);
	} else {
		json_decref(arr);
	}
	json_decref(loaded);
	return any_error;
}
