/*
 * account - the ACME account and revocation commands, run from the store
 * process over the usual split: the network process talks to the CA, the
 * key process signs (and alone touches the account key files); this process
 * reads and writes the local records and decides.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "account.h"
#include "acme.h"
#include "b64url.h"
#include "conf.h"
#include "fsutil.h"
#include "http.h"
#include "ipc.h"
#include "privsep.h"
#include "store.h"
#include "storepath.h"
#include "timefmt.h"
#include "x509chk.h"

static const struct reason {
	const char *name;
	int code; /* RFC 5280 CRLReason */
} reasons[] = {
	{ "unspecified", 0 },
	{ "keyCompromise", 1 },
	{ "affiliationChanged", 3 },
	{ "superseded", 4 },
	{ "cessationOfOperation", 5 },
};

int mc_revoke_reason_code(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (strcmp(reasons[i].name, name) == 0)
			return reasons[i].code;
	return -1;
}

/* one account command or revocation at a time, and never during an issue or renew run */
static int run_lock(const char *store, mc_err *e)
{
	char path[4200];
	int fd;

	if (mc_store_prepare(store, e) < 0)
		return -1;
	mc_store_area_path(store, MC_AREA_LOCKS, ".run", path, sizeof path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return mc_err_set(e, "lock %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "mailcert: another mailcert run is working on %s; waiting for it\n", store);
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				close(fd);
				return mc_err_set(e, "lock %s: %s", path, strerror(errno));
			}
		}
	}
	return fd;
}

/* the local record STORE/accounts/HASH/account.json, or NULL */
static json_t *local_record(const char *dir)
{
	char path[4200];

	mc_pathf(path, sizeof path, "%s/account.json", dir);
	return json_load_file(path, 0, NULL);
}

static int local_deactivated(json_t *rec)
{
	const char *st = json_string_value(json_object_get(rec, "status"));

	return st && strcmp(st, "deactivated") == 0;
}

/* -1 with E when a key change that did not finish left key.pem.next behind */
static int unfinished_rollover(const char *dir, mc_err *e)
{
	char path[4200];

	mc_pathf(path, sizeof path, "%s/key.pem.next", dir);
	if (access(path, F_OK) != 0)
		return 0;
	return mc_err_set(e, "%s is left from a key change that did not finish: if the CA refuses the key in "
			  "key.pem (mailcert account fails), it took the change: as root, mv %s %s/key.pem; "
			  "otherwise remove %s", path, path, dir, path);
}

/* a local account with a key for CFG's directory, not deactivated: 0, or -1 with E */
static int need_account(const mc_config *cfg, const char *dir, mc_err *e)
{
	char path[4200];
	json_t *rec;
	int rc = 0;

	mc_pathf(path, sizeof path, "%s/key.pem", dir);
	if (access(path, F_OK) != 0)
		return mc_err_set(e, "no ACME account for %s yet (%s does not exist): the first mailcert issue "
				  "registers one", cfg->acme_directory, path);
	rec = local_record(dir);
	if (local_deactivated(rec))
		rc = mc_err_set(e, "the ACME account %s for %s is deactivated; to register a new account, remove "
				"%s (as root: rm -r %s) and run mailcert issue",
				json_string_value(json_object_get(rec, "url")) ? json_string_value(json_object_get(rec, "url")) : "",
				cfg->acme_directory, dir, dir);
	json_decref(rec);
	return rc;
}

/* start the key and network processes; the account must exist at the CA */
static int start(mc_config *cfg, mc_privsep *ps, mc_err *e)
{
	int rc;

	if (mc_privsep_start(cfg, 1, MC_PRIVSEP_NET_EXISTING, ps, e) < 0)
		return -1;
	rc = mc_privsep_net_ready(ps, cfg, e);
	if (rc < 0) {
		mc_err ignored;
		mc_privsep_stop(ps, NULL, NULL, &ignored);
		return -1;
	}
	return 0;
}

