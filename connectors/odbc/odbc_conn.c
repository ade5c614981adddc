/* odbc_conn.c — ODBC connections: connecting with the login timeout and
 * the connection string's ${VAR} expanded (the text is never logged: it
 * holds the password), the driver's facts (identifier quote character,
 * DBMS name), diagnostics as error messages, identifier quoting, the
 * database's own clock, and the watchdog thread that calls SQLCancel on
 * a statement running past the query timeout (for drivers that ignore
 * SQL_ATTR_QUERY_TIMEOUT). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "odbc_int.h"

int wb_odbc_diag(SQLSMALLINT t, SQLHANDLE h, const char *what, wb_error_t *err)
{
	SQLCHAR state[6] = "", msg[512] = "";
	SQLINTEGER native = 0;
	SQLSMALLINT len = 0;
	SQLRETURN rc = h ? SQLGetDiagRec(t, h, 1, state, &native, msg,
					 sizeof(msg), &len)
			 : SQL_ERROR;
	if (!SQL_SUCCEEDED(rc)) {
		strcpy((char *)state, "HY000");
		snprintf((char *)msg, sizeof(msg), "no diagnostics");
	}
	/* drivers end messages with newlines */
	for (size_t n = strlen((char *)msg);
	     n > 0 && isspace((unsigned char)msg[n - 1]); n--)
		msg[n - 1] = '\0';
	const char *s = (const char *)state;
	bool fatal = strncmp(s, "28", 2) == 0 || strncmp(s, "42", 2) == 0 ||
		     strncmp(s, "3D", 2) == 0 || strncmp(s, "3F", 2) == 0 ||
		     strcmp(s, "IM002") == 0 || strcmp(s, "IM003") == 0 ||
		     strcmp(s, "HY090") == 0 || strcmp(s, "07002") == 0;
	bool conn = strncmp(s, "08", 2) == 0 || strncmp(s, "IM", 2) == 0 ||
		    strncmp(s, "28", 2) == 0;
	wb_error_set(err, conn ? WB_ERR_CONNECT : WB_ERR_RUNTIME, "%s: %s %s",
		     what, s, (const char *)msg);
	err->retriable = !fatal;
	return err->code;
}

static void *watchdog(void *arg)
{
	struct wb_odbc_conn *c = arg;
	pthread_setname_np(pthread_self(), "wb-odbc-wd");
	pthread_mutex_lock(&c->wd_mu);
	while (!c->wd_stop) {
		long long now = wb_clock_mono_ms();
		if (c->wd_deadline && now >= c->wd_deadline && c->wd_stmt) {
			/* SQLCancel may be called from another thread on a
			 * statement that is executing (ODBC 3) */
			SQLCancel(c->wd_stmt);
			atomic_store(&c->wd_fired, true);
			c->wd_deadline = 0;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->wd_cv, &c->wd_mu, &ts);
	}
	pthread_mutex_unlock(&c->wd_mu);
	return NULL;
}

void wb_odbc_watch(struct wb_odbc_conn *c, SQLHSTMT st)
{
	pthread_mutex_lock(&c->wd_mu);
	c->wd_stmt = st;
	/* a little after the driver's own timeout, which is preferred */
	c->wd_deadline = wb_clock_mono_ms() + c->query_timeout_ms + 2000;
	pthread_mutex_unlock(&c->wd_mu);
}

void wb_odbc_unwatch(struct wb_odbc_conn *c)
{
	pthread_mutex_lock(&c->wd_mu);
	c->wd_stmt = NULL;
	c->wd_deadline = 0;
	pthread_mutex_unlock(&c->wd_mu);
}

static void info_str(SQLHDBC dbc, SQLUSMALLINT what, char *out, size_t n)
{
	SQLSMALLINT len = 0;
	out[0] = '\0';
	if (!SQL_SUCCEEDED(SQLGetInfo(dbc, what, out, (SQLSMALLINT)n, &len)))
		out[0] = '\0';
	out[n - 1] = '\0';
}

