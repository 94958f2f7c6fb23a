#!/bin/bash
# scripts/mailcert-hook-rfc2136 against a real BIND 9 on loopback (throwaway zone and
# TSIG key): the hook adds the TXT record (dig sees it) and removes only its own
# value; a wrong key, an unknown key and bad input fail clearly and change nothing;
# settings come from the environment or the config file. Then a whole issuance
# through Pebble, which resolves with that BIND: dns-01 for a name and a wildcard
# (two values for one TXT name at once), the records gone afterwards.
. "$(dirname "$0")/e2e.sh"
. "$(dirname "$0")/rfc2136-lib.sh"
set -u
for p in named nsupdate dig tsig-keygen; do
    command -v "$p" >/dev/null || { log "SKIP: $p not installed (scripts/install-deps installs bind9 and bind9-dnsutils)"; exit 77; }
done
e2e_workdir
HOOK=$TOP_SRCDIR/scripts/mailcert-hook-rfc2136
B=$W/bind
bind_start "$B" example.test
N=_acme-challenge.mail.example.test.

hook() { "$HOOK" "$@" >"$W/out" 2>&1; }
use_env() {
    export MAILCERT_RFC2136_SERVER=127.0.0.1 MAILCERT_RFC2136_PORT=$BIND_PORT \
        MAILCERT_RFC2136_KEYFILE=${1:-$B/tsig.key}
    unset MAILCERT_RFC2136_ZONE MAILCERT_RFC2136_CONFIG
}

# --- add and remove, settings from the environment --------------------------------
use_env
hook add dns-01 $N value-one_A
expect_eq "$?" 0 "add: exit 0 ($(cat "$W/out"))"
expect_eq "$(bind_txt $N)" "value-one_A" "dig sees the TXT record"
hook add dns-01 $N value-two_B
expect_eq "$(bind_txt $N | tr '\n' ' ')" "value-one_A value-two_B " "a second value for the same name (wildcard and base) is added beside the first"
hook remove dns-01 $N value-one_A
expect_eq "$?" 0 "remove: exit 0 ($(cat "$W/out"))"
expect_eq "$(bind_txt $N)" "value-two_B" "remove takes only its own value"
export MAILCERT_RFC2136_ZONE=example.test
hook remove dns-01 $N value-two_B
expect_eq "$?" 0 "remove with an explicit zone: exit 0 ($(cat "$W/out"))"
expect_eq "$(bind_txt $N)" "" "the record is gone"
hook remove dns-01 $N value-two_B
expect_eq "$?" 0 "removing what is not there is not an error"

# --- a wrong key, an unknown key, a wrong zone: clear failures, nothing changed ------
use_env "$B/wrong.key"
hook add dns-01 $N wrong_key
expect_eq "$?" 1 "wrong TSIG secret: exit 1"
grep -q "mailcert-hook-rfc2136: adding TXT $N at 127.0.0.1 port $BIND_PORT failed: .*NOTAUTH(BADSIG)" "$W/out" &&
    pass "wrong secret: says BADSIG" || fail "wrong secret: $(cat "$W/out")"
use_env "$B/other.key"
hook add dns-01 $N unknown_key
expect_eq "$?" 1 "unknown TSIG key: exit 1"
grep -q "failed: .*NOTAUTH(BADKEY)" "$W/out" && pass "unknown key: says BADKEY" || fail "unknown key: $(cat "$W/out")"
expect_eq "$(bind_txt $N)" "" "no record after the refused updates"
use_env
MAILCERT_RFC2136_ZONE=other.test hook add dns-01 $N wrong_zone
expect_eq "$?" 1 "zone the server does not have: exit 1"
grep -q "failed: .*NOTAUTH" "$W/out" && pass "wrong zone: says NOTAUTH" || fail "wrong zone: $(cat "$W/out")"
port2=$(freeport)
MAILCERT_RFC2136_PORT=$port2 MAILCERT_RFC2136_TIMEOUT=2 hook add dns-01 $N no_server
expect_eq "$?" 1 "no server on that port: exit 1"
grep -q "adding TXT $N at 127.0.0.1 port $port2 failed: " "$W/out" && pass "no server: says so ($(cat "$W/out"))" || fail "no server: $(cat "$W/out")"

