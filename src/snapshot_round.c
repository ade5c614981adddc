/* snapshot_round.c — a snapshot round: its tables opened at the
 * consistent point, the position of every emitted row, the marks queued
 * after each chunk, and what the log says (tables finished, the progress
 * line, the summary).
 *
 * Durability: after the last row of a chunk is emitted, a mark (table,
 * part, position of that row, key, rows, done) is queued; durable()
 * (snapshot_progress.c) applies the marks at or below the durable
 * position, in emission order. A table's generation changes when it is
 * snapshotted from scratch or split, so marks of an older round never
 * touch the new one. */
#include "snapshot_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

#define PROGRESS_TTY_MS 500
#define PROGRESS_LOG_MS 5000

void wb_snapshot_round_open(struct wb_snapshot *sn, uint64_t point,
			    const char *point_text)
{
	sn->point = point;
	pthread_mutex_lock(&sn->mu);
	snprintf(sn->point_text, sizeof(sn->point_text), "%s", point_text);
	pthread_mutex_unlock(&sn->mu);
}

void wb_snapshot_table_skip(struct wb_snapshot *sn, int ti)
{
	struct wb_snapshot_table *t = &sn->t[ti];
	wb_warn(sn->component, "snapshot: %s is no longer captured; skipped",
		t->full);
	t->pending = false;
	pthread_mutex_lock(&sn->mu);
	for (int k = 0; k < t->np; k++)
		t->parts[k].d_done = true;
	pthread_mutex_unlock(&sn->mu);
}

