/*
 * mailaddr - check notification addresses before they reach a command line
 * or a header.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hostname.h"
#include "mailaddr.h"
#include "xalloc.h"

static int local_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '+' || c == '-' || c == '_' || c == '=';
}

char *mc_mailaddr_expand(const char *addr, const char *domain)
{
	size_t plen = strlen(MC_MAILADDR_PLACEHOLDER);
	const char *p = addr, *hit;
	mc_buf b;

	mc_buf_init(&b);
	while ((hit = strstr(p, MC_MAILADDR_PLACEHOLDER)) != NULL) {
		mc_buf_append(&b, p, (size_t)(hit - p));
		mc_buf_puts(&b, domain);
		p = hit + plen;
	}
	mc_buf_puts(&b, p);
	return mc_buf_steal(&b);
}

int mc_mailaddr_check(const char *addr, int allow_placeholder, mc_err *e)
{
	const char *at = strrchr(addr, '@'), *p;
	char host[MC_HOSTNAME_MAX + 1], *domain;
	size_t llen;
	mc_err he;
	int rc;

	if (strlen(addr) > MC_MAILADDR_MAX)
		return mc_err_set(e, "mail address longer than %d characters", MC_MAILADDR_MAX);
	if (!at || at == addr || !at[1])
		return mc_err_set(e, "\"%s\" is not a mail address (local@domain)", addr);
	llen = (size_t)(at - addr);
	if (llen > 64)
		return mc_err_set(e, "\"%s\": the part before @ is longer than 64 characters", addr);
	for (p = addr; p < at; p++) {
		if (*p == '{' || *p == '}')
			return mc_err_set(e, "\"%s\": a placeholder may only stand in the domain (after @)", addr);
		if (!local_char(*p))
			return mc_err_set(e, "\"%s\" is not a plain mail address: '%c' before @ (letters, digits "
					  "and . + - _ = only)", addr, *p >= 0x20 && *p < 0x7f ? *p : '?');
	}
	if (addr[0] == '.' || addr[0] == '-' || at[-1] == '.' || strstr(addr, "..") != NULL)
		return mc_err_set(e, "\"%s\" is not a plain mail address (misplaced '.' or '-' before @)", addr);
	if (strchr(at + 1, '{') || strchr(at + 1, '}')) {
		if (!allow_placeholder)
			return mc_err_set(e, "\"%s\": placeholders such as {domain} are only replaced in notify.to",
					  addr);
	}
	domain = mc_mailaddr_expand(at + 1, "example.com");
	if (strchr(domain, '{') || strchr(domain, '}')) {
		free(domain);
		return mc_err_set(e, "\"%s\": unknown placeholder (only {domain} is replaced)", addr);
	}
	rc = mc_hostname_check(domain, 0, host, &he);
	free(domain);
	if (rc < 0)
		return mc_err_set(e, "\"%s\": the domain after @ is not valid: %s", addr, he.msg);
	return 0;
}
