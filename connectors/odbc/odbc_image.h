/* odbc_image.h — a row image (the values of one emitted row) as bytes, for
 * the emitted-key store (odbc_keys.h), which keeps each key's last image so
 * that a detected delete carries it as its before image.
 *
 * Layout: the column count as 2 bytes big-endian, then per column its
 * state (enum wb_value_state) and, for a present or unrepresentable value,
 * either 0x00 and the 8 bytes of the value's number (integer, float or
 * double bits, host order: the store never leaves this machine's
 * checkpoint directory) or 0x01, a 4-byte big-endian length and the bytes.
 */
#ifndef WB_ODBC_IMAGE_H
#define WB_ODBC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "table.h"
#include "value.h"

/* Appends the image of v[0..t->ncols) (t's column types tell numbers from
 * bytes) to out. 0, or WB_ERR_NOMEM. Pure. */
int wb_odbc_image_encode(const struct wb_table *t, const struct wb_value *v,
			 struct wb_buf *out, wb_error_t *err);

/* Decodes p[0..len) into ncols values allocated in a (bytes copied there
 * too). 0, or WB_ERR_DECODE when the bytes are not an image of ncols
 * columns (e.g. the table's shape changed since), WB_ERR_NOMEM. Pure. */
int wb_odbc_image_decode(const uint8_t *p, size_t len, int ncols,
			 struct wb_arena *a, struct wb_value **out,
			 wb_error_t *err);

#endif
