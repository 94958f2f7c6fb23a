/*
 * test_tlsalpn - the tls-alpn-01 responder seen by a real TLS client:
 * acme-tls/1 + a name in progress gets a certificate for that name with the
 * critical acmeIdentifier extension holding SHA-256(key authorization);
 * no ALPN, another ALPN, or an unknown name fails the handshake.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tlsalpn.h"
#include "x509chk.h"
#include "unit.h"

#define NAME "mail.example.test"
#define KEYAUTH "tok3n-Value_1234567890.thumbprint-abcdefghijklmnop"

static mc_tlsalpn *t;
static int port;


static void setup(void)
{
	char addr[64], *listen[1] = { addr };
	mc_err e;
	int tries;

	signal(SIGPIPE, SIG_IGN); /* as mailcert's main() does */
	for (tries = 0; tries < 5; tries++) {
		port = unit_free_port(AF_INET);
		snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
		if (mc_tlsalpn_start(listen, 1, NULL, NULL, &t, &e) == 0)
			break;
	}
	ck_assert_msg(t != NULL, "%s", e.msg);
	ck_assert_msg(mc_tlsalpn_add(t, NAME, KEYAUTH, &e) == 0, "%s", e.msg);
}

static void teardown(void)
{
	mc_tlsalpn_stop(t);
	t = NULL;
}

/* handshake as a validator would; returns the peer certificate or NULL */
static X509 *handshake(const char *sni, const char *alpn)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	struct sockaddr_in sin;
	X509 *peer = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	if (sni)
		SSL_set_tlsext_host_name(ssl, sni);
	if (alpn) {
		unsigned char wire[64];
		size_t n = strlen(alpn);
		wire[0] = (unsigned char)n;
		memcpy(wire + 1, alpn, n);
		SSL_set_alpn_protos(ssl, wire, (unsigned int)n + 1);
	}
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) == 1) {
		const unsigned char *proto = NULL;
		unsigned int plen = 0;
		SSL_get0_alpn_selected(ssl, &proto, &plen);
		ck_assert_uint_eq(plen, strlen("acme-tls/1"));
		ck_assert_int_eq(memcmp(proto, "acme-tls/1", plen), 0);
		peer = SSL_get1_peer_certificate(ssl);
	}
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return peer;
}

START_TEST(good_handshake)
{
	X509 *x = handshake(NAME, "acme-tls/1");
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	unsigned char md[32], want[34];
	unsigned int mdlen = 0;
	X509_EXTENSION *ext;
	const ASN1_OCTET_STRING *v;
	int idx;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(mc_cert_covers(x, NAME), 1);
	idx = X509_get_ext_by_OBJ(x, oid, -1);
	ck_assert_int_ge(idx, 0);
	ext = X509_get_ext(x, idx);
	ck_assert_int_eq(X509_EXTENSION_get_critical(ext), 1);
	/* extnValue = DER OCTET STRING (04 20 || SHA-256(keyauth)) */
	EVP_Digest(KEYAUTH, strlen(KEYAUTH), md, &mdlen, EVP_sha256(), NULL);
	want[0] = 0x04;
	want[1] = 0x20;
	memcpy(want + 2, md, 32);
	v = X509_EXTENSION_get_data(ext);
	ck_assert_int_eq(ASN1_STRING_length(v), 34);
	ck_assert_int_eq(memcmp(ASN1_STRING_get0_data(v), want, 34), 0);
	ASN1_OBJECT_free(oid);
	X509_free(x);
}
END_TEST

START_TEST(refused_handshakes)
{
	ck_assert_ptr_null(handshake(NAME, NULL));              /* no ALPN */
	ck_assert_ptr_null(handshake(NAME, "http/1.1"));        /* another protocol */
	ck_assert_ptr_null(handshake("nope.example.test", "acme-tls/1")); /* unknown name */
	ck_assert_ptr_null(handshake(NULL, "acme-tls/1"));      /* no SNI */
}
END_TEST

START_TEST(removed_name_refused)
{
	X509 *x = handshake(NAME, "acme-tls/1");

	ck_assert_ptr_nonnull(x);
	X509_free(x);
	mc_tlsalpn_remove(t, NAME);
	ck_assert_ptr_null(handshake(NAME, "acme-tls/1"));
}
END_TEST

/* the responder is a separate process that gave up root */
START_TEST(runs_unprivileged)
{
	char path[64], line[256];
	FILE *f;
	long uid = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)mc_tlsalpn_pid(t));
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "Uid:", 4) == 0)
			uid = strtol(line + 4, NULL, 10);
	fclose(f);
	ck_assert_int_ne(mc_tlsalpn_pid(t), getpid());
	if (geteuid() == 0)
		ck_assert_int_ne(uid, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tlsalpn");
	TCase *tc = unit_tcase("tlsalpn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_handshake);
	tcase_add_test(tc, refused_handshakes);
	tcase_add_test(tc, removed_name_refused);
	tcase_add_test(tc, runs_unprivileged);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
