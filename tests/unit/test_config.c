/* test_config.c — config loader: values, defaults, ${VAR}, error messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "check.h"

#ifndef WB_SOURCE_DIR
#error "WB_SOURCE_DIR must be defined (the repository root)"
#endif

#define FIXTURES WB_SOURCE_DIR "/tests/fixtures/config/"
#define SECRET "s3cr3t-Value"

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		if (g_ != w_) {                                                \
			fprintf(stderr, "%s:%d: %s: got %lld, want %lld\n",    \
				__FILE__, __LINE__, #got, g_, w_);             \
			failures++;                                            \
		}                                                              \
	} while (0)

static struct wb_config *load(const char *name, wb_error_t *err)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s%s", FIXTURES, name);
	wb_error_clear(err);
	return wb_config_load(path, err);
}

static struct wb_config *load_ok(const char *name)
{
	wb_error_t err;
	struct wb_config *cfg = load(name, &err);
	if (cfg == NULL) {
		fprintf(stderr, "%s: unexpected error: %s\n", name,
			err.message);
		failures++;
	}
	return cfg;
}

/* Loads a file that must fail and checks the whole message, which starts
 * with the path as passed. */
static void expect_error(const char *name, const char *want_after_path)
{
	wb_error_t err;
	struct wb_config *cfg = load(name, &err);
	char want[1024];
	snprintf(want, sizeof(want), "%s%s%s", FIXTURES, name, want_after_path);
	if (cfg != NULL) {
		fprintf(stderr, "%s: loaded, but expected error \"%s\"\n", name,
			want);
		failures++;
		wb_config_free(cfg);
		return;
	}
	if (strcmp(err.message, want) != 0) {
		fprintf(stderr, "%s: message\n  got  \"%s\"\n  want \"%s\"\n",
			name, err.message, want);
		failures++;
	}
	if (err.code != WB_ERR_CONFIG) {
		fprintf(stderr, "%s: code %d, want WB_ERR_CONFIG\n", name,
			err.code);
		failures++;
	}
	if (strchr(err.message, '\n') != NULL) {
		fprintf(stderr, "%s: message spans lines\n", name);
		failures++;
	}
	if (strstr(err.message, SECRET) != NULL) {
		fprintf(stderr, "%s: message shows a secret\n", name);
		failures++;
	}
}

static void test_full(void)
{
	struct wb_config *c = load_ok("full.yaml");
	if (c == NULL)
		return;
	CHECK_STR(c->path, FIXTURES "full.yaml");
	CHECK_STR(c->name, "wms1");
	CHECK_STR(c->checkpoint_dir, "/var/lib/waybill/ckpt");
	CHECK_INT(c->checkpoint_interval_ms, 5000);
	CHECK_INT(c->queue_bytes, 64 << 20);
	CHECK_STR(c->topic_prefix, "erp");
	CHECK(c->emit_raw);
	CHECK(c->emit_mapped);
	CHECK_INT(c->nmappings, 2);
	CHECK_STR(c->mappings[0], "mappings/wms_inventory.yaml");
	CHECK_STR(c->mappings[1], "mappings/shipments.yaml");
	CHECK(c->mappings[2] == NULL);
	CHECK_STR(c->metrics_listen, "127.0.0.1:9187");
	CHECK_STR(c->log_level, "debug");
	CHECK_STR(c->log_format, "json");

	CHECK_STR(c->source.type, "postgres");
	CHECK_STR(c->source.dsn,
		  "host=/var/run/postgresql port=5432 dbname=erp user=waybill");
	CHECK_INT(c->source.ntables, 2);
	CHECK_STR(c->source.tables[0], "public.*");
	CHECK_STR(c->source.tables[1], "stock.move");
	CHECK(c->source.tables[2] == NULL);
	CHECK_INT(c->source.nexclude, 1);
	CHECK_STR(c->source.exclude[0], "public.tmp_*");
	CHECK(c->source.exclude[1] == NULL);
	CHECK_STR(c->source.slot, "wms1_slot");
	CHECK_STR(c->source.publication, "wms1_pub");
	CHECK_INT(c->source.snapshot, WB_SNAPSHOT_INITIAL_ONLY);
	CHECK_INT(c->source.decimal_handling, WB_DECIMAL_DOUBLE);
	CHECK_INT(c->source.status_interval_ms, 120000);
	CHECK_INT(c->source.connect_timeout_ms, 3000);
	CHECK_INT(c->source.on_gap, WB_ON_GAP_RESNAPSHOT);
	CHECK_INT(c->source.nextra, 0);

	CHECK_STR(c->sink.type, "avro-file");
	CHECK_STR(c->sink.dir, "/data/out");
	CHECK_STR(c->sink.codec, "deflate");
	CHECK_INT(c->sink.codec_level, 9);
	CHECK_INT(c->sink.block_bytes, 65536);
	CHECK_INT(c->sink.roll_bytes, 1000000000);
	CHECK_INT(c->sink.roll_age_ms, 250);
	CHECK_INT(c->sink.nextra, 0);
	wb_config_free(c);
}

