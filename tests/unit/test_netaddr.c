/*
 * test_netaddr - numeric server addresses: IPv4 and IPv6, with and without a port.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "netaddr.h"
#include "unit.h"

/* SPEC parses to family FAM, address ADDR (as inet_ntop writes it) and PORT */
static void ok(const char *spec, int fam, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char buf[INET6_ADDRSTRLEN];
	mc_err e;

	e.msg[0] = '\0';
	ck_assert_msg(mc_netaddr_parse(spec, 53, &ss, &len, &e) == 0, "refused \"%s\": %s", spec, e.msg);
	ck_assert_int_eq(ss.ss_family, fam);
	if (fam == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&ss;
		ck_assert_uint_eq(len, sizeof *s);
		ck_assert_ptr_nonnull(inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf));
		ck_assert_int_eq(ntohs(s->sin_port), port);
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&ss;
		ck_assert_uint_eq(len, sizeof *s);
		ck_assert_ptr_nonnull(inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf));
		ck_assert_int_eq(ntohs(s->sin6_port), port);
	}
	ck_assert_str_eq(buf, addr);
}

static void bad(const char *spec, const char *why)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	mc_err e;

	e.msg[0] = '\0';
	ck_assert_msg(mc_netaddr_parse(spec, 53, &ss, &len, &e) == -1, "accepted \"%s\"", spec);
	ck_assert_msg(strstr(e.msg, why) != NULL, "\"%s\": \"%s\" lacks \"%s\"", spec, e.msg, why);
}

START_TEST(forms)
{
	ok("192.0.2.53", AF_INET, "192.0.2.53", 53);
	ok("192.0.2.53:5353", AF_INET, "192.0.2.53", 5353);
	ok("2001:db8::53", AF_INET6, "2001:db8::53", 53);
	ok("::1", AF_INET6, "::1", 53);
	ok("[::1]", AF_INET6, "::1", 53);
	ok("[2001:db8::53]:5353", AF_INET6, "2001:db8::53", 5353);
	ok("[::ffff:192.0.2.1]:53", AF_INET6, "::ffff:192.0.2.1", 53);
}
END_TEST

START_TEST(refused)
{
	bad("dns.example.com", "not an IP address");
	bad("1.2.3", "not an IP address");
	bad("192.0.2.53:0", "bad port");
	bad("192.0.2.53:", "bad port");
	bad("192.0.2.53:65536", "bad port");
	bad("192.0.2.53:+53", "bad port");
	bad("192.0.2.53:53x", "bad port");
	bad("[::1", "in brackets");
	bad("[::1]x", "in brackets");
	bad("[::1]:", "bad port");
	bad("[192.0.2.53]:53", "not an IP address"); /* brackets are for IPv6 */
	bad("[]:53", "not an IP address");
	bad("", "not an IP address");
	bad(":53", "not an IP address");
	bad("2001:db8::53:5353:1:2:3:4:5", "not an IP address");
	bad("[0000000000000000000000000000000000000000000000000000000000000000000000::1]", "not an IP address");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netaddr");
	TCase *tc = unit_tcase("netaddr");

	tcase_add_test(tc, forms);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
