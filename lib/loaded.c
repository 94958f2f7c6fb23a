/*
 * loaded - read STORE/run/milter.json and fold it into status output.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "fsutil.h"
#include "loaded.h"

json_t *mc_loaded_read(const char *store)
{
	char path[PATH_MAX];
	json_t *j;

	mc_pathf(path, sizeof path, "%s/run/%s", store, MC_LOADED_FILE);
	j = json_load_file(path, 0, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *str_or_null(json_t *v)
{
	return json_is_string(v) ? json_incref(v) : json_null();
}

void mc_loaded_annotate(json_t *host_obj, json_t *loaded_doc, const char *hostdir)
{
	json_t *h = json_object_get(json_object_get(loaded_doc, "hosts"), hostdir);
	json_t *lo = json_object_get(h, "loaded");
	json_t *want = json_object_get(host_obj, "serial");
	json_t *have = json_object_get(h, "serial");
	json_t *out = json_object();
	const char *mta;
	json_t *v;
	int current;

	/* the times describe the loaded set; they only describe this host's
	 * current set when the serials agree */
	current = !json_is_string(want) ||
		  (json_is_string(have) && strcmp(json_string_value(want), json_string_value(have)) == 0);
	json_object_set_new(out, "postfix", json_null());
	json_object_set_new(out, "dovecot", json_null());
	json_object_foreach(lo, mta, v)
		json_object_set_new(out, mta, current ? str_or_null(v) : json_null());
	json_object_set_new(host_obj, "loaded", out);
	json_object_set_new(host_obj, "loaded_serial", str_or_null(have));
	json_object_set_new(host_obj, "load_error", str_or_null(json_object_get(h, "load_error")));
	json_object_set_new(host_obj, "load_error_time",
			    str_or_null(json_object_get(h, "load_error_time")));
}

json_t *mc_loaded_listeners(json_t *loaded_doc)
{
	json_t *l = json_object_get(loaded_doc, "listeners");

	return json_is_object(l) ? json_incref(l) : json_object();
}
