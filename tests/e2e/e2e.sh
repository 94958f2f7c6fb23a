# shellcheck shell=bash
# tests/e2e/e2e.sh - what every end-to-end test of mailcert shares.
#
#   MAILCERT         the binary under test (set by make check)
#   TOP_SRCDIR       the source tree
#   e2e_workdir      make and export W, a temp dir removed at exit (kept with KEEP=1)
#   e2e_config FILE DIRURL CA_BUNDLE HTTP_PORT [HOST[:NAME,NAME...]]...
#                    write a mailcert.conf with a store under W and those hosts. Against
#                    Pebble (DIRURL is $PEBBLE_DIR_URL) every DNS look-up goes to its
#                    challtestsrv (resolver) and the self-checks probe the ports Pebble
#                    validates on (public_port); against the fake CA, which validates
#                    nothing and has no DNS, each host says self_check = false
#                    (mail off, unless E2E_NOTIFY holds another notify section)
#   pass MSG / fail MSG / expect_eq A B MSG
#   check_set STORE DIR ROOT NAME...   verify an installed set thoroughly
#   check_store WHAT TEMPS             every set under $W/store complete and matching
#                                      (PEBBLE_ROOT); TEMPS=1: no temporary file either
#   test_procs                         pids of this test's mailcert processes
#                                      (by MAILCERT_TEST_MARK)
#   expect_standin STORE DIR           only a self-signed stand-in there, nothing of a CA's

TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MAILCERT=${MAILCERT:-$TOP_SRCDIR/_build/helpers/mailcert}
# shellcheck source=tests/lib/pebble.sh
. "$TOP_SRCDIR/tests/lib/pebble.sh"

FAILURES=0

pass() { log "ok: $*"; }
fail() { log "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
expect_eq() {
    if [ "$1" = "$2" ]; then pass "$3"; else fail "$3 (expected '$2', got '$1')"; fi
}
# finish: exit 1 if any check failed
finish() {
    if [ "$FAILURES" -gt 0 ]; then
        log "$FAILURES check(s) failed"
        exit 1
    fi
    log "all checks passed"
    exit 0
}

# need_test_hooks: skip unless the build honours MAILCERT_NOW (--enable-test-hooks)
need_test_hooks() {
    if [ "${MAILCERT_TEST_HOOKS_BUILT:-yes}" != yes ]; then
        log "SKIP: needs a build configured with --enable-test-hooks (MAILCERT_NOW)"
        exit 77
    fi
}

e2e_workdir() {
    W=$(mktemp -d "${TMPDIR:-/tmp}/mailcert-e2e.XXXXXX")
    export W
    if [ -z "${KEEP:-}" ]; then on_exit "rm -rf '$W'"; else log "keeping $W"; fi
}

# e2e_config FILE DIRURL CA_BUNDLE HTTP_PORT HOSTSPEC...
# HOSTSPEC is "host" or "host:extra1,extra2"
e2e_config() {
    local file=$1 dir=$2 ca=$3 port=$4 spec host names first="" pebble="" hostopt=""
    shift 4
    [ -n "${PEBBLE_DIR_URL:-}" ] && [ "$dir" = "$PEBBLE_DIR_URL" ] && pebble=1
    [ -n "$pebble" ] || hostopt=" self_check = false"
    {
        echo "store = \"$W/store\""
        if [ -n "$pebble" ]; then
            echo "resolver = \"$PEBBLE_DNS\""
            echo "http01 { public_port = $PEBBLE_HTTP_PORT }"
            echo "tlsalpn01 { public_port = $PEBBLE_TLS_PORT }"
        fi
        echo "acme {"
        echo "  directory = \"$dir\""
        echo "  email = \"postmaster@example.test\""
        echo "  agree_tos = true"
        echo "  ca_bundle = \"$ca\""
        echo "  key_type = \"${KEY_TYPE:-ec256}\""
        [ -n "${PREFERRED_CHAIN:-}" ] && echo "  preferred_chain = \"$PREFERRED_CHAIN\""
        echo "}"
        echo "http01 { listen = { \"127.0.0.1:$port\" } }"
        # no MTA here: status judges the store alone (tests/plugin/ covers the MTAs)
        echo "listeners { postfix = false  dovecot = false }"
        # no mail from the tests to the machine's own sendmail (notify.sh sets its own)
        echo "${E2E_NOTIFY:-notify { sendmail = \"\" \}}"
        for spec in "$@"; do
            host=${spec%%:*}
            [ -n "$first" ] || first=$host
            names=""
            if [ "$spec" != "$host" ]; then
                names=$(echo "${spec#*:}" | sed 's/\([^,]*\)/"\1"/g; s/,/, /g')
            fi
            echo "host \"$host\" { names = { $names }$hostopt }"
        done
        [ -n "$first" ] && echo "default_host = \"$first\""
    } > "$file"
}

file_mode() { stat -c %a "$1"; }

# check_set STORE DIR ROOT NAME...: chain verifies against ROOT, key matches, SANs, modes
check_set() {
    local store=$1 dir=$2 root=$3 d n sans kpub cpub
    shift 3
    d=$store/certs/$dir
    [ -L "$d" ] || { fail "$dir: $d is not the published symlink"; return; }
    if openssl verify -CAfile "$root" -untrusted "$d/cert_auth.pem" "$d/fullchain.pem" >/dev/null 2>&1; then
        pass "$dir: chain verifies against the CA root"
    else
        fail "$dir: chain does not verify: $(openssl verify -CAfile "$root" -untrusted "$d/cert_auth.pem" "$d/fullchain.pem" 2>&1 | tail -1)"
    fi
    # cert.pem (key + chain) must be usable on its own: same checks
    if openssl verify -CAfile "$root" -untrusted "$d/cert.pem" "$d/cert.pem" >/dev/null 2>&1; then
        pass "$dir: cert.pem leaf verifies with its own chain"
    else
        fail "$dir: cert.pem does not verify on its own"
    fi
    kpub=$(openssl pkey -in "$d/key.pem" -pubout 2>/dev/null | sha256sum)
    cpub=$(openssl x509 -in "$d/fullchain.pem" -noout -pubkey 2>/dev/null | sha256sum)
    expect_eq "$kpub" "$cpub" "$dir: key.pem matches the leaf"
    kpub=$(openssl pkey -in "$d/cert.pem" -pubout 2>/dev/null | sha256sum)
    expect_eq "$kpub" "$cpub" "$dir: the key in cert.pem matches the leaf"
    expect_eq "$(head -1 "$d/cert.pem")" "-----BEGIN PRIVATE KEY-----" "$dir: cert.pem starts with the key"
    sans=$(openssl x509 -in "$d/fullchain.pem" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
    for n in "$@"; do
        case ",$sans," in
            *",DNS:$n,"*) pass "$dir: SAN $n present" ;;
            *) fail "$dir: SAN $n missing (have $sans)" ;;
        esac
    done
    expect_eq "$(file_mode "$d/cert.pem")" 640 "$dir: cert.pem mode"
    expect_eq "$(file_mode "$d/key.pem")" 640 "$dir: key.pem mode"
    expect_eq "$(file_mode "$d/fullchain.pem")" 644 "$dir: fullchain.pem mode"
    expect_eq "$(file_mode "$d/cert_auth.pem")" 644 "$dir: cert_auth.pem mode"
    expect_eq "$(file_mode "$d/state.json")" 644 "$dir: state.json mode"
}

