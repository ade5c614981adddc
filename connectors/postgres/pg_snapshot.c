/* pg_snapshot.c — snapshot rounds: COPY and keyset chunk readers, progress,
 * resumable state.
 *
 * Each reader is an ordinary connection in a REPEATABLE READ transaction
 * that imported the round's exported snapshot. A reader works through one
 * part of a table at a time: the whole table, or, for a table split between
 * readers (split()), one range of its integer key. Everything below that
 * says "table" holds for each part, with its own cursor and progress.
 *
 * A table read from its start (or one without a key) is streamed by one
 * `COPY (SELECT cols FROM t ORDER BY key) TO STDOUT` (text format; no
 * ORDER BY without a key): the fastest way out of the server, and a query
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
 * table's durable progress, which state() reports. A table's generation
 * changes when it is re-snapshotted from scratch, so marks of an older
 * round never touch the new one. */
#include "clock.h"
#include "pg_snapshot.h"

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

/* A key range of a table that one reader reads at a time: the whole table,
 * or one of the parts of a table split between readers (see split()). */
struct part {
	char *lo; /* rows with a key above this integer, NULL: from the start */
	char *hi; /* rows with a key up to this integer, NULL: to the end */
	/* durable progress: under mu */
	bool d_done;
	char **d_key;
	int d_nkey;
	int64_t d_rows;
	/* round state: source thread only */
	bool assigned;
	bool emitted_done;
	char *sql_copy; /* the range from its start, in key order */
	char *sql_next; /* the keyset chunk after $1.. (and up to hi) */
	char **cur_key; /* start key of the next query (NULL: from lo) */
	int64_t rows;	/* rows emitted, counting durable rows of earlier
			   runs */
};

struct snap_table {
	char *schema, *name, *full;
	uint64_t gen;	    /* under mu */
	int64_t estimate;   /* under mu */
	struct part *parts; /* under mu (the array; see struct part) */
	int np;
	/* round state: source thread only */
	bool pending;
	bool in_round;
	struct wb_table *table;
	bool binary; /* the COPY is binary */
	bool *bin;   /* binary: which columns come in binary (the rest are
			cast to text) */
	int nkeys;
	int *keycols;
};

struct mark {
	int table;
	int part;
	uint64_t gen;
	wb_position_t pos;
	bool done;
	char **key;
	int nkey;
	int64_t rows;
};

enum copy_state { COPY_NONE, COPY_STARTING, COPY_STREAMING };

struct reader {
	PGconn *conn;
	int table; /* table of the query in flight, -1 when none */
	int part;  /* and its part */
	bool busy;
	enum copy_state copy;
	int since_mark; /* COPY: rows emitted since the last chunk boundary */
	bool bin_first; /* binary COPY: the next message starts with the header
			 */
	PGresult *collecting;
	PGresult *ready; /* a chunk being emitted */
	int ready_table;
	int ready_part;
	int ready_row;
	bool ready_last;
};

struct wb_pg_snapshot {
	const struct wb_config *cfg;
	pthread_mutex_t mu;
	struct snap_table *t;
	int nt, capt;
	struct mark *marks;
	size_t nmarks, capmarks;
	uint64_t point;
	char point_text[32];

	/* round: source thread only */
	bool active;
	struct reader *r;
	int nr;
	int chunk;
	int64_t ts_us;
	uint64_t n;
	uint64_t rows_read; /* this process, every round */
	uint64_t round_rows;
	long long round_start_ms;
	long long last_progress_ms;
	int current; /* table last emitted from, for progress */
	bool tty;
	bool progress_shown;
	bool warned_type;
	int turn; /* reader served first by the next step (fairness) */
	struct wb_arena scratch; /* COPY fields with escapes, one row */
	struct wb_pg_copy_field *fields;
	int capfields;
};

static void free_key(char **key, int n)
{
	for (int i = 0; key && i < n; i++)
		free(key[i]);
	free(key);
}

