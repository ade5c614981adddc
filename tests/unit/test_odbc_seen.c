/* test_odbc_seen.c — the ODBC poller's look-back set: lookups by (key,
 * row) and by key, the bound dropping the oldest tracking group, eviction
 * below the window, a failed round taken back, the checkpoint text; the
 * row hashes (w64 pinned: checkpoints hold them) and a checkpoint whose
 * set was hashed with fnv1a read back and still found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "odbc_seen.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A row of the benchmark's shape, cells as a driver gives them: an
 * 8-byte id, a text, a NULL. */
static void row_hashes(enum wb_odbc_hash_alg alg, int64_t id, const char *txt,
		       uint64_t *kh, uint64_t *rh)
{
	uint64_t h = WB_ODBC_HASH_INIT;
	h = wb_odbc_hash_cell(alg, h, &id, sizeof(id));
	*kh = wb_odbc_hash_cell(alg, WB_ODBC_HASH_INIT, &id, sizeof(id));
	h = wb_odbc_hash_cell(alg, h, txt, (int64_t)strlen(txt));
	*rh = wb_odbc_hash_cell(alg, h, NULL, -1 /* SQL_NULL_DATA */);
}

static void hashes(void)
{
	/* pinned: a checkpoint written by one build is read by the next */
	CHECK(wb_odbc_hash(WB_ODBC_HASH_INIT, "a", 1) ==
	      UINT64_C(0x5203ead49882fc0f));
	CHECK(wb_odbc_hash(WB_ODBC_HASH_INIT, "abcdefghijk", 11) ==
	      UINT64_C(0x021fd207823168ad));
	CHECK(wb_odbc_hash_cell(WB_ODBC_HASH_W64, WB_ODBC_HASH_INIT, "abc",
				3) == UINT64_C(0x5210b464f40b171f));
	/* the tail's length counts: "a" and "a\0" differ */
	CHECK(wb_odbc_hash(WB_ODBC_HASH_INIT, "a\0", 2) !=
	      wb_odbc_hash(WB_ODBC_HASH_INIT, "a", 1));
	/* fnv1a of a cell: the old poller's sequence, length then bytes */
	int64_t len = 3;
	uint64_t old = wb_odbc_hash_fnv1a(WB_ODBC_HASH_INIT, &len, sizeof(len));
	old = wb_odbc_hash_fnv1a(old, "abc", 3);
	CHECK(wb_odbc_hash_cell(WB_ODBC_HASH_FNV1A, WB_ODBC_HASH_INIT, "abc",
				3) == old);
	CHECK(old == UINT64_C(0xc11ab6d2519bc2b2));

	/* rows that differ a little (a counter, a digit of a text, one bit
	 * high in a word) hash apart */
	enum { N = 200000 };
	uint64_t *v = malloc(sizeof(*v) * N * 2);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	for (int i = 0; i < N; i++) {
		char txt[40];
		uint64_t kh;
		snprintf(txt, sizeof(txt), "SKU-%06d note", i % 1000);
		row_hashes(WB_ODBC_HASH_W64, i, txt, &kh, &v[i]);
		row_hashes(WB_ODBC_HASH_W64,
			   (int64_t)((uint64_t)i << 32 | 1u << 31), txt, &kh,
			   &v[N + i]);
	}
	qsort(v, N * 2, sizeof(*v), cmp_u64);
	int dup = 0;
	for (int i = 1; i < N * 2; i++)
		dup += v[i] == v[i - 1];
	CHECK(dup == 0);
	free(v);
}

/* A checkpoint written when the set was hashed with fnv1a (no
 * "seen_hash"): its entries are read into the old set, a row read again is
 * found there by its fnv1a hashes (not by w64 ones), its key known. */
