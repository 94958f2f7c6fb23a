#!/bin/bash
# `mailcert check` reads the MTAs' own configuration, with the real postconf, postmap,
# doveconf and dovecot, and warns (FILE:LINE where the MTA's file has one) when:
#  - tls_server_sni_maps is unset or names another table (also written ${indexed}sni:
#    no warning), or names the store's table with another map type than mailcert-milter
#    builds (lmdb: another file, btree: another format, texthash: the source itself);
#  - the compiled SNI map is missing, or was rebuilt without postmap -F;
#  - dovecot.conf reaches the generated include through no !include (a glob counts);
#  - a Dovecot file uses the other version's certificate setting names (an error:
#    Dovecot does not start, and check exits 78, as it does when doveconf fails), or
#    2.3's ssl_cert without '<'; the include was written for another Dovecot version
#    (2.4 is played by a `dovecot` in PATH that only answers --version; the real 2.4
#    is tried in the Debian 13 root, tests/e2e/trixie.sh).
# The conf.d/ snippets, pasted as documented, give no warning at all.
. "$(dirname "$0")/lib.sh"
[ -x "${MAILCERT:-}" ] || skip "mailcert not built"
for c in postconf postmap doveconf dovecot; do command -v $c >/dev/null || skip "no $c"; done

STORE=$T/store
fail=0
ok() { log "ok   $*"; }
bad() { log "FAIL $*"; fail=1; }

# Postfix: the shipped snippet appended to a minimal main.cf; nothing runs
PF_DIR=$T/pf
mkdir -p "$PF_DIR"
cp /usr/share/postfix/master.cf.dist "$PF_DIR/master.cf"
printf 'compatibility_level = 3.6\nmyhostname = check.test\n' >"$PF_DIR/main.cf"
sed "s|/var/lib/mailcert|$STORE|g" "$srcdir/conf.d/postfix-main.cf" >>"$PF_DIR/main.cf"
SNI_LINE=$(grep -n '^tls_server_sni_maps' "$PF_DIR/main.cf" | cut -d: -f1)
# Dovecot: its stock layout, dovecot.conf with !include conf.d/*.conf, and the snippet
DC=$T/dc
mkdir -p "$DC/conf.d"
{ dovecot_conf_head; printf 'base_dir = %s/run\n!include conf.d/*.conf\n' "$DC"; } >"$DC/dovecot.conf"
echo 'protocols = imap' >"$DC/conf.d/10-master.conf"
sed "s|/var/lib/mailcert|$STORE|g" "$srcdir/conf.d/dovecot-99-mailcert.conf" >"$DC/conf.d/99-mailcert.conf"
DC_CONF=$DC/dovecot.conf
write_conf "$T/mailcert.conf" "$STORE" a.test "postfix=yes dovecot=yes" a.test b.test
"$MAILCERT" -c "$T/mailcert.conf" self-signed a.test >>"$T/mailcert.log" 2>&1 || die "self-signed a.test"
"$MAILCERT" -c "$T/mailcert.conf" self-signed b.test >>"$T/mailcert.log" 2>&1 || die "self-signed b.test"
# --once writes the SNI map and the include; the reloads fail (no MTA runs)
once() { "$MILTER" -c "$T/mailcert.conf" --once >>"$T/milter.log" 2>&1; }
once
[ -s "$STORE/postfix/sni.db" ] && [ -s "$STORE/dovecot/mailcert.conf" ] ||
    die "--once wrote no SNI map or include: $(tail -5 "$T/milter.log")"

