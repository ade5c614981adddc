/* test_valconv.c — the shared value conversions: Avro decimal bytes from
 * text, digits and integers and back to text, UTF-8 repair, civil dates.
 *
 * Expected decimal bytes come from Python's int.to_bytes(n, "big",
 * signed=True) at the minimal length; dates from Python's datetime.date
 * differences to 1970-01-01; replaced UTF-8 from bytes.decode("utf-8",
 * "replace"). */
#include <stdio.h>
#include <string.h>

#include "valconv.h"
#include "check.h"

static struct wb_arena arena;

static void check_bytes(int line, const struct wb_value *v, const char *hex)
{
	char got[512];
	size_t o = 0;
	for (uint32_t i = 0; i < v->u.b.n && o + 3 < sizeof(got); i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%02x",
				      v->u.b.p[i]);
	got[o] = '\0';
	if (strcmp(got, hex) != 0) {
		fprintf(stderr, "line %d: got %s want %s\n", line, got, hex);
		failures++;
	}
}

static void text_dec(int line, const char *text, int p, int s, int want_rc,
		     const char *hex)
{
	struct wb_value v = {0};
	int rc = wb_decimal_from_text(text, strlen(text), p, s, &arena, &v);
	if (rc != want_rc) {
		fprintf(stderr, "line %d: %s rc %d want %d\n", line, text, rc,
			want_rc);
		failures++;
		return;
	}
	if (rc == 0)
		check_bytes(line, &v, hex);
}
#define TEXT_DEC(text, p, s, rc, hex) text_dec(__LINE__, text, p, s, rc, hex)

static void to_text(int line, const char *hex, int scale, const char *want)
{
	uint8_t b[256];
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &b[i]);
	struct wb_buf o;
	wb_buf_init(&o);
	CHECK(wb_decimal_to_text(b, n, scale, &o) == 0);
	wb_buf_append(&o, "", 1);
	if (strcmp((char *)o.data, want) != 0) {
		fprintf(stderr, "line %d: got %s want %s\n", line,
			(char *)o.data, want);
		failures++;
	}
	wb_buf_free(&o);
}
#define TO_TEXT(hex, scale, want) to_text(__LINE__, hex, scale, want)

