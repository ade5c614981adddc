/* binlog_tablemap.h — the TABLE_MAP event: a table's id, name, column
 * types with their metadata and, with binlog_row_metadata=FULL (or the
 * parts MINIMAL carries), the optional metadata: signedness, charsets,
 * column names, ENUM/SET strings, geometry types, primary key, visibility.
 *
 * Body (after the 19-byte header; post-header 6 or 8 bytes):
 *   table_id u48 (u32 when the post-header is 6), flags u16,
 *   db: len u8, name, NUL; table: len u8, name, NUL;
 *   ncols packed int; types[ncols]; metadata: packed len, bytes;
 *   null bitmap (ncols+7)/8; optional metadata: TLV (type u8, packed len).
 *
 * Column metadata as the server packs it, decoded into the fields of
 * struct wb_my_tmcol:
 *   FLOAT, DOUBLE                      1 byte: pack length (4, 8)
 *   VARCHAR, VAR_STRING                2 bytes LE: max length in bytes
 *   BLOB, GEOMETRY, JSON               1 byte: bytes of the length prefix
 *   STRING (CHAR, BINARY, ENUM, SET)   2 bytes: real type, length (with
 *                                      the high bits of lengths > 255
 *                                      folded into the first byte)
 *   NEWDECIMAL                         2 bytes: precision, scale
 *   BIT                                2 bytes: bits % 8, bytes
 *   TIME2, DATETIME2, TIMESTAMP2       1 byte: fractional digits
 *   others                             none
 */
#ifndef WB_BINLOG_TABLEMAP_H
#define WB_BINLOG_TABLEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binlog_event.h"
#include "error.h"

/* Column types as the binlog numbers them (MySQL's enum_field_types). */
enum wb_my_type {
	WB_MY_T_DECIMAL = 0, /* pre-5.0 decimal: never in row events */
	WB_MY_T_TINY = 1,
	WB_MY_T_SHORT = 2,
	WB_MY_T_LONG = 3,
	WB_MY_T_FLOAT = 4,
	WB_MY_T_DOUBLE = 5,
	WB_MY_T_NULL = 6,
	WB_MY_T_TIMESTAMP = 7, /* old format */
	WB_MY_T_LONGLONG = 8,
	WB_MY_T_INT24 = 9,
	WB_MY_T_DATE = 10,
	WB_MY_T_TIME = 11,     /* old format */
	WB_MY_T_DATETIME = 12, /* old format */
	WB_MY_T_YEAR = 13,
	WB_MY_T_NEWDATE = 14,
	WB_MY_T_VARCHAR = 15,
	WB_MY_T_BIT = 16,
	WB_MY_T_TIMESTAMP2 = 17,
	WB_MY_T_DATETIME2 = 18,
	WB_MY_T_TIME2 = 19,
	WB_MY_T_TYPED_ARRAY = 20,
	WB_MY_T_VECTOR = 242,
	WB_MY_T_JSON = 245,
	WB_MY_T_NEWDECIMAL = 246,
	WB_MY_T_ENUM = 247,
	WB_MY_T_SET = 248,
	WB_MY_T_TINY_BLOB = 249,
	WB_MY_T_MEDIUM_BLOB = 250,
	WB_MY_T_LONG_BLOB = 251,
	WB_MY_T_BLOB = 252,
	WB_MY_T_VAR_STRING = 253,
	WB_MY_T_STRING = 254,
	WB_MY_T_GEOMETRY = 255,
};

/* One column of a table map. The source may fill the fields marked
 * "or the source" from information_schema when the event lacks them; the
 * strings and arrays it puts there must be malloc'd (each value of
 * enum_values/set_values too): wb_my_tablemap_free frees them.
 *
 * Which columns the optional metadata's per-kind lists cover follows the
 * servers: SIGNEDNESS the numeric ones (TINY, SHORT, INT24, LONG,
 * LONGLONG, YEAR, FLOAT, DOUBLE, DECIMAL, NEWDECIMAL); the charset fields
 * the character ones (CHAR/BINARY, VARCHAR/VARBINARY, the BLOB/TEXT types;
 * MySQL also VECTOR, MariaDB also GEOMETRY), binary strings included with
 * collation 63; ENUM and SET get theirs from the ENUM_AND_SET fields. */
