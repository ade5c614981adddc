/* test_avro_schema.c — canonical form, CRC-64-AVRO and the schemas of table
 * events. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "avro_schema.h"
#include "table.h"
#include "check.h"

#define NO_FP INT64_MIN

struct vector {
	const char *input;
	const char *canonical;
	int64_t fingerprint; /* as the specification lists it: signed */
};

/* Avro's share/test/data/schema-tests.txt (the specification's vectors),
 * then cases for what it does not cover: logical types (STRIP), named types
 * reused by name, nested namespaces, escapes (STRINGS), leading zeros and
 * whitespace. The extra fingerprints follow from the canonical forms; those
 * equal to a primitive's are the primitive's published fingerprint. */
static const struct vector vectors[] = {
	{"\"null\"", "\"null\"", 7195948357588979594},
	{"{\"type\":\"null\"}", "\"null\"", NO_FP},
	{"\"boolean\"", "\"boolean\"", -6970731678124411036},
	{"{\"type\":\"boolean\"}", "\"boolean\"", NO_FP},
	{"\"int\"", "\"int\"", 8247732601305521295},
	{"{\"type\":\"int\"}", "\"int\"", NO_FP},
	{"\"long\"", "\"long\"", -3434872931120570953},
	{"{\"type\":\"long\"}", "\"long\"", NO_FP},
	{"\"float\"", "\"float\"", 5583340709985441680},
	{"{\"type\":\"float\"}", "\"float\"", NO_FP},
	{"\"double\"", "\"double\"", -8181574048448539266},
	{"{\"type\":\"double\"}", "\"double\"", NO_FP},
	{"\"bytes\"", "\"bytes\"", 5746618253357095269},
	{"{\"type\":\"bytes\"}", "\"bytes\"", NO_FP},
	{"\"string\"", "\"string\"", -8142146995180207161},
	{"{\"type\":\"string\"}", "\"string\"", NO_FP},
	{"[  ]", "[]", -1241056759729112623},
	{"[ \"int\"  ]", "[\"int\"]", -5232228896498058493},
	{"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]",
	 5392556393470105090},
	{"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
	 "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
	 -4824392279771201922},
	{"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
	 "\"namespace\":\"x.y\"}",
	 "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}",
	 5916914534497305771},
	{"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", "
	 "\"namespace\":\"x.y\"}",
	 "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}",
	 -4616218487480524110},
	{"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
	 "\"doc\":\"Useful info\"}",
	 "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
	 -4824392279771201922},
	{"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
	 "\"aliases\":[\"foo\",\"bar\"]}",
	 "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
	 -4824392279771201922},
	{"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
	 "\"doc\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
	 "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
	 -4824392279771201922},
	{"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], "
	 "\"type\":\"record\", \"name\":\"foo\"}",
	 "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\","
	 "\"type\":\"boolean\"}]}",
	 7843277075252814651},
	{"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], "
	 "\"name\":\"f1\", \"default\":\"true\"},\n"
	 "            {\"order\":\"descending\",\"name\":\"f2\","
	 "\"doc\":\"Hello\",\"type\":\"int\"}],\n"
	 "  \"type\":\"record\", \"name\":\"foo\"\n}",
	 "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\","
	 "\"type\":\"boolean\"},{\"name\":\"f2\",\"type\":\"int\"}]}",
	 -4860222112080293046},
	{"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
	 "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}",
	 -6342190197741309591},
	{"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", "
	 "\"doc\":\"foo bar\", \"symbols\":[\"A1\", \"A2\"]}",
	 "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\","
	 "\"A2\"]}",
	 -4448647247586288245},
	{"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
	 "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
	 1756455273707447556},
	{"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", "
	 "\"doc\":\"foo bar\", \"size\":32}",
	 "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}",
	 -3064184465700546786},
	{"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
	 "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059},
	{"{ \"values\":\"string\", \"type\":\"map\"}",
	 "{\"type\":\"map\",\"values\":\"string\"}", -8732877298790414990},
	{"  {\"name\":\"PigValue\",\"type\":\"record\",\n"
	 "   \"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", "
	 "\"long\", \"PigValue\"]}]}",
	 "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":"
	 "\"value\",\"type\":[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
	 -1759257747318642341},

	/* Logical types: STRIP keeps only "type", PRIMITIVES then leaves the
	 * bare name — so these fingerprint like the plain primitives. */
	{"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":4,"
	 "\"scale\":2}",
	 "\"bytes\"", 5746618253357095269},
	{"{\"type\":\"int\",\"logicalType\":\"date\"}", "\"int\"",
	 8247732601305521295},
	{"{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", "\"long\"",
	 -3434872931120570953},
	{"{\"type\":\"long\",\"logicalType\":\"local-timestamp-micros\"}",
	 "\"long\"", -3434872931120570953},
	{"{\"logicalType\":\"uuid\",\"type\":\"string\"}", "\"string\"",
	 -8142146995180207161},
	{"{\"type\":\"string\",\"waybill.type\":\"json\"}", "\"string\"",
	 -8142146995180207161},
	{"{\"type\":\"record\",\"name\":\"r\",\"namespace\":\"n\",\"fields\":["
	 "{\"name\":\"a\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
	 "\"decimal\",\"precision\":9,\"scale\":2}},"
	 "{\"name\":\"b\",\"type\":[\"null\",{\"type\":\"long\","
	 "\"logicalType\":\"timestamp-micros\"}],\"default\":null}]}",
	 "{\"name\":\"n.r\",\"type\":\"record\",\"fields\":[{\"name\":\"a\","
	 "\"type\":\"bytes\"},{\"name\":\"b\",\"type\":[\"null\",\"long\"]}]}",
	 3240808932574841300},
	{"{\"type\":\"fixed\",\"name\":\"d\",\"size\":8,\"logicalType\":"
	 "\"decimal\",\"precision\":10,\"scale\":2}",
	 "{\"name\":\"d\",\"type\":\"fixed\",\"size\":8}",
	 -8603293496861844657},
	{"{\"type\":\"array\",\"items\":[\"null\",{\"type\":\"int\"}]}",
	 "{\"type\":\"array\",\"items\":[\"null\",\"int\"]}",
	 8248004052179656243},
	/* A named type written in full once, then by full name. */
	{"{\"type\":\"record\",\"name\":\"a\",\"namespace\":\"x\",\"fields\":["
	 "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
	 "\"size\":4}},{\"name\":\"g\",\"type\":\"F\"}]}",
	 "{\"name\":\"x.a\",\"type\":\"record\",\"fields\":[{\"name\":\"f\","
	 "\"type\":{\"name\":\"x.F\",\"type\":\"fixed\",\"size\":4}},"
	 "{\"name\":\"g\",\"type\":\"x.F\"}]}",
	 2302057894827563966},
	/* A nested record's own namespace applies inside it only. */
	{"{\"type\":\"record\",\"name\":\"outer\",\"namespace\":\"p\","
	 "\"fields\":[{\"name\":\"i\",\"type\":{\"type\":\"record\","
	 "\"name\":\"inner\",\"namespace\":\"q\",\"fields\":[{\"name\":\"e\","
	 "\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}}]}},"
	 "{\"name\":\"e2\",\"type\":\"q.E\"},{\"name\":\"o\",\"type\":["
	 "\"null\","
	 "\"outer\"]},{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":"
	 "\"inner\"}}]}",
	 "{\"name\":\"p.outer\",\"type\":\"record\",\"fields\":[{\"name\":"
	 "\"i\","
	 "\"type\":{\"name\":\"q.inner\",\"type\":\"record\",\"fields\":[{"
	 "\"name\":\"e\",\"type\":{\"name\":\"q.E\",\"type\":\"enum\","
	 "\"symbols\":[\"X\"]}}]}},{\"name\":\"e2\",\"type\":\"q.E\"},"
	 "{\"name\":\"o\",\"type\":[\"null\",\"p.outer\"]},{\"name\":\"m\","
	 "\"type\":{\"type\":\"map\",\"values\":\"p.inner\"}}]}",
	 NO_FP},
	/* STRINGS: escapes become the characters; INTEGERS; WHITESPACE. */
	{" { \"type\" : \"enum\" , \"name\" : \"\\u0045n\" , \"symbols\" : "
	 "[ \"\\u0041\" ] } ",
	 "{\"name\":\"En\",\"type\":\"enum\",\"symbols\":[\"A\"]}", NO_FP},
	{"{\"type\":\"fixed\",\"name\":\"f\",\"size\":1.6e1}", NULL, NO_FP},
};

static void test_vectors(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		wb_error_t err = {0};
		char *c = wb_avro_canonical_form(v->input, &err);
		if (v->canonical == NULL) {
			/* size must be an integer */
			CHECK(c == NULL);
			CHECK(err.code != 0);
			free(c);
			continue;
		}
		if (c == NULL)
			fprintf(stderr, "vector %zu: %s\n", i, err.message);
		CHECK_STR(c, v->canonical);
		if (c && v->fingerprint != NO_FP) {
			int64_t fp = (int64_t)wb_avro_crc64(c, strlen(c));
			if (fp != v->fingerprint) {
				fprintf(stderr,
					"vector %zu: fingerprint %" PRId64
					", want %" PRId64 "\n",
					i, fp, v->fingerprint);
				failures++;
			}
		}
		free(c);
	}
	CHECK(wb_avro_crc64("", 0) == 0xc15d213aa4d7a795ULL);
	CHECK(wb_avro_crc64("\"null\"", 6) == 0x63dd24e7cc258f8aULL);

	wb_error_t err = {0};
	CHECK(wb_avro_canonical_form("{\"type\":", &err) == NULL);
	CHECK(err.code == WB_ERR_CONFIG);
	CHECK(wb_avro_canonical_form("{\"type\":\"record\",\"name\":\"r\"}",
				     &err) == NULL);
	CHECK(wb_avro_canonical_form("{\"name\":\"x\"}", &err) == NULL);
}

