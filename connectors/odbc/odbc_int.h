/* odbc_int.h — the ODBC polling source's state, shared by its files:
 * odbc_conn.c (connecting, driver facts, diagnostics, quoting, the
 * database clock, the query watchdog), odbc_fetch.c (column types, the
 * column-wise array fetch, cells to values), odbc_source.c (ops, the poll
 * loop, positions, checkpoint state), odbc_snapshot.c (the initial load
 * through src/snapshot), odbc_check.c (check, status, describe, sample).
 *
 * What a delete scanner needs is here too: the connection handle and the
 * driver's facts (struct wb_odbc_conn: dbc, quote, dbms), each table's key
 * columns and types (struct wb_odbc_tab: keycols, cols, table), and
 * wb_odbc_emit_delete() to emit one op 'd' change with a before image. */
#ifndef WB_ODBC_INT_H
#define WB_ODBC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sql.h>
#include <sqlext.h>

#include "change.h"
#include "config.h"
#include "error.h"
#include "odbc_seen.h"
#include "snapshot.h"
#include "snapshot_request.h"
#include "source.h"

struct wb_tz;

extern const struct wb_source_ops wb_odbc_source_ops;

/* A round's COMMIT ordinal: positions are (round, row ordinal). */
#define WB_ODBC_END UINT64_MAX
/* Longest text of a tracking or key value kept for binding back. */
#define WB_ODBC_TEXT_MAX 128
/* Most columns a table's order (tracking + tie-break) may have. */
#define WB_ODBC_ORD_MAX 8

/* ------------------------------------------------------------ connection */

struct wb_odbc_conn {
	SQLHENV env;
	SQLHDBC dbc;   /* NULL while not connected */
	char quote[4]; /* SQL_IDENTIFIER_QUOTE_CHAR; "" when unsupported */
	char dbms[64]; /* SQL_DBMS_NAME */
	char dbms_ver[64];
	char driver[128]; /* SQL_DRIVER_NAME */
	int64_t query_timeout_ms;
	/* the watchdog: SQLCancel on a statement past its deadline */
	pthread_t wd;
	bool wd_started;
	pthread_mutex_t wd_mu;
	pthread_cond_t wd_cv;
	SQLHSTMT wd_stmt;
	long long wd_deadline; /* monotonic ms; 0: idle */
	bool wd_stop;
	atomic_bool wd_fired;
};

/* Connects with cfg's connection string (${VAR} expanded here, never
 * logged), the login timeout set, and reads the driver's facts; starts
 * the watchdog. Errors: WB_ERR_CONNECT, retriable unless the driver
 * cannot be loaded or the login is refused. */
int wb_odbc_connect(struct wb_odbc_conn *c, const struct wb_config *cfg,
		    wb_error_t *err);
/* Disconnects and frees the handles; the watchdog stops. Accepts a
 * connection that never connected. */
void wb_odbc_disconnect(struct wb_odbc_conn *c);

/* Fills err from the diagnostics of handle h (type t): "what: SQLSTATE
 * message" (the connection string never appears). retriable unless the
 * SQLSTATE is of an authentication, privilege, syntax or missing-object
 * class. Returns err->code (WB_ERR_RUNTIME or WB_ERR_CONNECT). */
int wb_odbc_diag(SQLSMALLINT t, SQLHANDLE h, const char *what, wb_error_t *err);

/* Quotes one identifier with the driver's quote character (the character
 * doubled inside). Without one, an identifier that is not a plain
 * [A-Za-z_][A-Za-z0-9_]* is an error (WB_ERR_CONFIG). malloc'd. */
char *wb_odbc_quote(const struct wb_odbc_conn *c, const char *ident,
		    wb_error_t *err);

/* odbc_source.c: the value of table t's horizon query into t->hz (a
 * timestamp cut to ts_digits fractional digits, or an integer in mode
 * incrementing) and, if value is not NULL, as a number (microseconds, or
 * the integer); NULL or another kind of value is an error. */
struct wb_odbc_source;
struct wb_odbc_tab;
int wb_odbc_real_horizon(struct wb_odbc_source *s, struct wb_odbc_tab *t,
			 int ts_digits, int64_t *value, wb_error_t *err);
/* odbc_source.c: the start of the look-back window behind t's watermark:
 * wm_track less lookback_ids (mode incrementing) or lookback_ms in
 * microseconds, INT64_MIN when that would be below the type's range. */
