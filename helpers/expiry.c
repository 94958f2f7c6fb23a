/*
 * expiry - when a certificate nobody renews automatically needs a person.
 */
#include "config.h"

#include <string.h>

#include "expiry.h"
#include "timefmt.h"

int mc_expiry_level(time_t not_after, time_t now)
{
	static const int levels[] = { MC_EXPIRY_DAYS_3, MC_EXPIRY_DAYS_2, MC_EXPIRY_DAYS_1 };
	size_t i;

	if (now >= not_after)
		return 0;
	for (i = 0; i < sizeof levels / sizeof levels[0]; i++)
		if (not_after - now <= (time_t)levels[i] * 86400)
			return levels[i];
	return -1;
}

static int manual(const mc_state *st)
{
	return strcmp(st->source, "manual") == 0 || strcmp(st->source, "import") == 0;
}

int mc_expiry_message(const mc_state *st, time_t now, char *out, size_t outlen)
{
	char t[MC_TIMEFMT_LEN];
	int level;
	long days;

	if (!st->has_cert || !manual(st) || !st->cert_expiration_time)
		return -1;
	level = mc_expiry_level(st->cert_expiration_time, now);
	if (level < 0)
		return -1;
	mc_time_format(st->cert_expiration_time, t);
	if (level == 0) {
		snprintf(out, outlen, "the manually installed certificate expired at %s; mailcert does "
			 "not renew it: install its successor with `mailcert import` (or `mailcert csr` "
			 "and `mailcert install`)", t);
		return 0;
	}
	days = (long)((st->cert_expiration_time - now) / 86400);
	snprintf(out, outlen, "the manually installed certificate expires in %s%ld day%s (at %s, "
		 "within %d days); mailcert does not renew it: install its successor with `mailcert "
		 "import` (or `mailcert csr` and `mailcert install`)", days == 0 ? "less than " : "",
		 days == 0 ? 1 : days, days > 1 ? "s" : "", t, level);
	return 0;
}

void mc_expiry_note(const mc_host *h, const mc_state *st, json_t *j, time_t now, FILE *f)
{
	char msg[512];

	if (mc_expiry_message(st, now, msg, sizeof msg) < 0) {
		if (j)
			json_object_set_new(j, "expiry_warning", json_null());
		return;
	}
	if (j)
		json_object_set_new(j, "expiry_warning", json_string(msg));
	if (f)
		fprintf(f, "warning: %s: %s\n", h->name, msg);
}
