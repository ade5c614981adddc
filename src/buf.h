/* buf.h — growable byte buffer, and Avro binary primitives written into it. */
#ifndef WB_BUF_H
#define WB_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes somewhere else: a piece of a record given in parts. */
struct wb_span {
	const uint8_t *p;
	size_t n;
};

struct wb_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int failed; /* set once an allocation failed; later appends are no-ops
		     */
};

void wb_buf_init(struct wb_buf *b);
void wb_buf_free(struct wb_buf *b);
/* Makes room for n more bytes; returns 0 or -1 (and sets failed). */
int wb_buf_reserve(struct wb_buf *b, size_t n);
void wb_buf_append(struct wb_buf *b, const void *p, size_t n);
static inline void wb_buf_reset(struct wb_buf *b)
{
	b->len = 0;
}

/* Avro binary encoding (specification, "Binary Encoding"). */
void wb_avro_put_long(struct wb_buf *b, int64_t v); /* zigzag varint */
void wb_avro_put_bytes(struct wb_buf *b, const void *p,
		       size_t n);		     /* len + data */
void wb_avro_put_float(struct wb_buf *b, float v);   /* 4 bytes LE */
void wb_avro_put_double(struct wb_buf *b, double v); /* 8 bytes LE */
static inline void wb_avro_put_bool(struct wb_buf *b, int v)
{
	uint8_t c = v ? 1 : 0;
	wb_buf_append(b, &c, 1);
}
static inline void wb_avro_put_string(struct wb_buf *b, const char *s)
{
	wb_avro_put_bytes(b, s, strlen(s));
}

/* Reads a zigzag varint from p[0..n); returns bytes consumed or 0 if malformed.
 */
size_t wb_avro_get_long(const uint8_t *p, size_t n, int64_t *out);

#endif
