/*
 * pending - pending host keys kept outside the live view until installed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "pending.h"
#include "x509chk.h"
#include "storepath.h"

#define PENDING_FILE_MAX (64 * 1024)


static void pending_dir(const char *store, const char *dir, char *out, size_t outlen)
{
	mc_store_area_path(store, MC_AREA_PENDING, dir, out, outlen);
}

int mc_pending_save(const char *store, const char *dir, EVP_PKEY *key, const char *csr_pem,
		    mc_err *e)
{
	char path[PATH_MAX];
	mc_buf pem;
	int rc;

	if (mc_mkdir_p(store, 0755, e) < 0)
		return mc_err_prefix(e, "store");
	mc_store_area_path(store, MC_AREA_PENDING, NULL, path, sizeof path);
	if (mc_private_dir(path, e) < 0)
		return -1;
	pending_dir(store, dir, path, sizeof path);
	if (mc_private_dir(path, e) < 0)
		return -1;
	mc_buf_init(&pem);
	mc_pem_append_key(&pem, key);
	/* the CSR first: a key.pem present always has its csr.pem */
	rc = mc_file_write_atomic(path, "csr.pem", csr_pem, strlen(csr_pem), 0600, (gid_t)-1, e);
	if (rc == 0)
		rc = mc_file_write_atomic(path, "key.pem", pem.data, pem.len, 0600, (gid_t)-1, e);
	mc_buf_cleanse(&pem);
	if (rc < 0)
		return mc_err_prefix(e, "keeping the pending key");
	return 0;
}

int mc_pending_load(const char *store, const char *dir, EVP_PKEY **key, time_t *made, mc_err *e)
{
	char path[PATH_MAX];
	struct stat st;
	mc_buf b;
	int rc;

	pending_dir(store, dir, path, sizeof path);
	mc_pathf(path + strlen(path), sizeof path - strlen(path), "/key.pem");
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 1;
		return mc_err_set(e, "stat %s: %s", path, strerror(errno));
	}
	mc_buf_init(&b);
	rc = mc_file_read_private(path, PENDING_FILE_MAX, &b, e);
	if (rc == 0 && mc_pem_read_key(b.data, b.len, key, e) < 0)
		rc = mc_err_prefix(e, "%s", path);
	mc_buf_cleanse(&b);
	if (rc == 0 && made)
		*made = st.st_mtime;
	return rc;
}

int mc_pending_csr(const char *store, const char *dir, mc_buf *csr, mc_err *e)
{
	char path[PATH_MAX];

	pending_dir(store, dir, path, sizeof path);
	mc_pathf(path + strlen(path), sizeof path - strlen(path), "/csr.pem");
	return mc_file_read(path, PENDING_FILE_MAX, csr, e);
}


int mc_pending_remove(const char *store, const char *dir, mc_err *e)
{
	char path[PATH_MAX], file[PATH_MAX];

	pending_dir(store, dir, path, sizeof path);
	mc_pathf(file, sizeof file, "%s/key.pem", path);
	mc_file_wipe(file);
	if (unlink(file) < 0 && errno != ENOENT)
		return mc_err_set(e, "unlink %s: %s", file, strerror(errno));
	mc_pathf(file, sizeof file, "%s/csr.pem", path);
	if (unlink(file) < 0 && errno != ENOENT)
		return mc_err_set(e, "unlink %s: %s", file, strerror(errno));
	if (rmdir(path) < 0 && errno != ENOENT)
		return mc_err_set(e, "rmdir %s: %s", path, strerror(errno));
	return 0;
}
