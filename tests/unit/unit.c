/*
 * unit - shared helpers for the Check unit tests.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "keys.h"
#include "unit.h"

int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

TCase *unit_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	return tc;
}

char *unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;
	size_t n;

	if (!base || !*base)
		base = "/tmp";
	n = strlen(base) + sizeof "/mc-unit.XXXXXX";
	path = malloc(n);
	ck_assert_ptr_nonnull(path);
	snprintf(path, n, "%s/mc-unit.XXXXXX", base);
	ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp %s: %s", path, strerror(errno));
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void unit_rmtree(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void unit_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

char *unit_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			cap = cap ? 2 * cap : 8192;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int unit_starts(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

unsigned char *unit_b64url_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), i, o = 0;
	unsigned char *out;
	unsigned long acc = 0;
	int bits = 0;

	if (n % 4 == 1)
		return NULL;
	out = malloc(n * 3 / 4 + 1);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

char *unit_b64url_encode(const void *data, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	char *out = malloc(len * 4 / 3 + 4);
	size_t i, o = 0;
	unsigned long acc = 0;
	int bits = 0;

	ck_assert_ptr_nonnull(out);
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = abc[(acc >> bits) & 63];
		}
		acc &= (1UL << bits) - 1;
	}
	if (bits > 0)
		out[o++] = abc[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return out;
}

EVP_PKEY *unit_key(const char *type)
{
	EVP_PKEY *k = NULL;
	mc_err e;

	/* the product's own generator (lib/keys.c) */
	ck_assert_msg(mc_key_generate(type, &k, &e) == 0, "cannot generate a %s key: %s", type, e.msg);
	return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_msg(ext != NULL, "extension %d = %s", nid, value);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

X509 *unit_cert(EVP_PKEY *key, const char *cn, const char *const *sans, X509 *issuer,
		EVP_PKEY *issuer_key, long nb, long na, int ca)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[12];
	BIGNUM *bn;
	char san[4096];
	size_t i, off = 0;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(RAND_bytes(serial, sizeof serial), 1);
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	name = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
						    (const unsigned char *)"US", -1, -1, 0), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
						    (const unsigned char *)"Mailcert Test", -1, -1, 0), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), nb));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), na));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, issuer, NID_key_usage,
		ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (sans && sans[0]) {
		san[0] = '\0';
		for (i = 0; sans[i]; i++)
			off += (size_t)snprintf(san + off, sizeof san - off, "%sDNS:%s", i ? "," : "",
						sans[i]);
		ck_assert_uint_lt(off, sizeof san);
		add_ext(x, issuer, NID_subject_alt_name, san);
	}
	ck_assert_int_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
	return x;
}

void unit_pki_make(unit_pki *p, const char *leaf_type, const char *const *sans)
{
	p->root_key = unit_key("ec256");
	p->inter_key = unit_key("ec256");
	p->leaf_key = unit_key(leaf_type);
	p->root = unit_cert(p->root_key, "Mailcert Test Root", NULL, NULL, NULL, -86400,
			    3650L * 86400, 1);
	p->inter = unit_cert(p->inter_key, "Mailcert Test Intermediate", NULL, p->root,
			     p->root_key, -86400, 365L * 86400, 1);
	p->leaf = unit_cert(p->leaf_key, sans[0], sans, p->inter, p->inter_key, -3600,
			    90L * 86400, 0);
}

void unit_pki_free(unit_pki *p)
{
	X509_free(p->root);
	X509_free(p->inter);
	X509_free(p->leaf);
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->inter_key);
	EVP_PKEY_free(p->leaf_key);
	memset(p, 0, sizeof *p);
}

STACK_OF(X509) *unit_chain(X509 *first, ...)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	va_list ap;
	X509 *x;

	ck_assert_ptr_nonnull(sk);
	va_start(ap, first);
	for (x = first; x; x = va_arg(ap, X509 *)) {
		ck_assert_int_eq(X509_up_ref(x), 1);
		sk_X509_push(sk, x);
	}
	va_end(ap);
	return sk;
}

/*
 * A free TCP port on the loopback address of FAMILY, handed out as
 * tests/lib/common.sh's freeport does: from 20000-32767 (below Linux's
 * ephemeral range, so no client socket takes it meanwhile), never one that any
 * test got in the last 30 minutes (a registry shared by all tests under a
 * lock), so tests running in parallel do not collide.
 */
int unit_free_port(int family)
{
	const char *reg_path = "/tmp/mailcert-test-ports.json";
	int lock = open("/tmp/mailcert-test-ports.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	json_t *reg;
	time_t now = time(NULL);
	unsigned char rnd[2];
	char key[16], tmp[64];
	int tries, port = -1;

	ck_assert_int_ge(lock, 0);
	ck_assert_int_eq(flock(lock, LOCK_EX), 0);
	reg = json_load_file(reg_path, 0, NULL);
	if (!json_is_object(reg)) {
		json_decref(reg);
		reg = json_object();
	}
	for (tries = 0; tries < 10000 && port < 0; tries++) {
		struct sockaddr_storage ss;
		socklen_t len;
		json_t *t;
		int fd, p;

		ck_assert_int_eq(RAND_bytes(rnd, sizeof rnd), 1);
		p = 20000 + (rnd[0] << 8 | rnd[1]) % (32768 - 20000);
		snprintf(key, sizeof key, "%d", p);
		t = json_object_get(reg, key);
		if (json_is_number(t) && now - (time_t)json_number_value(t) < 1800)
			continue;
		memset(&ss, 0, sizeof ss);
		if (family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_addr = in6addr_loopback;
			s6->sin6_port = htons((uint16_t)p);
			len = sizeof *s6;
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			s4->sin_port = htons((uint16_t)p);
			len = sizeof *s4;
		}
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		if (bind(fd, (struct sockaddr *)&ss, len) == 0)
			port = p;
		close(fd);
	}
	ck_assert_msg(port > 0, "no free port found");
	json_object_set_new(reg, key, json_real((double)now));
	snprintf(tmp, sizeof tmp, "%s.%ld", reg_path, (long)getpid());
	if (json_dump_file(reg, tmp, 0) == 0)
		rename(tmp, reg_path);
	json_decref(reg);
	close(lock); /* releases the lock */
	return port;
}

void unit_put_set(const char *store, const char *dir, int gen, EVP_PKEY *key, STACK_OF(X509) *chain)
{
	char v[PATH_MAX], f[PATH_MAX + 32], link[PATH_MAX], tmp[PATH_MAX], target[PATH_MAX];
	FILE *fp;
	int i;

	snprintf(v, sizeof v, "%s/versions/%s", store, dir);
	mkdir(v, 0755);
	snprintf(v, sizeof v, "%s/versions/%s/%d.gen", store, dir, gen);
	ck_assert_int_eq(mkdir(v, 0755), 0);
	snprintf(f, sizeof f, "%s/cert.pem", v);
	fp = fopen(f, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	for (i = 0; i < sk_X509_num(chain); i++)
		ck_assert_int_eq(PEM_write_X509(fp, sk_X509_value(chain, i)), 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(f, 0640), 0);
	snprintf(target, sizeof target, "../versions/%s/%d.gen", dir, gen);
	snprintf(link, sizeof link, "%s/certs/%s", store, dir);
	snprintf(tmp, sizeof tmp, "%s/certs/.%s.new", store, dir);
	unlink(tmp);
	ck_assert_int_eq(symlink(target, tmp), 0);
	ck_assert_int_eq(rename(tmp, link), 0);
}
