/*
 * test_store - the certificate store: install, swap, prune, refusal of bad
 * sets, modes, load checks, state-only sets, listing.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "fsutil.h"
#include "store.h"
#include "unit.h"
#include "x509chk.h"

#define HOST "mail.example.com"
#define VERSIONS "../versions/" HOST "/"

static const char *const leaf_names[] = { HOST, "smtp.example.com", NULL };
static char *const names[] = { (char *)HOST, (char *)"smtp.example.com" };

static const char *const set_files[] = { "cert.pem", "key.pem", "fullchain.pem", "cert_auth.pem",
					 "state.json", NULL };

typedef struct fixture {
	char *tmp;
	char store[512];
	unit_pki pki;
	STACK_OF(X509) *chain;
	mc_state st;
} fixture;

static void fx_open(fixture *f)
{
	f->tmp = unit_tmpdir();
	snprintf(f->store, sizeof f->store, "%s/store", f->tmp);
	unit_pki_make(&f->pki, "ec256", leaf_names);
	f->chain = unit_chain(f->pki.leaf, f->pki.inter, NULL);
	mc_state_init(&f->st);
	snprintf(f->st.host, sizeof f->st.host, HOST);
	snprintf(f->st.source, sizeof f->st.source, "acme");
	f->st.has_cert = 1;
}

static void fx_close(fixture *f)
{
	sk_X509_pop_free(f->chain, X509_free);
	unit_pki_free(&f->pki);
	mc_state_free(&f->st);
	unit_rmtree(f->tmp);
	free(f->tmp);
}

static void install_ok(fixture *f, const char *dir, EVP_PKEY *key, STACK_OF(X509) *chain)
{
	mc_err e;

	e.msg[0] = '\0';
	ck_assert_msg(mc_store_install(f->store, dir, key, chain, names, 2, &f->st, &e) == 0,
		      "install: %s", e.msg);
}

static char *host_file(fixture *f, const char *dir, const char *file, size_t *len)
{
	char path[1024];

	mc_store_path(f->store, dir, file, path, sizeof path);
	return unit_read(path, len);
}

static mode_t host_mode(fixture *f, const char *dir, const char *file)
{
	char path[1024];
	struct stat st;

	mc_store_path(f->store, dir, file, path, sizeof path);
	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	ck_assert_msg(S_ISREG(st.st_mode), "%s is not a regular file", path);
	return st.st_mode & 07777;
}

static char *link_target(fixture *f, const char *dir)
{
	char path[1024], target[1024];
	ssize_t n;

	mc_store_path(f->store, dir, NULL, path, sizeof path);
	n = readlink(path, target, sizeof target - 1);
	ck_assert_msg(n > 0, "%s is not a symlink", path);
	target[n] = '\0';
	return strdup(target);
}

/* number of entries in STORE/versions/DIR */
static int nversions(fixture *f, const char *dir)
{
	char path[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "%s/versions/%s", f->store, dir);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* read the PEM blocks of BUF in order: names and DER of each */
static int pem_blocks(const char *buf, size_t len, char names_out[][32], unsigned char **der,
		      long *derlen, int max)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	int n = 0;
	char *name, *header;

	while (n < max && PEM_read_bio(bio, &name, &header, &der[n], &derlen[n])) {
		snprintf(names_out[n], 32, "%s", name);
		OPENSSL_free(name);
		OPENSSL_free(header);
		n++;
	}
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

static int der_is(const unsigned char *der, long len, X509 *x)
{
	unsigned char *mine = NULL;
	int n = i2d_X509(x, &mine), same = n == len && memcmp(mine, der, (size_t)n) == 0;

	OPENSSL_free(mine);
	return same;
}

START_TEST(install_layout)
{
	fixture f;
	char *target, *buf, blk[4][32];
	unsigned char *der[4] = { NULL };
	long derlen[4];
	size_t len;
	int n, i;
	/* no "mailcert" group: the files keep the creator's group */
	gid_t gid = mc_group_gid() == (gid_t)-1 ? getegid() : mc_group_gid();
	char path[1024];
	struct stat st;

	fx_open(&f);
	install_ok(&f, HOST, f.pki.leaf_key, f.chain);

	/* STORE/certs/HOST -> ../versions/HOST/GEN */
	target = link_target(&f, HOST);
	ck_assert_msg(unit_starts(target, VERSIONS) && !strchr(target + strlen(VERSIONS), '/'),
		      "target: %s", target);
	free(target);
	ck_assert_int_eq(nversions(&f, HOST), 1);

	ck_assert_int_eq(host_mode(&f, HOST, "cert.pem"), 0640);
	ck_assert_int_eq(host_mode(&f, HOST, "key.pem"), 0640);
	ck_assert_int_eq(host_mode(&f, HOST, "fullchain.pem"), 0644);
	ck_assert_int_eq(host_mode(&f, HOST, "cert_auth.pem"), 0644);
	ck_assert_int_eq(host_mode(&f, HOST, "state.json"), 0644);
	mc_store_path(f.store, HOST, "key.pem", path, sizeof path);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_gid, gid);
	mc_store_path(f.store, HOST, "cert.pem", path, sizeof path);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_gid, gid);
	ck_assert_int_eq(mc_store_has_cert(f.store, HOST), 1);

	/* cert.pem: the key, then the leaf, then the chain */
	buf = host_file(&f, HOST, "cert.pem", &len);
	ck_assert_ptr_nonnull(buf);
	n = pem_blocks(buf, len, blk, der, derlen, 4);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(blk[0], "PRIVATE KEY");
	ck_assert_str_eq(blk[1], "CERTIFICATE");
	ck_assert_str_eq(blk[2], "CERTIFICATE");
	ck_assert(der_is(der[1], derlen[1], f.pki.leaf));
	ck_assert(der_is(der[2], derlen[2], f.pki.inter));
	{
		const unsigned char *p = der[0];
		EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, derlen[0]);
		ck_assert_ptr_nonnull(k);
		ck_assert_int_eq(EVP_PKEY_eq(k, f.pki.leaf_key), 1);
		EVP_PKEY_free(k);
	}
	for (i = 0; i < n; i++)
		OPENSSL_free(der[i]);
	OPENSSL_cleanse(buf, len);
	free(buf);

	/* key.pem: the key alone */
	buf = host_file(&f, HOST, "key.pem", &len);
	n = pem_blocks(buf, len, blk, der, derlen, 4);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(blk[0], "PRIVATE KEY");
	OPENSSL_free(der[0]);
	OPENSSL_cleanse(buf, len);
	free(buf);

	/* fullchain.pem: leaf then intermediates; cert_auth.pem: intermediates */
	buf = host_file(&f, HOST, "fullchain.pem", &len);
	n = pem_blocks(buf, len, blk, der, derlen, 4);
	ck_assert_int_eq(n, 2);
	ck_assert(der_is(der[0], derlen[0], f.pki.leaf));
	ck_assert(der_is(der[1], derlen[1], f.pki.inter));
	for (i = 0; i < n; i++)
		OPENSSL_free(der[i]);
	free(buf);
	buf = host_file(&f, HOST, "cert_auth.pem", &len);
	n = pem_blocks(buf, len, blk, der, derlen, 4);
	ck_assert_int_eq(n, 1);
	ck_assert(der_is(der[0], derlen[0], f.pki.inter));
	OPENSSL_free(der[0]);
	free(buf);

	/* state.json came with the set */
	buf = host_file(&f, HOST, "state.json", &len);
	ck_assert_ptr_nonnull(strstr(buf, "\"host\": \"" HOST "\""));
	free(buf);

	/* the store's private directories */
	snprintf(path, sizeof path, "%s/accounts", f.store);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	fx_close(&f);
}
END_TEST

