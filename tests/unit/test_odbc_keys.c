/* test_odbc_keys.c — the emitted-key store: key encodings sort as the
 * database orders the values and decode back, the checksums, and the
 * SQLite store's writes, transactions, ranges and persistence. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "crashpoint.h"
#include "odbc_keys.h"

static struct wb_odbc_key_val ival(int64_t i)
{
	struct wb_odbc_key_val v = {.type = WB_ODBC_KEY_INT, .i = i};
	return v;
}

static struct wb_odbc_key_val tval(const char *s, size_t len)
{
	struct wb_odbc_key_val v = {
		.type = WB_ODBC_KEY_TEXT, .s = s, .len = len};
	return v;
}

static struct wb_odbc_key_val dval(const char *s)
{
	struct wb_odbc_key_val v = {
		.type = WB_ODBC_KEY_DECIMAL, .s = s, .len = strlen(s)};
	return v;
}

/* Encodes one tuple into a fresh buffer (the caller frees). */
static struct wb_buf enc(const struct wb_odbc_key_val *v, size_t n)
{
	struct wb_buf b;
	wb_error_t err = {0};
	wb_buf_init(&b);
	int rc = wb_odbc_key_encode(v, n, &b, &err);
	if (rc != 0)
		fprintf(stderr, "encode: %s\n", err.message);
	CHECK(rc == 0);
	return b;
}

static int cmp(const struct wb_buf *a, const struct wb_buf *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->data, b->data, n);
	if (c != 0)
		return c < 0 ? -1 : 1;
	return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

/* vals[0..n) are single-column keys in increasing order. */
static void check_sorted(const struct wb_odbc_key_val *vals, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		struct wb_buf a = enc(&vals[i], 1), b = enc(&vals[i + 1], 1);
		if (cmp(&a, &b) >= 0)
			fprintf(stderr, "not increasing at %zu\n", i);
		CHECK(cmp(&a, &b) < 0);
		wb_buf_free(&a);
		wb_buf_free(&b);
	}
}

static void test_int_order(void)
{
	struct wb_odbc_key_val v[] = {
		ival(INT64_MIN), ival(-4294967297), ival(-256), ival(-1),
		ival(0),	 ival(1),	    ival(255),	ival(256),
		ival(65536),	 ival(INT64_MAX)};
	check_sorted(v, sizeof v / sizeof v[0]);
	struct wb_buf b = enc(&v[5], 1);
	/* 1: tag, then 0x80 00 .. 01 */
	const uint8_t want[] = {0x10, 0x80, 0, 0, 0, 0, 0, 0, 1};
	CHECK(b.len == sizeof want && memcmp(b.data, want, b.len) == 0);
	wb_buf_free(&b);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct wb_buf e = enc(&v[i], 1), scratch;
		struct wb_odbc_key_val out[2];
		size_t n = 0;
		wb_buf_init(&scratch);
		CHECK(wb_odbc_key_decode(e.data, e.len, out, 2, &n, &scratch,
					 NULL) == 0);
		CHECK(n == 1 && out[0].type == WB_ODBC_KEY_INT &&
		      out[0].i == v[i].i);
		wb_buf_free(&e);
		wb_buf_free(&scratch);
	}
}

static void test_text_order(void)
{
	/* byte order: a prefix first, NUL below everything, UTF-8 above
	 * ASCII */
	struct wb_odbc_key_val v[] = {
		tval("", 0),	     tval("\0", 1),   tval("\0\0", 2),
		tval("\0a", 2),	     tval("A", 1),    tval("a", 1),
		tval("a\0", 2),	     tval("a\0b", 3), tval("a\x01", 2),
		tval("ab", 2),	     tval("b", 1),    tval("z", 1),
		tval("\xc3\xa9", 2), tval("\xff", 1)};
	check_sorted(v, sizeof v / sizeof v[0]);
	struct wb_buf b = enc(&v[7], 1); /* "a\0b" */
	const uint8_t want[] = {0x20, 'a', 0, 0xFF, 'b', 0, 1};
	CHECK(b.len == sizeof want && memcmp(b.data, want, b.len) == 0);
	struct wb_buf scratch;
	struct wb_odbc_key_val out[1];
	size_t n = 0;
	wb_buf_init(&scratch);
	CHECK(wb_odbc_key_decode(b.data, b.len, out, 1, &n, &scratch, NULL) ==
	      0);
	CHECK(n == 1 && out[0].type == WB_ODBC_KEY_TEXT && out[0].len == 3 &&
	      memcmp(out[0].s, "a\0b", 3) == 0);
	wb_buf_free(&b);
	wb_buf_free(&scratch);
}

