# shellcheck shell=bash
# tests/lib/mta.sh - throwaway Postfix and Dovecot instances on loopback, and what a
# TLS client sees of them. Used by the plugin tests and by scripts/demo.
#
#   . tests/lib/mta.sh              (sources common.sh itself)
#   postfix_start DIR STORE SMTP_PORT SMTPS_PORT [extra main.cf settings...]
#                           Postfix with its configuration in DIR/etc (PF_DIR), its
#                           SNI table hash:STORE/postfix/sni and default chain
#                           STORE/run/default.pem; stopped at exit
#   dovecot_start DIR STORE IMAP_PORT IMAPS_PORT POP3S_PORT
#                           Dovecot with DIR/dovecot.conf (DC_CONF), which includes
#                           STORE/dovecot/mailcert.conf when it exists; stopped at exit
#   served_serial MODE PORT [NAME] [CAFILE]
#                           serial of the certificate served (MODE: smtp imap pop3 = STARTTLS,
#                           tls = implicit TLS); with CAFILE it must verify for NAME; no NAME:
#                           no SNI

# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

served_serial() {
    local mode=$1 port=$2 name=${3:-} ca=${4:-} args=()
    case $mode in
        smtp | imap | pop3) args+=(-starttls "$mode") ;;
    esac
    if [ -n "$name" ]; then args+=(-servername "$name"); else args+=(-noservername); fi
    if [ -n "$ca" ]; then
        args+=(-CAfile "$ca" -verify_return_error)
        [ -n "$name" ] && args+=(-verify_hostname "$name")
    fi
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" "${args[@]}" 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//' | tr 'A-F' 'a-f' | sed 's/^0*//'
}

# A throwaway Postfix 3.7 in DIR: SMTP (STARTTLS) and SMTPS listeners on loopback.
postfix_start() {
    local dir=$1 store=$2 smtp=$3 smtps=$4
    shift 4
    mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
    chown postfix "$dir/data"
    cp /usr/share/postfix/master.cf.dist "$dir/etc/master.cf"
    : >"$dir/etc/main.cf"
    postconf -c "$dir/etc" -e \
        "compatibility_level = 3.6" \
        "queue_directory = $dir/queue" \
        "data_directory = $dir/data" \
        "mail_owner = postfix" "setgid_group = postdrop" \
        "inet_interfaces = loopback-only" "inet_protocols = ipv4" \
        "myhostname = mailcert-test.localdomain" "mydestination =" \
        "alias_maps =" "alias_database =" "mynetworks = 127.0.0.0/8" \
        "maillog_file = $dir/postfix.log" "maillog_file_prefixes = $dir" \
        "smtpd_tls_security_level = may" \
        "smtpd_tls_chain_files = $store/run/default.pem" \
        "tls_server_sni_maps = hash:$store/postfix/sni" \
        "master_service_disable =" "$@" || die "postconf main.cf"
    postconf -c "$dir/etc" -F '*/*/chroot = n'
    postconf -c "$dir/etc" -M# smtp/inet
    postconf -c "$dir/etc" -M "127.0.0.1:$smtp/inet = 127.0.0.1:$smtp inet n - n - - smtpd" \
        "127.0.0.1:$smtps/inet = 127.0.0.1:$smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o syslog_name=postfix/smtps" ||
        die "postconf master.cf"
    postconf -c "$dir/etc" -e "maillog_file = $dir/postfix.log"
    postfix -c "$dir/etc" set-permissions >/dev/null 2>&1
    # (CI once saw $dir gone at this point: say what is left, should it happen again)
    [ -d "$dir" ] || die "postfix start: $dir vanished; $(ls -la "$(dirname "$dir")" 2>&1 | head -20)"
    script -qc "postfix -c $dir/etc start" /dev/null >"$dir/start.out" 2>&1 ||
        die "postfix start: $(cat "$dir/start.out" "$dir/postfix.log" 2>/dev/null | tail -5)"
    on_exit "postfix -c '$dir/etc' stop >/dev/null 2>&1"
    wait_port 127.0.0.1 "$smtp" 15 || die "postfix not listening on $smtp: $(tail -5 "$dir/postfix.log")"
    PF_DIR=$dir/etc
}

