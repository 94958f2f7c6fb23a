/*
 * test_hosts - mailcert-milter's view of the store (plugin/hosts.c): which set
 * each host serves, when a newer one is refused, names, the default host.
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

#include "hosts.h"
#include "log.h"
#include "unit.h"

static char *store;
static time_t t0; /* now: the sets must be valid at the times the scans use */
static int gen_seq;

static void setup(void)
{
	char path[PATH_MAX];

	t0 = time(NULL);
	store = unit_tmpdir();
	snprintf(path, sizeof path, "%s/certs", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/versions", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void teardown(void)
{
	unit_rmtree(store);
	free(store);
}

static void put_set(const char *dir, EVP_PKEY *key, STACK_OF(X509) *chain)
{
	unit_put_set(store, dir, ++gen_seq, key, chain);
}

static void put_pki(const char *dir, unit_pki *p)
{
	STACK_OF(X509) *chain = unit_chain(p->leaf, p->inter, NULL);

	put_set(dir, p->leaf_key, chain);
	sk_X509_pop_free(chain, X509_free);
}

static const char *const a_names[] = { "a.example.test", "smtp.example.test", NULL };
static const char *const b_names[] = { "b.example.test", NULL };

START_TEST(good_set_loaded)
{
	mh_table t = { 0 };
	unit_pki p;
	mh_host *h;
	char want[PATH_MAX];

	unit_pki_make(&p, "ec256", a_names);
	put_pki("a.example.test", &p);
	ck_assert_int_eq((mh_scan(&t, store, t0 + 0) & MH_CHANGED_SETS), MH_CHANGED_SETS);
	h = mh_find(&t, "a.example.test");
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_null(h->error);
	ck_assert_uint_eq(h->nnames, 2);
	ck_assert_str_eq(h->names[0], "a.example.test");
	ck_assert_str_eq(h->names[1], "smtp.example.test");
	/* the immutable version path, never the live link */
	snprintf(want, sizeof want, "%s/versions/a.example.test/%d.gen/cert.pem", store, gen_seq);
	ck_assert_str_eq(h->file, want);
	ck_assert_uint_eq(h->pending, (1u << MTA_N) - 1);
	/* nothing changed: nothing to do */
	ck_assert_int_eq(mh_scan(&t, store, t0 + 1), 0);
	mh_free(&t);
	unit_pki_free(&p);
}
END_TEST

START_TEST(bad_set_refused_old_kept)
{
	mh_table t = { 0 };
	unit_pki p, q;
	STACK_OF(X509) *chain;
	mh_host *h;
	char old[PATH_MAX];

	unit_pki_make(&p, "ec256", a_names);
	unit_pki_make(&q, "ec256", a_names);
	put_pki("a.example.test", &p);
	mh_scan(&t, store, t0 + 0);
	h = mh_find(&t, "a.example.test");
	snprintf(old, sizeof old, "%s", h->file);
	h->pending = 0;
	/* a new set whose key does not match its leaf */
	chain = unit_chain(p.leaf, p.inter, NULL);
	put_set("a.example.test", q.leaf_key, chain);
	sk_X509_pop_free(chain, X509_free);
	mh_scan(&t, store, t0 + 1000);
	h = mh_find(&t, "a.example.test");
	ck_assert_ptr_nonnull(h->error);
	ck_assert_msg(strstr(h->error, "key") != NULL, "error: %s", h->error);
	ck_assert_int_eq(h->error_time, t0 + 1000);
	/* what the MTAs get is still a good set (the old one, or a kept copy of it) */
	ck_assert_str_ne(h->file, "");
	ck_assert_uint_eq(h->pending, 0);
	/* a good set again clears the error */
	put_pki("a.example.test", &q);
	mh_scan(&t, store, t0 + 2000);
	h = mh_find(&t, "a.example.test");
	ck_assert_ptr_null(h->error);
	ck_assert_str_ne(h->file, old);
	mh_free(&t);
	unit_pki_free(&p);
	unit_pki_free(&q);
}
END_TEST

START_TEST(vanished_host_dropped)
{
	mh_table t = { 0 };
	unit_pki p, q;
	char link[PATH_MAX];

	unit_pki_make(&p, "ec256", a_names);
	unit_pki_make(&q, "ec256", b_names);
	put_pki("a.example.test", &p);
	put_pki("b.example.test", &q);
	mh_scan(&t, store, t0 + 0);
	ck_assert_uint_eq(t.n, 2);
	snprintf(link, sizeof link, "%s/certs/b.example.test", store);
	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_ne(mh_scan(&t, store, t0 + 1000), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_ptr_null(mh_find(&t, "b.example.test"));
	mh_free(&t);
	unit_pki_free(&p);
	unit_pki_free(&q);
}
END_TEST

START_TEST(names_and_default)
{
	static const char *const claim[] = { "b.example.test", "a.example.test", NULL };
	mh_table t = { 0 };
	unit_pki p, q;
	mh_name *n;
	size_t count, i;
	const mh_host *d;

	unit_pki_make(&p, "ec256", a_names);
	unit_pki_make(&q, "ec256", claim); /* b also names a.example.test */
	put_pki("a.example.test", &p);
	put_pki("b.example.test", &q);
	mh_scan(&t, store, t0 + 0);
	n = mh_names(&t, &count);
	ck_assert_uint_eq(count, 3);
	for (i = 0; i < count; i++) {
		if (strcmp(n[i].name, "a.example.test") == 0)
			ck_assert_str_eq(n[i].host->dir, "a.example.test"); /* its own host wins */
		if (i > 0)
			ck_assert_int_lt(strcmp(n[i - 1].name, n[i].name), 0); /* sorted, once each */
	}
	free(n);
	d = mh_default(&t, "b.example.test");
	ck_assert_str_eq(d->dir, "b.example.test");
	d = mh_default(&t, "nowhere.example.test");
	ck_assert_str_eq(d->dir, "a.example.test"); /* the first loadable host */
	mh_free(&t);
	unit_pki_free(&p);
	unit_pki_free(&q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hosts");

	mc_log_init("test_hosts", 1, 1);
	TCase *tc = unit_tcase("hosts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_set_loaded);
	tcase_add_test(tc, bad_set_refused_old_kept);
	tcase_add_test(tc, vanished_host_dropped);
	tcase_add_test(tc, names_and_default);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