int main(void)
{
	wb_arena_init(&arena, 4096);
	struct wb_value v;

	/* text → decimal bytes */
	TEXT_DEC("0", 10, 2, 0, "00");
	TEXT_DEC("-0.00", 10, 2, 0, "00");
	TEXT_DEC("1.27", 10, 2, 0, "7f");
	TEXT_DEC("1.28", 10, 2, 0, "0080");
	TEXT_DEC("-1.28", 10, 2, 0, "80");
	TEXT_DEC("-1.29", 10, 2, 0, "ff7f");
	TEXT_DEC("+2.5", 10, 2, 0, "00fa");
	TEXT_DEC(".5", 3, 1, 0, "05");
	TEXT_DEC("-327.68", 10, 2, 0, "8000");
	TEXT_DEC("1.234", 10, 2, WB_DEC_NOFIT, "");
	TEXT_DEC("123456789.1", 10, 2, WB_DEC_NOFIT, "");
	TEXT_DEC("12345678.1", 10, 2, 0, "49960282"); /* 1234567810 */
	TEXT_DEC("1e5", 10, 2, WB_DEC_SYNTAX, "");
	TEXT_DEC("-", 10, 2, WB_DEC_SYNTAX, "");
	TEXT_DEC(".", 10, 2, WB_DEC_SYNTAX, "");
	TEXT_DEC("12345678901234567890123456789012345678901234567890123456789"
		 "012345",
		 65, 0, 0,
		 "1e02bc1e97858bdc6cb95058f342547ff7605ccc02bc74f1e2df79");
	TEXT_DEC("-1234567890123456789012345678901234567890123456789012345678"
		 "9012345",
		 65, 0, 0,
		 "e1fd43e1687a74239346afa70cbdab80089fa333fd438b0e1d2087");
	/* 10^40 - 1, with 20 digits of fraction */
	TEXT_DEC("99999999999999999999.99999999999999999999", 40, 20, 0,
		 "1d6329f1c35ca4bfabb9f560ffffffffff");
	TEXT_DEC("-1000000000000000000", 20, 1, 0, "ff7538dcfb76180000");

	/* digits and integers */
	CHECK(wb_decimal_from_digits("00018446744073709551615", 23, false,
				     &arena, &v) == 0);
	check_bytes(__LINE__, &v, "00ffffffffffffffff");
	CHECK(wb_decimal_from_digits("", 0, true, &arena, &v) == 0);
	check_bytes(__LINE__, &v, "00");
	CHECK(wb_decimal_from_u64(UINT64_MAX, false, &arena, &v) == 0);
	check_bytes(__LINE__, &v, "00ffffffffffffffff");
	CHECK(wb_decimal_from_i64(INT64_MIN, &arena, &v) == 0);
	check_bytes(__LINE__, &v, "8000000000000000");
	CHECK(wb_decimal_from_i64(-129, &arena, &v) == 0);
	check_bytes(__LINE__, &v, "ff7f");
	CHECK(wb_decimal_from_i64(255, &arena, &v) == 0);
	check_bytes(__LINE__, &v, "00ff");

	/* decimal bytes → text */
	TO_TEXT("00", 0, "0");
	TO_TEXT("00", 2, "0.00");
	TO_TEXT("", 1, "0.0");
	TO_TEXT("ff7f", 2, "-1.29");
	TO_TEXT("05", 3, "0.005");
	TO_TEXT("80", 0, "-128");
	TO_TEXT("00ffffffffffffffff", 0, "18446744073709551615");
	TO_TEXT("e1fd43e1687a74239346afa70cbdab80089fa333fd438b0e1d2087", 30,
		"-12345678901234567890123456789012345.678901234567890123456789"
		"012345");

	/* UTF-8 */
	const uint8_t bad[] = {'a',  0xff, 0xe2, 0x82, 'b',
			       0xf0, 0x9f, 0x98, 0x80};
	CHECK(wb_utf8_first_invalid(bad, sizeof(bad)) == 1);
	CHECK(wb_utf8_first_invalid(bad + 5, 4) == 4);
	CHECK(wb_utf8_value(bad, sizeof(bad), &arena, &v, NULL) == 0);
	/* b'a\xff\xe2\x82b\xf0\x9f\x98\x80'.decode('utf-8','replace') */
	check_bytes(__LINE__, &v, "61efbfbdefbfbd62f09f9880");
	CHECK(wb_utf8_sanitized_len(bad, sizeof(bad)) == 12);

	/* dates */
	CHECK(wb_days_from_civil(1970, 1, 1) == 0);
	CHECK(wb_days_from_civil(1969, 12, 31) == -1);
	CHECK(wb_days_from_civil(2000, 2, 29) == 11016);
	CHECK(wb_days_from_civil(1, 1, 1) == -719162);
	CHECK(wb_days_from_civil(9999, 12, 31) == 2932896);
	int64_t y;
	int m, d;
	wb_civil_from_days(11016, &y, &m, &d);
	CHECK(y == 2000 && m == 2 && d == 29);
	wb_civil_from_days(-719162, &y, &m, &d);
	CHECK(y == 1 && m == 1 && d == 1);
	wb_civil_from_days(-719163, &y, &m, &d);
	CHECK(y == 0 && m == 12 && d == 31);
	CHECK(wb_days_in_month(2000, 2) == 29 &&
	      wb_days_in_month(1900, 2) == 28);
	CHECK(wb_days_in_month(2024, 2) == 29 &&
	      wb_days_in_month(2023, 4) == 30);
	int64_t us;
	CHECK(wb_micros_from_civil(1970, 1, 2, 1, 0, &us) && us == 86400000001);
	CHECK(wb_micros_from_civil(1970, 1, 1, 0, 3600000000, &us) &&
	      us == -3600000000);
	CHECK(!wb_micros_from_civil(300000, 1, 1, 0, 0, &us));
	CHECK(wb_floor_div(-1, 1000000) == -1 && wb_floor_div(7, 2) == 3);
	CHECK(wb_floor_div(-4, 2) == -2);

	wb_arena_free(&arena);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
