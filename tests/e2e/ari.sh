#!/bin/bash
# When to renew, as the CA says: ACME Renewal Information (RFC 9773) against the
# scripted fake CA. A window in the future, now and in the past; Retry-After clamped
# to 1 h .. 1 day (6 h without one); hostile and failing answers never fail the host;
# "replaces" names the old certificate (checked against the fake's own certID, made
# with python's cryptography) and a CA that refuses it gets the order again without
# it; a CA without renewalInfo falls back to the lifetime rule; acme.profile checked
# against meta.profiles; a rateLimited Retry-After is honoured. MAILCERT_NOW moves
# mailcert's clock; the fake's windows are anchored at DIR/ari-anchor.
. "$(dirname "$0")/e2e.sh"
# shellcheck source=tests/lib/fakeca.sh
. "$TOP_SRCDIR/tests/lib/fakeca.sh"
set -u
need_test_hooks
e2e_workdir
conf=$W/mailcert.conf
H=mail.example.test
port=$(freeport)
fakeca_start "$W/fake" good --ari future --ari-retry-after 7200 --profiles classic,shortlived >/dev/null
FD=$FAKECA_WORKDIR
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$port" "$H"

# field of host H in status --json FILE; "null" for null
jget() { python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["hosts"][0]; v=h[sys.argv[2]]; print("null" if v is None else v)' "$@"; }
epoch() { python3 -c 'import datetime,sys; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$1"; }
st() { "$MAILCERT" -c "$conf" status --json > "$W/$1"; }
ari_requests() { fakeca_requests '^/renewal-info/' | wc -l; }
# the "replaces" and status of the last N newOrder requests, one per line
orders() { fakeca_requests '^/new-order$' | tail -n "$1" | python3 -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l); print(d.get("replaces"), d["status"])'; }
# renew at the test clock T; output in $W/out-NAME, exit code in rc
renew_at() { MAILCERT_NOW=$1 "$MAILCERT" -c "$conf" renew > "$W/out-$2" 2>&1; rc=$?; }
near() { [ "${1:-0}" -ge "$2" ] && [ "${1:-0}" -le "$3" ]; }

# ---- issuance: the window is asked for at once ----
"$MAILCERT" -c "$conf" issue > "$W/out-issue" 2>&1; rc=$?
expect_eq "$rc" 0 "issue against the fake CA"
st s1
t0=$(epoch "$(jget "$W/s1" last_success_time)")
id1=$(cat "$FD"/certid-*)
expect_eq "$(jget "$W/s1" ari_cert_id)" "$id1" "certID is the fake's own computation (AKI . serial)"
expect_eq "$(fakeca_requests '^/renewal-info/' | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["path"])')" \
    "/renewal-info/$id1" "renewalInfo asked for that certID"
ws=$(epoch "$(jget "$W/s1" ari_window_start)"); we=$(epoch "$(jget "$W/s1" ari_window_end)")
rt=$(epoch "$(jget "$W/s1" renewal_time)")
expect_eq "$((we - ws))" 86400 "the suggested window is kept (a day long)"
near "$ws" $((t0 + 30 * 86400 - 120)) $((t0 + 30 * 86400 + 120)) && pass "window starts 30 days out" || fail "window start $ws vs $t0"
near "$rt" "$ws" $((we - 1)) && pass "renewal time chosen inside the window" || fail "renewal $rt not in $ws..$we"
expect_eq "$(jget "$W/s1" ari_renewal_time)" "$(jget "$W/s1" renewal_time)" "renewal_time is the ARI time"
nc=$(epoch "$(jget "$W/s1" ari_next_check_time)")
near "$nc" $((t0 + 7200 - 5)) $((t0 + 7200 + 60)) && pass "next check after Retry-After (2 h)" || fail "next check $nc vs $t0+7200"
expect_eq "$(jget "$W/s1" ari_explanation_url)" "https://fakeca.invalid/ari/future" "explanationURL kept"
expect_eq "$(jget "$W/s1" directory_url)" "$FAKECA_DIR_URL" "the directory that issued it is recorded"
case "$(jget "$W/s1" account_url)" in "${FAKECA_DIR_URL%/dir}/acct/"*) pass "the account that ordered it is recorded" ;; *) fail "account_url $(jget "$W/s1" account_url)" ;; esac
"$MAILCERT" -c "$conf" status > "$W/table1"
grep -q "^$H .* ok; renewal .* in the CA's window .* (asked again .*); see https://fakeca.invalid/ari/future" "$W/table1" &&
    pass "status table shows the window" || fail "status table: $(cat "$W/table1")"