static int stop(mc_privsep *ps, int rc)
{
	mc_err e;

	if (mc_privsep_stop(ps, NULL, NULL, &e) < 0) {
		fprintf(stderr, "mailcert: %s\n", e.msg);
		return 1;
	}
	return rc;
}

/* send TYPE (no fields) to the network process, wait for ACCT_INFO or ERR */
static int net_ask(mc_privsep *ps, int type, char *const *f, size_t n, int reply, mc_msg *m, mc_err *e)
{
	int accept[] = { reply, MC_MSG_ERR, MC_MSG_NONE };
	size_t i;

	if (mc_ipc_send(ps->net[0], "network", type, f, n, e) < 0 ||
	    mc_ipc_recv(ps->net[0], "network", accept, m, NULL, e) < 0)
		return -1;
	/* nothing from another process reaches the terminal with control characters */
	for (i = 0; i < m->n; i++) {
		char *p;
		for (p = m->f[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
	}
	if (m->type == MC_MSG_ERR) {
		mc_err_set(e, "%s", m->f[0]);
		mc_msg_free(m);
		return -1;
	}
	return 0;
}

static int key_end(mc_privsep *ps, const char *what, mc_err *e)
{
	static const int accept[] = { MC_MSG_OK, MC_MSG_ERR, MC_MSG_NONE };
	mc_msg m;

	if (mc_ipc_sendl(ps->key[0], "key", e, MC_MSG_ROLLOVER_END, what, NULL) < 0 ||
	    mc_ipc_recv(ps->key[0], "key", accept, &m, NULL, e) < 0)
		return -1;
	if (m.type == MC_MSG_ERR) {
		mc_err_set(e, "%s", m.f[0]);
		mc_msg_free(&m);
		return -1;
	}
	mc_msg_free(&m);
	return 0;
}

/* keep the local record in step with what the CA said */
static void record_status(const mc_config *cfg, const char *dir, const char *url, const char *status)
{
	json_t *rec = local_record(dir);
	char t[MC_TIMEFMT_LEN], *out;
	mc_err e;

	if (!json_is_object(rec)) {
		json_decref(rec);
		rec = json_object();
		json_object_set_new(rec, "directory", json_string(cfg->acme_directory));
	}
	if (url && mc_ipc_https_url(url))
		json_object_set_new(rec, "url", json_string(url));
	json_object_set_new(rec, "status", json_string(status));
	if (strcmp(status, "deactivated") == 0) {
		mc_time_format(mc_now(), t);
		json_object_set_new(rec, "deactivated_time", json_string(t));
	}
	out = json_dumps(rec, JSON_INDENT(2));
	json_decref(rec);
	if (!out || mc_file_write_atomic(dir, "account.json", out, strlen(out), 0600, (gid_t)-1, &e) < 0)
		fprintf(stderr, "mailcert: warning: cannot update %s/account.json: %s\n", dir,
			out ? e.msg : "not UTF-8");
	free(out);
}

static void print_info(const mc_config *cfg, const char *dir, const char *url, const char *status,
		       const char *contact, const char *alg, const char *thumb, const char *note, int json)
{
	if (json) {
		json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "directory", cfg->acme_directory,
				      "account_url", url, "status", status, "contact", contact, "key_alg", alg,
				      "key_thumbprint", thumb, "account_dir", dir, "note", note);
		char *s;

		if (!j)
			return;
		if (!*alg)
			json_object_set_new(j, "key_alg", json_null());
		if (!*thumb)
			json_object_set_new(j, "key_thumbprint", json_null());
		if (!*note)
			json_object_set_new(j, "note", json_null());
		s = json_dumps(j, JSON_INDENT(2));
		if (s)
			puts(s);
		free(s);
		json_decref(j);
		return;
	}
	printf("directory:   %s\n", cfg->acme_directory);
	printf("account:     %s\n", url);
	printf("status:      %s%s%s\n", status, *note ? " " : "", note);
	printf("contact:     %s\n", *contact ? contact : "(none)");
	if (*alg)
		printf("key:         %s, JWK thumbprint (RFC 7638) %s\n", alg, thumb);
	printf("files:       %s/key.pem (account key), %s/account.json\n", dir, dir);
}

static int account_show(mc_config *cfg, const char *dir, int json)
{
	mc_privsep ps;
	json_t *rec;
	mc_msg m;
	mc_err e;
	int rc;

	rec = local_record(dir);
	if (local_deactivated(rec)) {
		/* its key signs nothing any more: the local record is all there is to show */
		const char *url = json_string_value(json_object_get(rec, "url"));
		const char *when = json_string_value(json_object_get(rec, "deactivated_time"));
		char note[256];

		snprintf(note, sizeof note, "(local record%s%s; the CA is not asked)", when ? ", since " : "",
			 when ? when : "");
		print_info(cfg, dir, url ? url : "", "deactivated", "", "", "", note, json);
		if (!json)
			printf("A new account is registered only once %s is removed (as root: rm -r %s); until then "
			       "mailcert issue and renew fail for this CA.\n", dir, dir);
		json_decref(rec);
		return 0;
	}
	json_decref(rec);
	if (need_account(cfg, dir, &e) < 0 || start(cfg, &ps, &e) < 0) {
		mc_err hint;
		fprintf(stderr, "mailcert: account: %s\n", e.msg);
		if (unfinished_rollover(dir, &hint) < 0)
			fprintf(stderr, "mailcert: account: %s\n", hint.msg);
		return 1;
	}
	rc = net_ask(&ps, MC_MSG_ACCT_GET, NULL, 0, MC_MSG_ACCT_INFO, &m, &e);
	if (rc < 0) {
		mc_err hint;
		fprintf(stderr, "mailcert: account: %s\n", e.msg);
		if (unfinished_rollover(dir, &hint) < 0)
			fprintf(stderr, "mailcert: account: %s\n", hint.msg);
		return stop(&ps, 1);
	}
	print_info(cfg, dir, m.f[0], m.f[1], m.f[2], m.f[3], m.f[4], "", json);
	if (strcmp(m.f[1], "valid") != 0)
		record_status(cfg, dir, m.f[0], m.f[1]);
	mc_msg_free(&m);
	return stop(&ps, 0);
}

/* 1 when the operator said yes; stdin not a terminal: refused (64) */
static int confirm(const char *question, int *exit_code)
{
	char line[64];

	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "mailcert: %s: refusing without --yes when standard input is not a terminal\n",
			question);
		*exit_code = MC_EX_USAGE;
		return 0;
	}
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof line, stdin) || (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0)) {
		fprintf(stderr, "mailcert: not confirmed; nothing changed\n");
		*exit_code = 1;
		return 0;
	}
	return 1;
}

