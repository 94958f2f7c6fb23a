#!/bin/bash
# `mailcert status` never says ok while a listener does not serve the current set:
#  - everything loaded: exit 0, LOADED yes, loaded times for Postfix and Dovecot;
#  - Dovecot stopped and a host renewed: Postfix serves the new set, Dovecot's reload
#    fails; status exits 1, loaded.dovecot is null, load_error says why and since when;
#    once Dovecot is back the plugin's retry loads it and status is clean again;
#  - Postfix pointed at another chain file or SNI table, Dovecot without the include:
#    status exits 1 and names the setting, check warns;
#  - the plugin stopped: status exits 1 and says mailcert-milter is not running.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "no jq"
[ -x "${MAILCERT:-}" ] || skip "mailcert not built"

STORE=$T/store
read -r SMTP SMTPS IMAP IMAPS POP3S < <(freeport 5 | tr '\n' ' ')
postfix_start "$T/pf" "$STORE" "$SMTP" "$SMTPS"
two_selfsigned_started "$T/mailcert.conf" "$STORE" "$IMAP" "$IMAPS" "$POP3S"

st() { "$MAILCERT" -c "$T/mailcert.conf" status "$@"; }
# st_json: status --json into $T/st.json; its exit status in ST_RC
st_json() { st --json >"$T/st.json" 2>"$T/st.err"; ST_RC=$?; }
hq() { jq -r ".hosts[] | select(.host == \"$1\") | $2" "$T/st.json"; }
status_clean() { st_json; [ "$ST_RC" = 0 ]; }
fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }

# 1. everything loaded
if wait_for 60 status_clean; then ok "status exits 0 once both sets are loaded"; else
    bad "status never clean: $(cat "$T/st.json" "$T/st.err")"; fi
case $(hq a.test .loaded.dovecot) in 20*Z) ok "a.test loaded into Dovecot" ;; *) bad "loaded.dovecot: $(hq a.test .loaded)" ;; esac
# SERVED: the plugin's check of what the listeners serve comes a moment after the load
table_ok() { st >"$T/table" 2>&1; grep -qE '^a\.test +yes +[^ ]+ +self-signed +yes +ok +ok$' "$T/table"; }
wait_for 60 table_ok && ok "table: LOADED yes, SERVED ok, ok" ||
    bad "table: $(cat "$T/table")"
[ "$(jq -r .milter.running "$T/st.json")" = true ] && ok "status --json: milter.running" || bad "milter: $(jq -c .milter "$T/st.json")"
# the Prometheus file the plugin keeps says the same
prom_loaded() { grep -qx 'mailcert_loaded{host="a.test",mta="postfix"} 1' "$STORE/run/mailcert.prom" 2>/dev/null &&
    grep -qx 'mailcert_loaded{host="a.test",mta="dovecot"} 1' "$STORE/run/mailcert.prom" &&
    grep -qx 'mailcert_served_probes{host="a.test",result="ok"} [1-9][0-9]*' "$STORE/run/mailcert.prom"; }
wait_for 60 prom_loaded && ok "mailcert.prom: a.test loaded into Postfix and Dovecot, served ok" ||
    bad "mailcert.prom: $(grep -E 'loaded|served' "$STORE/run/mailcert.prom" 2>&1 | head -8)"

# 2. Dovecot stopped, a.test renewed
doveadm -c "$T/dc/dovecot.conf" stop >/dev/null 2>&1 || bad "doveadm stop"
imaps_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$IMAPS") 2>/dev/null; }
wait_for 60 imaps_closed || bad "Dovecot did not stop"
"$MAILCERT" -c "$T/mailcert.conf" self-signed a.test >>"$T/mailcert.log" 2>&1 || die "renew a.test"
A2=$(jq -r .serial "$STORE/certs/a.test/state.json" | sed 's/^0*//')
if wait_for 60 serves smtp "$SMTP" a.test "$A2"; then ok "Postfix serves the renewed a.test"; else bad "Postfix did not take a.test's new set"; fi
dovecot_failing() { st_json; [ "$ST_RC" = 1 ] && hq a.test .load_error | grep -q 'dovecot.*reload is failing'; }
if wait_for 60 dovecot_failing; then
    ok "status exits 1: $(hq a.test .load_error)"
else
    bad "with Dovecot down: exit $ST_RC, load_error $(hq a.test .load_error)"
fi
[ "$(hq a.test .loaded.dovecot)" = null ] && ok "loaded.dovecot is null for the set Dovecot does not have" ||
    bad "loaded.dovecot = $(hq a.test .loaded.dovecot)"
