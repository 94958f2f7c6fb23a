#!/bin/sh
# Run every fuzz target over its seed corpus plus deterministic mutations
# (FUZZ_MUTATIONS, default 20000 each) in the build under test.
set -u
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR/_build}
n=${FUZZ_MUTATIONS:-20000}
rc=0
for t in acme http01 text; do
    bin=$TOP_BUILDDIR/tests/fuzz/replay_$t
    if ! "$bin" -m "$n" "$TOP_SRCDIR"/tests/fuzz/corpus/$t/*; then
        echo "fuzz target $t failed" >&2
        rc=1
    fi
done
exit $rc
