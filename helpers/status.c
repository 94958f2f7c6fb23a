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
#include "expiry.h"
#include "loaded.h"
#include "mtaconf.h"
#include "notifyq.h"
#include "status.h"
#include "store.h"
#include "timefmt.h"
#include "xalloc.h"

static int in_error(const mc_state *st)
{
	return st->last_failure_error_message != NULL;
}

/*
 * --only-errors: what needs a person now: a host with no certificate from its CA
 * (none, or a self-signed stand-in) and at least one failure; one failing for more
 * than an hour (a renewal that fails once and works on the retry a minute later
 * does not); a set the plugin refused or that is not served.
 */
static int needs_person(const mc_state *st, int judged, time_t now)
{
	time_t since = st->failing_since_time ? st->failing_since_time : st->last_failure_time;

	if (judged == MC_LOAD_ERROR)
		return 1;
	if (!in_error(st))
		return 0;
	if (!st->has_cert || strcmp(st->source, MC_SOURCE_FALLBACK) == 0)
		return 1;
	return !since || now - since > 3600;
}

/* a failure under a configuration changed since, with a valid certificate in place:
 * it describes nothing that needs a person (the next renew forgets it) */
static int stale_error(const mc_config *cfg, const mc_host *h, const mc_state *st, time_t now)
{
	return in_error(st) && mc_issue_error_stale(cfg, h, st) && mc_issue_cert_current(st, now);
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

/* append S (taken) to the NULL-terminated list V */
static char **strv_add(char **v, char *s)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	v = mc_realloc(v, (n + 2) * sizeof *v);
	v[n] = s;
	v[n + 1] = NULL;
	return v;
}

static void fmt_time(time_t t, char *out)
{
	if (t)
		mc_time_format(t, out);
	else
		snprintf(out, MC_TIMEFMT_LEN, "-");
}

static const char *load_word(int judged)
{
	switch (judged) {
	case MC_LOAD_OK:
		return "yes";
	case MC_LOAD_PENDING:
		return "loading";
	case MC_LOAD_ERROR:
		return "no";
	default:
		return "-";
	}
}

/*
 * The host whose set Sendmail serves: Sendmail has no SNI, so every client gets
 * run/default.pem, whatever name it asks for.  That is the host mailcert-milter
 * points run/default.pem at (milter.json's default_host, a store directory), else
 * the configured default.
 */
static const mc_host *sendmail_host(const mc_config *cfg, json_t *loaded)
{
	const char *dir = json_string_value(json_object_get(loaded, "default_host"));
	size_t i;

	for (i = 0; dir && i < cfg->nhosts; i++)
		if (strcmp(cfg->hosts[i].dir, dir) == 0)
			return &cfg->hosts[i];
	return mc_config_default(cfg);
}

/* key_reuse, key_rollover: the keys' digests and where the rollover stands, under the host's row */
static void dane_line(const mc_host *h, const mc_state *st)
{
	char a[MC_TIMEFMT_LEN], b[MC_TIMEFMT_LEN];

	if (!h->key_reuse || !st->key_spki_sha256[0])
		return;
	printf("  key SPKI SHA-256 %s%s\n", st->key_spki_sha256, mc_state_key_compromised(st, st->key_spki_sha256) ? " (compromised: replaced at the next renewal)" : "");
	if (!h->key_rollover)
		return;
	if (st->key_switched_time) {
		fmt_time(st->key_switched_time, a);
		printf("  switched to the announced key at %s\n", a);
	}
	if (!st->next_key_spki_sha256[0]) {
		printf("  next key: none yet%s%s\n", st->key_rollover_note[0] ? ": " : "", st->key_rollover_note);
		return;
	}
	fmt_time(st->next_key_created_time, a);
	fmt_time(st->next_key_ready_time, b);
	if (strcmp(st->key_rollover_state, "ready") == 0)
		printf("  next key SPKI SHA-256 %s: ready since %s (TLSA visible); the next renewal switches to it\n",
		       st->next_key_spki_sha256, b);
	else
		printf("  next key SPKI SHA-256 %s: waiting for its TLSA records since %s%s%s\n", st->next_key_spki_sha256,
		       a, st->key_rollover_note[0] ? "; " : "", st->key_rollover_note);
}