static void test_decimal(void)
{
	struct wb_odbc_key_val v[] = {
		dval("-1000.5"),  dval("-100"), dval("-12.5"),
		dval("-12.25"),	  dval("-1"),	dval("-0.5"),
		dval("-0.05"),	  dval("0"),	dval("0.001"),
		dval("0.0011"),	  dval("0.5"),	dval("1"),
		dval("1.05"),	  dval("1.5"),	dval("9.99"),
		dval("10"),	  dval("12"),	dval("100"),
		dval("1000.0001")};
	check_sorted(v, sizeof v / sizeof v[0]);
	/* the same number, however written */
	const char *same[] = {"1.5", "1.50", "+1.5", "001.500", "1.5000"};
	struct wb_odbc_key_val one = dval(same[0]);
	struct wb_buf ref = enc(&one, 1);
	for (size_t i = 1; i < sizeof same / sizeof same[0]; i++) {
		struct wb_odbc_key_val x = dval(same[i]);
		struct wb_buf e = enc(&x, 1);
		CHECK(cmp(&e, &ref) == 0);
		wb_buf_free(&e);
	}
	wb_buf_free(&ref);
	const char *zeros[] = {"0", "-0", "0.000", "000", "-0.0"};
	struct wb_odbc_key_val z0 = dval("0");
	struct wb_buf zr = enc(&z0, 1);
	CHECK(zr.len == 2 && zr.data[0] == 0x30 && zr.data[1] == 0x02);
	for (size_t i = 1; i < sizeof zeros / sizeof zeros[0]; i++) {
		struct wb_odbc_key_val x = dval(zeros[i]);
		struct wb_buf e = enc(&x, 1);
		CHECK(cmp(&e, &zr) == 0);
		wb_buf_free(&e);
	}
	wb_buf_free(&zr);
	/* canonical text back */
	const char *in[] = {"-12.50", "0.0010", "1000.0001", "0100",
			    "-0.05",  "12000",	"0"};
	const char *out[] = {"-12.5", "0.001", "1000.0001", "100",
			     "-0.05", "12000", "0"};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		struct wb_odbc_key_val x = dval(in[i]), d[1];
		struct wb_buf e = enc(&x, 1), scratch;
		size_t n = 0;
		wb_buf_init(&scratch);
		CHECK(wb_odbc_key_decode(e.data, e.len, d, 1, &n, &scratch,
					 NULL) == 0);
		CHECK(n == 1 && d[0].type == WB_ODBC_KEY_DECIMAL);
		CHECK_STR(d[0].s, out[i]);
		CHECK(d[0].len == strlen(out[i]));
		wb_buf_free(&e);
		wb_buf_free(&scratch);
	}
	const char *bad[] = {"",    "-",   "+",	 ".",  "1.2.3",
			     "1e5", "abc", " 1", "1,5"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct wb_odbc_key_val x = dval(bad[i]);
		struct wb_buf b;
		wb_error_t err = {0};
		wb_buf_init(&b);
		CHECK(wb_odbc_key_encode(&x, 1, &b, &err) == WB_ERR_TYPE);
		CHECK(strstr(err.message, "decimal key value") != NULL);
		wb_buf_free(&b);
	}
}

