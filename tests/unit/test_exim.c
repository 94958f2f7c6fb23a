/*
 * test_exim - STORE/exim/sni (plugin/exim.c) through mailcert-milter's batches:
 * one line per served name naming the checked version file of its host (a
 * wildcard as "*.NAME"), 0644, written without any reload (each new file owes
 * a served check, as a reload does); a refused set is
 * never named; a store path Exim would split is an error, never a file.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "conf.h"
#include "loader.h"
#include "log.h"
#include "unit.h"

static char *tmp;
static char *store;
static time_t t0; /* now: the sets must be valid at the times the scans use */
static mc_config *cfg;

static const char *const a_names[] = { "a.example.test", "smtp.a.example.test", NULL };
static const char *const w_names[] = { "*.w.example.test", NULL };

static void put_set(const char *dir, EVP_PKEY *key, unit_pki *p, int gen)
{
	STACK_OF(X509) *chain = unit_chain(p->leaf, p->inter, NULL);

	unit_put_set(store, dir, gen, key, chain);
	sk_X509_pop_free(chain, X509_free);
}

/* a store at TMP/SUB with listeners { exim = true } only */
static void make_store(const char *sub)
{
	char path[PATH_MAX], text[2048];
	mc_err e;

	store = malloc(strlen(tmp) + strlen(sub) + 2);
	ck_assert_ptr_nonnull(store);
	sprintf(store, "%s/%s", tmp, sub);
	ck_assert_int_eq(mkdir(store, 0755), 0);
	snprintf(path, sizeof path, "%s/certs", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/versions", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(text, sizeof text,
		 "store = \"%s\"\ndefault_host = \"a.example.test\"\n"
		 "listeners {\n  postfix = false\n  dovecot = false\n  exim = true\n}\n"
		 "host \"a.example.test\" { source = \"manual\" }\n", store);
	snprintf(path, sizeof path, "%s/mailcert.conf", tmp);
	unit_write(path, text);
	ck_assert_msg(mc_config_load(path, &cfg, &e) == 0, "%s", e.msg);
}

static void setup(void)
{
	t0 = time(NULL);
	tmp = unit_tmpdir();
	store = NULL;
	cfg = NULL;
}

static void teardown(void)
{
	mc_config_free(cfg);
	unit_rmtree(tmp);
	free(tmp);
	free(store);
}

/* the map's text, "" when there is none */
static char *map_text(void)
{
	char path[PATH_MAX];
	char *s;

	snprintf(path, sizeof path, "%s/exim/sni", store);
	s = unit_read(path, NULL);
	return s ? s : strdup("");
}

/* the line the map should have for NAME served from DIR's generation GEN */
static void want_line(char *out, size_t len, const char *name, const char *dir, int gen)
{
	snprintf(out, len, "\n%s %s/versions/%s/%d.gen/cert.pem\n", name, store, dir, gen);
}

