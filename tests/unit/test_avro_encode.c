/* test_avro_encode.c — change records to Avro, checked with python3-avro. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avro_encode.h"
#include "avro_schema.h"
#include "buf.h"
#include "change.h"
#include "check.h"

#ifndef WB_SOURCE_DIR
#define WB_SOURCE_DIR "."
#endif

enum {
	C_ID,
	C_FLAG,
	C_QTY,
	C_F,
	C_D,
	C_NAME,
	C_RAW,
	C_AMOUNT,
	C_DAY,
	C_AT,
	C_TS,
	C_LTS,
	C_U,
	C_DOC,
	C_TAGS,
	C_NOTE,
	C_AMT2,
	C_NUMS,
	C_WH,
	NCOLS
};

static const struct {
	const char *name;
	int kind, logical, is_array, nullable, key;
} cols[NCOLS] = {
	[C_ID] = {"id", WB_T_LONG, WB_L_NONE, 0, 0, 1},
	[C_FLAG] = {"flag", WB_T_BOOLEAN, WB_L_NONE, 0, 0, 0},
	[C_QTY] = {"qty", WB_T_INT, WB_L_NONE, 0, 1, 0},
	[C_F] = {"f", WB_T_FLOAT, WB_L_NONE, 0, 0, 0},
	[C_D] = {"d", WB_T_DOUBLE, WB_L_NONE, 0, 1, 0},
	[C_NAME] = {"name", WB_T_STRING, WB_L_NONE, 0, 0, 0},
	[C_RAW] = {"raw", WB_T_BYTES, WB_L_NONE, 0, 1, 0},
	[C_AMOUNT] = {"amount", WB_T_BYTES, WB_L_DECIMAL, 0, 0, 0},
	[C_DAY] = {"day", WB_T_INT, WB_L_DATE, 0, 1, 0},
	[C_AT] = {"at", WB_T_LONG, WB_L_TIME_MICROS, 0, 0, 0},
	[C_TS] = {"ts", WB_T_LONG, WB_L_TIMESTAMP_MICROS, 0, 1, 0},
	[C_LTS] = {"lts", WB_T_LONG, WB_L_LOCAL_TIMESTAMP_MICROS, 0, 0, 0},
	[C_U] = {"u", WB_T_STRING, WB_L_UUID, 0, 1, 0},
	[C_DOC] = {"doc", WB_T_STRING, WB_L_JSON, 0, 0, 0},
	[C_TAGS] = {"tags", WB_T_STRING, WB_L_NONE, 1, 1, 0},
	[C_NOTE] = {"Big Note", WB_T_STRING, WB_L_NONE, 0, 0, 0},
	[C_AMT2] = {"amt2", WB_T_BYTES, WB_L_DECIMAL, 0, 1, 0},
	[C_NUMS] = {"nums", WB_T_INT, WB_L_NONE, 1, 0, 0},
	[C_WH] = {"wh id", WB_T_INT, WB_L_NONE, 0, 0, 1},
};

static struct wb_table *make_table(void)
{
	struct wb_table *t = wb_table_new("erp", "public", "Stock Move", NCOLS);
	if (t == NULL)
		return NULL;
	for (int i = 0; i < NCOLS; i++) {
		struct wb_type ty = {0};
		ty.s.kind = (uint8_t)cols[i].kind;
		ty.s.logical = (uint8_t)cols[i].logical;
		ty.is_array = (uint8_t)cols[i].is_array;
		if (i == C_AMOUNT) {
			ty.s.precision = 10;
			ty.s.scale = 2;
		} else if (i == C_AMT2) {
			ty.s.precision = 12;
			ty.s.scale = 3;
		}
		wb_table_set_column(t, i, cols[i].name, &ty, cols[i].nullable,
				    cols[i].key);
	}
	return t;
}

static struct wb_value vi(int64_t i)
{
	struct wb_value v = {.state = WB_VAL_PRESENT};
	v.u.i = i;
	return v;
}

static struct wb_value vb(const void *p, size_t n)
{
	struct wb_value v = {.state = WB_VAL_PRESENT};
	v.u.b.p = p;
	v.u.b.n = (uint32_t)n;
	return v;
}

static struct wb_value vs(const char *s)
{
	return vb(s, strlen(s));
}

static const struct wb_value v_null = {.state = WB_VAL_NULL};
static const struct wb_value v_unch = {.state = WB_VAL_UNCHANGED};

static const uint8_t raw_bytes[] = {0x00, 0xff, 0x10};
static const uint8_t amount_neg[] = {0xfe, 0x1d, 0xc0}; /* -123456 */
static const uint8_t amt2_500[] = {0x01, 0xf4};		/* 500 */
/* ["a", null, "c"]: count 3, union 1 "a", union 0, union 1 "c", end */
static const uint8_t tags_enc[] = {0x06, 0x02, 0x02, 'a', 0x00,
				   0x02, 0x02, 'c',  0x00};