static void test_composite(void)
{
	/* (1, 'b') < (1, 'ba') < (1, 'c') < (2, '') < (2, 'a') */
	struct wb_odbc_key_val k[5][2] = {{ival(1), tval("b", 1)},
					  {ival(1), tval("ba", 2)},
					  {ival(1), tval("c", 1)},
					  {ival(2), tval("", 0)},
					  {ival(2), tval("a", 1)}};
	for (int i = 0; i < 4; i++) {
		struct wb_buf a = enc(k[i], 2), b = enc(k[i + 1], 2);
		CHECK(cmp(&a, &b) < 0);
		wb_buf_free(&a);
		wb_buf_free(&b);
	}
	/* text first: ('a', 2) < ('a\0', 1) < ('ab', 1) */
	struct wb_odbc_key_val t[3][2] = {{tval("a", 1), ival(2)},
					  {tval("a\0", 2), ival(1)},
					  {tval("ab", 2), ival(1)}};
	for (int i = 0; i < 2; i++) {
		struct wb_buf a = enc(t[i], 2), b = enc(t[i + 1], 2);
		CHECK(cmp(&a, &b) < 0);
		wb_buf_free(&a);
		wb_buf_free(&b);
	}
	struct wb_odbc_key_val three[3] = {tval("x y", 3), dval("-2.5"),
					   ival(-7)};
	struct wb_buf e = enc(three, 3), scratch;
	struct wb_odbc_key_val d[3];
	size_t n = 0;
	wb_buf_init(&scratch);
	CHECK(wb_odbc_key_decode(e.data, e.len, d, 3, &n, &scratch, NULL) == 0);
	CHECK(n == 3);
	CHECK(d[0].type == WB_ODBC_KEY_TEXT && d[0].len == 3 &&
	      memcmp(d[0].s, "x y", 3) == 0);
	CHECK(d[1].type == WB_ODBC_KEY_DECIMAL);
	CHECK_STR(d[1].s, "-2.5");
	CHECK(d[2].type == WB_ODBC_KEY_INT && d[2].i == -7);
	char text[64];
	wb_odbc_key_format(e.data, e.len, text, sizeof text);
	CHECK_STR(text, "('x y', -2.5, -7)");
	/* too few slots */
	wb_error_t err = {0};
	CHECK(wb_odbc_key_decode(e.data, e.len, d, 2, &n, &scratch, &err) ==
	      WB_ERR_DECODE);
	/* every truncation inside a value is refused; one between values
	 * (after 'x y': 6 bytes, after -2.5: 13) is a shorter tuple */
	for (size_t cut = 0; cut < e.len; cut++) {
		int rc = wb_odbc_key_decode(e.data, cut, d, 3, &n, &scratch,
					    NULL);
		if (cut == 6 || cut == 13) {
			CHECK(rc == 0 && n == (cut == 6 ? 1u : 2u));
			continue;
		}
		if (rc != WB_ERR_DECODE)
			fprintf(stderr, "truncated at %zu accepted\n", cut);
		CHECK(rc == WB_ERR_DECODE);
	}
	const uint8_t junk[] = {0x40, 1, 2};
	CHECK(wb_odbc_key_decode(junk, sizeof junk, d, 3, &n, &scratch, NULL) ==
	      WB_ERR_DECODE);
	const uint8_t badtext[] = {0x20, 'a', 0, 7};
	CHECK(wb_odbc_key_decode(badtext, sizeof badtext, d, 3, &n, &scratch,
				 NULL) == WB_ERR_DECODE);
	wb_buf_free(&e);
	wb_buf_free(&scratch);
	struct wb_buf b;
	wb_buf_init(&b);
	CHECK(wb_odbc_key_encode(three, 0, &b, NULL) == WB_ERR_TYPE);
	wb_buf_free(&b);
}

