/* test_expr.c — the mapping expression language: every operator and
 * function, NULL semantics, static type errors with their line:column and
 * message, every run-time failure's reason, exact decimals, time zones
 * (Europe/Berlin across both DST changes, from the system's tz database),
 * the compile options (want, allow_null, before_complete, fallible_ok),
 * and the decimal, time zone and regular expression modules underneath.
 *
 * Each case is an expression and its expected outcome as one string:
 *   "TYPE:VALUE" (TYPE with '?' when it may be NULL; VALUE NULL for NULL),
 *   "fail:REASON", or "error:LINE:COL: MESSAGE".
 * Expected decimals come from Python's decimal module, times from its
 * zoneinfo over the same tz database. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "check.h"
#include "expr.h"
#include "expr_int.h"
#include "table.h"
#include "valconv.h"
#include "xdecimal.h"
#include "xregex.h"
#include "xtz.h"

enum {
	C_ID,
	C_QTY,
	C_AMOUNT,
	C_PRICE,
	C_NAME,
	C_STATUS,
	C_FLAG,
	C_DAY,
	C_AT,
	C_LOCAL_AT,
	C_WEIGHT,
	C_BIG,
	C_TOD,
	C_TAGS,
	C_BLOB,
	C_UUID,
	C_WT32,
	NCOLS
};

static struct wb_table *table;
static struct wb_arena arena;
static struct wb_change change;
static struct wb_value after[NCOLS], before[NCOLS];

static void column(int i, const char *name, int kind, int logical, int p, int s,
		   bool key)
{
	struct wb_type t = {.s = {.kind = (uint8_t)kind,
				  .logical = (uint8_t)logical,
				  .precision = (int16_t)p,
				  .scale = (int16_t)s}};
	if (i == C_TAGS)
		t.is_array = 1;
	CHECK(wb_table_set_column(table, i, name, &t, true, key) == 0);
}

static void set_dec(struct wb_value *v, const char *text, int p, int s)
{
	CHECK(wb_decimal_from_text(text, strlen(text), p, s, &arena, v) == 0);
	v->state = WB_VAL_PRESENT;
}

static void set_str(struct wb_value *v, const char *text)
{
	v->state = WB_VAL_PRESENT;
	v->u.b.p = (const uint8_t *)text;
	v->u.b.n = (uint32_t)strlen(text);
}

static void set_int(struct wb_value *v, int64_t i)
{
	v->state = WB_VAL_PRESENT;
	v->u.i = i;
}

static void setup(void)
{
	table = wb_table_new("wms", "public", "shipment", NCOLS);
	column(C_ID, "id", WB_T_LONG, WB_L_NONE, 0, 0, true);
	column(C_QTY, "qty", WB_T_INT, WB_L_NONE, 0, 0, false);
	column(C_AMOUNT, "amount", WB_T_BYTES, WB_L_DECIMAL, 12, 2, false);
	column(C_PRICE, "price", WB_T_BYTES, WB_L_DECIMAL, 20, 4, false);
	column(C_NAME, "name", WB_T_STRING, WB_L_NONE, 0, 0, false);
	column(C_STATUS, "status", WB_T_STRING, WB_L_NONE, 0, 0, false);
	column(C_FLAG, "flag", WB_T_BOOLEAN, WB_L_NONE, 0, 0, false);
	column(C_DAY, "day", WB_T_INT, WB_L_DATE, 0, 0, false);
	column(C_AT, "at", WB_T_LONG, WB_L_TIMESTAMP_MICROS, 0, 0, false);
	column(C_LOCAL_AT, "local_at", WB_T_LONG, WB_L_LOCAL_TIMESTAMP_MICROS,
	       0, 0, false);
	column(C_WEIGHT, "weight", WB_T_DOUBLE, WB_L_NONE, 0, 0, false);
	column(C_BIG, "big", WB_T_BYTES, WB_L_DECIMAL, 65, 2, false);
	column(C_TOD, "tod", WB_T_LONG, WB_L_TIME_MICROS, 0, 0, false);
	column(C_TAGS, "tags", WB_T_STRING, WB_L_NONE, 0, 0, false);
	column(C_BLOB, "blob", WB_T_BYTES, WB_L_NONE, 0, 0, false);
	column(C_UUID, "uuid", WB_T_STRING, WB_L_UUID, 0, 0, false);
	column(C_WT32, "wt32", WB_T_FLOAT, WB_L_NONE, 0, 0, false);

	set_int(&after[C_ID], 42);
	set_int(&after[C_QTY], 7);
	set_dec(&after[C_AMOUNT], "1234.50", 12, 2);
	set_dec(&after[C_PRICE], "0.1000", 20, 4);
	set_str(&after[C_NAME], "  Widget \xc3\x84\xc3\xb6 ");
	set_str(&after[C_STATUS], "D");
	set_int(&after[C_FLAG], 1);
	set_int(&after[C_DAY], 19783);			  /* 2024-03-01 */
	set_int(&after[C_AT], INT64_C(1711845000000000)); /* 03-31 00:30Z */
	set_int(&after[C_LOCAL_AT], INT64_C(1711852200000000)); /* 02:30 */
	after[C_WEIGHT].state = WB_VAL_PRESENT;
	after[C_WEIGHT].u.d = 2.675;
	set_dec(&after[C_BIG], "12345.67", 65, 2);
	set_int(&after[C_TOD], 0);
	set_str(&after[C_UUID], "6f1c2a4e-0000-4000-8000-000000000001");
	after[C_WT32].state = WB_VAL_PRESENT;
	after[C_WT32].u.f = 1.1f;

	set_int(&before[C_ID], 42);
	set_int(&before[C_QTY], 5);
	set_dec(&before[C_AMOUNT], "1000.25", 12, 2);
	before[C_PRICE].state = WB_VAL_UNREPRESENTABLE;
	before[C_NAME].state = WB_VAL_UNCHANGED;
	set_str(&before[C_STATUS], "S");
	set_int(&before[C_FLAG], 0);

	change = (struct wb_change){.op = 'u',
				    .table = table,
				    .commit_ts_us = INT64_C(1709287200000000),
				    .before = before,
				    .after = after};
}

struct opts {
	const struct wb_xtype *want;
	bool allow_null, before_complete, fallible_ok;
};

static const struct opts defaults = {NULL, true, true, true};

/* The outcome of compiling and evaluating text, as the cases spell it. */
static void outcome(const char *text, const struct opts *o, char *buf, size_t n)
{
	struct wb_expr_diag d;
	struct wb_expr *e =
		wb_expr_compile(text, table, o->want, o->allow_null,
				o->before_complete, o->fallible_ok, &d);
	if (e == NULL) {
		snprintf(buf, n, "error:%d:%d: %s", d.line, d.column,
			 d.message);
		return;
	}
	struct wb_expr_row row = {.change = &change,
				  .position = "0/16B3748",
				  .now_us = INT64_C(1709290800000000)};
	struct wb_xval v;
	const char *reason = NULL;
	const struct wb_xtype *t = wb_expr_type(e);
	char tn[32], val[128];
	if (wb_expr_eval(e, &row, &arena, &v, &reason) != 0) {
		snprintf(buf, n, "fail:%s", reason);
	} else {
		if (v.null)
			snprintf(val, sizeof(val), "NULL");
		else if (t->kind == WB_X_STRING)
			snprintf(val, sizeof(val), "%.*s", (int)v.u.s.n,
				 v.u.s.p);
		else
			wb_xval_text(t, &v, val, sizeof(val));
		snprintf(buf, n, "%s%s:%s", wb_xtype_name(t, tn, sizeof(tn)),
			 t->nullable ? "?" : "", val);
	}
	wb_expr_free(e);
}

