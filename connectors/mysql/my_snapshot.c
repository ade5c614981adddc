/* my_snapshot.c — table snapshots of the mysql source, on src/snapshot.h.
 *
 * A round opens one reader connection in a transaction WITH CONSISTENT
 * SNAPSHOT and takes its consistent point P: MariaDB gives the binlog
 * position of that snapshot without a lock (binlog_snapshot_file and
 * binlog_snapshot_position); MySQL has no such status, so FLUSH TABLES
 * WITH READ LOCK is held for the moment of starting the transaction and
 * reading SHOW MASTER STATUS. The stream goes on up to P (its first
 * transaction at or after P is held, or a heartbeat says the stream is
 * idle past it), then the round's rows are emitted at (P - 1, n), then
 * the stream continues. Each table is read in keyset chunks in primary
 * key order through a prepared statement (the last key bound as
 * parameters), so a restart resumes after the last durable chunk. One
 * reader: MySQL's consistent snapshots cannot be shared between
 * connections. */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "my_connect.h"
#include "my_source_int.h"
#include "my_types.h"
#include "snapshot.h"

static void tinfo_clear(struct my_snap_table *t)
{
	wb_my_tablemap_free(t->tm);
	free(t->types);
	t->tm = NULL;
	t->types = NULL;
}

static struct my_snap_table *tinfo(struct my_source *s, int ti)
{
	if (ti >= s->nsnapt) {
		int cap = ti + 16;
		struct my_snap_table *n =
			realloc(s->snapt, (size_t)cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		memset(n + s->nsnapt, 0,
		       (size_t)(cap - s->nsnapt) * sizeof(*n));
		s->snapt = n;
		s->nsnapt = cap;
	}
	return &s->snapt[ti];
}

struct list_ctx {
	struct my_source *s;
	const char *glob; /* NULL: every captured table */
	int added;
};

static int list_row(void *ctx, char **v, unsigned long *lens, int n)
{
	struct list_ctx *l = ctx;
	(void)lens;
	if (n < 2 || !v[0] || !v[1])
		return 0;
	char full[520];
	snprintf(full, sizeof(full), "%s.%s", v[0], v[1]);
	if (!wb_config_table_selected(l->s->base.cfg, full) ||
	    (l->glob && fnmatch(l->glob, full, 0) != 0))
		return 0;
	wb_error_t e;
	if (wb_snapshot_add(l->s->snap, full, &e))
		return WB_ERR_NOMEM;
	l->added++;
	return 0;
}

static int add_tables(struct my_source *s, const char *glob, int *added,
		      wb_error_t *err)
{
	static const char sql[] =
		"SELECT TABLE_SCHEMA, TABLE_NAME FROM "
		"information_schema.TABLES "
		"WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN "
		"('mysql', 'information_schema', 'performance_schema', 'sys') "
		"ORDER BY TABLE_SCHEMA, TABLE_NAME";
	struct list_ctx l = {s, glob, 0};
	int rc = wb_my_select(s->meta, sql, NULL, 0, list_row, &l, err);
	if (rc == WB_ERR_NOMEM)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	*added = l.added;
	return rc;
}

int wb_mysrc_snapshot_add_matching(void *src, const char *glob, wb_error_t *err)
{
	int added = 0;
	int rc = add_tables(src, glob, &added, err);
	return rc ? -rc : added;
}

int wb_mysrc_snapshot_add_all(struct my_source *s, wb_error_t *err)
{
	int added;
	return add_tables(s, NULL, &added, err);
}

static int first_text(void *ctx, char **v, unsigned long *lens, int n)
{
	char **out = ctx;
	(void)lens;
	if (n > 0 && v[0] && *out == NULL && (*out = strdup(v[0])) == NULL)
		return WB_ERR_NOMEM;
	return 0;
}

/* The consistent point of a new reader: P's file and offset. */
static int take_point(struct my_source *s, wb_error_t *err)
{
	MYSQL *r = s->reader;
	int rc;
	if ((rc = wb_my_exec(r,
			     "SET SESSION TRANSACTION ISOLATION LEVEL "
			     "REPEATABLE READ",
			     err)))
		return rc;
	if (!s->mariadb &&
	    (rc = wb_my_exec(r, "FLUSH TABLES WITH READ LOCK", err)))
		return rc;
	if ((rc = wb_my_exec(r, "START TRANSACTION WITH CONSISTENT SNAPSHOT",
			     err)))
		return rc;
	MYSQL_RES *res =
		wb_my_query(r,
			    s->mariadb ? "SHOW STATUS LIKE 'binlog_snapshot_%'"
				       : "SHOW MASTER STATUS",
			    err);
	if (res == NULL)
		return err->code;
	MYSQL_ROW row;
	s->point_file[0] = '\0';
	s->point_off = 0;
	while ((row = mysql_fetch_row(res))) {
		if (s->mariadb && row[0] && row[1]) {
			if (strcmp(row[0], "Binlog_snapshot_file") == 0)
				snprintf(s->point_file, sizeof(s->point_file),
					 "%s", row[1]);
			else if (strcmp(row[0], "Binlog_snapshot_position") ==
				 0)
				s->point_off =
					(uint32_t)strtoul(row[1], NULL, 10);
		} else if (!s->mariadb && row[0] && row[1]) {
			snprintf(s->point_file, sizeof(s->point_file), "%s",
				 row[0]);
			s->point_off = (uint32_t)strtoul(row[1], NULL, 10);
		}
	}
	mysql_free_result(res);
	free(s->point_gtid);
	s->point_gtid = NULL;
	if (s->mariadb) {
		char offs[16];
		snprintf(offs, sizeof(offs), "%u", s->point_off);
		const char *params[2] = {s->point_file, offs};
		rc = wb_my_select(r, "SELECT BINLOG_GTID_POS(?, ?)", params, 2,
				  first_text, &s->point_gtid, err);
		if (rc)
			return rc == WB_ERR_NOMEM
				       ? wb_error_set(err, WB_ERR_NOMEM,
						      "out of memory")
				       : rc;
	} else if (s->gtid_mode) {
		s->point_gtid =
			wb_my_scalar(r, "SELECT @@global.gtid_executed", err);
		if (s->point_gtid == NULL && err->code)
			return err->code;
	}
	if (!s->mariadb && (rc = wb_my_exec(r, "UNLOCK TABLES", err)))
		return rc;
	const char *dot = strrchr(s->point_file, '.');
	if (s->point_file[0] == '\0' || dot == NULL || s->point_off < 4)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "snapshot: the server gave no binlog "
				    "position for its consistent snapshot");
	uint32_t seq = (uint32_t)strtoul(dot + 1, NULL, 10);
	s->point = wb_my_major(s->epoch, seq, s->point_off);
	return WB_OK;
}

