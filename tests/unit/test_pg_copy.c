/* test_pg_copy.c — the COPY text-format row decoder: rows captured from a
 * PostgreSQL 15 server, every escape, and malformed rows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "check.h"
#include "pg_copy.h"

struct want {
	const char *p; /* NULL: SQL NULL */
	size_t len;
};
#define V(s)                                                                   \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}
#define NUL                                                                    \
	{                                                                      \
		NULL, 0                                                        \
	}

static struct wb_arena scratch;

/* Decodes line (copied to an exact-size heap block, so the sanitizers see
 * any read past it) and compares each field with want. */
static void row_is(int lineno, const char *line, size_t len,
		   const struct want *want, int n)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct wb_pg_copy_field f[16];
	wb_error_t err;
	wb_error_clear(&err);
	memcpy(copy, line, len);
	wb_arena_reset(&scratch);
	int rc = wb_pg_copy_row(copy, len, f, n, &scratch, &err);
	if (rc != WB_OK) {
		fprintf(stderr, "line %d: rc %d: %s\n", lineno, rc,
			err.message);
		failures++;
	}
	for (int i = 0; rc == WB_OK && i < n; i++) {
		bool ok = want[i].p == NULL
				  ? f[i].p == NULL && f[i].len == 0
				  : f[i].p != NULL && f[i].len == want[i].len &&
					    memcmp(f[i].p, want[i].p,
						   want[i].len) == 0;
		if (!ok) {
			fprintf(stderr,
				"line %d: field %d: got %.*s (%zu bytes), "
				"want %s (%zu bytes)\n",
				lineno, i, f[i].p ? (int)f[i].len : 6,
				f[i].p ? f[i].p : "(null)", f[i].len,
				want[i].p ? want[i].p : "(null)", want[i].len);
			failures++;
		}
	}
	free(copy);
}
#define ROW(line, ...)                                                         \
	do {                                                                   \
		static const struct want w_[] = {__VA_ARGS__};                 \
		row_is(__LINE__, line, sizeof(line) - 1, w_,                   \
		       (int)(sizeof(w_) / sizeof(w_[0])));                     \
	} while (0)

static int decode_rc(const char *line, size_t len, int n)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct wb_pg_copy_field f[16];
	wb_error_t err;
	wb_error_clear(&err);
	memcpy(copy, line, len);
	int rc = wb_pg_copy_row(copy, len, f, n, &scratch, &err);
	if (rc != WB_OK && err.message[0] == '\0') {
		fprintf(stderr, "error %d without a message\n", rc);
		failures++;
	}
	free(copy);
	return rc;
}
#define RC(line, n) decode_rc(line, sizeof(line) - 1, n)

/* Rows of `COPY (SELECT * FROM c ORDER BY id) TO STDOUT` from PostgreSQL
 * 15 (TimeZone UTC, DateStyle ISO), table c (id int, t text, b bytea,
 * a text[], j jsonb, n numeric, ts timestamptz), inserted as:
 *  (1, E'tab\there\nnl\\back', '\x00090a5cff', ARRAY[E'a\tb', 'c"d', NULL],
 *   '{"k": "v\tw"}', 1.50, '2024-02-29 23:59:59.5+00'),
 *  (2, NULL, ...), (3, E'é ü 日本 🚀 \\N', '', '{}', '[]', -0.001, ...),
 *  (4, '', E'\\x', ARRAY['', ' '], 'null', 'NaN', 'infinity'),
 *  (5, E'\\N', NULL...), (6, E'ctl\b\f\v\r\x01end', NULL...) */
static void test_captured(void)
{
	ROW("1\ttab\\there\\nnl\\\\back\t\\\\x00090a5cff\t{\"a\\tb\",\"c\\\\\""
	    "d\",NULL}\t{\"k\": \"v\\\\tw\"}\t1.50\t2024-02-29 23:59:59.5+00\n",
	    V("1"), V("tab\there\nnl\\back"), V("\\x00090a5cff"),
	    V("{\"a\tb\",\"c\\\"d\",NULL}"), V("{\"k\": \"v\\tw\"}"), V("1.50"),
	    V("2024-02-29 23:59:59.5+00"));
	ROW("2\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n", V("2"), NUL, NUL, NUL, NUL,
	    NUL, NUL);
	ROW("3\t\303\251 \303\274 \346\227\245\346\234\254 \360\237\232\200 "
	    "\\\\N\t\\\\x\t{}\t[]\t-0.001\t1999-12-31 00:00:00+00\n",
	    V("3"), V("é ü 日本 🚀 \\N"), V("\\x"), V("{}"), V("[]"),
	    V("-0.001"), V("1999-12-31 00:00:00+00"));
	ROW("4\t\t\\\\x\t{\"\",\" \"}\tnull\tNaN\tinfinity\n", V("4"), V(""),
	    V("\\x"), V("{\"\",\" \"}"), V("null"), V("NaN"), V("infinity"));
	ROW("5\t\\\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n", V("5"), V("\\N"), NUL, NUL,
	    NUL, NUL, NUL);
	/* E'\v' is a plain v in PostgreSQL; 0x01 is not escaped by COPY */
	ROW("6\tctl\\b\\fv\\r\001end\t\\N\t\\N\t\\N\t\\N\t\\N\n", V("6"),
	    V("ctl\b\fv\r\001end"), NUL, NUL, NUL, NUL, NUL);
}