static void hex(const uint8_t *md, char *out)
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void test_md5_and_sums(void)
{
	uint8_t md[16];
	char h[33];
	wb_odbc_md5("", 0, md);
	hex(md, h);
	CHECK_STR(h, "d41d8cd98f00b204e9800998ecf8427e");
	wb_odbc_md5("abc", 3, md);
	hex(md, h);
	CHECK_STR(h, "900150983cd24fb0d6963f7d28e17f72");
	char x[100];
	memset(x, 'x', sizeof x);
	wb_odbc_md5(x, sizeof x, md);
	hex(md, h);
	CHECK_STR(h, "aed563ecafb4bcc5654c597a421547b2");

	/* key (1): s1 = 1, s2 = mix(1) = 40499; T = "1:1" */
	struct wb_odbc_key_val one = ival(1);
	struct wb_odbc_sum s = {0};
	wb_odbc_sum_add(WB_ODBC_SUM_COUNT, &one, 1, &s);
	CHECK(s.count == 1 && s.s1 == 0 && s.s2 == 0 && s.s3 == 0);
	memset(&s, 0, sizeof s);
	wb_odbc_sum_add(WB_ODBC_SUM_MIX, &one, 1, &s);
	CHECK(s.count == 1 && s.s1 == 1 && s.s2 == 40499 && s.s3 == 0);
	memset(&s, 0, sizeof s);
	wb_odbc_sum_add(WB_ODBC_SUM_MD5, &one, 1, &s);
	CHECK(s.s1 == 1 && s.s2 == 40499 && s.s3 == 3502069533u);
	memset(&s, 0, sizeof s);
	wb_odbc_sum_add(WB_ODBC_SUM_CRC32, &one, 1, &s);
	CHECK(s.s3 == 2929690870u);
	/* (-1, 'abc'): s1 = 2 * 0xFFFFFFFF + 3, s2 = mix(2^64 - 1),
	 * T = "2:-13:abc" */
	struct wb_odbc_key_val k[2] = {ival(-1), tval("abc", 3)};
	memset(&s, 0, sizeof s);
	wb_odbc_sum_add(WB_ODBC_SUM_MD5, k, 2, &s);
	CHECK(s.count == 1 && s.s1 == UINT64_C(8589934593) &&
	      s.s2 == UINT64_C(8019554402) && s.s3 == 2307743629u);
	memset(&s, 0, sizeof s);
	wb_odbc_sum_add(WB_ODBC_SUM_CRC32, k, 2, &s);
	CHECK(s.s3 == 553483608u);
	/* the second column's mix counts twice */
	struct wb_odbc_key_val two[2] = {ival(0), ival(0x0123456789abcdef)};
	memset(&s, 0, sizeof s);
	wb_odbc_sum_add(WB_ODBC_SUM_MIX, two, 2, &s);
	CHECK(s.s2 == 2 * UINT64_C(2386656946));
	CHECK(s.s1 == 0x89abcdefu + 0x01234567u);
}

static char path[256];

static struct wb_buf ikey(int64_t i)
{
	struct wb_odbc_key_val v = ival(i);
	return enc(&v, 1);
}

static int put_i(struct wb_odbc_keys *ks, const char *table, int64_t i)
{
	char img[32];
	int n = snprintf(img, sizeof img, "img-%" PRId64, i);
	struct wb_buf k = ikey(i);
	wb_error_t err = {0};
	int rc = wb_odbc_keys_put(ks, table, k.data, k.len,
				  (const uint8_t *)img, (size_t)n, &err);
	wb_buf_free(&k);
	return rc;
}

/* "img-N" stored for key i, or "" when absent. */
static void get_i(struct wb_odbc_keys *ks, const char *table, int64_t i,
		  char *out, size_t size)
{
	struct wb_buf k = ikey(i), img;
	bool found = true;
	wb_error_t err = {0};
	wb_buf_init(&img);
	CHECK(wb_odbc_keys_get(ks, table, k.data, k.len, &img, &found, &err) ==
	      0);
	snprintf(out, size, "%.*s", found ? (int)img.len : 0,
		 found ? (const char *)img.data : "");
	wb_buf_free(&k);
	wb_buf_free(&img);
}

