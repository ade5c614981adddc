/* test_odbc_deletes.c — keyset delete detection against a real ODBC
 * driver: SQLite's (Debian's libsqliteodbc, an embedded database in a
 * temporary file, no ini file), or the database of the connection string
 * in WB_ODBC_CONN: PostgreSQL (psqlODBC) or MariaDB (MariaDB Connector/ODBC),
 * which tests/integration/test_odbc_deletes_{pg,mariadb}.py start and run
 * this program against.
 *
 * Each case fills a table, puts the keys it holds into a key store with an
 * image per key, deletes rows, runs one pass and checks exactly which keys
 * were reported, with which images, how many chunks differed and how many
 * key rows were read from the database (only the differing chunks'). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sql.h>
#include <sqlext.h>

#include "check.h"
#include "odbc_deletes.h"
#include "odbc_keys.h"
#include "stop.h"

#define SQLITE_ODBC "/usr/lib/x86_64-linux-gnu/odbc/libsqlite3odbc.so"

static SQLHENV henv;
static SQLHDBC hdbc;
static char dbms[64], quote[8];
static int is_pg, is_my;
static char tmpdir[256];
static struct wb_odbc_keys *store;

static void odbc_fail(const char *what, SQLSMALLINT type, SQLHANDLE h)
{
	SQLCHAR state[6] = "", msg[512] = "";
	SQLINTEGER native;
	SQLSMALLINT len;
	SQLGetDiagRec(type, h, 1, state, &native, msg, sizeof msg, &len);
	fprintf(stderr, "%s: %s (%s)\n", what, msg, state);
	failures++;
}

static int exec_sql(const char *sql)
{
	SQLHSTMT st;
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, hdbc, &st))) {
		odbc_fail("SQLAllocHandle", SQL_HANDLE_DBC, hdbc);
		return -1;
	}
	SQLRETURN r = SQLExecDirect(st, (SQLCHAR *)sql, SQL_NTS);
	int rc = 0;
	if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA) {
		fprintf(stderr, "SQL: %s\n", sql);
		odbc_fail("SQLExecDirect", SQL_HANDLE_STMT, st);
		rc = -1;
	}
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	return rc;
}

static int connect_db(const char *conn)
{
	SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &henv);
	SQLSetEnvAttr(henv, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
	SQLAllocHandle(SQL_HANDLE_DBC, henv, &hdbc);
	if (!SQL_SUCCEEDED(SQLDriverConnect(hdbc, NULL, (SQLCHAR *)conn,
					    SQL_NTS, NULL, 0, NULL,
					    SQL_DRIVER_NOPROMPT))) {
		odbc_fail("SQLDriverConnect", SQL_HANDLE_DBC, hdbc);
		return -1;
	}
	SQLSMALLINT len;
	SQLGetInfo(hdbc, SQL_DBMS_NAME, dbms, sizeof dbms, &len);
	SQLGetInfo(hdbc, SQL_IDENTIFIER_QUOTE_CHAR, quote, sizeof quote, &len);
	is_pg = strcmp(dbms, "PostgreSQL") == 0;
	is_my = strstr(dbms, "MariaDB") != NULL ||
		strstr(dbms, "MySQL") != NULL;
	printf("connected: %s, identifier quote '%s'\n", dbms, quote);
	/* the test's own SQL: "quoted" names and || on MariaDB too */
	if (is_my &&
	    exec_sql("SET SESSION sql_mode = "
		     "'ANSI_QUOTES,PIPES_AS_CONCAT,STRICT_ALL_TABLES'") != 0)
		return -1;
	return 0;
}

static void disconnect_db(void)
{
	SQLDisconnect(hdbc);
	SQLFreeHandle(SQL_HANDLE_DBC, hdbc);
	SQLFreeHandle(SQL_HANDLE_ENV, henv);
}

/* INSERT INTO <table> (<cols>) the rows of <select> over g = 1..n (a
 * recursive CTE on SQLite, generate_series on PostgreSQL, the SEQUENCE
 * engine on MariaDB). */
