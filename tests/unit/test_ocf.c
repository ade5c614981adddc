/* test_ocf.c — OCF writer: each codec, reopen-after-truncate, and blocks
 * written by a pool's thread (also when that write fails), checked with
 * python3-avro. */
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "ocf.h"
#include "check.h"

static const char *schema = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
			    "{\"name\":\"id\",\"type\":\"long\"},"
			    "{\"name\":\"name\",\"type\":\"string\"}]}";

static const char *py_reader =
	"import sys, json, avro.datafile, avro.io\n"
	"with open(sys.argv[1], 'rb') as f:\n"
	"    r = avro.datafile.DataFileReader(f, avro.io.DatumReader())\n"
	"    print('codec', r.get_meta('avro.codec').decode())\n"
	"    for rec in r:\n"
	"        print(json.dumps(rec, sort_keys=True))\n";

/* Runs python3-avro over path; returns its stdout (malloc'd) or NULL. */
static char *py_read(const char *dir, const char *path)
{
	char script[512], cmd[2048];
	snprintf(script, sizeof(script), "%s/read.py", dir);
	FILE *f = fopen(script, "w");
	if (f == NULL)
		return NULL;
	fputs(py_reader, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", script, path);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
	struct wb_buf b;
	wb_buf_init(&b);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		wb_buf_append(&b, chunk, n);
	int st = pclose(p);
	wb_buf_append(&b, "", 1);
	if (st != 0) {
		fprintf(stderr, "python3-avro failed on %s:\n%s\n", path,
			(char *)b.data);
		wb_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

static void encode(struct wb_buf *b, int64_t id)
{
	char name[64];
	snprintf(name, sizeof(name), "row-%" PRId64 "-\xc3\xa9", id);
	wb_buf_reset(b);
	wb_avro_put_long(b, id);
	wb_avro_put_string(b, name);
}

/* The lines python prints for records [from, to). */
static void expect(struct wb_buf *e, int64_t from, int64_t to)
{
	char line[128];
	for (int64_t i = from; i < to; i++) {
		snprintf(line, sizeof(line),
			 "{\"id\": %" PRId64 ", \"name\": \"row-%" PRId64
			 "-\\u00e9\"}\n",
			 i, i);
		wb_buf_append(e, line, strlen(line));
	}
}

static void test_codec(const char *dir, enum wb_ocf_codec codec)
{
	wb_error_t err = {0};
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.avro", dir,
		 wb_ocf_codec_name(codec));
	/* 200-byte blocks: several blocks, records split across none. */
	struct wb_ocf_writer *w =
		wb_ocf_create(path, schema, codec,
			      codec == WB_OCF_DEFLATE ? 6 : 3, 200, &err);
	CHECK(w != NULL);
	if (w == NULL) {
		fprintf(stderr, "%s\n", err.message);
		return;
	}
	/* A second create of the same path must refuse, not clobber. */
	CHECK(wb_ocf_create(path, schema, codec, 3, 200, &err) == NULL);
	CHECK(err.code == WB_ERR_IO);

	struct wb_buf rec;
	wb_buf_init(&rec);
	for (int64_t i = 0; i < 100; i++) {
		encode(&rec, i * 1000003 - 50);
		CHECK(wb_ocf_append(w, rec.data, rec.len, &err) == WB_OK);
	}
	CHECK(wb_ocf_pending(w) > 0);
	CHECK(wb_ocf_close(w, &err) == WB_OK);

	struct wb_buf e;
	wb_buf_init(&e);
	char head[64];
	snprintf(head, sizeof(head), "codec %s\n", wb_ocf_codec_name(codec));
	wb_buf_append(&e, head, strlen(head));
	char line[128];
	for (int64_t i = 0; i < 100; i++) {
		int64_t id = i * 1000003 - 50;
		snprintf(line, sizeof(line),
			 "{\"id\": %" PRId64 ", \"name\": \"row-%" PRId64
			 "-\\u00e9\"}\n",
			 id, id);
		wb_buf_append(&e, line, strlen(line));
	}
	wb_buf_append(&e, "", 1);
	char *got = py_read(dir, path);
	CHECK(got != NULL && strcmp(got, (char *)e.data) == 0);
	if (got && strcmp(got, (char *)e.data) != 0)
		fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, (char *)e.data);
	free(got);
	wb_buf_free(&e);
	wb_buf_free(&rec);
}

static void test_reopen(const char *dir, enum wb_ocf_codec codec)
{
	wb_error_t err = {0};
	char path[512];
	snprintf(path, sizeof(path), "%s/reopen-%s.avro", dir,
		 wb_ocf_codec_name(codec));
	struct wb_ocf_writer *w =
		wb_ocf_create(path, schema, codec, 3, 1 << 20, &err);
	CHECK(w != NULL);
	if (w == NULL)
		return;
	struct wb_buf rec;
	wb_buf_init(&rec);
	for (int64_t i = 0; i < 10; i++) {
		encode(&rec, i);
		CHECK(wb_ocf_append(w, rec.data, rec.len, &err) == WB_OK);
	}
	CHECK(wb_ocf_write_block(w, &err) == WB_OK);
	CHECK(wb_ocf_sync(w, &err) == WB_OK);
	int64_t mark = wb_ocf_offset(w);
	/* Records 10..19 reach the file after the mark; 20..24 stay pending
	 * and die with the "crash". */
	for (int64_t i = 10; i < 20; i++) {
		encode(&rec, i);
		CHECK(wb_ocf_append(w, rec.data, rec.len, &err) == WB_OK);
	}
	CHECK(wb_ocf_write_block(w, &err) == WB_OK);
	for (int64_t i = 20; i < 25; i++) {
		encode(&rec, i);
		CHECK(wb_ocf_append(w, rec.data, rec.len, &err) == WB_OK);
	}
	CHECK(wb_ocf_offset(w) > mark);
	wb_ocf_free(w);
	/* Append a torn half block too, as a kill -9 mid-write would. */
	FILE *f = fopen(path, "ab");
	CHECK(f != NULL);
	if (f) {
		fputs("\x14\x80garbage", f);
		fclose(f);
	}

	/* A different schema is refused. */
	CHECK(wb_ocf_reopen(path, mark, "\"string\"", 3, 1 << 20, &err) ==
	      NULL);
	/* A length the file does not have is refused. */
	CHECK(wb_ocf_reopen(path, 1 << 30, schema, 3, 1 << 20, &err) == NULL);

	w = wb_ocf_reopen(path, mark, schema, 3, 1 << 20, &err);
	CHECK(w != NULL);
	if (w == NULL) {
		fprintf(stderr, "%s\n", err.message);
		wb_buf_free(&rec);
		return;
	}
	CHECK(wb_ocf_offset(w) == mark);
	CHECK(strcmp(wb_ocf_schema(w), schema) == 0);
	for (int64_t i = 10; i < 30; i++) {
		encode(&rec, i);
		CHECK(wb_ocf_append(w, rec.data, rec.len, &err) == WB_OK);
	}
	CHECK(wb_ocf_close(w, &err) == WB_OK);

	struct wb_buf e;
	wb_buf_init(&e);
	char head[64];
	snprintf(head, sizeof(head), "codec %s\n", wb_ocf_codec_name(codec));
	wb_buf_append(&e, head, strlen(head));
	expect(&e, 0, 30);
	wb_buf_append(&e, "", 1);
	char *got = py_read(dir, path);
	CHECK(got != NULL && strcmp(got, (char *)e.data) == 0);
	if (got && strcmp(got, (char *)e.data) != 0)
		fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, (char *)e.data);
	free(got);
	wb_buf_free(&e);
	wb_buf_free(&rec);
}

