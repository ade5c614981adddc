/* odbc_image.c — row images as bytes for the emitted-key store (layout in
 * odbc_image.h). */
#include "odbc_image.h"

#include <string.h>

static int is_bytes(const struct wb_type *ty)
{
	return ty->is_array || ty->s.kind == WB_T_STRING ||
	       ty->s.kind == WB_T_BYTES || ty->s.logical == WB_L_DECIMAL;
}

int wb_odbc_image_encode(const struct wb_table *t, const struct wb_value *v,
			 struct wb_buf *out, wb_error_t *err)
{
	uint8_t hdr[2] = {(uint8_t)(t->ncols >> 8), (uint8_t)t->ncols};
	wb_buf_append(out, hdr, 2);
	for (int i = 0; i < t->ncols; i++) {
		uint8_t st = v[i].state;
		wb_buf_append(out, &st, 1);
		if (st != WB_VAL_PRESENT && st != WB_VAL_UNREPRESENTABLE)
			continue;
		if (st == WB_VAL_UNREPRESENTABLE ||
		    is_bytes(&t->cols[i].type)) {
			uint32_t n = v[i].u.b.n;
			uint8_t h[5] = {1, (uint8_t)(n >> 24),
					(uint8_t)(n >> 16), (uint8_t)(n >> 8),
					(uint8_t)n};
			wb_buf_append(out, h, 5);
			if (n > 0)
				wb_buf_append(out, v[i].u.b.p, n);
		} else {
			uint8_t h[9] = {0};
			memcpy(h + 1, &v[i].u.i, 8);
			wb_buf_append(out, h, 9);
		}
	}
	if (out->failed)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

int wb_odbc_image_decode(const uint8_t *p, size_t len, int ncols,
			 struct wb_arena *a, struct wb_value **out,
			 wb_error_t *err)
{
	if (len < 2 || ((int)p[0] << 8 | p[1]) != ncols)
		return wb_error_set(
			err, WB_ERR_DECODE,
			"the stored image has another column count");
	struct wb_value *v =
		wb_arena_alloc(a, (size_t)(ncols > 0 ? ncols : 1) * sizeof(*v));
	if (v == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	size_t off = 2;
	for (int i = 0; i < ncols; i++) {
		if (off >= len)
			goto bad;
		memset(&v[i], 0, sizeof(v[i]));
		v[i].state = p[off++];
		if (v[i].state > WB_VAL_UNREPRESENTABLE)
			goto bad;
		if (v[i].state != WB_VAL_PRESENT &&
		    v[i].state != WB_VAL_UNREPRESENTABLE)
			continue;
		if (off >= len)
			goto bad;
		if (p[off] == 0) {
			if (len - off < 9)
				goto bad;
			memcpy(&v[i].u.i, p + off + 1, 8);
			off += 9;
		} else if (p[off] == 1) {
			if (len - off < 5)
				goto bad;
			uint32_t n = (uint32_t)p[off + 1] << 24 |
				     (uint32_t)p[off + 2] << 16 |
				     (uint32_t)p[off + 3] << 8 | p[off + 4];
			off += 5;
			if (len - off < n)
				goto bad;
			const uint8_t *d = n ? wb_arena_dup(a, p + off, n)
					     : (const uint8_t *)"";
			if (d == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			v[i].u.b.p = d;
			v[i].u.b.n = n;
			off += n;
		} else {
			goto bad;
		}
	}
	if (off != len)
		goto bad;
	*out = v;
	return WB_OK;
bad:
	return wb_error_set(err, WB_ERR_DECODE, "a malformed stored image");
}
