#!/bin/sh
# tests/fuzz/libfuzzer.sh TARGET [SECONDS] - real coverage-guided fuzzing with clang's
# libFuzzer (+ASan/UBSan) for one target (acme, http01, text), starting from the seed
# corpus; new inputs go to a scratch corpus under /tmp. Needs clang and the -dev libraries.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
t=${1:?usage: libfuzzer.sh acme|http01|text [seconds]}
secs=${2:-60}
out=$(mktemp -d /tmp/mailcert-fuzz-$t.XXXXXX)
cfg=$out/config.h
printf '#define PACKAGE_NAME "mailcert"\n#define PACKAGE_VERSION "fuzz"\n#define _GNU_SOURCE 1\n' > "$cfg"
helpers=""
for f in "$top"/helpers/*.c; do
    [ "${f##*/}" = main.c ] || helpers="$helpers $f"
done
# shellcheck disable=SC2046,SC2086
clang -g -O1 -fsanitize=fuzzer,address,undefined -include "$cfg" -I"$out" -I"$top/lib" -I"$top/helpers" \
    -DSYSCONFDIR='"/etc"' -DLOCALSTATEDIR='"/var"' \
    "$top"/tests/fuzz/fuzz_"$t".c "$top"/lib/*.c \
    $helpers \
    $(pkg-config --cflags --libs openssl libcurl libconfuse jansson) -lresolv -lpthread -o "$out/fuzz_$t"
cp "$top"/tests/fuzz/corpus/"$t"/* "$out/" 2>/dev/null || true
mkdir -p "$out/corpus"
cp "$top"/tests/fuzz/corpus/"$t"/* "$out/corpus/"
"$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 "$out/corpus"
echo "corpus and crashes (if any) in $out"
