/* test_pg_snapshot_state.c — the snapshot progress a checkpoint holds:
 * restored and written back unchanged (a table in one part, a table split
 * into parts), and parts that are not a split of the key read again from
 * the table's start. No server: restore() and state() only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "pg_snapshot.h"
#include "check.h"

/* restore(in) then state(): the JSON text of "tables" (sorted keys). */
static char *round_trip(const char *in)
{
	struct wb_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.source.snapshot_parallelism = 3;
	struct wb_pg_snapshot *sn = wb_pg_snapshot_new(&cfg);
	CHECK(sn != NULL);
	json_error_t je;
	json_t *st = json_loads(in, 0, &je);
	CHECK(st != NULL);
	wb_error_t err = {0};
	CHECK(wb_pg_snapshot_restore(sn, st, &err) == WB_OK);
	json_decref(st);
	json_t *out = wb_pg_snapshot_state(sn);
	CHECK(out != NULL);
	char *text = json_dumps(json_object_get(out, "tables"),
				JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(out);
	wb_pg_snapshot_free(sn);
	return text;
}

static void expect(const char *in, const char *want)
{
	char *got = round_trip(in);
	CHECK(got != NULL && strcmp(got, want) == 0);
	if (got && strcmp(got, want) != 0)
		fprintf(stderr, "in:   %s\ngot:  %s\nwant: %s\n", in, got,
			want);
	free(got);
}

int main(void)
{
	/* one part: done/rows/key at the table */
	expect("{\"point\":\"0/10\",\"tables\":{\"public.a\":{\"done\":false,"
	       "\"rows\":5,\"estimate\":9,\"key\":[\"5\",\"x\"]}}}",
	       "{\"public.a\":{\"done\":false,\"estimate\":9,\"key\":[\"5\","
	       "\"x\"],\"rows\":5}}");
	/* split: the parts come back, the table sums them */
	expect("{\"point\":\"0/10\",\"tables\":{\"public.b\":{\"done\":false,"
	       "\"rows\":30,\"estimate\":300,\"key\":null,\"parts\":["
	       "{\"hi\":\"100\",\"done\":true,\"rows\":100,\"key\":null},"
	       "{\"hi\":\"200\",\"done\":false,\"rows\":20,\"key\":[\"120\"]},"
	       "{\"hi\":null,\"done\":false,\"rows\":0,\"key\":null}]}}}",
	       "{\"public.b\":{\"done\":false,\"estimate\":300,\"key\":null,"
	       "\"parts\":[{\"done\":true,\"hi\":\"100\",\"key\":null,"
	       "\"rows\":100},{\"done\":false,\"hi\":\"200\",\"key\":[\"120\"],"
	       "\"rows\":20},{\"done\":false,\"hi\":null,\"key\":null,"
	       "\"rows\":0}],\"rows\":120}}");
	/* every part done: the table is done */
	expect("{\"tables\":{\"public.c\":{\"done\":true,\"rows\":3,"
	       "\"estimate\":3,\"key\":null,\"parts\":["
	       "{\"hi\":\"1\",\"done\":true,\"rows\":1,\"key\":null},"
	       "{\"hi\":null,\"done\":true,\"rows\":2,\"key\":null}]}}}",
	       "{\"public.c\":{\"done\":true,\"estimate\":3,\"key\":null,"
	       "\"parts\":[{\"done\":true,\"hi\":\"1\",\"key\":null,\"rows\":1}"
	       ","
	       "{\"done\":true,\"hi\":null,\"key\":null,\"rows\":2}],"
	       "\"rows\":3}}");
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
		expect(in, "{\"public.d\":{\"done\":false,\"estimate\":50,"
			   "\"key\":null,\"rows\":0}}");
	}
	if (failures)
		fprintf(stderr, "test_pg_snapshot_state: %d check(s) failed\n",
			failures);
	else
		printf("test_pg_snapshot_state: ok\n");
	return failures != 0;
}
