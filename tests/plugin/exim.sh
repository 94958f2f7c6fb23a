#!/bin/bash
# A real Exim 4 (Debian's exim4-daemon-light, unpacked by tests/lib/exim-fetch.sh) on
# loopback, SMTP with STARTTLS and SMTPS, configured with conf.d/exim-mailcert.conf as
# shipped (only the store path changed), running as its own user Debian-exim (in group
# mailcert), with mailcert-milter and listeners { exim = true }:
#  - mailcert-milter's own check (served.c, listeners from `exim -bP`) finds both
#    listeners serving the loaded set, also after a renewal that reloaded nothing, and
#    `mailcert status` says all is well; an Exim configuration without the snippet is
#    a problem status reports;
#  - every name by SNI gets its host's certificate (a SAN of a multi-name host, a name
#    under a wildcard), verified against the test root; no SNI, an unknown name, the
#    wildcard's parent and a name two labels under it get default_host's;
#  - hostile SNI values (a path, expansion syntax) never break Exim: the handshake
#    gets the default certificate or is refused, and the next client is served;
#  - a renewed set is served without any restart or reload of Exim (same daemon pid,
#    started once); so is a renewed default;
#  - refused sets (key mismatch, truncated after the store pruned the loaded version)
#    are never served and STORE/exim/sni never names them, sampled all along; the
#    kept copy of the loaded set is readable by Exim's user.
. "$(dirname "$0")/lib.sh"

EXIM=$("$srcdir/tests/lib/exim-fetch.sh" --path) ||
    die "no Exim unpacked for the tests: run scripts/install-deps (tests/lib/exim-fetch.sh)"
getent group mailcert >/dev/null || die "no group mailcert: run scripts/install-deps"
id -nG Debian-exim 2>/dev/null | tr ' ' '\n' | grep -qx mailcert ||
    die "Debian-exim is not in group mailcert: run scripts/install-deps"
command -v jq >/dev/null || die "no jq"
[ -x "${MAILCERT:-}" ] || die "mailcert not built (MAILCERT)"

STORE_GROUP=mailcert
ca_make "$T/ca"
ROOT=$T/ca/root.pem
STORE=$T/store
leaf_make "$T/ca" "$T/a1" 10 a.test
leaf_make "$T/ca" "$T/b1" 10 b.test mail.b.test smtp.b.test
leaf_make "$T/ca" "$T/w" 10 '*.w.test'
store_put_set "$STORE" a.test "$T/ca" "$T/a1"
store_put_set "$STORE" b.test "$T/ca" "$T/b1"
store_put_set "$STORE" _wildcard.w.test "$T/ca" "$T/w"
A1=$(serial_of "$T/a1.pem")
B1=$(serial_of "$T/b1.pem")
W=$(serial_of "$T/w.pem")

# --- Exim, started once, before there is anything to serve ---
read -r SMTP SMTPS < <(freeport 2 | tr '\n' ' ')
X=$T/exim
mkdir -p "$X/spool" "$X/log"
chown Debian-exim "$X/spool" "$X/log"
sed "s|^MAILCERT_STORE = .*|MAILCERT_STORE = $STORE|" "$srcdir/conf.d/exim-mailcert.conf" >"$X/mailcert.conf"
grep -q "^MAILCERT_STORE = $STORE\$" "$X/mailcert.conf" || die "the snippet has no MAILCERT_STORE line"
cat >"$X/exim.conf" <<CONF
.include $X/mailcert.conf
primary_hostname = mailcert-test.localdomain
spool_directory = $X/spool
log_file_path = $X/log/%slog
local_interfaces = 127.0.0.1
daemon_smtp_ports = $SMTP : $SMTPS
tls_on_connect_ports = $SMTPS
tls_advertise_hosts = *
# as Debian's conf.d/main/03_exim4-config_tlsoptions does with MAIN_TLS_CERTKEY
tls_certificate = MAIN_TLS_CERTKEY
log_selector = +tls_sni
begin acl
begin routers
begin transports
CONF
"$EXIM" -C "$X/exim.conf" -bV >"$X/check.out" 2>&1 || die "exim -bV: $(tail -3 "$X/check.out")"
"$EXIM" -C "$X/exim.conf" -bdf -oP "$X/pid" >"$X/daemon.out" 2>&1 &
EXIM_PID=$!
exim_stop() {
    kill -TERM "$EXIM_PID" 2>/dev/null || return 0
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$EXIM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$EXIM_PID" 2>/dev/null
    wait "$EXIM_PID" 2>/dev/null
}
on_exit exim_stop
wait_port 127.0.0.1 "$SMTP" 15 || die "exim not listening: $(cat "$X/daemon.out" "$X/log/paniclog" 2>/dev/null | tail -5)"