static int insert_series(const char *table, const char *cols,
			 const char *select, int n)
{
	char sql[1024];
	if (is_pg)
		snprintf(sql, sizeof sql,
			 "INSERT INTO %s (%s) SELECT %s FROM "
			 "generate_series(1, %d) AS s(g)",
			 table, cols, select, n);
	else if (is_my)
		snprintf(sql, sizeof sql,
			 "INSERT INTO %s (%s) SELECT %s FROM (SELECT seq AS g "
			 "FROM seq_1_to_%d) AS s",
			 table, cols, select, n);
	else
		snprintf(sql, sizeof sql,
			 "INSERT INTO %s (%s) WITH RECURSIVE s(g) AS (SELECT 1 "
			 "UNION ALL SELECT g + 1 FROM s WHERE g < %d) SELECT "
			 "%s FROM s",
			 table, cols, n, select);
	return exec_sql(sql);
}

static void open_store(const char *name)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s.keys.sqlite", tmpdir, name);
	wb_error_t err = {0};
	store = wb_odbc_keys_open(path, &err);
	if (store == NULL) {
		fprintf(stderr, "key store: %s\n", err.message);
		exit(1);
	}
}

static void put_key(const char *label, const struct wb_odbc_key_val *v,
		    size_t n, const char *image)
{
	struct wb_buf k;
	wb_error_t err = {0};
	wb_buf_init(&k);
	CHECK(wb_odbc_key_encode(v, n, &k, &err) == 0);
	CHECK(wb_odbc_keys_put(store, label, k.data, k.len,
			       (const uint8_t *)image, strlen(image),
			       &err) == 0);
	wb_buf_free(&k);
}

static void put_int(const char *label, int64_t id)
{
	struct wb_odbc_key_val v = {.type = WB_ODBC_KEY_INT, .i = id};
	char img[64];
	snprintf(img, sizeof img, "row-%" PRId64, id);
	put_key(label, &v, 1, img);
}

/* What the callback saw: "key=image;" per report, and whether it removes
 * the reported keys from the store. */
static char reported[4096];
static size_t reported_len;
static int remove_reported;

static int on_deleted(void *arg, const char *table, const uint8_t *key,
		      size_t key_len, const uint8_t *image, size_t image_len,
		      wb_error_t *err)
{
	const char *want = arg;
	CHECK_STR(table, want);
	char text[256];
	wb_odbc_key_format(key, key_len, text, sizeof text);
	int w = snprintf(reported + reported_len,
			 sizeof reported - reported_len, "%s=%.*s;", text,
			 (int)image_len, (const char *)image);
	if (w > 0 && (size_t)w < sizeof reported - reported_len)
		reported_len += (size_t)w;
	if (remove_reported)
		return wb_odbc_keys_remove(store, table, key, key_len, err);
	return 0;
}