static void fnv1a_checkpoint(void)
{
	struct wb_odbc_seen w, cur, old;
	wb_odbc_seen_init(&w, 100);
	for (int64_t id = 1; id <= 3; id++) {
		uint64_t kh, rh;
		row_hashes(WB_ODBC_HASH_FNV1A, id, "x", &kh, &rh);
		CHECK(wb_odbc_seen_add(&w, id, kh, rh, 1, NULL) == 0);
	}
	char *text = wb_odbc_seen_format(&w, 1, INT64_MIN);
	CHECK(text != NULL && strlen(text) == 3 * 48);

	wb_odbc_seen_init(&cur, 100);
	wb_odbc_seen_init(&old, 100);
	CHECK(wb_odbc_seen_restore(&cur, &old, NULL, text, NULL) == 0);
	CHECK(cur.n == 0 && old.n == 3);
	uint64_t kh, rh, okh, orh;
	bool known = false;
	row_hashes(WB_ODBC_HASH_W64, 2, "x", &kh, &rh);
	row_hashes(WB_ODBC_HASH_FNV1A, 2, "x", &okh, &orh);
	CHECK(!wb_odbc_seen_has_at(&cur, 2, kh, rh, &known) && !known);
	CHECK(wb_odbc_seen_has_at(&old, 2, okh, orh, &known) && known);
	CHECK(!wb_odbc_seen_has_at(&old, 2, kh, rh, &known) && !known);
	/* the row changed: not seen, its key known (an update) */
	row_hashes(WB_ODBC_HASH_FNV1A, 2, "y", &okh, &orh);
	CHECK(!wb_odbc_seen_has_at(&old, 2, okh, orh, &known) && known);
	wb_odbc_seen_free(&cur);
	wb_odbc_seen_free(&old);

	/* "fnv1a" by name is the same; w64 with fnv1a entries left over */
	wb_odbc_seen_init(&cur, 100);
	wb_odbc_seen_init(&old, 100);
	CHECK(wb_odbc_seen_restore(&cur, &old, "fnv1a", text, NULL) == 0);
	CHECK(cur.n == 0 && old.n == 3);
	wb_odbc_seen_free(&cur);
	wb_odbc_seen_free(&old);
	wb_odbc_seen_init(&cur, 100);
	wb_odbc_seen_init(&old, 100);
	CHECK(wb_odbc_seen_restore(&cur, &old, "w64", text, text + 48) == 0);
	CHECK(cur.n == 3 && old.n == 2);
	wb_odbc_seen_free(&cur);
	wb_odbc_seen_free(&old);
	/* an algorithm this code does not know: refused, nothing read */
	wb_odbc_seen_init(&cur, 100);
	wb_odbc_seen_init(&old, 100);
	CHECK(wb_odbc_seen_restore(&cur, &old, "xxh3", text, NULL) == -2);
	CHECK(cur.n == 0 && old.n == 0);
	CHECK(wb_odbc_seen_restore(&cur, &old, "w64", "12", NULL) == -1);
	wb_odbc_seen_free(&cur);
	wb_odbc_seen_free(&old);
	free(text);
	wb_odbc_seen_free(&w);
}