EXIM_CMD=$EXIM EXIM_CONF=$X/exim.conf write_conf "$T/mailcert.conf" "$STORE" b.test "exim=yes" a.test b.test
printf 'host "*.w.test" {\n  source = "manual"\n  challenge = "dns-01"\n}\n' >>"$T/mailcert.conf"
milter_start "$T/mailcert.conf"
MAP=$STORE/exim/sni
# (a handshake before the plugin made run/default.pem has nothing to load)
wait_for 60 test -e "$MAP" -a -e "$STORE/run/default.pem" || die "no $MAP: $(tail -5 "$T/milter.log")"
LOGSTART=$(wc -l <"$X/log/mainlog" 2>/dev/null || echo 0)
wait_for 60 serves smtp "$SMTP" a.test "$A1" "$ROOT" ||
    die "a.test not served: $(served_serial smtp "$SMTP" a.test); map: $(cat "$MAP" 2>&1)"

fail=0
check() { # MODE PORT NAME WANT [CA]
    local got
    got=$(served_serial "$1" "$2" "$3" "${5:-}")
    if [ "$got" = "$4" ]; then
        log "ok   $1:$2 sni=${3:-none} serial $got"
    else
        log "FAIL $1:$2 sni=${3:-none} served '${got}', want $4"
        fail=1
    fi
}
for l in "smtp $SMTP" "tls $SMTPS"; do
    set -- $l
    check "$1" "$2" a.test "$A1" "$ROOT"
    check "$1" "$2" A.TEST "$A1"
    check "$1" "$2" b.test "$B1" "$ROOT"
    check "$1" "$2" mail.b.test "$B1" "$ROOT"
    check "$1" "$2" smtp.b.test "$B1" "$ROOT"
    check "$1" "$2" x.w.test "$W" "$ROOT"
    check "$1" "$2" "" "$B1" "$ROOT"
    check "$1" "$2" unknown.test "$B1"
    check "$1" "$2" w.test "$B1"
    check "$1" "$2" y.x.w.test "$B1"
done

