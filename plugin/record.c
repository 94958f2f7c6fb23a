/*
 * record - write milter.json atomically.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "loaded.h"
#include "mta.h"
#include "record.h"
#include "resume.h"
#include "served.h"
#include "timefmt.h"
#include "storepath.h"

static json_t *time_or_null(time_t t)
{
	char buf[MC_TIMEFMT_LEN];

	if (!t)
		return json_null();
	mc_time_format(t, buf);
	return json_string(buf);
}

/* what the last served check found for H's loaded set; probes of an earlier
 * set say nothing about this one */
static json_t *served_json(const loader *l, const mh_host *h)
{
	json_t *arr = json_array(), *v;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(l->served, "hosts"), h->dir), i, v)
		if (ms_entry_current(v, h))
			json_array_append(arr, v);
	return arr;
}

static json_t *host_json(const loader *l, const mh_host *h)
{
	json_t *o = json_object(), *names = json_array(), *loaded = json_object();
	size_t i;
	int m;

	for (i = 0; h->names && h->names[i]; i++)
		json_array_append_new(names, json_string(h->names[i]));
	/* a time only while this host's current set is the one live in that MTA: a
	 * set still pending for it (its reload has not happened or failed) has none */
	for (m = 0; m < MTA_N; m++)
		if (l->mta[m].enabled)
			json_object_set_new(loaded, mta_names[m],
					    time_or_null((h->pending & (1u << m)) ? 0 : h->loaded[m]));
	json_object_set_new(o, "names", names);
	json_object_set_new(o, "serial", h->file[0] ? json_string(h->serial) : json_null());
	json_object_set_new(o, "gen", h->file[0] && h->gen[0] ? json_string(h->gen) : json_null());
	json_object_set_new(o, "file", h->file[0] ? json_string(h->file) : json_null());
	json_object_set_new(o, "not_after", h->file[0] ? time_or_null(h->not_after) : json_null());
	json_object_set_new(o, "loaded", loaded);
	json_object_set_new(o, "load_error", h->error ? json_string(h->error) : json_null());
	json_object_set_new(o, "load_error_time", time_or_null(h->error ? h->error_time : 0));
	json_object_set_new(o, "served", served_json(l, h));
	return o;
}

int record_write(const loader *l, json_t *listeners, time_t started, mc_err *e)
{
	char dir[PATH_MAX];
	json_t *doc = json_object(), *hosts = json_object(), *mta = json_object();
	const mh_host *def = mh_default(&l->hosts, l->cfg->default_host);
	char *text;
	size_t i;
	int m, rc;

	for (i = 0; i < l->hosts.n; i++)
		json_object_set_new(hosts, l->hosts.v[i].dir, host_json(l, &l->hosts.v[i]));
	for (m = 0; m < MTA_N; m++) {
		const mta_state *s = &l->mta[m];
		if (!s->enabled)
			continue;
		json_object_set_new(mta, mta_names[m],
				    json_pack("{s:o, s:o, s:o, s:i, s:o, s:s}", "last_reload",
					      time_or_null(s->last_reload), "last_error",
					      s->last_error ? json_string(s->last_error) : json_null(),
					      "last_error_time", time_or_null(s->last_error_time),
					      "failures", s->failures, "next_retry",
					      time_or_null((s->dirty || s->reload) ? s->next_try : 0),
					      "instance", resume_instance(l->cfg, m)));
	}
	json_object_set_new(doc, "version", json_integer(1));
	json_object_set_new(doc, "pid", json_integer((json_int_t)getpid()));
	json_object_set_new(doc, "started", time_or_null(started));
	json_object_set_new(doc, "updated", time_or_null(mc_now()));
	json_object_set_new(doc, "default_host", def ? json_string(def->dir) : json_null());
	json_object_set_new(doc, "hosts", hosts);
	json_object_set_new(doc, "mta", mta);
	if (l->served) {
		json_t *round = json_deep_copy(l->served);
		json_object_del(round, "hosts");
		json_object_set_new(doc, "served", round);
	} else {
		json_object_set_new(doc, "served", json_null());
	}
	json_object_set_new(doc, "listeners_since", time_or_null(started));
	json_object_set_new(doc, "listeners", listeners ? json_incref(listeners) : json_object());
	text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		return mc_err_set(e, "milter.json: cannot encode");
	mc_store_area_path(l->store, MC_AREA_RUN, NULL, dir, sizeof dir);
	/* STORE/run only, not its parents: a store that was removed stays removed */
	rc = 0;
	if (mkdir(dir, 0755) == 0)
		chmod(dir, 0755);
	else if (errno != EEXIST)
		rc = mc_err_set(e, "mkdir %s: %s", dir, strerror(errno));
	if (rc == 0)
		rc = mc_file_write_atomic(dir, MC_LOADED_FILE, text, strlen(text), 0644, (gid_t)-1, e);
	free(text);
	return rc;
}
