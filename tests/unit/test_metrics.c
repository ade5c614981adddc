/* test_metrics.c — the delivery ring (per-table delivered counts, latency
 * observations, oldest undelivered commit), the latency buckets, the
 * table registry, readiness and the text format. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "change.h"
#include "check.h"
#include "metrics.h"
#include "metrics_delivery.h"
#include "table.h"

static wb_position_t pos(uint64_t major, uint64_t minor)
{
	wb_position_t p = {major, minor};
	return p;
}

static void test_buckets(void)
{
	wb_metrics_init("p", "postgres", "avro-file");
	wb_metrics_observe_latency(1000000, 1000000 - 1000, 2);	 /* 1 ms: le */
	wb_metrics_observe_latency(1000000, 1000000 - 1001, 1);	 /* > 1 ms */
	wb_metrics_observe_latency(1000000, 1000000 - 40000, 3); /* 50 ms */
	wb_metrics_observe_latency(100000000, 100000000 - 61000000, 1);
	wb_metrics_observe_latency(1000000, 0, 5); /* snapshot: ignored */
	wb_metrics_observe_latency(1000, 5000, 1); /* clock skew: 0 */
	CHECK(wb_mget(&wb_metrics.lat_bucket[0]) == 3);
	CHECK(wb_mget(&wb_metrics.lat_bucket[1]) == 1);
	CHECK(wb_mget(&wb_metrics.lat_bucket[5]) == 3);
	CHECK(wb_mget(&wb_metrics.lat_bucket[WB_METRICS_NBUCKETS]) == 1);
	CHECK(wb_mget(&wb_metrics.lat_count) == 8);
	CHECK(wb_mget(&wb_metrics.lat_sum_us) ==
	      2 * 1000 + 1001 + 3 * 40000 + 61000000);
}

static void test_registry(void)
{
	wb_metrics_init("p", "postgres", "avro-file");
	struct wb_table *a = wb_table_new("db", "public", "items", 1);
	struct wb_table *a2 = wb_table_new("db", "public", "items", 2);
	struct wb_table *b = wb_table_new("erp", "", "orders", 1);
	CHECK(a && a2 && b);
	struct wb_mtable *ma = wb_metrics_table(a);
	CHECK(wb_metrics_table(a2) == ma); /* a new version, same slot */
	CHECK(atomic_load(&a->metrics_slot) == 1);
	struct wb_mtable *mb = wb_metrics_table(b);
	CHECK_STR(ma->name, "public.items");
	CHECK_STR(mb->name, "erp.orders"); /* MySQL: db.table */
	CHECK(wb_metrics_table_named("public.items") == ma);
	CHECK(atomic_load(&wb_metrics.ntables) == 2);
	wb_table_unref(a);
	wb_table_unref(a2);
	wb_table_unref(b);
}

static void test_ring(void)
{
	wb_metrics_init("p", "postgres", "avro-file");
	struct wb_table *t = wb_table_new("db", "public", "t", 1);
	struct wb_table *u = wb_table_new("db", "public", "u", 1);
	struct wb_mtable *mt = wb_metrics_table(t), *mu = wb_metrics_table(u);
	struct wb_mdeliv d;
	wb_mdeliv_init(&d, 4);
	int64_t now = 10000000;
	/* txn 1 (commit at now - 20 ms): 3 inserts into t, 1 update of u */
	for (int i = 1; i <= 3; i++) {
		wb_position_t p = pos(100, (uint64_t)i);
		wb_mdeliv_written(&d, mt, 0, &p, now - 20000, now);
	}
	wb_position_t p4 = pos(100, 4);
	wb_mdeliv_written(&d, mu, 1, &p4, now - 20000, now);
	/* snapshot rows: no commit time */
	wb_position_t p5 = pos(150, 1);
	wb_mdeliv_written(&d, mt, 3, &p5, 0, now);
	/* txn 2 (commit at now - 5 ms): a delete from t */
	wb_position_t p6 = pos(200, 1);
	wb_mdeliv_written(&d, mt, 2, &p6, now - 5000, now);
	CHECK(d.len == 4); /* the three inserts coalesced into one run */
	CHECK(wb_mdeliv_oldest_commit(&d) == now - 20000);

	/* delivered up to the second insert: the run is not complete */
	wb_position_t upto = pos(100, 2);
	wb_mdeliv_delivered(&d, &upto, now + 1000);
	CHECK(wb_mget(&mt->delivered[0]) == 0);
	upto = pos(100, 4);
	wb_mdeliv_delivered(&d, &upto, now + 1000);
	CHECK(wb_mget(&mt->delivered[0]) == 3);
	CHECK(wb_mget(&mu->delivered[1]) == 1);
	CHECK(d.len == 2);
	CHECK(wb_mget(&wb_metrics.lat_count) == 4);
	CHECK(wb_mget(&wb_metrics.lat_bucket[4]) == 4); /* 21 ms: le 25 ms */
	CHECK(wb_mget(&wb_metrics.last_delivered_commit_us) ==
	      (uint64_t)(now - 20000));
	/* the snapshot run is skipped when looking for the oldest commit */
	CHECK(wb_mdeliv_oldest_commit(&d) == now - 5000);

	/* the ring is full (4 runs): a fifth run counts as delivered now */
	wb_position_t q = pos(300, 1);
	wb_mdeliv_written(&d, mu, 0, &q, now - 1000, now);
	q = pos(300, 2);
	wb_mdeliv_written(&d, mt, 0, &q, now - 1000, now);
	q = pos(300, 3);
	wb_mdeliv_written(&d, mu, 2, &q, now - 1000, now);
	CHECK(d.len == 4);
	CHECK(wb_mget(&mu->delivered[2]) == 1); /* counted at once */
	upto = pos(400, 0);
	wb_mdeliv_delivered(&d, &upto, now + 2000);
	CHECK(d.len == 0);
	CHECK(wb_mget(&mt->delivered[3]) == 1);
	CHECK(wb_mget(&mt->delivered[2]) == 1);
	CHECK(wb_mget(&mu->delivered[0]) == 1);
	CHECK(wb_mget(&mt->delivered[0]) == 4);
	CHECK(wb_mget(&wb_metrics.lat_count) == 8); /* snapshot row not */
	CHECK(wb_mdeliv_oldest_commit(&d) == 0);
	wb_mdeliv_free(&d);
	wb_table_unref(t);
	wb_table_unref(u);
}

