/*
 * counts - per-listener session and TLS counts, bounded, from names that
 * may be anything.
 */
#include "config.h"

#include <string.h>

#include "counts.h"

#define MM_OTHER "other"

static json_t *counts;      /* listener -> {sessions, tls_sessions, tls_versions, ciphers} */
static int counts_changed;

/* the length of the well-formed UTF-8 character at P, 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are not) */
static size_t utf8_len(const unsigned char *p)
{
	unsigned long cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1fu;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0fu;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07u;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * jansson refuses (and frees the value of) a key that is not UTF-8, and any
 * local user can send any bytes as a macro; a tab or a newline would also
 * break a report line.
 */
void mm_clean_name(const char *name, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t o = 0;

	while (*p) {
		size_t n = utf8_len(p);
		const unsigned char *from = p;

		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			from = (const unsigned char *)"?";
			n = 1;
			p++;
		} else {
			p += n;
		}
		if (o + n >= outlen)
			break;
		memcpy(out + o, from, n);
		o += n;
	}
	out[o] = '\0';
}

/* add one to OBJ[KEY], or to OBJ["other"] when KEY is new and OBJ has
 * MAX keys besides "other" already (MAX 0: no limit) */
static void bump(json_t *obj, const char *key, size_t max)
{
	json_t *v;

	if (!obj)
		return;
	v = json_object_get(obj, key);
	if (!v && max && json_object_size(obj) - (json_object_get(obj, MM_OTHER) != NULL) >= max) {
		key = MM_OTHER;
		v = json_object_get(obj, key);
	}
	if (json_is_integer(v))
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(obj, key, json_integer(1));
}

/* the counts of LISTENER (already clean), created on first use, NULL when
 * they cannot be */
static json_t *listener_obj(const char *listener)
{
	json_t *l;

	if (!counts && !(counts = json_object()))
		return NULL;
	l = json_object_get(counts, listener);
	if (l)
		return l;
	if (json_object_size(counts) - (json_object_get(counts, MM_OTHER) != NULL) >=
	    MM_LISTENERS_MAX) {
		listener = MM_OTHER;
		l = json_object_get(counts, listener);
		if (l)
			return l;
	}
	l = json_pack("{s:i, s:i, s:{}, s:{}}", "sessions", 0, "tls_sessions", 0,
		      "tls_versions", "ciphers");
	/* on failure json_object_set_new has freed L already */
	if (!l || json_object_set_new(counts, listener, l) < 0)
		return NULL;
	return l;
}

void mm_counts_session(const char *listener)
{
	char l[MM_LISTENER_MAX + 1];

	mm_clean_name(listener, l, sizeof l);
	bump(listener_obj(l), "sessions", 0);
	counts_changed = 1;
}

void mm_counts_tls(const char *listener, const char *version, const char *cipher)
{
	char l[MM_LISTENER_MAX + 1], v[MM_NAME_MAX + 1], c[MM_NAME_MAX + 1];
	json_t *obj;

	mm_clean_name(listener, l, sizeof l);
	mm_clean_name(version, v, sizeof v);
	mm_clean_name(cipher, c, sizeof c);
	if (!v[0])
		return;
	obj = listener_obj(l);
	bump(obj, "tls_sessions", 0);
	bump(json_object_get(obj, "tls_versions"), v, MM_KEYS_MAX);
	if (c[0])
		bump(json_object_get(obj, "ciphers"), c, MM_KEYS_MAX);
	counts_changed = 1;
}

json_t *mm_counts(int *changed)
{
	json_t *copy = counts ? json_deep_copy(counts) : json_object();

	if (changed)
		*changed = counts_changed;
	counts_changed = 0;
	return copy;
}

void mm_counts_free(void)
{
	json_decref(counts);
	counts = NULL;
}
