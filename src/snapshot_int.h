/* snapshot_int.h — what the snapshot module's files share (private to
 * src/snapshot_*.c): the tracker itself, its marks, and the functions one
 * file gives the others. */
#ifndef WB_SNAPSHOT_INT_H
#define WB_SNAPSHOT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "snapshot.h"

/* The progress of a part as of one emitted row, applied when that row's
 * position is durable. */
struct snap_mark {
	int table;
	int part;
	uint64_t gen;
	wb_position_t pos;
	bool done;
	char **key;
	int nkey;
	int64_t rows;
};

struct wb_snapshot {
	char *component;
	int chunk;
	int parallelism;
	pthread_mutex_t mu;
	struct wb_snapshot_table *t; /* under mu */
	int nt, capt;
	struct snap_mark *marks; /* under mu */
	size_t nmarks, capmarks;
	uint64_t point;
	char point_text[32]; /* under mu */
	/* the position the pipeline resumes from (round_after()) */
	wb_position_t after;
	bool have_after;

	/* round: source thread only */
	bool active;
	int64_t ts_us;
	uint64_t n;
	uint64_t rows_read; /* this process, every round */
	uint64_t round_rows;
	long long round_start_ms;
	long long last_progress_ms;
	long long last_metrics_ms; /* snapshot rows published (metrics.h) */
	int current;		   /* table last emitted from, for progress */
	bool tty;
	bool progress_shown;
};

/* snapshot_progress.c */
/* A copy of a key of n values; NULL when key is NULL, n is 0 or out of
 * memory. */
char **wb_snap_key_copy(char *const *key, int n);
/* Frees a part's round state (statements, cursor) and makes it
 * unassigned. */
void wb_snap_part_clear_round(struct wb_snapshot_part *pt, int nkeys);
/* Frees np parts (round state with keys of nkeys values, and progress). */
void wb_snap_parts_free(struct wb_snapshot_part *parts, int np, int nkeys);
/* Makes t one part again, the whole table, with no progress; call with mu
 * held, outside the table's round. false when out of memory. */
bool wb_snap_whole_table(struct wb_snapshot_table *t);
/* Rows emitted from t (every part). */
int64_t wb_snap_table_rows(const struct wb_snapshot_table *t);
/* Whether every part of t has emitted its last row. */
bool wb_snap_table_emitted(const struct wb_snapshot_table *t);

/* snapshot_plan.c */
/* Every part but the last ends at an integer, each above the one before;
 * the last is open. */
bool wb_snap_bounds_valid(const struct wb_snapshot_part *p, int np);

#endif
