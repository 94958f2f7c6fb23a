/*
 * config.h for tests/unit/test_timefmt_nohooks: the build's own config.h
 * without MAILCERT_TEST_HOOKS, so that lib/timefmt.c is compiled as in a
 * production build whatever this build was configured with.  Found first
 * through -iquote; #include_next then finds the real one.
 */
#include_next "config.h"
#undef MAILCERT_TEST_HOOKS