/* [1, -2] */
static const uint8_t nums_enc[] = {0x04, 0x02, 0x02, 0x02, 0x03, 0x00};

static void full_row(struct wb_value *r, int64_t id)
{
	r[C_ID] = vi(id);
	r[C_FLAG] = vi(1);
	r[C_QTY] = vi(-7);
	r[C_F] = (struct wb_value){.state = WB_VAL_PRESENT, .u.f = 1.5f};
	r[C_D] = (struct wb_value){.state = WB_VAL_PRESENT, .u.d = -0.1};
	r[C_NAME] = vs("Bolt M8 \xe2\x9c\x93");
	r[C_RAW] = vb(raw_bytes, sizeof(raw_bytes));
	r[C_AMOUNT] = vb(amount_neg, sizeof(amount_neg));
	r[C_DAY] = vi(19675);
	r[C_AT] = vi(45296789012);
	r[C_TS] = vi(1700000000123456);
	r[C_LTS] = vi(1700000000123456);
	r[C_U] = vs("6f1c2b1e-1a2b-4c3d-8e9f-0123456789ab");
	r[C_DOC] = vs("{\"a\": [1, 2]}");
	r[C_TAGS] = vb(tags_enc, sizeof(tags_enc));
	r[C_NOTE] = vs("x");
	r[C_AMT2] = vb(amt2_500, sizeof(amt2_500));
	r[C_NUMS] = vb(nums_enc, sizeof(nums_enc));
	r[C_WH] = vi(3);
}

static void null_row(struct wb_value *r)
{
	for (int i = 0; i < NCOLS; i++)
		r[i] = v_null;
}

static void fmt_pos(const wb_position_t *pos, char *buf, size_t n)
{
	snprintf(buf, n, "%X/%X:%" PRIu64, (unsigned)(pos->major >> 32),
		 (unsigned)pos->major, pos->minor);
}

/* Events collected for the container file and the key check. */
#define MAXEV 16
static struct wb_buf block;
static int nblock;
static char key_hex[MAXEV][256];
static int nkeys;

static void keep(const struct wb_event *ev)
{
	wb_buf_append(&block, ev->value, ev->value_len);
	nblock++;
	if (ev->key != NULL && nkeys < MAXEV) {
		char *h = key_hex[nkeys++];
		for (size_t i = 0; i < ev->key_len && i < 120; i++)
			sprintf(h + 2 * i, "%02x", ev->key[i]);
	}
}

static int write_ocf(const char *path, const char *schema)
{
	struct wb_buf f;
	wb_buf_init(&f);
	static const uint8_t sync[16] = {0x57, 0x61, 0x79, 0x62, 0x69, 0x6c,
					 0x6c, 0x21, 0x00, 0xff, 0x10, 0x20,
					 0x30, 0x40, 0x50, 0x60};
	wb_buf_append(&f, "Obj\x01", 4);
	wb_avro_put_long(&f, 2);
	wb_avro_put_string(&f, "avro.schema");
	wb_avro_put_string(&f, schema);
	wb_avro_put_string(&f, "avro.codec");
	wb_avro_put_string(&f, "null");
	wb_avro_put_long(&f, 0);
	wb_buf_append(&f, sync, 16);
	wb_avro_put_long(&f, nblock);
	wb_avro_put_long(&f, (int64_t)block.len);
	wb_buf_append(&f, block.data, block.len);
	wb_buf_append(&f, sync, 16);
	FILE *fp = fopen(path, "wb");
	int rc = fp && !f.failed && fwrite(f.data, 1, f.len, fp) == f.len;
	if (fp)
		rc = (fclose(fp) == 0) && rc;
	wb_buf_free(&f);
	return rc ? 0 : -1;
}

