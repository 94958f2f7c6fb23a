/*
 * test_hostname - hostname syntax, case folding, wildcards, store dir names.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hostname.h"
#include "unit.h"

static void ok(const char *name, int wild, const char *want)
{
	char out[MC_HOSTNAME_MAX + 1];
	mc_err e;

	e.msg[0] = '\0';
	ck_assert_msg(mc_hostname_check(name, wild, out, &e) == 0, "refused \"%s\": %s", name, e.msg);
	ck_assert_str_eq(out, want);
}

/* refused, and the message contains WHY */
static void bad(const char *name, int wild, const char *why)
{
	char out[MC_HOSTNAME_MAX + 1];
	mc_err e;

	e.msg[0] = '\0';
	ck_assert_msg(mc_hostname_check(name, wild, out, &e) == -1, "accepted \"%.80s\"", name);
	ck_assert_msg(strstr(e.msg, why) != NULL, "\"%.80s\": message \"%s\" lacks \"%s\"", name,
		      e.msg, why);
}

/* a name of LEN characters made of 63-character labels */
static char *long_name(size_t len)
{
	char *s = malloc(len + 1);
	size_t i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < len; i++)
		s[i] = (i % 64 == 63) ? '.' : 'a';
	s[len] = '\0';
	if (s[len - 1] == '.')
		s[len - 1] = 'b';
	return s;
}

START_TEST(valid_names)
{
	ok("mail.example.com", 0, "mail.example.com");
	ok("example.com", 0, "example.com");
	ok("a.b", 0, "a.b");
	ok("mx-1.mail.example.co.uk", 0, "mx-1.mail.example.co.uk");
	ok("123.example.com", 0, "123.example.com");
	ok("xn--bcher-kva.example", 0, "xn--bcher-kva.example");
	ok("a-b-c.example.com", 0, "a-b-c.example.com");
}
END_TEST

START_TEST(upper_case_folds)
{
	ok("MAIL.Example.COM", 0, "mail.example.com");
	ok("*.EXAMPLE.com", 1, "*.example.com");
}
END_TEST

START_TEST(wildcards)
{
	ok("*.example.com", 1, "*.example.com");
	bad("*.example.com", 0, "wildcard not allowed");
	bad("*example.com", 1, "wildcard must be the whole first label");
	bad("a.*.example.com", 1, "not allowed");
	bad("mail.*", 1, "not allowed");
	bad("**.example.com", 1, "wildcard");
	/* the wildcard alone does not make a name fully qualified */
	bad("*.com", 1, "fully qualified");
	bad("*.", 1, "empty label");
}
END_TEST

START_TEST(path_tricks)
{
	bad("../x", 1, "invalid hostname");
	bad("..", 1, "invalid hostname");
	bad("a/b.example.com", 1, "'/' is not allowed");
	bad("a..b", 1, "empty label");
	bad(".example.com", 1, "empty label");
	bad("example.com.", 1, "trailing dot not allowed");
	bad("", 1, "empty hostname");
	bad("a b.example.com", 1, "not allowed");
	bad("a_b.example.com", 1, "'_' is not allowed");
	bad("mail.example.com\n", 1, "not allowed");
}
END_TEST

START_TEST(lengths)
{
	char label63[64], label64[65], name[200];
	char *s;

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	snprintf(name, sizeof name, "%s.example.com", label63);
	ok(name, 0, name);
	snprintf(name, sizeof name, "%s.example.com", label64);
	bad(name, 0, "longer than 63");
	snprintf(name, sizeof name, "mail.%s", label64);
	bad(name, 0, "longer than 63");

	s = long_name(253);
	ok(s, 0, s);
	free(s);
	s = long_name(254);
	bad(s, 0, "254 characters");
	free(s);
	s = long_name(300);
	bad(s, 0, "300 characters long (at most 253");
	free(s);
}
END_TEST

START_TEST(hyphens)
{
	bad("-mail.example.com", 0, "starts with '-'");
	bad("mail-.example.com", 0, "ends with '-'");
	bad("mail.example.com-", 0, "ends with '-'");
	bad("mail.-example.com", 0, "starts with '-'");
	ok("m-ail.example.com", 0, "m-ail.example.com");
}
END_TEST

START_TEST(single_label)
{
	bad("localhost", 0, "fully qualified");
	bad("MAIL", 0, "fully qualified");
}
END_TEST

START_TEST(non_ascii)
{
	bad("b\xc3\xbc" "cher.example", 0, "non-ASCII");
	bad("mail.ex\xe4mple.com", 0, "A-label");
}
END_TEST

START_TEST(dirnames)
{
	char dir[300], host[MC_HOSTNAME_MAX + 1];

	mc_hostname_dirname("*.example.com", dir, sizeof dir);
	ck_assert_str_eq(dir, "_wildcard.example.com");
	mc_hostname_dirname("mail.example.com", dir, sizeof dir);
	ck_assert_str_eq(dir, "mail.example.com");

	ck_assert_int_eq(mc_hostname_from_dirname("_wildcard.example.com", host, sizeof host), 0);
	ck_assert_str_eq(host, "*.example.com");
	ck_assert_int_eq(mc_hostname_from_dirname("mail.example.com", host, sizeof host), 0);
	ck_assert_str_eq(host, "mail.example.com");

	/* junk found under STORE/certs is not a host */
	ck_assert_int_eq(mc_hostname_from_dirname("..", host, sizeof host), -1);
	ck_assert_int_eq(mc_hostname_from_dirname(".mail.example.com.new.123", host, sizeof host), -1);
	ck_assert_int_eq(mc_hostname_from_dirname("lost+found", host, sizeof host), -1);
	ck_assert_int_eq(mc_hostname_from_dirname("_wildcard.com", host, sizeof host), -1);
	ck_assert_int_eq(mc_hostname_from_dirname("_wildcard.", host, sizeof host), -1);
	ck_assert_int_eq(mc_hostname_from_dirname("_x.example.com", host, sizeof host), -1);
	/* too small an output buffer is refused, not overrun */
	ck_assert_int_eq(mc_hostname_from_dirname("mail.example.com", host, 10), -1);
}
END_TEST

START_TEST(parent)
{
	ck_assert_str_eq(mc_hostname_parent("mail.example.com"), "example.com");
	ck_assert_str_eq(mc_hostname_parent("example.com"), "example.com");
	ck_assert_str_eq(mc_hostname_parent("*.example.com"), "example.com");
	ck_assert_str_eq(mc_hostname_parent("a.b.example.com"), "b.example.com");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostname");
	TCase *tc = unit_tcase("core");

	tcase_add_test(tc, valid_names);
	tcase_add_test(tc, upper_case_folds);
	tcase_add_test(tc, wildcards);
	tcase_add_test(tc, path_tricks);
	tcase_add_test(tc, lengths);
	tcase_add_test(tc, hyphens);
	tcase_add_test(tc, single_label);
	tcase_add_test(tc, non_ascii);
	tcase_add_test(tc, dirnames);
	tcase_add_test(tc, parent);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