struct wb_odbc_tab;
int64_t wb_odbc_lookback_from(const struct wb_odbc_tab *t);

/* odbc_source.c: a tracking value's text (as the database prints it) as a
 * number: wall-clock microseconds of a timestamp, or the integer. */
int64_t wb_odbc_track_of(const struct wb_odbc_tab *t, const char *text);

/* odbc_source.c: the look-back set's hashes of row `row` of r's rowset:
 * the key's (the row's when the table has no key) and the whole row's,
 * over cells 0 .. t->ncols - 1 as fetched (a poll and the initial load
 * select the table's columns alike), with hash algorithm alg. */
struct wb_odbc_reader;
void wb_odbc_row_hashes(const struct wb_odbc_tab *t,
			const struct wb_odbc_reader *r, SQLULEN row,
			enum wb_odbc_hash_alg alg, uint64_t *kh, uint64_t *rh);

/* Marks the integer columns of r (open) whose text the driver gives as
 * exactly the decimal of the integer (psqlODBC's int2, int4 and int8: the
 * server's output), and the timestamps whose text is the server's ISO
 * form (psqlODBC's `timestamp`, without zone): int_text_decimal, ts_text. */
void wb_odbc_mark_text_forms(struct wb_odbc_reader *r);

/* Runs sql, which must return a row, and reads its first column as text
 * into text (cap bytes; a longer value is an error); *null when it is
 * NULL. what names the query in errors. */
int wb_odbc_scalar(struct wb_odbc_conn *c, const char *sql, const char *what,
		   char *text, size_t cap, bool *null, wb_error_t *err);

/* The database's own clock as wall-clock microseconds (see odbc_conn.c
 * for the query per DBMS). */
int wb_odbc_db_now(struct wb_odbc_conn *c, int64_t *us, wb_error_t *err);

/* Watchdog: a statement call begins (deadline = now + query timeout) or
 * ends. */
void wb_odbc_watch(struct wb_odbc_conn *c, SQLHSTMT st);
void wb_odbc_unwatch(struct wb_odbc_conn *c);

/* ------------------------------------------------------------- fetching */

/* How a column is fetched (the C type asked of the driver). */
enum wb_odbc_fetch {
	WB_ODBC_F_BIT,	  /* SQL_C_BIT → boolean */
	WB_ODBC_F_I64,	  /* SQL_C_SBIGINT → int / long */
	WB_ODBC_F_DOUBLE, /* SQL_C_DOUBLE → double */
	WB_ODBC_F_FLOAT,  /* SQL_C_FLOAT → float */
	WB_ODBC_F_DEC,	  /* SQL_C_CHAR text → decimal (exact) */
	WB_ODBC_F_WTEXT,  /* SQL_C_WCHAR (UTF-16) → string (UTF-8) */
	WB_ODBC_F_BIN,	  /* SQL_C_BINARY → bytes */
	WB_ODBC_F_DATE,	  /* SQL_C_TYPE_DATE → date */
	WB_ODBC_F_TIME,	  /* SQL_C_CHAR "hh:mm:ss[.f]" → time-micros */
	WB_ODBC_F_TS,	  /* SQL_C_TYPE_TIMESTAMP → timestamp-micros */
	WB_ODBC_F_TEXT,	  /* SQL_C_CHAR: a tracking/key value's text */
};

/* One column of a result set as the driver describes it. */
struct wb_odbc_col {
	char *name; /* UTF-8 */
	SQLSMALLINT sqltype;
	SQLULEN size;
	SQLSMALLINT digits;
	bool nullable;
	bool is_unsigned;
	bool unknown; /* a type with no mapping: its text, logged once */
	enum wb_odbc_fetch fetch;
	struct wb_type type; /* its Avro side */
	bool long_data;	     /* no small fixed bound */
	SQLLEN elem;	     /* bytes per row in the bound array */
	/* a long column bound with a bounded buffer (reader opened with
	 * long_chars): a value that does not fit makes the fetch return
	 * WB_ODBC_LONG_VALUE */
	bool trunc_check;
	/* bound: the most bytes a cell of variable length holds (its
	 * buffer less the terminator); -1 for fixed-size C types */
	SQLLEN cell_max;
	/* the driver's text of it is the decimal of its integer, exactly
	 * (wb_odbc_int_text_is_decimal) */
	bool int_text_decimal;
	/* a timestamp without zone whose text the server gives in ISO form
	 * (psqlODBC's `timestamp`): a poll may select it cast to varchar
	 * and parse it (WB_ODBC_TS_TEXT) */
	bool ts_text;
	/* this reader fetches it as SQL_C_CHAR text (text_elem bytes a row)
	 * and parses it into the SQL_TIMESTAMP_STRUCT the typed fetch
	 * gives */
	bool as_text;
	SQLLEN text_elem;
};

