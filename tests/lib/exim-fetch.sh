#!/bin/sh
# tests/lib/exim-fetch.sh - a real Exim for tests/plugin/exim.sh, without installing it.
#
#   tests/lib/exim-fetch.sh          (root; scripts/install-deps runs it) make sure the
#                                    exim4 binary of Debian's exim4-daemon-light is
#                                    unpacked under /var/cache/mailcert-test/exim/VERSION
#   tests/lib/exim-fetch.sh --path   print that binary's path (exit 1 when there is none)
#
# exim4-daemon-light cannot be installed beside Postfix (both are the system MTA), so
# the package is downloaded with `apt-get download` and unpacked with `dpkg -x`; the
# libraries it links are ordinary packages (scripts/install-deps installs them).  The
# binary has its user compiled in: it looks up Debian-exim at every start, so that
# system account is made here as the package would make it, and put in group mailcert,
# which is what an operator does to let Exim read the store's keys.
set -e

CACHE=${MAILCERT_EXIM_CACHE:-/var/cache/mailcert-test/exim}
PKG=exim4-daemon-light

if [ "${1:-}" = --path ]; then
    [ -x "$CACHE/current/usr/sbin/exim4" ] || exit 1
    echo "$CACHE/current/usr/sbin/exim4"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "exim-fetch: run as root" >&2
    exit 1
fi

if ! getent passwd Debian-exim >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/spool/exim4 --no-create-home \
        --shell /usr/sbin/nologin Debian-exim
    echo "exim-fetch: created system user Debian-exim"
fi
if getent group mailcert >/dev/null 2>&1 && ! id -nG Debian-exim | tr ' ' '\n' | grep -qx mailcert; then
    usermod -a -G mailcert Debian-exim
    echo "exim-fetch: added Debian-exim to group mailcert"
fi

version=$(apt-cache policy "$PKG" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    apt-get update -qq
    version=$(apt-cache policy "$PKG" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
fi
[ -n "$version" ] && [ "$version" != "(none)" ] || { echo "exim-fetch: no $PKG in the archive" >&2; exit 1; }
dir="$CACHE/$version"
if [ ! -x "$dir/usr/sbin/exim4" ]; then
    mkdir -p "$CACHE"
    work=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download "$PKG=$version" >/dev/null 2>&1) ||
        (apt-get update -qq && cd "$work" && apt-get download "$PKG=$version" >/dev/null) ||
        { echo "exim-fetch: apt-get download $PKG=$version failed" >&2; exit 1; }
    mkdir "$work/root"
    dpkg -x "$work"/"$PKG"_*.deb "$work/root"
    rm -rf "$dir"
    mv "$work/root" "$dir"
    echo "exim-fetch: $PKG $version unpacked in $dir"
fi
ln -sfn "$version" "$CACHE/.current.new" && mv -T "$CACHE/.current.new" "$CACHE/current"
if ldd "$dir/usr/sbin/exim4" | grep -q 'not found'; then
    echo "exim-fetch: exim4 lacks libraries:$(ldd "$dir/usr/sbin/exim4" | sed -n 's/ =>.*not found//p' | tr -d '\t' | tr '\n' ' ')" >&2
    exit 1
fi
"$dir/usr/sbin/exim4" -C /dev/null -bV >/dev/null 2>&1 || { echo "exim-fetch: $dir/usr/sbin/exim4 -C /dev/null -bV failed" >&2; exit 1; }