serial1=$(jget "$W/s1" serial)

# ---- not asked again before its time ----
n=$(ari_requests)
renew_at $((t0 + 600)) early
expect_eq "$rc" 0 "renew before anything is due"
expect_eq "$(ari_requests)" "$n" "renewalInfo not asked before the next check time"

# ---- asked again: same window, same chosen time; Retry-After clamped ----
T=$((nc + 10))
renew_at "$T" again
st s2
expect_eq "$(ari_requests)" $((n + 1)) "renewalInfo asked again once the next check time came"
expect_eq "$(jget "$W/s2" renewal_time)" "$(jget "$W/s1" renewal_time)" "the same window keeps the chosen time"
expect_eq "$(jget "$W/s2" serial)" "$serial1" "not renewed before the window"
expect_eq "$(epoch "$(jget "$W/s2" ari_next_check_time)")" $((T + 7200)) "Retry-After 7200 s followed"
for ra in "5:3600:a Retry-After under an hour counts as an hour" \
          "9999999:86400:a Retry-After over a day counts as a day" \
          ":21600:no Retry-After: asked again in 6 hours"; do
    IFS=: read -r val want what <<<"$ra"
    printf '%s' "$val" > "$FD/ari-retry-after"
    T=$(($(epoch "$(jget "$W/s2" ari_next_check_time)") + 10))
    renew_at "$T" "ra$want"
    st s2
    expect_eq "$(epoch "$(jget "$W/s2" ari_next_check_time)")" $((T + want)) "$what"
done

# ---- hostile or failing answers: never a failure, the known window holds ----
for w in inverted badtime notjson error; do
    echo "$w" > "$FD/ari-window"
    T=$(($(epoch "$(jget "$W/s2" ari_next_check_time)") + 10))
    renew_at "$T" "$w"
    st "s-$w"
    expect_eq "$rc" 0 "$w: renew succeeds"
    expect_eq "$(jget "$W/s-$w" consecutive_failures):$(jget "$W/s-$w" last_failure_error_message)" "0:null" "$w: no failure recorded"
    expect_eq "$(jget "$W/s-$w" renewal_time)" "$(jget "$W/s1" renewal_time)" "$w: the window known before holds"
    expect_eq "$(epoch "$(jget "$W/s-$w" ari_next_check_time)")" $((T + 3600)) "$w: asked again in an hour"
    grep -q "$H: renewal information: .*asked again in an hour" "$W/out-$w" && pass "$w: a warning says why" || fail "$w: $(cat "$W/out-$w")"
    cp "$W/s-$w" "$W/s2"
done

# ---- a window open now: a time between now and its end, then renewed with replaces ----
T=$(($(epoch "$(jget "$W/s2" ari_next_check_time)") + 10))
echo "$T" > "$FD/ari-anchor"
echo now > "$FD/ari-window"
renew_at "$T" now
st s3
rt=$(epoch "$(jget "$W/s3" renewal_time)")
expect_eq "$(epoch "$(jget "$W/s3" ari_window_start)")" $((T - 3600)) "window now: kept"
if [ "$(jget "$W/s3" serial)" = "$serial1" ]; then
    near "$rt" "$T" $((T + 3599)) && pass "window now: renewal between now and its end" || fail "window now: $rt vs $T"
    echo future > "$FD/ari-window"
    renew_at $((rt + 1)) due
    expect_eq "$rc" 0 "renewed once the chosen time came"