/* A statement being read: its columns, the bound arrays, the rows of
 * the current rowset. */
struct wb_odbc_reader {
	struct wb_odbc_conn *conn;
	SQLHSTMT st;
	int ncols;
	struct wb_odbc_col *cols;
	bool bound;	 /* column-wise arrays; else SQLGetData per row */
	SQLULEN rowset;	 /* SQL_ATTR_ROW_ARRAY_SIZE */
	SQLULEN fetched; /* SQL_ATTR_ROWS_FETCHED_PTR */
	SQLULEN cur;	 /* next row of the rowset */
	uint8_t **buf;	 /* per column: rowset * elem bytes */
	uint8_t **tbuf;	 /* as_text columns: rowset * text_elem bytes */
	SQLLEN **ind;	 /* per column: rowset indicators */
	uint8_t **gd;	 /* unbound: per column, the value read */
	size_t *gdcap;	 /* its capacity */
	SQLLEN *gdlen;	 /* its length or SQL_NULL_DATA */
	uint64_t rows;	 /* rows read */
	/* parameters: text values bound as SQL_C_CHAR */
	char (*ptext)[WB_ODBC_TEXT_MAX];
	SQLLEN *pind;
	int nparams;
	/* rowsets read ahead (wb_odbc_reader_pack), replayed by
	 * wb_odbc_reader_next before anything more is fetched: per rowset
	 * its row count, then per column its cell size, indicators and
	 * cells (lengths as wb_odbc_reader_cell_at gives them), 8-aligned */
	uint8_t *pk;
	size_t pklen, pkcap, pkoff;
	size_t pk_last;	   /* where the last packed rowset starts */
	uint64_t pk_rows;  /* rows packed */
	bool pk_restart;   /* the next row is the first packed one */
	bool replay;	   /* buf, ind, elem and cell_max point into pk */
	int pk_end;	   /* what follows the packed rows: 0, -1 or a code */
	wb_error_t pk_err; /* its error */
	bool pk_whole;	   /* the result ends with the packed rows */
	uint8_t **own_buf; /* the bound arrays while replaying */
	SQLLEN **own_ind;
	SQLLEN *own_elem, *own_cell_max;
};

/* A bound parameter: its text and the SQL type of what it compares
 * with. */
struct wb_odbc_param {
	const char *text;
	const struct wb_odbc_col *like;
};

/* Executes sql (UTF-8) with params, describes the result and binds it
 * for column-wise array fetch of up to rowset rows (a result with a
 * column of no fixed bound is read one row at a time with SQLGetData).
 * text_from: columns at or after this index are fetched as
 * WB_ODBC_F_TEXT (the order columns' copies). */
int wb_odbc_reader_open(struct wb_odbc_reader *r, struct wb_odbc_conn *c,
			const char *sql, const struct wb_odbc_param *params,
			int nparams, int rowset, int text_from,
			wb_error_t *err);
/* The same, binding long text and binary columns too, with buffers of
 * long_chars characters (bytes for binary), instead of reading every row
 * with SQLGetData: array fetches for tables whose text columns the driver
 * reports as long (psqlODBC's `text`) but whose values are short. A value
 * that does not fit makes wb_odbc_reader_next() return WB_ODBC_LONG_VALUE
 * (err says which column): the caller drops what it read of the result
 * and reads it again with wb_odbc_reader_open(). */
#define WB_ODBC_LONG_VALUE (-2)
/* typed (NULL, or an array of at least the result's first n columns, the
 * table's own): a column i < n with typed[i].ts_text is taken to be
 * that timestamp selected as text (CAST(c AS varchar)); it is described
 * as typed[i] is, fetched as SQL_C_CHAR and parsed with wb_odbc_text_ts
 * into the SQL_TIMESTAMP_STRUCT the typed fetch gives (the same cells,
 * the same look-back hashes) — psqlODBC parses a timestamp with sscanf
 * for any C type, a text it only copies. A value not in that form (BC,
 * infinity, a year past 9999) makes wb_odbc_reader_next() return
 * WB_ODBC_NOT_CANONICAL (err names the column): the caller drops what it
 * read of the result and reads it again without the cast. */