static int account_deactivate(mc_config *cfg, const char *dir, int yes)
{
	mc_privsep ps;
	char q[4400];
	mc_msg m;
	mc_err e;
	int rc = 0;

	if (need_account(cfg, dir, &e) < 0) {
		fprintf(stderr, "mailcert: account deactivate: %s\n", e.msg);
		return 1;
	}
	snprintf(q, sizeof q, "Deactivate the ACME account for %s? The CA will refuse every further request "
		 "of this account, and this cannot be undone", cfg->acme_directory);
	if (!yes && !confirm(q, &rc))
		return rc;
	if (start(cfg, &ps, &e) < 0) {
		fprintf(stderr, "mailcert: account deactivate: %s\n", e.msg);
		return 1;
	}
	if (net_ask(&ps, MC_MSG_ACCT_DEACTIVATE, NULL, 0, MC_MSG_ACCT_INFO, &m, &e) < 0) {
		fprintf(stderr, "mailcert: account deactivate: %s\n", e.msg);
		return stop(&ps, 1);
	}
	rc = stop(&ps, 0);
	record_status(cfg, dir, m.f[0], m.f[1]);
	if (strcmp(m.f[1], "deactivated") != 0) {
		fprintf(stderr, "mailcert: account deactivate: the CA answered with status \"%s\"\n", m.f[1]);
		rc = 1;
	} else {
		printf("account %s deactivated.\n"
		       "mailcert issue and renew now fail for %s until %s is removed (as root: rm -r %s);\n"
		       "the next run after that registers a new account.\n",
		       m.f[0], cfg->acme_directory, dir, dir);
	}
	mc_msg_free(&m);
	return rc;
}

