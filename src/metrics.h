/* metrics.h — the pipeline's counters and gauges, kept for the Prometheus
 * endpoint (metrics_http.c), the minute status line (metrics_log.c) and
 * /readyz.
 *
 * One pipeline per process, so the metrics are process-wide: connectors
 * report through these functions without plumbing. Hot-path updates never
 * lock and never allocate: every counter has one writing thread (named at
 * each function) and is updated with relaxed atomic stores; the scraping
 * thread reads with relaxed loads. Per-table counters live in a small
 * table registry (a slot per schema.table, found through a slot number
 * cached in each wb_table version); only the first sight of a table takes
 * the registry's mutex. */
#ifndef WB_METRICS_H
#define WB_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "position.h"
#include "table.h"

#define WB_METRICS_MAX_TABLES 1024 /* past this, one "_other" slot */
#define WB_METRICS_MAX_MAPPINGS 64
#define WB_METRICS_NOPS 5 /* c u d r t */
/* waybill_delivery_latency_seconds: 1 ms to 60 s */
#define WB_METRICS_NBUCKETS 16

typedef atomic_uint_fast64_t wb_mcounter_t;

/* Single-writer add: a plain load and store, no locked instruction. Only
 * the thread that owns the counter may call it. */
static inline void wb_mcount_add(wb_mcounter_t *c, uint64_t n)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t wb_mget(wb_mcounter_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static inline void wb_mset(wb_mcounter_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Index of an op in the per-table arrays, or -1 for a non-row op. */
static inline int wb_metrics_op_index(uint8_t op)
{
	switch (op) {
	case 'c':
		return 0;
	case 'u':
		return 1;
	case 'd':
		return 2;
	case 'r':
		return 3;
	case 't':
		return 4;
	default:
		return -1;
	}
}

struct wb_mtable {
	char name[192];				  /* schema.table (db.table) */
	wb_mcounter_t read[WB_METRICS_NOPS];	  /* source thread */
	wb_mcounter_t delivered[WB_METRICS_NOPS]; /* sink thread */
	/* snapshot progress (source side) */
	wb_mcounter_t snap_rows;
	wb_mcounter_t snap_estimate; /* UINT64_MAX: unknown */
	atomic_bool snap_seen;
};

struct wb_mmapping {
	char name[128];
	wb_mcounter_t events;
	wb_mcounter_t dead_letters;
};

struct wb_metrics {
	char pipeline[128];
	char source_type[32];
	char sink_type[32];
	atomic_bool running; /* streaming: /readyz may say ready */
	/* /readyz's bound on waybill_checkpoint_age_seconds */
	double ready_checkpoint_age_s;

	/* table registry */
	atomic_int ntables;
	struct wb_mtable tables[WB_METRICS_MAX_TABLES + 1];
	atomic_int nmappings; /* published after the slot's name */
	struct wb_mmapping mappings[WB_METRICS_MAX_MAPPINGS];

	/* source thread */
	wb_mcounter_t source_bytes;
	wb_mcounter_t source_position; /* PG: commit LSN of the last read */
	wb_mcounter_t server_position; /* PG: WAL end the server reported;
					  MySQL: its binlog end, as a major */
	/* sources whose positions are not byte offsets (MySQL: files and
	 * offsets) report the lag in bytes themselves: lag + 1; 0: the lag is
	 * server_position - checkpoint_position */
	wb_mcounter_t source_lag_bytes;
	wb_mcounter_t last_read_commit_us;
	wb_mcounter_t source_heartbeat_ms; /* monotonic ms */
	wb_mcounter_t source_connected;
	wb_mcounter_t source_reconnects;
	wb_mcounter_t source_reconnect_attempts;
	wb_mcounter_t source_outages;
	wb_mcounter_t source_outage_ms;	      /* completed outages */
	wb_mcounter_t source_outage_start_ms; /* 0: none now (monotonic) */
	wb_mcounter_t gap;
	wb_mcounter_t slot_retained_bytes; /* UINT64_MAX: not known */

	/* sink thread */
	wb_mcounter_t sink_bytes;
	wb_mcounter_t skipped;
	wb_mcounter_t delivered_position;
	wb_mcounter_t last_delivered_commit_us;
	wb_mcounter_t oldest_undelivered_commit_us; /* 0: none waiting */
	wb_mcounter_t sink_heartbeat_ms;
	wb_mcounter_t sink_outages;
	wb_mcounter_t sink_outage_ms;
	wb_mcounter_t sink_outage_start_ms;
	wb_mcounter_t delivery_errors;
	wb_mcounter_t queue_bytes;
	wb_mcounter_t queue_max_bytes;
	wb_mcounter_t checkpoints;
	wb_mcounter_t checkpoint_position; /* ack value (PG: flush LSN) */
	wb_mcounter_t checkpoint_real_ms;  /* wall time of the last one */
	/* wall ms since when the checkpoint lags what was written; 0 while
	 * it covers everything the sink was given */
	wb_mcounter_t checkpoint_behind_since_ms;
	wb_mcounter_t failed; /* the pipeline stopped on an error */
	/* latency histogram: counts per bucket (not cumulative), sum in µs */
	wb_mcounter_t lat_bucket[WB_METRICS_NBUCKETS + 1];
	wb_mcounter_t lat_count;
	wb_mcounter_t lat_sum_us;
};

extern struct wb_metrics wb_metrics;
/* upper bounds of the latency buckets, in microseconds */
extern const uint64_t wb_metrics_buckets_us[WB_METRICS_NBUCKETS];

/* Resets everything and names the pipeline (before any thread starts). */
void wb_metrics_init(const char *pipeline, const char *source_type,
		     const char *sink_type);

/* The registry slot of t's table (cached in t after the first call), or
 * the overflow slot past WB_METRICS_MAX_TABLES. Any thread. */
struct wb_mtable *wb_metrics_table(struct wb_table *t);
/* The slot of a table by its name (snapshot progress); any thread. */
struct wb_mtable *wb_metrics_table_named(const char *name);
/* Registers a mapping by name (sink thread, at start); its slot or NULL. */
struct wb_mmapping *wb_metrics_mapping(const char *name);

/* Counts the changes of a batch as read (source thread). */
struct wb_batch;
void wb_metrics_count_read(const struct wb_batch *b);

/* Adds `n` deliveries of one commit time to the latency histogram (sink
 * thread). commit_us 0 (snapshot rows) is not observed. */
void wb_metrics_observe_latency(int64_t now_us, int64_t commit_us, uint64_t n);

/* Source outage bookkeeping (source thread). */
void wb_metrics_source_down(void);
void wb_metrics_source_up(void);
/* Sink outage bookkeeping (sink thread). */
void wb_metrics_sink_down(void);
void wb_metrics_sink_up(void);

/* A copy of the values people read, for logs and readiness. */
struct wb_metrics_view {
	uint64_t read, delivered;
	double lag_s;		     /* oldest undelivered; 0 when none */
	double last_delivered_age_s; /* -1: nothing delivered yet */
	int64_t lag_bytes;	     /* -1: unknown */
	double checkpoint_age_s;
	double source_heartbeat_age_s, sink_heartbeat_age_s;
	bool source_connected, sink_connected, gap, failed;
};
void wb_metrics_view(struct wb_metrics_view *v);

/* /readyz: ready when running, connected, no gap, and the checkpoint is
 * no older than max_checkpoint_age_s behind what was written. why gets
 * the reason when not. */
bool wb_metrics_ready(double max_checkpoint_age_s, char *why, size_t n);
/* /healthz: both threads turned within max_s seconds. */
bool wb_metrics_healthy(double max_s, char *why, size_t n);

/* Renders the Prometheus text format (version 0.0.4); the caller frees
 * the result. NULL when out of memory. metrics_text.c. */
char *wb_metrics_render(size_t *len);

/* Process figures from /proc (metrics_proc.c): 0 on success. */
struct wb_proc_stats {
	double cpu_seconds;
	uint64_t rss_bytes, vsize_bytes;
	double start_time_s; /* Unix time */
	int open_fds;
	int threads;
};
int wb_metrics_proc(struct wb_proc_stats *st);

/* The HTTP endpoint (metrics_http.c): listens on "host:port" ("[::1]:p"
 * for IPv6; ":p" for every address). NULL with err filled when it cannot
 * listen. */
struct wb_metrics_http;
struct wb_error;
struct wb_metrics_http *wb_metrics_http_start(const char *listen,
					      double ready_checkpoint_age_s,
					      struct wb_error *err);
void wb_metrics_http_stop(struct wb_metrics_http *h); /* accepts NULL */

#endif