int wb_odbc_connect(struct wb_odbc_conn *c, const struct wb_config *cfg,
		    wb_error_t *err)
{
	const struct wb_odbc_config *oc = &cfg->source.odbc;
	int rc = WB_OK;
	char *text = NULL;
	c->query_timeout_ms = oc->query_timeout_ms;
	if (!c->wd_started) {
		pthread_mutex_init(&c->wd_mu, NULL);
		pthread_cond_init(&c->wd_cv, NULL);
		c->wd_stop = false;
		if (pthread_create(&c->wd, NULL, watchdog, c) != 0)
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "cannot start the query watchdog");
		c->wd_started = true;
	}
	if (c->env == NULL) {
		if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV,
						  SQL_NULL_HANDLE, &c->env)))
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "cannot allocate an ODBC "
					    "environment");
		SQLSetEnvAttr(c->env, SQL_ATTR_ODBC_VERSION,
			      (SQLPOINTER)SQL_OV_ODBC3, 0);
	}
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, c->env, &c->dbc))) {
		c->dbc = NULL;
		return wb_odbc_diag(SQL_HANDLE_ENV, c->env,
				    "cannot allocate an ODBC connection", err);
	}
	SQLULEN login_s = (SQLULEN)((oc->login_timeout_ms + 999) / 1000);
	SQLSetConnectAttr(c->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)login_s,
			  0);
	SQLSetConnectAttr(c->dbc, SQL_ATTR_CONNECTION_TIMEOUT,
			  (SQLPOINTER)login_s, 0);
	text = wb_config_expand(cfg, "source.connection", oc->connection, err);
	if (text == NULL)
		return err->code;
	SQLCHAR outs[16];
	SQLSMALLINT outlen = 0;
	SQLRETURN r =
		SQLDriverConnect(c->dbc, NULL, (SQLCHAR *)text, SQL_NTS, outs,
				 sizeof(outs), &outlen, SQL_DRIVER_NOPROMPT);
	/* the expanded text holds the password: wiped before it is freed */
	memset(text, 0, strlen(text));
	free(text);
	if (!SQL_SUCCEEDED(r)) {
		rc = wb_odbc_diag(SQL_HANDLE_DBC, c->dbc,
				  "cannot connect through ODBC", err);
		err->code = rc = WB_ERR_CONNECT;
		SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
		c->dbc = NULL;
		return rc;
	}
	char q[8];
	info_str(c->dbc, SQL_IDENTIFIER_QUOTE_CHAR, q, sizeof(q));
	snprintf(c->quote, sizeof(c->quote), "%s", strcmp(q, " ") ? q : "");
	info_str(c->dbc, SQL_DBMS_NAME, c->dbms, sizeof(c->dbms));
	info_str(c->dbc, SQL_DBMS_VER, c->dbms_ver, sizeof(c->dbms_ver));
	info_str(c->dbc, SQL_DRIVER_NAME, c->driver, sizeof(c->driver));
	/* polls read committed rows; nothing is written */
	SQLSetConnectAttr(c->dbc, SQL_ATTR_AUTOCOMMIT,
			  (SQLPOINTER)SQL_AUTOCOMMIT_ON, 0);
	/* timestamps with a zone arrive in the session's zone: make it
	 * time_zone where the DBMS lets us, so they read back exactly */
	const char *tz = oc->time_zone;
	char set[160] = "";
	if (strcasecmp(c->dbms, "PostgreSQL") == 0 &&
	    strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		       "0123456789/_+-:") == strlen(tz))
		snprintf(set, sizeof(set), "SET TIME ZONE '%s'", tz);
	else if ((strcasecmp(c->dbms, "MySQL") == 0 ||
		  strcasecmp(c->dbms, "MariaDB") == 0) &&
		 strcmp(tz, "UTC") == 0)
		snprintf(set, sizeof(set), "SET time_zone = '+00:00'");
	if (set[0]) {
		SQLHSTMT st;
		if (SQL_SUCCEEDED(
			    SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &st))) {
			if (!SQL_SUCCEEDED(
				    SQLExecDirect(st, (SQLCHAR *)set, SQL_NTS)))
				wb_warn("odbc",
					"cannot set the session time "
					"zone to %s",
					tz);
			SQLFreeHandle(SQL_HANDLE_STMT, st);
		}
	}
	return WB_OK;
}

void wb_odbc_disconnect(struct wb_odbc_conn *c)
{
	if (c->dbc) {
		SQLDisconnect(c->dbc);
		SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
		c->dbc = NULL;
	}
	if (c->wd_started) {
		pthread_mutex_lock(&c->wd_mu);
		c->wd_stop = true;
		pthread_cond_signal(&c->wd_cv);
		pthread_mutex_unlock(&c->wd_mu);
		pthread_join(c->wd, NULL);
		c->wd_started = false;
		pthread_mutex_destroy(&c->wd_mu);
		pthread_cond_destroy(&c->wd_cv);
	}
	if (c->env) {
		SQLFreeHandle(SQL_HANDLE_ENV, c->env);
		c->env = NULL;
	}
}

