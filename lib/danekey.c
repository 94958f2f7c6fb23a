/*
 * danekey - SPKI digests, TLSA owner names, and the announced next key.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "danekey.h"
#include "fsutil.h"
#include "storepath.h"
#include "x509chk.h"
#include "xalloc.h"

#define NEXTKEY_FILE_MAX (64 * 1024)

int mc_spki_sha256(EVP_PKEY *key, char out[MC_SPKI_HEX_LEN], mc_err *e)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	int len;

	out[0] = '\0';
	len = key ? i2d_PUBKEY(key, &der) : -1;
	if (len <= 0)
		return mc_err_ssl(e, "encoding the public key");
	if (!EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		OPENSSL_free(der);
		return mc_err_ssl(e, "SHA-256 of the public key");
	}
	OPENSSL_free(der);
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int mc_spki_sha256_cert(X509 *x, char out[MC_SPKI_HEX_LEN], mc_err *e)
{
	EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;

	if (!k) {
		out[0] = '\0';
		return mc_err_set(e, "the certificate has no usable public key");
	}
	return mc_spki_sha256(k, out, e);
}

int mc_tlsa_owner(const char *name, long port, char *out, size_t outlen)
{
	int n;

	if (!*name || strchr(name, '*') || port < 1 || port > 65535)
		return -1;
	n = snprintf(out, outlen, "_%ld._tcp.%s.", port, name);
	return n < 0 || (size_t)n >= outlen || n - 1 > 253 ? -1 : 0;
}


int mc_nextkey_save(const char *store, const char *dir, EVP_PKEY *key, mc_err *e)
{
	char path[PATH_MAX];
	mc_buf pem;
	int rc;

	if (mc_mkdir_p(store, 0755, e) < 0)
		return mc_err_prefix(e, "store");
	mc_store_area_path(store, MC_AREA_NEXTKEY, NULL, path, sizeof path);
	if (mc_private_dir(path, e) < 0)
		return -1;
	mc_store_area_path(store, MC_AREA_NEXTKEY, dir, path, sizeof path);
	if (mc_private_dir(path, e) < 0)
		return -1;
	mc_buf_init(&pem);
	mc_pem_append_key(&pem, key);
	rc = mc_file_write_atomic(path, "key.pem", pem.data, pem.len, 0640, mc_group_gid(), e);
	mc_buf_cleanse(&pem);
	return rc < 0 ? mc_err_prefix(e, "keeping the next key") : 0;
}

int mc_nextkey_load(const char *store, const char *dir, EVP_PKEY **key, mc_err *e)
{
	char path[PATH_MAX];
	struct stat st;
	mc_buf b;
	int rc;

	mc_store_area_path(store, MC_AREA_NEXTKEY, dir, path, sizeof path);
	mc_pathf(path + strlen(path), sizeof path - strlen(path), "/key.pem");
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 1;
		return mc_err_set(e, "stat %s: %s", path, strerror(errno));
	}
	mc_buf_init(&b);
	rc = mc_file_read_private(path, NEXTKEY_FILE_MAX, &b, e);
	if (rc == 0 && mc_pem_read_key(b.data, b.len, key, e) < 0)
		rc = mc_err_prefix(e, "%s", path);
	mc_buf_cleanse(&b);
	return rc;
}

int mc_nextkey_remove(const char *store, const char *dir, mc_err *e)
{
	char path[PATH_MAX], file[PATH_MAX];

	mc_store_area_path(store, MC_AREA_NEXTKEY, dir, path, sizeof path);
	mc_pathf(file, sizeof file, "%s/key.pem", path);
	/* zeros over the key before it goes */
	mc_file_wipe(file);
	if (unlink(file) < 0 && errno != ENOENT)
		return mc_err_set(e, "unlink %s: %s", file, strerror(errno));
	if (rmdir(path) < 0 && errno != ENOENT)
		return mc_err_set(e, "rmdir %s: %s", path, strerror(errno));
	return 0;
}
