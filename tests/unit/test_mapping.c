/* test_mapping.c — mapping files: every loader error with its
 * file:line:column, the check's messages, the Avro bytes of a mapped event
 * and of a dead letter, event ids, fingerprints, decimal bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_cat.h"
#include "avro_schema.h"
#include "mapping.h"
#include "mapping_schema.h"
#include "valconv.h"
#include "check.h"

static char dir[] = "/tmp/wb-test-mapping-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text as a mapping file and returns all diagnostics, one per line,
 * with the directory cut from the paths. */
static char *load_errors(const char *text)
{
	write_file("m.yaml", text);
	const char *pat = "m.yaml";
	struct wb_mapping_diags d = {0};
	struct wb_mapping_options opt = {.system = "wms1", .base_dir = dir};
	wb_error_t err;
	struct wb_mappings *m = wb_mappings_load(&pat, 1, &opt, &d, &err);
	static char out[4096];
	out[0] = '\0';
	size_t o = 0;
	for (int i = 0; i < d.n; i++) {
		const char *f = d.v[i].file;
		if (strncmp(f, dir, strlen(dir)) == 0)
			f += strlen(dir) + 1;
		o += (size_t)snprintf(out + o, sizeof(out) - o,
				      "%s:%d:%d: %s\n", f, d.v[i].line,
				      d.v[i].column, d.v[i].message);
	}
	if (m != NULL)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "(loaded)\n");
	wb_mappings_free(m);
	wb_mapping_diags_free(&d);
	return out;
}

static const char good[] = "mapping: stock_balance_to_movement\n"
			   "version: 3\n"
			   "source: public.stock_balance\n"
			   "ops: [c, u, d]\n"
			   "event: InventoryMovement\n"
			   "correlation_id: \"after.sku\"\n"
			   "fields:\n"
			   "  sku: \"after.sku\"\n"
			   "  to_location: \"after.warehouse\"\n"
			   "  quantity_delta: \"after.qty\"\n"
			   "  unit: \"'EA'\"\n"
			   "  reason: \"'balance_change'\"\n";

