/* test_binlog_event.c — the binlog event and TABLE_MAP decoders over real
 * MySQL/MariaDB binlog files (tests/fixtures/mysql-binlogs) and over
 * hand-built bytes for what the files do not show.
 *
 * Expected values come from outside our decoder: mariadb-binlog
 * --print-table-metadata -vv (event offsets, end positions, CRC32 values,
 * column lists, GTIDs, XIDs, statements), the tests of the projects the
 * files come from (see the fixtures' README.md: rust_mysql_common's
 * binlog tests, mysql-binlog-connector-java's
 * TransactionPayloadEventDataDeserializerTest and
 * BinaryLogFileReaderIntegrationTest), and the event bytes read by hand
 * from xxd where a comment says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "binlog_event.h"
#include "binlog_file.h"
#include "binlog_tablemap.h"
#include "check.h"
#include "my_gtid.h"

#define MAXEV 400

struct file {
	uint8_t *p;
	size_t n;
	struct wb_my_format fmt; /* the file's FORMAT_DESCRIPTION */
	size_t nev;
	size_t off[MAXEV];
	struct wb_my_event ev[MAXEV];
};

static uint8_t *slurp(const char *name, size_t *n)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/fixtures/mysql-binlogs/%s",
		 WB_SOURCE_DIR, name);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)len);
	if (p == NULL || fread(p, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "%s: read failed\n", path);
		exit(1);
	}
	fclose(f);
	*n = (size_t)len;
	return p;
}

/* Reads a whole fixture with the file reader; every event must split and
 * (for CRC32 files) verify. */
static struct file *load(const char *name)
{
	struct file *f = calloc(1, sizeof(*f));
	struct wb_my_binlog_file rd;
	wb_error_t err;
	int rc;
	f->p = slurp(name, &f->n);
	CHECK(wb_my_binlog_file_open(&rd, f->p, f->n, &err) == 0);
	while (f->nev < MAXEV &&
	       (rc = wb_my_binlog_file_next(&rd, &f->ev[f->nev],
					    &f->off[f->nev], &err)) == 1)
		f->nev++;
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", name, err.message);
	CHECK(rc == 0);
	CHECK(rd.off == f->n); /* the last event ends the file */
	f->fmt = rd.fmt;
	return f;
}

static void unload(struct file *f)
{
	free(f->p);
	free(f);
}

/* The event at file offset off. */
static const struct wb_my_event *at(const struct file *f, size_t off)
{
	for (size_t i = 0; i < f->nev; i++)
		if (f->off[i] == off)
			return &f->ev[i];
	fprintf(stderr, "no event at offset %zu\n", off);
	failures++;
	return &f->ev[0];
}

static void check_offsets(const struct file *f, const size_t *want, size_t n)
{
	CHECK(f->nev >= n);
	for (size_t i = 0; i < n && i < f->nev; i++)
		if (f->off[i] != want[i]) {
			fprintf(stderr, "event %zu at %zu, want %zu\n", i,
				f->off[i], want[i]);
			failures++;
		}
}

/* Offsets as mariadb-binlog prints them ("# at N"); for the files it
 * stops in (MySQL 8 event types it does not know), the events up to and
 * including the one it stopped at. */
static const size_t off_invisible[] = {
	4,    125,  156,  235,	491,  570,  787,  866,	942,  1027, 1089,
	1120, 1199, 1275, 1360, 1407, 1438, 1517, 1602, 1687, 1756, 1787};
static const size_t off_mariadb[] = {4,	  256, 285, 330, 372, 476, 612,
				     671, 702, 744, 848, 984, 1043};
static const size_t off_minimal[] = {4, 126, 157, 236, 312, 374, 420, 451};
static const size_t off_enumset[] = {4,	   126,	 157,  236,  493,  572,	 791,
				     870,  946,	 1077, 1529, 1560, 1639, 1724,
				     1855, 2628, 2659, 2738, 2814, 2945, 3300};
static const size_t off_bit[] = {4,   125, 156, 235, 491, 568,
				 702, 781, 857, 927, 970};
static const size_t off_time[] = {4, 126, 157, 236, 312, 358, 397, 428};
static const size_t off_json_opaque[] = {4,   127, 158, 235, 340,
					 417, 529, 608, 682, 736};
static const size_t off_json[] = {4,   125, 156, 235,  491,
				  570, 845, 924, 1000, 1059};
static const size_t off_txc[] = {4, 126, 197, 274};
static const size_t off_compressed[] = {4, 126, 157, 236};