static uint64_t count(struct wb_odbc_keys *ks, const char *table)
{
	struct wb_odbc_sum s;
	CHECK(wb_odbc_keys_range_sum(ks, table, NULL, 0, NULL, 0,
				     WB_ODBC_SUM_COUNT, &s, NULL) == 0);
	return s.count;
}

/* The keys of [lo, hi) as "3,4,6," (lo/hi 0: unbounded). */
static void range(struct wb_odbc_keys *ks, const char *table, int64_t lo,
		  int64_t hi, char *out, size_t size)
{
	struct wb_buf l = ikey(lo), h = ikey(hi), scratch;
	wb_buf_init(&scratch);
	out[0] = '\0';
	struct wb_odbc_keys_iter *it =
		wb_odbc_keys_iter_open(ks, table, lo ? l.data : NULL, l.len,
				       hi ? h.data : NULL, h.len, NULL);
	CHECK(it != NULL);
	bool has = true;
	size_t at = 0;
	while (it != NULL) {
		const uint8_t *k, *img;
		size_t kl, il;
		CHECK(wb_odbc_keys_iter_next(it, &k, &kl, &img, &il, &has,
					     NULL) == 0);
		if (!has)
			break;
		struct wb_odbc_key_val v[1];
		size_t n;
		CHECK(wb_odbc_key_decode(k, kl, v, 1, &n, &scratch, NULL) == 0);
		at += (size_t)snprintf(out + at, size - at, "%" PRId64 ",",
				       v[0].i);
	}
	wb_odbc_keys_iter_close(it);
	wb_buf_free(&l);
	wb_buf_free(&h);
	wb_buf_free(&scratch);
}