static void test_loader_errors(void)
{
	CHECK_STR(load_errors(good), "(loaded)\n");
	CHECK_STR(load_errors("mapping: a\nsource: public.t\nevent: Nope\n"
			      "correlation_id: \"'x'\"\nfields: {}\n"),
		  "m.yaml:3:8: event: unknown event type \"Nope\" (one of: "
		  "FreightCharge, InventoryBalance, InventoryMovement, "
		  "ProofOfDelivery, ShipmentCreated, "
		  "ShipmentStatusChanged)\n");
	CHECK_STR(load_errors("mapping: a\nsource: public.t\n"
			      "event: FreightCharge\n"
			      "correlation_id: \"'x'\"\nsink: 1\n"
			      "fields:\n  shipment_id: \"'s'\"\n"
			      "  charge_type: \"'freight'\"\n"
			      "  amount: \"1.5\"\n  currency: \"'EUR'\"\n"
			      "  colour: \"'red'\"\n"),
		  "m.yaml:5:1: unknown key \"sink\" (expected one of: mapping, "
		  "version, description, source, ops, when, event, "
		  "correlation_id, occurred_at, topic, on_failure, fields)\n"
		  "m.yaml:11:3: fields: unknown field \"colour\" of "
		  "FreightCharge (its fields: shipment_id, charge_type, "
		  "amount, currency, invoice_id, carrier)\n");
	CHECK_STR(load_errors("mapping: a\nsource: public.t\n"
			      "event: FreightCharge\n"
			      "correlation_id: \"'x'\"\n"
			      "fields:\n  shipment_id: \"'s'\"\n"),
		  "m.yaml:5:1: fields: missing required field \"charge_type\" "
		  "(string) of FreightCharge\n"
		  "m.yaml:5:1: fields: missing required field \"amount\" "
		  "(decimal(18,4)) of FreightCharge\n"
		  "m.yaml:5:1: fields: missing required field \"currency\" "
		  "(string) of FreightCharge\n");
	CHECK_STR(load_errors("mapping: a\nsource: public.t\n"
			      "event: ProofOfDelivery\n"
			      "correlation_id: \"'x'\"\n"
			      "fields:\n  shipment_id: \"'s'\"\n"
			      "  delivered_at: \"source.ts\"\n"
			      "  event_id: \"'mine'\"\n"
			      "  correlation_id: \"'k'\"\n"),
		  "m.yaml:8:3: fields: event_id is set by waybill, not by the "
		  "mapping\n"
		  "m.yaml:9:3: fields: correlation_id is set by the mapping's "
		  "top-level key correlation_id, not under fields\n");
	CHECK_STR(
		load_errors("mapping: Bad-Name\nversion: 0\nsource: t\n"
			    "ops: [c, x, c]\non_failure: ignore\n"
			    "event: ProofOfDelivery\n"
			    "fields:\n  shipment_id: \"'s'\"\n"
			    "  delivered_at: [1]\n"),
		"m.yaml:1:10: mapping: expected a name of a-z, 0-9 and _ (up "
		"to 100), got \"Bad-Name\"\n"
		"m.yaml:2:10: version: expected a whole number from 1, got "
		"0\n"
		"m.yaml:3:9: source: expected schema.table (globs allowed: "
		"public.stock_*), got \"t\"\n"
		"m.yaml:4:10: ops: expected c, u, d, r or t, got \"x\"\n"
		"m.yaml:4:13: ops: c given twice\n"
		"m.yaml:5:13: on_failure: expected dead_letter or reject, got "
		"ignore\n"
		"m.yaml:1:1: missing required key \"mapping\" (its name)\n"
		"m.yaml:1:1: missing required key \"correlation_id\" (an "
		"expression: the event's key)\n"
		"m.yaml:9:17: fields.delivered_at: expected an expression "
		"(text), got a list\n");
	CHECK_STR(load_errors("mapping: a\nsource: public.t\n"
			      "event: ShipmentCreated\n"
			      "correlation_id: \"'x'\"\n"
			      "fields:\n  shipment_id: \"'s'\"\n"
			      "  lines:\n    - line_no: \"1\"\n"
			      "      sku: \"'A'\"\n"
			      "    - sku: \"'B'\"\n      qty: \"1\"\n"),
		  "m.yaml:8:7: fields.lines[0]: missing required field "
		  "\"quantity\" (decimal(18,4)) of ShipmentLine\n"
		  "m.yaml:11:7: fields.lines[1]: unknown field \"qty\" of "
		  "ShipmentLine (its fields: line_no, sku, quantity, unit)\n"
		  "m.yaml:10:7: fields.lines[1]: missing required field "
		  "\"line_no\" (int (32 bits)) of ShipmentLine\n"
		  "m.yaml:10:7: fields.lines[1]: missing required field "
		  "\"quantity\" (decimal(18,4)) of ShipmentLine\n");
	CHECK_STR(load_errors("mapping: a\nsource: [public.t\n"),
		  "m.yaml:3:1: YAML: did not find expected ',' or ']' while "
		  "parsing a flow sequence\n");
	/* two documents, one name */
	char two[2048];
	snprintf(two, sizeof(two), "%s---\n%s", good, good);
	const char *e = load_errors(two);
	char want[1024];
	snprintf(want, sizeof(want),
		 "m.yaml:14:1: mapping stock_balance_to_movement: the name is "
		 "taken by the mapping at %s/m.yaml:1\n",
		 dir);
	CHECK_STR(e, want);
}

