/* odbc_snapshot.c — the initial load of the ODBC source through the
 * shared snapshot framework (src/snapshot.h): each table read once in
 * primary-key order in chunks of `snapshot.chunk_size` rows (keyset
 * queries: the chunk after the last key, bound as parameters), resumable
 * after the last durable chunk, with progress. ODBC gives no consistent
 * view across statements, so the rows are each chunk's current state;
 * what changes while the load runs is caught by polling, which starts
 * from the watermark recorded when the table's load began (the horizon
 * then for the timestamp modes, the largest id for incrementing). Rows
 * are op 'r' at (P - 1, n); polling rounds follow at P and above. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "odbc_int.h"
#include "odbc_keyset.h"

int wb_odbc_snapshot_add_all(struct wb_odbc_source *s, wb_error_t *err)
{
	for (int i = 0; i < s->ntabs; i++) {
		int rc = wb_snapshot_add(s->snap, s->tabs[i].cfg->name, err);
		if (rc)
			return rc;
	}
	return WB_OK;
}

int wb_odbc_snapshot_add_matching(void *src, const char *glob, wb_error_t *err)
{
	struct wb_odbc_source *s = src;
	int n = 0;
	for (int i = 0; i < s->ntabs; i++) {
		if (fnmatch(glob, s->tabs[i].cfg->name, 0) != 0)
			continue;
		int rc = wb_snapshot_add(s->snap, s->tabs[i].cfg->name, err);
		if (rc)
			return -rc;
		n++;
	}
	return n;
}

static struct wb_odbc_tab *tab_named(struct wb_odbc_source *s, const char *n)
{
	for (int i = 0; i < s->ntabs; i++)
		if (strcmp(s->tabs[i].cfg->name, n) == 0)
			return &s->tabs[i];
	return NULL;
}

/* The watermark polling starts from once the load of t is out. */
static int start_watermark(struct wb_odbc_source *s, struct wb_odbc_tab *t,
			   wb_error_t *err)
{
	const struct wb_odbc_table *tc = t->cfg;
	t->wm_n = 0;
	if (tc->mode == WB_ODBC_TIMESTAMP ||
	    tc->mode == WB_ODBC_TIMESTAMP_INC) {
		/* a real horizon: every row below it is in the load, and what
		 * commits later is at or above it */
		int64_t now;
		int rc = tc->horizon ? wb_odbc_real_horizon(s, t, 6, &now, err)
				     : wb_odbc_db_now(&s->conn, &now, err);
		if (rc)
			return rc;
		t->wm_track = tc->horizon ? now : now - tc->lag_ms * 1000;
		wb_odbc_format_ts(t->wm_track, t->wm[0], WB_ODBC_TEXT_MAX);
		t->wm_n = 1; /* rows at it and after are polled */
	} else if (tc->mode == WB_ODBC_INCREMENTING) {
		char *q =
			wb_odbc_quote(&s->conn, t->cols[t->inc_col].name, err);
		char *sql = NULL;
		if (q == NULL)
			return err->code;
		if (asprintf(&sql, "SELECT MAX(%s) FROM %s", q, t->qname) < 0) {
			free(q);
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		}
		free(q);
		struct wb_odbc_reader r;
		int rc = wb_odbc_reader_open(&r, &s->conn, sql, NULL, 0, 1, 0,
					     err);
		free(sql);
		if (rc)
			return rc;
		int got = wb_odbc_reader_next(&r, err);
		if (got == 1) {
			SQLLEN len;
			const uint8_t *p = wb_odbc_reader_cell(&r, 0, &len);
			if (len != SQL_NULL_DATA && len < WB_ODBC_TEXT_MAX) {
				memcpy(t->wm[0], p, (size_t)len);
				t->wm[0][len] = '\0';
				t->wm_n = 1;
				t->wm_track = strtoll(t->wm[0], NULL, 10);
			}
		}
		wb_odbc_reader_close(&r);
		if (got < 0)
			return err->code;
		/* a real horizon H, read before the load: every id below it
		 * is committed and in the load; a transaction still running
		 * has an id at or above it and may commit after its chunk was
		 * read, so polling starts below H, not at MAX (the loaded rows
		 * it reads again are in the look-back set) */
		if (tc->horizon && t->wm_n > 0) {
			int64_t h;
			if ((rc = wb_odbc_real_horizon(s, t, 0, &h, err)))
				return rc;
			if (h - 1 < t->wm_track) {
				t->wm_track = h - 1;
				snprintf(t->wm[0], WB_ODBC_TEXT_MAX, "%lld",
					 (long long)(h - 1));
			}
		}
	}
	t->cur_n = 0;
	t->active = false;
	return WB_OK;
}

