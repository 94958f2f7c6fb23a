/*
 * ipc - length-prefixed messages over socketpairs, each checked against its
 * type's bounds before any field reaches the code that acts on it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ipc.h"
#include "xalloc.h"

#define F MC_MSG_FIELD_MAX
#define B MC_MSG_BIG_MAX

static const struct bounds {
	const char *name;
	size_t nmin, nmax;
	size_t first, rest; /* length bound of field 0, of the others */
} bounds[MC_MSG_NTYPES] = {
	[MC_MSG_JWK] = { "JWK", 0, 0, 0, 0 },
	[MC_MSG_SIGN] = { "SIGN", 4, 4, F, 65536 },
	[MC_MSG_EAB] = { "EAB", 1, 1, F, F },
	[MC_MSG_KEYGEN] = { "KEYGEN", 2, 1 + MC_MSG_NAMES_MAX, 16, 256 },
	[MC_MSG_SELFSIGNED] = { "SELFSIGNED", 3, 2 + MC_MSG_NAMES_MAX, 16, 256 },
	[MC_MSG_ISSUE] = { "ISSUE", 5, 4 + MC_MSG_NAMES_MAX, 256, 65536 },
	[MC_MSG_ACCOUNT] = { "ACCOUNT", 2, 2, F, F },
	[MC_MSG_READY] = { "READY", 0, 0, 0, 0 },
	[MC_MSG_NOACME] = { "NOACME", 1, 1, F, F },
	[MC_MSG_STATS] = { "STATS", 2, 2, 32, 32 },
	[MC_MSG_PROVISION] = { "PROVISION", 4, 4, 32, 1024 },
	[MC_MSG_DEPROVISION] = { "DEPROVISION", 3, 3, 32, 1024 },
	[MC_MSG_DONE] = { "DONE", 2, 2, B, F },
	[MC_MSG_FAIL] = { "FAIL", 1, 2 + MC_MSG_NAMES_MAX, F, 256 },
	[MC_MSG_OK] = { "OK", 0, 0, 0, 0 },
	[MC_MSG_ERR] = { "ERR", 1, 1, F, F },
	[MC_MSG_JWK_OK] = { "JWK_OK", 3, 3, 16, 8192 },
	[MC_MSG_JWS] = { "JWS", 1, 1, 4 * 65536, 0 },
	[MC_MSG_KEY] = { "KEY", 2, 2, 65536, B },
	[MC_MSG_ARI] = { "ARI", 1, 1, 256, 0 },
	[MC_MSG_ARI_OK] = { "ARI_OK", 4, 4, 32, F },
	[MC_MSG_NOARI] = { "NOARI", 0, 0, 0, 0 },
	[MC_MSG_REUSE] = { "REUSE", 3, 2 + MC_MSG_NAMES_MAX, 65536, 256 },
	[MC_MSG_ROLLOVER] = { "ROLLOVER", 3, 3, F, F },
	[MC_MSG_ROLLOVER_END] = { "ROLLOVER_END", 1, 1, 16, 0 },
	[MC_MSG_ACCT_GET] = { "ACCT_GET", 0, 0, 0, 0 },
	[MC_MSG_ACCT_DEACTIVATE] = { "ACCT_DEACTIVATE", 0, 0, 0, 0 },
	[MC_MSG_ACCT_ROLLOVER] = { "ACCT_ROLLOVER", 0, 0, 0, 0 },
	[MC_MSG_ACCT_INFO] = { "ACCT_INFO", 5, 5, F, F },
	[MC_MSG_REVOKE] = { "REVOKE", 2, 2, 65536, 4 },
};

const char *mc_msg_name(int type)
{
	return type > 0 && type < MC_MSG_NTYPES && bounds[type].name ? bounds[type].name : "?";
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1 read it all, 0 EOF before the first byte, -1 error or EOF inside */
static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return got == 0 ? 0 : -1;
		got += (size_t)n;
	}
	return 1;
}

static void put_u32(mc_buf *b, size_t v)
{
	uint32_t u = (uint32_t)v;

	mc_buf_append(b, &u, sizeof u);
}

int mc_ipc_send(int fd, const char *peer, int type, char *const *fields, size_t n, mc_err *e)
{
	uint32_t len32;
	mc_buf b;
	size_t i;
	int rc;

	mc_buf_init(&b);
	put_u32(&b, (size_t)type);
	put_u32(&b, n);
	put_u32(&b, 0); /* the body's length, below */
	for (i = 0; i < n; i++) {
		size_t len = strlen(fields[i]);
		put_u32(&b, len);
		mc_buf_append(&b, fields[i], len);
	}
	if (b.len - 12 > MC_MSG_BIG_MAX) {
		mc_buf_cleanse(&b);
		return mc_err_set(e, "%s: message too long", mc_msg_name(type));
	}
	len32 = (uint32_t)(b.len - 12);
	memcpy(b.data + 8, &len32, sizeof len32);
	rc = write_all(fd, b.data, b.len);
	/* a message may carry a private key */
	mc_buf_cleanse(&b);
	if (rc < 0)
		return mc_err_set(e, "the %s process is gone (sending %s: %s)", peer, mc_msg_name(type),
				  errno ? strerror(errno) : "closed");
	return 0;
}