struct expect_file {
	const char *name;
	const size_t *off;
	size_t noff;
	size_t nev; /* 0: not known from outside */
	bool checksum;
	bool mariadb;
	const char *version;
	uint8_t fde_post_header; /* the FDE's own entry */
	int ntypes;		 /* entries in its table */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct expect_file files[] = {
	{"binlog-invisible-columns.000001", off_invisible, N(off_invisible),
	 N(off_invisible), true, false, "8.0.26", 97, 40},
	{"json-opaque.binlog", off_json_opaque, N(off_json_opaque), 0, true,
	 false, "9.0.1", 99, 42},
	{"json.binlog.000001", off_json, N(off_json), 0, true, false, "8.0.22",
	 97, 40},
	{"mariadb-bin.000001", off_mariadb, N(off_mariadb), N(off_mariadb),
	 true, true, "10.5.15-MariaDB-1:10.5.15+maria~focal-log", 228, 171},
	{"minimal_row_metadata.000001", off_minimal, N(off_minimal),
	 N(off_minimal), true, false, "8.0.40", 98, 41},
	/* 303 and 191 events: BinaryLogFileReaderIntegrationTest and
	 * mariadb-binlog agree */
	{"mysql-bin.checksum-crc32", NULL, 0, 303, true, false, "5.7.21-log",
	 95, 38},
	{"mysql-bin.checksum-none", NULL, 0, 191, false, false, "5.7.20-log",
	 95, 38},
	{"mysql-bin.compressed", off_compressed, N(off_compressed), 5, true,
	 false, "8.0.28", 98, 41},
	{"mysql-enum-string-set.000001", off_enumset, N(off_enumset),
	 N(off_enumset), true, false, "8.0.28", 98, 41},
	{"mysql_type_bit.000001", off_bit, N(off_bit), N(off_bit), true, false,
	 "8.0.26", 97, 40},
	{"time_issue.000001", off_time, N(off_time), N(off_time), true, false,
	 "8.0.40", 98, 41},
	{"transaction_compression.000001", off_txc, N(off_txc), 0, true, false,
	 "8.0.32", 98, 41},
	{"binlog_transaction_with_GTID_TAG.000001", NULL, 0, 0, true, false,
	 "9.6.0", 99, 42},
};

static void test_all_files(void)
{
	for (size_t i = 0; i < N(files); i++) {
		const struct expect_file *e = &files[i];
		struct file *f = load(e->name);
		if (e->nev)
			CHECK(f->nev == e->nev);
		check_offsets(f, e->off, e->noff);
		CHECK(f->fmt.checksum == e->checksum);
		CHECK(f->fmt.mariadb == e->mariadb);
		CHECK(f->fmt.binlog_version == 4);
		CHECK(f->fmt.header_len == 19);
		CHECK_STR(f->fmt.server_version, e->version);
		CHECK(f->fmt.post_header_len[WB_MY_EV_FORMAT_DESCRIPTION] ==
		      e->fde_post_header);
		/* the FDE's post-header: 57 fixed bytes and the table */
		CHECK(e->fde_post_header == 57 + e->ntypes);
		CHECK(f->fmt.post_header_len[e->ntypes + 1] == 0);
		CHECK(f->fmt.post_header_len[WB_MY_EV_QUERY] == 13);
		CHECK(f->fmt.post_header_len[WB_MY_EV_ROTATE] == 8);
		CHECK(f->fmt.post_header_len[WB_MY_EV_TABLE_MAP] == 8);
		CHECK(f->fmt.post_header_len[WB_MY_EV_WRITE_ROWS] == 10);
		if (!e->mariadb)
			CHECK(f->fmt.post_header_len[WB_MY_EV_GTID] == 42);
		if (!e->mariadb && e->ntypes >= 40)
			CHECK(f->fmt.post_header_len
				      [WB_MY_EV_TRANSACTION_PAYLOAD] == 40);
		if (e->ntypes == 38) /* 5.7 stops at XA_PREPARE */
			CHECK(f->fmt.post_header_len[WB_MY_EV_VIEW_CHANGE] ==
			      52);
		/* every event's log_pos is the next event's offset */
		for (size_t k = 0; k + 1 < f->nev; k++)
			if (f->ev[k].log_pos != f->off[k + 1]) {
				fprintf(stderr,
					"%s: event at %zu: log_pos %u\n",
					e->name, f->off[k], f->ev[k].log_pos);
				failures++;
			}
		unload(f);
	}
}

static void test_fde_mariadb_table(void)
{
	/* MariaDB 10.5's table lists its own types 160..171 */
	struct file *f = load("mariadb-bin.000001");
	CHECK(f->fmt.post_header_len[WB_MY_EV_ANNOTATE_ROWS] == 0);
	CHECK(f->fmt.post_header_len[WB_MY_EV_BINLOG_CHECKPOINT] == 4);
	CHECK(f->fmt.post_header_len[WB_MY_EV_MARIA_GTID] == 19);
	CHECK(f->fmt.post_header_len[WB_MY_EV_MARIA_GTID_LIST] == 4);
	CHECK(f->fmt.post_header_len[WB_MY_EV_QUERY_COMPRESSED] == 13);
	CHECK(f->fmt.post_header_len[WB_MY_EV_WRITE_ROWS_COMPRESSED_V1] == 8);
	CHECK(f->fmt.post_header_len[WB_MY_EV_DELETE_ROWS_COMPRESSED] == 10);
	CHECK(f->fmt.post_header_len[172] == 0);
	CHECK(f->fmt.post_header_len[WB_MY_EV_GTID] == 0); /* MySQL's */
	unload(f);
}

/* CRC32 values mariadb-binlog prints, checked against the events' bytes */
static void test_crc_values(void)
{
	struct file *f = load("mariadb-bin.000001");
	const struct wb_my_event *ev = at(f, 476);
	CHECK(wb_my_crc32(f->p + 476, ev->length - 4) == 0x94e9d1e6);
	ev = at(f, 1043);
	CHECK(wb_my_crc32(f->p + 1043, ev->length - 4) == 0x9fb0b057);
	unload(f);
	/* zlib's check value */
	CHECK(wb_my_crc32((const uint8_t *)"123456789", 9) == 0xcbf43926);
}

struct gl {
	int n;
	uint32_t d[4], s[4];
	uint64_t q[4];
};

static int gl_fn(void *ctx, uint32_t domain, uint32_t server, uint64_t seq)
{
	struct gl *g = ctx;
	if (g->n < 4) {
		g->d[g->n] = domain;
		g->s[g->n] = server;
		g->q[g->n] = seq;
	}
	g->n++;
	return 0;
}

static void test_mariadb(void)
{
	struct file *f = load("mariadb-bin.000001");
	wb_error_t err;
	struct wb_my_gtid g;
	char buf[100];
	uint64_t xid;

	/* "Gtid list []" */
	struct gl gl = {0};
	CHECK(wb_my_gtid_list_parse(&f->fmt, at(f, 256), gl_fn, &gl, &err) ==
	      0);
	CHECK(gl.n == 0);

	/* "GTID 0-1-1 trans" at 330: flags2 0x0c (transactional, allow
	 * parallel; xxd) */
	CHECK(wb_my_gtid_parse(&f->fmt, at(f, 330), &g, &err) == 0);
	CHECK(g.mariadb && g.domain_id == 0 && g.server_id == 1 &&
	      g.seq_no == 1);
	CHECK(g.flags2 == 0x0c && !g.standalone);
	CHECK(wb_my_gtid_format(&g, buf, sizeof(buf)) == 5);
	CHECK_STR(buf, "0-1-1");
	CHECK(wb_my_gtid_parse(&f->fmt, at(f, 702), &g, &err) == 0);
	wb_my_gtid_format(&g, buf, sizeof(buf));
	CHECK_STR(buf, "0-1-2");

	CHECK(wb_my_xid_parse(&f->fmt, at(f, 671), &xid, &err) == 0);
	CHECK(xid == 800);
	CHECK(wb_my_xid_parse(&f->fmt, at(f, 1043), &xid, &err) == 0);
	CHECK(xid == 820);

	/* Table_map `toddy_test`.`outbox` mapped to number 38:
	 *   `id` INT NOT NULL, `topic` VARCHAR(255) NOT NULL utf8mb4
	 *   general_ci, `event_type` ENUM('BLOB','JSON','PROTOBUF') utf8mb4
	 *   general_ci, `event` BLOB NOT NULL, `created` TIMESTAMP NOT NULL,
	 *   Primary Key(id)
	 * charsets as rust_mysql_common asserts: -, 45, 45, 63, - */
	struct wb_my_tablemap *tm;
	CHECK(wb_my_tablemap_parse(&f->fmt, at(f, 476), &tm, &err) == 0);
	CHECK(tm->table_id == 38 && tm->flags == 1);
	CHECK_STR(tm->db, "toddy_test");
	CHECK_STR(tm->table, "outbox");
	CHECK(tm->ncols == 5);
	static const char *names[] = {"id", "topic", "event_type", "event",
				      "created"};
	static const uint8_t types[] = {WB_MY_T_LONG, WB_MY_T_VARCHAR,
					WB_MY_T_ENUM, WB_MY_T_BLOB,
					WB_MY_T_TIMESTAMP2};
	static const int32_t cs[] = {-1, 45, 45, 63, -1};
	for (int i = 0; i < 5; i++) {
		CHECK_STR(tm->cols[i].name, names[i]);
		CHECK(tm->cols[i].type == types[i]);
		CHECK(tm->cols[i].charset == cs[i]);
		CHECK(tm->cols[i].key == (i == 0));
		CHECK(tm->cols[i].nullable == (i == 2));
		CHECK(tm->cols[i].visible == -1);
	}
	CHECK(tm->cols[0].is_unsigned == 0);
	for (int i = 1; i < 5; i++)
		CHECK(tm->cols[i].is_unsigned == -1);
	/* meta as mariadb-binlog -vv prints it */
	CHECK(tm->cols[1].meta == 1020 && tm->cols[1].length == 1020);
	CHECK(tm->cols[2].wire_type == WB_MY_T_STRING);
	CHECK(tm->cols[2].meta == 63233 && tm->cols[2].length == 1);
	CHECK(tm->cols[3].meta == 2 && tm->cols[3].pack_len == 2);
	CHECK(tm->cols[4].meta == 0 && tm->cols[4].fsp == 0);
	CHECK(tm->cols[2].nenum == 3);
	if (tm->cols[2].nenum == 3) {
		CHECK_STR(tm->cols[2].enum_values[0], "BLOB");
		CHECK_STR(tm->cols[2].enum_values[1], "JSON");
		CHECK_STR(tm->cols[2].enum_values[2], "PROTOBUF");
	}
	CHECK(tm->has_signedness && tm->has_charsets && tm->has_names &&
	      tm->has_enum_set && tm->has_key && !tm->has_visibility);
	CHECK(wb_my_tablemap_same(tm, at(f, 476)));
	/* the second transaction repeats the map byte for byte */
	CHECK(wb_my_tablemap_same(tm, at(f, 848)));
	CHECK(!wb_my_tablemap_same(tm, at(f, 612)));
	wb_my_tablemap_free(tm);
	CHECK(wb_my_table_id_len(&f->fmt, WB_MY_EV_TABLE_MAP) == 6);
	unload(f);
}

static void test_enum_set(void)
{
	struct file *f = load("mysql-enum-string-set.000001");
	wb_error_t err;
	struct wb_my_tablemap *tm;
	/* mariadb-binlog: `mysql`.`t` mapped to number 124, Columns(`f1`
	 * BINARY(512), `f2` VARBINARY(1200), `f3` ENUM('var1','variant2',
	 * 'foo'), `f4` SET('one','two','three','four'), `f5` BLOB) — it
	 * names collation 255 (utf8mb4_0900_ai_ci) binary as it does not know
	 * it; the DEFAULT_CHARSET and ENUM_AND_SET_DEFAULT_CHARSET fields
	 * carry fc ff 00 = 255 (xxd). CREATE TABLE t(f1 CHAR(128), f2
	 * VARCHAR(300), f3 ENUM(...), f4 SET(...), f5 TEXT). */
	CHECK(wb_my_tablemap_parse(&f->fmt, at(f, 946), &tm, &err) == 0);
	CHECK(tm->table_id == 124);
	CHECK_STR(tm->db, "mysql");
	CHECK_STR(tm->table, "t");
	CHECK(tm->ncols == 5);
	static const char *names[] = {"f1", "f2", "f3", "f4", "f5"};
	static const uint8_t types[] = {WB_MY_T_STRING, WB_MY_T_VARCHAR,
					WB_MY_T_ENUM, WB_MY_T_SET,
					WB_MY_T_BLOB};
	for (int i = 0; i < 5; i++) {
		CHECK_STR(tm->cols[i].name, names[i]);
		CHECK(tm->cols[i].type == types[i]);
		CHECK(tm->cols[i].charset == 255);
		CHECK(tm->cols[i].nullable);
		CHECK(tm->cols[i].visible == 1);
		CHECK(tm->cols[i].is_unsigned == -1);
		CHECK(!tm->cols[i].key);
	}
	CHECK(tm->cols[0].length == 512); /* CHAR(128) x 4 bytes */
	CHECK(tm->cols[1].length == 1200);
	CHECK(tm->cols[2].length == 1 && tm->cols[3].length == 1);
	CHECK(tm->cols[4].pack_len == 2);
	CHECK(tm->cols[2].nenum == 3 && tm->cols[2].set_values == NULL);
	if (tm->cols[2].nenum == 3) {
		CHECK_STR(tm->cols[2].enum_values[0], "var1");
		CHECK_STR(tm->cols[2].enum_values[1], "variant2");
		CHECK_STR(tm->cols[2].enum_values[2], "foo");
	}
	CHECK(tm->cols[3].nset == 4 && tm->cols[3].enum_values == NULL);
	if (tm->cols[3].nset == 4) {
		CHECK_STR(tm->cols[3].set_values[0], "one");
		CHECK_STR(tm->cols[3].set_values[1], "two");
		CHECK_STR(tm->cols[3].set_values[2], "three");
		CHECK_STR(tm->cols[3].set_values[3], "four");
	}
	CHECK(!tm->has_signedness && tm->has_charsets && tm->has_names &&
	      tm->has_enum_set && !tm->has_key && tm->has_visibility);
	wb_my_tablemap_free(tm);

	/* the CREATE TABLE at 572 */
	struct wb_my_query q;
	CHECK(wb_my_query_parse(&f->fmt, at(f, 572), &q, &err) == 0);
	CHECK(q.thread_id == 9 && q.exec_time == 0 && q.error_code == 0);
	CHECK(q.db_len == 5 && memcmp(q.db, "mysql", 5) == 0);
	static const char create[] =
		"CREATE TABLE t(f1 CHAR(128), f2 VARCHAR(300), f3 "
		"ENUM('var1', 'variant2', 'foo'), f4 SET('one', 'two', "
		"'three', 'four'), f5 TEXT)";
	CHECK(q.sql_len == strlen(create) &&
	      memcmp(q.sql, create, q.sql_len) == 0);
	CHECK(wb_my_query_parse(&f->fmt, at(f, 870), &q, &err) == 0);
	CHECK(q.sql_len == 5 && memcmp(q.sql, "BEGIN", 5) == 0);
	uint64_t xid;
	CHECK(wb_my_xid_parse(&f->fmt, at(f, 1529), &xid, &err) == 0);
	CHECK(xid == 50);
	CHECK(wb_my_xid_parse(&f->fmt, at(f, 3300), &xid, &err) == 0);
	CHECK(xid == 52);
	/* a query is no XID, a TABLE_MAP no query */
	CHECK(wb_my_xid_parse(&f->fmt, at(f, 870), &xid, &err) ==
	      WB_ERR_DECODE);
	CHECK(wb_my_query_parse(&f->fmt, at(f, 946), &q, &err) ==
	      WB_ERR_DECODE);
	unload(f);
}

static void test_invisible(void)
{
	struct file *f = load("binlog-invisible-columns.000001");
	wb_error_t err;
	struct wb_my_tablemap *tm;
	/* CREATE TABLE t1 (f1 INT UNSIGNED INVISIBLE, f2 INT UNSIGNED
	 * INVISIBLE, f3 INT, f4 TEXT, f5 BLOB, f6 BIGINT UNSIGNED INVISIBLE);
	 * mariadb-binlog: f1 INT UNSIGNED, f2 INT UNSIGNED, f3 INT, f4 BLOB,
	 * f5 BLOB, f6 BIGINT UNSIGNED; COLUMN_CHARSET 255, 63 (xxd) */
	static const uint8_t types[] = {WB_MY_T_LONG, WB_MY_T_LONG,
					WB_MY_T_LONG, WB_MY_T_BLOB,
					WB_MY_T_BLOB, WB_MY_T_LONGLONG};
	static const int8_t uns[] = {1, 1, 0, -1, -1, 1};
	static const int8_t vis[] = {0, 0, 1, 1, 1, 0};
	static const int32_t cs[] = {-1, -1, -1, 255, 63, -1};
	static const size_t maps[] = {942, 1275, 1602};
	for (size_t m = 0; m < N(maps); m++) {
		CHECK(wb_my_tablemap_parse(&f->fmt, at(f, maps[m]), &tm,
					   &err) == 0);
		CHECK(tm->table_id == 124);
		CHECK_STR(tm->table, "t1");
		CHECK(tm->ncols == 6);
		for (int i = 0; i < 6; i++) {
			char name[3] = {'f', (char)('1' + i), 0};
			CHECK_STR(tm->cols[i].name, name);
			CHECK(tm->cols[i].type == types[i]);
			CHECK(tm->cols[i].is_unsigned == uns[i]);
			CHECK(tm->cols[i].visible == vis[i]);
			CHECK(tm->cols[i].charset == cs[i]);
		}
		CHECK(tm->has_visibility && tm->has_signedness &&
		      tm->has_charsets && tm->has_names && !tm->has_key);
		wb_my_tablemap_free(tm);
	}

	/* GTID at 156 (xxd): flags 01, sid 97c7af02-4c50-11ec-acd8-
	 * 681842034964, gno 1, logical clock 0/1, immediate commit time
	 * 37 ad 73 0d 73 d1 05 (bit 55 clear: the original is the same),
	 * transaction length fc 4f 01 = 335 (= 491 - 156), server version
	 * 80026 */
	struct wb_my_gtid g;
	char buf[100];
	CHECK(wb_my_gtid_parse(&f->fmt, at(f, 156), &g, &err) == 0);
	CHECK(!g.mariadb && !g.anonymous && g.gno == 1 && g.tag[0] == 0);
	CHECK(g.immediate_commit_us == 1637666960682295LL);
	CHECK(g.original_commit_us == 1637666960682295LL);
	/* the commit happened in the second the header names */
	CHECK(g.immediate_commit_us / 1000000 == at(f, 156)->timestamp);
	CHECK(wb_my_gtid_format(&g, buf, sizeof(buf)) == 38);
	CHECK_STR(buf, "97c7af02-4c50-11ec-acd8-681842034964:1");
	/* the fifth transaction's (xxd: gno 05 00 ...) */
	CHECK(wb_my_gtid_parse(&f->fmt, at(f, 1438), &g, &err) == 0);
	wb_my_gtid_format(&g, buf, sizeof(buf));
	CHECK_STR(buf, "97c7af02-4c50-11ec-acd8-681842034964:5");
	/* a QUERY is no GTID */
	CHECK(wb_my_gtid_parse(&f->fmt, at(f, 235), &g, &err) == WB_ERR_DECODE);
	unload(f);
}

static void test_rotate(void)
{
	wb_error_t err;
	struct wb_my_rotate rot;
	/* "Rotate to binlog.000021  pos: 4" */
	struct file *f = load("minimal_row_metadata.000001");
	CHECK(wb_my_rotate_parse(&f->fmt, at(f, 451), &rot, &err) == 0);
	CHECK(rot.pos == 4 && rot.name_len == 13 &&
	      memcmp(rot.name, "binlog.000021", 13) == 0);
	unload(f);
	/* "Rotate to mysql-bin.000002  pos: 4", the last of 303 events */
	f = load("mysql-bin.checksum-crc32");
	CHECK(wb_my_rotate_parse(&f->fmt, &f->ev[f->nev - 1], &rot, &err) == 0);
	CHECK(rot.pos == 4 && rot.name_len == 16 &&
	      memcmp(rot.name, "mysql-bin.000002", 16) == 0);
	unload(f);
	/* the checksum-free log ends in a STOP */
	f = load("mysql-bin.checksum-none");
	CHECK(f->ev[f->nev - 1].type == WB_MY_EV_STOP);
	CHECK(f->ev[f->nev - 1].body_len == 0);
	unload(f);
}

static char sql[64];

static int payload_events(const struct wb_my_payload *pl, uint8_t *types,
			  uint32_t *lens, int max,
			  struct wb_my_tablemap **tm_out, uint64_t *xid,
			  struct wb_my_query *q)
{
	wb_error_t err;
	struct wb_my_format inner;
	struct wb_my_payload_reader *r = wb_my_payload_reader_new();
	const uint8_t *p;
	size_t len;
	int n = 0, rc;
	wb_my_format_default(&inner, false);
	CHECK(r != NULL);
	CHECK(wb_my_payload_reader_start(r, pl, &err) == 0);
	while ((rc = wb_my_payload_reader_next(r, &p, &len, &err)) == 1) {
		struct wb_my_event ev;
		CHECK(wb_my_event_parse(&inner, p, len, &ev, &err) == 0);
		CHECK(ev.log_pos == 0);
		if (n < max) {
			types[n] = ev.type;
			lens[n] = ev.length;
		}
		if (ev.type == WB_MY_EV_TABLE_MAP && tm_out && !*tm_out)
			CHECK(wb_my_tablemap_parse(&inner, &ev, tm_out, &err) ==
			      0);
		if (ev.type == WB_MY_EV_XID)
			CHECK(wb_my_xid_parse(&inner, &ev, xid, &err) == 0);
		if (ev.type == WB_MY_EV_QUERY) {
			/* q's pointers go stale with the next event: keep
			 * the statement */
			CHECK(wb_my_query_parse(&inner, &ev, q, &err) == 0);
			snprintf(sql, sizeof(sql), "%.*s", (int)q->sql_len,
				 q->sql);
			q->sql = sql;
			q->db = NULL;
		}
		n++;
	}
	if (rc != 0)
		fprintf(stderr, "payload: %s\n", err.message);
	CHECK(rc == 0);
	/* at the end it stays at the end */
	CHECK(wb_my_payload_reader_next(r, &p, &len, &err) == 0);
	wb_my_payload_reader_free(r);
	return n;
}

static void test_compressed(void)
{
	wb_error_t err;
	struct wb_my_payload pl;
	uint8_t types[8];
	uint32_t lens[8];
	uint64_t xid = 0;
	struct wb_my_query q;
	struct wb_my_tablemap *tm = NULL;

	/* mysql-binlog-connector-java's TransactionPayloadEventData-
	 * DeserializerTest holds this event's body: compression 0, payload
	 * 451 bytes, 960 uncompressed; QUERY BEGIN (thread 12, data length
	 * 57), TABLE_MAP demo.movies (table 84, 63), EXT_UPDATE_ROWS (756),
	 * XID 31 (8); server id 223344 */
	struct file *f = load("mysql-bin.compressed");
	const struct wb_my_event *ev = at(f, 236);
	CHECK(ev->type == WB_MY_EV_TRANSACTION_PAYLOAD);
	CHECK(wb_my_payload_parse(&f->fmt, ev, &pl, &err) == 0);
	CHECK(pl.compression == 0 && pl.uncompressed_size == 960 &&
	      pl.len == 451);
	CHECK(payload_events(&pl, types, lens, 8, &tm, &xid, &q) == 4);
	CHECK(types[0] == WB_MY_EV_QUERY && lens[0] == 19 + 57);
	CHECK(types[1] == WB_MY_EV_TABLE_MAP && lens[1] == 19 + 63);
	CHECK(types[2] == WB_MY_EV_UPDATE_ROWS && lens[2] == 19 + 756);
	CHECK(types[3] == WB_MY_EV_XID && lens[3] == 19 + 8);
	CHECK(xid == 31);
	CHECK(q.thread_id == 12 && q.db_len == 0);
	CHECK_STR(q.sql, "BEGIN");
	CHECK(tm != NULL);
	if (tm != NULL) {
		/* columnTypes=3, 15, 3, 15 x 8, columnMetadata=0, 1024, 0,
		 * 1024, 1024, 4096, 2048, 1024 x 4, defaultCharset=255 */
		static const uint16_t meta[] = {0,    1024, 0,	  1024,
						1024, 4096, 2048, 1024,
						1024, 1024, 1024};
		CHECK(tm->table_id == 84);
		CHECK_STR(tm->db, "demo");
		CHECK_STR(tm->table, "movies");
		CHECK(tm->ncols == 11);
		for (uint32_t i = 0; i < tm->ncols && i < 11; i++) {
			bool num = i == 0 || i == 2;
			CHECK(tm->cols[i].type ==
			      (num ? WB_MY_T_LONG : WB_MY_T_VARCHAR));
			CHECK(tm->cols[i].meta == meta[i]);
			CHECK(tm->cols[i].charset == (num ? -1 : 255));
			CHECK(tm->cols[i].name == NULL);
		}
		CHECK(tm->has_charsets && !tm->has_names);
		wb_my_tablemap_free(tm);
	}
	/* the ANONYMOUS_GTID before it (xxd): commit time 79 85 01 eb 65
	 * d9 05, transaction length fc 37 02 = 567 (= 79 + 488) */
	struct wb_my_gtid g;
	char buf[80];
	CHECK(wb_my_gtid_parse(&f->fmt, at(f, 157), &g, &err) == 0);
	CHECK(g.anonymous && g.gno == 0);
	CHECK(g.immediate_commit_us == 0x05d965eb018579LL &&
	      g.original_commit_us == 0x05d965eb018579LL);
	wb_my_gtid_format(&g, buf, sizeof(buf));
	CHECK_STR(buf, "ANONYMOUS");
	unload(f);

	/* rust_mysql_common: QUERY, TABLE_MAP, WRITE_ROWS, XID, then none */
	f = load("transaction_compression.000001");
	CHECK(f->nev == 5);
	CHECK(wb_my_payload_parse(&f->fmt, at(f, 274), &pl, &err) == 0);
	CHECK(pl.compression == 0);
	tm = NULL;
	CHECK(payload_events(&pl, types, lens, 8, &tm, &xid, &q) == 4);
	CHECK(types[0] == WB_MY_EV_QUERY && types[1] == WB_MY_EV_TABLE_MAP &&
	      types[2] == WB_MY_EV_WRITE_ROWS && types[3] == WB_MY_EV_XID);
	CHECK(lens[0] + lens[1] + lens[2] + lens[3] == pl.uncompressed_size);
	wb_my_tablemap_free(tm);
	unload(f);
}

static void test_tagged(void)
{
	/* rust_mysql_common's gtid_tagged_log_event_from_binlog: GTID_TAGGED
	 * sid 55778904-0299-11f1-b1b8-4ef0c4956feb, tag mytag, gno 3;
	 * PREVIOUS_GTIDS: untagged [1, 14), mytag [1, 3) */
	struct file *f = load("binlog_transaction_with_GTID_TAG.000001");
	wb_error_t err;
	int ntagged = 0, nprev = 0;
	for (size_t i = 0; i < f->nev; i++) {
		const struct wb_my_event *ev = &f->ev[i];
		if (ev->type == WB_MY_EV_GTID_TAGGED) {
			struct wb_my_gtid g;
			char buf[100];
			CHECK(wb_my_gtid_parse(&f->fmt, ev, &g, &err) == 0);
			CHECK_STR(g.tag, "mytag");
			CHECK(g.gno == 3 && !g.anonymous && !g.mariadb);
			wb_my_gtid_format(&g, buf, sizeof(buf));
			CHECK_STR(buf, "55778904-0299-11f1-b1b8-4ef0c4956feb:"
				       "mytag:3");
			ntagged++;
		}
		if (ev->type == WB_MY_EV_PREVIOUS_GTIDS) {
			struct wb_my_gtid_set s;
			char buf[200];
			wb_my_gtid_set_init(&s);
			CHECK(wb_my_previous_gtids_parse(&f->fmt, ev, &s,
							 &err) == 0);
			wb_my_gtid_set_format(&s, buf, sizeof(buf));
			CHECK_STR(buf, "55778904-0299-11f1-b1b8-4ef0c4956feb:"
				       "1-13:mytag:1-2");
			wb_my_gtid_set_free(&s);
			nprev++;
		}
	}
	CHECK(ntagged == 1 && nprev == 1);
	unload(f);

	/* an untagged PREVIOUS_GTIDS: empty in this 8.0 file */
	f = load("binlog-invisible-columns.000001");
	struct wb_my_gtid_set s;
	char buf[10];
	wb_my_gtid_set_init(&s);
	CHECK(wb_my_previous_gtids_parse(&f->fmt, at(f, 125), &s, &err) == 0);
	CHECK(s.n == 0 && wb_my_gtid_set_format(&s, buf, sizeof(buf)) == 0);
	wb_my_gtid_set_free(&s);
	unload(f);
}

/* Hand-built events. */

static size_t mkev(uint8_t *out, uint8_t type, uint32_t server,
		   uint32_t log_pos, const void *body, size_t blen,
		   bool checksum)
{
	size_t n = 19 + blen + (checksum ? 4 : 0);
	memset(out, 0, 19);
	out[0] = 0x10; /* timestamp 16 */
	out[4] = type;
	out[5] = (uint8_t)server;
	out[9] = (uint8_t)n;
	out[10] = (uint8_t)(n >> 8);
	out[11] = (uint8_t)(n >> 16);
	out[13] = (uint8_t)log_pos;
	out[14] = (uint8_t)(log_pos >> 8);
	memcpy(out + 19, body, blen);
	if (checksum) {
		uint32_t c = wb_my_crc32(out, 19 + blen);
		for (int i = 0; i < 4; i++)
			out[19 + blen + i] = (uint8_t)(c >> (8 * i));
	}
	return n;
}

static void test_split_errors(void)
{
	struct wb_my_format fmt;
	struct wb_my_event ev;
	wb_error_t err;
	uint8_t b[128];
	const uint8_t body[8] = {42, 0, 0, 0, 0, 0, 0, 0};
	wb_my_format_default(&fmt, true);
	size_t n = mkev(b, WB_MY_EV_XID, 1, 100, body, 8, true);
	CHECK(n == 31);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(ev.type == WB_MY_EV_XID && ev.server_id == 1 &&
	      ev.log_pos == 100 && ev.timestamp == 16 && ev.body_len == 8);
	uint64_t xid;
	CHECK(wb_my_xid_parse(&fmt, &ev, &xid, &err) == 0 && xid == 42);
	/* shorter than the header */
	CHECK(wb_my_event_parse(&fmt, b, 18, &ev, &err) == WB_ERR_DECODE);
	/* length field disagrees */
	CHECK(wb_my_event_parse(&fmt, b, n - 1, &ev, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "length field 31") != NULL);
	/* bad CRC */
	b[20] ^= 1;
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "XID") != NULL &&
	      strstr(err.message, "checksum mismatch") != NULL);
	CHECK(err.code == WB_ERR_DECODE);
	/* without checksums the same bytes split: CRC bytes are body */
	fmt.checksum = false;
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(ev.body_len == 12);
	/* a truncated XID */
	n = mkev(b, WB_MY_EV_XID, 1, 0, body, 7, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_xid_parse(&fmt, &ev, &xid, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "truncated") != NULL);
}

