/*
 * test_state - state.json encoding: field names, nulls, round trip.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "unit.h"
#include "xalloc.h"

static void fill(mc_state *s)
{
	mc_state_init(s);
	snprintf(s->host, sizeof s->host, "mail.example.com");
	s->names = mc_calloc(3, sizeof *s->names);
	s->names[0] = mc_strdup("mail.example.com");
	s->names[1] = mc_strdup("smtp.example.com");
	snprintf(s->source, sizeof s->source, "acme");
	s->has_cert = 1;
	snprintf(s->serial, sizeof s->serial, "03a1ff");
	snprintf(s->issuer, sizeof s->issuer, "CN=R11,O=Let's Encrypt,C=US");
	s->not_before = 1795341600;
	s->cert_expiration_time = 1803117600;
	s->renewal_time = 1800525600;
	s->last_success_time = 1795345200;
	s->last_failure_time = 1795000000;
	mc_state_set_error(s, "urn:ietf:params:acme:error:rateLimited: too many \"orders\"");
	s->next_retry_time = 1795003600;
	s->failures = 3;
	s->cert_url = mc_strdup("https://ca.example/cert/abc");
}

static const char *jstr(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	ck_assert_msg(v != NULL, "no member \"%s\"", key);
	return json_string_value(v);
}

START_TEST(field_names)
{
	mc_state s;
	json_t *j;

	fill(&s);
	j = mc_state_to_json(&s);
	ck_assert_str_eq(jstr(j, "host"), "mail.example.com");
	ck_assert_int_eq(json_array_size(json_object_get(j, "names")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "names"), 1)),
			 "smtp.example.com");
	ck_assert_str_eq(jstr(j, "source"), "acme");
	ck_assert(json_is_true(json_object_get(j, "has_cert")));
	ck_assert_str_eq(jstr(j, "serial"), "03a1ff");
	ck_assert_str_eq(jstr(j, "issuer"), "CN=R11,O=Let's Encrypt,C=US");
	ck_assert_str_eq(jstr(j, "cert_expiration_time"), "2027-02-20T10:00:00Z");
	ck_assert_str_eq(jstr(j, "renewal_time"), "2027-01-21T10:00:00Z");
	ck_assert_ptr_nonnull(jstr(j, "last_success_time"));
	ck_assert_ptr_nonnull(jstr(j, "last_failure_time"));
	ck_assert_str_eq(jstr(j, "last_failure_error_message"),
			 "urn:ietf:params:acme:error:rateLimited: too many \"orders\"");
	ck_assert_ptr_nonnull(jstr(j, "next_retry_time"));
	json_decref(j);
	mc_state_free(&s);
}
END_TEST

START_TEST(round_trip)
{
	mc_state a, b;
	json_t *j, *back;
	char *text;
	mc_err e;

	fill(&a);
	j = mc_state_to_json(&a);
	/* through text, as it goes through state.json */
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	back = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(back);
	free(text);
	ck_assert_int_eq(mc_state_from_json(back, &b, &e), 0);
	json_decref(back);

	ck_assert_str_eq(b.host, a.host);
	ck_assert_ptr_nonnull(b.names);
	ck_assert_str_eq(b.names[0], "mail.example.com");
	ck_assert_str_eq(b.names[1], "smtp.example.com");
	ck_assert_ptr_null(b.names[2]);
	ck_assert_str_eq(b.source, "acme");
	ck_assert_int_eq(b.has_cert, 1);
	ck_assert_str_eq(b.serial, a.serial);
	ck_assert_str_eq(b.issuer, a.issuer);
	ck_assert_int_eq(b.not_before, a.not_before);
	ck_assert_int_eq(b.cert_expiration_time, a.cert_expiration_time);
	ck_assert_int_eq(b.renewal_time, a.renewal_time);
	ck_assert_int_eq(b.last_success_time, a.last_success_time);
	ck_assert_int_eq(b.last_failure_time, a.last_failure_time);
	ck_assert_str_eq(b.last_failure_error_message, a.last_failure_error_message);
	ck_assert_int_eq(b.next_retry_time, a.next_retry_time);
	ck_assert_int_eq(b.failures, 3);
	ck_assert_str_eq(b.cert_url, a.cert_url);
	mc_state_free(&a);
	mc_state_free(&b);
}
END_TEST

