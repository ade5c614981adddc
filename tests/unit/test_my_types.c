/* test_my_types.c — MySQL/MariaDB column types to Avro types, and binlog and
 * text-protocol values to wb_value.
 *
 * Where the expected values come from:
 *   - DECIMAL(14,4) 1234567890.1234 = 81 0D FB 38 D2 04 D2 and its negative
 *     7E F2 04 C7 2D FB 2D: the example in MySQL's strings/decimal.cc
 *     (decimal2bin); Avro bytes by Python's int.to_bytes(signed=True);
 *   - TIME2 60 43 e5 = -507:48:27: rust_mysql_common's time_issue.000001
 *     test (Value::Time(true, 21, 3, 48, 27, 0));
 *   - other temporal byte strings encoded by a separate Python script after
 *     MySQL's my_time.cc (my_*_packed_to_binary), the values from Python's
 *     datetime;
 *   - latin1, greek, INET6 texts: printed by MariaDB 10.11 (SELECT
 *     HEX(CONVERT(_latin1 0x80818d8f909d9fa0ff USING utf8mb4)),
 *     CAST('...' AS INET6)). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "my_types.h"
#include "check.h"

static struct wb_arena arena;

static struct wb_my_tmcol col(uint8_t type)
{
	struct wb_my_tmcol c;
	memset(&c, 0, sizeof(c));
	c.type = c.wire_type = type;
	c.is_unsigned = 0;
	c.charset = -1;
	c.visible = -1;
	c.nullable = true;
	return c;
}

static int hexbytes(const char *hex, uint8_t *out)
{
	int n = 0;
	for (; hex[0] && hex[1]; hex += 2) {
		if (*hex == ' ') {
			hex--;
			continue;
		}
		sscanf(hex, "%2hhx", &out[n++]);
	}
	return n;
}

static char *tohex(const uint8_t *p, size_t n)
{
	static char buf[1024];
	size_t o = 0;
	for (size_t i = 0; i < n && o + 3 < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%02x", p[i]);
	buf[o] = '\0';
	return buf;
}

/* Decodes hex as column c; the whole input must be consumed. */
static int dec(int line, const struct wb_my_tmcol *c, const char *hex,
	       struct wb_value *v)
{
	uint8_t b[512];
	int n = hexbytes(hex, b);
	struct wb_type t;
	wb_my_map_type(c, &t);
	size_t used = 99;
	wb_error_t err;
	wb_error_clear(&err);
	int rc =
		wb_my_value_decode(c, &t, b, (size_t)n, &used, &arena, v, &err);
	if (rc != 0 || used != (size_t)n) {
		fprintf(stderr, "line %d: %s: rc %d used %zu of %d: %s\n", line,
			hex, rc, used, n, err.message);
		failures++;
		return -1;
	}
	return 0;
}

static void check_i(int line, const struct wb_my_tmcol *c, const char *hex,
		    int64_t want)
{
	struct wb_value v;
	if (dec(line, c, hex, &v))
		return;
	if (v.state != WB_VAL_PRESENT || v.u.i != want) {
		fprintf(stderr, "line %d: %s: state %d got %lld want %lld\n",
			line, hex, v.state, (long long)v.u.i, (long long)want);
		failures++;
	}
}
#define CHECK_I(c, hex, want) check_i(__LINE__, &(c), hex, want)

/* bytes (hex) or text; state as wanted */
static void check_b(int line, const struct wb_my_tmcol *c, const char *hex,
		    int state, const char *want_hex)
{
	struct wb_value v;
	if (dec(line, c, hex, &v))
		return;
	const char *got = tohex(v.u.b.p, v.u.b.n);
	if (v.state != state || strcmp(got, want_hex) != 0) {
		fprintf(stderr, "line %d: %s: state %d got %s want %s\n", line,
			hex, v.state, got, want_hex);
		failures++;
	}
}
#define CHECK_B(c, hex, want) check_b(__LINE__, &(c), hex, 1, want)

static void check_s(int line, const struct wb_my_tmcol *c, const char *hex,
		    int state, const char *want)
{
	struct wb_value v;
	if (dec(line, c, hex, &v))
		return;
	if (v.state != state || v.u.b.n != strlen(want) ||
	    memcmp(v.u.b.p, want, v.u.b.n) != 0) {
		fprintf(stderr, "line %d: %s: state %d got \"%.*s\" want %s\n",
			line, hex, v.state, (int)v.u.b.n,
			v.u.b.p ? (const char *)v.u.b.p : "", want);
		failures++;
	}
}
#define CHECK_S(c, hex, want) check_s(__LINE__, &(c), hex, 1, want)
#define CHECK_UNREP(c, hex, want) check_s(__LINE__, &(c), hex, 3, want)

