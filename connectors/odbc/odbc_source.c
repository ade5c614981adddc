/* odbc_source.c — the ODBC polling source: ops, the poll loop, positions
 * and checkpoint state.
 *
 * A poll of a table reads, in bounded chunks (a row limit, so a driver
 * that buffers a whole result stays bounded), the rows whose tracking
 * value lies between the look-back window's start (the watermark's
 * tracking value minus `lookback`) and the commit horizon (the database's
 * clock minus `lag`), ordered by the tracking column(s) and a tie-break
 * (the incrementing column, else the primary key), each chunk resuming
 * after the last row of the previous one. A row already emitted (its
 * (key hash, row hash) is in the look-back set) is suppressed; any other
 * row is emitted — a row committed late with an older tracking value
 * included. The watermark moves to the last row read past it; it only
 * ever stands on a complete (tracking, tie-break) value, so a stop
 * anywhere loses nothing.
 *
 * Positions: every chunk is a round, major = a number above every earlier
 * round (the wall clock in microseconds, or the last round + 1), minor =
 * the row's ordinal in the round, a COMMIT change at (round, end) carries
 * the round as ack. Text "<round>:<n>" / "<round>:end". The watermark and
 * look-back set of a round become durable (state()) once the pipeline
 * reports the round's end durable. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "odbc_int.h"
#include "odbc_keyset.h"
#include "valconv.h"
#include "xtz.h"

/* ------------------------------------------------------------- helpers */

static bool is_sqlite(const struct wb_odbc_conn *c)
{
	return strcasecmp(c->dbms, "SQLite") == 0;
}

void wb_odbc_limit_clause(const struct wb_odbc_conn *c, long long n, char *buf,
			  size_t cap)
{
	if (strcasecmp(c->dbms, "PostgreSQL") == 0 || is_sqlite(c) ||
	    strcasecmp(c->dbms, "MySQL") == 0 ||
	    strcasecmp(c->dbms, "MariaDB") == 0)
		snprintf(buf, cap, " LIMIT %lld", n);
	else if (strncasecmp(c->dbms, "Microsoft SQL Server", 20) == 0)
		buf[0] = '\0';
	else
		snprintf(buf, cap, " FETCH FIRST %lld ROWS ONLY", n);
}

bool wb_odbc_top_clause(const struct wb_odbc_conn *c)
{
	return strncasecmp(c->dbms, "Microsoft SQL Server", 20) == 0;
}

int64_t wb_odbc_lookback_from(const struct wb_odbc_tab *t)
{
	int64_t back = t->cfg->mode == WB_ODBC_INCREMENTING
			       ? t->cfg->lookback_ids
			       : t->cfg->lookback_ms * 1000;
	int64_t from;
	if (__builtin_sub_overflow(t->wm_track, back, &from))
		from = INT64_MIN; /* an id near the type's minimum */
	return from;
}

int64_t wb_odbc_track_of(const struct wb_odbc_tab *t, const char *text)
{
	int64_t v = 0;
	if (t->ts_col >= 0) {
		if (!wb_odbc_parse_ts(text, strlen(text), &v))
			v = 0;
	} else {
		v = strtoll(text, NULL, 10);
	}
	return v;
}

/* Compares order values a and b (n of them) as the database orders them:
 * the tracking value by its parsed value, integer columns by value, the
 * rest by bytes. */
