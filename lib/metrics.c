/*
 * metrics - STORE/run/mailcert.prom, for node_exporter's textfile collector.
 *
 * Made from what the store says (each host's state.json) and what
 * mailcert-milter recorded (STORE/run/milter.json), by whichever program has
 * just changed either: mailcert after every run, mailcert-milter after every
 * load. The file is written whole and renamed into place, so the collector
 * never reads half of it; two writers at once each write a complete file.
 * Label values come from validated host names and from milter.json (hostile
 * as far as this file goes): they are escaped as the text format says.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "xalloc.h"
#include "fsutil.h"
#include "loaded.h"
#include "metrics.h"
#include "state.h"
#include "store.h"
#include "storepath.h"
#include "timefmt.h"

/* a label value: backslash, double quote and newline escaped, other controls dropped */
static void label(mc_buf *b, const char *v)
{
	mc_buf_append(b, "\"", 1);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			mc_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			mc_buf_append(b, "\\n", 2);
		else if ((unsigned char)*v >= 0x20 && *v != 0x7f)
			mc_buf_append(b, v, 1);
	}
	mc_buf_append(b, "\"", 1);
}

static void help(mc_buf *b, const char *name, const char *type, const char *text)
{
	mc_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void host_sample(mc_buf *b, const char *name, const char *host, long long v)
{
	mc_buf_printf(b, "%s{host=", name);
	label(b, host);
	mc_buf_printf(b, "} %lld\n", v);
}

static time_t json_time(json_t *v)
{
	time_t t;

	return json_is_string(v) && mc_time_parse(json_string_value(v), &t) == 0 ? t : 0;
}

/* the state of every configured host, loaded once */
struct hostrow {
	const mc_host *h;
	mc_state st;
	int have;
};

static void per_host(mc_buf *b, const struct hostrow *rows, size_t n, json_t *doc)
{
	static const char *const mtas[] = { "postfix", "dovecot", "sendmail", "exim" };
	json_t *hosts = json_object_get(doc, "hosts");
	size_t i, m;

	help(b, "mailcert_certificate_expiry_timestamp_seconds", "gauge",
	     "When the installed certificate of the host expires (absent: none installed).");
	for (i = 0; i < n; i++)
		if (rows[i].have && rows[i].st.has_cert && rows[i].st.cert_expiration_time)
			host_sample(b, "mailcert_certificate_expiry_timestamp_seconds", rows[i].h->name,
				    (long long)rows[i].st.cert_expiration_time);
	help(b, "mailcert_renewal_timestamp_seconds", "gauge", "When the host is due for renewal.");
	for (i = 0; i < n; i++)
		if (rows[i].have && rows[i].st.has_cert && rows[i].st.renewal_time)
			host_sample(b, "mailcert_renewal_timestamp_seconds", rows[i].h->name,
				    (long long)rows[i].st.renewal_time);
	help(b, "mailcert_last_success_timestamp_seconds", "gauge", "When a certificate was last installed.");
	for (i = 0; i < n; i++)
		if (rows[i].have && rows[i].st.last_success_time)
			host_sample(b, "mailcert_last_success_timestamp_seconds", rows[i].h->name,
				    (long long)rows[i].st.last_success_time);
	help(b, "mailcert_consecutive_failures", "gauge", "Failed attempts since the last success.");
	for (i = 0; i < n; i++)
		host_sample(b, "mailcert_consecutive_failures", rows[i].h->name,
			    rows[i].have ? (long long)rows[i].st.failures : 0);
	help(b, "mailcert_host_in_error", "gauge", "1 when the host's last attempt failed.");
	for (i = 0; i < n; i++)
		host_sample(b, "mailcert_host_in_error", rows[i].h->name,
			    rows[i].have && rows[i].st.last_failure_error_message ? 1 : 0);
	help(b, "mailcert_certificate_info", "gauge", "The installed certificate: its source and serial.");
	for (i = 0; i < n; i++) {
		if (!rows[i].have || !rows[i].st.has_cert)
			continue;
		mc_buf_printf(b, "mailcert_certificate_info{host=");
		label(b, rows[i].h->name);
		mc_buf_printf(b, ",source=");
		label(b, rows[i].st.source[0] ? rows[i].st.source : "acme");
		mc_buf_printf(b, ",serial=");
		label(b, rows[i].st.serial);
		mc_buf_printf(b, "} 1\n");
	}
	/* what the milter loaded and what the listeners serve, for the installed set */
	help(b, "mailcert_loaded", "gauge",
	     "1 when the MTA serves the host's installed certificate (mailcert-milter loaded it).");
	for (i = 0; i < n; i++) {
		json_t *ho = json_object_get(hosts, rows[i].h->dir), *ld = json_object_get(ho, "loaded");
		const char *serial = json_string_value(json_object_get(ho, "serial"));

		if (!json_is_object(ld) || !rows[i].have || !rows[i].st.has_cert)
			continue;
		for (m = 0; m < sizeof mtas / sizeof *mtas; m++) {
			json_t *t = json_object_get(ld, mtas[m]);
			if (!t)
				continue;
			mc_buf_printf(b, "mailcert_loaded{host=");
			label(b, rows[i].h->name);
			mc_buf_printf(b, ",mta=\"%s\"} %d\n", mtas[m],
				      json_is_string(t) && serial && strcmp(serial, rows[i].st.serial) == 0);
		}
	}
	help(b, "mailcert_served_probes", "gauge",
	     "The last check of what the listeners serve for the host: probes by result.");
	for (i = 0; i < n; i++) {
		json_t *served = json_object_get(json_object_get(hosts, rows[i].h->dir), "served");
		static const char *const results[] = { "ok",      "mismatch",      "unreachable", "no-tls",
							"expired", "not-yet-valid", "wrong-name" };
		size_t k, r;

		if (!json_is_array(served) || json_array_size(served) == 0)
			continue;
		for (r = 0; r < sizeof results / sizeof *results; r++) {
			long long count = 0;
			for (k = 0; k < json_array_size(served); k++) {
				const char *res = json_string_value(json_object_get(json_array_get(served, k), "result"));
				if (res && strcmp(res, results[r]) == 0)
					count++;
			}
			mc_buf_printf(b, "mailcert_served_probes{host=");
			label(b, rows[i].h->name);
			mc_buf_printf(b, ",result=\"%s\"} %lld\n", results[r], count);
		}
	}
}

static void per_listener(mc_buf *b, json_t *doc)
{
	json_t *listeners = json_object_get(doc, "listeners"), *l, *versions, *n;
	const char *name, *v;

	help(b, "mailcert_smtp_sessions_total", "counter",
	     "SMTP sessions the milter saw, by listener ({daemon_name}/{daemon_addr}).");
	json_object_foreach(listeners, name, l) {
		if (!json_is_integer(n = json_object_get(l, "sessions")))
			continue;
		mc_buf_printf(b, "mailcert_smtp_sessions_total{listener=");
		label(b, name);
		mc_buf_printf(b, "} %lld\n", (long long)json_integer_value(n));
	}
	help(b, "mailcert_smtp_tls_sessions_total", "counter", "SMTP sessions with TLS, by listener and version.");
	json_object_foreach(listeners, name, l) {
		versions = json_object_get(l, "tls_versions");
		json_object_foreach(versions, v, n) {
			if (!json_is_integer(n))
				continue;
			mc_buf_printf(b, "mailcert_smtp_tls_sessions_total{listener=");
			label(b, name);
			mc_buf_printf(b, ",version=");
			label(b, v);
			mc_buf_printf(b, "} %lld\n", (long long)json_integer_value(n));
		}
	}
	help(b, "mailcert_milter_updated_timestamp_seconds", "gauge",
	     "When mailcert-milter last wrote what it loaded (absent: never ran).");
	if (json_time(json_object_get(doc, "updated")))
		mc_buf_printf(b, "mailcert_milter_updated_timestamp_seconds %lld\n",
			      (long long)json_time(json_object_get(doc, "updated")));
}

int mc_metrics_text(const mc_config *cfg, time_t now, mc_buf *b)
{
	struct hostrow *rows = mc_calloc(cfg->nhosts + 1, sizeof *rows);
	json_t *doc = mc_loaded_read(cfg->store);
	size_t i;

	for (i = 0; i < cfg->nhosts; i++) {
		rows[i].h = &cfg->hosts[i];
		rows[i].have = mc_store_state_load(cfg->store, cfg->hosts[i].dir, &rows[i].st, NULL) == 0;
		if (!rows[i].have)
			mc_state_init(&rows[i].st);
	}
	per_host(b, rows, cfg->nhosts, doc);
	per_listener(b, doc);
	help(b, "mailcert_metrics_timestamp_seconds", "gauge", "When this file was written.");
	mc_buf_printf(b, "mailcert_metrics_timestamp_seconds %lld\n", (long long)now);
	for (i = 0; i < cfg->nhosts; i++)
		mc_state_free(&rows[i].st);
	free(rows);
	json_decref(doc);
	return 0;
}

int mc_metrics_write(const mc_config *cfg, mc_err *e)
{
	char dir[PATH_MAX];
	mc_buf b;
	int rc;

	mc_buf_init(&b);
	mc_metrics_text(cfg, mc_now(), &b);
	mc_store_area_path(cfg->store, MC_AREA_RUN, NULL, dir, sizeof dir);
	/* STORE/run only, not its parents: a store that was removed stays removed */
	if (mkdir(dir, 0755) == 0)
		chmod(dir, 0755);
	else if (errno != EEXIST) {
		mc_buf_free(&b);
		return mc_err_set(e, "mkdir %s: %s", dir, strerror(errno));
	}
	rc = mc_file_write_atomic(dir, MC_METRICS_FILE, b.data ? b.data : "", b.len, 0644, (gid_t)-1, e);
	mc_buf_free(&b);
	return rc;
}