/* how long ago THEN was: "12 s ago", "3 min ago" */
static void age(time_t then, time_t now, char *out, size_t len)
{
	long long d = (long long)now - (long long)then;

	if (d < 0)
		snprintf(out, len, "just now");
	else if (d < 120)
		snprintf(out, len, "%lld s ago", d);
	else if (d < 7200)
		snprintf(out, len, "%lld min ago", d / 60);
	else if (d < 2 * 86400)
		snprintf(out, len, "%lld h ago", d / 3600);
	else
		snprintf(out, len, "%lld days ago", d / 86400);
}

/* under the hosts: each listener the plugin probes, when it was last probed and
 * what it served (ONLY_ERRORS: the listeners that did not serve well only) */
static void probes_table(json_t *probes, time_t now, int only_errors)
{
	json_t *v;
	size_t i;
	int header = 0;

	json_array_foreach(json_object_get(probes, "listeners"), i, v) {
		const char *label = json_string_value(json_object_get(v, "listener"));
		const char *when = json_string_value(json_object_get(v, "probed"));
		const char *res = json_string_value(json_object_get(v, "result"));
		char ago[48] = "never";
		time_t t;

		if (only_errors && res && strcmp(res, "ok") == 0)
			continue;
		if (when && mc_time_parse(when, &t) == 0)
			age(t, now, ago, sizeof ago);
		if (!header++)
			printf("\n%-44s %-14s %s\n", "LISTENER", "PROBED", "SERVED");
		printf("%-44s %-14s %s\n", label ? label : "?", ago, res ? res : "-");
	}
}

/* messages sendmail did not take yet (notifyq.h): a line in the table, an object in --json */
static json_t *queue_note(const mc_config *cfg, int json)
{
	char a[MC_TIMEFMT_LEN], b[MC_TIMEFMT_LEN];
	time_t oldest, retry;
	size_t count;

	mc_notifyq_info(cfg->store, &count, &oldest, &retry);
	fmt_time(oldest, a);
	fmt_time(retry, b);
	if (json)
		return json_pack("{s:I,s:o,s:o}", "queued", (json_int_t)count, "oldest_queued_time",
				 oldest ? json_string(a) : json_null(), "retry_time", retry ? json_string(b) : json_null());
	if (count)
		printf("%zu notification(s) not mailed yet (sendmail failed; the oldest from %s): sent at the next "
		       "run (the daemon tries at %s)\n", count, a, b);
	return NULL;
}

