#!/bin/bash
# mkhosts.sh STORE N [PREFIX] - publish N self-signed hosts PREFIX0001.bulk.test ...
# into STORE in the store's layout (versions/HOST/GEN + symlink), in parallel.
# They share one key: only what the loader does with many hosts matters here.
set -e
store=$1 n=$2 prefix=${3:-h}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/key.pem" 2>/dev/null
mkdir -p "$store/certs" "$store/versions"
one() {
    local host=$1 v
    v="$store/versions/$host/1.0.$$"
    mkdir -p "$v"
    openssl req -x509 -key "$work/key.pem" -days 30 -subj "/CN=$host" \
        -addext "subjectAltName=DNS:$host" -out "$v/leaf.pem" 2>/dev/null
    cat "$work/key.pem" "$v/leaf.pem" >"$v/cert.pem"
    rm -f "$v/leaf.pem"
    chmod 640 "$v/cert.pem"
    ln -sfn "../versions/$host/1.0.$$" "$store/certs/$host"
}
export -f one
export store work
seq -f "$prefix%05g.bulk.test" 1 "$n" | xargs -P "$(nproc)" -n 1 bash -c 'one "$0"'
