/* test_my_json.c — MySQL binary JSON to text, and partial JSON updates.
 *
 * Where the expected values come from:
 *   - /work/shared/fixtures/mysql-binlogs/json-opaque.binlog (MySQL 9.0.1):
 *     the JSON value of each WRITE_ROWS event (offset named below), with
 *     the values rust_mysql_common's binlog test asserts for them
 *     ({"a": "base64:type15:VQ=="}, "2012-03-18", "2012-03-18
 *     11:30:45.000000", "87:31:46.654321", "123.456", "9.00", [0, 1, true,
 *     false], null), printed as MySQL prints them (decimals unquoted);
 *   - json.binlog.000001 (MySQL 8.0.22): the document of the WRITE_ROWS at
 *     1059 and the PARTIAL_UPDATE_ROWS diff at 3750 ($.age replaced by 26),
 *     read after sql-common/json_binary.cc's format description;
 *   - doubles: MySQL and MariaDB print both through my_gcvt; MariaDB 10.11
 *     printed SELECT 1e-7, 1e15, 1e14, 1.5e-15, 1e-15, 1e-16,
 *     9007199254740992e0, 1.7976931348623157e308, 123456789.123e0, 0.1e0,
 *     -2.25e-300, 1e16, 1234567890123456.7e0 as the texts below (JSON adds
 *     ".0" to a double shown as an integer: Json_wrapper::to_string). */
#include <stdio.h>
#include <string.h>

#include "my_json.h"
#include "check.h"

static struct wb_arena arena;

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;
	for (; hex[0] && hex[1]; hex += 2)
		sscanf(hex, "%2hhx", &out[n++]);
	return n;
}

static void check_json(int line, const char *hex, const char *want)
{
	static uint8_t b[8192];
	size_t n = unhex(hex, b);
	wb_error_t err;
	wb_error_clear(&err);
	const uint8_t *text = NULL;
	size_t len = 0;
	int rc = wb_my_json_text(b, n, &arena, &text, &len, &err);
	if (rc != 0 || len != strlen(want) || memcmp(text, want, len) != 0) {
		fprintf(stderr, "line %d: rc %d %s\n  got:  %.*s\n  want: %s\n",
			line, rc, err.message, rc ? 0 : (int)len,
			rc ? "" : (const char *)text, want);
		failures++;
	}
	/* the wb_buf variant appends the same text */
	struct wb_buf buf;
	wb_buf_init(&buf);
	wb_buf_append(&buf, "x", 1);
	rc = wb_my_json_to_text(b, n, &buf, &err);
	if (rc != 0 || buf.len != strlen(want) + 1 ||
	    memcmp(buf.data + 1, want, buf.len - 1) != 0) {
		fprintf(stderr, "line %d: wb_buf variant differs\n", line);
		failures++;
	}
	wb_buf_free(&buf);
}
#define CHECK_JSON(hex, want) check_json(__LINE__, hex, want)

static void check_bad(int line, const char *hex)
{
	static uint8_t b[8192];
	size_t n = unhex(hex, b);
	wb_error_t err;
	const uint8_t *text;
	size_t len;
	if (wb_my_json_text(b, n, &arena, &text, &len, &err) != WB_ERR_DECODE) {
		fprintf(stderr, "line %d: %s decoded\n", line, hex);
		failures++;
	}
}
#define CHECK_BAD(hex) check_bad(__LINE__, hex)

/* Applies the diffs (hex) to before; want NULL: cannot be applied. */
static void check_diff(int line, const char *before, const char *diffs,
		       const char *want)
{
	static uint8_t b[4096];
	size_t n = unhex(diffs, b);
	wb_error_t err;
	wb_error_clear(&err);
	const uint8_t *text = NULL;
	size_t len = 0;
	int rc = wb_my_json_apply_diffs((const uint8_t *)before, strlen(before),
					b, n, &arena, &text, &len, &err);
	int ok = want ? rc == 0 && len == strlen(want) &&
				 memcmp(text, want, len) == 0
		      : rc == 1;
	if (!ok) {
		fprintf(stderr, "line %d: rc %d %s\n  got:  %.*s\n  want: %s\n",
			line, rc, err.message, rc ? 0 : (int)len,
			rc ? "" : (const char *)text, want ? want : "(none)");
		failures++;
	}
}
#define CHECK_DIFF(before, diffs, want)                                        \
	check_diff(__LINE__, before, diffs, want)

