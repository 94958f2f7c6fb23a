/*
 * store - versioned per-host directories published by symlink rename.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fsutil.h"
#include "hostname.h"
#include "log.h"
#include "timefmt.h"
#include "store.h"
#include "x509chk.h"

void mc_store_path(const char *store, const char *dir, const char *file, char *out, size_t outlen)
{
	mc_pathf(out, outlen, "%s/certs/%s%s%s", store, dir, file ? "/" : "", file ? file : "");
}

/*
 * Make the store directory PATH with MODE whatever the umask (the renewal
 * unit runs with UMask=0027, which would shut group mailcert out).  FORCE:
 * also put an existing one right; the store root is the operator's to
 * narrow, the directories inside it are ours.
 */
static int store_mkdir(const char *path, mode_t mode, int force, mc_err *e)
{
	struct stat st;

	if (mc_mkdir_p(path, mode, e) < 0)
		return -1;
	if (!force)
		return 0;
	if (stat(path, &st) < 0)
		return mc_err_set(e, "stat %s: %s", path, strerror(errno));
	if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0)
		return mc_err_set(e, "chmod %s: %s", path, strerror(errno));
	return 0;
}

int mc_store_prepare(const char *store, mc_err *e)
{
	static const struct { const char *sub; mode_t mode; } dirs[] = {
		{ "", 0755 }, { "/certs", 0755 }, { "/versions", 0755 },
		{ "/accounts", 0700 }, { "/locks", 0700 },
	};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		mc_pathf(path, sizeof path, "%s%s", store, dirs[i].sub);
		/* the accounts tree holds account keys: private even if it existed */
		if (store_mkdir(path, dirs[i].mode, dirs[i].sub[0] != '\0', e) < 0)
			return mc_err_prefix(e, "store");
	}
	return 0;
}

int mc_store_lock_host(const char *store, const char *dir, mc_err *e)
{
	char path[PATH_MAX];
	int fd;

	mc_pathf(path, sizeof path, "%s/locks/%s.lock", store, dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return mc_err_set(e, "lock %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return mc_err_set(e, "lock %s: %s", path, strerror(errno));
		}
	}
	return fd;
}

void mc_store_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* make STORE/versions/DIR/GEN; GEN sorts by creation time */
static int new_version(const char *store, const char *dir, char *gen, size_t genlen,
		       char *path, size_t pathlen, mc_err *e)
{
	struct timeval tv;
	int tries;

	mc_pathf(path, pathlen, "%s/versions/%s", store, dir);
	if (store_mkdir(path, 0755, 1, e) < 0)
		return -1;
	for (tries = 0; tries < 100; tries++) {
		gettimeofday(&tv, NULL);
		mc_pathf(gen, genlen, "%lld.%06ld.%ld.%d", (long long)tv.tv_sec, (long)tv.tv_usec,
			 (long)getpid(), tries);
		mc_pathf(path, pathlen, "%s/versions/%s/%s", store, dir, gen);
		if (mkdir(path, 0755) == 0) {
			/* readers in group mailcert go through it, whatever the umask */
			if (chmod(path, 0755) < 0)
				return mc_err_set(e, "chmod %s: %s", path, strerror(errno));
			return 0;
		}
		if (errno != EEXIST)
			return mc_err_set(e, "mkdir %s: %s", path, strerror(errno));
	}
	return mc_err_set(e, "cannot create a version directory under %s/versions/%s", store, dir);
}

/*
 * Point STORE/certs/DIR at ../versions/DIR/GEN in one rename.  Fails only
 * before the rename: once it is done the new set is live, and a later error
 * (the directory's fsync) is a warning; the caller must never remove GEN then.
 */