static void test_store(void)
{
	wb_error_t err = {0};
	char got[256];
	snprintf(path, sizeof path, "/tmp/wb-test-keys-%d.sqlite", getpid());
	struct wb_odbc_keys *ks = wb_odbc_keys_open(path, &err);
	CHECK(ks != NULL);
	if (ks == NULL) {
		fprintf(stderr, "%s\n", err.message);
		return;
	}
	CHECK(wb_odbc_keys_position(ks, &err) == NULL);
	/* negative keys sort first */
	for (int64_t i = -2; i <= 10; i++)
		CHECK(put_i(ks, "public.a", i) == 0);
	CHECK(put_i(ks, "public.b", 5) == 0);
	CHECK(wb_odbc_keys_commit(ks, "0/1000", &err) == 0);
	char *pos = wb_odbc_keys_position(ks, &err);
	CHECK_STR(pos, "0/1000");
	free(pos);
	CHECK(count(ks, "public.a") == 13);
	CHECK(count(ks, "public.b") == 1);
	CHECK(count(ks, "public.c") == 0);
	get_i(ks, "public.a", 7, got, sizeof got);
	CHECK_STR(got, "img-7");
	get_i(ks, "public.a", 11, got, sizeof got);
	CHECK_STR(got, "");
	range(ks, "public.a", 0, 0, got, sizeof got);
	CHECK_STR(got, "-2,-1,0,1,2,3,4,5,6,7,8,9,10,");

	/* a rolled back batch leaves nothing */
	struct wb_buf k5 = ikey(5), k3 = ikey(3);
	CHECK(wb_odbc_keys_remove(ks, "public.a", k5.data, k5.len, &err) == 0);
	CHECK(count(ks, "public.a") == 12); /* visible inside the batch */
	wb_odbc_keys_rollback(ks);
	CHECK(count(ks, "public.a") == 13);
	/* remove, replace an image, remove an absent key */
	CHECK(wb_odbc_keys_remove(ks, "public.a", k5.data, k5.len, &err) == 0);
	CHECK(wb_odbc_keys_remove(ks, "public.a", k5.data, k5.len, &err) == 0);
	CHECK(wb_odbc_keys_put(ks, "public.a", k3.data, k3.len,
			       (const uint8_t *)"new-3", 5, &err) == 0);
	CHECK(wb_odbc_keys_commit(ks, "0/2000", &err) == 0);
	get_i(ks, "public.a", 3, got, sizeof got);
	CHECK_STR(got, "new-3");
	range(ks, "public.a", 3, 8, got, sizeof got);
	CHECK_STR(got, "3,4,6,7,");
	range(ks, "public.a", 9, 0, got, sizeof got);
	CHECK_STR(got, "9,10,");
	range(ks, "public.b", 0, 0, got, sizeof got);
	CHECK_STR(got, "5,");
	/* nth: the key n places after the first >= lo */
	struct wb_buf nth, k4 = ikey(4);
	bool found = false;
	wb_buf_init(&nth);
	CHECK(wb_odbc_keys_nth(ks, "public.a", k4.data, k4.len, 2, &nth, &found,
			       &err) == 0);
	struct wb_buf k7 = ikey(7);
	CHECK(found && cmp(&nth, &k7) == 0);
	CHECK(wb_odbc_keys_nth(ks, "public.a", NULL, 0, 0, &nth, &found,
			       &err) == 0);
	struct wb_buf km2 = ikey(-2);
	CHECK(found && cmp(&nth, &km2) == 0);
	CHECK(wb_odbc_keys_nth(ks, "public.a", k4.data, k4.len, 6, &nth, &found,
			       &err) == 0);
	CHECK(!found);
	/* range checksums agree with the keys summed one by one */
	struct wb_odbc_sum want = {0}, s;
	for (int64_t i = 4; i <= 9; i++) {
		if (i == 5)
			continue;
		struct wb_odbc_key_val v = ival(i);
		wb_odbc_sum_add(WB_ODBC_SUM_MD5, &v, 1, &want);
	}
	struct wb_buf k10 = ikey(10);
	CHECK(wb_odbc_keys_range_sum(ks, "public.a", k4.data, k4.len, k10.data,
				     k10.len, WB_ODBC_SUM_MD5, &s, &err) == 0);
	CHECK(s.count == 5 && memcmp(&s, &want, sizeof s) == 0);
	/* an uncommitted batch is lost at close */
	CHECK(put_i(ks, "public.a", 100) == 0);
	wb_odbc_keys_close(ks);
	ks = wb_odbc_keys_open(path, &err);
	CHECK(ks != NULL);
	if (ks != NULL) {
		get_i(ks, "public.a", 100, got, sizeof got);
		CHECK_STR(got, "");
		CHECK(count(ks, "public.a") == 12);
		pos = wb_odbc_keys_position(ks, &err);
		CHECK_STR(pos, "0/2000");
		free(pos);
		/* commit without a batch: the position only */
		CHECK(wb_odbc_keys_commit(ks, "0/3000", &err) == 0);
		pos = wb_odbc_keys_position(ks, &err);
		CHECK_STR(pos, "0/3000");
		free(pos);
		CHECK(wb_odbc_keys_forget(ks, "public.a", &err) == 0);
		CHECK(wb_odbc_keys_commit(ks, NULL, &err) == 0);
		CHECK(count(ks, "public.a") == 0);
		CHECK(count(ks, "public.b") == 1);
		pos = wb_odbc_keys_position(ks, &err);
		CHECK_STR(pos, "0/3000");
		free(pos);
		CHECK(wb_odbc_keys_put(ks, "t", (const uint8_t *)"", 0, NULL, 0,
				       &err) == WB_ERR_TYPE);
		wb_odbc_keys_close(ks);
	}
	wb_buf_free(&k3);
	wb_buf_free(&k4);
	wb_buf_free(&k5);
	wb_buf_free(&k7);
	wb_buf_free(&k10);
	wb_buf_free(&km2);
	wb_buf_free(&nth);
	char side[300];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);

	/* another format is refused, a missing directory too */
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db,
			   "CREATE TABLE wb_meta (name TEXT PRIMARY KEY, value "
			   "TEXT NOT NULL) WITHOUT ROWID; INSERT INTO wb_meta "
			   "VALUES ('format', '2')",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	ks = wb_odbc_keys_open(path, &err);
	CHECK(ks == NULL);
	CHECK(strstr(err.message, "not a waybill key store of format 1") !=
	      NULL);
	unlink(path);
	ks = wb_odbc_keys_open("/nonexistent-dir/keys.sqlite", &err);
	CHECK(ks == NULL && err.code == WB_ERR_IO);
}