static char **copy_key(char *const *key, int n)
{
	if (key == NULL || n == 0)
		return NULL;
	char **k = calloc((size_t)n, sizeof(*k));
	if (k == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
		if ((k[i] = strdup(key[i])) == NULL) {
			free_key(k, n);
			return NULL;
		}
	return k;
}

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

static void part_clear_round(struct part *pt, int nkeys)
{
	free(pt->sql_copy);
	free(pt->sql_next);
	pt->sql_copy = pt->sql_next = NULL;
	free_key(pt->cur_key, nkeys);
	pt->cur_key = NULL;
	pt->assigned = pt->emitted_done = false;
}

static void parts_free(struct part *parts, int np, int nkeys)
{
	for (int i = 0; parts && i < np; i++) {
		part_clear_round(&parts[i], nkeys);
		free(parts[i].lo);
		free(parts[i].hi);
		free_key(parts[i].d_key, parts[i].d_nkey);
	}
	free(parts);
}

/* Makes t one part again, the whole table, with no progress; call with mu
 * held (and outside a round, or before the table's round starts). false
 * when out of memory. */
static bool whole_table(struct snap_table *t)
{
	struct part *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return false;
	parts_free(t->parts, t->np, t->nkeys);
	t->parts = p;
	t->np = 1;
	return true;
}

static int64_t table_rows(const struct snap_table *t)
{
	int64_t n = 0;
	for (int i = 0; i < t->np; i++)
		n += t->parts[i].rows;
	return n;
}

static bool table_emitted(const struct snap_table *t)
{
	for (int i = 0; i < t->np; i++)
		if (!t->parts[i].emitted_done)
			return false;
	return true;
}

static void round_clear_table(struct snap_table *t)
{
	for (int i = 0; i < t->np; i++)
		part_clear_round(&t->parts[i], t->nkeys);
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
		parts_free(t->parts, t->np, 0);
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

/* Finds or appends "schema.name"; call with mu held. -1 when out of memory. */
static int table_index(struct wb_pg_snapshot *sn, const char *schema,
		       const char *name)
{
	for (int i = 0; i < sn->nt; i++)
		if (strcmp(sn->t[i].schema, schema) == 0 &&
		    strcmp(sn->t[i].name, name) == 0)
			return i;
	if (sn->nt == sn->capt) {
		int cap = sn->capt ? sn->capt * 2 : 8;
		struct snap_table *nt =
			realloc(sn->t, (size_t)cap * sizeof(*nt));
		if (nt == NULL)
			return -1;
		sn->t = nt;
		sn->capt = cap;
	}
	struct snap_table *t = &sn->t[sn->nt];
	memset(t, 0, sizeof(*t));
	t->schema = strdup(schema);
	t->name = strdup(name);
	if (t->schema == NULL || t->name == NULL || !whole_table(t) ||
	    asprintf(&t->full, "%s.%s", schema, name) < 0) {
		free(t->schema);
		free(t->name);
		free(t->parts);
		return -1;
	}
	t->estimate = -1;
	return sn->nt++;
}

int wb_pg_snapshot_add(struct wb_pg_snapshot *sn, const char *schema,
		       const char *name, wb_error_t *err)
{
	pthread_mutex_lock(&sn->mu);
	int i = table_index(sn, schema, name);
	if (i >= 0) {
		struct snap_table *t = &sn->t[i];
		t->gen++;
		if (!whole_table(t))
			i = -1;
		else
			t->pending = true;
	}
	pthread_mutex_unlock(&sn->mu);
	if (i < 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

/* A part's durable progress from its JSON (the table's own object for a
 * table in one part). */
static bool restore_progress(struct part *pt, json_t *v)
{
	pt->d_done = json_is_true(json_object_get(v, "done"));
	pt->d_rows = json_integer_value(json_object_get(v, "rows"));
	pt->rows = pt->d_rows;
	json_t *key = json_object_get(v, "key");
	if (pt->d_done || !json_is_array(key) || json_array_size(key) == 0)
		return true;
	size_t nk = json_array_size(key);
	pt->d_key = calloc(nk, sizeof(char *));
	if (pt->d_key == NULL)
		return false;
	pt->d_nkey = (int)nk;
	for (size_t k = 0; k < nk; k++) {
		const char *s = json_string_value(json_array_get(key, k));
		if ((pt->d_key[k] = strdup(s ? s : "")) == NULL)
			return false;
	}
	return true;
}

/* Whether s is a decimal int64, as split() writes bounds. */
static bool int_text(const char *s, long long *v)
{
	char *end;
	errno = 0;
	*v = s && *s ? strtoll(s, &end, 10) : 0;
	return s && *s && errno == 0 && *end == '\0';
}

/* Every part but the last ends at an integer, each above the one before;
 * the last is open. */
static bool bounds_valid(const struct part *p, int np)
{
	long long prev = 0, v;
	for (int i = 0; i < np; i++) {
		if (i == np - 1)
			return p[i].hi == NULL;
		if (!int_text(p[i].hi, &v) || (i > 0 && v <= prev))
			return false;
		prev = v;
	}
	return true;
}

/* The parts of a table from its checkpoint object: "parts" when it was
 * split, else the table's own done/rows/key. Call with mu held. */
static bool restore_parts(struct snap_table *t, json_t *v)
{
	if (!whole_table(t))
		return false;
	json_t *parts = json_object_get(v, "parts");
	size_t np = json_is_array(parts) ? json_array_size(parts) : 0;
	if (np > 1) {
		struct part *p = calloc(np, sizeof(*p));
		if (p == NULL)
			return false;
		parts_free(t->parts, t->np, 0);
		t->parts = p;
		t->np = (int)np;
		for (size_t i = 0; i < np; i++) {
			json_t *pv = json_array_get(parts, i);
			const char *hi =
				json_string_value(json_object_get(pv, "hi"));
			if (hi && (p[i].hi = strdup(hi)) == NULL)
				return false;
			if (i > 0 && p[i - 1].hi &&
			    (p[i].lo = strdup(p[i - 1].hi)) == NULL)
				return false;
			if (!restore_progress(&p[i], pv))
				return false;
		}
		if (!bounds_valid(p, (int)np)) {
			wb_warn("postgres",
				"snapshot of %s: the checkpoint's parts are "
				"not a split of the key; the table is read "
				"again from its start",
				t->full);
			if (!whole_table(t))
				return false;
		}
	} else if (!restore_progress(&t->parts[0], v)) {
		return false;
	}
	t->pending = false;
	for (int i = 0; i < t->np; i++)
		t->pending |= !t->parts[i].d_done;
	return true;
}

int wb_pg_snapshot_restore(struct wb_pg_snapshot *sn, json_t *state,
			   wb_error_t *err)
{
	json_t *tables = json_object_get(state, "tables");
	const char *point = json_string_value(json_object_get(state, "point"));
	if (point)
		snprintf(sn->point_text, sizeof(sn->point_text), "%s", point);
	if (!json_is_object(tables))
		return WB_OK;
	const char *full;
	json_t *v;
	json_object_foreach(tables, full, v)
	{
		const char *dot = strchr(full, '.');
		if (dot == NULL || !json_is_object(v))
			continue;
		char *schema = strndup(full, (size_t)(dot - full));
		if (schema == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		pthread_mutex_lock(&sn->mu);
		int i = table_index(sn, schema, dot + 1);
		free(schema);
		if (i < 0) {
			pthread_mutex_unlock(&sn->mu);
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		}
		struct snap_table *t = &sn->t[i];
		json_t *est = json_object_get(v, "estimate");
		t->estimate =
			json_is_integer(est) ? json_integer_value(est) : -1;
		bool ok = restore_parts(t, v);
		pthread_mutex_unlock(&sn->mu);
		if (!ok)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	return WB_OK;
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

/* ---------------------------------------------------------------- SQL */

static char *quoted_table(PGconn *conn, const struct snap_table *t)
{
	char *a = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
	char *b = PQescapeIdentifier(conn, t->name, strlen(t->name));
	char *out = NULL;
	if (a && b && asprintf(&out, "%s.%s", a, b) < 0)
		out = NULL;
	PQfreemem(a);
	PQfreemem(b);
	return out;
}

/* The columns listed by idx (all columns when idx NULL), comma-separated:
 * each as $1, $2, ... with params, else quoted, prefixed with `qualifier.`
 * when given, and cast `::text` where binary is given and false for that
 * column; NULL when out of memory. */
static char *column_list(PGconn *conn, const struct wb_table *tb,
			 const int *idx, int n, const char *qualifier,
			 const bool *binary, bool params)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (f == NULL)
		return NULL;
	bool ok = true;
	for (int i = 0; i < n && ok; i++) {
		int c = idx ? idx[i] : i;
		if (params) {
			ok = fprintf(f, "%s$%d", i ? ", " : "", i + 1) > 0;
			continue;
		}
		const char *name = tb->cols[c].name;
		char *q = PQescapeIdentifier(conn, name, strlen(name));
		ok = q != NULL &&
		     fprintf(f, "%s%s%s%s%s", i ? ", " : "",
			     qualifier ? qualifier : "", qualifier ? "." : "",
			     q, binary && !binary[c] ? "::text" : "") > 0;
		PQfreemem(q);
	}
	if (fclose(f) != 0 || !ok) {
		free(out);
		return NULL;
	}
	return out;
}

/* Whether column c of t comes in binary in the table's COPY: its type has
 * a binary reader, and a key column must also give the text of a chunk
 * boundary's key back cheaply (integers are printed back from their value,
 * other key types come as text). */
static bool binary_column(const struct snap_table *t, int c)
{
	const struct wb_column *col = &t->table->cols[c];
	if (!wb_pg_binary_reads(&col->type))
		return false;
	return !col->key || ((col->type.s.kind == WB_T_INT ||
			      col->type.s.kind == WB_T_LONG) &&
			     col->type.s.logical == WB_L_NONE);
}

/* Sets t->bin (which columns the COPY reads in binary) and t->binary (any
 * of them); false when out of memory. */
static bool choose_binary(struct snap_table *t)
{
	const struct wb_table *tb = t->table;
	t->binary = false;
	t->bin = calloc(tb->ncols > 0 ? (size_t)tb->ncols : 1, sizeof(bool));
	if (t->bin == NULL)
		return false;
	for (int c = 0; c < tb->ncols; c++)
		t->binary |= t->bin[c] = binary_column(t, c);
	return true;
}

/* A part's bounds in SQL: " WHERE ..." on the key (empty for the whole
 * table). The COPY takes no parameters, so its bounds come from settings
 * that send_chunk_query() sets with bound values; the keyset query binds
 * hi as $2 (after the start key). NULL when out of memory. */
static char *bounds_sql(const struct part *pt, const char *key, bool copy)
{
	char *out = NULL;
	int n;
	if (copy && pt->lo && pt->hi)
		n = asprintf(
			&out,
			" WHERE %s > current_setting('waybill.snapshot_lo')"
			"::bigint AND %s <= "
			"current_setting('waybill.snapshot_hi')::bigint",
			key, key);
	else if (copy && pt->lo)
		n = asprintf(
			&out,
			" WHERE %s > current_setting('waybill.snapshot_lo')"
			"::bigint",
			key);
	else if (copy && pt->hi)
		n = asprintf(
			&out,
			" WHERE %s <= current_setting('waybill.snapshot_hi')"
			"::bigint",
			key);
	else if (!copy && pt->hi)
		n = asprintf(&out, " AND %s <= $2::bigint", key);
	else
		n = asprintf(&out, "%s", "");
	return n < 0 ? NULL : out;
}

static int build_sql(struct wb_pg_snapshot *sn, PGconn *conn, int ti,
		     wb_error_t *err)
{
	struct snap_table *t = &sn->t[ti];
	const struct wb_table *tb = t->table;
	char *tbl = quoted_table(conn, t);
	char *cols = column_list(conn, tb, NULL, tb->ncols, NULL, NULL, false);
	/* binary: most columns in their send form, which costs the server
	 * less to produce and us less to read than text; the others are cast
	 * to text in the COPY's select list */
	char *copy_cols =
		choose_binary(t) ? column_list(conn, tb, NULL, tb->ncols, NULL,
					       t->binary ? t->bin : NULL, false)
				 : NULL;
	char *keys = NULL, *params = NULL, *order = NULL;
	const char *format = t->binary ? " (FORMAT binary)" : "";
	int rc = WB_OK;
	if (tbl == NULL || cols == NULL || copy_cols == NULL)
		goto nomem;
	if (t->nkeys > 0) {
		keys = column_list(conn, tb, t->keycols, t->nkeys, NULL, NULL,
				   false);
		params = column_list(conn, tb, t->keycols, t->nkeys, NULL, NULL,
				     true);
		/* ORDER BY the table's columns, not the text casts of the
		 * select list that carry the same names */
		order = column_list(conn, tb, t->keycols, t->nkeys, tbl, NULL,
				    false);
		if (keys == NULL || params == NULL || order == NULL)
			goto nomem;
	}
	for (int i = 0; i < t->np; i++) {
		struct part *pt = &t->parts[i];
		if (t->nkeys == 0) {
			/* no key to page by: the whole table in one COPY */
			if (asprintf(&pt->sql_copy,
				     "COPY (SELECT %s FROM %s) TO STDOUT%s",
				     copy_cols, tbl, format) < 0) {
				pt->sql_copy = NULL;
				goto nomem;
			}
			continue;
		}
		/* a split table has one integer key column (split()) */
		char *cb = bounds_sql(pt, order, true);
		char *nb = bounds_sql(pt, keys, false);
		int a = cb && nb
				? asprintf(&pt->sql_copy,
					   "COPY (SELECT %s FROM %s%s ORDER BY "
					   "%s) TO STDOUT%s",
					   copy_cols, tbl, cb, order, format)
				: -1;
		int b = a >= 0 ? asprintf(&pt->sql_next,
					  "SELECT %s FROM %s WHERE (%s) > "
					  "(%s)%s "
					  "ORDER BY %s LIMIT %d",
					  cols, tbl, keys, params, nb, keys,
					  sn->chunk)
			       : -1;
		free(cb);
		free(nb);
		if (a < 0)
			pt->sql_copy = NULL;
		if (b < 0)
			pt->sql_next = NULL;
		if (a < 0 || b < 0)
			goto nomem;
	}
	goto done;
nomem:
	rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
done:
	free(tbl);
	free(cols);
	free(copy_cols);
	free(keys);
	free(params);
	free(order);
	return rc;
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

/* One key column, an integer: what split() can divide by value. */
static bool integer_key(const struct snap_table *t)
{
	if (t->nkeys != 1)
		return false;
	const struct wb_type *ty = &t->table->cols[t->keycols[0]].type;
	return !ty->is_array && ty->s.logical == WB_L_NONE &&
	       (ty->s.kind == WB_T_INT || ty->s.kind == WB_T_LONG);
}

/* With more than one reader, a table read from its start whose key is one
 * integer column, and that holds at least two chunks, is split into up to
 * parallelism parts of equal key ranges between its smallest and largest
 * key (a gap-free key gives equal row counts), read at once by different
 * readers. The first part is open below and the last above, so the split
 * covers every key whatever the snapshot holds. The parts are recorded in
 * the checkpoint, so a resumed table keeps them. */
static int split(struct wb_pg_snapshot *sn, PGconn *conn, struct snap_table *t,
		 wb_error_t *err)
{
	int want = sn->cfg->source.snapshot_parallelism;
	struct part *p0 = &t->parts[0];
	if (want < 2 || t->np != 1 || p0->d_done || p0->d_nkey > 0 ||
	    p0->d_rows > 0 || !integer_key(t) || t->estimate < 2LL * sn->chunk)
		return WB_OK;
	if (want > t->estimate / sn->chunk)
		want = (int)(t->estimate / sn->chunk);
	char *tbl = quoted_table(conn, t);
	const char *kname = t->table->cols[t->keycols[0]].name;
	char *k = PQescapeIdentifier(conn, kname, strlen(kname));
	char *sql = NULL;
	if (tbl == NULL || k == NULL ||
	    asprintf(&sql, "SELECT min(%s)::text, max(%s)::text FROM %s", k, k,
		     tbl) < 0)
		sql = NULL;
	free(tbl);
	PQfreemem(k);
	if (sql == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	PGresult *res = wb_pg_query(conn, sql, 0, NULL, err);
	free(sql);
	if (res == NULL)
		return err->code;
	long long lo, hi;
	bool range = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
		     int_text(PQgetvalue(res, 0, 0), &lo) &&
		     int_text(PQgetvalue(res, 0, 1), &hi);
	PQclear(res);
	uint64_t step = range && hi > lo
				? ((uint64_t)hi - (uint64_t)lo) / (uint64_t)want
				: 0;
	if (step == 0)
		return WB_OK;
	struct part *p = calloc((size_t)want, sizeof(*p));
	if (p == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	bool ok = true;
	for (int i = 0; i < want - 1 && ok; i++) {
		long long b =
			(long long)((uint64_t)lo + step * (uint64_t)(i + 1));
		ok = asprintf(&p[i].hi, "%lld", b) >= 0 &&
		     (p[i + 1].lo = strdup(p[i].hi)) != NULL;
		if (!ok)
			p[i].hi = NULL;
	}
	if (!ok) {
		parts_free(p, want, 0);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	pthread_mutex_lock(&sn->mu);
	parts_free(t->parts, t->np, t->nkeys);
	t->parts = p;
	t->np = want;
	t->gen++;
	pthread_mutex_unlock(&sn->mu);
	wb_info("postgres",
		"snapshot of %s: split into %d parts by %s (%lld to %lld) "
		"for %d readers",
		t->full, want, kname, lo, hi, want);
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
	if (t->np > 1 && !integer_key(t)) {
		wb_warn("postgres",
			"snapshot of %s: its key changed since it was split "
			"between readers; it is read again from its start",
			t->full);
		pthread_mutex_lock(&sn->mu);
		bool ok = whole_table(t);
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
	int rc = split(sn, cat->conn, t, err);
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
	return build_sql(sn, cat->conn, ti, err);
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

/* The bounds of a part's COPY, as settings of the reader's transaction
 * (values bound, not pasted into the COPY). */
static int set_bounds(struct snap_table *t, struct part *pt, struct reader *r,
		      wb_error_t *err)
{
	const char *params[2] = {pt->lo ? pt->lo : "", pt->hi ? pt->hi : ""};
	PGresult *res = wb_pg_query(
		r->conn,
		"SELECT set_config('waybill.snapshot_lo', $1, true), "
		"set_config('waybill.snapshot_hi', $2, true)",
		2, params, err);
	if (res == NULL) {
		wb_error_prefix(err, "snapshot of %s", t->full);
		return err->code;
	}
	PQclear(res);
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
		if ((pt->lo || pt->hi) && (rc = set_bounds(t, pt, r, err)))
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

void wb_pg_snapshot_durable(struct wb_pg_snapshot *sn,
			    const wb_position_t *durable)
{
	pthread_mutex_lock(&sn->mu);
	size_t k = 0;
	while (k < sn->nmarks &&
	       wb_position_cmp(&sn->marks[k].pos, durable) <= 0) {
		struct mark *m = &sn->marks[k++];
		struct snap_table *t = &sn->t[m->table];
		if (m->gen != t->gen || m->part >= t->np) {
			free_key(m->key, m->nkey);
			continue;
		}
		struct part *pt = &t->parts[m->part];
		pt->d_rows = m->rows;
		pt->d_done = m->done;
		if (m->key) {
			free_key(pt->d_key, pt->d_nkey);
			pt->d_key = m->key;
			pt->d_nkey = m->nkey;
		} else {
			free_key(m->key, m->nkey);
		}
	}
	if (k > 0) {
		memmove(sn->marks, sn->marks + k,
			(sn->nmarks - k) * sizeof(*sn->marks));
		sn->nmarks -= k;
	}
	pthread_mutex_unlock(&sn->mu);
}

/* A durable key as JSON: null when none (or done). */
static json_t *key_json(const struct part *pt)
{
	if (pt->d_key == NULL || pt->d_done)
		return json_null();
	json_t *key = json_array();
	for (int k = 0; key && k < pt->d_nkey; k++)
		json_array_append_new(key, json_string(pt->d_key[k]));
	return key;
}

json_t *wb_pg_snapshot_state(struct wb_pg_snapshot *sn)
{
	pthread_mutex_lock(&sn->mu);
	if (sn->nt == 0) {
		pthread_mutex_unlock(&sn->mu);
		return NULL;
	}
	json_t *tables = json_object();
	for (int i = 0; tables && i < sn->nt; i++) {
		const struct snap_table *t = &sn->t[i];
		bool done = true;
		int64_t rows = 0;
		json_t *parts = t->np > 1 ? json_array() : NULL;
		for (int k = 0; k < t->np; k++) {
			const struct part *pt = &t->parts[k];
			done &= pt->d_done;
			rows += pt->d_rows;
			if (parts)
				json_array_append_new(
					parts, json_pack("{s:s?,s:b,s:I,s:o}",
							 "hi", pt->hi, "done",
							 pt->d_done, "rows",
							 (json_int_t)pt->d_rows,
							 "key", key_json(pt)));
		}
		json_t *o = json_pack("{s:b,s:I,s:I,s:o}", "done", done, "rows",
				      (json_int_t)rows, "estimate",
				      (json_int_t)t->estimate, "key",
				      t->np == 1 ? key_json(&t->parts[0])
						 : json_null());
		if (o && parts)
			json_object_set_new(o, "parts", parts);
		else
			json_decref(parts);
		json_object_set_new(tables, t->full, o);
	}
	json_t *out = json_pack("{s:s,s:o}", "point", sn->point_text, "tables",
				tables);
	pthread_mutex_unlock(&sn->mu);
	return out;
}
