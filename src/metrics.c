/* metrics.c — the process-wide counters: table registry, latency
 * histogram, outage bookkeeping, and the derived view (lag, readiness). */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "change.h"
#include "clock.h"

struct wb_metrics wb_metrics;

const uint64_t wb_metrics_buckets_us[WB_METRICS_NBUCKETS] = {
	1000,	  2500,	    5000,     10000,	25000,	 50000,
	100000,	  250000,   500000,   1000000,	2500000, 5000000,
	10000000, 20000000, 30000000, 60000000,
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;

void wb_metrics_init(const char *pipeline, const char *source_type,
		     const char *sink_type)
{
	pthread_mutex_lock(&registry_mu);
	memset(&wb_metrics, 0, sizeof(wb_metrics));
	snprintf(wb_metrics.pipeline, sizeof(wb_metrics.pipeline), "%s",
		 pipeline ? pipeline : "");
	snprintf(wb_metrics.source_type, sizeof(wb_metrics.source_type), "%s",
		 source_type ? source_type : "");
	snprintf(wb_metrics.sink_type, sizeof(wb_metrics.sink_type), "%s",
		 sink_type ? sink_type : "");
	wb_mset(&wb_metrics.slot_retained_bytes, UINT64_MAX);
	wb_metrics.ready_checkpoint_age_s = 60;
	long long now = wb_clock_mono_ms();
	wb_mset(&wb_metrics.source_heartbeat_ms, (uint64_t)now);
	wb_mset(&wb_metrics.sink_heartbeat_ms, (uint64_t)now);
	struct wb_mtable *o = &wb_metrics.tables[WB_METRICS_MAX_TABLES];
	snprintf(o->name, sizeof(o->name), "_other");
	pthread_mutex_unlock(&registry_mu);
}

/* Under registry_mu: the slot named `name`, added if new. */
static int slot_of(const char *name)
{
	int n = atomic_load(&wb_metrics.ntables);
	for (int i = 0; i < n; i++)
		if (strcmp(wb_metrics.tables[i].name, name) == 0)
			return i;
	if (n == WB_METRICS_MAX_TABLES)
		return WB_METRICS_MAX_TABLES;
	struct wb_mtable *t = &wb_metrics.tables[n];
	snprintf(t->name, sizeof(t->name), "%s", name);
	wb_mset(&t->snap_estimate, UINT64_MAX);
	/* published after the name is written: readers take [0, ntables) */
	atomic_store_explicit(&wb_metrics.ntables, n + 1, memory_order_release);
	return n;
}

struct wb_mtable *wb_metrics_table_named(const char *name)
{
	pthread_mutex_lock(&registry_mu);
	int i = slot_of(name);
	pthread_mutex_unlock(&registry_mu);
	return &wb_metrics.tables[i];
}

struct wb_mtable *wb_metrics_table(struct wb_table *t)
{
	int s = atomic_load_explicit(&t->metrics_slot, memory_order_relaxed);
	if (s > 0)
		return &wb_metrics.tables[s - 1];
	char name[192];
	snprintf(name, sizeof(name), "%s.%s",
		 t->schema && t->schema[0] ? t->schema : t->db, t->name);
	pthread_mutex_lock(&registry_mu);
	int i = slot_of(name);
	pthread_mutex_unlock(&registry_mu);
	atomic_store_explicit(&t->metrics_slot, i + 1, memory_order_relaxed);
	return &wb_metrics.tables[i];
}

struct wb_mmapping *wb_metrics_mapping(const char *name)
{
	int n = atomic_load(&wb_metrics.nmappings);
	for (int i = 0; i < n; i++)
		if (strcmp(wb_metrics.mappings[i].name, name) == 0)
			return &wb_metrics.mappings[i];
	if (n == WB_METRICS_MAX_MAPPINGS)
		return NULL;
	struct wb_mmapping *m = &wb_metrics.mappings[n];
	snprintf(m->name, sizeof(m->name), "%s", name);
	atomic_store_explicit(&wb_metrics.nmappings, n + 1,
			      memory_order_release);
	return m;
}

void wb_metrics_count_read(const struct wb_batch *b)
{
	struct wb_table *last = NULL;
	struct wb_mtable *mt = NULL;
	int64_t commit = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct wb_change *c = &b->changes[i];
		int op = wb_metrics_op_index(c->op);
		if (op < 0 || c->table == NULL)
			continue;
		if (c->table != last) {
			last = c->table;
			mt = wb_metrics_table(last);
		}
		wb_mcount_add(&mt->read[op], 1);
		if (!c->snapshot && c->commit_ts_us > 0)
			commit = c->commit_ts_us;
	}
	if (b->n > 0 && !b->changes[b->n - 1].snapshot &&
	    b->changes[b->n - 1].op != 'r')
		wb_mset(&wb_metrics.source_position,
			b->changes[b->n - 1].pos.major);
	if (commit)
		wb_mset(&wb_metrics.last_read_commit_us, (uint64_t)commit);
	wb_mcount_add(&wb_metrics.source_bytes, wb_batch_bytes(b));
}

void wb_metrics_observe_latency(int64_t now_us, int64_t commit_us, uint64_t n)
{
	if (commit_us <= 0 || n == 0)
		return;
	uint64_t d = now_us > commit_us ? (uint64_t)(now_us - commit_us) : 0;
	int i = 0;
	while (i < WB_METRICS_NBUCKETS && d > wb_metrics_buckets_us[i])
		i++;
	wb_mcount_add(&wb_metrics.lat_bucket[i], n);
	wb_mcount_add(&wb_metrics.lat_count, n);
	wb_mcount_add(&wb_metrics.lat_sum_us, d * n);
}