# check: its warnings into $T/check.err; CHECK_RC its exit status
check() { "$MAILCERT" -c "$T/mailcert.conf" check >"$T/check.out" 2>"$T/check.err"; CHECK_RC=$?; }
warns() { grep -qF -- "$1" "$T/check.err"; }
clean() {
    check
    if [ "$CHECK_RC" = 0 ] && [ ! -s "$T/check.err" ]; then ok "$1: no warning"; else
        bad "$1: exit $CHECK_RC, $(cat "$T/check.err")"; fi
}
# expect WHAT TEXT: check exits 0 and warns TEXT
expect() {
    check
    if [ "$CHECK_RC" = 0 ] && warns "$2"; then ok "$1"; else
        bad "$1: exit $CHECK_RC, wanted \"$2\", got: $(cat "$T/check.err")"; fi
}
# expect_error WHAT TEXT: check fails (78: an MTA does not start so) and says TEXT
expect_error() {
    check
    if [ "$CHECK_RC" = 78 ] && warns "$2"; then ok "$1"; else
        bad "$1: exit $CHECK_RC, wanted 78 and \"$2\", got: $(cat "$T/check.err")"; fi
}
pf() { postconf -c "$PF_DIR" -e "$@" || die "postconf -e $*"; }

# 1. as documented
clean "the conf.d snippets as documented"

# 2. tls_server_sni_maps
sed -i '/^tls_server_sni_maps/d' "$PF_DIR/main.cf"
expect "unset" "warning: postfix: $PF_DIR/main.cf: tls_server_sni_maps is empty and does not name hash:$STORE/postfix/sni, so Postfix serves no per-name certificate; set tls_server_sni_maps = hash:$STORE/postfix/sni"
sed -i "${SNI_LINE}i tls_server_sni_maps = hash:$T/other-sni" "$PF_DIR/main.cf"
expect "another table, with its line" "warning: postfix: $PF_DIR/main.cf:$SNI_LINE: tls_server_sni_maps = hash:$T/other-sni does not name hash:$STORE/postfix/sni, so Postfix serves no per-name certificate"
pf "indexed = hash:$STORE/postfix/" 'tls_server_sni_maps = ${indexed}sni'
clean 'tls_server_sni_maps = ${indexed}sni'
pf "tls_server_sni_maps = lmdb:$STORE/postfix/sni"
expect "lmdb: in main.cf, hash built" "tls_server_sni_maps names lmdb:$STORE/postfix/sni, so Postfix reads $STORE/postfix/sni.lmdb, but mailcert-milter builds $STORE/postfix/sni.db"
pf "tls_server_sni_maps = btree:$STORE/postfix/sni"
expect "btree: in main.cf, hash built" "but mailcert-milter builds $STORE/postfix/sni.db as a hash map (listeners.postfix_map_type), which Postfix cannot open as btree"
pf "tls_server_sni_maps = texthash:$STORE/postfix/sni"
expect "texthash: in main.cf" "tls_server_sni_maps names texthash:$STORE/postfix/sni, so Postfix reads the table source itself"
pf "tls_server_sni_maps = hash:$STORE/postfix/sni"
clean "hash: again"

# 3. the compiled map: rebuilt without -F (by hand, or a script that runs postmap on
# every table), Postfix cannot decode it; missing
postmap -c "$PF_DIR" "hash:$STORE/postfix/sni" || die "postmap"
postmap -c "$PF_DIR" -F -q a.test "hash:$STORE/postfix/sni" 2>/dev/null | grep -q 'BEGIN' &&
    bad "postmap -F -q decodes a map built without -F: the premise of this case is wrong"
expect "built without -F" "warning: postfix: $STORE/postfix/sni.db was built without postmap's -F: it maps a.test to \"$STORE/versions/a.test/"
warns "rebuild it with: postmap -c $PF_DIR -F hash:$STORE/postfix/sni" && ok "... and says how to rebuild it" ||
    bad "no rebuild command: $(cat "$T/check.err")"
postmap -c "$PF_DIR" -F "hash:$STORE/postfix/sni" || die "postmap -F"
postmap -c "$PF_DIR" -F -q a.test "hash:$STORE/postfix/sni" | grep -q 'BEGIN' || bad "postmap -F -q finds no PEM"
clean "rebuilt with -F"
mv "$STORE/postfix/sni.db" "$T/sni.db"
expect "map missing" "warning: postfix: $STORE/postfix/sni.db is missing, so Postfix has no SNI table"
mv "$T/sni.db" "$STORE/postfix/sni.db"

