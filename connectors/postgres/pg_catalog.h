/* pg_catalog.h — what waybill asks the PostgreSQL catalog, over a normal
 * connection. */
#ifndef WB_PG_CATALOG_H
#define WB_PG_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "config.h"
#include "error.h"
#include "pg_connect.h"
#include "pg_types.h"
#include "table.h"

/* A column as the Relation message or the catalog describes it. */
struct wb_pg_coldesc {
	const char *name;
	uint32_t type_oid;
	int32_t typmod;
	bool key_flag; /* Relation message: part of the replica identity */
};

/* A table the configuration captures. */
struct wb_pg_reltarget {
	uint32_t oid;
	char *schema;
	char *name;
	bool has_pk;
	bool partitioned; /* a partitioned table: captured as its root */
	char replident;	  /* 'd', 'n', 'f', 'i' */
};

struct wb_pg_catalog {
	PGconn *conn;
	const struct wb_config *cfg;
	struct wb_pg_typeinfo *types; /* cache of non-builtin types */
	int ntypes, captypes;
};

int wb_pg_catalog_open(struct wb_pg_catalog *c, const struct wb_config *cfg,
		       wb_error_t *err);
void wb_pg_catalog_close(struct wb_pg_catalog *c);

/* True when "schema.table" is captured by tables/exclude. */
bool wb_pg_table_selected(const struct wb_config *cfg, const char *schema,
			  const char *table);

/* The tables the configuration selects. An include entry without glob
 * characters that names no table, or a selection of no table at all, is
 * WB_ERR_CONFIG. Caller frees with wb_pg_reltargets_free. */
int wb_pg_resolve_tables(struct wb_pg_catalog *c, struct wb_pg_reltarget **out,
			 int *n, wb_error_t *err);
/* The tables the configuration selects now, without the checks above (no
 * error when a named table is gone or nothing is selected): for finding
 * tables that appear and disappear while running. */
int wb_pg_list_tables(struct wb_pg_catalog *c, struct wb_pg_reltarget **out,
		      int *n, wb_error_t *err);
void wb_pg_reltargets_free(struct wb_pg_reltarget *t, int n);

/* Builds a table version for relation oid from column descriptions. Looks
 * up nullability, primary key and non-builtin types in the catalog. */
struct wb_table *wb_pg_build_table(struct wb_pg_catalog *c, uint32_t oid,
				   const char *schema, const char *name,
				   char replident,
				   const struct wb_pg_coldesc *cols, int ncols,
				   wb_error_t *err);

/* Builds the current shape of a table from the catalog alone. */
struct wb_table *wb_pg_describe_table(struct wb_pg_catalog *c,
				      const struct wb_pg_reltarget *t,
				      wb_error_t *err);

/* Runs a query with bound text parameters; returns the result (caller
 * PQclear's it) or NULL with err filled. */
PGresult *wb_pg_query(PGconn *conn, const char *sql, int nparams,
		      const char *const *params, wb_error_t *err);

/* The first line of libpq's last error, without a trailing newline. */
const char *wb_pg_error_line(PGconn *conn, char *buf, size_t n);

/* LSN text "X/Y" <-> integer. */
void wb_pg_format_lsn(uint64_t lsn, char *buf, size_t n);
int wb_pg_parse_lsn(const char *text, uint64_t *lsn);

#endif
