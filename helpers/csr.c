/*
 * csr - certificate requests for third-party CAs.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "csr.h"
#include "fsutil.h"
#include "import.h"
#include "keys.h"
#include "pending.h"
#include "store.h"
#include "timefmt.h"
#include "storepath.h"

/* "ec256" ... "rsa4096" for KEY, or "" for a kind mailcert does not make */
static void key_type_of(EVP_PKEY *key, char *out, size_t outlen)
{
	int bits = EVP_PKEY_get_bits(key);

	out[0] = '\0';
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && (bits == 256 || bits == 384))
		snprintf(out, outlen, "ec%d", bits);
	else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
		snprintf(out, outlen, "rsa%d", bits);
}

static int csr_pem(EVP_PKEY *key, const mc_host *h, mc_buf *pem, mc_err *e)
{
	const unsigned char *p;
	X509_REQ *req;
	BIO *bio;
	mc_buf der;
	char *data;
	long n;

	mc_buf_init(&der);
	if (mc_csr_make(key, h->names, h->nnames, NULL, &der, e) < 0) {
		mc_buf_free(&der);
		return -1;
	}
	p = (const unsigned char *)der.data;
	req = d2i_X509_REQ(NULL, &p, (long)der.len);
	bio = BIO_new(BIO_s_mem());
	if (!req || !bio || !PEM_write_bio_X509_REQ(bio, req))
		mc_fatal("cannot encode the CSR");
	n = BIO_get_mem_data(bio, &data);
	mc_buf_append(pem, data, (size_t)n);
	BIO_free(bio);
	X509_REQ_free(req);
	mc_buf_free(&der);
	return 0;
}

/* the pending key to use: the one there is, unless a new one is asked for */
static int pending_key(mc_config *cfg, const mc_host *h, const char *type, int want_type,
		       int new_key, EVP_PKEY **key, mc_err *e)
{
	char have[16], t[MC_TIMEFMT_LEN];
	time_t made = 0;
	int rc = mc_pending_load(cfg->store, h->dir, key, &made, e);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		key_type_of(*key, have, sizeof have);
		mc_time_format(made, t);
		if (!new_key && (!want_type || strcmp(have, type) == 0)) {
			fprintf(stderr, "mailcert: %s: using the pending %s key made at %s (--new-key "
				"makes another)\n", h->name, have[0] ? have : "", t);
			return 0;
		}
		fprintf(stderr, "mailcert: %s: replacing the pending %s key made at %s with a new %s "
			"key: a certificate for the old one can no longer be installed\n", h->name,
			have, t, type);
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	return mc_key_generate(type, key, e);
}

int mc_csr_main(const char *config_file, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-type", required_argument, NULL, 'k' },
		{ "new-key", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *type = NULL;
	char path[PATH_MAX];
	int c, new_key = 0, rc = 0, lock;
	EVP_PKEY *key = NULL;
	mc_config *cfg;
	mc_host *h;
	mc_buf pem;
	mc_err e;

	optind = 0; /* 0: a fresh scan, so options may follow the files (GNU permutation) */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'k') {
			type = optarg;
		} else if (c == 'n') {
			new_key = 1;
		} else {
			fprintf(stderr, "usage: mailcert csr HOST [--key-type T] [--new-key]\n");
			return MC_EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: mailcert csr HOST [--key-type T] [--new-key]\n");
		return MC_EX_USAGE;
	}
	if (type && strcmp(type, "ec256") && strcmp(type, "ec384") && strcmp(type, "rsa2048") &&
	    strcmp(type, "rsa3072") && strcmp(type, "rsa4096")) {
		fprintf(stderr, "mailcert: --key-type: unknown key type \"%s\" (ec256, ec384, rsa2048, "
			"rsa3072, rsa4096)\n", type);
		return MC_EX_USAGE;
	}
	cfg = mc_import_config(config_file, "csr", argv[optind], &h, &rc);
	if (!cfg)
		return rc;
	umask(077);
	mc_buf_init(&pem);
	rc = mc_store_prepare(cfg->store, &e);
	lock = rc == 0 ? mc_store_lock_host(cfg->store, h->dir, &e) : -1;
	if (lock < 0)
		rc = -1;
	if (rc == 0)
		rc = pending_key(cfg, h, type ? type : cfg->acme_key_type, type != NULL, new_key, &key, &e);
	if (rc == 0)
		rc = csr_pem(key, h, &pem, &e);
	if (rc == 0)
		rc = mc_pending_save(cfg->store, h->dir, key, pem.data, &e);
	mc_store_unlock(lock);
	if (rc == 0) {
		char dir[PATH_MAX];

		mc_store_area_path(cfg->store, MC_AREA_PENDING, h->dir, dir, sizeof dir);
		mc_pathf(path, sizeof path, "%s/key.pem", dir);
		fwrite(pem.data, 1, pem.len, stdout);
		fprintf(stderr, "mailcert: %s: the pending key is %s; give the CSR above to the CA, then "
			"run: mailcert install %s CERTIFICATE-FILE...\n", h->name, path, h->name);
	} else {
		fprintf(stderr, "mailcert: %s: csr failed: %s\n", h->name, e.msg);
	}
	EVP_PKEY_free(key);
	mc_buf_free(&pem);
	mc_config_free(cfg);
	return rc < 0 || fflush(stdout) != 0 ? 1 : 0;
}