/* Runs cmd and compares its output with want, line by line. */
static void check_output(const char *cmd, const char *want)
{
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	if (p == NULL)
		return;
	struct wb_buf out;
	wb_buf_init(&out);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		wb_buf_append(&out, chunk, n);
	wb_buf_append(&out, "", 1);
	int status = pclose(p);
	CHECK(status == 0);
	const char *got = (const char *)out.data;
	if (strcmp(got, want) != 0) {
		const char *g = got, *w = want;
		while (*g && *g == *w)
			g++, w++;
		const char *ls = g;
		while (ls > got && ls[-1] != '\n')
			ls--;
		fprintf(stderr,
			"output of %s differs at byte %td\n got line: %.*s\n"
			" want from: %.300s\n",
			cmd, g - got, (int)strcspn(ls, "\n"), ls,
			want + (ls - got));
		failures++;
	}
	wb_buf_free(&out);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The envelope's last fields when every value fits. */
#define NO_UNREP ", unrepresentable: [], unrepresentable_text: {}}\n"

/* What python3-avro reads back: an insert; an update with a new key and
 * values the source did not send; one without a before image; one whose
 * key column the source did not send; a delete with only the identity in
 * the before image; a snapshot read; a truncate. */
/* clang-format off */
static const char expected_records[] =
	"codec null\n"
	"{before: None, after: {id: 1, flag: True, qty: -7, f: 1.5, "
	"d: -0.1, name: 'Bolt M8 \xe2\x9c\x93', raw: b'\\x00\\xff\\x10', "
	"amount: Decimal(-1234.56), day: date(2023-11-14), "
	"at: time(12:34:56.789012), "
	"ts: datetime(2023-11-14T22:13:20.123456+00:00), "
	"lts: 1700000000123456, "
	"u: '6f1c2b1e-1a2b-4c3d-8e9f-0123456789ab', doc: '{\"a\": [1, "
	"2]}', tags: ['a', None, 'c'], Big_Note: 'x', "
	"amt2: Decimal(0.500), nums: [1, -2], wh_id: 3}, op: 'c', "
	"source: {connector: 'postgres', name: 'wms1', db: 'erp', "
	"schema: 'public', table: 'Stock Move', position: '0/16B3748:1', "
	"txid: 1234, gtid: None, ts_ms: 1700000000123, snapshot: False, detected_delete: False}, "
	"ts_ms: 'in_range', event_id: 'wms1:0/16B3748:1', unchanged: []" NO_UNREP
	"{before: {id: 1, flag: True, qty: -7, f: 1.5, d: -0.1, "
	"name: 'Bolt M8 \xe2\x9c\x93', raw: b'\\x00\\xff\\x10', "
	"amount: Decimal(-1234.56), day: date(2023-11-14), "
	"at: time(12:34:56.789012), "
	"ts: datetime(2023-11-14T22:13:20.123456+00:00), "
	"lts: 1700000000123456, "
	"u: '6f1c2b1e-1a2b-4c3d-8e9f-0123456789ab', doc: '{\"a\": [1, "
	"2]}', tags: ['a', None, 'c'], Big_Note: '', amt2: None, "
	"nums: [], wh_id: 3}, after: {id: 2, flag: True, qty: None, "
	"f: 1.5, d: -0.1, name: 'Bolt M8 \xe2\x9c\x93', "
	"raw: b'\\x00\\xff\\x10', amount: Decimal(-1234.56), "
	"day: date(2023-11-14), at: time(12:34:56.789012), "
	"ts: datetime(2023-11-14T22:13:20.123456+00:00), "
	"lts: 1700000000123456, "
	"u: '6f1c2b1e-1a2b-4c3d-8e9f-0123456789ab', doc: '{\"a\": [1, "
	"2]}', tags: ['a', None, 'c'], Big_Note: '', amt2: None, "
	"nums: [], wh_id: 3}, op: 'u', source: {connector: 'postgres', "
	"name: 'wms1', db: 'erp', schema: 'public', table: 'Stock Move', "
	"position: '0/16B3748:2', txid: 1234, gtid: None, "
	"ts_ms: 1700000000123, snapshot: False, detected_delete: False}, ts_ms: 'in_range', "
	"event_id: 'wms1:0/16B3748:2', unchanged: ['amount', 'doc', "
	"'Big Note', 'amt2', 'nums']" NO_UNREP
	"{before: None, after: {id: 2, flag: False, qty: 0, f: -2.0, "
	"d: None, name: '', raw: b'', amount: Decimal(0.00), "
	"day: date(1970-01-01), at: time(00:00:00), "
	"ts: datetime(1969-12-31T23:59:59.999999+00:00), lts: -1, "
	"u: None, doc: '', tags: [], Big_Note: 'y', "
	"amt2: Decimal(-0.001), nums: [], wh_id: -2147483648}, op: 'u', "
	"source: {connector: 'postgres', name: 'wms1', db: 'erp', "
	"schema: 'public', table: 'Stock Move', position: '0/16B3800:1', "
	"txid: 1235, gtid: None, ts_ms: 1700000001000, snapshot: False, detected_delete: False}, "
	"ts_ms: 'in_range', event_id: 'wms1:0/16B3800:1', "
	"unchanged: ['d', 'amount', 'doc']" NO_UNREP
	"{before: {id: 9, flag: False, qty: None, f: 0.0, d: None, "
	"name: '', raw: None, amount: Decimal(0.00), day: None, "
	"at: time(00:00:00), ts: None, lts: 0, u: None, doc: '', "
	"tags: None, Big_Note: '', amt2: None, nums: [], wh_id: 4}, "
	"after: {id: 9, flag: True, qty: -7, f: 1.5, d: -0.1, "
	"name: 'Bolt M8 \xe2\x9c\x93', raw: b'\\x00\\xff\\x10', "
	"amount: Decimal(-1234.56), day: date(2023-11-14), "
	"at: time(12:34:56.789012), "
	"ts: datetime(2023-11-14T22:13:20.123456+00:00), "
	"lts: 1700000000123456, "
	"u: '6f1c2b1e-1a2b-4c3d-8e9f-0123456789ab', doc: '{\"a\": [1, "
	"2]}', tags: ['a', None, 'c'], Big_Note: 'x', "
	"amt2: Decimal(0.500), nums: [1, -2], wh_id: 4}, op: 'u', "
	"source: {connector: 'postgres', name: 'wms1', db: 'erp', "
	"schema: 'public', table: 'Stock Move', position: '0/16B3A00:1', "
	"txid: 1236, gtid: None, ts_ms: 1700000002000, snapshot: False, detected_delete: False}, "
	"ts_ms: 'in_range', event_id: 'wms1:0/16B3A00:1', "
	"unchanged: ['id']" NO_UNREP
	"{before: {id: 2, flag: False, qty: None, f: 0.0, d: None, "
	"name: '', raw: None, amount: Decimal(0.00), day: None, "
	"at: time(00:00:00), ts: None, lts: 0, u: None, doc: '', "
	"tags: None, Big_Note: '', amt2: None, nums: [], wh_id: 3}, "
	"after: None, op: 'd', source: {connector: 'postgres', "
	"name: 'wms1', db: 'erp', schema: 'public', table: 'Stock Move', "
	"position: '0/16B3900:1', txid: 1237, gtid: None, "
	"ts_ms: 1700000003000, snapshot: False, detected_delete: True}, ts_ms: 'in_range', "
	"event_id: 'wms1:0/16B3900:1', unchanged: []" NO_UNREP
	"{before: None, after: {id: 10, flag: True, qty: -7, f: 1.5, "
	"d: -0.1, name: 'Bolt M8 \xe2\x9c\x93', raw: b'\\x00\\xff\\x10', "
	"amount: Decimal(-1234.56), day: date(2023-11-14), "
	"at: time(12:34:56.789012), "
	"ts: datetime(2023-11-14T22:13:20.123456+00:00), "
	"lts: 1700000000123456, "
	"u: '6f1c2b1e-1a2b-4c3d-8e9f-0123456789ab', doc: '{\"a\": [1, "
	"2]}', tags: ['a', None, 'c'], Big_Note: 'x', "
	"amt2: Decimal(0.500), nums: [1, -2], wh_id: 3}, op: 'r', "
	"source: {connector: 'postgres', name: 'wms1', db: 'erp', "
	"schema: 'public', table: 'Stock Move', position: '0/0:0', "
	"txid: None, gtid: None, ts_ms: 0, snapshot: True, detected_delete: False}, "
	"ts_ms: 'in_range', event_id: 'wms1:0/0:0', unchanged: []" NO_UNREP
	"{before: None, after: None, op: 't', "
	"source: {connector: 'postgres', name: 'wms1', db: 'erp', "
	"schema: 'public', table: 'Stock Move', position: '1/2:3', "
	"txid: 1240, gtid: None, ts_ms: 1700000004000, snapshot: False, detected_delete: False}, "
	"ts_ms: 'in_range', event_id: 'wms1:1/2:3', unchanged: []" NO_UNREP;
/* clang-format on */

static const char expected_keys[] = "{id: 1, wh_id: 3}\n"
				    "{id: 2, wh_id: 3}\n"
				    "{id: 2, wh_id: -2147483648}\n"
				    "{id: 9, wh_id: 4}\n"
				    "{id: 2, wh_id: 3}\n"
				    "{id: 10, wh_id: 3}\n";

static void test_events(void)
{
	wb_error_t err = {0};
	struct wb_encoder_config cfg = {
		.pipeline = "wms1",
		.topic_prefix = "wms1",
		.connector = "postgres",
		.format_position = fmt_pos,
	};
	struct wb_encoder *e = wb_encoder_new(&cfg, &err);
	struct wb_table *t = make_table();
	CHECK(e != NULL && t != NULL);
	if (e == NULL || t == NULL)
		return;
	wb_buf_init(&block);

	struct wb_value before[NCOLS], after[NCOLS];
	struct wb_change c;
	struct wb_event ev;
	int64_t lo = now_ms();

	/* insert */
	memset(&c, 0, sizeof(c));
	c.op = WB_OP_INSERT;
	c.table = t;
	c.pos = (wb_position_t){0x16B3748, 1};
	c.txid = 1234;
	c.commit_ts_us = 1700000000123456;
	full_row(after, 1);
	c.after = after;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK_STR(ev.topic, "wms1.public.Stock Move");
	CHECK_STR(ev.position, "0/16B3748:1");
	CHECK_STR(ev.event_id, "wms1:0/16B3748:1");
	CHECK(ev.op == 'c');
	CHECK(ev.pos.major == 0x16B3748 && ev.pos.minor == 1);
	CHECK(ev.table == t);
	CHECK(ev.key_schema != NULL && ev.value_schema != NULL);
	CHECK_STR(ev.value_schema->full_name,
		  "wms1.public.Stock_Move_envelope");
	CHECK_STR(ev.key_schema->full_name, "wms1.public.Stock_Move_key");
	/* id 1 (02), wh_id 3 (06): the key record, nothing else */
	CHECK(ev.key_len == 2 && ev.key[0] == 0x02 && ev.key[1] == 0x06);
	const struct wb_schema *vschema = ev.value_schema;
	char *value_json = strdup(vschema->json);
	char *key_json = strdup(ev.key_schema->json);
	CHECK(wb_encoder_schemas(e, t, &err) != NULL &&
	      &wb_encoder_schemas(e, t, &err)->value == vschema);
	keep(&ev);

	/* update: key changed, TOAST-like values not sent */
	c.op = WB_OP_UPDATE;
	c.pos.minor = 2;
	full_row(before, 1);
	before[C_NOTE] = v_unch;
	before[C_AMT2] = v_unch;
	before[C_NUMS] = v_unch;
	full_row(after, 2);
	after[C_QTY] = v_null;
	after[C_AMOUNT] = v_unch;
	after[C_DOC] = v_unch;
	after[C_NOTE] = v_unch;
	after[C_AMT2] = v_unch;
	after[C_NUMS] = v_unch;
	c.before = before;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK(ev.value_schema == vschema);
	keep(&ev);

	/* update without a before image: zero values and null */
	static const uint8_t amt2_m1[] = {0xff}; /* -1 */
	c.pos = (wb_position_t){0x16B3800, 1};
	c.txid = 1235;
	c.commit_ts_us = 1700000001000999;
	c.before = NULL;
	after[C_ID] = vi(2);
	after[C_FLAG] = vi(0);
	after[C_QTY] = vi(0);
	after[C_F] = (struct wb_value){.state = WB_VAL_PRESENT, .u.f = -2.0f};
	after[C_D] = v_unch;
	after[C_NAME] = vs("");
	after[C_RAW] = vb(NULL, 0);
	after[C_AMOUNT] = v_unch;
	after[C_DAY] = vi(0);
	after[C_AT] = vi(0);
	after[C_TS] = vi(-1);
	after[C_LTS] = vi(-1);
	after[C_U] = v_null;
	after[C_DOC] = v_unch;
	after[C_TAGS] = vb("\0", 1);
	after[C_NOTE] = vs("y");
	after[C_AMT2] = vb(amt2_m1, 1);
	after[C_NUMS] = vb(NULL, 0);
	after[C_WH] = vi(INT32_MIN);
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	keep(&ev);

	/* update: key column not sent; the before image has it */
	c.pos = (wb_position_t){0x16B3A00, 1};
	c.txid = 1236;
	c.commit_ts_us = 1700000002000000;
	null_row(before);
	before[C_ID] = vi(9);
	before[C_WH] = vi(4);
	full_row(after, 0);
	after[C_ID] = v_unch;
	after[C_WH] = vi(4);
	c.before = before;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	keep(&ev);

	/* delete: identity only; marked as found by a key comparison (the
	 * flag is the envelope's source.detected_delete) */
	c.op = WB_OP_DELETE;
	c.detected_delete = true;
	c.pos = (wb_position_t){0x16B3900, 1};
	c.txid = 1237;
	c.commit_ts_us = 1700000003000000;
	null_row(before);
	before[C_ID] = vi(2);
	before[C_WH] = vi(3);
	c.before = before;
	c.after = NULL;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK(ev.op == 'd');
	c.detected_delete = false;
	keep(&ev);

	/* snapshot read */
	memset(&c, 0, sizeof(c));
	c.op = WB_OP_READ;
	c.table = t;
	c.snapshot = true;
	full_row(after, 10);
	c.after = after;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK_STR(ev.event_id, "wms1:0/0:0");
	keep(&ev);

	/* truncate: no rows, no key */
	memset(&c, 0, sizeof(c));
	c.op = WB_OP_TRUNCATE;
	c.table = t;
	c.pos = (wb_position_t){((uint64_t)1 << 32) | 2, 3};
	c.txid = 1240;
	c.commit_ts_us = 1700000004000000;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK(ev.key == NULL && ev.key_len == 0);
	CHECK(ev.key_schema != NULL);
	keep(&ev);

	/* not a row change */
	c.op = WB_OP_COMMIT;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_ERR_RUNTIME);
	int64_t hi = now_ms();

	char dir[] = "/tmp/wb_avro_encode_XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char ocf[128], keysch[128], cmd[4096];
	snprintf(ocf, sizeof(ocf), "%s/events.avro", dir);
	snprintf(keysch, sizeof(keysch), "%s/key.avsc", dir);
	CHECK(write_ocf(ocf, value_json) == 0);
	FILE *f = fopen(keysch, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(key_json, f);
		fclose(f);
	}

	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 %s/tests/fixtures/avro/read_avro.py ocf %s "
		 "%" PRId64 " %" PRId64,
		 WB_SOURCE_DIR, ocf, lo, hi);
	check_output(cmd, expected_records);

	int o = snprintf(cmd, sizeof(cmd),
			 "/usr/bin/python3 %s/tests/fixtures/avro/read_avro.py "
			 "datum %s",
			 WB_SOURCE_DIR, keysch);
	for (int i = 0; i < nkeys; i++)
		o += snprintf(cmd + o, sizeof(cmd) - (size_t)o, " %s",
			      key_hex[i]);
	check_output(cmd, expected_keys);

	unlink(ocf);
	unlink(keysch);
	rmdir(dir);
	free(value_json);
	free(key_json);
	wb_buf_free(&block);

	/* The cache serves an encoder with another prefix by rebuilding. */
	cfg.topic_prefix = "other";
	cfg.pipeline = "p2";
	struct wb_encoder *e2 = wb_encoder_new(&cfg, &err);
	memset(&c, 0, sizeof(c));
	c.op = WB_OP_INSERT;
	c.table = t;
	full_row(after, 1);
	c.after = after;
	CHECK(e2 && wb_encoder_encode(e2, &c, &ev, &err) == WB_OK);
	CHECK_STR(ev.topic, "other.public.Stock Move");
	CHECK_STR(ev.value_schema->full_name,
		  "other.public.Stock_Move_envelope");
	CHECK_STR(ev.event_id, "p2:0/0:0");
	wb_encoder_free(e2);

	wb_table_unref(t); /* frees the cache */
	wb_encoder_free(e);
	wb_encoder_free(NULL);
}