static void expect(int line, const char *text, const struct opts *o,
		   const char *want)
{
	char got[600];
	outcome(text, o, got, sizeof(got));
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "test_expr.c:%d: %s\n  got:  %s\n  want: %s\n",
			line, text, got, want);
		failures++;
	}
}

#define FAIL_NOT_SENT                                                          \
	"fail:the source did not send this value (an unchanged TOAST "         \
	"value, or a column outside a key-only before image; REPLICA "         \
	"IDENTITY FULL sends it)"
#define FAIL_NO_FORM                                                           \
	"fail:the value has no exact form in the column's type "               \
	"(unrepresentable: NaN, infinity, or out of range)"

#define E(text, want) expect(__LINE__, text, &defaults, want)
#define EO(text, opts, want) expect(__LINE__, text, opts, want)

static void literals_and_names(void)
{
	E("1", "int:1");
	E("-5", "int:-5");
	E("12.50", "decimal(4,2):12.50");
	E("0.05", "decimal(2,2):0.05");
	E("99999999999999999999", "decimal(20,0):99999999999999999999");
	E("'it''s'", "string:it's");
	E("''", "string:");
	E("true", "bool:true");
	E("FALSE", "bool:false");
	E("null", "null?:NULL");
	E("date '2024-03-01'", "date:2024-03-01");
	E("timestamp '2024-03-01 10:00:00Z'", "timestamp:2024-03-01T10:00:00Z");
	E("timestamp '2024-03-01 10:00:00.5+01:00'",
	  "timestamp:2024-03-01T09:00:00.500000Z");
	E("timestamp '2024-03-01 10:00:00'",
	  "local timestamp:2024-03-01T10:00:00");
	E("-- a comment\n  1 -- and another", "int:1");

	E("after.id", "int?:42");
	E("after.\"id\"", "int?:42");
	E("after.qty", "int?:7");
	E("after.amount", "decimal(12,2)?:1234.50");
	E("after.name", "string?:  Widget \xc3\x84\xc3\xb6 ");
	E("after.flag", "bool?:true");
	E("after.day", "date?:2024-03-01");
	E("after.at", "timestamp?:2024-03-31T00:30:00Z");
	E("after.local_at", "local timestamp?:2024-03-31T02:30:00");
	E("after.uuid", "string?:6f1c2a4e-0000-4000-8000-000000000001");
	E("after.big", "decimal(38,2)?:12345.67");
	/* NULL reads as NULL; a value that is there but not at hand
	 * (unchanged TOAST, unrepresentable) fails: never NULL */
	E("before.name", FAIL_NOT_SENT);
	E("before.price", FAIL_NO_FORM);
	E("before.day", "date?:NULL");
	E("op", "string:u");
	E("source.table", "string:shipment");
	E("source.schema", "string?:public");
	E("source.db", "string?:wms");
	E("source.position", "string?:0/16B3748");
	E("source.ts", "timestamp:2024-03-01T10:00:00Z");
	E("now()", "timestamp:2024-03-01T11:00:00Z");
}

static void arithmetic(void)
{
	/* exact decimals */
	E("0.1 + 0.2", "decimal(2,1):0.3");
	E("0.1 + 0.2 = 0.3", "bool:true");
	E("12345678901234567890.12 * 3",
	  "decimal(23,2):37037036703703703670.36");
	E("1 / 3", "decimal(7,6):0.333333");
	E("2 / 3", "decimal(7,6):0.666667");
	/* ties, half-even: 0.0078125 and 0.0234375 */
	E("1 / 128", "decimal(7,6):0.007812");
	E("3 / 128", "decimal(7,6):0.023438");
	E("-3 / 128", "decimal(7,6):-0.023438");
	E("after.amount - before.amount", "decimal(13,2)?:234.25");
	E("after.amount + 0.005", "decimal(14,3)?:1234.505");
	E("after.amount * after.price", "decimal(32,6)?:123.450000");
	E("after.amount / after.price", "decimal(24,10)?:12345.0000000000");
	E("after.amount % 7", "decimal(3,2)?:2.50");
	E("-after.amount", "decimal(12,2)?:-1234.50");
	E("99999999999999999999999999999999999999 + 1", "fail:overflow");
	E("99999999999999999999999999999999999999 * 10", "fail:overflow");
	E("99999999999999999999999999999999999999 / 0.1", "fail:overflow");
	E("after.amount / 0", "fail:division by zero");
	E("after.amount % 0", "fail:division by zero");
	E("0.0000000000000000000001 * 0.0000000000000000000001",
	  "error:1:26: '*' of decimal(22,22) and decimal(22,22) has 44 "
	  "fraction digits, more than 38: round an operand first");

	/* int64 */
	E("after.qty + 1", "int?:8");
	E("after.qty - 10", "int?:-3");
	E("after.qty * after.qty", "int?:49");
	E("after.qty % 4", "int?:3");
	E("-7 % 4", "int:-3");
	E("after.qty % 0", "fail:division by zero");
	E("9223372036854775807 + after.qty", "fail:overflow");
	E("9223372036854775807 * 2", "fail:overflow");
	E("-after.id", "int?:-42");
	E("-(-9223372036854775807 - 1)", "fail:overflow");
	/* int with decimal, int / int */
	E("after.qty + after.amount", "decimal(13,2)?:1241.50");
	E("after.qty / 2", "decimal(16,6)?:3.500000");
	E("after.qty = 7.0", "bool?:true");
	/* NULL propagates */
	E("null + 1", "int?:NULL");
	E("before.price * 2", FAIL_NO_FORM);
	E("1 + 'a'", "error:1:3: '+' needs numbers, found int and string: "
		     "'||' joins text");

	/* || */
	E("'a' || 'b' || after.status", "string?:abD");
	E("'a' || null", "string?:NULL");
	E("after.id || 'x'",
	  "error:1:1: '||' joins text, found int: string(x) converts");
	/* precedence: * before +, + before ||, || before = */
	E("1 + 2 * 3", "int:7");
	E("(1 + 2) * 3", "int:9");
	E("'a' || 'b' = 'ab'", "bool:true");
	E("2 - 3 - 4", "int:-5");
}