void wb_metrics_source_down(void)
{
	wb_mset(&wb_metrics.source_connected, 0);
	if (wb_mget(&wb_metrics.source_outage_start_ms) == 0) {
		wb_mcount_add(&wb_metrics.source_outages, 1);
		wb_mset(&wb_metrics.source_outage_start_ms,
			(uint64_t)wb_clock_mono_ms());
	}
}

void wb_metrics_source_up(void)
{
	uint64_t t0 = wb_mget(&wb_metrics.source_outage_start_ms);
	if (t0) {
		wb_mcount_add(&wb_metrics.source_outage_ms,
			      (uint64_t)wb_clock_mono_ms() - t0);
		wb_mset(&wb_metrics.source_outage_start_ms, 0);
	}
	wb_mset(&wb_metrics.source_connected, 1);
}

void wb_metrics_sink_down(void)
{
	if (wb_mget(&wb_metrics.sink_outage_start_ms) == 0) {
		wb_mcount_add(&wb_metrics.sink_outages, 1);
		wb_mset(&wb_metrics.sink_outage_start_ms,
			(uint64_t)wb_clock_mono_ms());
	}
}

void wb_metrics_sink_up(void)
{
	uint64_t t0 = wb_mget(&wb_metrics.sink_outage_start_ms);
	if (t0) {
		wb_mcount_add(&wb_metrics.sink_outage_ms,
			      (uint64_t)wb_clock_mono_ms() - t0);
		wb_mset(&wb_metrics.sink_outage_start_ms, 0);
	}
}

void wb_metrics_view(struct wb_metrics_view *v)
{
	memset(v, 0, sizeof(*v));
	int n = atomic_load_explicit(&wb_metrics.ntables, memory_order_acquire);
	for (int i = 0; i <= WB_METRICS_MAX_TABLES; i++) {
		if (i >= n && i != WB_METRICS_MAX_TABLES)
			continue;
		for (int op = 0; op < WB_METRICS_NOPS; op++) {
			v->read += wb_mget(&wb_metrics.tables[i].read[op]);
			v->delivered +=
				wb_mget(&wb_metrics.tables[i].delivered[op]);
		}
	}
	int64_t now_us = wb_clock_real_ms() * 1000;
	uint64_t oldest = wb_mget(&wb_metrics.oldest_undelivered_commit_us);
	v->lag_s = oldest && (int64_t)oldest < now_us
			   ? (double)(now_us - (int64_t)oldest) / 1e6
			   : 0;
	uint64_t last = wb_mget(&wb_metrics.last_delivered_commit_us);
	v->last_delivered_age_s =
		last == 0 ? -1
		: (int64_t)last < now_us
			? (double)(now_us - (int64_t)last) / 1e6
			: 0;
	uint64_t server = wb_mget(&wb_metrics.server_position);
	uint64_t ckpt = wb_mget(&wb_metrics.checkpoint_position);
	uint64_t own = wb_mget(&wb_metrics.source_lag_bytes);
	v->lag_bytes = own	       ? (int64_t)(own - 1)
		       : server == 0   ? -1
		       : server > ckpt ? (int64_t)(server - ckpt)
				       : 0;
	uint64_t behind = wb_mget(&wb_metrics.checkpoint_behind_since_ms);
	v->checkpoint_age_s =
		behind && (int64_t)behind * 1000 < now_us
			? (double)(now_us / 1000 - (int64_t)behind) / 1e3
			: 0;
	long long mono = wb_clock_mono_ms();
	v->source_heartbeat_age_s =
		(double)(mono -
			 (long long)wb_mget(&wb_metrics.source_heartbeat_ms)) /
		1e3;
	v->sink_heartbeat_age_s =
		(double)(mono -
			 (long long)wb_mget(&wb_metrics.sink_heartbeat_ms)) /
		1e3;
	v->source_connected = wb_mget(&wb_metrics.source_connected) != 0;
	v->sink_connected = wb_mget(&wb_metrics.sink_outage_start_ms) == 0;
	v->gap = wb_mget(&wb_metrics.gap) != 0;
	v->failed = wb_mget(&wb_metrics.failed) != 0;
}

bool wb_metrics_ready(double max_checkpoint_age_s, char *why, size_t n)
{
	struct wb_metrics_view v;
	wb_metrics_view(&v);
	const char *r = NULL;
	char buf[128];
	if (v.gap)
		r = "gap: the source cannot continue from the checkpoint";
	else if (v.failed)
		r = "the pipeline stopped on an error";
	else if (!atomic_load(&wb_metrics.running))
		r = "not streaming";
	else if (!v.source_connected)
		r = "source not connected";
	else if (!v.sink_connected)
		r = "sink outage";
	else if (v.checkpoint_age_s > max_checkpoint_age_s) {
		snprintf(buf, sizeof(buf),
			 "checkpoint %.0f s behind what was written (bound "
			 "%.0f s)",
			 v.checkpoint_age_s, max_checkpoint_age_s);
		r = buf;
	}
	snprintf(why, n, "%s", r ? r : "ready");
	return r == NULL;
}

bool wb_metrics_healthy(double max_s, char *why, size_t n)
{
	struct wb_metrics_view v;
	wb_metrics_view(&v);
	if (v.source_heartbeat_age_s > max_s) {
		snprintf(why, n, "source thread silent for %.0f s",
			 v.source_heartbeat_age_s);
		return false;
	}
	if (v.sink_heartbeat_age_s > max_s) {
		snprintf(why, n, "sink thread silent for %.0f s",
			 v.sink_heartbeat_age_s);
		return false;
	}
	snprintf(why, n, "ok");
	return true;
}
