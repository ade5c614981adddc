/* pg_catalog.c — catalog queries: tables, keys, nullability, types. */
#include "pg_catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wb_pg_error_line(PGconn *conn, char *buf, size_t n)
{
	const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
	/* libpq prefixes several lines; keep the most telling one */
	const char *fatal = strstr(msg, "FATAL:");
	if (fatal)
		for (msg = fatal + 6; *msg == ' ';)
			msg++;
	else if (strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	snprintf(buf, n, "%s", msg);
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	return buf;
}

PGresult *wb_pg_query(PGconn *conn, const char *sql, int nparams,
		      const char *const *params, wb_error_t *err)
{
	PGresult *res =
		PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	char line[400];
	const char *msg = res ? PQresultErrorMessage(res) : "";
	if (msg[0] == '\0')
		msg = wb_pg_error_line(conn, line, sizeof(line));
	else if (strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	snprintf(line, sizeof(line), "%s", msg);
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	wb_error_set(err, WB_ERR_RUNTIME, "PostgreSQL: %s", line);
	PQclear(res);
	return NULL;
}

void wb_pg_format_lsn(uint64_t lsn, char *buf, size_t n)
{
	snprintf(buf, n, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

int wb_pg_parse_lsn(const char *text, uint64_t *lsn)
{
	unsigned hi, lo;
	int used = 0;
	if (text == NULL || sscanf(text, "%X/%X%n", &hi, &lo, &used) != 2 ||
	    text[used] != '\0')
		return -1;
	*lsn = ((uint64_t)hi << 32) | lo;
	return 0;
}

int wb_pg_catalog_open(struct wb_pg_catalog *c, const struct wb_config *cfg,
		       wb_error_t *err)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->conn = wb_pg_connect(cfg, NULL, err);
	return c->conn ? WB_OK : err->code;
}

void wb_pg_catalog_close(struct wb_pg_catalog *c)
{
	PQfinish(c->conn);
	free(c->types);
	memset(c, 0, sizeof(*c));
}

bool wb_pg_table_selected(const struct wb_config *cfg, const char *schema,
			  const char *table)
{
	char full[512];
	snprintf(full, sizeof(full), "%s.%s", schema, table);
	return wb_config_table_selected(cfg, full);
}

void wb_pg_reltargets_free(struct wb_pg_reltarget *t, int n)
{
	for (int i = 0; t && i < n; i++) {
		free(t[i].schema);
		free(t[i].name);
	}
	free(t);
}

static int resolve(struct wb_pg_catalog *c, struct wb_pg_reltarget **out,
		   int *n, bool strict, wb_error_t *err);

int wb_pg_resolve_tables(struct wb_pg_catalog *c, struct wb_pg_reltarget **out,
			 int *n, wb_error_t *err)
{
	return resolve(c, out, n, true, err);
}

int wb_pg_list_tables(struct wb_pg_catalog *c, struct wb_pg_reltarget **out,
		      int *n, wb_error_t *err)
{
	return resolve(c, out, n, false, err);
}

static int resolve(struct wb_pg_catalog *c, struct wb_pg_reltarget **out,
		   int *n, bool strict, wb_error_t *err)
{
	const struct wb_config *cfg = c->cfg;
	*out = NULL;
	*n = 0;
	PGresult *res = wb_pg_query(
		c->conn,
		"SELECT c.oid, n.nspname, c.relname, c.relreplident, "
		"EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid "
		"AND i.indisprimary), c.relkind = 'p' "
		"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
		"AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
		"AND n.nspname NOT LIKE 'pg\\_toast%' "
		"ORDER BY n.nspname, c.relname",
		0, NULL, err);
	if (res == NULL)
		return err->code;
	int rows = PQntuples(res);
	struct wb_pg_reltarget *t =
		calloc(rows > 0 ? (size_t)rows : 1, sizeof(*t));
	if (t == NULL) {
		PQclear(res);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	int k = 0;
	for (int r = 0; r < rows; r++) {
		const char *schema = PQgetvalue(res, r, 1);
		const char *name = PQgetvalue(res, r, 2);
		if (!wb_pg_table_selected(cfg, schema, name))
			continue;
		t[k].oid = (uint32_t)strtoul(PQgetvalue(res, r, 0), NULL, 10);
		t[k].schema = strdup(schema);
		t[k].name = strdup(name);
		t[k].replident = PQgetvalue(res, r, 3)[0];
		t[k].has_pk = PQgetvalue(res, r, 4)[0] == 't';
		t[k].partitioned = PQgetvalue(res, r, 5)[0] == 't';
		k++;
	}
	/* every plain (non-glob) include entry must name an existing table */
	for (int i = 0; strict && i < cfg->source.ntables; i++) {
		const char *want = cfg->source.tables[i];
		if (wb_config_is_glob(want))
			continue;
		bool found = false;
		for (int r = 0; r < rows && !found; r++) {
			char full[512];
			snprintf(full, sizeof(full), "%s.%s",
				 PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
			found = strcmp(full, want) == 0;
		}
		if (!found) {
			PQclear(res);
			wb_pg_reltargets_free(t, k);
			return wb_error_set(err, WB_ERR_CONFIG,
					    "%s: source.tables: table %s does "
					    "not exist or is "
					    "not visible to this user; fix the "
					    "name (schema.table) "
					    "or remove it",
					    cfg->path, want);
		}
	}
	PQclear(res);
	if (k == 0 && strict) {
		wb_pg_reltargets_free(t, k);
		return wb_error_set(
			err, WB_ERR_CONFIG,
			"%s: source.tables selects no table; check the "
			"globs (schema.table) and exclude",
			cfg->path);
	}
	*out = t;
	*n = k;
	return WB_OK;
}

static const struct wb_pg_typeinfo *typeinfo(struct wb_pg_catalog *c,
					     uint32_t oid, wb_error_t *err)
{
	for (int i = 0; i < c->ntypes; i++)
		if (c->types[i].oid == oid)
			return &c->types[i];
	char oidtext[16];
	snprintf(oidtext, sizeof(oidtext), "%u", oid);
	const char *params[1] = {oidtext};
	PGresult *res =
		wb_pg_query(c->conn,
			    "SELECT typtype, typcategory, typelem, typbasetype "
			    "FROM pg_type WHERE oid = $1::oid",
			    1, params, err);
	if (res == NULL)
		return NULL;
	if (c->ntypes == c->captypes) {
		int cap = c->captypes ? c->captypes * 2 : 16;
		struct wb_pg_typeinfo *nt =
			realloc(c->types, (size_t)cap * sizeof(*nt));
		if (nt == NULL) {
			PQclear(res);
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			return NULL;
		}
		c->types = nt;
		c->captypes = cap;
	}
	struct wb_pg_typeinfo *ti = &c->types[c->ntypes++];
	memset(ti, 0, sizeof(*ti));
	ti->oid = oid;
	if (PQntuples(res) == 1) {
		ti->typtype = PQgetvalue(res, 0, 0)[0];
		ti->typcategory = PQgetvalue(res, 0, 1)[0];
		ti->typelem =
			(uint32_t)strtoul(PQgetvalue(res, 0, 2), NULL, 10);
		ti->basetype =
			(uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
	}
	PQclear(res);
	return ti;
}

/* A domain's base type and its typmod (numeric(10,2) of a domain over
 * numeric(10,2)), through domains over domains. */
static int resolve_domain(struct wb_pg_catalog *c, uint32_t *oid,
			  int32_t *typmod, wb_error_t *err)
{
	for (int depth = 0; depth < 32; depth++) {
		if (wb_pg_type_is_builtin(*oid))
			return WB_OK;
		char oidtext[16];
		snprintf(oidtext, sizeof(oidtext), "%u", *oid);
		const char *params[1] = {oidtext};
		PGresult *res =
			wb_pg_query(c->conn,
				    "SELECT typtype, typbasetype, typtypmod "
				    "FROM pg_type WHERE oid = $1::oid",
				    1, params, err);
		if (res == NULL)
			return err->code;
		bool domain =
			PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'd';
		if (domain) {
			*oid = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL,
						 10);
			int32_t m = (int32_t)strtol(PQgetvalue(res, 0, 2), NULL,
						    10);
			if (*typmod < 0)
				*typmod = m;
		}
		PQclear(res);
		if (!domain)
			return WB_OK;
	}
	return WB_OK;
}

static int map_column(struct wb_pg_catalog *c, uint32_t oid, int32_t typmod,
		      struct wb_type *out, wb_error_t *err)
{
	const struct wb_pg_typeinfo *info = NULL, *elem = NULL;
	uint32_t col_oid = oid;
	int rc = resolve_domain(c, &oid, &typmod, err);
	if (rc)
		return rc;
	if (!wb_pg_type_is_builtin(oid)) {
		info = typeinfo(c, oid, err);
		if (info == NULL)
			return err->code;
		/* copy: the cache may move when the element is looked up */
		struct wb_pg_typeinfo self = *info;
		uint32_t elem_oid = self.typelem ? self.typelem : self.basetype;
		if (elem_oid && !wb_pg_type_is_builtin(elem_oid)) {
			elem = typeinfo(c, elem_oid, err);
			if (elem == NULL)
				return err->code;
		}
		struct wb_pg_typeinfo elem_copy;
		if (elem)
			elem_copy = *elem;
		wb_pg_map_type(oid, typmod, &self, elem ? &elem_copy : NULL,
			       c->cfg->source.decimal_handling, out);
	} else {
		wb_pg_map_type(oid, typmod, NULL, NULL,
			       c->cfg->source.decimal_handling, out);
	}
	out->src_type = col_oid;
	return WB_OK;
}

struct wb_table *wb_pg_build_table(struct wb_pg_catalog *c, uint32_t oid,
				   const char *schema, const char *name,
				   char replident,
				   const struct wb_pg_coldesc *cols, int ncols,
				   wb_error_t *err)
{
	char oidtext[16];
	snprintf(oidtext, sizeof(oidtext), "%u", oid);
	const char *params[1] = {oidtext};
	PGresult *res =
		wb_pg_query(c->conn,
			    "SELECT a.attname, a.attnotnull, "
			    "COALESCE(a.attnum = ANY(i.indkey), false), "
			    "a.attndims "
			    "FROM pg_attribute a LEFT JOIN pg_index i "
			    "ON i.indrelid = a.attrelid AND i.indisprimary "
			    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND "
			    "NOT a.attisdropped",
			    1, params, err);
	if (res == NULL)
		return NULL;
	int rows = PQntuples(res);

	struct wb_table *t = wb_table_new(PQdb(c->conn), schema, name, ncols);
	if (t == NULL) {
		PQclear(res);
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	t->src_id = oid;
	for (int i = 0; i < ncols; i++) {
		bool notnull = false, pk = false;
		int ndims = 0; /* declared array dimensions (int[][]: 2) */
		for (int r = 0; r < rows; r++) {
			if (strcmp(PQgetvalue(res, r, 0), cols[i].name) == 0) {
				notnull = PQgetvalue(res, r, 1)[0] == 't';
				pk = PQgetvalue(res, r, 2)[0] == 't';
				ndims = atoi(PQgetvalue(res, r, 3));
				break;
			}
		}
		/* The key is the replica identity as the Relation message
		 * describes it, i.e. as it was when the change was written
		 * (the primary key, or the identity index): today's catalog
		 * may have another key, and old key images carry only the
		 * old key's columns. A FULL identity flags every column; its
		 * key is the primary key, if there is one. Nullability comes
		 * from today's catalog; the source widens a column to
		 * nullable when an older change carries a NULL in it. */
		bool key = replident == 'f' ? pk : cols[i].key_flag;
		struct wb_type type;
		int rc = map_column(c, cols[i].type_oid, cols[i].typmod, &type,
				    err);
		if (rc == 0)
			wb_pg_type_set_dims(&type, ndims);
		if (rc != 0 || wb_table_set_column(t, i, cols[i].name, &type,
						   !notnull, key) != 0) {
			if (err->code == 0)
				wb_error_set(err, WB_ERR_NOMEM,
					     "out of memory");
			PQclear(res);
			wb_table_unref(t);
			return NULL;
		}
	}
	PQclear(res);
	return t;
}

struct wb_table *wb_pg_describe_table(struct wb_pg_catalog *c,
				      const struct wb_pg_reltarget *target,
				      wb_error_t *err)
{
	char oidtext[16];
	snprintf(oidtext, sizeof(oidtext), "%u", target->oid);
	const char *params[1] = {oidtext};
	PGresult *res =
		wb_pg_query(c->conn,
			    /* key_flag as a Relation message sets it: the
			     * columns of the replica identity (the primary
			     * key by default, every column for FULL) */
			    "SELECT a.attname, a.atttypid, a.atttypmod, "
			    "CASE c.relreplident WHEN 'f' THEN true "
			    "WHEN 'n' THEN false ELSE COALESCE(("
			    "SELECT a.attnum = ANY(i.indkey) FROM pg_index i "
			    "WHERE i.indrelid = a.attrelid AND "
			    "CASE c.relreplident WHEN 'd' THEN i.indisprimary "
			    "ELSE i.indisreplident END), false) END "
			    "FROM pg_attribute a JOIN pg_class c ON "
			    "c.oid = a.attrelid "
			    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND "
			    "NOT a.attisdropped "
			    "ORDER BY a.attnum",
			    1, params, err);
	if (res == NULL)
		return NULL;
	int rows = PQntuples(res);
	struct wb_pg_coldesc *cols =
		calloc(rows > 0 ? (size_t)rows : 1, sizeof(*cols));
	struct wb_table *t = NULL;
	if (cols == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int r = 0; r < rows; r++) {
		cols[r].name = PQgetvalue(res, r, 0);
		cols[r].type_oid =
			(uint32_t)strtoul(PQgetvalue(res, r, 1), NULL, 10);
		cols[r].typmod =
			(int32_t)strtol(PQgetvalue(res, r, 2), NULL, 10);
		cols[r].key_flag = PQgetvalue(res, r, 3)[0] == 't';
	}
	t = wb_pg_build_table(c, target->oid, target->schema, target->name,
			      target->replident, cols, rows, err);
done:
	free(cols);
	PQclear(res);
	return t;
}