static int ord_cmp(const struct wb_odbc_tab *t, char a[][WB_ODBC_TEXT_MAX],
		   char b[][WB_ODBC_TEXT_MAX], int n)
{
	for (int i = 0; i < n; i++) {
		const struct wb_odbc_col *c = &t->cols[t->ordcols[i]];
		int r;
		if (i == 0 || c->fetch == WB_ODBC_F_I64) {
			int64_t x = i == 0 ? wb_odbc_track_of(t, a[i])
					   : strtoll(a[i], NULL, 10);
			int64_t y = i == 0 ? wb_odbc_track_of(t, b[i])
					   : strtoll(b[i], NULL, 10);
			r = x < y ? -1 : x > y;
		} else {
			r = strcmp(a[i], b[i]);
		}
		if (r)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------- create */

static struct wb_source *odbc_create(const struct wb_config *cfg,
				     wb_error_t *err)
{
	const struct wb_odbc_config *oc = &cfg->source.odbc;
	struct wb_odbc_source *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->base.ops = &wb_odbc_source_ops;
	s->base.cfg = cfg;
	s->oc = oc;
	pthread_mutex_init(&s->mu, NULL);
	wb_snapshot_request_init(&s->req, cfg, "odbc");
	char msg[200];
	s->tz = wb_tz_load(oc->time_zone, msg, sizeof(msg));
	if (s->tz == NULL) {
		wb_error_set(err, WB_ERR_CONFIG, "%s: source.time_zone: %s",
			     cfg->path, msg);
		goto fail;
	}
	s->snap = wb_snapshot_new("odbc", cfg->source.snapshot_chunk_rows, 1);
	s->tabs = calloc((size_t)oc->ntables, sizeof(*s->tabs));
	if (s->snap == NULL || s->tabs == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto fail;
	}
	s->ntabs = oc->ntables;
	for (int i = 0; i < s->ntabs; i++) {
		struct wb_odbc_tab *t = &s->tabs[i];
		t->cfg = &oc->tables[i];
		const char *dot = strchr(t->cfg->name, '.');
		t->schema = strndup(t->cfg->name, (size_t)(dot - t->cfg->name));
		t->name = strdup(dot + 1);
		if (t->schema == NULL || t->name == NULL) {
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto fail;
		}
		t->ts_col = t->inc_col = t->del_col = -1;
		wb_odbc_seen_init(&t->seen, (size_t)oc->lookback_rows);
		wb_odbc_seen_init(&t->seen_fnv1a, (size_t)oc->lookback_rows);
	}
	return &s->base;
fail:
	wb_odbc_source_ops.destroy(&s->base);
	return NULL;
}

/* ------------------------------------------------------------- describe */

static int find_col(const struct wb_odbc_tab *t, const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return i;
	for (int i = 0; i < t->ncols; i++)
		if (strcasecmp(t->cols[i].name, name) == 0)
			return i;
	return -2;
}

/* The primary key columns of t, by SQLPrimaryKeys: the configured schema
 * as the schema, else as the catalog (MySQL and MariaDB call databases
 * catalogs), else no qualifier (SQLite). */
static int primary_key(struct wb_odbc_source *s, struct wb_odbc_tab *t,
		       wb_error_t *err)
{
	char names[WB_ODBC_ORD_MAX][256];
	int seq[WB_ODBC_ORD_MAX];
	int n = 0;
	t->nkeys = 0;
	for (int attempt = 0; attempt < 3 && n == 0; attempt++) {
		SQLHSTMT st;
		if (!SQL_SUCCEEDED(
			    SQLAllocHandle(SQL_HANDLE_STMT, s->conn.dbc, &st)))
			return wb_odbc_diag(SQL_HANDLE_DBC, s->conn.dbc,
					    "reading the primary key", err);
		SQLCHAR *cat = attempt == 1 ? (SQLCHAR *)t->schema : NULL;
		SQLCHAR *sch = attempt == 0 ? (SQLCHAR *)t->schema : NULL;
		SQLRETURN r = SQLPrimaryKeys(st, cat, cat ? SQL_NTS : 0, sch,
					     sch ? SQL_NTS : 0,
					     (SQLCHAR *)t->name, SQL_NTS);
		while (SQL_SUCCEEDED(r) && SQL_SUCCEEDED(r = SQLFetch(st))) {
			char col[256] = "";
			SQLLEN ind;
			SQLSMALLINT ks = 0;
			SQLGetData(st, 4, SQL_C_CHAR, col, sizeof(col), &ind);
			SQLGetData(st, 5, SQL_C_SSHORT, &ks, 0, &ind);
			if (n < WB_ODBC_ORD_MAX) {
				snprintf(names[n], sizeof(names[n]), "%s", col);
				seq[n++] = ks;
			}
		}
		SQLFreeHandle(SQL_HANDLE_STMT, st);
	}
	for (int k = 1; k <= n; k++)
		for (int j = 0; j < n; j++)
			if (seq[j] == k) {
				int c = find_col(t, names[j]);
				if (c >= 0)
					t->keycols[t->nkeys++] = c;
			}
	if (t->nkeys != n) /* KEY_SEQ missing: in the order given */
		for (t->nkeys = 0; t->nkeys < n; t->nkeys++)
			t->keycols[t->nkeys] = find_col(t, names[t->nkeys]);
	for (int i = 0; i < t->nkeys; i++)
		if (t->keycols[i] < 0)
			t->nkeys = 0;
	return WB_OK;
}

int wb_odbc_describe_one(struct wb_odbc_source *s, struct wb_odbc_tab *t,
			 wb_error_t *err)
{
	int rc;
	char *qs = NULL, *qn = NULL, *sql = NULL;
	struct wb_odbc_reader r;
	memset(&r, 0, sizeof(r));
	if (!(qs = wb_odbc_quote(&s->conn, t->schema, err)) ||
	    !(qn = wb_odbc_quote(&s->conn, t->name, err))) {
		rc = err->code;
		goto out;
	}
	free(t->qname);
	if (asprintf(&t->qname, "%s.%s", qs, qn) < 0 ||
	    asprintf(&sql, "SELECT * FROM %s WHERE 1 = 0", t->qname) < 0) {
		t->qname = NULL;
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = wb_odbc_reader_open(&r, &s->conn, sql, NULL, 0, 1, 1 << 30,
				      err))) {
		wb_error_set(err, rc, "table %s: %s", t->cfg->name,
			     err->message);
		err->retriable = rc == WB_ERR_CONNECT;
		goto out;
	}
	wb_odbc_mark_text_forms(&r);
	/* the columns (and their names) are taken */
	for (int i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	free(t->cols);
	t->ncols = 0;
	t->cols = calloc(r.ncols ? (size_t)r.ncols : 1, sizeof(*t->cols));
	if (t->cols == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto out;
	}
	t->ncols = r.ncols;
	memcpy(t->cols, r.cols, (size_t)r.ncols * sizeof(*t->cols));
	for (int i = 0; i < r.ncols; i++)
		r.cols[i].name = NULL;
	wb_odbc_reader_close(&r);
	if ((rc = primary_key(s, t, err)))
		goto out;
	const struct wb_odbc_table *tc = t->cfg;
	t->ts_col = find_col(t, tc->timestamp);
	t->inc_col = find_col(t, tc->incrementing);
	t->del_col = find_col(t, tc->deleted_column);
	const char *missing = t->ts_col == -2	 ? tc->timestamp
			      : t->inc_col == -2 ? tc->incrementing
			      : t->del_col == -2 ? tc->deleted_column
						 : NULL;
	if (missing) {
		rc = wb_error_set(err, WB_ERR_CONFIG,
				  "table %s has no column \"%s\"", tc->name,
				  missing);
		goto out;
	}
	t->nord = 0;
	if (t->ts_col >= 0)
		t->ordcols[t->nord++] = t->ts_col;
	if (t->inc_col >= 0) {
		t->ordcols[t->nord++] = t->inc_col;
	} else if (tc->mode != WB_ODBC_INCREMENTING) {
		for (int i = 0; i < t->nkeys && t->nord < WB_ODBC_ORD_MAX; i++)
			if (t->keycols[i] != t->ts_col)
				t->ordcols[t->nord++] = t->keycols[i];
	}
	t->ord_from_cells = t->nord > 0;
	for (int i = 0; i < t->nord; i++)
		t->ord_from_cells &= t->cols[t->ordcols[i]].int_text_decimal;
	t->exact = tc->mode != WB_ODBC_TIMESTAMP || t->nkeys > 0;
	if (tc->mode == WB_ODBC_BULK && t->nkeys == 0)
		t->exact = false;
	/* the shape */
	wb_table_unref(t->table);
	t->table = wb_table_new("", t->schema, t->name, t->ncols);
	if (t->table == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto out;
	}
	size_t sellen = 1;
	for (int i = 0; i < t->ncols; i++) {
		struct wb_odbc_col *c = &t->cols[i];
		bool key = false;
		for (int k = 0; k < t->nkeys; k++)
			key |= t->keycols[k] == i;
		wb_table_set_column(t->table, i, c->name, &c->type,
				    c->nullable && !key, key);
		if (c->unknown)
			wb_warn("odbc",
				"%s.%s: SQL type %d has no mapping; read as "
				"its text",
				tc->name, c->name, (int)c->sqltype);
		sellen += strlen(c->name) * 2 + 8;
	}
	free(t->sel);
	free(t->sel_text);
	t->sel_text = NULL;
	/* an order column stays as it is: ORDER BY names it, and would
	 * find the cast's alias too */
	for (int i = 0; i < t->nord; i++)
		t->cols[t->ordcols[i]].ts_text = false;
	bool casts = false;
	for (int i = 0; i < t->ncols; i++)
		casts |= t->cols[i].ts_text;
	t->sel = malloc(sellen);
	if (casts)
		t->sel_text = malloc(sellen * 2 + (size_t)t->ncols * 32);
	if (t->sel == NULL || (casts && t->sel_text == NULL)) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto out;
	}
	t->sel[0] = '\0';
	if (casts)
		t->sel_text[0] = '\0';
	for (int i = 0; i < t->ncols; i++) {
		char *q = wb_odbc_quote(&s->conn, t->cols[i].name, err);
		if (q == NULL) {
			rc = err->code;
			goto out;
		}
		if (i)
			strcat(t->sel, ", ");
		strcat(t->sel, q);
		if (casts) {
			/* the server's text of a timestamp, which psqlODBC
			 * only copies (wb_odbc_reader_open_bounded) */
			if (i)
				strcat(t->sel_text, ", ");
			if (t->cols[i].ts_text) {
				strcat(t->sel_text, "CAST(");
				strcat(t->sel_text, q);
				strcat(t->sel_text, " AS varchar) AS ");
			}
			strcat(t->sel_text, q);
		}
		free(q);
	}
out:
	wb_odbc_reader_close(&r);
	free(qs);
	free(qn);
	free(sql);
	return rc;
}

int wb_odbc_describe_tables(struct wb_odbc_source *s, wb_error_t *err)
{
	if (s->described)
		return WB_OK;
	for (int i = 0; i < s->ntabs; i++) {
		int rc = wb_odbc_describe_one(s, &s->tabs[i], err);
		if (rc)
			return rc;
	}
	s->described = true;
	return WB_OK;
}

/* ------------------------------------------------------------- rounds */

void wb_odbc_round_begin(struct wb_odbc_source *s, struct wb_batch *b)
{
	uint64_t now = (uint64_t)wb_clock_real_ms() * 1000;
	s->round = now > s->last_round ? now : s->last_round + 1;
	s->last_round = s->round;
	s->ordinal = 0;
	s->in_round = true;
	s->round_start_n = b->n;
	pthread_mutex_lock(&s->mu);
	if (s->round > s->max_round)
		s->max_round = s->round;
	pthread_mutex_unlock(&s->mu);
}

/* Cuts b back to where the failed round began and forgets its set
 * entries: nothing of it was delivered. */
static void round_abort(struct wb_odbc_source *s, struct wb_batch *b,
			struct wb_odbc_tab *t)
{
	if (!s->in_round)
		return;
	b->n = s->round_start_n;
	wb_odbc_keyset_round_aborted(s, s->round);
	pthread_mutex_lock(&s->mu);
	wb_odbc_seen_forget_round(&t->seen, s->round);
	pthread_mutex_unlock(&s->mu);
	s->in_round = false;
}

/* The window start a poll from the current watermark uses (its tracking
 * value), INT64_MIN when there is no watermark. */
static int64_t next_window(const struct wb_odbc_tab *t)
{
	if (t->wm_n == 0 || t->cfg->mode == WB_ODBC_BULK)
		return INT64_MIN;
	int64_t lb = wb_odbc_lookback_from(t);
	if (t->have_floor && t->floor + 1 > lb)
		lb = t->floor + 1;
	return lb;
}

static int add_mark(struct wb_odbc_source *s, int ti, wb_error_t *err)
{
	struct wb_odbc_tab *t = &s->tabs[ti];
	pthread_mutex_lock(&s->mu);
	if (s->nmarks == s->capmarks) {
		size_t cap = s->capmarks ? s->capmarks * 2 : 16;
		struct wb_odbc_mark *m = realloc(s->marks, cap * sizeof(*m));
		if (m == NULL) {
			pthread_mutex_unlock(&s->mu);
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		}
		s->marks = m;
		s->capmarks = cap;
	}
	struct wb_odbc_mark *m = &s->marks[s->nmarks++];
	m->round = s->round;
	m->ti = ti;
	m->wm_n = t->wm_n;
	memcpy(m->wm, t->wm, sizeof(m->wm));
	m->have_floor = t->have_floor;
	m->floor = t->floor;
	m->lb_track = next_window(t);
	m->poll_ms = t->last_poll_ms;
	pthread_mutex_unlock(&s->mu);
	return WB_OK;
}

int wb_odbc_snapshot_mark(struct wb_odbc_source *s, int ti, wb_error_t *err)
{
	struct wb_odbc_tab *t = &s->tabs[ti];
	int64_t keep = t->last_poll_ms;
	t->last_poll_ms = -1; /* applied at (round, 0) */
	int rc = add_mark(s, ti, err);
	t->last_poll_ms = keep;
	return rc;
}

int wb_odbc_round_end(struct wb_odbc_source *s, struct wb_batch *b, int ti,
		      wb_error_t *err)
{
	struct wb_change *c = wb_batch_add(b);
	if (c == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	c->op = WB_OP_COMMIT;
	c->pos.major = s->round;
	c->pos.minor = WB_ODBC_END;
	c->ack = s->round;
	s->in_round = false;
	return add_mark(s, ti, err);
}

int wb_odbc_row_values(struct wb_odbc_source *s, struct wb_odbc_tab *tab,
		       struct wb_odbc_reader *r, struct wb_batch *b,
		       struct wb_value **out, wb_error_t *err)
{
	struct wb_value *v = wb_batch_values(b, tab->ncols);
	if (v == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int i = 0; i < tab->ncols; i++) {
		SQLLEN len;
		const uint8_t *p = wb_odbc_reader_cell(r, i, &len);
		int rc = wb_odbc_cell_value(&r->cols[i], p, len, s->tz,
					    &b->arena, &v[i], err);
		if (rc) {
			wb_error_set(err, rc, "%s.%s: %s", tab->cfg->name,
				     tab->cols[i].name, err->message);
			return rc;
		}
	}
	*out = v;
	return WB_OK;
}

int wb_odbc_emit_delete(struct wb_odbc_source *s, struct wb_odbc_tab *tab,
			struct wb_batch *b, struct wb_value *before,
			wb_error_t *err)
{
	if (!s->in_round)
		wb_odbc_round_begin(s, b);
	struct wb_change *c = wb_batch_add(b);
	if (c == NULL || wb_batch_hold(b, tab->table) == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	c->op = WB_OP_DELETE;
	c->table = tab->table;
	c->pos.major = s->round;
	c->pos.minor = ++s->ordinal;
	c->commit_ts_us = wb_clock_real_ms() * 1000;
	c->before = before;
	return WB_OK;
}

bool wb_odbc_soft_deleted(const struct wb_odbc_tab *t, const struct wb_value *v)
{
	if (t->del_col < 0 || v[t->del_col].state != WB_VAL_PRESENT)
		return false;
	const struct wb_value *x = &v[t->del_col];
	const struct wb_odbc_col *c = &t->cols[t->del_col];
	const char *want = t->cfg->deleted_value;
	char buf[32];
	switch (c->type.s.kind) {
	case WB_T_STRING:
		return strlen(want) == x->u.b.n &&
		       memcmp(want, x->u.b.p, x->u.b.n) == 0;
	case WB_T_BOOLEAN:
		return (x->u.i != 0) == (strcasecmp(want, "true") == 0 ||
					 strcmp(want, "1") == 0 ||
					 strcasecmp(want, "Y") == 0);
	case WB_T_INT:
	case WB_T_LONG:
		if (c->type.s.logical != WB_L_NONE)
			return false;
		snprintf(buf, sizeof(buf), "%lld", (long long)x->u.i);
		return strcmp(buf, want) == 0;
	default:
		return false;
	}
}

/* ------------------------------------------------------------- polling */

/* Appends "col >= ?"-style predicates and the parameters they bind. */
struct qbuild {
	char sql[8192];
	struct wb_odbc_param p[WB_ODBC_ORD_MAX * (WB_ODBC_ORD_MAX + 1) / 2 + 4];
	int np;
	bool where;
};

static void q_and(struct qbuild *q)
{
	strcat(q->sql, q->where ? " AND " : " WHERE ");
	q->where = true;
}

/* o1 >= ? AND ((o1 > ?) OR (o1 = ? AND o2 > ?) ...) over n order
 * columns: the leading range lets the database scan an index on o1 from
 * the cursor instead of sorting the table for every chunk. */
static int q_after(struct wb_odbc_source *s, struct qbuild *q,
		   const struct wb_odbc_tab *t, const int *cols,
		   char vals[][WB_ODBC_TEXT_MAX], int n, wb_error_t *err)
{
	q_and(q);
	if (n > 1) {
		char *qc = wb_odbc_quote(&s->conn, t->cols[cols[0]].name, err);
		if (qc == NULL)
			return err->code;
		strcat(q->sql, qc);
		strcat(q->sql, " >= ? AND ");
		free(qc);
		q->p[q->np].text = vals[0];
		q->p[q->np].like = &t->cols[cols[0]];
		q->np++;
	}
	strcat(q->sql, "(");
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(q->sql, " OR ");
		strcat(q->sql, "(");
		for (int j = 0; j <= i; j++) {
			char *qc = wb_odbc_quote(&s->conn,
						 t->cols[cols[j]].name, err);
			if (qc == NULL)
				return err->code;
			if (strlen(q->sql) + strlen(qc) + 16 >=
			    sizeof(q->sql)) {
				free(qc);
				return wb_error_set(err, WB_ERR_CONFIG,
						    "query too long");
			}
			strcat(q->sql, j ? " AND " : "");
			strcat(q->sql, qc);
			strcat(q->sql, j < i ? " = ?" : " > ?");
			free(qc);
			q->p[q->np].text = vals[j];
			q->p[q->np].like = &t->cols[cols[j]];
			q->np++;
		}
		strcat(q->sql, ")");
	}
	strcat(q->sql, ")");
	return WB_OK;
}

/* The configured horizon query's value (tracking.<table>.horizon): a
 * timestamp in the timestamp modes, an integer in mode incrementing, in the
 * form the poll binds (a timestamp cut to the column's digits, towards the
 * past). */
int wb_odbc_real_horizon(struct wb_odbc_source *s, struct wb_odbc_tab *t,
			 int ts_digits, int64_t *value, wb_error_t *err)
{
	char v[WB_ODBC_TEXT_MAX], what[300];
	bool null;
	snprintf(what, sizeof(what), "%s: the horizon query", t->cfg->name);
	int rc = wb_odbc_scalar(&s->conn, t->cfg->horizon, what, v, sizeof(v),
				&null, err);
	if (rc)
		return rc;
	if (null)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "%s returned NULL: it must return the "
				    "value below which every row is committed "
				    "(source.tracking.%s.horizon)",
				    what, t->cfg->name);
	if (t->cfg->mode == WB_ODBC_INCREMENTING) {
		char *end;
		long long n = strtoll(v, &end, 10);
		if (end == v || *end != '\0')
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "%s returned \"%.40s\", not an "
					    "integer (source.tracking.%s."
					    "horizon)",
					    what, v, t->cfg->name);
		snprintf(t->hz, sizeof(t->hz), "%lld", n);
		if (value)
			*value = n;
		return WB_OK;
	}
	int64_t us;
	if (!wb_odbc_parse_ts(v, strlen(v), &us))
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "%s returned \"%.40s\", not a timestamp "
				    "(source.tracking.%s.horizon)",
				    what, v, t->cfg->name);
	wb_odbc_format_ts_digits(us, ts_digits, t->hz, sizeof(t->hz));
	if (value)
		*value = us;
	return WB_OK;
}

