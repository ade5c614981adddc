/* metrics_text.c — the metrics in the Prometheus text exposition format
 * (version 0.0.4): one HELP and TYPE line per family, then its samples. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"

static void put(struct wb_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct wb_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		wb_buf_append(b, tmp, (size_t)n);
		return;
	}
	if (wb_buf_reserve(b, (size_t)n + 1) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A label value with \, " and newline escaped, as the format requires. */
static void esc(char *out, size_t n, const char *s)
{
	size_t j = 0;
	for (; *s && j + 3 < n; s++) {
		if (*s == '\\' || *s == '"') {
			out[j++] = '\\';
			out[j++] = *s;
		} else if (*s == '\n') {
			out[j++] = '\\';
			out[j++] = 'n';
		} else {
			out[j++] = *s;
		}
	}
	out[j] = '\0';
}

static void family(struct wb_buf *b, const char *name, const char *type,
		   const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{pipeline="p"} value */
static void one(struct wb_buf *b, const char *pl, const char *name,
		const char *type, const char *help, double v)
{
	family(b, name, type, help);
	put(b, "%s{pipeline=\"%s\"} %.17g\n", name, pl, v);
}

static const char op_names[WB_METRICS_NOPS] = {'c', 'u', 'd', 'r', 't'};

static void per_table_ops(struct wb_buf *b, const char *pl, const char *name,
			  const char *help, int ntables, bool delivered)
{
	family(b, name, "counter", help);
	for (int i = 0; i <= WB_METRICS_MAX_TABLES; i++) {
		if (i >= ntables && i != WB_METRICS_MAX_TABLES)
			continue;
		struct wb_mtable *t = &wb_metrics.tables[i];
		char tn[400];
		esc(tn, sizeof(tn), t->name);
		for (int op = 0; op < WB_METRICS_NOPS; op++) {
			uint64_t v = wb_mget(delivered ? &t->delivered[op]
						       : &t->read[op]);
			if (v == 0)
				continue;
			put(b,
			    "%s{pipeline=\"%s\",table=\"%s\",op=\"%c\"} %llu\n",
			    name, pl, tn, op_names[op], (unsigned long long)v);
		}
	}
}

static void histogram(struct wb_buf *b, const char *pl)
{
	const char *name = "waybill_delivery_latency_seconds";
	family(b, name, "histogram",
	       "Time from the source's commit to the sink's acknowledgement, "
	       "per delivered change (snapshot rows not included).");
	uint64_t cum = 0;
	for (int i = 0; i < WB_METRICS_NBUCKETS; i++) {
		cum += wb_mget(&wb_metrics.lat_bucket[i]);
		put(b, "%s_bucket{pipeline=\"%s\",le=\"%g\"} %llu\n", name, pl,
		    (double)wb_metrics_buckets_us[i] / 1e6,
		    (unsigned long long)cum);
	}
	cum += wb_mget(&wb_metrics.lat_bucket[WB_METRICS_NBUCKETS]);
	/* the count is written after the buckets: read it last, so that
	 * count >= every bucket even while deliveries go on */
	uint64_t sum = wb_mget(&wb_metrics.lat_sum_us);
	put(b, "%s_bucket{pipeline=\"%s\",le=\"+Inf\"} %llu\n", name, pl,
	    (unsigned long long)cum);
	put(b, "%s_sum{pipeline=\"%s\"} %.6f\n", name, pl, (double)sum / 1e6);
	put(b, "%s_count{pipeline=\"%s\"} %llu\n", name, pl,
	    (unsigned long long)cum);
}

static double secs_ms(wb_mcounter_t *c)
{
	return (double)wb_mget(c) / 1e3;
}

static void snapshots(struct wb_buf *b, const char *pl, int ntables)
{
	family(b, "waybill_snapshot_rows", "gauge",
	       "Rows of the table read by the current or last snapshot.");
	for (int i = 0; i < ntables; i++) {
		struct wb_mtable *t = &wb_metrics.tables[i];
		if (!atomic_load(&t->snap_seen))
			continue;
		char tn[400];
		esc(tn, sizeof(tn), t->name);
		put(b,
		    "waybill_snapshot_rows{pipeline=\"%s\",table=\"%s\"} "
		    "%llu\n",
		    pl, tn, (unsigned long long)wb_mget(&t->snap_rows));
	}
	family(b, "waybill_snapshot_rows_estimated", "gauge",
	       "The server's estimate of the table's rows when its snapshot "
	       "started (absent when unknown).");
	for (int i = 0; i < ntables; i++) {
		struct wb_mtable *t = &wb_metrics.tables[i];
		uint64_t e = wb_mget(&t->snap_estimate);
		if (!atomic_load(&t->snap_seen) || e == UINT64_MAX)
			continue;
		char tn[400];
		esc(tn, sizeof(tn), t->name);
		put(b,
		    "waybill_snapshot_rows_estimated{pipeline=\"%s\",table=\"%"
		    "s\"} "
		    "%llu\n",
		    pl, tn, (unsigned long long)e);
	}
}

static void mappings(struct wb_buf *b, const char *pl)
{
	int nm = atomic_load_explicit(&wb_metrics.nmappings,
				      memory_order_acquire);
	family(b, "waybill_mapped_events_total", "counter",
	       "Canonical events produced, per mapping.");
	for (int i = 0; i < nm; i++) {
		char mn[300];
		esc(mn, sizeof(mn), wb_metrics.mappings[i].name);
		put(b,
		    "waybill_mapped_events_total{pipeline=\"%s\",mapping=\"%"
		    "s\"} %llu\n",
		    pl, mn,
		    (unsigned long long)wb_mget(
			    &wb_metrics.mappings[i].events));
	}
	family(b, "waybill_dead_letters_total", "counter",
	       "Changes a mapping could not turn into an event, written to "
	       "the dead-letter stream, per mapping.");
	for (int i = 0; i < nm; i++) {
		char mn[300];
		esc(mn, sizeof(mn), wb_metrics.mappings[i].name);
		put(b,
		    "waybill_dead_letters_total{pipeline=\"%s\",mapping=\"%s\"}"
		    " %llu\n",
		    pl, mn,
		    (unsigned long long)wb_mget(
			    &wb_metrics.mappings[i].dead_letters));
	}
}

char *wb_metrics_render(size_t *len)
{
	struct wb_buf b;
	wb_buf_init(&b);
	char pl[300];
	esc(pl, sizeof(pl), wb_metrics.pipeline);
	struct wb_metrics *m = &wb_metrics;
	int nt = atomic_load_explicit(&m->ntables, memory_order_acquire);
	struct wb_metrics_view v;
	wb_metrics_view(&v);
	long long mono = wb_clock_mono_ms();

	family(&b, "waybill_info", "gauge",
	       "The pipeline's source and sink types and waybill's version.");
	put(&b,
	    "waybill_info{pipeline=\"%s\",source=\"%s\",sink=\"%s\","
	    "version=\"%s\"} 1\n",
	    pl, m->source_type, m->sink_type, WB_VERSION);
	per_table_ops(&b, pl, "waybill_events_read_total",
		      "Changes read from the source, per table and op (c u d "
		      "r t).",
		      nt, false);
	per_table_ops(&b, pl, "waybill_events_delivered_total",
		      "Changes the sink acknowledged, per table and op.", nt,
		      true);
	one(&b, pl, "waybill_events_skipped_total", "counter",
	    "Replayed changes at or below the checkpoint, not written again.",
	    (double)wb_mget(&m->skipped));
	one(&b, pl, "waybill_source_bytes_total", "counter",
	    "Bytes of decoded change records the source queued.",
	    (double)wb_mget(&m->source_bytes));
	one(&b, pl, "waybill_sink_bytes_total", "counter",
	    "Bytes of encoded events (keys and values) handed to the sink.",
	    (double)wb_mget(&m->sink_bytes));
	one(&b, pl, "waybill_source_position", "gauge",
	    "The position of the last change read (PostgreSQL: commit LSN as "
	    "a number).",
	    (double)wb_mget(&m->source_position));
	one(&b, pl, "waybill_server_position", "gauge",
	    "The server's current position as it last reported it "
	    "(PostgreSQL: WAL end LSN as a number; MySQL/MariaDB: binlog "
	    "file sequence << 32 | offset, probed every 5 s).",
	    (double)wb_mget(&m->server_position));
	one(&b, pl, "waybill_delivered_position", "gauge",
	    "The position of the last change the sink acknowledged.",
	    (double)wb_mget(&m->delivered_position));
	one(&b, pl, "waybill_checkpoint_position", "gauge",
	    "The position acknowledged to the source in the last durable "
	    "checkpoint (PostgreSQL: flush LSN as a number).",
	    (double)wb_mget(&m->checkpoint_position));
	one(&b, pl, "waybill_lag_bytes", "gauge",
	    "Bytes of log the server holds after the checkpointed position "
	    "(MySQL/MariaDB: summed over its binlog files; -1: unknown).",
	    (double)v.lag_bytes);
	one(&b, pl, "waybill_lag_seconds", "gauge",
	    "Now minus the commit time of the oldest change read but not yet "
	    "delivered; 0 when nothing waits.",
	    v.lag_s);
	one(&b, pl, "waybill_last_delivered_age_seconds", "gauge",
	    "Now minus the commit time of the last delivered change (-1: none "
	    "yet).",
	    v.last_delivered_age_s);
	histogram(&b, pl);
	one(&b, pl, "waybill_queue_bytes", "gauge",
	    "Bytes of change records queued between source and sink.",
	    (double)wb_mget(&m->queue_bytes));
	one(&b, pl, "waybill_queue_max_bytes", "gauge",
	    "The queue's bound (queue_bytes).",
	    (double)wb_mget(&m->queue_max_bytes));
	one(&b, pl, "waybill_checkpoints_total", "counter",
	    "Durable checkpoints written.", (double)wb_mget(&m->checkpoints));
	one(&b, pl, "waybill_checkpoint_age_seconds", "gauge",
	    "How long the durable checkpoint has been behind what was "
	    "written to the sink; 0 while it covers everything.",
	    v.checkpoint_age_s);
	one(&b, pl, "waybill_checkpoint_timestamp_seconds", "gauge",
	    "Unix time of the last durable checkpoint (0: none in this run).",
	    (double)wb_mget(&m->checkpoint_real_ms) / 1e3);
	snapshots(&b, pl, nt);
	one(&b, pl, "waybill_source_connected", "gauge",
	    "1 while the source is connected.", v.source_connected ? 1 : 0);
	one(&b, pl, "waybill_source_reconnects_total", "counter",
	    "Successful source reconnections.",
	    (double)wb_mget(&m->source_reconnects));
	one(&b, pl, "waybill_source_reconnect_attempts_total", "counter",
	    "Source reconnection attempts, failed ones included.",
	    (double)wb_mget(&m->source_reconnect_attempts));
	one(&b, pl, "waybill_source_outages_total", "counter",
	    "Source outages (lost connection until back).",
	    (double)wb_mget(&m->source_outages));
	uint64_t t0 = wb_mget(&m->source_outage_start_ms);
	one(&b, pl, "waybill_source_outage_seconds_total", "counter",
	    "Time spent in source outages, the current one included.",
	    secs_ms(&m->source_outage_ms) +
		    (t0 ? (double)(mono - (long long)t0) / 1e3 : 0));
	one(&b, pl, "waybill_source_gap", "gauge",
	    "1 when the source found a gap (a position it cannot continue "
	    "from); the pipeline stops or re-snapshots.",
	    v.gap ? 1 : 0);
	uint64_t slot = wb_mget(&m->slot_retained_bytes);
	if (slot != UINT64_MAX)
		one(&b, pl, "waybill_source_slot_retained_wal_bytes", "gauge",
		    "WAL the replication slot holds on the server "
		    "(pg_current_wal_lsn() - restart_lsn).",
		    (double)slot);
	one(&b, pl, "waybill_sink_connected", "gauge",
	    "1 unless the sink is in an outage.", v.sink_connected ? 1 : 0);
	one(&b, pl, "waybill_sink_outages_total", "counter",
	    "Sink outages (brokers unreachable until back).",
	    (double)wb_mget(&m->sink_outages));
	t0 = wb_mget(&m->sink_outage_start_ms);
	one(&b, pl, "waybill_sink_outage_seconds_total", "counter",
	    "Time spent in sink outages, the current one included.",
	    secs_ms(&m->sink_outage_ms) +
		    (t0 ? (double)(mono - (long long)t0) / 1e3 : 0));
	one(&b, pl, "waybill_delivery_errors_total", "counter",
	    "Delivery reports with an error (retried or fatal).",
	    (double)wb_mget(&m->delivery_errors));
	mappings(&b, pl);
	char why[160];
	one(&b, pl, "waybill_ready", "gauge", "1 when /readyz answers 200.",
	    wb_metrics_ready(m->ready_checkpoint_age_s, why, sizeof(why)) ? 1
									  : 0);
	family(&b, "waybill_thread_heartbeat_age_seconds", "gauge",
	       "Seconds since the thread last turned its loop.");
	put(&b,
	    "waybill_thread_heartbeat_age_seconds{pipeline=\"%s\",thread="
	    "\"source\"} %.3f\n",
	    pl, v.source_heartbeat_age_s);
	put(&b,
	    "waybill_thread_heartbeat_age_seconds{pipeline=\"%s\",thread="
	    "\"sink\"} %.3f\n",
	    pl, v.sink_heartbeat_age_s);

	struct wb_proc_stats ps;
	if (wb_metrics_proc(&ps) == 0) {
		family(&b, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
		put(&b, "process_cpu_seconds_total %.2f\n", ps.cpu_seconds);
		family(&b, "process_resident_memory_bytes", "gauge",
		       "Resident memory size in bytes.");
		put(&b, "process_resident_memory_bytes %llu\n",
		    (unsigned long long)ps.rss_bytes);
		family(&b, "process_virtual_memory_bytes", "gauge",
		       "Virtual memory size in bytes.");
		put(&b, "process_virtual_memory_bytes %llu\n",
		    (unsigned long long)ps.vsize_bytes);
		family(&b, "process_start_time_seconds", "gauge",
		       "Start time of the process since unix epoch in "
		       "seconds.");
		put(&b, "process_start_time_seconds %.2f\n", ps.start_time_s);
		family(&b, "process_open_fds", "gauge",
		       "Number of open file descriptors.");
		put(&b, "process_open_fds %d\n", ps.open_fds);
	}
	if (b.failed) {
		wb_buf_free(&b);
		return NULL;
	}
	wb_buf_append(&b, "", 1);
	if (b.failed) {
		wb_buf_free(&b);
		return NULL;
	}
	*len = b.len - 1;
	return (char *)b.data;
}
