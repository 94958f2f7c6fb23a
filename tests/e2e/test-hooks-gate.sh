#!/bin/bash
# Test-only environment overrides work only in a build configured with
# --enable-test-hooks: MAILCERT_NOW moves mailcert's clock (seen in the state a
# self-signed install records) and MAILCERT_CURL_VERBOSE traces its HTTP; a
# production build ignores both.  make check says which build this is
# (MAILCERT_TEST_HOOKS_BUILT=yes|no); both kinds of build run this test.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir

case ${MAILCERT_TEST_HOOKS_BUILT:-} in
    yes | no) ;;
    *) die "MAILCERT_TEST_HOOKS_BUILT is not yes or no (run it through make check)" ;;
esac
log "build with test hooks: $MAILCERT_TEST_HOOKS_BUILT"
host=mail.example.test

# MAILCERT_NOW: a day ahead (inside the new certificate's validity)
printf 'store = "%s/store"\ndefault_host = "%s"\nhost "%s" {\n  source = "self-signed"\n}\n' \
    "$W" "$host" "$host" > "$W/now.conf"
fake=$(($(date +%s) + 86400))
fake_text=$(date -u -d "@$fake" +%Y-%m-%dT%H:%M:%SZ)
MAILCERT_NOW=$fake "$MAILCERT" -c "$W/now.conf" self-signed "$host" > "$W/now.out" 2>&1 ||
    die "self-signed failed: $(cat "$W/now.out")"
after=$(date +%s)
recorded=$("$MAILCERT" -c "$W/now.conf" status --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["hosts"][0]["last_success_time"])') ||
    die "status --json failed"
recorded_s=$(date -u -d "$recorded" +%s) || die "bad time '$recorded'"
if [ "$MAILCERT_TEST_HOOKS_BUILT" = yes ]; then
    expect_eq "$recorded" "$fake_text" "MAILCERT_NOW moves the clock in a test build"
else
    [ "$recorded_s" -le "$after" ] && pass "MAILCERT_NOW is ignored ($recorded)" ||
        fail "a production build honours MAILCERT_NOW (recorded $recorded, fake $fake_text)"
fi

# MAILCERT_CURL_VERBOSE: a CA URL nobody listens on; curl's trace lines start with "* "
read -r ca_port http_port < <(freeport 2 | tr '\n' ' ')
printf 'store = "%s/store2"\nacme {\n  directory = "https://127.0.0.1:%s/dir"\n  agree_tos = true\n  email = "postmaster@example.test"\n}\nhttp01 {\n  listen = { "127.0.0.1:%s" }\n}\nhost "%s" { }\n' \
    "$W" "$ca_port" "$http_port" "$host" > "$W/curl.conf"
MAILCERT_CURL_VERBOSE=1 "$MAILCERT" -c "$W/curl.conf" issue > "$W/curl.out" 2>&1
rc=$?
expect_eq "$rc" 1 "issue fails without a CA"
grep -q "127.0.0.1" "$W/curl.out" && pass "the failed connection is reported" ||
    fail "no connection error in: $(cat "$W/curl.out")"
if [ "$MAILCERT_TEST_HOOKS_BUILT" = yes ]; then
    grep -q '^\* ' "$W/curl.out" && pass "MAILCERT_CURL_VERBOSE traces HTTP in a test build" ||
        fail "no curl trace in a test build: $(cat "$W/curl.out")"
else
    grep -q '^\* ' "$W/curl.out" && fail "a production build traces HTTP: $(grep '^\* ' "$W/curl.out" | head -3)" ||
        pass "MAILCERT_CURL_VERBOSE is ignored"
fi
finish
