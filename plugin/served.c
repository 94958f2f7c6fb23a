/*
 * served - probe every managed listener and compare what it serves with
 * what is loaded (see served.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "fsutil.h"
#include "hostname.h"
#include "loaded.h"
#include "log.h"
#include "mta.h"
#include "privdrop.h"
#include "served.h"
#include "timefmt.h"
#include "x509chk.h"

#define MS_LINE_MAX 1024
#define MS_DETAIL_MAX 300
#define MS_LABEL_MAX 159
#define MS_DISCOVERY_MS 30000
#define MS_SENDMAIL_CF_MAX (4 * 1024 * 1024)

/* ---------- listener discovery: parsers ---------- */

/* HOST (an IP literal or a host name) checked and normalised into OUT; 0 when usable */
static int host_ok(const char *host, char *out, size_t outlen)
{
	unsigned char addr[16];
	char name[MC_HOSTNAME_MAX + 1];
	mc_err e;

	if (strlen(host) >= outlen)
		return -1;
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
		mc_pathf(out, outlen, "%s", host);
		return 0;
	}
	if (mc_hostname_check(host, 0, name, &e) < 0 && strcmp(host, "localhost") != 0)
		return -1;
	mc_pathf(out, outlen, "%s", strcmp(host, "localhost") == 0 ? "127.0.0.1" : name);
	return 0;
}

/* PORT (digits or a service name) as decimal into OUT; 0 when it is a usable port */
static int port_ok(const char *port, char out[8])
{
	long v;
	char *end;

	if (port[0] >= '0' && port[0] <= '9') {
		errno = 0;
		v = strtol(port, &end, 10);
		if (*end || errno || v < 1 || v > 65535)
			return -1;
	} else {
		struct servent *s;
		size_t i;
		for (i = 0; port[i]; i++)
			if (!isalnum((unsigned char)port[i]) && port[i] != '-' && port[i] != '_')
				return -1;
		if (i == 0 || i > 32 || !(s = getservbyname(port, "tcp")))
			return -1;
		v = ntohs((unsigned short)s->s_port);
		if (v < 1)
			return -1;
	}
	snprintf(out, 8, "%ld", v);
	return 0;
}

/* the first address of a list ("a, b c"); wildcards become loopback */
static void first_addr(const char *list, char *out, size_t outlen)
{
	size_t k;

	list += strspn(list, " \t\r\n,");
	k = strcspn(list, " \t\r\n,");
	if (k == 0 || k >= outlen) {
		mc_pathf(out, outlen, "127.0.0.1");
		return;
	}
	memcpy(out, list, k);
	out[k] = '\0';
	if (out[0] == '[' && out[k - 1] == ']') {
		memmove(out, out + 1, k - 2);
		out[k - 2] = '\0';
	}
	if (strcmp(out, "all") == 0 || strcmp(out, "loopback-only") == 0 ||
	    strcmp(out, "*") == 0 || strcmp(out, "0.0.0.0") == 0)
		mc_pathf(out, outlen, "127.0.0.1");
	else if (strcmp(out, "::") == 0)
		mc_pathf(out, outlen, "::1");
}

static void add_listener(ms_listener **v, size_t *n, const char *mta, const char *what,
			 const char *host, const char *port, int proto)
{
	ms_listener *l;

	*v = mc_realloc(*v, (*n + 1) * sizeof **v);
	l = &(*v)[(*n)++];
	memset(l, 0, sizeof *l);
	mc_pathf(l->host, sizeof l->host, "%s", host);
	mc_pathf(l->port, sizeof l->port, "%s", port);
	l->proto = proto;
	/* a long host name is cut short in the label, not fatal */
	snprintf(l->label, sizeof l->label, strchr(host, ':') ? "%s %s [%s]:%s" : "%s %s %s:%s",
		 mta, what, host, port);
}

#define MS_TOKENS 64

size_t ms_parse_postfix(const char *master, const char *inet_interfaces, ms_listener **v,
			size_t *n)
{
	const char *p = master ? master : "";
	size_t added = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[4096], *tok[MS_TOKENS], *save = NULL, *s;
		char host[256], port[64], cport[8], chost[256];
		const char *cmd;
		int nt = 0, i, wrapper = 0;

		if (len < sizeof line) {
			memcpy(line, p, len);
			line[len] = '\0';
			for (s = strtok_r(line, " \t\r", &save); s && nt < MS_TOKENS;
			     s = strtok_r(NULL, " \t\r", &save))
				tok[nt++] = s;
		}
		p += len + (eol ? 1 : 0);
		if (nt < 8 || tok[0][0] == '#' || strcmp(tok[1], "inet") != 0)
			continue;
		cmd = strrchr(tok[7], '/') ? strrchr(tok[7], '/') + 1 : tok[7];
		if (strcmp(cmd, "smtpd") != 0 && strcmp(cmd, "postscreen") != 0)
			continue;
		for (i = 8; i < nt; i++) {
			if (strcmp(tok[i], "-o") != 0 || i + 1 >= nt)
				continue;
			if (strcmp(tok[i + 1], "smtpd_tls_wrappermode=yes") == 0) {
				wrapper = 1;
			} else if (strcmp(tok[i + 1], "{") == 0 && i + 4 < nt &&
				   strcmp(tok[i + 2], "smtpd_tls_wrappermode") == 0 &&
				   strcmp(tok[i + 3], "=") == 0 && strcmp(tok[i + 4], "yes") == 0) {
				wrapper = 1;
			}
		}
		/* the service name: [host]:port, host:port or port */
		s = tok[0];
		if (s[0] == '[') {
			char *close = strchr(s, ']');
			if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
				continue;
			memcpy(host, s + 1, (size_t)(close - s - 1));
			host[close - s - 1] = '\0';
			mc_pathf(port, sizeof port, "%s", close + 2);
		} else if (strrchr(s, ':')) {
			char *colon = strrchr(s, ':');
			if ((size_t)(colon - s) >= sizeof host)
				continue;
			memcpy(host, s, (size_t)(colon - s));
			host[colon - s] = '\0';
			mc_pathf(port, sizeof port, "%s", colon + 1);
		} else {
			first_addr(inet_interfaces ? inet_interfaces : "", host, sizeof host);
			mc_pathf(port, sizeof port, "%s", s);
		}
		if (strcmp(host, "*") == 0 || host[0] == '\0')
			mc_pathf(host, sizeof host, "127.0.0.1");
		if (host_ok(host, chost, sizeof chost) < 0 || port_ok(port, cport) < 0)
			continue;
		add_listener(v, n, "postfix", cmd, chost, cport, wrapper ? MS_IMPLICIT : MS_SMTP);
		added++;
	}
	return added;
}

/* 1 when the word W is in the list LIST */
static int has_word(const char *list, const char *w)
{
	size_t k = strlen(w);
	const char *p = list ? list : "";

	while (*p) {
		size_t len;
		p += strspn(p, " \t,\n");
		len = strcspn(p, " \t,\n");
		if (len == k && strncmp(p, w, k) == 0)
			return 1;
		p += len;
	}
	return 0;
}