static int publish(const char *store, const char *dir, const char *gen, mc_err *e)
{
	char certs[PATH_MAX], tmp[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
	mc_err fe;

	mc_pathf(certs, sizeof certs, "%s/certs", store);
	mc_pathf(tmp, sizeof tmp, "%s/.%s.new.%ld", certs, dir, (long)getpid());
	mc_pathf(link, sizeof link, "%s/%s", certs, dir);
	mc_pathf(target, sizeof target, "../versions/%s/%s", dir, gen);
	unlink(tmp);
	if (symlink(target, tmp) < 0)
		return mc_err_set(e, "symlink %s: %s", tmp, strerror(errno));
	if (rename(tmp, link) < 0) {
		int err = errno;
		unlink(tmp);
		return mc_err_set(e, "rename %s: %s", link, strerror(err));
	}
	if (mc_fsync_dir(certs, &fe) < 0)
		mc_warn("%s: the new set %s is live, but it may not survive a crash: %s", dir, gen,
			fe.msg);
	return 0;
}

/* the GEN the host's symlink points at, or "" */
static void current_gen(const char *store, const char *dir, char *gen, size_t genlen)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	const char *slash;

	gen[0] = '\0';
	mc_pathf(link, sizeof link, "%s/certs/%s", store, dir);
	n = readlink(link, target, sizeof target - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	slash = strrchr(target, '/');
	mc_pathf(gen, genlen, "%s", slash ? slash + 1 : target);
}

/*
 * Files outside certs/ and versions/ that name generations: mailcert-milter
 * gives the MTAs resolved version paths (STORE/versions/HOST/GEN/cert.pem),
 * and they read them again at every reload, whether the plugin runs or not.
 */
static const char *const gen_referrers[] = {
	"run/default.pem",              /* symlink: Postfix's and Sendmail's default */
	"postfix/sni",                  /* the SNI table source */
	"postfix/sni.new",              /* ...while mailcert-milter rebuilds it */
	"dovecot/mailcert.conf",        /* the Dovecot include */
};
#define GEN_REFERRER_MAX (256 * 1024 * 1024)

static void refs_add_link(const char *path, mc_buf *refs)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof target);

	if (n > 0) {
		mc_buf_append(refs, target, (size_t)n);
		mc_buf_puts(refs, "\n");
	}
}

/* what names generations, in one text: the referrers' contents and link
 * targets, and any links in run/kept/; -1 when a referrer exists but could
 * not be read */
static int gen_refs(const char *store, mc_buf *refs)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t i;
	int rc = 0;
	DIR *d;

	for (i = 0; i < sizeof gen_referrers / sizeof gen_referrers[0]; i++) {
		struct stat st;
		mc_err e;

		mc_pathf(path, sizeof path, "%s/%s", store, gen_referrers[i]);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode))
			refs_add_link(path, refs);
		else if (S_ISREG(st.st_mode) && mc_file_read(path, GEN_REFERRER_MAX, refs, &e) < 0) {
			mc_warn("%s; keeping every old version", e.msg);
			rc = -1;
		}
		mc_buf_puts(refs, "\n");
	}
	mc_pathf(path, sizeof path, "%s/run/kept", store);
	d = opendir(path);
	while (d && (de = readdir(d)) != NULL) {
		char sub[PATH_MAX];

		mc_pathf(sub, sizeof sub, "%s/%s", path, de->d_name);
		refs_add_link(sub, refs);
	}
	if (d)
		closedir(d);
	return rc;
}

/* does REFS name STORE/versions/DIR/GEN? (a referrer we could not read
 * names everything: pruning can wait, a dangling MTA file cannot) */
static int gen_referenced(const mc_buf *refs, int unreadable, const char *dir, const char *gen)
{
	char needle[PATH_MAX];
	size_t n;

	if (unreadable)
		return 1;
	n = (size_t)snprintf(needle, sizeof needle, "/versions/%s/%s/", dir, gen);
	return refs->data && n < sizeof needle && memmem(refs->data, refs->len, needle, n) != NULL;
}

/*
 * Remove versions other than KEEP1 and KEEP2 (the new and the previous set)
 * and the ones the MTAs were given (gen_referrers): those go at a later
 * install, once mailcert-milter has moved on.
 */
static void prune(const char *store, const char *dir, const char *keep1, const char *keep2)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct dirent *de;
	mc_buf refs;
	int have_refs = 0, unreadable = 0;
	DIR *d;

	mc_pathf(path, sizeof path, "%s/versions/%s", store, dir);
	d = opendir(path);
	if (!d)
		return;
	mc_buf_init(&refs);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, keep1) == 0 ||
		    strcmp(de->d_name, keep2) == 0)
			continue;
		if (!have_refs) {
			/* read only when there is something to prune */
			unreadable = gen_refs(store, &refs) < 0;
			have_refs = 1;
		}
		if (gen_referenced(&refs, unreadable, dir, de->d_name)) {
			mc_debug("%s: keeping version %s: the MTAs were given it", dir, de->d_name);
			continue;
		}
		mc_pathf(sub, sizeof sub, "%s/%s", path, de->d_name);
		mc_rmdir_files(sub);
	}
	closedir(d);
	mc_buf_free(&refs);
}