START_TEST(names_to_version_files)
{
	loader l;
	unit_pki p, w;
	char line[PATH_MAX + 100], path[PATH_MAX];
	struct stat st;
	char *text;

	make_store("store");
	unit_pki_make(&p, "ec256", a_names);
	unit_pki_make(&w, "ec256", w_names);
	put_set("a.example.test", p.leaf_key, &p, 1);
	put_set("_wildcard.w.example.test", w.leaf_key, &w, 1);
	loader_init(&l, cfg);
	ck_assert_int_eq(loader_batch(&l, t0 + 0), 0);
	text = map_text();
	want_line(line, sizeof line, "a.example.test", "a.example.test", 1);
	ck_assert_msg(strstr(text, line), "no %s in:\n%s", line, text);
	want_line(line, sizeof line, "smtp.a.example.test", "a.example.test", 1);
	ck_assert_msg(strstr(text, line), "no %s in:\n%s", line, text);
	want_line(line, sizeof line, "*.w.example.test", "_wildcard.w.example.test", 1);
	ck_assert_msg(strstr(text, line), "no %s in:\n%s", line, text);
	free(text);
	snprintf(path, sizeof path, "%s/exim/sni", store);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	/* live for Exim as soon as written: nothing owed, one served check due */
	ck_assert_uint_eq(l.reloads, 1);
	ck_assert_int_ne(mh_find(&l.hosts, "a.example.test")->loaded[MTA_EXIM], 0);
	ck_assert_uint_eq(mh_find(&l.hosts, "a.example.test")->pending & (1u << MTA_EXIM), 0);
	ck_assert_int_eq(loader_next_retry(&l), 0);
	/* a renewal: the name moves to the new version file */
	unit_pki_free(&p);
	unit_pki_make(&p, "ec256", a_names);
	put_set("a.example.test", p.leaf_key, &p, 3);
	ck_assert_int_eq(loader_batch(&l, t0 + 10), 0);
	text = map_text();
	want_line(line, sizeof line, "a.example.test", "a.example.test", 3);
	ck_assert_msg(strstr(text, line), "no %s in:\n%s", line, text);
	ck_assert_msg(!strstr(text, "versions/a.example.test/1.gen/"), "the old set is named:\n%s", text);
	ck_assert_uint_eq(l.reloads, 2);
	free(text);
	loader_free(&l);
	unit_pki_free(&p);
	unit_pki_free(&w);
}
END_TEST

START_TEST(refused_set_never_named)
{
	loader l;
	unit_pki p, q;
	char line[PATH_MAX + 100];
	char *text;

	make_store("store");
	unit_pki_make(&p, "ec256", a_names);
	unit_pki_make(&q, "ec256", a_names);
	put_set("a.example.test", p.leaf_key, &p, 1);
	loader_init(&l, cfg);
	ck_assert_int_eq(loader_batch(&l, t0 + 0), 0);
	/* a new set whose key does not match its leaf */
	put_set("a.example.test", q.leaf_key, &p, 2);
	loader_batch(&l, t0 + 10);
	ck_assert_ptr_nonnull(mh_find(&l.hosts, "a.example.test")->error);
	text = map_text();
	/* the loaded set stays: its version file, or the copy kept of it */
	want_line(line, sizeof line, "a.example.test", "a.example.test", 1);
	if (!strstr(text, line))
		snprintf(line, sizeof line, "\na.example.test %s/run/kept/a.example.test.pem\n", store);
	ck_assert_msg(strstr(text, line), "no %s in:\n%s", line, text);
	ck_assert_msg(!strstr(text, "/2.gen/"), "the refused set is named:\n%s", text);
	free(text);
	loader_free(&l);
	unit_pki_free(&p);
	unit_pki_free(&q);
}
END_TEST

START_TEST(store_path_exim_would_split)
{
	loader l;
	unit_pki p;
	char path[PATH_MAX];

	/* tls_certificate is a ':'-separated list: such a path is refused, loudly */
	make_store("st:ore");
	unit_pki_make(&p, "ec256", a_names);
	put_set("a.example.test", p.leaf_key, &p, 1);
	loader_init(&l, cfg);
	ck_assert_int_eq(loader_batch(&l, t0 + 0), -1);
	ck_assert_ptr_nonnull(l.mta[MTA_EXIM].last_error);
	ck_assert_msg(strstr(l.mta[MTA_EXIM].last_error, "Exim"), "%s", l.mta[MTA_EXIM].last_error);
	ck_assert_int_ne(mh_find(&l.hosts, "a.example.test")->pending & (1u << MTA_EXIM), 0);
	snprintf(path, sizeof path, "%s/exim/sni", store);
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_ne(loader_next_retry(&l), 0);
	loader_free(&l);
	unit_pki_free(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("exim");

	mc_log_init("test_exim", 1, 1);
	TCase *tc = unit_tcase("exim");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, names_to_version_files);
	tcase_add_test(tc, refused_set_never_named);
	tcase_add_test(tc, store_path_exim_would_split);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
