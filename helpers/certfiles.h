/*
 * certfiles - read certificates and private keys from the files an operator
 * has: PEM (certificates, PKCS#7, private keys in PKCS#8 or the traditional
 * forms, encrypted or not), DER (a certificate, PKCS#7, PKCS#12 or a private
 * key) and PKCS#12, in any order and any number of files.  The format is
 * found from the contents, not the file name.
 */
#ifndef MC_CERTFILES_H
#define MC_CERTFILES_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "xalloc.h"

#define MC_CERTFILE_MAX (1024 * 1024)

typedef struct mc_material {
	STACK_OF(X509) *certs; /* every distinct certificate, in the order read */
	EVP_PKEY **keys;       /* every distinct private key */
	size_t nkeys;
	const char *password;  /* for PKCS#12 and encrypted keys; NULL: none given */
} mc_material;

void mc_material_init(mc_material *m, const char *password);
void mc_material_free(mc_material *m);
/* add what the file PATH holds; a file with nothing usable is an error */
int mc_material_read_file(mc_material *m, const char *path, mc_err *e);
/*
 * add what DATA holds; WHAT names it in messages.  KEYS_OK 0: a private key
 * in it is an error (material from the network).
 */
int mc_material_read_mem(mc_material *m, const char *what, const unsigned char *data, size_t len,
			 int keys_ok, mc_err *e);
/* the password in FILE: its first line, without the line end */
int mc_password_read(const char *file, char **out, mc_err *e);

#endif
