/*
 * xalloc - allocation helpers and mc_buf.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "xalloc.h"

void *mc_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		mc_fatal("out of memory (%zu bytes)", n);
	return p;
}

void *mc_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		mc_fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *mc_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		mc_fatal("out of memory (%zu bytes)", n);
	return q;
}

char *mc_strdup(const char *s)
{
	return mc_strndup(s, strlen(s));
}

char *mc_strndup(const char *s, size_t n)
{
	char *p = mc_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mc_vasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		mc_fatal("vsnprintf failed");
	p = mc_malloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *mc_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = mc_vasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void mc_buf_init(mc_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void mc_buf_reserve(mc_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	size_t ncap;
	char *nd;

	if (need <= b->cap)
		return;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	/* grow by copying so a secret never lingers in a freed block */
	nd = mc_malloc(ncap);
	if (b->data) {
		memcpy(nd, b->data, b->len);
		OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	b->data = nd;
	b->cap = ncap;
	b->data[b->len] = '\0';
}

void mc_buf_append(mc_buf *b, const void *p, size_t n)
{
	mc_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void mc_buf_puts(mc_buf *b, const char *s)
{
	mc_buf_append(b, s, strlen(s));
}

void mc_buf_printf(mc_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = mc_vasprintf(fmt, ap);
	va_end(ap);
	mc_buf_puts(b, s);
	free(s);
}

void mc_buf_reset(mc_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void mc_buf_free(mc_buf *b)
{
	free(b->data);
	mc_buf_init(b);
}

void mc_buf_cleanse(mc_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	mc_buf_free(b);
}

char *mc_buf_steal(mc_buf *b)
{
	char *p = b->data ? b->data : mc_strdup("");

	mc_buf_init(b);
	return p;
}

void mc_strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void mc_free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}