static void test_files(void)
{
	struct wb_mapping_diags d = {0};
	struct wb_mapping_options opt = {.system = "wms1", .base_dir = dir};
	wb_error_t err;
	const char *pats[] = {"nope.yaml", "none_*.yaml"};
	struct wb_mappings *m = wb_mappings_load(pats, 2, &opt, &d, &err);
	CHECK(m == NULL);
	CHECK(d.n == 2);
	char want[600];
	snprintf(want, sizeof(want), "%s/nope.yaml", dir);
	if (d.n == 2) {
		CHECK_STR(d.v[0].file, want);
		CHECK_STR(d.v[0].message, "no such file");
		CHECK_STR(d.v[1].message, "matches no file");
	}
	CHECK_STR(err.message, "2 problems in mapping files");
	wb_mapping_diags_free(&d);

	/* a glob expands in name order: two files, three mappings */
	write_file("g_1.yaml", good);
	char second[2048];
	snprintf(second, sizeof(second), "%s---\n%s", good, good);
	char *p = strstr(second, "---\n") + 4;
	memcpy(strstr(p, "mapping: stock_balance_to_movement"),
	       "mapping: stock_balance_to_movemenu", 34);
	write_file("g_2.yaml", second);
	const char *glob1 = "g_*.yaml";
	m = wb_mappings_load(&glob1, 1, &opt, &d, &err);
	CHECK(m == NULL);
	CHECK(d.n == 1); /* the first document of g_2 repeats g_1's name */
	if (d.n == 1)
		CHECK(d.v[0].line == 1 &&
		      strstr(d.v[0].file, "/g_2.yaml") != NULL);
	wb_mapping_diags_free(&d);
	wb_mappings_free(m);
	unlink(write_file("g_2.yaml", ""));
	m = wb_mappings_load(&glob1, 1, &opt, &d, &err);
	CHECK(m != NULL && d.n == 0);
	if (m != NULL) {
		CHECK(wb_mappings_count(m) == 1);
		const struct wb_mapping_info *in = wb_mappings_info(m, 0);
		CHECK_STR(in->name, "stock_balance_to_movement");
		CHECK(in->version == 3);
		CHECK_STR(in->event_type, "InventoryMovement");
		/* CRC-64-AVRO of the file's bytes */
		char hash[17];
		snprintf(hash, sizeof(hash), "%016llx",
			 (unsigned long long)wb_avro_crc64(good, strlen(good)));
		CHECK_STR(in->file_hash, hash);
		json_t *fp = wb_mappings_fingerprint(m);
		char buf[1024];
		CHECK(wb_mappings_fingerprint_diff(m, fp, buf, sizeof(buf)) ==
		      0);
		CHECK_STR(buf, "");
		json_t *old =
			json_pack("[{s:s, s:i, s:s}, {s:s, s:i, s:s}]", "name",
				  "stock_balance_to_movement", "version", 2,
				  "hash", "0000000000000000", "name", "gone",
				  "version", 1, "hash", "x");
		CHECK(wb_mappings_fingerprint_diff(m, old, buf, sizeof(buf)) ==
		      2);
		CHECK_STR(buf, "mapping stock_balance_to_movement: version 2 "
			       "-> 3, file changed\n"
			       "mapping gone: removed");
		CHECK(wb_mappings_fingerprint_diff(m, NULL, buf, sizeof(buf)) ==
		      1);
		CHECK_STR(buf, "mapping stock_balance_to_movement: new "
			       "(version 3)");
		json_decref(old);
		json_decref(fp);
	}
	wb_mappings_free(m);
	unlink(write_file("g_1.yaml", ""));
}

