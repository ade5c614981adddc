/* binlog_rows.c — row events (WRITE/UPDATE/DELETE_ROWS v1 and v2, MariaDB's
 * compressed row events, MySQL's PARTIAL_UPDATE_ROWS) split into their
 * images, and the images decoded into column values.
 *
 * Body after the common header:
 *   table_id   4 bytes when the post-header is 6 long, else 6
 *   flags      u16
 *   v2 only:   extra-data length u16 (counting itself), extra data
 *   ncols      packed integer
 *   present    (ncols + 7) / 8 bytes; updates: a second bitmap
 *   rows       images, one after another (updates: before, after);
 *              MariaDB's compressed events hold them as one zlib block
 *              after a header byte 0x80 | bytes-of-length (1-4) and that
 *              many bytes of the uncompressed length (big-endian)
 * An image: for the after image of PARTIAL_UPDATE_ROWS first the value
 * options (packed integer) and, with PARTIAL_JSON (bit 0), a bitmap with
 * one bit per JSON column of the table; then a null bitmap with one bit per
 * present column; then the values of the present, non-null columns. A
 * partial JSON value is its length (the column's length bytes) and a
 * sequence of diffs (see my_json.h). */
#include "binlog_rows.h"

#include <string.h>
#include <zlib.h>

#include "binlog_rd.h"
#include "my_json.h"
#include "my_types.h"
#include "valconv.h"

static int bad(wb_error_t *err, const char *what)
{
	return wb_error_set(err, WB_ERR_DECODE, "malformed row event: %s",
			    what);
}