struct wb_my_tmcol {
	uint8_t type;	   /* resolved: ENUM/SET for a STRING of that real
			      type, else the event's type */
	uint8_t wire_type; /* the type byte in the event */
	uint16_t meta;	   /* the raw metadata (0 when the type has none) */
	uint16_t length;   /* STRING: max bytes; VARCHAR: max bytes (a
			      1-byte length prefix when < 256, else 2);
			      ENUM/SET: bytes of the stored value */
	uint8_t pack_len;  /* BLOB/TEXT/JSON/GEOMETRY: length prefix bytes
			      (1-4); FLOAT/DOUBLE: 4 or 8 */
	uint8_t precision; /* NEWDECIMAL */
	uint8_t scale;	   /* NEWDECIMAL */
	uint8_t fsp;	   /* TIME2/DATETIME2/TIMESTAMP2: fractional digits;
			      old-format temporals: or the source */
	uint16_t bits;	   /* BIT: number of bits */
	bool nullable;
	int8_t is_unsigned; /* 1/0 from SIGNEDNESS, or the source; -1 unknown
			     */
	int32_t charset;    /* collation id (63 = binary), or the source; -1
			       unknown */
	char *name;	    /* COLUMN_NAME, or the source; NULL unknown */
	char **enum_values; /* ENUM_STR_VALUE, or the source; NULL unknown */
	int nenum;
	char **set_values; /* SET_STR_VALUE, or the source; NULL unknown */
	int nset;
	uint32_t geometry_type; /* GEOMETRY_TYPE, 0 unknown */
	int8_t visible;		/* COLUMN_VISIBILITY: 1/0; -1 unknown */
	bool key;		/* in the primary key (SIMPLE_PRIMARY_KEY or
				   PRIMARY_KEY_WITH_PREFIX), or the source */
	/* what information_schema adds (the source fills these; the
	 * decoders read them): the declared type name in lower case when
	 * the binlog type does not tell it (MariaDB "inet6", "uuid",
	 * "json"), else NULL */
	char *declared;
};

struct wb_my_tablemap {
	uint64_t table_id;
	uint16_t flags;
	char *db;    /* NUL-terminated */
	char *table; /* NUL-terminated */
	uint32_t ncols;
	struct wb_my_tmcol *cols;
	bool has_signedness; /* the optional metadata carried each part */
	bool has_charsets;
	bool has_names;
	bool has_enum_set;
	bool has_key;
	bool has_visibility;
	/* the event body it was decoded from: a TABLE_MAP repeats before
	 * every transaction; equal bytes mean an equal map */
	uint8_t *raw;
	size_t raw_len;
};

/* Decodes a TABLE_MAP event's body (ev from wb_my_event_parse). *out is
 * malloc'd and owned by the caller (wb_my_tablemap_free); NULL on failure.
 * WB_ERR_DECODE naming what is malformed (a list that does not match its
 * columns, a field given twice, column metadata left over); WB_ERR_NOMEM.
 * Unknown optional metadata types are skipped by their length.
 * has_enum_set is true only when every ENUM and SET column got its
 * values. */
int wb_my_tablemap_parse(const struct wb_my_format *fmt,
			 const struct wb_my_event *ev,
			 struct wb_my_tablemap **out, wb_error_t *err);

/* True when ev's body equals tm's (the same map again). */
bool wb_my_tablemap_same(const struct wb_my_tablemap *tm,
			 const struct wb_my_event *ev);

void wb_my_tablemap_free(struct wb_my_tablemap *tm); /* accepts NULL */

/* The number of a table id's bytes in the post-header (6 or 4), from
 * fmt: shared by TABLE_MAP and the row events. */
int wb_my_table_id_len(const struct wb_my_format *fmt, uint8_t type);

#endif