static void test_fde_errors(void)
{
	size_t n;
	uint8_t *p = slurp("mysql-enum-string-set.000001", &n);
	struct wb_my_format fmt;
	wb_error_t err;
	uint8_t fde[122];
	memcpy(fde, p + 4, sizeof(fde));
	CHECK(wb_my_format_parse(fde, sizeof(fde), &fmt, &err) == 0);
	/* the file is "in use": flag set, CRC over the cleared flag */
	CHECK((fde[17] & 1) == 1 && fmt.checksum);
	/* the flag is not covered by the checksum; the rest is */
	fde[17] &= (uint8_t)~1;
	CHECK(wb_my_format_parse(fde, sizeof(fde), &fmt, &err) == 0);
	fde[30] ^= 0x20;
	CHECK(wb_my_format_parse(fde, sizeof(fde), &fmt, &err) ==
	      WB_ERR_DECODE);
	CHECK(strstr(err.message, "checksum mismatch") != NULL);
	fde[30] ^= 0x20;
	CHECK(wb_my_format_parse(fde, 60, &fmt, &err) == WB_ERR_DECODE);
	/* not a FORMAT_DESCRIPTION */
	CHECK(wb_my_format_parse(p + 126, 31, &fmt, &err) == WB_ERR_DECODE);
	/* an unknown checksum algorithm */
	fde[sizeof(fde) - 5] = 7;
	CHECK(wb_my_format_parse(fde, sizeof(fde), &fmt, &err) ==
	      WB_ERR_DECODE);
	CHECK(strstr(err.message, "algorithm 7") != NULL);

	/* the file reader stops at a corrupt event, naming its offset */
	p[946 + 40] ^= 1; /* inside the TABLE_MAP */
	struct wb_my_binlog_file rd;
	struct wb_my_event ev;
	size_t off;
	int rc;
	CHECK(wb_my_binlog_file_open(&rd, p, n, &err) == 0);
	while ((rc = wb_my_binlog_file_next(&rd, &ev, &off, &err)) == 1)
		;
	CHECK(rc == -1 && rd.off == 946);
	CHECK(strstr(err.message, "offset 946") != NULL &&
	      strstr(err.message, "checksum mismatch") != NULL);
	p[946 + 40] ^= 1;
	/* a file cut inside an event */
	CHECK(wb_my_binlog_file_open(&rd, p, 1000, &err) == 0);
	while ((rc = wb_my_binlog_file_next(&rd, &ev, &off, &err)) == 1)
		;
	CHECK(rc == -1 && rd.off == 946);
	/* no magic */
	CHECK(wb_my_binlog_file_open(&rd, p + 1, n - 1, &err) == WB_ERR_DECODE);
	/* an event before the FORMAT_DESCRIPTION */
	memcpy(p + 126 - 4,
	       "\xfe"
	       "bin",
	       4);
	CHECK(wb_my_binlog_file_open(&rd, p + 122, n - 122, &err) == 0);
	CHECK(wb_my_binlog_file_next(&rd, &ev, &off, &err) == -1);
	CHECK(strstr(err.message, "before any FORMAT_DESCRIPTION") != NULL);
	free(p);
}