/* One pass; returns its rc and fills stats. */
static int run_pass(const char *schema, const char *name, const char *label,
		    const struct wb_odbc_key_col *keys, size_t nkeys,
		    uint64_t chunk, const char *dbms_name,
		    struct wb_odbc_deletes_stats *stats, wb_error_t *err)
{
	struct wb_odbc_deletes_cfg cfg = {
		.dbc = hdbc,
		.quote = quote,
		.dbms = dbms_name ? dbms_name : dbms,
		.schema = schema,
		.name = name,
		.label = label,
		.keys = keys,
		.nkeys = nkeys,
		.store = store,
		.chunk = chunk,
		.query_timeout = 60,
		.on_deleted = on_deleted,
		.arg = (void *)label,
	};
	reported[0] = '\0';
	reported_len = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = wb_odbc_deletes_run(&cfg, stats, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc != 0)
		printf("  pass: rc %d: %s\n", rc, err->message);
	printf("  pass %s: %" PRIu64 " chunks, %" PRIu64 " differing, %" PRIu64
	       " key rows read in %" PRIu64 " pages, %" PRIu64
	       " deleted (%.0f ms)\n",
	       label, stats->chunks, stats->chunks_differing, stats->rows_read,
	       stats->pages, stats->deleted,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return rc;
}

static const struct wb_odbc_key_col id_key[] = {{"id", WB_ODBC_KEY_INT}};

/* 200,000 rows, 10 deletes in 10 different chunks of 1,000. */
static void test_big(void)
{
	printf("200,000 rows, 10 deletes spread out\n");
	wb_error_t err = {0};
	struct wb_odbc_deletes_stats st;
	open_store("big");
	CHECK(exec_sql("CREATE TABLE big (id bigint PRIMARY KEY, payload "
		       "text)") == 0);
	CHECK(insert_series("big", "id, payload", "g, 'p' || g", 200000) == 0);
	for (int64_t id = 1; id <= 200000; id++)
		put_int("big", id);
	CHECK(wb_odbc_keys_commit(store, "ck-1", &err) == 0);

	/* nothing deleted: every chunk agrees, nothing is read */
	CHECK(run_pass(NULL, "big", "big", id_key, 1, 1000, NULL, &st, &err) ==
	      0);
	CHECK(st.chunks == 200 && st.chunks_differing == 0 &&
	      st.rows_read == 0 && st.deleted == 0 && st.complete);
	/* a stop request ends the pass before its next chunk */
	wb_stop_requested = 1;
	CHECK(run_pass(NULL, "big", "big", id_key, 1, 1000, NULL, &st, &err) ==
	      0);
	CHECK(st.chunks == 0 && !st.complete);
	wb_stop_requested = 0;

	const int64_t gone[10] = {1500,	  21234,  40001,  60999,  80500,
				  100777, 120002, 140999, 160321, 199999};
	for (int i = 0; i < 10; i++) {
		char sql[128];
		snprintf(sql, sizeof sql, "DELETE FROM big WHERE id = %" PRId64,
			 gone[i]);
		CHECK(exec_sql(sql) == 0);
	}
	remove_reported = 1;
	CHECK(run_pass(NULL, "big", "big", id_key, 1, 1000, NULL, &st, &err) ==
	      0);
	CHECK_STR(reported, "(1500)=row-1500;(21234)=row-21234;(40001)=row-"
			    "40001;(60999)=row-60999;(80500)=row-80500;(100777)"
			    "=row-100777;(120002)=row-120002;(140999)=row-"
			    "140999;(160321)=row-160321;(199999)=row-199999;");
	CHECK(st.chunks == 200);
	CHECK(st.chunks_differing == 10);
	/* the 10 differing chunks' remaining 999 rows each, nothing else */
	CHECK(st.rows_read == 9990);
	CHECK(st.pages == 10);
	CHECK(st.deleted == 10);
	CHECK(st.complete);
	CHECK(wb_odbc_keys_commit(store, "ck-2", &err) == 0);
	/* the next pass finds the store and the table alike */
	CHECK(run_pass(NULL, "big", "big", id_key, 1, 1000, NULL, &st, &err) ==
	      0);
	CHECK(st.chunks_differing == 0 && st.rows_read == 0 &&
	      st.deleted == 0 && reported[0] == '\0');
	wb_odbc_keys_close(store);
	remove_reported = 0;
}

/* Deletes at chunk edges: the first key, the last of a chunk, the first
 * of the next (a chunk boundary), the last key; then rows the store does
 * not hold yet. */
static void test_edges(void)
{
	printf("deletes at chunk edges\n");
	wb_error_t err = {0};
	struct wb_odbc_deletes_stats st;
	open_store("edges");
	CHECK(exec_sql("CREATE TABLE edges (id bigint PRIMARY KEY)") == 0);
	CHECK(insert_series("edges", "id", "g", 5000) == 0);
	for (int64_t id = 1; id <= 5000; id++)
		put_int("edges", id);
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	CHECK(exec_sql("DELETE FROM edges WHERE id IN (1, 100, 101, 5000)") ==
	      0);
	remove_reported = 1;
	CHECK(run_pass(NULL, "edges", "edges", id_key, 1, 100, NULL, &st,
		       &err) == 0);
	CHECK_STR(reported,
		  "(1)=row-1;(100)=row-100;(101)=row-101;(5000)=row-5000;");
	/* [-inf, 101): 98 rows, [101, 201): 99, [4901, +inf): 99 */
	CHECK(st.chunks == 50 && st.chunks_differing == 3 &&
	      st.rows_read == 296 && st.deleted == 4);
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);