#define WB_ODBC_NOT_CANONICAL (-3)
int wb_odbc_reader_open_bounded(struct wb_odbc_reader *r,
				struct wb_odbc_conn *c, const char *sql,
				const struct wb_odbc_param *params, int nparams,
				int rowset, int text_from, int long_chars,
				const struct wb_odbc_col *typed, int n,
				wb_error_t *err);
/* "yyyy-mm-dd hh:mm:ss[.f]" (1 to 9 fraction digits), exactly the whole
 * of s[0..n), a day that exists, years 1 to 9999, into ts (fraction in
 * nanoseconds); false for anything else (zones, BC, infinity, blanks). */
bool wb_odbc_text_ts(const char *s, size_t n, SQL_TIMESTAMP_STRUCT *ts);
/* The next row: 1 (row ready), 0 (end of result), -1 (err filled). */
int wb_odbc_reader_next(struct wb_odbc_reader *r, wb_error_t *err);
/* Reads r's result ahead, rowset by rowset, into memory of its own (the
 * cells' used bytes only), until its end or until max_bytes are held;
 * wb_odbc_reader_next() then gives the same rows, codes and errors as it
 * would have read them directly (a failure met while reading ahead is
 * returned where it happened). *whole: the result ended within
 * max_bytes; its statement is then freed, so the connection may run
 * another one while the rows are replayed. r must be bound, opened and
 * not yet read. WB_ERR_NOMEM, or 0. */
int wb_odbc_reader_pack(struct wb_odbc_reader *r, size_t max_bytes, bool *whole,
			wb_error_t *err);
/* The order of rows read ahead: the cells of the last packed row are
 * made current (wb_odbc_reader_cell) until the next
 * wb_odbc_reader_next(), which starts from the first row again. False
 * when nothing is packed. */
bool wb_odbc_reader_peek_last(struct wb_odbc_reader *r);
/* Column i of the current row: its bytes (*len, or SQL_NULL_DATA). */
const uint8_t *wb_odbc_reader_cell(const struct wb_odbc_reader *r, int i,
				   SQLLEN *len);
/* The same for row k (< r->fetched) of the current rowset; the current
 * row when the reader is not bound. */
const uint8_t *wb_odbc_reader_cell_at(const struct wb_odbc_reader *r, int i,
				      SQLULEN k, SQLLEN *len);
void wb_odbc_reader_close(struct wb_odbc_reader *r);

/* Maps a described column to its fetch and Avro type (pure). */
void wb_odbc_col_map(struct wb_odbc_col *col);

/* Converts a cell of col into out (in arena a): exact decimals from text,
 * UTF-16 to UTF-8, naive timestamps read in tz. Pure. */
int wb_odbc_cell_value(const struct wb_odbc_col *col, const uint8_t *p,
		       SQLLEN len, const struct wb_tz *tz, struct wb_arena *a,
		       struct wb_value *out, wb_error_t *err);

/* Parses "YYYY-MM-DD[ T]hh:mm:ss[.ffffff]" (anything after ignored) into
 * wall-clock microseconds; false when it is not such a text. Pure. */
bool wb_odbc_parse_ts(const char *s, size_t n, int64_t *us);
/* Formats wall-clock microseconds as "YYYY-MM-DD hh:mm:ss.ffffff". */
void wb_odbc_format_ts(int64_t us, char *buf, size_t n);
/* The same with `digits` fractional digits (0-6; others: 6), truncated
 * towards the past: a driver rejects a parameter more precise than the
 * column it is compared with (SQL Server's datetime: 3). */
void wb_odbc_format_ts_digits(int64_t us, int digits, char *buf, size_t n);

/* ---------------------------------------------------------------- source */

