/*
 * storewatch - notice changes under STORE/certs: inotify where the kernel has
 * it, otherwise nothing (the caller then looks at the store on a timer).
 * mailcert-milter reloads what changed; `mailcert run` plans again.
 */
#ifndef MC_STOREWATCH_H
#define MC_STOREWATCH_H

/* a descriptor to poll, or -1 when inotify is not available (logged) */
int mc_storewatch_open(const char *store);
/* drain events; returns 1 when any concerned the store, 0 if none, -1 when the
 * watch was lost (the caller reopens it) */
int mc_storewatch_read(int fd);
void mc_storewatch_close(int fd);

#endif