/* One diff as bytes: op, path, and for replace/insert a binary value. */
static const char *diff(int op, const char *path, const char *value_hex)
{
	static char buf[4][1024];
	static int k;
	char *o = buf[k++ % 4];
	size_t n = (size_t)sprintf(o, "%02x%02zx", op, strlen(path));
	for (const char *p = path; *p; p++)
		n += (size_t)sprintf(o + n, "%02x", (unsigned char)*p);
	if (value_hex)
		sprintf(o + n, "%02zx%s", strlen(value_hex) / 2, value_hex);
	return o;
}

static void test_fixtures(void)
{
	/* json-opaque.binlog, WRITE_ROWS at 736, 846, 963, 1080, 1197, 1312,
	 * 1428, 1551 */
	CHECK_JSON("0001000f000b0001000f0c00610f0155",
		   "{\"a\": \"base64:type15:VQ==\"}");
	CHECK_JSON("00010016000b0001000f0c00620a080000000000e48b19",
		   "{\"b\": \"2012-03-18\"}");
	CHECK_JSON("00010016000b0001000f0c00630c08000000adb7e48b19",
		   "{\"c\": \"2012-03-18 11:30:45.000000\"}");
	CHECK_JSON("00010016000b0001000f0c00630b08f1fb09ee77050000",
		   "{\"c\": \"87:31:46.654321\"}");
	CHECK_JSON("00010014000b0001000f0c0064f6060603807b01c8",
		   "{\"d\": 123.456}");
	CHECK_JSON("00010015000b0001000f0c0065f6070b028000000900",
		   "{\"e\": 9.00}");
	CHECK_JSON("0001001c000b000100020c0065040010000500000501000401000402"
		   "00",
		   "{\"e\": [0, 1, true, false]}");
	CHECK_JSON("0001000c000b00010004000065", "{\"e\": null}");
	/* json.binlog.000001, WRITE_ROWS at 1059 */
	CHECK_JSON(
		"0003003300190003001c000400200004000518000c24000c2f0061676564"
		"6174616e616d650a78787878787878787878034a6f65",
		"{\"age\": 24, \"data\": \"xxxxxxxxxx\", \"name\": \"Joe\"}");
}

static void test_scalars(void)
{
	CHECK_JSON("", "null");
	CHECK_JSON("0400", "null");
	CHECK_JSON("0401", "true");
	CHECK_JSON("0402", "false");
	CHECK_BAD("0403");
	CHECK_JSON("05ffff", "-1");
	CHECK_JSON("060080", "32768");
	CHECK_JSON("0700000080", "-2147483648");
	CHECK_JSON("08ffffffff", "4294967295");
	CHECK_JSON("090000000000000080", "-9223372036854775808");
	CHECK_JSON("0affffffffffffffff", "18446744073709551615");
	CHECK_JSON("0c03616263", "\"abc\"");
	/* escapes: " \ \b \f \n \r \t, other control bytes as \u00xx, 0x7f
	 * and UTF-8 as they are */
	CHECK_JSON("0c0f225c080c0a0d09011f7fc3a9e282ac",
		   "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9\xe2\x82"
		   "\xac\"");
	/* a 200-byte string: two-byte length (0xc8 0x01) */
	char hex[1024] = "0cc801";
	for (int i = 0; i < 200; i++)
		strcat(hex, "61");
	char want[256] = "\"";
	for (int i = 0; i < 200; i++)
		strcat(want, "a");
	strcat(want, "\"");
	CHECK_JSON(hex, want);
	CHECK_BAD("0cc8016161");
	CHECK_BAD("0c");
	CHECK_BAD("0b000000");
	CHECK_BAD("0e00");
}

static void test_doubles(void)
{
	CHECK_JSON("0b000000000000f83f", "1.5");
	CHECK_JSON("0b0000000000005940", "100.0");
	CHECK_JSON("0b0000000000000080", "-0.0");
	CHECK_JSON("0b0080e03779c34143", "1e16");
	CHECK_JSON("0b00003426f56b0c43", "1e15");
	CHECK_JSON("0b0000901ec4bcd642", "100000000000000.0");
	CHECK_JSON("0b9a9999999999b93f", "0.1");
	CHECK_JSON("0b48afbc9af2d77a3e", "0.0000001");
	CHECK_JSON("0b20015b6e8705db3c", "0.0000000000000015");
	CHECK_JSON("0b1656e79eaf03d23c", "0.000000000000001");
	CHECK_JSON("0bbc89d897b2d29c3c", "1e-16");
	CHECK_JSON("0b0000000000004043", "9.007199254740992e15");
	CHECK_JSON("0bffffffffffffef7f", "1.7976931348623157e308");
	CHECK_JSON("0bb6f37d54346f9d41", "123456789.123");
	CHECK_JSON("0bc41158bbe31bb881", "-2.25e-300");
	CHECK_JSON("0b03eb2af2548b1143", "1234567890123456.8");
}

