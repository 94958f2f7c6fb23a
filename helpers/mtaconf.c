/*
 * mtaconf - do the enabled MTAs really read the files mailcert-milter keeps?
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "mtaconf.h"
#include "mtasyntax.h"
#include "spawn.h"
#include "xalloc.h"
#include "storepath.h"

#define MTACONF_TIMEOUT_MS 15000

/* Dovecot's own configuration file when none is named (its sysconfdir on Debian) */
#define DOVECOT_DEFAULT_CONF "/etc/dovecot/dovecot.conf"

struct problems {
	char **v;          /* what cannot work as configured */
	size_t n;
	char **f;          /* what stops an MTA from starting */
	size_t nf;
};

static void push(char ***v, size_t *n, const char *s)
{
	*v = mc_realloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = mc_strdup(s);
	(*v)[*n] = NULL;
}

static void vadd(struct problems *p, int fatal, const char *fmt, va_list ap) MC_PRINTF(3, 0);
static void vadd(struct problems *p, int fatal, const char *fmt, va_list ap)
{
	char buf[2048];

	vsnprintf(buf, sizeof buf, fmt, ap);
	if (fatal)
		push(&p->f, &p->nf, buf);
	else
		push(&p->v, &p->n, buf);
}

static void add(struct problems *p, const char *fmt, ...) MC_PRINTF(2, 3);
static void add(struct problems *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(p, 0, fmt, ap);
	va_end(ap);
}

/* a problem with which the MTA does not start (or stops at its next reload) */
static void add_fatal(struct problems *p, const char *fmt, ...) MC_PRINTF(2, 3);
static void add_fatal(struct problems *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(p, 1, fmt, ap);
	va_end(ap);
}

/* run ARGV; its output in OUT (NUL-terminated, also when it failed); -1 with
 * the reason in E */
static int ask(const char *const argv[], mc_buf *out, mc_err *e)
{
	int rc;

	mc_buf_init(out);
	rc = mc_spawn((char *const *)argv, NULL, MTACONF_TIMEOUT_MS, out, e);
	mc_buf_append(out, "", 1);
	return rc < 0 ? -1 : 0;
}

/* is WANT one of VALUE's items (separated by commas and white space)? */
static int has_item(const char *value, const char *want)
{
	size_t n = strlen(want);
	const char *p = value;

	while ((p = strstr(p, want)) != NULL) {
		int start = p == value || strchr(", \t\n", p[-1]) != NULL;
		int end = p[n] == '\0' || strchr(", \t\n", p[n]) != NULL;
		if (start && end)
			return 1;
		p += n;
	}
	return 0;
}

/* the value of one main.cf parameter, without its trailing newline */
static char *postconf_value(const mc_config *cfg, const char *name, mc_err *e)
{
	/* -x: expanded, as Postfix uses it (main.cf may say ${indexed}sni) */
	const char *argv[] = { "postconf", "-c", cfg->postfix_config_dir, "-x", "-h", name, NULL };
	mc_buf out;
	char *v;

	if (ask(argv, &out, e) < 0) {
		mc_buf_free(&out);
		return NULL;
	}
	v = mc_strdup(out.data);
	v[strcspn(v, "\n")] = '\0';
	mc_buf_free(&out);
	return v;
}

/* an operator's configuration file, for reading line by line: a regular file
 * of at most 16 MiB (an include that names a FIFO or a device would hang or
 * exhaust check); NULL with errno otherwise */
