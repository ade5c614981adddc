/* metrics_delivery.h — what was handed to the sink but not yet delivered,
 * in write order, so that a delivery report (a position) can be turned
 * into per-table delivered counts, latency observations and the commit
 * time of the oldest undelivered change. Sink thread only. */
#ifndef WB_METRICS_DELIVERY_H
#define WB_METRICS_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "position.h"

/* A run of consecutive events of one table, op and commit time. */
struct wb_mdeliv_run {
	wb_position_t last; /* position of the run's last event */
	int64_t commit_us;  /* 0: snapshot rows (no latency) */
	struct wb_mtable *table;
	uint32_t n;
	uint8_t op; /* wb_metrics_op_index */
};

struct wb_mdeliv {
	struct wb_mdeliv_run *runs;
	size_t head, len, cap;
	size_t max; /* runs kept at most; past it, counted at write */
};

/* max_runs bounds memory (32 bytes a run). */
void wb_mdeliv_init(struct wb_mdeliv *d, size_t max_runs);
void wb_mdeliv_free(struct wb_mdeliv *d);
/* One event written at pos. Allocates only when the ring grows; when it
 * cannot (bound reached, out of memory) the event counts as delivered at
 * once (now_us). */
void wb_mdeliv_written(struct wb_mdeliv *d, struct wb_mtable *t, int op,
		       const wb_position_t *pos, int64_t commit_us,
		       int64_t now_us);
/* Everything up to and including pos is delivered at now_us. */
void wb_mdeliv_delivered(struct wb_mdeliv *d, const wb_position_t *pos,
			 int64_t now_us);
/* Commit time of the oldest undelivered change with one, or 0. */
int64_t wb_mdeliv_oldest_commit(const struct wb_mdeliv *d);

#endif
