/* fuzz_expr.c — fuzz target for the expression language: random text
 * compiled against a fixed table with every column type and evaluated on
 * fixed rows.
 *
 * Input: one flags byte, then the expression text.
 *   flags & 3: the wanted type (none, decimal(18,3), string, int);
 *   flags & 4: allow_null; & 8: before_complete; & 16: fallible_ok;
 *   (flags >> 5) & 3: the change (0 update, 1 insert, 2 delete, 3 an
 *   update whose images are all NULL, unchanged or unrepresentable).
 * Checked beyond "no crash, no leak, no undefined behaviour":
 *   - a refused expression has a message and a 1-based line:column inside
 *     the text;
 *   - a result agrees with its static type: not NULL when the type says it
 *     cannot be, a decimal below 10^precision, an int below 10^precision
 *     when that is under 19 digits, text valid UTF-8;
 *   - an expression compiled with fallible_ok false never fails;
 *   - a failure has a reason; evaluating twice gives the same outcome. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "expr.h"
#include "expr_int.h"
#include "table.h"
#include "valconv.h"
#include "xdecimal.h"

static struct wb_table *table;
static struct wb_arena data;
static struct wb_value after[17], before[17], empty[17];

static void col(int i, const char *name, int kind, int logical, int p, int s)
{
	struct wb_type t = {.s = {.kind = (uint8_t)kind,
				  .logical = (uint8_t)logical,
				  .precision = (int16_t)p,
				  .scale = (int16_t)s}};
	if (i == 13)
		t.is_array = 1;
	wb_table_set_column(table, i, name, &t, true, i == 0);
}

static void dec(struct wb_value *v, const char *text, int p, int s)
{
	if (wb_decimal_from_text(text, strlen(text), p, s, &data, v) == 0)
		v->state = WB_VAL_PRESENT;
}

static void str(struct wb_value *v, const char *text)
{
	v->state = WB_VAL_PRESENT;
	v->u.b.p = (const uint8_t *)text;
	v->u.b.n = (uint32_t)strlen(text);
}

static void i64(struct wb_value *v, int64_t i)
{
	v->state = WB_VAL_PRESENT;
	v->u.i = i;
}

static void setup(void)
{
	wb_arena_init(&data, 4096);
	table = wb_table_new("wms", "public", "shipment", 17);
	col(0, "id", WB_T_LONG, WB_L_NONE, 0, 0);
	col(1, "qty", WB_T_INT, WB_L_NONE, 0, 0);
	col(2, "amount", WB_T_BYTES, WB_L_DECIMAL, 12, 2);
	col(3, "price", WB_T_BYTES, WB_L_DECIMAL, 38, 10);
	col(4, "name", WB_T_STRING, WB_L_NONE, 0, 0);
	col(5, "status", WB_T_STRING, WB_L_NONE, 0, 0);
	col(6, "flag", WB_T_BOOLEAN, WB_L_NONE, 0, 0);
	col(7, "day", WB_T_INT, WB_L_DATE, 0, 0);
	col(8, "at", WB_T_LONG, WB_L_TIMESTAMP_MICROS, 0, 0);
	col(9, "local_at", WB_T_LONG, WB_L_LOCAL_TIMESTAMP_MICROS, 0, 0);
	col(10, "weight", WB_T_DOUBLE, WB_L_NONE, 0, 0);
	col(11, "big", WB_T_BYTES, WB_L_DECIMAL, 65, 2);
	col(12, "tod", WB_T_LONG, WB_L_TIME_MICROS, 0, 0);
	col(13, "tags", WB_T_STRING, WB_L_NONE, 0, 0);
	col(14, "blob", WB_T_BYTES, WB_L_NONE, 0, 0);
	col(15, "uuid", WB_T_STRING, WB_L_UUID, 0, 0);
	col(16, "wt32", WB_T_FLOAT, WB_L_NONE, 0, 0);

	i64(&after[0], INT64_MAX);
	i64(&after[1], -2147483647 - 1);
	dec(&after[2], "-9999999999.99", 12, 2);
	dec(&after[3], "9999999999999999999999999999.9999999999", 38, 10);
	str(&after[4], " Stra\xc3\x9f"
		       "e \xd0\x96\xce\xa9 ");
	str(&after[5], "D");
	i64(&after[6], 1);
	i64(&after[7], -719162); /* 0001-01-01 */
	i64(&after[8], INT64_C(253402300799999999));
	i64(&after[9], INT64_C(1711852200000000));
	after[10].state = WB_VAL_PRESENT;
	after[10].u.d = 1e300;
	dec(&after[11], "123456789012345678901234567890123456789012.34", 65, 2);
	i64(&after[12], 0);
	str(&after[15], "6f1c2a4e-0000-4000-8000-000000000001");
	after[16].state = WB_VAL_PRESENT;
	after[16].u.f = -0.0f;

	i64(&before[0], INT64_MIN);
	i64(&before[1], 0);
	dec(&before[2], "0.01", 12, 2);
	dec(&before[3], "-0.0000000001", 38, 10);
	str(&before[4], "");
	str(&before[5], "S");
	i64(&before[6], 0);
	i64(&before[7], 2932896); /* 9999-12-31 */
	i64(&before[8], INT64_C(-62135596800000000));
	i64(&before[9], 0);
	before[10].state = WB_VAL_PRESENT;
	before[10].u.d = 0.1;
	dec(&before[11], "-1", 65, 2);
	for (int i = 0; i < 17; i++)
		empty[i].state =
			(uint8_t)(i % 3 == 0   ? WB_VAL_NULL
				  : i % 3 == 1 ? WB_VAL_UNCHANGED
					       : WB_VAL_UNREPRESENTABLE);
}