static void test_keyless(void)
{
	wb_error_t err = {0};
	struct wb_encoder_config cfg = {.pipeline = "wms1",
					.connector = "postgres"};
	struct wb_encoder *e = wb_encoder_new(&cfg, &err);
	struct wb_table *t = wb_table_new("erp", "public", "log", 1);
	struct wb_type ty = {.s = {.kind = WB_T_STRING}};
	wb_table_set_column(t, 0, "msg", &ty, true, false);
	struct wb_value after[1] = {vs("hi")};
	struct wb_change c = {
		.op = WB_OP_INSERT, .table = t, .pos = {7, 8}, .after = after};
	struct wb_event ev;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK(ev.key == NULL && ev.key_len == 0 && ev.key_schema == NULL);
	CHECK_STR(ev.position, "7:8"); /* default position text */
	CHECK_STR(ev.topic, "wms1.public.log");
	/* before null, after {msg: "hi"}, "c", source..., with exact bytes */
	static const uint8_t head[] = {0x00, 0x02, 0x02, 0x04, 'h', 'i',
				       0x02, 'c',  0x10, 'p',  'o', 's',
				       't',  'g',  'r',	 'e',  's'};
	CHECK(ev.value_len > sizeof(head) &&
	      memcmp(ev.value, head, sizeof(head)) == 0);
	wb_table_unref(t);
	wb_encoder_free(e);
}

