/* pg_binary.h — PostgreSQL's binary format: rows of COPY ... (FORMAT binary)
 * and the binary send form of the common scalar types, to wb_value. */
#ifndef WB_PG_BINARY_H
#define WB_PG_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "error.h"
#include "pg_copy.h"
#include "value.h"

/* What one CopyData message of a binary COPY held. */
enum wb_pg_bin_msg {
	WB_PG_BIN_NOTHING, /* only the file header */
	WB_PG_BIN_ROW,	   /* one row: fields filled */
	WB_PG_BIN_END,	   /* the trailer (field count -1) */
};

/* Decodes one CopyData message of `COPY ... TO STDOUT (FORMAT binary)`.
 * The server sends the 19-byte file header (signature, flags, extension
 * length; extensions are skipped) in front of the first row, or alone, or
 * in front of the trailer of an empty result: with first set, the message
 * must start with it. A row is an int16 field count (exactly nfields), then
 * per field an int32 length (-1: NULL, p NULL) and that many bytes, which
 * fields[] point to inside msg. Returns WB_OK with *what set, or
 * WB_ERR_DECODE naming what is wrong (bad signature, OIDs flag, wrong field
 * count, a length past the end, bytes after the row). Pure: no I/O. */
int wb_pg_copy_bin_msg(const uint8_t *msg, size_t len, bool first,
		       struct wb_pg_copy_field *fields, int nfields,
		       enum wb_pg_bin_msg *what, wb_error_t *err);

/* True when values of type t are read from their binary form by
 * wb_pg_binary_to_value: bool, int2/4/8, oid, float4/8, numeric mapped to a
 * decimal, text, varchar, bpchar, name, bytea, date, time, timestamp,
 * timestamptz, uuid, json, jsonb. Other types (arrays, enums, domains,
 * unconstrained numeric, ...) are read as text (the query casts them). */
bool wb_pg_binary_reads(const struct wb_type *t);

/* Converts the binary send form of a value of type t (one that
 * wb_pg_binary_reads) into out, with exactly the result the text form
 * would give through wb_pg_text_to_value: the same value, or for NaN,
 * infinities and timestamps past the Avro range the same
 * WB_VAL_UNREPRESENTABLE state with the text the server would print. Bytes go
 * into arena a. Returns WB_OK, WB_ERR_TYPE (a value of the wrong length or out
 * of range) or WB_ERR_NOMEM. */
int wb_pg_binary_to_value(const struct wb_type *t, const uint8_t *p, size_t len,
			  struct wb_arena *a, struct wb_value *out,
			  wb_error_t *err);

#endif
