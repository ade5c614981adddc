/* my_sample.c — a few current rows of a table for `waybill mapping
 * preview`: one prepared SELECT on the catalog connection (no binlog dump,
 * no consistent snapshot, no lock), in primary key order when the table
 * has one, each value as the text the snapshot reads and converted by the
 * same code (wb_my_text_to_value). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "my_connect.h"
#include "my_source_int.h"
#include "my_types.h"

#define INLINE_VALUE 512 /* bytes fetched with the row; longer: fetched */

static int append_ident(struct wb_buf *b, const char *name)
{
	char q[600];
	size_t n = 0;
	if (!wb_my_quote_ident(q, sizeof(q), &n, name))
		return -1;
	wb_buf_append(b, q, n);
	return 0;
}

/* SELECT <columns> FROM db.table [ORDER BY <key>] LIMIT ?, NUL-terminated */
static int build_sql(const struct wb_table *t, struct wb_buf *b)
{
	wb_buf_append(b, "SELECT ", 7);
	for (int i = 0; i < t->ncols; i++) {
		if (i)
			wb_buf_append(b, ", ", 2);
		if (append_ident(b, t->cols[i].name))
			return -1;
	}
	wb_buf_append(b, " FROM ", 6);
	if (append_ident(b, t->db))
		return -1;
	wb_buf_append(b, ".", 1);
	if (append_ident(b, t->name))
		return -1;
	bool first = true;
	for (int i = 0; i < t->ncols; i++) {
		if (!t->cols[i].key)
			continue;
		wb_buf_append(b, first ? " ORDER BY " : ", ", first ? 10 : 2);
		first = false;
		if (append_ident(b, t->cols[i].name))
			return -1;
	}
	wb_buf_append(b, " LIMIT ?", 9); /* with the NUL */
	return b->failed ? -1 : 0;
}

struct sample {
	MYSQL_STMT *stmt;
	MYSQL_BIND *bind;
	unsigned long *len;
	my_bool *null;
	char *buf;
};

static void sample_close(struct sample *x)
{
	if (x->stmt)
		mysql_stmt_close(x->stmt);
	free(x->bind);
	free(x->len);
	free(x->null);
	free(x->buf);
}

static int stmt_fail(struct sample *x, const struct wb_table *t,
		     const char *what, wb_error_t *err)
{
	return wb_error_set(err, WB_ERR_RUNTIME,
			    "reading rows of %s.%s: %s: %s (error %u)", t->db,
			    t->name, what, mysql_stmt_error(x->stmt),
			    mysql_stmt_errno(x->stmt));
}

/* The fetched row into values v (typed by tm and types). */
static int convert_row(struct sample *x, const struct wb_table *t,
		       const struct wb_my_tablemap *tm,
		       const struct wb_type *types, struct wb_batch *b,
		       struct wb_value *v, wb_error_t *err)
{
	for (int i = 0; i < t->ncols; i++) {
		if (x->null[i]) {
			v[i].state = WB_VAL_NULL;
			continue;
		}
		char *text = x->buf + (size_t)i * INLINE_VALUE;
		if (x->len[i] > INLINE_VALUE) {
			/* a long value: fetched whole into the arena */
			text = wb_arena_alloc(&b->arena, x->len[i] + 1);
			if (text == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			MYSQL_BIND one;
			unsigned long got = 0;
			memset(&one, 0, sizeof(one));
			one.buffer_type = MYSQL_TYPE_STRING;
			one.buffer = text;
			one.buffer_length = x->len[i] + 1;
			one.length = &got;
			if (mysql_stmt_fetch_column(x->stmt, &one,
						    (unsigned int)i, 0))
				return stmt_fail(x, t, "fetch", err);
		}
		int rc = wb_my_text_to_value(&tm->cols[i], &types[i], text,
					     x->len[i], &b->arena, &v[i], err);
		if (rc) {
			wb_error_prefix(err, "%s.%s, column %s", t->db, t->name,
					t->cols[i].name);
			return rc;
		}
	}
	return WB_OK;
}

int wb_mysrc_sample(struct wb_source *base, struct wb_table *t, int limit,
		    struct wb_batch *b, wb_error_t *err)
{
	struct my_source *s = (struct my_source *)base;
	struct sample x;
	memset(&x, 0, sizeof(x));
	struct wb_table *now = NULL;
	struct wb_type *types = NULL;
	struct wb_buf sql;
	wb_buf_init(&sql);
	int rc = WB_OK;
	if (s->meta == NULL &&
	    (s->meta = wb_my_connect(base->cfg, 60, err)) == NULL)
		return err->code;
	/* the columns as the text conversion needs them (charsets,
	 * signedness): information_schema once more */
	struct wb_my_tablemap *tm =
		wb_mysrc_describe(s, t->db, t->name, &now, &types, err);
	if (tm == NULL)
		return err->code;
	if ((int)tm->ncols != t->ncols) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "reading rows of %s.%s: the table changed "
				  "meanwhile (%u columns, %d before)",
				  t->db, t->name, tm->ncols, t->ncols);
		goto done;
	}
	if (t->ncols == 0)
		goto done;
	if (build_sql(t, &sql)) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	x.stmt = mysql_stmt_init(s->meta);
	if (x.stmt == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	int lim = limit < 0 ? 0 : limit;
	MYSQL_BIND pb;
	memset(&pb, 0, sizeof(pb));
	pb.buffer_type = MYSQL_TYPE_LONG;
	pb.buffer = &lim;
	if (mysql_stmt_prepare(x.stmt, (const char *)sql.data, sql.len - 1) ||
	    mysql_stmt_bind_param(x.stmt, &pb) || mysql_stmt_execute(x.stmt)) {
		rc = stmt_fail(&x, t, "query", err);
		goto done;
	}
	size_t n = (size_t)t->ncols;
	x.bind = calloc(n, sizeof(*x.bind));
	x.len = calloc(n, sizeof(*x.len));
	x.null = calloc(n, sizeof(*x.null));
	x.buf = malloc(n * INLINE_VALUE);
	if (!x.bind || !x.len || !x.null || !x.buf) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		x.bind[i].buffer_type = MYSQL_TYPE_STRING;
		x.bind[i].buffer = x.buf + i * INLINE_VALUE;
		x.bind[i].buffer_length = INLINE_VALUE;
		x.bind[i].length = &x.len[i];
		x.bind[i].is_null = &x.null[i];
	}
	if (mysql_stmt_bind_result(x.stmt, x.bind)) {
		rc = stmt_fail(&x, t, "bind", err);
		goto done;
	}
	if (wb_batch_hold(b, t) == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (uint64_t row = 1;; row++) {
		int f = mysql_stmt_fetch(x.stmt);
		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1) {
			rc = stmt_fail(&x, t, "fetch", err);
			goto done;
		}
		struct wb_change *c = wb_batch_add(b);
		struct wb_value *v = wb_batch_values(b, t->ncols);
		if (c == NULL || v == NULL) {
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto done;
		}
		c->op = WB_OP_READ;
		c->snapshot = true;
		c->table = t;
		c->pos.major = 0;
		c->pos.minor = row;
		c->after = v;
		if ((rc = convert_row(&x, t, tm, types, b, v, err)))
			goto done;
	}
done:
	sample_close(&x);
	wb_buf_free(&sql);
	wb_my_tablemap_free(tm);
	free(types);
	wb_table_unref(now);
	return rc;
}