static void test_defaults(void)
{
	struct wb_config *c = load_ok("minimal.yaml");
	if (c == NULL)
		return;
	CHECK_STR(c->name, "shop_2");
	/* relative defaults: next to the config file, not in the cwd */
	CHECK_STR(c->checkpoint_dir, FIXTURES "checkpoints");
	CHECK_INT(c->checkpoint_interval_ms, 1000);
	CHECK_INT(c->queue_bytes, 16 << 20);
	CHECK_STR(c->topic_prefix, "shop_2");
	CHECK(c->emit_raw);
	CHECK(!c->emit_mapped);
	CHECK_INT(c->nmappings, 0);
	CHECK(c->mappings != NULL && c->mappings[0] == NULL);
	CHECK(c->metrics_listen == NULL);
	CHECK_STR(c->log_level, "info");
	CHECK_STR(c->log_format, "text");
	CHECK_STR(c->source.type, "postgres");
	CHECK_STR(c->source.dsn, "dbname=shop");
	CHECK_INT(c->source.ntables, 1);
	CHECK_STR(c->source.tables[0], "public.*");
	CHECK(c->source.tables[1] == NULL);
	CHECK_INT(c->source.nexclude, 0);
	CHECK(c->source.exclude != NULL && c->source.exclude[0] == NULL);
	CHECK_STR(c->source.slot, "waybill_shop_2");
	CHECK_STR(c->source.publication, "waybill_shop_2");
	CHECK_INT(c->source.snapshot, WB_SNAPSHOT_INITIAL);
	CHECK_INT(c->source.snapshot_chunk_rows, 10000);
	CHECK_INT(c->source.snapshot_parallelism, 1);
	CHECK_INT(c->source.decimal_handling, WB_DECIMAL_STRING);
	CHECK_INT(c->source.status_interval_ms, 10000);
	CHECK_INT(c->source.connect_timeout_ms, 10000);
	CHECK_INT(c->source.on_gap, WB_ON_GAP_STOP);
	CHECK_STR(c->sink.type, "avro-file");
	CHECK_STR(c->sink.dir, FIXTURES "out");
	CHECK_STR(c->sink.codec, "zstandard");
	CHECK_INT(c->sink.codec_level, 1);
	CHECK_INT(c->sink.block_bytes, 1 << 20);
	CHECK_INT(c->sink.roll_bytes, 256 << 20);
	CHECK_INT(c->sink.roll_age_ms, 3600 * 1000);
	wb_config_free(c);
}

static void test_null_codec(void)
{
	struct wb_config *c = load_ok("null_codec.yaml");
	if (c == NULL)
		return;
	CHECK_STR(c->sink.codec, "null");
	CHECK_INT(c->sink.codec_level, 0);
	CHECK_STR(c->sink.dir, FIXTURES "out");
	CHECK(c->metrics_listen == NULL);
	wb_config_free(c);
	expect_error("null_codec_level.yaml",
		     ":7: sink.codec_level: the null codec takes no level");
}

