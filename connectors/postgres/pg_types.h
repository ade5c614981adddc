/* pg_types.h — PostgreSQL types to Avro types, and text values to wb_value. */
#ifndef WB_PG_TYPES_H
#define WB_PG_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "error.h"
#include "value.h"

/* What the catalog says about a type the builtin table does not know
 * (pg_type: typtype, typcategory, typelem). */
struct wb_pg_typeinfo {
	uint32_t oid;
	char typtype; /* 'b' base, 'e' enum, 'd' domain, 'c' composite, ... */
	char typcategory; /* 'A' array, ... */
	uint32_t typelem; /* element type for arrays, else 0 */
	uint32_t
		basetype; /* domains: the base type OID (typbasetype), else 0 */
};

/* Maps a column type to its Avro type.
 *   oid, typmod: from the Relation message (typmod -1 = none)
 *   info: catalog facts for oid when it is not builtin (may be NULL);
 *         for arrays of non-builtin element types, elem_info likewise
 *   unconstrained numeric: string (WB_DECIMAL_STRING) or double
 * Known builtins (OIDs): bool 16, bytea 17, char 18, name 19, int8 20,
 * int2 21, int4 23, text 25, oid 26, json 114, xml 142, float4 700,
 * float8 701, bpchar 1042, varchar 1043, date 1082, time 1083,
 * timestamp 1114, timestamptz 1184, numeric 1700, uuid 2950, jsonb 3802,
 * and their array types (1000 bool[], 1001 bytea[], 1005 int2[], 1007 int4[],
 * 1016 int8[], 1009 text[], 1015 varchar[], 1014 bpchar[], 1021 float4[],
 * 1022 float8[], 1231 numeric[], 1182 date[], 1183 time[], 1115
 * timestamp[], 1185 timestamptz[], 2951 uuid[], 199 json[], 3807 jsonb[]).
 * Enums → string. Anything else → string (the server's text form). Never
 * fails. Sets may_not_fit for the types with values that have no Avro form
 * (see wb_pg_text_to_value): constrained numerics, date, timestamp,
 * timestamptz, and every array. */
void wb_pg_map_type(uint32_t oid, int32_t typmod,
		    const struct wb_pg_typeinfo *info,
		    const struct wb_pg_typeinfo *elem_info,
		    enum wb_decimal_handling decimals, struct wb_type *out);

/* The server's limit on array dimensions (MAXDIM). */
#define WB_PG_MAX_DIMS 6

/* Sets the dimensions of an array type to the column's declared ones
 * (pg_attribute.attndims: 2 for int[][]); the schema nests that many Avro
 * arrays. 0 or 1 (and out-of-range values) mean one dimension. The server
 * does not enforce the declaration, so a value with another number of
 * dimensions is written as unrepresentable, never reshaped. No effect on a
 * scalar type. wb_pg_map_type sets one dimension. */
void wb_pg_type_set_dims(struct wb_type *t, int attndims);

/* True when oid is one of the builtins above (no catalog lookup needed). */
int wb_pg_type_is_builtin(uint32_t oid);

/* Converts the text output form of a value (as pgoutput sends it, with the
 * session settings DateStyle=ISO, TimeZone=UTC, extra_float_digits=3,
 * bytea_output=hex, IntervalStyle=iso_8601) to a value of type t. Bytes go
 * into arena a. Returns WB_OK with out->state PRESENT, or with
 * out->state UNREPRESENTABLE and out->u.b the text (made valid UTF-8) when
 * the value is real but the Avro type cannot hold it:
 *   - NaN, Infinity, -Infinity in a decimal, and a value with more digits
 *     than its precision or scale;
 *   - infinity and -infinity in a date, timestamp or timestamptz, a
 *     timestamp past the range of a long of microseconds since 1970
 *     (after 294247-01-10 04:00:54.775807 UTC), a date past an int of days;
 *   - an array of another number of dimensions than wb_type_ndims(t), with
 *     lower bounds other than 1, or with such an element.
 * Returns WB_ERR_TYPE with a message naming the type and (truncated) text
 * for a text that is not a value of the type, WB_ERR_NOMEM. */
int wb_pg_text_to_value(const struct wb_type *t, const char *text, size_t len,
			struct wb_arena *a, struct wb_value *out,
			wb_error_t *err);
/* As wb_pg_text_to_value, but a value that is the text itself (a string
 * column's text, valid UTF-8) points into text instead of being copied
 * into a: text must live as long as the value (a large stream message the
 * batch owns, wb_batch_adopt). */
int wb_pg_text_to_value_ref(const struct wb_type *t, const char *text,
			    size_t len, struct wb_arena *a,
			    struct wb_value *out, wb_error_t *err);

#endif
