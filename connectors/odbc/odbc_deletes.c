/* odbc_deletes.c — keyset delete detection: per-chunk COUNT and checksums
 * on both sides, key reads and a merge only where they differ. The
 * algorithm and what the checksums can miss are in odbc_deletes.h. */
#include "odbc_deletes.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlext.h>

#include "stop.h"

enum wb_odbc_sum_kind wb_odbc_deletes_kind(const char *dbms)
{
	if (dbms == NULL)
		return WB_ODBC_SUM_COUNT;
	if (strcmp(dbms, "PostgreSQL") == 0)
		return WB_ODBC_SUM_MD5;
	if (strstr(dbms, "MariaDB") != NULL || strstr(dbms, "MySQL") != NULL)
		return WB_ODBC_SUM_CRC32;
	if (strncmp(dbms, "SQLite", 6) == 0)
		return WB_ODBC_SUM_MIX;
	return WB_ODBC_SUM_COUNT;
}

enum dialect { D_OTHER, D_PG, D_MY, D_SQLITE };

static enum dialect dialect_of(const char *dbms)
{
	switch (wb_odbc_deletes_kind(dbms)) {
	case WB_ODBC_SUM_MD5:
		return D_PG;
	case WB_ODBC_SUM_CRC32:
		return D_MY;
	case WB_ODBC_SUM_MIX:
		return D_SQLITE;
	default:
		return D_OTHER;
	}
}

/* The state of one pass. */
struct pass {
	const struct wb_odbc_deletes_cfg *cfg;
	enum wb_odbc_sum_kind kind;
	enum dialect dialect;
	char **qcols; /* quoted key columns */
	char *qtable; /* quoted, qualified table */
	char *cols;   /* "c1, c2" */
	struct wb_buf sql;
	SQLHSTMT st;
	/* parameters: the values bound, and their length indicators */
	struct wb_odbc_key_val lo_vals[WB_ODBC_KEY_MAX_COLS];
	struct wb_odbc_key_val hi_vals[WB_ODBC_KEY_MAX_COLS];
	struct wb_buf lo_scratch, hi_scratch;
	SQLLEN ind[2 * WB_ODBC_KEY_MAX_COLS * (WB_ODBC_KEY_MAX_COLS + 1)];
	SQLUSMALLINT nparams;
};

static int odbc_error(struct pass *p, SQLSMALLINT type, SQLHANDLE h,
		      wb_error_t *err, const char *what)
{
	SQLCHAR state[6] = "", msg[400] = "";
	SQLINTEGER native = 0;
	SQLSMALLINT len = 0;
	SQLGetDiagRec(type, h, 1, state, &native, msg, sizeof msg, &len);
	int rc = wb_error_set(
		err, WB_ERR_CONNECT, "odbc %s: delete detection: %s: %s (%s)",
		p->cfg->label, what, (const char *)msg, (const char *)state);
	err->retriable = true;
	return rc;
}

/* Appends name quoted with q (doubling q inside it); without a quote
 * character only plain identifiers are accepted. */
static int quote_ident(struct wb_buf *b, const char *name, const char *q,
		       wb_error_t *err)
{
	size_t ql = q ? strlen(q) : 0;
	if (ql == 1 && q[0] == ' ')
		ql = 0;
	if (name == NULL || name[0] == '\0')
		return wb_error_set(err, WB_ERR_CONFIG, "empty identifier");
	if (ql == 0) {
		for (const char *s = name; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') ||
			      (*s >= 'A' && *s <= 'Z') || *s == '_' ||
			      (s > name && *s >= '0' && *s <= '9')))
				return wb_error_set(
					err, WB_ERR_CONFIG,
					"identifier '%s' needs quoting and the "
					"driver has no identifier quote "
					"character",
					name);
		wb_buf_append(b, name, strlen(name));
		return 0;
	}
	wb_buf_append(b, q, ql);
	for (const char *s = name; *s; s++) {
		if (strncmp(s, q, ql) == 0)
			wb_buf_append(b, q, ql);
		wb_buf_append(b, s, 1);
	}
	wb_buf_append(b, q, ql);
	return 0;
}

static char *take_string(struct wb_buf *b)
{
	wb_buf_append(b, "", 1);
	if (b->failed)
		return NULL;
	char *s = (char *)b->data;
	wb_buf_init(b);
	return s;
}

static void puts_(struct wb_buf *b, const char *s)
{
	wb_buf_append(b, s, strlen(s));
}