int mc_status(mc_config *cfg, char *const *hosts, int nhosts, int flags)
{
	json_t *arr = json_array(), *loaded = mc_loaded_read(cfg->store);
	const int enabled[MC_LOADED_MTAS] = { cfg->listen_postfix, cfg->listen_dovecot,
					      cfg->listen_sendmail, cfg->listen_exim };
	const mc_host *smhost = cfg->listen_sendmail ? sendmail_host(cfg, loaded) : NULL;
	int listeners = enabled[0] || enabled[1] || enabled[2] || enabled[3];
	int running = mc_loaded_milter_running(loaded);
	time_t now = mc_now();
	char **problems;
	json_t *pj;
	size_t i;
	int any_error = 0, k;

	if (listeners && !running)
		any_error = 1;
	/* the MTAs must read what the plugin keeps, or nothing it loads is served */
	problems = mc_mtaconf_problems(cfg);
	if (listeners)
		mc_loaded_served_errors(loaded, &problems);
	for (k = 0; problems && problems[k]; k++) {
		any_error = 1;
		if (!(flags & MC_STATUS_JSON))
			printf("%s\n", problems[k]);
	}
	if (!(flags & MC_STATUS_JSON)) {
		if (listeners && !running) {
			const char *upd = json_string_value(json_object_get(loaded, "updated"));
			printf("mailcert-milter is not running (%s%s): no certificate reaches the MTAs\n",
			       upd ? "last seen " : "never ran on this store", upd ? upd : "");
		}
		queue_note(cfg, 0);
		printf("%-32s %-5s %-21s %-11s %-7s %-11s %s\n", "HOST", "CERT", "EXPIRES", "SOURCE",
		       "LOADED", "SERVED", "STATUS");
	}
	for (i = 0; i < cfg->nhosts; i++) {
		const mc_host *h = &cfg->hosts[i];
		const char *refused, *served;
		char **wrong = NULL;
		mc_state st;
		mc_err e;
		json_t *j;
		int wanted = !hosts, judged, stale;

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
		stale = stale_error(cfg, h, &st, now);
		json_object_set_new(j, "failure_stale", json_boolean(stale));
		/* a certificate nobody renews: say so at 30, 14 and 7 days */
		mc_expiry_note(h, &st, j, now, (flags & MC_STATUS_JSON) ? NULL : stdout);
		if (stale)
			mc_state_set_error(&st, NULL); /* for the table and the exit status */
		/* is the current set live in every enabled MTA?  If not, why: the
		 * plugin refused it, a reload fails, the plugin is not running */
		json_object_set_new(j, "sendmail_serves_host", smhost ? json_string(smhost->name) : json_null());
		judged = mc_loaded_judge(j, loaded, enabled, smhost == h, running, st.last_success_time, now);
		refused = judged == MC_LOAD_ERROR ? json_string_value(json_object_get(j, "load_error")) : NULL;
		/* what the listeners really serve (mailcert-milter probes them after each
		 * reload): anything but the loaded leaf is an error */
		served = mc_loaded_served(j, &wrong, now);
		for (k = 0; wrong && wrong[k]; k++)
			problems = strv_add(problems, wrong[k]);
		if (in_error(&st) || judged == MC_LOAD_ERROR || wrong)
			any_error = 1;
		/* a listener serving the wrong certificate needs a person too */
		if ((flags & MC_STATUS_ONLY_ERRORS) && !needs_person(&st, judged, now) && !wrong) {
			json_decref(j);
		} else if (flags & MC_STATUS_JSON) {
			json_array_append_new(arr, j);
		} else {
			char exp[MC_TIMEFMT_LEN], fail[MC_TIMEFMT_LEN], retry[MC_TIMEFMT_LEN];

			fmt_time(st.has_cert ? st.cert_expiration_time : 0, exp);
			printf("%-32s %-5s %-21s %-11s %-7s %-11s ", h->name, st.has_cert ? "yes" : "no", exp,
			       st.source, load_word(judged), served);
			if (in_error(&st)) {
				fmt_time(st.last_failure_time, fail);
				fmt_time(st.next_retry_time, retry);
				printf("error at %s, retry %s: %s\n", fail, retry, st.last_failure_error_message);
			} else if (refused) {
				printf("not served: %s\n", refused);
			} else if (wrong) {
				printf("%s\n", wrong[0]);
			} else if (st.has_cert && st.revoked_time) {
				fmt_time(st.revoked_time, fail);
				printf("revoked at %s (%s); the next issue or renew replaces it\n", fail,
				       st.revocation_reason[0] ? st.revocation_reason : "unspecified");
			} else if (stale) {
				fmt_time(st.last_failure_time, fail);
				printf("ok (the failure at %s happened under an earlier configuration)\n", fail);
			} else if (st.has_cert && st.ari_window_end) {
				char a[MC_TIMEFMT_LEN], b[MC_TIMEFMT_LEN], r[MC_TIMEFMT_LEN], n[MC_TIMEFMT_LEN];

				fmt_time(st.renewal_time, r);
				fmt_time(st.ari_window_start, a);
				fmt_time(st.ari_window_end, b);
				fmt_time(st.ari_next_check_time, n);
				printf("ok; renewal %s in the CA's window %s .. %s (asked again %s)%s%s\n", r, a, b, n,
				       st.ari_explanation_url ? "; see " : "",
				       st.ari_explanation_url ? st.ari_explanation_url : "");
			} else {
				printf("%s\n", st.has_cert ? "ok" : "no certificate yet");
			}
			if (smhost && smhost != h)
				printf("  sendmail: serves %s's certificate to clients asking for %s (Sendmail has no SNI)\n",
				       smhost->name, h->name);
			dane_line(h, &st);
			json_decref(j);
		}
		free(wrong); /* its strings went to problems */
		mc_state_free(&st);
	}
	if (flags & MC_STATUS_JSON) {
		json_t *doc;

		pj = json_array();
		for (k = 0; problems && problems[k]; k++)
			json_array_append_new(pj, json_string(problems[k]));
		doc = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "hosts", arr, "listeners",
				mc_loaded_listeners(loaded), "milter", mc_loaded_milter_json(loaded, running),
				"problems", pj, "served", mc_loaded_probes(loaded), "notifications",
				queue_note(cfg, 1));
		char *s = json_dumps(doc, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(doc);
	} else {
		json_t *probes = mc_loaded_probes(loaded);

		if (listeners)
			probes_table(probes, now, flags & MC_STATUS_ONLY_ERRORS);
		json_decref(probes);
		json_decref(arr);
	}
	json_decref(loaded);
	mc_strv_free(problems);
	return any_error;
}