/* Reads path with python3-avro and compares with records [0, n). */
static void check_file(const char *dir, const char *path,
		       enum wb_ocf_codec codec, int64_t n)
{
	struct wb_buf e;
	wb_buf_init(&e);
	char head[64];
	snprintf(head, sizeof(head), "codec %s\n", wb_ocf_codec_name(codec));
	wb_buf_append(&e, head, strlen(head));
	expect(&e, 0, n);
	wb_buf_append(&e, "", 1);
	char *got = py_read(dir, path);
	CHECK(got != NULL && strcmp(got, (char *)e.data) == 0);
	if (got && strcmp(got, (char *)e.data) != 0)
		fprintf(stderr, "%s: got:\n%.2000s\nwant:\n%.2000s\n", path,
			got, (char *)e.data);
	free(got);
	wb_buf_free(&e);
}

static int64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Two writers share a pool; small blocks, so most are written by the
 * pool's thread while the next fills. Flushes in between: afterwards the
 * offset is the file's size and nothing is pending. */
static void test_pool(const char *dir, enum wb_ocf_codec codec)
{
	wb_error_t err = {0};
	struct wb_ocf_pool *pool = wb_ocf_pool_new(&err);
	CHECK(pool != NULL);
	if (pool == NULL)
		return;
	char path[2][512];
	struct wb_ocf_writer *w[2];
	for (int i = 0; i < 2; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/pool-%s-%d.avro", dir,
			 wb_ocf_codec_name(codec), i);
		w[i] = wb_ocf_create(path[i], schema, codec, 3, 300, &err);
		CHECK(w[i] != NULL);
		if (w[i] == NULL)
			return;
		wb_ocf_set_pool(w[i], pool);
	}
	struct wb_buf rec;
	wb_buf_init(&rec);
	const int64_t n = 3000;
	for (int64_t id = 0; id < n; id++) {
		encode(&rec, id);
		for (int i = 0; i < 2; i++)
			CHECK(wb_ocf_append(w[i], rec.data, rec.len, &err) ==
			      WB_OK);
		if (id % 1000 == 999) {
			for (int i = 0; i < 2; i++) {
				CHECK(wb_ocf_write_block(w[i], &err) == WB_OK);
				CHECK(wb_ocf_sync(w[i], &err) == WB_OK);
				CHECK(wb_ocf_pending(w[i]) == 0);
				CHECK(wb_ocf_offset(w[i]) ==
				      file_size(path[i]));
			}
		}
	}
	for (int i = 0; i < 2; i++)
		CHECK(wb_ocf_close(w[i], &err) == WB_OK);
	wb_ocf_pool_free(pool);
	wb_buf_free(&rec);
	for (int i = 0; i < 2; i++)
		check_file(dir, path[i], codec, n);
}

