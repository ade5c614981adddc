/* test_pg_snapshot_state.c — the PostgreSQL snapshot's checkpoint state
 * through its own entry points: a state as PostgreSQL checkpoints hold it
 * (point an LSN, tables "schema.table", one split) restores and is written
 * back unchanged, and a table added by schema and name is keyed
 * "schema.name". No server. The tracker itself is tested in
 * test_snapshot_progress.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "pg_snapshot.h"
#include "check.h"

static const char *const saved =
	"{\"point\":\"0/1A2B3C8\",\"tables\":{"
	"\"public.orders\":{\"done\":false,\"rows\":20000,\"estimate\":"
	"1000000,\"key\":[\"20000\"]},"
	"\"shop.lines\":{\"done\":false,\"rows\":130000,\"estimate\":300000,"
	"\"key\":null,\"parts\":["
	"{\"hi\":\"100000\",\"done\":true,\"rows\":100000,\"key\":null},"
	"{\"hi\":\"200000\",\"done\":false,\"rows\":30000,\"key\":[\"130000\"]}"
	","
	"{\"hi\":null,\"done\":false,\"rows\":0,\"key\":null}]},"
	"\"public.gone\":{\"done\":true,\"rows\":0,\"estimate\":-1,\"key\":"
	"null},"
	"\"public.pairs\":{\"done\":false,\"rows\":5,\"estimate\":9,\"key\":"
	"[\"5\",\"x y\"]}}}";

int main(void)
{
	struct wb_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.source.snapshot_parallelism = 3;
	struct wb_pg_snapshot *sn = wb_pg_snapshot_new(&cfg);
	CHECK(sn != NULL);
	json_error_t je;
	json_t *in = json_loads(saved, 0, &je);
	CHECK(in != NULL);
	wb_error_t err = {0};
	CHECK(wb_pg_snapshot_restore(sn, in, &err) == WB_OK);
	CHECK(wb_pg_snapshot_pending(sn));
	CHECK(!wb_pg_snapshot_active(sn));
	json_t *out = wb_pg_snapshot_state(sn);
	CHECK(out != NULL && json_equal(in, out));
	if (out && !json_equal(in, out)) {
		char *got = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
		fprintf(stderr, "got: %s\n", got ? got : "?");
		free(got);
	}
	json_decref(out);

	/* added by schema and name: from scratch, keyed "schema.name" */
	CHECK(wb_pg_snapshot_add(sn, "public", "orders", &err) == WB_OK);
	CHECK(wb_pg_snapshot_add(sn, "new", "t", &err) == WB_OK);
	out = wb_pg_snapshot_state(sn);
	json_t *tables = json_object_get(out, "tables");
	CHECK(json_object_size(tables) == 5);
	char *o = json_dumps(json_object_get(tables, "public.orders"),
			     JSON_SORT_KEYS | JSON_COMPACT);
	CHECK_STR(o, "{\"done\":false,\"estimate\":1000000,\"key\":null,"
		     "\"rows\":0}");
	free(o);
	char *t = json_dumps(json_object_get(tables, "new.t"),
			     JSON_SORT_KEYS | JSON_COMPACT);
	CHECK_STR(t, "{\"done\":false,\"estimate\":-1,\"key\":null,"
		     "\"rows\":0}");
	free(t);
	CHECK_STR(json_string_value(json_object_get(out, "point")),
		  "0/1A2B3C8");
	json_decref(out);
	json_decref(in);
	CHECK(wb_pg_snapshot_rows_read(sn) == 0);
	wb_pg_snapshot_free(sn);

	if (failures)
		fprintf(stderr, "test_pg_snapshot_state: %d check(s) failed\n",
			failures);
	else
		printf("test_pg_snapshot_state: ok\n");
	return failures != 0;
}