static void check_short(int line, const struct wb_my_tmcol *c, const char *hex)
{
	uint8_t b[64];
	int n = hexbytes(hex, b);
	struct wb_type t;
	wb_my_map_type(c, &t);
	size_t used;
	struct wb_value v;
	wb_error_t err;
	if (wb_my_value_decode(c, &t, b, (size_t)n, &used, &arena, &v, &err) !=
	    WB_ERR_DECODE) {
		fprintf(stderr, "line %d: %s decoded\n", line, hex);
		failures++;
	}
}
#define CHECK_BAD(c, hex) check_short(__LINE__, &(c), hex)

static void test_map(void)
{
	struct wb_my_tmcol c = col(WB_MY_T_LONG);
	struct wb_type t;
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_INT && t.src_type == WB_MY_T_LONG);
	c.is_unsigned = 1;
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_LONG);
	c = col(WB_MY_T_LONGLONG);
	c.is_unsigned = -1; /* unknown: signed */
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_LONG && t.s.logical == WB_L_NONE);
	c.is_unsigned = 1;
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_BYTES && t.s.logical == WB_L_DECIMAL &&
	      t.s.precision == 20 && t.s.scale == 0);
	c = col(WB_MY_T_NEWDECIMAL);
	c.precision = 65;
	c.scale = 30;
	wb_my_map_type(&c, &t);
	CHECK(t.s.logical == WB_L_DECIMAL && t.s.precision == 65 &&
	      t.s.scale == 30 && !t.may_not_fit);
	c = col(WB_MY_T_BIT);
	c.bits = 1;
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_BOOLEAN);
	c.bits = 2;
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_BYTES);
	c = col(WB_MY_T_YEAR);
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_INT && t.s.logical == WB_L_NONE);
	c = col(WB_MY_T_DATE);
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_INT && t.s.logical == WB_L_DATE &&
	      t.may_not_fit);
	c = col(WB_MY_T_TIME2);
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_LONG && t.s.logical == WB_L_NONE &&
	      !t.may_not_fit);
	c = col(WB_MY_T_DATETIME2);
	wb_my_map_type(&c, &t);
	CHECK(t.s.logical == WB_L_LOCAL_TIMESTAMP_MICROS && t.may_not_fit);
	c = col(WB_MY_T_TIMESTAMP);
	wb_my_map_type(&c, &t);
	CHECK(t.s.logical == WB_L_TIMESTAMP_MICROS && t.may_not_fit);
	c = col(WB_MY_T_STRING);
	c.charset = 63;
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_BYTES);
	c.declared = "uuid";
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_UUID);
	c.declared = "inet6";
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_NONE);
	c = col(WB_MY_T_VARCHAR);
	c.charset = -1; /* unknown: text */
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_STRING);

	c = col(WB_MY_T_BLOB);
	wb_my_map_type(&c, &t); /* unknown charset: bytes */
	CHECK(t.s.kind == WB_T_BYTES);
	c.charset = 46;
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_NONE);
	c.declared = "json";
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_JSON);
	c = col(WB_MY_T_JSON);
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_STRING && t.s.logical == WB_L_JSON);
	c = col(WB_MY_T_GEOMETRY);
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_BYTES);
	c = col(WB_MY_T_ENUM);
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_STRING);
	c = col(WB_MY_T_FLOAT);
	c.pack_len = 4;
	wb_my_map_type(&c, &t);
	CHECK(t.s.kind == WB_T_FLOAT);
}