int wb_snapshot_table_open(struct wb_snapshot *sn, int ti,
			   struct wb_table *table, int64_t estimate,
			   wb_error_t *err)
{
	struct wb_snapshot_table *t = &sn->t[ti];
	wb_table_unref(t->table);
	free(t->keycols);
	t->table = table;
	t->nkeys = 0;
	int nk = wb_table_nkeys(table);
	t->keycols = calloc(nk > 0 ? (size_t)nk : 1, sizeof(int));
	if (t->keycols == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int c = 0; c < table->ncols; c++)
		if (table->cols[c].key)
			t->keycols[t->nkeys++] = c;
	bool ok = true;
	pthread_mutex_lock(&sn->mu);
	if (t->np > 1 && !wb_snapshot_integer_key(t)) {
		wb_warn(sn->component,
			"snapshot of %s: its key changed since it was split "
			"between readers; it is read again from its start",
			t->full);
		ok = wb_snap_whole_table(t);
		t->gen++; /* marks of the old parts are void */
	}
	t->estimate = estimate;
	pthread_mutex_unlock(&sn->mu);
	if (!ok)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

int wb_snapshot_table_ready(struct wb_snapshot *sn, int ti, wb_error_t *err)
{
	struct wb_snapshot_table *t = &sn->t[ti];
	for (int i = 0; i < t->np; i++) {
		struct wb_snapshot_part *pt = &t->parts[i];
		if (pt->d_done) {
			/* read in an earlier run: no reader takes it */
			pt->assigned = pt->emitted_done = true;
			pt->rows = pt->d_rows;
		} else if (t->nkeys > 0 && pt->d_nkey == t->nkeys) {
			pt->cur_key = wb_snap_key_copy(pt->d_key, pt->d_nkey);
			if (pt->cur_key == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			pt->rows = pt->d_rows;
		} else {
			/* a key of another shape, or none: read from the
			 * start */
			if (t->nkeys == 0 && pt->d_rows > 0)
				wb_warn(sn->component,
					"snapshot of %s: the table has no "
					"key, so it is read again from its "
					"start",
					t->full);
			pt->rows = 0;
		}
	}
	t->in_round = true;
	return WB_OK;
}

int wb_snapshot_round_readers(const struct wb_snapshot *sn)
{
	int units = 0;
	for (int i = 0; i < sn->nt; i++) {
		const struct wb_snapshot_table *t = &sn->t[i];
		for (int k = 0; t->in_round && k < t->np; k++)
			units += !t->parts[k].emitted_done;
	}
	int want = sn->parallelism > 0 ? sn->parallelism : 1;
	return want > units ? units : want;
}

void wb_snapshot_round_after(struct wb_snapshot *sn, const wb_position_t *pos)
{
	sn->after = *pos;
	sn->have_after = true;
}

void wb_snapshot_round_start(struct wb_snapshot *sn)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sn->ts_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	sn->n = 0;
	if (sn->have_after && sn->point > 0 &&
	    sn->after.major == sn->point - 1 && sn->after.minor < UINT32_MAX)
		sn->n = sn->after.minor;
	sn->have_after = false;
	sn->round_rows = 0;
	sn->round_start_ms = wb_clock_mono_ms();
	sn->last_progress_ms = sn->round_start_ms;
	sn->current = -1;
	sn->active = true;
}

void wb_snapshot_part_resume_after(struct wb_snapshot *sn, int ti, int pi,
				   char **key)
{
	struct wb_snapshot_table *t = &sn->t[ti];
	struct wb_snapshot_part *pt = &t->parts[pi];
	wb_snapshot_key_free(pt->cur_key, t->nkeys);
	pt->cur_key = key;
}

struct wb_change *wb_snapshot_row(struct wb_snapshot *sn, int ti, int pi,
				  struct wb_batch *b)
{
	struct wb_snapshot_table *t = &sn->t[ti];
	struct wb_change *c = wb_batch_add(b);
	if (c == NULL || wb_batch_hold(b, t->table) == NULL)
		return NULL;
	if (sn->current < 0) /* rates count from the first row */
		sn->round_start_ms = wb_clock_mono_ms();
	sn->current = ti;
	c->op = WB_OP_READ;
	c->snapshot = true;
	c->table = t->table;
	c->pos.major = sn->point - 1;
	c->pos.minor = ++sn->n;
	c->txid = 0;
	c->commit_ts_us = sn->ts_us;
	t->parts[pi].rows++;
	sn->round_rows++;
	return c;
}

static int push_mark(struct wb_snapshot *sn, int ti, int pi,
		     const wb_position_t *pos, bool done, char **key,
		     wb_error_t *err)
{
	struct wb_snapshot_table *t = &sn->t[ti];
	pthread_mutex_lock(&sn->mu);
	if (sn->nmarks == sn->capmarks) {
		size_t cap = sn->capmarks ? sn->capmarks * 2 : 64;
		struct snap_mark *m = realloc(sn->marks, cap * sizeof(*m));
		if (m == NULL) {
			pthread_mutex_unlock(&sn->mu);
			wb_snapshot_key_free(key, t->nkeys);
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		}
		sn->marks = m;
		sn->capmarks = cap;
	}
	sn->marks[sn->nmarks++] = (struct snap_mark){ti,
						     pi,
						     t->gen,
						     *pos,
						     done,
						     key,
						     key ? t->nkeys : 0,
						     t->parts[pi].rows};
	pthread_mutex_unlock(&sn->mu);
	return WB_OK;
}

int wb_snapshot_chunk_end(struct wb_snapshot *sn, int ti, int pi,
			  const wb_position_t *last, char **key, bool done,
			  wb_error_t *err)
{
	struct wb_snapshot_table *t = &sn->t[ti];
	if (done) {
		t->parts[pi].emitted_done = true;
		if (wb_snap_table_emitted(t)) {
			t->pending = false;
			wb_info(sn->component,
				"snapshot of %s finished: %" PRId64 " rows",
				t->full, wb_snap_table_rows(t));
		}
	}
	if (key == NULL && !done)
		return WB_OK; /* keyless: only its end is worth recording */
	return push_mark(sn, ti, pi, last, done, key, err);
}

void wb_snapshot_count_read(struct wb_snapshot *sn, uint64_t rows)
{
	sn->rows_read += rows;
}

uint64_t wb_snapshot_rows_read(const struct wb_snapshot *sn)
{
	return sn->rows_read;
}

static void fmt_eta(char *buf, size_t n, double s)
{
	if (s < 0 || s > 1e7)
		snprintf(buf, n, "?");
	else if (s >= 3600)
		snprintf(buf, n, "%dh%02dm", (int)(s / 3600),
			 (int)s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, n, "%ds", (int)s);
}

/* Rows done and estimated per table of the round, for
 * waybill_snapshot_rows{table} (at most once a second, and at the end). */
static void publish_rows(struct wb_snapshot *sn, long long now, bool final)
{
	if (!final && now - sn->last_metrics_ms < 1000)
		return;
	sn->last_metrics_ms = now;
	for (int i = 0; i < sn->nt; i++) {
		const struct wb_snapshot_table *t = &sn->t[i];
		if (!t->in_round || t->full == NULL)
			continue;
		struct wb_mtable *mt = wb_metrics_table_named(t->full);
		int64_t rows = wb_snap_table_rows(t);
		wb_mset(&mt->snap_rows, rows > 0 ? (uint64_t)rows : 0);
		wb_mset(&mt->snap_estimate,
			t->estimate >= 0 ? (uint64_t)t->estimate : UINT64_MAX);
		atomic_store(&mt->snap_seen, true);
	}
}

static void progress(struct wb_snapshot *sn, bool final)
{
	long long now = wb_clock_mono_ms();
	publish_rows(sn, now, final);
	long long every = sn->tty ? PROGRESS_TTY_MS : PROGRESS_LOG_MS;
	if (!final && now - sn->last_progress_ms < every)
		return;
	sn->last_progress_ms = now;
	if (sn->current < 0 && !final)
		return;
	double secs = (double)(now - sn->round_start_ms) / 1000.0;
	double rate = secs > 0 ? (double)sn->round_rows / secs : 0;
	char line[400];
	if (final) {
		snprintf(line, sizeof(line),
			 "snapshot at %s done: %llu rows in %.1f s (%.0f "
			 "rows/s)",
			 sn->point_text, (unsigned long long)sn->round_rows,
			 secs, rate);
	} else {
		const struct wb_snapshot_table *t = &sn->t[sn->current];
		int64_t rows = wb_snap_table_rows(t);
		char est[32] = "?", pct[16] = "", eta[32] = "?";
		if (t->estimate >= 0) {
			int64_t e = t->estimate > rows ? t->estimate : rows;
			snprintf(est, sizeof(est), "%" PRId64, e);
			snprintf(pct, sizeof(pct), " (%d%%)",
				 e > 0 ? (int)(rows * 100 / e) : 100);
			if (rate > 0)
				fmt_eta(eta, sizeof(eta),
					(double)(e - rows) / rate);
		}
		snprintf(line, sizeof(line),
			 "snapshot %s: %" PRId64
			 "/%s rows%s, %.0f rows/s, ETA %s",
			 t->full, rows, est, pct, rate, eta);
	}
	if (sn->tty) {
		fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
		sn->progress_shown = !final;
	} else {
		wb_info(sn->component, "%s", line);
	}
}

void wb_snapshot_progress(struct wb_snapshot *sn)
{
	progress(sn, false);
}

bool wb_snapshot_round_complete(const struct wb_snapshot *sn)
{
	for (int ti = 0; ti < sn->nt; ti++)
		if (sn->t[ti].in_round && !wb_snap_table_emitted(&sn->t[ti]))
			return false;
	return true;
}

wb_position_t wb_snapshot_next_position(struct wb_snapshot *sn)
{
	wb_position_t p = {sn->point - 1, ++sn->n};
	return p;
}

void wb_snapshot_round_end(struct wb_snapshot *sn)
{
	if (!sn->active)
		return;
	progress(sn, true);
	for (int i = 0; i < sn->nt; i++) {
		struct wb_snapshot_table *t = &sn->t[i];
		if (!t->in_round)
			continue;
		for (int k = 0; k < t->np; k++)
			wb_snap_part_clear_round(&t->parts[k], t->nkeys);
		wb_table_unref(t->table);
		t->table = NULL;
		free(t->keycols);
		t->keycols = NULL;
		t->nkeys = 0;
		t->in_round = false;
	}
	sn->active = false;
	sn->current = -1;
	wb_info(sn->component, "snapshot rows read by this process: %llu",
		(unsigned long long)sn->rows_read);
}