static void test_env(void)
{
	setenv("WB_TEST_NAME", "from_env", 1);
	setenv("WB_TEST_HOST", "db1", 1);
	setenv("WB_TEST_SECRET", SECRET, 1);
	setenv("WB_TEST_SCHEMA", "erp", 1);
	setenv("WB_TEST_EMPTY", "", 1);
	unsetenv("WB_TEST_UNSET_USER");
	struct wb_config *c = load_ok("env.yaml");
	if (c != NULL) {
		CHECK_STR(c->name, "from_env");
		CHECK_STR(c->source.slot, "waybill_from_env");
		/* the dsn stays as written: the connector parses it first,
		 * then expands each value (a secret is never parsed) */
		CHECK_STR(c->source.dsn,
			  "host=${WB_TEST_HOST} password=${WB_TEST_SECRET}");
		CHECK_STR(c->source.publication, "cost${x} $5 end");
		CHECK_STR(c->source.tables[0], "erp.*");
		CHECK_STR(c->sink.dir, FIXTURES "${HOME}/out");
		wb_error_t err;
		char *v = wb_config_expand(c, "source.dsn", "${WB_TEST_SECRET}",
					   &err);
		CHECK_STR(v, SECRET);
		free(v);
		v = wb_config_expand(c, "source.dsn", "a $${B} ${WB_TEST_HOST}",
				     &err);
		CHECK_STR(v, "a ${B} db1");
		free(v);
		v = wb_config_expand(c, "source.dsn", "${WB_TEST_UNSET_USER}",
				     &err);
		CHECK(v == NULL);
		CHECK_INT(err.code, WB_ERR_CONFIG);
		CHECK_STR(err.message,
			  FIXTURES "env.yaml: source.dsn: environment variable "
				   "\"WB_TEST_UNSET_USER\" is not set");
		wb_config_free(c);
	}
	/* Names the variable and the key, and nothing that was expanded. */
	expect_error("env_unset.yaml", ":4: source.dsn: environment variable "
				       "\"WB_TEST_UNSET_USER\" is not set");
	wb_error_t err;
	c = load("env_unset.yaml", &err);
	CHECK(c == NULL);
	CHECK(strstr(err.message, "db1") == NULL);
	CHECK(strstr(err.message, SECRET) == NULL);
	expect_error("env_bad_enum.yaml",
		     ":7: sink.codec: expected one of zstandard, deflate, "
		     "null, got (value from environment)");
}

/* checkpoint_dir and sink.dir relative to the config file's directory,
 * also when the file itself is named relative to the cwd. */
static void test_relative_paths(void)
{
	struct wb_config *c = load_ok("relative_paths.yaml");
	if (c != NULL) {
		CHECK_STR(c->checkpoint_dir, FIXTURES "state/ckpt");
		CHECK_STR(c->sink.dir, FIXTURES "data/../out");
		wb_config_free(c);
	}
	char cwd[4096];
	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(FIXTURES "..") != 0) {
		fprintf(stderr, "cannot chdir to " FIXTURES "..\n");
		failures++;
		return;
	}
	wb_error_t err;
	c = wb_config_load("config/relative_paths.yaml", &err);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_STR(c->path, "config/relative_paths.yaml");
		CHECK_STR(c->checkpoint_dir, FIXTURES "state/ckpt");
		CHECK_STR(c->sink.dir, FIXTURES "data/../out");
		wb_config_free(c);
	}
	if (chdir(FIXTURES) == 0) {
		c = wb_config_load("minimal.yaml", &err);
		CHECK(c != NULL);
		if (c != NULL) {
			CHECK_STR(c->checkpoint_dir, FIXTURES "checkpoints");
			CHECK_STR(c->sink.dir, FIXTURES "out");
			wb_config_free(c);
		}
	}
	/* absolute paths are kept as they are */
	c = load_ok("full.yaml");
	if (c != NULL) {
		CHECK_STR(c->checkpoint_dir, "/var/lib/waybill/ckpt");
		CHECK_STR(c->sink.dir, "/data/out");
		wb_config_free(c);
	}
	CHECK(chdir(cwd) == 0);
}

static void test_syntax_errors(void)
{
	expect_error("bad_indent.yaml",
		     ":4:7: mapping values are not allowed in this context");
	expect_error("unclosed_quote.yaml",
		     ":4:8: while scanning a quoted scalar, found unexpected "
		     "end of stream (at line 7)");
	expect_error("empty.yaml", ": the file is empty");
	wb_error_t err;
	CHECK(load("no_such_file.yaml", &err) == NULL);
	CHECK_INT(err.code, WB_ERR_CONFIG);
	CHECK(strstr(err.message, "no_such_file.yaml: cannot open: ") != NULL);
}

static void test_key_errors(void)
{
	expect_error("mysql_unknown_key.yaml",
		     ":5: source: unknown key \"dsn\" for type mysql");
	expect_error("unknown_top.yaml",
		     ":3: unknown key \"sourse\" (did you mean \"source\"?)");
	expect_error("unknown_source.yaml",
		     ":5: source: unknown key \"dns\" for type postgres (did "
		     "you mean \"dsn\"?)");
	expect_error(
		"unknown_sink.yaml",
		":7: sink: unknown key \"compression\" for type avro-file");
	expect_error("missing_type.yaml",
		     ": missing required key \"source.type\"");
	expect_error("missing_dsn.yaml",
		     ": missing required key \"source.dsn\"");
	expect_error("duplicate.yaml",
		     ":7: source: duplicate key (first at line 2)");
}