/* n nested arrays, the innermost empty: [[...[]...]] as small arrays of
 * one element (count, size, entry 02 0700, then the inner array). */
static void nested(int n, char *hex, char *want)
{
	size_t o = (size_t)sprintf(hex, "02");
	for (int i = 0; i < n - 1; i++) {
		unsigned size = 7u * (unsigned)(n - 1 - i) + 4;
		o += (size_t)sprintf(hex + o, "0100%02x%02x020700", size & 0xff,
				     size >> 8);
	}
	sprintf(hex + o, "00000400");
	for (int i = 0; i < n; i++)
		want[i] = '[';
	for (int i = 0; i < n; i++)
		want[n + i] = ']';
	want[2 * n] = '\0';
}

static void test_containers(void)
{
	/* vectors written by a separate Python encoder of the format (the
	 * same encoder reproduces json.binlog.000001's document byte for
	 * byte) */
	CHECK_JSON("0200000400", "[]");
	CHECK_JSON("0000000400", "{}");
	/* large: 4-byte counts, sizes, offsets; int32 inline */
	CHECK_JSON("03030000001900000005010000000c1700000007701101000178",
		   "[1, \"x\", 70000]");
	CHECK_JSON("01010000002100000013000000010003140000006b01000000"
		   "0d0000000401000000",
		   "{\"k\": [true]}");
	CHECK_JSON("0001001c000b000100000c0061010010000b000100020c006200000400",
		   "{\"a\": {\"b\": []}}");
	CHECK_JSON("0001000f000b0002000c0d0022000122",
		   "{\"\\\"\\u0000\": \"\\\"\"}");
	CHECK_BAD("0002000400");	     /* 2 elements in 4 bytes */
	CHECK_BAD("000100ff000b0001000400"); /* size past the value */
	CHECK_BAD("0201000700"
		  "0cff00");			 /* value offset outside */
	CHECK_BAD("0001000d00ff0001000400006b"); /* key outside */
	CHECK_BAD("02");

	/* JSON_DOCUMENT_MAX_DEPTH: 100 nested arrays print, 101 do not */
	static char hex[4096], want[512];
	nested(100, hex, want);
	CHECK_JSON(hex, want);
	nested(101, hex, want);
	CHECK_BAD(hex);
}

static void test_opaque(void)
{
	/* VAR_STRING (253) opaque: a plain string */
	CHECK_JSON("0ffd03616222", "\"ab\\\"\"");
	/* 60 bytes of BLOB (252): base64 with a newline after 76 chars */
	char hex[512] = "0ffc3c";
	for (int i = 0; i < 60; i++)
		strcat(hex, "00");
	char want[256] = "\"base64:type252:";
	for (int i = 0; i < 76; i++)
		strcat(want, "A");
	strcat(want, "\\nAAAA\"");
	CHECK_JSON(hex, want);
	/* negative TIME: -00:00:01.500000 = -(1 << 24 | 500000) packed */
	CHECK_JSON("0f0b08e05ef8feffffffff", "\"-00:00:01.500000\"");
	/* DATETIME with microseconds: 2024-02-29 13:45:07.123456 */
	CHECK_JSON("0f0c0840e20147dbbab219", "\"2024-02-29 13:45:07.123456\"");
	/* DECIMAL(5,2) -1.50: 7e fe 4d */
	CHECK_JSON("0ff60505027ffecd", "-1.50");
	CHECK_JSON("0ff6050502800000", "0.00");
	CHECK_BAD("0ff6040502fffe");
	CHECK_BAD("0f0b07000000000000");
}

