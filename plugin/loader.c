/*
 * loader - batch, regenerate, reload, back off.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "loader.h"
#include "log.h"
#include "mta.h"
#include "resume.h"
#include "timefmt.h"
#include "xalloc.h"

void loader_init(loader *l, const mc_config *cfg)
{
	memset(l, 0, sizeof *l);
	l->cfg = cfg;
	l->store = cfg->store;
	l->mta[MTA_POSTFIX].enabled = cfg->listen_postfix;
	l->mta[MTA_DOVECOT].enabled = cfg->listen_dovecot;
	l->mta[MTA_SENDMAIL].enabled = cfg->listen_sendmail;
	l->mta[MTA_EXIM].enabled = cfg->listen_exim;
	l->dovecot_version = cfg->listen_dovecot ? dovecot_version() : 203;
}

void loader_free(loader *l)
{
	int m;

	mh_free(&l->hosts);
	for (m = 0; m < MTA_N; m++)
		free(l->mta[m].last_error);
	free(l->link_error);
	json_decref(l->prev);
	l->prev = NULL;
	json_decref(l->served);
	l->served = NULL;
}

void loader_resume(loader *l, json_t *prev)
{
	json_decref(l->prev);
	l->prev = prev;
}

/* the first batch: what the previous run left live and unchanged needs no
 * new files and no reload */
static void resume_mtas(loader *l)
{
	mta_ctx c;
	int m;

	c.store = l->store;
	c.cfg = l->cfg;
	c.hosts = &l->hosts;
	c.def = mh_default(&l->hosts, l->cfg->default_host);
	for (m = 0; m < MTA_N; m++) {
		mta_state *s = &l->mta[m];
		if (!s->enabled || !resume_current(l->prev, &c, m, l->dovecot_version))
			continue;
		if (s->dirty || s->reload)
			mc_info("%s: serving what it served when mailcert-milter last ran; not reloaded",
				mta_names[m]);
		s->dirty = 0;
		s->reload = 0;
		s->last_reload = resume_last_reload(l->prev, m);
	}
	json_decref(l->prev);
	l->prev = NULL;
}

/* seconds to wait after the FAILURES-th consecutive failure */
static long backoff_delay(int failures)
{
	long delay = LOADER_BACKOFF_MIN;
	int k;

	for (k = 1; k < failures && delay < LOADER_BACKOFF_MAX; k++)
		delay *= 2;
	return delay > LOADER_BACKOFF_MAX ? LOADER_BACKOFF_MAX : delay;
}

static void set_error(char **slot, time_t *when, const char *msg, time_t now)
{
	free(*slot);
	*slot = mc_strdup(msg);
	if (when)
		*when = now;
}

/*
 * Point STORE/run/default.pem at the default host's set when that is owed
 * and its backoff has passed.  0 when the link is right; -1 (E says why)
 * while it is still owed: a failure is retried, never taken as done.
 */
static int apply_link(loader *l, const mta_ctx *c, time_t now, mc_err *e)
{
	if (!l->link_owed)
		return 0;
	if (l->link_next_try > now)
		return mc_err_set(e, "%s", l->link_error ? l->link_error : "run/default.pem is owed");
	if (mta_mkdir_run(l->store, e) == 0 && mta_write_default_link(c, e) == 0) {
		l->link_owed = 0;
		l->link_failures = 0;
		l->link_next_try = 0;
		free(l->link_error);
		l->link_error = NULL;
		return 0;
	}
	mc_err_prefix(e, "the default certificate link");
	l->link_failures++;
	l->link_next_try = now + backoff_delay(l->link_failures);
	mc_error("%s (failure %d, retrying in %lds)", e->msg, l->link_failures,
		 (long)(l->link_next_try - now));
	set_error(&l->link_error, NULL, e->msg, now);
	return -1;
}

static int do_mta(loader *l, int m, const mta_ctx *c, mc_err *e)
{
	mta_state *s = &l->mta[m];

	if (l->prepare)
		s->reload = 0; /* --prepare: the files only; the MTA may not run yet */

	switch (m) {
	case MTA_POSTFIX:
		if (s->dirty && postfix_write(c, e) < 0)
			return -1;
		s->dirty = 0;
		return s->reload ? postfix_reload(c, e) : 0;
	case MTA_DOVECOT:
		if (s->dirty && dovecot_write(c, l->dovecot_version, e) < 0)
			return -1;
		s->dirty = 0;
		return s->reload ? dovecot_reload(c, e) : 0;
	case MTA_EXIM:
		/* the next handshake reads the new file: there is no reload,
		 * but what is served changed as after one */
		if (s->dirty) {
			if (exim_write(c, e) < 0)
				return -1;
			l->reloads++;
		}
		s->dirty = 0;
		s->reload = 0;
		return 0;
	default:
		s->dirty = 0;
		return s->reload ? sendmail_reload(c, e) : 0;
	}
}

static void mark_loaded(loader *l, int m, time_t now)
{
	size_t i;

	for (i = 0; i < l->hosts.n; i++) {
		mh_host *h = &l->hosts.v[i];
		if (!(h->pending & (1u << m)))
			continue;
		h->pending &= ~(1u << m);
		/* Sendmail serves only the default host */
		if (m != MTA_SENDMAIL || strcmp(h->dir, l->def_dir) == 0)
			h->loaded[m] = now;
	}
}