static void test_sanitize(void)
{
	static const char *const cases[][2] = {
		{"Order Line", "Order_Line"}, {"1st", "_1st"},
		{"na\xc3\xafve", "na_ve"},    {"", "_"},
		{"a.b-c", "a_b_c"},	      {"_ok9", "_ok9"},
		{"\xe2\x82\xac", "_"},	      {"9", "_9"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = wb_avro_sanitize_name(cases[i][0]);
		CHECK_STR(s, cases[i][1]);
		free(s);
	}
}

static void set_col(struct wb_table *t, int i, const char *name, int kind,
		    int logical, int is_array, int nullable, int key)
{
	struct wb_type ty = {0};
	ty.s.kind = (uint8_t)kind;
	ty.s.logical = (uint8_t)logical;
	if (logical == WB_L_DECIMAL) {
		ty.s.precision = 12;
		ty.s.scale = 3;
	}
	ty.is_array = (uint8_t)is_array;
	CHECK(wb_table_set_column(t, i, name, &ty, nullable, key) == 0);
}

static const char small_key[] =
	"{\"type\":\"record\",\"name\":\"Order_Line_key\",\"namespace\":"
	"\"wms1.public\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}";

static const char small_value[] =
	"{\"type\":\"record\",\"name\":\"Order_Line_envelope\",\"namespace\":"
	"\"wms1.public\",\"fields\":["
	"{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\","
	"\"name\":\"Order_Line\",\"namespace\":\"wms1.public\","
	"\"waybill.name\":\"Order Line\",\"fields\":["
	"{\"name\":\"id\",\"type\":\"long\"},"
	"{\"name\":\"_1st\",\"waybill.name\":\"1st\",\"type\":[\"null\","
	"\"string\"],\"default\":null},"
	"{\"name\":\"na_ve\",\"waybill.name\":\"na\xc3\xafve\",\"type\":["
	"\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\","
	"\"precision\":10,\"scale\":2}],\"default\":null}]}],"
	"\"default\":null},"
	"{\"name\":\"after\",\"type\":[\"null\",\"wms1.public.Order_Line\"],"
	"\"default\":null},"
	"{\"name\":\"op\",\"type\":\"string\"},"
	"{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":"
	"\"Source\",\"namespace\":\"waybill\",\"fields\":["
	"{\"name\":\"connector\",\"type\":\"string\"},"
	"{\"name\":\"name\",\"type\":\"string\"},"
	"{\"name\":\"db\",\"type\":\"string\"},"
	"{\"name\":\"schema\",\"type\":\"string\"},"
	"{\"name\":\"table\",\"type\":\"string\"},"
	"{\"name\":\"position\",\"type\":\"string\"},"
	"{\"name\":\"txid\",\"type\":[\"null\",\"long\"],\"default\":null},"
	"{\"name\":\"gtid\",\"type\":[\"null\",\"string\"],\"default\":null},"
	"{\"name\":\"ts_ms\",\"type\":\"long\"},"
	"{\"name\":\"snapshot\",\"type\":\"boolean\"},"
	"{\"name\":\"detected_delete\",\"type\":\"boolean\",\"default\":false}]"
	"}},"
	"{\"name\":\"ts_ms\",\"type\":\"long\"},"
	"{\"name\":\"event_id\",\"type\":\"string\"},"
	"{\"name\":\"unchanged\",\"type\":{\"type\":\"array\",\"items\":"
	"\"string\"}},"
	"{\"name\":\"unrepresentable\",\"type\":{\"type\":\"array\","
	"\"items\":\"string\"},\"default\":[]},"
	"{\"name\":\"unrepresentable_text\",\"type\":{\"type\":\"map\","
	"\"values\":{\"type\":\"map\",\"values\":\"string\"}},"
	"\"default\":{}}]}";

static const char small_canonical[] =
	"{\"name\":\"wms1.public.Order_Line_envelope\",\"type\":\"record\","
	"\"fields\":[{\"name\":\"before\",\"type\":[\"null\",{\"name\":"
	"\"wms1.public.Order_Line\",\"type\":\"record\",\"fields\":["
	"{\"name\":\"id\",\"type\":\"long\"},"
	"{\"name\":\"_1st\",\"type\":[\"null\",\"string\"]},"
	"{\"name\":\"na_ve\",\"type\":[\"null\",\"bytes\"]}]}]},"
	"{\"name\":\"after\",\"type\":[\"null\",\"wms1.public.Order_Line\"]},"
	"{\"name\":\"op\",\"type\":\"string\"},"
	"{\"name\":\"source\",\"type\":{\"name\":\"waybill.Source\","
	"\"type\":\"record\",\"fields\":["
	"{\"name\":\"connector\",\"type\":\"string\"},"
	"{\"name\":\"name\",\"type\":\"string\"},"
	"{\"name\":\"db\",\"type\":\"string\"},"
	"{\"name\":\"schema\",\"type\":\"string\"},"
	"{\"name\":\"table\",\"type\":\"string\"},"
	"{\"name\":\"position\",\"type\":\"string\"},"
	"{\"name\":\"txid\",\"type\":[\"null\",\"long\"]},"
	"{\"name\":\"gtid\",\"type\":[\"null\",\"string\"]},"
	"{\"name\":\"ts_ms\",\"type\":\"long\"},"
	"{\"name\":\"snapshot\",\"type\":\"boolean\"},"
	"{\"name\":\"detected_delete\",\"type\":\"boolean\"}]}},"
	"{\"name\":\"ts_ms\",\"type\":\"long\"},"
	"{\"name\":\"event_id\",\"type\":\"string\"},"
	"{\"name\":\"unchanged\",\"type\":{\"type\":\"array\",\"items\":"
	"\"string\"}},"
	"{\"name\":\"unrepresentable\",\"type\":{\"type\":\"array\","
	"\"items\":\"string\"}},"
	"{\"name\":\"unrepresentable_text\",\"type\":{\"type\":\"map\","
	"\"values\":{\"type\":\"map\",\"values\":\"string\"}}}]}";

static void check_avro_c(const char *json, const char *what)
{
	avro_schema_t s = NULL;
	if (json == NULL) {
		fprintf(stderr, "%s: no schema\n", what);
		failures++;
		return;
	}
	if (avro_schema_from_json_length(json, strlen(json), &s) != 0) {
		fprintf(stderr, "%s: Avro C rejects it: %s\n%s\n", what,
			avro_strerror(), json);
		failures++;
		return;
	}
	avro_schema_decref(s);
}

static void test_small_table(void)
{
	struct wb_table *t = wb_table_new("erp", "public", "Order Line", 3);
	CHECK(t != NULL);
	set_col(t, 0, "id", WB_T_LONG, WB_L_NONE, 0, 0, 1);
	set_col(t, 1, "1st", WB_T_STRING, WB_L_NONE, 0, 1, 0);
	struct wb_type dec = {.s = {.kind = WB_T_BYTES,
				    .logical = WB_L_DECIMAL,
				    .precision = 10,
				    .scale = 2}};
	CHECK(wb_table_set_column(t, 2, "na\xc3\xafve", &dec, 1, 0) == 0);

	struct wb_table_schemas s;
	wb_error_t err = {0};
	int rc = wb_table_schemas_build(t, "wms1", &s, &err);
	if (rc != WB_OK)
		fprintf(stderr, "build: %s\n", err.message);
	CHECK(rc == WB_OK);
	if (rc == WB_OK) {
		CHECK_STR(s.topic, "wms1.public.Order Line");
		CHECK_STR(s.key.json, small_key);
		CHECK_STR(s.key.full_name, "wms1.public.Order_Line_key");
		CHECK_STR(s.key.canonical,
			  "{\"name\":\"wms1.public.Order_Line_key\",\"type\":"
			  "\"record\",\"fields\":[{\"name\":\"id\",\"type\":"
			  "\"long\"}]}");
		CHECK_STR(s.value.json, small_value);
		CHECK_STR(s.value.full_name, "wms1.public.Order_Line_envelope");
		CHECK_STR(s.value.canonical, small_canonical);
		CHECK(s.value.fingerprint ==
		      wb_avro_crc64(small_canonical, strlen(small_canonical)));
		/* computed from the canonical form with an independent
		 * implementation of the specification's algorithm */
		CHECK(s.value.fingerprint == 0x1a47385e717293e6ULL);
		check_avro_c(s.key.json, "small key");
		check_avro_c(s.value.json, "small value");
		check_avro_c(s.value.canonical, "small canonical");
		wb_table_schemas_free(&s);
	}
	wb_table_schemas_free(NULL);
	wb_table_unref(t);
}

static void test_every_type(void)
{
	static const int types[][2] = {
		{WB_T_BOOLEAN, WB_L_NONE},
		{WB_T_INT, WB_L_NONE},
		{WB_T_LONG, WB_L_NONE},
		{WB_T_FLOAT, WB_L_NONE},
		{WB_T_DOUBLE, WB_L_NONE},
		{WB_T_STRING, WB_L_NONE},
		{WB_T_BYTES, WB_L_NONE},
		{WB_T_BYTES, WB_L_DECIMAL},
		{WB_T_INT, WB_L_DATE},
		{WB_T_LONG, WB_L_TIME_MICROS},
		{WB_T_LONG, WB_L_TIMESTAMP_MICROS},
		{WB_T_LONG, WB_L_LOCAL_TIMESTAMP_MICROS},
		{WB_T_STRING, WB_L_UUID},
		{WB_T_STRING, WB_L_JSON},
	};
	const int nt = (int)(sizeof(types) / sizeof(types[0]));
	const int ncols = nt * 4 + 3;
	struct wb_table *t = wb_table_new("erp", "Sales Dept", "1st", ncols);
	CHECK(t != NULL);
	int c = 0;
	char name[64];
	for (int i = 0; i < nt; i++) {
		for (int v = 0; v < 4; v++) {
			snprintf(name, sizeof(name), "c%d %s%s", i,
				 v & 1 ? "null" : "req", v & 2 ? "[]" : "");
			set_col(t, c++, name, types[i][0], types[i][1], v >> 1,
				v & 1, i == 2 && v == 0);
		}
	}
	set_col(t, c++, "a b", WB_T_INT, WB_L_NONE, 0, 0, 1);
	set_col(t, c++, "a_b", WB_T_INT, WB_L_NONE, 0, 1, 0);
	set_col(t, c++, "a-b", WB_T_INT, WB_L_NONE, 0, 1, 1);
	CHECK(c == ncols);

	struct wb_table_schemas s;
	wb_error_t err = {0};
	int rc = wb_table_schemas_build(t, "acme.wms-1", &s, &err);
	if (rc != WB_OK)
		fprintf(stderr, "build: %s\n", err.message);
	CHECK(rc == WB_OK);
	if (rc == WB_OK) {
		CHECK_STR(s.topic, "acme.wms-1.Sales Dept.1st");
		CHECK_STR(s.value.full_name,
			  "acme.wms_1.Sales_Dept._1st_envelope");
		CHECK_STR(s.key.full_name, "acme.wms_1.Sales_Dept._1st_key");
		check_avro_c(s.key.json, "every-type key");
		check_avro_c(s.value.json, "every-type value");
		check_avro_c(s.key.canonical, "every-type key canonical");
		check_avro_c(s.value.canonical, "every-type value canonical");
		CHECK(strstr(s.value.json,
			     "{\"name\":\"a_b\",\"waybill.name\":\"a b\","
			     "\"type\":\"int\"}") != NULL);
		CHECK(strstr(s.value.json,
			     "{\"name\":\"a_b_2\",\"waybill.name\":\"a_b\","
			     "\"type\":[\"null\",\"int\"],\"default\":null}") !=
		      NULL);
		CHECK(strstr(s.value.json,
			     "\"name\":\"a_b_3\",\"waybill.name\":"
			     "\"a-b\"") != NULL);
		CHECK(strstr(s.value.json,
			     "{\"name\":\"c7_null__\",\"waybill.name\":"
			     "\"c7 null[]\",\"type\":[\"null\",{\"type\":"
			     "\"array\",\"items\":[\"null\",{\"type\":"
			     "\"bytes\","
			     "\"logicalType\":\"decimal\",\"precision\":12,"
			     "\"scale\":3}]}],\"default\":null}") != NULL);
		CHECK(strstr(s.value.json,
			     "{\"name\":\"c13_req\",\"waybill.name\":\"c13 "
			     "req\","
			     "\"type\":{\"type\":\"string\",\"waybill.type\":"
			     "\"json\"}}") != NULL);
		CHECK_STR(s.key.canonical,
			  "{\"name\":\"acme.wms_1.Sales_Dept._1st_key\","
			  "\"type\":\"record\",\"fields\":["
			  "{\"name\":\"c2_req\",\"type\":\"long\"},"
			  "{\"name\":\"a_b\",\"type\":\"int\"},"
			  "{\"name\":\"a_b_3\",\"type\":[\"null\",\"int\"]}]}");
		CHECK(strstr(s.value.canonical, "logicalType") == NULL);
		wb_table_schemas_free(&s);
	}
	wb_table_unref(t);

	/* No key column: no key schema. */
	t = wb_table_new("erp", "public", "log", 1);
	set_col(t, 0, "msg", WB_T_STRING, WB_L_NONE, 0, 1, 0);
	rc = wb_table_schemas_build(t, "wms1", &s, &err);
	CHECK(rc == WB_OK);
	if (rc == WB_OK) {
		CHECK(s.key.json == NULL);
		CHECK(s.key.canonical == NULL);
		CHECK(s.value.json != NULL);
		check_avro_c(s.value.json, "keyless value");
		wb_table_schemas_free(&s);
	}
	wb_table_unref(t);

	/* A decimal without a precision is no Avro decimal. */
	t = wb_table_new("erp", "public", "bad", 1);
	struct wb_type bad = {
		.s = {.kind = WB_T_BYTES, .logical = WB_L_DECIMAL}};
	wb_table_set_column(t, 0, "n", &bad, 1, 0);
	rc = wb_table_schemas_build(t, "wms1", &s, &err);
	CHECK(rc == WB_ERR_TYPE);
	CHECK(strstr(err.message, "public.bad") != NULL);
	wb_table_unref(t);
}

/* Types that may not fit: a nullable row field even for NOT NULL, a key
 * field with a last "string" branch; arrays nest ndims levels. */
static void test_may_not_fit(void)
{
	struct wb_table *t = wb_table_new("erp", "public", "m", 3);
	CHECK(t != NULL);
	struct wb_type ts = {.s = {.kind = WB_T_INT, .logical = WB_L_DATE},
			     .may_not_fit = 1};
	struct wb_type arr = {
		.s = {.kind = WB_T_STRING}, .is_array = 1, .ndims = 3};
	CHECK(wb_table_set_column(t, 0, "d", &ts, 0, 1) == 0);
	CHECK(wb_table_set_column(t, 1, "e", &ts, 1, 1) == 0);
	CHECK(wb_table_set_column(t, 2, "a", &arr, 0, 0) == 0);
	struct wb_table_schemas s;
	wb_error_t err = {0};
	CHECK(wb_table_schemas_build(t, "p", &s, &err) == WB_OK);
	CHECK_STR(s.key.json,
		  "{\"type\":\"record\",\"name\":\"m_key\",\"namespace\":"
		  "\"p.public\",\"fields\":["
		  "{\"name\":\"d\",\"type\":[{\"type\":\"int\",\"logicalType\":"
		  "\"date\"},\"string\"]},"
		  "{\"name\":\"e\",\"type\":[\"null\",{\"type\":\"int\","
		  "\"logicalType\":\"date\"},\"string\"],\"default\":null}]}");
	const char *row =
		"\"fields\":["
		"{\"name\":\"d\",\"type\":[\"null\",{\"type\":\"int\","
		"\"logicalType\":\"date\"}],\"default\":null},"
		"{\"name\":\"e\",\"type\":[\"null\",{\"type\":\"int\","
		"\"logicalType\":\"date\"}],\"default\":null},"
		"{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":"
		"{\"type\":\"array\",\"items\":{\"type\":\"array\","
		"\"items\":[\"null\",\"string\"]}}}}]}";
	CHECK(s.value.json != NULL && strstr(s.value.json, row) != NULL);
	check_avro_c(s.key.json, "may_not_fit key");
	check_avro_c(s.value.json, "may_not_fit value");
	wb_table_schemas_free(&s);
	wb_table_unref(t);
}

int main(void)
{
	test_vectors();
	test_sanitize();
	test_small_table();
	test_may_not_fit();
	test_every_type();
	if (failures) {
		fprintf(stderr, "test_avro_schema: %d check(s) failed\n",
			failures);
		return 1;
	}
	printf("test_avro_schema: ok\n");
	return 0;
}
