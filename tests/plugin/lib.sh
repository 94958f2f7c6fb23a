# shellcheck shell=bash
# tests/plugin/lib.sh - what the mailcert-milter tests share.
#
#   . "$(dirname "$0")/lib.sh"     (sources tests/lib/common.sh: log, die, freeport,
#                                   wait_port, on_exit; and tests/lib/mta.sh)
#   T                       a fresh work directory, removed at exit
#   MILTER                  the mailcert-milter binary under test
#   ca_make DIR             throwaway root + intermediate: DIR/root.pem (trust this),
#                           DIR/int.pem, DIR/int.key
#   leaf_make CADIR OUT DAYS NAME...
#                           key OUT.key and leaf OUT.pem for NAME... signed by the
#                           intermediate (DAYS may be negative: already expired)
#   selfsigned_make OUT NAME  a self-signed key+certificate in one file OUT
#   store_put STORE HOST FILE...
#                           publish a set as the store does: cert.pem = FILE... concatenated
#                           (key, leaf, chain), in versions/HOST/GEN, symlink swapped by rename;
#                           cert.pem's group is $STORE_GROUP when that is set
#   store_put_set STORE HOST CADIR LEAF   key+leaf+intermediate of LEAF (from leaf_make)
#   serial_of PEMFILE       the leaf's serial, lower-case hex
#   served_serial, postfix_start, dovecot_start   from tests/lib/mta.sh
#   serves MODE PORT NAME SERIAL [CAFILE]  true when that serial is served
#   wait_for SECONDS CMD...  poll CMD until it succeeds
#   milter_start CONF [ARGS...]  mailcert-milter -f in the background (MILTER_PID)
#   write_conf FILE STORE DEFAULT_HOST "postfix=yes dovecot=yes exim=yes" HOST...
#   two_selfsigned_started CONF STORE IMAP IMAPS POP3S   a.test and b.test loaded
#   pebble_mta_conf CONF STORE [HOST_LINES]   a configuration for the running Pebble

# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/mta.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/mta.sh"

srcdir=${srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MILTER=${MAILCERT_MILTER:-$PWD/plugin/mailcert-milter}

skip() {
    log "SKIP: $*"
    exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root (throwaway Postfix and Dovecot instances)"
[ -x "$MILTER" ] || skip "$MILTER not built"
command -v openssl >/dev/null || skip "no openssl"

T=$(mktemp -d /tmp/mailcert-plugin.XXXXXX) || die "mktemp"
chmod 755 "$T"
[ -n "${KEEP_TMP:-}" ] || on_exit "rm -rf '$T'"

ca_make() {
    local d=$1
    mkdir -p "$d"
    (
        set -e
        cd "$d"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout root.key -out root.pem -days 30 -subj "/CN=mailcert test root $$" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout int.key -out int.csr -subj "/CN=mailcert test intermediate $$" 2>/dev/null
        printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" \
            "keyUsage=critical,keyCertSign,cRLSign" >int.ext
        openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -days 30 \
            -set_serial "0x$(openssl rand -hex 8)" -extfile int.ext -out int.pem 2>/dev/null
    ) || die "ca_make $d failed"
}

leaf_make() {
    local ca=$1 out=$2 days=$3 san="" n
    shift 3
    for n in "$@"; do san="${san:+$san,}DNS:$n"; done
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$out.key" -out "$out.csr" -subj "/CN=$1" 2>/dev/null || die "leaf_make csr"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=$san" >"$out.ext"
    # DAYS < 0: OpenSSL 3.5 (Debian 13) refuses a negative -days; it takes the
    # validity as dates instead (3.0 has no -not_after, and takes -days -1)
    local validity=(-days "$days")
    if [ "$days" -lt 0 ] && openssl x509 -help 2>&1 | grep -q -- '-not_after'; then
        validity=(-not_before "$(date -u -d "$((days * 2)) days" +%Y%m%d%H%M%SZ)"
            -not_after "$(date -u -d "$days days" +%Y%m%d%H%M%SZ)")
    fi
    openssl x509 -req -in "$out.csr" -CA "$ca/int.pem" -CAkey "$ca/int.key" "${validity[@]}" \
        -set_serial "0x$(openssl rand -hex 12)" -extfile "$out.ext" -out "$out.pem" \
        2>/dev/null || die "leaf_make $out"
    rm -f "$out.csr" "$out.ext"
}

selfsigned_make() {
    local out=$1 name=$2
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$out.key" -out "$out.crt" -days 30 -subj "/CN=$name" \
        -addext "subjectAltName=DNS:$name" 2>/dev/null || die "selfsigned_make $name"
    cat "$out.key" "$out.crt" >"$out"
    rm -f "$out.key" "$out.crt"
}

store_put() {
    local store=$1 host=$2 gen v
    shift 2
    gen="$(date +%s.%N).$$.$RANDOM"
    v="$store/versions/$host/$gen"
    mkdir -p "$v" "$store/certs" || die "store_put mkdir"
    cat "$@" >"$v/cert.pem" || die "store_put cat"
    chmod 640 "$v/cert.pem"
    # as the helper makes it (root:mailcert), for MTAs that do not read it as root
    [ -z "${STORE_GROUP:-}" ] || chgrp "$STORE_GROUP" "$v/cert.pem" || die "store_put chgrp"
    printf '{"host": "%s"}\n' "$host" >"$v/state.json"
    ln -s "../versions/$host/$gen" "$store/certs/.$host.new.$$" &&
        mv -T "$store/certs/.$host.new.$$" "$store/certs/$host" || die "store_put publish"
}

store_put_set() {
    local store=$1 host=$2 ca=$3 leaf=$4
    store_put "$store" "$host" "$leaf.key" "$leaf.pem" "$ca/int.pem"
}

serial_of() {
    openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f' | sed 's/^0*//'
}

write_conf() {
    local file=$1 store=$2 def=$3 listeners=$4 h
    shift 4
    {
        printf 'store = "%s"\ndefault_host = "%s"\n' "$store" "$def"
        printf 'listeners {\n'
        case " $listeners " in *" postfix=yes "*) echo '  postfix = true' ;; *) echo '  postfix = false' ;; esac
        case " $listeners " in *" dovecot=yes "*) echo '  dovecot = true' ;; *) echo '  dovecot = false' ;; esac
        case " $listeners " in *" exim=yes "*) echo '  exim = true' ;; esac
        [ -n "${PF_DIR:-}" ] && printf '  postfix_config_dir = "%s"\n' "$PF_DIR"
        [ -n "${DC_CONF:-}" ] && printf '  dovecot_config = "%s"\n' "$DC_CONF"
        [ -n "${EXIM_CMD:-}" ] && printf '  exim_command = "%s"\n' "$EXIM_CMD"
        [ -n "${EXIM_CONF:-}" ] && printf '  exim_config = "%s"\n' "$EXIM_CONF"
        printf '}\n'
        for h in "$@"; do printf 'host "%s" {\n  source = "manual"\n}\n' "$h"; done
    } >"$file"
}