static void test_numbers(void)
{
	struct wb_my_tmcol c = col(WB_MY_T_TINY);
	CHECK_I(c, "80", -128);
	CHECK_I(c, "7f", 127);
	c.is_unsigned = 1;
	CHECK_I(c, "ff", 255);
	c = col(WB_MY_T_SHORT);
	CHECK_I(c, "0080", -32768);
	c.is_unsigned = 1;
	CHECK_I(c, "ffff", 65535);
	c = col(WB_MY_T_INT24);
	CHECK_I(c, "000080", -8388608);
	CHECK_I(c, "ffff7f", 8388607);
	c.is_unsigned = 1;
	CHECK_I(c, "ffffff", 16777215);
	c = col(WB_MY_T_LONG);
	CHECK_I(c, "ffffffff", -1);
	CHECK_BAD(c, "ffffff");
	c.is_unsigned = 1;
	CHECK_I(c, "d3f988c0", 3230202323); /* minimal_row_metadata */
	c = col(WB_MY_T_LONGLONG);
	CHECK_I(c, "0000000000000080", INT64_MIN);
	c.is_unsigned = 1;
	CHECK_B(c, "ffffffffffffffff", "00ffffffffffffffff");
	CHECK_B(c, "0000000000000080", "008000000000000000");
	CHECK_B(c, "0000000000000000", "00");

	c = col(WB_MY_T_YEAR);
	CHECK_I(c, "00", 0);
	CHECK_I(c, "7c", 2024);
	CHECK_I(c, "ff", 2155);
	CHECK_I(c, "01", 1901);

	struct wb_value v;
	c = col(WB_MY_T_FLOAT);
	c.pack_len = 4;
	if (dec(__LINE__, &c, "0000c03f", &v) == 0)
		CHECK(v.u.f == 1.5f);
	c = col(WB_MY_T_DOUBLE);
	c.pack_len = 8;
	if (dec(__LINE__, &c, "182d4454fb210940", &v) == 0)
		CHECK(v.u.d == 3.141592653589793);
	if (dec(__LINE__, &c, "0000000000000080", &v) == 0)
		CHECK(v.u.d == 0 && signbit(v.u.d));

	c = col(WB_MY_T_NEWDECIMAL);
	c.precision = 14;
	c.scale = 4;
	CHECK_B(c, "810dfb38d204d2", "0b3a73ce2ff2");
	CHECK_B(c, "7ef204c72dfb2d", "f4c58c31d00e");
	CHECK_BAD(c, "810dfb38d204");
	c.precision = 10;
	c.scale = 0;
	/* -1234567890: leading group of 1 digit (1 byte), one of 9 */
	CHECK_B(c, "7ef204c72d", "b669fd2e");
	CHECK_B(c, "8000000000", "00");
	c.precision = 5;
	c.scale = 0;
	CHECK_B(c, "81869f", "01869f"); /* 99999 */
	c.precision = 4;
	c.scale = 2;
	CHECK_BAD(c, "8a64"); /* 10.100: a 2-digit group holding 100 */

	c = col(WB_MY_T_BIT);
	c.bits = 1;
	CHECK_I(c, "01", 1);
	CHECK_I(c, "00", 0);
	c.bits = 9;
	CHECK_B(c, "0155", "0155");
	c.bits = 3; /* mysql_type_bit.000001: b'100' */
	CHECK_B(c, "04", "04");
}

static void test_temporal(void)
{
	struct wb_my_tmcol c = col(WB_MY_T_DATE);
	CHECK_I(c, "5dd00f", 19782);   /* 2024-02-29 */
	CHECK_I(c, "210000", -719528); /* 0000-01-01: year 0 is a year */
	CHECK_UNREP(c, "000000", "0000-00-00");
	CHECK_UNREP(c, "0fc80f", "2020-00-15");
	CHECK_UNREP(c, "5eca0f", "2021-02-30");

	c = col(WB_MY_T_TIME2);
	CHECK_I(c, "6043e5", -INT64_C(1828107000000)); /* -507:48:27 */
	CHECK_I(c, "b46efb", INT64_C(3020399000000));  /* 838:59:59 */
	c.fsp = 1;
	CHECK_I(c, "4b9105a6", -INT64_C(3020398900000));
	CHECK_I(c, "80000032", 500000);
	c.fsp = 3;
	CHECK_I(c, "7ffffffff6", -1000);
	CHECK_I(c, "7fefffec78", -INT64_C(3600500000));
	c.fsp = 6;
	CHECK_I(c, "7f3747fffff9", -INT64_C(45296000007));
	CHECK_I(c, "7ffffef0bdc1", -1999999);
	CHECK_BAD(c, "7ffffef0bd");

	c = col(WB_MY_T_DATETIME2);
	c.fsp = 6;
	CHECK_I(c, "99b2badb4701e240", INT64_C(1709214307123456));
	c.fsp = 1;
	CHECK_I(c, "99027f7efb32", -500000);
	c.fsp = 2;
	CHECK_I(c, "fef3ff7efb63", INT64_C(253402300799990000));
	c.fsp = 0;
	CHECK_UNREP(c, "8000000000", "0000-00-00 00:00:00");
	c.fsp = 3;
	CHECK_UNREP(c, "80000000000000", "0000-00-00 00:00:00.000");

	c = col(WB_MY_T_TIMESTAMP2);
	c.fsp = 3;
	CHECK_I(c, "7fffffff2706", INT64_C(2147483647999000));
	CHECK_UNREP(c, "000000000000", "0000-00-00 00:00:00.000");
	c.fsp = 0;
	CHECK_I(c, "00000001", 1000000);
	CHECK_UNREP(c, "00000000", "0000-00-00 00:00:00");

	/* old formats: MySQL's (fsp 0) */
	c = col(WB_MY_T_TIME);
	CHECK_I(c, "590a80", -INT64_C(3020399000000)); /* -838:59:59 */
	CHECK_I(c, "40e201", INT64_C(45296000000));    /* 12:34:56 */
	c = col(WB_MY_T_DATETIME);
	CHECK_I(c, "abf0aa8b68120000", INT64_C(1709214307000000));
	CHECK_UNREP(c, "0000000000000000", "0000-00-00 00:00:00");
	c = col(WB_MY_T_TIMESTAMP);
	CHECK_I(c, "ffffff7f", INT64_C(2147483647000000));
	CHECK_UNREP(c, "00000000", "0000-00-00 00:00:00");
	/* MariaDB's own with fractions: TIME(2) -01:02:03.45 */
	c = col(WB_MY_T_TIME);
	c.fsp = 2;
	CHECK_I(c, "11fb1547", -INT64_C(3723450000));
}

