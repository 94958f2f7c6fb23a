#!/bin/bash
# DANE-safe keys (RFC 7672) against a real Pebble, with a throwaway BIND 9 on loopback
# as the resolver that publishes TLSA records (updated with nsupdate and a TSIG key, as
# an operator's RFC 2136 set-up would):
#  - key_reuse = true keeps the key (same SPKI SHA-256) across three forced renewals,
#    each chain valid; without it every renewal changes the key;
#  - a key revoked as compromised (state key_compromised) is replaced, and said so;
#  - key_rollover = "announce": a next key in STORE/nextkey (0640), `mailcert tlsa`
#    prints the 3 1 1 records of both keys for every name; while the next key's record
#    is not visible (or visible for less than twice its TTL) a renewal keeps the current
#    key and status says why; once visible long enough (MAILCERT_NOW moves the clock)
#    the renewal switches to it and a new next key is made.
. "$(dirname "$0")/e2e.sh"
. "$(dirname "$0")/rfc2136-lib.sh"
set -u
need_test_hooks
for p in named nsupdate dig tsig-keygen; do
    command -v "$p" >/dev/null || { log "SKIP: $p not installed (scripts/install-deps installs bind9 and bind9-dnsutils)"; exit 77; }
done
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
B=$W/bind
BIND_UPDATE_TYPES="TXT TLSA" bind_start "$B" dane.test
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" \
    reuse.dane.test fresh.dane.test roll.dane.test:mx2.dane.test
sed -i 's|^host "reuse.dane.test" { names = {  } }|host "reuse.dane.test" { names = {  } key_reuse = true }|
        s|^host "roll.dane.test" { names = { "mx2.dane.test" } }|host "roll.dane.test" { names = { "mx2.dane.test" } key_rollover = "announce" }|' "$conf"
printf 'dns01 { resolver = "127.0.0.1:%s" }\n' "$BIND_PORT" >> "$conf"
grep -q 'key_reuse = true' "$conf" && grep -q 'key_rollover = "announce"' "$conf" || die "config: $(cat "$conf")"
"$MAILCERT" -c "$conf" check > "$W/check" 2>&1 || die "check: $(cat "$W/check")"

spki_cert() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64; }
spki_key() { openssl pkey -in "$1" -pubout -outform DER | sha256sum | cut -c1-64; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=[h for h in d["hosts"] if h["host"]==sys.argv[2]][0]; v=h.get(sys.argv[3]); print("null" if v is None else v)' "$@"; }
epoch() { python3 -c 'import datetime,sys; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$1"; }
status_json() { "$MAILCERT" -c "$conf" status --json > "$W/$1" 2>"$W/$1.err"; }
publish() { # OWNER HEX: add the 3 1 1 record (TTL 60) through RFC 2136
    printf 'server 127.0.0.1 %s\nzone dane.test\nupdate add %s 60 IN TLSA 3 1 1 %s\nsend\n' "$BIND_PORT" "$1" "$2" |
        nsupdate -k "$B/tsig.key" > "$W/nsupdate" 2>&1 || die "nsupdate: $(cat "$W/nsupdate")"
}
issue() { "$MAILCERT" -c "$conf" issue "$@" > "$W/out" 2>&1; }

issue; rc=$?
expect_eq "$rc" 0 "first issue of the three hosts ($(tail -3 "$W/out"))"
pebble_root_refresh

# --- key_reuse: three renewals, one key -----------------------------------------
r0=$(spki_cert "$W/store/certs/reuse.dane.test/fullchain.pem")
f0=$(spki_cert "$W/store/certs/fresh.dane.test/fullchain.pem")
status_json s0
expect_eq "$(jget "$W/s0" reuse.dane.test key_spki_sha256)" "$r0" "status --json shows the key's SPKI SHA-256"
serials=$(jget "$W/s0" reuse.dane.test serial)
fresh_keys=$f0
for i in 1 2 3; do
    issue --force reuse.dane.test fresh.dane.test; rc=$?
    expect_eq "$rc" 0 "forced renewal $i ($(tail -2 "$W/out"))"
    expect_eq "$(spki_cert "$W/store/certs/reuse.dane.test/fullchain.pem")" "$r0" "renewal $i: key_reuse kept the SPKI digest"
    expect_eq "$(spki_key "$W/store/certs/reuse.dane.test/key.pem")" "$r0" "renewal $i: key.pem is that key"
    check_set "$W/store" reuse.dane.test "$PEBBLE_ROOT" reuse.dane.test
    status_json s$i
    s=$(jget "$W/s$i" reuse.dane.test serial)
    case " $serials " in *" $s "*) fail "renewal $i: no new certificate (serial $s again)" ;; *) pass "renewal $i: a new certificate" ;; esac
    serials="$serials $s"
    f=$(spki_cert "$W/store/certs/fresh.dane.test/fullchain.pem")
    case " $fresh_keys " in *" $f "*) fail "renewal $i: without key_reuse the key stayed ($f)" ;; *) pass "renewal $i: without key_reuse a new key" ;; esac
    fresh_keys="$fresh_keys $f"