/* Starts a poll of table t: its window and horizon. */
static int poll_start(struct wb_odbc_source *s, struct wb_odbc_tab *t,
		      wb_error_t *err)
{
	const struct wb_odbc_table *tc = t->cfg;
	t->lb_on = t->hz_on = false;
	t->cur_n = 0;
	t->emitted = 0; /* rows this poll emitted (caught_up) */
	if (tc->mode == WB_ODBC_TIMESTAMP ||
	    tc->mode == WB_ODBC_TIMESTAMP_INC) {
		int dig = t->cols[t->ts_col].digits;
		if (t->cols[t->ts_col].fetch != WB_ODBC_F_TS)
			dig = 6; /* a text or date column: compared as text */
		if (tc->horizon) {
			int rc = wb_odbc_real_horizon(s, t, dig, NULL, err);
			if (rc)
				return rc;
		} else {
			int64_t now;
			int rc = wb_odbc_db_now(&s->conn, &now, err);
			if (rc)
				return rc;
			wb_odbc_format_ts_digits(now - tc->lag_ms * 1000, dig,
						 t->hz, sizeof(t->hz));
		}
		t->hz_on = true;
		if (t->wm_n > 0) {
			t->lb_track = wb_odbc_lookback_from(t);
			if (t->have_floor && t->floor + 1 > t->lb_track)
				t->lb_track = t->floor + 1;
			wb_odbc_format_ts_digits(t->lb_track, dig, t->lb,
						 sizeof(t->lb));
			t->lb_on = true;
		}
	} else if (tc->mode == WB_ODBC_INCREMENTING) {
		if (tc->horizon) {
			int rc = wb_odbc_real_horizon(s, t, 0, NULL, err);
			if (rc)
				return rc;
			t->hz_on = true;
		}
		if (t->wm_n > 0) {
			t->lb_track = wb_odbc_lookback_from(t);
			if (t->have_floor && t->floor + 1 > t->lb_track)
				t->lb_track = t->floor + 1;
			snprintf(t->lb, sizeof(t->lb), "%lld",
				 (long long)t->lb_track);
			t->lb_on = true;
		}
	}
	t->active = true;
	return WB_OK;
}

/* Whether a poll selects t's timestamps as text (sel_text): not for a
 * custom query, not once a value did not parse, and not while long
 * columns are read with SQLGetData (the driver does not convert a varchar
 * to a timestamp struct; only bound columns are parsed). */
static bool cast_ts(const struct wb_odbc_tab *t)
{
	return !t->cfg->query && t->sel_text && !t->typed_values &&
	       !t->long_values;
}

