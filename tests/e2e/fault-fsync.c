/*
 * fault-fsync - an LD_PRELOAD shim for tests: after a rename(2) whose new
 * path contains $MC_FAULT_FSYNC_AFTER_RENAME, the next fsync(2) of a
 * directory fails with EIO (once).  Each injected fault appends a line to
 * $MC_FAULT_LOG, so a test can tell that the fault really happened.
 *
 * Built by the test that uses it: cc -shared -fPIC -o fault-fsync.so fault-fsync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int armed;

static void note_rename(const char *newpath)
{
	const char *want = getenv("MC_FAULT_FSYNC_AFTER_RENAME");

	if (want && *want && newpath && strstr(newpath, want))
		armed = 1;
}

int rename(const char *oldpath, const char *newpath)
{
	int (*real)(const char *, const char *) =
		(int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	int rc = real(oldpath, newpath);

	if (rc == 0)
		note_rename(newpath);
	return rc;
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	int (*real)(int, const char *, int, const char *) =
		(int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	int rc = real(olddirfd, oldpath, newdirfd, newpath);

	if (rc == 0)
		note_rename(newpath);
	return rc;
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	struct stat st;

	if (armed && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		const char *log = getenv("MC_FAULT_LOG");
		armed = 0;
		if (log && *log) {
			FILE *f = fopen(log, "a");
			if (f) {
				fprintf(f, "fsync of a directory failed (EIO) after a rename\n");
				fclose(f);
			}
		}
		errno = EIO;
		return -1;
	}
	return real(fd);
}
