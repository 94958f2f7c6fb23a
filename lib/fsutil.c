/*
 * fsutil - careful file writing and reading.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static int file_read(const char *path, size_t maxlen, int private, mc_buf *out, mc_err *e);

void mc_pathf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen)
		mc_fatal("path too long: %.80s...", out);
}

int mc_mkdir_p(const char *dir, mode_t mode, mc_err *e)
{
	char path[PATH_MAX];
	size_t i, len = strlen(dir);

	if (len == 0 || len >= sizeof path)
		return mc_err_set(e, "bad directory name \"%s\"", dir);
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, mode) == 0) {
			/* MODE exactly, whatever the umask of the moment */
			if (chmod(path, mode) < 0)
				return mc_err_set(e, "chmod %s: %s", path, strerror(errno));
		} else if (errno != EEXIST) {
			return mc_err_set(e, "mkdir %s: %s", path, strerror(errno));
		}
		if (i < len)
			path[i] = '/';
	}
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int mc_file_write_new_at(int dirfd, const char *name, const void *data, size_t len,
			 mode_t mode, gid_t gid, mc_err *e)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return mc_err_set(e, "create %s: %s", name, strerror(errno));
	/* group and mode are fixed before a byte is written */
	if ((gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0) || fchmod(fd, mode) < 0 ||
	    write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int err = errno;
		close(fd);
		unlinkat(dirfd, name, 0);
		return mc_err_set(e, "write %s: %s", name, strerror(err));
	}
	if (close(fd) < 0) {
		unlinkat(dirfd, name, 0);
		return mc_err_set(e, "close %s: %s", name, strerror(errno));
	}
	return 0;
}

int mc_file_read(const char *path, size_t maxlen, mc_buf *out, mc_err *e)
{
	return file_read(path, maxlen, 0, out, e);
}

int mc_file_read_private(const char *path, size_t maxlen, mc_buf *out, mc_err *e)
{
	return file_read(path, maxlen, 1, out, e);
}

int mc_fsync_dir(const char *dir, mc_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return mc_err_set(e, "open %s: %s", dir, strerror(errno));
	if (fsync(fd) < 0 && errno != EINVAL) {
		int err = errno;
		close(fd);
		return mc_err_set(e, "fsync %s: %s", dir, strerror(err));
	}
	close(fd);
	return 0;
}

int mc_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			 mode_t mode, gid_t gid, mc_err *e)
{
	char tmp[NAME_MAX + 1];
	int dfd, rc;

	if (snprintf(tmp, sizeof tmp, ".%s.tmp.%ld", name, (long)getpid()) >= (int)sizeof tmp)
		return mc_err_set(e, "file name too long: %s", name);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return mc_err_set(e, "open %s: %s", dir, strerror(errno));
	unlinkat(dfd, tmp, 0);
	rc = mc_file_write_new_at(dfd, tmp, data, len, mode, gid, e);
	if (rc == 0 && renameat(dfd, tmp, dfd, name) < 0) {
		rc = mc_err_set(e, "rename %s/%s: %s", dir, name, strerror(errno));
		unlinkat(dfd, tmp, 0);
	}
	if (rc == 0 && fsync(dfd) < 0 && errno != EINVAL)
		rc = mc_err_set(e, "fsync %s: %s", dir, strerror(errno));
	close(dfd);
	return rc;
}

static int file_read(const char *path, size_t maxlen, int private, mc_buf *out, mc_err *e)
{
	struct stat st;
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return mc_err_set(e, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mc_err_set(e, "%s: not a regular file", path);
	}
	if (private && (st.st_mode & S_IRWXO)) {
		close(fd);
		return mc_err_set(e, "%s: refusing a private key that others can access (mode %04o)",
				  path, (unsigned)(st.st_mode & 07777));
	}
	if (private && st.st_uid != 0 && st.st_uid != geteuid()) {
		close(fd);
		return mc_err_set(e, "%s: refusing a private key owned by uid %lu", path,
				  (unsigned long)st.st_uid);
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return mc_err_set(e, "read %s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > maxlen) {
			close(fd);
			return mc_err_set(e, "%s: larger than %zu bytes", path, maxlen);
		}
		mc_buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	if (!out->data)
		mc_buf_reserve(out, 0);
	return 0;
}

int mc_rmdir_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return rmdir(dir);
}

gid_t mc_group_gid(void)
{
	struct group *gr = getgrnam("mailcert");

	/* no such group: leave the file's group as created (root's, when run as root) */
	return gr ? gr->gr_gid : (gid_t)-1;
}

int mc_private_dir(const char *path, mc_err *e)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return mc_err_set(e, "mkdir %s: %s", path, strerror(errno));
	if (lstat(path, &st) < 0)
		return mc_err_set(e, "stat %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mc_err_set(e, "%s: not a directory", path);
	if (st.st_uid != geteuid())
		return mc_err_set(e, "%s: owned by uid %lu, not by us", path, (unsigned long)st.st_uid);
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0)
		return mc_err_set(e, "chmod %s: %s", path, strerror(errno));
	return 0;
}

/* overwrite a key file with zeros before it goes: no copy stays in its blocks
 * that a later reader of the disk could find (as far as the filesystem lets us) */
void mc_file_wipe(const char *path)
{
	struct stat st;
	char zero[4096];
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	off_t done = 0;

	if (fd < 0)
		return;
	memset(zero, 0, sizeof zero);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		while (done < st.st_size) {
			size_t n = (size_t)(st.st_size - done) < sizeof zero ? (size_t)(st.st_size - done)
									     : sizeof zero;
			ssize_t w = write(fd, zero, n);
			if (w <= 0)
				break;
			done += w;
		}
	fsync(fd);
	close(fd);
}