# 4. Dovecot: the include not reached
mv "$DC/conf.d/99-mailcert.conf" "$DC/99-mailcert.conf.off"
expect "include not reached" "warning: dovecot: its configuration $DC_CONF does not include $STORE/dovecot/mailcert.conf (no !include or !include_try reaches it, directly or through a glob such as conf.d/*.conf), so Dovecot serves none of mailcert's certificates; add: !include_try $STORE/dovecot/mailcert.conf"
echo "!include_try $STORE/dovecot/mailcert.conf" >>"$DC_CONF"
clean "!include_try in dovecot.conf itself"
sed -i '$d' "$DC_CONF"
mv "$DC/99-mailcert.conf.off" "$DC/conf.d/99-mailcert.conf"
clean "snippet back in conf.d"

if [ "$(dovecot_version)" -lt 204 ]; then
# 5. Dovecot 2.3 (the installed one) and 2.4's names, or ssl_cert without '<'
printf '# TLS\nssl_server_cert_file = %s/run/default.pem\n' "$STORE" >"$DC/conf.d/50-new.conf"
expect_error "2.4 name on 2.3" "error: dovecot: $DC/conf.d/50-new.conf:2: ssl_server_cert_file is Dovecot 2.4's name, and Dovecot 2.3 does not start with it; write ssl_cert = <FILE"
warns "error: dovecot: cannot read its configuration (doveconf -n), so Dovecot does not start with it: Fatal: Error in configuration file $DC/conf.d/50-new.conf line 2: Unknown setting: ssl_server_cert_file" &&
    ok "... and doveconf's own reason" || bad "doveconf's reason: $(cat "$T/check.err")"
printf 'local_name x.test {\n  ssl_key = %s/run/default.pem\n}\n' "$STORE" >"$DC/conf.d/50-new.conf"
expect "ssl_key without '<' on 2.3" "warning: dovecot: $DC/conf.d/50-new.conf:2: Dovecot 2.3's ssl_key takes the file's contents, so the file name alone is not a certificate or key; write ssl_key = <$STORE/run/default.pem"
printf '#ssl_server_key_file = /x\n' >"$DC/conf.d/50-new.conf"
clean "a commented-out 2.4 name"
rm "$DC/conf.d/50-new.conf"

# 6. Dovecot 2.4, played by a `dovecot` that answers --version only
mkdir -p "$T/bin"
printf '#!/bin/sh\n[ "$1" = --version ] && echo "2.4.1 (0000000)" && exit 0\nexit 1\n' >"$T/bin/dovecot"
chmod 755 "$T/bin/dovecot"
printf '# an operator file in 2.3 syntax\nssl_cert = </etc/ssl/x.pem\n' >"$DC/conf.d/50-old.conf"
PATH=$T/bin:$PATH check
[ "$CHECK_RC" = 78 ] && ok "2.4: check fails (exit 78)" || bad "2.4: check exit $CHECK_RC"
grep -qF "error: dovecot: $STORE/dovecot/mailcert.conf:" "$T/check.err" &&
    grep -qF "mailcert-milter wrote ssl_cert for Dovecot 2.3, but Dovecot 2.4 is installed, which does not know it; restart mailcert-milter" "$T/check.err" &&
    ok "2.4: the include written for 2.3" || bad "2.4, the include: $(cat "$T/check.err")"
grep -qF "error: dovecot: $DC/conf.d/50-old.conf:2: ssl_cert is Dovecot 2.3's name, and Dovecot 2.4 does not start with it; write ssl_server_cert_file = FILE" "$T/check.err" &&
    ok "2.4: a 2.3 ssl_cert in an operator's file, with its line" || bad "2.4, 50-old.conf: $(cat "$T/check.err")"
grep -qF "$DC/conf.d/99-mailcert.conf" "$T/check.err" && bad "2.4: the shipped snippet is blamed: $(cat "$T/check.err")" ||
    ok "2.4: the shipped snippet, the same for both versions, is not blamed"