int wb_mysrc_snapshot_begin(struct my_source *s, wb_error_t *err)
{
	int rc;
	s->reader = wb_my_connect(s->base.cfg, 600, err);
	if (s->reader == NULL)
		return err->code;
	if ((rc = take_point(s, err)))
		return rc;
	wb_position_t p = {s->point, 0};
	char text[64];
	wb_my_source_ops.format_position(&p, text, sizeof(text));
	wb_snapshot_round_open(s->snap, s->point, text);
	/* the same point as an interrupted round (nothing written since):
	 * the rows go on after the durable ones, not over them */
	pthread_mutex_lock(&s->mu);
	wb_position_t durable = s->durable_pos;
	pthread_mutex_unlock(&s->mu);
	wb_snapshot_round_after(s->snap, &durable);
	int n = wb_snapshot_ntables(s->snap);
	for (int ti = 0; ti < n; ti++) {
		struct wb_snapshot_table *t = wb_snapshot_table(s->snap, ti);
		if (!t->pending)
			continue;
		struct my_snap_table *x = tinfo(s, ti);
		if (x == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		tinfo_clear(x);
		if (!wb_config_table_selected(s->base.cfg, t->full)) {
			wb_snapshot_table_skip(s->snap, ti);
			continue;
		}
		const char *dot = strchr(t->full, '.');
		char db[256];
		snprintf(db, sizeof(db), "%.*s", (int)(dot - t->full), t->full);
		struct wb_table *table;
		x->tm = wb_mysrc_describe(s, db, dot + 1, &table, &x->types,
					  err);
		if (x->tm == NULL) {
			if (err->code == WB_ERR_RUNTIME) {
				wb_warn("mysql", "snapshot: %s", err->message);
				wb_snapshot_table_skip(s->snap, ti);
				continue;
			}
			return err->code;
		}
		if ((rc = wb_snapshot_table_open(s->snap, ti, table, -1,
						 err)) ||
		    (rc = wb_snapshot_table_ready(s->snap, ti, err)))
			return rc;
	}
	wb_snapshot_round_start(s->snap);
	s->snap_round = true;
	s->snap_ready = false;
	s->cur_ti = -1;
	wb_info("mysql", "snapshot at %s:%u (%s)", s->point_file, s->point_off,
		text);
	return WB_OK;
}

/* SELECT cols FROM t [WHERE key > ?...] ORDER BY key LIMIT chunk. */
static int chunk_sql(struct my_source *s, int ti, bool after, struct wb_buf *b)
{
	struct wb_snapshot_table *t = wb_snapshot_table(s->snap, ti);
	struct wb_table *tb = t->table;
	wb_buf_reset(b);
	if (wb_my_append_select(b, tb))
		return -1;
	if (t->nkeys > 0 && after) {
		/* (k1 > ?) OR (k1 = ? AND k2 > ?) OR ...: an index range
		 * for every server, unlike a row comparison */
		wb_buf_append(b, " WHERE ", 7);
		for (int i = 0; i < t->nkeys; i++) {
			wb_buf_append(b, i ? " OR (" : "(", i ? 5 : 1);
			for (int j = 0; j <= i; j++) {
				if (j)
					wb_buf_append(b, " AND ", 5);
				if (wb_my_append_ident(
					    b, tb->cols[t->keycols[j]].name))
					return -1;
				wb_buf_append(b, j < i ? " = ?" : " > ?", 4);
			}
			wb_buf_append(b, ")", 1);
		}
	}
	if (t->nkeys > 0) {
		wb_buf_append(b, " ORDER BY ", 10);
		for (int i = 0; i < t->nkeys; i++) {
			if (i)
				wb_buf_append(b, ", ", 2);
			if (wb_my_append_ident(b, tb->cols[t->keycols[i]].name))
				return -1;
		}
		char lim[32];
		snprintf(lim, sizeof(lim), " LIMIT %d",
			 wb_snapshot_chunk_rows(s->snap));
		wb_buf_append(b, lim, strlen(lim));
	}
	wb_buf_append(b, "", 1);
	return b->failed ? -1 : 0;
}

static void chunk_close(struct my_source *s)
{
	if (s->stmt)
		mysql_stmt_close(s->stmt);
	s->stmt = NULL;
	wb_my_textrow_free(&s->res);
	wb_snapshot_key_free(s->last_key, s->last_nkey);
	s->last_key = NULL;
	s->last_nkey = 0;
}

static int stmt_fail(struct my_source *s, const char *what, wb_error_t *err)
{
	wb_error_set(err, WB_ERR_RUNTIME, "snapshot %s: %s (error %u)", what,
		     mysql_stmt_error(s->stmt), mysql_stmt_errno(s->stmt));
	return err->code;
}

/* Starts the next chunk of part (ti, pi). */
static int chunk_open(struct my_source *s, int ti, int pi, wb_error_t *err)
{
	struct wb_snapshot_table *t = wb_snapshot_table(s->snap, ti);
	struct wb_snapshot_part *p = &t->parts[pi];
	struct wb_buf sql;
	wb_buf_init(&sql);
	bool after = p->cur_key != NULL;
	if (chunk_sql(s, ti, after, &sql)) {
		wb_buf_free(&sql);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	s->stmt = mysql_stmt_init(s->reader);
	if (s->stmt == NULL ||
	    mysql_stmt_prepare(s->stmt, (const char *)sql.data, sql.len - 1)) {
		wb_buf_free(&sql);
		return s->stmt ? stmt_fail(s, "prepare", err)
			       : wb_error_set(err, WB_ERR_NOMEM,
					      "out of memory");
	}
	wb_buf_free(&sql);
	int nparams = after ? t->nkeys * (t->nkeys + 1) / 2 : 0;
	MYSQL_BIND *pb = nparams ? calloc((size_t)nparams, sizeof(*pb)) : NULL;
	unsigned long *plen =
		nparams ? calloc((size_t)nparams, sizeof(*plen)) : NULL;
	if (nparams && (pb == NULL || plen == NULL)) {
		free(pb);
		free(plen);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	int k = 0;
	for (int i = 0; i < t->nkeys && after; i++)
		for (int j = 0; j <= i; j++, k++) {
			plen[k] = strlen(p->cur_key[j]);
			pb[k].buffer_type = MYSQL_TYPE_STRING;
			pb[k].buffer = p->cur_key[j];
			pb[k].buffer_length = plen[k];
			pb[k].length = &plen[k];
		}
	int rc = WB_OK;
	if ((nparams && mysql_stmt_bind_param(s->stmt, pb)) ||
	    mysql_stmt_execute(s->stmt))
		rc = stmt_fail(s, "query", err);
	free(pb);
	free(plen);
	if (rc)
		return rc;
	int r = wb_my_textrow_bind(&s->res, s->stmt, t->table->ncols);
	if (r < 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	if (r > 0)
		return stmt_fail(s, "bind", err);
	s->cur_ti = ti;
	s->cur_pi = pi;
	s->chunk_rows = 0;
	s->chunk_marked = 0;
	return WB_OK;
}

/* The text of a row's key columns, for the chunk after it. */
static int keep_key(struct my_source *s, struct wb_snapshot_table *t,
		    char **vals, unsigned long *lens)
{
	wb_snapshot_key_free(s->last_key, s->last_nkey);
	s->last_key = calloc((size_t)t->nkeys, sizeof(char *));
	s->last_nkey = t->nkeys;
	if (s->last_key == NULL)
		return -1;
	for (int i = 0; i < t->nkeys; i++) {
		int c = t->keycols[i];
		if ((s->last_key[i] = strndup(vals[c], lens[c])) == NULL)
			return -1;
	}
	return 0;
}

/* One row of the open chunk into b; 1 with a row, 0 at the chunk's end. */
static int chunk_row(struct my_source *s, struct wb_batch *b, wb_error_t *err)
{
	int f = mysql_stmt_fetch(s->stmt);
	if (f == MYSQL_NO_DATA)
		return 0;
	if (f == 1)
		return -stmt_fail(s, "fetch", err);
	struct wb_snapshot_table *t = wb_snapshot_table(s->snap, s->cur_ti);
	struct my_snap_table *x = &s->snapt[s->cur_ti];
	int n = t->table->ncols;
	struct wb_change *c = wb_snapshot_row(s->snap, s->cur_ti, s->cur_pi, b);
	struct wb_value *after = wb_batch_values(b, n);
	char *vals[512];
	if (c == NULL || after == NULL || n > 512)
		return -wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		if (s->res.null[i]) {
			after[i].state = WB_VAL_NULL;
			vals[i] = NULL;
			continue;
		}
		char *v;
		int r = wb_my_textrow_text(&s->res, i, &b->arena, &v);
		if (r < 0)
			return -wb_error_set(err, WB_ERR_NOMEM,
					     "out of memory");
		if (r > 0)
			return -stmt_fail(s, "fetch", err);
		vals[i] = v;
		int rc = wb_my_text_to_value(&x->tm->cols[i], &x->types[i], v,
					     s->res.len[i], &b->arena,
					     &after[i], err);
		if (rc) {
			wb_error_prefix(err, "snapshot of %s, column %s",
					t->full, t->table->cols[i].name);
			return -rc;
		}
	}
	c->after = after;
	s->last_pos = c->pos;
	s->chunk_rows++;
	if (t->nkeys > 0 && keep_key(s, t, vals, s->res.len))
		return -wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return 1;
}

/* The batch is full inside a chunk: a mark at its last row (the part's
 * key there), so that a checkpoint between batches covers exactly the rows
 * delivered and a resumed snapshot starts right after them. */
static int batch_mark(struct my_source *s, wb_error_t *err)
{
	struct wb_snapshot_table *t = wb_snapshot_table(s->snap, s->cur_ti);
	if (t->nkeys == 0 || s->last_key == NULL ||
	    s->chunk_rows == s->chunk_marked)
		return WB_OK;
	char **key = calloc((size_t)t->nkeys, sizeof(char *));
	for (int i = 0; key && i < t->nkeys; i++)
		if ((key[i] = strdup(s->last_key[i])) == NULL) {
			wb_snapshot_key_free(key, t->nkeys);
			key = NULL;
		}
	if (key == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	s->chunk_marked = s->chunk_rows;
	return wb_snapshot_chunk_end(s->snap, s->cur_ti, s->cur_pi,
				     &s->last_pos, key, false, err);
}

int wb_mysrc_snapshot_step(struct my_source *s, struct wb_batch *b,
			   size_t target_bytes, wb_error_t *err)
{
	int rc;
	for (;;) {
		if (s->stmt == NULL) {
			int ti, pi;
			if (!wb_snapshot_take_part(s->snap, &ti, &pi))
				break;
			if ((rc = chunk_open(s, ti, pi, err)))
				return rc;
		}
		int r;
		while ((r = chunk_row(s, b, err)) == 1)
			if (wb_batch_bytes(b) >= target_bytes)
				return batch_mark(s, err);
		if (r < 0)
			return -r;
		/* the chunk's end */
		struct wb_snapshot_table *t =
			wb_snapshot_table(s->snap, s->cur_ti);
		int ti = s->cur_ti, pi = s->cur_pi;
		bool done = t->nkeys == 0 ||
			    s->chunk_rows < wb_snapshot_chunk_rows(s->snap);
		wb_snapshot_count_read(s->snap, s->chunk_rows);
		char **key = s->last_key;
		char **resume = NULL;
		if (!done && key) {
			/* the part goes on after this key: a copy for it */
			resume = calloc((size_t)t->nkeys, sizeof(char *));
			for (int i = 0; resume && i < t->nkeys; i++)
				resume[i] = strdup(key[i]);
		}
		s->last_key = NULL;
		int nk = s->last_nkey;
		s->last_nkey = 0;
		chunk_close(s);
		if ((rc = wb_snapshot_chunk_end(s->snap, ti, pi, &s->last_pos,
						t->nkeys ? key : NULL, done,
						err))) {
			wb_snapshot_key_free(resume, nk);
			return rc;
		}
		if (t->nkeys == 0)
			wb_snapshot_key_free(key, nk);
		if (!done) {
			if (resume == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			wb_snapshot_part_resume_after(s->snap, ti, pi, resume);
			/* the part is taken again for its next chunk */
			struct wb_snapshot_part *p = &t->parts[pi];
			p->assigned = false;
		}
		wb_snapshot_progress(s->snap);
		if (wb_batch_bytes(b) >= target_bytes)
			return WB_OK;
	}
	if (wb_snapshot_round_complete(s->snap))
		wb_mysrc_snapshot_end(s);
	return WB_OK;
}

void wb_mysrc_snapshot_end(struct my_source *s)
{
	chunk_close(s);
	wb_snapshot_round_end(s->snap);
	if (s->reader) {
		wb_error_t e;
		wb_my_exec(s->reader, "COMMIT", &e);
		mysql_close(s->reader);
	}
	s->reader = NULL;
	s->snap_round = false;
	s->snap_ready = false;
}

void wb_mysrc_snapshot_free(struct my_source *s)
{
	chunk_close(s);
	if (s->reader)
		mysql_close(s->reader);
	s->reader = NULL;
	for (int i = 0; i < s->nsnapt; i++)
		tinfo_clear(&s->snapt[i]);
	free(s->snapt);
	s->snapt = NULL;
	s->nsnapt = 0;
	wb_snapshot_free(s->snap);
	s->snap = NULL;
	free(s->point_gtid);
	s->point_gtid = NULL;
	free(s->held);
	s->held = NULL;
}