# dovecot_version: Dovecot's MAJOR*100+MINOR (203 for 2.3.x, 204 for 2.4.x)
dovecot_version() {
    local v
    v=$(dovecot --version 2>/dev/null) || return 1
    echo "$v" | sed -n 's/^\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p' | { read -r a b; echo $((a * 100 + b)); }
}

# dovecot_conf_head: the settings a Dovecot configuration of the installed version must
# start with (2.4 refuses a file that does not begin with dovecot_config_version)
dovecot_conf_head() {
    [ "$(dovecot_version)" -ge 204 ] || return 0
    printf 'dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n'
}

# dovecot_conf_cert FILE [INDENT]: the server certificate and key lines for FILE (key
# and chain in one file), as the installed Dovecot spells them
dovecot_conf_cert() {
    if [ "$(dovecot_version)" -ge 204 ]; then
        printf '%sssl_server_cert_file = %s\n%sssl_server_key_file = %s\n' "${2:-}" "$1" "${2:-}" "$1"
    else
        printf '%sssl_cert = <%s\n%sssl_key = <%s\n' "${2:-}" "$1" "${2:-}" "$1"
    fi
}

# dovecot_conf_login DIR IMAP_PORT IMAPS_PORT [POP3_PORT] POP3S_PORT: a test instance's
# own folders, log, static "pass" logins and loopback listeners (port 0: none), in the
# installed version's syntax (2.4 renamed the passdb/userdb, cleartext and listener
# address settings)
dovecot_conf_login() {
    local dir=$1 imap=$2 imaps=$3 pop3=$4 pop3s=$5 addr=address
    if [ "$(dovecot_version)" -ge 204 ]; then
        addr=listen
        cat <<CONF
auth_allow_cleartext = yes
mail_driver = maildir
mail_path = ~/Maildir
passdb static {
  password = pass
}
userdb static {
  fields {
    uid = dovecot
    gid = dovecot
    home = $dir/home/%{user}
  }
}
CONF
    else
        cat <<CONF
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
passdb {
  driver = static
  args = password=pass
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$dir/home/%u
}
CONF
    fi
    cat <<CONF
base_dir = $dir/base
state_dir = $dir/state
instance_name = mailcert-test-$$-${dir##*/}
listen = 127.0.0.1
log_path = $dir/dovecot.log
protocols = imap pop3
ssl = yes
auth_mechanisms = plain login
first_valid_uid = 1
service imap-login {
  chroot =
  inet_listener imap {
    $addr = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    $addr = 127.0.0.1
    port = $imaps
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    $addr = 127.0.0.1
    port = $pop3
  }
  inet_listener pop3s {
    $addr = 127.0.0.1
    port = $pop3s
  }
}
service anvil {
  chroot =
}
CONF
}

# A throwaway Dovecot (2.3 or 2.4, whichever is installed) in DIR: IMAP (STARTTLS),
# IMAPS and POP3S on loopback; any user logs in with password "pass".
dovecot_start() {
    local dir=$1 store=$2 imap=$3 imaps=$4 pop3s=$5
    mkdir -p "$dir/base" "$dir/state" "$dir/home"
    chown dovecot "$dir/home"
    {
        dovecot_conf_head
        dovecot_conf_login "$dir" "$imap" "$imaps" 0 "$pop3s"
        echo "!include_try $store/dovecot/mailcert.conf"
    } >"$dir/dovecot.conf"
    dovecot -c "$dir/dovecot.conf" >"$dir/start.out" 2>&1 ||
        die "dovecot start: $(cat "$dir/start.out" "$dir/dovecot.log" 2>/dev/null | tail -5)"
    on_exit "doveadm -c '$dir/dovecot.conf' stop >/dev/null 2>&1"
    wait_port 127.0.0.1 "$imaps" 15 || die "dovecot not listening: $(tail -5 "$dir/dovecot.log")"
    DC_CONF=$dir/dovecot.conf
}
