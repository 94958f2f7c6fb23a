/*
 * mtaconf - do the enabled MTAs really read the files mailcert-milter keeps?
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "mtaconf.h"
#include "spawn.h"
#include "xalloc.h"
#include "storepath.h"

#define MTACONF_TIMEOUT_MS 15000

struct problems {
	char **v;
	size_t n;
};

static void add(struct problems *p, const char *fmt, ...) MC_PRINTF(2, 3);
static void add(struct problems *p, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	p->v = mc_realloc(p->v, (p->n + 2) * sizeof *p->v);
	p->v[p->n++] = mc_strdup(buf);
	p->v[p->n] = NULL;
}

/* run ARGV; its output in OUT (NUL-terminated); -1 with the reason in E */
static int ask(const char *const argv[], mc_buf *out, mc_err *e)
{
	mc_buf_init(out);
	if (mc_spawn((char *const *)argv, NULL, MTACONF_TIMEOUT_MS, out, e) < 0)
		return -1;
	mc_buf_append(out, "", 1);
	return 0;
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
	const char *argv[] = { "postconf", "-c", cfg->postfix_config_dir, "-h", name, NULL };
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

static void check_postfix(const mc_config *cfg, struct problems *p)
{
	char chain[PATH_MAX], table[PATH_MAX], sni[PATH_MAX + 32];
	char *v;
	mc_err e;

	mc_store_area_path(cfg->store, MC_AREA_RUN, MC_STORE_DEFAULT_PEM, chain, sizeof chain);
	mc_store_area_path(cfg->store, MC_AREA_POSTFIX, MC_STORE_SNI_TABLE, table, sizeof table);
	snprintf(sni, sizeof sni, "%s:%s", cfg->postfix_map_type, table);
	v = postconf_value(cfg, "smtpd_tls_chain_files", &e);
	if (!v) {
		add(p, "postfix: cannot read its configuration in %s: %s", cfg->postfix_config_dir, e.msg);
		return;
	}
	if (!has_item(v, chain))
		add(p, "postfix: main.cf in %s has smtpd_tls_chain_files = %s, not the default set %s",
		    cfg->postfix_config_dir, v[0] ? v : "(empty)", chain);
	free(v);
	v = postconf_value(cfg, "tls_server_sni_maps", &e);
	if (!v) {
		add(p, "postfix: cannot read its configuration in %s: %s", cfg->postfix_config_dir, e.msg);
		return;
	}
	if (!has_item(v, sni))
		add(p, "postfix: main.cf in %s has tls_server_sni_maps = %s, not the SNI table %s",
		    cfg->postfix_config_dir, v[0] ? v : "(empty)", sni);
	free(v);
}

static void check_dovecot(const mc_config *cfg, struct problems *p)
{
	const char *argv[6];
	char inc[PATH_MAX], store[PATH_MAX];
	mc_buf out;
	mc_err e;
	int i = 0;

	mc_store_area_path(cfg->store, MC_AREA_DOVECOT, MC_STORE_DOVECOT_INC, inc, sizeof inc);
	if (access(inc, F_OK) < 0)
		return; /* not generated yet: the plugin has not run, which status says */
	argv[i++] = "doveconf";
	if (cfg->dovecot_config && cfg->dovecot_config[0]) {
		argv[i++] = "-c";
		argv[i++] = cfg->dovecot_config;
	}
	argv[i++] = "-n";
	argv[i] = NULL;
	if (ask(argv, &out, &e) < 0) {
		add(p, "dovecot: cannot read its configuration (doveconf -n): %s", e.msg);
		mc_buf_free(&out);
		return;
	}
	/* the include names the store's version paths: with it in effect, they show */
	mc_pathf(store, sizeof store, "%s/", cfg->store);
	if (!strstr(out.data, store))
		add(p, "dovecot: its configuration%s%s does not include %s (add: !include_try with that path)",
		    cfg->dovecot_config && cfg->dovecot_config[0] ? " " : "",
		    cfg->dovecot_config ? cfg->dovecot_config : "", inc);
	mc_buf_free(&out);
}

char **mc_mtaconf_problems(const mc_config *cfg)
{
	struct problems p = { NULL, 0 };

	if (cfg->listen_postfix)
		check_postfix(cfg, &p);
	if (cfg->listen_dovecot)
		check_dovecot(cfg, &p);
	return p.v;
}
