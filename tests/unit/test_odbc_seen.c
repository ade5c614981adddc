/* test_odbc_seen.c — the ODBC poller's look-back set: lookups by (key,
 * row) and by key, the bound dropping the oldest tracking group, eviction
 * below the window, a failed round taken back, the checkpoint text. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "odbc_seen.h"

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

	CHECK(wb_odbc_hash(WB_ODBC_HASH_INIT, "a", 1) ==
	      UINT64_C(0xaf63dc4c8601ec8c)); /* FNV-1a test vector */
	wb_odbc_seen_free(&s);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