done
"$MAILCERT" -c "$conf" status reuse.dane.test > "$W/table" 2>&1
grep -q "key SPKI SHA-256 $r0" "$W/table" && pass "the status table shows the key's digest" || fail "table: $(cat "$W/table")"

# a key revoked as compromised is never reused
st=$(readlink -f "$W/store/certs/reuse.dane.test")/state.json
python3 - "$st" <<'EOP' || die "marking the key compromised"
import json, sys
d = json.load(open(sys.argv[1])); d["key_compromised"] = [d["key_spki_sha256"]]
json.dump(d, open(sys.argv[1], "w"))
EOP
issue --force reuse.dane.test; rc=$?
expect_eq "$rc" 0 "renewal after a key compromise"
r1=$(spki_cert "$W/store/certs/reuse.dane.test/fullchain.pem")
[ "$r1" != "$r0" ] && pass "a compromised key is replaced" || fail "the compromised key was reused"
grep -q "revoked as compromised: a new key is made" "$W/out" && pass "the log says why the key changed" || fail "log: $(cat "$W/out")"
status_json s4
case $(jget "$W/s4" reuse.dane.test key_compromised) in
    *"$r1"*) fail "the new key is marked compromised" ;;
    *) pass "the new key is not marked compromised" ;;
esac
issue --force reuse.dane.test
expect_eq "$(spki_cert "$W/store/certs/reuse.dane.test/fullchain.pem")" "$r1" "the new key is reused from then on"

# --- key_rollover = "announce" -------------------------------------------------------
R=roll.dane.test
cur=$(spki_cert "$W/store/certs/$R/fullchain.pem")
nk=$W/store/nextkey/$R/key.pem
[ -f "$nk" ] && pass "a next key is kept in the store" || fail "no $nk"
expect_eq "$(file_mode "$nk")" 640 "the next key is 0640"
case "$(file_mode "$W/store/nextkey")" in 700) pass "STORE/nextkey is 0700" ;; *) fail "STORE/nextkey mode $(file_mode "$W/store/nextkey")" ;; esac
next=$(spki_key "$nk")
[ "$next" != "$cur" ] && pass "the next key is another key" || fail "next key = current key"
status_json r0
expect_eq "$(jget "$W/r0" $R next_key_spki_sha256)" "$next" "status --json shows the next key's digest"
expect_eq "$(jget "$W/r0" $R key_rollover_state)" waiting "rollover state: waiting"
"$MAILCERT" -c "$conf" tlsa $R > "$W/tlsa" 2>"$W/tlsa.err"; rc=$?
expect_eq "$rc" 0 "mailcert tlsa exits 0"
cat > "$W/tlsa.want" <<EOT
_25._tcp.roll.dane.test. IN TLSA 3 1 1 $cur
_25._tcp.mx2.dane.test. IN TLSA 3 1 1 $cur
_25._tcp.roll.dane.test. IN TLSA 3 1 1 $next
_25._tcp.mx2.dane.test. IN TLSA 3 1 1 $next
EOT
diff "$W/tlsa.want" "$W/tlsa" > /dev/null && pass "tlsa prints the current and the next key for every name" ||
    fail "tlsa output: $(cat "$W/tlsa")"

# nothing published: the renewal keeps the current key and says why
issue --force $R; rc=$?
expect_eq "$rc" 0 "renewal with the next key unannounced"
expect_eq "$(spki_cert "$W/store/certs/$R/fullchain.pem")" "$cur" "unannounced next key: the current key is kept"
expect_eq "$(spki_key "$nk")" "$next" "the next key stays the same"
check_set "$W/store" $R "$PEBBLE_ROOT" $R mx2.dane.test
grep -q "the installed key is kept: the next key's record _25._tcp.roll.dane.test. IN TLSA 3 1 1 $next is not visible" "$W/out" &&
    pass "the log says the next key's record is not visible" || fail "log: $(cat "$W/out")"
