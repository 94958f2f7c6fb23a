/*
 * test_mtaconf - `mailcert check` reading Dovecot's configuration
 * (helpers/mtaconf.c): a path it cannot hold is a finding at FILE:LINE, never
 * the end of the process.  No doveconf or dovecot is on PATH here unless the
 * test writes one.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "mtaconf.h"
#include "mtasyntax.h"
#include "xalloc.h"
#include "unit.h"

static char *tmp;
static char *old_path;

static void setup(void)
{
	char bin[PATH_MAX];
	const char *p = getenv("PATH");

	tmp = unit_tmpdir();
	old_path = p ? strdup(p) : NULL;
	snprintf(bin, sizeof bin, "%s/bin", tmp);
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	setenv("PATH", bin, 1);
}

static void teardown(void)
{
	if (old_path)
		setenv("PATH", old_path, 1);
	free(old_path);
	unit_rmtree(tmp);
	free(tmp);
}

/* a config with only Dovecot enabled; DOVECOT_CONFIG "" for doveconf's own */
static mc_config *load(const char *dovecot_config)
{
	char path[PATH_MAX], text[2048];
	mc_config *cfg;
	mc_err e;

	snprintf(path, sizeof path, "%s/store", tmp);
	mkdir(path, 0755);
	snprintf(text, sizeof text,
		 "store = \"%s/store\"\n"
		 "listeners {\n  postfix = false\n  dovecot = true\n  dovecot_config = \"%s\"\n}\n"
		 "host \"a.example.test\" { source = \"manual\" }\n",
		 tmp, dovecot_config);
	snprintf(path, sizeof path, "%s/mailcert.conf", tmp);
	unit_write(path, text);
	ck_assert_msg(mc_config_load(path, &cfg, &e) == 0, "%s", e.msg);
	return cfg;
}

static int any(char **v, const char *a, const char *b)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		if (strstr(v[i], a) && (!b || strstr(v[i], b)))
			return 1;
	return 0;
}

/* an !include whose path is longer than PATH_MAX: named at its line */
START_TEST(dovecot_long_include)
{
	char conf[PATH_MAX], where[PATH_MAX + 16], *text;
	mc_config *cfg;
	char **probs;
	size_t i;

	snprintf(conf, sizeof conf, "%s/dovecot.conf", tmp);
	text = malloc(6000);
	ck_assert_ptr_nonnull(text);
	strcpy(text, "protocols = imap\n!include_try ");
	for (i = strlen(text); i < 5900; i++)
		text[i] = 'a';
	strcpy(text + i, "\n!include *.conf\n");
	unit_write(conf, text);
	free(text);
	cfg = load(conf);
	probs = mc_mtaconf_problems(cfg);
	snprintf(where, sizeof where, "%s:2", conf);
	ck_assert_msg(any(probs, where, "too long"), "no finding at %s", where);
	mc_strv_free(probs);
	mc_config_free(cfg);
}
END_TEST

/* an include that names a FIFO is not read (it would block check for ever) */
START_TEST(dovecot_include_fifo)
{
	char conf[PATH_MAX], fifo[PATH_MAX], text[PATH_MAX + 64];
	mc_config *cfg;
	char **probs;

	snprintf(fifo, sizeof fifo, "%s/fifo.conf", tmp);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(conf, sizeof conf, "%s/dovecot.conf", tmp);
	snprintf(text, sizeof text, "protocols = imap\n!include_try %s\n", fifo);
	unit_write(conf, text);
	cfg = load(conf);
	probs = mc_mtaconf_problems(cfg); /* returns: the FIFO is never opened for reading */
	ck_assert_ptr_nonnull(probs);
	mc_strv_free(probs);
	mc_config_free(cfg);
}
END_TEST

/* doveconf's banner line names the file it read; a value further down that
 * happens to hold "): /" is not that file, however long */
START_TEST(doveconf_banner_only)
{
	char bin[PATH_MAX], *text;
	mc_config *cfg;
	char **probs;
	size_t i;

	snprintf(bin, sizeof bin, "%s/bin/doveconf", tmp);
	text = malloc(6000);
	ck_assert_ptr_nonnull(text);
	strcpy(text, "#!/bin/sh\necho '# a banner without the file'\necho 'x = y): /");
	for (i = strlen(text); i < 5900; i++)
		text[i] = 'b';
	strcpy(text + i, "'\n");
	unit_write(bin, text);
	free(text);
	ck_assert_int_eq(chmod(bin, 0755), 0);
	cfg = load("");
	probs = mc_mtaconf_problems(cfg);
	ck_assert(!any(probs, "/bbbbbbbb", NULL));
	mc_strv_free(probs);
	mc_config_free(cfg);
}
END_TEST

/* `dovecot --version` with a major number past int's room when multiplied: refused */
START_TEST(dovecot_version_overflow)
{
	char bin[PATH_MAX];
	int version = -7;
	mc_err e;

	snprintf(bin, sizeof bin, "%s/bin/dovecot", tmp);
	unit_write(bin, "#!/bin/sh\necho '30000000.5 (abc)'\n");
	ck_assert_int_eq(chmod(bin, 0755), 0);
	ck_assert_int_eq(mc_dovecot_version(&version, &e), -1);
	ck_assert_int_eq(version, -7);
	unit_write(bin, "#!/bin/sh\necho '2.3.19.1 (9b53102964)'\n");
	ck_assert_int_eq(mc_dovecot_version(&version, &e), 0);
	ck_assert_int_eq(version, 203);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mtaconf");
	TCase *tc;

	mc_log_init("test_mtaconf", 1, 0);
	tc = unit_tcase("dovecot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dovecot_long_include);
	tcase_add_test(tc, dovecot_include_fifo);
	tcase_add_test(tc, doveconf_banner_only);
	tcase_add_test(tc, dovecot_version_overflow);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
