/*
 * conf - the option table, validation callbacks, and conversion to structs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <confuse.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "b64url.h"
#include "conf.h"
#include "fsutil.h"
#include "hostname.h"
#include "mailaddr.h"
#include "netaddr.h"
#include "xalloc.h"

/* libconfuse's error callback has no user pointer: loading is single-threaded */
static mc_err *conf_err;
static int conf_failed;
static cfg_t *conf_root;
static int title_line(const char *file, const char *title, int endline);
static void host_where(cfg_t *sec, char *out, size_t outlen);
static char default_host_where[512];
static char staging_where[512]; /* where test_on_staging was set true */
static char challenge_file_where[512]; /* where dns01.challenge_file was set */
static char eab_where[512]; /* where acme.eab_kid or acme.eab_hmac_key was set */
static int acme_seen;

static void conf_errfn(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[MC_ERRLEN];

	if (conf_failed++)
		return; /* the first error is the useful one */
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* a host repeated (in one file or across conf.d): say where it was first */
	if (strncmp(fmt, "found duplicate title", 21) == 0 && conf_root && cfg && cfg->filename) {
		char title[MC_ERRLEN], where[512];
		const char *q = strchr(msg, '\'');
		cfg_t *prev;

		snprintf(title, sizeof title, "%s", q ? q + 1 : "");
		if (title[0] && title[strlen(title) - 1] == '\'')
			title[strlen(title) - 1] = '\0';
		prev = cfg_gettsec(conf_root, "host", title);
		if (prev) {
			host_where(prev, where, sizeof where);
			mc_err_set(conf_err, "%s:%d: duplicate host \"%s\" (first defined at %s)", cfg->filename,
				   cfg->line, title, where);
			return;
		}
	}
	/* sections made before parsing (the defaults) carry no file name */
	if (cfg && !cfg->filename && conf_root && conf_root->filename)
		mc_err_set(conf_err, "%s:%d: %s", conf_root->filename, cfg->line ? cfg->line : conf_root->line, msg);
	else if (cfg && cfg->filename)
		mc_err_set(conf_err, "%s:%d: %s", cfg->filename, cfg->line, msg);
	else
		mc_err_set(conf_err, "%s", msg);
}

static int in_list(const char *v, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(v, *list) == 0)
			return 1;
	return 0;
}

/*
 * libconfuse calls a parse callback for every value it reads (list items
 * too), while cfg->line is still the line being read: that is where the
 * checks live, so errors point at the offending line.
 */
#define PARSECB(fn, check)                                                          \
	static int fn(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)   \
	{                                                                            \
		if (check(cfg, opt, value) < 0)                                      \
			return -1;                                                   \
		*(const char **)result = value;                                      \
		return 0;                                                            \
	}

static int check_enum(cfg_t *cfg, cfg_opt_t *opt, const char *v, const char *const *allowed,
		      const char *what)
{
	if (in_list(v, allowed))
		return 0;
	cfg_error(cfg, "%s: invalid %s \"%s\"", opt->name, what, v);
	return -1;
}

static const char *const key_types[] = { "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096", NULL };
static const char *const challenges[] = { "http-01", "dns-01", "tls-alpn-01", NULL };
static const char *const sources[] = { "acme", "manual", "self-signed", NULL };
static const char *const map_types[] = { "hash", "lmdb", "btree", "cdb", NULL };

static int v_key_type(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	return check_enum(cfg, opt, value, key_types, "key type (ec256, ec384, rsa2048, rsa3072, rsa4096)");
}

static int v_challenge(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	return check_enum(cfg, opt, value, challenges, "challenge (http-01, dns-01, tls-alpn-01)");
}

static int v_source(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	return check_enum(cfg, opt, value, sources, "source (acme, manual, self-signed)");
}

static const char *const rollovers[] = { "", "announce", NULL };

static int v_key_rollover(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	return check_enum(cfg, opt, value, rollovers, "key rollover (\"\" or \"announce\")");
}

static int v_map_type(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	return check_enum(cfg, opt, value, map_types, "map type (hash, lmdb, btree, cdb)");
}

static int v_name(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	char out[MC_HOSTNAME_MAX + 1];
	mc_err e;

	if (mc_hostname_check(value, 1, out, &e) < 0) {
		cfg_error(cfg, "%s: %s", opt->name, e.msg);
		return -1;
	}
	return 0;
}

static int v_default_host(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	if (cfg->filename)
		snprintf(default_host_where, sizeof default_host_where, "%s:%d", cfg->filename, cfg->line);
	if (!*value)
		return 0;
	return v_name(cfg, opt, value);
}

static int v_abs_path_or_empty(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	const char *v = value;

	if (strlen(v) > 1024) {
		cfg_error(cfg, "%s: path longer than 1024 characters", opt->name);
		return -1;
	}
	if (*v && *v != '/') {
		cfg_error(cfg, "%s: \"%s\" is not an absolute path", opt->name, v);
		return -1;
	}
	return 0;
}

