#!/bin/bash
# A real Sendmail 8.17 (Debian's, unpacked privately by tests/lib/sendmail-fetch: its
# package conflicts with postfix) on a free loopback port, its sendmail.cf built with
# m4 from conf.d/sendmail-mailcert.mc (the store and milter socket paths put in), with
# mailcert-milter keeping run/default.pem and sending the SIGHUPs:
#  - STARTTLS serves the default host's certificate, which verifies against the test
#    root;
#  - after a renewal of the default host, mailcert-milter sends SIGHUP and the new
#    certificate is served (the same daemon, re-executed);
#  - a renewal of another host changes nothing Sendmail serves;
#  - the milter (INPUT_MAIL_FILTER from the snippet) counts Sendmail's TLS sessions for
#    its listener (daemon name MTA, {if_addr});
#  - a client asking for another host by SNI gets the default host's certificate
#    (Sendmail has no server-side SNI), and `mailcert status` says so for that host;
#  - mailcert-milter's own served check finds Sendmail's daemon in sendmail.cf
#    (listeners { sendmail_config }) and probes it without SNI and for the default
#    host's name: SERVED ok for a.test, nothing probed there for b.test;
#  - a Sendmail that missed its SIGHUP (the pid file names another process, one
#    that ignores SIGHUP) keeps serving the old certificate after a renewal: the
#    check reports the mismatch and status exits 1; SIGHUP to the real daemon and a
#    new check (SIGUSR1 to the milter) bring it back to ok.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "no jq"
command -v m4 >/dev/null || skip "no m4"
command -v python3 >/dev/null || skip "no python3"
command -v unshare >/dev/null || skip "no unshare"
ldd "$MILTER" | grep -q libmilter || skip "built --without-milter"
[ -x "${MAILCERT:-}" ] || skip "mailcert not built"

SMROOT=$("$srcdir/tests/lib/sendmail-fetch") || die "no Sendmail: run scripts/install-deps as root"
SMD=$T/sm
mkdir -p "$SMD/queue"
chmod 700 "$SMD/queue"
# a copy of its own, so that every process of this daemon (children rename
# themselves) is found by its executable at exit
cp "$SMROOT/usr/libexec/sendmail/sendmail" "$SMD/sendmail"
SM=$SMD/sendmail
ldd "$SM" | grep -q 'not found' && die "Sendmail lacks libraries: $(ldd "$SM" | grep 'not found')"
SMVERSION=$("$SM" -d0.1 -bt -C /dev/null </dev/null 2>/dev/null | sed -n 's/^Version //p')
log "Sendmail $SMVERSION from $SMROOT"

STORE=$T/store
ca_make "$T/ca"
ROOT=$T/ca/root.pem
SOCK=$T/milter.sock
PORT=$(freeport) || die "freeport"
cat >"$T/mailcert.conf" <<CONF
store = "$STORE"
default_host = "a.test"
listeners {
  postfix = false
  dovecot = false
  sendmail = true
  sendmail_pid_file = "$SMD/sendmail.pid"
  sendmail_config = "$SMD/sendmail.cf"
}
host "a.test" { source = "manual" }
host "b.test" { source = "manual" }
CONF
# install HOST LEAF: key, leaf and intermediate of LEAF into the store, as an operator
# does (mailcert import, the test root as the only trusted one)
install() {
    mkdir -p "$T/notrust"
    SSL_CERT_FILE=$ROOT SSL_CERT_DIR=$T/notrust "$MAILCERT" -c "$T/mailcert.conf" \
        import "$1" "$2.key" "$2.pem" "$T/ca/int.pem" >>"$T/import.log" 2>&1 ||
        die "import $1: $(tail -3 "$T/import.log")"
}
leaf_make "$T/ca" "$T/a1" 10 a.test
leaf_make "$T/ca" "$T/b1" 10 b.test
install a.test "$T/a1"
install b.test "$T/b1"
A1=$(serial_of "$T/a1.pem")
B1=$(serial_of "$T/b1.pem")

