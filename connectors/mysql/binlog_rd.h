/* binlog_rd.h — a bounds-checked cursor over binlog bytes, shared by the
 * binlog decoders (private to connectors/mysql).
 *
 * Integers are little-endian. A "packed" integer is MySQL's length-encoded
 * integer (net_field_length): one byte < 251 is the value; 252, 253, 254
 * are followed by 2, 3 and 8 bytes; 251 (SQL NULL) and 255 never appear
 * where the decoders read one and are rejected. Every get_* returns 0 or
 * WB_ERR_DECODE with err filled as "<what>: <field> truncated". */
#ifndef WB_BINLOG_RD_H
#define WB_BINLOG_RD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"

struct wb_my_rd {
	const uint8_t *p;
	const uint8_t *end;
	const char *what; /* e.g. "TABLE_MAP", for errors */
	wb_error_t *err;
};

static inline void wb_my_rd_init(struct wb_my_rd *r, const uint8_t *p, size_t n,
				 const char *what, wb_error_t *err)
{
	r->p = p;
	r->end = p + n;
	r->what = what;
	r->err = err;
}

static inline size_t wb_my_rd_left(const struct wb_my_rd *r)
{
	return (size_t)(r->end - r->p);
}

static inline int wb_my_rd_fail(struct wb_my_rd *r, const char *field,
				const char *problem)
{
	return wb_error_set(r->err, WB_ERR_DECODE, "binlog %s: %s %s", r->what,
			    field, problem);
}

static inline int wb_my_rd_need(struct wb_my_rd *r, size_t n, const char *field)
{
	if (wb_my_rd_left(r) < n)
		return wb_my_rd_fail(r, field, "truncated");
	return 0;
}

static inline uint64_t wb_my_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

/* n bytes (1..8) as an unsigned little-endian integer. */
static inline int wb_my_rd_uint(struct wb_my_rd *r, size_t n, const char *field,
				uint64_t *v)
{
	if (wb_my_rd_need(r, n, field))
		return WB_ERR_DECODE;
	*v = wb_my_le(r->p, n);
	r->p += n;
	return 0;
}

static inline int wb_my_rd_u8(struct wb_my_rd *r, const char *field, uint8_t *v)
{
	if (wb_my_rd_need(r, 1, field))
		return WB_ERR_DECODE;
	*v = r->p[0];
	r->p++;
	return 0;
}

static inline int wb_my_rd_bytes(struct wb_my_rd *r, size_t n,
				 const char *field, const uint8_t **v)
{
	*v = r->p;
	if (wb_my_rd_need(r, n, field))
		return WB_ERR_DECODE;
	*v = r->p;
	r->p += n;
	return 0;
}

static inline int wb_my_rd_packed(struct wb_my_rd *r, const char *field,
				  uint64_t *v)
{
	uint8_t b;
	*v = 0;
	if (wb_my_rd_u8(r, field, &b))
		return WB_ERR_DECODE;
	if (b < 251) {
		*v = b;
		return 0;
	}
	switch (b) {
	case 252:
		return wb_my_rd_uint(r, 2, field, v);
	case 253:
		return wb_my_rd_uint(r, 3, field, v);
	case 254:
		return wb_my_rd_uint(r, 8, field, v);
	default:
		return wb_my_rd_fail(r, field, "is not a packed integer");
	}
}

/* A packed integer at p[*i] of a buffer n long, without a cursor, for
 * decoders that keep a plain index and word their own errors: advances *i
 * past it and returns 0, or -1 when it is cut short or is 251 or 255. */
static inline int wb_my_packed_at(const uint8_t *p, size_t n, size_t *i,
				  uint64_t *v)
{
	if (*i >= n)
		return -1;
	uint8_t c = p[(*i)++];
	int k;
	if (c < 251) {
		*v = c;
		return 0;
	}
	if (c == 252)
		k = 2;
	else if (c == 253)
		k = 3;
	else if (c == 254)
		k = 8;
	else
		return -1;
	if (n - *i < (size_t)k)
		return -1;
	*v = 0;
	for (int j = k; j-- > 0;)
		*v = *v << 8 | p[*i + (size_t)j];
	*i += (size_t)k;
	return 0;
}

/* A packed length followed by that many bytes. */
static inline int wb_my_rd_lenstr(struct wb_my_rd *r, const char *field,
				  const uint8_t **s, size_t *n)
{
	uint64_t len;
	*s = r->p;
	*n = 0;
	if (wb_my_rd_packed(r, field, &len))
		return WB_ERR_DECODE;
	if (len > wb_my_rd_left(r))
		return wb_my_rd_fail(r, field, "truncated");
	*s = r->p;
	*n = (size_t)len;
	r->p += len;
	return 0;
}

/* MySQL's variable-length unsigned integer (mysql::serialization, as in
 * GTID_TAGGED and tagged PREVIOUS_GTIDS): the count of trailing one bits
 * of the first byte is the count of bytes that follow; the value is the
 * little-endian whole shifted right by the byte count; 0xff: 8 bytes
 * follow, the value itself. */
static inline int wb_my_rd_varlen(struct wb_my_rd *r, const char *field,
				  uint64_t *v)
{
	size_t nbytes = 1;
	*v = 0;
	if (wb_my_rd_need(r, 1, field))
		return WB_ERR_DECODE;
	if (r->p[0] == 0xff) {
		if (wb_my_rd_need(r, 9, field))
			return WB_ERR_DECODE;
		*v = wb_my_le(r->p + 1, 8);
		r->p += 9;
		return 0;
	}
	while (r->p[0] & (1u << (nbytes - 1)))
		nbytes++;
	if (wb_my_rd_need(r, nbytes, field))
		return WB_ERR_DECODE;
	*v = wb_my_le(r->p, nbytes) >> nbytes;
	r->p += nbytes;
	return 0;
}

#endif
