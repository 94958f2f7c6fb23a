/*
 * dnscheck - TXT, A/AAAA and CAA look-ups against one chosen server (or the
 * system's) with res_nquery.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnscheck.h"
#include "netaddr.h"

/* the server RESOLVER names, or ("" ) the first of /etc/resolv.conf; the query
 * for NAME/TYPE into Q (its length in QLEN) */
static int make_query(const char *resolver, const char *name, int type, unsigned char *q, int qsize,
		      int *qlen, struct sockaddr_storage *ss, socklen_t *sslen, mc_err *e)
{
	struct __res_state rs;
	int rc = 0;

	if (resolver[0]) {
		mc_err pe;
		if (mc_netaddr_parse(resolver, 53, ss, sslen, &pe) < 0)
			return mc_err_set(e, "resolver %s", pe.msg);
	}
	memset(&rs, 0, sizeof rs);
	if (res_ninit(&rs) < 0)
		return mc_err_set(e, "res_ninit failed");
	rs.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (!resolver[0]) {
		/* glibc keeps an IPv6 server of resolv.conf outside nsaddr_list */
		memset(ss, 0, sizeof *ss);
		if (rs.nscount >= 1 && rs.nsaddr_list[0].sin_family == AF_INET) {
			memcpy(ss, &rs.nsaddr_list[0], sizeof rs.nsaddr_list[0]);
			*sslen = sizeof rs.nsaddr_list[0];
		} else if (rs.nscount >= 1 && rs._u._ext.nsaddrs[0] &&
			   rs._u._ext.nsaddrs[0]->sin6_family == AF_INET6) {
			memcpy(ss, rs._u._ext.nsaddrs[0], sizeof *rs._u._ext.nsaddrs[0]);
			*sslen = sizeof *rs._u._ext.nsaddrs[0];
		} else {
			rc = mc_err_set(e, "no DNS server in /etc/resolv.conf");
		}
	}
	if (rc == 0) {
		*qlen = res_nmkquery(&rs, ns_o_query, name, ns_c_in, type, NULL, 0, NULL, q, qsize);
		if (*qlen < 12)
			rc = mc_err_set(e, "%s: cannot make a DNS query for it", name);
	}
	res_nclose(&rs);
	return rc;
}

/* read exactly LEN bytes from FD within the time-out set on it */
static int read_full(int fd, unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* the query Q again over TCP, for an answer too long for UDP; its length or -1 */
static int query_tcp(const struct sockaddr_storage *sa, socklen_t salen, const unsigned char *q, int qlen,
		     unsigned char *answer, int size)
{
	struct timeval tv = { 5, 0 };
	unsigned char hdr[2] = { (unsigned char)(qlen >> 8), (unsigned char)qlen };
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), len = -1;
	size_t n;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (const struct sockaddr *)sa, salen) == 0 && send(fd, hdr, 2, MSG_NOSIGNAL) == 2 &&
	    send(fd, q, (size_t)qlen, MSG_NOSIGNAL) == qlen && read_full(fd, hdr, 2) == 0) {
		n = (size_t)hdr[0] << 8 | hdr[1];
		if (n >= 12 && n <= (size_t)size && read_full(fd, answer, n) == 0 && answer[0] == q[0] &&
		    answer[1] == q[1] && (answer[2] & 0x80))
			len = (int)n;
	}
	close(fd);
	return len;
}

/*
 * One query over UDP (TCP when the answer is truncated), sent and read here rather than by res_nquery: glibc
 * takes an empty answer without the AA and RA bits for a referral and
 * reports a failure, where the answer says the name has no such record.
 * Returns the answer's length (its answer section may be empty), 0 when the
 * name does not exist, -1 with E when no server gave a usable answer.
 */
static int query(const char *resolver, const char *name, int type, unsigned char *answer, int size,
		 mc_err *e)
{
	const char *server = resolver[0] ? resolver : "the system's resolver";
	unsigned char q[512];
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	int qlen = 0, len = -1, fd, attempt, rcode = -1;

	if (make_query(resolver, name, type, q, sizeof q, &qlen, &sa, &salen, e) < 0)
		return -1;
	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mc_err_set(e, "%s: socket: %s", name, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		close(fd);
		return mc_err_set(e, "%s at %s: %s", name, server, strerror(errno));
	}
	for (attempt = 0; attempt < 3 && len < 0; attempt++) {
		struct pollfd p = { fd, POLLIN, 0 };
		long deadline = 3000;

		if (send(fd, q, (size_t)qlen, 0) < 0)
			continue;
		while (deadline > 0 && poll(&p, 1, (int)deadline) > 0) {
			ssize_t n = recv(fd, answer, (size_t)size, 0);
			/* only the answer to this query: same id, a response */
			if (n >= 12 && answer[0] == q[0] && answer[1] == q[1] && (answer[2] & 0x80)) {
				len = (int)n;
				break;
			}
			deadline -= 100;
		}
	}
	close(fd);
	if (len < 0)
		return mc_err_set(e, "%s at %s: no answer", name, server);
	if ((answer[2] & 0x02) && (len = query_tcp(&sa, salen, q, qlen, answer, size)) < 0)
		return mc_err_set(e, "%s at %s: the answer is truncated and TCP gave none", name, server);
	rcode = answer[3] & 0x0f;
	if (rcode == ns_r_noerror)
		return len;
	if (rcode == ns_r_nxdomain)
		return 0;
	return mc_err_set(e, "%s at %s: %s", name, server,
			  rcode == ns_r_servfail ? "server failure" : "the server refused the query or could not answer it");
}