int mc_ipc_sendl(int fd, const char *peer, mc_err *e, int type, ...)
{
	char *f[MC_MSG_NAMES_MAX + 8];
	const char *s;
	size_t n = 0;
	va_list ap;

	va_start(ap, type);
	while ((s = va_arg(ap, const char *)) != NULL && n < sizeof f / sizeof f[0])
		f[n++] = (char *)s;
	va_end(ap);
	return mc_ipc_send(fd, peer, type, f, n, e);
}

static int accepted(const int *accept, int type)
{
	for (; *accept != MC_MSG_NONE; accept++)
		if (*accept == type)
			return 1;
	return 0;
}

/* the largest body a message of type BD may have */
static size_t body_max(const struct bounds *bd, size_t n)
{
	size_t max = n ? 4 * n + bd->first + (n - 1) * bd->rest : 0;

	return max > MC_MSG_BIG_MAX ? MC_MSG_BIG_MAX : max;
}

/* split BODY (LEN bytes) into M's N fields, each within BD's bounds */
static int split_fields(const struct bounds *bd, const char *body, size_t len, size_t n, mc_msg *m,
			const char *peer, mc_err *e)
{
	size_t i, at = 0;
	uint32_t flen;

	m->f = mc_calloc(n + 1, sizeof *m->f);
	m->len = mc_calloc(n + 1, sizeof *m->len);
	for (i = 0; i < n; i++) {
		if (len - at < sizeof flen)
			return mc_err_set(e, "the %s process sent %s with a short field %zu", peer, bd->name, i);
		memcpy(&flen, body + at, sizeof flen);
		at += sizeof flen;
		if (flen > (i == 0 ? bd->first : bd->rest) || flen > len - at)
			return mc_err_set(e, "the %s process sent %s with field %zu too long (%u bytes)", peer,
					  bd->name, i, flen);
		m->f[i] = mc_malloc((size_t)flen + 1);
		m->n = i + 1;
		memcpy(m->f[i], body + at, flen);
		m->f[i][flen] = '\0';
		m->len[i] = flen;
		at += flen;
		if (strlen(m->f[i]) != flen)
			return mc_err_set(e, "the %s process sent %s with a NUL in field %zu", peer, bd->name, i);
	}
	if (at != len)
		return mc_err_set(e, "the %s process sent %s with %zu bytes too many", peer, bd->name, len - at);
	return 0;
}

int mc_ipc_recv(int fd, const char *peer, const int *accept, mc_msg *m, int *eof, mc_err *e)
{
	uint32_t hdr[3];
	const struct bounds *bd;
	char *body;
	int rc;

	memset(m, 0, sizeof *m);
	if (eof)
		*eof = 0;
	rc = read_all(fd, hdr, sizeof hdr);
	if (rc == 0) {
		if (eof)
			*eof = 1;
		return mc_err_set(e, "the %s process is gone", peer);
	}
	if (rc < 0)
		return mc_err_set(e, "the %s process is gone (%s)", peer, errno ? strerror(errno) : "cut off");
	if (hdr[0] == 0 || hdr[0] >= MC_MSG_NTYPES || !accepted(accept, (int)hdr[0]))
		return mc_err_set(e, "the %s process sent an unexpected message (type %u)", peer, hdr[0]);
	bd = &bounds[hdr[0]];
	if (hdr[1] < bd->nmin || hdr[1] > bd->nmax)
		return mc_err_set(e, "the %s process sent %s with %u fields", peer, bd->name, hdr[1]);
	if (hdr[2] > body_max(bd, hdr[1]))
		return mc_err_set(e, "the %s process sent %s too long (%u bytes)", peer, bd->name, hdr[2]);
	body = mc_malloc((size_t)hdr[2] + 1);
	if (hdr[2] > 0 && read_all(fd, body, hdr[2]) != 1) {
		free(body);
		return mc_err_set(e, "the %s process is gone (in the middle of %s)", peer, bd->name);
	}
	m->type = (int)hdr[0];
	rc = split_fields(bd, body, hdr[2], hdr[1], m, peer, e);
	OPENSSL_cleanse(body, hdr[2]);
	free(body);
	if (rc < 0)
		mc_msg_cleanse(m);
	return rc;
}

static void msg_release(mc_msg *m, int wipe)
{
	size_t i;

	for (i = 0; m->f && i < m->n; i++) {
		if (wipe && m->f[i])
			OPENSSL_cleanse(m->f[i], m->len[i]);
		free(m->f[i]);
	}
	free(m->f);
	free(m->len);
	memset(m, 0, sizeof *m);
}

void mc_msg_free(mc_msg *m)
{
	msg_release(m, 0);
}

void mc_msg_cleanse(mc_msg *m)
{
	msg_release(m, 1);
}

int mc_ipc_https_url(const char *s)
{
	size_t i;

	if (strncmp(s, "https://", 8) != 0)
		return 0;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}
