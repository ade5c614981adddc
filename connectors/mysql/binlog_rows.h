/* binlog_rows.h — row events: WRITE/UPDATE/DELETE_ROWS v1 and v2, MariaDB's
 * compressed row events (zlib), MySQL's PARTIAL_UPDATE_ROWS. Pure decoders.
 *
 * Body: table_id (6 or 4 bytes), flags u16, v2 only: extra-data length u16
 * (including itself) and its bytes; ncols packed int; columns-present
 * bitmap; updates: a second bitmap (after image); then row images, each a
 * null bitmap over the present columns followed by the present, non-null
 * values. PARTIAL_UPDATE_ROWS: the after image starts with value options
 * (packed int) and, when PARTIAL_JSON is set, a bitmap over the JSON
 * columns telling which carry a diff instead of a whole value. */
#ifndef WB_BINLOG_ROWS_H
#define WB_BINLOG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "binlog_event.h"
#include "binlog_tablemap.h"
#include "buf.h"
#include "error.h"
#include "value.h"

struct wb_my_rows {
	uint8_t op;   /* 'c' write, 'u' update, 'd' delete */
	bool partial; /* PARTIAL_UPDATE_ROWS */
	uint64_t table_id;
	uint16_t flags; /* bit 0: end of statement */
	uint32_t ncols;
	const uint8_t *present1; /* before image (u, d) or after image (c) */
	const uint8_t *present2; /* after image (u); NULL otherwise */
	const uint8_t *data;	 /* the row images */
	size_t len;
};

/* Splits a row event. For MariaDB's compressed events the images are
 * decompressed into scratch (reset first; its bytes then back data; the
 * bitmaps, which are not compressed, stay in the event).
 * WB_ERR_DECODE naming what is malformed. */
int wb_my_rows_parse(const struct wb_my_format *fmt,
		     const struct wb_my_event *ev, struct wb_buf *scratch,
		     struct wb_my_rows *out, wb_error_t *err);

/* Decodes the image that starts at *off in r->data into vals[0..ncols) of
 * tm's columns, typed as types[i] (what wb_my_map_type gave the column).
 * present: r->present1 or r->present2. Columns the image does not carry
 * (binlog_row_image MINIMAL/NOBLOB) become WB_VAL_UNCHANGED, never NULL.
 * For the after image of a PARTIAL_UPDATE_ROWS, pass after_partial and
 * before = the decoded before image: a JSON diff is applied to before's
 * value; where that is impossible the column becomes WB_VAL_UNCHANGED.
 * Bytes go into arena a. Advances *off past the image. */
int wb_my_row_image(const struct wb_my_rows *r, const struct wb_my_tablemap *tm,
		    const struct wb_type *types, const uint8_t *present,
		    bool after_partial, const struct wb_value *before,
		    size_t *off, struct wb_arena *a, struct wb_value *vals,
		    wb_error_t *err);

#endif
