/*
 * notify - find what a run owes a person, write it as RFC 5322 messages and
 * hand them to sendmail(8).  See notify.h for the rules.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "fsutil.h"
#include "hostname.h"
#include "issue.h"
#include "loaded.h"
#include "mailaddr.h"
#include "notify.h"
#include "notifyq.h"
#include "spawn.h"
#include "store.h"
#include "storepath.h"
#include "timefmt.h"
#include "xalloc.h"

#define FAILURE_GRACE_S 3600    /* a host with a certificate: mail once failing this long */
#define FAILURE_INTERVAL_S 3600 /* at most one failure mail per host this often */
#define EXPIRY_S (7 * 86400)
#define SHORT_LIFETIME_S (42 * 86400)
/* a sendmail that takes longer is not there yet (Postfix not started): its
 * messages are queued, and one wait is all a run spends on it */
#define SENDMAIL_TIMEOUT_MS 15000
#define POSTFIX_TIMEOUT_MS 15000
#define WRAP_COLUMNS 76
#define MAX_RECIPIENTS 64

enum kind { EV_ISSUED, EV_RENEWED, EV_FAILURE, EV_EXPIRING, EV_REFUSED, EV_SERVED };

struct nhost {
	const mc_host *h;
	int in_run;
	int installed;      /* a new certificate in this run */
	int first;          /* ... and the host's first (from this source) */
	char **rcpt;        /* recipients, NULL-terminated, once resolved */
	char domain[MC_HOSTNAME_MAX + 1]; /* the hosted parent domain, "" when none */
};

struct event {
	struct nhost *nh;
	enum kind kind;
	char *subject; /* after "HOST: " */
	char *body;    /* paragraphs, unwrapped */
	json_t *remember; /* merged into the host's memory once mailed */
	int sent;
};

/* the names a /file lists or a table holds, read once per run; sorted */
struct keyset {
	int state; /* 0: not read yet, 1: KEYS hold them, -1: ask postmap -q each time */
	char **keys;
	size_t n;
};

struct mc_notify {
	const mc_config *cfg;
	pthread_mutex_t lock;
	struct nhost *hosts; /* indexed like cfg->hosts */
	char fqdn[MC_HOSTNAME_MAX + 1];
	char from[MC_HOSTNAME_MAX + MC_MAILADDR_MAX + 16];
	char **pf_items; /* Postfix's local domains: names, /files, type:tables */
	struct keyset *pf_keys; /* per item: a /file's names or a table's keys, once read */
	int pf_asked;
	int have_postfix;
	struct event *ev;
	size_t nev;
	unsigned long msgno;
	json_t *mem;         /* notify.json, while mc_notify_end runs */
	time_t now;          /* when mc_notify_end started */
	int sendmail_failed; /* it failed once: the rest of this run is queued, not tried */
};

/* ---- small text helpers ---- */