static int pass_init(struct pass *p, const struct wb_odbc_deletes_cfg *cfg,
		     wb_error_t *err)
{
	memset(p, 0, sizeof *p);
	p->cfg = cfg;
	p->kind = wb_odbc_deletes_kind(cfg->dbms);
	p->dialect = dialect_of(cfg->dbms);
	wb_buf_init(&p->sql);
	wb_buf_init(&p->lo_scratch);
	wb_buf_init(&p->hi_scratch);
	p->st = SQL_NULL_HSTMT;
	if (cfg->nkeys == 0 || cfg->nkeys > WB_ODBC_KEY_MAX_COLS)
		return wb_error_set(err, WB_ERR_CONFIG,
				    "odbc %s: a key has 1 to %d columns",
				    cfg->label, WB_ODBC_KEY_MAX_COLS);
	if (cfg->chunk == 0)
		return wb_error_set(err, WB_ERR_CONFIG, "odbc %s: chunk size 0",
				    cfg->label);
	p->qcols = calloc(cfg->nkeys, sizeof *p->qcols);
	if (p->qcols == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	struct wb_buf b;
	wb_buf_init(&b);
	int rc = 0;
	for (size_t c = 0; c < cfg->nkeys; c++) {
		if ((rc = quote_ident(&b, cfg->keys[c].name, cfg->quote,
				      err)) != 0)
			goto fail;
		if ((p->qcols[c] = take_string(&b)) == NULL)
			goto nomem;
	}
	if (cfg->schema != NULL && cfg->schema[0] != '\0') {
		if ((rc = quote_ident(&b, cfg->schema, cfg->quote, err)) != 0)
			goto fail;
		puts_(&b, ".");
	}
	if ((rc = quote_ident(&b, cfg->name, cfg->quote, err)) != 0)
		goto fail;
	if ((p->qtable = take_string(&b)) == NULL)
		goto nomem;
	for (size_t c = 0; c < cfg->nkeys; c++) {
		if (c > 0)
			puts_(&b, ", ");
		puts_(&b, p->qcols[c]);
	}
	if ((p->cols = take_string(&b)) == NULL)
		goto nomem;
	return 0;
nomem:
	rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
fail:
	wb_buf_free(&b);
	if (rc == WB_ERR_CONFIG)
		wb_error_prefix(err, "odbc %s", cfg->label);
	return rc;
}

static void pass_free(struct pass *p)
{
	if (p->st != SQL_NULL_HSTMT)
		SQLFreeHandle(SQL_HANDLE_STMT, p->st);
	for (size_t c = 0; p->qcols != NULL && c < p->cfg->nkeys; c++)
		free(p->qcols[c]);
	free(p->qcols);
	free(p->qtable);
	free(p->cols);
	wb_buf_free(&p->sql);
	wb_buf_free(&p->lo_scratch);
	wb_buf_free(&p->hi_scratch);
}

/* ---- SQL */

/* An integer key column as a 64-bit value: PostgreSQL's int2/int4 shift
 * as 32-bit values, so the column is widened first. */
static void int_col(struct pass *p, size_t c)
{
	if (p->dialect == D_PG) {
		puts_(&p->sql, "CAST(");
		puts_(&p->sql, p->qcols[c]);
		puts_(&p->sql, " AS bigint)");
	} else {
		puts_(&p->sql, p->qcols[c]);
	}
}

/* (x >> shift) & mask for integer key column c. */
static void int_bits(struct pass *p, size_t c, int shift, const char *mask)
{
	puts_(&p->sql, "((");
	int_col(p, c);
	char tail[48];
	snprintf(tail, sizeof tail, " >> %d) & %s)", shift, mask);
	puts_(&p->sql, tail);
}

/* Text key column c as UTF-8 (what the store holds, as the driver
 * delivers it), whatever the server's or the column's character set. */
static void utf8_text(struct pass *p, size_t c)
{
	switch (p->dialect) {
	case D_PG:
		puts_(&p->sql, "convert_to(CAST(");
		puts_(&p->sql, p->qcols[c]);
		puts_(&p->sql, " AS text), 'UTF8')");
		break;
	case D_MY:
		puts_(&p->sql, "CONVERT(");
		puts_(&p->sql, p->qcols[c]);
		puts_(&p->sql, " USING utf8mb4)");
		break;
	default:
		puts_(&p->sql, "CAST(");
		puts_(&p->sql, p->qcols[c]);
		puts_(&p->sql, " AS BLOB)");
		break;
	}
}

/* The length in bytes of text key column c in UTF-8. */
static void octet_length(struct pass *p, size_t c)
{
	puts_(&p->sql, p->dialect == D_PG ? "octet_length(" : "length(");
	utf8_text(p, c);
	puts_(&p->sql, ")");
}

/* s1, s2 (MIX) and s3 (MD5 / CRC32) as select-list items. */
static void sum_exprs(struct pass *p)
{
	const struct wb_odbc_deletes_cfg *cfg = p->cfg;
	/* s1: halves of integers, bytes of text */
	puts_(&p->sql, ", SUM(0");
	for (size_t c = 0; c < cfg->nkeys; c++) {
		if (cfg->keys[c].type == WB_ODBC_KEY_INT) {
			puts_(&p->sql, " + ");
			int_bits(p, c, 0, "4294967295");
			puts_(&p->sql, " + ");
			int_bits(p, c, 32, "4294967295");
		} else if (cfg->keys[c].type == WB_ODBC_KEY_TEXT) {
			puts_(&p->sql, " + ");
			octet_length(p, c);
		}
	}
	/* s2: (i + 1) * mix(v) per integer column */
	puts_(&p->sql, "), SUM(0");
	for (size_t c = 0; c < cfg->nkeys; c++) {
		if (cfg->keys[c].type != WB_ODBC_KEY_INT)
			continue;
		char f[32];
		snprintf(f, sizeof f, " + %zu * (((", c + 1);
		puts_(&p->sql, f);
		int_bits(p, c, 0, "65535");
		puts_(&p->sql, " * 40499 + ");
		int_bits(p, c, 16, "65535");
		puts_(&p->sql, ") * (");
		int_bits(p, c, 16, "65535");
		puts_(&p->sql, " * 40493 + ");
		int_bits(p, c, 32, "65535");
		puts_(&p->sql, " + 1)) % 4294967291 + ");
		int_bits(p, c, 48, "65535");
		puts_(&p->sql, " * ");
		int_bits(p, c, 48, "65535");
		puts_(&p->sql, ")");
	}
	puts_(&p->sql, ")");
	/* s3: T = "<bytes>:<text>" per column, hashed as UTF-8 bytes (an
	 * integer's decimal digits are the same in any character set) */
	if (p->kind == WB_ODBC_SUM_MD5) {
		puts_(&p->sql, ", SUM(('x' || substr(md5(convert_to(''");
		for (size_t c = 0; c < cfg->nkeys; c++) {
			enum wb_odbc_key_type t = cfg->keys[c].type;
			const char *q = p->qcols[c];
			if (t == WB_ODBC_KEY_DECIMAL) {
				puts_(&p->sql, " || '0:'");
			} else if (t == WB_ODBC_KEY_INT) {
				puts_(&p->sql, " || length(CAST(");
				puts_(&p->sql, q);
				puts_(&p->sql,
				      " AS text))::text || ':' || CAST(");
				puts_(&p->sql, q);
				puts_(&p->sql, " AS text)");
			} else {
				puts_(&p->sql, " || ");
				octet_length(p, c);
				puts_(&p->sql, "::text || ':' || CAST(");
				puts_(&p->sql, q);
				puts_(&p->sql, " AS text)");
			}
		}
		puts_(&p->sql, ", 'UTF8')), 1, 8))::bit(32)::bigint)");
	} else if (p->kind == WB_ODBC_SUM_CRC32) {
		puts_(&p->sql, ", SUM(CRC32(CONCAT(''");
		for (size_t c = 0; c < cfg->nkeys; c++) {
			enum wb_odbc_key_type t = cfg->keys[c].type;
			if (t == WB_ODBC_KEY_DECIMAL) {
				puts_(&p->sql, ", '0:'");
			} else if (t == WB_ODBC_KEY_INT) {
				puts_(&p->sql, ", LENGTH(");
				puts_(&p->sql, p->qcols[c]);
				puts_(&p->sql, "), ':', ");
				puts_(&p->sql, p->qcols[c]);
			} else {
				puts_(&p->sql, ", ");
				octet_length(p, c);
				puts_(&p->sql, ", ':', ");
				utf8_text(p, c);
			}
		}
		puts_(&p->sql, ")))");
	}
}

/* Records that the next parameter takes column c of a side's bound. */
static void param(struct pass *p, size_t c, int side, int8_t *param_col,
		  int8_t *param_side)
{
	param_col[p->nparams] = (int8_t)c;
	param_side[p->nparams++] = (int8_t)side;
}

/* One side of a range as SQL: for lower bounds (op ">"), the tuple is
 * above (or, inclusive, at) L; upper bounds (op "<") are exclusive.
 * PostgreSQL and SQLite compare row values, (c1, c2) >= (?, ?), which
 * their B-trees scan as one index range. Elsewhere the comparison is
 * spelt out, (c1 > ?) OR (c1 = ? AND c2 >= ?), and preceded by the
 * redundant c1 >= ? so that an index on the key serves at least the range
 * of its first column (a comparison of row values is not standard SQL and
 * not every optimizer uses an index for the OR form). */
static void bound_sql(struct pass *p, const char *op, bool inclusive, int side,
		      int8_t *param_col, int8_t *param_side)
{
	size_t n = p->cfg->nkeys;
	const char *eq = inclusive ? "=" : "";
	if (n == 1 || p->dialect == D_PG || p->dialect == D_SQLITE) {
		puts_(&p->sql, n > 1 ? "(" : "");
		for (size_t j = 0; j < n; j++) {
			puts_(&p->sql, j > 0 ? ", " : "");
			puts_(&p->sql, p->qcols[j]);
		}
		puts_(&p->sql, n > 1 ? ") " : " ");
		puts_(&p->sql, op);
		puts_(&p->sql, eq);
		puts_(&p->sql, n > 1 ? " (" : " ");
		for (size_t j = 0; j < n; j++) {
			puts_(&p->sql, j > 0 ? ", ?" : "?");
			param(p, j, side, param_col, param_side);
		}
		puts_(&p->sql, n > 1 ? ")" : "");
		return;
	}
	puts_(&p->sql, p->qcols[0]);
	puts_(&p->sql, " ");
	puts_(&p->sql, op);
	puts_(&p->sql, "= ? AND (");
	param(p, 0, side, param_col, param_side);
	for (size_t j = 0; j < n; j++) {
		if (j > 0)
			puts_(&p->sql, " OR ");
		puts_(&p->sql, "(");
		for (size_t m = 0; m < j; m++) {
			puts_(&p->sql, p->qcols[m]);
			puts_(&p->sql, " = ? AND ");
			param(p, m, side, param_col, param_side);
		}
		puts_(&p->sql, p->qcols[j]);
		puts_(&p->sql, " ");
		puts_(&p->sql, op);
		puts_(&p->sql, j == n - 1 ? eq : "");
		puts_(&p->sql, " ?)");
		param(p, j, side, param_col, param_side);
	}
	puts_(&p->sql, ")");
}

/* Decodes a bound (NULL: none) into the side's values. */
static int set_bound(struct pass *p, int side, const uint8_t *key, size_t len,
		     wb_error_t *err)
{
	if (key == NULL)
		return 0;
	struct wb_odbc_key_val *vals = side == 0 ? p->lo_vals : p->hi_vals;
	struct wb_buf *scratch = side == 0 ? &p->lo_scratch : &p->hi_scratch;
	size_t n = 0;
	int rc = wb_odbc_key_decode(key, len, vals, WB_ODBC_KEY_MAX_COLS, &n,
				    scratch, err);
	if (rc != 0)
		return rc;
	for (size_t c = 0; c < p->cfg->nkeys; c++)
		if (c >= n || vals[c].type != p->cfg->keys[c].type)
			return wb_error_set(err, WB_ERR_DECODE,
					    "odbc %s: a stored key does not "
					    "have the key columns' types",
					    p->cfg->label);
	return 0;
}

/* Prepares p->sql on a fresh statement and binds the parameters. */
static int prepare_bind(struct pass *p, const int8_t *param_col,
			const int8_t *param_side, uint64_t max_rows,
			wb_error_t *err)
{
	/* NUL-terminated as well as counted: psqlODBC runs strlen() on the
	 * text whatever length it is given. */
	wb_buf_append(&p->sql, "", 1);
	if (p->sql.failed)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	if (p->st != SQL_NULL_HSTMT) {
		SQLFreeHandle(SQL_HANDLE_STMT, p->st);
		p->st = SQL_NULL_HSTMT;
	}
	if (!SQL_SUCCEEDED(
		    SQLAllocHandle(SQL_HANDLE_STMT, p->cfg->dbc, &p->st))) {
		p->st = SQL_NULL_HSTMT;
		return odbc_error(p, SQL_HANDLE_DBC, p->cfg->dbc, err,
				  "SQLAllocHandle");
	}
	/* A driver without SQL_ATTR_MAX_ROWS returns the whole range: still
	 * correct (the merge takes every row), only not paged. */
	if (max_rows > 0)
		SQLSetStmtAttr(p->st, SQL_ATTR_MAX_ROWS,
			       (SQLPOINTER)(uintptr_t)max_rows, 0);
	/* Drivers that ignore it are the watchdog's (SQLCancelHandle). */
	if (p->cfg->query_timeout > 0)
		SQLSetStmtAttr(p->st, SQL_ATTR_QUERY_TIMEOUT,
			       (SQLPOINTER)(uintptr_t)p->cfg->query_timeout, 0);
	if (!SQL_SUCCEEDED(SQLPrepare(p->st, p->sql.data, SQL_NTS)))
		return odbc_error(p, SQL_HANDLE_STMT, p->st, err, "SQLPrepare");
	for (SQLUSMALLINT i = 0; i < p->nparams; i++) {
		struct wb_odbc_key_val *v = param_side[i] == 0
						    ? &p->lo_vals[param_col[i]]
						    : &p->hi_vals[param_col[i]];
		SQLRETURN r;
		if (v->type == WB_ODBC_KEY_INT) {
			p->ind[i] = 0;
			r = SQLBindParameter(p->st, (SQLUSMALLINT)(i + 1),
					     SQL_PARAM_INPUT, SQL_C_SBIGINT,
					     SQL_BIGINT, 0, 0, &v->i, 0,
					     &p->ind[i]);
		} else {
			SQLSMALLINT scale = 0;
			const char *dot = v->type == WB_ODBC_KEY_DECIMAL
						  ? memchr(v->s, '.', v->len)
						  : NULL;
			if (dot != NULL)
				scale = (SQLSMALLINT)(v->s + v->len - dot - 1);
			p->ind[i] = (SQLLEN)v->len;
			r = SQLBindParameter(
				p->st, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT,
				SQL_C_CHAR,
				v->type == WB_ODBC_KEY_DECIMAL ? SQL_DECIMAL
							       : SQL_VARCHAR,
				v->len > 0 ? v->len : 1, scale,
				(SQLPOINTER)v->s, (SQLLEN)v->len, &p->ind[i]);
		}
		if (!SQL_SUCCEEDED(r))
			return odbc_error(p, SQL_HANDLE_STMT, p->st, err,
					  "SQLBindParameter");
	}
	return 0;
}

/* Builds "WHERE <lo> AND <hi>" (either may be absent). lo_inclusive:
 * ">=" for the chunk's start, ">" after a page's last key. */
static void where_sql(struct pass *p, bool has_lo, bool lo_inclusive,
		      bool has_hi, int8_t *param_col, int8_t *param_side)
{
	p->nparams = 0;
	if (!has_lo && !has_hi)
		return;
	puts_(&p->sql, " WHERE ");
	if (has_lo)
		bound_sql(p, ">", lo_inclusive, 0, param_col, param_side);
	if (has_lo && has_hi)
		puts_(&p->sql, " AND ");
	if (has_hi)
		bound_sql(p, "<", false, 1, param_col, param_side);
}

/* Parses a non-negative integer (COUNT or SUM as text) modulo 2^64. */
static int parse_sum(const char *s, SQLLEN ind, uint64_t *out)
{
	*out = 0;
	if (ind == SQL_NULL_DATA)
		return 0; /* SUM over no rows */
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s == '.') {
			/* "123.0" or "123.00": only zeros may follow */
			for (s++; *s; s++)
				if (*s != '0')
					return -1;
			return 0;
		}
		if (*s < '0' || *s > '9')
			return -1;
		*out = *out * 10 + (uint64_t)(*s - '0');
	}
	return 0;
}

