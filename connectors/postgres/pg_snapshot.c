/* pg_snapshot.c — snapshot rounds: COPY and keyset chunk readers, progress,
 * resumable state.
 *
 * Each reader is an ordinary connection in a REPEATABLE READ transaction
 * that imported the round's exported snapshot. A reader works through one
 * part of a table at a time: the whole table, or, for a table split between
 * readers (wb_pgsnap_split()), one range of its integer key. Everything below
 * that says "table" holds for each part, with its own cursor and progress.
 *
 * A table read from its start (or one without a key) is streamed by one
 * `COPY (SELECT cols FROM t ORDER BY key) TO STDOUT` (binary where the
 * columns allow; no ORDER BY without a key; the queries are built in
 * pg_snapshot_sql.c): the fastest way out of the server, and a query
 * without values, so nothing is pasted into SQL. The source thread takes
 * rows with PQgetCopyData in async mode, as they arrive, from whichever
 * reader has some, and converts each straight into the batch: libpq holds
 * one network read, the batch one target size, nothing more. Every
 * chunk_size rows the row's key becomes a chunk boundary (a mark), as for
 * keyset chunks, so a crash resumes after the last durable one.
 *
 * A resumed table (keys after a durable key) is read by keyset chunks: the
 * start key is a value, so it must be a bound parameter, which COPY does
 * not take. As soon as a chunk's result is in, the next chunk's query is
 * sent (its start key is the last key of the chunk just received), and the
 * received chunk is converted and emitted meanwhile. A reader's next result
 * is not collected before its current one is emitted, so at most two
 * chunks per reader are in memory (one being emitted, one arriving).
 *
 * Durability: after the last row of a chunk is emitted, a mark (table,
 * position of that row, key, rows, done) is queued; durable() applies the
 * marks at or below the durable position, in emission order, to the
 * table's durable progress (pg_snapshot_state.c), which state() reports.
 * A table's generation
 * changes when it is re-snapshotted from scratch, so marks of an older
 * round never touch the new one. */
#include "clock.h"
#include "pg_snapshot_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pg_binary.h"
#include "pg_copy.h"
#include "pg_types.h"

#define PROGRESS_TTY_MS 500
#define PROGRESS_LOG_MS 5000

struct wb_pg_snapshot *wb_pg_snapshot_new(const struct wb_config *cfg)
{
	struct wb_pg_snapshot *sn = calloc(1, sizeof(*sn));
	if (sn == NULL)
		return NULL;
	sn->cfg = cfg;
	pthread_mutex_init(&sn->mu, NULL);
	sn->chunk = cfg->source.snapshot_chunk_rows > 0
			    ? cfg->source.snapshot_chunk_rows
			    : 10000;
	sn->tty = isatty(2);
	sn->current = -1;
	wb_arena_init(&sn->scratch, 4096);
	return sn;
}

static void round_clear_table(struct snap_table *t)
{
	for (int i = 0; i < t->np; i++)
		wb_pgsnap_part_clear_round(&t->parts[i], t->nkeys);
	wb_table_unref(t->table);
	t->table = NULL;
	free(t->keycols);
	free(t->bin);
	t->keycols = NULL;
	t->bin = NULL;
	t->binary = false;
	t->nkeys = 0;
	t->in_round = false;
}

static void close_readers(struct wb_pg_snapshot *sn)
{
	for (int i = 0; i < sn->nr; i++) {
		PQclear(sn->r[i].collecting);
		PQclear(sn->r[i].ready);
		PQfinish(sn->r[i].conn);
	}
	free(sn->r);
	sn->r = NULL;
	sn->nr = 0;
}

void wb_pg_snapshot_free(struct wb_pg_snapshot *sn)
{
	if (sn == NULL)
		return;
	close_readers(sn);
	for (int i = 0; i < sn->nt; i++) {
		struct snap_table *t = &sn->t[i];
		round_clear_table(t);
		wb_pgsnap_parts_free(t->parts, t->np, 0);
		free(t->schema);
		free(t->name);
		free(t->full);
	}
	free(sn->t);
	for (size_t i = 0; i < sn->nmarks; i++)
		free_key(sn->marks[i].key, sn->marks[i].nkey);
	free(sn->marks);
	free(sn->fields);
	wb_arena_free(&sn->scratch);
	pthread_mutex_destroy(&sn->mu);
	free(sn);
}

