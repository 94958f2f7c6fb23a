/*
 * mailcert - the helper: ACME client, certificate store writer, operator CLI.
 *
 * main() parses the command line, loads the configuration and hands over to
 * the module for the subcommand; only main decides the exit status.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "conf.h"
#include "csr.h"
#include "daemon.h"
#include "dane.h"
#include "http.h"
#include "import.h"
#include "issue.h"
#include "mtaconf.h"
#include "log.h"
#include "status.h"
#include "store.h"
#include "trust.h"

#define DEFAULT_JOBS 10

static const char *config_file;
static int verbose;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailcert [-c FILE] [-v] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  check                             validate the configuration\n"
		"  issue [--force] [-j N] [HOST...]  obtain certificates now\n"
		"  renew [-j N] [HOST...]            renew the hosts that are due (for cron)\n"
		"  retry HOST...                     clear the backoff and try again now\n"
		"  run [-f] [-j N]                   the renewal daemon (-f: foreground, log to stderr)\n"
		"  status [--json] [--only-errors] [HOST...]\n"
		"  self-signed HOST                  install a self-signed certificate\n"
		"  import HOST FILE... [--password-file F] [--fetch-intermediates]\n"
		"                                    install a certificate from elsewhere (source manual)\n"
		"  csr HOST [--key-type T] [--new-key]\n"
		"                                    make a pending key, print a CSR for another CA\n"
		"  install HOST FILE...              activate the CA's certificate for that pending key\n"
		"  tlsa HOST                         TLSA 3 1 1 records of the installed and the next key\n"
		"  revoke HOST [--reason R]          revoke the host's certificate (R: unspecified, keyCompromise,\n"
		"                                    superseded, cessationOfOperation, affiliationChanged)\n"
		"  account [--json]                  show the ACME account of the configured directory\n"
		"  account rollover                  change the account key (RFC 8555 7.3.5)\n"
		"  account deactivate [--yes]        deactivate the account (asks first)\n"
		"  trust add HOST[:PORT] [--host DEST] [--yes]\n"
		"  trust add FILE --host DEST [--yes]\n"
		"                                    trust a peer's (self-signed) certificate for outgoing\n"
		"                                    mail: a Postfix smtp_tls_policy_maps entry (asks first)\n"
		"  trust list                        the trusted peers\n"
		"  trust remove DEST                 stop trusting DEST's certificate\n"
		"\n"
		"options:\n"
		"  -c, --config FILE   configuration (default %s)\n"
		"  -v, --verbose       more detail in the log\n"
		"  -h, --help          this text\n"
		"      --version       print the version\n",
		mc_config_default_path());
}

static mc_config *load_config(int *exit_code)
{
	mc_config *cfg = NULL;
	mc_err e;

	if (mc_config_load(config_file, &cfg, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		*exit_code = MC_EX_CONFIG;
		return NULL;
	}
	return cfg;
}

/* what is valid but cannot work as configured: said, not refused; what stops an
 * MTA from starting: said as an error (cmd_check fails).  The number of errors */
static size_t check_warnings(const mc_config *cfg)
{
	const mc_host *first = NULL;
	char **problems, **fatal;
	size_t i, nacme = 0, nfatal = 0;

	for (i = 0; i < cfg->nhosts; i++)
		if (cfg->hosts[i].source == MC_SRC_ACME && nacme++ == 0)
			first = &cfg->hosts[i];
	problems = mc_mtaconf_check(cfg, &fatal);
	for (i = 0; fatal && fatal[i]; i++, nfatal++)
		fprintf(stderr, "%s: error: %s\n", config_file, fatal[i]);
	for (i = 0; problems && problems[i]; i++)
		fprintf(stderr, "%s: warning: %s\n", config_file, problems[i]);
	mc_strv_free(fatal);
	mc_strv_free(problems);
	if (first && !cfg->acme_agree_tos)
		fprintf(stderr,
			"%s: warning: acme.agree_tos is false: no certificate can be ordered for the %zu "
			"host(s) with source \"acme\" (first: %s, at %s) until it is set to true\n",
			config_file, nacme, first->name, first->where);
	return nfatal;
}

static int cmd_check(int argc, char **argv)
{
	int rc = 0;
	mc_config *cfg;

	if (argc > 1) {
		usage(stderr);
		return MC_EX_USAGE;
	}
	cfg = load_config(&rc);
	if (!cfg)
		return rc;
	printf("configuration %s OK\n", config_file);
	if (check_warnings(cfg) > 0) {
		/* mailcert's own file is valid; an MTA's, as wired, is not */
		fprintf(stderr, "%s: an MTA does not start with its configuration as it is (see the "
				"errors above)\n", config_file);
		rc = MC_EX_CONFIG;
	}
	mc_config_free(cfg);
	return rc;
}

static int parse_jobs(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < 1 || v > 256)
		return -1;
	return (int)v;
}

