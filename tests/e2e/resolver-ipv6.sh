#!/bin/bash
# resolver = an IPv6 address: the self-checks and CAA look-ups ask that server over
# IPv6 (Pebble's DNS, pebble-challtestsrv, also answers on [::1]):
#  - "[::1]:PORT": a name that resolves to us is issued; a name whose A record points
#    elsewhere fails its self-check, which names [::1]:PORT as where it was looked up;
#  - the bare form "::1" (port 53, where nothing answers here) and an IPv6 port where
#    nothing answers: the look-up fails and says so, no order reaches Pebble;
#  - bad forms are refused by `mailcert check` at FILE:LINE.
#  - resolver = "" with "nameserver ::1" in /etc/resolv.conf (bind-mounted in a
#    private mount namespace) and a second challtestsrv on [::1]:53: the system's
#    IPv6 server is asked.
# On a machine without IPv6 loopback only the configuration forms are checked (the
# test says so).
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0
pebble_start "$W/pebble"
conf=$W/mailcert.conf
orders() { grep -c 'Added order' "$W/pebble/pebble.log"; }
cts() { curl -sSf --max-time 10 -d "$2" "$CHALLTESTSRV_URL/$1" >/dev/null || fail "challtestsrv $1 $2"; }

e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" \
    v6ok.example.test v6far.example.test v6none.example.test sys6.example.test
# set_resolver VALUE: the top-level resolver line of conf
set_resolver() { sed -i "s|^resolver = .*|resolver = \"$1\"|" "$conf"; }
grep -q '^resolver = ' "$conf" || die "e2e_config wrote no resolver line"

# --- the forms: refused at FILE:LINE, or accepted ---
line=$(grep -n '^resolver = ' "$conf" | cut -d: -f1)
for bad in '[::1' '[::1]:0' '[::1]x' 'dns.example.test' '[127.0.0.1]:53'; do
    set_resolver "$bad"
    out=$("$MAILCERT" -c "$conf" check 2>&1) && fail "check accepted resolver \"$bad\""
    case $out in
        *"$conf:$line: resolver: "*) pass "check refuses \"$bad\" at FILE:LINE" ;;
        *) fail "check on \"$bad\": $out" ;;
    esac
done
for good in '::1' '[::1]' '[2001:db8::53]:5353' '2001:db8::53'; do
    set_resolver "$good"
    "$MAILCERT" -c "$conf" check >/dev/null 2>&1 && pass "check accepts \"$good\"" ||
        fail "check refuses \"$good\": $("$MAILCERT" -c "$conf" check 2>&1)"
done

if [ -z "${PEBBLE_DNS6:-}" ]; then
    log "no IPv6 loopback on this machine: look-ups over IPv6 not tried"
    finish
fi

# --- look-ups over IPv6 ---
set_resolver "$PEBBLE_DNS6"
n0=$(orders)
RC=0
"$MAILCERT" -v -c "$conf" issue v6ok.example.test >"$W/ok.out" 2>&1 || RC=$?
expect_eq "$RC" 0 "v6ok.example.test issued with resolver $PEBBLE_DNS6: $(tail -1 "$W/ok.out")"
grep -q "v6ok.example.test: self-check: 1 address(es) answer with the http-01 probe" "$W/ok.out" &&
    pass "its self-check resolved it over IPv6 and the probe came back" ||
    fail "no self-check seen: $(grep -i self-check "$W/ok.out")"
[ "$(orders)" -gt "$n0" ] && pass "its order reached Pebble" || fail "no order for v6ok.example.test"

cts add-a '{"host":"v6far.example.test.","addresses":["127.0.0.2"]}'
n0=$(orders)
RC=0
"$MAILCERT" -c "$conf" issue v6far.example.test >"$W/far.out" 2>&1 || RC=$?
expect_eq "$RC" 1 "v6far.example.test fails its self-check"
grep -qF "Self-check failed: v6far.example.test resolves to 127.0.0.2 at $PEBBLE_DNS6" "$W/far.out" &&
    pass "the answer came from $PEBBLE_DNS6 (the record set through challtestsrv)" ||
    fail "v6far: $(cat "$W/far.out")"
expect_eq "$(orders)" "$n0" "no order for v6far.example.test"

# nothing answers on this IPv6 port (a free one) or on port 53 of ::1
deadport=$(freeport 1)
for dead in "[::1]:$deadport" "::1"; do
    set_resolver "$dead"
    n0=$(orders)
    RC=0
    "$MAILCERT" -c "$conf" issue v6none.example.test >"$W/dead.out" 2>&1 || RC=$?
    expect_eq "$RC" 1 "resolver $dead: v6none.example.test fails"
    grep -qF "v6none.example.test at $dead: " "$W/dead.out" &&
        pass "resolver $dead: the failed look-up names the server ($(grep -F "at $dead: " "$W/dead.out" | head -1 | cut -c1-120))" ||
        fail "resolver $dead: $(cat "$W/dead.out")"
    expect_eq "$(orders)" "$n0" "resolver $dead: no order reached Pebble"
done

# --- the system's resolver an IPv6 server: /etc/resolv.conf with "nameserver ::1"
# (in a private mount namespace) and a second challtestsrv answering on [::1]:53 ---
if ! command -v unshare >/dev/null; then
    fail "no unshare: the system resolver over IPv6 cannot be tried"
else
    m=$(freeport 1)
    pebble-challtestsrv -http01 "" -https01 "" -tlsalpn01 "" -dns01 "[::1]:53" \
        -management "127.0.0.1:$m" -defaultIPv4 127.0.0.3 -defaultIPv6 "" \
        >"$W/cts53.log" 2>&1 </dev/null &
    cts53=$!
    on_exit "kill $cts53 2>/dev/null; wait $cts53 2>/dev/null"
    # it opens its management port after its DNS one, and exits when [::1]:53 is taken
    wait_port 127.0.0.1 "$m" 30 || die "a challtestsrv on [::1]:53 did not start: $(tail -3 "$W/cts53.log")"
    printf 'nameserver ::1\noptions attempts:1 timeout:2\n' >"$W/resolv.conf"
    set_resolver ""
    n0=$(orders)
    RC=0
    unshare --mount sh -c 'mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3" issue sys6.example.test' \
        sh "$W/resolv.conf" "$MAILCERT" "$conf" >"$W/sys6.out" 2>&1 || RC=$?
    expect_eq "$RC" 1 "sys6.example.test fails its self-check (the second server says 127.0.0.3)"
    grep -qF "Self-check failed: sys6.example.test resolves to 127.0.0.3 at the system's resolver" "$W/sys6.out" &&
        pass "the system's resolver was asked over IPv6 (nameserver ::1)" ||
        fail "system resolver ::1: $(cat "$W/sys6.out")"
    expect_eq "$(orders)" "$n0" "no order for sys6.example.test"
fi
finish