/* A row of the initial load that the first polls will read again — its
 * tracking value at or after the start of their look-back window (the
 * watermark recorded when the load began, minus `lookback`) — goes into
 * the look-back set as a poll's row would, so those polls suppress it
 * instead of emitting it a second time (c after its r). */
static int remember_loaded(struct wb_odbc_source *s, struct wb_odbc_tab *t,
			   const struct wb_change *c, struct wb_batch *b,
			   wb_error_t *err)
{
	const struct wb_odbc_table *tc = t->cfg;
	int col = tc->mode == WB_ODBC_INCREMENTING ? t->inc_col : t->ts_col;
	if (tc->mode == WB_ODBC_BULK || tc->query || col < 0 || t->wm_n == 0)
		return WB_OK;
	SQLLEN len;
	const uint8_t *p = wb_odbc_reader_cell(&s->snap_rd, col, &len);
	struct wb_value v;
	wb_error_t e;
	const struct wb_odbc_col *cc = &s->snap_rd.cols[col];
	if (len == SQL_NULL_DATA ||
	    wb_odbc_cell_value(cc, p, len, NULL, &b->arena, &v, &e) != 0 ||
	    v.state != WB_VAL_PRESENT)
		return WB_OK; /* NULL tracking values are never polled */
	/* the tracking value as a poll computes it (from the text the
	 * database prints for it, where the column is text) */
	int64_t track;
	if (cc->fetch == WB_ODBC_F_I64 || cc->fetch == WB_ODBC_F_TS) {
		track = v.u.i;
	} else if (cc->fetch == WB_ODBC_F_WTEXT || cc->fetch == WB_ODBC_F_DEC) {
		char text[64];
		size_t n =
			v.u.b.n < sizeof(text) - 1 ? v.u.b.n : sizeof(text) - 1;
		memcpy(text, v.u.b.p, n);
		text[n] = '\0';
		track = wb_odbc_track_of(t, text);
	} else {
		return WB_OK; /* a date or another kind: not remembered */
	}
	int64_t from = wb_odbc_lookback_from(t);
	if (track < from)
		return WB_OK;
	uint64_t kh, rh;
	wb_odbc_row_hashes(t, &s->snap_rd, s->snap_rd.cur, WB_ODBC_HASH_W64,
			   &kh, &rh);
	int64_t dropped = INT64_MIN;
	pthread_mutex_lock(&s->mu);
	int rc = wb_odbc_seen_add(&t->seen, track, kh, rh, c->pos.major,
				  &dropped);
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	if (dropped != INT64_MIN && (!t->have_floor || dropped > t->floor)) {
		t->have_floor = true;
		t->floor = dropped;
	}
	return WB_OK;
}

int wb_odbc_snapshot_begin(struct wb_odbc_source *s, wb_error_t *err)
{
	int rc;
	/* P - 1 is a round of its own: every earlier round sorts before
	 * the rows, every poll after */
	uint64_t now = (uint64_t)wb_clock_real_ms() * 1000;
	uint64_t r = now > s->last_round ? now : s->last_round + 1;
	s->snap_point = r + 1;
	s->last_round = s->snap_point;
	pthread_mutex_lock(&s->mu);
	if (s->snap_point > s->max_round)
		s->max_round = s->snap_point;
	s->snap_seen_round = r;
	wb_position_t durable = s->durable;
	pthread_mutex_unlock(&s->mu);
	char text[48];
	snprintf(text, sizeof(text), "%llu:0", (unsigned long long)r);
	wb_snapshot_round_open(s->snap, s->snap_point, text);
	wb_snapshot_round_after(s->snap, &durable);
	int n = wb_snapshot_ntables(s->snap);
	for (int ti = 0; ti < n; ti++) {
		struct wb_snapshot_table *st = wb_snapshot_table(s->snap, ti);
		if (!st->pending)
			continue;
		struct wb_odbc_tab *t = tab_named(s, st->full);
		if (t == NULL) {
			wb_snapshot_table_skip(s->snap, ti);
			continue;
		}
		bool fresh = true;
		for (int p = 0; p < st->np; p++)
			fresh &= st->parts[p].d_key == NULL &&
				 st->parts[p].d_rows == 0;
		if (fresh || t->wm_n == 0) {
			if ((rc = start_watermark(s, t, err)))
				return rc;
			s->round = r;
			if ((rc = wb_odbc_snapshot_mark(s, (int)(t - s->tabs),
							err)))
				return rc;
		}
		if ((rc = wb_snapshot_table_open(
			     s->snap, ti, wb_table_ref(t->table), -1, err)) ||
		    (rc = wb_snapshot_table_ready(s->snap, ti, err)))
			return rc;
	}
	wb_snapshot_round_start(s->snap);
	s->snap_round = true;
	s->snap_rd_open = false;
	return WB_OK;
}