/* Builds the chunk's query. limit 0: no row limit. */
static int poll_query(struct wb_odbc_source *s, struct wb_odbc_tab *t,
		      struct qbuild *q, long long limit, wb_error_t *err)
{
	const struct wb_odbc_table *tc = t->cfg;
	char lim[64] = "";
	memset(q, 0, sizeof(*q));
	if (tc->query) {
		/* the custom query: :from and :to become bound parameters */
		const char *p = tc->query;
		size_t o = 0;
		while (*p && o + 2 < sizeof(q->sql)) {
			if (p[0] == '\'') { /* a literal is copied whole */
				const char *e = strchr(p + 1, '\'');
				size_t n = e ? (size_t)(e - p) + 1 : strlen(p);
				if (o + n + 1 >= sizeof(q->sql))
					break;
				memcpy(q->sql + o, p, n);
				o += n;
				p += n;
				continue;
			}
			if (strncmp(p, ":from", 5) == 0 ||
			    strncmp(p, ":to", 3) == 0) {
				bool from = p[1] == 'f';
				q->sql[o++] = '?';
				q->p[q->np].text =
					from ? (t->lb_on ? t->lb
							 : "0001-01-01 "
							   "00:00:00")
					     : t->hz;
				q->p[q->np].like = t->ts_col >= 0
							   ? &t->cols[t->ts_col]
							   : &t->cols[0];
				q->np++;
				p += from ? 5 : 3;
				continue;
			}
			q->sql[o++] = *p++;
		}
		q->sql[o] = '\0';
		return WB_OK;
	}
	if (limit > 0)
		wb_odbc_limit_clause(&s->conn, limit, lim, sizeof(lim));
	char top[40] = "";
	if (limit > 0 && wb_odbc_top_clause(&s->conn))
		snprintf(top, sizeof(top), "TOP %lld ", limit);
	snprintf(q->sql, sizeof(q->sql), "SELECT %s%s", top,
		 cast_ts(t) ? t->sel_text : t->sel);
	for (int i = 0; i < t->nord && !t->ord_from_cells; i++) {
		char *qc = wb_odbc_quote(&s->conn, t->cols[t->ordcols[i]].name,
					 err);
		if (qc == NULL)
			return err->code;
		strcat(q->sql, ", ");
		strcat(q->sql, qc);
		free(qc);
	}
	strcat(q->sql, " FROM ");
	strcat(q->sql, t->qname);
	char *tq = t->nord ? wb_odbc_quote(&s->conn,
					   t->cols[t->ordcols[0]].name, err)
			   : NULL;
	if (t->nord && tq == NULL)
		return err->code;
	if (t->lb_on) {
		q_and(q);
		strcat(q->sql, tq);
		strcat(q->sql, " >= ?");
		q->p[q->np].text = t->lb;
		q->p[q->np++].like = &t->cols[t->ordcols[0]];
	}
	if (t->hz_on) {
		q_and(q);
		strcat(q->sql, tq);
		strcat(q->sql, " < ?");
		q->p[q->np].text = t->hz;
		q->p[q->np++].like = &t->cols[t->ordcols[0]];
	}
	free(tq);
	if (t->cur_n > 0) {
		int rc = q_after(s, q, t, t->ordcols, t->cur, t->cur_n, err);
		if (rc)
			return rc;
	}
	if (t->nord > 0) {
		strcat(q->sql, " ORDER BY ");
		for (int i = 0; i < t->nord; i++) {
			char *qc = wb_odbc_quote(
				&s->conn, t->cols[t->ordcols[i]].name, err);
			if (qc == NULL)
				return err->code;
			if (i)
				strcat(q->sql, ", ");
			strcat(q->sql, qc);
			free(qc);
		}
	}
	strcat(q->sql, lim);
	return WB_OK;
}

void wb_odbc_row_hashes(const struct wb_odbc_tab *t,
			const struct wb_odbc_reader *r, SQLULEN row,
			enum wb_odbc_hash_alg alg, uint64_t *kh, uint64_t *rh)
{
	uint64_t k = WB_ODBC_HASH_INIT, h = WB_ODBC_HASH_INIT;
	for (int i = 0; i < t->ncols; i++) {
		SQLLEN len;
		const uint8_t *p = wb_odbc_reader_cell_at(r, i, row, &len);
		h = wb_odbc_hash_cell(alg, h, p, len);
		for (int j = 0; j < t->nkeys; j++)
			if (t->keycols[j] == i)
				k = wb_odbc_hash_cell(alg, k, p, len);
	}
	*kh = t->nkeys == 0 ? h : k;
	*rh = h;
}

/* A cell's length is hashed as 8 bytes (odbc_seen.h): what SQLLEN is
 * where checkpoints were written with fnv1a. */
_Static_assert(sizeof(SQLLEN) == sizeof(int64_t), "SQLLEN is 64 bits");

/* v's decimal digits at p; their number. */
static size_t put_u64(char *p, uint64_t v)
{
	char t[20];
	size_t k = 0;
	do {
		t[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (size_t i = 0; i < k; i++)
		p[i] = t[k - 1 - i];
	return k;
}

/* v in decimal, NUL-terminated, as the driver prints an integer (at most
 * 21 bytes). */
static void i64_text(int64_t v, char *buf)
{
	size_t o = 0;
	uint64_t m = (uint64_t)v;
	if (v < 0) {
		buf[o++] = '-';
		m = 0 - m;
	}
	o += put_u64(buf + o, m);
	buf[o] = '\0';
}

/* The order values of r's current row as the database prints them
 * (ord) and its tracking value (*track), for a poll without a custom
 * query. WB_ERR_CONFIG for a value too long to be bound back. */
static int row_ord(const struct wb_odbc_tab *t, const struct wb_odbc_reader *r,
		   char ord[][WB_ODBC_TEXT_MAX], int64_t *track,
		   wb_error_t *err)
{
	/* the first order value as wb_odbc_track_of() would read its text
	 * back (NULL: "", 0) */
	int64_t first = 0;
	for (int i = 0; i < t->nord && t->ord_from_cells; i++) {
		SQLLEN len;
		const uint8_t *p = wb_odbc_reader_cell(r, t->ordcols[i], &len);
		int64_t v = 0;
		if (len == SQL_NULL_DATA) {
			ord[i][0] = '\0';
		} else {
			memcpy(&v, p, sizeof(v));
			i64_text(v, ord[i]);
		}
		if (i == 0)
			first = v;
	}
	for (int i = 0; i < t->nord && !t->ord_from_cells; i++) {
		SQLLEN len;
		const uint8_t *p = wb_odbc_reader_cell(r, t->ncols + i, &len);
		size_t n = len == SQL_NULL_DATA ? 0 : (size_t)len;
		if (n >= WB_ODBC_TEXT_MAX - 1) /* it could not be bound back */
			return wb_error_set(err, WB_ERR_CONFIG,
					    "%s.%s: a tracking or key value of "
					    "%d bytes or more cannot be polled "
					    "by",
					    t->cfg->name,
					    t->cols[t->ordcols[i]].name,
					    WB_ODBC_TEXT_MAX - 1);
		memcpy(ord[i], p, n);
		ord[i][n] = '\0';
		while (n > 0 && ord[i][n - 1] == ' ')
			ord[i][--n] = '\0';
	}
	*track = 0;
	if (t->nord && t->ord_from_cells && t->ts_col < 0)
		*track = first; /* its text is its decimal */
	else if (t->nord)
		*track = wb_odbc_track_of(t, ord[0]);
	return WB_OK;
}

/* ------------------------------------------------------- reading ahead
 *
 * A poll's chunks follow one another: the next one starts after the last
 * row of the current one. A poll's chunk (of a row limit, without a
 * custom query) is executed and read whole out of the driver by a thread
 * of its own (wb_odbc_reader_pack, at most WB_ODBC_AHEAD_BYTES of cells);
 * when it holds exactly the row limit, its last row gives the next
 * chunk's query, which that thread executes and reads while this thread
 * converts the current chunk's rows. The server producing the next chunk
 * and the driver's conversions then overlap the look-back set, the
 * values and the batch instead of following them. The row limit of the
 * next chunk is chunk_rows or fewer: about WB_ODBC_CHUNK_BYTES of cells
 * at the current chunk's bytes per row.
 *
 * Only one thread calls the driver at a time: the source thread makes no
 * ODBC call while a read ahead runs (it waits for it at the start of
 * every poll and chunk, on a reconnect and on close), so a driver or
 * driver manager that serializes calls (unixODBC's default Threading
 * level) costs nothing. The read ahead is used only if the chunk the
 * poll asks for next is the same query with the same parameters (a
 * failed or dropped chunk, a fallback, a new poll all build another one);
 * it was executed earlier than it would have been, which a chunk's
 * meaning allows (each chunk is current when read; a row committed in
 * between is read by a later poll's look-back window, as before). Its
 * failure is the chunk's failure, as if met by this thread. */

/* Cells of one chunk held after the driver's copy is freed, at most: a
 * larger chunk is read from the driver as it is converted, and the next
 * one is not read ahead. */
#define WB_ODBC_AHEAD_BYTES (4u << 20)
/* What a chunk read ahead should hold: its row limit is chunk_rows or
 * fewer, as many rows as the last chunk's bytes per row allow. Two
 * chunks are held at once (the one converted, the one read ahead), and
 * the thread's allocations come from an arena of its own: with whole
 * chunks of chunk_rows (5,000 rows of ~230 bytes, 2.5 MB of cells)
 * that took SQLite ODBC and MariaDB Connector/ODBC from 57-61 to 62-67
 * MiB of peak memory in their tests' memory case (bound 64); with 1 MiB
 * chunks SQLite ODBC's was 56-58. */
#define WB_ODBC_CHUNK_BYTES (1u << 20)

struct wb_odbc_ahead {
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool busy;  /* the thread is reading the job */
	bool ready; /* r, rc and err hold its result */
	bool stop;
	/* the job */
	int ti;
	struct qbuild q;
	char ptext[sizeof(((struct qbuild *)0)->p) /
		   sizeof(((struct qbuild *)0)->p[0])][WB_ODBC_TEXT_MAX];
	int rowset, text_from, long_chars;
	const struct wb_odbc_col *typed;
	int ntyped;
	/* its result */
	struct wb_odbc_reader r;
	int rc;
	wb_error_t err;
	/* buffers for packed chunks, kept from chunk to chunk (one being
	 * converted, one being read ahead) instead of grown and freed each
	 * time */
	uint8_t *spare[2];
	size_t spare_cap[2];
	uint8_t *job_pk; /* the job's, handed over with it */
	size_t job_pk_cap;
};

static void *ahead_main(void *arg)
{
	struct wb_odbc_source *s = arg;
	struct wb_odbc_ahead *a = s->ahead;
	pthread_setname_np(pthread_self(), "wb-odbc-ahead");
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->busy && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->stop)
			break;
		pthread_mutex_unlock(&a->mu);
		wb_error_t e = {0};
		int rc = wb_odbc_reader_open_bounded(
			&a->r, &s->conn, a->q.sql, a->q.p, a->q.np, a->rowset,
			a->text_from, a->long_chars, a->typed, a->ntyped, &e);
		bool whole;
		if (rc == 0) {
			a->r.pk = a->job_pk;
			a->r.pkcap = a->job_pk_cap;
		} else {
			free(a->job_pk);
		}
		a->job_pk = NULL;
		a->job_pk_cap = 0;
		if (rc == 0 &&
		    (rc = wb_odbc_reader_pack(&a->r, WB_ODBC_AHEAD_BYTES,
					      &whole, &e)))
			wb_odbc_reader_close(&a->r);
		pthread_mutex_lock(&a->mu);
		a->rc = rc;
		a->err = e;
		a->busy = false;
		a->ready = true;
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* A spare buffer for a packed chunk into r (opened, not yet packed). */
static void pk_lend(struct wb_odbc_ahead *a, struct wb_odbc_reader *r)
{
	for (int i = 0; a && i < 2 && r->pk == NULL; i++) {
		r->pk = a->spare[i];
		r->pkcap = a->spare_cap[i];
		a->spare[i] = NULL;
		a->spare_cap[i] = 0;
	}
}

/* Closes r, keeping its packed chunk's buffer for the next one. */
static void reader_done(struct wb_odbc_source *s, struct wb_odbc_reader *r)
{
	struct wb_odbc_ahead *a = s->ahead;
	for (int i = 0; a && i < 2 && r->pk; i++)
		if (a->spare[i] == NULL) {
			a->spare[i] = r->pk;
			a->spare_cap[i] = r->pkcap;
			r->pk = NULL;
		}
	wb_odbc_reader_close(r);
}

/* Waits until no read ahead runs (its result, if any, stays). */
static void ahead_wait(struct wb_odbc_source *s)
{
	struct wb_odbc_ahead *a = s->ahead;
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	while (a->busy)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
}

/* Waits for a read ahead and throws its result away. */
static void ahead_drop(struct wb_odbc_source *s)
{
	struct wb_odbc_ahead *a = s->ahead;
	if (a == NULL)
		return;
	ahead_wait(s);
	if (a->ready && a->rc == 0)
		reader_done(s, &a->r);
	a->ready = false;
}

/* Stops the thread (close, destroy). */
static void ahead_free(struct wb_odbc_source *s)
{
	struct wb_odbc_ahead *a = s->ahead;
	if (a == NULL)
		return;
	ahead_drop(s);
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->th, NULL);
	}
	free(a->spare[0]);
	free(a->spare[1]);
	free(a->job_pk);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
	s->ahead = NULL;
}

