/* odbc_check.c — `waybill check`, `waybill status`, `waybill schema` and
 * the mapping preview's sample for the ODBC source: each connects by
 * itself (no open() needed) and reads nothing but the catalog, the
 * database clock and, for status and sample, a few rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "odbc_int.h"

static int connect_described(struct wb_odbc_source *s, wb_error_t *err)
{
	int rc = WB_OK;
	if (s->conn.dbc == NULL &&
	    (rc = wb_odbc_connect(&s->conn, s->base.cfg, err)))
		return rc;
	return wb_odbc_describe_tables(s, err);
}

/* Whether an index of t starts with column col (SQLStatistics; the
 * schema tried as schema, catalog, then no qualifier, as for the key). */
static int indexed(struct wb_odbc_source *s, struct wb_odbc_tab *t,
		   const char *col, bool *yes)
{
	*yes = false;
	int ok = -1;
	for (int attempt = 0; attempt < 3 && !*yes; attempt++) {
		SQLHSTMT st;
		if (!SQL_SUCCEEDED(
			    SQLAllocHandle(SQL_HANDLE_STMT, s->conn.dbc, &st)))
			return -1;
		SQLCHAR *cat = attempt == 1 ? (SQLCHAR *)t->schema : NULL;
		SQLCHAR *sch = attempt == 0 ? (SQLCHAR *)t->schema : NULL;
		SQLRETURN r = SQLStatistics(
			st, cat, cat ? SQL_NTS : 0, sch, sch ? SQL_NTS : 0,
			(SQLCHAR *)t->name, SQL_NTS, SQL_INDEX_ALL, SQL_QUICK);
		if (SQL_SUCCEEDED(r))
			ok = 0;
		while (SQL_SUCCEEDED(r) && SQL_SUCCEEDED(SQLFetch(st))) {
			SQLSMALLINT seq = 0;
			char name[256] = "";
			SQLLEN ind;
			SQLGetData(st, 8, SQL_C_SSHORT, &seq, 0, &ind);
			if (ind == SQL_NULL_DATA)
				continue;
			SQLGetData(st, 9, SQL_C_CHAR, name, sizeof(name), &ind);
			if (seq == 1 && ind != SQL_NULL_DATA &&
			    strcasecmp(name, col) == 0)
				*yes = true;
		}
		SQLFreeHandle(SQL_HANDLE_STMT, st);
	}
	return ok;
}

int wb_odbc_check(struct wb_source *base, FILE *out, wb_error_t *err)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	int bad = 0;
	wb_error_t e;
	wb_error_clear(&e);
	if (wb_odbc_connect(&s->conn, base->cfg, &e)) {
		fprintf(out,
			"FAIL connect: %s: check the driver (odbcinst -q -d), "
			"the connection string and the credentials\n",
			e.message);
		return wb_error_set(err, WB_ERR_CONNECT, "%s", e.message);
	}
	fprintf(out, "ok   driver %s loaded, connected to %s %s\n",
		s->conn.driver, s->conn.dbms, s->conn.dbms_ver);
	if (s->conn.quote[0])
		fprintf(out, "ok   identifiers quoted with %s\n",
			s->conn.quote);
	else
		fprintf(out, "ok   the driver has no identifier quote "
			     "character: only plain names can be used\n");
	int64_t now;
	if (wb_odbc_db_now(&s->conn, &now, &e)) {
		fprintf(out, "FAIL database clock: %s\n", e.message);
		bad++;
	} else {
		char text[64];
		wb_odbc_format_ts(now, text, sizeof(text));
		fprintf(out, "ok   database clock read: %s\n", text);
	}
	for (int i = 0; i < s->ntabs; i++) {
		struct wb_odbc_tab *t = &s->tabs[i];
		const struct wb_odbc_table *tc = t->cfg;
		wb_error_clear(&e);
		if (wb_odbc_describe_one(s, t, &e) == WB_ERR_CONFIG) {
			fprintf(out,
				"FAIL table %s: %s: fix source.tracking.%s\n",
				tc->name, e.message, tc->name);
			bad++;
			continue;
		} else if (e.code) {
			fprintf(out,
				"FAIL table %s: %s: check the name, and GRANT "
				"SELECT ON %s TO the connecting user\n",
				tc->name, e.message, tc->name);
			bad++;
			continue;
		}
		fprintf(out,
			"ok   table %s: %d columns, SELECT granted, key %s\n",
			tc->name, t->ncols, t->nkeys ? "found" : "none");
		const char *tcols[2] = {tc->timestamp, tc->incrementing};
		for (int k = 0; k < 2; k++) {
			if (tcols[k] == NULL)
				continue;
			bool yes = false;
			if (indexed(s, t, tcols[k], &yes) != 0)
				fprintf(out,
					"warn table %s: the driver lists no "
					"indexes: cannot tell whether %s is "
					"indexed\n",
					tc->name, tcols[k]);
			else if (!yes)
				fprintf(out,
					"warn table %s: no index starts with "
					"%s: every poll scans the table "
					"(CREATE INDEX ON %s (%s))\n",
					tc->name, tcols[k], tc->name, tcols[k]);
			else
				fprintf(out, "ok   table %s: %s is indexed\n",
					tc->name, tcols[k]);
			break;
		}
		if (tc->horizon) {
			wb_error_clear(&e);
			if (wb_odbc_real_horizon(s, t, 6, NULL, &e)) {
				fprintf(out, "FAIL %s\n", e.message);
				bad++;
			} else {
				fprintf(out,
					"ok   table %s: horizon query "
					"returned %s\n",
					tc->name, t->hz);
			}
		}
		if (tc->mode == WB_ODBC_TIMESTAMP && t->nkeys == 0)
			fprintf(out,
				"warn table %s: no primary key: each poll "
				"reads its whole window in one statement\n",
				tc->name);
	}
	wb_odbc_disconnect(&s->conn);
	if (bad)
		return wb_error_set(err, WB_ERR_CONFIG, "%d check(s) failed",
				    bad);
	return WB_OK;
}