else
    # the chosen time was this very second (1 in 3600): renewed at once, also right
    expect_eq "$rt" "$T" "window now: renewed at once only when the time chosen was now"
    echo future > "$FD/ari-window"
fi
st s4
[ "$(jget "$W/s4" serial)" != "$serial1" ] && pass "window now: renewed" || fail "window now: not renewed"
expect_eq "$(orders 1)" "$id1 201" "the new order replaces the old certificate"
id2=$(jget "$W/s4" ari_cert_id)
[ "$id2" != "$id1" ] && [ -n "$id2" ] && pass "the new certificate has its own certID" || fail "certID $id2"

# ---- a window in the past: renewed in the same run ----
echo past > "$FD/ari-window"
T=$(($(epoch "$(jget "$W/s4" ari_next_check_time)") + 10))
renew_at "$T" past
st s5
expect_eq "$rc" 0 "window past: renew succeeds"
[ "$(jget "$W/s5" serial)" != "$(jget "$W/s4" serial)" ] && pass "window past: renewed at once" || fail "window past: not renewed: $(cat "$W/out-past")"
expect_eq "$(orders 1)" "$id2 201" "window past: replaces the old certificate"
grep -q "$H: renewal now, after the CA's suggested window .*; see https://fakeca.invalid/ari/past" "$W/out-past" &&
    pass "window past: the log says renewal now" || fail "window past: $(cat "$W/out-past")"
# the new certificate is in the past window too: due now
expect_eq "$(jget "$W/s5" renewal_time)" "$(jget "$W/s5" last_success_time)" "a certificate whose window has passed is due at once"

# ---- a CA that refuses "replaces": ordered again without it ----
echo future > "$FD/ari-window"
touch "$FD/reject-replaces"
id3=$(jget "$W/s5" ari_cert_id)
renew_at $((T + 60)) reject
st s6
expect_eq "$rc" 0 "refused replaces: renewal still succeeds"
[ "$(jget "$W/s6" serial)" != "$(jget "$W/s5" serial)" ] && pass "refused replaces: renewed" || fail "refused replaces: $(cat "$W/out-reject")"
expect_eq "$(orders 2 | tr '\n' ' ')" "$id3 409 None 201 " "refused replaces: one order with it (409), one without"
grep -q "refused \"replaces\"" "$W/out-reject" && pass "refused replaces: logged" || fail "no warning: $(cat "$W/out-reject")"
rm -f "$FD/reject-replaces"

# ---- a CA without renewalInfo: the lifetime rule ----
echo none > "$FD/ari-window"
n=$(ari_requests)
T=$(($(epoch "$(jget "$W/s6" ari_next_check_time)") + 10))
renew_at "$T" none
st s7
expect_eq "$rc" 0 "no renewalInfo: renew succeeds"
expect_eq "$(ari_requests)" "$n" "no renewalInfo: nothing asked"
expect_eq "$(jget "$W/s7" ari_window_start):$(jget "$W/s7" ari_window_end):$(jget "$W/s7" ari_explanation_url)" \
    "null:null:null" "no renewalInfo: window forgotten"
nb=$(epoch "$(jget "$W/s7" cert_start_time)"); na=$(epoch "$(jget "$W/s7" cert_expiration_time)")
expect_eq "$(epoch "$(jget "$W/s7" renewal_time)")" $((na - (na - nb) / 3)) "no renewalInfo: renewal when a third of the lifetime is left"
expect_eq "$(epoch "$(jget "$W/s7" ari_next_check_time)")" $((T + 86400)) "no renewalInfo: looked for again in a day"
"$MAILCERT" -c "$conf" issue --force > "$W/out-noari-force" 2>&1
expect_eq "$(orders 1)" "None 201" "no renewalInfo: no replaces sent"