/* Whether the read ahead is table ti's chunk q, opened so; if so its
 * reader (packed) or its failure moves to *r, *rc and err. Otherwise it
 * is thrown away. */
static bool ahead_take(struct wb_odbc_source *s, int ti, const struct qbuild *q,
		       int rowset, int text_from, int long_chars,
		       const struct wb_odbc_col *typed, int ntyped,
		       struct wb_odbc_reader *r, int *rc, wb_error_t *err)
{
	struct wb_odbc_ahead *a = s->ahead;
	if (a == NULL)
		return false;
	ahead_wait(s);
	if (!a->ready)
		return false;
	bool same = a->ti == ti && a->q.np == q->np &&
		    strcmp(a->q.sql, q->sql) == 0 && a->rowset == rowset &&
		    a->text_from == text_from && a->long_chars == long_chars &&
		    a->typed == typed && a->ntyped == ntyped;
	for (int i = 0; same && i < q->np; i++)
		same = a->q.p[i].like == q->p[i].like &&
		       strcmp(a->q.p[i].text, q->p[i].text) == 0;
	if (!same) {
		ahead_drop(s);
		return false;
	}
	a->ready = false;
	*rc = a->rc;
	if (a->rc == 0) {
		*r = a->r;
		/* a statement still open (a chunk larger than what is read
		 * ahead) reports its row counts into the reader, which moved */
		if (r->st)
			SQLSetStmtAttr(r->st, SQL_ATTR_ROWS_FETCHED_PTR,
				       &r->fetched, 0);
	} else {
		*err = a->err;
	}
	memset(&a->r, 0, sizeof(a->r));
	return true;
}

/* s->ahead, made on first use. */
static struct wb_odbc_ahead *ahead_get(struct wb_odbc_source *s,
				       wb_error_t *err)
{
	if (s->ahead == NULL) {
		struct wb_odbc_ahead *a = calloc(1, sizeof(*a));
		if (a == NULL) {
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			return NULL;
		}
		pthread_mutex_init(&a->mu, NULL);
		pthread_cond_init(&a->cv, NULL);
		s->ahead = a;
	}
	return s->ahead;
}

/* Starts reading table ti's next chunk, q (its parameters copied). */
static int ahead_start(struct wb_odbc_source *s, int ti, const struct qbuild *q,
		       int rowset, int text_from, int long_chars,
		       const struct wb_odbc_col *typed, int ntyped,
		       wb_error_t *err)
{
	struct wb_odbc_ahead *a = ahead_get(s, err);
	if (a == NULL)
		return err->code;
	ahead_drop(s);
	if (!a->started) {
		if (pthread_create(&a->th, NULL, ahead_main, s) != 0)
			return WB_OK; /* read in turn, as without */
		a->started = true;
	}
	a->ti = ti;
	a->q = *q;
	for (int i = 0; i < q->np; i++) {
		snprintf(a->ptext[i], WB_ODBC_TEXT_MAX, "%s", q->p[i].text);
		a->q.p[i].text = a->ptext[i];
	}
	a->rowset = rowset;
	a->text_from = text_from;
	a->long_chars = long_chars;
	a->typed = typed;
	a->ntyped = ntyped;
	struct wb_odbc_reader lend = {0};
	pk_lend(a, &lend);
	a->job_pk = lend.pk;
	a->job_pk_cap = lend.pkcap;
	pthread_mutex_lock(&a->mu);
	a->busy = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return WB_OK;
}

/* Reads one chunk of table ti's poll into b as one round. */
/* Characters bound per value of a long text column (bytes of a long binary
 * one) before a table falls back to SQLGetData (wb_odbc_reader_open_bounded):
 * 2 KiB of UTF-16 per cell, so a 1,000-row array stays near 2 MiB per
 * such column. */
#define WB_ODBC_BOUND_LONG_CHARS 1023
/* Look-back set adds under one taking of the source's mutex, at most. */
#define SEEN_ADDS_PER_LOCK 256

