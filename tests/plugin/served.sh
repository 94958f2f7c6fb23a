#!/bin/bash
# Proof of what is served: mailcert-milter probes every listener it manages (the smtpd
# services of master.cf, Dovecot's inet listeners) by SNI for each name and once
# without SNI, after each reload and on SIGUSR1, and records what it found for
# `mailcert status`:
#  - a real Postfix (SMTP STARTTLS, SMTPS) and Dovecot (IMAP STARTTLS, IMAPS, POP3S):
#    every name, a wildcard and no SNI reported ok with the leaf's serial and SHA-256,
#    again after a renewal (the check after that reload sees the new set);
#  - a Dovecot whose reload is blocked (its master process stopped) keeps serving the
#    previous set after a renewal: a mismatch in the check after that reload, while
#    LOADED says yes; once the master goes on, the next check is clean;
#  - a Postfix smtpd service left serving an old certificate (a master.cf override
#    outside the store) is a mismatch in the first check after it appears (for the
#    names of other hosts, which that leaf does not cover, wrong-name): status
#    exits 1, SERVED says mismatch, --json has it in the host's served array and in
#    problems[], the plugin logs it;
#  - Dovecot stopped: its listeners are reported unreachable.
# In a normal build mailcert-milter runs under valgrind (the check runs in a forked
# process of it): no error, no definite leak.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "no jq"
[ -x "${MAILCERT:-}" ] || skip "mailcert not built"
VG_RC=99
VALGRIND=(valgrind --error-exitcode=$VG_RC --errors-for-leak-kinds=definite --leak-check=full
    --trace-children=no --log-file="$T/valgrind.%p.log")
if ldd "$MILTER" | grep -Eq 'libasan|libubsan'; then
    log "sanitizer build: without valgrind"
    VALGRIND=()
else
    command -v valgrind >/dev/null || skip "no valgrind"
fi

ca_make "$T/ca"
STORE=$T/store
# a.test is written by mailcert itself; b.test (two names) and a wildcard host by hand
leaf_make "$T/ca" "$T/b" 10 b.test mail.b.test
leaf_make "$T/ca" "$T/w" 10 '*.w.test'

read -r SMTP SMTPS IMAP IMAPS POP3S OLD < <(freeport 6 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test
# configured, or mailcert retires its directory as a host it no longer manages
printf 'host "*.w.test" {\n  source = "manual"\n  challenge = "dns-01"\n}\n' >>"$T/mailcert.conf"
"$MAILCERT" -c "$T/mailcert.conf" self-signed a.test >>"$T/mailcert.log" 2>&1 || die "self-signed a.test"
# the first set of a.test, kept for a listener left behind later
cp "$STORE/certs/a.test/cert.pem" "$T/old.pem"
# serials as milter.json spells them (lower-case hex, as the set's own)
A0=$(jq -r .serial "$STORE/certs/a.test/state.json")
store_put_set "$STORE" b.test "$T/ca" "$T/b"
store_put_set "$STORE" _wildcard.w.test "$T/ca" "$T/w"
milter_once_before_dovecot "$T/mailcert.conf" "$STORE"
dovecot_start "$T/dc" "$STORE" "$IMAP" "$IMAPS" "$POP3S"
# long-lived IMAP login processes: they go on serving while the master is stopped (2.)
# (2.4 renamed service_count = 0 to restart_request_count = unlimited)
count="service_count = 0"
[ "$(dovecot_version)" -ge 204 ] && count="restart_request_count = unlimited"
cat >>"$DC_CONF" <<CONF
service imap-login {
  $count
  process_min_avail = 1
}
CONF
doveadm -c "$DC_CONF" reload || die "doveadm reload"
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test
# configured, or mailcert retires its directory as a host it no longer manages
printf 'host "*.w.test" {\n  source = "manual"\n  challenge = "dns-01"\n}\n' >>"$T/mailcert.conf"
"${VALGRIND[@]}" "$MILTER" -f -v -c "$T/mailcert.conf" >>"$T/milter.log" 2>&1 &
MILTER_PID=$!
on_exit "milter_stop $MILTER_PID"

LISTENERS=("postfix smtpd 127.0.0.1:$SMTP" "postfix smtpd 127.0.0.1:$SMTPS"
    "dovecot imap 127.0.0.1:$IMAP" "dovecot imaps 127.0.0.1:$IMAPS" "dovecot pop3s 127.0.0.1:$POP3S")
st() { "$MAILCERT" -c "$T/mailcert.conf" status "$@"; }
st_json() { st --json >"$T/st.json" 2>"$T/st.err"; ST_RC=$?; }
hq() { jq -r ".hosts[] | select(.host == \"$1\") | $2" "$T/st.json" "${@:3}"; }
# (store_put's state.json names the host by its directory)
wq() { hq _wildcard.w.test "$1"; }
fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }
# every host has N probes, all ok, and status exits 0
all_ok() {
    st_json
    [ "$ST_RC" = 0 ] &&
        [ "$(hq a.test '[.served[] | select(.result == "ok")] | length')" = 10 ] &&
        [ "$(hq b.test '[.served[] | select(.result == "ok")] | length')" = 10 ] &&
        [ "$(wq '[.served[] | select(.result == "ok")] | length')" = 5 ] &&
        [ "$(hq a.test '[.served[] | select(.serial != $a)] | length' --arg a "$1")" = 0 ]
}
round_time() { jq -r '.served.time // ""' "$STORE/run/milter.json" 2>/dev/null; }
# a check strictly after the one at $1 has been recorded
new_round() { local t; t=$(round_time); [ -n "$t" ] && [[ "$t" > "$1" ]]; }
check_now() { # ask for a check (SIGUSR1) and wait for its result
    local t0
    t0=$(round_time)
    sleep 1.1 # the next check's time must differ from this one's (one-second resolution)
    kill -USR1 "$MILTER_PID"
    wait_for 120 new_round "$t0" || bad "no check recorded after SIGUSR1"
}