/* issue, renew and retry differ only in flags */
static int cmd_issue_like(int argc, char **argv, int flags, int need_hosts)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "jobs", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c, jobs = DEFAULT_JOBS, rc = 0, failed;
	mc_config *cfg;
	mc_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fj:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(argv[0], "issue") != 0) {
				usage(stderr);
				return MC_EX_USAGE;
			}
			flags |= MC_ISSUE_FORCE;
			break;
		case 'j':
			jobs = parse_jobs(optarg);
			if (jobs < 0) {
				fprintf(stderr, "mailcert: --jobs wants a number from 1 to 256\n");
				return MC_EX_USAGE;
			}
			break;
		default:
			usage(stderr);
			return MC_EX_USAGE;
		}
	}
	if (need_hosts && optind >= argc) {
		fprintf(stderr, "mailcert: %s needs at least one HOST\n", argv[0]);
		return MC_EX_USAGE;
	}
	cfg = load_config(&rc);
	if (!cfg)
		return rc;
	if (mc_http_global_init(&e) < 0) {
		fprintf(stderr, "mailcert: %s\n", e.msg);
		mc_config_free(cfg);
		return 1;
	}
	if (need_hosts) {
		/* retry: clear the backoff of the named hosts first */
		int i;
		for (i = optind; i < argc; i++) {
			mc_host *h = mc_config_find_host(cfg, argv[i]);
			mc_state st;
			int lock;

			if (!h || mc_store_prepare(cfg->store, &e) < 0)
				continue;
			lock = mc_store_lock_host(cfg->store, h->dir, &e);
			if (lock < 0)
				continue;
			if (mc_store_state_load(cfg->store, h->dir, &st, NULL) == 0) {
				st.next_retry_time = 0;
				mc_store_state_save(cfg->store, h->dir, &st, NULL);
			}
			mc_state_free(&st);
			mc_store_unlock(lock);
		}
	}
	failed = mc_issue_run(cfg, optind < argc ? argv + optind : NULL, argc - optind, flags, jobs);
	mc_http_global_cleanup();
	mc_config_free(cfg);
	return failed ? 1 : 0;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "only-errors", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	int c, flags = 0, rc = 0;
	mc_config *cfg;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'J')
			flags |= MC_STATUS_JSON;
		else if (c == 'E')
			flags |= MC_STATUS_ONLY_ERRORS;
		else {
			usage(stderr);
			return MC_EX_USAGE;
		}
	}
	cfg = load_config(&rc);
	if (!cfg)
		return rc;
	for (c = optind; c < argc; c++)
		if (!mc_config_find_host(cfg, argv[c])) {
			fprintf(stderr, "mailcert: %s: not a configured host\n", argv[c]);
			mc_config_free(cfg);
			return MC_EX_USAGE;
		}
	/* which file: a build for another prefix reads another one */
	if (!(flags & MC_STATUS_JSON))
		printf("configuration %s\n", config_file);
	rc = mc_status(cfg, optind < argc ? argv + optind : NULL, argc - optind, flags);
	mc_config_free(cfg);
	return rc;
}

static int cmd_self_signed(int argc, char **argv)
{
	int rc = 0;
	mc_config *cfg;

	if (argc != 2) {
		usage(stderr);
		return MC_EX_USAGE;
	}
	cfg = load_config(&rc);
	if (!cfg)
		return rc;
	if (!mc_config_find_host(cfg, argv[1])) {
		fprintf(stderr, "mailcert: %s: not a configured host\n", argv[1]);
		mc_config_free(cfg);
		return MC_EX_USAGE;
	}
	rc = mc_issue_run(cfg, argv + 1, 1, MC_ISSUE_FORCE | MC_ISSUE_SELFSIGNED, 1);
	mc_config_free(cfg);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int c;

	config_file = mc_config_default_path();
	while ((c = getopt_long(argc, argv, "+c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_file = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mailcert %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return MC_EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return MC_EX_USAGE;
	}
	mc_log_init("mailcert", 1, verbose);
	/* a peer that went away is an error to report, not a reason to die;
	 * and an inherited "ignore SIGCHLD" would hide our children's exit status */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc, argv);
	if (strcmp(cmd, "issue") == 0)
		return cmd_issue_like(argc, argv, 0, 0);
	if (strcmp(cmd, "renew") == 0)
		return cmd_issue_like(argc, argv, MC_ISSUE_DUE_ONLY, 0);
	if (strcmp(cmd, "retry") == 0)
		return cmd_issue_like(argc, argv, MC_ISSUE_RETRY, 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc, argv);
	if (strcmp(cmd, "run") == 0)
		return mc_daemon_main(config_file, argc, argv, verbose);
	if (strcmp(cmd, "self-signed") == 0)
		return cmd_self_signed(argc, argv);
	if (strcmp(cmd, "import") == 0)
		return mc_import_main(config_file, argc, argv);
	if (strcmp(cmd, "install") == 0)
		return mc_install_main(config_file, argc, argv);
	if (strcmp(cmd, "csr") == 0)
		return mc_csr_main(config_file, argc, argv);
	if (strcmp(cmd, "tlsa") == 0)
		return mc_tlsa_main(config_file, argc, argv);
	if (strcmp(cmd, "account") == 0)
		return mc_account_main(config_file, argc, argv);
	if (strcmp(cmd, "revoke") == 0)
		return mc_revoke_main(config_file, argc, argv);
	if (strcmp(cmd, "trust") == 0)
		return mc_trust_main(config_file, argc, argv);
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mailcert: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return MC_EX_USAGE;
}