/* The pool's thread fails to write a block (the file size limit): the
 * failure surfaces on a later call, the file is cut back, the block's
 * records are pending again, and once the limit is lifted a flush writes
 * every record accepted, once, in order. */
static void test_pool_failure(const char *dir)
{
	wb_error_t err = {0};
	struct wb_ocf_pool *pool = wb_ocf_pool_new(&err);
	CHECK(pool != NULL);
	if (pool == NULL)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/pool-failure.avro", dir);
	/* level 0: deflate's stored blocks, so sizes are predictable */
	struct wb_ocf_writer *w =
		wb_ocf_create(path, schema, WB_OCF_DEFLATE, 0, 400, &err);
	CHECK(w != NULL);
	if (w == NULL)
		return;
	wb_ocf_set_pool(w, pool);

	struct sigaction ign = {0}, old;
	ign.sa_handler = SIG_IGN;
	sigaction(SIGXFSZ, &ign, &old);
	struct rlimit lim, saved;
	getrlimit(RLIMIT_FSIZE, &saved);
	lim = saved;
	lim.rlim_cur = (rlim_t)file_size(path) + 700; /* about one block */
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);

	struct wb_buf rec;
	wb_buf_init(&rec);
	int64_t accepted = 0;
	int failed = 0;
	for (int64_t id = 0; id < 2000 && !failed; id++) {
		encode(&rec, id);
		if (wb_ocf_append(w, rec.data, rec.len, &err) == WB_OK)
			accepted++;
		else
			failed = 1;
	}
	if (!failed && wb_ocf_write_block(w, &err) != WB_OK)
		failed = 1;
	CHECK(failed);
	CHECK(err.code == WB_ERR_IO && strstr(err.message, "write ") != NULL);
	CHECK(wb_ocf_offset(w) == file_size(path)); /* cut back */
	CHECK(wb_ocf_pending(w) > 0);

	CHECK(setrlimit(RLIMIT_FSIZE, &saved) == 0);
	sigaction(SIGXFSZ, &old, NULL);
	CHECK(wb_ocf_write_block(w, &err) == WB_OK);
	CHECK(wb_ocf_pending(w) == 0);
	CHECK(wb_ocf_close(w, &err) == WB_OK);
	wb_ocf_pool_free(pool);
	wb_buf_free(&rec);
	check_file(dir, path, WB_OCF_DEFLATE, accepted);
}

/* A writer parked (buffers released, descriptor closed) between appends
 * writes on as if it never was; two writers share one pool's contexts. */