int loader_apply(loader *l, time_t now)
{
	mta_ctx c;
	mc_err e, le;
	int m, rc = 0, link_rc;
	long long t0;

	c.store = l->store;
	c.cfg = l->cfg;
	c.hosts = &l->hosts;
	c.def = mh_default(&l->hosts, l->cfg->default_host);
	link_rc = apply_link(l, &c, now, &le);
	if (link_rc < 0)
		rc = -1;
	for (m = 0; m < MTA_N; m++) {
		mta_state *s = &l->mta[m];
		if (!s->enabled || (!s->dirty && !s->reload))
			continue;
		if (s->next_try > now) {
			rc = -1;
			continue;
		}
		if (link_rc < 0 && m != MTA_DOVECOT) {
			/* Postfix, Sendmail and Exim read run/default.pem: loading
			 * now would load a stale default; they stay owed and go
			 * with the link */
			s->next_try = l->link_next_try;
			set_error(&s->last_error, &s->last_error_time, le.msg, now);
			continue;
		}
		t0 = (long long)mc_mono_ms();
		if (do_mta(l, m, &c, &e) == 0) {
			if (s->reload) {
				mc_info("%s reloaded (%lld ms)", mta_names[m], (long long)mc_mono_ms() - t0);
				s->last_reload = now;
				l->reloads++;
			}
			s->reload = 0;
			s->failures = 0;
			s->next_try = 0;
			mark_loaded(l, m, now);
			continue;
		}
		/* keep what is owed; try again later */
		rc = -1;
		s->failures++;
		s->next_try = now + backoff_delay(s->failures);
		mc_error("%s: %s (failure %d, retrying in %lds)", mta_names[m], e.msg, s->failures,
			 (long)(s->next_try - now));
		set_error(&s->last_error, &s->last_error_time, e.msg, now);
	}
	if (rc == 0)
		mh_prune_kept(&l->hosts, l->store);
	return rc;
}

int loader_batch(loader *l, time_t now)
{
	const mh_host *def;
	int changed, m, defchanged, first = !l->hosts.scanned;

	long long t0 = (long long)mc_mono_ms();

	changed = mh_scan(&l->hosts, l->store, now);
	mc_debug("scan of %zu hosts: %lld ms", l->hosts.n, (long long)mc_mono_ms() - t0);
	if (first && l->prev)
		resume_hosts(&l->hosts, l->prev);
	def = mh_default(&l->hosts, l->cfg->default_host);
	defchanged = strcmp(def ? def->dir : "", l->def_dir) != 0 ||
		     strcmp(def ? def->file : "", l->def_file) != 0;
	if (first && !def)
		l->link_owed = 1; /* the stand-in, unless one is there (standin.h) */
	if (defchanged) {
		/* loader_apply makes the link, and keeps it owed until it could */
		l->link_owed = 1;
		l->link_next_try = 0;
		/* Sendmail only needs a restart when what it serves changed */
		if ((changed & MH_CHANGED_SETS) || strcmp(def ? def->dir : "", l->def_dir) != 0)
			l->mta[MTA_SENDMAIL].reload = 1;
		mc_pathf(l->def_dir, sizeof l->def_dir, "%s", def ? def->dir : "");
		mc_pathf(l->def_file, sizeof l->def_file, "%s", def ? def->file : "");
		changed |= MH_CHANGED_PATHS;
	}
	for (m = 0; m < MTA_N; m++) {
		/* the first batch writes every MTA's files even with no set:
		 * they name the stand-in, and their absence stops the MTA */
		if (changed || first)
			l->mta[m].dirty = 1;
		/* Sendmail: below; Exim: rewriting its file is all it takes */
		if ((changed & MH_CHANGED_SETS) && m != MTA_SENDMAIL && m != MTA_EXIM)
			l->mta[m].reload = 1;
	}
	if (def && (def->pending & (1u << MTA_SENDMAIL)))
		l->mta[MTA_SENDMAIL].reload = 1;
	if (first && l->prev)
		resume_mtas(l);
	return loader_apply(l, now);
}

int loader_hurry(loader *l)
{
	int m, waited = 0;

	for (m = 0; m < MTA_N; m++) {
		mta_state *s = &l->mta[m];
		if (s->enabled && (s->dirty || s->reload) && s->next_try) {
			waited = 1;
			s->next_try = 0;
		}
	}
	if (l->link_owed && l->link_next_try) {
		waited = 1;
		l->link_next_try = 0;
	}
	return waited;
}

time_t loader_next_retry(const loader *l)
{
	time_t t = 0;
	int m;

	for (m = 0; m < MTA_N; m++) {
		const mta_state *s = &l->mta[m];
		if (s->enabled && (s->dirty || s->reload) && (t == 0 || s->next_try < t))
			t = s->next_try;
	}
	if (l->link_owed && l->link_next_try && (t == 0 || l->link_next_try < t))
		t = l->link_next_try;
	return t;
}