START_TEST(swap_and_prune)
{
	fixture f;
	char *t1, *t2, *t3, *t4, *c2, *now_cert;
	EVP_PKEY *k2, *k3;
	X509 *l2, *l3;
	STACK_OF(X509) *ch2, *ch3;
	char path[1024];

	fx_open(&f);
	install_ok(&f, HOST, f.pki.leaf_key, f.chain);
	t1 = link_target(&f, HOST);

	k2 = unit_key("ec256");
	l2 = unit_cert(k2, HOST, leaf_names, f.pki.inter, f.pki.inter_key, -60, 86400 * 30, 0);
	ch2 = unit_chain(l2, f.pki.inter, NULL);
	install_ok(&f, HOST, k2, ch2);
	t2 = link_target(&f, HOST);
	ck_assert_str_ne(t1, t2);
	ck_assert_int_eq(nversions(&f, HOST), 2);
	c2 = host_file(&f, HOST, "cert.pem", NULL);

	k3 = unit_key("rsa2048");
	l3 = unit_cert(k3, HOST, leaf_names, f.pki.inter, f.pki.inter_key, -60, 86400 * 30, 0);
	ch3 = unit_chain(l3, f.pki.inter, NULL);
	install_ok(&f, HOST, k3, ch3);
	t3 = link_target(&f, HOST);
	/* at most two versions: the new one and the one before */
	ck_assert_int_eq(nversions(&f, HOST), 2);
	snprintf(path, sizeof path, "%s/certs/%s", f.store, t1);
	ck_assert_msg(access(path, F_OK) != 0, "oldest version %s kept", t1);
	snprintf(path, sizeof path, "%s/certs/%s/cert.pem", f.store, t2);
	now_cert = unit_read(path, NULL);
	ck_assert_ptr_nonnull(now_cert);
	ck_assert_str_eq(now_cert, c2);
	free(now_cert);

	install_ok(&f, HOST, f.pki.leaf_key, f.chain);
	t4 = link_target(&f, HOST);
	ck_assert_int_eq(nversions(&f, HOST), 2);
	ck_assert_str_ne(t4, t3);

	/* what is published loads and is the last set */
	{
		EVP_PKEY *k = NULL;
		STACK_OF(X509) *chain = NULL;
		mc_err e;
		ck_assert_msg(mc_store_load(f.store, HOST, &k, &chain, &e) == 0, "%s", e.msg);
		ck_assert_int_eq(EVP_PKEY_eq(k, f.pki.leaf_key), 1);
		ck_assert_int_eq(X509_cmp(sk_X509_value(chain, 0), f.pki.leaf), 0);
		EVP_PKEY_free(k);
		sk_X509_pop_free(chain, X509_free);
	}
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	OPENSSL_cleanse(c2, strlen(c2));
	free(c2);
	sk_X509_pop_free(ch2, X509_free);
	sk_X509_pop_free(ch3, X509_free);
	X509_free(l2);
	X509_free(l3);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
	fx_close(&f);
}
END_TEST