/* COUNT and checksums of [lo, hi) in the database. */
static int db_sum(struct pass *p, const uint8_t *lo, size_t lo_len,
		  const uint8_t *hi, size_t hi_len, struct wb_odbc_sum *sum,
		  wb_error_t *err)
{
	int8_t pc[2 * WB_ODBC_KEY_MAX_COLS * (WB_ODBC_KEY_MAX_COLS + 1)],
		ps[sizeof pc];
	int rc;
	memset(sum, 0, sizeof *sum);
	if ((rc = set_bound(p, 0, lo, lo_len, err)) != 0 ||
	    (rc = set_bound(p, 1, hi, hi_len, err)) != 0)
		return rc;
	wb_buf_reset(&p->sql);
	puts_(&p->sql, "SELECT COUNT(*)");
	if (p->kind != WB_ODBC_SUM_COUNT)
		sum_exprs(p);
	puts_(&p->sql, " FROM ");
	puts_(&p->sql, p->qtable);
	where_sql(p, lo != NULL, true, hi != NULL, pc, ps);
	if ((rc = prepare_bind(p, pc, ps, 0, err)) != 0)
		return rc;
	if (!SQL_SUCCEEDED(SQLExecute(p->st)))
		return odbc_error(p, SQL_HANDLE_STMT, p->st, err,
				  "chunk checksum");
	if (!SQL_SUCCEEDED(SQLFetch(p->st)))
		return odbc_error(p, SQL_HANDLE_STMT, p->st, err,
				  "chunk checksum fetch");
	int ncols = p->kind == WB_ODBC_SUM_COUNT ? 1
		    : p->kind == WB_ODBC_SUM_MIX ? 3
						 : 4;
	uint64_t *outs[4] = {&sum->count, &sum->s1, &sum->s2, &sum->s3};
	for (int c = 0; c < ncols; c++) {
		char text[64];
		SQLLEN ind = 0;
		if (!SQL_SUCCEEDED(SQLGetData(p->st, (SQLUSMALLINT)(c + 1),
					      SQL_C_CHAR, text, sizeof text,
					      &ind)))
			return odbc_error(p, SQL_HANDLE_STMT, p->st, err,
					  "chunk checksum value");
		if (parse_sum(text, ind, outs[c]) != 0)
			return wb_error_set(err, WB_ERR_CONNECT,
					    "odbc %s: delete detection: "
					    "checksum column %d is '%s', not a "
					    "non-negative integer",
					    p->cfg->label, c + 1, text);
	}
	SQLCloseCursor(p->st);
	return 0;
}