# --- the plugin's own check of what is served (exim -bP finds both listeners), and status ---
st_json() { "$MAILCERT" -c "$T/mailcert.conf" status --json >"$T/st.json" 2>"$T/st.err"; ST_RC=$?; }
hq() { jq -r ".hosts[] | select(.host == \"$1\") | $2" "$T/st.json"; }
exim_served() { # SERIAL: status exits 0, and the plugin saw a.test's SERIAL on both Exim listeners
    local l
    st_json
    [ "$ST_RC" = 0 ] || return 1
    for l in "exim smtp 127.0.0.1:$SMTP" "exim smtps 127.0.0.1:$SMTPS"; do
        [ "$(hq a.test "[.served[] | select(.listener == \"$l\" and .result == \"ok\" and (.serial | sub(\"^0+\"; \"\")) == \"$1\")] | length")" -ge 1 ] ||
            return 1
    done
    [ "$(hq a.test '[.served[] | select(.result != "ok")] | length')" = 0 ]
}
if wait_for 120 exim_served "$A1"; then
    log "ok   mailcert status: both Exim listeners checked by the plugin, all ok"
else
    log "FAIL mailcert status (exit $ST_RC): $(jq -c '[.problems, (.hosts[] | {host, served})]' "$T/st.json" 2>&1) $(head -c 300 "$T/st.err")"
    fail=1
fi
# an Exim configuration without the snippet is a problem status reports
printf 'tls_advertise_hosts = *\n' >"$X/plain.conf"
sed "s|exim_config = .*|exim_config = \"$X/plain.conf\"|" "$T/mailcert.conf" >"$T/plain-mailcert.conf"
"$MAILCERT" -c "$T/plain-mailcert.conf" status >"$T/plain-status.out" 2>&1
if grep -q "exim: its configuration $X/plain.conf .*does not look the SNI up in $STORE/exim/sni" "$T/plain-status.out"; then
    log "ok   status reports an Exim configuration without the snippet"
else
    log "FAIL status about an Exim without the snippet: $(head -5 "$T/plain-status.out")"
    fail=1
fi

# --- hostile SNI: only ever a lookup key; the TLS library may refuse it outright ---
for n in '../../etc/passwd' '/etc/shadow' '${run{/bin/false}}' 'a.test:/etc/passwd' \
    '*.w.test/../a' '..' 'a.test/../../b.test' "$(printf 'x%.0s' {1..250}).test"; do
    got=$(served_serial smtp "$SMTP" "$n")
    case $got in
        "" | "$B1") log "ok   sni='${n:0:40}': ${got:-refused by the TLS library}" ;;
        *) log "FAIL sni='$n' served $got"; fail=1 ;;
    esac
    serves smtp "$SMTP" a.test "$A1" "$ROOT" || { log "FAIL Exim does not serve a.test after sni='$n'"; fail=1; }
done

# --- from here on, STORE/exim/sni is sampled: it must never name a refused set ---
(while :; do cat "$MAP" 2>/dev/null; sleep 0.05; done) >"$T/map-samples" &
SAMPLER=$!
on_exit "kill $SAMPLER 2>/dev/null; wait $SAMPLER 2>/dev/null"

# --- a renewal: served by the next handshake, Exim untouched ---
leaf_make "$T/ca" "$T/a2" 10 a.test
A2=$(serial_of "$T/a2.pem")
t0=$(date +%s%N)
store_put_set "$STORE" a.test "$T/ca" "$T/a2"
if wait_for 120 serves smtp "$SMTP" a.test "$A2" "$ROOT"; then
    log "ok   renewed a.test served after $((($(date +%s%N) - t0) / 1000000)) ms"
else
    log "FAIL renewed a.test not served: $(served_serial smtp "$SMTP" a.test)"
    fail=1
fi
check tls "$SMTPS" a.test "$A2" "$ROOT"
# no reload happened, yet the new file owes the plugin's check: it sees the new set
wait_for 120 exim_served "$A2" || { log "FAIL the plugin's check did not see $A2: $(hq a.test .served)"; fail=1; }
A2GEN=$(readlink "$STORE/certs/a.test")

# the default host renewed: clients without SNI follow run/default.pem
leaf_make "$T/ca" "$T/b2" 10 b.test mail.b.test smtp.b.test
B2=$(serial_of "$T/b2.pem")
t0=$(date +%s%N)
store_put_set "$STORE" b.test "$T/ca" "$T/b2"
if wait_for 120 serves smtp "$SMTP" "" "$B2" "$ROOT"; then
    log "ok   renewed default served without SNI after $((($(date +%s%N) - t0) / 1000000)) ms"
else
    log "FAIL renewed default not served without SNI: $(served_serial smtp "$SMTP" "")"
    fail=1
fi
check smtp "$SMTP" mail.b.test "$B2" "$ROOT"