static void test_diffs(void)
{
	const char *doc =
		"{\"age\": 25, \"data\": \"xxxxxxxxxx\", \"name\": \"Joe\"}";
	/* json.binlog.000001, PARTIAL_UPDATE_ROWS at 3750 */
	CHECK_DIFF(
		doc, "0005242e61676503051a00",
		"{\"age\": 26, \"data\": \"xxxxxxxxxx\", \"name\": \"Joe\"}");
	CHECK_DIFF(doc, diff(0, "$.age", "0b000000000000f83f"),
		   "{\"age\": 1.5, \"data\": \"xxxxxxxxxx\", \"name\": "
		   "\"Joe\"}");
	/* insert keeps the server's member order: by length, then bytes */
	CHECK_DIFF(doc, diff(1, "$.b", "0401"),
		   "{\"b\": true, \"age\": 25, \"data\": \"xxxxxxxxxx\", "
		   "\"name\": \"Joe\"}");
	CHECK_DIFF(doc, diff(1, "$.\"zz z\"", "0400"),
		   "{\"age\": 25, \"data\": \"xxxxxxxxxx\", \"name\": \"Joe\", "
		   "\"zz z\": null}");
	CHECK_DIFF(doc, diff(2, "$.data", NULL),
		   "{\"age\": 25, \"name\": \"Joe\"}");
	/* several diffs, applied in order */
	char two[256];
	snprintf(two, sizeof(two), "%s%s", diff(2, "$.age", NULL),
		 diff(0, "$.name", "0c03416e6e"));
	CHECK_DIFF(doc, two, "{\"data\": \"xxxxxxxxxx\", \"name\": \"Ann\"}");
	/* arrays */
	const char *arr = "{\"a\": [1, [2, 3], \"x\\\"y\"], \"b\": 1.0}";
	CHECK_DIFF(arr, diff(1, "$.a[1]", "056500"),
		   "{\"a\": [1, 101, [2, 3], \"x\\\"y\"], \"b\": 1.0}");
	CHECK_DIFF(arr, diff(1, "$.a[9]", "0402"),
		   "{\"a\": [1, [2, 3], \"x\\\"y\", false], \"b\": 1.0}");
	CHECK_DIFF(arr, diff(0, "$.a[1][0]", "0c0161"),
		   "{\"a\": [1, [\"a\", 3], \"x\\\"y\"], \"b\": 1.0}");
	CHECK_DIFF(arr, diff(2, "$.a[last]", NULL),
		   "{\"a\": [1, [2, 3]], \"b\": 1.0}");
	CHECK_DIFF(arr, diff(2, "$.a[last-2]", NULL),
		   "{\"a\": [[2, 3], \"x\\\"y\"], \"b\": 1.0}");
	/* what MySQL would reject is never guessed */
	CHECK_DIFF(doc, diff(0, "$.nope", "0401"), NULL);
	CHECK_DIFF(doc, diff(1, "$.age", "0401"), NULL);
	CHECK_DIFF(doc, diff(2, "$.nope", NULL), NULL);
	CHECK_DIFF(doc, diff(0, "$", "0401"), NULL);
	CHECK_DIFF(arr, diff(0, "$.a[3]", "0401"), NULL);
	CHECK_DIFF(arr, diff(0, "$.a.b", "0401"), NULL);
	CHECK_DIFF("not json", diff(0, "$.a", "0401"), NULL);
	/* malformed diffs are errors */
	const uint8_t bad[] = {0x03, 0x01, '$'};
	const uint8_t *t;
	size_t l;
	wb_error_t err;
	CHECK(wb_my_json_apply_diffs((const uint8_t *)doc, strlen(doc), bad,
				     sizeof(bad), &arena, &t, &l,
				     &err) == WB_ERR_DECODE);
	const uint8_t cut[] = {0x00, 0x05, '$', '.', 'a'};
	CHECK(wb_my_json_apply_diffs((const uint8_t *)doc, strlen(doc), cut,
				     sizeof(cut), &arena, &t, &l,
				     &err) == WB_ERR_DECODE);
	const uint8_t wild[] = {0x02, 0x03, '$', '.', '*'};
	CHECK(wb_my_json_apply_diffs((const uint8_t *)doc, strlen(doc), wild,
				     sizeof(wild), &arena, &t, &l,
				     &err) == WB_ERR_DECODE);
}

int main(void)
{
	wb_arena_init(&arena, 1 << 16);
	test_fixtures();
	test_scalars();
	test_doubles();
	test_containers();
	test_opaque();
	test_diffs();
	wb_arena_free(&arena);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
