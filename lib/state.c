/*
 * state - state.json encoding with jansson.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fsutil.h"
#include "state.h"
#include "timefmt.h"
#include "x509chk.h"
#include "xalloc.h"

void mc_state_init(mc_state *s)
{
	memset(s, 0, sizeof *s);
}

void mc_state_free(mc_state *s)
{
	mc_strv_free(s->names);
	free(s->last_failure_error_message);
	free(s->cert_url);
	free(s->ari_explanation_url);
	free(s->account_url);
	free(s->directory_url);
	free(s->valfail);
	mc_strv_free(s->key_compromised);
	mc_state_init(s);
}

static void valfail_prune(mc_state *s, time_t now)
{
	size_t i, n = 0;

	for (i = 0; i < s->nvalfail; i++)
		if (s->valfail[i].when > now - MC_VALFAIL_WINDOW && s->valfail[i].when <= now)
			s->valfail[n++] = s->valfail[i];
	s->nvalfail = n;
}

void mc_state_add_valfail(mc_state *s, const char *name, time_t now)
{
	valfail_prune(s, now);
	if (s->nvalfail >= MC_VALFAIL_MAX) { /* the oldest goes */
		memmove(s->valfail, s->valfail + 1, (s->nvalfail - 1) * sizeof *s->valfail);
		s->nvalfail--;
	}
	s->valfail = mc_realloc(s->valfail, (s->nvalfail + 1) * sizeof *s->valfail);
	snprintf(s->valfail[s->nvalfail].name, sizeof s->valfail[s->nvalfail].name, "%s", name);
	s->valfail[s->nvalfail].when = now;
	s->nvalfail++;
}

int mc_state_valfail_count(const mc_state *s, const char *name, time_t now, time_t *until)
{
	time_t t[MC_VALFAIL_MAX];
	size_t i, j, n = 0;

	for (i = 0; i < s->nvalfail; i++)
		if (strcmp(s->valfail[i].name, name) == 0 && s->valfail[i].when > now - MC_VALFAIL_WINDOW &&
		    s->valfail[i].when <= now)
			t[n++] = s->valfail[i].when;
	/* newest first: the budget is free again when the BUDGET-th newest leaves the window */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && t[j] > t[j - 1]; j--) {
			time_t x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	if (until)
		*until = n >= MC_VALFAIL_BUDGET ? t[MC_VALFAIL_BUDGET - 1] + MC_VALFAIL_WINDOW : 0;
	return (int)n;
}

void mc_state_set_error(mc_state *s, const char *msg)
{
	free(s->last_failure_error_message);
	s->last_failure_error_message = msg ? mc_strdup(msg) : NULL;
}

