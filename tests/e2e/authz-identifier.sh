#!/bin/bash
# An authorization from the CA must be for a name the order asked for: one for
# an unrequested name (or a wildcard authorization for a name ordered without the
# wildcard) fails the run with a clear error before any hook or responder acts on
# it.  Uses the scripted fake CA (modes strayauthz, straywildcard).
. "$(dirname "$0")/e2e.sh"
# shellcheck source=tests/lib/fakeca.sh
. "$TOP_SRCDIR/tests/lib/fakeca.sh"
set -u
e2e_workdir
conf=$W/mailcert.conf
port=$(freeport)
hook=$W/hook.sh
cat > "$hook" <<EOH
#!/bin/sh
# every call, with the identifier it was asked to act for
echo "\$1 \$MAILCERT_IDENTIFIER \$3" >> "$W/hook.log"
exit 0
EOH
chmod 755 "$hook"

# mkconf HOSTSPEC...: every host uses dns-01 through the logging hook
mkconf() {
    e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$@"
    sed -i 's|^\(host "[^"]*" { names = {[^}]*}\) self_check = false }|\1 challenge = "dns-01" self_check = false }|' "$conf"
    printf 'dns01 { hook = "%s" }\n' "$hook" >> "$conf"
    grep -q 'challenge = "dns-01"' "$conf" || fail "test config not as intended: $(cat "$conf")"
}

# the check does not get in the way of a correct CA, wildcards included
fakeca_start "$W/fake-good" good >/dev/null
mkconf "*.wild.example.test:wild.example.test" mail.example.test
"$MAILCERT" -c "$conf" issue > "$W/out-good" 2>&1; rc=$?
expect_eq "$rc" 0 "good: wildcard and plain authorizations are accepted: $(tail -1 "$W/out-good")"
fakeca_stop

# an authorization for a name nobody asked for
rm -f "$W/hook.log"
fakeca_start "$W/fake-stray" strayauthz >/dev/null
mkconf mail.example.test
"$MAILCERT" -c "$conf" issue --force > "$W/out-stray" 2>&1; rc=$?
expect_eq "$rc" 1 "strayauthz: issue fails"
grep -q "mail.example.test: refusing an authorization for unrequested.example.test from the CA: the order did not ask for that name" "$W/out-stray" \
    && pass "strayauthz: the error names the unrequested name" || fail "strayauthz: message: $(cat "$W/out-stray")"
if grep -q unrequested "$W/hook.log" 2>/dev/null; then
    fail "strayauthz: the hook was run for the unrequested name: $(cat "$W/hook.log")"
else
    pass "strayauthz: the hook never saw the unrequested name"
fi
fakeca_requests '^/chall/' | grep -q . && fail "strayauthz: a challenge was answered" \
    || pass "strayauthz: no challenge was answered"
fakeca_stop

# a wildcard authorization for a name ordered without the wildcard
rm -f "$W/hook.log"
fakeca_start "$W/fake-wild" straywildcard >/dev/null
mkconf mail.example.test
"$MAILCERT" -c "$conf" issue --force > "$W/out-wild" 2>&1; rc=$?
expect_eq "$rc" 1 "straywildcard: issue fails"
grep -qF "mail.example.test: refusing an authorization for *.mail.example.test from the CA" "$W/out-wild" \
    && pass "straywildcard: the error names the wildcard" || fail "straywildcard: message: $(cat "$W/out-wild")"
[ -s "$W/hook.log" ] && fail "straywildcard: the hook was run: $(cat "$W/hook.log")" \
    || pass "straywildcard: the hook was never run"
fakeca_stop
finish