/* the validation budget: failed validations per name, kept for the window, round trip */
START_TEST(failed_validations)
{
	time_t now = 1795000000, until = 0;
	mc_state a, b;
	json_t *j;
	mc_err e;

	fill(&a);
	mc_state_add_valfail(&a, "old.example.com", now - 4000);
	mc_state_add_valfail(&a, "mail.example.com", now - 3000);
	/* adding at NOW drops what left the window */
	mc_state_add_valfail(&a, "mail.example.com", now - 100);
	ck_assert_uint_eq(a.nvalfail, 2);
	ck_assert_int_eq(mc_state_valfail_count(&a, "mail.example.com", now, &until), 2);
	ck_assert_int_eq(until, 0);
	mc_state_add_valfail(&a, "mail.example.com", now - 50);
	mc_state_add_valfail(&a, "*.example.com", now - 10);
	ck_assert_int_eq(mc_state_valfail_count(&a, "mail.example.com", now, &until), 3);
	/* free again when the oldest of the three leaves the hour */
	ck_assert_int_eq(until, now - 3000 + 3600);
	ck_assert_int_eq(mc_state_valfail_count(&a, "mail.example.com", now - 3000 + 3600, &until), 2);
	ck_assert_int_eq(mc_state_valfail_count(&a, "smtp.example.com", now, &until), 0);
	ck_assert_int_eq(mc_state_valfail_count(&a, "*.example.com", now, NULL), 1);

	j = mc_state_to_json(&a);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "failed_validations")), 4);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "failed_validations"), 0),
							   "time")),
			 "2026-11-18T10:16:40Z");
	ck_assert_int_eq(mc_state_from_json(j, &b, &e), 0);
	ck_assert_uint_eq(b.nvalfail, 4);
	ck_assert_int_eq(mc_state_valfail_count(&b, "mail.example.com", now, &until), 3);
	ck_assert_int_eq(until, now - 3000 + 3600);
	json_decref(j);
	mc_state_free(&a);
	mc_state_free(&b);
}
END_TEST

START_TEST(nulls)
{
	static const char *const null_fields[] = {
		"serial", "issuer", "cert_expiration_time", "renewal_time", "last_success_time",
		"last_failure_time", "last_failure_error_message", "next_retry_time", NULL,
	};
	mc_state a, b;
	json_t *j;
	size_t i;
	mc_err e;

	mc_state_init(&a);
	snprintf(a.host, sizeof a.host, "new.example.com");
	j = mc_state_to_json(&a);
	for (i = 0; null_fields[i]; i++) {
		json_t *v = json_object_get(j, null_fields[i]);
		ck_assert_msg(v != NULL && json_is_null(v), "\"%s\" is not null", null_fields[i]);
	}
	ck_assert(json_is_false(json_object_get(j, "has_cert")));
	ck_assert_int_eq(json_array_size(json_object_get(j, "names")), 0);
	ck_assert_int_eq(mc_state_from_json(j, &b, &e), 0);
	json_decref(j);
	ck_assert_str_eq(b.host, "new.example.com");
	ck_assert_int_eq(b.has_cert, 0);
	ck_assert_str_eq(b.serial, "");
	ck_assert_int_eq(b.cert_expiration_time, 0);
	ck_assert_int_eq(b.next_retry_time, 0);
	ck_assert_ptr_null(b.last_failure_error_message);
	ck_assert_ptr_null(b.cert_url);
	ck_assert_ptr_nonnull(b.names);
	ck_assert_ptr_null(b.names[0]);
	mc_state_free(&a);
	mc_state_free(&b);
}
END_TEST

START_TEST(lenient_input)
{
	/* a hand-edited or older state.json: missing members, wrong types */
	json_t *j = json_loads("{\"host\":\"a.example.com\",\"names\":[\"a.example.com\",7],"
			       "\"renewal_time\":\"not a time\",\"has_cert\":\"yes\"}", 0, NULL);
	mc_state s;
	mc_err e;

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(mc_state_from_json(j, &s, &e), 0);
	json_decref(j);
	ck_assert_str_eq(s.host, "a.example.com");
	ck_assert_str_eq(s.names[0], "a.example.com");
	ck_assert_str_eq(s.names[1], "");
	ck_assert_ptr_null(s.names[2]);
	ck_assert_int_eq(s.renewal_time, 0);
	ck_assert_int_eq(s.has_cert, 0);
	mc_state_free(&s);
}
END_TEST