static void test_park(const char *dir, enum wb_ocf_codec codec)
{
	wb_error_t err = {0};
	char path[2][512];
	struct wb_ocf_pool *pool = wb_ocf_pool_new(&err);
	CHECK(pool != NULL);
	struct wb_ocf_writer *w[2];
	for (int j = 0; j < 2; j++) {
		snprintf(path[j], sizeof(path[j]), "%s/park-%s-%d.avro", dir,
			 wb_ocf_codec_name(codec), j);
		w[j] = wb_ocf_create(path[j], schema, codec, 3, 300, &err);
		CHECK(w[j] != NULL);
		if (w[j] == NULL)
			return;
		wb_ocf_set_pool(w[j], pool);
	}
	struct wb_buf rec;
	wb_buf_init(&rec);
	for (int64_t i = 0; i < 90; i++) {
		for (int j = 0; j < 2; j++) {
			encode(&rec, i);
			CHECK(wb_ocf_append(w[j], rec.data, rec.len, &err) ==
			      WB_OK);
		}
		if (i % 7 == 3) { /* with records pending */
			CHECK(wb_ocf_release(w[0], &err) == WB_OK);
			CHECK(wb_ocf_pending(w[0]) == 0);
			CHECK(wb_ocf_memory(w[0]) == 0);
			CHECK(wb_ocf_close_fd(w[0], &err) == WB_OK);
			CHECK(!wb_ocf_has_fd(w[0]));
		}
		if (i % 11 == 5) { /* descriptor only: records stay */
			CHECK(wb_ocf_close_fd(w[1], &err) == WB_OK);
			CHECK(!wb_ocf_has_fd(w[1]));
		}
	}
	CHECK(wb_ocf_write_block(w[0], &err) == WB_OK);
	CHECK(wb_ocf_has_fd(w[0])); /* opened again to write */
	CHECK(wb_ocf_close_fd(w[0], &err) == WB_OK);
	/* synced and parked: syncing again needs no descriptor */
	CHECK(wb_ocf_sync(w[0], &err) == WB_OK && !wb_ocf_has_fd(w[0]));
	struct wb_buf e;
	wb_buf_init(&e);
	char head[64];
	snprintf(head, sizeof(head), "codec %s\n", wb_ocf_codec_name(codec));
	wb_buf_append(&e, head, strlen(head));
	expect(&e, 0, 90);
	wb_buf_append(&e, "", 1);
	for (int j = 0; j < 2; j++) {
		CHECK(wb_ocf_close(w[j], &err) == WB_OK);
		char *got = py_read(dir, path[j]);
		CHECK(got != NULL && strcmp(got, (char *)e.data) == 0);
		free(got);
	}
	wb_ocf_pool_free(pool);

	/* scan: whole to its end; a torn tail; a bad marker; no header */
	struct wb_ocf_extent x;
	CHECK(wb_ocf_scan(path[0], &x, &err) == WB_OK);
	CHECK(x.whole == x.size && x.records == 90 && x.blocks > 1);
	int64_t whole = x.whole, blocks = x.blocks;
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "printf '\\036\\200torn' >> %s", path[0]);
	CHECK(system(cmd) == 0);
	CHECK(wb_ocf_scan(path[0], &x, &err) == WB_OK);
	CHECK(x.whole == whole && x.size == whole + 6 && x.records == 90);
	/* the last byte of the last sync marker flipped */
	snprintf(cmd, sizeof(cmd),
		 "truncate -s %lld %s && printf 'x' | dd of=%s bs=1 seek=%lld "
		 "conv=notrunc status=none",
		 (long long)whole, path[0], path[0], (long long)whole - 1);
	CHECK(system(cmd) == 0);
	CHECK(wb_ocf_scan(path[0], &x, &err) == WB_OK);
	CHECK(x.whole < whole && x.blocks == blocks - 1 && x.records < 90);
	snprintf(cmd, sizeof(cmd), "truncate -s 10 %s", path[0]);
	CHECK(system(cmd) == 0);
	CHECK(wb_ocf_scan(path[0], &x, &err) == WB_OK);
	CHECK(x.whole == 0 && x.size == 10);
	wb_buf_free(&e);
	wb_buf_free(&rec);
}

/* A record larger than a block, given in parts, is written as a block of
 * its own between the pending records' block and the next one, compressed
 * as a stream: 5 small records, one of 300,000 characters split across
 * three parts, 3 small ones -> 3 blocks of 5, 1 and 3 records. */
