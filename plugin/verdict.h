/*
 * verdict - what one probe of a listener found, judged: the leaf it served must
 * be valid now, valid for the name the client asked for, and the leaf of the set
 * that listener should serve now (the set last loaded).
 */
#ifndef MCM_VERDICT_H
#define MCM_VERDICT_H

#include <stddef.h>
#include <time.h>

/* what a probe found; the order is the order of precedence when several hold */
enum {
	MS_OK,
	MS_MISMATCH,       /* a valid leaf for the name, but not the loaded set's */
	MS_UNREACHABLE,
	MS_NO_TLS,
	MS_EXPIRED,        /* the leaf served has expired */
	MS_NOT_YET_VALID,  /* ...or is not valid yet */
	MS_WRONG_NAME,     /* ...or is not valid for the name asked for */
	MS_RESULTS
};
extern const char *const ms_result_names[MS_RESULTS];

/* the leaf a listener served */
typedef struct ms_leaf {
	char sha256[65];   /* of its DER, lower-case hex */
	char serial[130];
	time_t not_before;
	time_t not_after;
	int covers;        /* its subjectAltName covers the name checked */
} ms_leaf;

/*
 * Judge GOT against the loaded leaf (WANT_SHA and WANT_SERIAL; NULL when that
 * leaf could not be read) at NOW; NAME is the name checked (for DETAIL).
 * Returns MS_OK, MS_EXPIRED, MS_NOT_YET_VALID, MS_WRONG_NAME or MS_MISMATCH (in
 * that precedence: what a client sees first); DETAIL (LEN bytes) says why when
 * not ok.
 */
int ms_verdict(const ms_leaf *got, const char *want_sha, const char *want_serial, const char *name,
	       time_t now, char *detail, size_t len);

/* 1 when RESULT (one of MS_EXPIRED..MS_WRONG_NAME, or MS_MISMATCH) would not
 * change by probing again: the listener serves the loaded set itself */
int ms_verdict_final(int result, const ms_leaf *got, const char *want_sha);

#endif