/* what came from elsewhere (a CA's error, a file) as printable ASCII on one line */
static char *clean(const char *s)
{
	char *o = mc_strdup(s ? s : ""), *p;

	for (p = o; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : '?';
	return o;
}

static void fmt_t(time_t t, char *out)
{
	if (t)
		mc_time_format(t, out);
	else
		snprintf(out, MC_TIMEFMT_LEN, "-");
}

static char *duration(time_t s)
{
	if (s < 0)
		s = 0;
	if (s >= 2 * 86400)
		return mc_asprintf("%ld days", (long)(s / 86400));
	if (s >= 2 * 3600)
		return mc_asprintf("%ld hours", (long)(s / 3600));
	if (s >= 120)
		return mc_asprintf("%ld minutes", (long)(s / 60));
	return mc_asprintf("%ld seconds", (long)s);
}

static char *names_line(const mc_host *h)
{
	mc_buf b;
	size_t i;

	mc_buf_init(&b);
	for (i = 0; i < h->nnames; i++)
		mc_buf_printf(&b, "%s%s", i ? ", " : "", h->names[i]);
	mc_buf_puts(&b, "");
	return mc_buf_steal(&b);
}

/*
 * Wrap TEXT (lines separated by \n) at WRAP_COLUMNS: a line is broken at
 * spaces, its continuation indented like it; a word longer than a line is
 * cut.  Anything unprintable has been cleaned before; this cleans again.
 */
static void wrap_into(mc_buf *out, const char *text)
{
	const char *line = text;

	while (*line) {
		size_t len = strcspn(line, "\n"), indent = 0;
		char *l = mc_strndup(line, len), *p;

		for (p = l; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		size_t cont;

		while (l[indent] == ' ' && indent < 20)
			indent++;
		cont = indent;
		/* "  label:   value": a long value continues under itself */
		if (indent) {
			const char *c = strchr(l + indent, ':');
			if (c && c[1] == ' ' && !memchr(l + indent, ' ', (size_t)(c - l) - indent)) {
				size_t v = (size_t)(c + 1 - l) + strspn(c + 1, " ");
				if (v < 30)
					cont = v;
			}
		}
		p = l + indent;
		mc_buf_printf(out, "%*s", (int)indent, "");
		while (strlen(p) > WRAP_COLUMNS - indent) {
			size_t room = WRAP_COLUMNS - indent, cut;

			for (cut = room; cut > 0 && p[cut] != ' '; cut--)
				;
			if (!cut)
				cut = room;
			mc_buf_printf(out, "%.*s\n%*s", (int)cut, p, (int)cont, "");
			p += cut;
			while (*p == ' ')
				p++;
			indent = cont;
		}
		mc_buf_printf(out, "%s\n", p);
		free(l);
		line += len;
		if (*line == '\n')
			line++;
	}
}

/* ---- the machine's name and Postfix's domains ---- */

/* run ARGV, its output (NUL-terminated, Postfix's warnings dropped) in OUT */
static int ask(char *const argv[], mc_buf *out, mc_err *e)
{
	mc_buf raw;
	const char *l;
	int rc;

	mc_buf_init(&raw);
	mc_buf_init(out);
	rc = mc_spawn(argv, NULL, POSTFIX_TIMEOUT_MS, &raw, e);
	mc_buf_puts(&raw, "");
	for (l = raw.data; l && *l;) {
		size_t len = strcspn(l, "\n");

		if (strncmp(l, "postconf: ", 10) != 0 && strncmp(l, "postmap: ", 9) != 0) {
			mc_buf_append(out, l, len);
			mc_buf_puts(out, "\n");
		}
		l += len;
		if (*l)
			l++;
	}
	mc_buf_puts(out, "");
	mc_buf_free(&raw);
	return rc;
}

static void add_item(char ***v, size_t *n, const char *s, size_t len)
{
	*v = mc_realloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = mc_strndup(s, len);
	(*v)[*n] = NULL;
}

/* one call to postconf: myhostname, then the three lists of local domains */
static void ask_postfix(mc_notify *n)
{
	const mc_config *cfg = n->cfg;
	char maincf[PATH_MAX];
	char *argv[] = { (char *)"postconf", (char *)"-c", cfg->postfix_config_dir, (char *)"-x",
			 (char *)"-h", (char *)"myhostname", (char *)"mydestination",
			 (char *)"virtual_mailbox_domains", (char *)"virtual_alias_domains", NULL };
	char host[MC_HOSTNAME_MAX + 1];
	const char *p;
	size_t count = 0, len;
	mc_buf out;
	mc_err e;

	if (n->pf_asked)
		return;
	n->pf_asked = 1;
	snprintf(maincf, sizeof maincf, "%s/main.cf", cfg->postfix_config_dir);
	if (access(maincf, R_OK) < 0) {
		mc_debug("notify: no %s: no Postfix to ask which domains are hosted here", maincf);
		return;
	}
	if (ask(argv, &out, &e) < 0) {
		mc_warn("notify: asking Postfix for its domains: %s", e.msg);
		mc_buf_free(&out);
		return;
	}
	n->have_postfix = 1;
	p = out.data;
	len = strcspn(p, "\n");
	if (len < sizeof host) {
		char *name = mc_strndup(p, len);
		if (strchr(name, '.') && mc_hostname_check(name, 0, host, &e) == 0)
			snprintf(n->fqdn, sizeof n->fqdn, "%s", host);
		free(name);
	}
	p += len;
	while (*p) {
		p += strspn(p, " \t,\r\n");
		len = strcspn(p, " \t,\r\n");
		if (!len)
			break;
		/* what -x could not expand, and Postfix's {...} groups, are not names */
		if (!memchr(p, '$', len) && !memchr(p, '{', len) && !memchr(p, '}', len))
			add_item(&n->pf_items, &count, p, len);
		p += len;
	}
	n->pf_keys = mc_calloc(count + 1, sizeof *n->pf_keys);
	mc_buf_free(&out);
}

/* "type:table"? */
static int is_table(const char *s)
{
	const char *c = strchr(s, ':');
	const char *p;

	if (!c || c == s || !c[1])
		return 0;
	for (p = s; p < c; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

static int cmp_key(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* the first word of every line of TEXT ('#' comments out) into KS, sorted */
static void keys_from(struct keyset *ks, char *text, int whole_line)
{
	char *line, *save = NULL;
	size_t cap = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#'), *tok, *tsave = NULL;

		if (hash)
			*hash = '\0';
		/* a /file lists names separated by white space or commas, several on a line */
		for (tok = strtok_r(line, " \t,\r", &tsave); tok; tok = whole_line ? NULL : strtok_r(NULL, " \t,\r", &tsave)) {
			if (ks->n + 2 > cap) {
				cap = cap ? 2 * cap : 64;
				ks->keys = mc_realloc(ks->keys, cap * sizeof *ks->keys);
			}
			ks->keys[ks->n++] = mc_strdup(tok);
			ks->keys[ks->n] = NULL;
		}
	}
	if (ks->n)
		qsort(ks->keys, ks->n, sizeof *ks->keys, cmp_key);
	ks->state = 1;
}

/*
 * Read ITEM's names once: a /file's contents; an indexed table's keys with
 * `postmap -s` (a table too large to list in full, or a type that cannot be
 * listed, is asked with `postmap -q` for each name instead).
 */
static void load_keys(mc_notify *n, const char *item, struct keyset *ks)
{
	mc_buf b;
	mc_err e;

	mc_buf_init(&b);
	ks->state = -1;
	if (item[0] == '/') {
		if (mc_file_read(item, 4 * 1024 * 1024, &b, &e) < 0) {
			mc_debug("notify: %s", e.msg);
			ks->state = 1; /* nothing in it */
		} else {
			mc_buf_puts(&b, "");
			keys_from(ks, b.data, 0);
		}
	} else {
		char *argv[] = { (char *)"postmap", (char *)"-c", n->cfg->postfix_config_dir, (char *)"-s",
				 (char *)item, NULL };

		if (ask(argv, &b, &e) == 0 && b.len + 4096 < MC_SPAWN_OUTPUT_MAX)
			keys_from(ks, b.data, 1);
		else
			mc_debug("notify: %s cannot be listed; asking it name by name", item);
	}
	mc_buf_free(&b);
}

static int table_has(mc_notify *n, const char *table, const char *domain)
{
	char *argv[] = { (char *)"postmap", (char *)"-c", n->cfg->postfix_config_dir, (char *)"-q",
			 (char *)domain, (char *)table, NULL };
	mc_buf out;
	mc_err e;
	int rc = ask(argv, &out, &e);

	mc_buf_free(&out);
	if (rc < 0 && !strstr(e.msg, "exited with status 1"))
		mc_debug("notify: looking up %s in %s: %s", domain, table, e.msg);
	return rc == 0;
}

static int hosted(mc_notify *n, const char *domain)
{
	size_t i;

	for (i = 0; n->pf_items && n->pf_items[i]; i++) {
		const char *it = n->pf_items[i];
		struct keyset *ks = &n->pf_keys[i];

		if (it[0] != '/' && !is_table(it)) {
			if (strcasecmp(it, domain) == 0)
				return 1;
			continue;
		}
		if (!ks->state)
			load_keys(n, it, ks);
		if (ks->state > 0 ? ks->n && bsearch(&domain, ks->keys, ks->n, sizeof *ks->keys, cmp_key) != NULL
				  : table_has(n, it, domain))
			return 1;
	}
	return 0;
}

/* the host's name, then its parents with at least two labels: the first hosted one */
static void find_domain(mc_notify *n, struct nhost *nh)
{
	const char *p = nh->h->name;

	nh->domain[0] = '\0';
	ask_postfix(n);
	if (!n->have_postfix)
		return;
	if (p[0] == '*' && p[1] == '.')
		p += 2;
	while (p && strchr(p, '.')) {
		if (hosted(n, p)) {
			snprintf(nh->domain, sizeof nh->domain, "%s", p);
			return;
		}
		p = strchr(p, '.') + 1;
	}
}

static void add_rcpt(char ***v, size_t *count, const char *addr)
{
	size_t i;

	for (i = 0; i < *count; i++)
		if (strcasecmp((*v)[i], addr) == 0)
			return;
	if (*count >= MAX_RECIPIENTS)
		return;
	add_item(v, count, addr, strlen(addr));
}

static void resolve_rcpt(mc_notify *n, struct nhost *nh)
{
	const mc_config *cfg = n->cfg;
	size_t i, count = 0;
	mc_err e;

	if (nh->rcpt)
		return;
	find_domain(n, nh);
	nh->rcpt = mc_calloc(1, sizeof *nh->rcpt);
	for (i = 0; i < cfg->notify_nto; i++) {
		const char *to = cfg->notify_to[i];

		if (strstr(to, MC_MAILADDR_PLACEHOLDER)) {
			char *a;

			if (!nh->domain[0])
				continue;
			a = mc_mailaddr_expand(to, nh->domain);
			if (mc_mailaddr_check(a, 0, &e) == 0)
				add_rcpt(&nh->rcpt, &count, a);
			free(a);
		} else {
			add_rcpt(&nh->rcpt, &count, to);
		}
	}
	if (cfg->notify_contact[0])
		add_rcpt(&nh->rcpt, &count, cfg->notify_contact);
	if (cfg->acme_email[0] && mc_mailaddr_check(cfg->acme_email, 0, &e) == 0)
		add_rcpt(&nh->rcpt, &count, cfg->acme_email);
}

/* the machine's FQDN, for From and Message-ID: Postfix's myhostname, else the system's */
static void find_fqdn(mc_notify *n)
{
	char name[256], host[MC_HOSTNAME_MAX + 1];
	struct addrinfo hints, *ai = NULL;
	mc_err e;

	ask_postfix(n);
	if (n->fqdn[0])
		return;
	if (gethostname(name, sizeof name) < 0)
		return;
	name[sizeof name - 1] = '\0';
	if (!strchr(name, '.')) {
		memset(&hints, 0, sizeof hints);
		hints.ai_flags = AI_CANONNAME;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(name, NULL, &hints, &ai) == 0 && ai && ai->ai_canonname)
			snprintf(name, sizeof name, "%s", ai->ai_canonname);
		if (ai)
			freeaddrinfo(ai);
	}
	if (strchr(name, '.') && mc_hostname_check(name, 0, host, &e) == 0)
		snprintf(n->fqdn, sizeof n->fqdn, "%s", host);
}

/* ---- the API ---- */

mc_notify *mc_notify_begin(const mc_config *cfg)
{
	mc_notify *n;

	if (!cfg->notify_sendmail[0])
		return NULL;
	n = mc_calloc(1, sizeof *n);
	n->cfg = cfg;
	n->hosts = mc_calloc(cfg->nhosts + 1, sizeof *n->hosts);
	for (size_t i = 0; i < cfg->nhosts; i++)
		n->hosts[i].h = &cfg->hosts[i];
	pthread_mutex_init(&n->lock, NULL);
	return n;
}

static struct nhost *nhost_of(mc_notify *n, const mc_host *h)
{
	if (!n || h < n->cfg->hosts || h >= n->cfg->hosts + n->cfg->nhosts)
		return NULL;
	return &n->hosts[h - n->cfg->hosts];
}

void mc_notify_host(mc_notify *n, const mc_host *h)
{
	struct nhost *nh = nhost_of(n, h);

	if (nh)
		nh->in_run = 1;
}

void mc_notify_installed(mc_notify *n, const mc_host *h, const char *prev_source, const mc_state *st)
{
	struct nhost *nh = nhost_of(n, h);

	if (!nh)
		return;
	pthread_mutex_lock(&n->lock);
	nh->installed = 1;
	/* the first from the CA after a self-signed stand-in is a first too */
	nh->first = !prev_source || strcmp(prev_source, st->source) != 0;
	pthread_mutex_unlock(&n->lock);
}

static void add_event(mc_notify *n, struct nhost *nh, enum kind k, char *subject, char *body,
		      json_t *remember)
{
	struct event *ev;

	n->ev = mc_realloc(n->ev, (n->nev + 1) * sizeof *n->ev);
	ev = &n->ev[n->nev++];
	memset(ev, 0, sizeof *ev);
	ev->nh = nh;
	ev->kind = k;
	ev->subject = subject;
	ev->body = body;
	ev->remember = remember;
}

static const char *kind_word(enum kind k)
{
	static const char *const w[] = { "issued", "renewed", "failure", "expiry", "refused", "served" };
	return w[k];
}

static json_int_t mem_int(json_t *mem, const char *key)
{
	return json_integer_value(json_object_get(mem, key));
}

/* ---- the events ---- */

static void ev_installed(mc_notify *n, struct nhost *nh, const mc_state *st)
{
	const mc_host *h = nh->h;
	char exp[MC_TIMEFMT_LEN], ren[MC_TIMEFMT_LEN];
	char *names, *issuer;

	if (!nh->installed || !st->has_cert)
		return;
	names = names_line(h);
	issuer = clean(st->issuer);
	fmt_t(st->cert_expiration_time, exp);
	fmt_t(st->renewal_time, ren);
	add_event(n, nh, nh->first ? EV_ISSUED : EV_RENEWED,
		  mc_asprintf(nh->first ? "certificate issued" : "certificate renewed"),
		  mc_asprintf("mailcert %s %s.\n\n"
			      "  names:       %s\n  source:      %s\n  serial:      %s\n  issuer:      %s\n"
			      "  valid until: %s\n  renewal due: %s\n\n"
			      "Nothing needs doing: mailcert-milter loads the new certificate into the mail "
			      "servers it manages. To see what they serve:\n\n  mailcert status %s\n",
			      nh->first ? "obtained the first certificate of" : "renewed the certificate of",
			      h->name, names, st->source,
			      st->serial, issuer, exp, ren, h->name),
		  NULL);
	free(names);
	free(issuer);
}

static void ev_failure(mc_notify *n, struct nhost *nh, const mc_state *st, json_t *mem, time_t now)
{
	const mc_host *h = nh->h;
	time_t since, mailed, reported;
	char t_since[MC_TIMEFMT_LEN], t_last[MC_TIMEFMT_LEN], t_next[MC_TIMEFMT_LEN], t_exp[MC_TIMEFMT_LEN];
	char *msg, *dur, *names, *stands;
	int stale;

	stale = mc_issue_error_stale(n->cfg, h, st) && mc_issue_cert_current(st, now);
	if (!st->last_failure_error_message || stale) {
		json_object_del(mem, "failing_since");
		return;
	}
	since = (time_t)mem_int(mem, "failing_since");
	if (!since || since > st->last_failure_time)
		since = st->last_failure_time;
	json_object_set_new(mem, "failing_since", json_integer((json_int_t)since));
	mailed = (time_t)mem_int(mem, "failure_mailed");
	reported = (time_t)mem_int(mem, "failure_reported");
	/* a self-signed stand-in is no certificate a client accepts */
	int real = st->has_cert && strcmp(st->source, MC_SOURCE_FALLBACK) != 0;

	if (real && now - since < FAILURE_GRACE_S)
		return; /* a host with a certificate: one bad hour first */
	if (st->last_failure_time <= reported)
		return; /* this failure was mailed */
	if (mailed && now >= mailed && now - mailed < FAILURE_INTERVAL_S)
		return;
	fmt_t(since, t_since);
	fmt_t(st->last_failure_time, t_last);
	fmt_t(st->next_retry_time, t_next);
	fmt_t(st->cert_expiration_time, t_exp);
	msg = clean(st->last_failure_error_message);
	dur = duration(now - since);
	names = names_line(h);
	stands = real ? mc_asprintf("The current certificate stays in use until it is replaced; it "
				    "expires at %s.", t_exp)
		 : st->has_cert ? mc_strdup("There is no certificate from the CA for it yet: a self-signed one "
					    "stands in, so the mail servers start, but clients that check "
					    "certificates refuse it.")
		 : mc_strdup("There is no certificate for it yet: the mail servers cannot offer TLS "
			     "with a certificate for these names.");
	add_event(n, nh, EV_FAILURE,
		  mc_asprintf(real ? "renewing the certificate fails" : "no certificate: obtaining one fails"),
		  mc_asprintf("mailcert cannot obtain a certificate for %s (names: %s).\n\n"
			      "  failing since: %s (%s, %d attempt%s)\n  last attempt:  %s\n"
			      "  next attempt:  %s\n  error:         %s\n\n%s\n\n"
			      "What to do: fix what the error names (the name's DNS records, a firewall in "
			      "front of the challenge port, the host's settings at %s, the CA account), "
			      "then try again at once with\n\n  mailcert retry %s\n\nand see the result with\n\n"
			      "  mailcert status %s\n",
			      h->name, names, t_since, dur, st->failures, st->failures == 1 ? "" : "s", t_last,
			      t_next, msg, stands, h->where, h->name, h->name),
		  json_pack("{s:I,s:I}", "failure_mailed", (json_int_t)now, "failure_reported",
			    (json_int_t)st->last_failure_time));
	free(stands);
	free(msg);
	free(dur);
	free(names);
}

/* 0: not yet; 1: within the warning period; 2: within a seventh of it; 3: expired */
static int expiry_level(const mc_state *st, time_t now)
{
	time_t life = st->cert_expiration_time - st->not_before, period;

	if (now >= st->cert_expiration_time)
		return 3;
	period = life > 0 && life < SHORT_LIFETIME_S ? life / 6 : EXPIRY_S;
	if (st->cert_expiration_time - now <= period / 7)
		return 2;
	if (st->cert_expiration_time - now <= period)
		return 1;
	return 0;
}

static void ev_expiry(mc_notify *n, struct nhost *nh, const mc_state *st, json_t *mem, time_t now)
{
	const mc_host *h = nh->h;
	const char *warned = json_string_value(json_object_get(mem, "expiry_serial"));
	char t_exp[MC_TIMEFMT_LEN];
	char *left, *what, *err;
	int level, before;

	if (!st->has_cert || !st->cert_expiration_time || !st->serial[0])
		return;
	level = expiry_level(st, now);
	before = warned && strcmp(warned, st->serial) == 0 ? (int)mem_int(mem, "expiry_level") : 0;
	if (level <= before)
		return;
	fmt_t(st->cert_expiration_time, t_exp);
	left = duration(st->cert_expiration_time - now);
	if (strcmp(st->source, "manual") == 0 || strcmp(st->source, "import") == 0)
		what = mc_asprintf("mailcert does not renew a manually installed certificate: install its "
				   "successor with\n\n  mailcert import %s FILE...\n\n(or `mailcert csr %s` and "
				   "`mailcert install %s FILE...`).",
				   h->name, h->name, h->name);
	else
		what = mc_asprintf("it should have been renewed long before now: see why with\n\n"
				   "  mailcert status %s\n\nfix what it names and renew at once with\n\n"
				   "  mailcert retry %s",
				   h->name, h->name);
	err = st->last_failure_error_message ? clean(st->last_failure_error_message) : NULL;
	add_event(n, nh, EV_EXPIRING,
		  level == 3 ? mc_asprintf("the certificate has expired")
			     : mc_asprintf("the certificate expires in %s", left),
		  mc_asprintf("The certificate of %s (serial %s, source %s) %s %s%s%s%s.\n\n%s%s%s"
			      "What to do: %s\n",
			      h->name, st->serial, st->source, level == 3 ? "expired at" : "expires at", t_exp,
			      level == 3 ? "" : " (in ", level == 3 ? "" : left, level == 3 ? "" : ")",
			      err ? "The last attempt to renew it failed: " : "", err ? err : "",
			      err ? "\n\n" : "", what),
		  json_pack("{s:s,s:i}", "expiry_serial", st->serial, "expiry_level", level));
	free(left);
	free(what);
	free(err);
}

static void ev_refused(mc_notify *n, struct nhost *nh, json_t *lh, json_t *mem)
{
	const mc_host *h = nh->h;
	const char *why = json_string_value(json_object_get(lh, "load_error"));
	const char *when = json_string_value(json_object_get(lh, "load_error_time"));
	const char *told = json_string_value(json_object_get(mem, "refused"));
	char *key, *cwhy, *cwhen;

	if (!why) {
		json_object_del(mem, "refused");
		return;
	}
	key = mc_asprintf("%s|%s", when ? when : "", why);
	if (told && strcmp(told, key) == 0) {
		free(key);
		return;
	}
	cwhy = clean(why);
	cwhen = clean(when ? when : "-");
	add_event(n, nh, EV_REFUSED, mc_asprintf("mailcert-milter refused the new certificate"),
		  mc_asprintf("mailcert-milter refused the certificate set installed for %s:\n\n  %s\n"
			      "  (at %s)\n\nThe mail servers keep serving the set they had. What to do: "
			      "see the details with\n\n  mailcert status %s\n\nand, once the cause is "
			      "fixed, install a new set with\n\n  mailcert issue --force %s\n",
			      h->name, cwhy, cwhen, h->name, h->name),
		  json_pack("{s:s}", "refused", key));
	free(key);
	free(cwhy);
	free(cwhen);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * What mailcert-milter found served, per host in milter.json (lib/loaded.h):
 *   "served": [{"listener": "postfix smtpd 127.0.0.1:25", "name": NAME|null,
 *               "result": "ok"|"mismatch"|"unreachable"|"no-tls",
 *               "serial": SERVED|null, "expected_serial": LOADED, "detail": "..."|null,
 *               "time": T}]
 * A probe whose result is "mismatch" found another certificate than the loaded one.
 */
static void ev_served(mc_notify *n, struct nhost *nh, json_t *lh, json_t *mem)
{
	const mc_host *h = nh->h;
	json_t *served = json_object_get(lh, "served"), *v;
	const char *told = json_string_value(json_object_get(mem, "served"));
	const char *loaded = json_string_value(json_object_get(lh, "serial"));
	char **lines = NULL, *key;
	size_t count = 0, i;
	mc_buf body, k;

	json_array_foreach(served, i, v) {
		const char *res = json_string_value(json_object_get(v, "result"));
		const char *listener = json_string_value(json_object_get(v, "listener"));
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *s = json_string_value(json_object_get(v, "serial"));
		const char *want = json_string_value(json_object_get(v, "expected_serial"));
		const char *detail = json_string_value(json_object_get(v, "detail"));
		char *line, *c;

		if (!res || strcmp(res, "mismatch") != 0)
			continue;
		if (want)
			loaded = want;
		line = mc_asprintf("  %s (%s%s) serves serial %s%s%s", listener ? listener : "a listener",
				   name ? "SNI " : "without SNI", name ? name : "", s ? s : "none",
				   detail ? ": " : "", detail ? detail : "");
		c = clean(line);
		free(line);
		lines = mc_realloc(lines, (count + 2) * sizeof *lines);
		lines[count++] = c;
		lines[count] = NULL;
	}
	if (!count) {
		json_object_del(mem, "served");
		return;
	}
	qsort(lines, count, sizeof *lines, cmp_str);
	mc_buf_init(&k);
	mc_buf_init(&body);
	for (i = 0; i < count; i++)
		mc_buf_printf(&k, "%s\n", lines[i]);
	mc_buf_puts(&k, "");
	key = mc_buf_steal(&k);
	if (told && strcmp(told, key) == 0) {
		free(key);
		mc_strv_free(lines);
		return;
	}
	mc_buf_printf(&body, "A mail server listener serves another certificate for %s than the one "
		      "mailcert-milter loaded (serial %s):\n\n", h->name, loaded ? loaded : "none");
	for (i = 0; i < count; i++)
		mc_buf_printf(&body, "%s\n", lines[i]);
	mc_buf_printf(&body, "\nClients of that listener get the old or a wrong certificate. What to do: "
		      "check that the mail server reads the files mailcert-milter keeps and that its "
		      "reload works (a reload blocked or failing leaves the old certificate in memory), "
		      "restart it if need be, then look again with\n\n  mailcert status %s\n", h->name);
	mc_buf_puts(&body, "");
	add_event(n, nh, EV_SERVED, mc_asprintf("a listener serves the wrong certificate"), mc_buf_steal(&body),
		  json_pack("{s:s}", "served", key));
	free(key);
	mc_strv_free(lines);
}

/* ---- messages ---- */

static void rfc5322_date(time_t t, char *out, size_t outlen)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outlen, "%s, %d %s %d %02d:%02d:%02d +0000", wd[tm.tm_wday], tm.tm_mday,
		 mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static char *message(mc_notify *n, char *const *to, const char *subject, const char *body)
{
	unsigned char rnd[8];
	char date[64], id[17];
	mc_buf m;
	size_t i;

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		memset(rnd, 0, sizeof rnd);
	for (i = 0; i < sizeof rnd; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	rfc5322_date(mc_now(), date, sizeof date);
	mc_buf_init(&m);
	mc_buf_printf(&m, "Date: %s\n", date);
	mc_buf_printf(&m, "From: mailcert <%s>\n", n->from);
	for (i = 0; to[i]; i++)
		mc_buf_printf(&m, "%s%s%s", i ? ",\n " : "To: ", to[i], to[i + 1] ? "" : "\n");
	/* SUBJECT is made of validated names and our words; cleaned all the same */
	{
		char *s = clean(subject);
		mc_buf_printf(&m, "Subject: mailcert: %s\n", s);
		free(s);
	}
	mc_buf_printf(&m, "Message-ID: <mailcert.%lld.%ld.%lu.%s@%s>\n", (long long)mc_now(), (long)getpid(),
		      ++n->msgno, id, n->fqdn[0] ? n->fqdn : "localhost.localdomain");
	mc_buf_puts(&m, "MIME-Version: 1.0\n"
			"Content-Type: text/plain; charset=us-ascii\n"
			"Content-Transfer-Encoding: 7bit\n"
			"Auto-Submitted: auto-generated\n"
			"X-Auto-Response-Suppress: All\n"
			"\n");
	wrap_into(&m, body);
	{
		char *sig = mc_asprintf("\n-- \nmailcert on %s, configuration %s\n",
					n->fqdn[0] ? n->fqdn : "this machine", n->cfg->file);
		wrap_into(&m, sig);
		free(sig);
	}
	mc_buf_puts(&m, "");
	return mc_buf_steal(&m);
}

/* hand MSG to sendmail for TO; 0 when it took it */
static int sendmail(void *arg, char *const *to, const char *msg, mc_err *e)
{
	mc_notify *n = arg;
	size_t nto = 0, i, len = strlen(msg), done = 0;
	char **argv;
	int fd, rc;

	while (to[nto])
		nto++;
	fd = memfd_create("mailcert-message", MFD_CLOEXEC);
	if (fd < 0) {
		FILE *f = tmpfile();
		fd = f ? dup(fileno(f)) : -1;
		if (f)
			fclose(f);
		if (fd < 0)
			return mc_err_set(e, "a file for the message: %s", strerror(errno));
	}
	while (done < len) {
		ssize_t w = write(fd, msg + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return mc_err_set(e, "writing the message: %s", strerror(errno));
		}
		done += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	argv = mc_calloc(nto + 3, sizeof *argv);
	argv[0] = n->cfg->notify_sendmail;
	argv[1] = (char *)"-oi";
	for (i = 0; i < nto; i++)
		argv[2 + i] = to[i];
	rc = mc_spawn_input(argv, NULL, fd, SENDMAIL_TIMEOUT_MS, NULL, e);
	close(fd);
	free(argv);
	return rc;
}

static char *join(char *const *v)
{
	mc_buf b;
	size_t i;

	mc_buf_init(&b);
	for (i = 0; v[i]; i++)
		mc_buf_printf(&b, "%s%s", i ? ", " : "", v[i]);
	mc_buf_puts(&b, "");
	return mc_buf_steal(&b);
}

/*
 * Mail a message, or keep it in the queue for the next run when sendmail
 * fails: after one failure (an exit status, a time-out) the rest of the run is
 * queued without trying, so a sendmail that is not there yet costs one wait.
 */
static void deliver(mc_notify *n, char *const *to, const char *what, const char *subject, const char *body)
{
	char *msg = message(n, to, subject, body), *list = join(to);
	mc_err e;

	if (n->sendmail_failed) {
		mc_warn("notify: %s: not mailed to %s: %s failed before in this run; kept for the next run", what,
			list, n->cfg->notify_sendmail);
		mc_notifyq_add(n->mem, what, to, msg, NULL, n->now);
	} else if (sendmail(n, to, msg, &e) == 0) {
		mc_info("notify: %s: mailed to %s", what, list);
	} else {
		n->sendmail_failed = 1;
		mc_warn("notify: %s: not mailed to %s: %s; kept for the next run", what, list, e.msg);
		mc_notifyq_add(n->mem, what, to, msg, e.msg, n->now);
	}
	free(msg);
	free(list);
}

/* one recipient of this run's events */
struct addr {
	const char *a;
	size_t nhosts;         /* how many hosts it has news of */
	const struct nhost *last;
	size_t *ev;            /* the events it gets, in order */
	size_t nev;
	int merged;            /* its digest goes out with another address's */
};

static int cmp_addr(const void *x, const void *y)
{
	return strcasecmp(((const struct addr *)x)->a, ((const struct addr *)y)->a);
}

static struct addr *find_addr(struct addr *ad, size_t nad, const char *a)
{
	struct addr key = { .a = a };

	return bsearch(&key, ad, nad, sizeof *ad, cmp_addr);
}

static int same_events(const struct addr *x, const struct addr *y)
{
	return x->nev == y->nev && memcmp(x->ev, y->ev, x->nev * sizeof *x->ev) == 0;
}

static void digest(mc_notify *n, struct addr *ad, size_t nad, size_t j)
{
	char **to = mc_calloc(nad + 1, sizeof *to), *subj;
	size_t nto = 0, i, k, needy = 0;
	mc_buf body;

	for (k = j; k < nad; k++)
		if (ad[k].nhosts > MC_NOTIFY_DIGEST_HOSTS && !ad[k].merged && same_events(&ad[j], &ad[k])) {
			to[nto++] = (char *)ad[k].a;
			ad[k].merged = k != j;
		}
	mc_buf_init(&body);
	mc_buf_printf(&body, "mailcert has %zu notifications for %zu hosts from this run:\n\n", ad[j].nev,
		      ad[j].nhosts);
	for (i = 0; i < ad[j].nev; i++)
		mc_buf_printf(&body, "  %s: %s\n", n->ev[ad[j].ev[i]].nh->h->name, n->ev[ad[j].ev[i]].subject);
	for (i = 0; i < ad[j].nev; i++)
		needy += n->ev[ad[j].ev[i]].kind >= EV_FAILURE;
	mc_buf_printf(&body, "\nAll hosts at a glance, and only those that need a person:\n\n"
			     "  mailcert status\n  mailcert status --only-errors\n%s",
		      needy ? "\nWhat needs a person, in detail:\n" : "");
	/* new and renewed certificates need nobody: their line above says it all */
	for (i = 0; i < ad[j].nev; i++) {
		const struct event *ev = &n->ev[ad[j].ev[i]];
		if (ev->kind >= EV_FAILURE)
			mc_buf_printf(&body, "\n== %s: %s ==\n\n%s", ev->nh->h->name, ev->subject, ev->body);
	}
	mc_buf_puts(&body, "");
	subj = mc_asprintf("%zu notifications for %zu hosts", ad[j].nev, ad[j].nhosts);
	deliver(n, to, "digest", subj, body.data);
	for (i = 0; i < ad[j].nev; i++)
		n->ev[ad[j].ev[i]].sent = 1;
	mc_buf_free(&body);
	free(subj);
	free(to);
}

/*
 * One mail per event to the addresses with news of few hosts; one digest to
 * each address with news of more than MC_NOTIFY_DIGEST_HOSTS (addresses with
 * the same news share it).  Events come host by host.
 */
static void dispatch(mc_notify *n)
{
	struct addr *ad = NULL;
	size_t nad = 0, i, j, k;

	for (i = 0; i < n->nev; i++) {
		const struct nhost *nh = n->ev[i].nh;

		if (i && nh == n->ev[i - 1].nh)
			continue;
		for (k = 0; nh->rcpt[k]; k++) {
			ad = mc_realloc(ad, (nad + 1) * sizeof *ad);
			memset(&ad[nad], 0, sizeof *ad);
			ad[nad++].a = nh->rcpt[k];
		}
	}
	if (nad)
		qsort(ad, nad, sizeof *ad, cmp_addr);
	for (i = j = 0; i < nad; i++) /* one entry per address */
		if (!j || strcasecmp(ad[j - 1].a, ad[i].a) != 0)
			ad[j++] = ad[i];
	nad = j;
	for (i = 0; i < n->nev; i++) {
		struct nhost *nh = n->ev[i].nh;

		if (!nh->rcpt[0])
			mc_warn("notify: %s: %s: no one to mail (no hosted domain for {domain}, no notify.contact, "
				"no acme.email)", nh->h->name, kind_word(n->ev[i].kind));
		for (k = 0; nh->rcpt[k]; k++) {
			struct addr *a = find_addr(ad, nad, nh->rcpt[k]);

			a->ev = mc_realloc(a->ev, (a->nev + 1) * sizeof *a->ev);
			a->ev[a->nev++] = i;
			if (a->last != nh) {
				a->last = nh;
				a->nhosts++;
			}
		}
	}
	for (i = 0; i < n->nev; i++) {
		struct event *ev = &n->ev[i];
		char **to = mc_calloc(MAX_RECIPIENTS + 1, sizeof *to), *what, *subj;
		size_t nto = 0;

		for (k = 0; ev->nh->rcpt[k]; k++)
			if (find_addr(ad, nad, ev->nh->rcpt[k])->nhosts <= MC_NOTIFY_DIGEST_HOSTS)
				to[nto++] = ev->nh->rcpt[k];
		if (nto) {
			what = mc_asprintf("%s: %s", ev->nh->h->name, kind_word(ev->kind));
			subj = mc_asprintf("%s: %s", ev->nh->h->name, ev->subject);
			deliver(n, to, what, subj, ev->body);
			ev->sent = 1;
			free(what);
			free(subj);
		}
		free(to);
	}
	for (j = 0; j < nad; j++)
		if (ad[j].nhosts > MC_NOTIFY_DIGEST_HOSTS && !ad[j].merged)
			digest(n, ad, nad, j);
	for (j = 0; j < nad; j++)
		free(ad[j].ev);
	free(ad);
}

/* ---- memory ---- */

static json_t *memory_load(const char *store)
{
	char path[PATH_MAX];
	json_t *m;

	mc_store_area_path(store, MC_AREA_RUN, MC_STORE_NOTIFY_FILE, path, sizeof path);
	m = json_load_file(path, 0, NULL);
	if (!json_is_object(m) || !json_is_object(json_object_get(m, "hosts"))) {
		json_decref(m);
		m = json_pack("{s:i,s:{}}", "version", 1, "hosts");
	}
	return m;
}

static char *memory_text(json_t *m)
{
	return json_dumps(m, JSON_INDENT(1) | JSON_SORT_KEYS);
}

/* written only when it changed: a quiet run writes nothing */
static void memory_save(const char *store, json_t *m, const char *before)
{
	char dir[PATH_MAX], *s;
	mc_err e;

	mc_store_area_path(store, MC_AREA_RUN, NULL, dir, sizeof dir);
	s = memory_text(m);
	if (s && before && strcmp(s, before) == 0) {
		free(s);
		return;
	}
	if (!s || mc_mkdir_p(dir, 0755, &e) < 0 ||
	    mc_file_write_atomic(dir, MC_STORE_NOTIFY_FILE, s, strlen(s), 0644, (gid_t)-1, &e) < 0)
		mc_warn("notify: remembering what was mailed: %s", s ? e.msg : "out of memory");
	free(s);
}

void mc_notify_end(mc_notify *n)
{
	json_t *mem, *hosts, *loaded;
	char *before;
	time_t now;
	size_t i;

	if (!n)
		return;
	now = mc_now();
	mem = memory_load(n->cfg->store);
	before = memory_text(mem);
	hosts = json_object_get(mem, "hosts");
	loaded = mc_loaded_read(n->cfg->store);
	/* what earlier runs could not mail goes first */
	n->mem = mem;
	n->now = now;
	mc_notifyq_expire(mem, now);
	if (mc_notifyq_flush(mem, sendmail, n, now) < 0)
		n->sendmail_failed = 1;
	for (i = 0; i < n->cfg->nhosts; i++) {
		struct nhost *nh = &n->hosts[i];
		json_t *hm, *lh;
		mc_state st;
		mc_err e;

		if (!nh->in_run)
			continue;
		if (mc_store_state_load(n->cfg->store, nh->h->dir, &st, &e) < 0) {
			mc_warn("notify: %s: %s", nh->h->name, e.msg);
			continue;
		}
		st.has_cert = st.has_cert && mc_store_has_cert(n->cfg->store, nh->h->dir);
		if (!st.source[0])
			snprintf(st.source, sizeof st.source, "%s", mc_source_name(nh->h->source));
		hm = json_object_get(hosts, nh->h->dir);
		if (!json_is_object(hm)) {
			hm = json_object();
			json_object_set_new(hosts, nh->h->dir, hm);
		}
		lh = json_object_get(json_object_get(loaded, "hosts"), nh->h->dir);
		ev_installed(n, nh, &st);
		ev_failure(n, nh, &st, hm, now);
		ev_expiry(n, nh, &st, hm, now);
		ev_refused(n, nh, lh, hm);
		ev_served(n, nh, lh, hm);
		mc_state_free(&st);
	}
	if (n->nev) {
		find_fqdn(n);
		for (i = 0; i < n->nev; i++)
			resolve_rcpt(n, n->ev[i].nh);
		if (n->fqdn[0] && strlen(n->fqdn) + 9 <= MC_MAILADDR_MAX)
			snprintf(n->from, sizeof n->from, "mailcert@%s", n->fqdn);
		else if (n->cfg->notify_contact[0])
			snprintf(n->from, sizeof n->from, "%s", n->cfg->notify_contact);
		else
			snprintf(n->from, sizeof n->from, "mailcert@localhost.localdomain");
		dispatch(n);
		for (i = 0; i < n->nev; i++) {
			if (n->ev[i].sent && n->ev[i].remember)
				json_object_update(json_object_get(hosts, n->ev[i].nh->h->dir), n->ev[i].remember);
		}
	}
	mc_notifyq_settle(mem, n->sendmail_failed, now);
	memory_save(n->cfg->store, mem, before);
	free(before);
	for (i = 0; i < n->nev; i++) {
		free(n->ev[i].subject);
		free(n->ev[i].body);
		json_decref(n->ev[i].remember);
	}
	free(n->ev);
	for (i = 0; i < n->cfg->nhosts; i++)
		mc_strv_free(n->hosts[i].rcpt);
	free(n->hosts);
	for (i = 0; n->pf_items && n->pf_items[i]; i++)
		mc_strv_free(n->pf_keys[i].keys);
	free(n->pf_keys);
	mc_strv_free(n->pf_items);
	json_decref(loaded);
	json_decref(mem);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