# milter_start CONF [args...]: mailcert-milter -f in the background; MILTER_PID
milter_start() {
    local conf=$1
    shift
    "$MILTER" -f -v -c "$conf" "$@" >>"$T/milter.log" 2>&1 &
    MILTER_PID=$!
    on_exit "milter_stop $MILTER_PID"
}

# milter_stop [PID]: SIGTERM, then the milter must exit 0 within 60 s (a sanitizer
# report, a leak or a crash at exit shows in its status); a failure fails the test.
milter_stop() {
    local pid=${1:-${MILTER_PID:-}} i rc
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        exit_fail "mailcert-milter ($pid) still running 60 s after SIGTERM"
        return 1
    fi
    wait "$pid"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        exit_fail "mailcert-milter ($pid) exited $rc after SIGTERM (see $T/milter.log)"
        tail -20 "$T/milter.log" >&2
        return 1
    fi
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_for() {
    local limit=$1 deadline
    shift
    deadline=$(($(date +%s%N) / 1000000 + limit * 1000))
    until "$@"; do
        [ "$(($(date +%s%N) / 1000000))" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# serves MODE PORT NAME SERIAL [CAFILE]: true when the listener serves SERIAL for NAME
serves() {
    [ "$(served_serial "$1" "$2" "$3" "${5:-}")" = "$4" ]
}

# milter_once_before_dovecot CONF STORE: mailcert-milter --once to write the Dovecot
# include before Dovecot runs. Only Dovecot's reload may fail (it is not running yet,
# its configuration may not even exist);
# the include must exist and any other error fails the test.
milter_once_before_dovecot() {
    local conf=$1 store=$2 out rc
    out=$T/once-before-dovecot.log
    "$MILTER" -c "$conf" --once >"$out" 2>&1
    rc=$?
    cat "$out" >>"$T/milter.log"
    [ -s "$store/dovecot/mailcert.conf" ] || die "--once wrote no Dovecot include: $(tail -5 "$out")"
    if [ "$rc" -ne 0 ] && grep -i 'error' "$out" | grep -qv 'error: dovecot: doveadm reload: '; then
        die "--once failed for another reason than Dovecot not running yet: $(grep -i error "$out")"
    fi
}

# two_selfsigned_started CONF STORE IMAP IMAPS POP3S: with Postfix running
# (postfix_start), a.test (default) and b.test self-signed in STORE, Dovecot on those
# ports, and both hosts loaded by a mailcert-milter started on CONF (MILTER_PID)
two_selfsigned_started() {
    local conf=$1 store=$2 h
    write_conf "$conf" "$store" a.test "postfix=yes dovecot=yes" a.test b.test
    for h in a.test b.test; do
        "$MAILCERT" -c "$conf" self-signed "$h" >>"$T/mailcert.log" 2>&1 || die "self-signed $h"
    done
    milter_once_before_dovecot "$conf" "$store"
    dovecot_start "$T/dc" "$store" "$3" "$4" "$5"
    write_conf "$conf" "$store" a.test "postfix=yes dovecot=yes" a.test b.test
    milter_start "$conf"
}

# pebble_mta_conf CONF STORE [HOST_LINES]: a configuration for the running Pebble
# (tests/lib/pebble.sh) with Postfix (PF_DIR) and Dovecot (DC_CONF) listening, mail
# off, and the hosts HOST_LINES (default: mail.example.test with smtp.example.test)
pebble_mta_conf() {
    local hosts='host "mail.example.test" { names = { "smtp.example.test" } }'
    [ $# -ge 3 ] && hosts=$3
    cat >"$1" <<CONF
store = "$2"
default_host = "mail.example.test"
acme {
  directory = "$PEBBLE_DIR_URL"
  email = "postmaster@example.test"
  agree_tos = true
  ca_bundle = "$PEBBLE_API_CA"
}
http01 { listen = { "127.0.0.1:$PEBBLE_HTTP_PORT" } public_port = $PEBBLE_HTTP_PORT }
resolver = "$PEBBLE_DNS"
notify { sendmail = "" }
listeners {
  postfix = true
  dovecot = true
  postfix_config_dir = "$PF_DIR"
  dovecot_config = "$DC_CONF"
}
$hosts
CONF
}