# 1. every name by SNI, and no SNI, on every listener: ok
if wait_for 120 all_ok "$A0"; then ok "every listener serves every name's loaded set"; else
    bad "not all ok (exit $ST_RC): $(jq -c '[.hosts[] | {host, served}]' "$T/st.json")"; fi
for l in "${LISTENERS[@]}"; do
    jq -e --arg l "$l" '.served.listeners | index($l)' "$STORE/run/milter.json" >/dev/null &&
        ok "listener found: $l" || bad "listener missing: $l in $(jq -c .served.listeners "$STORE/run/milter.json")"
done
[ "$(hq a.test '[.served[] | select(.name == null)] | length')" = 5 ] &&
    ok "a.test (the default host) is checked without SNI on each listener" ||
    bad "no-SNI probes: $(hq a.test '[.served[] | select(.name == null)]')"
[ "$(wq '[.served[] | select(.name == "*.w.test" and .result == "ok")] | length')" = 5 ] &&
    ok "the wildcard name is checked" || bad "wildcard: $(wq .served)"

# ... a renewal: the check after its reload sees the new set
"$MAILCERT" -c "$T/mailcert.conf" self-signed a.test >>"$T/mailcert.log" 2>&1 || die "renew a.test"
A1=$(jq -r .serial "$STORE/certs/a.test/state.json")
A1_SHA=$(openssl x509 -in "$STORE/certs/a.test/cert.pem" -outform DER | sha256sum | cut -d' ' -f1)
[ "$A1" != "$A0" ] || die "the renewal kept the serial"
if wait_for 120 all_ok "$A1"; then ok "after the renewal every listener serves a.test's new set"; else
    bad "after renewal (exit $ST_RC): $(hq a.test .served)"; fi
[ "$(hq a.test '[.served[] | select(.sha256 == $s)] | length' --arg s "$A1_SHA")" = 10 ] &&
    ok "the served leaf's SHA-256 is recorded" || bad "sha256: $(hq a.test '[.served[].sha256]')"
st >"$T/table" 2>&1
grep -qE '^a\.test +yes +[^ ]+ +self-signed +yes +ok +ok$' "$T/table" && ok "table: SERVED ok" ||
    bad "table: $(cat "$T/table")"