static int poll_chunk(struct wb_odbc_source *s, int ti, struct wb_batch *b,
		      size_t target, wb_error_t *err)
{
	struct wb_odbc_tab *t = &s->tabs[ti];
	const struct wb_odbc_table *tc = t->cfg;
	bool bulk = tc->mode == WB_ODBC_BULK;
	int rc;
	ahead_wait(s); /* the connection is this thread's again */
	if (!t->active && (rc = poll_start(s, t, err)))
		return rc;
	/* a chunk bounded by rows, unless the order is not total (rows
	 * of equal tracking value could not be resumed between) */
	long long limit = t->exact && !tc->query ? s->oc->chunk_rows : 0;
	if (limit > 0 && t->ahead_rows > 0 && t->ahead_rows < limit)
		limit = t->ahead_rows;
	struct qbuild q;
	if ((rc = poll_query(s, t, &q, limit, err)))
		return rc;
	struct wb_odbc_reader r;
	int text_from = tc->query ? 1 << 30 : t->ncols;
	int long_chars = t->long_values ? 0 : WB_ODBC_BOUND_LONG_CHARS;
	const struct wb_odbc_col *typed = cast_ts(t) ? t->cols : NULL;
	/* a chunk of a row limit is read by the read-ahead thread, this
	 * one included (the memory of reading it then lives in one place) */
	bool ahead = limit > 0 && !tc->query && t->nord > 0;
	bool taken = ahead_take(s, ti, &q, s->oc->fetch_rows, text_from,
				long_chars, typed, t->ncols, &r, &rc, err);
	if (!taken && ahead) {
		if ((rc = ahead_start(s, ti, &q, s->oc->fetch_rows, text_from,
				      long_chars, typed, t->ncols, err)))
			return rc;
		taken = ahead_take(s, ti, &q, s->oc->fetch_rows, text_from,
				   long_chars, typed, t->ncols, &r, &rc, err);
	}
	if (!taken)
		rc = wb_odbc_reader_open_bounded(
			&r, &s->conn, q.sql, q.p, q.np, s->oc->fetch_rows,
			text_from, long_chars, typed, t->ncols, err);
	if (rc)
		return rc;
	/* a whole chunk of the row limit: the next one is read ahead while
	 * this one is converted */
	bool whole = r.replay && r.pk_whole;
	long long next_limit = limit;
	if (ahead && r.replay && r.pk_rows > 0) {
		/* chunks of about WB_ODBC_CHUNK_BYTES of cells from here on */
		size_t per_row = (r.pklen + r.pk_rows - 1) / r.pk_rows;
		long long n = (long long)(WB_ODBC_CHUNK_BYTES / per_row);
		next_limit = n < 1 ? 1 : n;
		if (next_limit > s->oc->chunk_rows)
			next_limit = s->oc->chunk_rows;
	}
	if (ahead && whole && r.pk_rows == (uint64_t)limit &&
	    r.ncols >= t->ncols && wb_odbc_reader_peek_last(&r)) {
		char last[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX];
		int64_t track_last;
		wb_error_t e = {0};
		struct qbuild nq;
		int save_n = t->cur_n;
		char save_cur[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX];
		memcpy(save_cur, t->cur, sizeof(save_cur));
		bool ints = true;
		for (int i = 0; t->ord_from_cells && i < t->nord; i++)
			ints &= r.cols[t->ordcols[i]].fetch == WB_ODBC_F_I64;
		if (ints && row_ord(t, &r, last, &track_last, &e) == 0) {
			/* the cursor after this chunk, as its last row will
			 * leave it */
			memcpy(t->cur, last, (size_t)t->nord * sizeof(last[0]));
			t->cur_n = t->nord;
			if (poll_query(s, t, &nq, next_limit, &e) == 0 &&
			    (rc = ahead_start(s, ti, &nq, s->oc->fetch_rows,
					      text_from, long_chars, typed,
					      t->ncols, err))) {
				t->cur_n = save_n;
				memcpy(t->cur, save_cur, sizeof(save_cur));
				reader_done(s, &r);
				return rc;
			}
			t->cur_n = save_n;
			memcpy(t->cur, save_cur, sizeof(save_cur));
		}
	}
	if (ahead)
		t->ahead_rows = next_limit;
	if (tc->query && t->ncols != r.ncols) {
		reader_done(s, &r);
		return wb_error_set(err, WB_ERR_CONFIG,
				    "%s: the custom query must return the "
				    "table's columns (%d), it returned %d",
				    tc->name, t->ncols, r.ncols);
	}
	for (int i = 0; t->ord_from_cells && i < t->nord; i++) {
		int oc = t->ordcols[i];
		if (oc < r.ncols && r.cols[oc].fetch == WB_ODBC_F_I64)
			continue;
		/* not the integer it was described as: its text is selected
		 * again from the next try on */
		t->ord_from_cells = false;
		wb_error_set(err, WB_ERR_RUNTIME,
			     "%s: an order column is no longer an integer",
			     tc->name);
		err->retriable = true;
		reader_done(s, &r);
		return err->code;
	}
	/* the current rowset's w64 hashes (key, row) */
	uint64_t *hk = malloc(sizeof(*hk) * r.rowset * 2);
	if (hk == NULL) {
		reader_done(s, &r);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	uint64_t *hr = hk + r.rowset;
	wb_odbc_round_begin(s, b);
	/* the rows' commit time: when the chunk was read (polling cannot
	 * know the real one); once per chunk, not a clock call per row */
	int64_t read_us = wb_clock_real_ms() * 1000;
	int save_n = t->wm_n;
	char save_wm[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX];
	int64_t save_track = t->wm_track;
	memcpy(save_wm, t->wm, sizeof(save_wm));
	bool moved = false, stopped = false;
	/* the mutex over the look-back set is taken for a run of adds, not
	 * for each (the sink thread's state() waits that long at most) */
	bool locked = false;
	int held = 0;
	int64_t wm0 =
		t->wm_n > 0 && t->nord > 0 ? wb_odbc_track_of(t, t->wm[0]) : 0;
	long long nrows = 0;
	uint64_t emitted = 0;
	int got;
	while ((got = wb_odbc_reader_next(&r, err)) == 1) {
		nrows++;
		char ord[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX];
		int64_t track = 0;
		if (!tc->query) {
			if ((rc = row_ord(t, &r, ord, &track, err)))
				break;
		} else if (t->ts_col >= 0) {
			/* the custom query's timestamp column, as a value */
			struct wb_value v;
			SQLLEN len;
			const uint8_t *p =
				wb_odbc_reader_cell(&r, t->ts_col, &len);
			if (wb_odbc_cell_value(&r.cols[t->ts_col], p, len, NULL,
					       &b->arena, &v, err) == 0 &&
			    v.state == WB_VAL_PRESENT)
				track = v.u.i;
		}
		bool key_known = false, seen = false;
		uint64_t kh = WB_ODBC_HASH_INIT, rh = WB_ODBC_HASH_INIT;
		/* a bulk poll keeps no set: nothing to hash */
		if (!bulk) {
			if (r.cur == 0) {
				/* a new rowset: every row hashed at once and
				 * its set slots fetched into the cache before
				 * the rows are looked up one by one */
				for (SQLULEN k = 0; k < r.fetched; k++) {
					wb_odbc_row_hashes(t, &r, k,
							   WB_ODBC_HASH_W64,
							   &hk[k], &hr[k]);
					wb_odbc_seen_prefetch(&t->seen, hk[k],
							      hr[k]);
				}
			}
			kh = hk[r.cur];
			rh = hr[r.cur];
			/* no lock: only this thread changes the set (the
			 * sink thread's state() only reads it) */
			seen = wb_odbc_seen_has_at(&t->seen, track, kh, rh,
						   &key_known);
		}
		if (!bulk && !seen && t->seen_fnv1a.n > 0) {
			uint64_t okh = WB_ODBC_HASH_INIT,
				 orh = WB_ODBC_HASH_INIT;
			bool okk = false;
			wb_odbc_row_hashes(t, &r, r.cur, WB_ODBC_HASH_FNV1A,
					   &okh, &orh);
			seen = wb_odbc_seen_has_at(&t->seen_fnv1a, track, okh,
						   orh, &okk);
			key_known |= okk;
		}
		if (!seen) {
			struct wb_value *v;
			if ((rc = wb_odbc_row_values(s, t, &r, b, &v, err)))
				break;
			struct wb_change *c = wb_batch_add(b);
			if (c == NULL || wb_batch_hold(b, t->table) == NULL) {
				rc = wb_error_set(err, WB_ERR_NOMEM,
						  "out of memory");
				break;
			}
			c->table = t->table;
			c->pos.major = s->round;
			c->pos.minor = ++s->ordinal;
			c->commit_ts_us = read_us;
			if (wb_odbc_soft_deleted(t, v)) {
				c->op = WB_OP_DELETE;
				c->before = v;
			} else {
				c->op = bulk	    ? WB_OP_READ
					: key_known ? WB_OP_UPDATE
						    : WB_OP_INSERT;
				c->after = v;
			}
			if ((rc = wb_odbc_keyset_emitted(s, t, c, err)))
				break;
			emitted++;
			if (!bulk) {
				int64_t dropped = INT64_MIN;
				if (!locked) {
					pthread_mutex_lock(&s->mu);
					locked = true;
				}
				held++;
				int e = wb_odbc_seen_add(&t->seen, track, kh,
							 rh, s->round,
							 &dropped);
				if (e) {
					rc = wb_error_set(err, WB_ERR_NOMEM,
							  "out of memory");
					break;
				}
				if (dropped != INT64_MIN &&
				    (!t->have_floor || dropped > t->floor)) {
					t->have_floor = true;
					t->floor = dropped;
					wb_warn("odbc",
						"%s: the look-back set is full "
						"(lookback_rows %d): the "
						"window now starts later",
						tc->name, s->oc->lookback_rows);
				}
			}
		}
		if (!tc->query && t->nord > 0) {
			size_t ordbytes = (size_t)t->nord * sizeof(ord[0]);
			memcpy(t->cur, ord, ordbytes);
			t->cur_n = t->nord;
			/* ord_cmp's first step without parsing the watermark
			 * again: wm0 is its tracking value */
			bool past = t->wm_n == 0 ||
				    (t->wm_n < t->nord ? track >= t->wm_track
				     : track != wm0    ? track > wm0
						       : ord_cmp(t, ord, t->wm,
								 t->nord) > 0);
			if (past && !bulk) {
				memcpy(t->wm, ord, ordbytes);
				t->wm_n = t->nord;
				t->wm_track = track;
				wm0 = track;
				moved = true;
			}
		}
		/* a chunk is bounded by its row limit: it goes whole into
		 * the batch (stopping early would throw away what the
		 * driver already fetched); without a limit, stop where the
		 * order allows */
		if (limit == 0 && t->exact && !tc->query &&
		    wb_batch_bytes(b) >= target) {
			stopped = true;
			break;
		}
		/* never held across a fetch (it may wait on the network) */
		if (locked && (held >= SEEN_ADDS_PER_LOCK ||
			       !(r.bound && r.cur + 1 < r.fetched))) {
			pthread_mutex_unlock(&s->mu);
			locked = false;
			held = 0;
		}
	}
	if (locked)
		pthread_mutex_unlock(&s->mu);
	free(hk);
	reader_done(s, &r);
	bool again = got == WB_ODBC_LONG_VALUE || got == WB_ODBC_NOT_CANONICAL;
	if (got == WB_ODBC_LONG_VALUE)
		wb_info("odbc",
			"%s: %s: reading its long columns row by row from now "
			"on",
			tc->name, err->message);
	else if (got == WB_ODBC_NOT_CANONICAL)
		wb_info("odbc",
			"%s: %s: reading its timestamps through the driver's "
			"conversion from now on",
			tc->name, err->message);
	else if (got < 0)
		rc = err->code;
	if (rc || again) {
		/* nothing of the round stays: not emitted, not watermarked */
		round_abort(s, b, t);
		t->wm_n = save_n;
		t->wm_track = save_track;
		memcpy(t->wm, save_wm, sizeof(save_wm));
		t->active = false;
		t->long_values |= got == WB_ODBC_LONG_VALUE;
		t->typed_values |= got == WB_ODBC_NOT_CANONICAL;
		return rc; /* again: WB_OK, the poll starts over at once */
	}
	if (tc->query && t->hz_on) {
		/* everything below the horizon was read: it is the mark
		 * (recorded with the next round that emits something; until
		 * then a restart re-reads a little more, suppressed) */
		snprintf(t->wm[0], WB_ODBC_TEXT_MAX, "%s", t->hz);
		t->wm_n = 1;
		t->wm_track = wb_odbc_track_of(t, t->hz);
	}
	bool done = !stopped && (limit == 0 || nrows < limit);
	if (done) {
		t->active = false;
		t->next_poll_ms = wb_clock_mono_ms() + s->oc->poll_interval_ms;
		t->last_poll_ms = wb_clock_real_ms();
	}
	t->emitted += emitted;
	if (!bulk) {
		/* entries below the window the next poll reads can go, once
		 * the checkpoint no longer needs them either; after every
		 * chunk, so a long first poll does not fill the set */
		int64_t below = next_window(t);
		pthread_mutex_lock(&s->mu);
		if (t->d_lb_track < below)
			below = t->d_lb_track;
		if (below != INT64_MIN) {
			wb_odbc_seen_evict(&t->seen, below);
			if (t->seen_fnv1a.n > 0)
				wb_odbc_seen_evict(&t->seen_fnv1a, below);
		}
		pthread_mutex_unlock(&s->mu);
	}
	if (emitted > 0 || moved)
		return wb_odbc_round_end(s, b, ti, err);
	s->in_round = false; /* nothing to deliver: the round is void */
	return WB_OK;
}

static int odbc_poll(struct wb_source *base, struct wb_batch *b,
		     size_t target_bytes, int timeout_ms, wb_error_t *err)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	int rc = WB_OK;
	if (s->conn.dbc == NULL)
		return wb_error_set(err, WB_ERR_CONNECT, "not connected");
	ahead_wait(s); /* no ODBC call while a chunk is read ahead */
	if ((rc = wb_odbc_describe_tables(s, err)))
		goto done;
	bool busy = s->snap_round;
	for (int i = 0; i < s->ntabs; i++)
		busy |= s->tabs[i].active;
	bool taken;
	if (!busy && (rc = wb_snapshot_request_poll(
			      &s->req, wb_clock_mono_ms(),
			      wb_odbc_snapshot_add_matching, s, &taken, err)))
		goto done;
	if (!busy && wb_snapshot_pending(s->snap) &&
	    (rc = wb_odbc_snapshot_begin(s, err)))
		goto done;
	if (s->snap_round) {
		rc = wb_odbc_snapshot_step(s, b, target_bytes, err);
		goto done;
	}
	if (base->cfg->source.snapshot == WB_SNAPSHOT_INITIAL_ONLY) {
		atomic_store(&s->snap_finished, true);
		goto done;
	}
	bool passed;
	if ((rc = wb_odbc_keyset_poll(s, b, &passed, err)) || b->n > 0)
		goto done;
	long long start = wb_clock_mono_ms();
	for (;;) {
		long long now = wb_clock_mono_ms();
		int ti = -1;
		long long next = now + timeout_ms;
		for (int k = 0; k < s->ntabs; k++) {
			int i = (s->next_tab + k) % s->ntabs;
			struct wb_odbc_tab *t = &s->tabs[i];
			if (t->active || t->next_poll_ms <= now) {
				ti = i;
				break;
			}
			if (t->next_poll_ms < next)
				next = t->next_poll_ms;
		}
		if (ti < 0) {
			bool idle = true;
			for (int k = 0; k < s->ntabs; k++)
				idle &= s->tabs[k].last_poll_ms != 0 &&
					(s->tabs[k].emitted == 0 ||
					 s->tabs[k].cfg->mode == WB_ODBC_BULK);
			atomic_store(&s->caught_up_shared, idle);
			if (b->n > 0 || now - start >= timeout_ms)
				break;
			long long wait = next - now;
			if (wait > start + timeout_ms - now)
				wait = start + timeout_ms - now;
			if (wait > 0) {
				struct timespec ts = {wait / 1000,
						      (wait % 1000) * 1000000L};
				nanosleep(&ts, NULL);
			}
			continue;
		}
		if ((rc = poll_chunk(s, ti, b, target_bytes, err)))
			break;
		if (!s->tabs[ti].active)
			s->next_tab = (ti + 1) % s->ntabs;
		/* a chunk is a batch: the pipeline can checkpoint between */
		if (b->n > 0)
			break;
	}
done:
	if (rc) {
		if (!s->outage)
			wb_debug("odbc", "poll failed: %s", err->message);
		s->outage = true;
		atomic_store(&s->caught_up_shared, false);
	}
	return rc;
}