static void test_value_errors(void)
{
	expect_error("bad_codec.yaml",
		     ":7: sink.codec: expected one of zstandard, deflate, "
		     "null, got \"lz5\"");
	expect_error("bad_duration.yaml",
		     ":2: checkpoint_interval: expected a duration greater "
		     "than 0 such as 250ms, 5s, 2m or 1h, got \"5 seconds\"");
	expect_error("bad_size.yaml",
		     ":7: sink.roll_bytes: expected a size greater than 0 "
		     "such as 1048576, 64KiB, 16MiB or 1GiB, got \"12PB\"");
	expect_error("bad_name.yaml",
		     ":1: name: expected 1 to 40 characters from a-z, 0-9 "
		     "and _, got \"Waybill-1\"");
	expect_error("list_for_scalar.yaml",
		     ":5: source.dsn: expected a scalar, got a list");
	expect_error("scalar_for_list.yaml",
		     ":5: source.tables: expected a list, got a scalar");
	expect_error("bad_emit.yaml",
		     ":2: emit[1]: expected one of raw, mapped, got "
		     "\"cooked\"");
	expect_error("bad_on_gap.yaml",
		     ":5: source.on_gap: expected one of stop, resnapshot, "
		     "got \"skip\"");
	expect_error("bad_connect_timeout.yaml",
		     ":5: source.connect_timeout: expected a duration greater "
		     "than 0 such as 250ms, 5s, 2m or 1h, got \"0s\"");
	expect_error("bad_level.yaml",
		     ":7: sink.codec_level: expected 1 to 22, or -1 to -7 "
		     "(zstd's fast levels), for codec zstandard, got 30");
}

static void test_snapshot(void)
{
	struct wb_config *c = load_ok("snapshot_map.yaml");
	if (c != NULL) {
		CHECK_INT(c->source.snapshot, WB_SNAPSHOT_ALWAYS);
		CHECK_INT(c->source.snapshot_chunk_rows, 2500);
		CHECK_INT(c->source.snapshot_parallelism, 3);
		wb_config_free(c);
	}
	c = load_ok("snapshot_map_partial.yaml");
	if (c != NULL) {
		CHECK_INT(c->source.snapshot, WB_SNAPSHOT_INITIAL);
		CHECK_INT(c->source.snapshot_chunk_rows, 10000);
		CHECK_INT(c->source.snapshot_parallelism, 2);
		wb_config_free(c);
	}
	expect_error("snapshot_bad_key.yaml",
		     ":7: source.snapshot: unknown key \"chunk_rows\"");
	expect_error("snapshot_bad_chunk.yaml",
		     ":5: source.snapshot.chunk_size: expected 1 to 10000000, "
		     "got 0");
	expect_error(
		"snapshot_bad_mode.yaml",
		":5: source.snapshot.mode: expected one of initial, never, "
		"always, initial_only, got \"sometimes\"");
}

static void test_kafka_extra(void)
{
	setenv("WB_TEST_SECRET", SECRET, 1);
	struct wb_config *c = load_ok("kafka.yaml");
	if (c == NULL)
		return;
	const struct wb_kv *kv = c->sink.extra;
	int n = c->sink.nextra;
	CHECK_STR(c->sink.type, "kafka");
	CHECK_INT(n, 6);
	CHECK_STR(wb_config_extra(kv, n, "brokers"),
		  "broker1:9092,broker2:9092");
	CHECK_STR(wb_config_extra(kv, n, "exactly_once"), "true");
	CHECK_STR(wb_config_extra(kv, n, "schema_registry.url"),
		  "http://registry:8081");
	CHECK_STR(wb_config_extra(kv, n, "properties.linger.ms"), "5");
	CHECK_STR(wb_config_extra(kv, n, "properties.compression.type"),
		  "zstd");
	CHECK_STR(wb_config_extra(kv, n, "properties.sasl.password"), SECRET);
	CHECK(wb_config_extra(kv, n, "properties") == NULL);
	CHECK(wb_config_extra(kv, n, "linger.ms") == NULL);
	CHECK(wb_config_extra(NULL, 0, "brokers") == NULL);
	if (n == 6)
		CHECK_STR(kv[0].key, "brokers");
	CHECK_INT(c->source.nextra, 0);
	wb_config_free(c);
}