/* Values of 64 KiB or more are not copied into the envelope: the event
 * gives it in parts, the values' own bytes between the buffer's pieces;
 * the next event with small values is in one piece again. */
static void test_holes(void)
{
	wb_error_t err = {0};
	struct wb_encoder_config cfg = {.pipeline = "wms1",
					.connector = "postgres"};
	struct wb_encoder *e = wb_encoder_new(&cfg, &err);
	struct wb_table *t = wb_table_new("erp", "public", "log", 2);
	struct wb_type ts = {.s = {.kind = WB_T_STRING}};
	struct wb_type tb = {.s = {.kind = WB_T_BYTES}};
	wb_table_set_column(t, 0, "msg", &ts, true, false);
	wb_table_set_column(t, 1, "blob", &tb, false, false);
	enum { NMSG = 100000, NBLOB = 70000 };
	char *msg = malloc(NMSG);
	uint8_t *blob = malloc(NBLOB);
	CHECK(msg && blob);
	if (!msg || !blob)
		return;
	for (size_t i = 0; i < NMSG; i++)
		msg[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < NBLOB; i++)
		blob[i] = (uint8_t)(i * 7);
	struct wb_value after[2] = {vb(msg, NMSG), vb(blob, NBLOB)};
	struct wb_change c = {
		.op = WB_OP_INSERT, .table = t, .pos = {7, 8}, .after = after};
	struct wb_event ev;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK(ev.value == NULL && ev.nvalue_parts == 5);
	CHECK(wb_event_has_value(&ev));
	CHECK(ev.value_parts[1].p == (const uint8_t *)msg &&
	      ev.value_parts[1].n == NMSG);
	CHECK(ev.value_parts[3].p == blob && ev.value_parts[3].n == NBLOB);
	struct wb_buf all;
	wb_buf_init(&all);
	for (size_t i = 0; i < ev.nvalue_parts; i++)
		wb_buf_append(&all, ev.value_parts[i].p, ev.value_parts[i].n);
	CHECK(all.len == ev.value_len);
	/* before null, after: msg union 1 + length 100000, the text, blob
	 * length 70000, the bytes, then op "c" */
	static const uint8_t head[] = {0x00, 0x02, 0x02, 0xc0, 0x9a, 0x0c};
	static const uint8_t mid[] = {0xe0, 0xc5, 0x08};
	CHECK(all.len > sizeof(head) + NMSG + sizeof(mid) + NBLOB + 2);
	if (all.len > sizeof(head) + NMSG + sizeof(mid) + NBLOB + 2) {
		const uint8_t *p = all.data;
		CHECK(memcmp(p, head, sizeof(head)) == 0);
		p += sizeof(head);
		CHECK(memcmp(p, msg, NMSG) == 0);
		p += NMSG;
		CHECK(memcmp(p, mid, sizeof(mid)) == 0);
		p += sizeof(mid);
		CHECK(memcmp(p, blob, NBLOB) == 0);
		p += NBLOB;
		CHECK(p[0] == 0x02 && p[1] == 'c');
	}
	after[0] = vs("hi");
	after[1] = vb(blob, 1);
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK(ev.value != NULL && ev.nvalue_parts == 0 && ev.value_len > 8);
	wb_buf_free(&all);
	free(msg);
	free(blob);
	wb_table_unref(t);
	wb_encoder_free(e);
}

