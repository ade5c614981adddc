/* avro_cat.h — Avro Object Container Files to JSON lines (`waybill cat`). */
#ifndef WB_AVRO_CAT_H
#define WB_AVRO_CAT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "error.h"

/* Prints every record of the OCF at path to out, one compact JSON object
 * per line, keys in schema field order. Reads any writer schema and the
 * null, deflate and zstandard codecs. Mapping: unions print as the branch
 * value (no wrapper); decimals as strings with exactly `scale` fractional
 * digits; bytes and fixed as base64; date "YYYY-MM-DD"; time-millis/micros
 * "HH:MM:SS.fff[fff]"; timestamp-millis/micros/nanos
 * "YYYY-MM-DDTHH:MM:SS.f…Z" (local-timestamp-* without the Z); NaN and
 * infinities as the strings "NaN", "Infinity", "-Infinity"; enums as
 * strings; maps as objects; invalid UTF-8 in strings as U+FFFD.
 *
 * The input is untrusted: on malformed bytes it returns WB_ERR_DECODE with
 * the byte offset, after printing every record of the blocks before the
 * bad one. A file that ends inside a block (a .part file being written, or
 * one cut by a crash) is such an error: "torn block at byte N". */
int wb_avro_cat_file(const char *path, FILE *out, wb_error_t *err);

/* `waybill cat` options; all zero: print every record of a complete file. */
struct wb_avro_cat_options {
	/* At the end of the file, wait for more (a .part file the avro-file
	 * sink is writing) until the file is completed (renamed: the name
	 * given no longer exists) or *stop becomes non-zero; both end it
	 * cleanly. A file that shrinks (a restart truncated it to its last
	 * checkpointed block) is an error. Needs a path, not stdin. */
	bool follow;
	volatile sig_atomic_t *stop;
	/* When not NULL: *remaining records are printed at most, counting
	 * down; the call returns WB_OK as soon as it reaches 0. */
	int64_t *remaining;
	/* When not NULL: a record is printed only when keep() returns 1 for
	 * its JSON line (line[0..len), no newline); -1 stops with the error
	 * keep() filled. */
	int (*keep)(void *opaque, const char *line, size_t len,
		    wb_error_t *err);
	void *keep_opaque;
};

/* Like wb_avro_cat_file with options; path "-" reads standard input. */
int wb_avro_cat_path(const char *path, const struct wb_avro_cat_options *o,
		     FILE *out, wb_error_t *err);

/* The same over an in-memory file (no I/O but writing to out). */
int wb_avro_cat_buffer(const uint8_t *buf, size_t len, FILE *out,
		       wb_error_t *err);

/* Appends one Avro binary datum p[0..n) written with schema_json to out,
 * as the same JSON as the lines above. WB_ERR_DECODE when the bytes do not
 * decode to exactly one datum. */
int wb_avro_datum_json(const char *schema_json, const uint8_t *p, size_t n,
		       struct wb_buf *out, wb_error_t *err);

#endif
