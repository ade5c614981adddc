/* odbc_fetch.c — ODBC result sets to values: each column described with
 * SQLDescribeColW/SQLColAttribute and mapped to an Avro type, the rows
 * fetched column-wise in arrays (SQL_ATTR_ROW_ARRAY_SIZE, the count from
 * SQL_ATTR_ROWS_FETCHED_PTR, since some drivers return fewer rows than
 * asked), or one row at a time with SQLGetData when a column has no
 * small fixed bound (long text, blobs); cells converted exactly: exact
 * numerics fetched as text and parsed into Avro decimals (SQL_C_NUMERIC
 * truncates with several drivers), character data fetched as SQLWCHAR
 * (UTF-16 in unixODBC) and converted to UTF-8, timestamps without a zone
 * read in the configured time zone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "odbc_int.h"
#include "valconv.h"
#include "xtz.h"

#define LONG_TEXT 4000 /* characters: longer columns are read whole */
#define LONG_BIN 8000  /* bytes */
#define MAX_ROWSET_BYTES (4 << 20) /* bound of one rowset's buffers */

void wb_odbc_col_map(struct wb_odbc_col *c)
{
	struct wb_type *t = &c->type;
	memset(t, 0, sizeof(*t));
	t->src_type = (uint32_t)(int32_t)c->sqltype;
	c->unknown = false;
	c->long_data = false;
	switch (c->sqltype) {
	case SQL_BIT:
		c->fetch = WB_ODBC_F_BIT;
		t->s.kind = WB_T_BOOLEAN;
		c->elem = 1;
		break;
	case SQL_TINYINT:
	case SQL_SMALLINT:
	case SQL_INTEGER:
		c->fetch = WB_ODBC_F_I64;
		t->s.kind = c->is_unsigned && c->sqltype == SQL_INTEGER
				    ? WB_T_LONG
				    : WB_T_INT;
		c->elem = 8;
		break;
	case SQL_BIGINT:
		if (c->is_unsigned) {
			c->fetch = WB_ODBC_F_DEC;
			t->s.kind = WB_T_BYTES;
			t->s.logical = WB_L_DECIMAL;
			t->s.precision = 20;
			c->elem = 24;
		} else {
			c->fetch = WB_ODBC_F_I64;
			t->s.kind = WB_T_LONG;
			c->elem = 8;
		}
		break;
	case SQL_DECIMAL:
	case SQL_NUMERIC:
		c->fetch = WB_ODBC_F_DEC;
		if (c->size >= 1 && c->size <= 1000 && c->digits >= 0 &&
		    (SQLULEN)c->digits <= c->size) {
			t->s.kind = WB_T_BYTES;
			t->s.logical = WB_L_DECIMAL;
			t->s.precision = (int16_t)c->size;
			t->s.scale = c->digits;
			t->may_not_fit = 1; /* NaN, or a driver's wider text */
			c->elem = (SQLLEN)c->size + 4;
		} else {
			t->s.kind = WB_T_STRING; /* no precision: its text */
			c->elem = 1100;
		}
		break;
	case SQL_REAL:
		c->fetch = WB_ODBC_F_FLOAT;
		t->s.kind = WB_T_FLOAT;
		c->elem = 4;
		break;
	case SQL_FLOAT:
	case SQL_DOUBLE:
		c->fetch = WB_ODBC_F_DOUBLE;
		t->s.kind = WB_T_DOUBLE;
		c->elem = 8;
		break;
	case SQL_CHAR:
	case SQL_VARCHAR:
	case SQL_LONGVARCHAR:
	case SQL_WCHAR:
	case SQL_WVARCHAR:
	case SQL_WLONGVARCHAR:
	case SQL_GUID:
		c->fetch = WB_ODBC_F_WTEXT;
		t->s.kind = WB_T_STRING;
		c->long_data = c->sqltype == SQL_LONGVARCHAR ||
			       c->sqltype == SQL_WLONGVARCHAR || c->size == 0 ||
			       c->size > LONG_TEXT;
		c->elem = c->long_data ? 0 : (SQLLEN)(c->size + 1) * 2;
		if (c->sqltype == SQL_GUID) {
			c->elem = 80;
			t->s.logical = WB_L_UUID;
		}
		break;
	case SQL_BINARY:
	case SQL_VARBINARY:
	case SQL_LONGVARBINARY:
		c->fetch = WB_ODBC_F_BIN;
		t->s.kind = WB_T_BYTES;
		c->long_data = c->sqltype == SQL_LONGVARBINARY ||
			       c->size == 0 || c->size > LONG_BIN;
		c->elem = c->long_data ? 0 : (SQLLEN)c->size;
		break;
	case SQL_TYPE_DATE:
	case SQL_DATE:
		c->fetch = WB_ODBC_F_DATE;
		t->s.kind = WB_T_INT;
		t->s.logical = WB_L_DATE;
		c->elem = sizeof(SQL_DATE_STRUCT);
		break;
	case SQL_TYPE_TIME:
	case SQL_TIME:
	case -154: /* SQL Server time(n) */
		c->fetch = WB_ODBC_F_TIME;
		t->s.kind = WB_T_LONG;
		t->s.logical = WB_L_TIME_MICROS;
		c->elem = 40;
		break;
	case SQL_TYPE_TIMESTAMP:
	case SQL_TIMESTAMP:
		c->fetch = WB_ODBC_F_TS;
		t->s.kind = WB_T_LONG;
		t->s.logical = WB_L_TIMESTAMP_MICROS;
		c->elem = sizeof(SQL_TIMESTAMP_STRUCT);
		break;
	default:
		/* intervals, XML, driver-specific types: their text */
		c->fetch = WB_ODBC_F_WTEXT;
		t->s.kind = WB_T_STRING;
		c->unknown = true;
		c->long_data = c->size == 0 || c->size > LONG_TEXT;
		c->elem = c->long_data ? 0 : (SQLLEN)(c->size + 1) * 2;
		break;
	}
}