static void test_escapes(void)
{
	ROW("\\b\\f\\n\\r\\t\\v\\\\\n", V("\b\f\n\r\t\v\\"));
	/* octal: 1 to 3 digits, masked to a byte */
	ROW("\\101\\0x\\7777\\18\\3\n", V("A\0x\3777\0018\003"));
	/* hex: 1 or 2 digits; \x without a digit is x */
	ROW("\\x41\\x4g\\xg\\x\tz\\xFf\\xaB\n", V("A\004gxgx"), V("z\377\253"));
	/* any other escaped byte is itself, a tab included */
	ROW("\\q\\N\\\"\\\t\\\303\251\ta\\N\n", V("qN\"\t\303\251"), V("aN"));
	/* \N is NULL only as the whole field */
	ROW("\\N\t\\\\N\tN\t\\NN\n", NUL, V("\\N"), V("N"), V("NN"));
	ROW("\n", V(""));
	ROW("\t\n", V(""), V(""));
	ROW("a\t\n", V("a"), V(""));
	ROW("\t\t\\N\n", V(""), V(""), NUL);
}

/* Fields without a backslash point into the line; the scratch arena is used
 * only for fields that have one. */
static void test_no_copy(void)
{
	static const uint8_t line[] = "abc\tde\\tf\tghi\n";
	struct wb_pg_copy_field f[3];
	wb_error_t err;
	wb_error_clear(&err);
	wb_arena_reset(&scratch);
	CHECK(wb_pg_copy_row(line, sizeof(line) - 1, f, 3, &scratch, &err) ==
	      WB_OK);
	CHECK(f[0].p == (const char *)line && f[0].len == 3);
	CHECK(f[1].p != (const char *)line + 4 && f[1].len == 4 &&
	      memcmp(f[1].p, "de\tf", 4) == 0);
	CHECK(f[2].p == (const char *)line + 10 && f[2].len == 3);

	static const uint8_t plain[] = "1\t2\n";
	wb_arena_reset(&scratch);
	CHECK(wb_pg_copy_row(plain, sizeof(plain) - 1, f, 2, &scratch, &err) ==
	      WB_OK);
	CHECK(scratch.used == 0);
}

static void test_malformed(void)
{
	wb_error_t err;
	struct wb_pg_copy_field f[2];
	CHECK(wb_pg_copy_row(NULL, 0, f, 1, &scratch, &err) == WB_ERR_DECODE);
	CHECK(RC("", 1) == WB_ERR_DECODE);
	CHECK(RC("a", 1) == WB_ERR_DECODE);	     /* no newline */
	CHECK(RC("a\tb", 2) == WB_ERR_DECODE);	     /* no newline */
	CHECK(RC("a\tb\n", 1) == WB_ERR_DECODE);     /* too many fields */
	CHECK(RC("a\tb\tc\n", 2) == WB_ERR_DECODE);  /* too many fields */
	CHECK(RC("a\n", 2) == WB_ERR_DECODE);	     /* too few */
	CHECK(RC("a\\\n", 1) == WB_ERR_DECODE);	     /* backslash at the end */
	CHECK(RC("a\\\tb\\\n", 1) == WB_ERR_DECODE); /* ditto */
	CHECK(RC("a\nb\n", 1) == WB_ERR_DECODE);     /* newline inside */
	CHECK(RC("a\n\n", 1) == WB_ERR_DECODE);	     /* newline inside */
	CHECK(RC("x\n", 0) == WB_ERR_DECODE);	     /* 0 columns: empty */
	CHECK(RC("\n", 0) == WB_OK);
	CHECK(RC("\t\n", 1) == WB_ERR_DECODE);
	CHECK(RC("a\\tb\n", 1) == WB_OK);

	/* every prefix of a real row is refused, and read within its length */
	static const char row[] =
		"1\ttab\\there\\nnl\\\\back\t\\\\x00ff\t\\N\n";
	for (size_t n = 0; n + 1 < sizeof(row) - 1; n++)
		CHECK(decode_rc(row, n, 4) == WB_ERR_DECODE);
	CHECK(decode_rc(row, sizeof(row) - 1, 4) == WB_OK);
}

int main(void)
{
	wb_arena_init(&scratch, 64);
	test_captured();
	test_escapes();
	test_no_copy();
	test_malformed();
	wb_arena_free(&scratch);
	if (failures) {
		fprintf(stderr, "test_pg_copy: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_pg_copy: ok\n");
	return 0;
}
