# Fuzz targets, replayed with mutations under `make check` (see tests/fuzz/fuzz.h).
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/helpers
FUZZ_LDADD = helpers/libhelper.a $(MAILCERT_LIBS) $(SECCOMP_LIBS)
check_PROGRAMS += tests/fuzz/replay_acme tests/fuzz/replay_http01 tests/fuzz/replay_text
tests_fuzz_replay_acme_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_acme.c tests/fuzz/fuzz.h
tests_fuzz_replay_acme_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_acme_LDADD = $(FUZZ_LDADD)
tests_fuzz_replay_http01_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_http01.c tests/fuzz/fuzz.h
tests_fuzz_replay_http01_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_http01_LDADD = $(FUZZ_LDADD)
tests_fuzz_replay_text_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_text.c tests/fuzz/fuzz.h
tests_fuzz_replay_text_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_text_LDADD = $(FUZZ_LDADD)
TESTS += tests/fuzz/run.sh
EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/libfuzzer.sh tests/fuzz/corpus