static void comparisons_and_logic(void)
{
	E("after.amount > before.amount", "bool?:true");
	E("after.amount = 1234.5", "bool?:true");
	E("after.amount >= 1234.51", "bool?:false");
	E("after.status = 'D'", "bool?:true");
	E("'a' < 'b'", "bool:true");
	E("'ab' < 'a'", "bool:false");
	E("'a' <> 'a'", "bool:false");
	E("after.day < date '2024-03-02'", "bool?:true");
	E("after.at >= timestamp '2024-03-31 00:30:00Z'", "bool?:true");
	E("after.local_at = timestamp '2024-03-31 02:30:00'", "bool?:true");
	E("true = false", "bool:false");
	E("false < true", "bool:true");
	E("before.day = date '2024-03-01'", "bool?:NULL");
	E("after.flag != before.flag", "bool?:true");
	E("after.status < 1", "error:1:14: '<' compares values of one type, "
			      "found string and int");
	E("after.local_at = after.at",
	  "error:1:16: '=' compares values of one type, found local "
	  "timestamp and timestamp");
	E("1 < 2 < 3", "error:1:7: comparisons do not chain: write a < b and "
		       "b < c");

	/* three-valued logic */
	E("null and false", "bool?:false");
	E("false and null", "bool?:false");
	E("null and true", "bool?:NULL");
	E("null or true", "bool?:true");
	E("null or false", "bool?:NULL");
	E("not null", "bool?:NULL");
	E("not (before.day = date '2024-03-01')", "bool?:NULL");
	E("not after.flag", "bool?:false");
	E("not 1 = 2", "bool:true");
	E("true or false and false", "bool:true");
	E("op != 'u' or after.amount != before.amount", "bool?:true");
	E("not 1", "error:1:5: 'not' needs a bool, found int");
	E("1 and true", "error:1:1: 'and' needs a bool, found int");
}

static void conditionals(void)
{
	E("coalesce(before.day, after.day)", "date?:2024-03-01");
	E("coalesce(before.name, 'none')", FAIL_NOT_SENT);
	E("before.price ?? 0", FAIL_NO_FORM);
	E("try(before.price, 0)", "decimal(20,4)?:0.0000");
	E("try(before.name, 'none')", "string?:none");
	E("coalesce(null, null, 3)", "int:3");
	E("coalesce(after.qty, 'x')",
	  "error:1:21: coalesce: values must have one type, found int and "
	  "string");
	E("coalesce(\n  after.qty,\n  'x')",
	  "error:3:3: coalesce: values must have one type, found int and "
	  "string");

	E("if(after.flag, 'yes', 'no')", "string:yes");
	E("if(null, 1, 2)", "int:2");
	E("if(after.qty > 5, after.amount, 0)", "decimal(12,2)?:1234.50");
	E("if(1, 2, 3)", "error:1:4: if: the condition must be bool, found "
			 "int");
	E("case(after.qty > 10, 'big', after.qty > 5, 'medium', 'small')",
	  "string:medium");
	E("case(false, 1, 2.5)", "decimal(2,1):2.5");
	E("case(true, 1)", "error:1:1: case takes at least 3 arguments, found "
			   "2: case(c1, v1, c2, v2, ..., default)");
	E("case(true, 1, false, 2)",
	  "error:1:1: case(c1, v1, c2, v2, ..., default): the default value "
	  "is missing");

	E("map(after.status, {'D': 'delivered', 'S': 'shipped'}, default: "
	  "'exception')",
	  "string?:delivered");
	E("map(before.status, {'D': 'delivered', 'S': 'shipped'}, default: "
	  "'exception')",
	  "string?:shipped");
	E("map('Q', {'D': 'delivered'}, default: 'exception')",
	  "string:exception");
	E("map('Q', {'D': 'delivered'}, default: dlq)",
	  "fail:no mapping for 'Q'");
	E("map(before.name, {'D': 'delivered'}, default: dlq)", FAIL_NOT_SENT);
	E("map(before.status, {'S': 'shipped'}, default: dlq)",
	  "string?:shipped");
	E("map(after.qty, {7: 'seven', 8: 'eight'}, default: dlq)",
	  "string?:seven");
	E("map(after.qty + 1, {7: 'seven'}, default: dlq)",
	  "fail:no mapping for '8'");
	E("map('b', {'a': 1, 'b': 2.5}, default: 0)", "decimal(2,1):2.5");
	E("map(after.day, {'a': 1}, default: 0)",
	  "error:1:5: map: the key must be text or an int, found date: "
	  "string(x) converts");
	E("map('x', {'a': 1, 'a': 2}, default: 0)",
	  "error:1:10: map: the key 'a' is listed twice");
	E("map('x', {'a': 1})",
	  "error:1:1: map takes 3 arguments, found 2: map(x, {'k': v, ...}, "
	  "default: v | dlq)");
	E("map('x', {after.status: 1}, default: 0)",
	  "error:1:11: map: keys must be text literals");
	E("upper(default: 'x')",
	  "error:1:7: a named argument belongs in map(...)");

	E("try(1 / 0, -1)", "decimal(7,6):-1.000000");
	E("try(int('x'), 0)", "int:0");
	E("try(int('5'), 0)", "int:5");
}

static void text(void)
{
	E("upper(after.name)", "string?:  WIDGET \xc3\x84\xc3\x96 ");
	E("lower('\xc3\x84\xc3\x96\xc3\x9c ABC \xce\xa9\xcf\x83 \xd0\x96')",
	  "string:\xc3\xa4\xc3\xb6\xc3\xbc abc \xcf\x89\xcf\x83 \xd0\xb6");
	E("upper('stra\xc3\x9f"
	  "e')",
	  "string:STRA\xc3\x9f"
	  "E");
	E("trim(after.name)", "string?:Widget \xc3\x84\xc3\xb6");
	E("ltrim(after.name)", "string?:Widget \xc3\x84\xc3\xb6 ");
	E("rtrim(after.name)", "string?:  Widget \xc3\x84\xc3\xb6");
	E("upper(trim(after.name))", "string?:WIDGET \xc3\x84\xc3\x96");
	E("length(after.name)", "int?:12");
	E("substring('Widget \xc3\x84\xc3\xb6', 8, 2)",
	  "string:\xc3\x84\xc3\xb6");
	E("substring('abcdef', 2)", "string:bcdef");
	E("substring('abcdef', 0, 3)", "string:ab");
	E("substring('abcdef', 5, 10)", "string:ef");
	E("substring('abcdef', 3, -1)", "string:");
	E("substring(after.status, null)", "string?:NULL");
	E("concat('a', 1, null, 2.50, true, date '2024-03-01')",
	  "string:a12.50true2024-03-01");
	E("concat(after.qty, '-', after.id)", "string:7-42");
	E("concat(before.name)", FAIL_NOT_SENT);
	E("concat(before.day)", "string:");
	E("replace('a-b-c', '-', '+')", "string:a+b+c");
	E("replace('aaa', 'a', '')", "string:");
	E("replace('abc', '', 'x')", "string:abc");
	E("starts_with('SKU-1', 'SKU')", "bool:true");
	E("starts_with('SKU-1', 'KU')", "bool:false");
	E("ends_with('SKU-1', '-1')", "bool:true");
	E("contains('SKU-1', 'U-')", "bool:true");
	E("contains('SKU', 'x')", "bool:false");
	E("contains(before.name, 'x')", FAIL_NOT_SENT);
	E("matches('SKU-123', '^SKU-[0-9]+$')", "bool:true");
	E("matches('SKU-12a', '^SKU-[0-9]+$')", "bool:false");
	E("matches(after.status, 'D|S')", "bool?:true");
	E("matches('a', '(')",
	  "error:1:14: regular expression: missing ) at 2");
	E("matches('a', after.status)",
	  "error:1:14: matches: the pattern must be a text literal");
	E("upper(1)", "error:1:7: upper: the argument must be string, found "
		      "int");
	E("string(after.amount)", "string?:1234.50");
	E("string(after.at)", "string?:2024-03-31T00:30:00Z");
	E("string(after.local_at)", "string?:2024-03-31T02:30:00");
	E("string(after.flag)", "string?:true");
	E("string(after.day)", "string?:2024-03-01");
	E("string(-0.05)", "string:-0.05");
}

