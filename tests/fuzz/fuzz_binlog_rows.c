/* fuzz_binlog_rows.c — fuzz target for row events: wb_my_rows_parse and
 * every image through wb_my_row_image, over fixed table maps that together
 * hold every column type.
 *
 * Input: byte 0 picks the table map (% NMAPS), byte 1 is the event type,
 * the rest is the event body (copied to an exact-size buffer, so a read past
 * it is a heap overflow). The images are decoded one after another, an
 * update's after image with its before image (and as a partial image for
 * PARTIAL_UPDATE_ROWS), until the rows end or an error. Checked: only
 * WB_ERR_DECODE, WB_ERR_TYPE or WB_ERR_NOMEM as errors; the offset moves
 * forward and stays inside the rows; every value's bytes are readable;
 * strings and unrepresentable texts are valid UTF-8; decimals are minimal
 * two's complement. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "binlog_rows.h"
#include "my_types.h"
#include "valconv.h"
#include "../unit/my_tablemaps.h"

static volatile uint32_t sink;

#define T(x) WB_MY_T_##x
static const struct wb_test_colspec m_json[] = {
	{.type = T(LONG)},
	{.type = T(JSON), .pack_len = 4},
	{.type = T(VARCHAR), .charset = 255, .length = 400},
	{.type = T(LONG)},
	{.type = T(JSON), .pack_len = 4},
};
static const struct wb_test_colspec m_misc[] = {
	{.type = T(ENUM), .charset = 255, .length = 2},
	{.type = T(SET), .charset = 255, .length = 8},
	{.type = T(BIT), .bits = 64},
	{.type = T(VARCHAR), .charset = 28, .length = 300}, /* gbk */
	{.type = T(STRING), .charset = 54, .length = 40},   /* utf16 */
	{.type = T(VARCHAR), .charset = -1, .length = 20},
	{.type = T(BLOB), .charset = 11, .pack_len = 1}, /* ascii */
	{.type = T(VECTOR), .pack_len = 4},
	{.type = T(LONGLONG), .uns = -1},
	{.type = T(MEDIUM_BLOB), .charset = 255, .pack_len = 3},
};

static const struct {
	const struct wb_test_colspec *s;
	int n;
} maps[] = {
	{wb_test_t_num, 19}, {wb_test_t_time, 12}, {wb_test_t_str, 16},
	{wb_test_t_old, 10}, {m_json, 5},	   {m_misc, 10},
};
#define NMAPS 6

static void check_value(const struct wb_type *t, const struct wb_value *v)
{
	if (v->state == WB_VAL_NULL || v->state == WB_VAL_UNCHANGED)
		return;
	bool text = v->state == WB_VAL_UNREPRESENTABLE;
	bool bytes =
		text || t->s.kind == WB_T_STRING || t->s.kind == WB_T_BYTES;
	if (!bytes)
		return;
	uint32_t h = 0;
	for (uint32_t i = 0; i < v->u.b.n; i++)
		h = h * 31 + v->u.b.p[i];
	sink = h;
	if ((text || t->s.kind == WB_T_STRING) &&
	    wb_utf8_first_invalid(v->u.b.p, v->u.b.n) != v->u.b.n)
		abort();
	if (!text && t->s.logical == WB_L_DECIMAL) {
		const uint8_t *b = v->u.b.p;
		if (v->u.b.n == 0)
			abort();
		if (v->u.b.n > 1 && ((b[0] == 0 && !(b[1] & 0x80)) ||
				     (b[0] == 0xff && (b[1] & 0x80))))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int m = data[0] % NMAPS;
	struct wb_my_tmcol cols[32];
	struct wb_type types[32];
	struct wb_my_tablemap tm;
	wb_test_build_map(&tm, cols, maps[m].s, maps[m].n, "fuzz");
	for (int i = 0; i < maps[m].n; i++)
		wb_my_map_type(&cols[i], &types[i]);
	struct wb_my_format fmt;
	memset(&fmt, 0, sizeof(fmt));
	for (int t = 23; t <= 25; t++)
		fmt.post_header_len[t] = 8;
	for (int t = 30; t <= 32; t++)
		fmt.post_header_len[t] = 10;
	fmt.post_header_len[39] = 10;
	for (int t = 166; t <= 168; t++)
		fmt.post_header_len[t] = 8;
	for (int t = 169; t <= 171; t++)
		fmt.post_header_len[t] = 10;

	size_t n = size - 2;
	uint8_t *body = malloc(n ? n : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data + 2, n);
	struct wb_my_event ev = {.type = data[1], .body = body, .body_len = n};
	struct wb_buf scratch;
	wb_buf_init(&scratch);
	struct wb_arena a;
	wb_arena_init(&a, 8192);
	struct wb_my_rows r;
	wb_error_t err;
	int rc = wb_my_rows_parse(&fmt, &ev, &scratch, &r, &err);
	if (rc != 0 && rc != WB_ERR_DECODE && rc != WB_ERR_NOMEM)
		abort();
	size_t off = 0;
	for (int rows = 0; rc == 0 && off < r.len && rows < 1000; rows++) {
		struct wb_value before[32], after[32];
		size_t was = off;
		if (r.op != 'c') {
			rc = wb_my_row_image(&r, &tm, types, r.present1, false,
					     NULL, &off, &a, before, &err);
			if (rc == 0)
				for (uint32_t i = 0; i < tm.ncols; i++)
					check_value(&types[i], &before[i]);
		}
		if (rc == 0 && r.op != 'd') {
			rc = wb_my_row_image(
				&r, &tm, types,
				r.op == 'u' ? r.present2 : r.present1,
				r.partial, r.op == 'u' ? before : NULL, &off,
				&a, after, &err);
			if (rc == 0)
				for (uint32_t i = 0; i < tm.ncols; i++)
					check_value(&types[i], &after[i]);
		}
		if (rc != 0 && rc != WB_ERR_DECODE && rc != WB_ERR_TYPE &&
		    rc != WB_ERR_NOMEM)
			abort();
		if (rc == 0 && (off <= was || off > r.len))
			abort();
		wb_arena_reset(&a);
	}
	wb_arena_free(&a);
	wb_buf_free(&scratch);
	free(body);
	return 0;
}