	/* new rows above the last key and one delete: the new rows are read
	 * (their chunk differs) but not reported */
	CHECK(insert_series("edges", "id", "g + 5999", 10) == 0);
	CHECK(exec_sql("DELETE FROM edges WHERE id = 2500") == 0);
	CHECK(run_pass(NULL, "edges", "edges", id_key, 1, 100, NULL, &st,
		       &err) == 0);
	CHECK_STR(reported, "(2500)=row-2500;");
	/* 4996 keys left, 2..99 and 102..4999: the chunks start at 104,
	 * 204, ..., 4904; 2500 is in [2404, 2504) (99 rows left), the last
	 * chunk [4904, +inf) holds 4904..4999 and 6000..6009 (106 rows) */
	CHECK(st.chunks == 50 && st.chunks_differing == 2 &&
	      st.rows_read == 99 + 106 && st.deleted == 1);
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	wb_odbc_keys_close(store);
	remove_reported = 0;
}

/* A delete and an insert of a not yet emitted key in one chunk: the
 * count agrees; the checksum tells them apart, a count alone does not. */
static void test_checksum(void)
{
	printf("a delete hidden from COUNT by an insert\n");
	wb_error_t err = {0};
	struct wb_odbc_deletes_stats st;
	open_store("evens");
	CHECK(exec_sql("CREATE TABLE evens (id bigint PRIMARY KEY)") == 0);
	CHECK(insert_series("evens", "id", "2 * g", 1000) == 0);
	for (int64_t id = 2; id <= 2000; id += 2)
		put_int("evens", id);
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	CHECK(exec_sql("DELETE FROM evens WHERE id = 1000") == 0);
	CHECK(exec_sql("INSERT INTO evens (id) VALUES (1001)") == 0);
	/* a DBMS without checksums (count only): masked, as documented */
	CHECK(run_pass(NULL, "evens", "evens", id_key, 1, 100, "Other DBMS",
		       &st, &err) == 0);
	CHECK(st.chunks == 10 && st.chunks_differing == 0 &&
	      st.rows_read == 0 && st.deleted == 0);
	/* the driver's own DBMS: found; the chunk [802, 1002) holds 99
	 * stored keys and 1001 */
	CHECK(run_pass(NULL, "evens", "evens", id_key, 1, 100, NULL, &st,
		       &err) == 0);
	CHECK_STR(reported, "(1000)=row-1000;");
	CHECK(st.chunks == 10 && st.chunks_differing == 1 &&
	      st.rows_read == 100 && st.deleted == 1);
	wb_odbc_keys_close(store);
}

/* A composite (text, integer) key on a table and columns whose names need
 * quoting, non-ASCII and empty text, a qualified name. */
