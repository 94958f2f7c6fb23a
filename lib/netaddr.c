/*
 * netaddr - numeric server addresses ("ADDR", "ADDR:PORT", "[ADDR6]:PORT").
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

static int port_of(const char *s, long *port)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	*port = strtol(s, &end, 10);
	return *end || *port < 1 || *port > 65535 ? -1 : 0;
}

int mc_netaddr_parse(const char *spec, unsigned short default_port, struct sockaddr_storage *ss,
		     socklen_t *len, mc_err *e)
{
	char host[INET6_ADDRSTRLEN];
	const char *h = spec, *port = NULL, *colon = strchr(spec, ':');
	size_t hlen;
	long p = default_port;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || (close[1] && close[1] != ':'))
			return mc_err_set(e, "\"%s\": an IPv6 address in brackets is [ADDR] or [ADDR]:PORT", spec);
		h = spec + 1;
		hlen = (size_t)(close - h);
		if (close[1])
			port = close + 2;
	} else if (colon && strchr(colon + 1, ':')) {
		hlen = strlen(spec); /* a bare IPv6 address: no port (brackets give one) */
	} else {
		hlen = colon ? (size_t)(colon - spec) : strlen(spec);
		if (colon)
			port = colon + 1;
	}
	if (port && port_of(port, &p) < 0)
		return mc_err_set(e, "\"%s\": bad port", spec);
	if (hlen == 0 || hlen >= sizeof host)
		return mc_err_set(e, "\"%s\" is not an IP address with an optional :PORT", spec);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof *ss);
	if (spec[0] != '[' && inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)p);
		*len = sizeof *sin;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)p);
		*len = sizeof *sin6;
		return 0;
	}
	return mc_err_set(e, "\"%s\" is not an IP address with an optional :PORT (IPv6: [ADDR]:PORT)", spec);
}