/* "  key = value": VALUE points into LINE; 0 when the line has that shape */
static int keyval(char *line, char **key, char **value)
{
	char *eq = strstr(line, " = ");

	if (!eq) {
		size_t l = strlen(line);
		/* "key =" with an empty value */
		if (l >= 2 && strcmp(line + l - 2, " =") == 0) {
			line[l - 2] = '\0';
			*key = line + strspn(line, " ");
			*value = line + l;
			return 0;
		}
		return -1;
	}
	*eq = '\0';
	*key = line + strspn(line, " ");
	*value = eq + 3;
	return 0;
}

size_t ms_parse_dovecot(const char *services, const char *protocols, const char *listen,
			ms_listener **v, size_t *n)
{
	const char *p = services ? services : "";
	char service[64] = "", lname[64] = "", addr[256] = "", port[64] = "";
	int depth = 0, in_listener = 0, ssl = 0, haproxy = 0;
	size_t added = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[1024], *key, *value, *t;

		p += len + (eol ? 1 : 0);
		if (len >= sizeof line)
			continue;
		memcpy(line, p - len - (eol ? 1 : 0), len);
		line[len] = '\0';
		while (len && (line[len - 1] == ' ' || line[len - 1] == '\r'))
			line[--len] = '\0';
		t = line + strspn(line, " ");
		if (len && line[len - 1] == '{') {
			char kind[32], name[64];
			if (depth == 0 && sscanf(t, "service %63s {", name) == 1) {
				mc_pathf(service, sizeof service, "%s", name);
			} else if (depth == 1 && sscanf(t, "%31s %63s {", kind, name) == 2 &&
				   strcmp(kind, "inet_listener") == 0) {
				in_listener = 1;
				mc_pathf(lname, sizeof lname, "%s", name);
				addr[0] = port[0] = '\0';
				ssl = haproxy = 0;
			}
			depth++;
			continue;
		}
		if (strcmp(t, "}") == 0) {
			if (depth == 2 && in_listener) {
				const char *proto = NULL;
				char host[256], chost[256], cport[8];
				int kind = MS_SMTP;

				in_listener = 0;
				if (strcmp(service, "imap-login") == 0)
					proto = "imap", kind = MS_IMAP;
				else if (strcmp(service, "pop3-login") == 0)
					proto = "pop3", kind = MS_POP3;
				else if (strcmp(service, "submission-login") == 0)
					proto = "submission", kind = MS_SMTP;
				if (proto && has_word(protocols, proto) && !haproxy && port[0] &&
				    strcmp(port, "0") != 0) {
					first_addr(addr[0] ? addr : (listen && listen[0] ? listen : "*"),
						   host, sizeof host);
					if (host_ok(host, chost, sizeof chost) == 0 &&
					    port_ok(port, cport) == 0) {
						add_listener(v, n, "dovecot", lname, chost, cport,
							     ssl ? MS_IMPLICIT : kind);
						added++;
					}
				}
			}
			if (depth > 0)
				depth--;
			if (depth == 0)
				service[0] = '\0';
			continue;
		}
		if (!in_listener || depth != 2 || keyval(line, &key, &value) < 0)
			continue;
		/* 2.3 says address, 2.4 listen */
		if (strcmp(key, "address") == 0 || strcmp(key, "listen") == 0)
			mc_pathf(addr, sizeof addr, "%s", value);
		else if (strcmp(key, "port") == 0)
			mc_pathf(port, sizeof port, "%s", value);
		else if (strcmp(key, "ssl") == 0)
			ssl = strcmp(value, "yes") == 0;
		else if (strcmp(key, "haproxy") == 0)
			haproxy = strcmp(value, "yes") == 0;
	}
	return added;
}

