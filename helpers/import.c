/*
 * import - installing certificates that did not come from ACME.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "certfiles.h"
#include "chain.h"
#include "expiry.h"
#include "hostname.h"
#include "import.h"
#include "pending.h"
#include "store.h"
#include "timefmt.h"
#include "x509chk.h"

mc_config *mc_import_config(const char *config_file, const char *cmd, const char *host,
			    mc_host **h, int *exit_code)
{
	mc_config *cfg = NULL;
	mc_err e;

	if (mc_config_load(config_file, &cfg, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		*exit_code = MC_EX_CONFIG;
		return NULL;
	}
	*h = mc_config_find_host(cfg, host);
	if (!*h) {
		fprintf(stderr, "mailcert: %s: not a configured host\n", host);
		*exit_code = MC_EX_USAGE;
	} else if ((*h)->source != MC_SRC_MANUAL) {
		fprintf(stderr,
			"mailcert: %s: %s needs source = \"manual\" in the host's section (%s); it has "
			"source = \"%s\", and mailcert would replace the certificate with one it obtains "
			"itself\n", (*h)->name, cmd, (*h)->where,
			(*h)->source == MC_SRC_SELFSIGNED ? "self-signed" : "acme");
		*exit_code = 1;
	} else {
		return cfg;
	}
	mc_config_free(cfg);
	return NULL;
}

/* "a, b, c": the leaf's DNS names that are valid hostnames (nothing else is shown) */
static void covered_names(X509 *leaf, char *out, size_t outlen)
{
	size_t i, n, len = 0;
	char **sans = mc_cert_dns_names(leaf, &n), norm[MC_HOSTNAME_MAX + 1];
	mc_err e;

	out[0] = '\0';
	for (i = 0; i < n && len < outlen; i++) {
		const char *shown = mc_hostname_check(sans[i], 1, norm, &e) == 0 ? norm : "(an invalid name)";
		len += (size_t)snprintf(out + len, outlen - len, "%s%s", i ? ", " : "", shown);
	}
	if (n == 0)
		snprintf(out, outlen, "no DNS name at all");
	mc_strv_free(sans);
}

static int check_names(const mc_host *h, X509 *leaf, mc_err *e)
{
	char name[512], have[512];
	size_t i;

	for (i = 0; i < h->nnames; i++)
		if (!mc_cert_covers(leaf, h->names[i])) {
			mc_chain_name(leaf, 0, name, sizeof name);
			covered_names(leaf, have, sizeof have);
			return mc_err_set(e, "the certificate %s does not cover %s, a name of %s (it covers: "
					  "%s)", name, h->names[i], h->name, have);
		}
	return 0;
}

static int check_dates(X509 *x, int depth, time_t now, mc_err *e)
{
	char name[512], t[MC_TIMEFMT_LEN];
	const char *what = depth == 0 ? "certificate" : "chain certificate";
	mc_certinfo ci;

	mc_chain_name(x, 0, name, sizeof name);
	if (mc_cert_info(x, &ci) < 0)
		return mc_err_set(e, "the %s %s has unreadable validity dates", what, name);
	if (now < ci.not_before) {
		mc_time_format(ci.not_before, t);
		return mc_err_set(e, "the %s %s is not valid yet: it is valid from %s", what, name, t);
	}
	if (now >= ci.not_after) {
		mc_time_format(ci.not_after, t);
		return mc_err_set(e, "the %s %s has expired: it was valid until %s", what, name, t);
	}
	return 0;
}

static int is_leaf(X509 *x)
{
	return X509_check_ca(x) == 0;
}

/* of two leaves for the key, the one that covers the names, then the newer */
static int better(const mc_host *h, X509 *a, X509 *b)
{
	mc_err e;
	int ca = check_names(h, a, &e) == 0, cb = check_names(h, b, &e) == 0;

	if (ca != cb)
		return ca > cb;
	return ASN1_TIME_compare(X509_get0_notBefore(a), X509_get0_notBefore(b)) > 0;
}

/*
 * The leaf for KEY (when given) or for one of the keys in M; its key into
 * *KEY_OUT (a reference of its own).  WANT: the key it must be for (install).
 */
