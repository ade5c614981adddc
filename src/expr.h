/* expr.h — the mapping expression language: small, statically typed,
 * always terminating. Parsed and type-checked once at start-up against a
 * table's columns, compiled into a tree of closures, evaluated per row
 * without allocation outside the caller's arena. mappings/EXPRESSIONS.md
 * is the full reference; this is the summary.
 *
 * Types: bool, int (int64), decimal(p,s) (exact, p <= 38), string (UTF-8),
 * date, timestamp (UTC microseconds), and the local timestamp of a
 * LOCAL_TIMESTAMP_MICROS column (wb_xtype.local: a wall-clock time that
 * timestamp(x, 'Zone') makes a timestamp); every value may be NULL. SQL
 * NULL semantics: an operator with a NULL operand gives NULL; `and`/`or`
 * are three-valued; `coalesce(a, b, ...)` and `a ?? b` give the first
 * non-NULL. Float and double columns are usable only through
 * decimal(x, p, s, mode); time, bytes and array columns not at all.
 *
 * Names: `before.<column>`, `after.<column>` (`after."Odd Name"`; the
 * change's images; reading a value the source did not send, or one with no
 * Avro form, fails at run time, never NULL; see wb_expr_compile's
 * before_complete), `op`
 * ('c', 'u', 'd', 'r', 't'), `source.table`, `source.schema`, `source.db`,
 * `source.position`, `source.ts` (commit time, timestamp). Literals:
 * 'text' ('' escapes a quote), 123, 12.50 (decimal(4,2)), true, false,
 * null, date '2024-03-01', timestamp '2024-03-01 10:00:00Z' (without an
 * offset: a local timestamp). `--` starts a comment.
 *
 * Operators (by precedence, lowest first): `??`; or; and; not; = (==)
 * != (<>) < <= > >= (same-type operands, no chains; int and decimal
 * compare exactly); || (string concatenation); + -; * / %; unary -.
 * Decimal arithmetic is exact: +, - give scale max(s1, s2), * gives
 * s1 + s2 (past 38: a type error), / gives max(s1, s2) + 6 digits (at
 * most 38) rounded half-even, % the sign of the dividend; the precision is
 * inferred (EXPRESSIONS.md) and a result past 38 digits is an overflow (a
 * run-time failure). int op decimal is decimal; int / int is decimal; int
 * + - * % stay int64 (overflow checked).
 *
 * Functions: coalesce(a, ...), if(c, a, b), case(c1, v1, c2, v2, ...,
 * default), map(x, {'k': v, ...}, default: v) or map(x, {...},
 * default: dlq) (an unknown key is a run-time failure), try(x, fallback)
 * (fallback when x fails at run time), upper, lower, trim, ltrim, rtrim,
 * substring(s, start[, len]) (1-based, in characters), length,
 * concat(a, ...) (any types, NULLs skipped), replace(s, from, to),
 * starts_with, ends_with, contains, matches(s, 'regex') (a literal pattern
 * matched in linear time: no backreferences), decimal(x, p, s[, mode])
 * with mode 'half_even' | 'half_up' | 'down' | 'up' | 'floor' | 'ceiling'
 * (named when scale shrinks: a cast that would have to round without one
 * is a type error), int(x) (from text or a decimal without fraction: else
 * a run-time failure), string(x), date(x[, 'Zone']), timestamp(x[,
 * 'Europe/Berlin']) (text, a date or a local timestamp: the zone is
 * required for a local timestamp), now(), abs(x), round(x, s[, mode])
 * (half_even by default).
 *
 * Fallible operations — casts from text, int(), division and % (by zero,
 * unless the divisor is a literal), map(..., default: dlq), overflow
 * (where the static types allow it), decimal() of a float column — fail
 * at run time with a reason; the mapping sends such a change to the
 * dead-letter stream. Outside try(), they are what fallible_ok = false
 * refuses. */
#ifndef WB_EXPR_H
#define WB_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "change.h"
#include "table.h"

enum wb_xkind {
	WB_X_BOOL,
	WB_X_INT,
	WB_X_DECIMAL,
	WB_X_STRING,
	WB_X_DATE,
	WB_X_TIMESTAMP,
	WB_X_NULLTYPE, /* the type of a bare `null` literal */
};

