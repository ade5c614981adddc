/* pg_connect.h — opening a libpq connection to the source database. */
#ifndef WB_PG_CONNECT_H
#define WB_PG_CONNECT_H

#include <libpq-fe.h>

#include "config.h"
#include "error.h"

/* Session settings that make text output exact and parseable. */
#define WB_PG_SESSION_OPTIONS                                                  \
	"-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 "            \
	"-c bytea_output=hex -c intervalstyle=iso_8601"

/* Connects with cfg->source.dsn; replication = "database" or NULL. The
 * error names the server problem (libpq's first line), never the DSN. */
PGconn *wb_pg_connect(const struct wb_config *cfg, const char *replication,
		      wb_error_t *err);

#endif
