/*
 * verdict - judge a served leaf (see verdict.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "timefmt.h"
#include "verdict.h"

const char *const ms_result_names[MS_RESULTS] = { "ok",      "mismatch",      "unreachable", "no-tls",
						  "expired", "not-yet-valid", "wrong-name" };

/* ", not the loaded set (SERIAL)" when GOT is another leaf than the loaded one */
static void other_set(const ms_leaf *got, const char *want_sha, const char *want_serial, char *out,
		      size_t len)
{
	out[0] = '\0';
	if (!want_sha || strcmp(got->sha256, want_sha) != 0)
		snprintf(out, len, ", not the loaded set (%s)", want_serial ? want_serial : "unreadable");
}

int ms_verdict(const ms_leaf *got, const char *want_sha, const char *want_serial, const char *name,
	       time_t now, char *detail, size_t len)
{
	char t[MC_TIMEFMT_LEN], other[180];

	detail[0] = '\0';
	other_set(got, want_sha, want_serial, other, sizeof other);
	if (now >= got->not_after) {
		mc_time_format(got->not_after, t);
		snprintf(detail, len, "serves serial %s, expired at %s%s", got->serial, t, other);
		return MS_EXPIRED;
	}
	if (now < got->not_before) {
		mc_time_format(got->not_before, t);
		snprintf(detail, len, "serves serial %s, not valid before %s%s", got->serial, t, other);
		return MS_NOT_YET_VALID;
	}
	if (!got->covers) {
		snprintf(detail, len, "serves serial %s, which is not valid for %s%s", got->serial,
			 name ? name : "the default host", other);
		return MS_WRONG_NAME;
	}
	if (other[0]) {
		snprintf(detail, len, "serves serial %s, the loaded set has %s", got->serial,
			 want_serial ? want_serial : "(unreadable)");
		return MS_MISMATCH;
	}
	return MS_OK;
}

int ms_verdict_final(int result, const ms_leaf *got, const char *want_sha)
{
	return result == MS_OK || (want_sha && strcmp(got->sha256, want_sha) == 0);
}
