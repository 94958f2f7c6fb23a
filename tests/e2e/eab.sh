#!/bin/bash
# External account binding (RFC 8555 section 7.3.4) against a real Pebble that requires
# it (externalAccountBindingRequired, HS256 MAC keys): without acme.eab_kid and
# acme.eab_hmac_key the run says they are needed; a wrong MAC key or an unknown key id
# fails naming external account binding, and no account is left (no account.json, only
# a complete account key); the right key creates the account and a certificate is
# issued (dns-01 through dns01.challenge_file, which holds the run while the network
# process's memory is searched for the MAC key). The MAC key never shows in the
# output or the store, nor in the network process.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
b64url() { basenc --base64url | tr -d '=\n'; }
KID=mailcert-eab-kid
KEY=$(openssl rand 48 | b64url)
OTHER_KEY=$(openssl rand 48 | b64url)
WRONG_KEY=$(openssl rand 48 | b64url)
export PEBBLE_VA_NOSLEEP=1 PEBBLE_START_EAB="$KID:$KEY other-kid:$OTHER_KEY"
pebble_start "$W/pebble"
H=mail.eab.test

conf() { # [KID KEY]: the acme section gets them when given
    e2e_config "$W/mailcert.conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" "$H"
    if [ $# -eq 2 ]; then
        sed -i "s|^  agree_tos = true$|  agree_tos = true\n  eab_kid = \"$1\"\n  eab_hmac_key = \"$2\"|" "$W/mailcert.conf"
        grep -q "eab_kid = \"$1\"" "$W/mailcert.conf" || die "eab lines not written"
    fi
}
no_account() { # WHAT
    local acc=$W/store/accounts f bad=""
    if [ -d "$acc" ]; then
        for f in $(find "$acc" -type f); do
            case $f in
            */key.pem)
                [ "$(stat -c %a "$f")" = 600 ] && openssl pkey -in "$f" -check -noout >/dev/null 2>&1 ||
                    bad="$bad $f(incomplete or not 0600)" ;;
            *) bad="$bad $f" ;;
            esac
        done
    fi
    [ -z "$bad" ] && pass "$1: no account left (only a complete account key)" || fail "$1: left in accounts:$bad"
}
run_issue() { # OUTFILE
    "$MAILCERT" -v -c "$W/mailcert.conf" issue >"$1" 2>&1
}

# --- a CA that requires EAB, none configured ---------------------------------------------
conf
run_issue "$W/none.out"
rc=$?
[ "$rc" != 0 ] && pass "no EAB configured: issue fails (exit $rc)" || fail "no EAB configured: issue succeeded"
grep -q "$PEBBLE_DIR_URL requires external account binding: set acme.eab_kid and acme.eab_hmac_key" "$W/none.out" &&
    pass "no EAB configured: says eab_kid and eab_hmac_key are needed" || fail "no EAB: $(tail -5 "$W/none.out")"
no_account "no EAB configured"

# --- the right key id with a wrong MAC key ----------------------------------------------------
conf "$KID" "$WRONG_KEY"
run_issue "$W/wrong.out"
rc=$?
[ "$rc" != 0 ] && pass "wrong MAC key: issue fails (exit $rc)" || fail "wrong MAC key: issue succeeded"
grep -q "with external account binding (acme.eab_kid \"$KID\") failed; check acme.eab_kid and acme.eab_hmac_key: .*unauthorized: external account binding JWS verification error" "$W/wrong.out" &&
    pass "wrong MAC key: the error names external account binding ($(grep -o 'external account binding.*' "$W/wrong.out" | head -1))" ||
    fail "wrong MAC key: $(tail -5 "$W/wrong.out")"
no_account "wrong MAC key"