static void test_decimal_bytes(void)
{
	struct {
		__int128 v;
		const char *hex;
	} cases[] = {
		{0, "00"},
		{1, "01"},
		{-1, "ff"},
		{127, "7f"},
		{128, "0080"},
		{-128, "80"},
		{-129, "ff7f"},
		{255, "00ff"},
		{65536, "010000"},
		{-65536, "ff0000"},
		{(__int128)1 << 100, "10000000000000000000000000"},
		{-((__int128)1 << 100), "f0000000000000000000000000"},
		{((__int128)1 << 63) - 1, "7fffffffffffffff"},
		{(__int128)1 << 63, "008000000000000000"},
		{-((__int128)1 << 63), "8000000000000000"},
		{-((__int128)1 << 63) - 1, "ff7fffffffffffffff"},
		{(__int128)(((unsigned __int128)1 << 127) - 1),
		 "7fffffffffffffffffffffffffffffff"},
		{(__int128)((unsigned __int128)1 << 127),
		 "80000000000000000000000000000000"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[16];
		size_t n = wb_cs_decimal_bytes(cases[i].v, b);
		char hex[40] = "";
		for (size_t k = 0; k < n; k++)
			snprintf(hex + 2 * k, 3, "%02x", b[k]);
		CHECK_STR(hex, cases[i].hex);
	}
}

/* ---- run time ---------------------------------------------------------- */

static struct wb_table *stock_table(void)
{
	struct wb_table *t = wb_table_new("erp", "public", "stock_balance", 3);
	struct wb_type str = {.s = {.kind = WB_T_STRING}};
	struct wb_type dec = {.s = {.kind = WB_T_BYTES,
				    .logical = WB_L_DECIMAL,
				    .precision = 14,
				    .scale = 3}};
	wb_table_set_column(t, 0, "warehouse", &str, false, true);
	wb_table_set_column(t, 1, "sku", &str, false, true);
	wb_table_set_column(t, 2, "qty", &dec, true, false);
	t->id = 4242;
	return t;
}

static void set_str(struct wb_value *v, const char *s)
{
	v->state = WB_VAL_PRESENT;
	v->u.b.p = (const uint8_t *)s;
	v->u.b.n = (uint32_t)strlen(s);
}

static char *to_hex(const uint8_t *p, size_t n)
{
	static char out[4096];
	for (size_t i = 0; i < n && 2 * i + 2 < sizeof(out); i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[n * 2 < sizeof(out) ? n * 2 : 0] = '\0';
	return out;
}

static void test_apply(void)
{
	write_file("rt.yaml", good);
	const char *pat = "rt.yaml";
	struct wb_mapping_diags d = {0};
	struct wb_mapping_options opt = {.system = "wms1", .base_dir = dir};
	wb_error_t err;
	struct wb_mappings *m = wb_mappings_load(&pat, 1, &opt, &d, &err);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	struct wb_table *t = stock_table();
	struct wb_mapping_table mt = {t, true, false, NULL};
	CHECK(wb_mappings_check(m, &mt, 1, &d, &err) == 0);

	struct wb_arena a;
	wb_arena_init(&a, 4096);
	struct wb_value after[3];
	memset(after, 0, sizeof(after));
	set_str(&after[0], "WH01");
	set_str(&after[1], "BOLT-M8");
	CHECK(wb_decimal_from_text("-12.5", 5, 14, 3, &a, &after[2]) == 0);
	after[2].state = WB_VAL_PRESENT;
	struct wb_change c = {.op = 'c',
			      .table = t,
			      .commit_ts_us = INT64_C(1709621892000000),
			      .after = after};
	const struct wb_mapped *out;
	int n;
	CHECK(wb_mappings_apply(m, &c, "0/16B3748:3", "wms1:0/16B3748:3", 7,
				&out, &n, &err) == 0);
	CHECK(n == 1);
	if (n == 1) {
		CHECK(!out[0].dead_letter);
		CHECK_STR(out[0].topic, "wms1.canonical.InventoryMovement");
		CHECK_STR(out[0].event_id,
			  "wms1:0/16B3748:3#stock_balance_to_movement");
		CHECK_STR(out[0].correlation_id, "BOLT-M8");
		CHECK(out[0].key_len == 7 &&
		      memcmp(out[0].key, "BOLT-M8", 7) == 0);
		CHECK_STR(to_hex(out[0].key_avro, out[0].key_avro_len),
			  "0e424f4c542d4d38");
		CHECK_STR(out[0].key_schema->json, "\"string\"");
		/* the value, field by field (Avro binary encoding) */
		struct wb_buf w;
		wb_buf_init(&w);
		wb_avro_put_string(
			&w, "wms1:0/16B3748:3#stock_balance_to_movement");
		wb_avro_put_string(&w, "InventoryMovement");
		wb_avro_put_long(&w, 1);			 /* version */
		wb_avro_put_long(&w, INT64_C(1709621892000000)); /* at */
		wb_avro_put_string(&w, "BOLT-M8");
		wb_avro_put_string(&w, "wms1");
		wb_avro_put_string(&w, "public.stock_balance");
		wb_avro_put_string(&w, "0/16B3748:3");
		wb_avro_put_string(&w, "wms1:0/16B3748:3");
		wb_avro_put_string(&w, "stock_balance_to_movement");
		wb_avro_put_long(&w, 3);
		wb_avro_put_string(&w, "BOLT-M8"); /* sku */
		wb_avro_put_long(&w, 0);	   /* from_location null */
		wb_avro_put_long(&w, 1);	   /* to_location */
		wb_avro_put_string(&w, "WH01");
		/* -12.5 at scale 4: -125000 = 0xfe17b8 */
		uint8_t q[3] = {0xfe, 0x17, 0xb8};
		wb_avro_put_bytes(&w, q, 3);
		wb_avro_put_long(&w, 1); /* unit */
		wb_avro_put_string(&w, "EA");
		wb_avro_put_string(&w, "balance_change");
		wb_avro_put_long(&w, 0); /* reference null */
		char want[4096];
		snprintf(want, sizeof(want), "%s", to_hex(w.data, w.len));
		CHECK_STR(to_hex(out[0].value, out[0].value_len), want);
		wb_buf_free(&w);
		CHECK_STR(out[0].schema->json,
			  wb_mappings_schema(m, "InventoryMovement")->json);
	}
	const struct wb_mapping_info *in = wb_mappings_info(m, 0);
	CHECK(in->events == 1 && in->dead_letters == 0);

	/* sku null where the schema requires it: a dead letter */
	after[1].state = WB_VAL_NULL;
	c.op = 'u';
	CHECK(wb_mappings_apply(m, &c, "0/16B3748:4", "wms1:0/16B3748:4", 7,
				&out, &n, &err) == 0);
	CHECK(n == 1);
	if (n == 1) {
		CHECK(out[0].dead_letter);
		CHECK_STR(out[0].topic, "wms1.dlq");
		CHECK_STR(out[0].field, "correlation_id");
		CHECK_STR(out[0].reason,
			  "null where the schema requires a value");
		CHECK_STR(out[0].schema->json,
			  wb_mappings_schema(m, "DeadLetter")->json);
		struct wb_buf j;
		wb_buf_init(&j);
		CHECK(wb_avro_datum_json(out[0].schema->json, out[0].value,
					 out[0].value_len, &j, &err) == 0);
		wb_buf_append(&j, "", 1);
		CHECK_STR(
			(const char *)j.data,
			"{\"event_id\":\"wms1:0/16B3748:4#stock_balance_to_"
			"movement\",\"failed_at\":\"1970-01-01T00:00:00."
			"000007Z\",\"mapping\":{\"name\":\"stock_balance_to_"
			"movement\",\"version\":3},\"event_type\":"
			"\"InventoryMovement\",\"field\":\"correlation_id\","
			"\"reason\":\"null where the schema requires a value\","
			"\"source\":{\"system\":\"wms1\",\"table\":\"public."
			"stock_balance\",\"position\":\"0/16B3748:4\","
			"\"event_id\":\"wms1:0/16B3748:4\"},\"change\":\"{"
			"\\\"op\\\": \\\"u\\\", \\\"table\\\": \\\"public."
			"stock_balance\\\", \\\"before\\\": null, "
			"\\\"after\\\": {\\\"warehouse\\\": \\\"WH01\\\", "
			"\\\"sku\\\": null, \\\"qty\\\": \\\"-12.500\\\"}, "
			"\\\"unchanged\\\": []}\"}");
		wb_buf_free(&j);
	}
	CHECK(in->events == 1 && in->dead_letters == 1);

	/* op d is not in... it is: ops [c, u, d]; r is not */
	c.op = 'r';
	CHECK(wb_mappings_apply(m, &c, "1", "wms1:1", 7, &out, &n, &err) == 0);
	CHECK(n == 0);

	/* another table: nothing */
	struct wb_table *t2 = wb_table_new("erp", "public", "other", 0);
	t2->id = 4243;
	struct wb_change c2 = {.op = 'c', .table = t2};
	CHECK(wb_mappings_apply(m, &c2, "1", "wms1:1", 7, &out, &n, &err) == 0);
	CHECK(n == 0);

	/* the check names a mapping whose source matches no table */
	struct wb_mapping_table mt2 = {t2, true, false, NULL};
	wb_mapping_diags_free(&d);
	CHECK(wb_mappings_check(m, &mt2, 1, &d, &err) == 1);
	if (d.n == 1) {
		CHECK(d.v[0].line == 3 && d.v[0].column == 9);
		CHECK_STR(d.v[0].message,
			  "mapping stock_balance_to_movement: source "
			  "public.stock_balance matches none of the captured "
			  "tables");
	}
	wb_mapping_diags_free(&d);
	wb_table_unref(t2);
	wb_table_unref(t);
	wb_arena_free(&a);
	wb_mappings_free(m);
}

static void test_check_positions(void)
{
	/* an unknown column: the diagnostic is on the expression's line, at
	 * or after its first character */
	write_file("pos.yaml",
		   "mapping: p\nsource: public.stock_balance\n"
		   "event: InventoryMovement\ncorrelation_id: \"after.sku\"\n"
		   "fields:\n"
		   "  sku: \"after.sku\"\n"
		   "  quantity_delta: \"after.nope\"\n"
		   "  unit: |\n"
		   "    coalesce(\n"
		   "      after.gone, 'EA')\n"
		   "  reason: \"'x'\"\n");
	const char *pat = "pos.yaml";
	struct wb_mapping_diags d = {0};
	struct wb_mapping_options opt = {.system = "wms1", .base_dir = dir};
	wb_error_t err;
	struct wb_mappings *m = wb_mappings_load(&pat, 1, &opt, &d, &err);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	struct wb_table *t = stock_table();
	struct wb_mapping_table mt = {t, true, false, NULL};
	CHECK(wb_mappings_check(m, &mt, 1, &d, &err) == 2);
	CHECK(d.n == 2);
	if (d.n == 2) {
		CHECK(d.v[0].line == 7 && d.v[0].column == 20);
		CHECK_STR(d.v[0].message,
			  "mapping p, table public.stock_balance: "
			  "fields.quantity_delta: unknown column after.nope: "
			  "public.stock_balance has warehouse, sku, qty");
		/* a block scalar: its second line, after the indent */
		CHECK(d.v[1].line == 10 && d.v[1].column == 7);
		CHECK_STR(d.v[1].message,
			  "mapping p, table public.stock_balance: fields.unit: "
			  "unknown column after.gone: public.stock_balance has "
			  "warehouse, sku, qty");
	}
	wb_mapping_diags_free(&d);
	wb_mappings_free(m);

	/* before.<column> the source does not send, with the caller's fix;
	 * a fallible cast where the mapping rejects dead letters */
	write_file("pos.yaml",
		   "mapping: q\nsource: public.stock_balance\n"
		   "on_failure: reject\n"
		   "event: InventoryMovement\ncorrelation_id: \"after.sku\"\n"
		   "fields:\n"
		   "  sku: \"after.sku\"\n"
		   "  quantity_delta: \"after.qty - before.qty\"\n"
		   "  unit: \"string(int(after.sku))\"\n"
		   "  reason: \"'x'\"\n");
	m = wb_mappings_load(&pat, 1, &opt, &d, &err);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	mt.before_complete = false;
	mt.before_fix = "ALTER TABLE public.stock_balance REPLICA IDENTITY "
			"FULL";
	CHECK(wb_mappings_check(m, &mt, 1, &d, &err) == 2);
	CHECK(d.n == 2);
	if (d.n == 2) {
		CHECK(d.v[0].line == 8 && d.v[0].column == 32);
		CHECK(strncmp(d.v[0].message,
			      "mapping q, table public.stock_balance: "
			      "fields.quantity_delta: before.qty: ",
			      73) == 0);
		const char *tail = " (here: ALTER TABLE public.stock_balance "
				   "REPLICA IDENTITY FULL)";
		size_t ml = strlen(d.v[0].message), tl = strlen(tail);
		CHECK(ml > tl && strcmp(d.v[0].message + ml - tl, tail) == 0);
		CHECK(d.v[1].line == 9 && d.v[1].column == 17);
		CHECK(strncmp(d.v[1].message,
			      "mapping q, table public.stock_balance: "
			      "fields.unit: int() of text fails",
			      71) == 0);
	}
	wb_mapping_diags_free(&d);
	wb_mappings_free(m);

	/* a polling source: no before image with an update, a whole one
	 * with a delete. before.<column> (a key column too) is an error in
	 * a mapping that takes updates, with the source's advice, and fine
	 * in one that takes only inserts and deletes. */
	write_file("pos.yaml",
		   "mapping: r\nsource: public.stock_balance\nops: [c, u, d]\n"
		   "event: InventoryMovement\ncorrelation_id: \"after.sku\"\n"
		   "fields:\n"
		   "  sku: \"coalesce(after.sku, before.sku)\"\n"
		   "  quantity_delta: \"coalesce(after.qty, 0) - "
		   "coalesce(before.qty, 0)\"\n"
		   "  reason: \"'x'\"\n"
		   "---\n"
		   "mapping: s\nsource: public.stock_balance\nops: [c, d]\n"
		   "event: InventoryMovement\ncorrelation_id: \"after.sku\"\n"
		   "fields:\n"
		   "  sku: \"coalesce(after.sku, before.sku)\"\n"
		   "  quantity_delta: \"coalesce(after.qty, 0) - "
		   "coalesce(before.qty, 0)\"\n"
		   "  reason: \"'x'\"\n");
	m = wb_mappings_load(&pat, 1, &opt, &d, &err);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	mt.before_complete = false;
	mt.before_none_on_update = true;
	mt.before_fix = "polling: read after.<column>";
	CHECK(wb_mappings_check(m, &mt, 1, &d, &err) == 2);
	CHECK(d.n == 2);
	if (d.n == 2) {
		CHECK(d.v[0].line == 7);
		CHECK_STR(
			d.v[0].message,
			"mapping r, table public.stock_balance: fields.sku: "
			"before.sku: the source sends no before image for the "
			"changes this mapping takes (its ops include u) "
			"(here: polling: read after.<column>)");
		CHECK(d.v[1].line == 8);
		CHECK(strstr(d.v[1].message, "fields.quantity_delta: "
					     "before.qty: the source sends "
					     "no before image") != NULL);
	}
	wb_mapping_diags_free(&d);
	wb_table_unref(t);
	wb_mappings_free(m);
}

/* A table version the mapping no longer compiles against (a column it
 * reads was dropped): each change is a dead letter naming the compiler's
 * message, with no field. A list of records (ShipmentCreated.lines) is
 * written item by item. */
static void test_shapes_and_lists(void)
{
	write_file(
		"sh.yaml",
		"mapping: created\nsource: public.stock_balance\n"
		"event: ShipmentCreated\ncorrelation_id: \"after.sku\"\n"
		"fields:\n"
		"  shipment_id: \"after.sku\"\n"
		"  lines:\n"
		"    - {line_no: \"1\", sku: \"after.sku\", "
		"quantity: \"after.qty\"}\n"
		"    - {line_no: \"2\", sku: \"'FREIGHT'\", quantity: \"1\", "
		"unit: \"'EA'\"}\n");
	const char *pat = "sh.yaml";
	struct wb_mapping_diags d = {0};
	struct wb_mapping_options opt = {.system = "wms1", .base_dir = dir};
	wb_error_t err;
	struct wb_mappings *m = wb_mappings_load(&pat, 1, &opt, &d, &err);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	struct wb_table *t = stock_table();
	struct wb_mapping_table mt = {t, true, false, NULL};
	CHECK(wb_mappings_check(m, &mt, 1, &d, &err) == 0);
	struct wb_arena a;
	wb_arena_init(&a, 4096);
	struct wb_value after[3];
	memset(after, 0, sizeof(after));
	set_str(&after[0], "WH01");
	set_str(&after[1], "S-1");
	CHECK(wb_decimal_from_text("2.5", 3, 14, 3, &a, &after[2]) == 0);
	after[2].state = WB_VAL_PRESENT;
	struct wb_change c = {.op = 'c', .table = t, .after = after};
	const struct wb_mapped *out;
	int n;
	CHECK(wb_mappings_apply(m, &c, "9", "wms1:9", 7, &out, &n, &err) == 0);
	CHECK(n == 1);
	struct wb_buf j;
	wb_buf_init(&j);
	if (n == 1 && !out[0].dead_letter) {
		CHECK(wb_avro_datum_json(out[0].schema->json, out[0].value,
					 out[0].value_len, &j, &err) == 0);
		wb_buf_append(&j, "", 1);
		const char *lines = strstr((const char *)j.data, "\"lines\"");
		CHECK_STR(lines,
			  "\"lines\":[{\"line_no\":1,\"sku\":\"S-1\","
			  "\"quantity\":\"2.5000\",\"unit\":null},"
			  "{\"line_no\":2,\"sku\":\"FREIGHT\",\"quantity\":"
			  "\"1.0000\",\"unit\":\"EA\"}]}");
	}
	/* the same table without qty, as a new version */
	struct wb_table *t2 = wb_table_new("erp", "public", "stock_balance", 2);
	struct wb_type str = {.s = {.kind = WB_T_STRING}};
	wb_table_set_column(t2, 0, "warehouse", &str, false, true);
	wb_table_set_column(t2, 1, "sku", &str, false, true);
	t2->id = 4300;
	c.table = t2;
	CHECK(wb_mappings_apply(m, &c, "10", "wms1:10", 7, &out, &n, &err) ==
	      0);
	CHECK(n == 1);
	if (n == 1) {
		CHECK(out[0].dead_letter);
		CHECK(out[0].field == NULL);
		CHECK_STR(out[0].reason,
			  "the mapping does not compile against the table's "
			  "columns: fields.lines[0].quantity: unknown column "
			  "after.qty: public.stock_balance has warehouse, sku");
		CHECK_STR(out[0].event_id, "wms1:10#created");
		wb_buf_reset(&j);
		CHECK(wb_avro_datum_json(out[0].schema->json, out[0].value,
					 out[0].value_len, &j, &err) == 0);
		wb_buf_append(&j, "", 1);
		CHECK(strstr((const char *)j.data, "\"field\":null,") != NULL);
	}
	wb_buf_free(&j);
	wb_table_unref(t2);
	wb_table_unref(t);
	wb_arena_free(&a);
	wb_mapping_diags_free(&d);
	wb_mappings_free(m);
	unlink(write_file("sh.yaml", ""));
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_loader_errors();
	test_files();
	test_decimal_bytes();
	test_apply();
	test_check_positions();
	test_shapes_and_lists();
	unlink(write_file("m.yaml", ""));
	unlink(write_file("rt.yaml", ""));
	unlink(write_file("pos.yaml", ""));
	rmdir(dir);
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