static void test_composite(void)
{
	printf("composite text + integer key, quoted names\n");
	wb_error_t err = {0};
	struct wb_odbc_deletes_stats st;
	const char *regions[5] = {"", "a b", "east", "north", "s\303\274d"};
	open_store("composite");
	/* text compared as bytes: PostgreSQL's "C" collation, MariaDB's
	 * utf8mb4_bin (and a bounded type for a key) */
	char sql[512];
	snprintf(sql, sizeof sql,
		 "CREATE TABLE \"order \"\"lines\"\" select\" (\"re\"\"gion\" "
		 "%s NOT NULL, \"select\" bigint NOT NULL, payload text, "
		 "PRIMARY KEY (\"re\"\"gion\", \"select\"))",
		 is_pg	 ? "text COLLATE \"C\""
		 : is_my ? "varchar(20) CHARACTER SET utf8mb4 COLLATE "
			   "utf8mb4_bin"
			 : "text");
	CHECK(exec_sql(sql) == 0);
	for (int r = 0; r < 5; r++) {
		char sel[128];
		snprintf(sel, sizeof sel, "'%s', g - 1, 'x'", regions[r]);
		CHECK(insert_series("\"order \"\"lines\"\" select\"",
				    "\"re\"\"gion\", \"select\", payload", sel,
				    600) == 0);
		for (int64_t no = 0; no < 600; no++) {
			struct wb_odbc_key_val v[2] = {
				{.type = WB_ODBC_KEY_TEXT,
				 .s = regions[r],
				 .len = strlen(regions[r])},
				{.type = WB_ODBC_KEY_INT, .i = no}};
			char img[64];
			snprintf(img, sizeof img, "%s/%" PRId64, regions[r],
				 no);
			put_key("order lines", v, 2, img);
		}
	}
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	CHECK(exec_sql("DELETE FROM \"order \"\"lines\"\" select\" WHERE "
		       "(\"re\"\"gion\" = 's\303\274d' AND \"select\" = 17) OR "
		       "(\"re\"\"gion\" = 'east' "
		       "AND \"select\" = 599) OR (\"re\"\"gion\" = '' AND "
		       "\"select\" = 0) OR (\"re\"\"gion\" = 'north' AND "
		       "\"select\" = 300)") == 0);
	static const struct wb_odbc_key_col keys[] = {
		{"re\"gion", WB_ODBC_KEY_TEXT}, {"select", WB_ODBC_KEY_INT}};
	CHECK(run_pass(is_pg   ? "public"
		       : is_my ? NULL
			       : "main",
		       "order \"lines\" select", "order lines", keys, 2, 250,
		       NULL, &st, &err) == 0);
	CHECK_STR(reported, "('', 0)=/0;('east', 599)=east/599;('north', "
			    "300)=north/300;('s\303\274d', 17)=s\303\274d/17;");
	/* keys in order: '' 0..599, 'a b', 'east' (1200..1799), 'north'
	 * (1800..2399), 'süd' (2400..2999): the deletes fall in chunks 0,
	 * 7, 8 and 9 of 250, each read with 249 rows */
	CHECK(st.chunks == 12 && st.chunks_differing == 4 &&
	      st.rows_read == 4 * 249 && st.deleted == 4);
	wb_odbc_keys_close(store);
}

/* An empty table; an empty store; pages smaller than a chunk's rows. */
static void test_empty(void)
{
	printf("empty table, empty store\n");
	wb_error_t err = {0};
	struct wb_odbc_deletes_stats st;
	open_store("empty");
	CHECK(exec_sql("CREATE TABLE empty_t (id bigint PRIMARY KEY)") == 0);
	/* both empty: one open chunk, equal */
	CHECK(run_pass(NULL, "empty_t", "empty_t", id_key, 1, 20, NULL, &st,
		       &err) == 0);
	CHECK(st.chunks == 1 && st.chunks_differing == 0 && st.rows_read == 0 &&
	      st.deleted == 0);
	/* 50 stored keys, no rows: every key reported, nothing read */
	for (int64_t id = 1; id <= 50; id++)
		put_int("empty_t", id);
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	CHECK(run_pass(NULL, "empty_t", "empty_t", id_key, 1, 20, NULL, &st,
		       &err) == 0);
	CHECK(st.chunks == 3 && st.chunks_differing == 3 && st.rows_read == 0 &&
	      st.deleted == 50);
	CHECK(strncmp(reported, "(1)=row-1;(2)=row-2;", 20) == 0);
	CHECK(strstr(reported, "(50)=row-50;") != NULL &&
	      strlen(strstr(reported, "(50)=row-50;")) == 12);
	wb_odbc_keys_close(store);

	/* an empty store and 30 rows: one chunk, read in pages of 20 */
	open_store("fresh");
	CHECK(insert_series("empty_t", "id", "g", 30) == 0);
	CHECK(run_pass(NULL, "empty_t", "empty_t", id_key, 1, 20, NULL, &st,
		       &err) == 0);
	CHECK(st.chunks == 1 && st.chunks_differing == 1 &&
	      st.rows_read == 30 && st.deleted == 0 && reported[0] == '\0');
	/* 20 rows (SQL_ATTR_MAX_ROWS), then the 10 after the 20th key */
	CHECK(st.pages == 2);
	wb_odbc_keys_close(store);
}