/* One polled table. */
struct wb_odbc_tab {
	const struct wb_odbc_table *cfg;
	char *schema, *name; /* from the configured "schema.table" */
	char *qname;	     /* quoted for SQL */
	char *sel;	     /* the quoted column list */
	/* shape (one reference) and columns as the driver describes them;
	 * the key (primary key, from SQLPrimaryKeys) in key order */
	struct wb_table *table;
	struct wb_odbc_col *cols;
	int ncols;
	int nkeys;
	int keycols[WB_ODBC_ORD_MAX];
	int ts_col, inc_col, del_col; /* -1 when none */
	/* order of the poll: the tracking column(s), then the tie-break
	 * (the incrementing column, else the key) */
	int nord;
	int ordcols[WB_ODBC_ORD_MAX];
	bool exact; /* the order is total: a stop anywhere is exact */
	/* watermark (source thread): the order values of the last row read
	 * past it, as the database printed them; wm_n may be 1 (only the
	 * tracking value: rows at it are not yet read) */
	int wm_n;
	char wm[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX];
	int64_t wm_track;
	bool have_floor; /* the look-back set dropped groups up to floor */
	int64_t floor;
	/* a poll in progress */
	bool active;
	bool lb_on;
	char lb[WB_ODBC_TEXT_MAX]; /* window start (>=) */
	int64_t lb_track;
	bool hz_on;
	char hz[WB_ODBC_TEXT_MAX]; /* horizon (<) */
	int cur_n;		   /* cursor: the last row read this poll */
	char cur[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX];
	long long next_poll_ms;
	int64_t last_poll_ms; /* wall clock of the last complete poll */
	uint64_t emitted;
	bool logged_scan;
	/* a value did not fit the bounded buffers of long columns: this
	 * table's polls read long columns with SQLGetData, row by row */
	bool long_values;
	/* the order columns' text is printed from their integer cells
	 * rather than fetched again as text (each is int_text_decimal) */
	bool ord_from_cells;
	/* the select list with its ts_text columns cast to varchar (NULL:
	 * none); not used once a value did not parse (typed_values) */
	char *sel_text;
	bool typed_values;
	/* the row limit of a chunk read ahead, from the bytes per row of
	 * the last one (0: chunk_rows) */
	long long ahead_rows;
	/* under the source's mutex */
	struct wb_odbc_seen seen; /* hashed with w64 */
	/* entries of a checkpoint written when the set was hashed with
	 * fnv1a (odbc_seen.h): looked up too (rows hashed both ways) until
	 * the window leaves them behind; never added to */
	struct wb_odbc_seen seen_fnv1a;
	int d_wm_n; /* durable watermark */
	char d_wm[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX];
	bool d_have_floor;
	int64_t d_floor;
	int64_t d_lb_track; /* durable window start (eviction stops there) */
	int64_t d_last_poll_ms;
};

/* A round's effect on a table's durable state, applied once the round is
 * durable. */
struct wb_odbc_mark {
	uint64_t round;
	int ti;
	int wm_n;
	char wm[WB_ODBC_ORD_MAX][WB_ODBC_TEXT_MAX];
	bool have_floor;
	int64_t floor;
	int64_t lb_track;
	int64_t poll_ms;
};

struct wb_odbc_source {
	struct wb_source base;
	const struct wb_odbc_config *oc;
	struct wb_odbc_conn conn;
	struct wb_tz *tz;
	struct wb_odbc_tab *tabs;
	int ntabs;
	bool described;
	int next_tab; /* the table polled next */
	/* the round being emitted: its major and row ordinal, and where it
	 * began in the batch (cut back when it fails) */
	uint64_t round;
	uint64_t ordinal;
	bool in_round;
	uint32_t round_start_n;
	uint64_t last_round;
	bool caught_up;
	atomic_bool caught_up_shared;
	bool outage; /* an error was logged; log the end once */
	/* durable state (any thread, under mu) */
	pthread_mutex_t mu;
	struct wb_odbc_mark *marks;
	size_t nmarks, capmarks;
	wb_position_t durable;
	uint64_t max_round; /* highest round begun (restart starts above) */
	/* snapshot (odbc_snapshot.c); `waybill snapshot` requests */
	struct wb_snapshot_request req;
	struct wb_snapshot *snap;
	bool snap_round;
	uint64_t snap_point;
	/* under mu: the round of the last initial load's rows (P - 1); the
	 * look-back set entries of its rows are written while it is durable
	 * in part (the load resumes after its last durable row and reads the
	 * rest again, so an entry ahead of it is harmless) */
	uint64_t snap_seen_round;
	atomic_bool snap_finished;
	/* the next chunk of a poll, read ahead by a thread of its own while
	 * this one converts the current chunk (odbc_source.c) */
	struct wb_odbc_ahead *ahead;
	struct wb_odbc_reader snap_rd;
	bool snap_rd_open;
	int snap_ti, snap_pi;
	int64_t snap_chunk_rows;
	char **snap_last_key;
	/* deletes.detect keyset (odbc_keyset.c); NULL otherwise */
	struct wb_odbc_keyset *keyset;
};