# --- refused sets ---
J=$STORE/run/milter.json
load_error() { jq -r '.hosts["a.test"].load_error' "$J" 2>/dev/null; }
error_matches() { load_error | grep -q -- "$1"; }
REFUSED=()
refused() { # WHAT PATTERN: the set just put is refused, the old one stays served
    REFUSED+=("$STORE/versions/a.test/$(basename "$(readlink "$STORE/certs/a.test")")/")
    if wait_for 120 error_matches "$2"; then
        log "ok   $1 refused: $(load_error)"
    else
        log "FAIL $1: load_error is '$(load_error)', want /$2/"
        fail=1
    fi
    local i
    for ((i = 0; i < 10; i++)); do
        for l in "smtp $SMTP" "tls $SMTPS"; do
            set -- $l
            serves "$1" "$2" a.test "$A2" "$ROOT" ||
                { log "FAIL $1:$2 a.test serves '$(served_serial "$1" "$2" a.test)' instead of $A2"; fail=1; }
        done
        sleep 0.2
    done
}
leaf_make "$T/ca" "$T/x" 10 a.test
leaf_make "$T/ca" "$T/y" 10 a.test
store_put "$STORE" a.test "$T/y.key" "$T/x.pem" "$T/ca/int.pem"
refused "key mismatch" "does not match"

# the store prunes the loaded version: the milter keeps a copy, and Exim (not root)
# must be able to read it
rm -rf "${STORE:?}/certs/$A2GEN"
[ ! -e "$STORE/versions/a.test/${A2GEN##*/}" ] || die "could not prune"
cat "$T/x.key" "$T/x.pem" "$T/ca/int.pem" >"$T/full.pem"
head -c $(($(stat -c %s "$T/full.pem") * 85 / 100)) "$T/full.pem" >"$T/trunc.pem"
store_put "$STORE" a.test "$T/trunc.pem"
refused "truncated cert.pem" "truncated"
grep -qx "a.test $STORE/run/kept/a.test.pem" "$MAP" ||
    { log "FAIL the map does not name the kept copy: $(grep '^a.test ' "$MAP")"; fail=1; }

# a good set after the bad ones
leaf_make "$T/ca" "$T/a3" 10 a.test
A3=$(serial_of "$T/a3.pem")
store_put_set "$STORE" a.test "$T/ca" "$T/a3"
wait_for 120 serves smtp "$SMTP" a.test "$A3" "$ROOT" ||
    { log "FAIL the good set after refused ones is not served"; fail=1; }

kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
[ -s "$T/map-samples" ] || { log "FAIL the map was never sampled"; fail=1; }
for r in "${REFUSED[@]}"; do
    if grep -qF "$r" "$T/map-samples" "$MAP"; then
        log "FAIL STORE/exim/sni named the refused set $r"
        fail=1
    else
        log "ok   the refused set ${r#"$STORE"/} never in the map ($(grep -c '^a.test ' "$T/map-samples") samples)"
    fi
done

# --- what was written and recorded; Exim never restarted ---
grep -q '^\*\.w\.test ' "$MAP" || { log "FAIL map lacks *.w.test"; fail=1; }
grep -q '^mail\.b\.test ' "$MAP" || { log "FAIL map lacks mail.b.test"; fail=1; }
mode=$(stat -c %a "$MAP")
[ "$mode" = 644 ] || { log "FAIL map mode $mode"; fail=1; }
for h in a.test b.test _wildcard.w.test; do
    v=$(jq -r ".hosts[\"$h\"].loaded.exim" "$J")
    [ "$v" != null ] || { log "FAIL milter.json: $h not loaded in exim"; fail=1; }
done
[ "$(jq -r '.mta.exim | type' "$J")" = object ] || { log "FAIL milter.json has no mta.exim"; fail=1; }
kill -0 "$EXIM_PID" 2>/dev/null || { log "FAIL the Exim daemon is gone"; fail=1; }
[ "$(grep -c 'daemon started' "$X/log/mainlog")" = 1 ] ||
    { log "FAIL Exim was started more than once: $(grep 'daemon started' "$X/log/mainlog")"; fail=1; }
if tail -n +$((LOGSTART + 1)) "$X/log/mainlog" | grep -q 'cert/key setup'; then
    log "FAIL Exim could not load a certificate: $(tail -n +$((LOGSTART + 1)) "$X/log/mainlog" | grep -m3 'cert/key setup')"
    fail=1
fi
[ ! -s "$X/log/paniclog" ] || { log "FAIL Exim paniclog: $(tail -3 "$X/log/paniclog")"; fail=1; }
[ $fail = 0 ] || { tail -20 "$T/milter.log" >&2; tail -20 "$X/log/mainlog" >&2; }
exit $fail