static void unlink_store(void)
{
	char side[300];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

/* Runs fn in a child that then dies by SIGKILL (no close, no atexit):
 * waybill killed at that instant. */
static void die_after(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		raise(SIGKILL);
		_exit(0);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* keys 1..3 committed with "P1", 4 written but not committed */
static void child_batch(void)
{
	struct wb_odbc_keys *ks = wb_odbc_keys_open(path, NULL);
	if (ks == NULL)
		_exit(3);
	for (int64_t i = 1; i <= 3; i++)
		if (put_i(ks, "t", i) != 0)
			_exit(4);
	if (wb_odbc_keys_commit(ks, "P1", NULL) != 0 || put_i(ks, "t", 4) != 0)
		_exit(5);
}

/* the batch of position P2 (keys 4, 5; 2 removed) committed, and the
 * process dies at the crash point odbc_keys.committed, before it writes
 * the checkpoint P2 */
static void child_store_ahead(void)
{
	setenv("WB_CRASH_AT", "odbc_keys.committed", 1);
	wb_crashpoints_init();
	struct wb_odbc_keys *ks = wb_odbc_keys_open(path, NULL);
	struct wb_buf k2 = ikey(2);
	if (ks == NULL || put_i(ks, "t", 4) != 0 || put_i(ks, "t", 5) != 0 ||
	    wb_odbc_keys_remove(ks, "t", k2.data, k2.len, NULL) != 0)
		_exit(3);
	wb_odbc_keys_commit(ks, "P2", NULL);
	_exit(4); /* not reached: the crash point kills the process */
}

/* A crash with a batch open loses the batch only; a crash between the
 * store's commit and the checkpoint leaves the store ahead, and replaying
 * the events after the checkpoint (the same puts and removes) leaves it as
 * it is. */
static void test_crash(void)
{
	char got[128];
	snprintf(path, sizeof path, "/tmp/wb-test-keys-crash-%d.sqlite",
		 getpid());
	unlink_store();
	die_after(child_batch);
	struct wb_odbc_keys *ks = wb_odbc_keys_open(path, NULL);
	CHECK(ks != NULL);
	if (ks == NULL)
		return;
	char *pos = wb_odbc_keys_position(ks, NULL);
	CHECK_STR(pos, "P1");
	free(pos);
	range(ks, "t", 0, 0, got, sizeof got);
	CHECK_STR(got, "1,2,3,");
	wb_odbc_keys_close(ks);

	die_after(child_store_ahead);
	ks = wb_odbc_keys_open(path, NULL);
	CHECK(ks != NULL);
	if (ks == NULL)
		return;
	pos = wb_odbc_keys_position(ks, NULL);
	CHECK_STR(pos, "P2"); /* ahead of the checkpoint, which says P1 */
	free(pos);
	range(ks, "t", 0, 0, got, sizeof got);
	CHECK_STR(got, "1,3,4,5,");
	/* the restart replays P1..P2 */
	struct wb_buf k2 = ikey(2);
	CHECK(put_i(ks, "t", 4) == 0 && put_i(ks, "t", 5) == 0);
	CHECK(wb_odbc_keys_remove(ks, "t", k2.data, k2.len, NULL) == 0);
	CHECK(wb_odbc_keys_commit(ks, "P2", NULL) == 0);
	range(ks, "t", 0, 0, got, sizeof got);
	CHECK_STR(got, "1,3,4,5,");
	get_i(ks, "t", 5, got, sizeof got);
	CHECK_STR(got, "img-5");
	wb_buf_free(&k2);
	wb_odbc_keys_close(ks);
	unlink_store();
}

int main(void)
{
	test_int_order();
	test_text_order();
	test_decimal();
	test_composite();
	test_md5_and_sums();
	test_store();
	test_crash();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
