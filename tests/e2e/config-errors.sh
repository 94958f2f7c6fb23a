#!/bin/bash
# Bad configuration is refused with FILE:LINE and exit 78 (EX_CONFIG), and nothing is touched.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir

# expect_conf_error NAME LINE PATTERN: config in $W/NAME.conf must fail at that line
expect_conf_error() {
    local name=$1 line=$2 pattern=$3 out rc
    out=$("$MAILCERT" -c "$W/$name.conf" check 2>&1); rc=$?
    expect_eq "$rc" 78 "$name: exit status"
    case "$out" in
        "$W/$name.conf:$line: "*) pass "$name: message names FILE:LINE" ;;
        *) fail "$name: message '$out' does not start with $W/$name.conf:$line:" ;;
    esac
    if printf '%s' "$out" | grep -qi -- "$pattern"; then pass "$name: reason given"; else fail "$name: '$out' lacks '$pattern'"; fi
}

base() {
    printf 'store = "%s/store"\nacme {\n  agree_tos = true\n}\n' "$W"
}

{ base; echo 'host "../x" { }'; } > "$W/dotdot.conf"
expect_conf_error dotdot 5 "invalid hostname"
{ base; echo 'host "a..b" { }'; } > "$W/emptylabel.conf"
expect_conf_error emptylabel 5 "empty label"
long=$(printf 'a%.0s' $(seq 1 60)); long="$long.$long.$long.$long.$long.example"
{ base; echo "host \"$long\" { }"; } > "$W/long.conf"
expect_conf_error long 5 "characters long"
{ base; echo 'host "mail.example.test" {'; echo '  names = { "ok.example.test", "bad_name.example.test" }'; echo '}'; } > "$W/badname.conf"
expect_conf_error badname 6 "bad_name"
{ base; echo 'host "mail.example.test" { }'; echo 'colour = "blue"'; } > "$W/unknown.conf"
expect_conf_error unknown 6 "colour"
{ base; echo 'acme {'; echo '  key_type = "dsa1024"'; echo '}'; } > "$W/keytype.conf"
expect_conf_error keytype 6 "key type"
{ base; echo 'host "mail.example.test" { }'; echo ''; echo 'host "mail.example.test" { }'; } > "$W/dup.conf"
expect_conf_error dup 7 "duplicate"
{ base; echo 'host "mail.example.test" { }'; echo 'host "MAIL.example.test" { }'; } > "$W/dupcase.conf"
expect_conf_error dupcase 6 "duplicate"
{ base; echo 'host "mail.example.test" {'; echo '  challenge = "smoke-signals"'; echo '}'; } > "$W/chal.conf"
expect_conf_error chal 6 "challenge"
{ base; echo 'default_host = "other.example.test"'; echo 'host "mail.example.test" { }'; } > "$W/defhost.conf"
expect_conf_error defhost 5 "not a configured host"
{ base; echo 'host "mail.example.test" {'; echo '  challenge = "dns-01"'; echo '}'; } > "$W/dnshook.conf"
expect_conf_error dnshook 5 "dns01.hook"

# a duplicate across the main file and conf.d/ names the conf.d file
mkdir -p "$W/split/conf.d"
{ base; echo 'host "mail.example.test" { }'; } > "$W/split/mailcert.conf"
printf '# extra hosts\nhost "imap.example.test" { }\n' > "$W/split/conf.d/10-imap.conf"
printf '\n\nhost "mail.example.test" { }\n' > "$W/split/conf.d/20-dup.conf"
out=$("$MAILCERT" -c "$W/split/mailcert.conf" check 2>&1); rc=$?
expect_eq "$rc" 78 "conf.d duplicate: exit status"
case "$out" in "$W/split/conf.d/20-dup.conf:3: "*duplicate*) pass "conf.d duplicate names the conf.d file and line" ;; *) fail "conf.d duplicate: $out" ;; esac
rm "$W/split/conf.d/20-dup.conf"
# (stderr may warn that this machine's Postfix does not use the store: listeners
# default to postfix and dovecot; tests/plugin/status-truth.sh checks those warnings)
out=$("$MAILCERT" -c "$W/split/mailcert.conf" check 2>"$W/split.err"); rc=$?
expect_eq "$rc:$out" "0:configuration $W/split/mailcert.conf OK" "main file plus conf.d/*.conf is valid"
grep -v ': warning: ' "$W/split.err" | grep -q . && fail "check printed more than warnings: $(cat "$W/split.err")"
"$MAILCERT" -c "$W/split/mailcert.conf" status | grep -q '^imap.example.test' && pass "hosts from conf.d are configured" || fail "conf.d host missing from status"

# the full example config from conf.d/ is valid
if [ -f "$TOP_SRCDIR/conf.d/mailcert.conf" ]; then
    out=$("$MAILCERT" -c "$TOP_SRCDIR/conf.d/mailcert.conf" check 2>/dev/null) # stderr: the agree_tos warning
    expect_eq "$out" "configuration $TOP_SRCDIR/conf.d/mailcert.conf OK" "the shipped example config is valid"
fi
# a missing file is a config error too
out=$("$MAILCERT" -c "$W/nope.conf" check 2>&1); rc=$?
expect_eq "$rc" 78 "missing config file exits 78"
# usage errors exit 64
"$MAILCERT" frobnicate >/dev/null 2>&1; expect_eq "$?" 64 "unknown command exits 64"
"$MAILCERT" -c "$W/split/mailcert.conf" status --bogus >/dev/null 2>&1; expect_eq "$?" 64 "unknown option exits 64"
"$MAILCERT" -c "$W/split/mailcert.conf" retry >/dev/null 2>&1; expect_eq "$?" 64 "retry without hosts exits 64"
# nothing was created by any of the failed runs
[ ! -e "$W/store" ] && pass "failed config checks created no store" || fail "a store appeared"
finish