# --- sendmail.cf: a minimal .mc, then the project's snippet with this test's paths
: >"$SMD/aliases"
printf 'hosts files\naliases files\n' >"$SMD/service.switch"
sed -e "s|/var/lib/mailcert|$STORE|g" \
    -e "s|/var/spool/postfix/mailcert/milter.sock|$SOCK|g" \
    -e 's|^dnl \(INPUT_MAIL_FILTER(\)|\1|' -e 's|^dnl \(define(`confMILTER_MACROS_CONNECT\)|\1|' \
    "$srcdir/conf.d/sendmail-mailcert.mc" >"$SMD/mailcert.mc"
cat >"$SMD/test.mc" <<MC
divert(-1)
divert(0)dnl
VERSIONID(\`mailcert tests/plugin/sendmail-real.sh')dnl
OSTYPE(\`linux')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA, Port=$PORT, Addr=127.0.0.1')dnl
define(\`confDOMAIN_NAME', \`mailcert-test.localdomain')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SMD/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`QUEUE_DIR', \`$SMD/queue')dnl
define(\`confPID_FILE', \`$SMD/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$SMD/aliases')dnl
define(\`STATUS_FILE', \`$SMD/statistics')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
include(\`$SMD/mailcert.mc')dnl
dnl This test's paths are under /tmp, world-writable with the sticky bit: without
dnl TrustStickyBit Sendmail refuses them (the milter socket is "unsafe: World
dnl writable directory").  An installed store is not under such a directory.
define(\`confDONT_BLAME_SENDMAIL', defn(\`confDONT_BLAME_SENDMAIL')\`,TrustStickyBit')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MC
m4 -D_CF_DIR_="$SMROOT/usr/share/sendmail/cf/" "$SMROOT/usr/share/sendmail/cf/m4/cf.m4" \
    "$SMD/test.mc" >"$SMD/sendmail.cf" 2>"$SMD/m4.err" || die "m4: $(cat "$SMD/m4.err")"
# the snippet really is in it, with this test's paths
for want in "O ServerCertFile=$STORE/run/default.pem" "O ServerKeyFile=$STORE/run/default.pem" \
    "O CACertFile=$STORE/run/default.pem" "O DontBlameSendmail=GroupReadableKeyFile,TrustStickyBit" \
    "Xmailcert, S=unix:$SOCK" "O Milter.macros.connect=j, _, {daemon_name}, {if_name}, {if_addr}, {daemon_addr}"; do
    grep -qF "$want" "$SMD/sendmail.cf" || die "sendmail.cf lacks '$want' (has the snippet changed?)"
done

# --- the milter first: it makes run/default.pem, which Sendmail reads at start
milter_start "$T/mailcert.conf" -p "unix:$SOCK"
wait_for 60 test -S "$SOCK" || die "no milter socket: $(tail -5 "$T/milter.log")"
wait_for 60 test -e "$STORE/run/default.pem" || die "no run/default.pem: $(tail -5 "$T/milter.log")"

# every process running this test's copy of Sendmail (the daemon and its children)
sm_procs() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/exe" 2>/dev/null)" = "$SM" ] && printf '%s ' "${p#/proc/}"
    done
}
sm_stop() {
    local pids i
    pids=$(sm_procs)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        [ -n "$(sm_procs)" ] || break
        sleep 0.1
    done
    pids=$(sm_procs)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null
    wait "$SM_PID" 2>/dev/null
}
# Sendmail in the foreground (-bD), as root; its argv[0] is an absolute path, which
# its SIGHUP restart (a re-exec) needs.  Sendmail wants a qualified host name before it
# reads sendmail.cf, and sleeps 60 s when the machine's name is not one (a container's
# often is not): it runs in a UTS namespace of its own named mailcert-test.localdomain
# (unshare and sh exec, so SM_PID is the daemon's pid).
unshare --uts sh -c 'hostname mailcert-test.localdomain && exec "$@"' sh \
    "$SM" -C "$SMD/sendmail.cf" -bD -L sm-mailcert-test >>"$SMD/sendmail.out" 2>&1 &
SM_PID=$!
on_exit sm_stop
wait_port 127.0.0.1 "$PORT" 30 || die "Sendmail not listening on $PORT: $(tail -5 "$SMD/sendmail.out")"
wait_for 30 test -s "$SMD/sendmail.pid" || die "Sendmail wrote no pid file"
[ "$(head -1 "$SMD/sendmail.pid")" = "$SM_PID" ] || die "pid file says $(head -1 "$SMD/sendmail.pid"), not $SM_PID"

fail=0
sm_loaded() { # HOST: the milter records HOST's set as loaded into Sendmail
    case $(jq -r --arg h "$1" '.hosts[$h].loaded.sendmail' "$STORE/run/milter.json" 2>/dev/null) in
        20*Z) return 0 ;;
    esac
    return 1
}
sm_ok() { [ "$(jq -r '.mta.sendmail.failures' "$STORE/run/milter.json" 2>/dev/null)" = 0 ]; }
# the milter's first reload came before Sendmail ran: its retry must reach the daemon
wait_for 120 eval 'sm_loaded a.test && sm_ok' ||
    die "the milter never reloaded Sendmail: $(jq -c .mta "$STORE/run/milter.json" 2>/dev/null)"

# (1) STARTTLS serves the default host's certificate, and it verifies
# (the milter's retry has just sent SIGHUP: Sendmail is back once it listens again)
if wait_for 60 serves smtp "$PORT" a.test "$A1" "$ROOT"; then
    log "ok   STARTTLS serves a.test's certificate ($A1), verified against the test root"
else
    log "FAIL STARTTLS serves '$(served_serial smtp "$PORT" a.test)' for a.test, want $A1 (verified against the test root)"
    fail=1
fi
s=$(served_serial smtp "$PORT" "" "$ROOT")
[ "$s" = "$A1" ] && log "ok   the same without SNI" || { log "FAIL '$s' without SNI, want $A1"; fail=1; }

# (4) SNI cannot choose: b.test asked by name still gets a.test's certificate
s=$(served_serial smtp "$PORT" b.test)
if [ "$s" = "$A1" ]; then
    log "ok   SNI b.test gets the default host's certificate ($s, not b.test's $B1)"
else
    log "FAIL SNI b.test gets '$s', want the default host's $A1"
    fail=1
fi
# (5) the milter's own check: Sendmail's daemon MTA (from sendmail.cf) probed without
# SNI and for a.test, both serving a.test's loaded set; b.test is not probed there
SMLABEL="sendmail MTA 127.0.0.1:$PORT"
st_json() { "$MAILCERT" -c "$T/mailcert.conf" status --json >"$T/st.json" 2>"$T/st.err"; ST_RC=$?; }
hq() { jq -r ".hosts[] | select(.host == \"$1\") | $2" "$T/st.json"; }
# sm_served SERIAL RESULT [EXPECTED]: the milter's last check found RESULT on Sendmail's
# listener for a.test, with and without SNI, SERIAL served (EXPECTED loaded), and
# nothing else for a.test (serials compared without leading zeros: serial_of has none)
sm_served() {
    local q nz='sub("^0+"; "")'
    st_json
    q="[.served[] | select(.listener == \"$SMLABEL\" and .result == \"$2\" and (.serial | $nz) == \"$1\" and (.expected_serial | $nz) == \"${3:-$1}\")]"
    [ "$(hq a.test "$q | length")" = 2 ] && [ "$(hq a.test "$q | map(.name) | sort | join(\",\")")" = ",a.test" ] &&
        [ "$(hq a.test '.served | length')" = 2 ]
}
if wait_for 120 sm_served "$A1" ok; then
    log "ok   the milter's check: $SMLABEL serves a.test's $A1, with and without SNI"
else
    log "FAIL the milter's check of Sendmail (status exit $ST_RC): $(jq -c '[.problems, (.hosts[] | {host, served})]' "$T/st.json" 2>&1) $(head -c 300 "$T/st.err")"
    fail=1
fi
[ "$(hq b.test '.served | length')" = 0 ] && log "ok   nothing probed for b.test on Sendmail's listener" ||
    { log "FAIL b.test probed on Sendmail's listener: $(hq b.test '.served')"; fail=1; }
[ "$(jq -r '.served.listeners | join(",")' "$STORE/run/milter.json")" = "$SMLABEL" ] &&
    log "ok   milter.json: served.listeners = [$SMLABEL]" ||
    { log "FAIL milter.json served: $(jq -c '.served' "$STORE/run/milter.json")"; fail=1; }
grep -qxF "mailcert_served_probes{host=\"a.test\",result=\"ok\"} 2" "$STORE/run/mailcert.prom" &&
    log "ok   metrics: mailcert_served_probes{host=\"a.test\",result=\"ok\"} 2" ||
    { log "FAIL metrics: $(grep served_probes "$STORE/run/mailcert.prom")"; fail=1; }

# status: a.test loaded into Sendmail; b.test's row says Sendmail serves a.test's
# certificate to its clients
"$MAILCERT" -c "$T/mailcert.conf" status >"$T/status.out" 2>&1
st_rc=$?
"$MAILCERT" -c "$T/mailcert.conf" status --json >"$T/status.json" 2>&1
if [ "$st_rc" = 0 ] && grep -qE '^a\.test +yes .* manual +yes +ok +' "$T/status.out" &&
    grep -qE '^b\.test +yes .* manual +- +- +' "$T/status.out"; then
    log "ok   status: a.test loaded (into Sendmail), SERVED ok; b.test SERVED -; exit 0"
else
    log "FAIL status (exit $st_rc) does not show a.test loaded:"
    cat "$T/status.out" >&2
    fail=1
fi
note="  sendmail: serves a.test's certificate to clients asking for b.test (Sendmail has no SNI)"
if grep -A1 -E '^b\.test ' "$T/status.out" | grep -qxF "$note" &&
    ! grep -A1 -E '^a\.test ' "$T/status.out" | grep -q '^  sendmail:'; then
    log "ok   status under b.test:$note"
else
    log "FAIL status does not say under b.test (only) that Sendmail serves a.test's certificate:"
    cat "$T/status.out" >&2
    fail=1
fi
[ "$(jq -r '[.hosts[] | .sendmail_serves_host] | join(" ")' "$T/status.json")" = "a.test a.test" ] &&
    log "ok   status --json: sendmail_serves_host a.test for both hosts" ||
    { log "FAIL status --json: $(jq -c '[.hosts[] | {host, sendmail_serves_host}]' "$T/status.json")"; fail=1; }

# (2) another host's renewal: no SIGHUP (no reload recorded), same certificate
reloads_before=$(jq -r '.mta.sendmail.last_reload' "$STORE/run/milter.json")
pidfile_time=$(date -r "$SMD/sendmail.pid" +%s%N)
leaf_make "$T/ca" "$T/b2" 10 b.test
B2=$(serial_of "$T/b2.pem")
install b.test "$T/b2"
b_taken() { [ "$(jq -r '.hosts["b.test"].serial' "$STORE/run/milter.json" 2>/dev/null | sed 's/^0*//')" = "$B2" ]; }
wait_for 60 b_taken || { log "FAIL the milter never took b.test's new set"; fail=1; }
if [ "$(jq -r '.mta.sendmail.last_reload' "$STORE/run/milter.json")" = "$reloads_before" ] &&
    [ "$(date -r "$SMD/sendmail.pid" +%s%N)" = "$pidfile_time" ] &&
    [ "$(served_serial smtp "$PORT" a.test "$ROOT")" = "$A1" ]; then
    log "ok   b.test's renewal: no Sendmail reload or restart, a.test's certificate still served"
else
    log "FAIL b.test's renewal: reloaded at $(jq -r '.mta.sendmail.last_reload' "$STORE/run/milter.json") (before: $reloads_before), serving $(served_serial smtp "$PORT" a.test)"
    fail=1
fi

# the default host's renewal: the milter sends SIGHUP, Sendmail re-executes itself
# (same pid) and serves the new certificate
leaf_make "$T/ca" "$T/a2" 10 a.test
A2=$(serial_of "$T/a2.pem")
# last_reload has whole seconds: a reload within the second of the one before would
# not show (a fast re-exec, as Sendmail 8.18's, did that)
past_last_reload() { [[ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$reloads_before" ]]; }
wait_for 10 past_last_reload
t0=$(date +%s%N)
install a.test "$T/a2"
if wait_for 120 serves smtp "$PORT" a.test "$A2" "$ROOT"; then
    log "ok   the renewed a.test ($A2) is served, verified, $((($(date +%s%N) - t0) / 1000000)) ms after it was put in the store"
else
    log "FAIL still serving '$(served_serial smtp "$PORT" a.test)' 120 s after the renewal, want $A2"
    fail=1
fi
# (the new certificate may be served before milter.json is written: poll for it)
reload_recorded() { [ "$(jq -r '.mta.sendmail.last_reload' "$STORE/run/milter.json")" != "$reloads_before" ]; }
wait_for 60 reload_recorded &&
    log "ok   milter.json records the Sendmail reload" ||
    { log "FAIL milter.json records no Sendmail reload after a.test's renewal"; fail=1; }
# a restart writes the pid file again
if [ "$(head -1 "$SMD/sendmail.pid")" = "$SM_PID" ] && kill -0 "$SM_PID" 2>/dev/null &&
    [ "$(date -r "$SMD/sendmail.pid" +%s%N)" != "$pidfile_time" ]; then
    log "ok   the same daemon ($SM_PID) re-executed itself (pid file written again)"
else
    log "FAIL no restart of daemon $SM_PID seen (pid file: $(head -1 "$SMD/sendmail.pid"), $(date -r "$SMD/sendmail.pid" +%s%N), before $pidfile_time)"
    fail=1
fi
s=$(served_serial smtp "$PORT" b.test)
[ "$s" = "$A2" ] && log "ok   SNI b.test gets the renewed default certificate" ||
    { log "FAIL SNI b.test gets '$s', want $A2"; fail=1; }

# (3) the milter counts Sendmail's TLS sessions: EHLO again after STARTTLS, where
# Sendmail hands the milter {tls_version} and {cipher}
LISTENER=MTA/127.0.0.1
tls_count() { jq -r --arg l "$LISTENER" '.listeners[$l].tls_sessions // 0' "$STORE/run/milter.json" 2>/dev/null; }
tls_before=$(tls_count)
python3 - "$PORT" "$ROOT" 3 <<'PY' || { log "FAIL the STARTTLS sessions failed"; fail=1; }
import smtplib, ssl, sys
port, root, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=root)
ctx.check_hostname = False  # smtplib names 127.0.0.1; the chain is still verified
for _ in range(n):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("client.test")
    s.starttls(context=ctx)
    s.ehlo("client.test")
    s.quit()
PY
tls_ge() { [ "$(tls_count)" -ge "$1" ]; }
if wait_for 60 tls_ge $((tls_before + 3)); then
    log "ok   the milter counted Sendmail's TLS sessions: $(jq -c --arg l "$LISTENER" '.listeners[$l]' "$STORE/run/milter.json")"
else
    log "FAIL $(tls_count) TLS sessions for $LISTENER (want $((tls_before + 3))): $(jq -c .listeners "$STORE/run/milter.json")"
    fail=1
fi

# (6) a Sendmail that missed its SIGHUP: the pid file names another process, which
# ignores SIGHUP, so the milter's signal after a.test's next renewal changes nothing
# and Sendmail keeps serving A2
( trap '' HUP; exec sleep 100000 ) </dev/null >/dev/null 2>&1 &
DECOY=$!
on_exit "kill $DECOY"
# SIGHUP (1) is in its ignored set once the subshell has become sleep
decoy_ready() {
    [ "$(readlink "/proc/$DECOY/exe")" = "$(readlink -f "$(command -v sleep)")" ] &&
        (($(printf '%d' "0x$(sed -n 's/^SigIgn:\t*//p' "/proc/$DECOY/status")") & 1))
}
wait_for 30 decoy_ready || die "no sleep $DECOY ignoring SIGHUP"
printf '%s\n' "$DECOY" >"$SMD/sendmail.pid"
leaf_make "$T/ca" "$T/a3" 10 a.test
A3=$(serial_of "$T/a3.pem")
install a.test "$T/a3"
if wait_for 120 sm_served "$A2" mismatch "$A3"; then
    log "ok   the milter's check: $SMLABEL still serves $A2 while $A3 is loaded: mismatch, with and without SNI"
else
    log "FAIL no mismatch reported for the stale Sendmail: $(hq a.test '.served' | jq -c . 2>&1)"
    fail=1
fi
s=$(served_serial smtp "$PORT" a.test)
[ "$s" = "$A2" ] && kill -0 "$DECOY" 2>/dev/null && [ "$(jq -r '.mta.sendmail.failures' "$STORE/run/milter.json")" = 0 ] &&
    log "ok   and so it is: Sendmail serves $s, the SIGHUP went to $DECOY (no reload failure recorded)" ||
    { log "FAIL Sendmail serves '$s' (want the stale $A2), decoy $DECOY, mta: $(jq -c .mta.sendmail "$STORE/run/milter.json")"; fail=1; }
"$MAILCERT" -c "$T/mailcert.conf" status >"$T/status2.out" 2>&1
st_rc=$?
want="a.test: $SMLABEL serves the wrong certificate for clients without SNI: serves serial"
if [ "$st_rc" = 1 ] && grep -qE '^a\.test +yes .* manual +yes +mismatch +' "$T/status2.out" &&
    grep -qF "$want" "$T/status2.out"; then
    log "ok   status: exit 1, a.test SERVED mismatch, '$want ...'"
else
    log "FAIL status (exit $st_rc) does not report the mismatch:"
    cat "$T/status2.out" >&2
    fail=1
fi
# the operator's fix: SIGHUP to the real daemon (it writes its own pid into the pid
# file again when it re-executes), then a new check asked of the milter (SIGUSR1)
kill -HUP "$SM_PID"
wait_for 120 serves smtp "$PORT" a.test "$A3" "$ROOT" ||
    { log "FAIL Sendmail does not serve $A3 after its SIGHUP: $(served_serial smtp "$PORT" a.test)"; fail=1; }
[ "$(head -1 "$SMD/sendmail.pid")" = "$SM_PID" ] ||
    { log "FAIL the pid file says $(head -1 "$SMD/sendmail.pid") after the restart, not $SM_PID"; fail=1; }
kill -USR1 "$MILTER_PID"
if wait_for 120 sm_served "$A3" ok; then
    log "ok   after the fix the milter's check finds $A3 served: ok"
else
    log "FAIL the milter's check after the fix: $(hq a.test '.served' | jq -c . 2>&1)"
    fail=1
fi
"$MAILCERT" -c "$T/mailcert.conf" status >"$T/status3.out" 2>&1
st_rc=$?
[ "$st_rc" = 0 ] && grep -qE '^a\.test +yes .* manual +yes +ok +' "$T/status3.out" &&
    log "ok   status: exit 0, a.test SERVED ok again" ||
    { log "FAIL status after the fix (exit $st_rc):"; cat "$T/status3.out" >&2; fail=1; }

sm_stop
[ -z "$(sm_procs)" ] || { log "FAIL Sendmail processes left: $(sm_procs)"; fail=1; }
if [ $fail != 0 ]; then
    tail -20 "$T/milter.log" >&2
    tail -20 "$SMD/sendmail.out" >&2
fi
exit $fail
