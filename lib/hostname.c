/*
 * hostname - DNS name syntax checks (RFC 1035/1123 LDH, A-labels only).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hostname.h"

#define WILDCARD_DIR_PREFIX "_wildcard."

int mc_hostname_check(const char *name, int allow_wildcard, char *out, mc_err *e)
{
	size_t len, i, labellen = 0, labels = 1;
	const char *p = name;
	char *o = out;

	if (!name || !*name)
		return mc_err_set(e, "empty hostname");
	len = strlen(name);
	if (len > MC_HOSTNAME_MAX)
		return mc_err_set(e, "hostname is %zu characters long (at most %d allowed)",
				  len, MC_HOSTNAME_MAX);
	if (p[0] == '*') {
		if (!allow_wildcard)
			return mc_err_set(e, "wildcard not allowed here: \"%s\"", name);
		if (p[1] != '.')
			return mc_err_set(e, "invalid hostname \"%s\": a wildcard must be the whole first label", name);
		*o++ = '*';
		*o++ = '.';
		p += 2;
	}
	for (i = 0; p[i]; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (labellen == 0)
				return mc_err_set(e, "invalid hostname \"%.64s\": empty label", name);
			if (p[i - 1] == '-')
				return mc_err_set(e, "invalid hostname \"%.64s\": a label ends with '-'", name);
			labellen = 0;
			labels++;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   (c >= 'A' && c <= 'Z')) {
			if (c == '-' && labellen == 0)
				return mc_err_set(e, "invalid hostname \"%.64s\": a label starts with '-'", name);
			if (++labellen > 63)
				return mc_err_set(e, "invalid hostname \"%.64s\": a label is longer than 63 characters", name);
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
		} else if (c >= 0x80) {
			return mc_err_set(e, "invalid hostname \"%.64s\": non-ASCII; use the A-label (xn--...) form", name);
		} else {
			return mc_err_set(e, "invalid hostname \"%.64s\": character '%c' is not allowed",
					  name, c > 32 && c < 127 ? c : '?');
		}
		*o++ = (char)c;
	}
	if (labellen == 0 && i > 0 && p[i - 1] == '.')
		return mc_err_set(e, "invalid hostname \"%.64s\": trailing dot not allowed", name);
	if (labellen == 0)
		return mc_err_set(e, "invalid hostname \"%.64s\": empty label", name);
	if (p[i - 1] == '-')
		return mc_err_set(e, "invalid hostname \"%.64s\": a label ends with '-'", name);
	if (labels < 2)
		return mc_err_set(e, "invalid hostname \"%.64s\": a fully qualified name is required", name);
	*o = '\0';
	return 0;
}

void mc_hostname_dirname(const char *name, char *out, size_t outlen)
{
	if (name[0] == '*' && name[1] == '.')
		snprintf(out, outlen, WILDCARD_DIR_PREFIX "%s", name + 2);
	else
		snprintf(out, outlen, "%s", name);
}

int mc_hostname_from_dirname(const char *dir, char *out, size_t outlen)
{
	char buf[MC_HOSTNAME_MAX + 16];

	if (strncmp(dir, WILDCARD_DIR_PREFIX, strlen(WILDCARD_DIR_PREFIX)) == 0)
		snprintf(buf, sizeof buf, "*.%s", dir + strlen(WILDCARD_DIR_PREFIX));
	else
		snprintf(buf, sizeof buf, "%s", dir);
	if (outlen < MC_HOSTNAME_MAX + 1)
		return -1;
	return mc_hostname_check(buf, 1, out, NULL);
}

const char *mc_hostname_parent(const char *name)
{
	const char *dot;

	if (name[0] == '*' && name[1] == '.')
		return name + 2;
	dot = strchr(name, '.');
	/* "mail.example.com" -> "example.com"; keep two labels at least */
	if (dot && strchr(dot + 1, '.'))
		return dot + 1;
	return name;
}