# serial of the installed leaf, lower case hex as status reports it
leaf_serial() {
    openssl x509 -in "$1/certs/$2/fullchain.pem" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f'
}

# a hash of every file of a published set, to prove it was not touched
set_digest() {
    (cd "$1/certs/$2/" && sha256sum cert.pem key.pem fullchain.pem cert_auth.pem && readlink "$1/certs/$2")
}

# pids of every mailcert process of this test still running (by MAILCERT_TEST_MARK)
test_procs() {
    local p
    for p in $(ps -eo pid=,comm= | awk '$2 ~ /^mailcert/ {print $1}'); do
        tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "MAILCERT_TEST_MARK=$MAILCERT_TEST_MARK" && echo "$p"
    done
}

# check_store WHAT TEMPS: every published set under $W/store complete, its key matching
# the leaf and its chain verifying against PEBBLE_ROOT; with TEMPS=1 nothing half-written
check_store() {
    local what=$1 temps=$2 d f t bad=0 kp cp
    for d in "$W"/store/certs/*; do
        [ -e "$d" ] || continue
        if [ -e "$d/cert.pem" ] || [ -e "$d/key.pem" ] || [ -e "$d/fullchain.pem" ]; then
            for f in cert.pem key.pem fullchain.pem cert_auth.pem state.json; do
                [ -s "$d/$f" ] || { fail "$what: ${d##*/}: $f missing or empty"; bad=1; }
            done
            openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/cert_auth.pem" "$d/fullchain.pem" >/dev/null 2>&1 ||
                { fail "$what: ${d##*/}: chain does not verify"; bad=1; }
            kp=$(openssl pkey -in "$d/key.pem" -pubout 2>/dev/null | sha256sum)
            cp=$(openssl x509 -in "$d/fullchain.pem" -noout -pubkey 2>/dev/null | sha256sum)
            [ "$kp" = "$cp" ] || { fail "$what: ${d##*/}: key.pem does not match the leaf"; bad=1; }
            kp=$(openssl pkey -in "$d/cert.pem" -pubout 2>/dev/null | sha256sum)
            [ "$kp" = "$cp" ] || { fail "$what: ${d##*/}: the key in cert.pem does not match the leaf"; bad=1; }
        fi
    done
    if [ "$temps" = 1 ]; then
        t=$(find "$W/store" -name '.*.tmp.*' -o -name '.*.new.*')
        [ -z "$t" ] || { fail "$what: temporary files left: $t"; bad=1; }
    fi
    [ "$bad" = 0 ] && pass "$what: every set in the store is complete and matching"
}

# expect_standin STORE DIR: a failed first order left only the self-signed stand-in
# (source self-signed-fallback) that a host without a certificate gets
expect_standin() {
    local d=$1/certs/$2
    if [ ! -e "$d/cert.pem" ]; then
        fail "$2: no stand-in installed"
    elif [ "$(openssl x509 -in "$d/fullchain.pem" -noout -subject)" = "$(openssl x509 -in "$d/fullchain.pem" -noout -issuer | sed 's/^issuer/subject/')" ] &&
        grep -q '"source": "self-signed-fallback"' "$d/state.json"; then
        pass "$2: nothing from the CA installed, only the self-signed stand-in"
    else
        fail "$2: a set from the CA was installed: $(openssl x509 -in "$d/fullchain.pem" -noout -issuer)"
    fi
}
