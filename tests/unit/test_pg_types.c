/* test_pg_types.c — PostgreSQL type mapping and text → value conversion.
 *
 * Expected values were computed independently: decimals with Python's
 * int.to_bytes(signed=True), dates and timestamps with Python's datetime or
 * PostgreSQL 15 itself (BC dates, zone offsets), arrays with python3-avro's
 * DatumWriter on {"type":"array","items":["null",T]}, invalid UTF-8 with
 * bytes.decode("utf-8", "replace"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_types.h"
#include "check.h"

static struct wb_arena arena;

static struct wb_type type_of(uint32_t oid, int32_t typmod)
{
	struct wb_type t;
	wb_pg_map_type(oid, typmod, NULL, NULL, WB_DECIMAL_STRING, &t);
	return t;
}

static int conv(uint32_t oid, int32_t typmod, const char *text,
		struct wb_value *v, wb_error_t *err)
{
	struct wb_type t = type_of(oid, typmod);
	wb_error_clear(err);
	return wb_pg_text_to_value(&t, text, strlen(text), &arena, v, err);
}

/* The conversion succeeds with integer value want. */
static void check_i(int line, uint32_t oid, int32_t typmod, const char *text,
		    int64_t want)
{
	struct wb_value v;
	wb_error_t err;
	int rc = conv(oid, typmod, text, &v, &err);
	if (rc != 0 || v.state != WB_VAL_PRESENT || v.u.i != want) {
		fprintf(stderr,
			"line %d: %s (oid %u): rc %d state %d got %lld want "
			"%lld %s\n",
			line, text, oid, rc, v.state, (long long)v.u.i,
			(long long)want, rc ? err.message : "");
		failures++;
	}
}
#define CHECK_I(oid, typmod, text, want)                                       \
	check_i(__LINE__, oid, typmod, text, want)

/* The conversion succeeds with bytes want[0..n). */
static void check_b(int line, uint32_t oid, int32_t typmod, const char *text,
		    size_t tlen, const uint8_t *want, size_t n)
{
	struct wb_type t = type_of(oid, typmod);
	struct wb_value v;
	wb_error_t err;
	wb_error_clear(&err);
	int rc = wb_pg_text_to_value(&t, text, tlen, &arena, &v, &err);
	if (rc != 0 || v.state != WB_VAL_PRESENT || v.u.b.n != n ||
	    (n && memcmp(v.u.b.p, want, n) != 0)) {
		fprintf(stderr, "line %d: %.60s (oid %u): rc %d %s got", line,
			text, oid, rc, rc ? err.message : "");
		for (uint32_t i = 0; rc == 0 && i < v.u.b.n; i++)
			fprintf(stderr, " %02x", v.u.b.p[i]);
		fprintf(stderr, "\n");
		failures++;
	}
}
#define CHECK_B(oid, typmod, text, ...)                                        \
	do {                                                                   \
		static const uint8_t want_[] = {__VA_ARGS__};                  \
		check_b(__LINE__, oid, typmod, text, strlen(text), want_,      \
			sizeof(want_));                                        \
	} while (0)

/* The conversion fails with WB_ERR_TYPE and a message containing part. */
static void check_err(int line, uint32_t oid, int32_t typmod, const char *text,
		      const char *part)
{
	struct wb_value v;
	wb_error_t err;
	int rc = conv(oid, typmod, text, &v, &err);
	if (rc != WB_ERR_TYPE || v.state != WB_VAL_NULL ||
	    (part && strstr(err.message, part) == NULL)) {
		fprintf(stderr,
			"line %d: %s (oid %u): want a type error containing "
			"'%s', got rc %d: %s\n",
			line, text, oid, part ? part : "", rc,
			rc ? err.message : "");
		failures++;
	}
}
#define CHECK_ERR(oid, typmod, text, part)                                     \
	check_err(__LINE__, oid, typmod, text, part)

/* The conversion succeeds with the value unrepresentable, its text kept
 * (dims: the array dimensions of the column, 0 for wb_pg_map_type's). */
static void check_unrep(int line, uint32_t oid, int32_t typmod, int dims,
			const char *text)
{
	struct wb_type t = type_of(oid, typmod);
	if (dims)
		wb_pg_type_set_dims(&t, dims);
	struct wb_value v;
	wb_error_t err;
	wb_error_clear(&err);
	size_t n = strlen(text);
	int rc = wb_pg_text_to_value(&t, text, n, &arena, &v, &err);
	if (rc != 0 || v.state != WB_VAL_UNREPRESENTABLE || v.u.b.n != n ||
	    memcmp(v.u.b.p, text, n) != 0 || !t.may_not_fit) {
		fprintf(stderr,
			"line %d: %s (oid %u): want unrepresentable, got rc "
			"%d state %d %s\n",
			line, text, oid, rc, v.state, rc ? err.message : "");
		failures++;
	}
}
#define CHECK_UNREP(oid, typmod, text)                                         \
	check_unrep(__LINE__, oid, typmod, 0, text)

#define NUMERIC(p, s) ((int32_t)((((p) << 16) | ((s)&0x7ff)) + 4))

