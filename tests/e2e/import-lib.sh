# shellcheck shell=bash
# tests/e2e/import-lib.sh - throwaway CAs for the import and csr/install tests.
#
#   imp_ca DIR [AIA_URL]     root + intermediate: DIR/root.pem (+ .key), DIR/int.pem
#                            (+ .key, .der); AIA_URL: caIssuers URL the leaves carry
#   imp_leaf CADIR OUT DAYS NAME...
#                            key OUT.key, leaf OUT.pem (and OUT.der, OUT.key.der) for
#                            NAME... signed by the intermediate
#   imp_sign CADIR CSR OUT DAYS   sign a CSR as the intermediate (names from the CSR)
#   imp_conf FILE STORE      a config with mail.example.test (+ smtp.example.test) as
#                            source "manual" and auto.example.test as source "acme"
#   no_trust                 make OpenSSL's default trust store an empty one for this
#                            test (SSL_CERT_FILE / SSL_CERT_DIR); trust_root FILE: just FILE

imp_ca() {
    local d=$1 aia=${2:-}
    mkdir -p "$d"
    (
        set -e
        cd "$d"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout root.key -out root.pem -days 400 -subj "/CN=mailcert import test root $$" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout int.key -out int.csr -subj "/CN=mailcert import test intermediate $$" 2>/dev/null
        printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" \
            "keyUsage=critical,keyCertSign,cRLSign" "subjectKeyIdentifier=hash" \
            "authorityKeyIdentifier=keyid" >int.ext
        openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -days 400 \
            -set_serial "0x$(openssl rand -hex 8)" -extfile int.ext -out int.pem 2>/dev/null
        openssl x509 -in int.pem -outform DER -out int.der
        printf '%s\n' "$aia" >aia-url
        rm -f int.csr int.ext
    ) || die "imp_ca $d failed"
}

_imp_ext() {
    local ca=$1
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "authorityKeyIdentifier=keyid"
    if [ -s "$ca/aia-url" ] && [ "$(cat "$ca/aia-url")" != "" ]; then
        echo "authorityInfoAccess=caIssuers;URI:$(cat "$ca/aia-url")"
    fi
}

imp_leaf() {
    local ca=$1 out=$2 days=$3 san="" n
    shift 3
    for n in "$@"; do san="${san:+$san,}DNS:$n"; done
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$out.key" -out "$out.csr" -subj "/CN=$1" 2>/dev/null || die "imp_leaf csr"
    { _imp_ext "$ca"; echo "subjectAltName=$san"; } >"$out.ext"
    openssl x509 -req -in "$out.csr" -CA "$ca/int.pem" -CAkey "$ca/int.key" -days "$days" \
        -set_serial "0x$(openssl rand -hex 12)" -extfile "$out.ext" -out "$out.pem" \
        2>/dev/null || die "imp_leaf $out"
    openssl x509 -in "$out.pem" -outform DER -out "$out.der" || die "imp_leaf der"
    openssl pkey -in "$out.key" -outform DER -out "$out.key.der" || die "imp_leaf key der"
    rm -f "$out.csr" "$out.ext"
}

imp_sign() {
    local ca=$1 csr=$2 out=$3 days=$4
    _imp_ext "$ca" >"$out.ext"
    # the names come from the request, as a CA copies them
    openssl x509 -req -in "$csr" -CA "$ca/int.pem" -CAkey "$ca/int.key" -days "$days" \
        -set_serial "0x$(openssl rand -hex 12)" -extfile "$out.ext" -copy_extensions copy \
        -out "$out" 2>/dev/null || die "imp_sign $out"
    rm -f "$out.ext"
}

imp_conf() {
    local file=$1 store=$2
    {
        echo "store = \"$store\""
        echo "listeners { postfix = false  dovecot = false }"
        echo "notify { sendmail = \"\" }"
        echo "host \"mail.example.test\" {"
        echo "  names = { \"smtp.example.test\" }"
        echo "  source = \"manual\""
        echo "}"
        echo "host \"auto.example.test\" { }"
    } >"$file"
}

no_trust() {
    mkdir -p "$W/empty-trust"
    : >"$W/empty-trust.pem"
    export SSL_CERT_FILE="$W/empty-trust.pem" SSL_CERT_DIR="$W/empty-trust"
}
trust_root() {
    export SSL_CERT_FILE=$1 SSL_CERT_DIR="$W/empty-trust"
}
