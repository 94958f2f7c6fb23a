/*
 * hosts - scan the store, check changed sets, keep the last good one.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fsutil.h"
#include "hostname.h"
#include "hosts.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"
#include "x509chk.h"
#include "xalloc.h"
#include "storepath.h"

const char *const mta_names[MTA_N] = { "postfix", "dovecot", "sendmail", "exim" };

mh_host *mh_find(mh_table *t, const char *dir)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(t->v[mid].dir, dir);
		if (c == 0)
			return &t->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void host_clear(mh_host *h)
{
	mc_strv_free(h->names);
	free(h->error);
	memset(h, 0, sizeof *h);
}

void mh_free(mh_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		host_clear(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

/* what identifies the file behind STORE/certs/DIR/cert.pem right now */
static int file_sig(const char *store, const char *dir, char *sig, size_t siglen)
{
	char link[PATH_MAX], target[PATH_MAX], path[PATH_MAX];
	struct stat st;
	ssize_t n;

	mc_store_area_path(store, MC_AREA_CERTS, dir, link, sizeof link);
	n = readlink(link, target, sizeof target - 1);
	target[n > 0 ? n : 0] = '\0';
	mc_store_path(store, dir, "cert.pem", path, sizeof path);
	if (stat(path, &st) < 0)
		return -1;
	snprintf(sig, siglen, "%s|%llu:%llu:%lld.%09ld:%lld", target, (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		 (long long)st.st_size);
	return 0;
}

static void set_error(mh_host *h, const char *msg, time_t now)
{
	if (h->error && strcmp(h->error, msg) == 0)
		return;
	free(h->error);
	h->error = mc_strdup(msg);
	h->error_time = now;
}

/* copy the loaded set out of the version tree, which the store prunes */
static int keep_copy(mh_host *h, const char *store)
{
	char dir[PATH_MAX], path[PATH_MAX];
	mc_buf b;
	mc_err e;
	int rc;

	mc_store_area_path(store, MC_AREA_KEPT, NULL, dir, sizeof dir);
	mc_pathf(path, sizeof path, "%s/%s.pem", dir, h->dir);
	if (strcmp(h->file, path) == 0)
		return 0;
	mc_buf_init(&b);
	rc = mc_mkdir_p(dir, 0750, &e);
	/* the group's MTAs read the copy where they are not root (Exim) */
	if (rc == 0 && (chown(dir, 0, mc_group_gid()) < 0 || chmod(dir, 0750) < 0))
		rc = mc_err_set(&e, "%s: %s", dir, strerror(errno));
	if (rc == 0)
		rc = mc_file_read_private(h->file, MC_STORE_FILE_MAX, &b, &e);
	if (rc == 0)
		rc = mc_file_write_atomic(dir, path + strlen(dir) + 1, b.data, b.len, 0640,
					  mc_group_gid(), &e);
	mc_buf_cleanse(&b);
	if (rc < 0) {
		mc_error("%s: cannot keep a copy of the loaded set: %s", h->dir, e.msg);
		return -1;
	}
	mc_pathf(h->file, sizeof h->file, "%s", path);
	h->gen[0] = '\0';
	return 0;
}

typedef struct examined {
	unsigned char digest[32];
	char **names;
	size_t nnames;
	char serial[130];
	time_t not_after;
	char file[PATH_MAX];
	char gen[128];
} examined;

/* a PEM block cut short: the parsers would quietly drop it (and with it,
 * say, the intermediate), so look for it before parsing */
static int pem_truncated(const char *pem)
{
	const char *p = pem;
	int open = 0;

	while (p && (p = strstr(p, "-----")) != NULL) {
		if (strncmp(p, "-----BEGIN ", 11) == 0) {
			if (open)
				return 1;
			open = 1;
		} else if (strncmp(p, "-----END ", 9) == 0) {
			if (!open)
				return 1;
			open = 0;
		}
		p = strstr(p + 5, "-----");
		if (p)
			p += 5;
	}
	return open;
}

/* S for a log line: bytes outside printable ASCII as \xNN, cut to fit OUT */
static const char *printable(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 5 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

/*
 * Keep the names of NAMES (NULL-terminated) that are hostnames, in lower
 * case, and return how many.  They become keys of the Postfix SNI table
 * (whose values postmap -F reads as files, as root) and Dovecot local_name
 * blocks: a name with a space, a newline or a quote must reach neither.
 * A bad name is dropped with a warning; the set's good names stay.
 */
static size_t good_names(const char *dir, char **names)
{
	char norm[MC_HOSTNAME_MAX + 1], why[4 * MC_ERRLEN];
	size_t i, k = 0;
	mc_err e;

	for (i = 0; names[i]; i++) {
		if (mc_hostname_check(names[i], 1, norm, &e) < 0) {
			/* the message quotes the name, which may hold a newline */
			mc_warn("%s: ignoring a name of the certificate: %s", dir,
				printable(e.msg, why, sizeof why));
			free(names[i]);
			continue;
		}
		memcpy(names[i], norm, strlen(norm) + 1); /* as long as the original */
		names[k++] = names[i];
	}
	names[k] = NULL;
	return k;
}

/* read and check the current set of DIR; fills X on success */
static int examine(const char *store, const char *dir, time_t now, examined *x, mc_err *e)
{
	char link[PATH_MAX], real[PATH_MAX], versions[PATH_MAX];
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = NULL;
	mc_certinfo ci;
	unsigned int dlen = 0;
	mc_buf b;
	int rc = -1;

	memset(x, 0, sizeof *x);
	mc_store_area_path(store, MC_AREA_CERTS, dir, link, sizeof link);
	if (!realpath(link, real))
		return mc_err_set(e, "%s: %s", link, strerror(errno));
	mc_pathf(x->file, sizeof x->file, "%s/cert.pem", real);
	mc_buf_init(&b);
	if (mc_file_read_private(x->file, MC_STORE_FILE_MAX, &b, e) < 0)
		goto out;
	if (b.len == 0 || !b.data) {
		mc_err_set(e, "cert.pem is empty");
		goto out;
	}
	if (pem_truncated(b.data)) {
		mc_err_set(e, "cert.pem is truncated (a PEM block has no END line)");
		goto out;
	}
	if (mc_pem_read_key(b.data, b.len, &key, e) < 0 ||
	    mc_pem_read_certs(b.data, b.len, &chain, e) < 0) {
		mc_err_prefix(e, "cert.pem");
		goto out;
	}
	if (mc_certset_check(key, chain, NULL, 0, now, e) < 0)
		goto out;
	x->names = mc_cert_dns_names(sk_X509_value(chain, 0), &x->nnames);
	if (x->nnames == 0) {
		mc_err_set(e, "the certificate names no DNS host (no subjectAltName dNSName)");
		goto out;
	}
	x->nnames = good_names(dir, x->names);
	if (x->nnames == 0) {
		mc_err_set(e, "the certificate names no valid DNS host name");
		goto out;
	}
	mc_cert_info(sk_X509_value(chain, 0), &ci);
	mc_pathf(x->serial, sizeof x->serial, "%s", ci.serial);
	x->not_after = ci.not_after;
	EVP_Digest(b.data, b.len, x->digest, &dlen, EVP_sha256(), NULL);
	/* a version directory never changes after it is published */
	if (realpath(store, versions)) {
		size_t vl;
		mc_pathf(versions + strlen(versions), sizeof versions - strlen(versions), "/versions/");
		vl = strlen(versions);
		if (strncmp(real, versions, vl) == 0) {
			const char *gen = strrchr(real, '/');
			mc_pathf(x->gen, sizeof x->gen, "%s", gen ? gen + 1 : real);
		}
	}
	rc = 0;
out:
	if (rc < 0) {
		mc_strv_free(x->names);
		x->names = NULL;
	}
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	mc_buf_cleanse(&b);
	return rc;
}

static int same_names(char **a, char **b)
{
	size_t i;

	for (i = 0; a && b && a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return a && b && !a[i] && !b[i];
}

static int t_first_scan;

/* bring one host up to date with the store; returns MH_CHANGED_* */
static int refresh(mh_host *h, const char *store, time_t now)
{
	char sig[sizeof h->sig];
	examined x;
	mc_err e;
	int changed = 0;

	if (file_sig(store, h->dir, sig, sizeof sig) < 0) {
		/* no cert.pem: a host that has only state.json so far */
		if (!h->file[0])
			return 0;
		mc_pathf(sig, sizeof sig, "-");
		if (strcmp(sig, h->sig) == 0)
			return 0;
		mc_pathf(h->sig, sizeof h->sig, "%s", sig);
		mc_warn("%s: the store has no cert.pem any more; keeping the loaded set", h->dir);
		set_error(h, "the current set has no cert.pem", now);
		if (keep_copy(h, store) == 0)
			return MH_CHANGED_PATHS;
		h->file[0] = '\0';
		return MH_CHANGED_SETS;
	}
	if (strcmp(sig, h->sig) == 0)
		return 0;
	mc_pathf(h->sig, sizeof h->sig, "%s", sig);
	if (examine(store, h->dir, now, &x, &e) < 0) {
		set_error(h, e.msg, now);
		if (h->file[0]) {
			mc_error("%s: refusing the new certificate set, keeping serial %s loaded: %s",
				 h->dir, h->serial, e.msg);
			if (h->gen[0] && keep_copy(h, store) == 0) {
				changed = MH_CHANGED_PATHS;
			} else if (h->gen[0]) {
				/* the loaded set is gone too: nothing good is left to
				 * serve; its names fall back to the default host */
				h->file[0] = '\0';
				changed = MH_CHANGED_SETS;
			}
		} else {
			mc_error("%s: refusing the certificate set: %s", h->dir, e.msg);
		}
		return changed;
	}
	free(h->error);
	h->error = NULL;
	h->error_time = 0;
	if (!x.gen[0]) {
		/* not in the version tree (edited in place): load a private copy */
		mc_pathf(h->file, sizeof h->file, "%s", x.file);
		if (keep_copy(h, store) < 0) {
			h->file[0] = '\0';
			mc_strv_free(x.names);
			return MH_CHANGED_SETS;
		}
	} else {
		mc_pathf(h->file, sizeof h->file, "%s", x.file);
		mc_pathf(h->gen, sizeof h->gen, "%s", x.gen);
	}
	if (memcmp(x.digest, h->digest, sizeof x.digest) == 0 && same_names(x.names, h->names)) {
		mc_strv_free(x.names);
		return MH_CHANGED_PATHS;
	}
	mc_strv_free(h->names);
	h->names = x.names;
	h->nnames = x.nnames;
	memcpy(h->digest, x.digest, sizeof h->digest);
	mc_pathf(h->serial, sizeof h->serial, "%s", x.serial);
	h->not_after = x.not_after;
	h->pending = (1u << MTA_N) - 1;
	/* the first scan finds every host new: one summary line, not thousands */
	if (t_first_scan)
		mc_debug("%s: certificate set, serial %s", h->dir, h->serial);
	else
		mc_info("%s: new certificate set, serial %s", h->dir, h->serial);
	return MH_CHANGED_SETS;
}

int mh_scan(mh_table *t, const char *store, time_t now)
{
	char **list = mc_store_list(store);
	size_t n = 0, i = 0, j = 0, k;
	mh_host *nv;
	int changed = 0;

	while (list[n])
		n++;
	t_first_scan = !t->scanned;
	nv = mc_calloc(n + 1, sizeof *nv);
	/* merge the sorted listing with the sorted table */
	for (j = 0; j < n; j++) {
		while (i < t->n && strcmp(t->v[i].dir, list[j]) < 0) {
			if (t->v[i].file[0])
				changed |= MH_CHANGED_SETS;
			mc_info("%s: gone from the store", t->v[i].dir);
			host_clear(&t->v[i++]);
		}
		if (i < t->n && strcmp(t->v[i].dir, list[j]) == 0) {
			nv[j] = t->v[i++];
		} else {
			memset(&nv[j], 0, sizeof nv[j]);
			mc_pathf(nv[j].dir, sizeof nv[j].dir, "%s", list[j]);
		}
		changed |= refresh(&nv[j], store, now);
	}
	for (; i < t->n; i++) {
		if (t->v[i].file[0])
			changed |= MH_CHANGED_SETS;
		host_clear(&t->v[i]);
	}
	free(t->v);
	t->v = nv;
	t->n = n;
	if (t_first_scan) {
		size_t good = 0, bad = 0;
		for (k = 0; k < n; k++) {
			good += nv[k].file[0] != '\0';
			bad += nv[k].error != NULL;
		}
		mc_info("store %s: %zu hosts with a good certificate set, %zu refused", store, good, bad);
	}
	t->scanned = 1;
	for (k = 0; list[k]; k++)
		free(list[k]);
	free(list);
	return changed;
}

static int cmp_name(const void *a, const void *b)
{
	const mh_name *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	int xo, yo;

	if (c)
		return c;
	/* the host named by the name wins, then the first host */
	xo = strcmp(x->host->dir, x->name) != 0;
	yo = strcmp(y->host->dir, y->name) != 0;
	if (xo != yo)
		return xo - yo;
	return strcmp(x->host->dir, y->host->dir);
}

mh_name *mh_names(const mh_table *t, size_t *count)
{
	size_t i, k, n = 0, out = 0;
	mh_name *v;

	for (i = 0; i < t->n; i++)
		if (t->v[i].file[0])
			n += t->v[i].nnames;
	v = mc_calloc(n + 1, sizeof *v);
	for (i = 0; i < t->n; i++) {
		if (!t->v[i].file[0])
			continue;
		for (k = 0; k < t->v[i].nnames; k++) {
			v[out].name = t->v[i].names[k];
			v[out++].host = &t->v[i];
		}
	}
	qsort(v, out, sizeof *v, cmp_name);
	n = out;
	for (i = 0, out = 0; i < n; i++) {
		if (out > 0 && strcmp(v[out - 1].name, v[i].name) == 0) {
			mc_debug("%s is in several sets; %s serves it", v[i].name, v[out - 1].host->dir);
			continue;
		}
		v[out++] = v[i];
	}
	*count = out;
	return v;
}

const mh_host *mh_default(const mh_table *t, const char *default_host)
{
	char dir[300];
	const mh_host *h;
	size_t i;

	if (default_host && default_host[0]) {
		mc_hostname_dirname(default_host, dir, sizeof dir);
		h = mh_find((mh_table *)t, dir);
		if (h && h->file[0])
			return h;
	}
	for (i = 0; i < t->n; i++)
		if (t->v[i].file[0])
			return &t->v[i];
	return NULL;
}

void mh_prune_kept(mh_table *t, const char *store)
{
	char dir[PATH_MAX], path[PATH_MAX], name[310];
	struct dirent *de;
	DIR *d;

	mc_store_area_path(store, MC_AREA_KEPT, NULL, dir, sizeof dir);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		mh_host *h;

		if (de->d_name[0] == '.' || len < 5 || len >= sizeof name ||
		    strcmp(de->d_name + len - 4, ".pem") != 0)
			continue;
		memcpy(name, de->d_name, len - 4);
		name[len - 4] = '\0';
		mc_pathf(path, sizeof path, "%s/%s", dir, de->d_name);
		h = mh_find(t, name);
		if (!h || strcmp(h->file, path) != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}