static int write_set(int dfd, EVP_PKEY *key, STACK_OF(X509) *chain, const mc_state *state,
		     mc_err *e)
{
	mc_buf keypem, certpem, full, auth;
	gid_t gid = mc_group_gid();
	json_t *j = mc_state_to_json(state);
	char *json = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	int i, rc = -1;

	mc_buf_init(&keypem);
	mc_buf_init(&certpem);
	mc_buf_init(&full);
	mc_buf_init(&auth);
	mc_pem_append_key(&keypem, key);
	for (i = 0; i < sk_X509_num(chain); i++) {
		mc_pem_append_cert(&full, sk_X509_value(chain, i));
		if (i > 0)
			mc_pem_append_cert(&auth, sk_X509_value(chain, i));
	}
	mc_buf_append(&certpem, keypem.data, keypem.len);
	mc_buf_append(&certpem, full.data, full.len);
	json_decref(j);
	if (mc_file_write_new_at(dfd, "key.pem", keypem.data, keypem.len, 0640, gid, e) == 0 &&
	    mc_file_write_new_at(dfd, "cert.pem", certpem.data, certpem.len, 0640, gid, e) == 0 &&
	    mc_file_write_new_at(dfd, "fullchain.pem", full.data, full.len, 0644, (gid_t)-1, e) == 0 &&
	    mc_file_write_new_at(dfd, "cert_auth.pem", auth.data ? auth.data : "", auth.len, 0644,
				 (gid_t)-1, e) == 0 &&
	    mc_file_write_new_at(dfd, "state.json", json, strlen(json), 0644, (gid_t)-1, e) == 0)
		rc = 0;
	free(json);
	mc_buf_cleanse(&keypem);
	mc_buf_cleanse(&certpem);
	mc_buf_free(&full);
	mc_buf_free(&auth);
	if (rc == 0 && fsync(dfd) < 0)
		rc = mc_err_set(e, "fsync: %s", strerror(errno));
	return rc;
}

int mc_store_install(const char *store, const char *dir, EVP_PKEY *key, STACK_OF(X509) *chain,
		     char *const *names, size_t nnames, const mc_state *state, mc_err *e)
{
	char gen[128], old[128], path[PATH_MAX], spki[65];
	mc_state cur, merged;
	size_t i;
	int dfd, rc;

	if (mc_certset_check(key, chain, names, nnames, mc_now(), e) < 0)
		return mc_err_prefix(e, "refusing the new certificate");
	if (mc_store_prepare(store, e) < 0)
		return -1;
	/* a key revoked as compromised (mailcert revoke) never comes back, whoever offers it;
	 * and the list of such keys outlives every set */
	mc_state_init(&cur);
	mc_store_state_load(store, dir, &cur, NULL);
	merged = *state;
	merged.key_compromised = NULL;
	for (i = 0; state->key_compromised && state->key_compromised[i]; i++)
		mc_state_add_key_compromised(&merged, state->key_compromised[i]);
	for (i = 0; cur.key_compromised && cur.key_compromised[i]; i++)
		mc_state_add_key_compromised(&merged, cur.key_compromised[i]);
	mc_state_free(&cur);
	if (mc_key_spki_sha256(key, spki) < 0 || mc_state_key_compromised(&merged, spki)) {
		mc_strv_free(merged.key_compromised);
		return mc_err_set(e, "refusing the new certificate: its key (SPKI SHA-256 %s) was revoked as "
				  "compromised and is never used again for %s", spki, dir);
	}
	state = &merged;
	current_gen(store, dir, old, sizeof old);
	if (new_version(store, dir, gen, sizeof gen, path, sizeof path, e) < 0) {
		mc_strv_free(merged.key_compromised);
		return -1;
	}
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = mc_err_set(e, "open %s: %s", path, strerror(errno));
	} else {
		rc = write_set(dfd, key, chain, state, e);
		close(dfd);
	}
	if (rc == 0)
		rc = mc_fsync_dir(path, e);
	if (rc == 0)
		rc = publish(store, dir, gen, e);
	mc_strv_free(merged.key_compromised);
	if (rc < 0) {
		/* publish failed before its rename: the published set was never
		 * touched and nothing points at the half-made one; drop it */
		mc_rmdir_files(path);
		return mc_err_prefix(e, "installing the certificate for %s", dir);
	}
	prune(store, dir, gen, old);
	return 0;
}

int mc_store_has_cert(const char *store, const char *dir)
{
	char path[PATH_MAX];

	mc_store_path(store, dir, "cert.pem", path, sizeof path);
	return access(path, F_OK) == 0;
}

