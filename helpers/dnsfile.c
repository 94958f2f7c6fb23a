/*
 * dnsfile - the dns-01 records of this run, written to dns01.challenge_file.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnsfile.h"
#include "fsutil.h"
#include "xalloc.h"

struct rec {
	char *name;
	char *value;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *recs;
static size_t nrecs, caprecs;

static const char header[] =
	"# dns-01 records mailcert needs published now (its dns01.challenge_file).\n"
	"# One record a line: NAME TYPE \"VALUE\". Publish every record listed; remove any\n"
	"# record you published that is no longer listed. The file is rewritten whole\n"
	"# (rename) at each change and removed when no record is pending.\n";

/* write PATH from RECS, or remove it when there are none; called under LOCK */
static int rewrite(const char *path, mc_err *e)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	struct stat st;
	mc_buf b;
	size_t i;
	int rc;

	if (!slash || !slash[1])
		return mc_err_set(e, "dns01.challenge_file %s: not an absolute path to a file", path);
	dir = slash == path ? mc_strdup("/") : mc_strndup(path, (size_t)(slash - path));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = mc_err_set(e, "dns01.challenge_file %s: the directory %s %s", path, dir,
				errno == ENOENT ? "does not exist" : "is not a usable directory");
		free(dir);
		return rc;
	}
	if (nrecs == 0) {
		rc = 0;
		if (unlink(path) < 0 && errno != ENOENT)
			rc = mc_err_set(e, "dns01.challenge_file: removing %s: %s", path, strerror(errno));
		free(dir);
		return rc;
	}
	mc_buf_init(&b);
	mc_buf_puts(&b, header);
	for (i = 0; i < nrecs; i++)
		mc_buf_printf(&b, "%s TXT \"%s\"\n", recs[i].name, recs[i].value);
	rc = mc_file_write_atomic(dir, slash + 1, b.data, b.len, 0644, (gid_t)-1, e);
	if (rc < 0)
		mc_err_prefix(e, "dns01.challenge_file");
	mc_buf_free(&b);
	free(dir);
	return rc;
}

int mc_dnsfile_add(const char *path, const char *txt_name, const char *txt_value, mc_err *e)
{
	int rc;

	pthread_mutex_lock(&lock);
	if (nrecs == caprecs) {
		caprecs = caprecs ? 2 * caprecs : 8;
		recs = mc_realloc(recs, caprecs * sizeof *recs);
	}
	recs[nrecs].name = mc_strdup(txt_name);
	recs[nrecs].value = mc_strdup(txt_value);
	nrecs++;
	rc = rewrite(path, e);
	if (rc < 0) { /* not written: not pending either */
		nrecs--;
		free(recs[nrecs].name);
		free(recs[nrecs].value);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int mc_dnsfile_remove(const char *path, const char *txt_name, const char *txt_value, mc_err *e)
{
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nrecs; i++)
		if (strcmp(recs[i].name, txt_name) == 0 && strcmp(recs[i].value, txt_value) == 0)
			break;
	if (i < nrecs) {
		free(recs[i].name);
		free(recs[i].value);
		memmove(&recs[i], &recs[i + 1], (nrecs - i - 1) * sizeof *recs);
		nrecs--;
		rc = rewrite(path, e);
	}
	if (nrecs == 0) {
		free(recs);
		recs = NULL;
		caprecs = 0;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}