# ---- acme.profile against meta.profiles ----
sed -i 's|^acme {|acme {\n  profile = "nosuch"|' "$conf"
before=$(fakeca_requests '^/new-order$' | wc -l)
"$MAILCERT" -c "$conf" issue --force > "$W/out-profile" 2>&1; rc=$?
expect_eq "$rc" 1 "a profile the CA does not offer fails the host"
grep -q "$H: acme.profile \"nosuch\" is not offered by $FAKECA_DIR_URL (it offers: classic, shortlived)" "$W/out-profile" &&
    pass "the error names the profile and the ones offered" || fail "profile error: $(cat "$W/out-profile")"
expect_eq "$(fakeca_requests '^/new-order$' | wc -l)" "$before" "no order placed for an unknown profile"
sed -i 's|profile = "nosuch"|profile = "shortlived"|' "$conf"
"$MAILCERT" -c "$conf" issue --force > "$W/out-profile2" 2>&1; rc=$?
expect_eq "$rc" 0 "an offered profile is ordered"
expect_eq "$(fakeca_requests '^/new-order$' | tail -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["payload"]["profile"])')" \
    shortlived "the order names the profile"
sed -i '/profile = "shortlived"/d' "$conf"

# ---- rateLimited with Retry-After: the next attempt no sooner ----
echo 7200 > "$FD/rate-limit"
T=$((T + 120))
MAILCERT_NOW=$T "$MAILCERT" -c "$conf" issue --force > "$W/out-rl" 2>&1; rc=$?
rm -f "$FD/rate-limit"
st s8
expect_eq "$rc" 1 "rateLimited fails the attempt"
grep -q "rateLimited" "$W/out-rl" && pass "the error is the CA's rateLimited problem" || fail "rl: $(cat "$W/out-rl")"
nr=$(epoch "$(jget "$W/s8" next_retry_time)")
near "$nr" $((T + 7200)) $((T + 7205)) && pass "next retry no sooner than Retry-After (7200 s, not the 1 min backoff)" || fail "next retry $nr vs $T+7200"
"$MAILCERT" -c "$conf" retry "$H" > "$W/out-rl2" 2>&1

# ---- a certificate from before renewal information was kept: adopted ----
echo future > "$FD/ari-window"
python3 - "$W/store/certs/$H/state.json" <<'EOP'
import json, os, sys
p = os.path.realpath(sys.argv[1])
d = json.load(open(p))
for k in [k for k in d if k.startswith("ari_")] + ["account_url", "directory_url"]:
    del d[k]
json.dump(d, open(p, "w"))
EOP
idlast=$(cat "$(ls "$FD"/certid-* | sort -t- -k2 -n | tail -1)")
n=$(ari_requests)
"$MAILCERT" -c "$conf" renew > "$W/out-legacy" 2>&1; rc=$?
st s9
expect_eq "$rc" 0 "an older state.json: renew succeeds"
expect_eq "$(jget "$W/s9" ari_cert_id)" "$idlast" "an older state.json: certID taken from the installed leaf"
expect_eq "$(jget "$W/s9" directory_url):$(jget "$W/s9" account_url)" "$FAKECA_DIR_URL:null"     "an older state.json: the directory the certificate came from, no account"
expect_eq "$(ari_requests)" $((n + 1)) "an older state.json: renewal information asked at once"
[ "$(jget "$W/s9" ari_window_start)" != null ] && pass "an older state.json: window known" || fail "no window: $(cat "$W/out-legacy")"

# ---- the CA unreachable when ARI is due: no failure, tried later ----
T=$(($(epoch "$(jget "$W/s9" ari_next_check_time)") + 10))
fakeca_stop
renew_at "$T" down
st s10
expect_eq "$rc" 0 "CA down while only renewal information is due: renew succeeds"
expect_eq "$(jget "$W/s10" consecutive_failures)" 0 "CA down: no failure recorded"
grep -q "$H: renewal information not asked (.*Couldn.t connect.*); the window known before holds meanwhile" "$W/out-down" &&
    pass "CA down: a warning says so" || fail "CA down: $(cat "$W/out-down")"
finish
