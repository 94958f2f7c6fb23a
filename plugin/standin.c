/*
 * standin - STORE/run/default.pem before the default host has a set.
 *
 * Postfix, Dovecot, Sendmail and Exim name run/default.pem in their own
 * configuration, and Dovecot (2.3 and 2.4) does not start when a certificate
 * file it names is missing.  Until default_host has a checked set, the file
 * is a self-signed stand-in for that name: a regular file (the real default
 * is a symlink into the store), key and certificate, 0640 root:mailcert like
 * every key in the store.  No client trusts it, and `mailcert status` says
 * the host has no certificate; but every MTA starts, in any order, and the
 * first real set replaces it with one rename.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "fsutil.h"
#include "keys.h"
#include "log.h"
#include "standin.h"
#include "storepath.h"

#define STANDIN_DAYS 365
#define STANDIN_NAME "localhost" /* when no default_host is configured */

int mta_standin_present(const char *store)
{
	char path[PATH_MAX];
	struct stat st;

	mc_store_area_path(store, MC_AREA_RUN, MC_STORE_DEFAULT_PEM, path, sizeof path);
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* key and self-signed certificate for NAME, PEM, into OUT */
static int standin_pem(const char *name, mc_buf *out, mc_err *e)
{
	char *names[1];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *bio;
	char *p;
	long n;
	int rc = -1;

	names[0] = (char *)name;
	if (mc_key_generate("ec256", &key, e) < 0)
		return -1;
	if (mc_selfsigned_make(key, names, 1, STANDIN_DAYS, &x, e) < 0)
		goto out;
	bio = BIO_new(BIO_s_secmem());
	if (!bio)
		mc_fatal("out of memory");
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) && PEM_write_bio_X509(bio, x)) {
		n = BIO_get_mem_data(bio, &p);
		mc_buf_append(out, p, (size_t)n);
		rc = 0;
	} else {
		mc_err_ssl(e, "writing the stand-in certificate");
	}
	BIO_free(bio);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int mta_standin_write(const char *store, const char *name, mc_err *e)
{
	char dir[PATH_MAX];
	mc_buf pem;
	int rc;

	if (mta_standin_present(store))
		return 0;
	if (!name || !name[0])
		name = STANDIN_NAME;
	mc_store_area_path(store, MC_AREA_RUN, NULL, dir, sizeof dir);
	mc_buf_init(&pem);
	rc = standin_pem(name, &pem, e);
	if (rc == 0)
		rc = mc_file_write_atomic(dir, MC_STORE_DEFAULT_PEM, pem.data, pem.len, 0640, mc_group_gid(), e);
	mc_buf_cleanse(&pem);
	if (rc == 0)
		mc_info("%s/%s: a self-signed stand-in for %s until it has a certificate", dir,
			MC_STORE_DEFAULT_PEM, name);
	return rc;
}
