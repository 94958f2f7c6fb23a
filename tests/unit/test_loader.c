/*
 * test_loader - mailcert-milter's batches (plugin/loader.c) with no MTA to
 * reload: STORE/run/default.pem follows the default host's checked set, and a
 * link that cannot be made is owed and retried with backoff, never recorded
 * as done.
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

static char *store;
static time_t t0; /* now: the sets must be valid at the times the scans use */
static mc_config *cfg;

static void put_set(const char *dir, unit_pki *p, int gen)
{
	STACK_OF(X509) *chain = unit_chain(p->leaf, p->inter, NULL);

	unit_put_set(store, dir, gen, p->leaf_key, chain);
	sk_X509_pop_free(chain, X509_free);
}

static void setup(void)
{
	char path[PATH_MAX], text[2048];
	mc_err e;

	t0 = time(NULL);
	store = unit_tmpdir();
	snprintf(path, sizeof path, "%s/certs", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/versions", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(text, sizeof text,
		 "store = \"%s\"\ndefault_host = \"a.example.test\"\n"
		 "listeners {\n  postfix = false\n  dovecot = false\n  sendmail = false\n}\n"
		 "host \"a.example.test\" { source = \"manual\" }\n", store);
	snprintf(path, sizeof path, "%s/mailcert.conf", store);
	unit_write(path, text);
	ck_assert_msg(mc_config_load(path, &cfg, &e) == 0, "%s", e.msg);
}

static void teardown(void)
{
	mc_config_free(cfg);
	unit_rmtree(store);
	free(store);
}

/* where STORE/run/default.pem points, "" when it does not exist */
static const char *default_link(void)
{
	static char target[PATH_MAX];
	char link[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof link, "%s/run/default.pem", store);
	n = readlink(link, target, sizeof target - 1);
	target[n > 0 ? n : 0] = '\0';
	return target;
}

static const char *const a_names[] = { "a.example.test", NULL };

START_TEST(default_link_follows)
{
	loader l;
	unit_pki p, q;
	char want[PATH_MAX];

	unit_pki_make(&p, "ec256", a_names);
	unit_pki_make(&q, "ec256", a_names);
	put_set("a.example.test", &p, 1);
	loader_init(&l, cfg);
	ck_assert_int_eq(loader_batch(&l, t0 + 0), 0);
	snprintf(want, sizeof want, "%s/versions/a.example.test/1.gen/cert.pem", store);
	ck_assert_str_eq(default_link(), want);
	put_set("a.example.test", &q, 2);
	ck_assert_int_eq(loader_batch(&l, t0 + 10), 0);
	snprintf(want, sizeof want, "%s/versions/a.example.test/2.gen/cert.pem", store);
	ck_assert_str_eq(default_link(), want);
	ck_assert_int_eq(loader_next_retry(&l), 0);
	loader_free(&l);
	unit_pki_free(&p);
	unit_pki_free(&q);
}
END_TEST

START_TEST(failed_link_is_owed)
{
	loader l;
	unit_pki p;
	char path[PATH_MAX], want[PATH_MAX];
	time_t retry;

	unit_pki_make(&p, "ec256", a_names);
	put_set("a.example.test", &p, 1);
	/* something in the way of run/default.pem */
	snprintf(path, sizeof path, "%s/run", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/run/default.pem", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/run/default.pem/x", store);
	unit_write(path, "in the way\n");
	loader_init(&l, cfg);
	ck_assert_int_eq(loader_batch(&l, t0 + 0), -1);
	ck_assert_int_eq(l.link_owed, 1);
	ck_assert_int_eq(l.link_failures, 1);
	retry = loader_next_retry(&l);
	ck_assert_int_ge(retry, t0 + LOADER_BACKOFF_MIN);
	/* before the backoff has passed nothing is tried */
	ck_assert_int_eq(loader_apply(&l, retry - 1), -1);
	ck_assert_int_eq(l.link_failures, 1);
	/* the obstacle gone, the next try makes the link and owes nothing */
	unlink(path);
	snprintf(path, sizeof path, "%s/run/default.pem", store);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(loader_apply(&l, retry), 0);
	ck_assert_int_eq(l.link_owed, 0);
	snprintf(want, sizeof want, "%s/versions/a.example.test/1.gen/cert.pem", store);
	ck_assert_str_eq(default_link(), want);
	ck_assert_int_eq(loader_next_retry(&l), 0);
	loader_free(&l);
	unit_pki_free(&p);
}
END_TEST


/* SIGUSR1 (loader_hurry): what waits for its backoff is tried at once */
START_TEST(hurry_cuts_backoff)
{
	loader l;
	unit_pki p;
	char path[PATH_MAX], obstacle[PATH_MAX];

	unit_pki_make(&p, "ec256", a_names);
	put_set("a.example.test", &p, 1);
	snprintf(path, sizeof path, "%s/run", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/run/default.pem", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(obstacle, sizeof obstacle, "%s/run/default.pem/x", store);
	unit_write(obstacle, "in the way\n");
	loader_init(&l, cfg);
	ck_assert_int_eq(loader_batch(&l, t0), -1);
	ck_assert_int_eq(loader_batch(&l, t0 + LOADER_BACKOFF_MIN), -1);
	ck_assert_int_eq(l.link_failures, 2);
	ck_assert_int_gt(loader_next_retry(&l), t0 + LOADER_BACKOFF_MIN + 1);
	unlink(obstacle);
	ck_assert_int_eq(rmdir(path), 0);
	/* the backoff holds until it is cut */
	ck_assert_int_eq(loader_apply(&l, t0 + LOADER_BACKOFF_MIN), -1);
	ck_assert_int_eq(l.link_owed, 1);
	ck_assert_int_eq(loader_hurry(&l), 1);
	ck_assert_int_eq(loader_apply(&l, t0 + LOADER_BACKOFF_MIN), 0);
	ck_assert_int_eq(l.link_owed, 0);
	/* nothing waits any more */
	ck_assert_int_eq(loader_hurry(&l), 0);
	loader_free(&l);
	unit_pki_free(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader");

	mc_log_init("test_loader", 1, 1);
	TCase *tc = unit_tcase("loader");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, default_link_follows);
	tcase_add_test(tc, failed_link_is_owed);
	tcase_add_test(tc, hurry_cuts_backoff);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