static void test_mapping(void)
{
	struct wb_type t;

	t = type_of(23, -1);
	CHECK(t.s.kind == WB_T_INT && t.s.logical == WB_L_NONE && !t.is_array &&
	      t.src_type == 23);
	t = type_of(21, -1);
	CHECK(t.s.kind == WB_T_INT);
	t = type_of(20, -1);
	CHECK(t.s.kind == WB_T_LONG && t.s.logical == WB_L_NONE);
	t = type_of(26, -1);
	CHECK(t.s.kind == WB_T_LONG);
	t = type_of(700, -1);
	CHECK(t.s.kind == WB_T_FLOAT);
	t = type_of(701, -1);
	CHECK(t.s.kind == WB_T_DOUBLE);
	t = type_of(16, -1);
	CHECK(t.s.kind == WB_T_BOOLEAN);
	uint32_t strings[] = {25, 1043, 1042, 18, 19, 142};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		t = type_of(strings[i], 20);
		CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_NONE &&
		      t.src_type == strings[i]);
	}
	t = type_of(17, -1);
	CHECK(t.s.kind == WB_T_BYTES && t.s.logical == WB_L_NONE);
	t = type_of(1082, -1);
	CHECK(t.s.kind == WB_T_INT && t.s.logical == WB_L_DATE);
	t = type_of(1083, -1);
	CHECK(t.s.kind == WB_T_LONG && t.s.logical == WB_L_TIME_MICROS);
	t = type_of(1114, 6);
	CHECK(t.s.kind == WB_T_LONG &&
	      t.s.logical == WB_L_LOCAL_TIMESTAMP_MICROS);
	t = type_of(1184, -1);
	CHECK(t.s.kind == WB_T_LONG && t.s.logical == WB_L_TIMESTAMP_MICROS);
	t = type_of(2950, -1);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_UUID);
	t = type_of(114, -1);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_JSON);
	t = type_of(3802, -1);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_JSON);

	/* numeric(12,3): typmod = (12 << 16 | 3) + 4 = 786439 */
	t = type_of(1700, 786439);
	CHECK(t.s.kind == WB_T_BYTES && t.s.logical == WB_L_DECIMAL &&
	      t.s.precision == 12 && t.s.scale == 3);
	t = type_of(1700, NUMERIC(38, 0));
	CHECK(t.s.precision == 38 && t.s.scale == 0);
	/* PostgreSQL 15: negative scale and scale > precision */
	t = type_of(1700, NUMERIC(2, -3));
	CHECK(t.s.logical == WB_L_DECIMAL && t.s.precision == 5 &&
	      t.s.scale == 0);
	t = type_of(1700, NUMERIC(2, 5));
	CHECK(t.s.logical == WB_L_DECIMAL && t.s.precision == 5 &&
	      t.s.scale == 5);
	t = type_of(1700, -1);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_NONE);
	wb_pg_map_type(1700, -1, NULL, NULL, WB_DECIMAL_DOUBLE, &t);
	CHECK(t.s.kind == WB_T_DOUBLE);

	/* builtin arrays */
	t = type_of(1007, -1);
	CHECK(t.is_array && t.s.kind == WB_T_INT && t.src_type == 1007);
	t = type_of(1009, -1);
	CHECK(t.is_array && t.s.kind == WB_T_STRING);
	t = type_of(1231, NUMERIC(10, 2));
	CHECK(t.is_array && t.s.logical == WB_L_DECIMAL &&
	      t.s.precision == 10 && t.s.scale == 2);
	t = type_of(1185, -1);
	CHECK(t.is_array && t.s.logical == WB_L_TIMESTAMP_MICROS);
	t = type_of(3807, -1);
	CHECK(t.is_array && t.s.logical == WB_L_JSON);

	/* unknown types: text form */
	t = type_of(1186, -1); /* interval */
	CHECK(t.s.kind == WB_T_STRING && !t.is_array && t.src_type == 1186);
	t = type_of(16385, -1);
	CHECK(t.s.kind == WB_T_STRING && !t.is_array);

	/* enum, domain, arrays of those, catalog-described arrays */
	struct wb_pg_typeinfo en = {
		.oid = 16400, .typtype = 'e', .typcategory = 'E'};
	wb_pg_map_type(16400, -1, &en, NULL, WB_DECIMAL_STRING, &t);
	CHECK(t.s.kind == WB_T_STRING && !t.is_array && t.src_type == 16400);
	struct wb_pg_typeinfo enarr = {.oid = 16399,
				       .typtype = 'b',
				       .typcategory = 'A',
				       .typelem = 16400};
	wb_pg_map_type(16399, -1, &enarr, &en, WB_DECIMAL_STRING, &t);
	CHECK(t.is_array && t.s.kind == WB_T_STRING && t.src_type == 16399);
	struct wb_pg_typeinfo dom = {.oid = 16410,
				     .typtype = 'd',
				     .typcategory = 'N',
				     .basetype = 23};
	wb_pg_map_type(16410, -1, &dom, NULL, WB_DECIMAL_STRING, &t);
	CHECK(t.s.kind == WB_T_INT && !t.is_array && t.src_type == 16410);
	struct wb_pg_typeinfo domts = {.oid = 16420,
				       .typtype = 'd',
				       .typcategory = 'D',
				       .basetype = 1184};
	wb_pg_map_type(16420, -1, &domts, NULL, WB_DECIMAL_STRING, &t);
	CHECK(t.s.logical == WB_L_TIMESTAMP_MICROS);
	struct wb_pg_typeinfo domarr = {.oid = 16409,
					.typtype = 'b',
					.typcategory = 'A',
					.typelem = 16410};
	wb_pg_map_type(16409, -1, &domarr, &dom, WB_DECIMAL_STRING, &t);
	CHECK(t.is_array && t.s.kind == WB_T_INT);
	/* a domain over an array type */
	struct wb_pg_typeinfo domover = {.oid = 16430,
					 .typtype = 'd',
					 .typcategory = 'A',
					 .basetype = 1016};
	wb_pg_map_type(16430, -1, &domover, NULL, WB_DECIMAL_STRING, &t);
	CHECK(t.is_array && t.s.kind == WB_T_LONG);
	/* domain over numeric(8,2): the column typmod carries it */
	struct wb_pg_typeinfo domnum = {.oid = 16440,
					.typtype = 'd',
					.typcategory = 'N',
					.basetype = 1700};
	wb_pg_map_type(16440, NUMERIC(8, 2), &domnum, NULL, WB_DECIMAL_STRING,
		       &t);
	CHECK(t.s.logical == WB_L_DECIMAL && t.s.precision == 8 &&
	      t.s.scale == 2);
	/* composite → text */
	struct wb_pg_typeinfo comp = {
		.oid = 16450, .typtype = 'c', .typcategory = 'C'};
	wb_pg_map_type(16450, -1, &comp, NULL, WB_DECIMAL_STRING, &t);
	CHECK(t.s.kind == WB_T_STRING && !t.is_array);

	CHECK(wb_pg_type_is_builtin(23));
	CHECK(wb_pg_type_is_builtin(1700));
	CHECK(wb_pg_type_is_builtin(3807));
	CHECK(!wb_pg_type_is_builtin(16400));
	CHECK(!wb_pg_type_is_builtin(1186));
}