static void casts(void)
{
	E("decimal('12.345', 10, 2, 'half_up')", "decimal(10,2):12.35");
	E("decimal('12.345', 10, 2, 'half_even')", "decimal(10,2):12.34");
	E("decimal(' -1e3 ', 10, 2)", "decimal(10,2):-1000.00");
	E("decimal('12.345', 10, 2)",
	  "fail:'12.345' has more fraction digits than the scale (name a "
	  "rounding mode)");
	E("decimal('abc', 10, 2)", "fail:'abc' is not a number");
	E("decimal('123456789', 10, 2)",
	  "fail:'123456789' does not fit (overflow)");
	E("decimal(after.amount, 10, 1, 'down')", "decimal(10,1)?:1234.5");
	E("decimal(after.amount, 10, 1)",
	  "error:1:1: decimal(x, 10, 1) drops fraction digits of "
	  "decimal(12,2): name the rounding, e.g. decimal(x, 10, 1, "
	  "'half_even')");
	E("decimal(after.amount, 4, 2)", "fail:overflow");
	E("decimal(after.qty, 5, 2)", "decimal(5,2)?:7.00");
	E("decimal(9223372036854775807, 38, 30)", "fail:overflow");
	E("decimal(1, 40, 2)", "error:1:12: decimal(x, 40, 2): precision 1 "
			       "to 38, scale 0 to precision");
	E("decimal(1, 4, 2, 'sideways')",
	  "error:1:18: rounding mode: 'half_even', 'half_up', 'down', 'up', "
	  "'floor' or 'ceiling'");
	/* floating-point columns only through decimal(), by their shortest
	 * text (2.675,
	 * not 2.67499999999999982236431605997495353221893310546875) */
	E("decimal(after.weight, 10, 2, 'half_up')", "decimal(10,2)?:2.68");
	E("decimal(after.weight, 10, 2, 'down')", "decimal(10,2)?:2.67");
	E("decimal(after.wt32, 5, 2, 'half_even')", "decimal(5,2)?:1.10");
	E("decimal(before.weight, 5, 2, 'half_even')", "decimal(5,2)?:NULL");
	E("after.weight", "error:1:1: after.weight is a floating-point column: "
			  "no exact value; convert it with decimal(x, p, s, "
			  "'half_even')");
	E("decimal(after.weight, 10, 2)",
	  "error:1:1: decimal() of a floating-point column needs a rounding "
	  "mode: decimal(x, 10, 2, 'half_even')");

	E("int('42')", "int:42");
	E("int(' -7 ')", "int:-7");
	E("int('12.5')", "fail:'12.5' is not an integer");
	E("int('x1')", "fail:'x1' is not a number");
	E("int('99999999999999999999')",
	  "fail:'99999999999999999999' does not fit an int (overflow)");
	E("int(12.00)", "int:12");
	E("int(12.50)", "fail:'12.50' is not an integer");
	E("int(after.amount)", "fail:'1234.50' is not an integer");
	E("int(after.flag)", "error:1:5: int() takes text or a decimal, found "
			     "bool");

	E("round(after.amount, 1)", "decimal(12,1)?:1234.5");
	E("round(2.345, 2)", "decimal(4,2):2.34");
	E("round(2.345, 2, 'half_up')", "decimal(4,2):2.35");
	E("round(-2.345, 2, 'floor')", "decimal(4,2):-2.35");
	E("round(-2.345, 2, 'ceiling')", "decimal(4,2):-2.34");
	E("round(2.341, 2, 'up')", "decimal(4,2):2.35");
	E("round(9.99, 1)", "decimal(3,1):10.0");
	E("round(2.5, 4)", "decimal(2,1):2.5");
	E("round(7, 2)", "int:7");
	E("round(1.5, 1, 'sideways')",
	  "error:1:15: rounding mode: 'half_even', 'half_up', 'down', 'up', "
	  "'floor' or 'ceiling'");
	E("abs(-2.5)", "decimal(2,1):2.5");
	E("abs(after.qty - 10)", "int?:3");
	E("abs('x')", "error:1:5: abs() takes a number, found string");
}

static void dates_and_zones(void)
{
	E("date('2024-02-29')", "date:2024-02-29");
	E("date('2023-02-29')", "fail:'2023-02-29' is not a date");
	E("date(after.at)", "date?:2024-03-31");
	E("date(after.at, 'America/New_York')", "date?:2024-03-30");
	E("date(after.local_at)", "date?:2024-03-31");
	E("date '2024-13-01'",
	  "error:1:1: '2024-13-01' is not a date (YYYY-MM-DD)");

	/* Europe/Berlin, 2024-03-31: 02:00 CET becomes 03:00 CEST; a time in
	 * the gap moves later by the gap (02:30 is 03:30 CEST) */
	E("timestamp(after.local_at, 'Europe/Berlin')",
	  "timestamp?:2024-03-31T01:30:00Z");
	E("timestamp('2024-03-31 01:59:59', 'Europe/Berlin')",
	  "timestamp:2024-03-31T00:59:59Z");
	E("timestamp('2024-03-31 03:00:00', 'Europe/Berlin')",
	  "timestamp:2024-03-31T01:00:00Z");
	/* 2024-10-27: 03:00 CEST becomes 02:00 CET; 02:30 happens twice and
	 * is taken at its first occurrence (CEST) */
	E("timestamp('2024-10-27 02:30:00', 'Europe/Berlin')",
	  "timestamp:2024-10-27T00:30:00Z");
	E("timestamp('2024-10-27 03:30:00', 'Europe/Berlin')",
	  "timestamp:2024-10-27T02:30:00Z");
	E("timestamp('2024-10-27 01:59:59.25', 'Europe/Berlin')",
	  "timestamp:2024-10-26T23:59:59.250000Z");
	E("timestamp('2024-07-01 12:00:00', 'Europe/Berlin')",
	  "timestamp:2024-07-01T10:00:00Z");
	E("timestamp('2024-01-15 12:00:00', 'Europe/Berlin')",
	  "timestamp:2024-01-15T11:00:00Z");
	/* past the file's transitions: its footer rule CET-1CEST,M3.5.0,
	 * M10.5.0/3 */
	E("timestamp('2090-03-26 02:30:00', 'Europe/Berlin')",
	  "timestamp:2090-03-26T01:30:00Z");
	E("timestamp('2090-07-01 12:00:00', 'Europe/Berlin')",
	  "timestamp:2090-07-01T10:00:00Z");
	E("timestamp('2090-10-29 02:30:00', 'Europe/Berlin')",
	  "timestamp:2090-10-29T00:30:00Z");
	/* the southern hemisphere */
	E("timestamp('2024-04-07 02:30:00', 'Australia/Sydney')",
	  "timestamp:2024-04-06T15:30:00Z");
	E("timestamp('2060-07-01 12:00:00', 'Australia/Sydney')",
	  "timestamp:2060-07-01T02:00:00Z");
	/* an offset in the text wins; fixed-offset zones */
	E("timestamp('2024-03-01T10:00:00+05:30')",
	  "timestamp:2024-03-01T04:30:00Z");
	E("timestamp('2024-03-01 10:00:00Z', 'Europe/Berlin')",
	  "timestamp:2024-03-01T10:00:00Z");
	E("timestamp('2024-03-01 10:00', '-03:00')",
	  "timestamp:2024-03-01T13:00:00Z");
	E("timestamp('2024-03-01 10:00')",
	  "fail:'2024-03-01 10:00' has no time zone offset");
	E("timestamp('nope')", "fail:'nope' is not a timestamp");
	E("timestamp(after.day)", "timestamp?:2024-03-01T00:00:00Z");
	E("timestamp(after.day, 'Europe/Berlin')",
	  "timestamp?:2024-02-29T23:00:00Z");
	E("timestamp(after.local_at)",
	  "error:1:1: timestamp() of a local timestamp needs its zone: "
	  "timestamp(x, 'Europe/Berlin')");
	E("timestamp(after.at, 'Europe/Berlin')",
	  "error:1:21: timestamp(x, zone): x is already a timestamp (UTC)");
	E("timestamp('x', 'Mars/Olympus')",
	  "error:1:16: unknown time zone 'Mars/Olympus' (no "
	  "/usr/share/zoneinfo/Mars/Olympus)");
	E("timestamp('x', '../etc/passwd')",
	  "error:1:16: '../etc/passwd' is not a time zone name");
	E("timestamp('x', after.status)",
	  "error:1:16: timestamp: the time zone must be a text literal such "
	  "as 'Europe/Berlin'");
	E("after.at = timestamp(after.local_at, 'Europe/Berlin')",
	  "bool?:false");
}