/* query() for NAME and TYPE, the answer parsed into MSG: 1, 0 when the name does not
 * exist or the answer does not parse, -1 with E when no server gave one */
static int answer_of(const char *resolver, const char *name, int type, unsigned char *answer, int size,
		     ns_msg *msg, mc_err *e)
{
	int len = query(resolver, name, type, answer, size, e);

	if (len <= 0)
		return len;
	return ns_initparse(answer, len, msg) < 0 ? 0 : 1;
}

/* the next record of TYPE in MSG's answer section, from record *I on, into RR; 0 when
 * there is none left */
static int next_rr(ns_msg *msg, int *i, int type, ns_rr *rr)
{
	while (*i < ns_msg_count(*msg, ns_s_an))
		if (ns_parserr(msg, ns_s_an, (*i)++, rr) == 0 && (int)ns_rr_type(*rr) == type)
			return 1;
	return 0;
}

int mc_dns_addrs(const char *resolver, const char *name, char (*addrs)[INET6_ADDRSTRLEN], int max, mc_err *e)
{
	static const int types[] = { ns_t_a, ns_t_aaaa };
	unsigned char answer[4096];
	int t, i, n = 0;

	for (t = 0; t < 2; t++) {
		ns_msg msg;
		ns_rr rr;
		int r = answer_of(resolver, name, types[t], answer, sizeof answer, &msg, e);

		if (r < 0)
			return -1;
		for (i = 0; r > 0 && n < max && next_rr(&msg, &i, types[t], &rr);) {
			if (types[t] == ns_t_a && ns_rr_rdlen(rr) == 4)
				inet_ntop(AF_INET, ns_rr_rdata(rr), addrs[n++], INET6_ADDRSTRLEN);
			else if (types[t] == ns_t_aaaa && ns_rr_rdlen(rr) == 16)
				inet_ntop(AF_INET6, ns_rr_rdata(rr), addrs[n++], INET6_ADDRSTRLEN);
		}
	}
	return n;
}

int mc_dns_caa(const char *resolver, const char *name, mc_caa *out, int max, mc_err *e)
{
	unsigned char answer[8192];
	ns_msg msg;
	ns_rr rr;
	int r, i = 0, n = 0;

	r = answer_of(resolver, name, MC_NS_T_CAA, answer, sizeof answer, &msg, e);
	if (r <= 0)
		return r;
	while (n < max && next_rr(&msg, &i, MC_NS_T_CAA, &rr)) {
		const unsigned char *rd;
		size_t rdlen, taglen;

		/* RFC 8659 section 4.1: flags, tag length, tag, value (the rest) */
		rd = ns_rr_rdata(rr);
		rdlen = ns_rr_rdlen(rr);
		if (rdlen < 2 || (taglen = rd[1]) < 1 || taglen > rdlen - 2 || taglen >= sizeof out[n].tag)
			continue;
		out[n].flags = rd[0];
		memcpy(out[n].tag, rd + 2, taglen);
		out[n].tag[taglen] = '\0';
		rdlen -= 2 + taglen;
		if (rdlen >= sizeof out[n].value)
			rdlen = sizeof out[n].value - 1;
		memcpy(out[n].value, rd + 2 + taglen, rdlen);
		out[n].value[rdlen] = '\0';
		n++;
	}
	return n;
}

#define MC_NS_T_TLSA 52

int mc_dns_tlsa(const char *resolver, const char *name, mc_tlsa_rr *out, int max, mc_err *e)
{
	unsigned char answer[8192];
	ns_msg msg;
	ns_rr rr;
	int r, i = 0, n = 0;

	r = answer_of(resolver, name, MC_NS_T_TLSA, answer, sizeof answer, &msg, e);
	if (r <= 0)
		return r;
	while (n < max && next_rr(&msg, &i, MC_NS_T_TLSA, &rr)) {
		const unsigned char *rd;
		size_t rdlen, k;

		/* RFC 6698 section 2.1: usage, selector, matching type, data */
		rd = ns_rr_rdata(rr);
		rdlen = ns_rr_rdlen(rr);
		if (rdlen < 4)
			continue;
		out[n].usage = rd[0];
		out[n].selector = rd[1];
		out[n].mtype = rd[2];
		out[n].ttl = (unsigned long)ns_rr_ttl(rr);
		out[n].hex[0] = '\0';
		if (rdlen - 3 <= (sizeof out[n].hex - 1) / 2)
			for (k = 0; k < rdlen - 3; k++)
				snprintf(out[n].hex + 2 * k, 3, "%02x", rd[3 + k]);
		n++;
	}
	return n;
}

int mc_dns_txt_visible(const char *resolver, const char *name, const char *value, mc_err *e)
{
	unsigned char answer[4096];
	ns_msg msg;
	ns_rr rr;
	mc_err qe;
	int i = 0, found = 0;

	if (resolver[0]) {
		struct sockaddr_storage ss;
		socklen_t sslen;
		mc_err pe;
		if (mc_netaddr_parse(resolver, 53, &ss, &sslen, &pe) < 0)
			return mc_err_set(e, "resolver %s", pe.msg);
	}
	/* no answer yet, or none at all: not visible (yet) */
	if (answer_of(resolver, name, ns_t_txt, answer, sizeof answer, &msg, &qe) <= 0)
		return 0;
	while (!found && next_rr(&msg, &i, ns_t_txt, &rr)) {
		const unsigned char *rd, *end;

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
			return mc_err_set(e, "TXT record %s not visible at %s after %ld s", name,
					  resolver[0] ? resolver : "the system's resolver", timeout_s);
		nanosleep(&ts, NULL);
	}
}
