/*
 * storewatch - inotify on STORE/certs.  The store publishes a set by renaming a
 * symlink into certs/ (IN_MOVED_TO); hosts come and go with IN_CREATE and
 * IN_DELETE.  Events only say "look again": the scan finds what changed.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SYS_INOTIFY_H
#include <sys/inotify.h>
#endif

#include "fsutil.h"
#include "log.h"
#include "storepath.h"
#include "storewatch.h"

#ifdef HAVE_SYS_INOTIFY_H
int mc_storewatch_open(const char *store)
{
	char dir[PATH_MAX];
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0) {
		mc_warn("inotify: %s; changes to the store are seen at the next periodic look", strerror(errno));
		return -1;
	}
	mc_store_area_path(store, MC_AREA_CERTS, NULL, dir, sizeof dir);
	if (inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
				       IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF |
				       IN_MOVE_SELF | IN_ONLYDIR) < 0) {
		mc_warn("inotify on %s: %s; changes to the store are seen at the next periodic look", dir, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int mc_storewatch_read(int fd)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0, lost = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0) {
		char *p = buf;
		while (p < buf + n) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
				lost = 1;
			/* temporary names (".HOST.new.PID") are the store's own business */
			if (!(ev->len && ev->name[0] == '.'))
				any = 1;
			p += sizeof *ev + ev->len;
		}
	}
	return lost ? -1 : any;
}
#else
int mc_storewatch_open(const char *store)
{
	(void)store;
	mc_info("no inotify: changes to the store are seen at the next periodic look");
	return -1;
}

int mc_storewatch_read(int fd)
{
	(void)fd;
	return 0;
}
#endif

void mc_storewatch_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