static void errors(void)
{
	E("", "error:1:1: empty expression");
	E("after.qty +", "error:1:12: expected a value, a name or '(', found "
			 "the end of the expression");
	E("after.nope",
	  "error:1:1: unknown column after.nope: public.shipment has id, qty, "
	  "amount, price, name, status, flag, day, at, local_at, weight, big, "
	  "tod, tags, blob, uuid, wt32");
	E("qty", "error:1:1: unknown name 'qty': names are before.<column>, "
		 "after.<column>, op and source.<field>; text is quoted 'like "
		 "this'");
	E("source.nope", "error:1:1: unknown field source.nope: "
			 "source.table, source.schema, source.db, "
			 "source.position, source.ts");
	E("before", "error:1:1: write before.<column>");
	E("upper", "error:1:1: upper is a function: write upper(...)");
	E("foo(1)", "error:1:1: unknown function foo");
	E("'abc", "error:1:1: unterminated text literal: a ' is missing");
	E("after.\"id", "error:1:7: unterminated quoted column name: a \" is "
			"missing");
	E("1 # 2", "error:1:3: unexpected character '#'");
	E("12abc", "error:1:1: malformed number: write digits, or "
		   "digits.digits");
	E("1 2", "error:1:3: expected an operator or the end, found '2'");
	E("(1 + 2", "error:1:7: expected ')', found the end of the "
		    "expression");
	E("{'a': 1}", "error:1:1: expected a value, a name or '(', found '{'");
	E("after.tod", "error:1:1: after.tod is a time of day: not usable in "
		       "expressions");
	E("after.tags", "error:1:1: after.tags is an array: not usable in "
			"expressions");
	E("after.blob", "error:1:1: after.blob is binary: not usable in "
			"expressions");
	E("1 +\n  upper(2)", "error:2:9: upper: the argument must be string, "
			     "found int");
	E("'\xc3\xa4\xc3\xa4' || 1", "error:1:9: '||' joins text, found int: "
				     "string(x) converts");
	E("and", "error:1:1: expected a value, found 'and'");
	char deep[300];
	memset(deep, '(', 100);
	strcpy(deep + 100, "1");
	memset(deep + 101, ')', 100);
	deep[201] = '\0';
	E(deep, "error:1:65: expression nested too deeply (over 64 levels)");
}