static int account_rollover(mc_config *cfg, const char *dir)
{
	mc_privsep ps;
	mc_msg m;
	mc_err e;
	char *url;

	if (need_account(cfg, dir, &e) < 0 || unfinished_rollover(dir, &e) < 0 || start(cfg, &ps, &e) < 0) {
		fprintf(stderr, "mailcert: account rollover: %s\n", e.msg);
		return 1;
	}
	if (net_ask(&ps, MC_MSG_ACCT_ROLLOVER, NULL, 0, MC_MSG_ACCT_INFO, &m, &e) < 0) {
		mc_err ae;
		/*
		 * Refused, or no answer at all (the CA may have taken the change and the
		 * answer been lost): the next key goes only once a request signed with the
		 * old one has worked.
		 */
		if (net_ask(&ps, MC_MSG_ACCT_GET, NULL, 0, MC_MSG_ACCT_INFO, &m, &ae) < 0) {
			fprintf(stderr, "mailcert: account rollover: %s\n"
				"mailcert: account rollover: whether the CA kept the old key could not be confirmed "
				"(%s): the new key stays in %s/key.pem.next; if mailcert account fails, the CA took "
				"it: as root, mv %s/key.pem.next %s/key.pem; otherwise remove %s/key.pem.next\n",
				e.msg, ae.msg, dir, dir, dir, dir);
			return stop(&ps, 1);
		}
		mc_msg_free(&m);
		if (key_end(&ps, "abort", &ae) < 0)
			fprintf(stderr, "mailcert: account rollover: %s\n", ae.msg);
		fprintf(stderr, "mailcert: account rollover: %s; the account key is unchanged\n", e.msg);
		return stop(&ps, 1);
	}
	url = mc_strdup(m.f[0]);
	mc_msg_free(&m);
	if (key_end(&ps, "commit", &e) < 0) {
		fprintf(stderr, "mailcert: account rollover: %s\n", e.msg);
		free(url);
		return stop(&ps, 1);
	}
	/* a request signed with the new key, before the old one goes */
	if (net_ask(&ps, MC_MSG_ACCT_GET, NULL, 0, MC_MSG_ACCT_INFO, &m, &e) < 0) {
		fprintf(stderr, "mailcert: account rollover: the CA accepted the new key and it is the account key "
			"now (%s/key.pem), but a request signed with it failed: %s; the old key is kept as "
			"%s/key.pem.old\n", dir, e.msg, dir);
		free(url);
		return stop(&ps, 1);
	}
	if (key_end(&ps, "finish", &e) < 0)
		fprintf(stderr, "mailcert: account rollover: warning: %s\n", e.msg);
	printf("account %s: new key %s, JWK thumbprint %s (in %s/key.pem)\n", url, m.f[3], m.f[4], dir);
	free(url);
	mc_msg_free(&m);
	return stop(&ps, 0);
}