static void test_strings(void)
{
	struct wb_my_tmcol c = col(WB_MY_T_VARCHAR);
	c.length = 1200;
	c.charset = 45;
	CHECK_S(c, "0500616263c3a9", "abc\xc3\xa9"); /* 2-byte length */
	CHECK_S(c, "0300ff6162",
		"\xef\xbf\xbd"
		"ab");
	c.length = 10;
	CHECK_S(c, "00", "");
	c.charset = 8; /* latin1 = cp1252 */
	CHECK_S(c, "0980818d8f909d9fa0ff",
		"\xe2\x82\xac\xc2\x81\xc2\x8d\xc2\x8f\xc2\x90\xc2\x9d\xc5\xb8"
		"\xc2\xa0\xc3\xbf");
	c.charset = 25; /* greek, through iconv */
	CHECK_S(c, "03e1e2e3", "\xce\xb1\xce\xb2\xce\xb3");
	c.charset = 33; /* utf8mb3 */
	CHECK_S(c, "06c384c396c39c", "\xc3\x84\xc3\x96\xc3\x9c");

	c = col(WB_MY_T_STRING);
	c.length = 20;
	c.charset = 45;
	CHECK_S(c, "026162", "ab"); /* the server strips CHAR's spaces */
	c.length = 6;
	c.charset = 63;
	CHECK_B(c, "020102", "010200000000"); /* BINARY(6) */
	CHECK_B(c, "00", "000000000000");
	c.length = 16;
	c.declared = "uuid";
	CHECK_S(c, "0f123e4567e89b12d3a4564266141740",
		"123e4567-e89b-12d3-a456-426614174000");
	CHECK_S(c, "00", "00000000-0000-0000-0000-000000000000");
	c.declared = "inet6";
	CHECK_S(c, "1000000000000000000000ffffc0a80001", "::ffff:192.168.0.1");
	CHECK_S(c, "1020010db8000000000000000000000001", "2001:db8::1");
	/* MariaDB: CAST('1:0:2:3:4:5:6:7' AS INET6) etc. */
	CHECK_S(c, "1000010000000200030004000500060007", "1::2:3:4:5:6:7");
	CHECK_S(c, "1000000000000000000000000001020304", "::1.2.3.4");
	CHECK_S(c, "00", "::");
	CHECK_S(c, "1000000000000000000000000000000001", "::1");
	CHECK_S(c, "020001", "1::");
	CHECK_S(c, "0c000000000001000000000001", "::1:0:0:1:0:0");
	CHECK_S(c, "06000100000002", "1:0:2::");

	c = col(WB_MY_T_BLOB);
	c.pack_len = 2;
	c.charset = 63;
	CHECK_B(c, "0400deadbeef", "deadbeef");
	CHECK_BAD(c, "0500deadbeef");
	c.charset = 45;
	CHECK_S(c, "0400f09f9880", "\xf0\x9f\x98\x80");
	c = col(WB_MY_T_GEOMETRY);
	c.pack_len = 4;
	CHECK_B(c,
		"19000000000000000101000000000000000000f03f000000000000"
		"0040",
		"000000000101000000000000000000f03f0000000000000040");

	static char *ev[] = {"a", "b", "c"};
	c = col(WB_MY_T_ENUM);
	c.length = 1;
	c.enum_values = ev;
	c.nenum = 3;
	CHECK_S(c, "02", "b");
	CHECK_S(c, "00", "");
	CHECK_S(c, "04", "4");
	c.length = 2;
	CHECK_S(c, "0300", "c");
	c.enum_values = NULL;
	CHECK_S(c, "0300", "3");

	static char *sv[] = {"x", "y", "z"};
	c = col(WB_MY_T_SET);
	c.length = 1;
	c.set_values = sv;
	c.nset = 3;
	CHECK_S(c, "05", "x,z");
	CHECK_S(c, "07", "x,y,z");
	CHECK_S(c, "00", "");
	CHECK_S(c, "08", "8");
	c.set_values = NULL;
	CHECK_S(c, "05", "5");
}