static FILE *conf_open(const char *path)
{
	struct stat st;
	FILE *f;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 16 * 1024 * 1024) {
		int err = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : EFBIG;
		close(fd);
		errno = err;
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

/* where main.cf in DIR sets NAME, into OUT: "DIR/main.cf:LINE" (the last
 * setting, the one Postfix uses), or "DIR/main.cf" when it is left at its default */
static void main_cf_where(const char *dir, const char *name, char *out, size_t outlen)
{
	char path[PATH_MAX];
	char *line = NULL;
	size_t cap = 0, n = strlen(name), lineno = 0, at = 0;
	FILE *f;

	mc_pathf(path, sizeof path, "%s/main.cf", dir);
	f = conf_open(path);
	while (f && getline(&line, &cap, f) > 0) {
		lineno++;
		/* a parameter starts in column 1; indented lines continue the one before */
		if (strncmp(line, name, n) == 0 && line[n + strspn(line + n, " \t")] == '=')
			at = lineno;
	}
	free(line);
	if (f)
		fclose(f);
	if (at)
		snprintf(out, outlen, "%s:%zu", path, at);
	else
		snprintf(out, outlen, "%s", path);
}

/* the map type of VALUE's item that names the file TABLE ("hash" of
 * "hash:TABLE", also behind "proxy:"), or NULL when none does */
static char *sni_map_type(const char *value, const char *table)
{
	const char *p = value;

	while (*p) {
		size_t len, tlen;
		const char *colon;

		p += strspn(p, ", \t\n");
		len = strcspn(p, ", \t\n");
		for (colon = p + len; colon > p && colon[-1] != ':'; colon--)
			;
		tlen = strlen(table);
		if (colon > p && (size_t)(p + len - colon) == tlen && strncmp(colon, table, tlen) == 0) {
			const char *type = p;
			if (strncmp(type, "proxy:", 6) == 0 && colon - 1 > type + 6)
				type += 6;
			return mc_strndup(type, (size_t)(colon - 1 - type));
		}
		p += len;
	}
	return NULL;
}

/* the first entry of the SNI table source TABLE: its name and its value; -1
 * when there is none, or TABLE cannot be read (not written yet, or not ours
 * to read: then there is nothing to look up) */
static int sni_first_entry(const char *table, char **key, char **val)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = -1;
	FILE *f = conf_open(table);

	while (f && rc < 0 && getline(&line, &cap, f) > 0) {
		char *k = line, *v;
		if (*k == '#' || *k == ' ' || *k == '\t' || *k == '\n')
			continue;
		v = k + strcspn(k, " \t\n");
		if (*v == '\n' || !*v)
			continue;
		*v++ = '\0';
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		*key = mc_strdup(k);
		*val = mc_strdup(v);
		rc = 0;
	}
	free(line);
	if (f)
		fclose(f);
	return rc;
}

/* is S base64 text (what postmap -F stores), not a list of file names? */
static int is_base64(const char *s)
{
	return s[0] && s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")] == '\0';
}

/* the compiled map TYPE:TABLE, which Postfix reads: does it exist, and was it
 * built with postmap -F from the source beside it? */
static void check_sni_built(const mc_config *cfg, struct problems *p, const char *type, const char *table)
{
	const char *dir = cfg->postfix_config_dir;
	char db[PATH_MAX], map[PATH_MAX + 32];
	char *key, *val, *got;
	mc_buf out;
	mc_err e;

	if (sni_first_entry(table, &key, &val) < 0)
		return;
	mc_pathf(db, sizeof db, "%s%s", table, mc_postfix_map_suffix(type));
	snprintf(map, sizeof map, "%s:%s", type, table);
	if (access(db, F_OK) < 0) {
		add(p, "postfix: %s is missing, so Postfix has no SNI table to look names up in; build it with: "
		       "postmap -c %s -F %s",
		    db, dir, map);
		goto done;
	}
	{
		const char *argv[] = { "postmap", "-c", dir, "-q", key, map, NULL };
		if (ask(argv, &out, &e) < 0) {
			if (out.len <= 1) /* not found: postmap says nothing */
				add(p, "postfix: %s has no entry for %s, which %s lists: it was built from another "
				       "source; rebuild it with: postmap -c %s -F %s",
				    db, key, table, dir, map);
			else
				add(p, "postfix: cannot look %s up in %s: %s", key, map, e.msg);
			mc_buf_free(&out);
			goto done;
		}
	}
	got = out.data;
	got[strcspn(got, "\r\n")] = '\0';
	if (!is_base64(got))
		add(p, "postfix: %s was built without postmap's -F: it maps %s to \"%.200s\", which Postfix "
		       "takes for base64-encoded key and certificates and cannot decode, so no client asking "
		       "for a name gets its certificate; rebuild it with: postmap -c %s -F %s",
		    db, key, got, dir, map);
	mc_buf_free(&out);
done:
	free(key);
	free(val);
}