int mc_account_main(const char *config_file, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	int c, json = 0, yes = 0, rc = 0, lock;
	const char *sub = NULL;
	char dir[4096];
	mc_config *cfg;
	mc_err e;

	optind = 0; /* a full restart: options may follow the words (main's getopt stopped at the first) */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'J')
			json = 1;
		else if (c == 'y')
			yes = 1;
		else
			return MC_EX_USAGE;
	}
	if (optind < argc)
		sub = argv[optind++];
	if (optind < argc || (sub && strcmp(sub, "rollover") != 0 && strcmp(sub, "deactivate") != 0)) {
		fprintf(stderr, "mailcert: usage: mailcert account [--json] | account rollover | "
			"account deactivate [--yes]\n");
		return MC_EX_USAGE;
	}
	if ((json && sub) || (yes && (!sub || strcmp(sub, "deactivate") != 0))) {
		fprintf(stderr, "mailcert: account: %s only goes with %s\n", json ? "--json" : "--yes",
			json ? "the account display" : "account deactivate");
		return MC_EX_USAGE;
	}
	if (mc_config_load(config_file, &cfg, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return MC_EX_CONFIG;
	}
	if (!cfg->acme_directory || !cfg->acme_directory[0]) {
		fprintf(stderr, "mailcert: account: %s configures no ACME directory\n", config_file);
		mc_config_free(cfg);
		return 1;
	}
	mc_acme_account_dir(cfg->store, cfg->acme_directory, dir, sizeof dir);
	if (mc_http_global_init(&e) < 0 || (lock = run_lock(cfg->store, &e)) < 0) {
		fprintf(stderr, "mailcert: %s\n", e.msg);
		mc_config_free(cfg);
		return 1;
	}
	if (!sub)
		rc = account_show(cfg, dir, json);
	else if (strcmp(sub, "rollover") == 0)
		rc = account_rollover(cfg, dir);
	else
		rc = account_deactivate(cfg, dir, yes);
	close(lock);
	mc_http_global_cleanup();
	mc_config_free(cfg);
	return rc;
}

/* the leaf of HOST's installed set */
static X509 *current_leaf(const mc_config *cfg, const mc_host *h, mc_err *e)
{
	STACK_OF(X509) *chain = NULL;
	char path[4200];
	X509 *leaf;
	mc_buf b;

	mc_store_path(cfg->store, h->dir, "fullchain.pem", path, sizeof path);
	mc_buf_init(&b);
	if (mc_file_read(path, MC_STORE_FILE_MAX, &b, e) < 0 ||
	    mc_pem_read_certs(b.data ? b.data : "", b.len, &chain, e) < 0) {
		mc_buf_free(&b);
		return NULL;
	}
	mc_buf_free(&b);
	leaf = sk_X509_shift(chain);
	sk_X509_pop_free(chain, X509_free);
	return leaf;
}

