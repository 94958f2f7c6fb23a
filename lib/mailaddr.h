/*
 * mailaddr - the mail addresses mailcert sends notifications to.
 *
 * Only plain addresses, local@domain: the local part of letters, digits and
 * . + - _ = (not starting with '.' or '-'), the domain a hostname as
 * hostname.h checks it.  Nothing that a sendmail(8) command line or a header
 * could take for something else (options, pipes, files, comments, routes).
 */
#ifndef MC_MAILADDR_H
#define MC_MAILADDR_H

#include "err.h"

#define MC_MAILADDR_MAX 254
#define MC_MAILADDR_PLACEHOLDER "{domain}"

/*
 * Check ADDR.  With ALLOW_PLACEHOLDER, "{domain}" may stand for (part of) the
 * domain, as in notify.to; no other placeholder exists.  -1 with E saying why.
 */
int mc_mailaddr_check(const char *addr, int allow_placeholder, mc_err *e);

/* ADDR with every "{domain}" replaced by DOMAIN (caller frees) */
char *mc_mailaddr_expand(const char *addr, const char *domain);

#endif