static int odbc_keepalive(struct wb_source *base, wb_error_t *err)
{
	(void)base;
	(void)err;
	return WB_OK; /* nothing is held open between polls */
}

static int odbc_reconnect(struct wb_source *base, wb_error_t *err)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	ahead_drop(s);
	if (s->snap_round)
		wb_odbc_snapshot_abort(s);
	if (s->conn.dbc) {
		SQLDisconnect(s->conn.dbc);
		SQLFreeHandle(SQL_HANDLE_DBC, s->conn.dbc);
		s->conn.dbc = NULL;
	}
	for (int i = 0; i < s->ntabs; i++)
		s->tabs[i].active = false; /* each poll starts again */
	int rc = wb_odbc_connect(&s->conn, base->cfg, err);
	if (rc == 0)
		s->outage = false;
	return rc;
}

/* --------------------------------------------------------- open, state */

static int restore(struct wb_odbc_source *s, json_t *st, wb_error_t *err)
{
	json_t *round = json_object_get(st, "round");
	if (json_is_integer(round) &&
	    (uint64_t)json_integer_value(round) > s->last_round)
		s->last_round = (uint64_t)json_integer_value(round);
	json_t *tabs = json_object_get(st, "tables");
	for (int i = 0; i < s->ntabs; i++) {
		struct wb_odbc_tab *t = &s->tabs[i];
		json_t *o = json_object_get(tabs, t->cfg->name);
		if (!json_is_object(o))
			continue;
		json_t *wm = json_object_get(o, "watermark");
		if (json_is_array(wm) && json_array_size(wm) >= 1 &&
		    json_array_size(wm) <= WB_ODBC_ORD_MAX) {
			t->wm_n = (int)json_array_size(wm);
			for (int k = 0; k < t->wm_n; k++) {
				const char *v = json_string_value(
					json_array_get(wm, k));
				snprintf(t->wm[k], WB_ODBC_TEXT_MAX, "%s",
					 v ? v : "");
			}
			t->wm_track = json_integer_value(
				json_object_get(o, "watermark_value"));
		}
		json_t *fl = json_object_get(o, "floor");
		if (json_is_integer(fl)) {
			t->have_floor = true;
			t->floor = json_integer_value(fl);
		}
		json_t *lb = json_object_get(o, "window_from");
		t->d_lb_track = json_is_integer(lb) ? json_integer_value(lb)
						    : INT64_MIN;
		json_t *lp = json_object_get(o, "last_poll_ms");
		t->d_last_poll_ms =
			json_is_integer(lp) ? json_integer_value(lp) : 0;
		json_t *alg = json_object_get(o, "seen_hash");
		if (alg && !json_is_string(alg))
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "the checkpoint's look-back set of "
					    "%s is malformed",
					    t->cfg->name);
		int r = wb_odbc_seen_restore(
			&t->seen, &t->seen_fnv1a, json_string_value(alg),
			json_string_value(json_object_get(o, "seen")),
			json_string_value(json_object_get(o, "seen_fnv1a")));
		if (r == -2)
			return wb_error_set(err, WB_ERR_CONFIG,
					    "the checkpoint's look-back set of "
					    "%s is hashed with \"%s\", which "
					    "this version of waybill does not "
					    "know (written by a newer one?)",
					    t->cfg->name,
					    json_string_value(alg));
		if (r != 0)
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "the checkpoint's look-back set of "
					    "%s is malformed",
					    t->cfg->name);
		if (t->seen_fnv1a.n > 0)
			wb_info("odbc",
				"%s: %zu look-back entries of the checkpoint "
				"are hashed with fnv1a: rows are hashed both "
				"ways until the window passes them",
				t->cfg->name, t->seen_fnv1a.n);
		t->d_wm_n = t->wm_n;
		memcpy(t->d_wm, t->wm, sizeof(t->wm));
		t->d_have_floor = t->have_floor;
		t->d_floor = t->floor;
	}
	return WB_OK;
}

static int odbc_open(struct wb_source *base,
		     const struct wb_source_resume *resume, wb_error_t *err)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	const struct wb_config *cfg = base->cfg;
	int rc;
	for (int i = 0; i < s->ntabs; i++)
		s->tabs[i].d_lb_track = INT64_MIN;
	if (resume->have) {
		s->durable = resume->pos;
		if (resume->pos.major > s->last_round)
			s->last_round = resume->pos.major;
		if (resume->state && (rc = restore(s, resume->state, err)))
			return rc;
	}
	enum wb_snapshot_mode mode = cfg->source.snapshot;
	json_t *snapst = resume->have && resume->state
				 ? json_object_get(resume->state, "snapshot")
				 : NULL;
	if (snapst && !resume->resnapshot && mode != WB_SNAPSHOT_ALWAYS &&
	    (rc = wb_snapshot_restore(s->snap, snapst, err)))
		return rc;
	if (resume->resnapshot || mode == WB_SNAPSHOT_ALWAYS ||
	    (!resume->have && mode != WB_SNAPSHOT_NEVER)) {
		if ((rc = wb_odbc_snapshot_add_all(s, err)))
			return rc;
	}
	if ((rc = wb_odbc_connect(&s->conn, cfg, err)))
		return rc;
	if ((rc = wb_odbc_describe_tables(s, err)))
		return rc;
	if ((rc = wb_odbc_keyset_open(s, resume, err)))
		return rc;
	wb_info("odbc",
		"connected to %s %s through %s; %d table(s), poll "
		"every %lld ms",
		s->conn.dbms, s->conn.dbms_ver, s->conn.driver, s->ntabs,
		(long long)s->oc->poll_interval_ms);
	return WB_OK;
}