rm "$DC/conf.d/50-old.conf"
# mailcert-milter started under 2.4 writes 2.4's names: that warning goes
PATH=$T/bin:$PATH once
grep -q '^ssl_server_cert_file = ' "$STORE/dovecot/mailcert.conf" || bad "--once under 2.4 wrote: $(head -8 "$STORE/dovecot/mailcert.conf")"
printf 'ssl_server_cert_file = <%s/run/default.pem\n' "$STORE" >"$DC/conf.d/99-mailcert.conf"
echo "!include_try $STORE/dovecot/mailcert.conf" >>"$DC/conf.d/99-mailcert.conf"
PATH=$T/bin:$PATH check
! grep -qF "mailcert-milter wrote" "$T/check.err" && ok "2.4: the include rewritten for 2.4" ||
    bad "2.4, rewritten include: $(cat "$T/check.err")"
grep -qF "warning: dovecot: $DC/conf.d/99-mailcert.conf:1: Dovecot 2.4's ssl_server_cert_file takes a file name: drop the '<' (ssl_server_cert_file = $STORE/run/default.pem)" "$T/check.err" &&
    ok "2.4: ssl_server_cert_file with '<'" || bad "2.4, '<': $(cat "$T/check.err")"
else
# 5'. Dovecot 2.4 (the installed one) and 2.3's names, or ssl_server_key_file with '<'
printf '# TLS\nssl_cert = <%s/run/default.pem\n' "$STORE" >"$DC/conf.d/50-new.conf"
expect_error "2.3 name on 2.4" "error: dovecot: $DC/conf.d/50-new.conf:2: ssl_cert is Dovecot 2.3's name, and Dovecot 2.4 does not start with it; write ssl_server_cert_file = FILE"
warns "error: dovecot: cannot read its configuration (doveconf -n), so Dovecot does not start with it: Fatal: Error in configuration file $DC/conf.d/50-new.conf line 2: ssl_cert: Unknown setting" &&
    ok "... and doveconf's own reason" || bad "doveconf's reason: $(cat "$T/check.err")"
printf 'local_name x.test {\n  ssl_server_key_file = <%s/run/default.pem\n}\n' "$STORE" >"$DC/conf.d/50-new.conf"
expect "ssl_server_key_file with '<' on 2.4" "warning: dovecot: $DC/conf.d/50-new.conf:2: Dovecot 2.4's ssl_server_key_file takes a file name: drop the '<' (ssl_server_key_file = $STORE/run/default.pem)"
printf '#ssl_cert = </x\n' >"$DC/conf.d/50-new.conf"
clean "a commented-out 2.3 name"
rm "$DC/conf.d/50-new.conf"

# 6'. Dovecot 2.3, played by a `dovecot` that answers --version only: the include
# mailcert-milter wrote for the installed 2.4 is wrong for it
mkdir -p "$T/bin"
printf '#!/bin/sh\n[ "$1" = --version ] && echo "2.3.21 (0000000)" && exit 0\nexit 1\n' >"$T/bin/dovecot"
chmod 755 "$T/bin/dovecot"
PATH=$T/bin:$PATH check
[ "$CHECK_RC" = 78 ] && grep -qF "error: dovecot: $STORE/dovecot/mailcert.conf:" "$T/check.err" &&
    grep -qF "mailcert-milter wrote ssl_server_cert_file for Dovecot 2.4, but Dovecot 2.3 is installed, which does not know it; restart mailcert-milter" "$T/check.err" &&
    ok "2.3: the include written for 2.4 (exit 78)" || bad "2.3, the include: exit $CHECK_RC, $(cat "$T/check.err")"
grep -qF "$DC/conf.d/99-mailcert.conf" "$T/check.err" && bad "2.3: the shipped snippet is blamed: $(cat "$T/check.err")" ||
    ok "2.3: the shipped snippet, the same for both versions, is not blamed"
fi
exit $fail