# --- input validation: nothing reaches nsupdate ---------------------------------------
bad_input() {
    local msg=$1 pat=$2
    shift 2
    hook "$@"
    expect_eq "$?" 2 "$msg: exit 2"
    grep -qF -- "$pat" "$W/out" && pass "$msg: says \"$pat\"" || fail "$msg: $(cat "$W/out")"
}
bad_input "name with a newline" "is not a DNS name" add dns-01 "$(printf 'x.example.test.\nupdate add evil.example.test. 60 IN TXT x')" v
bad_input "name without the final dot" "does not end with a dot" add dns-01 _acme-challenge.mail.example.test v
bad_input "value with a quote" "TXTVALUE is not base64url text" add dns-01 $N 'a" ; b'
bad_input "unknown action" "unknown action" delete dns-01 $N v
bad_input "other challenge type" "unknown challenge type" add http-01 $N v
bad_input "too few arguments" "usage:" add dns-01 $N
MAILCERT_RFC2136_PORT=99999 bad_input "bad port" "is not a port number" add dns-01 $N v
MAILCERT_RFC2136_KEYFILE=$W/nonexistent bad_input "missing key file" "cannot read the TSIG key file" add dns-01 $N v
unset MAILCERT_RFC2136_SERVER
MAILCERT_RFC2136_CONFIG=/dev/null bad_input "no server configured" "no server: set MAILCERT_RFC2136_SERVER" add dns-01 $N v
expect_eq "$(bind_txt $N)" "" "no record after the bad inputs"

# --- settings from the config file -------------------------------------------------------
unset MAILCERT_RFC2136_SERVER MAILCERT_RFC2136_PORT MAILCERT_RFC2136_KEYFILE MAILCERT_RFC2136_ZONE
cat >"$W/rfc2136.conf" <<EOC
# mailcert-hook-rfc2136 settings
server = 127.0.0.1
port = $BIND_PORT
keyfile = "$B/tsig.key"
zone = example.test
ttl = 30
EOC
export MAILCERT_RFC2136_CONFIG=$W/rfc2136.conf
hook add dns-01 $N from_file
expect_eq "$?" 0 "add with the config file: exit 0 ($(cat "$W/out"))"
expect_eq "$(bind_txt $N)" "from_file" "the config file's settings are used"
expect_eq "$(dig +noall +answer @127.0.0.1 -p "$BIND_PORT" TXT $N | awk '{print $2}')" 30 "ttl from the config file"
hook remove dns-01 $N from_file
expect_eq "$(bind_txt $N)" "" "removed with the config file"
echo "colour = blue" >>"$W/rfc2136.conf"
hook add dns-01 $N x
expect_eq "$?" 2 "unknown setting in the file: exit 2"
grep -q "rfc2136.conf:7: unknown setting \"colour\"" "$W/out" && pass "unknown setting named with FILE:LINE" || fail "unknown setting: $(cat "$W/out")"
unset MAILCERT_RFC2136_CONFIG

# --- a whole issuance through Pebble resolving with this BIND -------------------------------
export PEBBLE_VA_NOSLEEP=1 PEBBLE_DNSSERVER=127.0.0.1:$BIND_PORT
pebble_start "$W/pebble"
use_env
conf=$W/mailcert.conf
cat >"$conf" <<EOC
store = "$W/store"
listeners { postfix = false  dovecot = false }
notify { sendmail = "" }
acme {
  directory = "$PEBBLE_DIR_URL"
  email = "postmaster@example.test"
  agree_tos = true
  ca_bundle = "$PEBBLE_API_CA"
}
dns01 {
  hook = "$HOOK"
  resolver = "127.0.0.1:$BIND_PORT"
  propagation_timeout = 30
}
host "mail.example.test" { names = { "smtp.example.test" } challenge = "dns-01" }
host "*.example.test" { names = { "example.test" } challenge = "dns-01" }
EOC
"$MAILCERT" -v -c "$conf" issue >"$W/issue.out" 2>&1
rc=$?
expect_eq "$rc" 0 "issue with dns-01 through the RFC 2136 hook: exit 0"
[ "$rc" = 0 ] || log "issue output: $(tail -20 "$W/issue.out")"
check_set "$W/store" mail.example.test "$PEBBLE_ROOT" mail.example.test smtp.example.test
check_set "$W/store" _wildcard.example.test "$PEBBLE_ROOT" "*.example.test" example.test
grep -q "updating zone 'example.test/IN': adding an RR at '_acme-challenge.example.test' TXT\|adding an RR at _acme-challenge.example.test TXT" "$B/named.log" &&
    pass "BIND took the updates" || fail "no update in named.log: $(grep -i update "$B/named.log" | tail -5)"
for n in _acme-challenge.mail.example.test. _acme-challenge.smtp.example.test. _acme-challenge.example.test.; do
    expect_eq "$(bind_txt $n)" "" "$n removed after validation"
done
finish
