/*
 * mta - helpers the MTA writers share: directories, commands, the default link.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "mta.h"
#include "standin.h"
#include "spawn.h"
#include "xalloc.h"
#include "storepath.h"

int mta_mkdir(const char *dir, mode_t mode, mc_err *e)
{
	if (mc_mkdir_p(dir, mode, e) < 0)
		return -1;
	if (chmod(dir, mode) < 0)
		return mc_err_set(e, "chmod %s: %s", dir, strerror(errno));
	return 0;
}

int mta_mkdir_run(const char *store, mc_err *e)
{
	char dir[PATH_MAX];

	mc_store_area_path(store, MC_AREA_RUN, NULL, dir, sizeof dir);
	return mta_mkdir(dir, 0755, e);
}

int mta_run_output(const char *const argv[], int timeout_ms, mc_buf *out, mc_err *e)
{
	/* mc_spawn's argv is execvp's: the strings are not written to */
	return mc_spawn((char *const *)argv, NULL, timeout_ms, out, e);
}

int mta_run(const char *const argv[], int timeout_ms, mc_err *e)
{
	mc_buf out;
	int rc;

	mc_buf_init(&out);
	rc = mta_run_output(argv, timeout_ms, &out, e);
	if (rc < 0 && out.len)
		mc_debug("%s said: %s", argv[0], out.data);
	mc_buf_free(&out);
	return rc;
}

int mta_file_is(const char *path, const char *data, size_t len)
{
	mc_buf b;
	mc_err e;
	int same;

	mc_buf_init(&b);
	same = mc_file_read(path, len + 1, &b, &e) == 0 && b.len == len &&
	       (len == 0 || memcmp(b.data, data, len) == 0);
	mc_buf_free(&b);
	return same;
}

int mta_default_link_current(const mta_ctx *c)
{
	char link[PATH_MAX], cur[PATH_MAX];
	ssize_t n;

	mc_store_area_path(c->store, MC_AREA_RUN, MC_STORE_DEFAULT_PEM, link, sizeof link);
	if (!c->def)
		return mta_standin_present(c->store);
	n = readlink(link, cur, sizeof cur - 1);
	if (n <= 0)
		return 0;
	cur[n] = '\0';
	return strcmp(cur, c->def->file) == 0;
}

int mta_write_default_link(const mta_ctx *c, mc_err *e)
{
	char dir[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX], cur[PATH_MAX];
	ssize_t n;

	mc_store_area_path(c->store, MC_AREA_RUN, NULL, dir, sizeof dir);
	mc_pathf(link, sizeof link, "%s/%s", dir, MC_STORE_DEFAULT_PEM);
	if (!c->def)
		return mta_standin_write(c->store, c->cfg->default_host, e);
	n = readlink(link, cur, sizeof cur - 1);
	if (n > 0) {
		cur[n] = '\0';
		if (strcmp(cur, c->def->file) == 0)
			return 0;
	}
	mc_pathf(tmp, sizeof tmp, "%s/.default.pem.%ld", dir, (long)getpid());
	unlink(tmp);
	if (symlink(c->def->file, tmp) < 0)
		return mc_err_set(e, "symlink %s: %s", tmp, strerror(errno));
	if (rename(tmp, link) < 0) {
		int err = errno;
		unlink(tmp);
		return mc_err_set(e, "rename %s: %s", link, strerror(err));
	}
	return mc_fsync_dir(dir, e);
}