/* tls_server_sni_maps must name the SNI table with the type mailcert-milter builds */
static void check_sni_maps(const mc_config *cfg, struct problems *p)
{
	const char *want = cfg->postfix_map_type[0] ? cfg->postfix_map_type : "hash";
	char table[PATH_MAX], where[PATH_MAX + 32];
	char *v, *type;
	mc_err e;

	mc_store_area_path(cfg->store, MC_AREA_POSTFIX, MC_STORE_SNI_TABLE, table, sizeof table);
	v = postconf_value(cfg, "tls_server_sni_maps", &e);
	if (!v) {
		add(p, "postfix: cannot read its configuration in %s: %s", cfg->postfix_config_dir, e.msg);
		return;
	}
	main_cf_where(cfg->postfix_config_dir, "tls_server_sni_maps", where, sizeof where);
	type = sni_map_type(v, table);
	if (!type)
		add(p, "postfix: %s: tls_server_sni_maps %s%s does not name %s:%s, so Postfix serves no "
		       "per-name certificate; set tls_server_sni_maps = %s:%s",
		    where, v[0] ? "= " : "is empty and", v, want, table, want, table);
	else if (strcmp(type, want) != 0 && !mc_postfix_map_indexed(type))
		add(p, "postfix: %s: tls_server_sni_maps names %s:%s, so Postfix reads the table source "
		       "itself, not the %s map mailcert-milter builds with postmap -F "
		       "(listeners.postfix_map_type); name %s:%s",
		    where, type, table, want, want, table);
	else if (strcmp(type, want) != 0 &&
		 strcmp(mc_postfix_map_suffix(type), mc_postfix_map_suffix(want)) != 0)
		add(p, "postfix: %s: tls_server_sni_maps names %s:%s, so Postfix reads %s%s, but "
		       "mailcert-milter builds %s%s (listeners.postfix_map_type = \"%s\"); name %s:%s",
		    where, type, table, table, mc_postfix_map_suffix(type), table, mc_postfix_map_suffix(want),
		    want, want, table);
	else if (strcmp(type, want) != 0)
		add(p, "postfix: %s: tls_server_sni_maps names %s:%s, but mailcert-milter builds %s%s as a %s "
		       "map (listeners.postfix_map_type), which Postfix cannot open as %s; name %s:%s",
		    where, type, table, table, mc_postfix_map_suffix(want), want, type, want, table);
	else
		check_sni_built(cfg, p, type, table);
	free(type);
	free(v);
}

static void check_postfix(const mc_config *cfg, struct problems *p)
{
	char chain[PATH_MAX];
	char *v;
	mc_err e;

	mc_store_area_path(cfg->store, MC_AREA_RUN, MC_STORE_DEFAULT_PEM, chain, sizeof chain);
	v = postconf_value(cfg, "smtpd_tls_chain_files", &e);
	if (!v) {
		add(p, "postfix: cannot read its configuration in %s: %s", cfg->postfix_config_dir, e.msg);
		return;
	}
	if (!has_item(v, chain))
		add(p, "postfix: main.cf in %s has smtpd_tls_chain_files = %s, not the default set %s",
		    cfg->postfix_config_dir, v[0] ? v : "(empty)", chain);
	free(v);
	check_sni_maps(cfg, p);
}

/*
 * Dovecot: its configuration read as Dovecot reads it, following !include and
 * !include_try (globs, relative to the including file): does it reach the
 * include, and does it name the certificate settings as this version does?
 */
#define DC_MAX_DEPTH 8
#define DC_MAX_FILES 512

struct dcwalk {
	const char *inc;   /* STORE/dovecot/mailcert.conf */
	int version;       /* major*100+minor; 0: unknown, names not checked */
	int reached;       /* an !include or !include_try names the include */
	int files;         /* files read so far: bounds include loops */
	struct problems *p;
};

/* NAME = VALUE at FILE:LINE: as this Dovecot version spells it? GENERATED:
 * FILE is the include mailcert-milter wrote */
static int dc_setting(struct dcwalk *w, const char *file, size_t line, const char *name, const char *value,
		      int generated)
{
	int v24 = w->version >= MC_DOVECOT_24;
	const char *right = mc_dovecot_ssl_rename(name, w->version);

	if (right && generated) {
		add_fatal(w->p, "dovecot: %s:%zu: mailcert-milter wrote %s for Dovecot %s, but Dovecot %d.%d is "
			  "installed, which does not know it; restart mailcert-milter (it writes the include "
			  "for the version it finds when it starts)",
		    file, line, name, v24 ? "2.3" : "2.4", w->version / 100, w->version % 100);
		return -1;
	}
	if (right) {
		add_fatal(w->p, "dovecot: %s:%zu: %s is Dovecot %s's name, and Dovecot %d.%d does not start with "
			  "it; write %s = %sFILE",
		    file, line, name, v24 ? "2.3" : "2.4", w->version / 100, w->version % 100, right,
		    v24 ? "" : "<");
		return 0;
	}
	if (strcmp(name, mc_dovecot_ssl_name(w->version, 0)) != 0 &&
	    strcmp(name, mc_dovecot_ssl_name(w->version, 1)) != 0)
		return 0;
	if (v24 && value[0] == '<')
		add(w->p, "dovecot: %s:%zu: Dovecot %d.%d's %s takes a file name: drop the '<' (%s = %s)", file,
		    line, w->version / 100, w->version % 100, name, name, value + 1 + strspn(value + 1, " \t"));
	else if (!v24 && value[0] == '/')
		add(w->p, "dovecot: %s:%zu: Dovecot %d.%d's %s takes the file's contents, so the file name "
			  "alone is not a certificate or key; write %s = <%s",
		    file, line, w->version / 100, w->version % 100, name, name, value);
	return 0;
}