int wb_odbc_status(struct wb_source *base,
		   const struct wb_source_resume *resume, json_t *obj,
		   wb_error_t *err)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	json_t *tabs = json_object();
	json_t *st = resume->have && resume->state
			     ? json_object_get(resume->state, "tables")
			     : NULL;
	wb_error_t e;
	wb_error_clear(&e);
	bool up = connect_described(s, &e) == 0;
	json_object_set_new(obj, "connected", json_boolean(up));
	if (!up)
		json_object_set_new(obj, "error", json_string(e.message));
	else
		json_object_set_new(obj, "dbms", json_string(s->conn.dbms));
	for (int i = 0; i < s->ntabs; i++) {
		struct wb_odbc_tab *t = &s->tabs[i];
		json_t *o = json_object();
		json_t *ts = st ? json_object_get(st, t->cfg->name) : NULL;
		json_t *wm = ts ? json_object_get(ts, "watermark") : NULL;
		json_object_set(o, "watermark", wm ? wm : json_null());
		json_t *lp = ts ? json_object_get(ts, "last_poll_ms") : NULL;
		if (json_is_integer(lp)) {
			json_object_set(o, "last_poll_ms", lp);
			time_t sec = (time_t)(json_integer_value(lp) / 1000);
			struct tm tmv;
			char when[40];
			if (gmtime_r(&sec, &tmv) &&
			    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
				     &tmv) > 0)
				json_object_set_new(o, "last_poll",
						    json_string(when));
		}
		if (up && t->nord > 0 && json_is_array(wm) &&
		    json_array_size(wm) >= 1) {
			/* rows past the watermark's tracking value */
			char *q = wb_odbc_quote(
				&s->conn, t->cols[t->ordcols[0]].name, &e);
			char *sql = NULL;
			if (q &&
			    asprintf(&sql,
				     "SELECT COUNT(*) FROM %s WHERE %s > ?",
				     t->qname, q) >= 0) {
				struct wb_odbc_param p = {
					json_string_value(
						json_array_get(wm, 0)),
					&t->cols[t->ordcols[0]]};
				struct wb_odbc_reader r;
				if (p.text && wb_odbc_reader_open(
						      &r, &s->conn, sql, &p, 1,
						      1, 1 << 30, &e) == 0) {
					if (wb_odbc_reader_next(&r, &e) == 1) {
						SQLLEN len;
						const uint8_t *c =
							wb_odbc_reader_cell(
								&r, 0, &len);
						int64_t n;
						memcpy(&n, c, sizeof(n));
						if (len != SQL_NULL_DATA)
							json_object_set_new(
								o,
								"rows_behind",
								json_integer(
									n));
					}
					wb_odbc_reader_close(&r);
				}
			}
			free(q);
			free(sql);
		}
		json_object_set_new(tabs, t->cfg->name, o);
	}
	json_object_set_new(obj, "tables", tabs);
	wb_odbc_disconnect(&s->conn);
	(void)err;
	return WB_OK;
}

struct wb_table **wb_odbc_describe(struct wb_source *base, wb_error_t *err)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	if (connect_described(s, err))
		return NULL;
	struct wb_table **v = calloc((size_t)s->ntabs + 1, sizeof(*v));
	if (v == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	for (int i = 0; i < s->ntabs; i++)
		v[i] = wb_table_ref(s->tabs[i].table);
	return v;
}

int wb_odbc_sample(struct wb_source *base, struct wb_table *t, int limit,
		   struct wb_batch *b, wb_error_t *err)
{
	struct wb_odbc_source *s = (struct wb_odbc_source *)base;
	int rc = connect_described(s, err);
	if (rc)
		return rc;
	struct wb_odbc_tab *tab = NULL;
	for (int i = 0; i < s->ntabs; i++)
		if (strcmp(s->tabs[i].schema, t->schema) == 0 &&
		    strcmp(s->tabs[i].name, t->name) == 0)
			tab = &s->tabs[i];
	if (tab == NULL)
		return wb_error_set(err, WB_ERR_CONFIG, "unknown table %s.%s",
				    t->schema, t->name);
	char *sql = NULL;
	if (asprintf(&sql, "SELECT %s FROM %s", tab->sel, tab->qname) < 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	struct wb_odbc_reader r;
	rc = wb_odbc_reader_open(&r, &s->conn, sql, NULL, 0, limit, 1 << 30,
				 err);
	free(sql);
	if (rc)
		return rc;
	int got = 0;
	for (int n = 0; n < limit && (got = wb_odbc_reader_next(&r, err)) == 1;
	     n++) {
		struct wb_value *v;
		if ((rc = wb_odbc_row_values(s, tab, &r, b, &v, err)))
			break;
		struct wb_change *c = wb_batch_add(b);
		if (c == NULL || wb_batch_hold(b, t) == NULL) {
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			break;
		}
		c->op = WB_OP_READ;
		c->table = t;
		c->pos.minor = (uint64_t)n + 1;
		c->after = v;
	}
	if (got < 0 && rc == 0)
		rc = err->code;
	wb_odbc_reader_close(&r);
	return rc;
}