int main(void)
{
	struct wb_odbc_seen s;
	wb_odbc_seen_init(&s, 4);
	bool known = true;
	CHECK(!wb_odbc_seen_has(&s, 1, 10, &known) && !known);
	int64_t dropped = -1;
	CHECK(wb_odbc_seen_add(&s, 100, 1, 10, 7, &dropped) == 0);
	CHECK(wb_odbc_seen_add(&s, 100, 2, 20, 7, &dropped) == 0);
	CHECK(wb_odbc_seen_add(&s, 200, 1, 11, 8, &dropped) == 0);
	CHECK(dropped == -1 && s.n == 3);
	CHECK(wb_odbc_seen_has(&s, 1, 10, &known) && known);
	CHECK(!wb_odbc_seen_has(&s, 1, 12, &known) && known);
	CHECK(!wb_odbc_seen_has(&s, 3, 10, &known) && !known);
	/* the same pair again is not a second entry */
	CHECK(wb_odbc_seen_add(&s, 200, 1, 11, 9, &dropped) == 0 && s.n == 3);

	/* the checkpoint text: rounds up to 7 only, and back */
	char *t = wb_odbc_seen_format(&s, 7, INT64_MIN);
	CHECK(t && strlen(t) == 96);
	CHECK_STR(t, "0000000000000064000000000000000100000000000000"
		     "0a0000000000000064000000000000000200000000000000"
		     "14");
	struct wb_odbc_seen r;
	wb_odbc_seen_init(&r, 100);
	CHECK(wb_odbc_seen_parse(&r, t) == 0 && r.n == 2);
	CHECK(wb_odbc_seen_has(&r, 2, 20, NULL));
	CHECK(!wb_odbc_seen_has(&r, 1, 11, NULL));
	CHECK(wb_odbc_seen_parse(&r, "12") == -1);
	CHECK(wb_odbc_seen_parse(&r, "zz00000000000064000000000000000200000000"
				     "00000014") == -1);
	free(t);
	t = wb_odbc_seen_format(&s, 100, 150); /* the window from 150 */
	CHECK(t && strlen(t) == 48);
	free(t);
	wb_odbc_seen_free(&r);

	/* full: the oldest groups go, up to 100 + (300 - 100) / 16 = 112:
	 * both entries of 100 */
	CHECK(wb_odbc_seen_add(&s, 300, 4, 40, 9, &dropped) == 0 && s.n == 4);
	CHECK(wb_odbc_seen_add(&s, 300, 5, 50, 9, &dropped) == 0);
	CHECK(dropped == 112 && s.n == 3);
	CHECK(!wb_odbc_seen_has(&s, 1, 10, NULL) &&
	      !wb_odbc_seen_has(&s, 2, 20, NULL));
	CHECK(wb_odbc_seen_has(&s, 1, 11, &known) && known);

	/* a round that was not delivered is taken back */
	wb_odbc_seen_forget_round(&s, 9);
	CHECK(s.n == 1 && wb_odbc_seen_has(&s, 1, 11, NULL));
	CHECK(!wb_odbc_seen_has(&s, 5, 50, &known) && !known);

	/* eviction below the window */
	CHECK(wb_odbc_seen_add(&s, 250, 6, 60, 10, NULL) == 0);
	wb_odbc_seen_evict(&s, 250);
	CHECK(s.n == 1 && wb_odbc_seen_has(&s, 6, 60, NULL));
	CHECK(!wb_odbc_seen_has(&s, 1, 11, NULL));

	/* many entries: the indexes grow and stay consistent */
	struct wb_odbc_seen big;
	wb_odbc_seen_init(&big, 100000);
	for (uint64_t i = 0; i < 50000; i++)
		CHECK(wb_odbc_seen_add(&big, (int64_t)(i / 10), i, i * 7, 1,
				       NULL) == 0);
	int miss = 0;
	for (uint64_t i = 0; i < 50000; i++)
		miss += !wb_odbc_seen_has(&big, i, i * 7, NULL);
	CHECK(miss == 0 && big.n == 50000);
	wb_odbc_seen_evict(&big, 2500);
	CHECK(big.n == 25000 && wb_odbc_seen_has(&big, 25000, 175000, NULL) &&
	      !wb_odbc_seen_has(&big, 24999, 174993, NULL));
	wb_odbc_seen_free(&big);

	/* has_at: a row above every tracking value added is not looked up
	 * as a pair, its key still is; at or below, the full lookup */
	{
		struct wb_odbc_seen h;
		wb_odbc_seen_init(&h, 100);
		bool kk = true;
		CHECK(!wb_odbc_seen_has_at(&h, 5, 1, 10, &kk) && !kk);
		CHECK(wb_odbc_seen_add(&h, 5, 1, 10, 1, NULL) == 0);
		CHECK(wb_odbc_seen_add(&h, 3, 2, 20, 1, NULL) == 0);
		CHECK(wb_odbc_seen_has_at(&h, 5, 1, 10, &kk) && kk);
		CHECK(wb_odbc_seen_has_at(&h, 3, 2, 20, &kk) && kk);
		CHECK(!wb_odbc_seen_has_at(&h, 4, 1, 11, &kk) && kk);
		CHECK(!wb_odbc_seen_has_at(&h, 6, 1, 12, &kk) && kk);
		CHECK(!wb_odbc_seen_has_at(&h, 6, 3, 30, &kk) && !kk);
		/* the bound stays after removals (an upper bound only) */
		wb_odbc_seen_evict(&h, 6);
		CHECK(h.n == 0 && h.has_hi && h.hi == 5);
		CHECK(!wb_odbc_seen_has_at(&h, 5, 1, 10, &kk) && !kk);
		wb_odbc_seen_free(&h);
	}

	CHECK(wb_odbc_hash_fnv1a(WB_ODBC_HASH_INIT, "a", 1) ==
	      UINT64_C(0xaf63dc4c8601ec8c)); /* FNV-1a test vector */
	wb_odbc_seen_free(&s);
	hashes();
	fnv1a_checkpoint();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