/* Reads one key row of the current result into vals (text into scratch). */
static int read_key_row(struct pass *p, struct wb_odbc_key_val *vals,
			struct wb_buf *scratch, wb_error_t *err)
{
	size_t offs[WB_ODBC_KEY_MAX_COLS];
	wb_buf_reset(scratch);
	for (size_t c = 0; c < p->cfg->nkeys; c++) {
		SQLUSMALLINT col = (SQLUSMALLINT)(c + 1);
		SQLLEN ind = 0;
		vals[c].type = p->cfg->keys[c].type;
		if (vals[c].type == WB_ODBC_KEY_INT) {
			if (!SQL_SUCCEEDED(SQLGetData(p->st, col, SQL_C_SBIGINT,
						      &vals[c].i, 0, &ind)))
				return odbc_error(p, SQL_HANDLE_STMT, p->st,
						  err, "reading a key");
		} else {
			offs[c] = scratch->len;
			for (;;) {
				if (wb_buf_reserve(scratch, 256) != 0)
					return wb_error_set(err, WB_ERR_NOMEM,
							    "out of memory");
				SQLLEN room =
					(SQLLEN)(scratch->cap - scratch->len);
				SQLRETURN r =
					SQLGetData(p->st, col, SQL_C_CHAR,
						   scratch->data + scratch->len,
						   room, &ind);
				if (r == SQL_NO_DATA)
					break;
				if (!SQL_SUCCEEDED(r))
					return odbc_error(p, SQL_HANDLE_STMT,
							  p->st, err,
							  "reading a key");
				if (ind == SQL_NULL_DATA)
					break;
				/* Truncated: the buffer is full but for
				 * the terminator; ask for the rest. */
				if (ind == SQL_NO_TOTAL || ind >= room) {
					scratch->len += (size_t)room - 1;
					continue;
				}
				scratch->len += (size_t)ind;
				break;
			}
			vals[c].len = scratch->len - offs[c];
		}
		if (ind == SQL_NULL_DATA)
			return wb_error_set(err, WB_ERR_TYPE,
					    "odbc %s: key column %s is NULL in "
					    "a row: keyset delete detection "
					    "needs a non-null key",
					    p->cfg->label,
					    p->cfg->keys[c].name);
	}
	for (size_t c = 0; c < p->cfg->nkeys; c++)
		if (vals[c].type != WB_ODBC_KEY_INT)
			vals[c].s = (const char *)scratch->data + offs[c];
	return 0;
}