# 2. a Dovecot whose reload is blocked (its master stopped: `doveadm reload` succeeds, the
# login processes keep the configuration they had) goes on serving a.test's previous set
# after a renewal: a mismatch in the check after that reload
master=$(cat "$T/dc/base/master.pid") || die "no Dovecot master.pid"
on_exit "kill -CONT $master 2>/dev/null"
t0=$(round_time)
sleep 1.1
kill -STOP "$master"
"$MAILCERT" -c "$T/mailcert.conf" self-signed a.test >>"$T/mailcert.log" 2>&1 || die "renew a.test"
A2=$(jq -r .serial "$STORE/certs/a.test/state.json")
wait_for 120 new_round "$t0" || bad "no check after the reload"
st_json
[ "$ST_RC" = 1 ] && ok "Dovecot reload blocked: status exits 1" || bad "Dovecot reload blocked: exit $ST_RC"
for l in "dovecot imap 127.0.0.1:$IMAP" "dovecot imaps 127.0.0.1:$IMAPS"; do
    [ "$(hq a.test "[.served[] | select(.listener == \"$l\" and .result == \"mismatch\" and .serial == \"$A1\")] | length")" = 2 ] &&
        ok "$l: mismatch, still serving the previous set $A1" || bad "$l: $(hq a.test "[.served[] | select(.listener == \"$l\")]")"
done
[ "$(hq a.test "[.served[] | select(.listener == \"postfix smtpd 127.0.0.1:$SMTP\" and .result == \"ok\" and .serial == \"$A2\")] | length")" = 2 ] &&
    ok "Postfix serves the new set $A2" || bad "Postfix: $(hq a.test '[.served[] | select(.listener | startswith("postfix"))]')"
[ "$(hq a.test .loaded.dovecot)" != null ] && ok "status believed the load (LOADED has a time), SERVED knows better" ||
    bad "loaded.dovecot: $(hq a.test .loaded)"
jq -r '.problems[]' "$T/st.json" | grep -q "^a.test: dovecot imaps 127.0.0.1:$IMAPS serves the wrong certificate for a.test: serves serial $A1, the loaded set has $A2" &&
    ok "problems[]: $(jq -r '.problems[]' "$T/st.json" | grep -m1 "dovecot imaps")" || bad "problems: $(jq -c .problems "$T/st.json")"
st >"$T/table" 2>&1
grep -qE '^a\.test +yes +[^ ]+ +self-signed +yes +mismatch ' "$T/table" && ok "table: SERVED mismatch" ||
    bad "table: $(cat "$T/table")"
grep -q "served: a.test: dovecot imaps 127.0.0.1:$IMAPS serves the wrong certificate" "$T/milter.log" &&
    ok "the plugin logged it" || bad "not logged: $(grep served: "$T/milter.log" | tail -5)"
# ... the master goes on: it takes the reload, and the next check is clean
kill -CONT "$master"
A2S=$(serial_of "$STORE/certs/a.test/cert.pem")
wait_for 60 serves tls "$IMAPS" a.test "$A2S" || bad "Dovecot did not take the reload after SIGCONT"
check_now
all_ok "$A2" && ok "Dovecot reloaded: ok again" || bad "after SIGCONT (exit $ST_RC): $(jq -c .problems "$T/st.json")"

# 3. a listener left serving an old certificate: a master.cf override outside the store
postconf -c "$PF_DIR" -M "127.0.0.1:$OLD/inet = 127.0.0.1:$OLD inet n - n - - smtpd -o smtpd_tls_chain_files=$T/old.pem -o tls_server_sni_maps=" ||
    die "postconf -M"
postfix -c "$PF_DIR" reload >/dev/null 2>&1 || die "postfix reload"
wait_port 127.0.0.1 "$OLD" 30 || die "the old listener did not start"
check_now
OLDL="postfix smtpd 127.0.0.1:$OLD"
st_json
[ "$ST_RC" = 1 ] && ok "mismatch: status exits 1" || bad "mismatch: status exit $ST_RC"
n=$(hq a.test "[.served[] | select(.listener == \"$OLDL\" and .result == \"mismatch\" and .serial == \"$A0\")] | length")
[ "$n" = 2 ] && ok "a.test: $OLDL reported as mismatch (serial $A0) by SNI and without, in the first check" ||
    bad "a.test on $OLDL: $(hq a.test "[.served[] | select(.listener == \"$OLDL\")]")"
# b.test's names get a.test's old leaf there: not valid for them at all
[ "$(hq b.test "[.served[] | select(.listener == \"$OLDL\" and .result == \"wrong-name\")] | length")" = 2 ] &&
    ok "b.test's names there too: wrong-name" || bad "b.test on $OLDL: $(hq b.test "[.served[] | select(.listener == \"$OLDL\")]")"
jq -r '.problems[]' "$T/st.json" | grep -q "^b.test: $OLDL serves a certificate for another name for mail.b.test: serves serial $A0, which is not valid for mail.b.test, not the loaded set" &&
    ok "problems[] says b.test's name is not on it" || bad "problems: $(jq -c .problems "$T/st.json")"
[ "$(hq a.test "[.served[] | select(.listener != \"$OLDL\" and .result == \"ok\")] | length")" = 10 ] &&
    ok "the other listeners stay ok" || bad "others: $(hq a.test .served)"
jq -r '.problems[]' "$T/st.json" | grep -q "^a.test: $OLDL serves the wrong certificate for a.test: serves serial $A0" &&
    ok "problems[] names it" || bad "problems: $(jq -c .problems "$T/st.json")"
st >"$T/table" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -qE "^a\.test +yes +[^ ]+ +self-signed +yes +mismatch +a\.test: $OLDL serves the wrong certificate" "$T/table" &&
    ok "table: SERVED mismatch, and why" || bad "table (exit $rc): $(cat "$T/table")"
st --only-errors >"$T/errs" 2>&1
grep -q '^a\.test' "$T/errs" && ok "--only-errors lists a.test" || bad "--only-errors: $(cat "$T/errs")"
grep -q "served: a.test: $OLDL serves the wrong certificate" "$T/milter.log" && ok "the plugin logged the mismatch" ||
    bad "not in the log: $(grep served: "$T/milter.log" | tail -5)"
# the override gone: ok again
postconf -c "$PF_DIR" -MX "127.0.0.1:$OLD/inet" || die "postconf -MX"
postfix -c "$PF_DIR" reload >/dev/null 2>&1 || die "postfix reload"
old_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$OLD") 2>/dev/null; }
wait_for 60 old_closed || bad "the old listener did not go"
check_now
all_ok "$A2" && ok "override removed: ok again" || bad "after removing the override (exit $ST_RC): $(jq -c .problems "$T/st.json")"

# 4. Dovecot down: its listeners are unreachable
doveadm -c "$DC_CONF" stop >/dev/null 2>&1 || bad "doveadm stop"
imaps_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$IMAPS") 2>/dev/null; }
wait_for 60 imaps_closed || bad "Dovecot did not stop"
check_now
st_json
[ "$ST_RC" = 1 ] && ok "Dovecot down: status exits 1" || bad "Dovecot down: exit $ST_RC"
[ "$(hq a.test '[.served[] | select((.listener | startswith("dovecot ")) and .result == "unreachable")] | length')" = 6 ] &&
    ok "Dovecot's listeners unreachable: $(hq a.test '[.served[] | select(.listener == "dovecot imaps 127.0.0.1:'"$IMAPS"'")][0].detail')" ||
    bad "Dovecot down: $(hq a.test .served)"
st >"$T/table" 2>&1
grep -qE '^a\.test +yes +[^ ]+ +self-signed +yes +unreachable ' "$T/table" && ok "table: SERVED unreachable" ||
    bad "table: $(cat "$T/table")"

# valgrind: the loader and every check process it forked
milter_stop "$MILTER_PID" || bad "mailcert-milter did not stop cleanly"
nvg=0
for vlog in "$T"/valgrind.*.log; do
    [ ${#VALGRIND[@]} != 0 ] || break
    # a process forked to exec a program (postconf, doveconf, postfix) is not followed
    grep -q 'ERROR SUMMARY' "$vlog" || continue
    nvg=$((nvg + 1))
    if grep -q 'ERROR SUMMARY: 0 errors' "$vlog" && ! grep -q 'definitely lost: [1-9]' "$vlog"; then
        :
    else
        bad "valgrind ${vlog##*/}: $(grep -E 'ERROR SUMMARY|definitely' "$vlog")"
        sed -n 1,60p "$vlog" >&2
    fi
done
[ ${#VALGRIND[@]} = 0 ] || { [ "$nvg" -ge 4 ] && ok "valgrind: $nvg processes checked (the plugin and its checks)" ||
    bad "valgrind saw $nvg processes"; }
[ $fail = 0 ] || tail -40 "$T/milter.log" >&2
exit $fail