static int chunk_open(struct wb_odbc_source *s, int ti, int pi, wb_error_t *err)
{
	struct wb_snapshot_table *st = wb_snapshot_table(s->snap, ti);
	struct wb_snapshot_part *p = &st->parts[pi];
	struct wb_odbc_tab *t = tab_named(s, st->full);
	char sql[8192];
	struct wb_odbc_param
		prm[WB_ODBC_ORD_MAX * (WB_ODBC_ORD_MAX + 1) / 2 + 1];
	int np = 0;
	char keys[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX], first[WB_ODBC_TEXT_MAX];
	int chunk = wb_snapshot_chunk_rows(s->snap);
	if (t->nkeys > 0 && wb_odbc_top_clause(&s->conn))
		snprintf(sql, sizeof(sql), "SELECT TOP %d %s", chunk, t->sel);
	else
		snprintf(sql, sizeof(sql), "SELECT %s", t->sel);
	char *q[WB_ODBC_ORD_MAX] = {0};
	int rc = WB_OK;
	for (int k = 0; k < t->nkeys; k++) {
		if ((q[k] = wb_odbc_quote(&s->conn, t->cols[t->keycols[k]].name,
					  err)) == NULL) {
			rc = err->code;
			goto out;
		}
		strcat(sql, ", ");
		strcat(sql, q[k]);
	}
	strcat(sql, " FROM ");
	strcat(sql, t->qname);
	if (t->nkeys > 0 && p->cur_key) {
		strcat(sql, " WHERE ");
		if (t->nkeys > 1) { /* an index range on the first key column */
			strcat(sql, q[0]);
			strcat(sql, " >= ? AND ");
			snprintf(first, sizeof(first), "%s", p->cur_key[0]);
			prm[np].text = first;
			prm[np++].like = &t->cols[t->keycols[0]];
		}
		strcat(sql, "(");
		for (int i = 0; i < t->nkeys; i++) {
			strcat(sql, i ? " OR (" : "(");
			for (int j = 0; j <= i; j++) {
				strcat(sql, j ? " AND " : "");
				strcat(sql, q[j]);
				strcat(sql, j < i ? " = ?" : " > ?");
				snprintf(keys[j], WB_ODBC_TEXT_MAX, "%s",
					 p->cur_key[j]);
				prm[np].text = keys[j];
				prm[np++].like = &t->cols[t->keycols[j]];
			}
			strcat(sql, ")");
		}
		strcat(sql, ")");
	}
	if (t->nkeys > 0) {
		strcat(sql, " ORDER BY ");
		for (int k = 0; k < t->nkeys; k++) {
			strcat(sql, k ? ", " : "");
			strcat(sql, q[k]);
		}
		char lim[64];
		wb_odbc_limit_clause(&s->conn, chunk, lim, sizeof(lim));
		strcat(sql, lim);
	}
	rc = wb_odbc_reader_open(&s->snap_rd, &s->conn, sql, prm, np,
				 s->oc->fetch_rows, t->ncols, err);
	if (rc == 0) {
		s->snap_rd_open = true;
		s->snap_ti = ti;
		s->snap_pi = pi;
		s->snap_chunk_rows = 0;
	}
out:
	for (int k = 0; k < t->nkeys; k++)
		free(q[k]);
	return rc;
}

