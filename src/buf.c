/* buf.c — growable byte buffer and Avro binary primitives. */
#include "buf.h"

#include <stdlib.h>

void wb_buf_init(struct wb_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

void wb_buf_free(struct wb_buf *b)
{
	free(b->data);
	wb_buf_init(b);
}

int wb_buf_reserve(struct wb_buf *b, size_t n)
{
	if (b->failed)
		return -1;
	if (b->cap - b->len >= n)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	uint8_t *d = realloc(b->data, cap);
	if (d == NULL) {
		b->failed = 1;
		return -1;
	}
	b->data = d;
	b->cap = cap;
	return 0;
}

void wb_buf_append(struct wb_buf *b, const void *p, size_t n)
{
	if (n == 0 || wb_buf_reserve(b, n) != 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void wb_avro_put_long(struct wb_buf *b, int64_t v)
{
	if (wb_buf_reserve(b, 10) != 0)
		return;
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	uint8_t *p = b->data + b->len;
	while (z > 0x7f) {
		*p++ = (uint8_t)((z & 0x7f) | 0x80);
		z >>= 7;
	}
	*p++ = (uint8_t)z;
	b->len = (size_t)(p - b->data);
}

void wb_avro_put_bytes(struct wb_buf *b, const void *p, size_t n)
{
	wb_avro_put_long(b, (int64_t)n);
	wb_buf_append(b, p, n);
}

void wb_avro_put_float(struct wb_buf *b, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	uint8_t o[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16),
			(uint8_t)(u >> 24)};
	wb_buf_append(b, o, 4);
}

void wb_avro_put_double(struct wb_buf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	uint8_t o[8];
	for (int i = 0; i < 8; i++)
		o[i] = (uint8_t)(u >> (8 * i));
	wb_buf_append(b, o, 8);
}

size_t wb_avro_get_long(const uint8_t *p, size_t n, int64_t *out)
{
	uint64_t z = 0;
	int shift = 0;
	for (size_t i = 0; i < n && i < 10; i++) {
		z |= (uint64_t)(p[i] & 0x7f) << shift;
		if ((p[i] & 0x80) == 0) {
			*out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
			return i + 1;
		}
		shift += 7;
	}
	return 0;
}
