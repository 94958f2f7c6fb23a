/*
 * mtaconf - do the enabled MTAs really read the files mailcert-milter keeps?
 *
 * mailcert-milter can regenerate and reload all day while Postfix's main.cf
 * names another chain file or SNI table, or Dovecot never includes the
 * generated file: every handshake then gets something else.  Postfix is asked
 * with `postconf -h`, Dovecot with `doveconf -n`; each mismatch becomes one
 * line saying what the MTA uses and what it should.
 */
#ifndef MC_MTACONF_H
#define MC_MTACONF_H

#include "conf.h"

/* the problems found (a NULL-terminated list, mc_strv_free it), or NULL when none */
char **mc_mtaconf_problems(const mc_config *cfg);
/* the same, split: into FATAL (NULL when none) those with which an MTA does
 * not start (a configuration its own parser refuses, a setting the installed
 * version does not know); the rest returned */
char **mc_mtaconf_check(const mc_config *cfg, char ***fatal);

#endif