int mc_store_load(const char *store, const char *dir, EVP_PKEY **key, STACK_OF(X509) **chain,
		  mc_err *e)
{
	char path[PATH_MAX];
	mc_buf b;
	int rc;

	mc_buf_init(&b);
	mc_store_path(store, dir, "cert.pem", path, sizeof path);
	rc = mc_file_read_private(path, MC_STORE_FILE_MAX, &b, e);
	if (rc == 0 && mc_pem_read_key(b.data, b.len, key, e) < 0)
		rc = mc_err_prefix(e, "%s", path);
	if (rc == 0 && mc_pem_read_certs(b.data, b.len, chain, e) < 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
		rc = mc_err_prefix(e, "%s", path);
	}
	mc_buf_cleanse(&b);
	return rc;
}

int mc_store_state_load(const char *store, const char *dir, mc_state *s, mc_err *e)
{
	char path[PATH_MAX];

	mc_store_path(store, dir, "state.json", path, sizeof path);
	return mc_state_load(path, s, e);
}

int mc_store_state_save(const char *store, const char *dir, const mc_state *s, mc_err *e)
{
	char gen[128], path[PATH_MAX];
	json_t *j = mc_state_to_json(s);
	char *json = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rc;

	json_decref(j);
	if (mc_store_prepare(store, e) < 0) {
		free(json);
		return -1;
	}
	current_gen(store, dir, gen, sizeof gen);
	if (!gen[0]) {
		/* no set yet: publish one that holds only the state */
		rc = new_version(store, dir, gen, sizeof gen, path, sizeof path, e);
		if (rc == 0)
			rc = mc_file_write_atomic(path, "state.json", json, strlen(json), 0644,
						  (gid_t)-1, e);
		if (rc == 0)
			rc = publish(store, dir, gen, e);
	} else {
		mc_pathf(path, sizeof path, "%s/versions/%s/%s", store, dir, gen);
		rc = mc_file_write_atomic(path, "state.json", json, strlen(json), 0644, (gid_t)-1, e);
	}
	free(json);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **mc_store_list(const char *store)
{
	char path[PATH_MAX], host[MC_HOSTNAME_MAX + 1];
	struct dirent *de;
	size_t n = 0, cap = 16;
	char **v = mc_calloc(cap, sizeof *v);
	DIR *d;

	mc_pathf(path, sizeof path, "%s/certs", store);
	d = opendir(path);
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    mc_hostname_from_dirname(de->d_name, host, sizeof host) < 0)
			continue;
		if (n + 2 > cap) {
			cap *= 2;
			v = mc_realloc(v, cap * sizeof *v);
		}
		v[n++] = mc_strdup(de->d_name);
	}
	if (d)
		closedir(d);
	v[n] = NULL;
	qsort(v, n, sizeof *v, cmp_str);
	return v;
}

static int in_strv(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/*
 * Remove STORE/versions/DIR and everything in it (generation directories hold
 * files only), except generations the MTAs were given (gen_referenced): then
 * nothing more goes now and 0 is returned, so the retired host is kept for a
 * later run.  1 when everything is gone.
 */
static int remove_versions(const char *store, const char *dir)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct dirent *de;
	mc_buf refs;
	int unreadable, kept = 0;
	DIR *d;

	mc_buf_init(&refs);
	unreadable = gen_refs(store, &refs) < 0;
	mc_pathf(path, sizeof path, "%s/versions/%s", store, dir);
	d = opendir(path);
	if (!d) {
		mc_buf_free(&refs);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (gen_referenced(&refs, unreadable, dir, de->d_name)) {
			kept = 1;
			continue;
		}
		mc_pathf(sub, sizeof sub, "%s/%s", path, de->d_name);
		if (mc_rmdir_files(sub) < 0)
			unlink(sub);
	}
	closedir(d);
	mc_buf_free(&refs);
	if (kept) {
		mc_info("%s: keeping a retired version the MTAs were given; it goes at a later run", dir);
		return 0;
	}
	rmdir(path);
	return 1;
}

/* forget retired hosts whose grace period is over, or that are configured again */
static void retired_prune(const char *store, char *const *dirs, size_t ndirs, time_t now)
{
	char path[PATH_MAX], link[PATH_MAX], note[PATH_MAX], host[MC_HOSTNAME_MAX + 1];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	mc_pathf(path, sizeof path, "%s/retired", store);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || mc_hostname_from_dirname(de->d_name, host, sizeof host) < 0)
			continue;
		mc_pathf(link, sizeof link, "%s/%s", path, de->d_name);
		mc_pathf(note, sizeof note, "%s/.%s.retired", path, de->d_name);
		if (in_strv(dirs, ndirs, de->d_name)) {
			/* configured again: its versions are its own again */
			unlink(link);
			unlink(note);
			continue;
		}
		if (stat(note, &sb) == 0 && now - sb.st_mtime < (time_t)MC_STORE_RETIRE_DAYS * 86400)
			continue;
		if (!remove_versions(store, de->d_name))
			continue;
		mc_info("%s: retired more than %d days ago: its files are removed", de->d_name,
			MC_STORE_RETIRE_DAYS);
		unlink(link);
		unlink(note);
	}
	closedir(d);
}

