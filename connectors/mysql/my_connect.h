/* my_connect.h — opening a MariaDB Connector/C connection to a MySQL or
 * MariaDB server with the source's options, and running statements on it. */
#ifndef WB_MY_CONNECT_H
#define WB_MY_CONNECT_H

#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

#include "config.h"
#include "error.h"

/* Connects with source.host/port/socket/user/password and the TLS options
 * (ssl_mode disable | preferred | required | verify_ca | verify_identity,
 * ssl_ca, ssl_cert, ssl_key); connect_timeout; read_timeout_s > 0 sets the
 * read timeout. The session gets time_zone '+00:00' and utf8mb4. The
 * error names the server's problem, never the password; it is retriable
 * unless the server refused us (authentication, unknown database). */
MYSQL *wb_my_connect(const struct wb_config *cfg, int read_timeout_s,
		     wb_error_t *err);

/* Runs sql (no result expected). The error says what failed and the
 * server's message; retriable when the connection was lost. */
int wb_my_exec(MYSQL *c, const char *sql, wb_error_t *err);

/* Runs sql and returns its whole result (NULL with err on failure). */
MYSQL_RES *wb_my_query(MYSQL *c, const char *sql, wb_error_t *err);

/* The first column of the first row of sql as a malloc'd string; NULL
 * when there is no row or the value is NULL (*err untouched: check
 * err->code) or on failure (err filled). */
char *wb_my_scalar(MYSQL *c, const char *sql, wb_error_t *err);

/* Runs the prepared statement sql with its ? parameters bound to the
 * strings params[0..nparams) and calls row() for each result row with
 * its values as NUL-terminated text (NULL for SQL NULL) and their
 * lengths. row() returning non-zero stops and is returned. Values longer
 * than 64 KiB are cut. For catalog queries: names are values, never
 * pasted into SQL. */
int wb_my_select(MYSQL *c, const char *sql, const char *const *params,
		 int nparams,
		 int (*row)(void *ctx, char **vals, unsigned long *lens, int n),
		 void *ctx, wb_error_t *err);

/* Fills err from c's last error, prefixed by what; sets retriable for
 * errors of a lost or refused connection. Returns err->code. */
int wb_my_error(MYSQL *c, const char *what, wb_error_t *err);

/* Appends `name` quoted as an identifier (backticks doubled) to buf of
 * cap bytes at *len; false when it does not fit. */
bool wb_my_quote_ident(char *buf, size_t cap, size_t *len, const char *name);

#endif
