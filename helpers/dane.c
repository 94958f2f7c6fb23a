/*
 * dane - key reuse and announced key rollover for DANE, and `mailcert tlsa`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "dane.h"
#include "danekey.h"
#include "dnscheck.h"
#include "fsutil.h"
#include "log.h"
#include "issue.h"
#include "store.h"
#include "timefmt.h"
#include "x509chk.h"

#define TLSA_MAX 32

/* is the 3 1 1 record of DIGEST among OWNER's TLSA records?  1 yes (*TTL its TTL), 0 no, -1 with E */
static int tlsa_has(const char *resolver, const char *owner, const char *digest, unsigned long *ttl, mc_err *e)
{
	mc_tlsa_rr rr[TLSA_MAX];
	int n, i;

	n = mc_dns_tlsa(resolver, owner, rr, TLSA_MAX, e);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (rr[i].usage == 3 && rr[i].selector == 1 && rr[i].mtype == 1 && strcmp(rr[i].hex, digest) == 0) {
			*ttl = rr[i].ttl;
			return 1;
		}
	return 0;
}

int mc_dane_observe(const mc_config *cfg, const mc_host *h, mc_state *st, time_t now)
{
	const char *resolver = cfg->dns01_resolver;
	char owner[300], note[sizeof st->key_rollover_note], t[MC_TIMEFMT_LEN], r[MC_TIMEFMT_LEN];
	char state[sizeof st->key_rollover_state];
	time_t seen = st->next_key_tlsa_seen_time, ready = st->next_key_ready_time;
	unsigned long ttl, maxttl = 0;
	size_t i, j, checked = 0;
	int missing = 0, changed;
	mc_err e;

	if (h->key_rollover != MC_ROLLOVER_ANNOUNCE || !st->next_key_spki_sha256[0])
		return 0;
	note[0] = '\0';
	for (i = 0; i < h->nnames && !missing; i++)
		for (j = 0; j < h->ntlsa_ports && !missing; j++) {
			int r2;

			if (mc_tlsa_owner(h->names[i], h->tlsa_ports[j], owner, sizeof owner) < 0)
				continue; /* a wildcard has no TLSA record of its own */
			r2 = tlsa_has(resolver, owner, st->next_key_spki_sha256, &ttl, &e);
			if (r2 < 0) {
				snprintf(note, sizeof note, "the next key's TLSA record could not be looked up: %.400s", e.msg);
				missing = 1;
			} else if (r2 == 0) {
				snprintf(note, sizeof note, "the next key's record %s IN TLSA 3 1 1 %s is not visible at %s",
					 owner, st->next_key_spki_sha256, resolver[0] ? resolver : "the system's resolver");
				missing = 1;
			} else {
				checked++;
				if (ttl > maxttl)
					maxttl = ttl;
			}
		}
	if (!missing && checked == 0) {
		snprintf(note, sizeof note, "no name of the host can have a TLSA record (wildcards only)");
		missing = 1;
	}
	if (missing) {
		seen = ready = 0;
		snprintf(state, sizeof state, "waiting");
	} else {
		long wait = h->key_rollover_wait ? h->key_rollover_wait : (long)(2 * (maxttl > 86400 ? 86400 : maxttl));

		if (!seen)
			seen = now;
		ready = seen + wait;
		snprintf(state, sizeof state, "%s", now >= ready ? "ready" : "waiting");
		if (now < ready) {
			mc_time_format(seen, t);
			mc_time_format(ready, r);
			snprintf(note, sizeof note, "the next key's TLSA records are visible since %s; it is used from %s on "
				 "(%s %ld s)", t, r, h->key_rollover_wait ? "key_rollover_wait" : "twice their TTL,", wait);
		}
	}
	changed = seen != st->next_key_tlsa_seen_time || ready != st->next_key_ready_time ||
		  strcmp(state, st->key_rollover_state) != 0 || strcmp(note, st->key_rollover_note) != 0;
	st->next_key_tlsa_seen_time = seen;
	st->next_key_ready_time = ready;
	snprintf(st->key_rollover_state, sizeof st->key_rollover_state, "%s", state);
	snprintf(st->key_rollover_note, sizeof st->key_rollover_note, "%s", note);
	if (changed && !missing && now >= ready)
		mc_info("%s: the next key's TLSA records have been visible long enough: the next renewal switches to it",
			h->name);
	return changed;
}

int mc_dane_key_is_type(EVP_PKEY *key, const char *type)
{
	int id = EVP_PKEY_get_base_id(key), bits = EVP_PKEY_get_bits(key);

	if (strcmp(type, "ec256") == 0)
		return id == EVP_PKEY_EC && bits == 256;
	if (strcmp(type, "ec384") == 0)
		return id == EVP_PKEY_EC && bits == 384;
	if (strncmp(type, "rsa", 3) == 0)
		return id == EVP_PKEY_RSA && bits == atoi(type + 3);
	return 0;
}