static bool fits_digits(__int128 v, int p)
{
	return p >= 38 ? wb_xdec_fits(v, 38) : wb_xdec_fits(v, p);
}

static void check_value(const struct wb_xtype *t, const struct wb_xval *v)
{
	if (v->null) {
		if (!t->nullable)
			abort();
		return;
	}
	switch (t->kind) {
	case WB_X_DECIMAL:
		if (!fits_digits(v->u.d, t->precision))
			abort();
		break;
	case WB_X_INT:
		if (t->precision > 0 && t->precision < 19 &&
		    !fits_digits(v->u.i, t->precision))
			abort();
		break;
	case WB_X_STRING:
		if (v->u.s.n > 0 && v->u.s.p == NULL)
			abort();
		if (wb_utf8_first_invalid((const uint8_t *)v->u.s.p,
					  v->u.s.n) != v->u.s.n)
			abort();
		break;
	default:
		break;
	}
}

static bool same(const struct wb_xtype *t, const struct wb_xval *a,
		 const struct wb_xval *b)
{
	if (a->null != b->null)
		return false;
	if (a->null)
		return true;
	switch (t->kind) {
	case WB_X_BOOL:
		return a->u.b == b->u.b;
	case WB_X_DECIMAL:
		return a->u.d == b->u.d;
	case WB_X_STRING:
		return a->u.s.n == b->u.s.n &&
		       (a->u.s.n == 0 ||
			memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
	case WB_X_DATE:
		return a->u.date == b->u.date;
	default:
		return a->u.i == b->u.i;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	if (table == NULL)
		setup();
	if (len == 0 || len > 4096)
		return 0;
	uint8_t flags = buf[0];
	char *text = malloc(len);
	if (text == NULL)
		return 0;
	memcpy(text, buf + 1, len - 1);
	text[len - 1] = '\0';
	size_t tlen = strlen(text);

	static const struct wb_xtype wants[4] = {
		{0},
		{.kind = WB_X_DECIMAL, .precision = 18, .scale = 3},
		{.kind = WB_X_STRING},
		{.kind = WB_X_INT},
	};
	bool fallible_ok = flags & 16;
	struct wb_expr_diag d;
	struct wb_expr *e = wb_expr_compile(
		text, table, (flags & 3) ? &wants[flags & 3] : NULL, flags & 4,
		flags & 8, fallible_ok, &d);
	if (e == NULL) {
		if (d.message[0] == '\0' || d.line < 1 || d.column < 1 ||
		    (size_t)d.line > tlen + 1 || (size_t)d.column > tlen + 1)
			abort();
		free(text);
		return 0;
	}
	struct wb_change ch = {.table = table,
			       .commit_ts_us = INT64_C(1709287200000000)};
	switch ((flags >> 5) & 3) {
	case 0:
		ch.op = 'u';
		ch.before = before;
		ch.after = after;
		break;
	case 1:
		ch.op = 'c';
		ch.after = after;
		break;
	case 2:
		ch.op = 'd';
		ch.before = before;
		break;
	default:
		ch.op = 'u';
		ch.before = empty;
		ch.after = empty;
		break;
	}
	struct wb_expr_row row = {.change = &ch,
				  .position = "0/16B3748",
				  .now_us = INT64_C(1709290800000000)};
	struct wb_arena a;
	wb_arena_init(&a, 1024);
	struct wb_xval v1, v2;
	const char *r1 = NULL, *r2 = NULL;
	int rc1 = wb_expr_eval(e, &row, &a, &v1, &r1);
	int rc2 = wb_expr_eval(e, &row, &a, &v2, &r2);
	const struct wb_xtype *t = wb_expr_type(e);
	if (rc1 != rc2)
		abort();
	if (rc1 != 0) {
		if (r1 == NULL || r1[0] == '\0' || strcmp(r1, r2) != 0)
			abort();
		/* a mapping that allows no failure may still meet a value
		 * that is not at hand (not sent, no Avro form): a property
		 * of the data, not of an operation (mappings/EXPRESSIONS.md) */
		if (!fallible_ok && strcmp(r1, "out of memory") != 0 &&
		    strncmp(r1, "the source did not send", 23) != 0 &&
		    strncmp(r1, "the value has no exact form", 27) != 0)
			abort();
	} else {
		check_value(t, &v1);
		if (!same(t, &v1, &v2))
			abort();
	}
	wb_arena_free(&a);
	wb_expr_free(e);
	free(text);
	return 0;
}