static json_t *time_or_null(time_t t)
{
	char buf[MC_TIMEFMT_LEN];

	if (!t)
		return json_null();
	mc_time_format(t, buf);
	return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

int mc_state_key_compromised(const mc_state *s, const char *spki_hex)
{
	size_t i;

	for (i = 0; s->key_compromised && s->key_compromised[i]; i++)
		if (strcasecmp(s->key_compromised[i], spki_hex) == 0)
			return 1;
	return 0;
}

void mc_state_add_key_compromised(mc_state *s, const char *spki_hex)
{
	size_t n = 0;

	if (mc_state_key_compromised(s, spki_hex))
		return;
	while (s->key_compromised && s->key_compromised[n])
		n++;
	s->key_compromised = mc_realloc(s->key_compromised, (n + 2) * sizeof *s->key_compromised);
	s->key_compromised[n] = mc_strdup(spki_hex);
	s->key_compromised[n + 1] = NULL;
}

json_t *mc_state_to_json(const mc_state *s)
{
	json_t *j = json_object(), *names = json_array(), *vf;
	size_t i;

	for (i = 0; s->names && s->names[i]; i++)
		json_array_append_new(names, json_string(s->names[i]));
	json_object_set_new(j, "host", json_string(s->host));
	json_object_set_new(j, "names", names);
	json_object_set_new(j, "source", json_string(s->source[0] ? s->source : "acme"));
	json_object_set_new(j, "has_cert", json_boolean(s->has_cert));
	json_object_set_new(j, "serial", str_or_null(s->serial));
	json_object_set_new(j, "issuer", str_or_null(s->issuer));
	json_object_set_new(j, "cert_start_time", time_or_null(s->not_before));
	json_object_set_new(j, "cert_expiration_time", time_or_null(s->cert_expiration_time));
	json_object_set_new(j, "renewal_time", time_or_null(s->renewal_time));
	json_object_set_new(j, "last_success_time", time_or_null(s->last_success_time));
	json_object_set_new(j, "last_failure_time", time_or_null(s->last_failure_time));
	json_object_set_new(j, "last_failure_error_message", str_or_null(s->last_failure_error_message));
	json_object_set_new(j, "next_retry_time", time_or_null(s->next_retry_time));
	json_object_set_new(j, "consecutive_failures", json_integer(s->failures));
	json_object_set_new(j, "cert_url", str_or_null(s->cert_url));
	vf = json_array();
	for (i = 0; i < s->nvalfail; i++)
		json_array_append_new(vf, json_pack("{s:s,s:o}", "name", s->valfail[i].name, "time",
						    time_or_null(s->valfail[i].when)));
	json_object_set_new(j, "failed_validations", vf);
	json_object_set_new(j, "failure_config",
			    s->last_failure_error_message && s->failure_config[0] ? json_string(s->failure_config)
										  : json_null());
	json_object_set_new(j, "ari_cert_id", str_or_null(s->ari_cert_id));
	json_object_set_new(j, "ari_window_start", time_or_null(s->ari_window_start));
	json_object_set_new(j, "ari_window_end", time_or_null(s->ari_window_end));
	json_object_set_new(j, "ari_renewal_time", time_or_null(s->ari_renewal_time));
	json_object_set_new(j, "ari_next_check_time", time_or_null(s->ari_next_check_time));
	json_object_set_new(j, "staging_passed_time", time_or_null(s->staging_passed_time));
	json_object_set_new(j, "failing_since_time", time_or_null(s->failing_since_time));
	json_object_set_new(j, "ari_explanation_url", str_or_null(s->ari_explanation_url));
	json_object_set_new(j, "account_url", str_or_null(s->account_url));
	json_object_set_new(j, "directory_url", str_or_null(s->directory_url));
	json_object_set_new(j, "key_spki_sha256", str_or_null(s->key_spki_sha256));
	json_object_set_new(j, "next_key_spki_sha256", str_or_null(s->next_key_spki_sha256));
	json_object_set_new(j, "key_rollover_state", str_or_null(s->key_rollover_state));
	json_object_set_new(j, "next_key_created_time", time_or_null(s->next_key_created_time));
	json_object_set_new(j, "next_key_tlsa_seen_time", time_or_null(s->next_key_tlsa_seen_time));
	json_object_set_new(j, "next_key_ready_time", time_or_null(s->next_key_ready_time));
	json_object_set_new(j, "key_switched_time", time_or_null(s->key_switched_time));
	json_object_set_new(j, "key_rollover_note", str_or_null(s->key_rollover_note));
	json_object_set_new(j, "revoked_time", time_or_null(s->revoked_time));
	json_object_set_new(j, "revocation_reason", str_or_null(s->revocation_reason));
	vf = json_array();
	for (i = 0; s->key_compromised && s->key_compromised[i]; i++)
		json_array_append_new(vf, json_string(s->key_compromised[i]));
	json_object_set_new(j, "key_compromised", vf);
	return j;
}

static void get_str(json_t *j, const char *key, char *out, size_t outlen)
{
	const char *v = json_string_value(json_object_get(j, key));

	snprintf(out, outlen, "%s", v ? v : "");
}

static char *get_dup(json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));

	return v ? mc_strdup(v) : NULL;
}

static time_t get_time(json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));
	time_t t = 0;

	if (v && mc_time_parse(v, &t) < 0)
		t = 0;
	return t;
}