START_TEST(not_an_object)
{
	json_t *j = json_loads("[1,2]", 0, NULL);
	mc_state s;
	mc_err e;

	ck_assert_int_eq(mc_state_from_json(j, &s, &e), -1);
	ck_assert_msg(strstr(e.msg, "not a JSON object") != NULL, "message: %s", e.msg);
	json_decref(j);
	mc_state_free(&s);
}
END_TEST

START_TEST(set_error)
{
	mc_state s;

	mc_state_init(&s);
	mc_state_set_error(&s, "first");
	mc_state_set_error(&s, "second");
	ck_assert_str_eq(s.last_failure_error_message, "second");
	mc_state_set_error(&s, NULL);
	ck_assert_ptr_null(s.last_failure_error_message);
	mc_state_free(&s);
}
END_TEST

/* mailcert revoke's fields: a revocation and the keys revoked as compromised */
START_TEST(revocation)
{
	static const char k1[] = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";
	static const char k2[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	mc_state a, b;
	json_t *j;
	mc_err e;

	mc_state_init(&a);
	j = mc_state_to_json(&a);
	ck_assert(json_is_null(json_object_get(j, "revoked_time")));
	ck_assert(json_is_null(json_object_get(j, "revocation_reason")));
	ck_assert_int_eq(json_array_size(json_object_get(j, "key_compromised")), 0);
	json_decref(j);
	a.revoked_time = 1800000000;
	snprintf(a.revocation_reason, sizeof a.revocation_reason, "keyCompromise");
	mc_state_add_key_compromised(&a, k1);
	mc_state_add_key_compromised(&a, k2);
	mc_state_add_key_compromised(&a, k1); /* once only */
	j = mc_state_to_json(&a);
	ck_assert_str_eq(jstr(j, "revoked_time"), "2027-01-15T08:00:00Z");
	ck_assert_str_eq(jstr(j, "revocation_reason"), "keyCompromise");
	ck_assert_int_eq(json_array_size(json_object_get(j, "key_compromised")), 2);
	/* something that is not a SHA-256 digest is dropped on reading */
	json_array_append_new(json_object_get(j, "key_compromised"), json_string("../../etc"));
	ck_assert_int_eq(mc_state_from_json(j, &b, &e), 0);
	ck_assert_int_eq((int)b.revoked_time, 1800000000);
	ck_assert_str_eq(b.revocation_reason, "keyCompromise");
	ck_assert_int_eq(mc_state_key_compromised(&b, k1), 1);
	ck_assert_int_eq(mc_state_key_compromised(&b, k2), 1);
	ck_assert_int_eq(mc_state_key_compromised(&b, "../../etc"), 0);
	ck_assert_ptr_null(b.key_compromised[2]);
	json_decref(j);
	mc_state_free(&a);
	mc_state_free(&b);
}
END_TEST

START_TEST(load_files)
{
	char *dir = unit_tmpdir(), path[512];
	mc_state s;
	mc_err e;

	snprintf(path, sizeof path, "%s/missing.json", dir);
	ck_assert_int_eq(mc_state_load(path, &s, &e), 1);
	ck_assert_str_eq(s.host, "");
	mc_state_free(&s);

	snprintf(path, sizeof path, "%s/bad.json", dir);
	unit_write(path, "{\n  \"host\": \"a.example.com\",\n  oops\n}\n");
	ck_assert_int_eq(mc_state_load(path, &s, &e), -1);
	ck_assert_msg(unit_starts(e.msg, path) && strstr(e.msg, ":3: ") != NULL, "message: %s",
		      e.msg);
	mc_state_free(&s);

	snprintf(path, sizeof path, "%s/good.json", dir);
	unit_write(path, "{\"host\": \"a.example.com\", \"cert_expiration_time\": \"2027-02-20T10:00:00Z\"}");
	ck_assert_int_eq(mc_state_load(path, &s, &e), 0);
	ck_assert_str_eq(s.host, "a.example.com");
	ck_assert_int_eq(s.cert_expiration_time, 1803117600);
	mc_state_free(&s);
	unit_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state");
	TCase *tc = unit_tcase("core");

	tcase_add_test(tc, field_names);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, nulls);
	tcase_add_test(tc, lenient_input);
	tcase_add_test(tc, not_an_object);
	tcase_add_test(tc, set_error);
	tcase_add_test(tc, load_files);
	tcase_add_test(tc, failed_validations);
	tcase_add_test(tc, revocation);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