static void test_mysql_extra(void)
{
	setenv("WB_TEST_SECRET", SECRET, 1);
	struct wb_config *c = load_ok("mysql.yaml");
	if (c == NULL)
		return;
	const struct wb_kv *kv = c->source.extra;
	int n = c->source.nextra;
	CHECK_STR(c->source.type, "mysql");
	CHECK(c->source.dsn == NULL);
	CHECK_INT(c->source.ntables, 1);
	CHECK_STR(c->source.tables[0], "erp.*");
	CHECK_INT(n, 7);
	CHECK_STR(wb_config_extra(kv, n, "host"), "127.0.0.1");
	CHECK_STR(wb_config_extra(kv, n, "port"), "3306");
	CHECK_STR(wb_config_extra(kv, n, "user"), "waybill");
	CHECK_STR(wb_config_extra(kv, n, "password"), SECRET);
	CHECK_STR(wb_config_extra(kv, n, "server_id"), "4242");
	CHECK_STR(wb_config_extra(kv, n, "ssl_mode"), "required");
	CHECK_STR(wb_config_extra(kv, n, "heartbeat"), "2s");
	wb_config_free(c);
}

static void test_parsers(void)
{
	CHECK_INT(wb_config_parse_duration_ms("250ms"), 250);
	CHECK_INT(wb_config_parse_duration_ms("5s"), 5000);
	CHECK_INT(wb_config_parse_duration_ms("2m"), 120000);
	CHECK_INT(wb_config_parse_duration_ms("1h"), 3600000);
	CHECK_INT(wb_config_parse_duration_ms("1500"), 1500);
	CHECK_INT(wb_config_parse_duration_ms("0"), 0);
	CHECK_INT(wb_config_parse_duration_ms(""), -1);
	CHECK_INT(wb_config_parse_duration_ms("s"), -1);
	CHECK_INT(wb_config_parse_duration_ms("-5s"), -1);
	CHECK_INT(wb_config_parse_duration_ms(" 5s"), -1);
	CHECK_INT(wb_config_parse_duration_ms("5 s"), -1);
	CHECK_INT(wb_config_parse_duration_ms("1.5s"), -1);
	CHECK_INT(wb_config_parse_duration_ms("5x"), -1);
	CHECK_INT(wb_config_parse_duration_ms("99999999999999999999"), -1);
	CHECK_INT(wb_config_parse_duration_ms("9223372036854775807h"), -1);
	CHECK_INT(wb_config_parse_duration_ms(NULL), -1);

	CHECK_INT(wb_config_parse_size("1048576"), 1048576);
	CHECK_INT(wb_config_parse_size("64KiB"), 65536);
	CHECK_INT(wb_config_parse_size("16MiB"), 16777216);
	CHECK_INT(wb_config_parse_size("1GiB"), 1073741824);
	CHECK_INT(wb_config_parse_size("2K"), 2048);
	CHECK_INT(wb_config_parse_size("3M"), 3145728);
	CHECK_INT(wb_config_parse_size("1G"), 1073741824);
	CHECK_INT(wb_config_parse_size("5KB"), 5000);
	CHECK_INT(wb_config_parse_size("5MB"), 5000000);
	CHECK_INT(wb_config_parse_size("2GB"), 2000000000);
	CHECK_INT(wb_config_parse_size("512B"), 512);
	CHECK_INT(wb_config_parse_size("16mib"), -1);
	CHECK_INT(wb_config_parse_size("MiB"), -1);
	CHECK_INT(wb_config_parse_size("-1"), -1);
	CHECK_INT(wb_config_parse_size("1.5GiB"), -1);
	CHECK_INT(wb_config_parse_size("9223372036854775807K"), -1);
	CHECK_INT(wb_config_parse_size(NULL), -1);
}

int main(void)
{
	wb_config_free(NULL);
	test_full();
	test_defaults();
	test_null_codec();
	test_env();
	test_relative_paths();
	test_syntax_errors();
	test_key_errors();
	test_value_errors();
	test_snapshot();
	test_kafka_extra();
	test_mysql_extra();
	test_parsers();
	if (failures != 0) {
		fprintf(stderr, "test_config: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_config: ok\n");
	return 0;
}