static void test_scalars(void)
{
	struct wb_value v;
	wb_error_t err;

	CHECK_I(16, -1, "t", 1);
	CHECK_I(16, -1, "f", 0);
	CHECK_ERR(16, -1, "x", "invalid value for boolean: \"x\"");

	CHECK_I(23, -1, "0", 0);
	CHECK_I(23, -1, "-42", -42);
	CHECK_I(23, -1, "2147483647", INT32_MAX);
	CHECK_I(23, -1, "-2147483648", INT32_MIN);
	CHECK_I(21, -1, "-32768", -32768);
	CHECK_ERR(23, -1, "2147483648", "out of range");
	CHECK_ERR(23, -1, "-2147483649", "out of range");
	CHECK_ERR(23, -1, "", "invalid value for int: \"\"");
	CHECK_ERR(23, -1, "-", NULL);
	CHECK_ERR(23, -1, "12a", NULL);
	CHECK_ERR(23, -1, " 12", NULL);
	CHECK_I(20, -1, "9223372036854775807", INT64_MAX);
	CHECK_I(20, -1, "-9223372036854775808", INT64_MIN);
	CHECK_ERR(20, -1, "9223372036854775808", "out of range");
	CHECK_ERR(20, -1, "-9223372036854775809", "out of range");
	CHECK_ERR(20, -1, "99999999999999999999999", "out of range");
	CHECK_I(26, -1, "4294967295", 4294967295LL);

	/* floats: exact bit patterns */
	uint32_t u32;
	uint64_t u64;
	CHECK(conv(700, -1, "0.1", &v, &err) == 0);
	memcpy(&u32, &v.u.f, 4);
	CHECK(u32 == 0x3dcccccd);
	CHECK(conv(700, -1, "1e-45", &v, &err) == 0);
	memcpy(&u32, &v.u.f, 4);
	CHECK(u32 == 0x1);
	CHECK(conv(700, -1, "NaN", &v, &err) == 0);
	memcpy(&u32, &v.u.f, 4);
	CHECK(u32 == 0x7fc00000);
	CHECK(conv(700, -1, "-Infinity", &v, &err) == 0);
	memcpy(&u32, &v.u.f, 4);
	CHECK(u32 == 0xff800000);
	CHECK(conv(701, -1, "0.1", &v, &err) == 0);
	memcpy(&u64, &v.u.d, 8);
	CHECK(u64 == UINT64_C(0x3fb999999999999a));
	CHECK(conv(701, -1, "1.2345678901234567e-300", &v, &err) == 0);
	memcpy(&u64, &v.u.d, 8);
	CHECK(u64 == UINT64_C(0x01aa74fe1c1e8908));
	CHECK(conv(701, -1, "NaN", &v, &err) == 0);
	memcpy(&u64, &v.u.d, 8);
	CHECK(u64 == UINT64_C(0x7ff8000000000000));
	CHECK(conv(701, -1, "Infinity", &v, &err) == 0);
	memcpy(&u64, &v.u.d, 8);
	CHECK(u64 == UINT64_C(0x7ff0000000000000));
	CHECK(conv(701, -1, "-Infinity", &v, &err) == 0);
	memcpy(&u64, &v.u.d, 8);
	CHECK(u64 == UINT64_C(0xfff0000000000000));
	CHECK(conv(701, -1, "-0", &v, &err) == 0);
	memcpy(&u64, &v.u.d, 8);
	CHECK(u64 == UINT64_C(0x8000000000000000));
	CHECK_ERR(701, -1, "0x10", NULL);
	CHECK_ERR(701, -1, "inf", NULL);
	CHECK_ERR(701, -1, " 1", NULL);
	CHECK_ERR(701, -1, "1e", NULL);
	CHECK_ERR(701, -1, "1e999", "out of range");
	CHECK_ERR(700, -1, "1e39", "out of range");
	/* unconstrained numeric as double (decimal_handling: double) */
	struct wb_type td;
	wb_pg_map_type(1700, -1, NULL, NULL, WB_DECIMAL_DOUBLE, &td);
	CHECK(wb_pg_text_to_value(&td, "12.5", 4, &arena, &v, &err) == 0 &&
	      v.u.d == 12.5);
	CHECK(wb_pg_text_to_value(&td, "NaN", 3, &arena, &v, &err) == 0 &&
	      isnan(v.u.d));
	/* ... and as string, the default */
	check_b(__LINE__, 1700, -1, "NaN", 3, (const uint8_t *)"NaN", 3);

	/* bytea */
	CHECK_B(17, -1, "\\x0a0b", 0x0a, 0x0b);
	CHECK_B(17, -1, "\\xDEADbeef", 0xde, 0xad, 0xbe, 0xef);
	check_b(__LINE__, 17, -1, "\\x", 2, NULL, 0);
	CHECK_B(17, -1, "a\\\\b\\001\\377", 'a', '\\', 'b', 0x01, 0xff);
	CHECK_ERR(17, -1, "\\x0", "odd number");
	CHECK_ERR(17, -1, "\\x0g", NULL);
	CHECK_ERR(17, -1, "a\\9", NULL);

	/* strings: copied, NUL-free input kept byte for byte */
	const char *s = "héllo, wörld ✓ 😀";
	check_b(__LINE__, 25, -1, s, strlen(s), (const uint8_t *)s, strlen(s));
	check_b(__LINE__, 25, -1, "", 0, NULL, 0);
	/* the input buffer is not kept: the value is a copy in the arena */
	char in[] = "abc";
	struct wb_type tt = type_of(25, -1);
	CHECK(wb_pg_text_to_value(&tt, in, 3, &arena, &v, &err) == 0);
	in[0] = 'X';
	CHECK(v.u.b.n == 3 && memcmp(v.u.b.p, "abc", 3) == 0);
	CHECK_B(2950, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 'a', '0', 'e',
		'e', 'b', 'c', '9', '9', '-', '9', 'c', '0', 'b', '-', '4', 'e',
		'f', '8', '-', 'b', 'b', '6', 'd', '-', '6', 'b', 'b', '9', 'b',
		'd', '3', '8', '0', 'a', '1', '1');
	CHECK_B(3802, -1, "{\"a\": 1}", '{', '"', 'a', '"', ':', ' ', '1', '}');
	/* invalid UTF-8: one U+FFFD per maximal ill-formed subpart */
	CHECK_B(25, -1,
		"a\xff"
		"b\xe2\x82"
		"c\xed\xa0\x80"
		"d\xf0\x9f\x98\x80\xf4\x90\x80\x80\xc0\xafz\xe2\x82",
		0x61, 0xef, 0xbf, 0xbd, 0x62, 0xef, 0xbf, 0xbd, 0x63, 0xef,
		0xbf, 0xbd, 0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd, 0x64, 0xf0,
		0x9f, 0x98, 0x80, 0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd, 0xef,
		0xbf, 0xbd, 0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd, 0xef, 0xbf,
		0xbd, 0x7a, 0xef, 0xbf, 0xbd);
	/* long all-ASCII with one bad byte past the 8-byte fast path */
	CHECK_B(25, -1, "0123456789abcdef\x80", '0', '1', '2', '3', '4', '5',
		'6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', 0xef, 0xbf,
		0xbd);
	/* every byte invalid: the copy triples. A tiny arena gives the copy a
	 * malloc of its own, so AddressSanitizer sees any miscounted size. */
	struct wb_arena small;
	wb_arena_init(&small, 16);
	char junk[24];
	memset(junk, 0xff, sizeof(junk));
	CHECK(wb_pg_text_to_value(&tt, junk, sizeof(junk), &small, &v, &err) ==
	      0);
	CHECK(v.u.b.n == 72);
	for (uint32_t i = 0; v.u.b.n == 72 && i < 72; i += 3)
		CHECK(v.u.b.p[i] == 0xef && v.u.b.p[i + 1] == 0xbf &&
		      v.u.b.p[i + 2] == 0xbd);
	wb_arena_free(&small);
}