prom_unloaded() { grep -qx 'mailcert_loaded{host="a.test",mta="dovecot"} 0' "$STORE/run/mailcert.prom"; }
wait_for 60 prom_unloaded && ok "mailcert.prom: a.test not loaded into Dovecot" ||
    bad "mailcert.prom with Dovecot down: $(grep loaded "$STORE/run/mailcert.prom" 2>&1)"
case $(hq a.test .loaded.postfix) in 20*Z) ok "loaded.postfix has a time" ;; *) bad "loaded.postfix = $(hq a.test .loaded.postfix)" ;; esac
case $(hq a.test .load_error_time) in 20*Z) ok "load_error_time set" ;; *) bad "load_error_time = $(hq a.test .load_error_time)" ;; esac
st >"$T/table" 2>&1; rc=$?
[ "$rc" = 1 ] && grep -qE '^a\.test .* no +[^ ]+ +not served: not loaded into dovecot' "$T/table" &&
    ok "table: a.test LOADED no, why" || bad "table (exit $rc): $(cat "$T/table")"
st --only-errors >"$T/errs" 2>&1
grep -q '^a\.test' "$T/errs" && ! grep -q '^b\.test' "$T/errs" && ok "--only-errors lists a.test only" ||
    bad "--only-errors: $(cat "$T/errs")"

# ... Dovecot back: the plugin's retry loads the set, status is clean
dovecot -c "$T/dc/dovecot.conf" >"$T/dc/restart.out" 2>&1 || bad "dovecot restart: $(cat "$T/dc/restart.out")"
if wait_for 120 status_clean; then ok "Dovecot back: status exits 0 again"; else
    bad "after Dovecot came back: exit $ST_RC, $(hq a.test .load_error)"; fi
if wait_for 60 serves tls "$IMAPS" a.test "$A2"; then ok "Dovecot serves the renewed a.test"; else bad "Dovecot serves an old a.test"; fi

# 3. an MTA that does not read what the plugin keeps: status and check say so
postconf -c "$PF_DIR" -e "smtpd_tls_chain_files = $T/elsewhere.pem" || die "postconf -e"
st_json
[ "$ST_RC" = 1 ] && jq -r '.problems[]' "$T/st.json" | grep -q "smtpd_tls_chain_files = $T/elsewhere.pem, not the default set $STORE/run/default.pem" &&
    ok "wrong smtpd_tls_chain_files: status exits 1 and names it" || bad "wrong chain file: exit $ST_RC, $(jq -c .problems "$T/st.json")"
"$MAILCERT" -c "$T/mailcert.conf" check >/dev/null 2>"$T/check.err"
grep -q "warning: postfix: main.cf in $PF_DIR has smtpd_tls_chain_files" "$T/check.err" &&
    ok "check warns about it" || bad "check: $(cat "$T/check.err")"
postconf -c "$PF_DIR" -e "smtpd_tls_chain_files = $STORE/run/default.pem"
postconf -c "$PF_DIR" -e "tls_server_sni_maps = hash:$T/other-sni"
st_json
[ "$ST_RC" = 1 ] && jq -r '.problems[]' "$T/st.json" | grep -qF "tls_server_sni_maps = hash:$T/other-sni does not name hash:$STORE/postfix/sni, so Postfix serves no per-name certificate" &&
    ok "wrong tls_server_sni_maps: status exits 1 and names it" || bad "wrong SNI map: exit $ST_RC, $(jq -c .problems "$T/st.json")"
postconf -c "$PF_DIR" -e "tls_server_sni_maps = hash:$STORE/postfix/sni"
sed -i "s|^!include_try $STORE/dovecot/mailcert.conf|#&|" "$DC_CONF"
st_json
[ "$ST_RC" = 1 ] && jq -r '.problems[]' "$T/st.json" | grep -q "dovecot: its configuration .* does not include $STORE/dovecot/mailcert.conf" &&
    ok "Dovecot without the include: status exits 1 and says so" || bad "no include: exit $ST_RC, $(jq -c .problems "$T/st.json")"
sed -i "s|^#\(!include_try $STORE/dovecot/mailcert.conf\)|\1|" "$DC_CONF"
if status_clean; then ok "configuration restored: status exits 0"; else bad "restored: exit $ST_RC, $(jq -c .problems "$T/st.json")"; fi

# 4. the plugin stopped
milter_stop "$MILTER_PID" || bad "mailcert-milter did not stop cleanly"
st_json
[ "$ST_RC" = 1 ] && ok "plugin stopped: status exits 1" || bad "plugin stopped: status exit $ST_RC"
[ "$(jq -r .milter.running "$T/st.json")" = false ] && ok "milter.running false" || bad "milter: $(jq -c .milter "$T/st.json")"
st >"$T/table" 2>&1
grep -q '^mailcert-milter is not running' "$T/table" && ok "table says the plugin is not running" ||
    bad "table: $(cat "$T/table")"
exit $fail