static SQLSMALLINT ctype_of(enum wb_odbc_fetch f)
{
	switch (f) {
	case WB_ODBC_F_BIT:
		return SQL_C_BIT;
	case WB_ODBC_F_I64:
		return SQL_C_SBIGINT;
	case WB_ODBC_F_DOUBLE:
		return SQL_C_DOUBLE;
	case WB_ODBC_F_FLOAT:
		return SQL_C_FLOAT;
	case WB_ODBC_F_WTEXT:
		return SQL_C_WCHAR;
	case WB_ODBC_F_BIN:
		return SQL_C_BINARY;
	case WB_ODBC_F_DATE:
		return SQL_C_TYPE_DATE;
	case WB_ODBC_F_TS:
		return SQL_C_TYPE_TIMESTAMP;
	case WB_ODBC_F_DEC:
	case WB_ODBC_F_TIME:
	case WB_ODBC_F_TEXT:
		break;
	}
	return SQL_C_CHAR;
}

/* UTF-8 → NUL-terminated SQLWCHAR text (malloc'd). */
static SQLWCHAR *wide(const char *s)
{
	size_t n = strlen(s);
	uint16_t *w = malloc((n + 1) * sizeof(*w));
	if (w == NULL)
		return NULL;
	w[wb_utf8_to_utf16((const uint8_t *)s, n, w)] = 0;
	return (SQLWCHAR *)w;
}

