/* pg_connect.c — opening a libpq connection to the source database. */
#include "pg_connect.h"

#include <stdio.h>

#include "pg_catalog.h"

PGconn *wb_pg_connect(const struct wb_config *cfg, const char *replication,
		      wb_error_t *err)
{
	char appname[80];
	snprintf(appname, sizeof(appname), "waybill_%s", cfg->name);
	const char *keys[5] = {"dbname", "application_name", "options", NULL,
			       NULL};
	const char *vals[5] = {cfg->source.dsn ? cfg->source.dsn : "", appname,
			       WB_PG_SESSION_OPTIONS, NULL, NULL};
	if (replication) {
		keys[3] = "replication";
		vals[3] = replication;
	}
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		char line[400];
		wb_pg_error_line(conn, line, sizeof(line));
		wb_error_set(
			err, WB_ERR_CONNECT,
			"cannot connect to PostgreSQL (source.dsn in %s): %s",
			cfg->path, line);
		err->retriable = true;
		PQfinish(conn);
		return NULL;
	}
	return conn;
}
