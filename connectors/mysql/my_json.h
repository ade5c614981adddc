/* my_json.h — MySQL's binary JSON (the JSON column in row events) to JSON
 * text, and the partial JSON updates of PARTIAL_UPDATE_ROWS. Pure. */
#ifndef WB_MY_JSON_H
#define WB_MY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Appends the JSON text of the binary document p[0..n) to out, as MySQL
 * prints it (JSON_EXTRACT/CAST AS CHAR: ", " and ": " separators; opaque
 * DECIMAL/DATE/TIME/DATETIME values as their text, other opaque values as
 * base64 "base64:type<n>:..."). An empty document (n == 0) is JSON null.
 * WB_ERR_DECODE on malformed input (nesting deeper than 100 included). */
int wb_my_json_to_text(const uint8_t *p, size_t n, struct wb_buf *out,
		       wb_error_t *err);

#endif
