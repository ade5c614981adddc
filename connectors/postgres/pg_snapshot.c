/* pg_snapshot.c — PostgreSQL snapshot rounds: COPY and keyset chunk
 * readers under an exported snapshot. Tables, parts, row positions, marks
 * and durable progress are the tracker's (src/snapshot.h); this file reads
 * the rows.
 *
 * Each reader is an ordinary connection in a REPEATABLE READ transaction
 * that imported the round's exported snapshot. A reader works through one
 * part of a table at a time: the whole table, or, for a table split between
 * readers (wb_snapshot_split()), one range of its integer key. Everything
 * below that says "table" holds for each part, with its own cursor and
 * progress.
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
 * Durability: after the last row of a chunk is emitted, the chunk's end
 * (its last key, done) goes to wb_snapshot_chunk_end(), which queues the
 * mark that durable() applies (src/snapshot_round.c). So does the last row
 * a reader puts into a batch (the batch is full, or the reader has nothing
 * more yet): a checkpoint is taken between batches, so the durable key of
 * every part is then exactly its last delivered row, and a resumed
 * snapshot emits no row twice (with the Kafka sink's transactions, whose
 * commit and checkpoint cover whole batches). */
#include "pg_snapshot_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "clock.h"

#include "log.h"
#include "pg_binary.h"
#include "pg_copy.h"
#include "pg_types.h"