static void test_render(void)
{
	wb_metrics_init("p\"1", "postgres", "avro-file");
	struct wb_table *t = wb_table_new("db", "public", "it\"ems", 1);
	struct wb_batch *b = wb_batch_new();
	for (int i = 0; i < 3; i++) {
		struct wb_change *c = wb_batch_add(b);
		c->op = i == 2 ? 'u' : 'c';
		c->table = wb_batch_hold(b, t);
		c->pos = pos(77, (uint64_t)i + 1);
		c->commit_ts_us = 5;
	}
	wb_metrics_count_read(b);
	CHECK(wb_mget(&wb_metrics.source_position) == 77);
	CHECK(wb_mget(&wb_metrics.last_read_commit_us) == 5);
	size_t len = 0;
	char *text = wb_metrics_render(&len);
	CHECK(text != NULL && strlen(text) == len);
	CHECK(text &&
	      strstr(text, "waybill_events_read_total{pipeline=\"p\\\"1\","
			   "table=\"public.it\\\"ems\",op=\"c\"} 2\n"));
	CHECK(text &&
	      strstr(text, "waybill_events_read_total{pipeline=\"p\\\"1\","
			   "table=\"public.it\\\"ems\",op=\"u\"} 1\n"));
	CHECK(text && strstr(text, "# TYPE waybill_delivery_latency_seconds "
				   "histogram\n"));
	CHECK(text && strstr(text, "waybill_delivery_latency_seconds_bucket{"
				   "pipeline=\"p\\\"1\",le=\"0.001\"} 0\n"));
	CHECK(text && strstr(text, "waybill_delivery_latency_seconds_bucket{"
				   "pipeline=\"p\\\"1\",le=\"60\"} 0\n"));
	CHECK(text && strstr(text, "waybill_ready{pipeline=\"p\\\"1\"} 0\n"));
	CHECK(text &&
	      strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
	/* no slot figure yet: the family is left out */
	CHECK(text && !strstr(text, "waybill_source_slot_retained_wal_bytes"));
	free(text);
	wb_batch_free(b);
	wb_table_unref(t);
}

static void test_ready(void)
{
	char why[200];
	wb_metrics_init("p", "postgres", "avro-file");
	CHECK(!wb_metrics_ready(60, why, sizeof(why)));
	CHECK_STR(why, "not streaming");
	atomic_store(&wb_metrics.running, true);
	wb_metrics_source_up();
	CHECK(wb_metrics_ready(60, why, sizeof(why)));
	CHECK_STR(why, "ready");
	wb_metrics_source_down();
	CHECK(!wb_metrics_ready(60, why, sizeof(why)));
	CHECK_STR(why, "source not connected");
	CHECK(wb_mget(&wb_metrics.source_outages) == 1);
	wb_metrics_source_down(); /* the same outage */
	CHECK(wb_mget(&wb_metrics.source_outages) == 1);
	wb_metrics_source_up();
	wb_metrics_sink_down();
	CHECK(!wb_metrics_ready(60, why, sizeof(why)));
	CHECK_STR(why, "sink outage");
	wb_metrics_sink_up();
	/* the checkpoint 90 s behind what was written */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	wb_mset(&wb_metrics.checkpoint_behind_since_ms,
		(uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 -
			90000);
	CHECK(!wb_metrics_ready(60, why, sizeof(why)));
	CHECK(strncmp(why, "checkpoint 90 s behind", 22) == 0);
	CHECK(wb_metrics_ready(120, why, sizeof(why)));
	wb_mset(&wb_metrics.gap, 1);
	CHECK(!wb_metrics_ready(120, why, sizeof(why)));
	CHECK(strncmp(why, "gap:", 4) == 0);
	CHECK(wb_metrics_healthy(60, why, sizeof(why)));
	wb_mset(&wb_metrics.sink_heartbeat_ms, 1);
	CHECK(!wb_metrics_healthy(60, why, sizeof(why)));
	CHECK(strncmp(why, "sink thread silent", 18) == 0);
}

static void test_proc(void)
{
	struct wb_proc_stats st;
	CHECK(wb_metrics_proc(&st) == 0);
	CHECK(st.rss_bytes > 0);
	CHECK(st.threads == 1);
	CHECK(st.open_fds >= 3);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	CHECK(st.start_time_s > (double)ts.tv_sec - 600 &&
	      st.start_time_s <= (double)ts.tv_sec + 1);
}

int main(void)
{
	test_buckets();
	test_registry();
	test_ring();
	test_render();
	test_ready();
	test_proc();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
