/* fuzz_odbc_values.c — fuzz target for the ODBC source's pure parsers:
 * the drivers' text of a tracking timestamp, of an exact numeric and of a
 * time, UTF-16 cells, and the look-back set's checkpoint text.
 *
 * Input: one mode byte, then bytes (copied to an exact-size buffer, so a
 * read past them is a heap overflow).
 *   mode % 4 == 0: a timestamp text; when it parses, printing and parsing
 *     again gives the same microseconds.
 *   mode % 4 == 1: a decimal(12,3) cell (text); the result is a value, an
 *     unrepresentable value holding the text, or an error.
 *   mode % 4 == 2: a UTF-16 cell (odd length: the last byte is ignored, as
 *     a driver's byte count would be); the UTF-8 is valid.
 *   mode % 4 == 3: the look-back set's text; when it parses, formatting
 *     it again gives the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "odbc_int.h"
#include "odbc_seen.h"
#include "valconv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % 4;
	size_t n = size - 1;
	uint8_t *p = malloc(n ? n : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data + 1, n);
	struct wb_arena a;
	wb_arena_init(&a, 4096);
	wb_error_t err;
	struct wb_value v;
	if (mode == 0) {
		int64_t us, us2;
		if (wb_odbc_parse_ts((const char *)p, n, &us)) {
			char buf[64];
			wb_odbc_format_ts(us, buf, sizeof(buf));
			if (!wb_odbc_parse_ts(buf, strlen(buf), &us2) ||
			    us != us2)
				abort();
		}
	} else if (mode == 1 || mode == 2) {
		struct wb_odbc_col c;
		memset(&c, 0, sizeof(c));
		c.name = "c";
		c.sqltype = mode == 1 ? SQL_DECIMAL : SQL_WVARCHAR;
		c.size = 12;
		c.digits = 3;
		wb_odbc_col_map(&c);
		/* v is only set when the conversion succeeds */
		memset(&v, 0, sizeof(v));
		int rc = wb_odbc_cell_value(&c, p, (SQLLEN)n, NULL, &a, &v,
					    &err);
		if (rc == 0 && mode == 2 &&
		    wb_utf8_first_invalid(v.u.b.p, v.u.b.n) != v.u.b.n)
			abort();
		/* the text kept may grow: an invalid UTF-8 byte becomes
		 * U+FFFD (3 bytes) */
		if (rc == 0 && mode == 1 && v.state == WB_VAL_UNREPRESENTABLE &&
		    (v.u.b.n > 3 * n ||
		     wb_utf8_first_invalid(v.u.b.p, v.u.b.n) != v.u.b.n))
			abort();
	} else {
		char *text = malloc(n + 1);
		if (text) {
			memcpy(text, p, n);
			text[n] = '\0';
			struct wb_odbc_seen s;
			wb_odbc_seen_init(&s, 1000000);
			if (strlen(text) == n &&
			    wb_odbc_seen_parse(&s, text) == 0) {
				char *again =
					wb_odbc_seen_format(&s, 0, INT64_MIN);
				/* duplicates are one entry: never longer */
				if (again && strlen(again) > n)
					abort();
				free(again);
			}
			wb_odbc_seen_free(&s);
			free(text);
		}
	}
	wb_arena_free(&a);
	free(p);
	return 0;
}
