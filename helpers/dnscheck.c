/*
 * dnscheck - TXT look-ups against one chosen server with res_nquery.
 */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnscheck.h"

static int parse_resolver(const char *spec, struct sockaddr_in *sa, mc_err *e)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	long port = 53;

	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	if (colon) {
		char *end;
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535)
			return mc_err_set(e, "dns01.resolver \"%s\": bad port", spec);
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	} else {
		snprintf(host, sizeof host, "%s", spec);
	}
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return mc_err_set(e, "dns01.resolver \"%s\": an IPv4 address (with :port) is needed", spec);
	sa->sin_port = htons((unsigned short)port);
	return 0;
}

int mc_dns_txt_visible(const char *resolver, const char *name, const char *value, mc_err *e)
{
	struct __res_state rs;
	struct sockaddr_in sa;
	unsigned char answer[4096];
	ns_msg msg;
	int len, i, found = 0;

	if (parse_resolver(resolver, &sa, e) < 0)
		return -1;
	memset(&rs, 0, sizeof rs);
	if (res_ninit(&rs) < 0)
		return mc_err_set(e, "res_ninit failed");
	rs.nscount = 1;
	rs.nsaddr_list[0] = sa;
	rs.retry = 1;
	rs.retrans = 2;
	rs.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	len = res_nquery(&rs, name, ns_c_in, ns_t_txt, answer, sizeof answer);
	res_nclose(&rs);
	/* res_nquery returns the full length of an answer that did not fit */
	if (len > (int)sizeof answer)
		len = (int)sizeof answer;
	if (len < 0 || ns_initparse(answer, len, &msg) < 0)
		return 0;
	for (i = 0; i < ns_msg_count(msg, ns_s_an) && !found; i++) {
		ns_rr rr;
		const unsigned char *rd, *end;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_txt)
			continue;
		rd = ns_rr_rdata(rr);
		end = rd + ns_rr_rdlen(rr);
		/* a TXT record is one or more <length, bytes> strings */
		while (rd < end && !found) {
			size_t n = *rd++;
			if ((size_t)(end - rd) < n)
				break;
			found = n == strlen(value) && memcmp(rd, value, n) == 0;
			rd += n;
		}
	}
	return found;
}

int mc_dns_txt_wait(const char *resolver, const char *name, const char *value, long timeout_s,
		    mc_err *e)
{
	time_t deadline = time(NULL) + timeout_s;

	for (;;) {
		int r = mc_dns_txt_visible(resolver, name, value, e);
		struct timespec ts = { 2, 0 };

		if (r != 0)
			return r < 0 ? -1 : 0;
		if (time(NULL) + 2 > deadline)
			return mc_err_set(e, "TXT record %s not visible at %s after %ld s", name, resolver, timeout_s);
		nanosleep(&ts, NULL);
	}
}