/* A stored key missing from the database, kept until the chunk's merge
 * is done. */
struct missing {
	uint8_t *key, *image;
	size_t key_len, image_len;
};

static int add_missing(struct missing **list, size_t *n, size_t *cap,
		       const uint8_t *key, size_t key_len, const uint8_t *image,
		       size_t image_len)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		struct missing *l = realloc(*list, nc * sizeof *l);
		if (l == NULL)
			return -1;
		*list = l;
		*cap = nc;
	}
	struct missing *m = &(*list)[*n];
	m->key = malloc(key_len);
	m->image = malloc(image_len ? image_len : 1);
	if (m->key == NULL || m->image == NULL) {
		free(m->key);
		free(m->image);
		return -1;
	}
	memcpy(m->key, key, key_len);
	if (image_len)
		memcpy(m->image, image, image_len);
	m->key_len = key_len;
	m->image_len = image_len;
	(*n)++;
	return 0;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Reads the database's keys of [lo, hi) in pages and merges them with the
 * stored ones; reports the stored keys the database lacks. */
static int merge_chunk(struct pass *p, const uint8_t *lo, size_t lo_len,
		       const uint8_t *hi, size_t hi_len,
		       struct wb_odbc_deletes_stats *stats, wb_error_t *err)
{
	const struct wb_odbc_deletes_cfg *cfg = p->cfg;
	int8_t pc[2 * WB_ODBC_KEY_MAX_COLS * (WB_ODBC_KEY_MAX_COLS + 1)],
		ps[sizeof pc];
	struct wb_odbc_key_val vals[WB_ODBC_KEY_MAX_COLS];
	struct wb_buf scratch, dbkey, last;
	struct missing *miss = NULL;
	size_t nmiss = 0, capmiss = 0;
	const uint8_t *sk = NULL, *si = NULL;
	size_t skl = 0, sil = 0;
	bool has = false, first_page = true, have_last = false;
	int rc;
	wb_buf_init(&scratch);
	wb_buf_init(&dbkey);
	wb_buf_init(&last);
	struct wb_odbc_keys_iter *it = wb_odbc_keys_iter_open(
		cfg->store, cfg->label, lo, lo_len, hi, hi_len, err);
	if (it == NULL) {
		rc = err->code ? err->code : WB_ERR_IO;
		goto out;
	}
	if ((rc = wb_odbc_keys_iter_next(it, &sk, &skl, &si, &sil, &has,
					 err)) != 0)
		goto out;
	for (;;) {
		/* One page: after the chunk start (first) or the last key. */
		const uint8_t *from = first_page ? lo : last.data;
		size_t from_len = first_page ? lo_len : last.len;
		if ((rc = set_bound(p, 0, from, from_len, err)) != 0 ||
		    (rc = set_bound(p, 1, hi, hi_len, err)) != 0)
			goto out;
		wb_buf_reset(&p->sql);
		puts_(&p->sql, "SELECT ");
		puts_(&p->sql, p->cols);
		puts_(&p->sql, " FROM ");
		puts_(&p->sql, p->qtable);
		where_sql(p, from != NULL, first_page, hi != NULL, pc, ps);
		puts_(&p->sql, " ORDER BY ");
		puts_(&p->sql, p->cols);
		if ((rc = prepare_bind(p, pc, ps, cfg->chunk, err)) != 0)
			goto out;
		if (!SQL_SUCCEEDED(SQLExecute(p->st))) {
			rc = odbc_error(p, SQL_HANDLE_STMT, p->st, err,
					"reading keys");
			goto out;
		}
		uint64_t rows = 0;
		SQLRETURN r;
		stats->pages++;
		while ((r = SQLFetch(p->st)) != SQL_NO_DATA) {
			if (!SQL_SUCCEEDED(r)) {
				rc = odbc_error(p, SQL_HANDLE_STMT, p->st, err,
						"fetching keys");
				goto out;
			}
			rows++;
			stats->rows_read++;
			if ((rc = read_key_row(p, vals, &scratch, err)) != 0)
				goto out;
			wb_buf_reset(&dbkey);
			if ((rc = wb_odbc_key_encode(vals, cfg->nkeys, &dbkey,
						     err)) != 0)
				goto out;
			if (have_last && key_cmp(dbkey.data, dbkey.len,
						 last.data, last.len) <= 0) {
				char a[128], b[128];
				wb_odbc_key_format(last.data, last.len, a,
						   sizeof a);
				wb_odbc_key_format(dbkey.data, dbkey.len, b,
						   sizeof b);
				rc = wb_error_set(
					err, WB_ERR_CONFIG,
					"odbc %s: the database orders key %s "
					"after %s: keyset delete detection "
					"needs keys ordered as bytes (a binary "
					"or \"C\" collation on text key "
					"columns)",
					cfg->label, b, a);
				goto out;
			}
			wb_buf_reset(&last);
			wb_buf_append(&last, dbkey.data, dbkey.len);
			have_last = true;
			/* Stored keys below this one are gone. */
			while (has &&
			       key_cmp(sk, skl, dbkey.data, dbkey.len) < 0) {
				if (add_missing(&miss, &nmiss, &capmiss, sk,
						skl, si, sil) != 0) {
					rc = wb_error_set(err, WB_ERR_NOMEM,
							  "out of memory");
					goto out;
				}
				if ((rc = wb_odbc_keys_iter_next(
					     it, &sk, &skl, &si, &sil, &has,
					     err)) != 0)
					goto out;
			}
			if (has &&
			    key_cmp(sk, skl, dbkey.data, dbkey.len) == 0 &&
			    (rc = wb_odbc_keys_iter_next(it, &sk, &skl, &si,
							 &sil, &has, err)) != 0)
				goto out;
			/* else: a row not emitted yet, not ours to report */
		}
		if (last.failed || dbkey.failed) {
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto out;
		}
		SQLCloseCursor(p->st);
		first_page = false;
		if (rows < cfg->chunk || !have_last)
			break;
	}
	/* Stored keys past the database's last key of the range are gone. */
	while (has) {
		if (add_missing(&miss, &nmiss, &capmiss, sk, skl, si, sil) !=
		    0) {
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = wb_odbc_keys_iter_next(it, &sk, &skl, &si, &sil, &has,
						 err)) != 0)
			goto out;
	}
	/* The callback may write to the store: the iterator is closed. */
	wb_odbc_keys_iter_close(it);
	it = NULL;
	for (size_t i = 0; i < nmiss; i++) {
		stats->deleted++;
		if ((rc = cfg->on_deleted(cfg->arg, cfg->label, miss[i].key,
					  miss[i].key_len, miss[i].image,
					  miss[i].image_len, err)) != 0)
			goto out;
	}
