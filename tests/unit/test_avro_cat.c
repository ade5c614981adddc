/* test_avro_cat.c — `waybill cat` on files written by python3-avro: every
 * type, each codec, exact JSON lines; torn and corrupt files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_cat.h"
#include "avro_encode.h"
#include "buf.h"
#include "check.h"

static const char *py_writer =
	"import sys, datetime, decimal, avro.schema, avro.datafile, avro.io\n"
	"S = '''{\"type\": \"record\", \"name\": \"All\", \"namespace\": "
	"\"t.ns\",\n"
	" \"fields\": [\n"
	"  {\"name\": \"n\", \"type\": \"null\"},\n"
	"  {\"name\": \"b\", \"type\": \"boolean\"},\n"
	"  {\"name\": \"i\", \"type\": \"int\"},\n"
	"  {\"name\": \"l\", \"type\": \"long\"},\n"
	"  {\"name\": \"f\", \"type\": \"float\"},\n"
	"  {\"name\": \"d\", \"type\": \"double\"},\n"
	"  {\"name\": \"by\", \"type\": \"bytes\"},\n"
	"  {\"name\": \"s\", \"type\": \"string\"},\n"
	"  {\"name\": \"e\", \"type\": {\"type\": \"enum\", \"name\": "
	"\"Color\",\n"
	"    \"symbols\": [\"RED\", \"GREEN\"]}},\n"
	"  {\"name\": \"fx\", \"type\": {\"type\": \"fixed\", \"name\": "
	"\"F4\", \"size\": 4}},\n"
	"  {\"name\": \"arr\", \"type\": {\"type\": \"array\", \"items\": "
	"\"int\"}},\n"
	"  {\"name\": \"m\", \"type\": {\"type\": \"map\", \"values\": "
	"\"long\"}},\n"
	"  {\"name\": \"u\", \"type\": [\"null\", \"string\"]},\n"
	"  {\"name\": \"rec\", \"type\": {\"type\": \"record\", \"name\": "
	"\"Inner\",\n"
	"    \"fields\": [{\"name\": \"x\", \"type\": \"int\"}]}},\n"
	"  {\"name\": \"u2\", \"type\": [\"null\", \"long\", \"Inner\"]},\n"
	"  {\"name\": \"ref\", \"type\": \"t.ns.Inner\"},\n"
	"  {\"name\": \"dec\", \"type\": {\"type\": \"bytes\", "
	"\"logicalType\": \"decimal\",\n"
	"    \"precision\": 10, \"scale\": 2}},\n"
	"  {\"name\": \"decf\", \"type\": {\"type\": \"fixed\", \"name\": "
	"\"D8\", \"size\": 8,\n"
	"    \"logicalType\": \"decimal\", \"precision\": 18, \"scale\": 3}},\n"
	"  {\"name\": \"date\", \"type\": {\"type\": \"int\", \"logicalType\": "
	"\"date\"}},\n"
	"  {\"name\": \"tmi\", \"type\": {\"type\": \"int\", \"logicalType\": "
	"\"time-millis\"}},\n"
	"  {\"name\": \"tmu\", \"type\": {\"type\": \"long\", \"logicalType\": "
	"\"time-micros\"}},\n"
	"  {\"name\": \"tsm\", \"type\": {\"type\": \"long\", \"logicalType\": "
	"\"timestamp-millis\"}},\n"
	"  {\"name\": \"tsu\", \"type\": {\"type\": \"long\", \"logicalType\": "
	"\"timestamp-micros\"}},\n"
	"  {\"name\": \"lts\", \"type\": {\"type\": \"long\",\n"
	"    \"logicalType\": \"local-timestamp-micros\"}},\n"
	"  {\"name\": \"id\", \"type\": {\"type\": \"string\", "
	"\"logicalType\": \"uuid\"}},\n"
	"  {\"name\": \"x1\", \"type\": \"double\"},\n"
	"  {\"name\": \"x2\", \"type\": \"float\"},\n"
	"  {\"name\": \"list\", \"type\": {\"type\": \"record\", \"name\": "
	"\"Node\",\n"
	"    \"fields\": [{\"name\": \"v\", \"type\": \"int\"},\n"
	"                {\"name\": \"next\", \"type\": [\"null\", "
	"\"Node\"]}]}}\n"
	" ]}'''\n"
	"utc = datetime.timezone.utc\n"
	"D = decimal.Decimal\n"
	"r1 = dict(n=None, b=True, i=-123, l=-9007199254740993, f=0.1, d=0.1,\n"
	"  by=b'\\x00\\xff\\x10', s='h\\u00e9llo \"q\"\\n\\x01\\\\', "
	"e='GREEN',\n"
	"  fx=b'abcd', arr=[1, 2, 3], m={'a': 1, 'b': -2}, u=None, rec={'x': "
	"1},\n"
	"  u2={'x': 7}, ref={'x': 2}, dec=D('-12.50'),\n"
	"  decf=D('123456789012345.678'), date=datetime.date(2024, 2, 29),\n"
	"  tmi=datetime.time(13, 45, 30, 123000),\n"
	"  tmu=datetime.time(23, 59, 59, 999999),\n"
	"  tsm=datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=utc),\n"
	"  tsu=datetime.datetime(1969, 12, 31, 23, 59, 59, 500000, "
	"tzinfo=utc),\n"
	"  lts=1700000000123456, id='0b6f2f2c-1d8e-4b9a-9c55-3f2f0e1d2c3b',\n"
	"  x1=float('nan'), x2=float('inf'),\n"
	"  list={'v': 1, 'next': {'v': 2, 'next': None}})\n"
	"r2 = dict(r1, b=False, i=2147483647, l=0, f=-2.5, d=1e300, by=b'',\n"
	"  s='', e='RED', arr=[], m={}, u='x', u2=42, dec=D('0.05'),\n"
	"  decf=D('-0.001'), date=datetime.date(1969, 12, 31),\n"
	"  tmi=datetime.time(0, 0), lts=-1, x1=float('-inf'), x2=-0.0,\n"
	"  list={'v': 3, 'next': None})\n"
	"schema = avro.schema.parse(S)\n"
	"for codec in sys.argv[2:]:\n"
	"    with open(sys.argv[1] + '/' + codec + '.avro', 'wb') as f:\n"
	"        w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(),\n"
	"                                         schema, codec=codec)\n"
	"        w.append(r1)\n"
	"        w.sync()\n"
	"        w.append(r2)\n"
	"        w.close()\n";

static const char *expected =
	"{\"n\":null,\"b\":true,\"i\":-123,\"l\":-9007199254740993,\"f\":0.1,"
	"\"d\":0.1,\"by\":\"AP8Q\",\"s\":\"h\xc3\xa9llo "
	"\\\"q\\\"\\n\\u0001\\\\\","
	"\"e\":\"GREEN\",\"fx\":\"YWJjZA==\",\"arr\":[1,2,3],"
	"\"m\":{\"a\":1,\"b\":-2},\"u\":null,\"rec\":{\"x\":1},\"u2\":{\"x\":7}"
	","
	"\"ref\":{\"x\":2},\"dec\":\"-12.50\",\"decf\":\"123456789012345.678\","
	"\"date\":\"2024-02-29\",\"tmi\":\"13:45:30.123\","
	"\"tmu\":\"23:59:59.999999\",\"tsm\":\"2024-01-02T03:04:05.678Z\","
	"\"tsu\":\"1969-12-31T23:59:59.500000Z\","
	"\"lts\":\"2023-11-14T22:13:20.123456\","
	"\"id\":\"0b6f2f2c-1d8e-4b9a-9c55-3f2f0e1d2c3b\",\"x1\":\"NaN\","
	"\"x2\":\"Infinity\",\"list\":{\"v\":1,\"next\":{\"v\":2,\"next\":null}"
	"}}\n"
	"{\"n\":null,\"b\":false,\"i\":2147483647,\"l\":0,\"f\":-2.5,"
	"\"d\":1e+300,\"by\":\"\",\"s\":\"\",\"e\":\"RED\",\"fx\":\"YWJjZA==\","
	"\"arr\":[],\"m\":{},\"u\":\"x\",\"rec\":{\"x\":1},\"u2\":42,"
	"\"ref\":{\"x\":2},\"dec\":\"0.05\",\"decf\":\"-0.001\","
	"\"date\":\"1969-12-31\",\"tmi\":\"00:00:00.000\","
	"\"tmu\":\"23:59:59.999999\",\"tsm\":\"2024-01-02T03:04:05.678Z\","
	"\"tsu\":\"1969-12-31T23:59:59.500000Z\","
	"\"lts\":\"1969-12-31T23:59:59.999999\","
	"\"id\":\"0b6f2f2c-1d8e-4b9a-9c55-3f2f0e1d2c3b\",\"x1\":\"-Infinity\","
	"\"x2\":-0,\"list\":{\"v\":3,\"next\":null}}\n";

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* cat of the file at path (or of buf when path is NULL) into a string. */
static int run_cat(const char *path, const uint8_t *buf, size_t len,
		   char **text, wb_error_t *err)
{
	size_t n = 0;
	FILE *out = open_memstream(text, &n);
	if (out == NULL)
		return -1;
	int rc = path ? wb_avro_cat_file(path, out, err)
		      : wb_avro_cat_buffer(buf, len, out, err);
	fclose(out);
	return rc;
}

