/*
 * watch - notice changes under STORE/certs: inotify where the kernel has
 * it, otherwise nothing (the main loop then scans periodically).
 */
#ifndef MCM_WATCH_H
#define MCM_WATCH_H

/* a descriptor to poll, or -1 when inotify is not available */
int watch_open(const char *store);
/* drain events; returns 1 when any concerned the store, 0 if none, -1 when the
 * watch was lost (the caller reopens it) */
int watch_read(int fd);
void watch_close(int fd);

#endif