/* refused install: nothing published changes, byte for byte */
static void refused_unchanged(fixture *f, EVP_PKEY *key, STACK_OF(X509) *chain, char *const *nm,
			      size_t nn, const char *why)
{
	char *before[8], *after, *t_before, *t_after;
	size_t i, lb[8], la;
	int nv = nversions(f, HOST);
	mc_err e;

	t_before = link_target(f, HOST);
	for (i = 0; set_files[i]; i++) {
		before[i] = host_file(f, HOST, set_files[i], &lb[i]);
		ck_assert_ptr_nonnull(before[i]);
	}
	e.msg[0] = '\0';
	ck_assert_int_eq(mc_store_install(f->store, HOST, key, chain, nm, nn, &f->st, &e), -1);
	ck_assert_msg(strstr(e.msg, why) != NULL, "message \"%s\" lacks \"%s\"", e.msg, why);
	t_after = link_target(f, HOST);
	ck_assert_str_eq(t_after, t_before);
	for (i = 0; set_files[i]; i++) {
		after = host_file(f, HOST, set_files[i], &la);
		ck_assert_ptr_nonnull(after);
		ck_assert_msg(la == lb[i] && memcmp(after, before[i], la) == 0, "%s changed",
			      set_files[i]);
		OPENSSL_cleanse(after, la);
		free(after);
		OPENSSL_cleanse(before[i], lb[i]);
		free(before[i]);
	}
	/* no half-made version left behind */
	ck_assert_int_eq(nversions(f, HOST), nv);
	free(t_before);
	free(t_after);
}