/* A TABLE_MAP body: table 7, db "d", table "t", columns given, then opt. */
static size_t mktm(uint8_t *out, const uint8_t *types, const uint8_t *meta,
		   size_t mlen, int ncols, uint8_t nulls, const uint8_t *opt,
		   size_t olen)
{
	size_t k = 0;
	const uint8_t head[] = {7, 0, 0, 0, 0, 0, 1, 0, 1, 'd', 0, 1, 't', 0};
	memcpy(out, head, sizeof(head));
	k = sizeof(head);
	out[k++] = (uint8_t)ncols;
	memcpy(out + k, types, (size_t)ncols);
	k += (size_t)ncols;
	out[k++] = (uint8_t)mlen;
	memcpy(out + k, meta, mlen);
	k += mlen;
	out[k++] = nulls;
	if (olen > 0)
		memcpy(out + k, opt, olen);
	return k + olen;
}

static int tm_parse(const uint8_t *body, size_t blen, bool mariadb,
		    struct wb_my_tablemap **tm, wb_error_t *err)
{
	struct wb_my_format fmt;
	struct wb_my_event ev;
	uint8_t b[512];
	wb_my_format_default(&fmt, false);
	fmt.mariadb = mariadb;
	size_t n = mkev(b, WB_MY_EV_TABLE_MAP, 1, 0, body, blen, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, err) == 0);
	return wb_my_tablemap_parse(&fmt, &ev, tm, err);
}