static int describe(struct wb_odbc_reader *r, int text_from, wb_error_t *err)
{
	SQLSMALLINT n = 0;
	if (!SQL_SUCCEEDED(SQLNumResultCols(r->st, &n)))
		return wb_odbc_diag(SQL_HANDLE_STMT, r->st,
				    "describing a result", err);
	r->ncols = n;
	r->cols = calloc(n ? (size_t)n : 1, sizeof(*r->cols));
	if (r->cols == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		struct wb_odbc_col *c = &r->cols[i];
		SQLWCHAR name[256];
		SQLSMALLINT nlen = 0, nullable = SQL_NULLABLE_UNKNOWN;
		if (!SQL_SUCCEEDED(SQLDescribeColW(
			    r->st, (SQLUSMALLINT)(i + 1), name, 256, &nlen,
			    &c->sqltype, &c->size, &c->digits, &nullable)))
			return wb_odbc_diag(SQL_HANDLE_STMT, r->st,
					    "describing a column", err);
		if (nlen > 255)
			nlen = 255;
		uint8_t u8[256 * 3 + 1];
		size_t l = wb_utf16_to_utf8((const uint16_t *)name,
					    (size_t)nlen, u8);
		u8[l] = '\0';
		if ((c->name = strdup((const char *)u8)) == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		c->nullable = nullable != SQL_NO_NULLS;
		SQLLEN uns = SQL_FALSE;
		SQLColAttribute(r->st, (SQLUSMALLINT)(i + 1), SQL_DESC_UNSIGNED,
				NULL, 0, NULL, &uns);
		c->is_unsigned = uns == SQL_TRUE;
		wb_odbc_col_map(c);
		if (i >= text_from) {
			c->fetch = WB_ODBC_F_TEXT;
			c->long_data = false;
			c->elem = WB_ODBC_TEXT_MAX;
		}
	}
	return WB_OK;
}

void wb_odbc_mark_text_forms(struct wb_odbc_reader *r)
{
	/* other drivers give an integer column's stored text (SQLite: what
	 * was inserted, '007' or '7.5' in an INTEGER column), or were not
	 * checked */
	if (strncasecmp(r->conn->driver, "psqlodbc", 8) != 0)
		return;
	for (int i = 0; i < r->ncols; i++) {
		struct wb_odbc_col *c = &r->cols[i];
		char name[32] = "";
		SQLSMALLINT len = 0;
		if ((c->fetch != WB_ODBC_F_I64 && c->fetch != WB_ODBC_F_TS) ||
		    !SQL_SUCCEEDED(SQLColAttribute(r->st, (SQLUSMALLINT)(i + 1),
						   SQL_DESC_TYPE_NAME, name,
						   sizeof(name), &len, NULL)))
			continue;
		c->int_text_decimal = c->fetch == WB_ODBC_F_I64 &&
				      (strcmp(name, "int2") == 0 ||
				       strcmp(name, "int4") == 0 ||
				       strcmp(name, "int8") == 0);
		/* PostgreSQL's timestamp (OID 1114); timestamptz is
		 * "timestamptz" */
		c->ts_text = c->fetch == WB_ODBC_F_TS &&
			     strcmp(name, "timestamp without time zone") == 0;
	}
}

int wb_odbc_reader_open(struct wb_odbc_reader *r, struct wb_odbc_conn *c,
			const char *sql, const struct wb_odbc_param *params,
			int nparams, int rowset, int text_from, wb_error_t *err)
{
	return wb_odbc_reader_open_bounded(r, c, sql, params, nparams, rowset,
					   text_from, 0, NULL, 0, err);
}

int wb_odbc_reader_open_bounded(struct wb_odbc_reader *r,
				struct wb_odbc_conn *c, const char *sql,
				const struct wb_odbc_param *params, int nparams,
				int rowset, int text_from, int long_chars,
				const struct wb_odbc_col *typed, int n,
				wb_error_t *err)
{
	memset(r, 0, sizeof(*r));
	r->conn = c;
	int rc = WB_OK;
	SQLWCHAR *wsql = NULL;
	if (c->dbc == NULL)
		return wb_error_set(err, WB_ERR_CONNECT, "not connected");
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &r->st))) {
		r->st = NULL;
		return wb_odbc_diag(SQL_HANDLE_DBC, c->dbc,
				    "allocating a statement", err);
	}
	SQLULEN qt = (SQLULEN)((c->query_timeout_ms + 999) / 1000);
	SQLSetStmtAttr(r->st, SQL_ATTR_QUERY_TIMEOUT, (SQLPOINTER)qt, 0);
	if (nparams > 0) {
		r->ptext = calloc((size_t)nparams, sizeof(*r->ptext));
		r->pind = calloc((size_t)nparams, sizeof(*r->pind));
		if (r->ptext == NULL || r->pind == NULL) {
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto fail;
		}
		r->nparams = nparams;
	}
	for (int i = 0; i < nparams; i++) {
		const struct wb_odbc_col *like = params[i].like;
		snprintf(r->ptext[i], WB_ODBC_TEXT_MAX, "%s", params[i].text);
		r->pind[i] = SQL_NTS;
		SQLSMALLINT sqlt = like->sqltype;
		SQLULEN size = like->size;
		if (sqlt == SQL_WCHAR || sqlt == SQL_WVARCHAR ||
		    sqlt == SQL_WLONGVARCHAR || sqlt == SQL_LONGVARCHAR)
			sqlt = SQL_VARCHAR;
		if (size == 0 || size > WB_ODBC_TEXT_MAX)
			size = WB_ODBC_TEXT_MAX;
		if (!SQL_SUCCEEDED(SQLBindParameter(
			    r->st, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT,
			    SQL_C_CHAR, sqlt, size, like->digits, r->ptext[i],
			    WB_ODBC_TEXT_MAX, &r->pind[i]))) {
			rc = wb_odbc_diag(SQL_HANDLE_STMT, r->st,
					  "binding a parameter", err);
			goto fail;
		}
	}
	if ((wsql = wide(sql)) == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto fail;
	}
	wb_odbc_watch(c, r->st);
	SQLRETURN x = SQLExecDirectW(r->st, wsql, SQL_NTS);
	wb_odbc_unwatch(c);
	free(wsql);
	if (!SQL_SUCCEEDED(x) && x != SQL_NO_DATA) {
		rc = wb_odbc_diag(SQL_HANDLE_STMT, r->st, "query", err);
		if (atomic_exchange(&c->wd_fired, false)) {
			wb_error_set(err, rc,
				     "a query ran past query_timeout (%lld ms) "
				     "and was cancelled",
				     (long long)c->query_timeout_ms);
			err->retriable = true;
		}
		goto fail;
	}
	if ((rc = describe(r, text_from, err)))
		goto fail;
	for (int i = 0; long_chars > 0 && i < r->ncols; i++) {
		struct wb_odbc_col *col = &r->cols[i];
		if (!col->long_data || (col->fetch != WB_ODBC_F_WTEXT &&
					col->fetch != WB_ODBC_F_BIN))
			continue;
		col->long_data = false;
		col->trunc_check = true;
		col->elem = col->fetch == WB_ODBC_F_WTEXT
				    ? (SQLLEN)(long_chars + 1) * 2
				    : (SQLLEN)long_chars;
	}
	for (int i = 0; typed && i < n && i < r->ncols; i++) {
		struct wb_odbc_col *col = &r->cols[i];
		if (!typed[i].ts_text)
			continue;
		/* described as the table's timestamp, bound as text */
		char *name = col->name;
		*col = typed[i];
		col->name = name;
		col->as_text = true;
		col->text_elem = 40;
	}
	r->bound = true;
	size_t rowbytes = 0;
	for (int i = 0; i < r->ncols; i++) {
		r->bound &= !r->cols[i].long_data;
		rowbytes += (size_t)r->cols[i].elem + sizeof(SQLLEN) +
			    (size_t)r->cols[i].text_elem;
	}
	for (int i = 0; !r->bound && i < r->ncols; i++)
		if (r->cols[i].as_text) {
			/* parsed per bound rowset only (the caller's part) */
			rc = wb_error_set(err, WB_ERR_RUNTIME,
					  "column %s: selected as text but "
					  "read row by row",
					  r->cols[i].name);
			goto fail;
		}
	if (rowset < 1)
		rowset = 1;
	if (rowbytes * (size_t)rowset > MAX_ROWSET_BYTES)
		rowset = (int)(MAX_ROWSET_BYTES / (rowbytes ? rowbytes : 1));
	if (rowset < 1)
		rowset = 1;
	r->rowset = r->bound ? (SQLULEN)rowset : 1;
	int nc = r->ncols ? r->ncols : 1;
	r->buf = calloc((size_t)nc, sizeof(*r->buf));
	r->ind = calloc((size_t)nc, sizeof(*r->ind));
	r->gd = calloc((size_t)nc, sizeof(*r->gd));
	r->gdcap = calloc((size_t)nc, sizeof(*r->gdcap));
	r->gdlen = calloc((size_t)nc, sizeof(*r->gdlen));
	r->tbuf = calloc((size_t)nc, sizeof(*r->tbuf));
	if (!r->buf || !r->ind || !r->gd || !r->gdcap || !r->gdlen ||
	    !r->tbuf) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (!r->bound)
		return WB_OK;
	SQLSetStmtAttr(r->st, SQL_ATTR_ROW_BIND_TYPE,
		       (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
	SQLSetStmtAttr(r->st, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)r->rowset,
		       0);
	SQLULEN got = 0;
	if (SQL_SUCCEEDED(SQLGetStmtAttr(r->st, SQL_ATTR_ROW_ARRAY_SIZE, &got,
					 0, NULL)) &&
	    got >= 1 && got < r->rowset)
		r->rowset = got; /* the driver changed it */
	SQLSetStmtAttr(r->st, SQL_ATTR_ROWS_FETCHED_PTR, &r->fetched, 0);
	for (int i = 0; i < r->ncols; i++) {
		struct wb_odbc_col *col = &r->cols[i];
		SQLSMALLINT ct = ctype_of(col->fetch);
		SQLLEN term = ct == SQL_C_WCHAR ? 2 : ct == SQL_C_CHAR ? 1 : 0;
		col->cell_max = ct == SQL_C_WCHAR || ct == SQL_C_CHAR ||
						ct == SQL_C_BINARY
					? col->elem - term
					: -1;
		r->buf[i] = malloc((size_t)col->elem * r->rowset);
		r->ind[i] = malloc(sizeof(SQLLEN) * r->rowset);
		if (col->as_text)
			r->tbuf[i] = malloc((size_t)col->text_elem * r->rowset);
		if (!r->buf[i] || !r->ind[i] || (col->as_text && !r->tbuf[i])) {
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto fail;
		}
		SQLRETURN bx =
			col->as_text
				? SQLBindCol(r->st, (SQLUSMALLINT)(i + 1),
					     SQL_C_CHAR, r->tbuf[i],
					     col->text_elem, r->ind[i])
				: SQLBindCol(r->st, (SQLUSMALLINT)(i + 1),
					     ctype_of(col->fetch), r->buf[i],
					     col->elem, r->ind[i]);
		if (!SQL_SUCCEEDED(bx)) {
			rc = wb_odbc_diag(SQL_HANDLE_STMT, r->st,
					  "binding a column", err);
			goto fail;
		}
	}
	return WB_OK;
fail:
	wb_odbc_reader_close(r);
	return rc;
}

