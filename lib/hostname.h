/*
 * hostname - validate and normalise mail hostnames before they touch a path.
 *
 * A hostname is an ASCII (A-label) DNS name: 2 to 127 labels of letters,
 * digits and hyphens, each 1-63 long, no leading or trailing hyphen, at most
 * 253 characters.  "*." may lead when wildcards are allowed.  Upper case is
 * folded to lower case.
 */
#ifndef MC_HOSTNAME_H
#define MC_HOSTNAME_H

#include <stddef.h>

#include "err.h"

#define MC_HOSTNAME_MAX 253

/* check NAME; on success write its lower-case form to OUT (MC_HOSTNAME_MAX+1) */
int mc_hostname_check(const char *name, int allow_wildcard, char *out, mc_err *e);
/* the store directory name of a valid hostname: "*.x" -> "_wildcard.x" */
void mc_hostname_dirname(const char *name, char *out, size_t outlen);
/* the inverse of mc_hostname_dirname; -1 if DIR is not a valid host dir name */
int mc_hostname_from_dirname(const char *dir, char *out, size_t outlen);
/* parent domain used for {domain} in notification addresses */
const char *mc_hostname_parent(const char *name);

#endif
