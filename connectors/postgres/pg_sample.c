/* pg_sample.c — a few current rows of a table for `waybill mapping
 * preview`: one plain SELECT on the catalog connection (no slot, no
 * publication, no exported snapshot), in key order when the table has a
 * key, read as text in the session settings of every waybill connection
 * and converted the way the snapshot converts its rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pg_source_int.h"
#include "pg_types.h"

/* `"a", "b"` for the columns idx[0..n) of t (all when idx is NULL), into
 * sql; false when out of memory. */
static bool put_columns(PGconn *conn, const struct wb_table *t, const int *idx,
			int n, struct wb_buf *sql)
{
	for (int i = 0; i < n; i++) {
		const char *name = t->cols[idx ? idx[i] : i].name;
		char *q = PQescapeIdentifier(conn, name, strlen(name));
		if (q == NULL)
			return false;
		if (i)
			wb_buf_append(sql, ", ", 2);
		wb_buf_append(sql, q, strlen(q));
		PQfreemem(q);
	}
	return !sql->failed;
}

/* SELECT <columns> FROM <schema>.<table> [ORDER BY <key>] LIMIT $1 */
static int build_sql(PGconn *conn, const struct wb_table *t, struct wb_buf *sql)
{
	int *keys = calloc((size_t)(t->ncols ? t->ncols : 1), sizeof(int));
	if (keys == NULL)
		return WB_ERR_NOMEM;
	int nkeys = 0;
	for (int i = 0; i < t->ncols; i++)
		if (t->cols[i].key)
			keys[nkeys++] = i;
	char *qs = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
	char *qt = PQescapeIdentifier(conn, t->name, strlen(t->name));
	bool ok = qs != NULL && qt != NULL;
	wb_buf_append(sql, "SELECT ", 7);
	ok = ok && put_columns(conn, t, NULL, t->ncols, sql);
	if (ok) {
		wb_buf_append(sql, " FROM ", 6);
		wb_buf_append(sql, qs, strlen(qs));
		wb_buf_append(sql, ".", 1);
		wb_buf_append(sql, qt, strlen(qt));
	}
	if (ok && nkeys > 0) {
		wb_buf_append(sql, " ORDER BY ", 10);
		ok = put_columns(conn, t, keys, nkeys, sql);
	}
	wb_buf_append(sql, " LIMIT $1", 10); /* with the NUL */
	PQfreemem(qs);
	PQfreemem(qt);
	free(keys);
	return ok && !sql->failed ? WB_OK : WB_ERR_NOMEM;
}

int wb_pgsrc_sample(struct wb_source *base, struct wb_table *t, int limit,
		    struct wb_batch *b, wb_error_t *err)
{
	struct pg_source *s = (struct pg_source *)base;
	if (s->cat.conn == NULL && wb_pg_catalog_open(&s->cat, base->cfg, err))
		return err->code;
	struct wb_buf sql;
	wb_buf_init(&sql);
	PGresult *res = NULL;
	int rc = build_sql(s->cat.conn, t, &sql);
	if (rc) {
		wb_error_set(err, rc, "out of memory");
		goto done;
	}
	if (t->ncols == 0)
		goto done;
	char lim[24];
	snprintf(lim, sizeof(lim), "%d", limit < 0 ? 0 : limit);
	const char *params[1] = {lim};
	res = wb_pg_query(s->cat.conn, (const char *)sql.data, 1, params, err);
	if (res == NULL) {
		wb_error_prefix(err, "reading rows of %s.%s", t->schema,
				t->name);
		rc = err->code;
		goto done;
	}
	if (PQnfields(res) != t->ncols) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "reading rows of %s.%s: %d columns came, %d "
				  "expected (the table changed meanwhile)",
				  t->schema, t->name, PQnfields(res), t->ncols);
		goto done;
	}
	if (wb_batch_hold(b, t) == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	int n = PQntuples(res);
	for (int row = 0; row < n; row++) {
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
		c->pos.minor = (uint64_t)row + 1;
		c->after = v;
		for (int i = 0; i < t->ncols; i++) {
			if (PQgetisnull(res, row, i)) {
				v[i].state = WB_VAL_NULL;
				continue;
			}
			rc = wb_pg_text_to_value(
				&t->cols[i].type, PQgetvalue(res, row, i),
				(size_t)PQgetlength(res, row, i), &b->arena,
				&v[i], err);
			if (rc == WB_ERR_NOMEM)
				goto done;
			if (rc) {
				wb_error_prefix(err, "%s.%s, column %s",
						t->schema, t->name,
						t->cols[i].name);
				goto done;
			}
		}
	}
done:
	PQclear(res);
	wb_buf_free(&sql);
	return rc;
}