struct wb_xtype {
	uint8_t kind;	   /* enum wb_xkind */
	uint8_t precision; /* decimal: digits (<= 38); int: a bound on its
			      decimal digits (19: any int64) */
	uint8_t scale;	   /* decimal */
	bool nullable;	   /* may evaluate to NULL */
	bool local;	   /* timestamp: wall-clock microseconds in no zone (a
			      LOCAL_TIMESTAMP_MICROS column, a literal without an
			      offset); timestamp(x, 'Zone') makes it a timestamp */
};

/* A value. Decimals: unscaled 128-bit integer at the type's scale.
 * Strings point into the change's batch arena or the evaluation arena. */
struct wb_xval {
	bool null;
	union {
		bool b;
		int64_t i;
		__int128 d;
		int32_t date; /* days since 1970-01-01 */
		int64_t ts;   /* microseconds since the epoch, UTC */
		struct {
			const char *p;
			uint32_t n;
		} s;
	} u;
};

/* Where a problem is, for messages: 1-based line and column within the
 * expression text, offset by the caller to the file's coordinates. */
struct wb_expr_diag {
	int line;
	int column;
	char message[400];
};

struct wb_expr;

/* Compiles text against table's columns (before./after. names must be
 * columns of it; their types come from the wb_type of the column).
 * `want`: the type the result must convert to without loss (NULL: any);
 * the evaluated value then has want's kind, precision and scale, and
 * wb_expr_type says so. Converted: int or decimal to a decimal of at
 * least its scale (a run-time overflow, i.e. fallible, when it may have
 * more integer digits than want allows), a decimal of scale 0 to int;
 * anything else (fewer fraction digits, text to number, number to text,
 * a local timestamp to a timestamp) is an error that names the function
 * that converts. want->nullable says whether the target takes NULL;
 * a nullable result where want is not nullable is accepted only when
 * `allow_null` (the caller then treats NULL at run time as a failure).
 * `before_complete`: whether the source sends every column in the before
 * image; when false, a reference to before.<non-key column> is an error
 * that names it. `fallible_ok`: whether run-time failures are acceptable
 * (they go to dead letters); when false, an unhandled fallible operation
 * is an error naming it. Returns NULL with diag filled on error. */
struct wb_expr *wb_expr_compile(const char *text, const struct wb_table *table,
				const struct wb_xtype *want, bool allow_null,
				bool before_complete, bool fallible_ok,
				struct wb_expr_diag *diag);

/* What the source sends as the before image of the changes an expression
 * sees. */
enum wb_expr_before {
	WB_EXPR_BEFORE_FULL, /* every column */
	WB_EXPR_BEFORE_KEYS, /* the key columns only */
	WB_EXPR_BEFORE_NONE, /* nothing: before.<column> is an error */
};

/* wb_expr_compile with the before image spelled out (before_complete
 * true is WB_EXPR_BEFORE_FULL, false WB_EXPR_BEFORE_KEYS). */
struct wb_expr *
wb_expr_compile_before(const char *text, const struct wb_table *table,
		       const struct wb_xtype *want, bool allow_null,
		       enum wb_expr_before before, bool fallible_ok,
		       struct wb_expr_diag *diag);

/* The result's type (want's when given, with the expression's
 * nullability). For an int, precision is a bound on its digits. */
const struct wb_xtype *wb_expr_type(const struct wb_expr *e);

void wb_expr_free(struct wb_expr *e); /* accepts NULL */

/* What an evaluation reads: the change (its table must be the table the
 * expression was compiled for, or a version with the same columns) and
 * the source's position text. */
struct wb_expr_row {
	const struct wb_change *change;
	const char *position;
	int64_t now_us; /* now(): one value per change */
};

/* Evaluates e into out (strings may point into `a`). Returns 0, or -1
 * with `reason` set (a static or arena string naming the failure:
 * "division by zero", "overflow", "'X' is not a number", "no mapping for
 * 'Q'"). Never allocates outside a. */
int wb_expr_eval(const struct wb_expr *e, const struct wb_expr_row *row,
		 struct wb_arena *a, struct wb_xval *out, const char **reason);

/* Decimal text of v at scale (for messages, tests and the DLQ), into buf;
 * returns the length. */
size_t wb_xdecimal_text(__int128 v, int scale, char *buf, size_t n);

#endif