static int pick_leaf(const mc_host *h, mc_material *m, EVP_PKEY *want, X509 **leaf_out,
		     EVP_PKEY **key_out, const char *pending_note, mc_err *e)
{
	int i, nleaves = 0;
	X509 *leaf = NULL, *any = NULL;
	EVP_PKEY *key = NULL;
	size_t k;

	for (i = 0; i < sk_X509_num(m->certs); i++) {
		X509 *x = sk_X509_value(m->certs, i);
		EVP_PKEY *pub = X509_get0_pubkey(x);
		EVP_PKEY *match = NULL;

		if (!is_leaf(x))
			continue;
		nleaves++;
		any = x;
		if (want && EVP_PKEY_eq(want, pub) == 1)
			match = want;
		for (k = 0; !want && k < m->nkeys && !match; k++)
			if (EVP_PKEY_eq(m->keys[k], pub) == 1)
				match = m->keys[k];
		ERR_clear_error();
		if (match && (!leaf || better(h, x, leaf))) {
			leaf = x;
			key = match;
		}
	}
	if (nleaves == 0)
		return mc_err_set(e, "no server (end-entity) certificate among the %d certificate%s given",
				  sk_X509_num(m->certs), sk_X509_num(m->certs) == 1 ? "" : "s");
	if (!want && m->nkeys == 0)
		return mc_err_set(e, "no private key in the files given (a PEM or DER private key, "
				  "PKCS#8, or a PKCS#12 file holding one)");
	if (!leaf) {
		char name[512];
		mc_certinfo ci;

		mc_chain_name(any, 0, name, sizeof name);
		mc_cert_info(any, &ci);
		if (want)
			return mc_err_set(e, "the certificate %s (serial %s) is for another key, not the "
					  "pending key %s; the pending key is kept", name, ci.serial,
					  pending_note);
		if (nleaves == 1 && m->nkeys == 1)
			return mc_err_set(e, "the private key does not match the certificate %s (serial %s)",
					  name, ci.serial);
		return mc_err_set(e, "none of the %zu private key%s matches any of the %d server "
				  "certificates given (one is %s)", m->nkeys, m->nkeys == 1 ? "" : "s",
				  nleaves, name);
	}
	if (!EVP_PKEY_up_ref(key) || !X509_up_ref(leaf))
		mc_fatal("out of memory");
	*leaf_out = leaf;
	*key_out = key;
	return 0;
}

/* certificates given that have no place in the chain: said, not fatal */
static void note_unused(mc_material *m, STACK_OF(X509) *chain)
{
	char name[512];
	int i, j, used;

	for (i = 0; i < sk_X509_num(m->certs); i++) {
		X509 *x = sk_X509_value(m->certs, i);

		for (used = 0, j = 0; j < sk_X509_num(chain) && !used; j++)
			used = X509_cmp(x, sk_X509_value(chain, j)) == 0;
		if (!used && !(X509_check_ca(x) && X509_check_issued(x, x) == X509_V_OK)) {
			mc_chain_name(x, 0, name, sizeof name);
			mc_warn("not using the certificate %s: it is not in the chain of the leaf", name);
		}
	}
	ERR_clear_error();
}

static void state_for(mc_state *st, const mc_host *h, STACK_OF(X509) *chain, time_t now)
{
	mc_certinfo ci;
	size_t i;

	mc_state_init(st);
	mc_cert_info(sk_X509_value(chain, 0), &ci);
	snprintf(st->host, sizeof st->host, "%s", h->name);
	st->names = mc_calloc(h->nnames + 1, sizeof *st->names);
	for (i = 0; i < h->nnames; i++)
		st->names[i] = mc_strdup(h->names[i]);
	snprintf(st->source, sizeof st->source, "manual");
	st->has_cert = 1;
	snprintf(st->serial, sizeof st->serial, "%s", ci.serial);
	snprintf(st->issuer, sizeof st->issuer, "%s", ci.issuer);
	st->not_before = ci.not_before;
	st->cert_expiration_time = ci.not_after;
	/* nothing renews it: "renewal" is when a person should replace it */
	st->renewal_time = ci.not_after - (time_t)MC_EXPIRY_DAYS_1 * 86400;
	if (st->renewal_time < ci.not_before)
		st->renewal_time = ci.not_before;
	st->last_success_time = now;
}

/* check and publish M's leaf for KEY_WANTED (install) or for a key in M (import) */
static int install_material(mc_config *cfg, const mc_host *h, mc_material *m, EVP_PKEY *want,
			    const char *pending_note, int fetch, mc_err *e)
{
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL;
	time_t now = mc_now();
	mc_state st;
	int i, lock, rc = -1;

	if (pick_leaf(h, m, want, &leaf, &key, pending_note, e) < 0)
		return -1;
	if (check_names(h, leaf, e) < 0 || check_dates(leaf, 0, now, e) < 0 ||
	    mc_chain_build(leaf, m->certs, fetch, &chain, e) < 0)
		goto out;
	for (i = 1; i < sk_X509_num(chain); i++)
		if (check_dates(sk_X509_value(chain, i), i, now, e) < 0)
			goto out;
	note_unused(m, chain);
	if (mc_store_prepare(cfg->store, e) < 0)
		goto out;
	lock = mc_store_lock_host(cfg->store, h->dir, e);
	if (lock < 0)
		goto out;
	state_for(&st, h, chain, now);
	rc = mc_store_install(cfg->store, h->dir, key, chain, h->names, h->nnames, &st, e);
	if (rc == 0 && want && mc_pending_remove(cfg->store, h->dir, e) < 0) {
		mc_warn("%s: the certificate is installed, but the pending key stays: %s", h->name,
			e->msg);
	}
	mc_store_unlock(lock);
	if (rc == 0) {
		char t[MC_TIMEFMT_LEN], msg[512];

		mc_time_format(st.cert_expiration_time, t);
		printf("%s: installed the certificate with serial %s from %s, valid until %s, with %d "
		       "chain certificate%s (source manual: mailcert does not renew it)\n", h->name,
		       st.serial, st.issuer, t, sk_X509_num(chain) - 1,
		       sk_X509_num(chain) == 2 ? "" : "s");
		if (mc_expiry_message(&st, now, msg, sizeof msg) == 0)
			fprintf(stderr, "mailcert: warning: %s: %s\n", h->name, msg);
	}
	mc_state_free(&st);
out:
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	EVP_PKEY_free(key);
	return rc;
}