static void options(void)
{
	struct wb_xtype d18 = {
		.kind = WB_X_DECIMAL, .precision = 18, .scale = 3};
	struct wb_xtype d12_1 = {
		.kind = WB_X_DECIMAL, .precision = 12, .scale = 1};
	struct wb_xtype d5 = {.kind = WB_X_DECIMAL, .precision = 5, .scale = 2};
	struct wb_xtype d20 = {
		.kind = WB_X_DECIMAL, .precision = 20, .scale = 2};
	struct wb_xtype str = {.kind = WB_X_STRING};
	struct wb_xtype in = {.kind = WB_X_INT};
	struct wb_xtype ts = {.kind = WB_X_TIMESTAMP};
	struct opts o = {&d18, true, true, true};
	EO("after.amount - before.amount", &o, "decimal(18,3)?:234.250");
	EO("coalesce(after.amount, 0) - coalesce(before.amount, 0)", &o,
	   "decimal(18,3):234.250");
	o.want = &d12_1;
	EO("after.amount", &o,
	   "error:1:1: the result: decimal(12,2) has more fraction digits than "
	   "decimal(12,1): round it first, e.g. round(x, 1) or decimal(x, 12, "
	   "1, 'half_even')");
	EO("round(after.amount, 1)", &o, "decimal(12,1)?:1234.5");
	o.want = &d5;
	EO("after.amount", &o, "fail:overflow");
	EO("before.price", &o,
	   "error:1:1: the result: decimal(20,4) has more fraction digits than "
	   "decimal(5,2): round it first, e.g. round(x, 2) or decimal(x, 5, 2, "
	   "'half_even')");
	struct wb_xtype d38 = {
		.kind = WB_X_DECIMAL, .precision = 38, .scale = 30};
	o.want = &d38;
	EO("-9223372036854775807", &o, "fail:overflow");
	EO("after.qty", &o, "decimal(38,30)?:7.000000000000000000000000000000");
	o.want = &d20;
	EO("after.qty", &o, "decimal(20,2)?:7.00");
	o.want = &in;
	EO("after.qty * 2", &o, "int?:14");
	EO("after.amount", &o,
	   "error:1:1: the result: expected int, found decimal(12,2): int(x) "
	   "converts (failing on a fraction), round(x, 0) rounds first");
	o.want = &str;
	EO("after.qty", &o,
	   "error:1:1: the result: expected string, found int: string(x) "
	   "converts");
	o.want = &ts;
	EO("after.local_at", &o,
	   "error:1:1: the result: expected timestamp, found local timestamp: "
	   "name its zone with timestamp(x, 'Europe/Berlin')");
	EO("null", &o, "timestamp?:NULL");

	/* allow_null */
	struct opts nn = {&str, false, true, true};
	EO("after.status", &nn,
	   "error:1:1: the result may be NULL where a value is required: "
	   "before./after. columns are NULL when the change has no such "
	   "image; coalesce(x, default) gives one");
	EO("coalesce(after.status, '?')", &nn, "string:D");
	EO("after.status ?? before.status ?? 'none'", &nn, "string:D");

	/* before_complete */
	struct opts bc = {NULL, true, false, true};
	EO("before.amount", &bc,
	   "error:1:1: before.amount: the source does not send this column in "
	   "the before image (only key columns): PostgreSQL: ALTER TABLE "
	   "public.shipment REPLICA IDENTITY FULL; MySQL: "
	   "binlog_row_image=FULL");
	EO("before.id", &bc, "int?:42");
	EO("after.amount", &bc, "decimal(12,2)?:1234.50");

	/* fallible_ok */
	struct opts nf = {NULL, true, true, false};
	const char *tail = ", and failures are not allowed here: handle it "
			   "with try(x, fallback)";
	char want[400];
#define NF(text, where, what)                                                  \
	snprintf(want, sizeof(want), "error:%s: %s%s", where, what, tail);     \
	EO(text, &nf, want)
	NF("1 / after.qty", "1:3", "'/' may divide by zero");
	NF("after.qty % after.qty", "1:11", "'%' may divide by zero");
	NF("map(after.status, {'D': 'x'}, default: dlq)", "1:1",
	   "map(..., default: dlq) fails on a key it does not list");
	NF("int('5')", "1:1",
	   "int() of text fails on text that is not an integer");
	NF("int(after.amount)", "1:1",
	   "int() of a decimal fails on a fraction");
	NF("decimal('5', 3, 1)", "1:1",
	   "decimal() of text fails on text that is not a number");
	NF("decimal(after.amount, 5, 2)", "1:1", "decimal() may overflow");
	NF("date('2024-01-01')", "1:1",
	   "date() of text fails on text that is not a date");
	NF("timestamp('2024-01-01Z')", "1:1",
	   "timestamp() of text fails on text that is not a timestamp");
	NF("after.id + after.id", "1:10", "'+' may overflow int64");
	NF("after.id * 2", "1:10", "'*' may overflow int64");
	NF("-after.id", "1:1", "'-' of the smallest int64 overflows");
	NF("abs(after.id)", "1:1", "abs() of the smallest int64 overflows");
	NF("map('a', {'a': 2.5}, default: "
	   "99999999999999999999999999999999999999)",
	   "1:31",
	   "a decimal that may not fit the narrower decimal (overflow)");
	NF("after.big", "1:1",
	   "a decimal column of more than 38 digits (a larger value fails)");
	NF("99999999999999999999999999999999999999 + after.amount", "1:40",
	   "'+' may pass 38 digits (overflow)");
	NF("decimal(after.weight, 5, 2, 'down')", "1:1",
	   "decimal() of a floating-point column fails on NaN, infinity or "
	   "overflow");
	struct opts nf5 = {&d5, true, true, false};
	snprintf(want, sizeof(want), "error:1:1: %s%s",
		 "a decimal that may not fit the narrower decimal (overflow)",
		 tail);
	EO("after.amount", &nf5, want);
	/* what cannot fail compiles */
	EO("after.amount / 2", &nf, "decimal(18,8)?:617.25000000");
	EO("after.qty + after.qty", &nf, "int?:14");
	EO("try(1 / after.qty, 0)", &nf, "decimal(7,6)?:0.142857");
	EO("map(after.status, {'D': 'x'}, default: 'y')", &nf, "string?:x");
	EO("try(map('Q', {'D': 'x'}, default: dlq), 'none')", &nf,
	   "string:none");
#undef NF
}

static void with_op(int op, struct wb_value *b, struct wb_value *a,
		    const char *text, const char *want)
{
	struct wb_change save = change;
	change.op = (uint8_t)op;
	change.before = b;
	change.after = a;
	expect(__LINE__, text, &defaults, want);
	change = save;
}

static void images(void)
{
	/* an insert has no before image, a delete no after image */
	const char *delta = "coalesce(after.amount, 0) - "
			    "coalesce(before.amount, 0)";
	with_op('c', NULL, after, delta, "decimal(13,2):1234.50");
	with_op('d', before, NULL, delta, "decimal(13,2):-1000.25");
	with_op('d', before, NULL, "op", "string:d");
	with_op('d', before, NULL, "after.id", "int?:NULL");

	/* values that fail: NaN and infinity in a double, a 40-digit value
	 * in a decimal(65,2) column */
	struct wb_value odd[NCOLS];
	memcpy(odd, after, sizeof(odd));
	odd[C_WEIGHT].u.d = NAN;
	with_op('u', before, odd, "decimal(after.weight, 10, 2, 'up')",
		"fail:'NaN' is not a number");
	odd[C_WEIGHT].u.d = -INFINITY;
	with_op('u', before, odd, "decimal(after.weight, 10, 2, 'up')",
		"fail:'-Infinity' is not a number");
	odd[C_WEIGHT].u.d = 1e300;
	with_op('u', before, odd, "decimal(after.weight, 38, 2, 'up')",
		"fail:'1e+300' does not fit (overflow)");
	set_dec(&odd[C_BIG], "12345678901234567890123456789012345678.90", 65,
		2);
	with_op('u', before, odd, "after.big", "fail:overflow");
	with_op('u', before, odd, "try(after.big, -1)", "decimal(38,2)?:-1.00");
}