out:
	wb_odbc_keys_iter_close(it);
	for (size_t i = 0; i < nmiss; i++) {
		free(miss[i].key);
		free(miss[i].image);
	}
	free(miss);
	wb_buf_free(&scratch);
	wb_buf_free(&dbkey);
	wb_buf_free(&last);
	return rc;
}

int wb_odbc_deletes_run(const struct wb_odbc_deletes_cfg *cfg,
			struct wb_odbc_deletes_stats *stats, wb_error_t *err)
{
	struct pass p;
	struct wb_buf lo, hi;
	bool has_lo = false;
	wb_error_t local = {0};
	if (err == NULL)
		err = &local; /* the helpers below fill it unconditionally */
	memset(stats, 0, sizeof *stats);
	wb_buf_init(&lo);
	wb_buf_init(&hi);
	int rc = pass_init(&p, cfg, err);
	if (rc != 0)
		goto out;
	for (;;) {
		bool has_hi = false;
		struct wb_odbc_sum mine, theirs;
		if (wb_stop_requested)
			goto out;
		if ((rc = wb_odbc_keys_nth(cfg->store, cfg->label,
					   has_lo ? lo.data : NULL, lo.len,
					   cfg->chunk, &hi, &has_hi, err)) != 0)
			goto out;
		const uint8_t *lop = has_lo ? lo.data : NULL;
		const uint8_t *hip = has_hi ? hi.data : NULL;
		if ((rc = wb_odbc_keys_range_sum(cfg->store, cfg->label, lop,
						 lo.len, hip, hi.len, p.kind,
						 &mine, err)) != 0 ||
		    (rc = db_sum(&p, lop, lo.len, hip, hi.len, &theirs, err)) !=
			    0)
			goto out;
		stats->chunks++;
		if (memcmp(&mine, &theirs, sizeof mine) != 0) {
			stats->chunks_differing++;
			if ((rc = merge_chunk(&p, lop, lo.len, hip, hi.len,
					      stats, err)) != 0)
				goto out;
		}
		if (!has_hi) {
			stats->complete = true;
			break;
		}
		wb_buf_reset(&lo);
		wb_buf_append(&lo, hi.data, hi.len);
		if (lo.failed) {
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto out;
		}
		has_lo = true;
	}
out:
	pass_free(&p);
	wb_buf_free(&lo);
	wb_buf_free(&hi);
	return rc;
}