struct wb_pg_snapshot *wb_pg_snapshot_new(const struct wb_config *cfg)
{
	struct wb_pg_snapshot *sn = calloc(1, sizeof(*sn));
	if (sn == NULL)
		return NULL;
	sn->cfg = cfg;
	sn->s = wb_snapshot_new("postgres", cfg->source.snapshot_chunk_rows,
				cfg->source.snapshot_parallelism);
	if (sn->s == NULL) {
		free(sn);
		return NULL;
	}
	sn->chunk = wb_snapshot_chunk_rows(sn->s);
	wb_arena_init(&sn->scratch, 4096);
	return sn;
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

static void free_cols(struct wb_pg_snapshot *sn)
{
	for (int i = 0; i < sn->ncols; i++)
		free(sn->cols[i].bin);
	free(sn->cols);
	sn->cols = NULL;
	sn->ncols = 0;
}

void wb_pg_snapshot_free(struct wb_pg_snapshot *sn)
{
	if (sn == NULL)
		return;
	close_readers(sn);
	free_cols(sn);
	wb_snapshot_free(sn->s);
	free(sn->fields);
	wb_arena_free(&sn->scratch);
	free(sn);
}

int wb_pg_snapshot_restore(struct wb_pg_snapshot *sn, json_t *state,
			   wb_error_t *err)
{
	return wb_snapshot_restore(sn->s, state, err);
}

int wb_pg_snapshot_add(struct wb_pg_snapshot *sn, const char *schema,
		       const char *name, wb_error_t *err)
{
	char *full = NULL;
	if (asprintf(&full, "%s.%s", schema, name) < 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	int rc = wb_snapshot_add(sn->s, full, err);
	free(full);
	return rc;
}

bool wb_pg_snapshot_pending(struct wb_pg_snapshot *sn)
{
	return wb_snapshot_pending(sn->s);
}

bool wb_pg_snapshot_active(struct wb_pg_snapshot *sn)
{
	return wb_snapshot_active(sn->s);
}

void wb_pg_snapshot_durable(struct wb_pg_snapshot *sn,
			    const wb_position_t *durable)
{
	wb_snapshot_durable(sn->s, durable);
}

json_t *wb_pg_snapshot_state(struct wb_pg_snapshot *sn)
{
	return wb_snapshot_state(sn->s);
}

uint64_t wb_pg_snapshot_rows_read(struct wb_pg_snapshot *sn)
{
	return wb_snapshot_rows_read(sn->s);
}

wb_position_t wb_pg_snapshot_next_position(struct wb_pg_snapshot *sn)
{
	return wb_snapshot_next_position(sn->s);
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

/* Opens table ti of the round: its description and row estimate, its
 * split between readers, its parts' resume points and queries. */
static int describe(struct wb_pg_snapshot *sn, struct wb_pg_catalog *cat,
		    const struct wb_pg_reltarget *target, int ti,
		    wb_error_t *err)
{
	struct wb_table *table = wb_pg_describe_table(cat, target, err);
	if (table == NULL)
		return err->code;
	char oidtext[16];
	snprintf(oidtext, sizeof(oidtext), "%u", target->oid);
	const char *params[1] = {oidtext};
	PGresult *res = wb_pg_query(cat->conn,
				    "SELECT reltuples::bigint FROM pg_class "
				    "WHERE oid = $1::oid",
				    1, params, err);
	if (res == NULL) {
		wb_table_unref(table);
		return err->code;
	}
	int64_t est = PQntuples(res) == 1
			      ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
			      : -1;
	PQclear(res);
	int rc = wb_snapshot_table_open(sn->s, ti, table, est, err);
	if (rc)
		return rc;
	int parts = wb_snapshot_split_wanted(sn->s, ti);
	if (parts > 0) {
		bool range;
		long long lo, hi;
		if ((rc = wb_pgsnap_key_range(sn, cat->conn, ti, &range, &lo,
					      &hi, err)))
			return rc;
		if (range &&
		    (rc = wb_snapshot_split(sn->s, ti, lo, hi, parts, err)))
			return rc;
	}
	if ((rc = wb_snapshot_table_ready(sn->s, ti, err)))
		return rc;
	return wb_pgsnap_build_sql(sn, cat->conn, ti, err);
}

/* The target that captures table t, NULL when none does. */
static const struct wb_pg_reltarget *
find_target(const struct wb_snapshot_table *t,
	    const struct wb_pg_reltarget *targets, int ntargets)
{
	size_t len = strlen(t->full);
	for (int k = 0; k < ntargets; k++) {
		size_t ls = strlen(targets[k].schema);
		if (ls < len && strncmp(t->full, targets[k].schema, ls) == 0 &&
		    t->full[ls] == '.' &&
		    strcmp(t->full + ls + 1, targets[k].name) == 0)
			return &targets[k];
	}
	return NULL;
}

int wb_pg_snapshot_begin(struct wb_pg_snapshot *sn, struct wb_pg_catalog *cat,
			 const struct wb_pg_reltarget *targets, int ntargets,
			 const char *snapshot_name, uint64_t point,
			 wb_error_t *err)
{
	int rc, ntables = 0;
	char text[32];
	wb_pg_format_lsn(point, text, sizeof(text));
	wb_snapshot_round_open(sn->s, point, text);
	int nt = wb_snapshot_ntables(sn->s);
	free_cols(sn);
	sn->cols = calloc(nt > 0 ? (size_t)nt : 1, sizeof(*sn->cols));
	if (sn->cols == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	sn->ncols = nt;
	for (int i = 0; i < nt; i++) {
		const struct wb_snapshot_table *t = wb_snapshot_table(sn->s, i);
		if (!t->pending)
			continue;
		const struct wb_pg_reltarget *target =
			find_target(t, targets, ntargets);
		if (target == NULL) {
			wb_snapshot_table_skip(sn->s, i);
			continue;
		}
		if ((rc = describe(sn, cat, target, i, err)))
			return rc;
		ntables++;
	}
	int want = wb_snapshot_round_readers(sn->s);
	sn->r = calloc(want > 0 ? (size_t)want : 1, sizeof(*sn->r));
	if (sn->r == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	sn->nr = want;
	for (int i = 0; i < want; i++)
		if ((rc = reader_open(sn, &sn->r[i], snapshot_name, err)))
			return rc;
	wb_snapshot_round_start(sn->s);
	wb_info("postgres",
		"snapshot of %d table(s) at %s (snapshot %s, %d "
		"reader(s), chunks of %d rows)",
		ntables, text, snapshot_name, want, sn->chunk);
	return WB_OK;
}

static int send_chunk_query(struct wb_pg_snapshot *sn, struct reader *r, int ti,
			    int pi, wb_error_t *err)
{
	const struct wb_snapshot_table *t = wb_snapshot_table(sn->s, ti);
	const struct wb_snapshot_part *pt = &t->parts[pi];
	int ok, rc;
	r->copy = COPY_NONE;
	if (pt->cur_key == NULL) {
		/* from the start (always, for a table without a key) */
		if ((pt->lo || pt->hi) &&
		    (rc = wb_pgsnap_set_bounds(t, pt, r, err)))
			return rc;
		ok = PQsendQuery(r->conn, pt->sql_start);
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

static char **key_of_row(const struct wb_snapshot_table *t, const PGresult *res,
			 int row)
{
	char **k = calloc((size_t)t->nkeys, sizeof(*k));
	if (k == NULL)
		return NULL;
	for (int i = 0; i < t->nkeys; i++)
		if ((k[i] = strdup(PQgetvalue(res, row, t->keycols[i]))) ==
		    NULL) {
			wb_snapshot_key_free(k, t->nkeys);
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
			return wb_error_set(
				err, WB_ERR_RUNTIME,
				"snapshot of %s: PostgreSQL: %s",
				wb_snapshot_table(sn->s, r->table)->full, line);
		}
	}
	if (PQisBusy(r->conn))
		return WB_OK;
	/* the query is complete */
	int ti = r->table, pi = r->part;
	const struct wb_snapshot_table *t = wb_snapshot_table(sn->s, ti);
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
	wb_snapshot_count_read(sn->s, (uint64_t)n);
	r->ready = res;
	r->ready_table = ti;
	r->ready_part = pi;
	r->ready_row = 0;
	r->ready_marked = 0;
	r->ready_last = n < sn->chunk;
	if (!r->ready_last) {
		if (t->nkeys > 0) {
			char **k = key_of_row(t, res, n - 1);
			if (k == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			wb_snapshot_part_resume_after(sn->s, ti, pi, k);
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

/* Converts column i's text, or binary send form (NULL: SQL NULL), into v. */
static int convert_value(struct wb_pg_snapshot *sn, struct wb_batch *b,
			 const struct wb_snapshot_table *t, int i, bool binary,
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
		       const struct wb_snapshot_table *t, const PGresult *res,
		       int row, struct wb_value **out, wb_error_t *err)
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

/* Emits the rest of a reader's ready chunk, or as much as fits. */
static int emit(struct wb_pg_snapshot *sn, struct reader *r, struct wb_batch *b,
		size_t target_bytes, wb_position_t *last, wb_error_t *err)
{
	int ti = r->ready_table, pi = r->ready_part;
	const struct wb_snapshot_table *t = wb_snapshot_table(sn->s, ti);
	int n = PQntuples(r->ready);
	while (r->ready_row < n) {
		if (wb_batch_bytes(b) >= target_bytes) {
			if (t->nkeys == 0 || r->ready_row == r->ready_marked)
				return WB_OK;
			/* the batch ends inside the chunk: resumable after
			 * its last row */
			char **key = key_of_row(t, r->ready, r->ready_row - 1);
			if (key == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			r->ready_marked = r->ready_row;
			return wb_snapshot_chunk_end(sn->s, ti, pi, last, key,
						     false, err);
		}
		if ((r->ready_row & 511) == 0) {
			int rc = pump(sn, err);
			if (rc)
				return rc;
		}
		struct wb_change *c = wb_snapshot_row(sn->s, ti, pi, b);
		if (c == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		int rc = convert_row(sn, b, t, r->ready, r->ready_row,
				     &c->after, err);
		if (rc)
			return rc;
		*last = c->pos;
		r->ready_row++;
	}
	char **key = NULL;
	if (t->nkeys > 0 && n > 0 &&
	    (key = key_of_row(t, r->ready, n - 1)) == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	bool done = r->ready_last;
	PQclear(r->ready);
	r->ready = NULL;
	r->ready_table = -1;
	return wb_snapshot_chunk_end(sn->s, ti, pi, last, key, done, err);
}

/* The text of a COPY row's key, for the keyset query that resumes after
 * it: a text field as it came, a binary (integer) one printed from its
 * value. */
static char **key_of_fields(const struct wb_snapshot_table *t,
			    const struct pg_copy_cols *cc,
			    const struct wb_pg_copy_field *f,
			    const struct wb_value *v)
{
	char **k = calloc((size_t)t->nkeys, sizeof(*k));
	if (k == NULL)
		return NULL;
	for (int i = 0; i < t->nkeys; i++) {
		int c = t->keycols[i];
		const struct wb_pg_copy_field *kf = &f[c];
		if (cc->binary && cc->bin[c]) {
			if (asprintf(&k[i], "%lld", (long long)v[c].u.i) < 0)
				k[i] = NULL;
		} else {
			/* a key column is NOT NULL; "" is what PQgetvalue
			 * gives */
			k[i] = strndup(kf->p ? kf->p : "", kf->len);
		}
		if (k[i] == NULL) {
			wb_snapshot_key_free(k, t->nkeys);
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
	const struct wb_snapshot_table *t = wb_snapshot_table(sn->s, ti);
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
	return wb_snapshot_chunk_end(sn->s, ti, pi, last, NULL, true, err);
}

/* Emits the rows a streaming COPY has delivered so far, or as many as fit;
 * returns when the batch is full or nothing more has arrived. */
static int emit_copy(struct wb_pg_snapshot *sn, struct reader *r,
		     struct wb_batch *b, size_t target_bytes,
		     wb_position_t *last, wb_error_t *err)
{
	int ti = r->table, pi = r->part;
	const struct wb_snapshot_table *t = wb_snapshot_table(sn->s, ti);
	const struct pg_copy_cols *cc = &sn->cols[ti];
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
	/* the last row's line and values, kept until the next row is parsed
	 * (sn->fields point into it): the key of a batch's last row */
	char *held = NULL;
	struct wb_value *held_v = NULL;
	while (wb_batch_bytes(b) < target_bytes) {
		char *line = NULL;
		int n = PQgetCopyData(r->conn, &line, 1);
		if (n == 0) {
			/* libpq's buffer is empty: read what the socket holds,
			 * once, then let the caller wait on it */
			if (consumed)
				break;
			if (PQconsumeInput(r->conn) == 0) {
				PQfreemem(held);
				return copy_lost(r, err);
			}
			consumed = true;
			continue;
		}
		PQfreemem(held);
		held = NULL;
		if (n == -1)
			return copy_finish(sn, r, last, err);
		if (n < 0)
			return copy_lost(r, err);
		consumed = false;
		if (cc->binary) {
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
		wb_snapshot_count_read(sn->s, 1);
		struct wb_change *c =
			rc ? NULL : wb_snapshot_row(sn->s, ti, pi, b);
		struct wb_value *v = NULL;
		if (rc == WB_OK &&
		    (c == NULL || (v = wb_batch_values(b, ncols)) == NULL))
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		if (rc == WB_OK)
			c->after = v;
		for (int i = 0; rc == WB_OK && i < ncols; i++)
			rc = convert_value(
				sn, b, t, i, cc->binary && cc->bin[i],
				sn->fields[i].p, sn->fields[i].len, &v[i], err);
		char **key = NULL;
		if (rc == WB_OK && t->nkeys > 0 &&
		    ++r->since_mark == sn->chunk &&
		    (key = key_of_fields(t, cc, sn->fields, v)) == NULL)
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		held = line;
		held_v = v;
		if (rc) {
			if (rc == WB_ERR_DECODE || rc == WB_ERR_TYPE)
				wb_error_prefix(err, "snapshot of %s", t->full);
			PQfreemem(held);
			return rc;
		}
		*last = c->pos;
		if (key != NULL) {
			/* a chunk boundary: resumable after this row */
			r->since_mark = 0;
			if ((rc = wb_snapshot_chunk_end(sn->s, ti, pi, last,
							key, false, err))) {
				PQfreemem(held);
				return rc;
			}
		}
	}
	/* the batch is full, or nothing more has arrived: resumable after the
	 * last row put into it */
	rc = WB_OK;
	if (held != NULL && t->nkeys > 0 && r->since_mark > 0) {
		char **key = key_of_fields(t, cc, sn->fields, held_v);
		if (key == NULL)
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		else {
			r->since_mark = 0;
			rc = wb_snapshot_chunk_end(sn->s, ti, pi, last, key,
						   false, err);
		}
	}
	PQfreemem(held);
	return rc;
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
			if (!r->busy &&
			    wb_snapshot_take_part(sn->s, &ti, &pi)) {
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
		wb_snapshot_progress(sn->s);
		if (wb_snapshot_round_complete(sn->s)) {
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
		waiting = idle && wb_snapshot_parts_waiting(sn->s);
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
	if (!wb_snapshot_active(sn->s))
		return;
	close_readers(sn);
	free_cols(sn);
	wb_snapshot_round_end(sn->s);
}
