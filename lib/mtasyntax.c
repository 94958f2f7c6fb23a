/*
 * mtasyntax - how the installed MTAs spell what mailcert-milter writes.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mtasyntax.h"
#include "spawn.h"
#include "xalloc.h"

#define MTASYNTAX_TIMEOUT_MS 15000

const char *mc_postfix_map_suffix(const char *type)
{
	if (strcmp(type, "lmdb") == 0)
		return ".lmdb";
	if (strcmp(type, "cdb") == 0)
		return ".cdb";
	return ".db";
}

int mc_postfix_map_indexed(const char *type)
{
	static const char *const indexed[] = { "hash", "btree", "lmdb", "cdb", "dbm", "sdbm", NULL };
	size_t i;

	for (i = 0; indexed[i]; i++)
		if (strcmp(type, indexed[i]) == 0)
			return 1;
	return 0;
}

int mc_dovecot_version(int *version, mc_err *e)
{
	const char *argv[] = { "dovecot", "--version", NULL };
	int major, minor;
	mc_buf out;

	mc_buf_init(&out);
	if (mc_spawn((char *const *)argv, NULL, MTASYNTAX_TIMEOUT_MS, &out, e) < 0) {
		mc_buf_free(&out);
		return -1;
	}
	mc_buf_append(&out, "", 1);
	/* bounded widths: major * 100 + minor cannot overflow */
	if (sscanf(out.data, "%3d.%3d", &major, &minor) != 2 || major < 0 || minor < 0 || minor > 99) {
		mc_err_set(e, "dovecot --version said \"%.40s\", not MAJOR.MINOR", out.data);
		mc_buf_free(&out);
		return -1;
	}
	mc_buf_free(&out);
	*version = major * 100 + minor;
	return 0;
}

/* { 2.3's name, 2.4's name } */
static const char *const ssl_names[2][2] = {
	{ "ssl_cert", "ssl_server_cert_file" },
	{ "ssl_key", "ssl_server_key_file" },
};

const char *mc_dovecot_ssl_name(int version, int key)
{
	return ssl_names[key ? 1 : 0][version >= MC_DOVECOT_24];
}

const char *mc_dovecot_ssl_rename(const char *name, int version)
{
	int v24 = version >= MC_DOVECOT_24;
	size_t i;

	for (i = 0; i < 2; i++)
		if (strcmp(name, ssl_names[i][!v24]) == 0)
			return ssl_names[i][v24];
	return NULL;
}
