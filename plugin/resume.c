/*
 * resume - pick up where the previous run left the MTAs.
 */
#include "config.h"

#include <string.h>

#include "log.h"
#include "resume.h"
#include "timefmt.h"

const char *resume_instance(const mc_config *cfg, int m)
{
	const char *v = m == MTA_POSTFIX ? cfg->postfix_config_dir
		       : m == MTA_DOVECOT ? cfg->dovecot_config
		       : m == MTA_SENDMAIL ? cfg->sendmail_pid_file
					   : cfg->exim_config;

	return v ? v : "";
}

static int str_is(json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* the time string V, 0 when it is not one */
static time_t time_of(json_t *v)
{
	time_t t;

	if (!json_is_string(v) || mc_time_parse(json_string_value(v), &t) < 0 || t <= 0)
		return 0;
	return t;
}

void resume_hosts(mh_table *t, json_t *prev)
{
	json_t *hosts = json_object_get(prev, "hosts");
	size_t i;
	int m;

	for (i = 0; i < t->n; i++) {
		mh_host *h = &t->v[i];
		json_t *p = json_object_get(hosts, h->dir);
		json_t *loaded = json_object_get(p, "loaded");

		if (!h->file[0] || !str_is(json_object_get(p, "serial"), h->serial) ||
		    !str_is(json_object_get(p, "file"), h->file) ||
		    !(h->gen[0] ? str_is(json_object_get(p, "gen"), h->gen)
				: json_is_null(json_object_get(p, "gen"))))
			continue;
		for (m = 0; m < MTA_N; m++) {
			time_t when = time_of(json_object_get(loaded, mta_names[m]));
			if (!when)
				continue;
			h->pending &= ~(1u << m);
			h->loaded[m] = when;
		}
	}
}

int resume_current(json_t *prev, const mta_ctx *c, int m, int dovecot_version)
{
	json_t *mta = json_object_get(json_object_get(prev, "mta"), mta_names[m]);
	size_t i;

	if (!str_is(json_object_get(mta, "instance"), resume_instance(c->cfg, m)))
		return 0;
	/* Sendmail serves the default host only */
	if (m == MTA_SENDMAIL) {
		if (!c->def || (c->def->pending & (1u << m)))
			return 0;
	} else {
		for (i = 0; i < c->hosts->n; i++)
			if (c->hosts->v[i].file[0] && (c->hosts->v[i].pending & (1u << m)))
				return 0;
	}
	if (!mta_default_link_current(c))
		return 0;
	if (m == MTA_POSTFIX)
		return postfix_current(c);
	if (m == MTA_DOVECOT)
		return dovecot_current(c, dovecot_version);
	if (m == MTA_EXIM)
		return exim_current(c);
	return 1;
}

time_t resume_last_reload(json_t *prev, int m)
{
	return time_of(json_object_get(json_object_get(json_object_get(prev, "mta"), mta_names[m]),
				       "last_reload"));
}
