/* pg_copy.h — decoder for one row of COPY ... TO STDOUT in text format. */
#ifndef WB_PG_COPY_H
#define WB_PG_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "error.h"

/* One field of a row: p NULL for SQL NULL (the field \N), else len bytes
 * (not NUL-terminated) of the value's text form. */
struct wb_pg_copy_field {
	const char *p;
	size_t len;
};

/* Splits one row as the server sends it in a CopyData message of a text
 * COPY (default delimiter tab, null marker \N): fields separated by tabs,
 * the row ending with a newline. Backslash escapes are decoded: \b \f \n
 * \r \t \v \\, \NNN (1-3 octal digits), \xHH (1-2 hex digits), and any
 * other escaped character as itself; a field that is exactly \N is NULL.
 *
 * Exactly nfields fields must be present. A field without a backslash
 * points into line; a field with one is decoded into scratch (valid until
 * the scratch arena is reset). Returns WB_OK, WB_ERR_DECODE (wrong field
 * count, no final newline, a backslash with nothing after it, a newline
 * inside the row), or WB_ERR_NOMEM. Pure: no I/O. */
int wb_pg_copy_row(const uint8_t *line, size_t len,
		   struct wb_pg_copy_field *fields, int nfields,
		   struct wb_arena *scratch, wb_error_t *err);

#endif