char *wb_odbc_quote(const struct wb_odbc_conn *c, const char *ident,
		    wb_error_t *err)
{
	size_t n = strlen(ident);
	if (c->quote[0] == '\0') {
		bool plain = n > 0 && (isalpha((unsigned char)ident[0]) ||
				       ident[0] == '_');
		for (size_t i = 0; plain && i < n; i++)
			plain = isalnum((unsigned char)ident[i]) ||
				ident[i] == '_';
		if (!plain) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "the identifier \"%s\" needs quoting, and "
				     "the ODBC driver has no identifier quote "
				     "character",
				     ident);
			return NULL;
		}
		char *d = strdup(ident);
		if (d == NULL)
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return d;
	}
	size_t ql = strlen(c->quote);
	char *d = malloc(2 * n * ql + 2 * ql + 1);
	if (d == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	size_t o = 0;
	memcpy(d + o, c->quote, ql);
	o += ql;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(ident + i, c->quote, ql) == 0) {
			memcpy(d + o, c->quote, ql);
			o += ql;
		}
		d[o++] = ident[i];
	}
	memcpy(d + o, c->quote, ql);
	o += ql;
	d[o] = '\0';
	return d;
}

/* The query that reads the database's wall clock, by SQL_DBMS_NAME: the
 * clock is the database's, not ours, so a skewed waybill host does not
 * move the horizon. */
static const char *clock_sql(const char *dbms)
{
	if (strcasecmp(dbms, "SQLite") == 0)
		return "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')";
	if (strcasecmp(dbms, "PostgreSQL") == 0)
		return "SELECT CAST(LOCALTIMESTAMP AS TIMESTAMP)";
	if (strcasecmp(dbms, "MySQL") == 0 || strcasecmp(dbms, "MariaDB") == 0)
		return "SELECT NOW(6)";
	if (strncasecmp(dbms, "Microsoft SQL Server", 20) == 0)
		return "SELECT SYSDATETIME()";
	if (strncasecmp(dbms, "DB2", 3) == 0)
		return "SELECT CURRENT TIMESTAMP FROM SYSIBM.SYSDUMMY1";
	if (strncasecmp(dbms, "Oracle", 6) == 0)
		return "SELECT LOCALTIMESTAMP FROM DUAL";
	if (strncasecmp(dbms, "Informix", 8) == 0)
		return "SELECT CURRENT YEAR TO FRACTION(5) FROM "
		       "sysmaster:sysdual";
	return "SELECT CURRENT_TIMESTAMP";
}

int wb_odbc_scalar(struct wb_odbc_conn *c, const char *sql, const char *what,
		   char *text, size_t cap, bool *null, wb_error_t *err)
{
	SQLHSTMT st = NULL;
	int rc = WB_OK;
	text[0] = '\0';
	*null = false;
	if (c->dbc == NULL)
		return wb_error_set(err, WB_ERR_CONNECT, "not connected");
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &st)))
		return wb_odbc_diag(SQL_HANDLE_DBC, c->dbc, what, err);
	SQLLEN ind = 0;
	wb_odbc_watch(c, st);
	SQLRETURN r = SQLExecDirect(st, (SQLCHAR *)sql, SQL_NTS);
	if (SQL_SUCCEEDED(r))
		r = SQLFetch(st);
	if (r == SQL_NO_DATA) {
		wb_odbc_unwatch(c);
		SQLFreeHandle(SQL_HANDLE_STMT, st);
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "%s: the query returned no row", what);
	}
	if (SQL_SUCCEEDED(r))
		r = SQLGetData(st, 1, SQL_C_CHAR, text, (SQLLEN)cap, &ind);
	wb_odbc_unwatch(c);
	if (!SQL_SUCCEEDED(r))
		rc = wb_odbc_diag(SQL_HANDLE_STMT, st, what, err);
	else if (ind == SQL_NULL_DATA)
		*null = true;
	else if (ind >= (SQLLEN)cap || ind == SQL_NO_TOTAL)
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "%s: the value is longer than %zu bytes",
				  what, cap - 1);
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	return rc;
}

int wb_odbc_db_now(struct wb_odbc_conn *c, int64_t *us, wb_error_t *err)
{
	char text[64];
	bool null;
	int rc = wb_odbc_scalar(c, clock_sql(c->dbms),
				"reading the database clock", text,
				sizeof(text), &null, err);
	if (rc == WB_OK && (null || !wb_odbc_parse_ts(text, strlen(text), us)))
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "reading the database clock: unexpected "
				  "value \"%.40s\"",
				  null ? "NULL" : text);
	return rc;
}