# --- a key id the CA does not know ---------------------------------------------------------------
conf unknown-kid "$KEY"
run_issue "$W/unknown.out"
rc=$?
[ "$rc" != 0 ] && pass "unknown key id: issue fails (exit $rc)" || fail "unknown key id: issue succeeded"
grep -q "with external account binding (acme.eab_kid \"unknown-kid\") failed; check acme.eab_kid and acme.eab_hmac_key: .*unauthorized: .*not known" "$W/unknown.out" &&
    pass "unknown key id: the error names external account binding" || fail "unknown key id: $(tail -5 "$W/unknown.out")"
no_account "unknown key id"

# --- the right key: an account, and a certificate --------------------------------------------------
# The host uses dns-01 through dns01.challenge_file: the run waits for the record to be
# published, and meanwhile the network process (which registered the account with the
# binding the key process signed) is searched for the MAC key.
conf "$KID" "$KEY"
F=$W/drop/records.txt
mkdir -p "$W/drop"
sed -i "s|^host \"$H\" { names = {  } }|host \"$H\" { challenge = \"dns-01\" }|" "$W/mailcert.conf"
printf 'dns01 {\n  challenge_file = "%s"\n  propagation_timeout = 120\n}\n' "$F" >>"$W/mailcert.conf"
grep -q 'challenge = "dns-01"' "$W/mailcert.conf" || die "config not as intended: $(cat "$W/mailcert.conf")"
timeout 300 "$MAILCERT" -v -c "$W/mailcert.conf" issue >"$W/right.out" 2>&1 &
TPID=$!
on_exit "kill -TERM $TPID 2>/dev/null"
deadline=$((SECONDS + 120))
until [ -s "$F" ] || [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$TPID" 2>/dev/null; do sleep 0.1; done
[ -s "$F" ] || fail "the record file never appeared: $(tail -5 "$W/right.out")"
net=""
mpid=$(ps -o pid= --ppid "$TPID" | tr -d ' ' | head -1) # timeout's child: the store process
for p in $(ps -o pid= --ppid "${mpid:-0}" 2>/dev/null); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mailcert-net ] && net=$p
done
if [ -z "$net" ] || [ "$(id -u)" != 0 ]; then
    fail "cannot search the network process (pid '${net}', uid $(id -u); reading its memory needs root)"
else
    python3 "$TOP_SRCDIR/tests/lib/memscan.py" "$net" -- "text:MAC key text:$KEY" "b64url:MAC key bytes:$KEY" >"$W/scan" 2>&1
    src=$?
    [ "$src" = 0 ] && pass "no copy of the EAB MAC key in the network process ($(tail -1 "$W/scan"))" ||
        fail "the network process holds the EAB MAC key: $(cat "$W/scan")"
fi
# play the DNS utility: publish what the file lists
grep -v '^#' "$F" | while read -r name type value; do
    [ "$type" = TXT ] && pebble_set_txt "$name" "${value//\"/}"
done
rc=0
wait "$TPID" || rc=$?
expect_eq "$rc" 0 "right EAB key: issue exits 0"
[ "$rc" = 0 ] || log "issue output: $(tail -20 "$W/right.out")"
check_set "$W/store" "$H" "$PEBBLE_ROOT" "$H"
acc=$(find "$W/store/accounts" -name account.json)
[ -n "$acc" ] && pass "account.json written" || fail "no account.json"
url=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("url") or d.get("kid") or d.get("account_url") or "")' "$acc" 2>/dev/null)
[ -n "$url" ] && pass "account URL $url" || fail "no URL in $acc: $(cat "$acc")"
[ ! -e "$F" ] && pass "the record file is gone after validation" || fail "record file left: $(cat "$F")"

# --- the MAC key never leaves the configuration --------------------------------------------------------
for k in "$KEY" "$WRONG_KEY"; do
    if grep -rqF -- "$k" "$W/store" "$W"/*.out; then
        fail "the EAB MAC key shows in $(grep -rlF -- "$k" "$W/store" "$W"/*.out)"
    else
        pass "the EAB MAC key is in no output and no store file"
    fi
done
finish
