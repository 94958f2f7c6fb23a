/*
 * csr - `mailcert csr HOST [--key-type T] [--new-key]`: a pending key for a
 * host with source = "manual" (pending.h: kept apart from the live set,
 * 0600 root) and, on stdout, a PEM CSR naming every configured name, for a
 * CA that ACME cannot reach.  `mailcert install` (import.h) activates the
 * certificate the CA returns.  Run again, it keeps the pending key (a CSR
 * already sent stays good) and prints a CSR for the names configured now;
 * --new-key, or a --key-type other than the pending key's, makes a new key.
 */
#ifndef MC_CSR_H
#define MC_CSR_H

/* the subcommand; ARGV[0] is "csr"; returns the exit status */
int mc_csr_main(const char *config_file, int argc, char **argv);

#endif
