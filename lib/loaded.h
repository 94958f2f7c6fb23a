/*
 * loaded - what mailcert-milter has loaded into the MTAs, for `mailcert status`.
 *
 * mailcert-milter keeps STORE/run/milter.json (0644, written atomically,
 * STORE/run is 0755).  Nothing in it is secret.  Its shape:
 *
 *   {
 *     "version": 1,
 *     "pid": 1234,
 *     "started": "2026-11-22T10:00:00Z",
 *     "updated": "2026-11-22T10:00:02Z",
 *     "default_host": "mail.example.com",          (host directory; null: none)
 *     "hosts": {
 *       "mail.example.com": {                       (keyed by store directory name)
 *         "names": ["mail.example.com", "smtp.example.com"],   (the leaf's DNS SANs)
 *         "serial": "03a1...",                      (the set the MTAs are given; null: none)
 *         "gen": "1763805600.123456.42.0",          (its STORE/versions/HOST/GEN, or null)
 *         "file": "/var/lib/mailcert/versions/mail.example.com/GEN/cert.pem",
 *         "not_after": "2027-02-20T10:00:00Z",
 *         "loaded": {"postfix": "RFC 3339" | null,  (when that set went live in the MTA)
 *                    "dovecot": ..., "sendmail": ..., "exim": ...},   (only the enabled MTAs)
 *         "load_error": "why the current store set was refused" | null,
 *         "load_error_time": "RFC 3339" | null,
 *         "served": [                               (the last served check, for this set
 *           {"listener": "postfix smtpd 127.0.0.1:25",  only; [] when none)
 *            "name": "mail.example.com" | null,     (the SNI name; null: without SNI)
 *            "result": "ok" | "mismatch" | "unreachable" | "no-tls" | "expired" |
 *                      "not-yet-valid" | "wrong-name",
 *            "serial": "03a1..." | null,            (the leaf served)
 *            "sha256": "hex of its DER" | null,
 *            "expected_serial": "03a1...",          (the loaded set's leaf)
 *            "detail": "why not ok" | null,
 *            "time": "RFC 3339",                  (when that probe was made)
 *            "not_before": T | null, "not_after": T | null}   (the leaf served)
 *         ]
 *       }
 *     },
 *     "served": {"time": T, "listeners": ["postfix smtpd 127.0.0.1:25", ...],
 *                "skipped": 0, "errors": ["..."]} | null,   (the last served check)
 *     "mta": {
 *       "postfix": {"last_reload": T|null, "last_error": "..."|null,
 *                   "last_error_time": T|null, "failures": 0, "next_retry": T|null,
 *                   "instance": "/etc/postfix"}    (postfix_config_dir, dovecot_config,
 *     },                                            sendmail_pid_file or exim_config)
 *     "listeners_since": "RFC 3339",
 *     "listeners": {                                (milter counts, per {daemon_name}/{daemon_addr})
 *       "smtpd/127.0.0.1": {"sessions": 10, "tls_sessions": 7,
 *                           "tls_versions": {"TLSv1.3": 7},
 *                           "ciphers": {"TLS_AES_256_GCM_SHA384": 7}}
 *     }
 *   }
 */
#ifndef MC_LOADED_H
#define MC_LOADED_H

#include <time.h>

#include <jansson.h>

#define MC_LOADED_FILE "milter.json"

/* STORE/run/milter.json, or NULL when it is missing or unreadable */
json_t *mc_loaded_read(const char *store);

/*
 * Add to HOST_OBJ (one host of `mailcert status --json`):
 *   "loaded": {"postfix": T|null, "dovecot": T|null[, "sendmail": T|null][, "exim": T|null]}
 *             - null when the host's current set (HOST_OBJ's "serial", when it
 *             has one) is not the one loaded;
 *   "loaded_serial": the serial the MTAs are serving for it, or null;
 *   "load_error", "load_error_time": the milter's refusal of the current set, or null.
 * LOADED_DOC may be NULL (no milter running): everything is null.
 */
void mc_loaded_annotate(json_t *host_obj, json_t *loaded_doc, const char *hostdir);

/*
 * After mc_loaded_annotate: what the listeners serve for HOST_OBJ's set (its
 * "served" array): "-" when nothing was checked, "ok" when every probe found
 * the loaded leaf, valid for the name asked, else the first problem's result
 * ("mismatch", "unreachable", "no-tls", "expired", "not-yet-valid",
 * "wrong-name").  A probe found ok whose leaf's validity ("not_before",
 * "not_after") does not hold at NOW is "expired" or "not-yet-valid" now (the
 * entry in HOST_OBJ is changed to say so).  With PROBLEMS, a sentence per
 * problem is appended to that NULL-terminated list (free with mc_strv_free).
 */
const char *mc_loaded_served(json_t *host_obj, char ***problems, time_t now);

/* the sentence for one "served" entry that is not ok ("HOST: LISTENER serves an
 * expired certificate for NAME: DETAIL"); free it */
char *mc_loaded_problem_text(const char *host, json_t *entry);

/*
 * The last served check per listener, for `status`: {"time": T|null (the round),
 * "listeners": [{"listener": "postfix smtpd 127.0.0.1:25", "probed": T|null (its
 * latest probe of a current set), "result": "ok"|...|null (the worst of them)}]}.
 */
json_t *mc_loaded_probes(json_t *loaded_doc);
/* the served check's own failures (a listener list it could not get) into PROBLEMS */
void mc_loaded_served_errors(json_t *loaded_doc, char ***problems);

/* a new reference to the "listeners" object (an empty object when absent) */
json_t *mc_loaded_listeners(json_t *loaded_doc);

/*
 * Whether the mailcert-milter that wrote LOADED_DOC is still running: its "pid" is
 * alive and (where /proc tells) is a mailcert-milter.  NULL doc: never ran.
 */
int mc_loaded_milter_running(json_t *loaded_doc);

/* the "milter" object of `status --json`: {"running": b, "pid": n|null, "updated": T|null} */
json_t *mc_loaded_milter_json(json_t *loaded_doc, int running);

/* what mc_loaded_judge found */
enum {
	MC_LOAD_NONE,    /* nothing to load: no certificate, or no MTA enabled */
	MC_LOAD_OK,      /* the current set is live in every enabled MTA */
	MC_LOAD_PENDING, /* just installed, the plugin has not loaded it yet: not an error */
	MC_LOAD_ERROR    /* refused, a reload is failing, the plugin is not running, or
			    the set was installed long ago and is still not loaded */
};

/* how long a newly installed set may wait for the plugin before status calls it an error */
#define MC_LOAD_GRACE_S 120

/* the MTAs milter.json reports on, in this order: postfix, dovecot, sendmail, exim */
#define MC_LOADED_MTAS 4
#define MC_LOADED_SENDMAIL 2

/*
 * After mc_loaded_annotate: is HOST_OBJ's current set really live in every enabled
 * MTA (ENABLED indexed postfix, dovecot, sendmail, exim; Sendmail only counts for the
 * default host, IS_DEFAULT)?  When it is not because of a problem, "load_error" and
 * "load_error_time" are filled in with the reason (a failing reload and since when,
 * or the plugin not running).  INSTALLED: when the set was installed (0: unknown).
 */
int mc_loaded_judge(json_t *host_obj, json_t *loaded_doc, const int enabled[MC_LOADED_MTAS], int is_default,
		    int running, time_t installed, time_t now);

#endif