static void odbc_ack(struct wb_source *base, const wb_position_t *pos,
		     uint64_t ack)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	(void)ack;
	pthread_mutex_lock(&s->mu);
	if (wb_position_cmp(&s->durable, pos) < 0)
		s->durable = *pos;
	pthread_mutex_unlock(&s->mu);
	wb_snapshot_request_acked(&s->req);
	wb_odbc_keyset_acked(s, pos);
}

static bool odbc_caught_up(struct wb_source *base)
{
	return atomic_load(&((struct wb_odbc_source *)base)->caught_up_shared);
}

static json_t *odbc_state(struct wb_source *base, const wb_position_t *durable)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	wb_snapshot_durable(s->snap, durable);
	wb_snapshot_request_recorded(&s->req);
	wb_odbc_keyset_durable(s, durable);
	json_t *snap = wb_snapshot_state(s->snap);
	pthread_mutex_lock(&s->mu);
	size_t k = 0;
	for (; k < s->nmarks; k++) {
		struct wb_odbc_mark *m = &s->marks[k];
		wb_position_t mp = {m->round, WB_ODBC_END};
		if (m->poll_ms < 0) /* a snapshot's watermark: (P - 1, 0) */
			mp.minor = 0;
		if (wb_position_cmp(&mp, durable) > 0)
			break;
		struct wb_odbc_tab *t = &s->tabs[m->ti];
		t->d_wm_n = m->wm_n;
		memcpy(t->d_wm, m->wm, sizeof(m->wm));
		t->d_have_floor = m->have_floor;
		t->d_floor = m->floor;
		t->d_lb_track = m->lb_track;
		if (m->poll_ms > 0)
			t->d_last_poll_ms = m->poll_ms;
	}
	if (k > 0) {
		memmove(s->marks, s->marks + k,
			(s->nmarks - k) * sizeof(*s->marks));
		s->nmarks -= k;
	}
	/* the set entries of rounds wholly durable; none before the first
	 * (a checkpoint at 0:0, written before anything was delivered, must
	 * not record rows that were only read: they would be suppressed
	 * after a restart and never delivered) */
	uint64_t upto = durable->minor == WB_ODBC_END ? durable->major
			: durable->major > 0	      ? durable->major - 1
						      : 0;
	if (durable->major > 0 && durable->major == s->snap_seen_round)
		upto = durable->major;
	json_t *o = json_object();
	json_t *tabs = json_object();
	json_object_set_new(o, "round", json_integer((json_int_t)s->max_round));
	for (int i = 0; i < s->ntabs; i++) {
		struct wb_odbc_tab *t = &s->tabs[i];
		json_t *to = json_object();
		if (t->d_wm_n > 0) {
			json_t *a = json_array();
			for (int j = 0; j < t->d_wm_n; j++)
				json_array_append_new(a,
						      json_string(t->d_wm[j]));
			json_object_set_new(to, "watermark", a);
			json_object_set_new(
				to, "watermark_value",
				json_integer(wb_odbc_track_of(t, t->d_wm[0])));
		} else {
			json_object_set_new(to, "watermark", json_null());
		}
		if (t->d_have_floor)
			json_object_set_new(to, "floor",
					    json_integer(t->d_floor));
		if (t->d_lb_track != INT64_MIN)
			json_object_set_new(to, "window_from",
					    json_integer(t->d_lb_track));
		if (t->d_last_poll_ms)
			json_object_set_new(to, "last_poll_ms",
					    json_integer(t->d_last_poll_ms));
		int64_t from =
			t->d_lb_track == INT64_MIN ? INT64_MIN : t->d_lb_track;
		char *seen = wb_odbc_seen_format(&t->seen, upto, from);
		if (seen && seen[0])
			json_object_set_new(to, "seen", json_string(seen));
		free(seen);
		json_object_set_new(to, "seen_hash",
				    json_string(WB_ODBC_HASH_NAME_W64));
		if (t->seen_fnv1a.n > 0) {
			seen = wb_odbc_seen_format(&t->seen_fnv1a, upto, from);
			if (seen && seen[0])
				json_object_set_new(to, "seen_fnv1a",
						    json_string(seen));
			free(seen);
		}
		json_object_set_new(tabs, t->cfg->name, to);
	}
	json_object_set_new(o, "tables", tabs);
	pthread_mutex_unlock(&s->mu);
	if (snap)
		json_object_set_new(o, "snapshot", snap);
	return o;
}

static bool odbc_finished(struct wb_source *base)
{
	return atomic_load(&((struct wb_odbc_source *)base)->snap_finished);
}

/* Called for every change the sink encodes (its source.position): by
 * hand, since snprintf cost about a fifth of the sink thread's time. */
static void odbc_format_position(const wb_position_t *pos, char *buf, size_t n)
{
	if (n < 2 * 20 + 2) {
		if (pos->minor == WB_ODBC_END)
			snprintf(buf, n, "%" PRIu64 ":end", pos->major);
		else
			snprintf(buf, n, "%" PRIu64 ":%" PRIu64, pos->major,
				 pos->minor);
		return;
	}
	size_t o = put_u64(buf, pos->major);
	buf[o++] = ':';
	if (pos->minor == WB_ODBC_END) {
		memcpy(buf + o, "end", 4);
		return;
	}
	o += put_u64(buf + o, pos->minor);
	buf[o] = '\0';
}

static int odbc_parse_position(const char *text, wb_position_t *pos)
{
	char *end;
	if (text[0] < '0' || text[0] > '9')
		return -1;
	unsigned long long m = strtoull(text, &end, 10);
	if (*end != ':')
		return -1;
	const char *r = end + 1;
	if (strcmp(r, "end") == 0) {
		pos->major = m;
		pos->minor = WB_ODBC_END;
		return 0;
	}
	if (r[0] < '0' || r[0] > '9')
		return -1;
	unsigned long long n = strtoull(r, &end, 10);
	if (*end != '\0')
		return -1;
	pos->major = m;
	pos->minor = n;
	return 0;
}

static void odbc_format_ack(uint64_t ack, char *buf, size_t n)
{
	snprintf(buf, n, "%" PRIu64, ack);
}

static int odbc_parse_ack(const char *text, uint64_t *ack)
{
	char *end;
	if (text[0] < '0' || text[0] > '9')
		return -1;
	*ack = strtoull(text, &end, 10);
	return *end == '\0' ? 0 : -1;
}

static void odbc_close(struct wb_source *base)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	ahead_free(s);
	if (s->snap_round)
		wb_odbc_snapshot_abort(s);
	wb_odbc_disconnect(&s->conn);
}

static void odbc_destroy(struct wb_source *base)
{
	if (base == NULL)
		return;
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	odbc_close(base);
	wb_odbc_keyset_close(s);
	for (int i = 0; s->tabs && i < s->ntabs; i++) {
		struct wb_odbc_tab *t = &s->tabs[i];
		free(t->schema);
		free(t->name);
		free(t->qname);
		free(t->sel);
		free(t->sel_text);
		wb_table_unref(t->table);
		for (int c = 0; c < t->ncols; c++)
			free(t->cols[c].name);
		free(t->cols);
		wb_odbc_seen_free(&t->seen);
		wb_odbc_seen_free(&t->seen_fnv1a);
	}
	free(s->tabs);
	free(s->marks);
	wb_snapshot_free(s->snap);
	wb_snapshot_request_destroy(&s->req);
	wb_tz_free(s->tz);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Polling reads current rows: an update comes without a before image; a
 * delete (detected by the keyset comparison, or a soft delete) carries the
 * last row image waybill emitted, whole. */
static int odbc_before_image(struct wb_source *base, const struct wb_table *t,
			     bool *complete, bool *none_on_update, char *fix,
			     size_t n, wb_error_t *err)
{
	(void)base;
	(void)t;
	(void)err;
	*complete = false;
	*none_on_update = true;
	snprintf(fix, n,
		 "ODBC polling reads only current rows, so an update has no "
		 "before image (a detected or soft delete carries the last "
		 "row emitted): read after.<column>, or leave u out of the "
		 "mapping's ops");
	return WB_OK;
}

const struct wb_source_ops wb_odbc_source_ops = {
	.name = "odbc",
	.create = odbc_create,
	.open = odbc_open,
	.poll = odbc_poll,
	.keepalive = odbc_keepalive,
	.reconnect = odbc_reconnect,
	.ack = odbc_ack,
	.caught_up = odbc_caught_up,
	.format_position = odbc_format_position,
	.parse_position = odbc_parse_position,
	.ack_name = "round",
	.format_ack = odbc_format_ack,
	.parse_ack = odbc_parse_ack,
	.check = wb_odbc_check,
	.status = wb_odbc_status,
	.close = odbc_close,
	.destroy = odbc_destroy,
	.state = odbc_state,
	.finished = odbc_finished,
	.describe = wb_odbc_describe,
	.before_image = odbc_before_image,
	.sample = wb_odbc_sample,
};