/* Values the Avro types cannot hold: null in the row, named in
 * `unrepresentable` (the image the event is about), their text in
 * `unrepresentable_text` (both images); the key keeps the text in its
 * string branch. Read back with python3-avro. */
static struct wb_value vu(const char *text)
{
	struct wb_value v = vs(text);
	v.state = WB_VAL_UNREPRESENTABLE;
	return v;
}

static void test_unrepresentable(void)
{
	wb_error_t err = {0};
	struct wb_encoder_config cfg = {.pipeline = "p",
					.connector = "postgres"};
	struct wb_encoder *e = wb_encoder_new(&cfg, &err);
	struct wb_table *t = wb_table_new("db", "public", "m", 4);
	CHECK(e != NULL && t != NULL);
	if (e == NULL || t == NULL)
		return;
	struct wb_type tk = {
		.s = {.kind = WB_T_LONG, .logical = WB_L_TIMESTAMP_MICROS},
		.may_not_fit = 1};
	struct wb_type tn = {.s = {.kind = WB_T_BYTES,
				   .logical = WB_L_DECIMAL,
				   .precision = 8,
				   .scale = 2},
			     .may_not_fit = 1};
	struct wb_type ta = {.s = {.kind = WB_T_INT},
			     .is_array = 1,
			     .ndims = 2,
			     .may_not_fit = 1};
	struct wb_type ts = {.s = {.kind = WB_T_STRING}};
	wb_table_set_column(t, 0, "k", &tk, false, true);
	wb_table_set_column(t, 1, "n", &tn, false, false);
	wb_table_set_column(t, 2, "a", &ta, true, false);
	wb_table_set_column(t, 3, "s", &ts, false, false);

	/* [[1,2],[3,None]] */
	static const uint8_t nested[] = {0x04, 0x04, 0x02, 0x02, 0x02,
					 0x04, 0x00, 0x04, 0x02, 0x06,
					 0x00, 0x00, 0x00};
	static const uint8_t d150[] = {0x00, 0x96};
	struct wb_value before[4], after[4];
	struct wb_change c = {.op = WB_OP_INSERT, .table = t, .pos = {1, 1}};
	struct wb_event ev;
	wb_buf_init(&block);
	nblock = 0;
	nkeys = 0;

	after[0] = vu("infinity");
	after[1] = vu("NaN");
	after[2] = vb(nested, sizeof(nested));
	after[3] = vs("x");
	c.after = after;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	char *value_json = strdup(ev.value_schema->json);
	char *key_json = strdup(ev.key_schema->json);
	keep(&ev);

	c.op = WB_OP_UPDATE;
	c.pos.minor = 2;
	before[0] = vi(0);
	before[1] = vu("Infinity");
	before[2] = vu("{1,2}");
	before[3] = vs("y");
	after[0] = vi(0);
	after[1] = vb(d150, sizeof(d150));
	after[2] = v_unch; /* the before image's, unrepresentable too */
	after[3] = vs("z");
	c.before = before;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	CHECK(ev.old_key == NULL);
	keep(&ev);

	c.op = WB_OP_DELETE;
	c.pos.minor = 3;
	for (int i = 0; i < 4; i++)
		before[i] = v_null;
	before[0] = vu("-infinity");
	c.after = NULL;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	keep(&ev);

	/* the schemas: NOT NULL k and n are nullable in the row, the key's k
	 * has a string branch, a nests two arrays */
	CHECK(strstr(value_json,
		     "{\"name\":\"k\",\"type\":[\"null\",{\"type\":\"long\","
		     "\"logicalType\":\"timestamp-micros\"}],\"default\":"
		     "null}") != NULL);
	CHECK(strstr(value_json, "{\"name\":\"n\",\"type\":[\"null\",{") !=
	      NULL);
	CHECK(strstr(value_json,
		     "{\"name\":\"a\",\"type\":[\"null\",{\"type\":\"array\","
		     "\"items\":{\"type\":\"array\",\"items\":[\"null\","
		     "\"int\"]}}],\"default\":null}") != NULL);
	CHECK(strstr(value_json, "{\"name\":\"s\",\"type\":\"string\"}") !=
	      NULL);
	CHECK(strstr(value_json,
		     "{\"name\":\"unrepresentable\",\"type\":{\"type\":"
		     "\"array\",\"items\":\"string\"},\"default\":[]},{"
		     "\"name\":"
		     "\"unrepresentable_text\",\"type\":{\"type\":\"map\","
		     "\"values\":{\"type\":\"map\",\"values\":\"string\"}},"
		     "\"default\":{}}]}") != NULL);
	CHECK_STR(
		key_json,
		"{\"type\":\"record\",\"name\":\"m_key\",\"namespace\":"
		"\"p.public\",\"fields\":[{\"name\":\"k\",\"type\":[{\"type\":"
		"\"long\",\"logicalType\":\"timestamp-micros\"},"
		"\"string\"]}]}");

	char dir[] = "/tmp/wb_avro_unrep_XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char ocf[128], keysch[128], cmd[4096];
	snprintf(ocf, sizeof(ocf), "%s/events.avro", dir);
	snprintf(keysch, sizeof(keysch), "%s/key.avsc", dir);
	CHECK(write_ocf(ocf, value_json) == 0);
	FILE *f = fopen(keysch, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(key_json, f);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 %s/tests/fixtures/avro/read_avro.py ocf %s "
		 "0 0 | sed 's/out_of_range([0-9]*)/T/; "
		 "s/, source: {[^}]*}//'",
		 WB_SOURCE_DIR, ocf);
	/* clang-format off */
	check_output(cmd,
		"codec null\n"
		"{before: None, after: {k: None, n: None, a: [[1, 2], [3, None]], "
		"s: 'x'}, op: 'c', ts_ms: 'T', event_id: 'p:1:1', unchanged: [], "
		"unrepresentable: ['k', 'n'], "
		"unrepresentable_text: {after: {k: 'infinity', n: 'NaN'}}}\n"
		"{before: {k: datetime(1970-01-01T00:00:00+00:00), n: None, "
		"a: None, s: 'y'}, after: {k: datetime(1970-01-01T00:00:00+00:00), "
		"n: Decimal(1.50), a: None, s: 'z'}, op: 'u', ts_ms: 'T', "
		"event_id: 'p:1:2', unchanged: ['a'], unrepresentable: ['a'], "
		"unrepresentable_text: {before: {n: 'Infinity', a: '{1,2}'}, "
		"after: {a: '{1,2}'}}}\n"
		"{before: {k: None, n: None, a: None, s: ''}, after: None, "
		"op: 'd', ts_ms: 'T', event_id: 'p:1:3', unchanged: [], "
		"unrepresentable: ['k'], "
		"unrepresentable_text: {before: {k: '-infinity'}}}\n");
	/* clang-format on */
	int o = snprintf(cmd, sizeof(cmd),
			 "/usr/bin/python3 %s/tests/fixtures/avro/read_avro.py "
			 "datum %s",
			 WB_SOURCE_DIR, keysch);
	for (int i = 0; i < nkeys; i++)
		o += snprintf(cmd + o, sizeof(cmd) - (size_t)o, " %s",
			      key_hex[i]);
	check_output(cmd, "{k: 'infinity'}\n"
			  "{k: datetime(1970-01-01T00:00:00+00:00)}\n"
			  "{k: '-infinity'}\n");
	unlink(ocf);
	unlink(keysch);
	rmdir(dir);
	free(value_json);
	free(key_json);
	wb_buf_free(&block);
	wb_table_unref(t);
	wb_encoder_free(e);
}

int main(void)
{
	test_events();
	test_keyless();
	test_holes();
	test_unrepresentable();
	if (failures) {
		fprintf(stderr, "test_avro_encode: %d check(s) failed\n",
			failures);
		return 1;
	}
	printf("test_avro_encode: ok\n");
	return 0;
}