int mc_store_retire(const char *store, char *const *dirs, size_t ndirs, time_t now, mc_err *e)
{
	char **list = mc_store_list(store);
	char retired[PATH_MAX], from[PATH_MAX], to[PATH_MAX], note[PATH_MAX], t[MC_TIMEFMT_LEN];
	struct timeval tv[2];
	int fd, lock, n = 0, broke;
	size_t i;

	mc_pathf(retired, sizeof retired, "%s/retired", store);
	for (i = 0; list[i]; i++) {
		if (in_strv(dirs, ndirs, list[i]))
			continue;
		if (mc_mkdir_p(retired, 0755, e) < 0) {
			mc_strv_free(list);
			return -1;
		}
		lock = mc_store_lock_host(store, list[i], e);
		if (lock < 0)
			break;
		mc_pathf(from, sizeof from, "%s/certs/%s", store, list[i]);
		mc_pathf(to, sizeof to, "%s/%s", retired, list[i]);
		mc_pathf(note, sizeof note, "%s/.%s.retired", retired, list[i]);
		/* the note's time is when the grace period started */
		fd = open(note, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0) {
			tv[0].tv_sec = tv[1].tv_sec = now;
			tv[0].tv_usec = tv[1].tv_usec = 0;
			futimes(fd, tv);
			close(fd);
		}
		if (rename(from, to) < 0) {
			mc_err_set(e, "retire %s: %s", from, strerror(errno));
			mc_store_unlock(lock);
			break;
		}
		mc_store_unlock(lock);
		mc_time_format(now + (time_t)MC_STORE_RETIRE_DAYS * 86400, t);
		mc_info("%s: no longer in the configuration: taken out of %s/certs (its files stay in "
			"%s/versions/%s until %s)", list[i], store, store, list[i], t);
		n++;
	}
	broke = list[i] != NULL;
	mc_strv_free(list);
	if (broke)
		return -1;
	if (n)
		mc_fsync_dir(retired, NULL);
	retired_prune(store, dirs, ndirs, now);
	return n;
}

/* true when the temporary NAME (".NAME.tmp.PID") belongs to a process still running */
static int writer_alive(const char *name)
{
	const char *dot = strrchr(name, '.');
	char *end;
	long pid;

	if (!dot)
		return 0;
	pid = strtol(dot + 1, &end, 10);
	return !*end && pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* remove the temporaries (".NAME.tmp.PID", ".HOST.new.PID") directly in PATH; with
 * LIVE_TOO 0, only those whose writer is gone (a folder others write in at the
 * same time) */
static void sweep_dir_of(const char *path, int live_too)
{
	struct dirent *de;
	DIR *d = opendir(path);

	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (strstr(de->d_name, ".tmp.") || strstr(de->d_name, ".new.")) &&
		    (live_too || !writer_alive(de->d_name)) && unlinkat(dirfd(d), de->d_name, 0) == 0)
			mc_info("removed %s/%s, left by an interrupted run", path, de->d_name);
	}
	if (d)
		closedir(d);
}

static void sweep_dir(const char *path)
{
	sweep_dir_of(path, 1);
}

/* PARENT's subdirectories, and theirs when DEPTH is 2 */
static void sweep_tree(const char *parent, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(parent);

	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		mc_pathf(path, sizeof path, "%s/%s", parent, de->d_name);
		if (depth > 1)
			sweep_tree(path, depth - 1);
		else
			sweep_dir(path);
	}
	if (d)
		closedir(d);
}

void mc_store_sweep(const char *store)
{
	char path[PATH_MAX];

	mc_pathf(path, sizeof path, "%s/certs", store);
	sweep_dir(path);
	mc_pathf(path, sizeof path, "%s/versions", store);
	sweep_tree(path, 2);
	mc_pathf(path, sizeof path, "%s/accounts", store);
	sweep_tree(path, 1);
	/* run/: mailcert-milter writes there too (milter.json, the metrics file) */
	mc_pathf(path, sizeof path, "%s/run", store);
	sweep_dir_of(path, 0);
}