static void test_codec(const char *dir, const char *codec)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.avro", dir, codec);
	wb_error_t err = {0};
	char *text = NULL;
	int rc = run_cat(path, NULL, 0, &text, &err);
	CHECK(rc == WB_OK);
	if (rc != WB_OK)
		fprintf(stderr, "%s: %s\n", codec, err.message);
	CHECK(text && strcmp(text, expected) == 0);
	if (text && strcmp(text, expected) != 0)
		fprintf(stderr, "%s got:\n%s\nwant:\n%s\n", codec, text,
			expected);
	free(text);

	/* The same bytes from memory. */
	size_t len;
	char *file = slurp(path, &len);
	CHECK(file != NULL);
	if (file == NULL)
		return;
	text = NULL;
	CHECK(run_cat(NULL, (uint8_t *)file, len, &text, &err) == WB_OK);
	CHECK(text && strcmp(text, expected) == 0);
	free(text);

	/* Torn last block (a .part file cut mid-write): the first block's
	 * record is printed, then the error. */
	const char *first_end = strchr(expected, '\n') + 1;
	size_t first_len = (size_t)(first_end - expected);
	for (size_t cut = 1; cut < 20; cut += 6) {
		text = NULL;
		wb_error_clear(&err);
		rc = run_cat(NULL, (uint8_t *)file, len - cut, &text, &err);
		CHECK(rc == WB_ERR_DECODE);
		CHECK(strstr(err.message, "torn block") != NULL);
		CHECK(text && strlen(text) == first_len &&
		      memcmp(text, expected, first_len) == 0);
		free(text);
	}
	/* A flipped sync-marker byte is reported, not skipped over. */
	file[len - 1] ^= 0x55;
	text = NULL;
	rc = run_cat(NULL, (uint8_t *)file, len, &text, &err);
	CHECK(rc == WB_ERR_DECODE && strstr(err.message, "sync") != NULL);
	free(text);
	/* Every truncation of the file fails cleanly after printing a prefix
	 * of the records, except the two cuts at block boundaries (after the
	 * header, after the first block), which are valid files. */
	file[len - 1] ^= 0x55;
	int valid = 0;
	for (size_t cut = 0; cut < len; cut++) {
		text = NULL;
		rc = run_cat(NULL, (uint8_t *)file, cut, &text, &err);
		CHECK(rc == WB_ERR_DECODE || rc == WB_OK);
		valid += rc == WB_OK;
		CHECK(text && strncmp(text, expected, strlen(text)) == 0);
		free(text);
	}
	CHECK(valid == 2);
	free(file);
}