START_TEST(bad_set_leaves_published)
{
	fixture f;
	EVP_PKEY *other;
	X509 *expired;
	STACK_OF(X509) *ch;
	char *const more[] = { (char *)HOST, (char *)"imap.example.com" };

	fx_open(&f);
	install_ok(&f, HOST, f.pki.leaf_key, f.chain);
	other = unit_key("ec256");
	refused_unchanged(&f, other, f.chain, names, 2, "private key does not match");
	refused_unchanged(&f, f.pki.leaf_key, f.chain, more, 2, "does not cover imap.example.com");
	expired = unit_cert(f.pki.leaf_key, HOST, leaf_names, f.pki.inter, f.pki.inter_key,
			    -10L * 86400, -86400, 0);
	ch = unit_chain(expired, f.pki.inter, NULL);
	refused_unchanged(&f, f.pki.leaf_key, ch, names, 2, "not valid now");
	sk_X509_pop_free(ch, X509_free);
	ch = unit_chain(f.pki.leaf, f.pki.root, NULL);
	refused_unchanged(&f, f.pki.leaf_key, ch, names, 2, "chain does not link");
	sk_X509_pop_free(ch, X509_free);
	X509_free(expired);
	EVP_PKEY_free(other);
	fx_close(&f);
}
END_TEST

START_TEST(bad_first_install)
{
	fixture f;
	EVP_PKEY *other;
	mc_err e;

	fx_open(&f);
	other = unit_key("ec256");
	ck_assert_int_eq(mc_store_install(f.store, HOST, other, f.chain, names, 2, &f.st, &e), -1);
	ck_assert_msg(unit_starts(e.msg, "refusing the new certificate"), "message: %s", e.msg);
	ck_assert_int_eq(mc_store_has_cert(f.store, HOST), 0);
	EVP_PKEY_free(other);
	fx_close(&f);
}
END_TEST

/* a key revoked as compromised is refused, and the record survives every later set */
START_TEST(compromised_key_refused)
{
	fixture f;
	EVP_PKEY *k2;
	X509 *leaf2;
	STACK_OF(X509) *ch2;
	mc_state st;
	char spki[65];
	mc_err e;

	fx_open(&f);
	install_ok(&f, HOST, f.pki.leaf_key, f.chain);
	ck_assert_int_eq(mc_key_spki_sha256(f.pki.leaf_key, spki), 0);
	ck_assert_int_eq((int)strlen(spki), 64);
	mc_state_add_key_compromised(&f.st, spki);
	ck_assert_int_eq(mc_store_state_save(f.store, HOST, &f.st, &e), 0);
	/* the state the caller passes need not carry the list: state.json's counts */
	mc_state_free(&f.st);
	mc_state_init(&f.st);
	snprintf(f.st.source, sizeof f.st.source, "acme");
	f.st.has_cert = 1;
	refused_unchanged(&f, f.pki.leaf_key, f.chain, names, 2, "was revoked as compromised");
	/* another key goes in, and the compromised one stays recorded */
	k2 = unit_key("ec256");
	leaf2 = unit_cert(k2, HOST, leaf_names, f.pki.inter, f.pki.inter_key, -60, 30L * 86400, 0);
	ch2 = unit_chain(leaf2, f.pki.inter, NULL);
	install_ok(&f, HOST, k2, ch2);
	ck_assert_int_eq(mc_store_state_load(f.store, HOST, &st, &e), 0);
	ck_assert_int_eq(mc_state_key_compromised(&st, spki), 1);
	mc_state_free(&st);
	sk_X509_pop_free(ch2, X509_free);
	X509_free(leaf2);
	EVP_PKEY_free(k2);
	fx_close(&f);
}
END_TEST