static void decimals(void)
{
	char b[64];
	__int128 v;
	__int128 max = wb_xdec_pow10[38] - 1;
	wb_xdec_text(0, 0, b, sizeof(b));
	CHECK_STR(b, "0");
	wb_xdec_text(-5, 2, b, sizeof(b));
	CHECK_STR(b, "-0.05");
	wb_xdec_text(max, 38, b, sizeof(b));
	CHECK_STR(b, "0.99999999999999999999999999999999999999");
	wb_xdec_text(-max, 0, b, sizeof(b));
	CHECK_STR(b, "-99999999999999999999999999999999999999");
	CHECK(wb_xdecimal_text(-max, 20, b, 10) == 40);
	CHECK_STR(b, "-99999999");

#define FT(text, s, p, mode, rc, want)                                         \
	do {                                                                   \
		v = 0;                                                         \
		CHECK(wb_xdec_from_text(text, strlen(text), s, p, mode, &v) == \
		      rc);                                                     \
		if (rc == 0) {                                                 \
			wb_xdec_text(v, s, b, sizeof(b));                      \
			CHECK_STR(b, want);                                    \
		}                                                              \
	} while (0)
	FT("1e3", 0, 38, WB_XR_NONE, 0, "1000");
	FT("1.5E-1", 2, 38, WB_XR_HALF_UP, 0, "0.15");
	FT(" -0.4 ", 0, 38, WB_XR_HALF_EVEN, 0, "0");
	FT("2.5", 0, 38, WB_XR_HALF_EVEN, 0, "2");
	FT("3.5", 0, 38, WB_XR_HALF_EVEN, 0, "4");
	FT("2.5000000000000000000000000000000000000000001", 0, 38,
	   WB_XR_HALF_EVEN, 0, "3");
	FT("-2.5", 0, 38, WB_XR_HALF_UP, 0, "-3");
	FT("-2.5", 0, 38, WB_XR_DOWN, 0, "-2");
	FT("-2.1", 0, 38, WB_XR_FLOOR, 0, "-3");
	FT("-2.9", 0, 38, WB_XR_CEILING, 0, "-2");
	FT("2.1", 0, 38, WB_XR_UP, 0, "3");
	FT("0.0000000000000000000000000000000000000000001", 2, 38, WB_XR_UP, 0,
	   "0.01");
	FT("1e-50", 0, 38, WB_XR_CEILING, 0, "1");
	FT("1e-50", 0, 38, WB_XR_NONE, WB_XDEC_INEXACT, "");
	FT("99999999999999999999999999999999999999.4", 0, 38, WB_XR_HALF_UP, 0,
	   "99999999999999999999999999999999999999");
	FT("99999999999999999999999999999999999999.5", 0, 38, WB_XR_HALF_UP,
	   WB_XDEC_OVERFLOW, "");
	FT("100000000000000000000000000000000000000", 0, 38, WB_XR_NONE,
	   WB_XDEC_OVERFLOW, "");
	FT("1e38", 0, 38, WB_XR_NONE, WB_XDEC_OVERFLOW, "");
	FT("1e999999999", 0, 38, WB_XR_NONE, WB_XDEC_OVERFLOW, "");
	FT("0e999999999", 0, 38, WB_XR_NONE, 0, "0");
	FT("000000000000000000000000000000000000000000012.5", 1, 3, WB_XR_NONE,
	   0, "12.5");
	FT("123.4", 1, 3, WB_XR_NONE, WB_XDEC_OVERFLOW, "");
	FT("1.", 0, 38, WB_XR_NONE, 0, "1");
	FT(".5", 1, 38, WB_XR_NONE, 0, "0.5");
	FT("abc", 0, 38, WB_XR_NONE, WB_XDEC_SYNTAX, "");
	FT("1e", 0, 38, WB_XR_NONE, WB_XDEC_SYNTAX, "");
	FT("-", 0, 38, WB_XR_NONE, WB_XDEC_SYNTAX, "");
	FT("1 2", 0, 38, WB_XR_NONE, WB_XDEC_SYNTAX, "");
#undef FT

	/* products and quotients past 128 bits on the way */
	CHECK(wb_xdec_mul(wb_xdec_pow10[19], wb_xdec_pow10[18], 38, &v) == 0 &&
	      v == wb_xdec_pow10[37]);
	CHECK(wb_xdec_mul(wb_xdec_pow10[19], wb_xdec_pow10[19], 38, &v) ==
	      WB_XDEC_OVERFLOW);
	CHECK(wb_xdec_mul(max, max, 38, &v) == WB_XDEC_OVERFLOW);
	CHECK(wb_xdec_mul(-max, 1, 38, &v) == 0 && v == -max);
	CHECK(wb_xdec_div(1, 0, 3, 0, 38, 38, WB_XR_HALF_EVEN, &v) == 0);
	wb_xdec_text(v, 38, b, sizeof(b));
	CHECK_STR(b, "0.33333333333333333333333333333333333333");
	CHECK(wb_xdec_div(2, 0, 3, 0, 38, 38, WB_XR_HALF_EVEN, &v) == 0);
	wb_xdec_text(v, 38, b, sizeof(b));
	CHECK_STR(b, "0.66666666666666666666666666666666666667");
	CHECK(wb_xdec_div(max, 0, 7, 0, 0, 38, WB_XR_HALF_EVEN, &v) == 0);
	wb_xdec_text(v, 0, b, sizeof(b));
	CHECK_STR(b, "14285714285714285714285714285714285714");
	/* 10^37 * 10^38 / (10^38 - 1): a 256-bit dividend */
	CHECK(wb_xdec_div(wb_xdec_pow10[37], 0, max, 38, 0, 38, WB_XR_HALF_EVEN,
			  &v) == 0);
	wb_xdec_text(v, 0, b, sizeof(b));
	CHECK_STR(b, "10000000000000000000000000000000000000");
	CHECK(wb_xdec_div(1, 0, 0, 0, 6, 38, WB_XR_HALF_EVEN, &v) ==
	      WB_XDEC_DIVZERO);
	CHECK(wb_xdec_div(1, 0, 3, 0, 2, 38, WB_XR_NONE, &v) ==
	      WB_XDEC_INEXACT);
	/* a scale below the dividend's: 7.5 / 2 at scale 0 is 3.75 -> 4 */
	CHECK(wb_xdec_div(75, 1, 2, 0, 0, 38, WB_XR_HALF_EVEN, &v) == 0 &&
	      v == 4);
	CHECK(wb_xdec_add(max, 0, -max, 38, 38, 38, &v) == WB_XDEC_OVERFLOW);
	CHECK(wb_xdec_add(1, 0, -wb_xdec_pow10[37] * 5, 38, 38, 38, &v) == 0 &&
	      v == wb_xdec_pow10[37] * 5);
	CHECK(wb_xdec_add(max, 0, max, 0, 0, 38, &v) == WB_XDEC_OVERFLOW);
	CHECK(wb_xdec_mod(-75, 1, 2, 0, 1, &v) == 0 && v == -15);
	CHECK(wb_xdec_mod(max, 0, 7, 38, 38, &v) == 0 && v == 2);
	CHECK(wb_xdec_cmp(5, 0, wb_xdec_pow10[37] * 5, 37) == 0);
	CHECK(wb_xdec_cmp(max, 0, max, 38) == 1);
	CHECK(wb_xdec_cmp(-max, 0, max, 38) == -1);
	CHECK(wb_xdec_cmp(-1, 0, -max, 38) == -1);

	/* Avro bytes: sign extension past 16 bytes is fine, more is not */
	uint8_t big[17];
	memset(big, 0xff, sizeof(big));
	CHECK(wb_xdec_from_bytes(big, 17, &v) == 0 && v == -1);
	big[0] = 0x00;
	CHECK(wb_xdec_from_bytes(big, 17, &v) == WB_XDEC_OVERFLOW);
	memset(big, 0x7f, 16);
	CHECK(wb_xdec_from_bytes(big, 16, &v) == WB_XDEC_OVERFLOW);
	uint8_t b2[2] = {0xff, 0x7f};
	CHECK(wb_xdec_from_bytes(b2, 2, &v) == 0 && v == -129);
}

