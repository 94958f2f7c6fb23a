/*
 * fsutil - files written so that a crash never leaves half of one.
 *
 * mc_file_write_atomic: temp file (O_EXCL, final mode from the start) +
 * fsync + rename + fsync of the directory.  Owner group is set on the open
 * descriptor before any data is written.
 */
#ifndef MC_FSUTIL_H
#define MC_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "xalloc.h"

/* snprintf for paths: a path that does not fit is a bug (config limits
 * lengths), so it is fatal rather than silently truncated */
void mc_pathf(char *out, size_t outlen, const char *fmt, ...) MC_PRINTF(3, 4);
/* create DIR and its parents with MODE (exactly: not narrowed by the umask)
 * where missing; existing directories are left as they are */
int mc_mkdir_p(const char *dir, mode_t mode, mc_err *e);
/* write DATA as DIR/NAME atomically with MODE and group GID (-1: leave) */
int mc_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			 mode_t mode, gid_t gid, mc_err *e);
/* write a new file in an open directory (no rename: the directory is new) */
int mc_file_write_new_at(int dirfd, const char *name, const void *data, size_t len,
			 mode_t mode, gid_t gid, mc_err *e);
/* read a whole regular file of at most MAXLEN bytes */
int mc_file_read(const char *path, size_t maxlen, mc_buf *out, mc_err *e);
/* as mc_file_read, for key material: refuses a file that others can read or
 * write, or that is owned by someone other than root or us (checked on the
 * open descriptor, not the path) */
int mc_file_read_private(const char *path, size_t maxlen, mc_buf *out, mc_err *e);
int mc_fsync_dir(const char *dir, mc_err *e);
/* remove a directory holding only files (the store's version directories) */
int mc_rmdir_files(const char *dir);
/* overwrite the regular file PATH with zeros (a key about to be removed) */
void mc_file_wipe(const char *path);
/* make PATH a directory of ours with mode 0700, whatever was there (not a link, not another's) */
int mc_private_dir(const char *path, mc_err *e);
/* the gid of the "mailcert" group, or (gid_t)-1 (leave it) when it does not exist */
gid_t mc_group_gid(void);

#endif
