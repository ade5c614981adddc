/* value.h — column types (as Avro sees them) and typed column values. */
#ifndef WB_VALUE_H
#define WB_VALUE_H

#include <stdint.h>

/* Avro representation of a column. */
enum wb_kind {
	WB_T_BOOLEAN,
	WB_T_INT,
	WB_T_LONG,
	WB_T_FLOAT,
	WB_T_DOUBLE,
	WB_T_STRING,
	WB_T_BYTES,
	WB_T_ARRAY, /* items: elem (nullable elements: union {null, elem}) */
};

enum wb_logical {
	WB_L_NONE,
	WB_L_DECIMAL,		     /* bytes; precision, scale */
	WB_L_DATE,		     /* int: days since 1970-01-01 */
	WB_L_TIME_MICROS,	     /* long: microseconds after midnight */
	WB_L_TIMESTAMP_MICROS,	     /* long: UTC microseconds since epoch */
	WB_L_LOCAL_TIMESTAMP_MICROS, /* long: wall-clock microseconds since
					epoch */
	WB_L_UUID,		     /* string */
	WB_L_JSON, /* string; schema property only, no logicalType */
};

/* A scalar type: kind + logical type. */
struct wb_scalar_type {
	uint8_t kind;	 /* enum wb_kind, never WB_T_ARRAY here */
	uint8_t logical; /* enum wb_logical */
	int16_t precision;
	int16_t scale;
};

struct wb_type {
	struct wb_scalar_type
		s;	  /* the column type, or for arrays the element */
	uint8_t is_array; /* 1: Avro array of union {null, s} */
	uint8_t ndims;	  /* arrays: dimensions, nested Avro arrays (0 = 1) */
	uint8_t may_not_fit; /* 1: some source values have no Avro form of
				this type (see WB_VAL_UNREPRESENTABLE) */
	uint32_t src_type;   /* source's type id (PG type OID, MySQL type) */
};

/* The array dimensions of t as the schema nests them: 0 for a scalar. */
static inline int wb_type_ndims(const struct wb_type *t)
{
	return t->is_array ? (t->ndims > 1 ? t->ndims : 1) : 0;
}

/* Whether a column's row field is an Avro union with null: a nullable
 * column, or one whose type may not fit (its unrepresentable values are
 * written as null, whatever the source's NOT NULL). */
static inline int wb_type_avro_nullable(const struct wb_type *t, int nullable)
{
	return nullable || t->may_not_fit;
}

enum wb_value_state {
	WB_VAL_NULL = 0,
	WB_VAL_PRESENT = 1,
	WB_VAL_UNCHANGED = 2, /* source did not send it (unchanged TOAST) */
	WB_VAL_UNREPRESENTABLE = 3, /* a real value the column's Avro type
				       cannot hold (NaN in a decimal, an
				       infinite timestamp, an array of other
				       dimensions): b = the source's text of
				       it, valid UTF-8 */
};

/* A column value. Which member is set follows the column's type:
 *   BOOLEAN, INT, LONG (and DATE, TIME, TIMESTAMPs): i
 *   FLOAT: f; DOUBLE: d
 *   STRING (UTF-8), BYTES: b (not NUL-terminated)
 *   DECIMAL: b = unscaled value, big-endian two's complement, minimal length
 *   arrays: b = the Avro binary encoding of the whole array (block count,
 *           items each as union index + value, terminating 0; with
 *           several dimensions, items are the inner arrays' encodings)
 *   UNREPRESENTABLE (any type): b = the source's text
 * Bytes live in the batch arena that holds the change. */
struct wb_value {
	uint8_t state; /* enum wb_value_state */
	union {
		int64_t i;
		double d;
		float f;
		struct {
			const uint8_t *p;
			uint32_t n;
		} b;
	} u;
};

#endif