/* text protocol, for snapshots */
static void check_text(int line, const struct wb_my_tmcol *c, const char *text,
		       int state, int64_t want_i, const char *want_hex)
{
	struct wb_type t;
	wb_my_map_type(c, &t);
	struct wb_value v;
	wb_error_t err;
	wb_error_clear(&err);
	int rc = wb_my_text_to_value(c, &t, text, strlen(text), &arena, &v,
				     &err);
	int ok = rc == 0 && v.state == state;
	if (ok && want_hex)
		ok = strcmp(tohex(v.u.b.p, v.u.b.n), want_hex) == 0;
	else if (ok)
		ok = v.u.i == want_i;
	if (!ok) {
		fprintf(stderr, "line %d: \"%s\": rc %d (%s) state %d i %lld\n",
			line, text, rc, err.message, v.state, (long long)v.u.i);
		failures++;
	}
}

static void test_text(void)
{
	struct wb_my_tmcol c = col(WB_MY_T_LONG);
	check_text(__LINE__, &c, "-2147483648", 1, INT32_MIN, NULL);
	c = col(WB_MY_T_LONGLONG);
	c.is_unsigned = 1;
	check_text(__LINE__, &c, "18446744073709551615", 1, 0,
		   "00ffffffffffffffff");
	c = col(WB_MY_T_NEWDECIMAL);
	c.precision = 14;
	c.scale = 4;
	check_text(__LINE__, &c, "1234567890.1234", 1, 0, "0b3a73ce2ff2");
	c = col(WB_MY_T_DATE);
	check_text(__LINE__, &c, "2024-02-29", 1, 19782, NULL);
	check_text(__LINE__, &c, "0000-00-00", 3, 0, "303030302d30302d3030");
	c = col(WB_MY_T_DATETIME2);
	check_text(__LINE__, &c, "2024-02-29 13:45:07.123456", 1,
		   INT64_C(1709214307123456), NULL);
	c = col(WB_MY_T_TIMESTAMP2);
	check_text(__LINE__, &c, "1969-12-31 23:59:59.5", 1, -500000, NULL);
	c = col(WB_MY_T_TIME2);
	check_text(__LINE__, &c, "-838:59:59.000000", 1,
		   -INT64_C(3020399000000), NULL);
	check_text(__LINE__, &c, "-00:00:00.001", 1, -1000, NULL);
	c = col(WB_MY_T_YEAR);
	check_text(__LINE__, &c, "0000", 1, 0, NULL);
	c = col(WB_MY_T_BIT);
	c.bits = 9;
	check_text(__LINE__, &c, "\x01", 1, 0, "0001");
	c = col(WB_MY_T_STRING);
	c.charset = 63;
	c.length = 4;
	check_text(__LINE__, &c, "ab", 1, 0, "61620000");
	struct wb_type t;
	struct wb_value v;
	wb_error_t err;
	c = col(WB_MY_T_LONG);
	wb_my_map_type(&c, &t);
	CHECK(wb_my_text_to_value(&c, &t, "12x", 3, &arena, &v, &err) ==
	      WB_ERR_TYPE);
}

int main(void)
{
	wb_arena_init(&arena, 1 << 16);
	test_map();
	test_numbers();
	test_temporal();
	test_strings();
	test_text();
	wb_arena_free(&arena);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