/* Emits one change of op 'd' for table tab with before image `before`
 * (tab->table->ncols values in b's arena, or copied there by the caller)
 * at the next position of the current round (a round is opened when none
 * is). For a delete scanner; source thread. The scanner ends its round
 * with wb_odbc_round_end() (the COMMIT that lets the checkpoint pass it),
 * in the same batch. */
int wb_odbc_emit_delete(struct wb_odbc_source *s, struct wb_odbc_tab *tab,
			struct wb_batch *b, struct wb_value *before,
			wb_error_t *err);

/* odbc_source.c */
/* Describes every configured table (columns, key, order); the first
 * call only. */
int wb_odbc_describe_tables(struct wb_odbc_source *s, wb_error_t *err);
/* The clause that limits a query to n rows, by SQL_DBMS_NAME: " LIMIT n"
 * (PostgreSQL, MySQL, MariaDB, SQLite), " FETCH FIRST n ROWS ONLY"
 * (the standard's), or "" where the limit is "TOP n" after SELECT
 * (SQL Server: wb_odbc_top_clause()). */
void wb_odbc_limit_clause(const struct wb_odbc_conn *c, long long n, char *buf,
			  size_t cap);
bool wb_odbc_top_clause(const struct wb_odbc_conn *c);

/* Describes one table (again). */
int wb_odbc_describe_one(struct wb_odbc_source *s, struct wb_odbc_tab *t,
			 wb_error_t *err);
/* Opens a round (a new major) for changes appended to b. */
void wb_odbc_round_begin(struct wb_odbc_source *s, struct wb_batch *b);
/* Ends the current round: a COMMIT change at (round, end) carrying the
 * round as ack, and the mark of table ti's watermark and window, applied
 * to the checkpoint state once the round is durable. */
int wb_odbc_round_end(struct wb_odbc_source *s, struct wb_batch *b, int ti,
		      wb_error_t *err);
/* Whether the soft-delete column (tracking.<table>.deleted) of row v
 * holds the configured value. */
bool wb_odbc_soft_deleted(const struct wb_odbc_tab *t,
			  const struct wb_value *v);
/* Converts the current row of r (columns of tab) into values in b. */
int wb_odbc_row_values(struct wb_odbc_source *s, struct wb_odbc_tab *tab,
		       struct wb_odbc_reader *r, struct wb_batch *b,
		       struct wb_value **out, wb_error_t *err);

/* Records table ti's watermark at its load's start, durable at
 * (s->round, 0). */
int wb_odbc_snapshot_mark(struct wb_odbc_source *s, int ti, wb_error_t *err);

/* odbc_snapshot.c */
int wb_odbc_snapshot_add_all(struct wb_odbc_source *s, wb_error_t *err);
/* Marks the tables whose name matches glob for a snapshot from scratch
 * (a `waybill snapshot` request); how many, or a negative error code. */
int wb_odbc_snapshot_add_matching(void *src, const char *glob, wb_error_t *err);
int wb_odbc_snapshot_begin(struct wb_odbc_source *s, wb_error_t *err);
int wb_odbc_snapshot_step(struct wb_odbc_source *s, struct wb_batch *b,
			  size_t target_bytes, wb_error_t *err);
void wb_odbc_snapshot_abort(struct wb_odbc_source *s);

/* odbc_check.c */
int wb_odbc_check(struct wb_source *base, FILE *out, wb_error_t *err);
int wb_odbc_status(struct wb_source *base,
		   const struct wb_source_resume *resume, json_t *obj,
		   wb_error_t *err);
struct wb_table **wb_odbc_describe(struct wb_source *base, wb_error_t *err);
int wb_odbc_sample(struct wb_source *base, struct wb_table *t, int limit,
		   struct wb_batch *b, wb_error_t *err);

#endif
