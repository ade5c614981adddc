/* test_snapshot_progress.c — the database-independent snapshot tracker
 * (src/snapshot.h), without a server: the progress a checkpoint holds
 * restored and written back unchanged (a table in one part, a table split
 * into parts, parts that are not a split), the split of an integer key
 * range and when it applies, the parts readers take, the positions of
 * emitted rows, marks made durable only up to the durable position (and
 * void after a snapshot from scratch), and a round resumed after its
 * durable keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "change.h"
#include "snapshot.h"
#include "table.h"
#include "check.h"

/* The "tables" of state() as compact JSON text with sorted keys. */
static char *tables_text(struct wb_snapshot *sn)
{
	json_t *st = wb_snapshot_state(sn);
	if (st == NULL)
		return NULL;
	char *text = json_dumps(json_object_get(st, "tables"),
				JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(st);
	return text;
}

static void expect_tables(struct wb_snapshot *sn, const char *want, int line)
{
	char *got = tables_text(sn);
	if (got == NULL || strcmp(got, want) != 0) {
		fprintf(stderr, "line %d:\n  got:  %s\n  want: %s\n", line,
			got ? got : "(null)", want);
		failures++;
	}
	free(got);
}
#define EXPECT_TABLES(sn, want) expect_tables(sn, want, __LINE__)

static struct wb_snapshot *restored(const char *in, int parallelism)
{
	struct wb_snapshot *sn = wb_snapshot_new("test", 10, parallelism);
	CHECK(sn != NULL);
	json_error_t je;
	json_t *st = json_loads(in, 0, &je);
	CHECK(st != NULL);
	wb_error_t err = {0};
	CHECK(wb_snapshot_restore(sn, st, &err) == WB_OK);
	json_decref(st);
	return sn;
}

/* restore(in) then state(): "tables" must read want. */
static void round_trip(const char *in, const char *want, int line)
{
	struct wb_snapshot *sn = restored(in, 3);
	expect_tables(sn, want, line);
	wb_snapshot_free(sn);
}

/* A table "db.t" with an integer key column "id" (of kind key_kind) and a
 * text column, or without a key. */
static struct wb_table *table_of(int key_kind, bool keyed)
{
	struct wb_table *t = wb_table_new("db", "s", "t", 2);
	CHECK(t != NULL);
	struct wb_type k = {0}, v = {0};
	k.s.kind = (uint8_t)key_kind;
	v.s.kind = WB_T_STRING;
	CHECK(wb_table_set_column(t, 0, "id", &k, false, keyed) == 0);
	CHECK(wb_table_set_column(t, 1, "v", &v, true, false) == 0);
	return t;
}

/* The index of a table by name, -1 when absent. */
static int index_of(struct wb_snapshot *sn, const char *full)
{
	for (int i = 0; i < wb_snapshot_ntables(sn); i++)
		if (strcmp(wb_snapshot_table(sn, i)->full, full) == 0)
			return i;
	return -1;
}

static void test_restore(void)
{
	/* one part: done/rows/key at the table */
	round_trip(
		"{\"point\":\"0/10\",\"tables\":{\"public.a\":{\"done\":"
		"false,\"rows\":5,\"estimate\":9,\"key\":[\"5\",\"x\"]}}}",
		"{\"public.a\":{\"done\":false,\"estimate\":9,\"key\":[\"5\","
		"\"x\"],\"rows\":5}}",
		__LINE__);
	/* split: the parts come back, the table sums them */
	round_trip(
		"{\"point\":\"0/10\",\"tables\":{\"public.b\":{\"done\":false,"
		"\"rows\":30,\"estimate\":300,\"key\":null,\"parts\":["
		"{\"hi\":\"100\",\"done\":true,\"rows\":100,\"key\":null},"
		"{\"hi\":\"200\",\"done\":false,\"rows\":20,\"key\":[\"120\"]},"
		"{\"hi\":null,\"done\":false,\"rows\":0,\"key\":null}]}}}",
		"{\"public.b\":{\"done\":false,\"estimate\":300,\"key\":null,"
		"\"parts\":[{\"done\":true,\"hi\":\"100\",\"key\":null,"
		"\"rows\":100},{\"done\":false,\"hi\":\"200\",\"key\":[\"120\"]"
		","
		"\"rows\":20},{\"done\":false,\"hi\":null,\"key\":null,"
		"\"rows\":0}],\"rows\":120}}",
		__LINE__);
	/* every part done: the table is done */
	round_trip("{\"tables\":{\"public.c\":{\"done\":true,\"rows\":3,"
		   "\"estimate\":3,\"key\":null,\"parts\":["
		   "{\"hi\":\"1\",\"done\":true,\"rows\":1,\"key\":null},"
		   "{\"hi\":null,\"done\":true,\"rows\":2,\"key\":null}]}}}",
		   "{\"public.c\":{\"done\":true,\"estimate\":3,\"key\":null,"
		   "\"parts\":[{\"done\":true,\"hi\":\"1\",\"key\":null,"
		   "\"rows\":1},{\"done\":true,\"hi\":null,\"key\":null,"
		   "\"rows\":2}],\"rows\":3}}",
		   __LINE__);
	/* not a split (bounds not increasing, an inner part open, a bound
	 * that is no integer, the last part closed): from the start */
	const char *bad[] = {
		"[{\"hi\":\"200\"},{\"hi\":\"100\"},{\"hi\":null}]",
		"[{\"hi\":null},{\"hi\":\"100\"},{\"hi\":null}]",
		"[{\"hi\":\"1x\"},{\"hi\":null}]",
		"[{\"hi\":\"1\"},{\"hi\":\"2\"}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char in[512];
		snprintf(in, sizeof(in),
			 "{\"tables\":{\"public.d\":{\"done\":false,\"rows\":7,"
			 "\"estimate\":50,\"key\":null,\"parts\":%s}}}",
			 bad[i]);
		round_trip(in,
			   "{\"public.d\":{\"done\":false,\"estimate\":50,"
			   "\"key\":null,\"rows\":0}}",
			   __LINE__);
	}
	/* a name that is not qualified, or not an object: ignored */
	round_trip("{\"tables\":{\"nodot\":{\"done\":false},\"db.z\":7,"
		   "\"db.y\":{\"done\":false,\"rows\":1,\"key\":[\"1\"]}}}",
		   "{\"db.y\":{\"done\":false,\"estimate\":-1,\"key\":[\"1\"],"
		   "\"rows\":1}}",
		   __LINE__);
	/* the point comes back; a done table is not pending, one that is not
	 * done is */
	struct wb_snapshot *sn = restored(
		"{\"point\":\"binlog.000042:1234\",\"tables\":{\"db.x\":{"
		"\"done\":true,\"rows\":1,\"estimate\":1,\"key\":null}}}",
		1);
	json_t *st = wb_snapshot_state(sn);
	CHECK_STR(json_string_value(json_object_get(st, "point")),
		  "binlog.000042:1234");
	json_decref(st);
	CHECK(!wb_snapshot_pending(sn));
	CHECK(wb_snapshot_ntables(sn) == 1);
	CHECK_STR(wb_snapshot_table(sn, 0)->full, "db.x");
	CHECK(wb_snapshot_table(sn, 1) == NULL);
	wb_snapshot_free(sn);
	sn = restored("{\"tables\":{\"db.y\":{\"done\":false,\"rows\":1,"
		      "\"key\":[\"1\"]}}}",
		      1);
	CHECK(wb_snapshot_pending(sn));
	wb_snapshot_free(sn);
	/* nothing snapshotted: no state */
	sn = wb_snapshot_new("test", 10, 1);
	CHECK(wb_snapshot_state(sn) == NULL);
	CHECK(!wb_snapshot_pending(sn));
	wb_snapshot_free(sn);
}

static void test_int_text(void)
{
	long long v = 7;
	CHECK(wb_snapshot_int_text("-42", &v) && v == -42);
	CHECK(wb_snapshot_int_text("9223372036854775807", &v) &&
	      v == 9223372036854775807LL);
	CHECK(!wb_snapshot_int_text("9223372036854775808", &v));
	CHECK(!wb_snapshot_int_text("", &v));
	CHECK(!wb_snapshot_int_text(NULL, &v));
	CHECK(!wb_snapshot_int_text("12a", &v));
}

/* When a table is split, and into what. */
static void test_split(void)
{
	wb_error_t err = {0};
	/* parallelism 3, chunks of 10, 100 rows, key 1..91: three parts,
	 * (.., 31], (31, 61], (61, ..) */
	struct wb_snapshot *sn = wb_snapshot_new("test", 10, 3);
	CHECK(wb_snapshot_add(sn, "db.t", &err) == WB_OK);
	CHECK(wb_snapshot_pending(sn));
	wb_snapshot_round_open(sn, 1000, "P");
	CHECK(wb_snapshot_table_open(sn, 0, table_of(WB_T_LONG, true), 100,
				     &err) == WB_OK);
	CHECK(wb_snapshot_split_wanted(sn, 0) == 3);
	CHECK(wb_snapshot_split(sn, 0, 1, 91, 3, &err) == WB_OK);
	struct wb_snapshot_table *t = wb_snapshot_table(sn, 0);
	CHECK(t->np == 3);
	CHECK(t->parts[0].lo == NULL);
	CHECK_STR(t->parts[0].hi, "31");
	CHECK_STR(t->parts[1].lo, "31");
	CHECK_STR(t->parts[1].hi, "61");
	CHECK_STR(t->parts[2].lo, "61");
	CHECK(t->parts[2].hi == NULL);
	EXPECT_TABLES(sn, "{\"db.t\":{\"done\":false,\"estimate\":100,"
			  "\"key\":null,\"parts\":[{\"done\":false,\"hi\":"
			  "\"31\",\"key\":null,\"rows\":0},{\"done\":false,"
			  "\"hi\":\"61\",\"key\":null,\"rows\":0},{\"done\":"
			  "false,\"hi\":null,\"key\":null,\"rows\":0}],"
			  "\"rows\":0}}");
	/* already split: not again */
	CHECK(wb_snapshot_split_wanted(sn, 0) == 0);
	wb_snapshot_free(sn);

	/* up to one part per chunk: 25 rows in chunks of 10 give 2 */
	sn = wb_snapshot_new("test", 10, 8);
	CHECK(wb_snapshot_add(sn, "db.t", &err) == WB_OK);
	CHECK(wb_snapshot_table_open(sn, 0, table_of(WB_T_INT, true), 25,
				     &err) == WB_OK);
	CHECK(wb_snapshot_split_wanted(sn, 0) == 2);
	/* a range too small to divide: one part stays */
	CHECK(wb_snapshot_split(sn, 0, 5, 5, 2, &err) == WB_OK);
	CHECK(wb_snapshot_table(sn, 0)->np == 1);
	/* negative and extreme keys: step (max - min) / 2 without overflow */
	CHECK(wb_snapshot_split(sn, 0, -9223372036854775807LL - 1,
				9223372036854775807LL, 2, &err) == WB_OK);
	t = wb_snapshot_table(sn, 0);
	CHECK(t->np == 2);
	CHECK_STR(t->parts[0].hi, "-1");
	wb_snapshot_free(sn);

	/* no split: one reader; under two chunks; unknown estimate; a text
	 * key; no key */
	struct {
		int parallelism, kind;
		bool keyed;
		int64_t estimate;
	} no[] = {
		{1, WB_T_LONG, true, 1000},  {3, WB_T_LONG, true, 19},
		{3, WB_T_LONG, true, -1},    {3, WB_T_STRING, true, 1000},
		{3, WB_T_LONG, false, 1000},
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		sn = wb_snapshot_new("test", 10, no[i].parallelism);
		CHECK(wb_snapshot_add(sn, "db.t", &err) == WB_OK);
		CHECK(wb_snapshot_table_open(sn, 0,
					     table_of(no[i].kind, no[i].keyed),
					     no[i].estimate, &err) == WB_OK);
		CHECK(wb_snapshot_split_wanted(sn, 0) == 0);
		wb_snapshot_free(sn);
	}
	/* a table resumed after a durable key is not split */
	sn = restored("{\"tables\":{\"db.t\":{\"done\":false,\"rows\":20,"
		      "\"estimate\":1000,\"key\":[\"20\"]}}}",
		      3);
	CHECK(wb_snapshot_table_open(sn, 0, table_of(WB_T_LONG, true), 1000,
				     &err) == WB_OK);
	CHECK(wb_snapshot_split_wanted(sn, 0) == 0);
	wb_snapshot_free(sn);
	/* a split table whose key is no longer one integer: one part again,
	 * from the start */
	sn = restored(
		"{\"tables\":{\"db.t\":{\"done\":false,\"rows\":30,"
		"\"estimate\":300,\"key\":null,\"parts\":["
		"{\"hi\":\"100\",\"done\":true,\"rows\":30,\"key\":null},"
		"{\"hi\":null,\"done\":false,\"rows\":0,\"key\":null}]}}}",
		3);
	CHECK(wb_snapshot_table_open(sn, 0, table_of(WB_T_STRING, true), 300,
				     &err) == WB_OK);
	EXPECT_TABLES(sn, "{\"db.t\":{\"done\":false,\"estimate\":300,"
			  "\"key\":null,\"rows\":0}}");
	wb_snapshot_free(sn);
}

/* A round of one split table: readers, positions, marks, durability. */
static void test_round(void)
{
	wb_error_t err = {0};
	struct wb_snapshot *sn = wb_snapshot_new("test", 2, 2);
	struct wb_batch *b = wb_batch_new();
	CHECK(wb_snapshot_add(sn, "db.t", &err) == WB_OK);
	CHECK(wb_snapshot_add(sn, "db.u", &err) == WB_OK);
	wb_snapshot_round_open(sn, 500, "0/1F4");
	struct wb_table *tt = table_of(WB_T_LONG, true);
	CHECK(wb_snapshot_table_open(sn, 0, tt, 4, &err) == WB_OK);
	CHECK(wb_snapshot_split_wanted(sn, 0) == 2);
	CHECK(wb_snapshot_split(sn, 0, 0, 10, 2, &err) == WB_OK);
	CHECK(wb_snapshot_table_ready(sn, 0, &err) == WB_OK);
	/* db.u is no longer captured */
	wb_snapshot_table_skip(sn, 1);
	CHECK(wb_snapshot_round_readers(sn) == 2);
	wb_snapshot_round_start(sn);
	CHECK(wb_snapshot_active(sn));

	int ti = -1, pi = -1;
	CHECK(wb_snapshot_parts_waiting(sn));
	CHECK(wb_snapshot_take_part(sn, &ti, &pi) && ti == 0 && pi == 0);
	CHECK(wb_snapshot_take_part(sn, &ti, &pi) && ti == 0 && pi == 1);
	CHECK(!wb_snapshot_take_part(sn, &ti, &pi));
	CHECK(!wb_snapshot_parts_waiting(sn));

	/* rows at (P - 1, n) in emission order, whatever the part */
	struct wb_change *c = wb_snapshot_row(sn, 0, 1, b);
	CHECK(c != NULL && c->pos.major == 499 && c->pos.minor == 1);
	CHECK(c->op == WB_OP_READ && c->snapshot && c->table == tt &&
	      c->txid == 0 && c->commit_ts_us > 0);
	c = wb_snapshot_row(sn, 0, 0, b);
	CHECK(c != NULL && c->pos.major == 499 && c->pos.minor == 2);
	wb_position_t p2 = c->pos;
	c = wb_snapshot_row(sn, 0, 1, b);
	wb_position_t p3 = c->pos;
	CHECK(p3.minor == 3 && b->n == 3);

	/* part 0: a chunk ends after key 3; part 1: done */
	char **k = calloc(1, sizeof(char *));
	k[0] = strdup("3");
	CHECK(wb_snapshot_chunk_end(sn, 0, 0, &p2, k, false, &err) == WB_OK);
	k = calloc(1, sizeof(char *));
	k[0] = strdup("9");
	CHECK(wb_snapshot_chunk_end(sn, 0, 1, &p3, k, true, &err) == WB_OK);
	CHECK(!wb_snapshot_round_complete(sn));

	/* nothing durable yet */
	wb_position_t before = {499, 1};
	wb_snapshot_durable(sn, &before);
	EXPECT_TABLES(sn, "{\"db.t\":{\"done\":false,\"estimate\":4,\"key\":"
			  "null,\"parts\":[{\"done\":false,\"hi\":\"5\","
			  "\"key\":null,\"rows\":0},{\"done\":false,\"hi\":"
			  "null,\"key\":null,\"rows\":0}],\"rows\":0},"
			  "\"db.u\":{\"done\":true,\"estimate\":-1,\"key\":"
			  "null,\"rows\":0}}");
	/* the first mark */
	wb_snapshot_durable(sn, &p2);
	EXPECT_TABLES(sn, "{\"db.t\":{\"done\":false,\"estimate\":4,\"key\":"
			  "null,\"parts\":[{\"done\":false,\"hi\":\"5\","
			  "\"key\":[\"3\"],\"rows\":1},{\"done\":false,\"hi\":"
			  "null,\"key\":null,\"rows\":0}],\"rows\":1},"
			  "\"db.u\":{\"done\":true,\"estimate\":-1,\"key\":"
			  "null,\"rows\":0}}");
	/* part 0 ends without a row: its mark at the last position */
	CHECK(wb_snapshot_chunk_end(sn, 0, 0, &p3, NULL, true, &err) == WB_OK);
	CHECK(wb_snapshot_round_complete(sn));
	CHECK(!wb_snapshot_pending(sn));
	wb_snapshot_durable(sn, &p3);
	EXPECT_TABLES(sn, "{\"db.t\":{\"done\":true,\"estimate\":4,\"key\":"
			  "null,\"parts\":[{\"done\":true,\"hi\":\"5\","
			  "\"key\":null,\"rows\":1},{\"done\":true,\"hi\":"
			  "null,\"key\":null,\"rows\":2}],\"rows\":3},"
			  "\"db.u\":{\"done\":true,\"estimate\":-1,\"key\":"
			  "null,\"rows\":0}}");
	wb_position_t np = wb_snapshot_next_position(sn);
	CHECK(np.major == 499 && np.minor == 4);
	wb_snapshot_count_read(sn, 3);
	CHECK(wb_snapshot_rows_read(sn) == 3);
	json_t *st = wb_snapshot_state(sn);
	CHECK_STR(json_string_value(json_object_get(st, "point")), "0/1F4");
	json_decref(st);
	wb_snapshot_round_end(sn);
	CHECK(!wb_snapshot_active(sn));
	CHECK(wb_snapshot_table(sn, 0)->table == NULL);
	CHECK(!wb_snapshot_table(sn, 0)->in_round);
	wb_snapshot_round_end(sn); /* no round: nothing */
	wb_batch_free(b);
	wb_snapshot_free(sn);
}

/* A mark queued before the table is snapshotted from scratch is void. */
static void test_marks_void(void)
{
	wb_error_t err = {0};
	struct wb_snapshot *sn = wb_snapshot_new("test", 2, 1);
	struct wb_batch *b = wb_batch_new();
	CHECK(wb_snapshot_add(sn, "db.t", &err) == WB_OK);
	wb_snapshot_round_open(sn, 10, "10");
	CHECK(wb_snapshot_table_open(sn, 0, table_of(WB_T_LONG, true), -1,
				     &err) == WB_OK);
	CHECK(wb_snapshot_split_wanted(sn, 0) == 0);
	CHECK(wb_snapshot_table_ready(sn, 0, &err) == WB_OK);
	CHECK(wb_snapshot_round_readers(sn) == 1);
	wb_snapshot_round_start(sn);
	int ti, pi;
	CHECK(wb_snapshot_take_part(sn, &ti, &pi));
	struct wb_change *c = wb_snapshot_row(sn, ti, pi, b);
	CHECK(c != NULL);
	wb_position_t p = c->pos;
	char **k = calloc(1, sizeof(char *));
	k[0] = strdup("1");
	CHECK(wb_snapshot_chunk_end(sn, ti, pi, &p, k, false, &err) == WB_OK);
	CHECK(wb_snapshot_add(sn, "db.t", &err) == WB_OK);
	wb_snapshot_durable(sn, &p);
	EXPECT_TABLES(sn, "{\"db.t\":{\"done\":false,\"estimate\":-1,\"key\":"
			  "null,\"rows\":0}}");
	CHECK(wb_snapshot_pending(sn));
	wb_snapshot_round_end(sn);
	wb_batch_free(b);
	wb_snapshot_free(sn);
}

/* round_after(): a round at the same point as the position the pipeline
 * resumes from numbers its rows after it; at another point from 1. */
static void test_round_after(void)
{
	wb_error_t err = {0};
	for (int same = 0; same < 2; same++) {
		struct wb_snapshot *sn = wb_snapshot_new("test", 2, 1);
		struct wb_batch *b = wb_batch_new();
		CHECK(wb_snapshot_add(sn, "db.t", &err) == WB_OK);
		wb_snapshot_round_open(sn, 10, "10");
		wb_position_t resume = {same ? 9 : 8, 41};
		wb_snapshot_round_after(sn, &resume);
		CHECK(wb_snapshot_table_open(sn, 0, table_of(WB_T_LONG, true),
					     -1, &err) == WB_OK);
		CHECK(wb_snapshot_table_ready(sn, 0, &err) == WB_OK);
		wb_snapshot_round_start(sn);
		int ti, pi;
		CHECK(wb_snapshot_take_part(sn, &ti, &pi));
		struct wb_change *c = wb_snapshot_row(sn, ti, pi, b);
		CHECK(c != NULL && c->pos.major == 9);
		CHECK(c != NULL && c->pos.minor == (same ? 42u : 1u));
		wb_snapshot_round_end(sn);
		wb_batch_free(b);
		wb_snapshot_free(sn);
	}
}

/* A round after a restart: a done part is skipped, a part with a durable
 * key resumes after it, a part without one starts from its start; a
 * keyless table starts again from its start. */
static void test_resume(void)
{
	wb_error_t err = {0};
	struct wb_snapshot *sn = restored(
		"{\"point\":\"0/10\",\"tables\":{\"db.t\":{\"done\":false,"
		"\"rows\":30,\"estimate\":300,\"key\":null,\"parts\":["
		"{\"hi\":\"100\",\"done\":true,\"rows\":100,\"key\":null},"
		"{\"hi\":\"200\",\"done\":false,\"rows\":20,\"key\":[\"120\"]},"
		"{\"hi\":null,\"done\":false,\"rows\":0,\"key\":null}]},"
		"\"db.k\":{\"done\":false,\"rows\":7,\"estimate\":9,\"key\":"
		"null}}}",
		4);
	int it = index_of(sn, "db.t"), ik = index_of(sn, "db.k");
	CHECK(it >= 0 && ik >= 0 && it != ik);
	wb_snapshot_round_open(sn, 77, "0/4D");
	CHECK(wb_snapshot_table_open(sn, it, table_of(WB_T_LONG, true), 300,
				     &err) == WB_OK);
	CHECK(wb_snapshot_split_wanted(sn, it) == 0);
	CHECK(wb_snapshot_table_ready(sn, it, &err) == WB_OK);
	CHECK(wb_snapshot_table_open(sn, ik, table_of(WB_T_LONG, false), 9,
				     &err) == WB_OK);
	CHECK(wb_snapshot_table_ready(sn, ik, &err) == WB_OK);
	const struct wb_snapshot_table *t = wb_snapshot_table(sn, it);
	CHECK(t->np == 3);
	CHECK(t->parts[0].assigned && t->parts[0].emitted_done &&
	      t->parts[0].rows == 100);
	CHECK(t->parts[1].cur_key != NULL &&
	      strcmp(t->parts[1].cur_key[0], "120") == 0 &&
	      t->parts[1].rows == 20);
	CHECK_STR(t->parts[1].lo, "100");
	CHECK(t->parts[2].cur_key == NULL && t->parts[2].rows == 0);
	const struct wb_snapshot_table *k = wb_snapshot_table(sn, ik);
	CHECK(k->nkeys == 0 && k->parts[0].cur_key == NULL &&
	      k->parts[0].rows == 0);
	/* three parts left, four readers wanted: three */
	CHECK(wb_snapshot_round_readers(sn) == 3);
	wb_snapshot_round_start(sn);
	/* parts are taken in table order, each once */
	int taken[2] = {0, 0}, ti, pi;
	for (int i = 0; i < 3; i++) {
		CHECK(wb_snapshot_take_part(sn, &ti, &pi));
		CHECK((ti == it && (pi == 1 || pi == 2)) ||
		      (ti == ik && pi == 0));
		taken[ti == it ? 0 : 1] += ti == it ? pi : 1;
	}
	CHECK(taken[0] == 3 && taken[1] == 1);
	CHECK(!wb_snapshot_take_part(sn, &ti, &pi));
	/* the source moves a part's cursor after each chunk */
	char **key = calloc(1, sizeof(char *));
	key[0] = strdup("140");
	wb_snapshot_part_resume_after(sn, it, 1, key);
	CHECK_STR(wb_snapshot_table(sn, it)->parts[1].cur_key[0], "140");
	/* a keyless table's chunk leaves no mark; its end does */
	wb_position_t last = {76, 1};
	CHECK(wb_snapshot_chunk_end(sn, ik, 0, &last, NULL, false, &err) ==
	      WB_OK);
	wb_snapshot_durable(sn, &last);
	EXPECT_TABLES(sn, "{\"db.k\":{\"done\":false,\"estimate\":9,\"key\":"
			  "null,\"rows\":7},\"db.t\":{\"done\":false,"
			  "\"estimate\":300,\"key\":null,\"parts\":[{\"done\":"
			  "true,\"hi\":\"100\",\"key\":null,\"rows\":100},"
			  "{\"done\":false,\"hi\":\"200\",\"key\":[\"120\"],"
			  "\"rows\":20},{\"done\":false,\"hi\":null,\"key\":"
			  "null,\"rows\":0}],\"rows\":120}}");
	CHECK(wb_snapshot_chunk_end(sn, ik, 0, &last, NULL, true, &err) ==
	      WB_OK);
	wb_snapshot_durable(sn, &last);
	EXPECT_TABLES(sn, "{\"db.k\":{\"done\":true,\"estimate\":9,\"key\":"
			  "null,\"rows\":0},\"db.t\":{\"done\":false,"
			  "\"estimate\":300,\"key\":null,\"parts\":[{\"done\":"
			  "true,\"hi\":\"100\",\"key\":null,\"rows\":100},"
			  "{\"done\":false,\"hi\":\"200\",\"key\":[\"120\"],"
			  "\"rows\":20},{\"done\":false,\"hi\":null,\"key\":"
			  "null,\"rows\":0}],\"rows\":120}}");
	wb_snapshot_round_end(sn);
	wb_snapshot_free(sn);
}

int main(void)
{
	test_restore();
	test_int_text();
	test_split();
	test_round();
	test_marks_void();
	test_round_after();
	test_resume();
	if (failures)
		fprintf(stderr, "test_snapshot_progress: %d check(s) failed\n",
			failures);
	else
		printf("test_snapshot_progress: ok\n");
	return failures != 0;
}