/* Parses column i's text of the rowset into its SQL_TIMESTAMP_STRUCTs. */
static int parse_rowset(struct wb_odbc_reader *r, int i, wb_error_t *err)
{
	const struct wb_odbc_col *c = &r->cols[i];
	for (SQLULEN k = 0; k < r->fetched; k++) {
		SQLLEN l = r->ind[i][k];
		if (l == SQL_NULL_DATA)
			continue;
		const char *t =
			(const char *)r->tbuf[i] + (size_t)c->text_elem * k;
		SQL_TIMESTAMP_STRUCT ts;
		if (l < 0 || l >= c->text_elem ||
		    !wb_odbc_text_ts(t, (size_t)l, &ts))
			return wb_error_set(err, WB_ERR_DECODE,
					    "column %s: a value not in the "
					    "form yyyy-mm-dd hh:mm:ss[.f]",
					    c->name);
		memcpy(r->buf[i] + (size_t)c->elem * k, &ts, sizeof(ts));
	}
	return WB_OK;
}

/* SQLGetData of column i, whole, into r->gd[i]. */
static int get_data(struct wb_odbc_reader *r, int i, wb_error_t *err)
{
	struct wb_odbc_col *c = &r->cols[i];
	SQLSMALLINT ct = ctype_of(c->fetch);
	size_t term = ct == SQL_C_WCHAR ? 2 : ct == SQL_C_CHAR ? 1 : 0;
	size_t off = 0;
	if (r->gdcap[i] < 256) {
		uint8_t *p = realloc(r->gd[i], 256);
		if (p == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		r->gd[i] = p;
		r->gdcap[i] = 256;
	}
	for (;;) {
		SQLLEN ind = 0;
		SQLLEN avail = (SQLLEN)(r->gdcap[i] - off);
		SQLRETURN x = SQLGetData(r->st, (SQLUSMALLINT)(i + 1), ct,
					 r->gd[i] + off, avail, &ind);
		if (x == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(x))
			return wb_odbc_diag(SQL_HANDLE_STMT, r->st,
					    "reading a value", err);
		if (ind == SQL_NULL_DATA) {
			r->gdlen[i] = SQL_NULL_DATA;
			return WB_OK;
		}
		bool more = x == SQL_SUCCESS_WITH_INFO &&
			    (ind == SQL_NO_TOTAL ||
			     (size_t)ind > (size_t)avail - term) &&
			    term + 1 <= (size_t)avail;
		if (ct != SQL_C_WCHAR && ct != SQL_C_CHAR && ct != SQL_C_BINARY)
			more = false;
		if (!more) {
			off += (size_t)ind;
			break;
		}
		off += (size_t)avail - term;
		size_t want = r->gdcap[i] * 2;
		if (ind != SQL_NO_TOTAL && off + (size_t)ind + term > want)
			want = off + (size_t)ind + term + 16;
		uint8_t *p = realloc(r->gd[i], want);
		if (p == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		r->gd[i] = p;
		r->gdcap[i] = want;
	}
	r->gdlen[i] = (SQLLEN)off;
	return WB_OK;
}

/* One rowset (one row when not bound) from the driver into r's arrays:
 * 1, 0 (end), -1 (err filled), WB_ODBC_LONG_VALUE or
 * WB_ODBC_NOT_CANONICAL. */
static int fetch_rowset(struct wb_odbc_reader *r, wb_error_t *err)
{
	r->fetched = 0;
	r->cur = 0;
	wb_odbc_watch(r->conn, r->st);
	SQLRETURN x = SQLFetch(r->st);
	wb_odbc_unwatch(r->conn);
	if (x == SQL_NO_DATA)
		return 0;
	if (!SQL_SUCCEEDED(x)) {
		int rc = wb_odbc_diag(SQL_HANDLE_STMT, r->st, "fetching rows",
				      err);
		if (atomic_exchange(&r->conn->wd_fired, false))
			wb_error_set(err, rc,
				     "a query ran past query_timeout (%lld "
				     "ms) and was cancelled",
				     (long long)r->conn->query_timeout_ms);
		err->retriable = true;
		return -1;
	}
	if (!r->bound) {
		for (int i = 0; i < r->ncols; i++)
			if (get_data(r, i, err))
				return -1;
		r->fetched = 1;
	}
	for (int i = 0; i < r->ncols; i++) {
		const struct wb_odbc_col *c = &r->cols[i];
		if (!c->trunc_check)
			continue;
		SQLLEN term = c->fetch == WB_ODBC_F_WTEXT ? 2 : 0;
		for (SQLULEN k = 0; k < r->fetched; k++) {
			SQLLEN l = r->ind[i][k];
			if (l != SQL_NULL_DATA &&
			    (l == SQL_NO_TOTAL || l > c->elem - term)) {
				wb_error_set(err, WB_ERR_RUNTIME,
					     "column %s holds a value longer "
					     "than its bound buffer",
					     c->name);
				return WB_ODBC_LONG_VALUE;
			}
		}
	}
	if (r->fetched == 0)
		return 0;
	for (int i = 0; i < r->ncols; i++)
		if (r->cols[i].as_text && parse_rowset(r, i, err))
			return WB_ODBC_NOT_CANONICAL;
	return 1;
}

#define PK_ALIGN(n) (((n) + 7) & ~(size_t)7)

/* Room for n more bytes of packed rows. */
static int pk_reserve(struct wb_odbc_reader *r, size_t n, wb_error_t *err)
{
	if (r->pklen + n <= r->pkcap)
		return WB_OK;
	size_t cap = r->pkcap ? r->pkcap : 1 << 16;
	while (cap < r->pklen + n)
		cap *= 2;
	uint8_t *p = realloc(r->pk, cap);
	if (p == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	r->pk = p;
	r->pkcap = cap;
	return WB_OK;
}

/* Appends the rowset in r's own arrays to pk. */
static int pk_append(struct wb_odbc_reader *r, wb_error_t *err)
{
	SQLULEN n = r->fetched;
	size_t need = 8;
	for (int i = 0; i < r->ncols; i++)
		need += 8 + PK_ALIGN(sizeof(SQLLEN) * n) +
			PK_ALIGN((size_t)r->cols[i].elem * n);
	if (pk_reserve(r, need, err))
		return WB_ERR_NOMEM;
	r->pk_last = r->pklen;
	uint8_t *o = r->pk + r->pklen;
	uint64_t rows = n;
	memcpy(o, &rows, 8);
	o += 8;
	for (int i = 0; i < r->ncols; i++) {
		const struct wb_odbc_col *c = &r->cols[i];
		SQLLEN *ind = (SQLLEN *)(void *)(o + 8);
		uint8_t *cells = o + 8 + PK_ALIGN(sizeof(SQLLEN) * n);
		SQLLEN elem = c->elem;
		if (c->cell_max >= 0) {
			/* variable length: the longest used cell, the lengths
			 * as cell_at gives them (a truncated cell cut to its
			 * buffer), the terminator kept */
			SQLLEN term = c->elem - c->cell_max, most = 0;
			for (SQLULEN k = 0; k < n; k++) {
				SQLLEN l;
				wb_odbc_reader_cell_at(r, i, k, &l);
				ind[k] = l;
				if (l > most)
					most = l;
			}
			elem = (SQLLEN)PK_ALIGN((size_t)(most + term));
			for (SQLULEN k = 0; k < n; k++) {
				SQLLEN l = ind[k] > 0 ? ind[k] : 0;
				uint8_t *d = cells + (size_t)elem * k;
				memcpy(d, r->buf[i] + (size_t)c->elem * k,
				       (size_t)l);
				memset(d + l, 0, (size_t)(elem - l));
			}
		} else {
			memcpy(ind, r->ind[i], sizeof(SQLLEN) * n);
			memcpy(cells, r->buf[i], (size_t)elem * n);
		}
		int64_t e = elem;
		memcpy(o, &e, 8);
		o = cells + PK_ALIGN((size_t)elem * n);
	}
	r->pklen = (size_t)(o - r->pk);
	return WB_OK;
}

/* Points r's arrays at the packed rowset at off; the offset after it. */
static size_t pk_load(struct wb_odbc_reader *r, size_t off)
{
	uint8_t *o = r->pk + off;
	uint64_t rows;
	memcpy(&rows, o, 8);
	o += 8;
	for (int i = 0; i < r->ncols; i++) {
		struct wb_odbc_col *c = &r->cols[i];
		int64_t e;
		memcpy(&e, o, 8);
		r->ind[i] = (SQLLEN *)(void *)(o + 8);
		r->buf[i] = o + 8 + PK_ALIGN(sizeof(SQLLEN) * rows);
		if (r->own_cell_max[i] >= 0)
			c->cell_max = (SQLLEN)e -
				      (r->own_elem[i] - r->own_cell_max[i]);
		c->elem = (SQLLEN)e;
		o = r->buf[i] + PK_ALIGN((size_t)e * rows);
	}
	r->fetched = (SQLULEN)rows;
	r->cur = 0;
	return (size_t)(o - r->pk);
}

/* Back to the reader's own arrays (the statement is read from here on,
 * or the reader is closed). */
static void pk_unload(struct wb_odbc_reader *r)
{
	if (!r->replay)
		return;
	for (int i = 0; i < r->ncols; i++) {
		r->buf[i] = r->own_buf[i];
		r->ind[i] = r->own_ind[i];
		r->cols[i].elem = r->own_elem[i];
		r->cols[i].cell_max = r->own_cell_max[i];
	}
	r->replay = false;
}

int wb_odbc_reader_pack(struct wb_odbc_reader *r, size_t max_bytes, bool *whole,
			wb_error_t *err)
{
	*whole = false;
	if (!r->bound || r->replay || r->st == NULL)
		return WB_OK;
	size_t nc = (size_t)(r->ncols ? r->ncols : 1);
	r->own_buf = calloc(nc, sizeof(*r->own_buf));
	r->own_ind = calloc(nc, sizeof(*r->own_ind));
	r->own_elem = calloc(nc, sizeof(*r->own_elem));
	r->own_cell_max = calloc(nc, sizeof(*r->own_cell_max));
	if (!r->own_buf || !r->own_ind || !r->own_elem || !r->own_cell_max)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int i = 0; i < r->ncols; i++) {
		r->own_buf[i] = r->buf[i];
		r->own_ind[i] = r->ind[i];
		r->own_elem[i] = r->cols[i].elem;
		r->own_cell_max[i] = r->cols[i].cell_max;
	}
	/* room for max_bytes at once: pages not written are not resident,
	 * and a buffer grown step by step would leave its smaller copies
	 * behind in the allocator */
	if (pk_reserve(r, max_bytes, err))
		return WB_ERR_NOMEM;
	r->pk_end = 1; /* more rows in the statement */
	while (r->pklen < max_bytes) {
		int got = fetch_rowset(r, &r->pk_err);
		if (got != 1) {
			r->pk_end = got;
			break;
		}
		if (pk_append(r, err))
			return WB_ERR_NOMEM;
		r->pk_rows += r->fetched;
	}
	r->fetched = 0;
	r->cur = 0;
	r->pkoff = 0;
	r->pk_restart = false;
	r->replay = true;
	*whole = r->pk_end == 0;
	r->pk_whole = *whole;
	if (*whole) {
		/* neither the driver's copy of the result nor the arrays it
		 * was fetched into are needed any more */
		SQLFreeHandle(SQL_HANDLE_STMT, r->st);
		r->st = NULL;
		for (int i = 0; i < r->ncols; i++) {
			free(r->own_buf[i]);
			free(r->own_ind[i]);
			r->own_buf[i] = NULL;
			r->own_ind[i] = NULL;
		}
	}
	return WB_OK;
}

bool wb_odbc_reader_peek_last(struct wb_odbc_reader *r)
{
	if (!r->replay || r->pklen == 0)
		return false;
	pk_load(r, r->pk_last);
	r->cur = r->fetched - 1;
	r->pk_restart = true;
	return true;
}

int wb_odbc_reader_next(struct wb_odbc_reader *r, wb_error_t *err)
{
	if (r->bound && !r->pk_restart && r->cur + 1 < r->fetched) {
		r->cur++;
		r->rows++;
		return 1;
	}
	if (r->replay) {
		if (r->pk_restart) {
			r->pkoff = 0;
			r->pk_restart = false;
		}
		if (r->pkoff < r->pklen) {
			r->pkoff = pk_load(r, r->pkoff);
			r->rows++;
			return 1;
		}
		pk_unload(r);
		r->fetched = 0;
		r->cur = 0;
		if (r->pk_end != 1) {
			if (r->pk_end < 0)
				*err = r->pk_err;
			return r->pk_end;
		}
		/* past what was read ahead: on from the statement */
	}
	int got = fetch_rowset(r, err);
	if (got == 1)
		r->rows++;
	return got;
}

const uint8_t *wb_odbc_reader_cell(const struct wb_odbc_reader *r, int i,
				   SQLLEN *len)
{
	return wb_odbc_reader_cell_at(r, i, r->cur, len);
}

const uint8_t *wb_odbc_reader_cell_at(const struct wb_odbc_reader *r, int i,
				      SQLULEN k, SQLLEN *len)
{
	if (!r->bound) {
		*len = r->gdlen[i];
		return r->gd[i];
	}
	const struct wb_odbc_col *c = &r->cols[i];
	SQLLEN l = r->ind[i][k];
	const uint8_t *p = r->buf[i] + (size_t)c->elem * k;
	if (l != SQL_NULL_DATA) {
		if (c->cell_max < 0)
			l = c->elem;
		else if (l == SQL_NO_TOTAL || l > c->cell_max)
			l = c->cell_max; /* truncated: flagged */
	}
	*len = l;
	return p;
}

void wb_odbc_reader_close(struct wb_odbc_reader *r)
{
	pk_unload(r);
	free(r->pk);
	free(r->own_buf);
	free(r->own_ind);
	free(r->own_elem);
	free(r->own_cell_max);
	if (r->st) {
		SQLFreeHandle(SQL_HANDLE_STMT, r->st);
		r->st = NULL;
	}
	for (int i = 0; i < r->ncols; i++) {
		if (r->cols)
			free(r->cols[i].name);
		if (r->buf)
			free(r->buf[i]);
		if (r->ind)
			free(r->ind[i]);
		if (r->gd)
			free(r->gd[i]);
		if (r->tbuf)
			free(r->tbuf[i]);
	}
	free(r->cols);
	free(r->buf);
	free(r->ind);
	free(r->gd);
	free(r->gdcap);
	free(r->gdlen);
	free(r->tbuf);
	free(r->ptext);
	free(r->pind);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ conversion */

static int digits(const char *s, size_t n, size_t *i, int k, int *out)
{
	int v = 0;
	for (int j = 0; j < k; j++, (*i)++) {
		if (*i >= n || s[*i] < '0' || s[*i] > '9')
			return -1;
		v = v * 10 + (s[*i] - '0');
	}
	*out = v;
	return 0;
}

/* ".ffffff" at s[*i] (optional): microseconds, more digits dropped. */
static int64_t frac_us(const char *s, size_t n, size_t *i)
{
	int64_t us = 0;
	int k = 0;
	if (*i < n && s[*i] == '.') {
		(*i)++;
		for (; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++, k++)
			if (k < 6)
				us = us * 10 + (s[*i] - '0');
		for (; k < 6; k++)
			us *= 10;
	}
	return us;
}

static bool parse_time(const char *s, size_t n, size_t *i, int64_t *us)
{
	int hh, mi, ss;
	if (digits(s, n, i, 2, &hh) || *i >= n || s[(*i)++] != ':' ||
	    digits(s, n, i, 2, &mi) || *i >= n || s[(*i)++] != ':' ||
	    digits(s, n, i, 2, &ss) || hh > 24 || mi > 59 || ss > 60)
		return false;
	*us = ((int64_t)hh * 3600 + mi * 60 + ss) * WB_USECS_PER_SEC +
	      frac_us(s, n, i);
	return true;
}

/* "yyyy-mm-dd" at s[*i], a day the calendar has. */
static bool parse_ymd(const char *s, size_t n, size_t *i, int *y, int *m,
		      int *d)
{
	return !digits(s, n, i, 4, y) && *i < n && s[(*i)++] == '-' &&
	       !digits(s, n, i, 2, m) && *i < n && s[(*i)++] == '-' &&
	       !digits(s, n, i, 2, d) && *m >= 1 && *m <= 12 && *d >= 1 &&
	       *d <= wb_days_in_month(*y, *m);
}

bool wb_odbc_text_ts(const char *s, size_t n, SQL_TIMESTAMP_STRUCT *ts)
{
	int y, mo, d, hh, mi, ss;
	size_t i = 0;
	if (n < 19 || !parse_ymd(s, n, &i, &y, &mo, &d) || s[i++] != ' ' ||
	    digits(s, n, &i, 2, &hh) || s[i++] != ':' ||
	    digits(s, n, &i, 2, &mi) || s[i++] != ':' ||
	    digits(s, n, &i, 2, &ss))
		return false;
	if (y < 1 || hh > 23 || mi > 59 || ss > 59)
		return false;
	uint32_t ns = 0;
	if (i < n) {
		/* '.' and 1 to 9 digits: nanoseconds */
		if (s[i++] != '.' || i == n || n - i > 9)
			return false;
		int k = 0;
		for (; i < n; i++, k++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			ns = ns * 10 + (uint32_t)(s[i] - '0');
		}
		for (; k < 9; k++)
			ns *= 10;
	}
	ts->year = (SQLSMALLINT)y;
	ts->month = (SQLUSMALLINT)mo;
	ts->day = (SQLUSMALLINT)d;
	ts->hour = (SQLUSMALLINT)hh;
	ts->minute = (SQLUSMALLINT)mi;
	ts->second = (SQLUSMALLINT)ss;
	ts->fraction = ns;
	return true;
}

bool wb_odbc_parse_ts(const char *s, size_t n, int64_t *us)
{
	size_t i = 0;
	int y, m, d;
	int64_t t = 0;
	if (!parse_ymd(s, n, &i, &y, &m, &d))
		return false;
	if (i < n && (s[i] == ' ' || s[i] == 'T')) {
		i++;
		if (!parse_time(s, n, &i, &t))
			return false;
	}
	return wb_micros_from_civil(y, m, d, t, 0, us);
}

void wb_odbc_format_ts_digits(int64_t us, int digits, char *buf, size_t n)
{
	if (digits < 0 || digits > 6)
		digits = 6;
	int64_t unit = 1;
	for (int i = digits; i < 6; i++)
		unit *= 10;
	/* truncated towards the past: a horizon or window start that is
	 * earlier only reads later, never less */
	us = wb_floor_div(us, unit) * unit;
	wb_odbc_format_ts(us, buf, n);
	size_t len = strlen(buf); /* "YYYY-MM-DD hh:mm:ss.ffffff" */
	if (len >= 7 && buf[len - 7] == '.')
		buf[len - 7 + (digits ? digits + 1 : 0)] = '\0';
}

void wb_odbc_format_ts(int64_t us, char *buf, size_t n)
{
	int64_t days = wb_floor_div(us, WB_USECS_PER_DAY);
	int64_t rest = us - days * WB_USECS_PER_DAY;
	int64_t y;
	int m, d;
	wb_civil_from_days(days, &y, &m, &d);
	int64_t s = rest / WB_USECS_PER_SEC;
	snprintf(buf, n, "%04lld-%02d-%02d %02d:%02d:%02d.%06lld", (long long)y,
		 m, d, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60),
		 (long long)(rest % WB_USECS_PER_SEC));
}

static int unrep(const char *text, size_t n, struct wb_arena *a,
		 struct wb_value *out, wb_error_t *err)
{
	out->state = WB_VAL_UNREPRESENTABLE;
	return wb_utf8_value((const uint8_t *)text, n, a, out, err);
}

int wb_odbc_cell_value(const struct wb_odbc_col *col, const uint8_t *p,
		       SQLLEN len, const struct wb_tz *tz, struct wb_arena *a,
		       struct wb_value *out, wb_error_t *err)
{
	if (len == SQL_NULL_DATA) {
		out->state = WB_VAL_NULL;
		return WB_OK;
	}
	if (len < 0)
		return wb_error_set(err, WB_ERR_DECODE,
				    "column %s: the driver gave no length",
				    col->name);
	size_t n = (size_t)len;
	out->state = WB_VAL_PRESENT;
	switch (col->fetch) {
	case WB_ODBC_F_BIT:
		out->u.i = p[0] != 0;
		return WB_OK;
	case WB_ODBC_F_I64: {
		int64_t v;
		memcpy(&v, p, sizeof(v));
		out->u.i = v;
		if (col->type.s.kind == WB_T_INT &&
		    (v < INT32_MIN || v > INT32_MAX))
			return wb_error_set(err, WB_ERR_TYPE,
					    "column %s: %lld does not fit int",
					    col->name, (long long)v);
		return WB_OK;
	}
	case WB_ODBC_F_DOUBLE:
		memcpy(&out->u.d, p, sizeof(double));
		return WB_OK;
	case WB_ODBC_F_FLOAT:
		memcpy(&out->u.f, p, sizeof(float));
		return WB_OK;
	case WB_ODBC_F_DEC: {
		const char *s = (const char *)p;
		/* drivers pad CHAR-like results with blanks */
		while (n > 0 && s[n - 1] == ' ')
			n--;
		if (col->type.s.kind == WB_T_STRING)
			return wb_utf8_value(p, n, a, out, err);
		int r = wb_decimal_from_text(s, n, col->type.s.precision,
					     col->type.s.scale, a, out);
		if (r == WB_DEC_NOMEM)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		if (r != WB_DEC_OK)
			return unrep(s, n, a, out, err);
		return WB_OK;
	}
	case WB_ODBC_F_WTEXT: {
		size_t units = n / 2;
		uint8_t *d = wb_arena_alloc(a, units * 3 + 1);
		if (d == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		uint16_t *tmp = (uint16_t *)(void *)p;
		uint16_t local[256];
		if (((uintptr_t)p & 1) != 0 && units <= 256) {
			memcpy(local, p, units * 2);
			tmp = local;
		}
		size_t l = wb_utf16_to_utf8(tmp, units, d);
		if (col->sqltype == SQL_GUID) /* drivers print it in capitals */
			for (size_t i = 0; i < l; i++)
				if (d[i] >= 'A' && d[i] <= 'F')
					d[i] = (uint8_t)(d[i] - 'A' + 'a');
		if (l > UINT32_MAX)
			return wb_error_set(err, WB_ERR_TYPE, "text too long");
		out->u.b.p = d;
		out->u.b.n = (uint32_t)l;
		return WB_OK;
	}
	case WB_ODBC_F_TEXT:
		return wb_utf8_value(p, n, a, out, err);
	case WB_ODBC_F_BIN: {
		uint8_t *d = n ? wb_arena_dup(a, p, n) : (uint8_t *)"";
		if (d == NULL || n > UINT32_MAX)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		out->u.b.p = d;
		out->u.b.n = (uint32_t)n;
		return WB_OK;
	}
	case WB_ODBC_F_DATE: {
		SQL_DATE_STRUCT ds;
		memcpy(&ds, p, sizeof(ds));
		out->u.i = wb_days_from_civil(ds.year, ds.month, ds.day);
		return WB_OK;
	}
	case WB_ODBC_F_TIME: {
		size_t i = 0;
		int64_t us;
		const char *s = (const char *)p;
		if (!parse_time(s, n, &i, &us))
			return unrep(s, n, a, out, err);
		out->u.i = us;
		return WB_OK;
	}
	case WB_ODBC_F_TS: {
		SQL_TIMESTAMP_STRUCT ts;
		memcpy(&ts, p, sizeof(ts));
		int64_t local;
		int64_t day_us =
			((int64_t)ts.hour * 3600 + ts.minute * 60 + ts.second) *
				WB_USECS_PER_SEC +
			ts.fraction / 1000;
		if (!wb_micros_from_civil(ts.year, ts.month, ts.day, day_us, 0,
					  &local))
			return wb_error_set(err, WB_ERR_TYPE,
					    "column %s: timestamp out of range",
					    col->name);
		int64_t secs = wb_floor_div(local, WB_USECS_PER_SEC);
		int64_t sub = local - secs * WB_USECS_PER_SEC;
		int64_t utc = tz ? wb_tz_local_to_utc(tz, secs) : secs;
		out->u.i = utc * WB_USECS_PER_SEC + sub;
		return WB_OK;
	}
	}
	return wb_error_set(err, WB_ERR_RUNTIME, "unknown fetch kind");
}