static int v_directory(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	const char *v = value;

	if (strcmp(v, "letsencrypt") == 0 || strcmp(v, "letsencrypt-staging") == 0 ||
	    strncmp(v, "https://", 8) == 0)
		return 0;
	cfg_error(cfg, "%s: \"%s\" is not an https:// URL or a known alias (letsencrypt, letsencrypt-staging)",
		  opt->name, v);
	return -1;
}

static int v_listen(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	const char *v = value, *colon = strrchr(v, ':');
	char *end;
	long port;

	if (!colon || colon == v || (v[0] == '[' && colon[-1] != ']')) {
		cfg_error(cfg, "%s: \"%s\" is not HOST:PORT", opt->name, v);
		return -1;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535) {
		cfg_error(cfg, "%s: bad port in \"%s\"", opt->name, v);
		return -1;
	}
	return 0;
}

/* a DNS server: an IPv4 or IPv6 address with an optional port ("" = the system's
 * resolvers) */
static int v_resolver(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	struct sockaddr_storage ss;
	socklen_t len;
	mc_err e;

	if (!*value)
		return 0;
	if (mc_netaddr_parse(value, 53, &ss, &len, &e) < 0) {
		cfg_error(cfg, "%s: %s", opt->name, e.msg);
		return -1;
	}
	return 0;
}

