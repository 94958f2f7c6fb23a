/*
 * loaded - read STORE/run/milter.json and fold it into status output.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "loaded.h"
#include "timefmt.h"
#include "xalloc.h"
#include "storepath.h"

json_t *mc_loaded_read(const char *store)
{
	char path[PATH_MAX];
	json_t *j;

	mc_store_area_path(store, MC_AREA_RUN, MC_LOADED_FILE, path, sizeof path);
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
	/* what the listeners served for the loaded set, when that is the current one */
	json_object_set_new(host_obj, "served",
			    current && json_is_array(json_object_get(h, "served")) ?
				    json_deep_copy(json_object_get(h, "served")) : json_array());
}

/* append MSG (taken) to the NULL-terminated list *V */
static void strv_push(char ***v, char *msg)
{
	size_t n = 0;

	while (*v && (*v)[n])
		n++;
	*v = mc_realloc(*v, (n + 2) * sizeof **v);
	(*v)[n] = msg;
	(*v)[n + 1] = NULL;
}

/* an entry the plugin found ok, judged again at NOW: the leaf it recorded may
 * have expired since the probe (nobody renewed it, no reload followed) */
static void rejudge(json_t *v, time_t now)
{
	const char *serial = json_string_value(json_object_get(v, "serial"));
	const char *nb = json_string_value(json_object_get(v, "not_before"));
	const char *na = json_string_value(json_object_get(v, "not_after"));
	const char *res = json_string_value(json_object_get(v, "result"));
	time_t t;

	if (!res || strcmp(res, "ok") != 0)
		return;
	if (na && mc_time_parse(na, &t) == 0 && now >= t) {
		json_object_set_new(v, "result", json_string("expired"));
		json_object_set_new(v, "detail", json_sprintf("serves serial %s, expired at %s",
							      serial ? serial : "?", na));
	} else if (nb && mc_time_parse(nb, &t) == 0 && now < t) {
		json_object_set_new(v, "result", json_string("not-yet-valid"));
		json_object_set_new(v, "detail", json_sprintf("serves serial %s, not valid before %s",
							      serial ? serial : "?", nb));
	}
}

char *mc_loaded_problem_text(const char *host, json_t *v)
{
	const char *res = json_string_value(json_object_get(v, "result"));
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *label = json_string_value(json_object_get(v, "listener"));
	const char *detail = json_string_value(json_object_get(v, "detail"));
	const char *what = NULL;

	host = host ? host : "?";
	label = label ? label : "?";
	res = res ? res : "?";
	if (strcmp(res, "mismatch") == 0)
		what = "the wrong certificate";
	else if (strcmp(res, "expired") == 0)
		what = "an expired certificate";
	else if (strcmp(res, "not-yet-valid") == 0)
		what = "a certificate not valid yet";
	else if (strcmp(res, "wrong-name") == 0)
		what = "a certificate for another name";
	if (what)
		return mc_asprintf("%s: %s serves %s for %s: %s", host, label, what,
				   name ? name : "clients without SNI", detail ? detail : "");
	return mc_asprintf("%s: %s, %s: %s%s%s", host, label, name ? name : "without SNI", res,
			   detail ? ": " : "", detail ? detail : "");
}

const char *mc_loaded_served(json_t *host_obj, char ***problems, time_t now)
{
	json_t *arr = json_object_get(host_obj, "served"), *v;
	const char *host = json_string_value(json_object_get(host_obj, "host"));
	const char *word = NULL;
	size_t i;

	json_array_foreach(arr, i, v) {
		const char *res;

		rejudge(v, now);
		res = json_string_value(json_object_get(v, "result"));
		if (!res || strcmp(res, "ok") == 0)
			continue;
		if (!word)
			word = res;
		if (problems)
			strv_push(problems, mc_loaded_problem_text(host, v));
	}
	if (word)
		return word;
	return json_array_size(arr) ? "ok" : "-";
}

void mc_loaded_served_errors(json_t *loaded_doc, char ***problems)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(loaded_doc, "served"), "errors"), i, v)
		if (json_is_string(v))
			strv_push(problems, mc_asprintf("mailcert-milter could not check what is served: %s",
							   json_string_value(v)));
}

/* RES is worse than the result kept so far (*KEPT): anything but ok is */
static int worse(const char *res, const char *kept)
{
	return res && (!kept || (strcmp(kept, "ok") == 0 && strcmp(res, "ok") != 0));
}

/* the latest probe of LABEL in the hosts' "served" arrays of LOADED_DOC, and its
 * worst result, into O */
static void probe_of(json_t *loaded_doc, const char *label, json_t *o)
{
	json_t *hosts = json_object_get(loaded_doc, "hosts"), *h, *v;
	const char *dir, *when = NULL, *res = NULL;
	time_t latest = 0, t;
	size_t i;

	json_object_foreach(hosts, dir, h) {
		json_array_foreach(json_object_get(h, "served"), i, v) {
			const char *l = json_string_value(json_object_get(v, "listener"));
			const char *tv = json_string_value(json_object_get(v, "time"));
			const char *r = json_string_value(json_object_get(v, "result"));
			if (!l || strcmp(l, label) != 0 || !tv || mc_time_parse(tv, &t) < 0)
				continue;
			if (!when || t > latest) {
				when = tv;
				latest = t;
			}
			if (worse(r, res))
				res = r;
		}
	}
	json_object_set_new(o, "probed", when ? json_string(when) : json_null());
	json_object_set_new(o, "result", res ? json_string(res) : json_null());
}