int wb_odbc_snapshot_step(struct wb_odbc_source *s, struct wb_batch *b,
			  size_t target_bytes, wb_error_t *err)
{
	int rc;
	for (;;) {
		if (!s->snap_rd_open) {
			int ti, pi;
			if (!wb_snapshot_take_part(s->snap, &ti, &pi))
				break;
			if ((rc = chunk_open(s, ti, pi, err)))
				return rc;
		}
		struct wb_snapshot_table *st =
			wb_snapshot_table(s->snap, s->snap_ti);
		struct wb_odbc_tab *t = tab_named(s, st->full);
		wb_position_t last = {s->snap_point - 1, 0};
		char **key = NULL;
		int got;
		while ((got = wb_odbc_reader_next(&s->snap_rd, err)) == 1) {
			struct wb_value *v;
			if ((rc = wb_odbc_row_values(s, t, &s->snap_rd, b, &v,
						     err)))
				return rc;
			struct wb_change *c = wb_snapshot_row(
				s->snap, s->snap_ti, s->snap_pi, b);
			if (c == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			if (wb_odbc_soft_deleted(t, v)) {
				/* deleted already: the same op as polling */
				c->op = WB_OP_DELETE;
				c->before = v;
			} else {
				c->after = v;
			}
			if ((rc = wb_odbc_keyset_emitted(s, t, c, err)) ||
			    (rc = remember_loaded(s, t, c, b, err)))
				return rc;
			last = c->pos;
			s->snap_chunk_rows++;
		}
		if (got < 0)
			return err->code;
		if (t->nkeys > 0 && s->snap_chunk_rows > 0) {
			/* the last row's key, as the database printed it */
			key = calloc((size_t)t->nkeys, sizeof(char *));
			for (int k = 0; key && k < t->nkeys; k++) {
				SQLLEN len;
				const uint8_t *p = wb_odbc_reader_cell(
					&s->snap_rd, t->ncols + k, &len);
				size_t n = len > 0 ? (size_t)len : 0;
				key[k] = strndup((const char *)p, n);
				if (key[k] == NULL) {
					wb_snapshot_key_free(key, t->nkeys);
					key = NULL;
				}
			}
			if (key == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
		}
		int ti = s->snap_ti, pi = s->snap_pi;
		bool done =
			t->nkeys == 0 ||
			s->snap_chunk_rows < wb_snapshot_chunk_rows(s->snap);
		wb_snapshot_count_read(s->snap, (uint64_t)s->snap_chunk_rows);
		wb_odbc_reader_close(&s->snap_rd);
		s->snap_rd_open = false;
		char **resume = NULL;
		if (!done && key) {
			resume = calloc((size_t)t->nkeys, sizeof(char *));
			for (int k = 0; resume && k < t->nkeys; k++)
				resume[k] = strdup(key[k]);
		}
		if (last.minor == 0) {
			pthread_mutex_lock(&s->mu);
			last = s->durable;
			pthread_mutex_unlock(&s->mu);
		}
		if ((rc = wb_snapshot_chunk_end(s->snap, ti, pi, &last,
						t->nkeys ? key : NULL, done,
						err))) {
			wb_snapshot_key_free(resume, t->nkeys);
			return rc;
		}
		if (t->nkeys == 0)
			wb_snapshot_key_free(key, t->nkeys);
		if (!done) {
			if (resume == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			wb_snapshot_part_resume_after(s->snap, ti, pi, resume);
			st->parts[pi].assigned = false;
		}
		wb_snapshot_progress(s->snap);
		if (wb_batch_bytes(b) >= target_bytes)
			return WB_OK;
	}
	if (wb_snapshot_round_complete(s->snap)) {
		wb_snapshot_round_end(s->snap);
		s->snap_round = false;
		if (s->base.cfg->source.snapshot == WB_SNAPSHOT_INITIAL_ONLY)
			atomic_store(&s->snap_finished, true);
	}
	return WB_OK;
}

void wb_odbc_snapshot_abort(struct wb_odbc_source *s)
{
	if (s->snap_rd_open)
		wb_odbc_reader_close(&s->snap_rd);
	s->snap_rd_open = false;
	wb_snapshot_round_end(s->snap);
	s->snap_round = false;
}