START_TEST(load_refuses_world_readable)
{
	fixture f;
	char path[1024];
	EVP_PKEY *k = NULL;
	STACK_OF(X509) *chain = NULL;
	mc_err e;

	fx_open(&f);
	install_ok(&f, HOST, f.pki.leaf_key, f.chain);
	ck_assert_msg(mc_store_load(f.store, HOST, &k, &chain, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(sk_X509_num(chain), 2);
	EVP_PKEY_free(k);
	sk_X509_pop_free(chain, X509_free);
	k = NULL;
	chain = NULL;

	mc_store_path(f.store, HOST, "cert.pem", path, sizeof path);
	ck_assert_int_eq(chmod(path, 0644), 0);
	e.msg[0] = '\0';
	ck_assert_int_eq(mc_store_load(f.store, HOST, &k, &chain, &e), -1);
	ck_assert_msg(strstr(e.msg, "mode 0644") != NULL, "message: %s", e.msg);
	ck_assert_msg(strstr(e.msg, "cert.pem") != NULL, "message: %s", e.msg);
	ck_assert_ptr_null(k);
	ck_assert_ptr_null(chain);
	/* others may not write either */
	ck_assert_int_eq(chmod(path, 0642), 0);
	ck_assert_int_eq(mc_store_load(f.store, HOST, &k, &chain, &e), -1);
	ck_assert_msg(strstr(e.msg, "mode") != NULL, "message: %s", e.msg);
	fx_close(&f);
}
END_TEST

START_TEST(load_missing)
{
	fixture f;
	EVP_PKEY *k = NULL;
	STACK_OF(X509) *chain = NULL;
	mc_err e;

	fx_open(&f);
	ck_assert_int_eq(mc_store_load(f.store, "none.example.com", &k, &chain, &e), -1);
	ck_assert_msg(strstr(e.msg, "none.example.com/cert.pem") != NULL, "message: %s", e.msg);
	ck_assert_int_eq(mc_store_has_cert(f.store, "none.example.com"), 0);
	fx_close(&f);
}
END_TEST

START_TEST(state_only_set)
{
	fixture f;
	mc_state s, back;
	char *target, *txt;
	mc_err e;

	fx_open(&f);
	mc_state_init(&s);
	snprintf(s.host, sizeof s.host, "new.example.com");
	s.last_failure_time = 1795000000;
	mc_state_set_error(&s, "urn:ietf:params:acme:error:connection: timeout");
	s.failures = 1;

	ck_assert_int_eq(mc_store_state_load(f.store, "new.example.com", &back, &e), 1);
	mc_state_free(&back);
	ck_assert_msg(mc_store_state_save(f.store, "new.example.com", &s, &e) == 0, "%s", e.msg);
	target = link_target(&f, "new.example.com");
	ck_assert_msg(unit_starts(target, "../versions/new.example.com/"), "target: %s", target);
	free(target);
	ck_assert_int_eq(mc_store_has_cert(f.store, "new.example.com"), 0);
	txt = host_file(&f, "new.example.com", "key.pem", NULL);
	ck_assert_ptr_null(txt);
	ck_assert_int_eq(mc_store_state_load(f.store, "new.example.com", &back, &e), 0);
	ck_assert_str_eq(back.host, "new.example.com");
	ck_assert_int_eq(back.has_cert, 0);
	ck_assert_int_eq(back.failures, 1);
	ck_assert_str_eq(back.last_failure_error_message,
			 "urn:ietf:params:acme:error:connection: timeout");
	mc_state_free(&back);

	/* saving again replaces state.json in the same set */
	s.failures = 2;
	ck_assert_int_eq(mc_store_state_save(f.store, "new.example.com", &s, &e), 0);
	ck_assert_int_eq(nversions(&f, "new.example.com"), 1);
	ck_assert_int_eq(mc_store_state_load(f.store, "new.example.com", &back, &e), 0);
	ck_assert_int_eq(back.failures, 2);
	mc_state_free(&back);
	ck_assert_int_eq(host_mode(&f, "new.example.com", "state.json"), 0644);
	mc_state_free(&s);
	fx_close(&f);
}
END_TEST

START_TEST(state_save_keeps_cert)
{
	fixture f;
	char *before, *after, *t_before, *t_after;
	mc_state s;
	mc_err e;

	fx_open(&f);
	install_ok(&f, HOST, f.pki.leaf_key, f.chain);
	before = host_file(&f, HOST, "cert.pem", NULL);
	t_before = link_target(&f, HOST);
	mc_state_init(&s);
	snprintf(s.host, sizeof s.host, HOST);
	s.has_cert = 1;
	s.renewal_time = 1800525600;
	ck_assert_int_eq(mc_store_state_save(f.store, HOST, &s, &e), 0);
	after = host_file(&f, HOST, "cert.pem", NULL);
	t_after = link_target(&f, HOST);
	ck_assert_str_eq(after, before);
	ck_assert_str_eq(t_after, t_before);
	mc_state_free(&s);
	ck_assert_int_eq(mc_store_state_load(f.store, HOST, &s, &e), 0);
	ck_assert_int_eq(s.renewal_time, 1800525600);
	mc_state_free(&s);
	OPENSSL_cleanse(before, strlen(before));
	OPENSSL_cleanse(after, strlen(after));
	free(before);
	free(after);
	free(t_before);
	free(t_after);
	fx_close(&f);
}
END_TEST

START_TEST(install_after_state_only)
{
	fixture f;
	mc_state s;
	mc_err e;

	fx_open(&f);
	mc_state_init(&s);
	snprintf(s.host, sizeof s.host, HOST);
	ck_assert_int_eq(mc_store_state_save(f.store, HOST, &s, &e), 0);
	mc_state_free(&s);
	install_ok(&f, HOST, f.pki.leaf_key, f.chain);
	ck_assert_int_eq(mc_store_has_cert(f.store, HOST), 1);
	ck_assert_int_eq(nversions(&f, HOST), 2);
	fx_close(&f);
}
END_TEST

START_TEST(wildcard_dir)
{
	static const char *const wl[] = { "*.example.com", NULL };
	char *const wn[] = { (char *)"*.example.com", (char *)"a.example.com" };
	fixture f;
	EVP_PKEY *k = unit_key("ec256");
	X509 *x;
	STACK_OF(X509) *ch;
	mc_err e;

	fx_open(&f);
	x = unit_cert(k, "*.example.com", wl, f.pki.inter, f.pki.inter_key, -60, 86400, 0);
	ch = unit_chain(x, f.pki.inter, NULL);
	ck_assert_msg(mc_store_install(f.store, "_wildcard.example.com", k, ch, wn, 2, &f.st, &e) == 0,
		      "%s", e.msg);
	ck_assert_int_eq(mc_store_has_cert(f.store, "_wildcard.example.com"), 1);
	sk_X509_pop_free(ch, X509_free);
	X509_free(x);
	EVP_PKEY_free(k);
	fx_close(&f);
}
END_TEST

START_TEST(list_sorted)
{
	static const char *const dirs[] = { "b.example.com", "_wildcard.example.com",
					    "a.example.com", NULL };
	static const char *const junk[] = { ".hidden.example.com", "single", "bad..name",
					    "lost+found", "x y.example.com", "_wildcard.com", NULL };
	fixture f;
	char path[1024];
	char **v;
	size_t i;
	mc_err e;

	fx_open(&f);
	ck_assert_int_eq(mc_store_prepare(f.store, &e), 0);
	v = mc_store_list(f.store);
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_null(v[0]);
	mc_strv_free(v);
	for (i = 0; dirs[i]; i++) {
		snprintf(path, sizeof path, "%s/certs/%s", f.store, dirs[i]);
		ck_assert_int_eq(mkdir(path, 0755), 0);
	}
	for (i = 0; junk[i]; i++) {
		snprintf(path, sizeof path, "%s/certs/%s", f.store, junk[i]);
		ck_assert_int_eq(mkdir(path, 0755), 0);
	}
	/* a leftover temporary symlink from an interrupted publish */
	snprintf(path, sizeof path, "%s/certs/.c.example.com.new.123", f.store);
	ck_assert_int_eq(symlink("../versions/c.example.com/1", path), 0);
	v = mc_store_list(f.store);
	ck_assert_str_eq(v[0], "_wildcard.example.com");
	ck_assert_str_eq(v[1], "a.example.com");
	ck_assert_str_eq(v[2], "b.example.com");
	ck_assert_ptr_null(v[3]);
	mc_strv_free(v);
	fx_close(&f);
}
END_TEST

START_TEST(list_many)
{
	fixture f;
	char path[1024];
	char **v;
	int i;
	mc_err e;

	fx_open(&f);
	ck_assert_int_eq(mc_store_prepare(f.store, &e), 0);
	for (i = 99; i >= 0; i--) {
		snprintf(path, sizeof path, "%s/certs/h%02d.example.com", f.store, i);
		ck_assert_int_eq(mkdir(path, 0755), 0);
	}
	v = mc_store_list(f.store);
	for (i = 0; i < 100; i++) {
		char want[64];
		snprintf(want, sizeof want, "h%02d.example.com", i);
		ck_assert_ptr_nonnull(v[i]);
		ck_assert_str_eq(v[i], want);
	}
	ck_assert_ptr_null(v[100]);
	mc_strv_free(v);
	fx_close(&f);
}
END_TEST

START_TEST(list_no_store)
{
	char **v = mc_store_list("/nonexistent/mc-unit-store");

	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_null(v[0]);
	mc_strv_free(v);
}
END_TEST

START_TEST(lock_host)
{
	fixture f;
	int fd;
	mc_err e;

	fx_open(&f);
	ck_assert_int_eq(mc_store_prepare(f.store, &e), 0);
	fd = mc_store_lock_host(f.store, HOST, &e);
	ck_assert_msg(fd >= 0, "%s", e.msg);
	mc_store_unlock(fd);
	fd = mc_store_lock_host(f.store, HOST, &e);
	ck_assert_int_ge(fd, 0);
	mc_store_unlock(fd);
	fx_close(&f);
}
END_TEST

/* run/ is written by mailcert-milter too: the sweep removes a temporary whose
 * writer is gone and keeps one a running process (this one) is writing */
START_TEST(sweep_run)
{
	char dead[PATH_MAX + 64], live[PATH_MAX + 64], run[PATH_MAX];
	fixture f;
	pid_t pid;
	int status;
	mc_err e;

	fx_open(&f);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	snprintf(run, sizeof run, "%s/run", f.store);
	ck_assert_msg(mc_mkdir_p(run, 0755, &e) == 0, "%s", e.msg);
	snprintf(dead, sizeof dead, "%s/.mailcert.prom.tmp.%ld", run, (long)pid);
	snprintf(live, sizeof live, "%s/.milter.json.tmp.%ld", run, (long)getpid());
	unit_write(dead, "x");
	unit_write(live, "y");
	mc_store_sweep(f.store);
	ck_assert_int_ne(access(dead, F_OK), 0);
	ck_assert_int_eq(access(live, F_OK), 0);
	fx_close(&f);
}
END_TEST

/*
 * mc_store_install gives cert.pem and key.pem the "mailcert" group when it
 * exists (and leaves the group alone when it does not); a user outside that
 * group cannot chown to it, so the install tests are skipped for such a user.
 */
static int can_chgrp(gid_t gid)
{
	gid_t groups[256];
	int i, n;

	if (gid == (gid_t)-1 || geteuid() == 0 || getegid() == gid)
		return 1;
	n = getgroups((int)(sizeof groups / sizeof groups[0]), groups);
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int main(void)
{
	Suite *s = suite_create("store");
	TCase *inst = unit_tcase("install");
	TCase *load = unit_tcase("load");
	TCase *state = unit_tcase("state");
	TCase *list = unit_tcase("list");
	int installs = can_chgrp(mc_group_gid()), rc;

	if (!installs)
		fprintf(stderr, "test_store: not root and not in group %lu: install tests skipped\n",
			(unsigned long)mc_group_gid());
	if (installs) {
		tcase_add_test(inst, install_layout);
		tcase_add_test(inst, swap_and_prune);
		tcase_add_test(inst, bad_set_leaves_published);
		tcase_add_test(inst, wildcard_dir);
		tcase_add_test(load, load_refuses_world_readable);
		tcase_add_test(state, state_save_keeps_cert);
		tcase_add_test(state, install_after_state_only);
	}
	tcase_add_test(inst, bad_first_install);
	tcase_add_test(load, load_missing);
	tcase_add_test(state, state_only_set);
	tcase_add_test(list, list_sorted);
	tcase_add_test(list, list_many);
	tcase_add_test(list, list_no_store);
	tcase_add_test(list, lock_host);
	tcase_add_test(list, sweep_run);
	tcase_add_test(list, compromised_key_refused);
	suite_add_tcase(s, inst);
	suite_add_tcase(s, load);
	suite_add_tcase(s, state);
	suite_add_tcase(s, list);
	rc = unit_run(s);
	/* dropped tests are a skip, never a silent pass: 77, which scripts/test
	 * (MAILCERT_TEST_STRICT=1) counts as a failure */
	if (rc == EXIT_SUCCESS && !installs)
		return 77;
	return rc;
}