static int revoke_host(mc_config *cfg, const mc_host *h, const char *reason_name, int code)
{
	unsigned char *der = NULL;
	char spki[65], dir[4096], codes[16] = "", t[MC_TIMEFMT_LEN], *b64 = NULL;
	mc_certinfo ci;
	mc_privsep ps;
	mc_state st;
	X509 *leaf;
	mc_msg m;
	mc_err e;
	int len, lock, rc = 1;

	mc_state_init(&st);
	if (mc_store_state_load(cfg->store, h->dir, &st, &e) < 0) {
		fprintf(stderr, "mailcert: revoke: %s: %s\n", h->name, e.msg);
		return 1;
	}
	if (!st.has_cert || !mc_store_has_cert(cfg->store, h->dir)) {
		fprintf(stderr, "mailcert: revoke: %s has no certificate\n", h->name);
		goto out;
	}
	if (strcmp(st.source, "acme") != 0) {
		fprintf(stderr, "mailcert: revoke: %s: its certificate (source %s) was not issued through ACME: "
			"ask its issuer to revoke it\n", h->name, st.source);
		goto out;
	}
	if (st.directory_url && strcmp(st.directory_url, cfg->acme_directory) != 0) {
		fprintf(stderr, "mailcert: revoke: %s: its certificate was ordered from %s, not from the configured "
			"%s\n", h->name, st.directory_url, cfg->acme_directory);
		goto out;
	}
	leaf = current_leaf(cfg, h, &e);
	if (!leaf || mc_cert_info(leaf, &ci) < 0 || mc_key_spki_sha256(X509_get0_pubkey(leaf), spki) < 0 ||
	    (len = i2d_X509(leaf, &der)) <= 0) {
		fprintf(stderr, "mailcert: revoke: %s: cannot read its certificate%s%s\n", h->name, leaf ? "" : ": ",
			leaf ? "" : e.msg);
		X509_free(leaf);
		goto out;
	}
	X509_free(leaf);
	b64 = mc_b64url_encode(der, (size_t)len);
	OPENSSL_free(der);
	mc_acme_account_dir(cfg->store, cfg->acme_directory, dir, sizeof dir);
	if (need_account(cfg, dir, &e) < 0 || start(cfg, &ps, &e) < 0) {
		fprintf(stderr, "mailcert: revoke: %s: %s\n", h->name, e.msg);
		goto out;
	}
	if (code > 0) /* unspecified: no reason given (RFC 8555 section 7.6) */
		snprintf(codes, sizeof codes, "%d", code);
	{
		char *f[] = { b64, codes };
		rc = net_ask(&ps, MC_MSG_REVOKE, f, 2, MC_MSG_OK, &m, &e);
	}
	if (rc < 0) {
		fprintf(stderr, "mailcert: revoke: %s (serial %s): %s\n", h->name, ci.serial, e.msg);
		rc = stop(&ps, 1);
		goto out;
	}
	mc_msg_free(&m);
	rc = stop(&ps, 0);
	/* the state as it is now, under the host's lock */
	lock = mc_store_lock_host(cfg->store, h->dir, &e);
	mc_state_free(&st);
	if (lock < 0 || mc_store_state_load(cfg->store, h->dir, &st, &e) < 0) {
		fprintf(stderr, "mailcert: revoke: %s: revoked, but its state cannot be updated: %s\n", h->name,
			e.msg);
		if (lock >= 0)
			mc_store_unlock(lock);
		rc = 1;
		goto out;
	}
	if (strcmp(st.serial, ci.serial) == 0) {
		st.revoked_time = mc_now();
		snprintf(st.revocation_reason, sizeof st.revocation_reason, "%s", reason_name);
	}
	if (code == 1)
		mc_state_add_key_compromised(&st, spki);
	if (mc_store_state_save(cfg->store, h->dir, &st, &e) < 0) {
		fprintf(stderr, "mailcert: revoke: %s: revoked, but its state cannot be updated: %s\n", h->name,
			e.msg);
		rc = 1;
	}
	mc_store_unlock(lock);
	mc_time_format(mc_now(), t);
	printf("%s: certificate %s revoked (%s) at %s; the next issue or renew replaces it%s\n", h->name,
	       ci.serial, reason_name, t,
	       code == 1 ? "; its key (SPKI SHA-256 " : "");
	if (code == 1)
		printf("  %s) is marked compromised and never used again for %s\n", spki, h->name);
out:
	free(b64);
	mc_state_free(&st);
	return rc;
}

int mc_revoke_main(const char *config_file, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = "unspecified";
	int c, code = 0, rc, lock;
	mc_config *cfg;
	mc_host *h;
	mc_err e;

	optind = 0; /* a full restart: options may follow the words (main's getopt stopped at the first) */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r')
			return MC_EX_USAGE;
		reason = optarg;
		code = mc_revoke_reason_code(reason);
		if (code < 0) {
			fprintf(stderr, "mailcert: revoke: unknown reason \"%s\" (unspecified, keyCompromise, superseded, "
				"cessationOfOperation or affiliationChanged)\n", reason);
			return MC_EX_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "mailcert: usage: mailcert revoke HOST [--reason R]\n");
		return MC_EX_USAGE;
	}
	if (mc_config_load(config_file, &cfg, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return MC_EX_CONFIG;
	}
	h = mc_config_find_host(cfg, argv[optind]);
	if (!h) {
		fprintf(stderr, "mailcert: %s: not a configured host\n", argv[optind]);
		mc_config_free(cfg);
		return MC_EX_USAGE;
	}
	if (!cfg->acme_directory || !cfg->acme_directory[0]) {
		fprintf(stderr, "mailcert: revoke: %s configures no ACME directory\n", config_file);
		mc_config_free(cfg);
		return 1;
	}
	if (mc_http_global_init(&e) < 0 || (lock = run_lock(cfg->store, &e)) < 0) {
		fprintf(stderr, "mailcert: %s\n", e.msg);
		mc_config_free(cfg);
		return 1;
	}
	rc = revoke_host(cfg, h, reason, code);
	close(lock);
	mc_http_global_cleanup();
	mc_config_free(cfg);
	return rc;
}
