/*
 * fuzz - one entry point per parser of outside input, in libFuzzer's shape.
 * Built two ways: with clang -fsanitize=fuzzer for real fuzzing
 * (tests/fuzz/libfuzzer.sh), and with replay.c for `make check`, which feeds
 * the seed corpus and a fixed number of deterministic mutations of it.
 */
#ifndef MC_FUZZ_H
#define MC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
