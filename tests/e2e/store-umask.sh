#!/bin/bash
# The store's modes and groups are README's whatever the umask (the shipped
# renewal unit has UMask=0027): under umask 0027 and 0077, every directory on
# the way to certs/HOST/cert.pem lets group mailcert through, cert.pem and key.pem
# are 0640 root:mailcert, the other files 0644 -- checked by reading them as an
# unprivileged user in group mailcert and as one outside it.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
chmod 755 "$W"

host=mail.example.test
command -v setpriv >/dev/null || { log "SKIP: no setpriv"; exit 77; }
id nobody >/dev/null 2>&1 || { log "SKIP: no user nobody"; exit 77; }
if ! getent group mailcert >/dev/null; then
    groupadd --system mailcert || die "groupadd mailcert"
    on_exit "groupdel mailcert"
fi
other_group=$(id -gn nobody)

# as_member CMD...: run CMD as nobody in group mailcert; as_other: not in it
as_member() { setpriv --reuid=nobody --regid=mailcert --clear-groups "$@"; }
as_other() { setpriv --reuid=nobody --regid="$other_group" --clear-groups "$@"; }

# expect_mode PATH MODE OWNER:GROUP
expect_mode() {
    expect_eq "$(stat -c '%a %U:%G' "$1")" "$2 $3" "$1: mode and owner"
}

for u in 0027 0077; do
    store=$W/umask$u/store
    printf 'store = "%s"\ndefault_host = "%s"\nhost "%s" {\n  source = "self-signed"\n}\n' \
        "$store" "$host" "$host" > "$W/umask$u.conf"
    # the first install creates the store, the second a new generation beside the first
    for n in 1 2; do
        (umask "$u" && "$MAILCERT" -c "$W/umask$u.conf" self-signed "$host") > "$W/umask$u.$n.out" 2>&1 ||
            die "umask $u: install $n failed: $(cat "$W/umask$u.$n.out")"
    done
    set_dir=$(readlink -f "$store/certs/$host")
    [ -d "$set_dir" ] || die "umask $u: certs/$host does not resolve"
    # every directory from the store down to the set, as the group sees it
    d=$set_dir
    while :; do
        if as_member test -x "$d"; then pass "umask $u: group mailcert can enter $d"
        else fail "umask $u: group mailcert cannot enter $d ($(stat -c '%a %U:%G' "$d"))"; fi
        [ "$d" = "$store" ] && break
        d=$(dirname "$d")
    done
    as_member test -x "$store/certs" && pass "umask $u: group mailcert can enter certs/" ||
        fail "umask $u: group mailcert cannot enter certs/ ($(stat -c '%a %U:%G' "$store/certs"))"
    # README's table
    for f in cert.pem key.pem; do
        expect_mode "$set_dir/$f" 640 root:mailcert
        as_member head -c1 "$store/certs/$host/$f" >/dev/null 2>&1 &&
            pass "umask $u: group mailcert reads certs/$host/$f" ||
            fail "umask $u: group mailcert cannot read certs/$host/$f"
        as_other head -c1 "$store/certs/$host/$f" >/dev/null 2>&1 &&
            fail "umask $u: anybody can read certs/$host/$f" ||
            pass "umask $u: others cannot read certs/$host/$f"
    done
    for f in fullchain.pem cert_auth.pem state.json; do
        expect_mode "$set_dir/$f" 644 root:root
        as_other test -r "$store/certs/$host/$f" &&
            pass "umask $u: others read certs/$host/$f" ||
            fail "umask $u: others cannot read certs/$host/$f"
    done
done
finish