int mc_state_from_json(json_t *j, mc_state *s, mc_err *e)
{
	json_t *names, *v;
	size_t i;

	mc_state_init(s);
	if (!json_is_object(j))
		return mc_err_set(e, "state is not a JSON object");
	get_str(j, "host", s->host, sizeof s->host);
	names = json_object_get(j, "names");
	s->names = mc_calloc(json_array_size(names) + 1, sizeof *s->names);
	json_array_foreach(names, i, v)
		s->names[i] = mc_strdup(json_string_value(v) ? json_string_value(v) : "");
	get_str(j, "source", s->source, sizeof s->source);
	s->has_cert = json_is_true(json_object_get(j, "has_cert"));
	get_str(j, "serial", s->serial, sizeof s->serial);
	get_str(j, "issuer", s->issuer, sizeof s->issuer);
	s->not_before = get_time(j, "cert_start_time");
	s->cert_expiration_time = get_time(j, "cert_expiration_time");
	s->renewal_time = get_time(j, "renewal_time");
	s->last_success_time = get_time(j, "last_success_time");
	s->last_failure_time = get_time(j, "last_failure_time");
	s->last_failure_error_message = get_dup(j, "last_failure_error_message");
	s->next_retry_time = get_time(j, "next_retry_time");
	s->failures = (int)json_integer_value(json_object_get(j, "consecutive_failures"));
	s->cert_url = get_dup(j, "cert_url");
	get_str(j, "failure_config", s->failure_config, sizeof s->failure_config);
	get_str(j, "ari_cert_id", s->ari_cert_id, sizeof s->ari_cert_id);
	s->ari_window_start = get_time(j, "ari_window_start");
	s->ari_window_end = get_time(j, "ari_window_end");
	s->ari_renewal_time = get_time(j, "ari_renewal_time");
	s->ari_next_check_time = get_time(j, "ari_next_check_time");
	s->staging_passed_time = get_time(j, "staging_passed_time");
	s->failing_since_time = get_time(j, "failing_since_time");
	s->ari_explanation_url = get_dup(j, "ari_explanation_url");
	s->account_url = get_dup(j, "account_url");
	s->directory_url = get_dup(j, "directory_url");
	get_str(j, "key_spki_sha256", s->key_spki_sha256, sizeof s->key_spki_sha256);
	get_str(j, "next_key_spki_sha256", s->next_key_spki_sha256, sizeof s->next_key_spki_sha256);
	get_str(j, "key_rollover_state", s->key_rollover_state, sizeof s->key_rollover_state);
	s->next_key_created_time = get_time(j, "next_key_created_time");
	s->next_key_tlsa_seen_time = get_time(j, "next_key_tlsa_seen_time");
	s->next_key_ready_time = get_time(j, "next_key_ready_time");
	s->key_switched_time = get_time(j, "key_switched_time");
	get_str(j, "key_rollover_note", s->key_rollover_note, sizeof s->key_rollover_note);
	s->revoked_time = get_time(j, "revoked_time");
	get_str(j, "revocation_reason", s->revocation_reason, sizeof s->revocation_reason);
	json_array_foreach(json_object_get(j, "key_compromised"), i, v)
		if (json_is_string(v) && json_string_length(v) == 64)
			mc_state_add_key_compromised(s, json_string_value(v));
	json_array_foreach(json_object_get(j, "failed_validations"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		time_t t = get_time(v, "time");

		if (name && t && s->nvalfail < MC_VALFAIL_MAX) {
			s->valfail = mc_realloc(s->valfail, (s->nvalfail + 1) * sizeof *s->valfail);
			snprintf(s->valfail[s->nvalfail].name, sizeof s->valfail[s->nvalfail].name, "%s", name);
			s->valfail[s->nvalfail++].when = t;
		}
	}
	return 0;
}

int mc_state_load(const char *path, mc_state *s, mc_err *e)
{
	json_error_t jerr;
	json_t *j;
	int rc;

	j = json_load_file(path, 0, &jerr);
	if (!j) {
		mc_state_init(s);
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return 1;
		return mc_err_set(e, "%s:%d: %s", path, jerr.line, jerr.text);
	}
	rc = mc_state_from_json(j, s, e);
	json_decref(j);
	return rc;
}