static void test_tablemap_built(void)
{
	/* YEAR gets a signedness bit; GEOMETRY a charset on MariaDB only;
	 * unknown optional field 0x7f skipped by its length */
	const uint8_t types[] = {WB_MY_T_YEAR,	    WB_MY_T_LONG,
				 WB_MY_T_GEOMETRY,  WB_MY_T_STRING,
				 WB_MY_T_BIT,	    WB_MY_T_NEWDECIMAL,
				 WB_MY_T_DATETIME2, WB_MY_T_DOUBLE};
	/* GEOMETRY 4; CHAR(300) in utf8mb3-sized bytes 900 = 0x384: b0 =
	 * 0xfe ^ (0x03 << 4 & 0x30) = 0xce, b1 = 0x84; BIT(10): 2, 1;
	 * DECIMAL(10,2); DATETIME(3); DOUBLE 8 */
	const uint8_t meta[] = {4, 0xce, 0x84, 2, 1, 10, 2, 3, 8};
	const uint8_t opt[] = {
		0x7f, 2, 0xaa, 0xbb, /* unknown: skipped */
		1,    1, 0x50,	     /* YEAR 0, LONG 1, DECIMAL 0, DOUBLE 1 */
		2,    3, 33,   1,    0x3f,     /* default 33; char #1: 63 */
		7,    1, 1,		       /* geometry type 1 (POINT) */
		9,    4, 1,    0,    3,	   10, /* pk: col 1, col 3(10) */
	};
	uint8_t body[256];
	size_t blen = mktm(body, types, meta, sizeof(meta), 8, 0x81, opt,
			   sizeof(opt));
	struct wb_my_tablemap *tm;
	wb_error_t err;
	/* MariaDB: character columns GEOMETRY, CHAR */
	CHECK(tm_parse(body, blen, true, &tm, &err) == 0);
	if (tm != NULL) {
		CHECK(tm->cols[0].is_unsigned == 0);
		CHECK(tm->cols[1].is_unsigned == 1);
		CHECK(tm->cols[5].is_unsigned == 0);
		CHECK(tm->cols[7].is_unsigned == 1);
		CHECK(tm->cols[2].charset == 33 && tm->cols[3].charset == 63);
		CHECK(tm->cols[2].geometry_type == 1);
		CHECK(tm->cols[3].length == 900 &&
		      tm->cols[3].type == WB_MY_T_STRING);
		CHECK(tm->cols[4].bits == 10);
		CHECK(tm->cols[5].precision == 10 && tm->cols[5].scale == 2);
		CHECK(tm->cols[6].fsp == 3 && tm->cols[7].pack_len == 8);
		CHECK(tm->cols[1].key && tm->cols[3].key && !tm->cols[0].key);
		CHECK(tm->cols[0].nullable && tm->cols[7].nullable &&
		      !tm->cols[1].nullable);
		CHECK(tm->cols[0].name == NULL && !tm->has_names);
		wb_my_tablemap_free(tm);
	}
	/* MySQL: GEOMETRY has no charset, so the pair's index 1 is out of
	 * the range of its one character column */
	CHECK(tm_parse(body, blen, false, &tm, &err) == WB_ERR_DECODE);
	CHECK(tm == NULL && strstr(err.message, "charset column") != NULL);

	/* a SIGNEDNESS bitmap of the wrong size */
	uint8_t bad[] = {1, 2, 0, 0};
	blen = mktm(body, types, meta, sizeof(meta), 8, 0, bad, sizeof(bad));
	CHECK(tm_parse(body, blen, true, &tm, &err) == WB_ERR_DECODE);
	/* a field longer than the event */
	uint8_t trunc[] = {4, 9, 1, 'a'};
	blen = mktm(body, types, meta, sizeof(meta), 8, 0, trunc,
		    sizeof(trunc));
	CHECK(tm_parse(body, blen, true, &tm, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "truncated") != NULL);
	/* too few column names */
	uint8_t names[] = {4, 2, 1, 'a'};
	blen = mktm(body, types, meta, sizeof(meta), 8, 0, names,
		    sizeof(names));
	CHECK(tm_parse(body, blen, true, &tm, &err) == WB_ERR_DECODE);
	/* the same field twice */
	uint8_t twice[] = {7, 1, 1, 7, 1, 2};
	blen = mktm(body, types, meta, sizeof(meta), 8, 0, twice,
		    sizeof(twice));
	CHECK(tm_parse(body, blen, true, &tm, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "repeated") != NULL);
	/* metadata left over / missing */
	blen = mktm(body, types, meta, sizeof(meta) - 1, 8, 0, NULL, 0);
	CHECK(tm_parse(body, blen, true, &tm, &err) == WB_ERR_DECODE);
	const uint8_t meta2[] = {4, 0xce, 0x84, 2, 1, 10, 2, 3, 8, 0};
	blen = mktm(body, types, meta2, sizeof(meta2), 8, 0, NULL, 0);
	CHECK(tm_parse(body, blen, true, &tm, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "left over") != NULL);
	/* no optional metadata at all: everything unknown */
	blen = mktm(body, types, meta, sizeof(meta), 8, 0, NULL, 0);
	CHECK(tm_parse(body, blen, false, &tm, &err) == 0);
	if (tm != NULL) {
		for (int i = 0; i < 8; i++)
			CHECK(tm->cols[i].is_unsigned == -1 &&
			      tm->cols[i].charset == -1 &&
			      tm->cols[i].visible == -1 &&
			      tm->cols[i].name == NULL);
		CHECK(!tm->has_signedness && !tm->has_charsets && !tm->has_key);
		wb_my_tablemap_free(tm);
	}
	/* every cut of a good event fails cleanly */
	blen = mktm(body, types, meta, sizeof(meta), 8, 0x81, opt, sizeof(opt));
	for (size_t cut = 0; cut < blen; cut++) {
		/* cutting an optional field between fields is a valid
		 * shorter map; anything else must fail */
		int rc = tm_parse(body, cut, true, &tm, &err);
		if (rc == 0) {
			CHECK(cut >= blen - sizeof(opt));
			wb_my_tablemap_free(tm);
		}
	}
	wb_my_tablemap_free(NULL);
}

