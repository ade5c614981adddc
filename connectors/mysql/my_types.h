/* my_types.h — MySQL/MariaDB column types to Avro types, and column values
 * (binlog binary form and text protocol form) to wb_value. Pure. */
#ifndef WB_MY_TYPES_H
#define WB_MY_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "binlog_tablemap.h"
#include "error.h"
#include "value.h"

/* The Avro type of a column, as ../shared/DESIGN.md's type table says:
 *   TINYINT..MEDIUMINT (signed or not), INT, YEAR        int
 *   BIGINT, INT UNSIGNED                                 long
 *   BIGINT UNSIGNED                                      decimal(20,0)
 *   DECIMAL(p,s)                                         decimal(p,s)
 *   FLOAT / DOUBLE                                       float / double
 *   BIT(1) boolean; BIT(n>1) bytes
 *   CHAR/VARCHAR/TEXT (non-binary charset), ENUM, SET    string
 *   BINARY/VARBINARY/BLOB (charset 63), GEOMETRY         bytes
 *   DATE                                                 date
 *   TIME(n)                       long microseconds (signed, no logical)
 *   DATETIME(n)                                          local-timestamp-micros
 *   TIMESTAMP(n)                                         timestamp-micros
 *   JSON (MySQL binary, MariaDB text)                    string, WB_L_JSON
 *   MariaDB UUID                                         string, uuid
 *   MariaDB INET6 and anything else                      string
 * Unknown signedness counts as signed; an unknown charset as text (made
 * valid UTF-8) for STRING/VARCHAR, as bytes for BLOB. src_type is the
 * resolved binlog type. may_not_fit is set for DATE/DATETIME/TIMESTAMP
 * (zero dates: WB_VAL_UNREPRESENTABLE with the server's text). Never
 * fails. */
void wb_my_map_type(const struct wb_my_tmcol *c, struct wb_type *out);

/* Decodes one binlog value of column c at p (avail bytes left) into out,
 * typed t; *used = bytes consumed. Text in utf8mb4/utf8mb3 is checked,
 * latin1 (MySQL's cp1252) and other charsets are converted to UTF-8;
 * BINARY(n) is padded back to n bytes with zero bytes. Bytes go into a.
 * WB_ERR_DECODE when the bytes are short or malformed (naming the column
 * type), WB_ERR_NOMEM. */
int wb_my_value_decode(const struct wb_my_tmcol *c, const struct wb_type *t,
		       const uint8_t *p, size_t avail, size_t *used,
		       struct wb_arena *a, struct wb_value *out,
		       wb_error_t *err);

/* Converts a value as the text protocol returns it (SELECT of the column,
 * session time_zone '+00:00', character_set_results utf8mb4; BIT and
 * binary columns as raw bytes) into out, typed t. For snapshots. */
int wb_my_text_to_value(const struct wb_my_tmcol *c, const struct wb_type *t,
			const char *text, size_t len, struct wb_arena *a,
			struct wb_value *out, wb_error_t *err);

/* MySQL's binary DECIMAL(precision, scale) (also inside binary JSON):
 * its size in bytes (0 for an impossible precision/scale), and its text as
 * the server prints it ("-12.50", "0.05"; out holds 70 bytes). -1 when p
 * is shorter than the size or a digit group is out of range. */
size_t wb_my_decimal_bin_size(int precision, int scale);
int wb_my_decimal_text(const uint8_t *p, size_t n, int precision, int scale,
		       char *out, size_t *len);

#endif