static void dc_walk(struct dcwalk *w, const char *file, int depth, int generated);

/* "!include[_try] PATTERN" at FILE:LINE */
static void dc_include(struct dcwalk *w, const char *file, size_t line, char *arg, int depth)
{
	char pattern[PATH_MAX];
	glob_t g;
	size_t i, n;
	int len;

	arg += strspn(arg, " \t");
	n = strlen(arg);
	while (n && strchr(" \t\r", arg[n - 1]))
		arg[--n] = '\0';
	if (n >= 2 && arg[0] == '"' && arg[n - 1] == '"') {
		arg[n - 1] = '\0';
		arg++;
	}
	if (!arg[0])
		return;
	if (arg[0] == '/')
		len = snprintf(pattern, sizeof pattern, "%s", arg);
	else {
		const char *slash = strrchr(file, '/');
		int dirlen = slash ? (int)(slash - file) : 1;
		len = snprintf(pattern, sizeof pattern, "%.*s/%s", dirlen, slash ? file : ".", arg);
	}
	if (len < 0 || (size_t)len >= sizeof pattern) {
		add(w->p, "dovecot: %s:%zu: the included path is too long (%zu characters), not followed", file,
		    line, strlen(arg));
		return;
	}
	if (fnmatch(pattern, w->inc, FNM_PATHNAME) == 0)
		w->reached = 1;
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++)
		if (strcmp(g.gl_pathv[i], w->inc) != 0) /* the include is looked at on its own */
			dc_walk(w, g.gl_pathv[i], depth + 1, 0);
	globfree(&g);
}

static void dc_walk(struct dcwalk *w, const char *file, int depth, int generated)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	FILE *f;

	if (depth > DC_MAX_DEPTH || w->files >= DC_MAX_FILES)
		return;
	w->files++;
	f = conf_open(file);
	if (!f) {
		if (depth == 0)
			add(w->p, "dovecot: cannot read %s: %s", file, strerror(errno));
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		char *s = line, *end, *val;
		size_t n;

		lineno++;
		s += strspn(s, " \t");
		s[strcspn(s, "\r\n")] = '\0';
		if (!generated && strncmp(s, "!include", 8) == 0) {
			if (strncmp(s + 8, "_try", 4) == 0 && strchr(" \t", s[12]))
				dc_include(w, file, lineno, s + 12, depth);
			else if (s[8] && strchr(" \t", s[8]))
				dc_include(w, file, lineno, s + 8, depth);
			continue;
		}
		end = s + strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		val = end + strspn(end, " \t");
		if (end == s || *val != '=' || !w->version)
			continue;
		*end = '\0';
		val++;
		val += strspn(val, " \t");
		n = strlen(val);
		while (n && strchr(" \t", val[n - 1]))
			val[--n] = '\0';
		if (dc_setting(w, file, lineno, s, val, generated) < 0)
			break; /* one line says the include is for the other version */
	}
	free(line);
	fclose(f);
}

/* why doveconf failed: its "Fatal:" line (the last line may be a banner) or E */
static const char *doveconf_error(mc_buf *out, mc_err *e)
{
	char *fatal = strstr(out->data, "Fatal: ");

	if (!fatal)
		return e->msg;
	fatal[strcspn(fatal, "\n")] = '\0';
	return fatal;
}