static void test_small_built(void)
{
	struct wb_my_format fmt;
	struct wb_my_event ev;
	wb_error_t err;
	uint8_t b[256];
	size_t n;
	wb_my_format_default(&fmt, false);

	/* HEARTBEAT v1: the file name; the position in log_pos */
	struct wb_my_heartbeat hb;
	n = mkev(b, WB_MY_EV_HEARTBEAT, 1, 1234, "binlog.000042", 13, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_heartbeat_parse(&fmt, &ev, &hb, &err) == 0);
	CHECK(hb.pos == 1234 && hb.name_len == 13 &&
	      memcmp(hb.name, "binlog.000042", 13) == 0);
	/* HEARTBEAT_V2: 1 name, 2 position (packed fd 01 00 01 = 65537),
	 * 0 end */
	const uint8_t hb2[] = {1, 3, 'b', '.', '1', 2, 4, 0xfd, 1, 0, 1, 0};
	n = mkev(b, WB_MY_EV_HEARTBEAT_V2, 1, 0, hb2, sizeof(hb2), false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_heartbeat_parse(&fmt, &ev, &hb, &err) == 0);
	CHECK(hb.pos == 65537 && hb.name_len == 3 &&
	      memcmp(hb.name, "b.1", 3) == 0);
	n = mkev(b, WB_MY_EV_HEARTBEAT_V2, 1, 0, hb2, 4, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_heartbeat_parse(&fmt, &ev, &hb, &err) == WB_ERR_DECODE);

	/* GTID_LIST with two entries, the top 4 bits of the count flags */
	const uint8_t glb[] = {2,   0, 0, 0x10, 0, 0, 0, 0, 1, 0, 0, 0,
			       100, 0, 0, 0,	0, 0, 0, 0, 1, 0, 0, 0,
			       2,   0, 0, 0,	5, 0, 0, 0, 0, 0, 0, 0};
	n = mkev(b, WB_MY_EV_MARIA_GTID_LIST, 1, 0, glb, sizeof(glb), false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	struct gl gl = {0};
	CHECK(wb_my_gtid_list_parse(&fmt, &ev, gl_fn, &gl, &err) == 0);
	CHECK(gl.n == 2 && gl.d[0] == 0 && gl.s[0] == 1 && gl.q[0] == 100 &&
	      gl.d[1] == 1 && gl.s[1] == 2 && gl.q[1] == 5);
	n = mkev(b, WB_MY_EV_MARIA_GTID_LIST, 1, 0, glb, sizeof(glb) - 1,
		 false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_gtid_list_parse(&fmt, &ev, gl_fn, &gl, &err) ==
	      WB_ERR_DECODE);

	/* a standalone MariaDB GTID (DDL): FL_STANDALONE | FL_DDL */
	const uint8_t mg[] = {9, 0, 0,	  0, 0, 0, 0, 0, 3, 0,
			      0, 0, 0x21, 0, 0, 0, 0, 0, 0};
	n = mkev(b, WB_MY_EV_MARIA_GTID, 7, 0, mg, sizeof(mg), false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	struct wb_my_gtid g;
	char buf[80];
	CHECK(wb_my_gtid_parse(&fmt, &ev, &g, &err) == 0);
	CHECK(g.standalone && g.flags2 == 0x21);
	CHECK(wb_my_gtid_format(&g, buf, sizeof(buf)) == 5);
	CHECK_STR(buf, "3-7-9");
	CHECK(wb_my_gtid_format(&g, buf, 4) == 3);
	CHECK_STR(buf, "3-7");

	/* a MySQL 8 GTID whose original commit time differs (bit 55) */
	uint8_t gt[] = {
		1,    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 5,
		0,    0,    0,	  0,	0,    0,    0, /* gno 5 */
		2,    0,    0,	  0,	0,    0,    0,	  0,	0,
		1,    0,    0,	  0,	0,    0,    0,	  0,	1,
		0,    0,    0,	  0,	0,    0x80,    /* immediate 1, bit 55 */
		2,    0,    0,	  0,	0,    0,    0, /* original 2 */
		7};
	n = mkev(b, WB_MY_EV_GTID, 1, 0, gt, sizeof(gt), false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_gtid_parse(&fmt, &ev, &g, &err) == 0);
	CHECK(g.gno == 5 && g.immediate_commit_us == 1 &&
	      g.original_commit_us == 2);
	wb_my_gtid_format(&g, buf, sizeof(buf));
	CHECK_STR(buf, "11223344-5566-7788-99aa-bbccddeeff00:5");
	/* MySQL 5.6: no logical clock, no times */
	n = mkev(b, WB_MY_EV_GTID, 1, 0, gt, 25, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_gtid_parse(&fmt, &ev, &g, &err) == 0);
	CHECK(g.gno == 5 && g.immediate_commit_us == 0);
	/* the original commit time cut off */
	n = mkev(b, WB_MY_EV_GTID, 1, 0, gt, 52, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_gtid_parse(&fmt, &ev, &g, &err) == WB_ERR_DECODE);
	n = mkev(b, WB_MY_EV_GTID, 1, 0, gt, 20, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_gtid_parse(&fmt, &ev, &g, &err) == WB_ERR_DECODE);

	/* QUERY_COMPRESSED is refused by name */
	const uint8_t qb[16] = {0};
	n = mkev(b, WB_MY_EV_QUERY_COMPRESSED, 1, 0, qb, sizeof(qb), false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	struct wb_my_query q;
	CHECK(wb_my_query_parse(&fmt, &ev, &q, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "compressed query") != NULL);
	/* a QUERY whose status vars run past the end */
	const uint8_t qv[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 0, 'x'};
	n = mkev(b, WB_MY_EV_QUERY, 1, 0, qv, sizeof(qv), false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_query_parse(&fmt, &ev, &q, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "status vars truncated") != NULL);
	/* ROTATE */
	const uint8_t rb[] = {0x10, 0x27, 0, 0, 0, 0, 0, 0, 'f', '.', '2'};
	struct wb_my_rotate rot;
	n = mkev(b, WB_MY_EV_ROTATE, 1, 0, rb, sizeof(rb), false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_rotate_parse(&fmt, &ev, &rot, &err) == 0);
	CHECK(rot.pos == 10000 && rot.name_len == 3);
	n = mkev(b, WB_MY_EV_ROTATE, 1, 0, rb, 8, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_rotate_parse(&fmt, &ev, &rot, &err) == WB_ERR_DECODE);
}

/* A TRANSACTION_PAYLOAD body around data. */
static size_t mkpl(uint8_t *out, uint8_t comp, size_t usize,
		   const uint8_t *data, size_t len)
{
	size_t k = 0;
	out[k++] = 2; /* compression type, packed */
	if (comp < 251) {
		out[k++] = 1;
		out[k++] = comp;
	} else {
		out[k++] = 3;
		out[k++] = 0xfc;
		out[k++] = comp;
		out[k++] = 0;
	}
	out[k++] = 3; /* uncompressed size, packed fc xx xx */
	out[k++] = 3;
	out[k++] = 0xfc;
	out[k++] = (uint8_t)usize;
	out[k++] = (uint8_t)(usize >> 8);
	out[k++] = 1; /* payload size */
	out[k++] = 3;
	out[k++] = 0xfc;
	out[k++] = (uint8_t)len;
	out[k++] = (uint8_t)(len >> 8);
	out[k++] = 9; /* a later field: skipped */
	out[k++] = 1;
	out[k++] = 0;
	out[k++] = 0; /* end */
	memcpy(out + k, data, len);
	return k + len;
}

static void test_payload_built(void)
{
	struct wb_my_format fmt;
	struct wb_my_event ev;
	struct wb_my_payload pl;
	wb_error_t err;
	static uint8_t inner[40000], z[40000], body[41000], b[42000];
	size_t ilen = 0, n;
	wb_my_format_default(&fmt, false);
	/* inner events: XID 1, a 30000-byte ROWS_QUERY, XID 2 */
	const uint8_t x1[8] = {1}, x2[8] = {2};
	static uint8_t big[30000 - 19];
	memset(big, 'q', sizeof(big));
	ilen += mkev(inner + ilen, WB_MY_EV_XID, 1, 0, x1, 8, false);
	ilen += mkev(inner + ilen, WB_MY_EV_ROWS_QUERY, 1, 0, big, sizeof(big),
		     false);
	ilen += mkev(inner + ilen, WB_MY_EV_XID, 1, 0, x2, 8, false);
	CHECK(ilen == 27 + 30000 + 27);

	uint8_t types[8];
	uint32_t lens[8];
	uint64_t xid = 0;
	struct wb_my_query q;
	/* none */
	size_t blen = mkpl(body, 255, ilen, inner, ilen);
	n = mkev(b, WB_MY_EV_TRANSACTION_PAYLOAD, 1, 0, body, blen, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_payload_parse(&fmt, &ev, &pl, &err) == 0);
	CHECK(pl.compression == 255 && pl.len == ilen);
	CHECK(payload_events(&pl, types, lens, 8, NULL, &xid, &q) == 3);
	CHECK(lens[1] == 30000 && types[1] == WB_MY_EV_ROWS_QUERY && xid == 2);
	/* zstd */
	size_t zlen = ZSTD_compress(z, sizeof(z), inner, ilen, 3);
	CHECK(!ZSTD_isError(zlen));
	blen = mkpl(body, 0, ilen, z, zlen);
	n = mkev(b, WB_MY_EV_TRANSACTION_PAYLOAD, 1, 0, body, blen, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_payload_parse(&fmt, &ev, &pl, &err) == 0);
	CHECK(pl.compression == 0 && pl.uncompressed_size == ilen);
	CHECK(payload_events(&pl, types, lens, 8, NULL, &xid, &q) == 3);
	CHECK(lens[0] == 27 && lens[1] == 30000 && lens[2] == 27 && xid == 2);

	/* 300 inner events of 1000 bytes: the reader holds one at a time,
	 * never the 300000-byte transaction */
	{
		static uint8_t many[300 * 1000], zm[300 * 1000],
			bm[300 * 1000 + 64], em[300 * 1000 + 128];
		static uint8_t pad[1000 - 19];
		size_t mlen = 0;
		for (int i = 0; i < 300; i++) {
			memset(pad, 'a' + i % 26, sizeof(pad));
			mlen += mkev(many + mlen, WB_MY_EV_ROWS_QUERY, 1, 0,
				     pad, sizeof(pad), false);
		}
		size_t zmlen = ZSTD_compress(zm, sizeof(zm), many, mlen, 3);
		CHECK(!ZSTD_isError(zmlen));
		/* the uncompressed size needs the 3-byte packed form */
		size_t k = 0;
		const uint8_t head[] = {2, 1, 0, 3, 4, 0xfd};
		memcpy(bm, head, sizeof(head));
		k = sizeof(head);
		bm[k++] = (uint8_t)mlen;
		bm[k++] = (uint8_t)(mlen >> 8);
		bm[k++] = (uint8_t)(mlen >> 16);
		bm[k++] = 0;
		memcpy(bm + k, zm, zmlen);
		n = mkev(em, WB_MY_EV_TRANSACTION_PAYLOAD, 1, 0, bm, k + zmlen,
			 false);
		CHECK(wb_my_event_parse(&fmt, em, n, &ev, &err) == 0);
		CHECK(wb_my_payload_parse(&fmt, &ev, &pl, &err) == 0);
		CHECK(pl.uncompressed_size == 300000);
		struct wb_my_payload_reader *r = wb_my_payload_reader_new();
		const uint8_t *p;
		size_t len;
		int count = 0, rc;
		CHECK(wb_my_payload_reader_start(r, &pl, &err) == 0);
		while ((rc = wb_my_payload_reader_next(r, &p, &len, &err)) ==
		       1) {
			CHECK(len == 1000 && p[19] == 'a' + count % 26 &&
			      p[999] == 'a' + count % 26);
			count++;
		}
		CHECK(rc == 0 && count == 300);
		CHECK(wb_my_payload_reader_capacity(r) == 4096);
		wb_my_payload_reader_free(r);
	}

	/* failures: each needs the reader to say -1 with a message */
	struct {
		uint8_t comp;
		size_t usize;
		const uint8_t *data;
		size_t len;
		const char *msg;
	} bad[] = {
		{0, ilen, z, zlen - 5, "truncated"},
		{0, ilen - 1, z, zlen, "has length 27 (26 bytes left)"},
		{0, ilen - 27, z, zlen, "more than"},
		{0, ilen + 1, z, zlen, "announced"},
		{255, ilen - 1, inner, ilen - 1,
		 "has length 27 (26 bytes left)"},
		{255, ilen - 10, inner, ilen - 10, "17 bytes after the last"},
		{0, ilen, inner, 100, "zstd"},
	};
	for (size_t i = 0; i < N(bad); i++) {
		struct wb_my_payload_reader *r = wb_my_payload_reader_new();
		const uint8_t *p;
		size_t len;
		int rc;
		blen = mkpl(body, bad[i].comp, bad[i].usize, bad[i].data,
			    bad[i].len);
		n = mkev(b, WB_MY_EV_TRANSACTION_PAYLOAD, 1, 0, body, blen,
			 false);
		CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
		CHECK(wb_my_payload_parse(&fmt, &ev, &pl, &err) == 0);
		CHECK(wb_my_payload_reader_start(r, &pl, &err) == 0);
		while ((rc = wb_my_payload_reader_next(r, &p, &len, &err)) == 1)
			;
		CHECK(rc == -1);
		if (rc == -1 && strstr(err.message, bad[i].msg) == NULL) {
			fprintf(stderr, "case %zu: %s\n", i, err.message);
			failures++;
		}
		wb_my_payload_reader_free(r);
	}
	/* header errors: unknown compression, size disagreeing, no end */
	blen = mkpl(body, 1, ilen, z, zlen);
	n = mkev(b, WB_MY_EV_TRANSACTION_PAYLOAD, 1, 0, body, blen, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_payload_parse(&fmt, &ev, &pl, &err) == WB_ERR_DECODE);
	blen = mkpl(body, 0, ilen, z, zlen);
	n = mkev(b, WB_MY_EV_TRANSACTION_PAYLOAD, 1, 0, body, blen - 1, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_payload_parse(&fmt, &ev, &pl, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "payload size") != NULL);
	n = mkev(b, WB_MY_EV_TRANSACTION_PAYLOAD, 1, 0, body, 16, false);
	CHECK(wb_my_event_parse(&fmt, b, n, &ev, &err) == 0);
	CHECK(wb_my_payload_parse(&fmt, &ev, &pl, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "end mark") != NULL);
	wb_my_payload_reader_free(NULL);
}

int main(void)
{
	test_all_files();
	test_fde_mariadb_table();
	test_crc_values();
	test_mariadb();
	test_enum_set();
	test_invisible();
	test_rotate();
	test_compressed();
	test_tagged();
	test_split_errors();
	test_fde_errors();
	test_tablemap_built();
	test_small_built();
	test_payload_built();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
