/* fuzz_odbc_values.c — fuzz target for the ODBC source's pure parsers:
 * the drivers' text of a tracking timestamp, of an exact numeric and of a
 * time, UTF-16 cells, and the look-back set's checkpoint text.
 *
 * Input: one mode byte, then bytes (copied to an exact-size buffer, so a
 * read past them is a heap overflow).
 *   mode % 4 == 0: a timestamp text; when it parses, printing and parsing
 *     again gives the same microseconds; when wb_odbc_text_ts (the strict
 *     parser of a poll's timestamps) takes it, wb_odbc_parse_ts takes it
 *     too, and the struct's fields give the same microseconds.
 *   mode % 4 == 1: a decimal(12,3) cell (text); the result is a value, an
 *     unrepresentable value holding the text, or an error.
 *   mode % 4 == 2: a UTF-16 cell (odd length: the last byte is ignored, as
 *     a driver's byte count would be); the UTF-8 is valid and the same as
 *     a conversion one unit at a time gives (the converter takes runs of
 *     ASCII four units at a time).
 *   mode % 4 == 3: the look-back set's text; when it parses, formatting
 *     it again gives the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "odbc_int.h"
#include "odbc_seen.h"
#include "valconv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* UTF-16 to UTF-8 one unit at a time, unpaired surrogates as U+FFFD: the
 * reference for wb_utf16_to_utf8. */
static size_t utf16_slow(const uint16_t *w, size_t n, uint8_t *d)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = w[i];
		if (c >= 0xd800 && c < 0xdc00 && i + 1 < n &&
		    w[i + 1] >= 0xdc00 && w[i + 1] < 0xe000)
			c = 0x10000 + ((c - 0xd800) << 10) + (w[++i] - 0xdc00);
		else if (c >= 0xd800 && c < 0xe000)
			c = 0xfffd;
		if (c < 0x80) {
			d[o++] = (uint8_t)c;
		} else if (c < 0x800) {
			d[o++] = (uint8_t)(0xc0 | c >> 6);
			d[o++] = (uint8_t)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			d[o++] = (uint8_t)(0xe0 | c >> 12);
			d[o++] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
			d[o++] = (uint8_t)(0x80 | (c & 0x3f));
		} else {
			d[o++] = (uint8_t)(0xf0 | c >> 18);
			d[o++] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
			d[o++] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
			d[o++] = (uint8_t)(0x80 | (c & 0x3f));
		}
	}
	return o;
}

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
		SQL_TIMESTAMP_STRUCT ts;
		if (wb_odbc_text_ts((const char *)p, n, &ts)) {
			int64_t day_us = ((int64_t)ts.hour * 3600 +
					  ts.minute * 60 + ts.second) *
						 WB_USECS_PER_SEC +
					 ts.fraction / 1000;
			if (ts.month < 1 || ts.month > 12 || ts.day < 1 ||
			    ts.fraction > 999999999 ||
			    !wb_micros_from_civil(ts.year, ts.month, ts.day,
						  day_us, 0, &us2) ||
			    !wb_odbc_parse_ts((const char *)p, n, &us) ||
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
		if (rc == 0 && mode == 2) {
			size_t units = n / 2;
			uint16_t *w = malloc(units ? units * 2 : 1);
			uint8_t *ref = malloc(units * 3 + 1);
			if (w && ref) {
				memcpy(w, p, units * 2);
				size_t l = utf16_slow(w, units, ref);
				if (l != v.u.b.n ||
				    memcmp(ref, v.u.b.p, l) != 0)
					abort();
			}
			free(w);
			free(ref);
		}
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
