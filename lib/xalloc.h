/*
 * xalloc - allocation that never returns NULL, and a growable byte buffer.
 *
 * Out of memory is fatal (mc_fatal).  mc_buf always keeps a NUL after its
 * data so text can be used as a C string.  mc_buf_cleanse wipes secrets.
 */
#ifndef MC_XALLOC_H
#define MC_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

#include "log.h"

void *mc_malloc(size_t n);
void *mc_calloc(size_t n, size_t size);
void *mc_realloc(void *p, size_t n);
char *mc_strdup(const char *s);
char *mc_strndup(const char *s, size_t n);
char *mc_asprintf(const char *fmt, ...) MC_PRINTF(1, 2);
char *mc_vasprintf(const char *fmt, va_list ap);

typedef struct mc_buf {
	char *data;
	size_t len;
	size_t cap;
} mc_buf;

void mc_buf_init(mc_buf *b);
void mc_buf_reserve(mc_buf *b, size_t extra);
void mc_buf_append(mc_buf *b, const void *p, size_t n);
void mc_buf_puts(mc_buf *b, const char *s);
void mc_buf_printf(mc_buf *b, const char *fmt, ...) MC_PRINTF(2, 3);
void mc_buf_reset(mc_buf *b);
void mc_buf_free(mc_buf *b);
/* wipe then free: for anything that held key material */
void mc_buf_cleanse(mc_buf *b);
/* give the data away (caller frees); the buffer is left empty */
char *mc_buf_steal(mc_buf *b);

/* free a NULL-terminated array of strings and the strings */
void mc_strv_free(char **v);

/* free a string that held a secret */
void mc_free_secret(char *s);

#endif