"$MAILCERT" -c "$conf" status $R > "$W/table" 2>&1
grep -q "next key SPKI SHA-256 $next: waiting for its TLSA records since .*is not visible at 127.0.0.1:$BIND_PORT" "$W/table" &&
    pass "status says what the rollover waits for" || fail "table: $(cat "$W/table")"

# published for one name only: still kept
publish _25._tcp.roll.dane.test. "$cur"
publish _25._tcp.roll.dane.test. "$next"
issue --force $R
expect_eq "$(spki_cert "$W/store/certs/$R/fullchain.pem")" "$cur" "next key announced for one name of two: kept"
grep -q "_25._tcp.mx2.dane.test. IN TLSA 3 1 1 $next is not visible" "$W/out" && pass "the missing name is named" || fail "log: $(cat "$W/out")"

# published for both (for mx2 as README.md shows: `mailcert tlsa` through awk into
# nsupdate): seen now, but not yet for twice the TTL (60 s)
{
    echo "server 127.0.0.1 $BIND_PORT"
    "$MAILCERT" -c "$conf" tlsa $R 2>/dev/null | grep '^_25\._tcp\.mx2\.' |
        awk '{ print "update add", $1, 60, $2, $3, $4, $5, $6, $7 } END { print "send" }'
} | nsupdate -k "$B/tsig.key" > "$W/nsupdate" 2>&1 || die "nsupdate: $(cat "$W/nsupdate")"
expect_eq "$(dig +short @127.0.0.1 -p "$BIND_PORT" TLSA _25._tcp.mx2.dane.test | tr -d ' ' | tr 'A-F' 'a-f' | sort | tr '\n' ' ')" \
    "$(printf '311%s\n311%s\n' "$cur" "$next" | sort | tr '\n' ' ')" "BIND serves both records of mx2"
"$MAILCERT" -c "$conf" renew $R > "$W/out" 2>&1
status_json r1
seen=$(jget "$W/r1" $R next_key_tlsa_seen_time)
[ "$seen" != null ] && pass "a renewal run that is not due records when the record became visible" || fail "seen: $(cat "$W/r1")"
expect_eq "$(jget "$W/r1" $R key_rollover_state)" waiting "visible for less than twice the TTL: still waiting"
t=$(epoch "$seen")
expect_eq "$(( $(epoch "$(jget "$W/r1" $R next_key_ready_time)") - t ))" 120 "ready twice the record's TTL after it was seen"
MAILCERT_NOW=$((t + 60)) "$MAILCERT" -c "$conf" issue --force $R > "$W/out" 2>&1
expect_eq "$(spki_cert "$W/store/certs/$R/fullchain.pem")" "$cur" "60 s after the record was seen: the current key is kept"

# long enough: the renewal switches, and a new next key is made
MAILCERT_NOW=$((t + 130)) "$MAILCERT" -c "$conf" issue --force $R > "$W/out" 2>&1; rc=$?
expect_eq "$rc" 0 "renewal once the record was visible long enough ($(tail -2 "$W/out"))"
expect_eq "$(spki_cert "$W/store/certs/$R/fullchain.pem")" "$next" "switched to the announced key"
expect_eq "$(spki_key "$W/store/certs/$R/key.pem")" "$next" "key.pem is the announced key"
check_set "$W/store" $R "$PEBBLE_ROOT" $R mx2.dane.test
next2=$(spki_key "$nk")
[ "$next2" != "$next" ] && [ "$next2" != "$cur" ] && pass "a new next key after the switch" || fail "next key after the switch: $next2"
status_json r2
expect_eq "$(jget "$W/r2" $R key_spki_sha256)" "$next" "status: the current key's digest"
expect_eq "$(jget "$W/r2" $R next_key_spki_sha256)" "$next2" "status: the new next key's digest"
[ "$(jget "$W/r2" $R key_switched_time)" != null ] && pass "status: when it switched" || fail "no key_switched_time"
"$MAILCERT" -c "$conf" status $R > "$W/table" 2>&1
grep -q "switched to the announced key at" "$W/table" && pass "the table says when it switched" || fail "table: $(cat "$W/table")"
"$MAILCERT" -c "$conf" tlsa $R > "$W/tlsa" 2>&1
grep -c "3 1 1 $next\$" "$W/tlsa" | grep -qx 2 && grep -c "3 1 1 $next2\$" "$W/tlsa" | grep -qx 2 &&
    pass "tlsa now prints the switched key and the new next key" || fail "tlsa: $(cat "$W/tlsa")"
finish