/* Envelopes as waybill writes them, with values that have no Avro form:
 * the unrepresentable list and texts, nested arrays, a timestamp at the
 * end of a long. */
static void test_envelope(void)
{
	wb_error_t err = {0};
	struct wb_encoder_config cfg = {.pipeline = "p",
					.connector = "postgres"};
	struct wb_encoder *e = wb_encoder_new(&cfg, &err);
	struct wb_table *t = wb_table_new("db", "public", "m", 3);
	CHECK(e != NULL && t != NULL);
	if (e == NULL || t == NULL)
		return;
	wb_encoder_set_now(e, 1700000000000);
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
	wb_table_set_column(t, 0, "k", &tk, false, true);
	wb_table_set_column(t, 1, "n", &tn, false, false);
	wb_table_set_column(t, 2, "a", &ta, true, false);
	static const uint8_t nested[] = {0x04, 0x04, 0x02, 0x02, 0x02,
					 0x04, 0x00, 0x04, 0x02, 0x06,
					 0x00, 0x00, 0x00};
	struct wb_value row[3] = {
		{.state = WB_VAL_UNREPRESENTABLE,
		 .u.b = {(const uint8_t *)"infinity", 8}},
		{.state = WB_VAL_UNREPRESENTABLE,
		 .u.b = {(const uint8_t *)"NaN", 3}},
		{.state = WB_VAL_PRESENT, .u.b = {nested, sizeof(nested)}},
	};
	struct wb_change c = {
		.op = WB_OP_INSERT, .table = t, .pos = {1, 1}, .after = row};
	struct wb_event ev;
	struct wb_buf f;
	wb_buf_init(&f);
	static const uint8_t sync[16] = "0123456789abcdef";
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	wb_buf_append(&f, "Obj\x01", 4);
	wb_avro_put_long(&f, 1);
	wb_avro_put_string(&f, "avro.schema");
	wb_avro_put_string(&f, ev.value_schema->json);
	wb_avro_put_long(&f, 0);
	wb_buf_append(&f, sync, 16);
	struct wb_buf blk;
	wb_buf_init(&blk);
	wb_buf_append(&blk, ev.value, ev.value_len);
	row[0] = (struct wb_value){.state = WB_VAL_PRESENT, .u.i = INT64_MAX};
	row[1] = (struct wb_value){.state = WB_VAL_PRESENT,
				   .u.b = {(const uint8_t *)"\x96", 1}};
	row[2] = (struct wb_value){.state = WB_VAL_UNREPRESENTABLE,
				   .u.b = {(const uint8_t *)"[0:1]={1,2}", 11}};
	c.pos.minor = 2;
	CHECK(wb_encoder_encode(e, &c, &ev, &err) == WB_OK);
	wb_buf_append(&blk, ev.value, ev.value_len);
	wb_avro_put_long(&f, 2);
	wb_avro_put_long(&f, (int64_t)blk.len);
	wb_buf_append(&f, blk.data, blk.len);
	wb_buf_append(&f, sync, 16);
	CHECK(!f.failed && !blk.failed);

	char *text = NULL;
	CHECK(run_cat(NULL, f.data, f.len, &text, &err) == WB_OK);
	const char *src =
		"\"source\":{\"connector\":\"postgres\",\"name\":\"p\","
		"\"db\":\"db\",\"schema\":\"public\",\"table\":\"m\","
		"\"position\":\"1:%d\",\"txid\":null,\"gtid\":null,"
		"\"ts_ms\":0,\"snapshot\":false,\"detected_delete\":false},"
		"\"ts_ms\":1700000000000,"
		"\"event_id\":\"p:1:%d\",";
	char s1[512], s2[512], want[2048];
	snprintf(s1, sizeof(s1), src, 1, 1);
	snprintf(s2, sizeof(s2), src, 2, 2);
	snprintf(want, sizeof(want),
		 "{\"before\":null,\"after\":{\"k\":null,\"n\":null,"
		 "\"a\":[[1,2],[3,null]]},\"op\":\"c\",%s\"unchanged\":[],"
		 "\"unrepresentable\":[\"k\",\"n\"],\"unrepresentable_text\":"
		 "{\"after\":{\"k\":\"infinity\",\"n\":\"NaN\"}}}\n"
		 "{\"before\":null,\"after\":{\"k\":"
		 "\"+294247-01-10T04:00:54.775807Z\",\"n\":\"-1.06\",\"a\":"
		 "null},"
		 "\"op\":\"c\",%s\"unchanged\":[],\"unrepresentable\":[\"a\"],"
		 "\"unrepresentable_text\":{\"after\":{\"a\":\"[0:1]={1,2}\"}}}"
		 "\n",
		 s1, s2);
	CHECK(text && strcmp(text, want) == 0);
	if (text && strcmp(text, want) != 0)
		fprintf(stderr, "got:\n%s\nwant:\n%s\n", text, want);
	free(text);
	wb_buf_free(&f);
	wb_buf_free(&blk);
	wb_table_unref(t);
	wb_encoder_free(e);
}

int main(void)
{
	char dir[] = "/tmp/wb_test_avro_cat_XXXXXX";
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	char script[512], cmd[2048];
	snprintf(script, sizeof(script), "%s/write.py", dir);
	FILE *f = fopen(script, "w");
	if (f == NULL)
		return 1;
	fputs(py_writer, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -W ignore %s %s null deflate zstandard",
		 script, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "python3-avro could not write the files\n");
		return 1;
	}
	test_codec(dir, "null");
	test_codec(dir, "deflate");
	test_codec(dir, "zstandard");
	test_envelope();

	wb_error_t err = {0};
	char *text = NULL;
	CHECK(run_cat("/nonexistent/x.avro", NULL, 0, &text, &err) ==
	      WB_ERR_IO);
	free(text);
	text = NULL;
	CHECK(run_cat(NULL, (const uint8_t *)"Obj", 3, &text, &err) ==
	      WB_ERR_DECODE);
	free(text);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (failures == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (failures)
		fprintf(stderr,
			"test_avro_cat: %d check(s) failed (files in %s)\n",
			failures, dir);
	else
		printf("test_avro_cat: ok\n");
	return failures != 0;
}