/* A decimal key: bound as parameters, compared in numeric order. */
static void test_decimal(void)
{
	printf("decimal key\n");
	wb_error_t err = {0};
	struct wb_odbc_deletes_stats st;
	open_store("dec");
	CHECK(exec_sql("CREATE TABLE dec_t (k numeric(10,2) PRIMARY KEY)") ==
	      0);
	CHECK(exec_sql("INSERT INTO dec_t (k) VALUES (1.5), (2.25), (10), "
		       "(-3.75), (0)") == 0);
	const char *ks[] = {"-3.75", "0", "1.50", "2.25", "10.00"};
	for (int i = 0; i < 5; i++) {
		struct wb_odbc_key_val v = {.type = WB_ODBC_KEY_DECIMAL,
					    .s = ks[i],
					    .len = strlen(ks[i])};
		put_key("dec_t", &v, 1, ks[i]);
	}
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	static const struct wb_odbc_key_col dk[] = {{"k", WB_ODBC_KEY_DECIMAL}};
	CHECK(run_pass(NULL, "dec_t", "dec_t", dk, 1, 2, NULL, &st, &err) == 0);
	CHECK(st.chunks == 3 && st.chunks_differing == 0 && st.deleted == 0);
	CHECK(exec_sql("DELETE FROM dec_t WHERE k = 2.25") == 0);
	/* chunks [-inf, 1.5), [1.5, 10), [10, +inf): the second has 1.5 */
	CHECK(run_pass(NULL, "dec_t", "dec_t", dk, 1, 2, NULL, &st, &err) == 0);
	CHECK_STR(reported, "(2.25)=2.25;");
	CHECK(st.chunks == 3 && st.chunks_differing == 1 && st.rows_read == 1 &&
	      st.deleted == 1);
	wb_odbc_keys_close(store);
}

/* A text key whose collation is not byte order: refused, not guessed. */
static void test_collation(void)
{
	printf("case-insensitive collation is refused\n");
	wb_error_t err = {0};
	struct wb_odbc_deletes_stats st;
	open_store("nocase");
	CHECK(exec_sql(is_pg   ? "CREATE TABLE nocase (k text COLLATE "
				 "\"en-x-icu\" PRIMARY KEY)"
		       : is_my ? "CREATE TABLE nocase (k varchar(10) CHARACTER "
				 "SET utf8mb4 COLLATE utf8mb4_general_ci "
				 "PRIMARY KEY)"
			       : "CREATE TABLE nocase (k text COLLATE NOCASE "
				 "PRIMARY KEY)") == 0);
	CHECK(exec_sql("INSERT INTO nocase (k) VALUES ('a'), ('B'), ('c'), "
		       "('D')") == 0);
	const char *ks[] = {"B", "D", "a", "c"};
	for (int i = 0; i < 4; i++) {
		struct wb_odbc_key_val v = {
			.type = WB_ODBC_KEY_TEXT, .s = ks[i], .len = 1};
		put_key("nocase", &v, 1, ks[i]);
	}
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	CHECK(exec_sql("DELETE FROM nocase WHERE k = 'c'") == 0);
	static const struct wb_odbc_key_col tk[] = {{"k", WB_ODBC_KEY_TEXT}};
	int rc = run_pass(NULL, "nocase", "nocase", tk, 1, 10, NULL, &st, &err);
	CHECK(rc == WB_ERR_CONFIG);
	CHECK(strstr(err.message, "orders key ('B') after ('a')") != NULL);
	CHECK(st.deleted == 0 && reported[0] == '\0');
	wb_odbc_keys_close(store);
}

