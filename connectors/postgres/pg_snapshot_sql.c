/* pg_snapshot_sql.c — the queries a snapshot sends: the COPY of a table or
 * part from its start (binary where the columns allow), the keyset chunk
 * after a key, and the key range of a table to split (the split itself is
 * src/snapshot_plan.c's). Identifiers are quoted; values (keys, bounds) are
 * always bound parameters. */
#include "pg_snapshot_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_binary.h"
#include "pg_catalog.h"

static char *quoted_table(PGconn *conn, const struct wb_snapshot_table *t)
{
	const struct wb_table *tb = t->table;
	char *a = PQescapeIdentifier(conn, tb->schema, strlen(tb->schema));
	char *b = PQescapeIdentifier(conn, tb->name, strlen(tb->name));
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
static bool binary_column(const struct wb_snapshot_table *t, int c)
{
	const struct wb_column *col = &t->table->cols[c];
	if (!wb_pg_binary_reads(&col->type))
		return false;
	return !col->key || ((col->type.s.kind == WB_T_INT ||
			      col->type.s.kind == WB_T_LONG) &&
			     col->type.s.logical == WB_L_NONE);
}

/* Sets cc->bin (which columns the COPY reads in binary) and cc->binary
 * (any of them); false when out of memory. */
static bool choose_binary(const struct wb_snapshot_table *t,
			  struct pg_copy_cols *cc)
{
	const struct wb_table *tb = t->table;
	free(cc->bin);
	cc->binary = false;
	cc->bin = calloc(tb->ncols > 0 ? (size_t)tb->ncols : 1, sizeof(bool));
	if (cc->bin == NULL)
		return false;
	for (int c = 0; c < tb->ncols; c++)
		cc->binary |= cc->bin[c] = binary_column(t, c);
	return true;
}

/* A part's bounds in SQL: " WHERE ..." on the key (empty for the whole
 * table). The COPY takes no parameters, so its bounds come from settings
 * that send_chunk_query() sets with bound values; the keyset query binds
 * hi as $2 (after the start key). NULL when out of memory. */
static char *bounds_sql(const struct wb_snapshot_part *pt, const char *key,
			bool copy)
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

int wb_pgsnap_build_sql(struct wb_pg_snapshot *sn, PGconn *conn, int ti,
			wb_error_t *err)
{
	struct wb_snapshot_table *t = wb_snapshot_table(sn->s, ti);
	struct pg_copy_cols *cc = &sn->cols[ti];
	const struct wb_table *tb = t->table;
	char *tbl = quoted_table(conn, t);
	char *cols = column_list(conn, tb, NULL, tb->ncols, NULL, NULL, false);
	/* binary: most columns in their send form, which costs the server
	 * less to produce and us less to read than text; the others are cast
	 * to text in the COPY's select list */
	char *copy_cols =
		choose_binary(t, cc)
			? column_list(conn, tb, NULL, tb->ncols, NULL,
				      cc->binary ? cc->bin : NULL, false)
			: NULL;
	char *keys = NULL, *params = NULL, *order = NULL;
	const char *format = cc->binary ? " (FORMAT binary)" : "";
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
		struct wb_snapshot_part *pt = &t->parts[i];
		if (t->nkeys == 0) {
			/* no key to page by: the whole table in one COPY */
			if (asprintf(&pt->sql_start,
				     "COPY (SELECT %s FROM %s) TO STDOUT%s",
				     copy_cols, tbl, format) < 0) {
				pt->sql_start = NULL;
				goto nomem;
			}
			continue;
		}
		/* a split table has one integer key column
		 * (wb_snapshot_split()) */
		char *cb = bounds_sql(pt, order, true);
		char *nb = bounds_sql(pt, keys, false);
		int a = cb && nb
				? asprintf(&pt->sql_start,
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
			pt->sql_start = NULL;
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

int wb_pgsnap_key_range(struct wb_pg_snapshot *sn, PGconn *conn, int ti,
			bool *range, long long *lo, long long *hi,
			wb_error_t *err)
{
	const struct wb_snapshot_table *t = wb_snapshot_table(sn->s, ti);
	*range = false;
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
	*range = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
		 wb_snapshot_int_text(PQgetvalue(res, 0, 0), lo) &&
		 wb_snapshot_int_text(PQgetvalue(res, 0, 1), hi);
	PQclear(res);
	return WB_OK;
}

/* The bounds of a part's COPY, as settings of the reader's transaction
 * (values bound, not pasted into the COPY). */
int wb_pgsnap_set_bounds(const struct wb_snapshot_table *t,
			 const struct wb_snapshot_part *pt, struct reader *r,
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