static void test_decimals(void)
{
	int32_t n10_0 = NUMERIC(10, 0);
	CHECK_B(1700, n10_0, "0", 0x00);
	CHECK_B(1700, n10_0, "-0", 0x00);
	CHECK_B(1700, n10_0, "1", 0x01);
	CHECK_B(1700, n10_0, "-1", 0xff);
	CHECK_B(1700, n10_0, "127", 0x7f);
	CHECK_B(1700, n10_0, "128", 0x00, 0x80);
	CHECK_B(1700, n10_0, "-128", 0x80);
	CHECK_B(1700, n10_0, "-129", 0xff, 0x7f);
	CHECK_B(1700, n10_0, "255", 0x00, 0xff);
	CHECK_B(1700, n10_0, "-256", 0xff, 0x00);
	CHECK_B(1700, n10_0, "-32768", 0x80, 0x00);
	CHECK_B(1700, n10_0, "32768", 0x00, 0x80, 0x00);
	CHECK_B(1700, n10_0, "+5", 0x05);
	/* 12345.67 at scale 2 = 1234567, at scale 4 = 123456700 */
	CHECK_B(1700, NUMERIC(7, 2), "12345.67", 0x12, 0xd6, 0x87);
	CHECK_B(1700, NUMERIC(7, 2), "-12345.67", 0xed, 0x29, 0x79);
	CHECK_B(1700, NUMERIC(9, 4), "12345.67", 0x07, 0x5b, 0xcc, 0xbc);
	CHECK_B(1700, NUMERIC(9, 4), "12345.6700", 0x07, 0x5b, 0xcc, 0xbc);
	CHECK_B(1700, NUMERIC(5, 2), "0.00", 0x00);
	CHECK_B(1700, NUMERIC(5, 2), "-0.01", 0xff);
	CHECK_B(1700, NUMERIC(5, 2), "0.05", 0x05);
	CHECK_B(1700, NUMERIC(5, 2), "1.", 0x64);
	CHECK_B(1700, NUMERIC(5, 2), ".5", 0x32);
	CHECK_B(1700, NUMERIC(2, -3), "12000", 0x2e, 0xe0);
	CHECK_B(1700, NUMERIC(2, 5), "0.00012", 0x0c);
	/* 38 nines, both signs; a mixed 38-digit value */
	CHECK_B(1700, NUMERIC(38, 0), "99999999999999999999999999999999999999",
		0x4b, 0x3b, 0x4c, 0xa8, 0x5a, 0x86, 0xc4, 0x7a, 0x09, 0x8a,
		0x22, 0x3f, 0xff, 0xff, 0xff, 0xff);
	CHECK_B(1700, NUMERIC(38, 0), "-99999999999999999999999999999999999999",
		0xb4, 0xc4, 0xb3, 0x57, 0xa5, 0x79, 0x3b, 0x85, 0xf6, 0x75,
		0xdd, 0xc0, 0x00, 0x00, 0x00, 0x01);
	CHECK_B(1700, NUMERIC(38, 10),
		"-1234567890123456789012345678.9012345678", 0xf6, 0xb6, 0x4f,
		0x09, 0x0f, 0xfd, 0xcc, 0xec, 0x3b, 0xb6, 0x6f, 0xaf, 0x21,
		0xc7, 0x0c, 0xb2);
	/* ±2^127: the sign byte decides the length */
	CHECK_B(1700, NUMERIC(39, 0), "170141183460469231731687303715884105728",
		0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
	CHECK_B(1700, NUMERIC(39, 0),
		"-170141183460469231731687303715884105728", 0x80, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00);
	/* 60 digits, 20 of them after the point */
	CHECK_B(1700, NUMERIC(60, 20),
		"1234567890123456789012345678901234567890.12345678901234567890",
		0x13, 0xaa, 0xf5, 0x04, 0xe4, 0xbc, 0x1e, 0x62, 0x17, 0x3f,
		0x87, 0xa4, 0x37, 0x8c, 0x37, 0xb4, 0x9c, 0x8c, 0xcf, 0xf1,
		0x96, 0xce, 0x3f, 0x0a, 0xd2);
	CHECK_B(1700, NUMERIC(60, 20),
		"-1234567890123456789012345678901234567890.1234567890123456789",
		0xec, 0x55, 0x0a, 0xfb, 0x1b, 0x43, 0xe1, 0x9d, 0xe8, 0xc0,
		0x78, 0x5b, 0xc8, 0x73, 0xc8, 0x4b, 0x63, 0x73, 0x30, 0x0e,
		0x69, 0x31, 0xc0, 0xf5, 0x2e);
	/* real values with no Avro decimal form: kept as their text */
	CHECK_UNREP(1700, NUMERIC(7, 2), "NaN");
	CHECK_UNREP(1700, NUMERIC(8, 2), "Infinity");
	CHECK_UNREP(1700, NUMERIC(7, 2), "-Infinity");
	CHECK_UNREP(1700, NUMERIC(7, 2), "1.234");
	CHECK_UNREP(1700, NUMERIC(7, 2), "123456.00");
	CHECK_ERR(1700, NUMERIC(7, 2), "nan", NULL);
	CHECK_ERR(1700, NUMERIC(7, 2), "inf", NULL);
	CHECK_ERR(1700, NUMERIC(7, 2), "1e5", NULL);
	CHECK_ERR(1700, NUMERIC(7, 2), "", NULL);
	CHECK_ERR(1700, NUMERIC(7, 2), ".", NULL);
	CHECK_ERR(1700, NUMERIC(7, 2), "-", NULL);
	CHECK_ERR(1700, NUMERIC(7, 2), "1.2.3", NULL);
}

static void test_times(void)
{
	CHECK_I(1082, -1, "1970-01-01", 0);
	CHECK_I(1082, -1, "1969-12-31", -1);
	CHECK_I(1082, -1, "2024-02-29", 19782);
	CHECK_I(1082, -1, "2000-03-01", 11017);
	CHECK_I(1082, -1, "1900-03-01", -25508);
	CHECK_I(1082, -1, "9999-12-31", 2932896);
	CHECK_I(1082, -1, "0001-01-01", -719162);
	CHECK_I(1082, -1, "0001-12-31 BC", -719163);
	CHECK_I(1082, -1, "0001-02-29 BC", -719469); /* 1 BC is a leap year */
	CHECK_I(1082, -1, "0044-03-15 BC", -735160);
	CHECK_I(1082, -1, "5874897-12-31", 2145042905); /* the server's last */
	CHECK_I(1082, -1, "4714-11-24 BC", -2440588);	/* and first */
	CHECK_UNREP(1082, -1, "infinity");
	CHECK_UNREP(1082, -1, "-infinity");
	CHECK_ERR(1082, -1, "Infinity", NULL);
	CHECK_ERR(1082, -1, "2023-02-29",
		  "invalid value for date: \"2023-02-29\"");
	CHECK_ERR(1082, -1, "2024-13-01",
		  "invalid value for date: \"2024-13-01\"");
	CHECK_ERR(1082, -1, "1900-02-29", NULL);
	CHECK_ERR(1082, -1, "2024-04-31", NULL);
	CHECK_ERR(1082, -1, "2024-1-01", NULL);
	CHECK_ERR(1082, -1, "0000-01-01", NULL);
	CHECK_ERR(1082, -1, "2024-01-01 AD", NULL);
	CHECK_ERR(1082, -1, "2024-01-01x", NULL);

	CHECK_I(1083, -1, "00:00:00", 0);
	CHECK_I(1083, -1, "13:45:07", INT64_C(49507000000));
	CHECK_I(1083, -1, "13:45:07.123456", INT64_C(49507123456));
	CHECK_I(1083, -1, "13:45:07.5", INT64_C(49507500000));
	CHECK_I(1083, -1, "23:59:59.999999", INT64_C(86399999999));
	CHECK_I(1083, -1, "24:00:00", INT64_C(86400000000));
	CHECK_ERR(1083, -1, "24:00:01", "invalid value for time");
	CHECK_ERR(1083, -1, "12:60:00", NULL);
	CHECK_ERR(1083, -1, "12:00:00.", NULL);
	CHECK_ERR(1083, -1, "12:00:00.1234567", NULL);
	CHECK_ERR(1083, -1, "12:00", NULL);

	CHECK_I(1114, -1, "1970-01-01 00:00:00", 0);
	CHECK_I(1114, -1, "2024-02-29 13:45:07", INT64_C(1709214307000000));
	CHECK_I(1114, -1, "2024-02-29 13:45:07.5", INT64_C(1709214307500000));
	CHECK_I(1114, -1, "2024-02-29 13:45:07.123456",
		INT64_C(1709214307123456));
	CHECK_I(1114, -1, "1969-12-31 23:59:59.5", -500000);
	CHECK_I(1114, -1, "1969-12-31 23:59:59.999999", -1);
	CHECK_I(1114, -1, "0001-01-01 00:00:00", INT64_C(-62135596800000000));
	CHECK_I(1114, -1, "0044-03-15 12:00:00.5 BC",
		INT64_C(-63517780799500000));
	CHECK_UNREP(1114, -1, "infinity");
	CHECK_UNREP(1114, -1, "-infinity");
	/* the last microsecond a long holds, and the next one */
	CHECK_I(1114, -1, "294247-01-10 04:00:54.775807", INT64_MAX);
	CHECK_UNREP(1114, -1, "294247-01-10 04:00:54.775808");
	CHECK_UNREP(1114, -1, "294276-12-31 23:59:59.999999");
	CHECK_I(1114, -1, "4714-11-24 00:00:00 BC",
		INT64_C(-210866803200000000));
	CHECK_ERR(1114, -1, "2024-02-29 13:45:07+00", "unexpected time zone");
	CHECK_ERR(1114, -1, "2024-02-29T13:45:07",
		  "invalid value for timestamp:");
	CHECK_ERR(1114, -1, "2024-02-30 13:45:07", NULL);

	CHECK_I(1184, -1, "2024-02-29 13:45:07.5+00",
		INT64_C(1709214307500000));
	CHECK_I(1184, -1, "2024-02-29 13:45:07.123456+00:00:00",
		INT64_C(1709214307123456));
	CHECK_I(1184, -1, "2024-02-29 13:45:07.123456+05:30",
		INT64_C(1709194507123456));
	CHECK_I(1184, -1, "2024-02-29 13:45:07.123456-03",
		INT64_C(1709225107123456));
	CHECK_I(1184, -1, "1800-01-01 05:53:28+05:53:28",
		INT64_C(-5364662400000000));
	CHECK_I(1184, -1, "1969-12-31 23:59:59.5+00", -500000);
	CHECK_I(1184, -1, "0044-03-15 12:00:00.5+00 BC",
		INT64_C(-63517780799500000));
	CHECK_UNREP(1184, -1, "-infinity");
	CHECK_UNREP(1184, -1, "infinity");
	CHECK_I(1184, -1, "294247-01-10 04:00:54.775807+00", INT64_MAX);
	CHECK_UNREP(1184, -1, "294247-01-10 04:00:54.775808+00");
	CHECK_UNREP(1184, -1, "294276-12-31 23:59:59.999999+00");
	/* east of Greenwich: within the range once the offset is applied */
	CHECK_I(1184, -1, "294247-01-10 05:00:54.775807+01", INT64_MAX);
	CHECK_ERR(1184, -1, "2024-02-29 13:45:07+0", "timestamptz");
	CHECK_ERR(1184, -1, "2024-02-29 13:45:07+05:60", NULL);
}

/* Converts text for an array type of dims dimensions; checks bytes. */
static void check_dims(int line, uint32_t oid, int32_t typmod, int dims,
		       const char *text, const uint8_t *want, size_t n)
{
	struct wb_type t = type_of(oid, typmod);
	wb_pg_type_set_dims(&t, dims);
	struct wb_value v;
	wb_error_t err;
	wb_error_clear(&err);
	int rc = wb_pg_text_to_value(&t, text, strlen(text), &arena, &v, &err);
	if (rc != 0 || v.state != WB_VAL_PRESENT || v.u.b.n != n ||
	    memcmp(v.u.b.p, want, n) != 0 || wb_type_ndims(&t) != dims) {
		fprintf(stderr, "line %d: %s (%d dims): rc %d state %d %s got",
			line, text, dims, rc, v.state, rc ? err.message : "");
		for (uint32_t i = 0; rc == 0 && i < v.u.b.n; i++)
			fprintf(stderr, " %02x", v.u.b.p[i]);
		fprintf(stderr, "\n");
		failures++;
	}
}
#define CHECK_DIMS(oid, typmod, dims, text, ...)                               \
	do {                                                                   \
		static const uint8_t want_[] = {__VA_ARGS__};                  \
		check_dims(__LINE__, oid, typmod, dims, text, want_,           \
			   sizeof(want_));                                     \
	} while (0)

/* Several dimensions: nested Avro arrays, bytes from python3-avro's
 * DatumWriter on {"type":"array","items":{"type":"array","items":
 * ["null","int"]}} (and a third level). */
static void test_nested_arrays(void)
{
	/* [[1,2],[3,None]] */
	CHECK_DIMS(1007, -1, 2, "{{1,2},{3,NULL}}", 0x04, 0x04, 0x02, 0x02,
		   0x02, 0x04, 0x00, 0x04, 0x02, 0x06, 0x00, 0x00, 0x00);
	/* [] */
	CHECK_DIMS(1007, -1, 2, "{}", 0x00);
	/* [[[1],[2]]] */
	CHECK_DIMS(1007, -1, 3, "{{{1},{2}}}", 0x02, 0x04, 0x02, 0x02, 0x02,
		   0x00, 0x02, 0x02, 0x04, 0x00, 0x00, 0x00);
	/* [["a}b", None]] */
	CHECK_DIMS(1009, -1, 2, "{{\"a}b\",NULL}}", 0x02, 0x04, 0x02, 0x06,
		   0x61, 0x7d, 0x62, 0x00, 0x00, 0x00);
	/* a 2-D column given 1-D or 3-D values, or bounds */
	check_unrep(__LINE__, 1007, -1, 2, "{1,2}");
	check_unrep(__LINE__, 1007, -1, 2, "{{{1}}}");
	check_unrep(__LINE__, 1007, -1, 2, "[0:0][1:1]={{1}}");
	/* out-of-range declarations mean one dimension */
	check_unrep(__LINE__, 1007, -1, 7, "{{1}}");
	struct wb_type t = type_of(23, -1);
	wb_pg_type_set_dims(&t, 2);
	CHECK(wb_type_ndims(&t) == 0 && !t.may_not_fit);
}

static void test_arrays(void)
{
	CHECK_B(1007, -1, "{1,2,NULL}", 0x06, 0x02, 0x02, 0x02, 0x04, 0x00,
		0x00);
	CHECK_B(1007, -1, "{}", 0x00);
	/* a 1-D column never flattens another shape, nor drops bounds */
	CHECK_UNREP(1007, -1, "{{1,2},{3,4}}");
	CHECK_UNREP(1007, -1, "[0:2]={1,2,3}");
	CHECK_UNREP(1007, -1, "[1:2][-1:0]={{1,2},{3,4}}");
	CHECK_UNREP(1231, NUMERIC(5, 2), "{1.00,NaN}");
	CHECK_UNREP(1115, -1, "{\"2024-01-01 00:00:00\",infinity}");
	CHECK_UNREP(1182, -1, "{-infinity}");
	CHECK_B(1009, -1,
		"{\"a,b\",\"c\\\"d\",NULL,\"NULL\",\"\",\" x \","
		"\"back\\\\slash\",\"{}\"}",
		0x10, 0x02, 0x06, 0x61, 0x2c, 0x62, 0x02, 0x06, 0x63, 0x22,
		0x64, 0x00, 0x02, 0x08, 0x4e, 0x55, 0x4c, 0x4c, 0x02, 0x00,
		0x02, 0x06, 0x20, 0x78, 0x20, 0x02, 0x14, 0x62, 0x61, 0x63,
		0x6b, 0x5c, 0x73, 0x6c, 0x61, 0x73, 0x68, 0x02, 0x04, 0x7b,
		0x7d, 0x00);
	CHECK_B(1231, NUMERIC(5, 2), "{1.50,NULL,-0.01}", 0x06, 0x02, 0x04,
		0x00, 0x96, 0x00, 0x02, 0x02, 0xff, 0x00);
	CHECK_B(1185, -1, "{\"2024-01-01 00:00:00+00\"}", 0x02, 0x02, 0x80,
		0x80, 0x89, 0x82, 0xe2, 0xf5, 0x86, 0x06, 0x00);
	CHECK_B(1000, -1, "{t,f}", 0x04, 0x02, 0x01, 0x02, 0x00, 0x00);
	CHECK_B(1022, -1, "{NaN,-Infinity,1.5}", 0x06, 0x02, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0xf8, 0x7f, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0xf0, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0xf8, 0x3f, 0x00);
	CHECK_B(1001, -1, "{\"\\\\x0a\",NULL}", 0x04, 0x02, 0x02, 0x0a, 0x00,
		0x00);
	CHECK_B(1182, -1, "{2024-02-29,null,1969-12-31}", 0x06, 0x02, 0x8c,
		0xb5, 0x02, 0x00, 0x02, 0x01, 0x00);
	CHECK_ERR(1007, -1, "{1,2", "invalid value for int[]");
	CHECK_ERR(1007, -1, "{1,x}", "array element 2: invalid value for int");
	CHECK_ERR(1007, -1, "1,2", "expected {");
	CHECK_ERR(1007, -1, "{1,,2}", "empty element");
	CHECK_ERR(1007, -1, "{1}x", "after the closing");
	CHECK_ERR(1007, -1, "[0:2]{1}", "bad dimensions");
	CHECK_ERR(1009, -1, "{\"abc}", "unterminated quote");
	CHECK_ERR(1231, NUMERIC(5, 2), "{NaN,x}", "array element 2");
	CHECK_ERR(1007, -1, "{{1},2}", "different depths");
	CHECK_ERR(1007, -1, "{1,{2}}", "different depths");
	CHECK_ERR(1007, -1, "{{1},{}}", "empty sub-array");
	test_nested_arrays();
}

static void test_messages(void)
{
	struct wb_value v;
	wb_error_t err;
	/* the text is cut to 40 bytes, on a character boundary, and made
	 * printable */
	CHECK(conv(1082, -1,
		   "2024-13-01 and a lot more text than anybody wants\n", &v,
		   &err) == WB_ERR_TYPE);
	CHECK(strcmp(err.message,
		     "invalid value for date: \"2024-13-01 and a lot more text "
		     "than anyb\"...") == 0);
	CHECK(conv(23, -1, "\x01\xffxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxé", &v,
		   &err) == WB_ERR_TYPE);
	CHECK(strcmp(err.message,
		     "invalid value for int: \"?\xef\xbf\xbd"
		     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"...") == 0);
}

/* ~1M conversions of a typical mix; prints ns per value (not asserted). */
static void bench(void)
{
	struct wb_type ti = type_of(23, -1), tn = type_of(1700, NUMERIC(12, 3));
	struct wb_type tt = type_of(25, -1), ts = type_of(1184, -1);
	struct {
		const struct wb_type *t;
		const char *s;
	} mix[] = {
		{&ti, "1234567"},
		{&tn, "123456789.125"},
		{&tt, "pallet A-17, aisle 4"},
		{&ts, "2024-02-29 13:45:07.123456+00"},
	};
	size_t lens[4];
	for (int k = 0; k < 4; k++)
		lens[k] = strlen(mix[k].s);
	struct wb_arena a;
	wb_arena_init(&a, 1 << 20);
	struct wb_value v;
	wb_error_t err;
	int bad = 0;
	struct timespec t0, t1;
	const int n = 1000000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		int k = i & 3;
		bad |= wb_pg_text_to_value(mix[k].t, mix[k].s, lens[k], &a, &v,
					   &err);
		if ((i & 4095) == 4095)
			wb_arena_reset(&a);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wb_arena_free(&a);
	double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		     (double)(t1.tv_nsec - t0.tv_nsec)) /
		    n;
	CHECK(bad == 0);
	printf("bench: %.1f ns per value (int, numeric(12,3), text, "
	       "timestamptz)\n",
	       ns);
}

