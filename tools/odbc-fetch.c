/* odbc-fetch.c — runs one query through an ODBC connection string and
 * fetches every row with a plain column-wise array-bound SQLFetch loop: the
 * "database's own client" that tools/bench odbc compares waybill's ODBC
 * source with.
 *
 *   odbc-fetch [--array N] [--width W] CONNECTION QUERY
 *
 * Every column is bound as text (SQL_C_CHAR), column-wise, in arrays of N
 * rows (SQL_ATTR_ROW_ARRAY_SIZE, default 1000); the number of rows each
 * fetch returned is taken from SQL_ATTR_ROWS_FETCHED_PTR (some drivers
 * return fewer rows than asked for). A column's buffer holds its described
 * size plus room for a sign, a point and the terminator, at most W bytes
 * (default 4096); longer values are counted as truncated, not re-read.
 * Prints one line:
 *   rows=<n> seconds=<s> fetches=<calls> bytes=<sum of value lengths>
 *   truncated=<values> array=<rows per fetch the driver accepted>
 * seconds run from SQLExecDirect to the end of the last fetch (connecting is
 * not timed). Exit 0, or 1 with the driver's diagnostics on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sql.h>
#include <sqlext.h>

static void diag(const char *what, SQLSMALLINT type, SQLHANDLE h)
{
	SQLCHAR state[6], msg[1024];
	SQLINTEGER native;
	SQLSMALLINT len;
	fprintf(stderr, "odbc-fetch: %s failed\n", what);
	for (SQLSMALLINT i = 1; SQLGetDiagRec(type, h, i, state, &native, msg,
					      sizeof msg, &len) == SQL_SUCCESS;
	     i++)
		fprintf(stderr, "  %s (%d): %s\n", state, (int)native, msg);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: odbc-fetch [--array N] [--width W] CONNECTION "
			"QUERY\n");
	return 2;
}

int main(int argc, char **argv)
{
	long array = 1000, width_max = 4096;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			return usage();
		char *end;
		long v = strtol(argv[i + 1], &end, 10);
		if (*end != '\0' || v < 1 || v > 1000000)
			return usage();
		if (strcmp(argv[i], "--array") == 0)
			array = v;
		else if (strcmp(argv[i], "--width") == 0 && v >= 2)
			width_max = v;
		else
			return usage();
	}
	if (argc - i != 2)
		return usage();
	const char *conn = argv[i], *query = argv[i + 1];

	int rc = 1;
	SQLHENV env = SQL_NULL_HENV;
	SQLHDBC dbc = SQL_NULL_HDBC;
	SQLHSTMT st = SQL_NULL_HSTMT;
	SQLSMALLINT ncols = 0;
	char **bufs = NULL;
	SQLLEN **inds = NULL;
	SQLLEN *widths = NULL;
	int connected = 0;

	if (!SQL_SUCCEEDED(
		    SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env))) {
		fprintf(stderr, "odbc-fetch: cannot allocate an environment\n");
		return 1;
	}
	SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, env, &dbc))) {
		diag("SQLAllocHandle(DBC)", SQL_HANDLE_ENV, env);
		goto out;
	}
	if (!SQL_SUCCEEDED(SQLDriverConnect(dbc, NULL, (SQLCHAR *)conn, SQL_NTS,
					    NULL, 0, NULL,
					    SQL_DRIVER_NOPROMPT))) {
		diag("SQLDriverConnect", SQL_HANDLE_DBC, dbc);
		goto out;
	}
	connected = 1;
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, dbc, &st))) {
		diag("SQLAllocHandle(STMT)", SQL_HANDLE_DBC, dbc);
		goto out;
	}
	SQLULEN fetched = 0;
	SQLSetStmtAttr(st, SQL_ATTR_ROW_BIND_TYPE,
		       (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
	if (!SQL_SUCCEEDED(SQLSetStmtAttr(st, SQL_ATTR_ROW_ARRAY_SIZE,
					  (SQLPOINTER)(uintptr_t)array, 0))) {
		diag("SQLSetStmtAttr(ROW_ARRAY_SIZE)", SQL_HANDLE_STMT, st);
		goto out;
	}
	/* A driver may lower the array size (SQL_SUCCESS_WITH_INFO, 01S02). */
	SQLULEN accepted = 0;
	SQLGetStmtAttr(st, SQL_ATTR_ROW_ARRAY_SIZE, &accepted, 0, NULL);
	if (accepted < 1)
		accepted = 1;
	SQLSetStmtAttr(st, SQL_ATTR_ROWS_FETCHED_PTR, &fetched, 0);

	double t0 = now();
	SQLRETURN r = SQLExecDirect(st, (SQLCHAR *)query, SQL_NTS);
	if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA) {
		diag("SQLExecDirect", SQL_HANDLE_STMT, st);
		goto out;
	}
	if (!SQL_SUCCEEDED(SQLNumResultCols(st, &ncols)) || ncols < 1) {
		fprintf(stderr, "odbc-fetch: the query returns no columns\n");
		goto out;
	}
	bufs = calloc((size_t)ncols, sizeof *bufs);
	inds = calloc((size_t)ncols, sizeof *inds);
	widths = calloc((size_t)ncols, sizeof *widths);
	if (bufs == NULL || inds == NULL || widths == NULL) {
		fprintf(stderr, "odbc-fetch: out of memory\n");
		goto out;
	}
	for (SQLSMALLINT c = 0; c < ncols; c++) {
		SQLCHAR name[256];
		SQLSMALLINT nlen, type, digits, nullable;
		SQLULEN size = 0;
		if (!SQL_SUCCEEDED(SQLDescribeCol(
			    st, (SQLUSMALLINT)(c + 1), name, sizeof name, &nlen,
			    &type, &size, &digits, &nullable))) {
			diag("SQLDescribeCol", SQL_HANDLE_STMT, st);
			goto out;
		}
		/* size + sign + point + terminator; never below 40 (a
		 * timestamp with fractions and zone), at most width_max. */
		SQLULEN w = size + 3;
		if (w < 40)
			w = 40;
		if (w > (SQLULEN)width_max)
			w = (SQLULEN)width_max;
		widths[c] = (SQLLEN)w;
		bufs[c] = malloc((size_t)w * accepted);
		inds[c] = malloc(sizeof(SQLLEN) * accepted);
		if (bufs[c] == NULL || inds[c] == NULL) {
			fprintf(stderr, "odbc-fetch: out of memory\n");
			goto out;
		}
		if (!SQL_SUCCEEDED(SQLBindCol(st, (SQLUSMALLINT)(c + 1),
					      SQL_C_CHAR, bufs[c], widths[c],
					      inds[c]))) {
			diag("SQLBindCol", SQL_HANDLE_STMT, st);
			goto out;
		}
	}

	unsigned long long rows = 0, fetches = 0, bytes = 0, truncated = 0;
	for (;;) {
		r = SQLFetch(st);
		if (r == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(r)) {
			diag("SQLFetch", SQL_HANDLE_STMT, st);
			goto out;
		}
		fetches++;
		for (SQLULEN k = 0; k < fetched; k++)
			for (SQLSMALLINT c = 0; c < ncols; c++) {
				SQLLEN ind = inds[c][k];
				if (ind == SQL_NULL_DATA)
					continue;
				if (ind == SQL_NO_TOTAL || ind >= widths[c]) {
					truncated++;
					bytes += (unsigned long long)widths[c] -
						 1;
				} else {
					bytes += (unsigned long long)ind;
				}
			}
		rows += fetched;
	}
	double secs = now() - t0;
	printf("rows=%llu seconds=%.3f fetches=%llu bytes=%llu truncated=%llu "
	       "array=%lu\n",
	       rows, secs, fetches, bytes, truncated, (unsigned long)accepted);
	rc = 0;
out:
	if (st != SQL_NULL_HSTMT)
		SQLFreeHandle(SQL_HANDLE_STMT, st);
	if (connected)
		SQLDisconnect(dbc);
	if (dbc != SQL_NULL_HDBC)
		SQLFreeHandle(SQL_HANDLE_DBC, dbc);
	if (env != SQL_NULL_HENV)
		SQLFreeHandle(SQL_HANDLE_ENV, env);
	for (SQLSMALLINT c = 0; c < ncols && bufs != NULL; c++) {
		free(bufs[c]);
		free(inds[c]);
	}
	free(bufs);
	free(inds);
	free(widths);
	return rc;
}