json_t *mc_loaded_probes(json_t *loaded_doc)
{
	json_t *served = json_object_get(loaded_doc, "served"), *arr = json_array(), *v;
	size_t i;

	json_array_foreach(json_object_get(served, "listeners"), i, v) {
		json_t *o;
		if (!json_is_string(v))
			continue;
		o = json_pack("{s:O}", "listener", v);
		probe_of(loaded_doc, json_string_value(v), o);
		json_array_append_new(arr, o);
	}
	return json_pack("{s:o, s:o}", "time", str_or_null(json_object_get(served, "time")), "listeners", arr);
}

json_t *mc_loaded_listeners(json_t *loaded_doc)
{
	json_t *l = json_object_get(loaded_doc, "listeners");

	return json_is_object(l) ? json_incref(l) : json_object();
}

int mc_loaded_milter_running(json_t *loaded_doc)
{
	json_t *pidv = json_object_get(loaded_doc, "pid");
	char path[64], comm[64];
	json_int_t pid;
	FILE *f;
	int alive;

	if (!json_is_integer(pidv))
		return 0;
	pid = json_integer_value(pidv);
	if (pid <= 1 || pid > INT_MAX)
		return 0;
	alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
	if (!alive)
		return 0;
	/* a pid reused by another program is not the plugin */
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 1; /* no /proc to ask: the pid is alive */
	if (!fgets(comm, sizeof comm, f))
		comm[0] = '\0';
	fclose(f);
	/* memcheck: the plugin under valgrind in the tests */
	return strncmp(comm, "mailcert-milter", 15) == 0 || strncmp(comm, "memcheck", 8) == 0;
}

json_t *mc_loaded_milter_json(json_t *loaded_doc, int running)
{
	json_t *pidv = json_object_get(loaded_doc, "pid");

	return json_pack("{s:b, s:o, s:o}", "running", running, "pid",
			 json_is_integer(pidv) ? json_incref(pidv) : json_null(), "updated",
			 str_or_null(json_object_get(loaded_doc, "updated")));
}

static const char *const mta_keys[MC_LOADED_MTAS] = { "postfix", "dovecot", "sendmail", "exim" };

/* the reason MTA M is not loading anything: its failing reload, or NULL */
static int mta_failing(json_t *loaded_doc, int m, const char **err, const char **since)
{
	json_t *s = json_object_get(json_object_get(loaded_doc, "mta"), mta_keys[m]);

	*err = json_string_value(json_object_get(s, "last_error"));
	*since = json_string_value(json_object_get(s, "last_error_time"));
	return *err != NULL && json_integer_value(json_object_get(s, "failures")) > 0;
}

static void set_load_error(json_t *host_obj, const char *msg, const char *when, time_t now)
{
	char buf[MC_TIMEFMT_LEN];

	if (!when) {
		mc_time_format(now, buf);
		when = buf;
	}
	json_object_set_new(host_obj, "load_error", json_string(msg));
	json_object_set_new(host_obj, "load_error_time", json_string(when));
}

int mc_loaded_judge(json_t *host_obj, json_t *loaded_doc, const int enabled[MC_LOADED_MTAS], int is_default,
		    int running, time_t installed, time_t now)
{
	json_t *lo = json_object_get(host_obj, "loaded");
	char msg[1024];
	const char *missing = NULL, *err = NULL, *since = NULL;
	int m, any = 0;

	if (!json_is_true(json_object_get(host_obj, "has_cert")))
		return MC_LOAD_NONE;
	for (m = 0; m < MC_LOADED_MTAS; m++) {
		if (!enabled[m] || (m == MC_LOADED_SENDMAIL && !is_default))
			continue;
		any = 1;
		if (json_is_string(json_object_get(lo, mta_keys[m])))
			continue;
		if (!missing)
			missing = mta_keys[m];
		if (!err && mta_failing(loaded_doc, m, &err, &since))
			missing = mta_keys[m];
	}
	if (!any)
		return MC_LOAD_NONE;
	if (json_is_string(json_object_get(host_obj, "load_error")))
		return MC_LOAD_ERROR; /* the plugin refused the current set */
	if (!missing)
		return MC_LOAD_OK;
	if (err) {
		snprintf(msg, sizeof msg, "not loaded into %s: its reload is failing: %s", missing, err);
		set_load_error(host_obj, msg, since, now);
		return MC_LOAD_ERROR;
	}
	if (!running) {
		snprintf(msg, sizeof msg, "not loaded into %s: mailcert-milter is not running", missing);
		set_load_error(host_obj, msg, NULL, now);
		return MC_LOAD_ERROR;
	}
	if (installed && now - installed < MC_LOAD_GRACE_S)
		return MC_LOAD_PENDING;
	if (installed) {
		char t[MC_TIMEFMT_LEN];

		mc_time_format(installed, t);
		snprintf(msg, sizeof msg, "not loaded into %s, although installed at %s", missing, t);
	} else {
		snprintf(msg, sizeof msg, "not loaded into %s: mailcert-milter has not taken the current set",
			 missing);
	}
	set_load_error(host_obj, msg, NULL, now);
	return MC_LOAD_ERROR;
}