static void zones(void)
{
	char err[200];
	struct wb_tz *z = wb_tz_load("Europe/Berlin", err, sizeof(err));
	CHECK(z != NULL);
	if (z != NULL) {
		/* 2024-03-31T01:00Z and 2024-10-27T01:00Z */
		CHECK(wb_tz_offset(z, 1711846799) == 3600);
		CHECK(wb_tz_offset(z, 1711846800) == 7200);
		CHECK(wb_tz_offset(z, 1729990799) == 7200);
		CHECK(wb_tz_offset(z, 1729990800) == 3600);
		/* 2090-03-26T01:00Z by the footer rule */
		CHECK(wb_tz_offset(z, 3794173200 - 1) == 3600);
		CHECK(wb_tz_offset(z, 3794173200) == 7200);
		/* 1800: before the first transition, local mean time */
		CHECK(wb_tz_offset(z, -5364662400) == 3208);
	}
	wb_tz_free(z);
	z = wb_tz_load("America/New_York", err, sizeof(err));
	CHECK(z != NULL);
	if (z != NULL) {
		/* 2024-03-10 02:30 is in the gap: 03:30 EDT = 07:30Z */
		CHECK(wb_tz_local_to_utc(z, 1710037800) == 1710055800);
	}
	wb_tz_free(z);
	z = wb_tz_load("+05:30", err, sizeof(err));
	CHECK(z != NULL && wb_tz_offset(z, 0) == 19800);
	wb_tz_free(z);
	z = wb_tz_load("-0800", err, sizeof(err));
	CHECK(z != NULL && wb_tz_offset(z, 0) == -28800);
	wb_tz_free(z);
	CHECK(wb_tz_load("+25:00", err, sizeof(err)) == NULL);
	CHECK(wb_tz_load("Europe/", err, sizeof(err)) == NULL);
	CHECK_STR(err, "'Europe/' is not a time zone name");
	CHECK(wb_tz_parse((const uint8_t *)"TZif", 4) == NULL);
	uint8_t junk[64] = "TZif2";
	CHECK(wb_tz_parse(junk, sizeof(junk)) == NULL);
	/* a version 1 file with one transition */
	uint8_t v1[44 + 4 + 1 + 12 + 8] = "TZif";
	v1[20 + 15] = 1; /* timecnt */
	v1[20 + 19] = 2; /* typecnt */
	v1[20 + 23] = 8; /* charcnt */
	uint8_t *d = v1 + 44;
	d[3] = 100;	     /* transition at t = 100 */
	d[4] = 1;	     /* to type 1 */
	d[5 + 3] = 0;	     /* type 0: UTC */
	d[5 + 6 + 2] = 0x0e; /* type 1: 3600 */
	d[5 + 6 + 3] = 0x10;
	z = wb_tz_parse(v1, sizeof(v1));
	CHECK(z != NULL && wb_tz_offset(z, 99) == 0 &&
	      wb_tz_offset(z, 100) == 3600);
	wb_tz_free(z);
}

static void regexes(void)
{
	static const struct {
		const char *re, *text;
		int match; /* -1: the pattern is refused */
		const char *err;
	} cases[] = {
		{"abc", "xxabcxx", 1, NULL},
		{"^abc", "xabc", 0, NULL},
		{"abc$", "abc", 1, NULL},
		{"abc$", "abcd", 0, NULL},
		{"a.c", "abc", 1, NULL},
		{"a.c", "a\nc", 0, NULL},
		{"[0-9]+", "x12", 1, NULL},
		{"^[A-Z]{3}-\\d{4}$", "ABC-1234", 1, NULL},
		{"^[A-Z]{3}-\\d{4}$", "AB-1234", 0, NULL},
		{"^[A-Z]{3}-\\d{4}$", "ABC-12345", 0, NULL},
		{"^a{2,}$", "aaaa", 1, NULL},
		{"^a{2,3}$", "aaaa", 0, NULL},
		{"^(ab|cd)*e$", "ababcde", 1, NULL},
		{"colou?r", "color", 1, NULL},
		{"^[^a-z]+$", "ABC", 1, NULL},
		{"^[^a-z]+$", "AbC", 0, NULL},
		{"\xc3\x84", "x\xc3\x84x", 1, NULL},
		{"^.$", "\xc3\x84", 1, NULL},
		{"^[\xc3\xa0-\xc3\xbf]$", "\xc3\xa4", 1, NULL},
		{"(a|b)*c", "abab", 0, NULL},
		{"\\.", "a.b", 1, NULL},
		{"\\.", "ab", 0, NULL},
		{"^\\w+@\\w+\\.\\w+$", "a_1@b.io", 1, NULL},
		{"\\s", "a\tb", 1, NULL},
		{"^\\S+$", "a b", 0, NULL},
		{"^\\D+$", "abc", 1, NULL},
		{"(?:ab)+?c", "ababc", 1, NULL},
		{"", "", 1, NULL},
		{"^$", "x", 0, NULL},
		{"(", "", -1, "regular expression: missing ) at 2"},
		{"a)", "", -1, "regular expression: unmatched ) at 2"},
		{"*a", "", -1, "regular expression: nothing to repeat at 1"},
		{"[z-a]", "", -1,
		 "regular expression: range out of order at 4"},
		{"a{2,1}", "", -1,
		 "regular expression: bad count (at most 100, m <= n) at 6"},
		{"a{101}", "", -1,
		 "regular expression: bad count (at most 100, m <= n) at 6"},
		{"\\q", "", -1, "regular expression: unknown escape at 2"},
		{"[\\D]", "", -1,
		 "regular expression: \\D, \\W, \\S inside [] are not "
		 "supported "
		 "at 3"},
		{"[abc", "", -1, "regular expression: missing ] at 5"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[200] = "";
		struct wb_regex *re = wb_regex_compile(
			cases[i].re, strlen(cases[i].re), err, sizeof(err));
		if (cases[i].match < 0) {
			CHECK(re == NULL);
			if (strcmp(err, cases[i].err) != 0) {
				fprintf(stderr,
					"regex %s: got '%s' want '%s'\n",
					cases[i].re, err, cases[i].err);
				failures++;
			}
		} else if (re == NULL ||
			   wb_regex_search(re, cases[i].text,
					   strlen(cases[i].text)) !=
				   (cases[i].match == 1)) {
			fprintf(stderr, "regex %s on '%s': want %d (%s)\n",
				cases[i].re, cases[i].text, cases[i].match,
				err);
			failures++;
		}
		wb_regex_free(re);
	}
	/* patterns that make a backtracking matcher take exponential time
	 * answer at once: the work is linear in the text */
	size_t n = 50000;
	char *text = malloc(n + 1);
	memset(text, 'a', n);
	text[n] = '\0';
	char err[200];
	struct wb_regex *re = wb_regex_compile("^(a*)*b$", 8, err, sizeof(err));
	CHECK(re != NULL && !wb_regex_search(re, text, n));
	wb_regex_free(re);
	re = wb_regex_compile("(a|aa)+$x", 9, err, sizeof(err));
	CHECK(re != NULL && !wb_regex_search(re, text, n));
	wb_regex_free(re);
	free(text);
}

int main(void)
{
	unsetenv("TZDIR");
	wb_arena_init(&arena, 4096);
	setup();
	literals_and_names();
	arithmetic();
	comparisons_and_logic();
	conditionals();
	text();
	casts();
	dates_and_zones();
	errors();
	options();
	images();
	decimals();
	zones();
	regexes();
	wb_table_unref(table);
	wb_arena_free(&arena);
	if (failures) {
		fprintf(stderr, "test_expr: %d failures\n", failures);
		return 1;
	}
	printf("test_expr: ok\n");
	return 0;
}
