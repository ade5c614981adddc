/* test_odbc_config.c — an odbc source's configuration: the keys, their
 * defaults, per-table tracking and soft deletes, and the errors (unknown
 * keys, a mode without its column, a table not listed, globs, keyset
 * delete detection's settings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static struct wb_config *load_text(const char *text, wb_error_t *err,
				   char *path, size_t n)
{
	snprintf(path, n, "/tmp/wb-odbc-config-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	wb_error_clear(err);
	struct wb_config *c = wb_config_load(path, err);
	unlink(path);
	return c;
}

#define HEAD                                                                   \
	"name: o\nsink: {type: avro-file}\nsource:\n  type: odbc\n"            \
	"  connection: \"DSN=x;PWD=${WB_TEST_ODBC_PW}\"\n"

static void expect_error(const char *body, const char *want)
{
	char path[64];
	wb_error_t err;
	char text[2048];
	snprintf(text, sizeof(text), HEAD "%s", body);
	struct wb_config *c = load_text(text, &err, path, sizeof(path));
	if (c != NULL) {
		fprintf(stderr, "loaded, expected \"%s\":\n%s\n", want, body);
		failures++;
		wb_config_free(c);
		return;
	}
	if (strstr(err.message, want) == NULL) {
		fprintf(stderr, "error \"%s\"\n  does not contain \"%s\"\n",
			err.message, want);
		failures++;
	}
	if (strstr(err.message, "hunter2") != NULL) {
		fprintf(stderr, "the password appears: %s\n", err.message);
		failures++;
	}
}

int main(void)
{
	setenv("WB_TEST_ODBC_PW", "hunter2", 1);
	char path[64];
	wb_error_t err;
	struct wb_config *c = load_text(
		HEAD "  tables: [\"public.a\", \"public.b\", \"public.c\"]\n"
		     "  poll_interval: 250ms\n  time_zone: Europe/Berlin\n"
		     "  query_timeout: 5s\n  chunk_rows: 777\n"
		     "  tracking:\n"
		     "    public.b: {mode: timestamp+incrementing, timestamp: "
		     "u, incrementing: id, lag: 2s, lookback: 30s, deleted: "
		     "{column: del, value: 'Y'}}\n"
		     "    public.a: {mode: incrementing, incrementing: n, "
		     "lookback: 50}\n"
		     "  deletes: {detect: keyset, interval: 1m, chunk_rows: "
		     "2500}\n",
		&err, path, sizeof(path));
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	const struct wb_odbc_config *o = &c->source.odbc;
	CHECK_STR(o->connection, "DSN=x;PWD=${WB_TEST_ODBC_PW}");
	CHECK(o->poll_interval_ms == 250 && o->query_timeout_ms == 5000);
	CHECK(o->login_timeout_ms == 10000 && o->chunk_rows == 777);
	CHECK(o->fetch_rows == 500 && o->lookback_rows == 100000);
	CHECK_STR(o->time_zone, "Europe/Berlin");
	CHECK(o->detect == WB_ODBC_DETECT_KEYSET &&
	      o->deletes_interval_ms == 60000 && o->deletes_chunk_rows == 2500);
	CHECK(o->ntables == 3);
	/* in the order of source.tables */
	CHECK_STR(o->tables[0].name, "public.a");
	CHECK(o->tables[0].mode == WB_ODBC_INCREMENTING &&
	      o->tables[0].lookback_ids == 50);
	CHECK_STR(o->tables[1].name, "public.b");
	CHECK(o->tables[1].mode == WB_ODBC_TIMESTAMP_INC &&
	      o->tables[1].lag_ms == 2000 && o->tables[1].lookback_ms == 30000);
	CHECK_STR(o->tables[1].timestamp, "u");
	CHECK_STR(o->tables[1].deleted_column, "del");
	CHECK_STR(o->tables[1].deleted_value, "Y");
	CHECK_STR(o->tables[2].name, "public.c");
	CHECK(o->tables[2].mode == WB_ODBC_BULK && o->tables[2].lag_ms == 5000);
	wb_config_free(c);

	expect_error("  tables: [\"p.a\"]\n  pol_interval: 1s\n",
		     "unknown key \"pol_interval\" for type odbc (did you "
		     "mean \"poll_interval\"?)");
	expect_error("  tables: [\"p.a\"]\n  tracking: {p.a: {mode: "
		     "timestamp}}\n",
		     "mode timestamp needs a timestamp column");
	expect_error("  tables: [\"p.a\"]\n  tracking: {p.a: {mode: "
		     "incrementing, incrementing: id, timestamp: u}}\n",
		     "timestamp is only used by the modes");
	expect_error("  tables: [\"p.a\"]\n  tracking: {p.b: {mode: bulk}}\n",
		     "source.tracking.p.b: table is not in source.tables");
	expect_error("  tables: [\"p.*\"]\n", "without globs");
	expect_error("  tables: [\"a\"]\n", "expected \"schema.table\"");
	expect_error("  tables: [\"p.a\"]\n  tracking: {p.a: {mode: "
		     "bulk, colour: red}}\n",
		     "unknown key \"colour\"");
	expect_error("  tables: [\"p.a\"]\n  deletes: {detect: keyset, "
		     "chunk_rows: 0}\n",
		     "source.deletes.chunk_rows");
	expect_error("  tables: [\"p.a\"]\n  deletes: {detect: rowid}\n",
		     "source.deletes.detect");
	expect_error("  tables: [\"p.a\"]\n  tracking: {p.a: {mode: "
		     "bulk, deleted: {column: d}}}\n",
		     "expected both column and value");
	expect_error("  tables: [\"p.a\"]\n  tracking: {p.a: {mode: "
		     "timestamp, timestamp: u, query: 'SELECT 1'}}\n",
		     ":from (inclusive) and :to (exclusive)");
	expect_error("  tables: [\"p.a\"]\n  tracking: {p.a: {mode: "
		     "incrementing, incrementing: i, lookback: 5m}}\n",
		     "expected a number of ids");
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
