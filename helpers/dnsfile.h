/*
 * dnsfile - dns01.challenge_file: the dns-01 records to create, handed to
 * the operator's DNS utility in one file that the store process rewrites
 * whole (temp file + rename, mode 0644) at every change.  The file lists
 * every record pending in this run, one a line, after a comment header:
 *
 *   _acme-challenge.NAME. TXT "VALUE"
 *
 * A record no longer listed is to be removed; the file is removed when no
 * record is pending.  The worker threads share it under one lock, so no
 * host's record is ever lost to another's rewrite.
 */
#ifndef MC_DNSFILE_H
#define MC_DNSFILE_H

#include "err.h"

/* list TXTNAME "TXTVALUE" in PATH (written before returning) */
int mc_dnsfile_add(const char *path, const char *txt_name, const char *txt_value, mc_err *e);
/* drop it from PATH again (PATH removed when nothing is left) */
int mc_dnsfile_remove(const char *path, const char *txt_name, const char *txt_value, mc_err *e);

#endif
