/* snapshot_request.h — `waybill snapshot --tables`: the request file a
 * running pipeline's source takes (<checkpoint_dir>/<name>.snapshot-request,
 * a JSON list of tables or globs). A taken request moves to a .taken file,
 * made durable first, that is removed once a checkpoint records the
 * tables' snapshot progress: a crash in between takes it again. Shared by
 * the sources that snapshot. */
#ifndef WB_SNAPSHOT_REQUEST_H
#define WB_SNAPSHOT_REQUEST_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

struct wb_snapshot_request {
	char request_path[PATH_MAX];
	char taken_path[PATH_MAX];
	long long last_ms;     /* source thread: the last look */
	pthread_mutex_t mu;    /* guards the generations */
	uint64_t taken_gen;    /* requests taken */
	uint64_t recorded_gen; /* taken_gen as of the last state() */
	uint64_t removed_gen;  /* .taken removed for this generation */
	const char *component; /* for log lines */
};

void wb_snapshot_request_init(struct wb_snapshot_request *r,
			      const struct wb_config *cfg,
			      const char *component);
void wb_snapshot_request_destroy(struct wb_snapshot_request *r);

/* Source thread, between transactions: at most once a second (now_ms,
 * monotonic), takes a waiting request (and a .taken one of an earlier
 * run) and calls mark(ctx, pattern) for each of its patterns; mark marks
 * the captured tables that match for a snapshot from scratch and returns
 * how many it marked (0: the pattern is logged and skipped), or a
 * negative error code with err filled. *taken tells whether any table was
 * marked. */
int wb_snapshot_request_poll(struct wb_snapshot_request *r, long long now_ms,
			     int (*mark)(void *ctx, const char *pattern,
					 wb_error_t *err),
			     void *ctx, bool *taken, wb_error_t *err);

/* Any thread, when the source's state() is taken for a checkpoint: the
 * checkpoint will record what was taken so far. */
void wb_snapshot_request_recorded(struct wb_snapshot_request *r);

/* Any thread, when a checkpoint is durable (the source's ack()): removes
 * the .taken file once a durable checkpoint records its tables. */
void wb_snapshot_request_acked(struct wb_snapshot_request *r);

#endif