void mc_dane_choose(const mc_config *cfg, const mc_host *h, mc_state *st, EVP_PKEY **key, int *sw)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *cur = NULL, *next = NULL;
	mc_err e;
	int rc;

	*key = NULL;
	*sw = 0;
	if (!h->key_reuse)
		return;
	if (!st->has_cert || !mc_store_has_cert(cfg->store, h->dir) || strcmp(st->source, MC_SOURCE_FALLBACK) == 0)
		return; /* nothing to keep yet: the first key is new */
	if (mc_store_load(cfg->store, h->dir, &cur, &chain, &e) < 0) {
		mc_warn("%s: the installed key cannot be reused (%s): a new key is made", h->name, e.msg);
		return;
	}
	sk_X509_pop_free(chain, X509_free);
	{
		char spki[MC_SPKI_HEX_LEN];

		/* revoked as compromised (state key_compromised): never again */
		if (mc_spki_sha256(cur, spki, &e) == 0 && mc_state_key_compromised(st, spki)) {
			mc_warn("%s: the installed key was revoked as compromised: a new key is made%s", h->name,
				h->key_rollover ? ", and a new next key (announce it before the next switch)" : "");
			EVP_PKEY_free(cur);
			return;
		}
	}
	/* a rollover changes the type only by announcing a next key of the new type */
	if (!h->key_rollover && !mc_dane_key_is_type(cur, cfg->acme_key_type)) {
		mc_info("%s: the installed key is not a %s key (acme.key_type): a new key is made", h->name,
			cfg->acme_key_type);
		EVP_PKEY_free(cur);
		return;
	}
	*key = cur;
	if (!h->key_rollover)
		return;
	rc = mc_nextkey_load(cfg->store, h->dir, &next, &e);
	if (rc < 0)
		mc_warn("%s: the next key: %s; the installed key is kept", h->name, e.msg);
	if (rc != 0)
		return;
	if (strcmp(st->key_rollover_state, "ready") == 0) {
		mc_info("%s: switching to the announced next key (SPKI SHA-256 %s): its TLSA records are visible",
			h->name, st->next_key_spki_sha256);
		EVP_PKEY_free(cur);
		*key = next;
		*sw = 1;
		return;
	}
	mc_info("%s: the installed key is kept: %s", h->name,
		st->key_rollover_note[0] ? st->key_rollover_note : "the next key is not ready");
	EVP_PKEY_free(next);
}

/* the owner names of H, each port of tlsa_ports for each name, with DIGEST */
static void print_records(const mc_host *h, const char *digest)
{
	char owner[300];
	size_t i, j;

	for (i = 0; i < h->nnames; i++)
		for (j = 0; j < h->ntlsa_ports; j++)
			if (mc_tlsa_owner(h->names[i], h->tlsa_ports[j], owner, sizeof owner) == 0)
				printf("%s IN TLSA 3 1 1 %s\n", owner, digest);
}

int mc_tlsa_main(const char *config_file, int argc, char **argv)
{
	char cur[MC_SPKI_HEX_LEN], path[4200];
	STACK_OF(X509) *certs = NULL;
	mc_config *cfg = NULL;
	mc_host *h;
	mc_state st;
	mc_buf b;
	mc_err e;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mailcert tlsa HOST\n");
		return MC_EX_USAGE;
	}
	if (mc_config_load(config_file, &cfg, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return MC_EX_CONFIG;
	}
	h = mc_config_find_host(cfg, argv[1]);
	if (!h) {
		fprintf(stderr, "mailcert: %s: not a configured host\n", argv[1]);
		mc_config_free(cfg);
		return MC_EX_USAGE;
	}
	/* the installed key's digest from its certificate (fullchain.pem is public) */
	mc_buf_init(&b);
	mc_store_path(cfg->store, h->dir, "fullchain.pem", path, sizeof path);
	if (!mc_store_has_cert(cfg->store, h->dir) || mc_file_read(path, MC_STORE_FILE_MAX, &b, &e) < 0 ||
	    mc_pem_read_certs(b.data, b.len, &certs, &e) < 0 ||
	    mc_spki_sha256_cert(sk_X509_value(certs, 0), cur, &e) < 0) {
		fprintf(stderr, "mailcert: %s: no installed certificate to print TLSA records for\n", h->name);
		rc = 1;
	} else {
		print_records(h, cur);
	}
	mc_buf_free(&b);
	sk_X509_pop_free(certs, X509_free);
	if (rc == 0 && mc_store_state_load(cfg->store, h->dir, &st, &e) >= 0) {
		if (h->key_rollover && st.next_key_spki_sha256[0] && strcmp(st.next_key_spki_sha256, cur) != 0)
			print_records(h, st.next_key_spki_sha256);
		else if (h->key_rollover)
			fprintf(stderr, "mailcert: %s: no next key yet (one is made at the next renewal)\n", h->name);
		mc_state_free(&st);
	}
	if (rc == 0 && !h->key_reuse)
		fprintf(stderr, "mailcert: %s: warning: key_reuse is off: every renewal changes the key and these "
			"records with it\n", h->name);
	mc_config_free(cfg);
	return rc;
}
