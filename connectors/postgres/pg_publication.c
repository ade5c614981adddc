/* pg_publication.c — the publication pgoutput streams from, and which tables
 * may be in it (a key or replica identity, SELECT). */
#include "pg_source_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* Refuses tables whose UPDATE/DELETE would fail once published: no primary
 * key and no replica identity. */
int wb_pgsrc_check_identity(struct pg_source *s, struct wb_pg_reltarget *t,
			    int n, wb_error_t *err)
{
	for (int i = 0; i < n; i++) {
		if (t[i].has_pk || t[i].replident == 'f' ||
		    t[i].replident == 'i')
			continue;
		char *q = PQescapeIdentifier(s->cat.conn, t[i].schema,
					     strlen(t[i].schema));
		char *r = PQescapeIdentifier(s->cat.conn, t[i].name,
					     strlen(t[i].name));
		wb_error_set(
			err, WB_ERR_CONFIG,
			"table %s.%s has no primary key and no replica "
			"identity, so its updates and deletes cannot be "
			"captured; run ALTER TABLE %s.%s REPLICA IDENTITY FULL "
			"or exclude it",
			t[i].schema, t[i].name, q ? q : "", r ? r : "");
		PQfreemem(q);
		PQfreemem(r);
		return err->code;
	}
	return WB_OK;
}

/* Every captured table must be readable before a slot is created: a
 * snapshot that fails on one table half-way through a first run would
 * leave a slot behind. */
int wb_pgsrc_check_select(struct pg_source *s, const struct wb_pg_reltarget *t,
			  int n, wb_error_t *err)
{
	for (int i = 0; i < n; i++) {
		char oid[16];
		snprintf(oid, sizeof(oid), "%u", t[i].oid);
		const char *params[1] = {oid};
		PGresult *res = wb_pg_query(
			s->cat.conn,
			"SELECT has_table_privilege($1::oid, 'SELECT')", 1,
			params, err);
		if (res == NULL)
			return err->code;
		bool ok = PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (ok)
			continue;
		char *q = PQescapeIdentifier(s->cat.conn, t[i].schema,
					     strlen(t[i].schema));
		char *r = PQescapeIdentifier(s->cat.conn, t[i].name,
					     strlen(t[i].name));
		char *u = PQescapeIdentifier(s->cat.conn, PQuser(s->cat.conn),
					     strlen(PQuser(s->cat.conn)));
		wb_error_set(err, WB_ERR_CONFIG,
			     "user %s may not read captured table %s.%s; run "
			     "GRANT SELECT ON %s.%s TO %s (as the table's "
			     "owner) or exclude the table",
			     PQuser(s->cat.conn), t[i].schema, t[i].name,
			     q ? q : "", r ? r : "", u ? u : "");
		PQfreemem(q);
		PQfreemem(r);
		PQfreemem(u);
		return err->code;
	}
	return WB_OK;
}

static char *table_list_sql(PGconn *conn, struct wb_pg_reltarget *t, int n,
			    const bool *skip)
{
	size_t cap = 64, len = 0;
	char *sql = malloc(cap);
	if (sql == NULL)
		return NULL;
	sql[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (skip && skip[i])
			continue;
		char *a = PQescapeIdentifier(conn, t[i].schema,
					     strlen(t[i].schema));
		char *b =
			PQescapeIdentifier(conn, t[i].name, strlen(t[i].name));
		if (a == NULL || b == NULL) {
			PQfreemem(a);
			PQfreemem(b);
			free(sql);
			return NULL;
		}
		size_t need = strlen(a) + strlen(b) + 4;
		if (len + need + 1 > cap) {
			while (len + need + 1 > cap)
				cap *= 2;
			char *ns = realloc(sql, cap);
			if (ns == NULL) {
				PQfreemem(a);
				PQfreemem(b);
				free(sql);
				return NULL;
			}
			sql = ns;
		}
		len += (size_t)sprintf(sql + len, "%s%s.%s", len ? ", " : "", a,
				       b);
		PQfreemem(a);
		PQfreemem(b);
	}
	return sql;
}

/* Runs sql (a publication statement) as the configured user; a refusal
 * names the statement for the tables' owner to run. */
static int publication_sql(struct pg_source *s, const char *sql,
			   const char *what, wb_error_t *err)
{
	PGresult *res = wb_pg_query(s->cat.conn, sql, 0, NULL, err);
	if (res == NULL) {
		wb_error_prefix(err,
				"cannot %s publication %s (run \"%s\" as the "
				"tables' owner)",
				what, s->publication, sql);
		return err->code;
	}
	PQclear(res);
	wb_info("postgres", "%s publication %s", what, s->publication);
	return WB_OK;
}