static int read_files(mc_material *m, char *const *files, int nfiles, int keys_wanted, mc_err *e)
{
	int i;

	for (i = 0; i < nfiles; i++) {
		size_t keys = m->nkeys;

		if (mc_material_read_file(m, files[i], e) < 0)
			return -1;
		if (!keys_wanted && m->nkeys > keys)
			mc_warn("%s: not using the private key in it: install uses the pending key that "
				"`mailcert csr` made", files[i]);
	}
	return 0;
}

static int usage_error(const char *cmd)
{
	if (strcmp(cmd, "import") == 0)
		fprintf(stderr, "usage: mailcert import HOST FILE... [--password-file F] "
			"[--fetch-intermediates]\n");
	else
		fprintf(stderr, "usage: mailcert install HOST FILE... [--fetch-intermediates]\n");
	return MC_EX_USAGE;
}

int mc_import_main(const char *config_file, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "fetch-intermediates", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pwfile = NULL;
	char *password = NULL;
	int c, fetch = 0, rc = 0;
	mc_material m;
	mc_config *cfg;
	mc_host *h;
	mc_err e;

	optind = 0; /* 0: a fresh scan, so options may follow the files (GNU permutation) */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			pwfile = optarg;
		else if (c == 'F')
			fetch = 1;
		else
			return usage_error("import");
	}
	if (argc - optind < 2)
		return usage_error("import");
	cfg = mc_import_config(config_file, "import", argv[optind], &h, &rc);
	if (!cfg)
		return rc;
	if (pwfile && mc_password_read(pwfile, &password, &e) < 0) {
		fprintf(stderr, "mailcert: %s\n", e.msg);
		mc_config_free(cfg);
		return 1;
	}
	mc_material_init(&m, password);
	rc = read_files(&m, argv + optind + 1, argc - optind - 1, 1, &e);
	if (rc == 0)
		rc = install_material(cfg, h, &m, NULL, NULL, fetch, &e);
	if (rc < 0)
		fprintf(stderr, "mailcert: %s: import failed: %s\n", h->name, e.msg);
	mc_material_free(&m);
	if (password)
		mc_free_secret(password);
	mc_config_free(cfg);
	return rc < 0 ? 1 : 0;
}

int mc_install_main(const char *config_file, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fetch-intermediates", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	char note[512], t[MC_TIMEFMT_LEN];
	int c, fetch = 0, rc = 0;
	EVP_PKEY *pending = NULL;
	time_t made = 0;
	mc_material m;
	mc_config *cfg;
	mc_host *h;
	mc_err e;

	optind = 0; /* 0: a fresh scan, so options may follow the files (GNU permutation) */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'F')
			fetch = 1;
		else
			return usage_error("install");
	}
	if (argc - optind < 2)
		return usage_error("install");
	cfg = mc_import_config(config_file, "install", argv[optind], &h, &rc);
	if (!cfg)
		return rc;
	rc = mc_pending_load(cfg->store, h->dir, &pending, &made, &e);
	if (rc == 1) {
		fprintf(stderr, "mailcert: %s: install failed: there is no pending key: make one and its "
			"CSR with `mailcert csr %s` first\n", h->name, h->name);
		mc_config_free(cfg);
		return 1;
	}
	mc_material_init(&m, NULL);
	if (rc == 0)
		rc = read_files(&m, argv + optind + 1, argc - optind - 1, 0, &e);
	if (rc == 0) {
		mc_time_format(made, t);
		snprintf(note, sizeof note, "that `mailcert csr %s` made at %s", h->name, t);
		rc = install_material(cfg, h, &m, pending, note, fetch, &e);
	}
	if (rc < 0)
		fprintf(stderr, "mailcert: %s: install failed: %s\n", h->name, e.msg);
	mc_material_free(&m);
	EVP_PKEY_free(pending);
	mc_config_free(cfg);
	return rc < 0 ? 1 : 0;
}