/* the value of option NAME in `exim -bP` output BP, into OUT; 0 when it is there */
static int exim_option(const char *bp, const char *name, char *out, size_t outlen)
{
	size_t k = strlen(name);
	const char *p = bp;

	while (p && *p) {
		if (strncmp(p, name, k) == 0 && p[k] == ' ' && p[k + 1] == '=') {
			const char *v = p + k + 2;
			size_t len;
			v += strspn(v, " \t");
			len = strcspn(v, "\r\n");
			if (len >= outlen)
				return -1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* Exim's list separator for LIST ("<;" changes it from ':'), and where the items start */
static int exim_sep(const char **list)
{
	const char *s = *list + strspn(*list, " \t");

	if (s[0] == '<' && s[1] && ispunct((unsigned char)s[1])) {
		*list = s + 2;
		return s[1];
	}
	*list = s;
	return ':';
}

/* the next item of an Exim list (a doubled separator stands for itself), trimmed,
 * into OUT (an item too long comes back empty); 0 at the end */
static int exim_item(const char **p, int sep, char *out, size_t outlen)
{
	const char *s = *p;
	size_t k = 0;
	int toolong = 0;

	if (!*s)
		return 0;
	s += strspn(s, " \t");
	while (*s) {
		char c = *s++;
		if (c == sep) {
			if (*s != sep)
				break;
			s++;
		}
		if (k + 1 < outlen)
			out[k++] = c;
		else
			toolong = 1;
	}
	while (k && (out[k - 1] == ' ' || out[k - 1] == '\t'))
		k--;
	out[toolong ? 0 : k] = '\0';
	*p = s;
	return 1;
}

/* an interface of local_interfaces: [ADDR]:PORT, ADDR.PORT or ADDR, into HOST and
 * PORT ("" when the item has none); 0 when usable */
static int exim_iface(const char *item, char *host, size_t hostlen, char *port, size_t portlen)
{
	unsigned char a[16];
	const char *dot;

	port[0] = '\0';
	if (item[0] == '[') {
		const char *close = strchr(item, ']');
		if (!close || (size_t)(close - item - 1) >= hostlen)
			return -1;
		memcpy(host, item + 1, (size_t)(close - item - 1));
		host[close - item - 1] = '\0';
		if (close[1] == ':') {
			if (strlen(close + 2) >= portlen)
				return -1;
			mc_pathf(port, portlen, "%s", close + 2);
		} else if (close[1]) {
			return -1;
		}
	} else if (inet_pton(AF_INET, item, a) == 1 || inet_pton(AF_INET6, item, a) == 1) {
		mc_pathf(host, hostlen, "%s", item);
	} else {
		dot = strrchr(item, '.');
		if (!dot || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1) ||
		    strlen(dot + 1) >= portlen || (size_t)(dot - item) >= hostlen)
			return -1;
		memcpy(host, item, (size_t)(dot - item));
		host[dot - item] = '\0';
		mc_pathf(port, portlen, "%s", dot + 1);
	}
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return -1;
	/* every interface, IPv4 or IPv6 (Exim's ::0 socket takes IPv4 too) */
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::0") == 0 || strcmp(host, "::") == 0)
		mc_pathf(host, hostlen, "127.0.0.1");
	return 0;
}

#define MS_EXIM_PORTS 32

/* the ports of Exim list LIST as decimal strings into OUT; how many */
static size_t exim_ports(const char *list, char out[][8], size_t max)
{
	char item[64], port[8];
	size_t n = 0;
	int sep = exim_sep(&list);

	while (n < max && exim_item(&list, sep, item, sizeof item))
		if (item[0] && port_ok(item, port) == 0)
			memcpy(out[n++], port, sizeof port);
	return n;
}

size_t ms_parse_exim(const char *bp, ms_listener **v, size_t *n)
{
	char ifaces[4096], list[1024], item[300], host[256], port[64], chost[256], cport[8];
	char dports[MS_EXIM_PORTS][8], tports[MS_EXIM_PORTS][8];
	size_t nd, nt, i, k, first = *n, added = 0;
	const char *p = ifaces;
	int sep;

	if (!bp)
		return 0;
	if (exim_option(bp, "local_interfaces", ifaces, sizeof ifaces) < 0)
		mc_pathf(ifaces, sizeof ifaces, "<; ::0 ; 0.0.0.0");
	if (exim_option(bp, "daemon_smtp_ports", list, sizeof list) < 0)
		mc_pathf(list, sizeof list, "smtp");
	nd = exim_ports(list, dports, MS_EXIM_PORTS);
	if (exim_option(bp, "tls_on_connect_ports", list, sizeof list) < 0)
		list[0] = '\0';
	nt = exim_ports(list, tports, MS_EXIM_PORTS);
	sep = exim_sep(&p);
	while (exim_item(&p, sep, item, sizeof item)) {
		if (!item[0] || exim_iface(item, host, sizeof host, port, sizeof port) < 0 ||
		    host_ok(host, chost, sizeof chost) < 0)
			continue;
		for (i = 0; i < (port[0] ? 1 : nd); i++) {
			int dup = 0, tls = 0;
			if (!port[0])
				memcpy(cport, dports[i], sizeof cport);
			else if (port_ok(port, cport) < 0)
				continue;
			for (k = first; k < *n; k++)
				dup |= strcmp((*v)[k].host, chost) == 0 && strcmp((*v)[k].port, cport) == 0;
			for (k = 0; k < nt; k++)
				tls |= strcmp(tports[k], cport) == 0;
			if (dup)
				continue;
			add_listener(v, n, "exim", tls ? "smtps" : "smtp", chost, cport, tls ? MS_IMPLICIT : MS_SMTP);
			added++;
		}
	}
	return added;
}

#define MS_SENDMAIL_DAEMONS 16
#define MS_SENDMAIL_NAME_MAX 32

/* one DaemonPortOptions value (key=value pairs, comma-separated; Sendmail reads a
 * key by its first letter, so Addr, Address and A are one key) as a listener;
 * 0 when it is one that can be probed */
static int sendmail_daemon(char *opts, size_t idx, ms_listener **v, size_t *n)
{
	const char *addr = NULL, *port = "25", *family = "inet", *mods = "", *name = NULL;
	char host[256], chost[256], cport[8], label[MS_SENDMAIL_NAME_MAX + 1];
	char *p = opts, *save = NULL, *pair;
	unsigned char a[16];
	int inet6;
	size_t i;

	for (pair = strtok_r(p, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
		char *key = pair + strspn(pair, " \t"), *val = strchr(key, '='), *end;
		if (!val)
			continue;
		val++;
		val += strspn(val, " \t");
		for (end = val + strlen(val); end > val && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = '\0';
		switch (key[0]) {
		case 'A': addr = val; break;
		case 'F': family = val; break;
		case 'M': mods = val; break;
		case 'N': name = val; break;
		case 'P': port = val; break;
		default: break; /* the listen queue, buffer sizes, filters...: not where it listens */
		}
	}
	/* S: this daemon offers no STARTTLS, so a plain SMTP daemon has nothing to
	 * probe (s, TLS from the first byte, still has) */
	if (strchr(mods, 'S') && !strchr(mods, 's'))
		return -1;
	if (strcasecmp(family, "inet6") == 0)
		inet6 = 1;
	else if (strcasecmp(family, "inet") == 0)
		inet6 = 0;
	else
		return -1; /* a local socket or an old family: no TLS to probe there */
	if (!addr || !addr[0])
		addr = inet6 ? "::" : "0.0.0.0";
	if (inet6 && strncasecmp(addr, "IPv6:", 5) == 0)
		addr += 5;
	if (strlen(addr) >= sizeof host)
		return -1;
	mc_pathf(host, sizeof host, "%s", addr);
	/* a literal of the other family is no address of this daemon */
	if (inet_pton(inet6 ? AF_INET : AF_INET6, host, a) == 1)
		return -1;
	if (strcmp(host, "0.0.0.0") == 0)
		mc_pathf(host, sizeof host, "127.0.0.1");
	else if (strcmp(host, "::") == 0 || strcmp(host, "::0") == 0)
		mc_pathf(host, sizeof host, "::1");
	if (host_ok(host, chost, sizeof chost) < 0 || port_ok(port, cport) < 0)
		return -1;
	/* its Name in the label when that is a plain word, else Sendmail's own default */
	for (i = 0; name && name[i] && i < MS_SENDMAIL_NAME_MAX; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			break;
	if (name && name[0] && !name[i])
		mc_pathf(label, sizeof label, "%s", name);
	else
		mc_pathf(label, sizeof label, "Daemon%zu", idx);
	for (i = 0; i < *n; i++)
		if ((*v)[i].default_only && strcmp((*v)[i].host, chost) == 0 &&
		    strcmp((*v)[i].port, cport) == 0)
			return -1;
	add_listener(v, n, "sendmail", label, chost, cport, strchr(mods, 's') ? MS_IMPLICIT : MS_SMTP);
	(*v)[*n - 1].default_only = 1;
	return 0;
}

/* "O DaemonPortOptions=VALUE" (the option's name in any case, blanks around '='):
 * VALUE, or NULL when LINE is another line */
static char *sendmail_dpo(char *line)
{
	static const char opt[] = "DaemonPortOptions";
	char *p;

	if (line[0] != 'O' || (line[1] != ' ' && line[1] != '\t'))
		return NULL;
	p = line + 1 + strspn(line + 1, " \t");
	if (strncasecmp(p, opt, sizeof opt - 1) != 0)
		return NULL;
	p += sizeof opt - 1;
	p += strspn(p, " \t");
	if (*p != '=')
		return NULL;
	return p + 1;
}

size_t ms_parse_sendmail(const char *cf, ms_listener **v, size_t *n)
{
	const char *p = cf ? cf : "";
	size_t added = 0, daemons = 0;

	while (*p) {
		const char *start = p, *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[4096], *value;

		p += len + (eol ? 1 : 0);
		if (len < 2 || start[0] != 'O')
			continue;
		/* a DaemonPortOptions line this long is not Sendmail's: skipped, still counted */
		if (len >= sizeof line) {
			if (strncasecmp(start, "O DaemonPortOptions", 19) == 0)
				daemons++;
			continue;
		}
		memcpy(line, start, len);
		line[len] = '\0';
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (!(value = sendmail_dpo(line)))
			continue;
		if (++daemons > MS_SENDMAIL_DAEMONS)
			break;
		if (sendmail_daemon(value, daemons - 1, v, n) == 0)
			added++;
	}
	/* no DaemonPortOptions at all: Sendmail's one daemon, IPv4 on every address, port 25 */
	if (daemons == 0 && cf && cf[0]) {
		char dflt[] = "Name=Daemon0";
		if (sendmail_daemon(dflt, 0, v, n) == 0)
			added++;
	}
	return added;
}

/* ---------- the probes (in the round's process) ---------- */

static long long now_ms(void)
{
	return (long long)mc_mono_ms();
}

/* printable ASCII of S (at most MAX bytes) into OUT */
static void clean(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < outlen; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

typedef struct probe {
	int result;
	ms_leaf leaf;      /* what was served, when a leaf was */
	char detail[MS_DETAIL_MAX];
	time_t time;
	int silent;        /* the listener did not answer in time */
} probe;

static int set_detail(probe *r, int result, const char *fmt, ...) MC_PRINTF(3, 4);
static int set_detail(probe *r, int result, const char *fmt, ...)
{
	char buf[MS_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	clean(buf, r->detail, sizeof r->detail);
	r->result = result;
	return -1;
}

/* wait until FD is ready for EVENTS or DEADLINE passes; 0 when ready */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd pfd = { fd, events, 0 };
		long long left = deadline - now_ms();
		int rc;

		if (left <= 0)
			return -1;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

static int tcp_connect(const ms_listener *l, probe *r)
{
	struct addrinfo hints, *res = NULL, *a;
	int rc, fd = -1, tries = 0;
	char why[128] = "no address";

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(l->host, l->port, &hints, &res);
	if (rc != 0)
		return set_detail(r, MS_UNREACHABLE, "%s: %s", l->host, gai_strerror(rc));
	for (a = res; a && tries < 2; a = a->ai_next, tries++) {
		long long deadline = now_ms() + MS_CONNECT_MS;
		int err = 0;
		socklen_t elen = sizeof err;

		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			snprintf(why, sizeof why, "socket: %s", strerror(errno));
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			if (wait_fd(fd, POLLOUT, deadline) < 0) {
				snprintf(why, sizeof why, "no connection within %d ms", MS_CONNECT_MS);
			} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0) {
				break;
			} else {
				snprintf(why, sizeof why, "connect: %s", strerror(err ? err : errno));
			}
		} else {
			snprintf(why, sizeof why, "connect: %s", strerror(errno));
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return set_detail(r, MS_UNREACHABLE, "%s", why);
	return fd;
}

static int send_all(int fd, const char *s, long long deadline)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t k = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (k > 0) {
			off += (size_t)k;
		} else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* one line (CRLF or LF dropped, an over-long one cut) byte by byte: nothing
 * past the line is read, the TLS handshake follows it on the same socket */
static int read_line(int fd, char *buf, size_t len, long long deadline)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t k = recv(fd, &c, 1, 0);
		if (k == 1) {
			if (c == '\n')
				break;
			if (c != '\r' && n + 1 < len)
				buf[n++] = c;
		} else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLIN, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	buf[n] = '\0';
	return 0;
}

/* an SMTP reply: its code, and whether a line of it offered STARTTLS */
static int smtp_reply(int fd, long long deadline, int *starttls, char *last, size_t lastlen)
{
	char line[MS_LINE_MAX];
	int lines = 0;

	for (;;) {
		if (read_line(fd, line, sizeof line, deadline) < 0 || ++lines > 100)
			return -1;
		if (strlen(line) < 3 || !isdigit((unsigned char)line[0]))
			return -1;
		if (starttls && strncasecmp(line + 4, "STARTTLS", 8) == 0)
			*starttls = 1;
		if (line[3] != '-') {
			clean(line, last, lastlen);
			return atoi(line);
		}
	}
}

/* the plain-text part: 0 when the server is ready for the TLS handshake */
static int starttls(int fd, int proto, long long deadline, probe *r)
{
	char line[MS_LINE_MAX], last[120] = "";
	int code, offered = 0, i;

	switch (proto) {
	case MS_SMTP:
		code = smtp_reply(fd, deadline, NULL, last, sizeof last);
		if (code < 0)
			return set_detail(r, MS_UNREACHABLE, "no SMTP greeting");
		if (code != 220)
			return set_detail(r, MS_UNREACHABLE, "greeting: %s", last);
		if (send_all(fd, "EHLO mailcert-milter.invalid\r\n", deadline) < 0 ||
		    (code = smtp_reply(fd, deadline, &offered, last, sizeof last)) < 0)
			return set_detail(r, MS_UNREACHABLE, "no answer to EHLO");
		if (code != 250 || !offered)
			return set_detail(r, MS_NO_TLS, "STARTTLS not offered");
		if (send_all(fd, "STARTTLS\r\n", deadline) < 0 ||
		    (code = smtp_reply(fd, deadline, NULL, last, sizeof last)) < 0)
			return set_detail(r, MS_UNREACHABLE, "no answer to STARTTLS");
		if (code != 220)
			return set_detail(r, MS_NO_TLS, "STARTTLS refused: %s", last);
		return 0;
	case MS_IMAP:
		if (read_line(fd, line, sizeof line, deadline) < 0)
			return set_detail(r, MS_UNREACHABLE, "no IMAP greeting");
		if (strncmp(line, "* OK", 4) != 0)
			return set_detail(r, MS_UNREACHABLE, "greeting: %.100s", line);
		if (send_all(fd, "m1 STARTTLS\r\n", deadline) < 0)
			return set_detail(r, MS_UNREACHABLE, "connection lost");
		for (i = 0; i < 100; i++) {
			if (read_line(fd, line, sizeof line, deadline) < 0)
				return set_detail(r, MS_UNREACHABLE, "no answer to STARTTLS");
			if (strncmp(line, "m1 ", 3) != 0)
				continue;
			if (strncmp(line, "m1 OK", 5) == 0)
				return 0;
			return set_detail(r, MS_NO_TLS, "STARTTLS refused: %.100s", line);
		}
		return set_detail(r, MS_UNREACHABLE, "no answer to STARTTLS");
	case MS_POP3:
		if (read_line(fd, line, sizeof line, deadline) < 0)
			return set_detail(r, MS_UNREACHABLE, "no POP3 greeting");
		if (strncmp(line, "+OK", 3) != 0)
			return set_detail(r, MS_UNREACHABLE, "greeting: %.100s", line);
		if (send_all(fd, "STLS\r\n", deadline) < 0 || read_line(fd, line, sizeof line, deadline) < 0)
			return set_detail(r, MS_UNREACHABLE, "no answer to STLS");
		if (strncmp(line, "+OK", 3) != 0)
			return set_detail(r, MS_NO_TLS, "STLS refused: %.100s", line);
		return 0;
	default:
		return 0;
	}
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = x[d[i] >> 4];
		out[2 * i + 1] = x[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* the leaf's SHA-256 (of its DER), serial and validity; covers is left as it is */
static int leaf_read(X509 *x, ms_leaf *l)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	mc_certinfo ci;

	if (!X509_digest(x, EVP_sha256(), d, &dl) || dl != 32 || mc_cert_info(x, &ci) < 0)
		return -1;
	hex(d, 32, l->sha256);
	mc_pathf(l->serial, sizeof l->serial, "%s", ci.serial);
	l->not_before = ci.not_before;
	l->not_after = ci.not_after;
	return 0;
}

/* the TLS handshake on FD with SNI (NULL: none); the served leaf into R, and
 * whether it covers CHECK (NULL: no name to check) */
static int handshake(SSL_CTX *ctx, int fd, const char *sni, const char *check, int proto,
		     long long deadline, probe *r)
{
	SSL *ssl = SSL_new(ctx);
	X509 *x = NULL;
	int rc = -1;

	if (!ssl)
		return set_detail(r, MS_NO_TLS, "SSL_new failed");
	SSL_set_fd(ssl, fd);
	if (sni)
		SSL_set_tlsext_host_name(ssl, sni);
	for (;;) {
		int k = SSL_connect(ssl), err;
		if (k == 1)
			break;
		err = SSL_get_error(ssl, k);
		if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
		    wait_fd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) == 0)
			continue;
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			set_detail(r, MS_NO_TLS, "no TLS handshake within %d ms", MS_HANDSHAKE_MS);
			r->silent = 1;
		} else {
			char buf[160];
			unsigned long ec = ERR_peek_last_error();
			ERR_error_string_n(ec, buf, sizeof buf);
			set_detail(r, MS_NO_TLS, "TLS handshake failed: %s", ec ? buf : "connection closed");
		}
		ERR_clear_error();
		goto out;
	}
	x = SSL_get1_peer_certificate(ssl);
	if (!x || leaf_read(x, &r->leaf) < 0) {
		set_detail(r, MS_NO_TLS, "no certificate served");
		goto out;
	}
	r->leaf.covers = !check || mc_cert_covers(x, check);
	rc = 0;
	/* a polite end; the answer is not waited for */
	SSL_write(ssl, proto == MS_IMAP ? "m2 LOGOUT\r\n" : "QUIT\r\n",
		  proto == MS_IMAP ? 11 : 6);
	SSL_shutdown(ssl);
out:
	X509_free(x);
	SSL_free(ssl);
	ERR_clear_error();
	return rc;
}

/* probe listener L with SNI (NULL: none); 0 when a leaf was served (for
 * CHECK, the name it must be valid for) */
static int probe_one(SSL_CTX *ctx, const ms_listener *l, const char *sni, const char *check, probe *r)
{
	long long deadline;
	int fd, rc;

	memset(r, 0, sizeof *r);
	r->time = mc_now();
	fd = tcp_connect(l, r);
	if (fd < 0)
		return -1;
	deadline = now_ms() + MS_HANDSHAKE_MS;
	rc = starttls(fd, l->proto, deadline, r);
	if (rc == 0)
		rc = handshake(ctx, fd, sni, check, l->proto, deadline, r);
	close(fd);
	return rc;
}

/* what a round probes: one name (or none) on one listener */
typedef struct task {
	size_t listener;
	const char *name;       /* the configured name; NULL: no SNI */
	const mh_host *host;    /* whose set should be served */
	size_t hostidx;
	probe r;
	int done;
} task;

typedef struct expect {
	ms_leaf leaf;
	int ok;
} expect;

/* the leaf of host H's loaded set (read as root, before the probes) */
static void expected_leaf(const mh_host *h, expect *x)
{
	STACK_OF(X509) *certs = NULL;
	mc_buf b;
	mc_err e;

	x->ok = 0;
	mc_buf_init(&b);
	if (h->file[0] && mc_file_read(h->file, 1 << 20, &b, &e) == 0 && b.data &&
	    mc_pem_read_certs(b.data, b.len, &certs, &e) == 0 && sk_X509_num(certs) > 0 &&
	    leaf_read(sk_X509_value(certs, 0), &x->leaf) == 0)
		x->ok = 1;
	sk_X509_pop_free(certs, X509_free);
	mc_buf_cleanse(&b);
	mc_buf_free(&b);
}

/* a SNI name for NAME: a wildcard's own label is not a name */
static void sni_for(const char *name, char *out, size_t outlen)
{
	if (name[0] == '*' && name[1] == '.')
		mc_pathf(out, outlen, "mailcert-served-check%s", name + 1);
	else
		mc_pathf(out, outlen, "%s", name);
}

static void discover(const mc_config *cfg, ms_listener **v, size_t *n, json_t *errors)
{
	mc_buf out, iface;
	mc_err e;

	mc_buf_init(&out);
	mc_buf_init(&iface);
	if (cfg->listen_postfix) {
		const char *dir = cfg->postfix_config_dir;
		const char *a1[] = { "postconf", "-c", dir, "-M", NULL };
		const char *a2[] = { "postconf", "-c", dir, "-h", "inet_interfaces", NULL };
		if (mta_run_output(a1, MS_DISCOVERY_MS, &out, &e) < 0)
			json_array_append_new(errors, json_sprintf("postfix: postconf -c %s -M: %s", dir, e.msg));
		else if (mta_run_output(a2, MS_DISCOVERY_MS, &iface, &e) < 0)
			json_array_append_new(errors, json_sprintf("postfix: postconf -h inet_interfaces: %s", e.msg));
		else if (ms_parse_postfix(out.data, iface.data, v, n) == 0)
			json_array_append_new(errors, json_sprintf("postfix: no inet smtpd service in master.cf of %s", dir));
	}
	if (cfg->listen_dovecot) {
		const char *conf = cfg->dovecot_config && cfg->dovecot_config[0] ? cfg->dovecot_config : NULL;
		const char *a1[6], *a2[8];
		char proto_listen[2][1024];
		int i = 0, j = 0, k;

		a1[i++] = a2[j++] = "doveconf";
		if (conf) {
			a1[i++] = a2[j++] = "-c";
			a1[i++] = a2[j++] = conf;
		}
		a1[i++] = "service";
		a1[i] = NULL;
		a2[j++] = "-h";
		a2[j + 1] = NULL;
		for (k = 0; k < 2; k++) {
			a2[j] = k ? "listen" : "protocols";
			mc_buf_reset(&iface);
			proto_listen[k][0] = '\0';
			if (mta_run_output(a2, MS_DISCOVERY_MS, &iface, &e) == 0 && iface.data)
				mc_pathf(proto_listen[k], sizeof proto_listen[k], "%s", iface.data);
		}
		mc_buf_reset(&out);
		if (mta_run_output(a1, MS_DISCOVERY_MS, &out, &e) < 0)
			json_array_append_new(errors, json_sprintf("dovecot: doveconf service: %s", e.msg));
		else if (ms_parse_dovecot(out.data, proto_listen[0], proto_listen[1], v, n) == 0)
			json_array_append_new(errors, json_sprintf("dovecot: no inet listener with TLS found"));
	}
	if (cfg->listen_exim && cfg->exim_command && cfg->exim_command[0]) {
		const char *a[8];
		int i = 0;

		a[i++] = cfg->exim_command;
		if (cfg->exim_config && cfg->exim_config[0]) {
			a[i++] = "-C";
			a[i++] = cfg->exim_config;
		}
		a[i++] = "-bP";
		a[i++] = "local_interfaces";
		a[i++] = "daemon_smtp_ports";
		a[i++] = "tls_on_connect_ports";
		a[i] = NULL;
		mc_buf_reset(&out);
		if (mta_run_output(a, MS_DISCOVERY_MS, &out, &e) < 0)
			json_array_append_new(errors, json_sprintf("exim: %s -bP: %s", cfg->exim_command, e.msg));
		else if (ms_parse_exim(out.data, v, n) == 0)
			json_array_append_new(errors, json_sprintf("exim: no listener found (local_interfaces)"));
	}
	if (cfg->listen_sendmail && cfg->sendmail_config && cfg->sendmail_config[0]) {
		mc_buf_reset(&out);
		if (mc_file_read(cfg->sendmail_config, MS_SENDMAIL_CF_MAX, &out, &e) < 0)
			json_array_append_new(errors, json_sprintf("sendmail: %s", e.msg));
		else if (ms_parse_sendmail(out.data, v, n) == 0)
			json_array_append_new(errors, json_sprintf("sendmail: no inet daemon in the DaemonPortOptions of %s",
								   cfg->sendmail_config));
	}
	mc_buf_free(&out);
	mc_buf_free(&iface);
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *time_json(time_t t)
{
	char buf[MC_TIMEFMT_LEN];

	mc_time_format(t, buf);
	return json_string(buf);
}

static void sleep_ms(long long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static json_t *time_or_null(time_t t)
{
	return t ? time_json(t) : json_null();
}

/* what a round probes and how far it got */
typedef struct plan {
	const ms_listener *ls;
	size_t nl;
	task *tasks;
	size_t nt;
	size_t skipped;
	const expect *ex;
} plan;

/*
 * Name by name, each on every listener: with more than MS_PROBES_MAX, every
 * listener is checked for the same names, and each round starts further on in
 * the list (ROUND), so that every name has its turn.  The default host (DEF)
 * comes first, without SNI.
 */
static void plan_tasks(plan *pl, const mh_table *t, const mh_host *def, const mh_name *names,
		       size_t nn, size_t round)
{
	size_t i, j, first = 0, nl = pl->nl;

	/* names per round: what the cap leaves after the probes without SNI */
	if (nl && nn && MS_PROBES_MAX / nl > 1 && MS_PROBES_MAX / nl - 1 < nn)
		first = round * (MS_PROBES_MAX / nl - 1) % nn;
	for (j = 0; j <= nn; j++) {
		const mh_host *h = j == 0 ? def : names[(first + j - 1) % nn].host;
		if (!h)
			continue;
		for (i = 0; i < nl; i++) {
			/* no SNI: such a listener serves the default host's set to
			 * everyone; other hosts are not its to serve (status says so) */
			if (pl->ls[i].default_only && h != def)
				continue;
			if (pl->nt >= MS_PROBES_MAX) {
				pl->skipped++;
				continue;
			}
			pl->tasks[pl->nt].listener = i;
			pl->tasks[pl->nt].name = j == 0 ? NULL : names[(first + j - 1) % nn].name;
			pl->tasks[pl->nt].host = h;
			pl->tasks[pl->nt].hostidx = (size_t)(h - t->v);
			pl->nt++;
		}
	}
}

/* probe task K once and judge what it found; 0 when a leaf was served */
static int probe_task(SSL_CTX *ctx, const plan *pl, task *k)
{
	const expect *x = &pl->ex[k->hostidx];
	char sni[MC_HOSTNAME_MAX + 32], check[MC_HOSTNAME_MAX + 32];
	const char *name = k->name;

	/* without SNI, the leaf must still be valid for the default host's names */
	if (!name && k->host->nnames)
		name = k->host->names[0];
	if (k->name)
		sni_for(k->name, sni, sizeof sni);
	if (name)
		sni_for(name, check, sizeof check);
	if (probe_one(ctx, &pl->ls[k->listener], k->name ? sni : NULL, name ? check : NULL, &k->r) < 0)
		return -1;
	k->r.result = ms_verdict(&k->r.leaf, x->ok ? x->leaf.sha256 : NULL, x->ok ? x->leaf.serial : NULL,
				 name, mc_now(), k->r.detail, sizeof k->r.detail);
	/* ok, or the loaded set itself is at fault: probing again changes nothing */
	k->done = ms_verdict_final(k->r.result, &k->r.leaf, x->ok ? x->leaf.sha256 : NULL);
	return 0;
}

/* one pass over what is not done yet */
static void run_pass(SSL_CTX *ctx, plan *pl, long long deadline)
{
	/* per listener: 1 + the task whose answer says it is down or silent */
	size_t *down = mc_calloc(pl->nl ? pl->nl : 1, sizeof *down), i;

	for (i = 0; i < pl->nt; i++) {
		task *k = &pl->tasks[i];

		if (k->done)
			continue;
		if (down[k->listener]) {
			k->r = pl->tasks[down[k->listener] - 1].r;
			k->r.time = mc_now();
			continue;
		}
		if (now_ms() >= deadline) {
			if (!k->r.time)
				set_detail(&k->r, MS_UNREACHABLE, "not probed: the round ran out of time");
			continue;
		}
		/* not again for each name in this pass: each would wait as long */
		if (probe_task(ctx, pl, k) < 0 && (k->r.result == MS_UNREACHABLE || k->r.silent))
			down[k->listener] = i + 1;
	}
	free(down);
}

/* probe, then re-probe what is wrong after 1, 2, 4 s: the grace a listener has
 * to take a reload (a graceful one finishes the sessions it has first) */
static void run_passes(SSL_CTX *ctx, plan *pl)
{
	long long deadline = now_ms() + MS_ROUND_MS;
	size_t i, todo;
	int pass;

	for (pass = 0; pass <= MS_RETRIES; pass++) {
		for (i = 0, todo = 0; i < pl->nt; i++)
			todo += !pl->tasks[i].done;
		if (todo == 0)
			break;
		if (pass > 0) {
			long long wait = 1000LL << (pass - 1);
			if (now_ms() + wait >= deadline)
				break;
			sleep_ms(wait);
		}
		run_pass(ctx, pl, deadline);
	}
}

static json_t *task_json(const plan *pl, task *k)
{
	const expect *x = &pl->ex[k->hostidx];
	int leaf = k->r.leaf.sha256[0] != '\0';

	if (!k->r.time)
		set_detail(&k->r, MS_UNREACHABLE, "not probed");
	return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "host", k->host->dir,
			 "listener", pl->ls[k->listener].label, "name", str_or_null(k->name), "result",
			 ms_result_names[k->r.result], "serial", str_or_null(leaf ? k->r.leaf.serial : NULL),
			 "sha256", str_or_null(leaf ? k->r.leaf.sha256 : NULL), "expected_serial",
			 str_or_null(x->ok ? x->leaf.serial : k->host->serial), "detail",
			 str_or_null(k->r.result == MS_OK ? NULL : k->r.detail), "time", time_json(k->r.time),
			 "not_before", time_or_null(leaf ? k->r.leaf.not_before : 0), "not_after",
			 time_or_null(leaf ? k->r.leaf.not_after : 0));
}

/* one round: the document the loader reads */
static json_t *round_doc(const mc_config *cfg, const mh_table *t, const mh_host *def, size_t round)
{
	json_t *doc = json_object(), *errors = json_array(), *labels = json_array(), *res = json_array();
	ms_listener *ls = NULL;
	size_t nl = 0, nn = 0, i;
	mh_name *names;
	expect *ex;
	SSL_CTX *ctx;
	plan pl;
	uid_t uid;
	gid_t gid;
	mc_err e;

	discover(cfg, &ls, &nl, errors);
	ex = mc_calloc(t->n ? t->n : 1, sizeof *ex);
	for (i = 0; i < t->n; i++)
		expected_leaf(&t->v[i], &ex[i]);
	if (geteuid() == 0 &&
	    (mc_priv_identity(&uid, &gid, &e) < 0 || mc_priv_become(uid, gid, &e) < 0)) {
		json_array_append_new(errors, json_sprintf("not probing: cannot give up root: %s", e.msg));
		nl = 0;
	}
	names = mh_names(t, &nn);
	memset(&pl, 0, sizeof pl);
	pl.ls = ls;
	pl.nl = nl;
	pl.ex = ex;
	pl.tasks = mc_calloc(MS_PROBES_MAX, sizeof *pl.tasks);
	for (i = 0; i < nl; i++)
		json_array_append_new(labels, json_string(ls[i].label));
	plan_tasks(&pl, t, def, names, nn, round);
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		run_passes(ctx, &pl);
	}
	for (i = 0; i < pl.nt; i++)
		json_array_append_new(res, task_json(&pl, &pl.tasks[i]));
	json_object_set_new(doc, "time", time_json(mc_now()));
	json_object_set_new(doc, "listeners", labels);
	json_object_set_new(doc, "skipped", json_integer((json_int_t)pl.skipped));
	json_object_set_new(doc, "errors", errors);
	json_object_set_new(doc, "results", res);
	SSL_CTX_free(ctx);
	free(pl.tasks);
	free(names);
	for (i = 0; i < t->n; i++)
		OPENSSL_cleanse(&ex[i], sizeof ex[i]);
	free(ex);
	free(ls);
	return doc;
}

/* ---------- the loader's side ---------- */

void ms_proc_init(ms_proc *p)
{
	memset(p, 0, sizeof *p);
	p->fd = -1;
	mc_buf_init(&p->out);
}

int ms_proc_fd(const ms_proc *p)
{
	return p->fd;
}

static void child(int wfd, const mc_config *cfg, const mh_table *t, const mh_host *def,
		  size_t round)
{
	sigset_t none;
	json_t *doc;
	char *text;
	size_t off = 0, len;

	/* no syslog descriptor may be reused under a socket of ours */
	closelog();
	if (wfd > 3)
		close_range(3, (unsigned)wfd - 1, 0);
	close_range((unsigned)wfd + 1, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	doc = round_doc(cfg, t, def, round);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	len = text ? strlen(text) : 0;
	while (off < len) {
		ssize_t k = write(wfd, text + off, len - off);
		if (k > 0)
			off += (size_t)k;
		else if (k < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	free(text);
	close(wfd);
	_exit(off == len ? 0 : 1);
}

int ms_proc_start(ms_proc *p, const mc_config *cfg, const mh_table *t, const mh_host *def,
		  mc_err *e)
{
	int pfd[2];
	pid_t pid;

	if (p->pid) {
		p->again = 1;
		return 0;
	}
	p->again = 0;
	/* a start that fails waits for the next reload or period, it is not retried at once */
	p->last_start = mc_now();
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return mc_err_set(e, "served: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		int err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return mc_err_set(e, "served: fork: %s", strerror(err));
	}
	if (pid == 0) {
		close(pfd[0]);
		child(pfd[1], cfg, t, def, p->rounds);
	}
	close(pfd[1]);
	if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0)
		mc_warn("served: pipe: %s", strerror(errno));
	p->pid = pid;
	p->fd = pfd[0];
	p->rounds++;
	p->overflow = 0;
	mc_buf_reset(&p->out);
	p->started_ms = now_ms();
	p->last_start = mc_now();
	mc_debug("served: checking what the listeners serve (process %ld)", (long)pid);
	return 0;
}

/* the round's process ended (or was killed: KILLED, then its status says nothing): reap it */
static void reap(ms_proc *p, int killed)
{
	int status = 0;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->pid > 1 && waitpid(p->pid, &status, 0) == p->pid && !killed &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		mc_warn("served: the check process %ld ended with status 0x%x", (long)p->pid, status);
	p->pid = 0;
}

static int is_hex(const char *s, size_t max)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n > 0 && n <= max && s[n] == '\0';
}

/* a string field: a printable copy of at most MAX bytes, or NULL when absent/not a string */
static json_t *text_field(json_t *o, const char *key, size_t max)
{
	const char *s = json_string_value(json_object_get(o, key));
	char buf[512];

	if (!s || max >= sizeof buf)
		return NULL;
	clean(s, buf, max + 1);
	return json_string(buf);
}

static const mh_host *host_in(const mh_table *t, const char *dir)
{
	size_t i;

	for (i = 0; dir && i < t->n; i++)
		if (strcmp(t->v[i].dir, dir) == 0)
			return &t->v[i];
	return NULL;
}

/* an optional time field: 0 when absent or null, 1 when a time (into *OUT), -1 else */
static int opt_time(json_t *r, const char *key, json_t **out)
{
	json_t *v = json_object_get(r, key);
	time_t tt;

	*out = json_null();
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || mc_time_parse(json_string_value(v), &tt) < 0)
		return -1;
	*out = json_string(json_string_value(v));
	return 1;
}

/* one result entry, checked; NULL when it is not usable */
static json_t *accept_entry(json_t *r, const mh_table *t, const char **dir)
{
	json_t *o, *label, *detail, *nb, *na;
	const char *res = json_string_value(json_object_get(r, "result"));
	const char *name = json_string_value(json_object_get(r, "name"));
	const char *serial = json_string_value(json_object_get(r, "serial"));
	const char *sha = json_string_value(json_object_get(r, "sha256"));
	const char *want = json_string_value(json_object_get(r, "expected_serial"));
	const char *when = json_string_value(json_object_get(r, "time"));
	char lname[MC_HOSTNAME_MAX + 1];
	time_t tt;
	mc_err e;
	int k, known = 0;

	*dir = json_string_value(json_object_get(r, "host"));
	if (!json_is_object(r) || !host_in(t, *dir) || !res)
		return NULL;
	for (k = 0; k < MS_RESULTS; k++)
		known |= strcmp(res, ms_result_names[k]) == 0;
	if (!known || (name && (mc_hostname_check(name, 1, lname, &e) < 0 || strcmp(lname, name) != 0)) ||
	    (serial && !is_hex(serial, 128)) || (sha && (!is_hex(sha, 64) || strlen(sha) != 64)) ||
	    (want && !is_hex(want, 128)) || !when || mc_time_parse(when, &tt) < 0)
		return NULL;
	if (opt_time(r, "not_before", &nb) < 0 || opt_time(r, "not_after", &na) < 0) {
		json_decref(nb);
		json_decref(na);
		return NULL;
	}
	label = text_field(r, "listener", MS_LABEL_MAX);
	if (!label || json_string_length(label) == 0) {
		json_decref(label);
		json_decref(nb);
		json_decref(na);
		return NULL;
	}
	detail = text_field(r, "detail", MS_DETAIL_MAX);
	o = json_pack("{s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "listener", label, "name",
		      str_or_null(name), "result", res, "serial", str_or_null(serial), "sha256",
		      str_or_null(sha), "expected_serial", str_or_null(want), "detail",
		      detail ? detail : json_null(), "time", when, "not_before", nb, "not_after", na);
	return o;
}

json_t *ms_accept(json_t *raw, const mh_table *t)
{
	json_t *doc, *hosts, *errors = json_array(), *labels = json_array(), *v;
	const char *when = json_string_value(json_object_get(raw, "time"));
	json_t *skipped = json_object_get(raw, "skipped");
	size_t i, count = 0;
	time_t tt;

	if (!json_is_object(raw) || !when || mc_time_parse(when, &tt) < 0 ||
	    !json_is_array(json_object_get(raw, "results"))) {
		json_decref(errors);
		json_decref(labels);
		return NULL;
	}
	hosts = json_object();
	json_array_foreach(json_object_get(raw, "errors"), i, v) {
		char buf[MS_DETAIL_MAX + 1];
		if (i >= 20 || !json_is_string(v))
			break;
		clean(json_string_value(v), buf, sizeof buf);
		json_array_append_new(errors, json_string(buf));
	}
	json_array_foreach(json_object_get(raw, "listeners"), i, v) {
		char buf[MS_LABEL_MAX + 1];
		if (i >= 64 || !json_is_string(v))
			break;
		clean(json_string_value(v), buf, sizeof buf);
		json_array_append_new(labels, json_string(buf));
	}
	json_array_foreach(json_object_get(raw, "results"), i, v) {
		const char *dir = NULL;
		json_t *o, *arr;
		if (count >= MS_PROBES_MAX)
			break;
		o = accept_entry(v, t, &dir);
		if (!o)
			continue;
		arr = json_object_get(hosts, dir);
		if (!arr) {
			arr = json_array();
			json_object_set_new(hosts, dir, arr);
		}
		json_array_append_new(arr, o);
		count++;
	}
	doc = json_pack("{s:s, s:o, s:I, s:o, s:o}", "time", when, "listeners", labels, "skipped",
			(json_int_t)(json_is_integer(skipped) && json_integer_value(skipped) >= 0 ?
					     json_integer_value(skipped) : 0),
			"errors", errors, "hosts", hosts);
	return doc;
}

int ms_entry_current(json_t *v, const mh_host *h)
{
	const char *want = json_string_value(json_object_get(v, "expected_serial"));

	return h && h->file[0] && want && strcmp(want, h->serial) == 0;
}

/* log one entry that is not ok: what clients get wrong as an error, a listener
 * that could not be checked as a warning */
static void log_entry(const char *dir, json_t *v, const char *res)
{
	char *text = mc_loaded_problem_text(dir, v);

	if (strcmp(res, "unreachable") == 0 || strcmp(res, "no-tls") == 0)
		mc_warn("served: %s", text);
	else
		mc_error("served: %s", text);
	free(text);
}

int ms_log(json_t *doc, const mh_table *t)
{
	json_t *hosts = json_object_get(doc, "hosts"), *arr, *v;
	const char *dir;
	size_t i, probes = 0, bad = 0, stale = 0;

	json_array_foreach(json_object_get(doc, "errors"), i, v)
		mc_error("served: %s", json_string_value(v));
	json_object_foreach(hosts, dir, arr) {
		const mh_host *h = host_in(t, dir);
		json_array_foreach(arr, i, v) {
			const char *res = json_string_value(json_object_get(v, "result"));

			if (!ms_entry_current(v, h)) {
				stale++;
				continue;
			}
			probes++;
			if (strcmp(res, "ok") == 0)
				continue;
			bad++;
			log_entry(dir, v, res);
		}
	}
	if (stale)
		mc_debug("served: %zu probes judged against sets replaced during the check: left out", stale);
	if (json_integer_value(json_object_get(doc, "skipped")) > 0)
		mc_warn("served: %lld probes left out (at most %d per round)",
			(long long)json_integer_value(json_object_get(doc, "skipped")), MS_PROBES_MAX);
	if (bad == 0 && probes > 0 && json_array_size(json_object_get(doc, "errors")) == 0)
		mc_info("served: %zu listeners checked, %zu probes, every one serves the loaded set",
			json_array_size(json_object_get(doc, "listeners")), probes);
	return bad > 0 || json_array_size(json_object_get(doc, "errors")) > 0;
}

json_t *ms_proc_read(ms_proc *p, const mh_table *t)
{
	char buf[16384];
	json_t *raw, *doc;
	json_error_t je;

	while (p->fd >= 0) {
		ssize_t n = read(p->fd, buf, sizeof buf);
		if (n > 0) {
			if (p->out.len + (size_t)n > MS_OUTPUT_MAX)
				p->overflow = 1;
			else
				mc_buf_append(&p->out, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return NULL;
		break;
	}
	reap(p, 0);
	mc_debug("served: the check took %lld ms", now_ms() - p->started_ms);
	if (p->overflow || p->out.len == 0) {
		mc_warn("served: the check process gave %s", p->overflow ? "too much output" : "no result");
		mc_buf_reset(&p->out);
		return NULL;
	}
	raw = json_loadb(p->out.data, p->out.len, JSON_REJECT_DUPLICATES, &je);
	mc_buf_reset(&p->out);
	doc = raw ? ms_accept(raw, t) : NULL;
	json_decref(raw);
	if (!doc)
		mc_warn("served: the check process gave an unusable result");
	return doc;
}

void ms_proc_tick(ms_proc *p, long long now)
{
	if (p->pid > 1 && now - p->started_ms >= MS_KILL_MS) {
		mc_error("served: the check process %ld ran %d s: killed", (long)p->pid, MS_KILL_MS / 1000);
		kill(p->pid, SIGKILL);
		reap(p, 1);
	}
}

int ms_proc_restart(ms_proc *p, const mc_config *cfg, const mh_table *t, const mh_host *def,
		    mc_err *e)
{
	if (p->pid > 1) {
		mc_debug("served: the running check (process %ld) is started afresh", (long)p->pid);
		kill(p->pid, SIGKILL);
		reap(p, 1);
		mc_buf_reset(&p->out);
	}
	return ms_proc_start(p, cfg, t, def, e);
}

void ms_proc_stop(ms_proc *p)
{
	if (p->pid > 1) {
		kill(p->pid, SIGKILL);
		reap(p, 1);
	}
	mc_buf_free(&p->out);
}
