#!/bin/bash
# The unprivileged responder children hold neither the EAB HMAC key nor the
# account key: their memory (every writable mapping, read through /proc/PID/mem as
# root while they serve) contains no copy of the key's base64url text, of its
# decoded bytes, or of the account key.  The parent used to leave copies in freed
# heap blocks (the configuration text, libconfuse's values) that the children
# inherited.  Uses the scripted fake CA in mode "slow"; a dns-01 host's hook holds
# the run open (bounded) while the responders are examined.
. "$(dirname "$0")/e2e.sh"
# shellcheck source=tests/lib/fakeca.sh
. "$TOP_SRCDIR/tests/lib/fakeca.sh"
set -u
[ "$(id -u)" = 0 ] || { log "SKIP: reading another process's memory needs root"; exit 77; }
e2e_workdir
conf=$W/mailcert.conf
read -r hport aport < <(freeport 2 | tr '\n' ' ')
EAB_KEY=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(48)).decode().rstrip("="))')

hook=$W/hook.sh
cat > "$hook" <<EOH
#!/bin/sh
# holds the run open until the test says go (at most 120 s)
[ "\$1" = add ] || exit 0
echo "add \$MAILCERT_IDENTIFIER" >> "$W/hook.log"
i=0
while [ ! -e "$W/go" ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done
exit 0
EOH
chmod 755 "$hook"

fakeca_start "$W/fake" slow >/dev/null
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$hport" \
    web.example.test alpn.example.test dns.example.test
sed -i 's|^host "alpn.example.test" { names = {  } self_check = false }|host "alpn.example.test" { challenge = "tls-alpn-01" self_check = false }|' "$conf"
sed -i 's|^host "dns.example.test" { names = {  } self_check = false }|host "dns.example.test" { challenge = "dns-01" self_check = false }|' "$conf"
sed -i "s|^  agree_tos = true|  agree_tos = true\n  eab_kid = \"kid-1\"\n  eab_hmac_key = \"$EAB_KEY\"|" "$conf"
{ printf 'tlsalpn01 { listen = { "127.0.0.1:%s" } }\n' "$aport"
  printf 'dns01 { hook = "%s" }\n' "$hook"; } >> "$conf"
grep -q "eab_hmac_key = \"$EAB_KEY\"" "$conf" && grep -q 'challenge = "dns-01"' "$conf" &&
    grep -q 'challenge = "tls-alpn-01"' "$conf" || fail "test config not as intended: $(cat "$conf")"

# bounded_run OUT ARGS...: mailcert in the background under timeout 300; TPID
bounded_run() {
    local out=$1
    shift
    timeout 300 "$MAILCERT" -c "$conf" "$@" > "$out" 2>&1 &
    TPID=$!
    on_exit "kill -TERM -- -$TPID 2>/dev/null"
}

# a first run registers the account (its key is then in the store)
touch "$W/go"
bounded_run "$W/out1" issue
rc=0; wait "$TPID" || rc=$?
expect_eq "$rc" 0 "first run: $(tail -1 "$W/out1")"
akey=$(ls "$W"/store/accounts/*/key.pem 2>/dev/null | head -1)
[ -s "$akey" ] || fail "no account key in the store"

# the second run stops in the hook: both responders serve meanwhile
rm -f "$W/go" "$W/hook.log"
bounded_run "$W/out2" issue --force
deadline=$((SECONDS + 120))
until grep -q "add dns.example.test" "$W/hook.log" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || break
    kill -0 "$TPID" 2>/dev/null || break
    sleep 0.1
done
grep -q "add dns.example.test" "$W/hook.log" 2>/dev/null || fail "the hook was not reached: $(cat "$W/out2")"
mpid=$(ps -o pid= --ppid "$TPID" | tr -d ' ' | head -1)
pids=""
for p in $(ps -o pid= --ppid "${mpid:-0}" 2>/dev/null); do
    case $(cat "/proc/$p/comm" 2>/dev/null) in
        mailcert-http01|mailcert-alpn) pids="$pids $p" ;;
    esac
done
expect_eq "$(echo $pids | wc -w)" 2 "both responders are running (pids:$pids)"

# search every writable mapping of each responder
# shellcheck disable=SC2086
python3 "$TOP_SRCDIR/tests/lib/memscan.py" $pids -- "text:EAB key text:$EAB_KEY" "b64url:EAB key bytes:$EAB_KEY" \
    "eckey:account key:$akey" > "$W/scan" 2>&1
src=$?
cat "$W/scan" >&2
if [ "$src" = 0 ] && grep -q "bytes of writable memory searched" "$W/scan"; then
    pass "no copy of the EAB key or the account key in the responders' memory"
else
    fail "secrets found in a responder's memory (see above)"
fi
touch "$W/go"
rc=0; wait "$TPID" || rc=$?
expect_eq "$rc" 0 "second run: $(tail -1 "$W/out2")"
finish