/* The publication streams every captured table; partitioned tables as
 * their root (publish_via_partition_root), so a partitioned table is one
 * series whatever partition a row lives in. With `refused` (n flags), a
 * publication that exists but may not be extended is no error: the tables
 * it lacks are flagged there, each with a warning. */
int wb_pgsrc_ensure_publication(struct pg_source *s, struct wb_pg_reltarget *t,
				int n, bool *refused, wb_error_t *err)
{
	const char *params[1] = {s->publication};
	PGresult *res = wb_pg_query(s->cat.conn,
				    "SELECT puballtables, pubviaroot FROM "
				    "pg_publication WHERE pubname = $1",
				    1, params, err);
	if (res == NULL)
		return err->code;
	bool exists = PQntuples(res) == 1;
	bool all = exists && PQgetvalue(res, 0, 0)[0] == 't';
	bool viaroot = exists && PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	bool any_partitioned = false;
	for (int i = 0; i < n; i++)
		any_partitioned |= t[i].partitioned;
	char *pub = PQescapeIdentifier(s->cat.conn, s->publication,
				       strlen(s->publication));
	if (pub == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	int rc = WB_OK;
	if (exists && !viaroot && any_partitioned) {
		char sql[256];
		snprintf(sql, sizeof(sql),
			 "ALTER PUBLICATION %s SET "
			 "(publish_via_partition_root = true)",
			 pub);
		rc = publication_sql(s, sql,
				     "set publish_via_partition_root on", err);
		if (rc && refused && err->code != WB_ERR_NOMEM) {
			/* streamed as their partitions, they would not be
			 * one series each: left out, the others go on */
			for (int i = 0; i < n; i++)
				if (t[i].partitioned) {
					wb_warn("postgres",
						"partitioned table %s.%s is "
						"not captured: %s",
						t[i].schema, t[i].name,
						err->message);
					refused[i] = true;
				}
			wb_error_clear(err);
			rc = WB_OK;
		}
	}
	if (rc || all) {
		PQfreemem(pub);
		return rc;
	}

	bool *present = calloc((size_t)n + 1, sizeof(bool));
	if (present == NULL) {
		PQfreemem(pub);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	int missing = n;
	if (exists) {
		/* listed tables, and tables of listed schemas (FOR TABLES IN
		 * SCHEMA) */
		res = wb_pg_query(
			s->cat.conn,
			"SELECT pr.prrelid FROM pg_publication_rel pr "
			"JOIN pg_publication p ON p.oid = pr.prpubid "
			"WHERE p.pubname = $1 UNION "
			"SELECT c.oid FROM pg_publication_tables pt "
			"JOIN pg_namespace n ON n.nspname = "
			"pt.schemaname JOIN pg_class c ON "
			"c.relnamespace = n.oid AND c.relname = "
			"pt.tablename WHERE pt.pubname = $1",
			1, params, err);
		if (res == NULL) {
			free(present);
			PQfreemem(pub);
			return err->code;
		}
		for (int r = 0; r < PQntuples(res); r++) {
			uint32_t oid = (uint32_t)strtoul(PQgetvalue(res, r, 0),
							 NULL, 10);
			for (int i = 0; i < n; i++)
				if (!present[i] && t[i].oid == oid) {
					present[i] = true;
					missing--;
				}
		}
		PQclear(res);
	}
	if (missing > 0) {
		char *list = table_list_sql(s->cat.conn, t, n, present);
		char *sql = NULL;
		if (list &&
		    asprintf(&sql,
			     exists ? "ALTER PUBLICATION %s ADD TABLE %s"
				    : "CREATE PUBLICATION %s FOR TABLE %s WITH "
				      "(publish_via_partition_root = true)",
			     pub, list) > 0)
			rc = publication_sql(s, sql,
					     exists ? "extend" : "create", err);
		else
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		free(sql);
		free(list);
	}
	if (rc && exists && refused && err->code != WB_ERR_NOMEM) {
		/* The publication exists but we may not add to it: the
		 * tables it has are streamed; each one it lacks is left out
		 * with one warning that names the statement for the owner. */
		for (int i = 0; i < n; i++) {
			if (present[i])
				continue;
			char *one = table_list_sql(s->cat.conn, t + i, 1, NULL);
			wb_warn("postgres",
				"table %s.%s is not captured: publication %s "
				"lacks it and this user may not add it; run "
				"\"ALTER PUBLICATION %s ADD TABLE %s\" as the "
				"table's owner (%s)",
				t[i].schema, t[i].name, s->publication, pub,
				one ? one : "", err->message);
			free(one);
			refused[i] = true;
		}
		wb_error_clear(err);
		rc = WB_OK;
	}
	free(present);
	PQfreemem(pub);
	return rc;
}