/* A driver error is retriable and names the table; without an
 * identifier quote character only plain names are accepted. */
static void test_errors(void)
{
	printf("errors\n");
	wb_error_t err = {0};
	struct wb_odbc_deletes_stats st;
	open_store("errors");
	put_int("no_such_table", 1);
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	int rc = run_pass(NULL, "no_such_table", "no_such_table", id_key, 1, 10,
			  NULL, &st, &err);
	CHECK(rc == WB_ERR_CONNECT && err.retriable);
	CHECK(strstr(err.message, "odbc no_such_table: delete detection: ") ==
	      err.message);
	CHECK(st.deleted == 0);

	CHECK(exec_sql("CREATE TABLE plain_t (id bigint PRIMARY KEY)") == 0);
	CHECK(insert_series("plain_t", "id", "g", 10) == 0);
	for (int64_t id = 1; id <= 10; id++)
		put_int("plain_t", id);
	CHECK(wb_odbc_keys_commit(store, NULL, &err) == 0);
	char saved[8];
	memcpy(saved, quote, sizeof saved);
	strcpy(quote, " ");
	CHECK(run_pass(NULL, "plain_t", "plain_t", id_key, 1, 4, NULL, &st,
		       &err) == 0);
	CHECK(st.chunks == 3 && st.chunks_differing == 0 && st.complete);
	static const struct wb_odbc_key_col spaced[] = {
		{"my id", WB_ODBC_KEY_INT}};
	rc = run_pass(NULL, "plain_t", "plain_t", spaced, 1, 4, NULL, &st,
		      &err);
	CHECK(rc == WB_ERR_CONFIG);
	CHECK(strstr(err.message,
		     "identifier 'my id' needs quoting and the "
		     "driver has no identifier quote character") != NULL);
	memcpy(quote, saved, sizeof saved);
	wb_odbc_keys_close(store);
}

/* WB_ODBC_CASES=big,edges runs only those cases (default: all). */
static bool wanted(const char *name)
{
	const char *list = getenv("WB_ODBC_CASES");
	if (list == NULL || list[0] == '\0')
		return true;
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int main(void)
{
	const char *pg = getenv("WB_ODBC_CONN");
	char conn[512];
	snprintf(tmpdir, sizeof tmpdir, "%s/wb-odbc-deletes-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (pg != NULL && pg[0] != '\0') {
		snprintf(conn, sizeof conn, "%s", pg);
	} else {
		if (access(SQLITE_ODBC, R_OK) != 0) {
			fprintf(stderr,
				"%s is missing: install libsqliteodbc "
				"(tools/lib/deps.sh)\n",
				SQLITE_ODBC);
			return 1;
		}
		snprintf(conn, sizeof conn, "Driver=%s;Database=%s/db.sqlite",
			 SQLITE_ODBC, tmpdir);
	}
	if (connect_db(conn) != 0)
		return 1;
	CHECK(wb_odbc_deletes_kind(dbms) == (is_pg   ? WB_ODBC_SUM_MD5
					     : is_my ? WB_ODBC_SUM_CRC32
						     : WB_ODBC_SUM_MIX));
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {{"big", test_big},
		     {"edges", test_edges},
		     {"checksum", test_checksum},
		     {"composite", test_composite},
		     {"empty", test_empty},
		     {"decimal", test_decimal},
		     {"collation", test_collation},
		     {"errors", test_errors}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (wanted(cases[i].name))
			cases[i].fn();
	disconnect_db();
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