/* A string column's valid UTF-8 text is the value itself, not copied; any
 * other text is converted as wb_pg_text_to_value does. */
static void test_ref(void)
{
	wb_error_t err = {0};
	struct wb_value v;
	struct wb_type text = type_of(25, -1), i4 = type_of(23, -1);
	struct wb_type arr = type_of(1009, -1);
	static const char ok[] = "caf\xc3\xa9 ok", bad[] = "a\xff";
	CHECK(wb_pg_text_to_value_ref(&text, ok, 8, &arena, &v, &err) == 0);
	CHECK(v.state == WB_VAL_PRESENT && v.u.b.p == (const uint8_t *)ok &&
	      v.u.b.n == 8);
	CHECK(wb_pg_text_to_value_ref(&text, bad, 2, &arena, &v, &err) == 0);
	CHECK(v.u.b.p != (const uint8_t *)bad && v.u.b.n == 4 &&
	      memcmp(v.u.b.p, "a\xef\xbf\xbd", 4) == 0);
	CHECK(wb_pg_text_to_value_ref(&i4, "42", 2, &arena, &v, &err) == 0);
	CHECK(v.state == WB_VAL_PRESENT && v.u.i == 42);
	const char *arrtext = "{a}";
	CHECK(wb_pg_text_to_value_ref(&arr, arrtext, 3, &arena, &v, &err) == 0);
	CHECK(v.u.b.p != (const uint8_t *)arrtext && v.u.b.n > 3);
}

int main(void)
{
	wb_arena_init(&arena, 4096);
	test_ref();
	test_mapping();
	test_scalars();
	test_decimals();
	test_times();
	test_arrays();
	test_messages();
	bench();
	wb_arena_free(&arena);
	if (failures) {
		fprintf(stderr, "test_pg_types: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_pg_types: ok\n");
	return 0;
}
