/*
 * test_acme_problem - RFC 8555 problem documents turned into one line.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "acme.h"
#include "unit.h"

static char *problem(const char *body)
{
	return mc_acme_problem(body, strlen(body));
}

START_TEST(simple)
{
	char *p = problem("{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"JWS has an invalid anti-replay nonce\",\"status\":400}");

	ck_assert_str_eq(p, "urn:ietf:params:acme:error:badNonce: JWS has an invalid anti-replay nonce");
	free(p);
}
END_TEST

START_TEST(subproblems)
{
	/* RFC 8555 section 6.7.1, with a control character and a newline added */
	char *p = problem(
		"{\n"
		"  \"type\": \"urn:ietf:params:acme:error:malformed\",\n"
		"  \"detail\": \"Some of the identifiers requested were rejected\\n(see below)\",\n"
		"  \"subproblems\": [\n"
		"    {\n"
		"      \"type\": \"urn:ietf:params:acme:error:malformed\",\n"
		"      \"detail\": \"Invalid underscore in DNS name \\\"_example.org\\\"\",\n"
		"      \"identifier\": {\"type\": \"dns\", \"value\": \"_example.org\"}\n"
		"    },\n"
		"    {\n"
		"      \"type\": \"urn:ietf:params:acme:error:rejectedIdentifier\",\n"
		"      \"detail\": \"This CA will not issue for \\\"example.net\\\"\\u001b[31m\\r\",\n"
		"      \"identifier\": {\"type\": \"dns\", \"value\": \"example.net\"}\n"
		"    },\n"
		"    {\n"
		"      \"type\": \"urn:ietf:params:acme:error:caa\",\n"
		"      \"detail\": \"CAA forbids\"\n"
		"    }\n"
		"  ]\n"
		"}\n");
	size_t i;

	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p,
			 "urn:ietf:params:acme:error:malformed: Some of the identifiers requested were rejected (see below)"
			 "; _example.org urn:ietf:params:acme:error:malformed: Invalid underscore in DNS name \"_example.org\""
			 "; example.net urn:ietf:params:acme:error:rejectedIdentifier: This CA will not issue for \"example.net\" [31m "
			 "; urn:ietf:params:acme:error:caa: CAA forbids");
	for (i = 0; p[i]; i++)
		ck_assert_msg((unsigned char)p[i] >= 0x20 && p[i] != 0x7f, "control character at %zu", i);
	free(p);
}
END_TEST

START_TEST(no_detail)
{
	char *p = problem("{\"type\":\"urn:ietf:params:acme:error:serverInternal\"}");

	ck_assert_str_eq(p, "urn:ietf:params:acme:error:serverInternal: (no detail)");
	free(p);
}
END_TEST

START_TEST(not_a_problem)
{
	static const char *const bodies[] = {
		"",
		"<html><body>502 Bad Gateway</body></html>",
		"{\"detail\":\"no type\"}",
		"{\"type\":42,\"detail\":\"type is not a string\"}",
		"[\"type\",\"detail\"]",
		"\"urn:ietf:params:acme:error:malformed\"",
		"{\"type\":\"urn:ietf:params:acme:error:malformed\"",
	};
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		ck_assert_msg(problem(bodies[i]) == NULL, "\"%s\" taken as a problem", bodies[i]);
}
END_TEST

START_TEST(length_respected)
{
	/* the body is not NUL-terminated where the length says it ends */
	const char body[] = "{\"type\":\"t\",\"detail\":\"d\"}GARBAGE AFTER";
	char *p = mc_acme_problem(body, strlen("{\"type\":\"t\",\"detail\":\"d\"}"));

	ck_assert_str_eq(p, "t: d");
	free(p);
	ck_assert_ptr_null(mc_acme_problem(body, 10));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acme_problem");
	TCase *tc = unit_tcase("core");

	tcase_add_test(tc, simple);
	tcase_add_test(tc, subproblems);
	tcase_add_test(tc, no_detail);
	tcase_add_test(tc, not_a_problem);
	tcase_add_test(tc, length_respected);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
