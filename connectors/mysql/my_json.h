/* my_json.h — MySQL's binary JSON (the JSON column in row events) to JSON
 * text, and the partial JSON updates of PARTIAL_UPDATE_ROWS. Pure. */
#ifndef WB_MY_JSON_H
#define WB_MY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "error.h"

/* Appends the JSON text of the binary document p[0..n) to out, as MySQL
 * prints it (JSON_EXTRACT/CAST AS CHAR: ", " and ": " separators; opaque
 * DECIMAL/DATE/TIME/DATETIME values as their text, other opaque values as
 * base64 "base64:type<n>:..."). An empty document (n == 0) is JSON null.
 * WB_ERR_DECODE on malformed input (nesting deeper than 100 included). */
int wb_my_json_to_text(const uint8_t *p, size_t n, struct wb_buf *out,
		       wb_error_t *err);

/* The same text, measured first and then written into arena a (no other
 * allocation): *text (NUL-terminated, not counted in *len) is valid until
 * the arena is reset. */
int wb_my_json_text(const uint8_t *p, size_t n, struct wb_arena *a,
		    const uint8_t **text, size_t *len, wb_error_t *err);

/* Applies the partial JSON update diffs[0..n) of a PARTIAL_UPDATE_ROWS
 * after image (a sequence of: operation u8 (0 replace, 1 insert, 2
 * remove), path (length-encoded, MySQL's path text such as $.a[1]."b c"),
 * and unless remove the new value (length-encoded, binary JSON)) to the
 * JSON text before[0..blen) (as wb_my_json_to_text printed it). The
 * result, printed the same way, goes into arena a. Returns 0 on success;
 * 1 when the diffs cannot be applied exactly (a path that does not exist,
 * a before text that is not such JSON): the caller then reports the value
 * as unchanged; WB_ERR_DECODE when the diffs are malformed; WB_ERR_NOMEM. */
int wb_my_json_apply_diffs(const uint8_t *before, size_t blen,
			   const uint8_t *diffs, size_t n, struct wb_arena *a,
			   const uint8_t **text, size_t *len, wb_error_t *err);

#endif