static void check_dovecot(const mc_config *cfg, struct problems *p)
{
	const char *argv[6];
	char inc[PATH_MAX], store[PATH_MAX], conf[PATH_MAX];
	struct dcwalk w;
	mc_buf out;
	mc_err e;
	int i = 0, have, generated, in_effect;

	mc_store_area_path(cfg->store, MC_AREA_DOVECOT, MC_STORE_DOVECOT_INC, inc, sizeof inc);
	memset(&w, 0, sizeof w);
	w.inc = inc;
	w.p = p;
	if (mc_dovecot_version(&w.version, &e) < 0) {
		add(p, "dovecot: cannot tell its version: %s", e.msg);
		w.version = 0;
	}
	argv[i++] = "doveconf";
	if (cfg->dovecot_config && cfg->dovecot_config[0]) {
		argv[i++] = "-c";
		argv[i++] = cfg->dovecot_config;
	}
	argv[i++] = "-n";
	argv[i] = NULL;
	have = ask(argv, &out, &e) == 0;
	if (!have)
		add_fatal(p, "dovecot: cannot read its configuration (doveconf -n), so Dovecot does not start "
			     "with it: %s", doveconf_error(&out, &e));
	/* the include names the store's version paths: with it in effect, they show */
	mc_pathf(store, sizeof store, "%s/", cfg->store);
	generated = access(inc, F_OK) == 0;
	in_effect = have && generated && strstr(out.data, store) != NULL;
	/* which file: as given, or what doveconf says it read ("# VERSION (ID): FILE") */
	conf[0] = '\0';
	if (cfg->dovecot_config && cfg->dovecot_config[0])
		mc_pathf(conf, sizeof conf, "%s", cfg->dovecot_config);
	else if (have && out.data[0] == '#') {
		/* the first line only: a value further down may hold "): /" too */
		size_t first = strcspn(out.data, "\n");
		const char *f = strstr(out.data, "): /");
		if (f && f + 3 < out.data + first) {
			size_t len = first - (size_t)(f + 3 - out.data);
			if (len < sizeof conf) {
				memcpy(conf, f + 3, len);
				conf[len] = '\0';
			}
		}
	} else if (!have && access(DOVECOT_DEFAULT_CONF, F_OK) == 0) {
		/* doveconf failed: its own file, read here, says which line is wrong */
		mc_pathf(conf, sizeof conf, "%s", DOVECOT_DEFAULT_CONF);
	}
	if (conf[0])
		dc_walk(&w, conf, 0, 0);
	if (conf[0] && !w.reached && !in_effect)
		add(p, "dovecot: its configuration %s does not include %s (no !include or !include_try "
		       "reaches it, directly or through a glob such as conf.d/*.conf), so Dovecot serves "
		       "none of mailcert's certificates; add: !include_try %s",
		    conf, inc, inc);
	else if (have && generated && !in_effect)
		add(p, "dovecot: its configuration%s%s does not include %s (add: !include_try with that path)",
		    conf[0] ? " " : "", conf, inc);
	/* not generated yet: the plugin has not run, which status says */
	if (generated && w.version)
		dc_walk(&w, inc, 0, 1);
	mc_buf_free(&out);
}

/* Exim's tls_certificate, as `exim -bP` shows it (macros substituted, not expanded),
 * must look the SNI up in the store's file: otherwise nothing the plugin keeps is served */
static void check_exim(const mc_config *cfg, struct problems *p)
{
	const char *argv[6];
	char map[PATH_MAX];
	const char *conf = cfg->exim_config && cfg->exim_config[0] ? cfg->exim_config : NULL;
	mc_buf out;
	mc_err e;
	int i = 0;

	if (!cfg->exim_command || !cfg->exim_command[0])
		return;
	mc_store_area_path(cfg->store, MC_AREA_EXIM, MC_STORE_EXIM_SNI, map, sizeof map);
	argv[i++] = cfg->exim_command;
	if (conf) {
		argv[i++] = "-C";
		argv[i++] = conf;
	}
	argv[i++] = "-bP";
	argv[i++] = "tls_certificate";
	argv[i] = NULL;
	if (ask(argv, &out, &e) < 0) {
		add(p, "exim: cannot read its configuration (%s -bP tls_certificate): %s",
		    cfg->exim_command, e.msg);
	} else if (!strstr(out.data, map) || !strstr(out.data, "tls_in_sni")) {
		out.data[strcspn(out.data, "\n")] = '\0';
		add(p, "exim: its configuration%s%s has %s, which does not look the SNI up in %s "
		       "(see exim-mailcert.conf)",
		    conf ? " " : "", conf ? conf : "", out.data[0] ? out.data : "no tls_certificate", map);
	}
	mc_buf_free(&out);
}

char **mc_mtaconf_check(const mc_config *cfg, char ***fatal)
{
	struct problems p = { NULL, 0, NULL, 0 };

	if (cfg->listen_postfix)
		check_postfix(cfg, &p);
	if (cfg->listen_dovecot)
		check_dovecot(cfg, &p);
	if (cfg->listen_exim)
		check_exim(cfg, &p);
	*fatal = p.f;
	return p.v;
}

char **mc_mtaconf_problems(const mc_config *cfg)
{
	char **fatal, **rest = mc_mtaconf_check(cfg, &fatal);
	size_t n = 0, i;

	/* the fatal ones first: they matter most */
	for (i = 0; fatal && fatal[i]; i++)
		n++;
	for (i = 0; rest && rest[i]; i++)
		push(&fatal, &n, rest[i]);
	mc_strv_free(rest);
	return fatal;
}