static void test_large(const char *dir, enum wb_ocf_codec codec, bool pool)
{
	wb_error_t err = {0};
	char path[512];
	snprintf(path, sizeof(path), "%s/large-%s-%d.avro", dir,
		 wb_ocf_codec_name(codec), (int)pool);
	struct wb_ocf_writer *w =
		wb_ocf_create(path, schema, codec, 3, 200, &err);
	CHECK(w != NULL);
	if (w == NULL)
		return;
	struct wb_ocf_pool *p = pool ? wb_ocf_pool_new(&err) : NULL;
	if (p)
		wb_ocf_set_pool(w, p);
	struct wb_buf rec, head, e;
	wb_buf_init(&rec);
	wb_buf_init(&head);
	wb_buf_init(&e);
	for (int64_t i = 0; i < 5; i++) {
		encode(&rec, i);
		CHECK(wb_ocf_append(w, rec.data, rec.len, &err) == WB_OK);
	}
	enum { BIG = 300000 };
	char *name = malloc(BIG);
	CHECK(name != NULL);
	if (name == NULL)
		return;
	for (size_t i = 0; i < BIG; i++)
		name[i] = (char)('a' + (i * 7 + i / 1000) % 26);
	wb_avro_put_long(&head, 77);
	wb_avro_put_long(&head, BIG);
	struct wb_span parts[3] = {
		{head.data, head.len},
		{(const uint8_t *)name, 100000},
		{(const uint8_t *)name + 100000, BIG - 100000}};
	CHECK(wb_ocf_append_parts(w, parts, 3, &err) == WB_OK);
	CHECK(wb_ocf_pending(w) == 0);
	for (int64_t i = 5; i < 8; i++) {
		encode(&rec, i);
		CHECK(wb_ocf_append(w, rec.data, rec.len, &err) == WB_OK);
	}
	CHECK(wb_ocf_close(w, &err) == WB_OK);
	wb_ocf_pool_free(p);

	struct wb_ocf_extent x;
	CHECK(wb_ocf_scan(path, &x, &err) == WB_OK);
	CHECK(x.blocks == 3 && x.records == 9 && x.whole == x.size);

	char line[64];
	snprintf(line, sizeof(line), "codec %s\n", wb_ocf_codec_name(codec));
	wb_buf_append(&e, line, strlen(line));
	expect(&e, 0, 5);
	snprintf(line, sizeof(line), "{\"id\": 77, \"name\": \"");
	wb_buf_append(&e, line, strlen(line));
	wb_buf_append(&e, name, BIG);
	wb_buf_append(&e, "\"}\n", 3);
	expect(&e, 5, 8);
	wb_buf_append(&e, "", 1);
	char *got = py_read(dir, path);
	CHECK(got != NULL && strcmp(got, (char *)e.data) == 0);
	free(got);
	free(name);
	wb_buf_free(&e);
	wb_buf_free(&head);
	wb_buf_free(&rec);
}

int main(void)
{
	char dir[] = "/tmp/wb_test_ocf_XXXXXX";
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_codec(dir, WB_OCF_NULL);
	test_codec(dir, WB_OCF_DEFLATE);
	test_codec(dir, WB_OCF_ZSTD);
	test_reopen(dir, WB_OCF_NULL);
	test_reopen(dir, WB_OCF_DEFLATE);
	test_reopen(dir, WB_OCF_ZSTD);
	test_pool(dir, WB_OCF_DEFLATE);
	test_pool(dir, WB_OCF_ZSTD);
	test_pool(dir, WB_OCF_NULL); /* in line: the pool is not used */
	test_pool_failure(dir);
	test_park(dir, WB_OCF_ZSTD);
	test_park(dir, WB_OCF_DEFLATE);
	test_park(dir, WB_OCF_NULL);
	test_large(dir, WB_OCF_NULL, false);
	test_large(dir, WB_OCF_DEFLATE, false);
	test_large(dir, WB_OCF_ZSTD, false);
	test_large(dir, WB_OCF_DEFLATE, true);
	test_large(dir, WB_OCF_ZSTD, true);

	enum wb_ocf_codec c;
	wb_error_t err = {0};
	CHECK(wb_ocf_codec_parse("snappy", &c, &err) == WB_ERR_CONFIG);
	CHECK(wb_ocf_codec_parse(NULL, &c, &err) == WB_OK && c == WB_OCF_ZSTD);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (failures == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (failures)
		fprintf(stderr, "test_ocf: %d check(s) failed (files in %s)\n",
			failures, dir);
	else
		printf("test_ocf: ok\n");
	return failures != 0;
}
