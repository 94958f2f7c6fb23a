/*
 * mtasyntax - how the installed MTAs spell what mailcert-milter writes:
 * the file postmap builds for each Postfix map type, and Dovecot's version
 * and its names for the server certificate and key (2.4 renamed them).
 *
 * mailcert-milter writes with these, `mailcert check` reads the operator's
 * configuration with them: both must agree on one spelling.
 */
#ifndef MC_MTASYNTAX_H
#define MC_MTASYNTAX_H

#include "err.h"

#define MC_DOVECOT_24 204 /* the first version with the ssl_server_* names */

/* the suffix postmap adds for TYPE (".db", ".lmdb", ".cdb") */
const char *mc_postfix_map_suffix(const char *type);
/* 1 when postmap compiles a TYPE table into a file of its own (hash, lmdb, ...),
 * 0 for types Postfix reads at run time (texthash, inline, regexp, ...) */
int mc_postfix_map_indexed(const char *type);

/* Dovecot's major*100+minor from `dovecot --version` into VERSION; -1 with E */
int mc_dovecot_version(int *version, mc_err *e);
/* Dovecot VERSION's name for the server certificate (KEY 0) or key (KEY 1) */
const char *mc_dovecot_ssl_name(int version, int key);
/* NAME as the other version spells a server certificate or key setting:
 * the name VERSION uses instead, or NULL when NAME is right for VERSION (or
 * no certificate setting at all) */
const char *mc_dovecot_ssl_rename(const char *name, int version);

#endif
