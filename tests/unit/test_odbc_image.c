/* test_odbc_image.c — row images for the emitted-key store
 * (odbc_image.h): every kind of value and state round-trips exactly, the
 * bytes are the documented layout, and truncated or malformed images and
 * another column count are refused. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "odbc_image.h"

int main(void)
{
	struct wb_table *t = wb_table_new("db", "main", "t", 6);
	CHECK(t != NULL);
	if (t == NULL)
		return 1;
	struct wb_type ty_long = {.s = {.kind = WB_T_LONG}};
	struct wb_type ty_str = {.s = {.kind = WB_T_STRING}};
	struct wb_type ty_dbl = {.s = {.kind = WB_T_DOUBLE}};
	struct wb_type ty_dec = {.s = {.kind = WB_T_BYTES,
				       .logical = WB_L_DECIMAL,
				       .precision = 10,
				       .scale = 2}};
	struct wb_type ty_ts = {
		.s = {.kind = WB_T_LONG, .logical = WB_L_TIMESTAMP_MICROS}};
	CHECK(wb_table_set_column(t, 0, "id", &ty_long, false, true) == 0);
	CHECK(wb_table_set_column(t, 1, "name", &ty_str, true, false) == 0);
	CHECK(wb_table_set_column(t, 2, "d", &ty_dbl, true, false) == 0);
	CHECK(wb_table_set_column(t, 3, "amount", &ty_dec, true, false) == 0);
	CHECK(wb_table_set_column(t, 4, "at", &ty_ts, true, false) == 0);
	CHECK(wb_table_set_column(t, 5, "note", &ty_str, true, false) == 0);

	struct wb_value v[6];
	memset(v, 0, sizeof(v));
	v[0].state = WB_VAL_PRESENT;
	v[0].u.i = -42;
	v[1].state = WB_VAL_PRESENT;
	v[1].u.b.p = (const uint8_t *)"B\xc3\xa4r\0x";
	v[1].u.b.n = 6; /* non-ASCII and a NUL inside */
	v[2].state = WB_VAL_PRESENT;
	v[2].u.d = -0.1;
	v[3].state = WB_VAL_UNREPRESENTABLE;
	v[3].u.b.p = (const uint8_t *)"NaN";
	v[3].u.b.n = 3;
	v[4].state = WB_VAL_NULL;
	v[5].state = WB_VAL_PRESENT;
	v[5].u.b.p = (const uint8_t *)"";
	v[5].u.b.n = 0;

	struct wb_buf img;
	wb_buf_init(&img);
	wb_error_t err = {0};
	CHECK(wb_odbc_image_encode(t, v, &img, &err) == WB_OK);
	/* count, then per column: state, tag, value */
	static const uint8_t head[] = {0, 6, 1, 0};
	CHECK(img.len == 2 + 10 + 12 + 10 + 9 + 1 + 6);
	CHECK(img.len >= 4 && memcmp(img.data, head, 4) == 0);
	CHECK(img.len > 12 && memcmp(img.data + 12,
				     "\x01\x01\x00\x00\x00\x06"
				     "B\xc3\xa4r\0x",
				     12) == 0);

	struct wb_arena a;
	wb_arena_init(&a, 4096);
	struct wb_value *out = NULL;
	CHECK(wb_odbc_image_decode(img.data, img.len, 6, &a, &out, &err) ==
	      WB_OK);
	if (out) {
		CHECK(out[0].state == WB_VAL_PRESENT && out[0].u.i == -42);
		CHECK(out[1].state == WB_VAL_PRESENT && out[1].u.b.n == 6 &&
		      memcmp(out[1].u.b.p, "B\xc3\xa4r\0x", 6) == 0);
		CHECK(out[2].state == WB_VAL_PRESENT && out[2].u.d == -0.1);
		CHECK(out[3].state == WB_VAL_UNREPRESENTABLE &&
		      out[3].u.b.n == 3 && memcmp(out[3].u.b.p, "NaN", 3) == 0);
		CHECK(out[4].state == WB_VAL_NULL);
		CHECK(out[5].state == WB_VAL_PRESENT && out[5].u.b.n == 0);
	}

	/* another column count: the table's shape changed */
	CHECK(wb_odbc_image_decode(img.data, img.len, 5, &a, &out, &err) ==
	      WB_ERR_DECODE);
	/* every truncation is refused, never read past the end */
	for (size_t n = 0; n < img.len; n++)
		CHECK(wb_odbc_image_decode(img.data, n, 6, &a, &out, &err) ==
		      WB_ERR_DECODE);
	/* a trailing byte, an unknown state, an unknown tag */
	uint8_t bad[128];
	memcpy(bad, img.data, img.len);
	bad[img.len] = 0;
	CHECK(wb_odbc_image_decode(bad, img.len + 1, 6, &a, &out, &err) ==
	      WB_ERR_DECODE);
	bad[2] = 9;
	CHECK(wb_odbc_image_decode(bad, img.len, 6, &a, &out, &err) ==
	      WB_ERR_DECODE);
	memcpy(bad, img.data, img.len);
	bad[3] = 2;
	CHECK(wb_odbc_image_decode(bad, img.len, 6, &a, &out, &err) ==
	      WB_ERR_DECODE);
	/* a length past the end */
	memcpy(bad, img.data, img.len);
	bad[16] = 0x7f;
	CHECK(wb_odbc_image_decode(bad, img.len, 6, &a, &out, &err) ==
	      WB_ERR_DECODE);

	wb_arena_free(&a);
	wb_buf_free(&img);
	wb_table_unref(t);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