bool wb_pg_snapshot_pending(struct wb_pg_snapshot *sn)
{
	for (int i = 0; i < sn->nt; i++)
		if (sn->t[i].pending)
			return true;
	return false;
}

bool wb_pg_snapshot_active(struct wb_pg_snapshot *sn)
{
	return sn->active;
}

uint64_t wb_pg_snapshot_rows_read(struct wb_pg_snapshot *sn)
{
	return sn->rows_read;
}

/* ---------------------------------------------------------------- round */

static int reader_open(struct wb_pg_snapshot *sn, struct reader *r,
		       const char *snapshot_name, wb_error_t *err)
{
	r->table = -1;
	r->ready_table = -1;
	r->conn = wb_pg_connect(sn->cfg, NULL, err);
	if (r->conn == NULL)
		return err->code;
	PGresult *res = wb_pg_query(
		r->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
		NULL, err);
	if (res == NULL)
		return err->code;
	PQclear(res);
	char *lit =
		PQescapeLiteral(r->conn, snapshot_name, strlen(snapshot_name));
	char *sql = NULL;
	if (lit == NULL ||
	    asprintf(&sql, "SET TRANSACTION SNAPSHOT %s", lit) < 0) {
		PQfreemem(lit);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	PQfreemem(lit);
	res = wb_pg_query(r->conn, sql, 0, NULL, err);
	free(sql);
	if (res == NULL) {
		wb_error_prefix(err, "cannot import snapshot %s",
				snapshot_name);
		return err->code;
	}
	PQclear(res);
	return WB_OK;
}

static int describe(struct wb_pg_snapshot *sn, struct wb_pg_catalog *cat,
		    const struct wb_pg_reltarget *target, int ti,
		    wb_error_t *err)
{
	struct snap_table *t = &sn->t[ti];
	t->table = wb_pg_describe_table(cat, target, err);
	if (t->table == NULL)
		return err->code;
	int nk = wb_table_nkeys(t->table);
	t->keycols = calloc(nk > 0 ? (size_t)nk : 1, sizeof(int));
	if (t->keycols == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int c = 0; c < t->table->ncols; c++)
		if (t->table->cols[c].key)
			t->keycols[t->nkeys++] = c;
	if (t->np > 1 && !wb_pgsnap_integer_key(t)) {
		wb_warn("postgres",
			"snapshot of %s: its key changed since it was split "
			"between readers; it is read again from its start",
			t->full);
		pthread_mutex_lock(&sn->mu);
		bool ok = wb_pgsnap_whole_table(t);
		t->gen++; /* marks of the old parts are void */
		pthread_mutex_unlock(&sn->mu);
		if (!ok)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}

	char oidtext[16];
	snprintf(oidtext, sizeof(oidtext), "%u", target->oid);
	const char *params[1] = {oidtext};
	PGresult *res = wb_pg_query(cat->conn,
				    "SELECT reltuples::bigint FROM pg_class "
				    "WHERE oid = $1::oid",
				    1, params, err);
	if (res == NULL)
		return err->code;
	int64_t est = PQntuples(res) == 1
			      ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
			      : -1;
	PQclear(res);
	pthread_mutex_lock(&sn->mu);
	t->estimate = est;
	pthread_mutex_unlock(&sn->mu);
	int rc = wb_pgsnap_split(sn, cat->conn, t, err);
	if (rc)
		return rc;
	for (int i = 0; i < t->np; i++) {
		struct part *pt = &t->parts[i];
		if (pt->d_done) {
			/* read in an earlier run: no reader takes it */
			pt->assigned = pt->emitted_done = true;
			pt->rows = pt->d_rows;
		} else if (t->nkeys > 0 && pt->d_nkey == t->nkeys) {
			pt->cur_key = copy_key(pt->d_key, pt->d_nkey);
			if (pt->cur_key == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			pt->rows = pt->d_rows;
		} else {
			/* a key of another shape, or none: read from the
			 * start */
			if (t->nkeys == 0 && pt->d_rows > 0)
				wb_warn("postgres",
					"snapshot of %s: the table has no "
					"key, so it is read again from its "
					"start",
					t->full);
			pt->rows = 0;
		}
	}
	return wb_pgsnap_build_sql(sn, cat->conn, ti, err);
}

int wb_pg_snapshot_begin(struct wb_pg_snapshot *sn, struct wb_pg_catalog *cat,
			 const struct wb_pg_reltarget *targets, int ntargets,
			 const char *snapshot_name, uint64_t point,
			 wb_error_t *err)
{
	int rc, ntables = 0, nunits = 0;
	sn->point = point;
	char text[32];
	wb_pg_format_lsn(point, text, sizeof(text));
	pthread_mutex_lock(&sn->mu);
	snprintf(sn->point_text, sizeof(sn->point_text), "%s", text);
	pthread_mutex_unlock(&sn->mu);
	for (int i = 0; i < sn->nt; i++) {
		struct snap_table *t = &sn->t[i];
		if (!t->pending)
			continue;
		const struct wb_pg_reltarget *target = NULL;
		for (int k = 0; k < ntargets && !target; k++)
			if (strcmp(targets[k].schema, t->schema) == 0 &&
			    strcmp(targets[k].name, t->name) == 0)
				target = &targets[k];
		if (target == NULL) {
			wb_warn("postgres",
				"snapshot: %s is no longer captured; "
				"skipped",
				t->full);
			t->pending = false;
			pthread_mutex_lock(&sn->mu);
			for (int k = 0; k < t->np; k++)
				t->parts[k].d_done = true;
			pthread_mutex_unlock(&sn->mu);
			continue;
		}
		if ((rc = describe(sn, cat, target, i, err)))
			return rc;
		t->in_round = true;
		ntables++;
		for (int k = 0; k < t->np; k++)
			nunits += !t->parts[k].emitted_done;
	}
	int want = sn->cfg->source.snapshot_parallelism > 0
			   ? sn->cfg->source.snapshot_parallelism
			   : 1;
	if (want > nunits)
		want = nunits;
	sn->r = calloc(want > 0 ? (size_t)want : 1, sizeof(*sn->r));
	if (sn->r == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	sn->nr = want;
	for (int i = 0; i < want; i++)
		if ((rc = reader_open(sn, &sn->r[i], snapshot_name, err)))
			return rc;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sn->ts_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	sn->n = 0;
	sn->round_rows = 0;
	sn->round_start_ms = wb_clock_mono_ms();
	sn->last_progress_ms = sn->round_start_ms;
	sn->current = -1;
	sn->active = true;
	wb_info("postgres",
		"snapshot of %d table(s) at %s (snapshot %s, %d "
		"reader(s), chunks of %d rows)",
		ntables, text, snapshot_name, want, sn->chunk);
	return WB_OK;
}

static int send_chunk_query(struct wb_pg_snapshot *sn, struct reader *r, int ti,
			    int pi, wb_error_t *err)
{
	struct snap_table *t = &sn->t[ti];
	struct part *pt = &t->parts[pi];
	int ok, rc;
	r->copy = COPY_NONE;
	if (pt->cur_key == NULL) {
		/* from the start (always, for a table without a key) */
		if ((pt->lo || pt->hi) &&
		    (rc = wb_pgsnap_set_bounds(t, pt, r, err)))
			return rc;
		ok = PQsendQuery(r->conn, pt->sql_copy);
		r->copy = COPY_STARTING;
		r->since_mark = 0;
		r->bin_first = true;
	} else {
		const char *params[2] = {pt->cur_key[0], pt->hi};
		ok = pt->hi ? PQsendQueryParams(r->conn, pt->sql_next, 2, NULL,
						params, NULL, NULL, 0)
			    : PQsendQueryParams(
				      r->conn, pt->sql_next, t->nkeys, NULL,
				      (const char *const *)pt->cur_key, NULL,
				      NULL, 0);
	}
	if (!ok) {
		char line[400];
		wb_error_set(err, WB_ERR_CONNECT, "snapshot of %s: %s", t->full,
			     wb_pg_error_line(r->conn, line, sizeof(line)));
		err->retriable = true;
		return err->code;
	}
	r->table = ti;
	r->part = pi;
	r->busy = true;
	return WB_OK;
}

static char **key_of_row(const struct snap_table *t, const PGresult *res,
			 int row)
{
	char **k = calloc((size_t)t->nkeys, sizeof(*k));
	if (k == NULL)
		return NULL;
	for (int i = 0; i < t->nkeys; i++)
		if ((k[i] = strdup(PQgetvalue(res, row, t->keycols[i]))) ==
		    NULL) {
			free_key(k, t->nkeys);
			return NULL;
		}
	return k;
}

/* Reads what arrived for a reader's query; when its result is complete,
 * makes it the reader's ready chunk and sends the table's next query. */
static int collect(struct wb_pg_snapshot *sn, struct reader *r, wb_error_t *err)
{
	char line[400];
	if (PQconsumeInput(r->conn) == 0)
		goto lost;
	while (!PQisBusy(r->conn)) {
		PGresult *res = PQgetResult(r->conn);
		if (res == NULL)
			break;
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_COPY_OUT && r->copy == COPY_STARTING) {
			/* rows follow as CopyData; emit_copy() takes them */
			PQclear(res);
			r->copy = COPY_STREAMING;
			return WB_OK;
		} else if (st == PGRES_TUPLES_OK) {
			PQclear(r->collecting);
			r->collecting = res;
		} else if (st == PGRES_COMMAND_OK) {
			PQclear(res);
		} else {
			snprintf(line, sizeof(line), "%s",
				 PQresultErrorMessage(res));
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			PQclear(res);
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "snapshot of %s: PostgreSQL: %s",
					    sn->t[r->table].full, line);
		}
	}
	if (PQisBusy(r->conn))
		return WB_OK;
	/* the query is complete */
	int ti = r->table, pi = r->part;
	struct snap_table *t = &sn->t[ti];
	struct part *pt = &t->parts[pi];
	PGresult *res = r->collecting;
	r->collecting = NULL;
	r->busy = false;
	r->table = -1;
	if (res == NULL)
		return wb_error_set(
			err, WB_ERR_RUNTIME,
			"snapshot of %s: the server returned no rows "
			"result",
			t->full);
	if (PQnfields(res) != t->table->ncols) {
		PQclear(res);
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "snapshot of %s: %d columns returned, %d "
				    "expected",
				    t->full, PQnfields(res), t->table->ncols);
	}
	int n = PQntuples(res);
	sn->rows_read += (uint64_t)n;
	r->ready = res;
	r->ready_table = ti;
	r->ready_part = pi;
	r->ready_row = 0;
	r->ready_last = n < sn->chunk;
	if (!r->ready_last) {
		if (t->nkeys > 0) {
			char **k = key_of_row(t, res, n - 1);
			if (k == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			free_key(pt->cur_key, t->nkeys);
			pt->cur_key = k;
		}
		return send_chunk_query(sn, r, ti, pi, err);
	}
	return WB_OK;
lost:
	wb_error_set(err, WB_ERR_CONNECT, "snapshot reader connection lost: %s",
		     wb_pg_error_line(r->conn, line, sizeof(line)));
	err->retriable = true;
	return err->code;
}

static int push_mark(struct wb_pg_snapshot *sn, int ti, int pi,
		     const wb_position_t *pos, bool done, char **key,
		     wb_error_t *err)
{
	struct snap_table *t = &sn->t[ti];
	pthread_mutex_lock(&sn->mu);
	if (sn->nmarks == sn->capmarks) {
		size_t cap = sn->capmarks ? sn->capmarks * 2 : 64;
		struct mark *m = realloc(sn->marks, cap * sizeof(*m));
		if (m == NULL) {
			pthread_mutex_unlock(&sn->mu);
			free_key(key, t->nkeys);
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		}
		sn->marks = m;
		sn->capmarks = cap;
	}
	sn->marks[sn->nmarks++] = (struct mark){ti,
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

/* Converts column i's text, or binary send form (NULL: SQL NULL), into v. */
static int convert_value(struct wb_pg_snapshot *sn, struct wb_batch *b,
			 const struct snap_table *t, int i, bool binary,
			 const char *text, size_t len, struct wb_value *v,
			 wb_error_t *err)
{
	const struct wb_table *tb = t->table;
	if (text == NULL) {
		v->state = WB_VAL_NULL;
		return WB_OK;
	}
	int rc = binary ? wb_pg_binary_to_value(&tb->cols[i].type,
						(const uint8_t *)text, len,
						&b->arena, v, err)
			: wb_pg_text_to_value(&tb->cols[i].type, text, len,
					      &b->arena, v, err);
	if (rc == WB_ERR_NOMEM)
		return rc;
	if (rc != WB_OK) {
		if (!tb->cols[i].nullable)
			return rc;
		if (!sn->warned_type)
			wb_warn("postgres", "%s.%s: %s; written as null",
				t->full, tb->cols[i].name, err->message);
		sn->warned_type = true;
		v->state = WB_VAL_NULL;
	}
	return WB_OK;
}

static int convert_row(struct wb_pg_snapshot *sn, struct wb_batch *b,
		       const struct snap_table *t, const PGresult *res, int row,
		       struct wb_value **out, wb_error_t *err)
{
	const struct wb_table *tb = t->table;
	struct wb_value *v = wb_batch_values(b, tb->ncols);
	if (v == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int i = 0; i < tb->ncols; i++) {
		const char *text = PQgetisnull(res, row, i)
					   ? NULL
					   : PQgetvalue(res, row, i);
		int rc = convert_value(sn, b, t, i, false, text,
				       (size_t)PQgetlength(res, row, i), &v[i],
				       err);
		if (rc)
			return rc;
	}
	*out = v;
	return WB_OK;
}

/* Reads what the server has sent for queries in flight into libpq's
 * buffers (the next chunk builds up while this one is emitted), so the
 * server is never stalled on a full socket. Results stay uncollected. */
static int pump(struct wb_pg_snapshot *sn, wb_error_t *err)
{
	for (int i = 0; i < sn->nr; i++) {
		struct reader *r = &sn->r[i];
		/* a streaming COPY waits on TCP until emit_copy() reads it:
		 * reading it here would only grow libpq's buffer */
		if (!r->busy || r->copy == COPY_STREAMING)
			continue;
		if (PQconsumeInput(r->conn) == 0) {
			char line[400];
			wb_error_set(
				err, WB_ERR_CONNECT,
				"snapshot reader connection lost: %s",
				wb_pg_error_line(r->conn, line, sizeof(line)));
			err->retriable = true;
			return err->code;
		}
		(void)PQisBusy(r->conn); /* parses what arrived */
	}
	return WB_OK;
}

/* A part's last row is emitted; the table's, when every part's is. */
static void part_done(struct snap_table *t, struct part *pt)
{
	pt->emitted_done = true;
	if (!table_emitted(t))
		return;
	t->pending = false;
	wb_info("postgres", "snapshot of %s finished: %" PRId64 " rows",
		t->full, table_rows(t));
}

/* Emits the rest of a reader's ready chunk, or as much as fits. */
static int emit(struct wb_pg_snapshot *sn, struct reader *r, struct wb_batch *b,
		size_t target_bytes, wb_position_t *last, wb_error_t *err)
{
	int ti = r->ready_table, pi = r->ready_part;
	struct snap_table *t = &sn->t[ti];
	struct part *pt = &t->parts[pi];
	int n = PQntuples(r->ready);
	if (sn->current < 0)
		sn->round_start_ms =
			wb_clock_mono_ms(); /* rates count from the first row */
	sn->current = ti;
	while (r->ready_row < n) {
		if (wb_batch_bytes(b) >= target_bytes)
			return WB_OK;
		if ((r->ready_row & 511) == 0) {
			int rc = pump(sn, err);
			if (rc)
				return rc;
		}
		struct wb_change *c = wb_batch_add(b);
		if (c == NULL || wb_batch_hold(b, t->table) == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		c->op = WB_OP_READ;
		c->snapshot = true;
		c->table = t->table;
		c->pos.major = sn->point - 1;
		c->pos.minor = ++sn->n;
		c->txid = 0;
		c->commit_ts_us = sn->ts_us;
		int rc = convert_row(sn, b, t, r->ready, r->ready_row,
				     &c->after, err);
		if (rc)
			return rc;
		*last = c->pos;
		r->ready_row++;
		pt->rows++;
		sn->round_rows++;
	}
	char **key = NULL;
	if (t->nkeys > 0 && n > 0 &&
	    (key = key_of_row(t, r->ready, n - 1)) == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	bool done = r->ready_last;
	PQclear(r->ready);
	r->ready = NULL;
	r->ready_table = -1;
	if (done)
		part_done(t, pt);
	if (key == NULL && !done)
		return WB_OK; /* keyless: only its end is worth recording */
	return push_mark(sn, ti, pi, last, done, key, err);
}

/* The text of a COPY row's key, for the keyset query that resumes after
 * it: a text field as it came, a binary (integer) one printed from its
 * value. */
static char **key_of_fields(const struct snap_table *t,
			    const struct wb_pg_copy_field *f,
			    const struct wb_value *v)
{
	char **k = calloc((size_t)t->nkeys, sizeof(*k));
	if (k == NULL)
		return NULL;
	for (int i = 0; i < t->nkeys; i++) {
		int c = t->keycols[i];
		const struct wb_pg_copy_field *kf = &f[c];
		if (t->binary && t->bin[c]) {
			if (asprintf(&k[i], "%lld", (long long)v[c].u.i) < 0)
				k[i] = NULL;
		} else {
			/* a key column is NOT NULL; "" is what PQgetvalue
			 * gives */
			k[i] = strndup(kf->p ? kf->p : "", kf->len);
		}
		if (k[i] == NULL) {
			free_key(k, t->nkeys);
			return NULL;
		}
	}
	return k;
}

static int copy_lost(struct reader *r, wb_error_t *err)
{
	char line[400];
	wb_error_set(err, WB_ERR_CONNECT, "snapshot reader connection lost: %s",
		     wb_pg_error_line(r->conn, line, sizeof(line)));
	err->retriable = true;
	return err->code;
}

/* The COPY of r's table has sent its last row: checks how it ended and
 * records the table as done. */
static int copy_finish(struct wb_pg_snapshot *sn, struct reader *r,
		       const wb_position_t *last, wb_error_t *err)
{
	int ti = r->table, pi = r->part;
	struct snap_table *t = &sn->t[ti];
	PGresult *res;
	char line[400] = "";
	bool failed = false;
	while ((res = PQgetResult(r->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !failed) {
			snprintf(line, sizeof(line), "%s",
				 PQresultErrorMessage(res));
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			failed = true;
		}
		PQclear(res);
	}
	if (failed)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "snapshot of %s: PostgreSQL: %s", t->full,
				    line);
	r->busy = false;
	r->copy = COPY_NONE;
	r->table = -1;
	part_done(t, &t->parts[pi]);
	return push_mark(sn, ti, pi, last, true, NULL, err);
}

/* Emits the rows a streaming COPY has delivered so far, or as many as fit;
 * returns when the batch is full or nothing more has arrived. */
static int emit_copy(struct wb_pg_snapshot *sn, struct reader *r,
		     struct wb_batch *b, size_t target_bytes,
		     wb_position_t *last, wb_error_t *err)
{
	int ti = r->table, pi = r->part;
	struct snap_table *t = &sn->t[ti];
	struct part *pt = &t->parts[pi];
	int ncols = t->table->ncols;
	int rc;
	if (ncols > sn->capfields) {
		struct wb_pg_copy_field *f =
			realloc(sn->fields, (size_t)ncols * sizeof(*f));
		if (f == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		sn->fields = f;
		sn->capfields = ncols;
	}
	bool consumed = false;
	while (wb_batch_bytes(b) < target_bytes) {
		char *line = NULL;
		int n = PQgetCopyData(r->conn, &line, 1);
		if (n == 0) {
			/* libpq's buffer is empty: read what the socket holds,
			 * once, then let the caller wait on it */
			if (consumed)
				return WB_OK;
			if (PQconsumeInput(r->conn) == 0)
				return copy_lost(r, err);
			consumed = true;
			continue;
		}
		if (n == -1)
			return copy_finish(sn, r, last, err);
		if (n < 0)
			return copy_lost(r, err);
		consumed = false;
		if (t->binary) {
			enum wb_pg_bin_msg what;
			rc = wb_pg_copy_bin_msg((const uint8_t *)line,
						(size_t)n, r->bin_first,
						sn->fields, ncols, &what, err);
			r->bin_first = false;
			if (rc == WB_OK && what != WB_PG_BIN_ROW) {
				/* the header alone, or the trailer */
				PQfreemem(line);
				continue;
			}
		} else {
			if (sn->scratch.used > 0)
				wb_arena_reset(&sn->scratch);
			rc = wb_pg_copy_row((const uint8_t *)line, (size_t)n,
					    sn->fields, ncols, &sn->scratch,
					    err);
		}
		if (sn->current < 0)
			sn->round_start_ms =
				wb_clock_mono_ms(); /* rates count from the
						       first row */
		sn->current = ti;
		sn->rows_read++;
		struct wb_change *c = rc ? NULL : wb_batch_add(b);
		struct wb_value *v = NULL;
		if (rc == WB_OK &&
		    (c == NULL || (v = wb_batch_values(b, ncols)) == NULL ||
		     wb_batch_hold(b, t->table) == NULL))
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		if (rc == WB_OK) {
			c->op = WB_OP_READ;
			c->snapshot = true;
			c->table = t->table;
			c->pos.major = sn->point - 1;
			c->pos.minor = ++sn->n;
			c->txid = 0;
			c->commit_ts_us = sn->ts_us;
			c->after = v;
		}
		for (int i = 0; rc == WB_OK && i < ncols; i++)
			rc = convert_value(sn, b, t, i, t->binary && t->bin[i],
					   sn->fields[i].p, sn->fields[i].len,
					   &v[i], err);
		char **key = NULL;
		if (rc == WB_OK && t->nkeys > 0 &&
		    ++r->since_mark == sn->chunk &&
		    (key = key_of_fields(t, sn->fields, v)) == NULL)
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		PQfreemem(line);
		if (rc) {
			if (rc == WB_ERR_DECODE || rc == WB_ERR_TYPE)
				wb_error_prefix(err, "snapshot of %s", t->full);
			return rc;
		}
		*last = c->pos;
		pt->rows++;
		sn->round_rows++;
		if (key != NULL) {
			/* a chunk boundary: resumable after this row */
			r->since_mark = 0;
			if ((rc = push_mark(sn, ti, pi, last, false, key, err)))
				return rc;
		}
	}
	return WB_OK;
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

static void progress(struct wb_pg_snapshot *sn, bool final)
{
	long long now = wb_clock_mono_ms();
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
		const struct snap_table *t = &sn->t[sn->current];
		int64_t rows = table_rows(t);
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
		wb_info("postgres", "%s", line);
	}
}

/* The next table or part no reader has taken; false when none is left. */
static bool next_unit(const struct wb_pg_snapshot *sn, int *ti, int *pi)
{
	for (int i = 0; i < sn->nt; i++) {
		const struct snap_table *t = &sn->t[i];
		for (int k = 0; t->in_round && k < t->np; k++)
			if (!t->parts[k].assigned) {
				*ti = i;
				*pi = k;
				return true;
			}
	}
	return false;
}

int wb_pg_snapshot_step(struct wb_pg_snapshot *sn, struct wb_batch *b,
			size_t target_bytes, int timeout_ms,
			wb_position_t *last, bool *complete, wb_error_t *err)
{
	long long deadline = wb_clock_mono_ms() + timeout_ms;
	int rc;
	*complete = false;
	for (;;) {
		/* free readers take the next table, or part of one */
		for (int i = 0; i < sn->nr; i++) {
			struct reader *r = &sn->r[i];
			int ti, pi;
			if (!r->busy && next_unit(sn, &ti, &pi)) {
				sn->t[ti].parts[pi].assigned = true;
				if ((rc = send_chunk_query(sn, r, ti, pi, err)))
					return rc;
			}
		}
		for (int i = 0; i < sn->nr; i++) {
			struct reader *r = &sn->r[i];
			if (r->busy && r->ready == NULL &&
			    r->copy != COPY_STREAMING &&
			    (rc = collect(sn, r, err)))
				return rc;
		}
		/* the first reader served changes from step to step, so that
		 * a COPY that always has rows does not starve the others */
		int first = sn->nr > 0 ? sn->turn++ % sn->nr : 0;
		for (int k = 0; k < sn->nr; k++) {
			struct reader *r = &sn->r[(first + k) % sn->nr];
			if (r->busy && r->copy == COPY_STREAMING) {
				if ((rc = emit_copy(sn, r, b, target_bytes,
						    last, err)))
					return rc;
				continue;
			}
			if (r->ready &&
			    (rc = emit(sn, r, b, target_bytes, last, err)))
				return rc;
			if (r->ready == NULL && r->busy &&
			    (rc = collect(sn, r, err)))
				return rc;
		}
		progress(sn, false);
		bool all = true;
		for (int ti = 0; ti < sn->nt && all; ti++)
			all = !sn->t[ti].in_round || table_emitted(&sn->t[ti]);
		if (all) {
			*complete = true;
			return WB_OK;
		}
		if (wb_batch_bytes(b) >= target_bytes)
			return WB_OK;
		bool ready = false, idle = false, waiting = false;
		for (int i = 0; i < sn->nr; i++) {
			ready |= sn->r[i].ready != NULL;
			idle |= !sn->r[i].busy;
		}
		int wt, wp;
		waiting = idle && next_unit(sn, &wt, &wp);
		if (ready || (idle && waiting))
			continue; /* a chunk to emit, or a table to assign */

		long long left = deadline - wb_clock_mono_ms();
		if (left <= 0)
			return WB_OK;
		/* rows in hand: wait a little for more (full batches cost
		 * less downstream), not for the whole poll */
		if (b->n > 0 && left > 5)
			left = 5;
		fd_set rfds;
		FD_ZERO(&rfds);
		int maxfd = -1;
		for (int i = 0; i < sn->nr; i++) {
			if (!sn->r[i].busy)
				continue;
			int fd = PQsocket(sn->r[i].conn);
			FD_SET(fd, &rfds);
			if (fd > maxfd)
				maxfd = fd;
		}
		if (left > 1000)
			left = 1000;
		struct timeval tv = {left / 1000, (left % 1000) * 1000};
		int nready = select(maxfd + 1, &rfds, NULL, NULL, &tv);
		if (nready < 0 && errno != EINTR)
			return wb_error_set(err, WB_ERR_RUNTIME, "select: %s",
					    strerror(errno));
		if (nready == 0 && b->n > 0)
			return WB_OK;
	}
}

void wb_pg_snapshot_end(struct wb_pg_snapshot *sn)
{
	if (!sn->active)
		return;
	progress(sn, true);
	close_readers(sn);
	for (int i = 0; i < sn->nt; i++)
		if (sn->t[i].in_round)
			round_clear_table(&sn->t[i]);
	sn->active = false;
	sn->current = -1;
	wb_info("postgres", "snapshot rows read by this process: %llu",
		(unsigned long long)sn->rows_read);
}

wb_position_t wb_pg_snapshot_next_position(struct wb_pg_snapshot *sn)
{
	wb_position_t p = {sn->point - 1, ++sn->n};
	return p;
}