static int p_port(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char *end;
	long v = strtol(value, &end, 10);

	if (*value == '\0' || *end || v < 1 || v > 65535) {
		cfg_error(cfg, "%s: must be a port number (1-65535)", opt->name);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

static int p_nonnegative(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char *end;
	long v = strtol(value, &end, 10);

	if (*value == '\0' || *end || v < 0 || v > 366L * 86400) {
		cfg_error(cfg, "%s: must be a number of seconds from 0 to 31622400", opt->name);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

static int p_positive(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char *end;
	long v = strtol(value, &end, 10);

	if (*value == '\0' || *end || v <= 0) {
		cfg_error(cfg, "%s: must be a positive number of seconds", opt->name);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

/* test_on_staging: only noted here; whether a staging CA is known is checked after parsing */
static int p_staging(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	if (strcmp(value, "false") == 0 || strcmp(value, "off") == 0 || strcmp(value, "no") == 0) {
		*(cfg_bool_t *)result = cfg_false;
		return 0;
	}
	if (strcmp(value, "true") == 0 || strcmp(value, "on") == 0 || strcmp(value, "yes") == 0) {
		/* the acme section made before parsing carries no file name: the root has it */
		if (cfg->filename)
			snprintf(staging_where, sizeof staging_where, "%s:%d", cfg->filename, cfg->line);
		else if (conf_root && conf_root->filename)
			snprintf(staging_where, sizeof staging_where, "%s:%d", conf_root->filename,
				 cfg->line ? cfg->line : conf_root->line);
		*(cfg_bool_t *)result = cfg_true;
		return 0;
	}
	cfg_error(cfg, "%s: \"%s\" is not true or false", opt->name, value);
	return -1;
}

static int v_staging_directory(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	if (!*value || strcmp(value, "letsencrypt-staging") == 0 || strncmp(value, "https://", 8) == 0)
		return 0;
	cfg_error(cfg, "%s: \"%s\" is not an https:// URL or the alias letsencrypt-staging", opt->name, value);
	return -1;
}

/* dns01.challenge_file: an absolute path without control characters; where it was set is kept */
static int v_challenge_file(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	const char *p;

	if (!*value)
		return 0;
	for (p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cfg_error(cfg, "%s: control character in the path", opt->name);
			return -1;
		}
	if (p[-1] == '/') {
		cfg_error(cfg, "%s: \"%s\" names a directory, not a file", opt->name, value);
		return -1;
	}
	if (cfg->filename)
		snprintf(challenge_file_where, sizeof challenge_file_where, "%s:%d", cfg->filename, cfg->line);
	else if (conf_root && conf_root->filename)
		snprintf(challenge_file_where, sizeof challenge_file_where, "%s:%d", conf_root->filename,
			 cfg->line ? cfg->line : conf_root->line);
	return v_abs_path_or_empty(cfg, opt, value);
}

/* acme.eab_kid / eab_hmac_key: note where; the key itself never goes into a message */
static void note_eab(cfg_t *cfg)
{
	if (cfg->filename)
		snprintf(eab_where, sizeof eab_where, "%s:%d", cfg->filename, cfg->line);
	else if (conf_root && conf_root->filename)
		snprintf(eab_where, sizeof eab_where, "%s:%d", conf_root->filename,
			 cfg->line ? cfg->line : conf_root->line);
}

static int v_eab_kid(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	const char *p;

	if (!*value)
		return 0;
	for (p = value; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			cfg_error(cfg, "%s: only printable ASCII without spaces is allowed", opt->name);
			return -1;
		}
	if (p - value > 256) {
		cfg_error(cfg, "%s: longer than 256 characters", opt->name);
		return -1;
	}
	note_eab(cfg);
	return 0;
}

static int v_eab_hmac_key(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	if (!*value)
		return 0;
	if (!mc_b64url_valid(value, 1024) || strlen(value) % 4 == 1) {
		cfg_error(cfg, "%s: not a base64url key (A-Z a-z 0-9 - _, no \"=\" padding, as the CA gave it)",
			  opt->name);
		return -1;
	}
	note_eab(cfg);
	return 0;
}

/* notify.to: addresses where {domain} is the host's hosted parent domain */
static int v_notify_to(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	mc_err e;

	if (mc_mailaddr_check(value, 1, &e) < 0) {
		cfg_error(cfg, "%s: %s", opt->name, e.msg);
		return -1;
	}
	return 0;
}

static int v_notify_contact(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	mc_err e;

	if (*value && mc_mailaddr_check(value, 0, &e) < 0) {
		cfg_error(cfg, "%s: %s", opt->name, e.msg);
		return -1;
	}
	return 0;
}

/* notify.sendmail: an absolute path, or "" for no mail at all */
static int v_sendmail(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	const char *p;

	for (p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cfg_error(cfg, "%s: control character in the path", opt->name);
			return -1;
		}
	return v_abs_path_or_empty(cfg, opt, value);
}

PARSECB(p_staging_directory, v_staging_directory)

PARSECB(p_challenge_file, v_challenge_file)
PARSECB(p_eab_kid, v_eab_kid)
PARSECB(p_eab_hmac_key, v_eab_hmac_key)
PARSECB(p_notify_to, v_notify_to)
PARSECB(p_notify_contact, v_notify_contact)
PARSECB(p_sendmail, v_sendmail)
PARSECB(p_key_type, v_key_type)
PARSECB(p_challenge, v_challenge)
PARSECB(p_source, v_source)
PARSECB(p_map_type, v_map_type)
PARSECB(p_key_rollover, v_key_rollover)
PARSECB(p_name, v_name)
PARSECB(p_default_host, v_default_host)
PARSECB(p_path, v_abs_path_or_empty)
PARSECB(p_directory, v_directory)
PARSECB(p_listen, v_listen)
PARSECB(p_resolver, v_resolver)

static int v_acme(cfg_t *cfg, cfg_opt_t *opt)
{
	acme_seen = 1;
	return 0;
}

static int v_host(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	char out[MC_HOSTNAME_MAX + 1];
	mc_err e;

	if (mc_hostname_check(cfg_title(sec), 1, out, &e) < 0) {
		if (cfg->filename)
			cfg->line = title_line(cfg->filename, cfg_title(sec), cfg->line);
		cfg_error(cfg, "host: %s", e.msg);
		return -1;
	}
	return 0;
}

/* libconfuse wants writable default strings for lists */
static char listen_default[] = "{\"[::]:80\"}";
static char tlsalpn_listen_default[] = "{\"[::]:443\"}";
static char to_default[] = "{\"postmaster+Alerts@{domain}\"}";
static char names_default[] = "{}";
static char tlsa_ports_default[] = "{25}";

static cfg_opt_t acme_opts[] = {
	CFG_STR_CB("directory", "letsencrypt", CFGF_NONE, p_directory),
	CFG_STR("email", "", CFGF_NONE),
	CFG_BOOL("agree_tos", cfg_false, CFGF_NONE),
	CFG_STR_CB("ca_bundle", "", CFGF_NONE, p_path),
	CFG_STR_CB("key_type", "ec256", CFGF_NONE, p_key_type),
	CFG_STR("profile", "", CFGF_NONE),
	CFG_STR("preferred_chain", "", CFGF_NONE),
	CFG_BOOL_CB("test_on_staging", cfg_false, CFGF_NONE, p_staging),
	CFG_STR_CB("staging_directory", "", CFGF_NONE, p_staging_directory),
	CFG_STR_CB("eab_kid", "", CFGF_NONE, p_eab_kid),
	CFG_STR_CB("eab_hmac_key", "", CFGF_NONE, p_eab_hmac_key),
	CFG_END()
};

static cfg_opt_t http01_opts[] = {
	CFG_STR_LIST_CB("listen", listen_default, CFGF_NONE, p_listen),
	CFG_STR_CB("webroot", "", CFGF_NONE, p_path),
	CFG_INT_CB("public_port", 80, CFGF_NONE, p_port),
	CFG_END()
};

static cfg_opt_t tlsalpn01_opts[] = {
	CFG_STR_LIST_CB("listen", tlsalpn_listen_default, CFGF_NONE, p_listen),
	CFG_INT_CB("public_port", 443, CFGF_NONE, p_port),
	CFG_END()
};

static cfg_opt_t dns01_opts[] = {
	CFG_STR_CB("hook", "", CFGF_NONE, p_path),
	CFG_STR_CB("resolver", "", CFGF_NONE, p_resolver),
	CFG_STR_CB("challenge_file", "", CFGF_NONE, p_challenge_file),
	CFG_INT_CB("propagation_timeout", 300, CFGF_NONE, p_positive),
	CFG_END()
};

static cfg_opt_t notify_opts[] = {
	CFG_STR_CB("sendmail", "/usr/sbin/sendmail", CFGF_NONE, p_sendmail),
	CFG_STR_LIST_CB("to", to_default, CFGF_NONE, p_notify_to),
	CFG_STR_CB("contact", "", CFGF_NONE, p_notify_contact),
	CFG_END()
};

static cfg_opt_t listener_opts[] = {
	CFG_BOOL("postfix", cfg_true, CFGF_NONE),
	CFG_BOOL("dovecot", cfg_true, CFGF_NONE),
	CFG_BOOL("sendmail", cfg_false, CFGF_NONE),
	CFG_BOOL("exim", cfg_false, CFGF_NONE),
	CFG_STR_CB("postfix_config_dir", "/etc/postfix", CFGF_NONE, p_path),
	CFG_STR_CB("postfix_map_type", "hash", CFGF_NONE, p_map_type),
	CFG_STR_CB("dovecot_config", "", CFGF_NONE, p_path),
	CFG_STR_CB("sendmail_pid_file", "/run/sendmail/mta/sendmail.pid", CFGF_NONE, p_path),
	CFG_STR_CB("sendmail_config", "/etc/mail/sendmail.cf", CFGF_NONE, p_path),
	CFG_STR_CB("exim_command", "/usr/sbin/exim4", CFGF_NONE, p_path),
	CFG_STR_CB("exim_config", "", CFGF_NONE, p_path),
	CFG_END()
};

static cfg_opt_t host_opts[] = {
	CFG_STR_LIST_CB("names", names_default, CFGF_NONE, p_name),
	CFG_STR_CB("challenge", "http-01", CFGF_NONE, p_challenge),
	CFG_STR_CB("source", "acme", CFGF_NONE, p_source),
	CFG_BOOL("self_check", cfg_true, CFGF_NONE),
	CFG_BOOL("key_reuse", cfg_false, CFGF_NONE),
	CFG_STR_CB("key_rollover", "", CFGF_NONE, p_key_rollover),
	CFG_INT_CB("key_rollover_wait", 0, CFGF_NONE, p_nonnegative),
	CFG_INT_LIST_CB("tlsa_ports", tlsa_ports_default, CFGF_NONE, p_port),
	CFG_END()
};

static cfg_opt_t root_opts[] = {
	CFG_STR_CB("store", LOCALSTATEDIR "/lib/mailcert", CFGF_NONE, p_path),
	CFG_STR_CB("default_host", "", CFGF_NONE, p_default_host),
	CFG_STR_CB("resolver", "", CFGF_NONE, p_resolver),
	CFG_SEC("acme", acme_opts, CFGF_NONE),
	CFG_SEC("http01", http01_opts, CFGF_NONE),
	CFG_SEC("tlsalpn01", tlsalpn01_opts, CFGF_NONE),
	CFG_SEC("dns01", dns01_opts, CFGF_NONE),
	CFG_SEC("notify", notify_opts, CFGF_NONE),
	CFG_SEC("listeners", listener_opts, CFGF_NONE),
	CFG_SEC("host", host_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

const char *mc_config_default_path(void)
{
	return SYSCONFDIR "/mailcert/mailcert.conf";
}

static char **strlist(cfg_t *cfg, const char *name, size_t *count)
{
	unsigned int i, n = cfg_size(cfg, name);
	char **v = mc_calloc(n + 1, sizeof *v);

	for (i = 0; i < n; i++)
		v[i] = mc_strdup(cfg_getnstr(cfg, name, i));
	if (count)
		*count = n;
	return v;
}

static char *dupstr(cfg_t *cfg, const char *name)
{
	const char *s = cfg_getstr(cfg, name);

	return mc_strdup(s ? s : "");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* FILE's directory + "/conf.d/ *.conf", sorted */
static char **confd_files(const char *file, size_t *count)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *slash = strrchr(file, '/');
	size_t n = 0, cap = 8;
	char **v = mc_calloc(cap, sizeof *v);
	struct dirent *de;
	DIR *d;

	if (slash)
		snprintf(dir, sizeof dir, "%.*s/conf.d", (int)(slash - file), file);
	else
		snprintf(dir, sizeof dir, "conf.d");
	d = opendir(dir);
	while (d && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
		    stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n + 2 > cap) {
			cap *= 2;
			v = mc_realloc(v, cap * sizeof *v);
		}
		v[n++] = mc_strdup(path);
	}
	if (d)
		closedir(d);
	qsort(v, n, sizeof *v, cmp_str);
	*count = n;
	return v;
}

/*
 * Blank out comments (keeping every newline) and check that braces balance.
 * libconfuse 3.3 miscounts lines after comments, and accepts a file that
 * ends inside a section; parsing the cleaned text fixes the first and the
 * brace check catches the second.
 */
static int preprocess(const char *file, mc_buf *out, mc_err *e)
{
	enum { CODE, DQUOTE, SQUOTE, LINE_COMMENT, BLOCK_COMMENT } st = CODE;
	int line = 1, depth = 0, open_line[64];
	size_t i;

	if (mc_file_read(file, 1024 * 1024, out, e) < 0) {
		/* the reason is copied first: e->msg is also the destination */
		char why[sizeof e->msg];
		const char *colon = strrchr(e->msg, ':');

		snprintf(why, sizeof why, "%s", colon && colon[1] == ' ' ? colon + 2 : e->msg);
		return mc_err_set(e, "%s: cannot read: %s", file, why);
	}
	for (i = 0; i < out->len; i++) {
		char c = out->data[i], n = i + 1 < out->len ? out->data[i + 1] : '\0';

		if (c == '\n')
			line++;
		switch (st) {
		case CODE:
			if (c == '"')
				st = DQUOTE;
			else if (c == '\'')
				st = SQUOTE;
			else if (c == '#' || (c == '/' && n == '/'))
				st = LINE_COMMENT;
			else if (c == '/' && n == '*') {
				st = BLOCK_COMMENT;
				out->data[i++] = ' ';
				out->data[i] = ' ';
				continue;
			} else if (c == '{') {
				if (depth < 64)
					open_line[depth] = line;
				depth++;
			} else if (c == '}' && --depth < 0)
				return mc_err_set(e, "%s:%d: '}' without a matching '{'", file, line);
			break;
		case DQUOTE:
			if (c == '\\' && n)
				i++;
			else if (c == '"')
				st = CODE;
			else if (c == '\n')
				return mc_err_set(e, "%s:%d: unterminated string", file, line - 1);
			break;
		case SQUOTE:
			if (c == '\'')
				st = CODE;
			break;
		case LINE_COMMENT:
			if (c == '\n')
				st = CODE;
			break;
		case BLOCK_COMMENT:
			if (c == '*' && n == '/') {
				out->data[i++] = ' ';
				out->data[i] = ' ';
				st = CODE;
				continue;
			}
			break;
		}
		if ((st == LINE_COMMENT || st == BLOCK_COMMENT) && c != '\n')
			out->data[i] = ' ';
	}
	if (st == DQUOTE || st == SQUOTE)
		return mc_err_set(e, "%s:%d: unterminated string", file, line);
	if (st == BLOCK_COMMENT)
		return mc_err_set(e, "%s:%d: unterminated comment", file, line);
	if (depth > 0)
		return mc_err_set(e, "%s:%d: section opened here is never closed (missing '}')",
				  file, open_line[depth - 1 < 64 ? depth - 1 : 63]);
	return 0;
}

static int parse_file(cfg_t *cfg, const char *file, mc_err *e)
{
	mc_buf text;
	FILE *f;
	int rc;

	mc_buf_init(&text);
	if (preprocess(file, &text, e) < 0) {
		mc_buf_cleanse(&text);
		conf_failed = 1;
		return -1;
	}
	f = fmemopen(text.data, text.len, "r");
	if (!f)
		mc_fatal("fmemopen: %s", strerror(errno));
	setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer holding another copy of the text */
	/* cfg_parse_fp takes the name for messages from the cfg */
	free(cfg->filename);
	cfg->filename = mc_strdup(file);
	cfg->line = 1;
	rc = cfg_parse_fp(cfg, f);
	fclose(f);
	mc_buf_cleanse(&text); /* it may hold acme.eab_hmac_key */
	if (rc != CFG_SUCCESS) {
		if (!conf_failed)
			mc_err_set(e, "%s: parse error", file);
		return -1;
	}
	return 0;
}

/*
 * libconfuse only knows where a section ends; operators want the line where
 * it starts.  Find the last `host "TITLE"` at or before the end line.
 */
static int title_line(const char *file, const char *title, int endline)
{
	FILE *f = fopen(file, "r");
	char line[4096];
	int n = 0, found = endline;
	size_t tlen = strlen(title);

	if (!f)
		return endline;
	while (n < endline && fgets(line, sizeof line, f)) {
		const char *p = line;
		n++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "host", 4) != 0 || (p[4] != ' ' && p[4] != '\t' && p[4] != '"'))
			continue;
		p += 4;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			if (strncmp(p + 1, title, tlen) == 0 && p[1 + tlen] == '"')
				found = n;
		} else if (strncmp(p, title, tlen) == 0 &&
			   (p[tlen] == ' ' || p[tlen] == '\t' || p[tlen] == '{' || p[tlen] == '\n')) {
			found = n;
		}
	}
	fclose(f);
	return found;
}

static void host_where(cfg_t *sec, char *out, size_t outlen)
{
	const char *file = sec->filename ? sec->filename : "?";

	snprintf(out, outlen, "%s:%d", file, title_line(file, cfg_title(sec), sec->line));
}

static int convert_hosts(cfg_t *cfg, mc_config *c, mc_err *e)
{
	unsigned int i, j, k, n = cfg_size(cfg, "host");

	c->hosts = mc_calloc(n ? n : 1, sizeof *c->hosts);
	for (i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "host", i);
		mc_host *h = &c->hosts[c->nhosts++];
		char norm[MC_HOSTNAME_MAX + 1];
		unsigned int nn = cfg_size(sec, "names");
		const char *ch = cfg_getstr(sec, "challenge"), *src = cfg_getstr(sec, "source");

		host_where(sec, h->where, sizeof h->where);
		if (mc_hostname_check(cfg_title(sec), 1, norm, e) < 0)
			return mc_err_prefix(e, "%s", h->where);
		h->name = mc_strdup(norm);
		mc_hostname_dirname(norm, h->dir, sizeof h->dir);
		h->names = mc_calloc(nn + 2, sizeof *h->names);
		h->names[h->nnames++] = mc_strdup(norm);
		for (j = 0; j < nn; j++) {
			if (mc_hostname_check(cfg_getnstr(sec, "names", j), 1, norm, e) < 0)
				return mc_err_prefix(e, "%s", h->where);
			for (k = 0; k < h->nnames; k++)
				if (strcmp(h->names[k], norm) == 0)
					break;
			if (k == h->nnames) /* a repeated name is harmless: keep one */
				h->names[h->nnames++] = mc_strdup(norm);
		}
		h->challenge = strcmp(ch, "dns-01") == 0 ? MC_CHAL_DNS01
			       : strcmp(ch, "tls-alpn-01") == 0 ? MC_CHAL_TLSALPN01 : MC_CHAL_HTTP01;
		h->self_check = cfg_getbool(sec, "self_check") ? 1 : 0;
		h->key_rollover = strcmp(cfg_getstr(sec, "key_rollover"), "announce") == 0 ? MC_ROLLOVER_ANNOUNCE
											    : MC_ROLLOVER_NONE;
		/* between switches a rollover keeps the key */
		h->key_reuse = cfg_getbool(sec, "key_reuse") || h->key_rollover == MC_ROLLOVER_ANNOUNCE;
		h->key_rollover_wait = cfg_getint(sec, "key_rollover_wait");
		h->ntlsa_ports = cfg_size(sec, "tlsa_ports");
		h->tlsa_ports = mc_calloc(h->ntlsa_ports + 1, sizeof *h->tlsa_ports);
		for (j = 0; j < h->ntlsa_ports; j++)
			h->tlsa_ports[j] = cfg_getnint(sec, "tlsa_ports", j);
		h->source = strcmp(src, "manual") == 0 ? MC_SRC_MANUAL
			    : strcmp(src, "self-signed") == 0 ? MC_SRC_SELFSIGNED : MC_SRC_ACME;
		for (j = 0; j + 1 < c->nhosts; j++) {
			if (strcmp(c->hosts[j].name, h->name) == 0)
				return mc_err_set(e, "%s: duplicate host \"%s\" (first defined at %s)",
						  h->where, h->name, c->hosts[j].where);
			for (k = 0; k < c->hosts[j].nnames; k++)
				for (nn = 0; nn < h->nnames; nn++)
					if (strcmp(c->hosts[j].names[k], h->names[nn]) == 0)
						return mc_err_set(e, "%s: name \"%s\" is already used by host \"%s\" (%s)",
								  h->where, h->names[nn], c->hosts[j].name, c->hosts[j].where);
		}
		if (h->source == MC_SRC_MANUAL && h->key_reuse)
			return mc_err_set(e, "%s: host \"%s\": %s needs a source that makes keys (acme or self-signed), "
					  "not \"manual\"", h->where, h->name,
					  h->key_rollover ? "key_rollover" : "key_reuse");
		if (h->challenge == MC_CHAL_HTTP01 && h->name[0] == '*')
			return mc_err_set(e, "%s: host \"%s\": wildcard names need challenge = \"dns-01\"",
					  h->where, h->name);
		for (k = 1; k < h->nnames; k++)
			if (h->names[k][0] == '*' && h->challenge != MC_CHAL_DNS01 && h->source == MC_SRC_ACME)
				return mc_err_set(e, "%s: host \"%s\": wildcard name %s needs challenge = \"dns-01\"",
						  h->where, h->name, h->names[k]);
	}
	return 0;
}

static int cross_checks(mc_config *c, mc_err *e)
{
	size_t i;

	if (c->acme_test_on_staging && (strcmp(c->acme_staging_directory, c->acme_directory) == 0 ||
					strcmp(c->acme_directory, MC_DIRECTORY_LETSENCRYPT_STAGING) == 0))
		return mc_err_set(e, "%s: test_on_staging: the directory is the staging CA itself; nothing to try first",
				  staging_where);
	if (c->acme_test_on_staging && !c->acme_staging_directory[0])
		return mc_err_set(e, "%s: test_on_staging: no staging CA is known for %s; set acme.staging_directory",
				  staging_where, c->acme_directory);
	if (c->default_host[0] && !mc_config_find_host(c, c->default_host))
		return mc_err_set(e, "%s: default_host \"%s\" is not a configured host",
				  default_host_where, c->default_host);
	/* one without the other binds nothing */
	if (!c->acme_eab_kid[0] != !c->acme_eab_hmac_key[0])
		return mc_err_set(e, "%s: %s is set but %s is not; external account binding needs both",
				  eab_where, c->acme_eab_kid[0] ? "eab_kid" : "eab_hmac_key",
				  c->acme_eab_kid[0] ? "eab_hmac_key" : "eab_kid");
	/* the records go one way only: two would leave the operator guessing which was used */
	if (c->dns01_hook[0] && c->dns01_challenge_file[0])
		return mc_err_set(e, "%s: challenge_file: dns01.hook is set too; set only one of them",
				  challenge_file_where);
	for (i = 0; i < c->nhosts; i++) {
		const mc_host *h = &c->hosts[i];
		if (h->source == MC_SRC_ACME && h->challenge == MC_CHAL_DNS01 &&
		    !c->dns01_hook[0] && !c->dns01_challenge_file[0])
			return mc_err_set(e, "%s: host \"%s\" uses dns-01 but neither dns01.hook nor dns01.challenge_file is set",
					  h->where, h->name);
	}
	return 0;
}

/* libconfuse frees its values unwiped: wipe the secret ones first */
static void wipe_secret_opt(cfg_t *cfg)
{
	cfg_t *sec = cfg_getsec(cfg, "acme");
	char *v = sec ? cfg_getstr(sec, "eab_hmac_key") : NULL;

	if (v)
		OPENSSL_cleanse(v, strlen(v));
}

int mc_config_load(const char *file, mc_config **out, mc_err *e)
{
	cfg_t *cfg = cfg_init(root_opts, CFGF_NONE);
	mc_config *c;
	char **extra;
	size_t i, nextra;
	int rc = 0;
	cfg_t *sec;
	const char *dir;

	conf_err = e;
	conf_failed = 0;
	conf_root = cfg;
	default_host_where[0] = '\0';
	staging_where[0] = '\0';
	challenge_file_where[0] = '\0';
	eab_where[0] = '\0';
	cfg_set_error_function(cfg, conf_errfn);
	cfg_set_validate_func(cfg, "host", v_host);
	cfg_set_validate_func(cfg, "acme", v_acme);
	acme_seen = 0;

	rc = parse_file(cfg, file, e);
	extra = confd_files(file, &nextra);
	for (i = 0; rc == 0 && i < nextra; i++)
		rc = parse_file(cfg, extra[i], e);
	for (i = 0; i < nextra; i++)
		free(extra[i]);
	free(extra);
	if (rc < 0) {
		wipe_secret_opt(cfg);
		cfg_free(cfg);
		conf_root = NULL;
		return -1;
	}

	c = mc_calloc(1, sizeof *c);
	c->file = mc_strdup(file);
	c->store = dupstr(cfg, "store");
	if (!c->store[0]) {
		free(c->store);
		c->store = mc_strdup(LOCALSTATEDIR "/lib/mailcert");
	}
	c->default_host = dupstr(cfg, "default_host");
	c->resolver = dupstr(cfg, "resolver");
	for (i = 0; c->default_host[i]; i++)
		if (c->default_host[i] >= 'A' && c->default_host[i] <= 'Z')
			c->default_host[i] = (char)(c->default_host[i] - 'A' + 'a');

	c->acme_present = acme_seen;
	sec = cfg_getsec(cfg, "acme");
	dir = cfg_getstr(sec, "directory");
	c->acme_directory = mc_strdup(strcmp(dir, "letsencrypt") == 0 ? MC_DIRECTORY_LETSENCRYPT
				      : strcmp(dir, "letsencrypt-staging") == 0 ? MC_DIRECTORY_LETSENCRYPT_STAGING
				      : dir);
	c->acme_email = dupstr(sec, "email");
	c->acme_agree_tos = cfg_getbool(sec, "agree_tos");
	c->acme_ca_bundle = dupstr(sec, "ca_bundle");
	c->acme_key_type = dupstr(sec, "key_type");
	c->acme_profile = dupstr(sec, "profile");
	c->acme_preferred_chain = dupstr(sec, "preferred_chain");
	c->acme_test_on_staging = cfg_getbool(sec, "test_on_staging");
	dir = cfg_getstr(sec, "staging_directory");
	c->acme_staging_directory = mc_strdup(strcmp(dir, "letsencrypt-staging") == 0 ? MC_DIRECTORY_LETSENCRYPT_STAGING
					      : *dir ? dir
					      : strcmp(c->acme_directory, MC_DIRECTORY_LETSENCRYPT) == 0
						      ? MC_DIRECTORY_LETSENCRYPT_STAGING
						      : "");
	c->acme_eab_kid = dupstr(sec, "eab_kid");
	c->acme_eab_hmac_key = dupstr(sec, "eab_hmac_key");

	sec = cfg_getsec(cfg, "http01");
	c->http01_listen = strlist(sec, "listen", &c->http01_nlisten);
	c->http01_webroot = dupstr(sec, "webroot");
	c->http01_public_port = cfg_getint(sec, "public_port");

	sec = cfg_getsec(cfg, "tlsalpn01");
	c->tlsalpn01_listen = strlist(sec, "listen", &c->tlsalpn01_nlisten);
	c->tlsalpn01_public_port = cfg_getint(sec, "public_port");

	sec = cfg_getsec(cfg, "dns01");
	c->dns01_hook = dupstr(sec, "hook");
	c->dns01_resolver = dupstr(sec, "resolver");
	if (!c->dns01_resolver[0]) { /* the propagation check asks the top-level resolver */
		free(c->dns01_resolver);
		c->dns01_resolver = mc_strdup(c->resolver);
	}
	c->dns01_challenge_file = dupstr(sec, "challenge_file");
	c->dns01_propagation_timeout = cfg_getint(sec, "propagation_timeout");

	sec = cfg_getsec(cfg, "notify");
	c->notify_sendmail = dupstr(sec, "sendmail");
	c->notify_to = strlist(sec, "to", &c->notify_nto);
	c->notify_contact = dupstr(sec, "contact");

	sec = cfg_getsec(cfg, "listeners");
	c->listen_postfix = cfg_getbool(sec, "postfix");
	c->listen_dovecot = cfg_getbool(sec, "dovecot");
	c->listen_sendmail = cfg_getbool(sec, "sendmail");
	c->listen_exim = cfg_getbool(sec, "exim");
	c->postfix_config_dir = dupstr(sec, "postfix_config_dir");
	c->postfix_map_type = dupstr(sec, "postfix_map_type");
	c->dovecot_config = dupstr(sec, "dovecot_config");
	c->sendmail_pid_file = dupstr(sec, "sendmail_pid_file");
	c->sendmail_config = dupstr(sec, "sendmail_config");
	c->exim_command = dupstr(sec, "exim_command");
	c->exim_config = dupstr(sec, "exim_config");

	rc = convert_hosts(cfg, c, e);
	if (rc == 0)
		rc = cross_checks(c, e);
	wipe_secret_opt(cfg);
	cfg_free(cfg);
	conf_root = NULL;
	if (rc < 0) {
		mc_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void mc_config_free(mc_config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nhosts; i++) {
		free(c->hosts[i].name);
		free(c->hosts[i].tlsa_ports);
		mc_strv_free(c->hosts[i].names);
	}
	free(c->hosts);
	free(c->file);
	free(c->store);
	free(c->default_host);
	free(c->resolver);
	free(c->acme_directory);
	free(c->acme_staging_directory);
	free(c->acme_email);
	free(c->acme_ca_bundle);
	free(c->acme_key_type);
	free(c->acme_profile);
	free(c->acme_preferred_chain);
	free(c->acme_eab_kid);
	mc_free_secret(c->acme_eab_hmac_key);
	mc_strv_free(c->http01_listen);
	mc_strv_free(c->tlsalpn01_listen);
	free(c->http01_webroot);
	free(c->dns01_hook);
	free(c->dns01_resolver);
	free(c->dns01_challenge_file);
	free(c->notify_sendmail);
	mc_strv_free(c->notify_to);
	free(c->notify_contact);
	free(c->postfix_config_dir);
	free(c->postfix_map_type);
	free(c->dovecot_config);
	free(c->sendmail_pid_file);
	free(c->sendmail_config);
	free(c->exim_command);
	free(c->exim_config);
	free(c);
}

mc_host *mc_config_find_host(mc_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nhosts; i++)
		if (strcasecmp(c->hosts[i].name, name) == 0 || strcmp(c->hosts[i].dir, name) == 0)
			return &c->hosts[i];
	return NULL;
}

const mc_host *mc_config_default(const mc_config *c)
{
	size_t i;

	for (i = 0; c->default_host[0] && i < c->nhosts; i++)
		if (strcmp(c->hosts[i].name, c->default_host) == 0)
			return &c->hosts[i];
	return c->nhosts ? &c->hosts[0] : NULL;
}
