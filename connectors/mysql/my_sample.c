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
#include "my_textrow.h"
#include "my_types.h"

/* SELECT <columns> FROM db.table [ORDER BY <key>] LIMIT ?, NUL-terminated */
static int build_sql(const struct wb_table *t, struct wb_buf *b)
{
	if (wb_my_append_select(b, t))
		return -1;
	bool first = true;
	for (int i = 0; i < t->ncols; i++) {
		if (!t->cols[i].key)
			continue;
		wb_buf_append(b, first ? " ORDER BY " : ", ", first ? 10 : 2);
		first = false;
		if (wb_my_append_ident(b, t->cols[i].name))
			return -1;
	}
	wb_buf_append(b, " LIMIT ?", 9); /* with the NUL */
	return b->failed ? -1 : 0;
}

struct sample {
	MYSQL_STMT *stmt;
	struct wb_my_textrow row;
};

static void sample_close(struct sample *x)
{
	if (x->stmt)
		mysql_stmt_close(x->stmt);
	wb_my_textrow_free(&x->row);
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
		if (x->row.null[i]) {
			v[i].state = WB_VAL_NULL;
			continue;
		}
		char *text;
		int r = wb_my_textrow_text(&x->row, i, &b->arena, &text);
		if (r < 0)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		if (r > 0)
			return stmt_fail(x, t, "fetch", err);
		int rc = wb_my_text_to_value(&tm->cols[i], &types[i], text,
					     x->row.len[i], &b->arena, &v[i],
					     err);
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
	int r = wb_my_textrow_bind(&x.row, x.stmt, t->ncols);
	if (r) {
		rc = r < 0 ? wb_error_set(err, WB_ERR_NOMEM, "out of memory")
			   : stmt_fail(&x, t, "bind", err);
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
