/*
 * replay - run a fuzz target without libFuzzer: every file named on the
 * command line, then -m N deterministic mutations (bit flips, byte
 * insertions and deletions, splices of two inputs) under the sanitizers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fsutil.h"
#include "xalloc.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned long long next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mutate(mc_buf *b, const mc_buf *other)
{
	int rounds = 1 + (int)(next_rand() % 8), i;

	for (i = 0; i < rounds; i++) {
		size_t pos = b->len ? next_rand() % b->len : 0;
		unsigned char c = (unsigned char)next_rand();

		switch (next_rand() % 5) {
		case 0: /* flip a bit */
			if (b->len)
				b->data[pos] ^= (char)(1u << (c % 8));
			break;
		case 1: /* insert a byte, often a structural one */
			{
				static const char interesting[] = "\"{}[]:,<>;=\r\n \0.-*_/\\%";
				char ins = next_rand() % 2 ? interesting[c % (sizeof interesting - 1)] : (char)c;
				mc_buf_reserve(b, 1);
				memmove(b->data + pos + 1, b->data + pos, b->len - pos);
				b->data[pos] = ins;
				b->len++;
			}
			break;
		case 2: /* delete a run */
			if (b->len) {
				size_t n = 1 + next_rand() % 16;
				if (n > b->len - pos)
					n = b->len - pos;
				memmove(b->data + pos, b->data + pos + n, b->len - pos - n);
				b->len -= n;
			}
			break;
		case 3: /* splice in a piece of another input */
			if (other->len) {
				size_t from = next_rand() % other->len, n = 1 + next_rand() % 64;
				if (n > other->len - from)
					n = other->len - from;
				mc_buf_reserve(b, n);
				memmove(b->data + pos + n, b->data + pos, b->len - pos);
				memcpy(b->data + pos, other->data + from, n);
				b->len += n;
			}
			break;
		default: /* duplicate a run */
			if (b->len) {
				size_t n = 1 + next_rand() % 32;
				if (n > b->len - pos)
					n = b->len - pos;
				mc_buf_reserve(b, n);
				memmove(b->data + pos + n, b->data + pos, b->len - pos);
				b->len += n;
			}
			break;
		}
		if (b->len > 65536)
			b->len = 65536;
	}
	mc_buf_reserve(b, 0);
	b->data[b->len] = '\0';
}

int main(int argc, char **argv)
{
	mc_buf *seeds;
	size_t nseeds = 0, i;
	long mutations = 0, m;
	int a;

	seeds = mc_calloc((size_t)argc, sizeof *seeds);
	for (a = 1; a < argc; a++) {
		mc_err e;

		if (strcmp(argv[a], "-m") == 0 && a + 1 < argc) {
			mutations = strtol(argv[++a], NULL, 10);
			continue;
		}
		mc_buf_init(&seeds[nseeds]);
		if (mc_file_read(argv[a], 1 << 20, &seeds[nseeds], &e) < 0) {
			fprintf(stderr, "replay: %s\n", e.msg);
			return 2;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)seeds[nseeds].data, seeds[nseeds].len);
		nseeds++;
	}
	for (m = 0; m < mutations && nseeds; m++) {
		const mc_buf *src = &seeds[next_rand() % nseeds], *other = &seeds[next_rand() % nseeds];
		mc_buf b;

		mc_buf_init(&b);
		mc_buf_append(&b, src->data, src->len);
		mutate(&b, other);
		LLVMFuzzerTestOneInput((const uint8_t *)b.data, b.len);
		mc_buf_free(&b);
	}
	printf("replay: %zu seed(s), %ld mutation(s), no crash\n", nseeds, mutations);
	for (i = 0; i < nseeds; i++)
		mc_buf_free(&seeds[i]);
	free(seeds);
	return 0;
}