static int inflate_rows(const uint8_t *p, size_t n, struct wb_buf *scratch,
			wb_error_t *err)
{
	if (n < 1 || !(p[0] & 0x80))
		return bad(err, "compressed rows without their header");
	unsigned lenlen = p[0] & 7, alg = (p[0] >> 4) & 7;
	if (alg != 0)
		return bad(err, "compressed with an unknown algorithm");
	if (lenlen < 1 || lenlen > 4 || n < 1 + lenlen)
		return bad(err, "compressed length cut short");
	uint32_t ulen = 0;
	for (unsigned k = 0; k < lenlen; k++)
		ulen = ulen << 8 | p[1 + k];
	/* deflate shrinks by at most 1032:1; events stay under 1 GiB */
	size_t zlen = n - 1 - lenlen;
	if (ulen > (UINT32_C(1) << 30) || ulen / 1032 > zlen)
		return bad(err, "uncompressed length impossible");
	wb_buf_reset(scratch);
	if (wb_buf_reserve(scratch, (size_t)ulen + 1) != 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	uLongf got = ulen;
	if (uncompress(scratch->data, &got, p + 1 + lenlen, (uLong)zlen) !=
		    Z_OK ||
	    got != ulen)
		return bad(err, "compressed rows do not inflate to their "
				"length");
	scratch->len = ulen;
	return 0;
}

int wb_my_rows_parse(const struct wb_my_format *fmt,
		     const struct wb_my_event *ev, struct wb_buf *scratch,
		     struct wb_my_rows *out, wb_error_t *err)
{
	memset(out, 0, sizeof(*out));
	bool v2 = false, compressed = false;
	switch (ev->type) {
	case WB_MY_EV_WRITE_ROWS_COMPRESSED_V1:
		compressed = true;
		/* fall through */
	case WB_MY_EV_WRITE_ROWS_V1:
		out->op = 'c';
		break;
	case WB_MY_EV_UPDATE_ROWS_COMPRESSED_V1:
		compressed = true;
		/* fall through */
	case WB_MY_EV_UPDATE_ROWS_V1:
		out->op = 'u';
		break;
	case WB_MY_EV_DELETE_ROWS_COMPRESSED_V1:
		compressed = true;
		/* fall through */
	case WB_MY_EV_DELETE_ROWS_V1:
		out->op = 'd';
		break;
	case WB_MY_EV_WRITE_ROWS_COMPRESSED:
		compressed = true;
		/* fall through */
	case WB_MY_EV_WRITE_ROWS:
		out->op = 'c';
		v2 = true;
		break;
	case WB_MY_EV_UPDATE_ROWS_COMPRESSED:
		compressed = true;
		/* fall through */
	case WB_MY_EV_UPDATE_ROWS:
		out->op = 'u';
		v2 = true;
		break;
	case WB_MY_EV_DELETE_ROWS_COMPRESSED:
		compressed = true;
		/* fall through */
	case WB_MY_EV_DELETE_ROWS:
		out->op = 'd';
		v2 = true;
		break;
	case WB_MY_EV_PARTIAL_UPDATE_ROWS:
		out->op = 'u';
		out->partial = true;
		v2 = true;
		break;
	default:
		return wb_error_set(err, WB_ERR_DECODE,
				    "event type %u is no row event", ev->type);
	}
	const uint8_t *p = ev->body;
	size_t n = ev->body_len;
	size_t phl = fmt->post_header_len[ev->type];
	if (phl == 0)
		phl = v2 ? 10 : 8;
	size_t idlen = phl == 6 ? 4 : 6;
	if (phl < idlen + 2 + (v2 ? 2 : 0) || n < phl)
		return bad(err, "post-header cut short");
	out->table_id = 0;
	for (size_t k = idlen; k-- > 0;)
		out->table_id = out->table_id << 8 | p[k];
	out->flags = (uint16_t)(p[idlen] | p[idlen + 1] << 8);
	size_t i = phl;
	if (v2) {
		size_t extra = (size_t)(p[idlen + 2] | p[idlen + 3] << 8);
		if (extra < 2 || extra - 2 > n - i)
			return bad(err, "extra data cut short");
		i += extra - 2;
	}
	uint64_t ncols;
	if (wb_my_packed_at(p, n, &i, &ncols) || ncols == 0 || ncols > 4096)
		return bad(err, "column count");
	size_t bm = (size_t)(ncols + 7) / 8;
	size_t nbm = out->op == 'u' ? 2 : 1;
	if (n - i < nbm * bm)
		return bad(err, "column bitmaps cut short");
	out->ncols = (uint32_t)ncols;
	out->present1 = p + i;
	i += bm;
	if (out->op == 'u') {
		out->present2 = p + i;
		i += bm;
	}
	if (compressed) {
		int rc = inflate_rows(p + i, n - i, scratch, err);
		if (rc)
			return rc;
		out->data = scratch->data;
		out->len = scratch->len;
		return 0;
	}
	out->data = p + i;
	out->len = n - i;
	return 0;
}

static inline bool bit(const uint8_t *bm, size_t k)
{
	return bm[k / 8] >> (k % 8) & 1;
}

static int apply_partial(const struct wb_my_tmcol *c, const uint8_t *p,
			 size_t avail, size_t *used,
			 const struct wb_value *before, struct wb_arena *a,
			 struct wb_value *out, wb_error_t *err)
{
	int lb = c->pack_len >= 1 && c->pack_len <= 4 ? c->pack_len : 4;
	if (avail < (size_t)lb)
		return bad(err, "partial JSON length cut short");
	size_t n = 0;
	for (int k = lb; k-- > 0;)
		n = n << 8 | p[k];
	if (n > avail - (size_t)lb)
		return bad(err, "partial JSON cut short");
	*used = (size_t)lb + n;
	memset(out, 0, sizeof(*out));
	out->state = WB_VAL_UNCHANGED;
	if (before == NULL || before->state != WB_VAL_PRESENT) {
		/* still check the diffs are well-formed */
		const uint8_t *t;
		size_t tl;
		int rc = wb_my_json_apply_diffs((const uint8_t *)"null", 4,
						p + lb, n, a, &t, &tl, err);
		return rc == 1 ? 0 : rc;
	}
	const uint8_t *text;
	size_t tlen;
	int rc = wb_my_json_apply_diffs(before->u.b.p, before->u.b.n, p + lb, n,
					a, &text, &tlen, err);
	if (rc == 1)
		return 0; /* cannot be applied exactly: unchanged */
	if (rc)
		return rc;
	out->state = WB_VAL_PRESENT;
	if (wb_utf8_first_invalid(text, tlen) != tlen)
		return wb_utf8_value(text, tlen, a, out, err);
	out->u.b.p = text;
	out->u.b.n = (uint32_t)tlen;
	return 0;
}

int wb_my_row_image(const struct wb_my_rows *r, const struct wb_my_tablemap *tm,
		    const struct wb_type *types, const uint8_t *present,
		    bool after_partial, const struct wb_value *before,
		    size_t *off, struct wb_arena *a, struct wb_value *vals,
		    wb_error_t *err)
{
	const uint8_t *p = r->data;
	size_t n = r->len, i = *off;
	if (i > n)
		return bad(err, "image offset past the rows");
	if (r->ncols > tm->ncols)
		return wb_error_set(err, WB_ERR_DECODE,
				    "row event has %u columns, its table map "
				    "%u",
				    r->ncols, tm->ncols);
	const uint8_t *partial = NULL;
	if (after_partial) {
		uint64_t opts;
		if (wb_my_packed_at(p, n, &i, &opts))
			return bad(err, "value options cut short");
		if (opts & 1) {
			size_t njson = 0;
			for (uint32_t k = 0; k < tm->ncols; k++)
				njson += tm->cols[k].type == WB_MY_T_JSON;
			size_t pb = (njson + 7) / 8;
			if (n - i < pb)
				return bad(err, "partial bitmap cut short");
			partial = p + i;
			i += pb;
		}
	}
	size_t npresent = 0;
	for (uint32_t k = 0; k < r->ncols; k++)
		npresent += bit(present, k);
	if (npresent == 0)
		return bad(err, "image without columns");
	size_t nb = (npresent + 7) / 8;
	if (n - i < nb)
		return bad(err, "null bitmap cut short");
	const uint8_t *nulls = p + i;
	i += nb;
	size_t k = 0, jsonk = 0;
	for (uint32_t col = 0; col < tm->ncols; col++) {
		const struct wb_my_tmcol *c = &tm->cols[col];
		bool is_partial = false;
		if (c->type == WB_MY_T_JSON) {
			is_partial = partial != NULL && bit(partial, jsonk);
			jsonk++;
		}
		struct wb_value *v = &vals[col];
		memset(v, 0, sizeof(*v));
		if (col >= r->ncols || !bit(present, col)) {
			v->state = WB_VAL_UNCHANGED;
			continue;
		}
		if (bit(nulls, k++)) {
			v->state = WB_VAL_NULL;
			continue;
		}
		size_t used = 0;
		int rc;
		if (is_partial)
			rc = apply_partial(c, p + i, n - i, &used,
					   before ? &before[col] : NULL, a, v,
					   err);
		else
			rc = wb_my_value_decode(c, &types[col], p + i, n - i,
						&used, a, v, err);
		if (rc)
			return rc;
		i += used;
	}
	*off = i;
	return 0;
}
