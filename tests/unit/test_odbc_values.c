/* test_odbc_values.c — the ODBC source's pure conversions: UTF-16 to
 * UTF-8 and back (surrogate pairs, unpaired surrogates), exact decimals
 * from the drivers' text, column types from SQL types, timestamps read
 * in a time zone, the tracking value's text parsed and printed. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "odbc_int.h"
#include "valconv.h"
#include "xtz.h"

static struct wb_arena arena;

static struct wb_odbc_col col(SQLSMALLINT t, SQLULEN size, SQLSMALLINT dig)
{
	struct wb_odbc_col c;
	memset(&c, 0, sizeof(c));
	c.name = "c";
	c.sqltype = t;
	c.size = size;
	c.digits = dig;
	wb_odbc_col_map(&c);
	return c;
}

/* The decimal text of value v of column c. */
static const char *dec_text(const struct wb_odbc_col *c,
			    const struct wb_value *v)
{
	static char buf[128];
	struct wb_buf b;
	wb_buf_init(&b);
	wb_decimal_to_text(v->u.b.p, v->u.b.n, c->type.s.scale, &b);
	snprintf(buf, sizeof(buf), "%.*s", (int)b.len, (const char *)b.data);
	wb_buf_free(&b);
	return buf;
}

int main(void)
{
	wb_arena_init(&arena, 4096);
	wb_error_t err;

	/* UTF-16 → UTF-8 */
	const uint16_t w[] = {'a',    0x00e9, 0x20ac, 0xd83d,
			      0xde00, 0xd800, 'z',    0xdc00};
	uint8_t u8[3 * 8 + 1];
	size_t n = wb_utf16_to_utf8(w, 8, u8);
	u8[n] = 0;
	CHECK_STR((char *)u8, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
			      "\xef\xbf\xbdz\xef\xbf\xbd");
	/* runs of ASCII (converted four units at a time) broken by one
	 * unit at every position: U+0080 (two bytes), U+0141 (its low byte
	 * is ASCII 'A'), U+20AC (three bytes), or a surrogate pair */
	static const uint16_t odd[] = {0x0080, 0x0141, 0x20ac, 0xd83d};
	static const char *const odd8[] = {"\xc2\x80", "\xc5\x81",
					   "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
	for (int k = 0; k < 4; k++)
		for (size_t len = 1; len <= 19; len++)
			for (size_t at = 0; at < len; at++) {
				uint16_t in[20];
				size_t units = 0;
				char want[64];
				size_t wl = 0;
				for (size_t i = 0; i < len; i++) {
					if (i == at) {
						in[units++] = odd[k];
						if (k == 3)
							in[units++] = 0xde00;
						memcpy(want + wl, odd8[k],
						       strlen(odd8[k]));
						wl += strlen(odd8[k]);
					} else {
						in[units++] =
							(uint16_t)('a' + i);
						want[wl++] = (char)('a' + i);
					}
				}
				uint8_t out[3 * 20];
				size_t got = wb_utf16_to_utf8(in, units, out);
				CHECK(got == wl && memcmp(out, want, wl) == 0);
			}
	const uint16_t ascii[9] = {'0', '1', '2', '3', '4', '5', '6', '7', '8'};
	for (size_t len = 0; len <= 9; len++) {
		uint8_t out[9];
		CHECK(wb_utf16_to_utf8(ascii, len, out) == len &&
		      memcmp(out, "012345678", len) == 0);
	}

	/* positions: (round, ordinal) and a round's end, printed as
	 * snprintf would and read back */
	static const struct {
		wb_position_t pos;
		const char *text;
	} pt[] = {
		{{0, 0}, "0:0"},
		{{7, 1}, "7:1"},
		{{1796658059503000, 10}, "1796658059503000:10"},
		{{UINT64_MAX, UINT64_MAX - 1},
		 "18446744073709551615:18446744073709551614"},
		{{42, WB_ODBC_END}, "42:end"},
		{{UINT64_MAX, WB_ODBC_END}, "18446744073709551615:end"},
	};
	for (size_t i = 0; i < sizeof(pt) / sizeof(pt[0]); i++) {
		char buf[64];
		memset(buf, 'x', sizeof(buf));
		wb_odbc_source_ops.format_position(&pt[i].pos, buf,
						   sizeof(buf));
		CHECK_STR(buf, pt[i].text);
		wb_position_t back_pos;
		CHECK(wb_odbc_source_ops.parse_position(buf, &back_pos) == 0 &&
		      back_pos.major == pt[i].pos.major &&
		      back_pos.minor == pt[i].pos.minor);
		char small[8]; /* too short: cut as snprintf cuts */
		wb_odbc_source_ops.format_position(&pt[i].pos, small,
						   sizeof(small));
		char want[8];
		snprintf(want, sizeof(want), "%s", pt[i].text);
		CHECK_STR(small, want);
	}

	/* a timestamp's text into ODBC's struct: every field, the fraction
	 * in nanoseconds from 0 to 9 digits */
	static const struct {
		const char *text;
		int y, mo, d, h, mi, s;
		unsigned long ns;
	} tsok[] = {
		{"2024-02-29 23:59:59", 2024, 2, 29, 23, 59, 59, 0},
		{"2024-02-29 23:59:59.5", 2024, 2, 29, 23, 59, 59, 500000000},
		{"1969-12-31 23:59:59.12", 1969, 12, 31, 23, 59, 59, 120000000},
		{"1900-01-01 00:00:00.123", 1900, 1, 1, 0, 0, 0, 123000000},
		{"0001-01-01 00:00:00.0001", 1, 1, 1, 0, 0, 0, 100000},
		{"9999-12-31 23:59:59.12345", 9999, 12, 31, 23, 59, 59,
		 123450000},
		{"2000-02-29 12:00:00.000001", 2000, 2, 29, 12, 0, 0, 1000},
		{"1970-01-01 00:00:00.1234567", 1970, 1, 1, 0, 0, 0, 123456700},
		{"1583-10-15 10:11:12.00000001", 1583, 10, 15, 10, 11, 12, 10},
		{"2023-03-15 01:02:03.999999999", 2023, 3, 15, 1, 2, 3,
		 999999999},
	};
	for (size_t i = 0; i < sizeof(tsok) / sizeof(tsok[0]); i++) {
		SQL_TIMESTAMP_STRUCT ts;
		memset(&ts, 0xee, sizeof(ts));
		CHECK(wb_odbc_text_ts(tsok[i].text, strlen(tsok[i].text), &ts));
		CHECK(ts.year == tsok[i].y && ts.month == tsok[i].mo &&
		      ts.day == tsok[i].d && ts.hour == tsok[i].h &&
		      ts.minute == tsok[i].mi && ts.second == tsok[i].s &&
		      ts.fraction == tsok[i].ns);
	}
	static const char *const tsbad[] = {
		"",
		"2024-02-29",
		"2023-02-29 00:00:00", /* no such day */
		"1900-02-29 00:00:00", /* not a leap year */
		"2024-04-31 00:00:00",
		"2024-13-01 00:00:00",
		"2024-00-01 00:00:00",
		"0000-01-01 00:00:00", /* no year 0 */
		"2024-01-01 24:00:00",
		"2024-01-01 23:60:00",
		"2024-01-01 23:59:60",		  /* the driver's, not ours */
		"2024-01-01 00:00:00.",		  /* a point without digits */
		"2024-01-01 00:00:00.1234567890", /* ten digits */
		"2024-01-01 00:00:00+00",	  /* a zone */
		"2024-01-01 00:00:00.5+02",
		"0044-03-15 00:00:00 BC",
		"12024-01-01 00:00:00", /* a year past 9999 */
		"infinity",
		"-infinity",
		"2024-01-01T00:00:00",
		" 2024-01-01 00:00:00",
		"2024-01-01 00:00:00 ",
		"2024-1-01 00:00:00",
		"2024-01-01 00:00:0a",
		"-024-01-01 00:00:00",
	};
	for (size_t i = 0; i < sizeof(tsbad) / sizeof(tsbad[0]); i++) {
		SQL_TIMESTAMP_STRUCT ts;
		CHECK(!wb_odbc_text_ts(tsbad[i], strlen(tsbad[i]), &ts));
	}
	/* only the n bytes given are read */
	SQL_TIMESTAMP_STRUCT cut;
	CHECK(wb_odbc_text_ts("2024-02-29 23:59:59.5xyz", 21, &cut) &&
	      cut.fraction == 500000000);
	CHECK(!wb_odbc_text_ts("2024-02-29 23:59:59.5", 20, &cut));

	/* the look-back window's start: the watermark less lookback_ids,
	 * or lookback_ms in microseconds; INT64_MIN rather than past it */
	struct wb_odbc_table tcfg;
	struct wb_odbc_tab tab;
	memset(&tcfg, 0, sizeof(tcfg));
	memset(&tab, 0, sizeof(tab));
	tab.cfg = &tcfg;
	tcfg.mode = WB_ODBC_INCREMENTING;
	tcfg.lookback_ids = 1000;
	tab.wm_track = 9;
	CHECK(wb_odbc_lookback_from(&tab) == -991);
	tab.wm_track = INT64_MIN + 1000;
	CHECK(wb_odbc_lookback_from(&tab) == INT64_MIN);
	tab.wm_track = INT64_MIN + 999;
	CHECK(wb_odbc_lookback_from(&tab) == INT64_MIN);
	tab.wm_track = INT64_MIN;
	CHECK(wb_odbc_lookback_from(&tab) == INT64_MIN);
	tab.wm_track = INT64_MAX;
	CHECK(wb_odbc_lookback_from(&tab) == INT64_MAX - 1000);
	tcfg.mode = WB_ODBC_TIMESTAMP;
	tcfg.lookback_ms = 5000;
	tab.wm_track = 1700000000000000;
	CHECK(wb_odbc_lookback_from(&tab) == 1699999995000000);
	tab.wm_track = INT64_MIN + 4999999;
	CHECK(wb_odbc_lookback_from(&tab) == INT64_MIN);

	uint16_t back[32];
	size_t m = wb_utf8_to_utf16((const uint8_t *)"a\xc3\xa9\xf0\x9f\x98\x80"
						     "\xff",
				    8, back);
	CHECK(m == 5 && back[0] == 'a' && back[1] == 0xe9 &&
	      back[2] == 0xd83d && back[3] == 0xde00 && back[4] == 0xfffd);

	/* types */
	struct wb_odbc_col d = col(SQL_DECIMAL, 12, 3);
	CHECK(d.fetch == WB_ODBC_F_DEC && d.type.s.logical == WB_L_DECIMAL &&
	      d.type.s.precision == 12 && d.type.s.scale == 3);
	struct wb_odbc_col ub = col(SQL_BIGINT, 20, 0);
	CHECK(ub.fetch == WB_ODBC_F_I64 && ub.type.s.kind == WB_T_LONG);
	ub.is_unsigned = true;
	wb_odbc_col_map(&ub);
	CHECK(ub.fetch == WB_ODBC_F_DEC && ub.type.s.precision == 20);
	struct wb_odbc_col lv = col(SQL_WLONGVARCHAR, 0, 0);
	CHECK(lv.long_data && lv.fetch == WB_ODBC_F_WTEXT);
	struct wb_odbc_col vc = col(SQL_VARCHAR, 20, 0);
	CHECK(!vc.long_data && vc.elem == 42);
	struct wb_odbc_col unk = col(-150, 30, 0);
	CHECK(unk.unknown && unk.type.s.kind == WB_T_STRING);
	struct wb_odbc_col g = col(SQL_GUID, 36, 0);
	CHECK(g.type.s.logical == WB_L_UUID);

	/* exact decimals from text */
	struct wb_value v;
	const char *t1 = "-123456789.125";
	CHECK(wb_odbc_cell_value(&d, (const uint8_t *)t1, 14, NULL, &arena, &v,
				 &err) == 0);
	CHECK(v.state == WB_VAL_PRESENT);
	CHECK_STR(dec_text(&d, &v), "-123456789.125");
	CHECK(wb_odbc_cell_value(&d, (const uint8_t *)"7.5  ", 5, NULL, &arena,
				 &v, &err) == 0);
	CHECK_STR(dec_text(&d, &v), "7.500");
	struct wb_odbc_col d38 = col(SQL_NUMERIC, 38, 10);
	const char *big = "1234567890123456789012345678.0123456789";
	CHECK(wb_odbc_cell_value(&d38, (const uint8_t *)big, strlen(big), NULL,
				 &arena, &v, &err) == 0);
	CHECK_STR(dec_text(&d38, &v), big);
	/* NaN or more digits than the column: kept as text, marked */
	CHECK(wb_odbc_cell_value(&d, (const uint8_t *)"NaN", 3, NULL, &arena,
				 &v, &err) == 0);
	CHECK(v.state == WB_VAL_UNREPRESENTABLE && v.u.b.n == 3);
	CHECK(wb_odbc_cell_value(&d, (const uint8_t *)"1.0001", 6, NULL, &arena,
				 &v, &err) == 0);
	CHECK(v.state == WB_VAL_UNREPRESENTABLE);
	CHECK(wb_odbc_cell_value(&d, NULL, SQL_NULL_DATA, NULL, &arena, &v,
				 &err) == 0 &&
	      v.state == WB_VAL_NULL);

	/* UTF-16 cells */
	struct wb_odbc_col wt = col(SQL_WVARCHAR, 10, 0);
	CHECK(wb_odbc_cell_value(&wt, (const uint8_t *)w, 10, NULL, &arena, &v,
				 &err) == 0);
	CHECK(v.u.b.n == 10 && memcmp(v.u.b.p,
				      "a\xc3\xa9\xe2\x82\xac\xf0\x9f"
				      "\x98\x80",
				      10) == 0);

	/* a naive timestamp read in Europe/Berlin (winter: +01:00) */
	char msg[100];
	struct wb_tz *tz = wb_tz_load("Europe/Berlin", msg, sizeof(msg));
	CHECK(tz != NULL);
	struct wb_odbc_col tc = col(SQL_TYPE_TIMESTAMP, 26, 6);
	SQL_TIMESTAMP_STRUCT ts = {2026, 1, 2, 3, 4, 5, 123456000};
	CHECK(wb_odbc_cell_value(&tc, (const uint8_t *)&ts, sizeof(ts), tz,
				 &arena, &v, &err) == 0);
	int64_t want;
	CHECK(wb_micros_from_civil(2026, 1, 2,
				   (2 * 3600 + 4 * 60 + 5) * 1000000LL + 123456,
				   0, &want));
	CHECK(v.u.i == want);
	wb_tz_free(tz);
	struct wb_odbc_col tm = col(SQL_TYPE_TIME, 15, 6);
	CHECK(wb_odbc_cell_value(&tm, (const uint8_t *)"13:14:15.5", 10, NULL,
				 &arena, &v, &err) == 0);
	CHECK(v.u.i == (13 * 3600 + 14 * 60 + 15) * 1000000LL + 500000);

	/* tracking values */
	int64_t us;
	CHECK(wb_odbc_parse_ts("2026-01-01 00:00:01.5", 21, &us));
	char buf[64];
	wb_odbc_format_ts(us, buf, sizeof(buf));
	CHECK_STR(buf, "2026-01-01 00:00:01.500000");
	CHECK(wb_odbc_parse_ts("2026-01-01T00:00:01+02", 22, &us));
	wb_odbc_format_ts(us, buf, sizeof(buf));
	CHECK_STR(buf, "2026-01-01 00:00:01.000000");
	CHECK(wb_odbc_parse_ts("2026-02-03", 10, &us));
	wb_odbc_format_ts(us - 1, buf, sizeof(buf));
	CHECK_STR(buf, "2026-02-02 23:59:59.999999");
	CHECK(!wb_odbc_parse_ts("2026-02-30", 10, &us));
	CHECK(!wb_odbc_parse_ts("12", 2, &us));
	wb_odbc_format_ts_digits(us - 1, 3, buf, sizeof(buf));
	CHECK_STR(buf, "2026-02-02 23:59:59.999");
	wb_odbc_format_ts_digits(us - 1, 0, buf, sizeof(buf));
	CHECK_STR(buf, "2026-02-02 23:59:59");
	wb_odbc_format_ts_digits(-1, 1, buf, sizeof(buf));
	CHECK_STR(buf, "1969-12-31 23:59:59.9");
	wb_odbc_format_ts(-1, buf, sizeof(buf));
	CHECK_STR(buf, "1969-12-31 23:59:59.999999");

	wb_arena_free(&arena);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
