/*
 * notifyq - the queue of messages sendmail did not take.  See notifyq.h.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notifyq.h"
#include "storepath.h"
#include "timefmt.h"
#include "xalloc.h"

#define MC_STR_(x) #x
#define MC_STR(x) MC_STR_(x)

#define K_QUEUE "queue"
#define K_FAILURES "queue_failures"
#define K_RETRY "queue_retry_time"

static json_int_t int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* MEM's queue; entries of another shape than ours are dropped on the way */
static json_t *queue_of(json_t *mem)
{
	json_t *q = json_object_get(mem, K_QUEUE), *m;
	size_t i;

	if (!json_is_array(q))
		return NULL;
	for (i = 0; i < json_array_size(q);) {
		m = json_array_get(q, i);
		if (json_is_object(m) && json_is_string(json_object_get(m, "message")) &&
		    json_is_array(json_object_get(m, "to")) && json_array_size(json_object_get(m, "to"))) {
			i++;
			continue;
		}
		mc_warn("notify: a queued message in notify.json is unreadable: dropped");
		json_array_remove(q, i);
	}
	return q;
}

/* the recipients of M, NULL-terminated (the strings stay M's) */
static const char **rcpt_of(json_t *m)
{
	json_t *to = json_object_get(m, "to"), *a;
	const char **v = mc_calloc(json_array_size(to) + 1, sizeof *v);
	size_t i, n = 0;

	json_array_foreach(to, i, a)
		if (json_is_string(a))
			v[n++] = json_string_value(a);
	return v;
}

static char *rcpt_line(json_t *m)
{
	json_t *to = json_object_get(m, "to"), *a;
	mc_buf b;
	size_t i;

	mc_buf_init(&b);
	json_array_foreach(to, i, a)
		mc_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(a) ? json_string_value(a) : "?");
	mc_buf_puts(&b, "");
	return mc_buf_steal(&b);
}

static void log_drop(json_t *m, const char *why)
{
	const char *what = json_string_value(json_object_get(m, "what"));
	const char *err = json_string_value(json_object_get(m, "last_error"));
	char t[MC_TIMEFMT_LEN], *to = rcpt_line(m);

	mc_time_format((time_t)int_of(m, "queued_time"), t);
	mc_warn("notify: %s: dropped from the queue (%s): never mailed to %s (queued at %s, %lld attempt(s)%s%s)",
		what ? what : "a message", why, to, t, (long long)int_of(m, "attempts"), err ? "; last error: " : "",
		err ? err : "");
	free(to);
}

void mc_notifyq_expire(json_t *mem, time_t now)
{
	json_t *q = queue_of(mem);
	size_t i;

	for (i = 0; q && i < json_array_size(q);) {
		json_t *m = json_array_get(q, i);

		if (now - (time_t)int_of(m, "queued_time") > MC_NOTIFYQ_MAX_AGE) {
			log_drop(m, "older than " MC_STR(MC_NOTIFYQ_MAX_AGE_DAYS) " days");
			json_array_remove(q, i);
		} else {
			i++;
		}
	}
}

static void attempted(json_t *m, const char *error, time_t now)
{
	json_object_set_new(m, "attempts", json_integer(int_of(m, "attempts") + 1));
	json_object_set_new(m, "last_attempt_time", json_integer((json_int_t)now));
	json_object_set_new(m, "last_error", json_string(error));
}

int mc_notifyq_flush(json_t *mem, mc_notifyq_send_fn send, void *arg, time_t now)
{
	json_t *q = queue_of(mem);

	while (q && json_array_size(q)) {
		json_t *m = json_array_get(q, 0);
		const char *what = json_string_value(json_object_get(m, "what"));
		const char **to = rcpt_of(m);
		char t[MC_TIMEFMT_LEN], *list = rcpt_line(m);
		mc_err e;
		int rc;

		rc = send(arg, (char *const *)to, json_string_value(json_object_get(m, "message")), &e);
		free(to);
		mc_time_format((time_t)int_of(m, "queued_time"), t);
		if (rc < 0) {
			attempted(m, e.msg, now);
			mc_warn("notify: %s: queued at %s, still not mailed to %s: %s; %zu message(s) kept for the next run",
				what ? what : "a message", t, list, e.msg, json_array_size(q));
			free(list);
			return -1;
		}
		mc_info("notify: %s: mailed to %s (queued at %s)", what ? what : "a message", list, t);
		free(list);
		json_array_remove(q, 0);
	}
	return 0;
}

void mc_notifyq_add(json_t *mem, const char *what, char *const *to, const char *msg, const char *error,
		    time_t now)
{
	json_t *q = queue_of(mem), *rc = json_array(), *m;
	size_t i;

	if (!q) {
		q = json_array();
		json_object_set_new(mem, K_QUEUE, q);
	}
	for (i = 0; to[i]; i++)
		json_array_append_new(rc, json_string(to[i]));
	m = json_pack("{s:s,s:o,s:s,s:I,s:i,s:I}", "what", what, "to", rc, "message", msg, "queued_time",
		      (json_int_t)now, "attempts", 0, "last_attempt_time", (json_int_t)0);
	if (!m)
		return;
	if (error)
		attempted(m, error, now);
	else
		json_object_set_new(m, "last_error", json_string("not tried: sendmail failed before in the same run"));
	json_array_append_new(q, m);
}

void mc_notifyq_settle(json_t *mem, int failed, time_t now)
{
	json_t *q = queue_of(mem);
	json_int_t fails, wait;

	while (q && json_array_size(q) > MC_NOTIFYQ_MAX) {
		log_drop(json_array_get(q, 0), "the queue holds at most " MC_STR(MC_NOTIFYQ_MAX) " messages");
		json_array_remove(q, 0);
	}
	if (!q || !json_array_size(q)) {
		json_object_del(mem, K_QUEUE);
		json_object_del(mem, K_FAILURES);
		json_object_del(mem, K_RETRY);
		return;
	}
	if (!failed)
		return; /* nothing tried (mail off for a while): the retry time stands */
	fails = int_of(mem, K_FAILURES) + 1;
	wait = MC_NOTIFYQ_RETRY_MIN;
	for (json_int_t k = 1; k < fails && wait < MC_NOTIFYQ_RETRY_MAX; k++)
		wait *= 2;
	if (wait > MC_NOTIFYQ_RETRY_MAX)
		wait = MC_NOTIFYQ_RETRY_MAX;
	json_object_set_new(mem, K_FAILURES, json_integer(fails));
	json_object_set_new(mem, K_RETRY, json_integer((json_int_t)now + wait));
}

void mc_notifyq_info_file(const char *path, size_t *count, time_t *oldest, time_t *retry)
{
	json_t *mem = json_load_file(path, 0, NULL), *q = json_object_get(mem, K_QUEUE);

	*count = json_is_array(q) ? json_array_size(q) : 0;
	*oldest = *count ? (time_t)int_of(json_array_get(q, 0), "queued_time") : 0;
	*retry = *count ? (time_t)int_of(mem, K_RETRY) : 0;
	json_decref(mem);
}

void mc_notifyq_info(const char *store, size_t *count, time_t *oldest, time_t *retry)
{
	char path[PATH_MAX];

	mc_store_area_path(store, MC_AREA_RUN, MC_STORE_NOTIFY_FILE, path, sizeof path);
	mc_notifyq_info_file(path, count, oldest, retry);
}
