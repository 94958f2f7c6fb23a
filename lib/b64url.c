/*
 * b64url - base64url on top of OpenSSL's EVP base64 block coder.
 */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>

#include "b64url.h"

char *mc_b64url_encode(const void *data, size_t len)
{
	size_t outlen = 4 * ((len + 2) / 3) + 1;
	char *out = mc_malloc(outlen);
	int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	int i;

	for (i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
		else if (out[i] == '=')
			break;
	}
	out[i] = '\0';
	return out;
}

int mc_b64url_valid(const char *s, size_t maxlen)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

	return n > 0 && n <= maxlen && s[n] == '\0';
}

int mc_b64url_decode(const char *s, mc_buf *out)
{
	size_t len = strlen(s), i, padded;
	char *tmp;
	int n;

	if (len % 4 == 1)
		return -1;
	if (len && !mc_b64url_valid(s, len))
		return -1;
	padded = (len + 3) / 4 * 4;
	tmp = mc_malloc(padded + 1);
	for (i = 0; i < len; i++)
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	for (; i < padded; i++)
		tmp[i] = '=';
	tmp[padded] = '\0';
	mc_buf_reserve(out, padded);
	n = EVP_DecodeBlock((unsigned char *)out->data + out->len, (unsigned char *)tmp, (int)padded);
	free(tmp);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	n -= (int)(padded - len) ;
	if (n < 0)
		return -1;
	out->len += (size_t)n;
	out->data[out->len] = '\0';
	return 0;
}
