/* expr_int.h — the expression language's internals shared by its lexer,
 * parser, checker and evaluators: tokens, the node that is first a syntax
 * tree node and, once checked, a closure (a function pointer bound to its
 * children and constants), and the compile context. */
#ifndef WB_EXPR_INT_H
#define WB_EXPR_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr.h"

/* ---- tokens -------------------------------------------------------------- */

enum xtok_kind {
	T_EOF,
	T_INT,	  /* digits */
	T_DEC,	  /* digits.digits */
	T_STR,	  /* '...' ('' inside for a quote) */
	T_IDENT,  /* [A-Za-z_][A-Za-z0-9_]* (keywords too) */
	T_QIDENT, /* "..." ("" inside for a quote) */
	T_LP,
	T_RP,
	T_COMMA,
	T_DOT,
	T_LBRACE,
	T_RBRACE,
	T_COLON,
	T_PLUS,
	T_MINUS,
	T_STAR,
	T_SLASH,
	T_PCT,
	T_CONCAT,   /* || */
	T_COALESCE, /* ?? */
	T_EQ,	    /* = or == */
	T_NE,	    /* != or <> */
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_ERR, /* a character or literal the lexer refuses: message set */
};

struct xtok {
	int kind;
	const char *p; /* the token's text in the source */
	size_t n;
	int line, col;
};

struct xlex {
	const char *s;
	size_t n, i;
	int line, col;
	char err[200];
};

void wb_xlex_init(struct xlex *lx, const char *s, size_t n);
void wb_xlex_next(struct xlex *lx, struct xtok *t);
const char *wb_xtok_name(int kind);

/* ---- nodes --------------------------------------------------------------- */

/* Syntax kinds. */
enum xsyn {
	XS_LIT,	    /* k, t set by the parser */
	XS_DATELIT, /* date '...': text in name */
	XS_TSLIT,   /* timestamp '...': text in name */
	XS_REF,	    /* name[.name2] */
	XS_NEG,
	XS_NOT,
	XS_BINARY, /* op: T_PLUS ... T_GE, T_CONCAT, T_COALESCE */
	XS_AND,
	XS_OR,
	XS_CALL,  /* name(kids) */
	XS_DICT,  /* {k1: v1, ...}: kids k1, v1, k2, v2, ... */
	XS_NAMED, /* name: kid[0] (default: ...) */
	XS_DLQ,	  /* the keyword dlq */
	XS_CVT,	  /* a conversion the checker inserted */
};

struct xctx {
	const struct wb_change *ch;
	const struct wb_expr_row *row;
	struct wb_arena *a;
	const char *reason;
};

struct xnode;
typedef int (*xfn_t)(const struct xnode *n, struct xctx *c,
		     struct wb_xval *out);

struct xnode {
	xfn_t fn; /* set by the checker */
	struct xnode **kid;
	int nkid;
	struct wb_xtype t;
	int line, col;
	uint8_t syn;	  /* enum xsyn */
	uint8_t op;	  /* XS_BINARY: the operator's token kind */
	const char *name; /* XS_CALL, XS_REF, XS_NAMED; literal text */
	size_t nname;
	const char *name2; /* XS_REF: after the dot */
	size_t nname2;
	struct wb_xval k; /* XS_LIT */
	/* bound by the checker for the evaluator */
	int i1, i2, i3;
	__int128 m1, m2;
	const void *aux;
	/* what may fail at run time here (NULL: nothing); the checker refuses
	 * it when failures are not allowed and it is outside try() */
	const char *fail;
};

/* Evaluates a child; returns -1 from the caller on failure. */
#define XEVAL(node, ctx, v)                                                    \
	do {                                                                   \
		if ((node)->fn((node), (ctx), (v)) != 0)                       \
			return -1;                                             \
	} while (0)

/* Arena memory aligned for the __int128 members of nodes and values (the
 * arena aligns to 8 only). */
static inline void *wb_xalloc(struct wb_arena *a, size_t n)
{
	char *p = wb_arena_alloc(a, n + 8);
	if (p == NULL)
		return NULL;
	return (void *)(((uintptr_t)p + 15) & ~(uintptr_t)15);
}

/* Why reading a column fails: a value that is there but not at hand (see
 * column() in expr_eval.c). */
#define WB_X_NOT_SENT                                                          \
	"the source did not send this value (an unchanged TOAST "              \
	"value, or a column outside a key-only before image; REPLICA "         \
	"IDENTITY FULL sends it)"
#define WB_X_NO_FORM                                                           \
	"the value has no exact form in the column's type (unrepresentable: "  \
	"NaN, infinity, or out of range)"

static inline int xfail(struct xctx *c, const char *reason)
{
	c->reason = reason;
	return -1;
}

/* The column value node n names (n->i1 the column, n->i2 after or
 * before) into *out: NULL when the image is missing or the value is NULL.
 * A value that is there but not at hand fails instead (the change becomes
 * a dead letter; try() catches it): reading it as NULL would let
 * coalesce() or ?? replace it silently. */
static inline int wb_xcolumn(const struct xnode *n, struct xctx *c,
			     const struct wb_value **out)
{
	const struct wb_value *img = n->i2 ? c->ch->after : c->ch->before;
	*out = NULL;
	if (img == NULL || n->i1 >= c->ch->table->ncols)
		return 0;
	const struct wb_value *v = &img[n->i1];
	if (v->state == WB_VAL_PRESENT)
		*out = v;
	else if (v->state == WB_VAL_UNCHANGED)
		return xfail(c, WB_X_NOT_SENT);
	else if (v->state == WB_VAL_UNREPRESENTABLE)
		return xfail(c, WB_X_NO_FORM);
	return 0;
}

/* ---- compiling ----------------------------------------------------------- */

struct xowned {
	void *p;
	void (*free)(void *);
};

struct wb_expr {
	struct xnode *root;
	struct wb_xtype type;
	struct wb_arena arena; /* nodes, literal text, tables */
	struct xowned *owned;  /* regexes, zones */
	int nowned, capowned;
};

struct xcomp {
	const char *text;
	const struct wb_table *table;
	enum wb_expr_before before;
	struct wb_expr *e;
	struct wb_expr_diag *diag;
	bool failed;
	int depth;
	int nnodes;
};

/* Records an error at line:col (the first one wins); returns NULL. */
void *wb_xerr(struct xcomp *cc, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
struct xnode *wb_xnode(struct xcomp *cc, int syn, int line, int col);
/* Takes ownership of p (freed with the expression); false when out of
 * memory (p is freed then). */
bool wb_xown(struct xcomp *cc, void *p, void (*fr)(void *));

struct xnode *wb_xparse(struct xcomp *cc, const char *text, size_t n);
/* Types n (and below), binds evaluators; returns the node to use in its
 * place (conversions may wrap it) or NULL after wb_xerr. */
struct xnode *wb_xcheck(struct xcomp *cc, struct xnode *n);

/* A conversion of n to type `to` inserted by the checker (unifying the
 * branches of if/case/coalesce/map, or the result to `want`); NULL after
 * wb_xerr when there is none. `what` names the place for messages. */
struct xnode *wb_xconvert(struct xcomp *cc, struct xnode *n,
			  const struct wb_xtype *to, const char *what);
/* The common type of a and b (for branches), or false. */
bool wb_xunify(const struct wb_xtype *a, const struct wb_xtype *b,
	       struct wb_xtype *out);
/* A type's name for messages ("decimal(12,2)"), into buf. */
const char *wb_xtype_name(const struct wb_xtype *t, char *buf, size_t n);

/* Functions: checks a call node's arguments (already checked) and binds
 * its evaluator; NULL after wb_xerr. */
struct xnode *wb_xcheck_call(struct xcomp *cc, struct xnode *n);
/* Whether name[0..n) is a function: for messages. */
bool wb_xis_function(const char *name, size_t n);

/* ---- evaluators (expr_eval.c), bound by the checker ---------------------- */

int wb_xf_lit(const struct xnode *n, struct xctx *c, struct wb_xval *out);
/* column i1 of before (i2 0) or after (i2 1), by the column's kind */
int wb_xf_col_bool(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_col_int(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_col_date(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_col_ts(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_col_str(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_col_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_op(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_src_table(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_src_schema(const struct xnode *n, struct xctx *c,
		     struct wb_xval *out);
int wb_xf_src_db(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_src_position(const struct xnode *n, struct xctx *c,
		       struct wb_xval *out);
int wb_xf_src_ts(const struct xnode *n, struct xctx *c, struct wb_xval *out);

/* conversions: int -> decimal (times m1, checked against 10^i1);
 * decimal -> decimal of a larger scale (times m1, checked against 10^i1);
 * decimal of scale 0 -> int (checked against int64) */
int wb_xf_int_to_dec(const struct xnode *n, struct xctx *c,
		     struct wb_xval *out);
int wb_xf_dec_up(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_dec_to_int(const struct xnode *n, struct xctx *c,
		     struct wb_xval *out);
int wb_xf_retype(const struct xnode *n, struct xctx *c, struct wb_xval *out);

/* Evaluator for operator op (a token kind) over operands of kind `kind`
 * (enum wb_xkind, both the same after conversion); NULL when none. */
xfn_t wb_xf_binary(int op, int kind);
xfn_t wb_xf_neg(int kind);
int wb_xf_and(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_or(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_not(const struct xnode *n, struct xctx *c, struct wb_xval *out);
int wb_xf_coalesce(const struct xnode *n, struct xctx *c, struct wb_xval *out);

/* ---- shared helpers (expr_fn.c) ------------------------------------------ */

/* Parses "YYYY-MM-DD" into days; false when not a valid date. */
bool wb_xparse_date(const char *s, size_t n, int32_t *days);
/* Parses "YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|(+|-)HH[:MM]]" into
 * microseconds since the epoch of its wall-clock time; *has_off says
 * whether an offset was given, *off its seconds east of UTC. */
bool wb_xparse_ts(const char *s, size_t n, int64_t *us, bool *has_off,
		  int32_t *off);
/* Text of a value of type t (not a string) into buf (64 bytes). */
size_t wb_xval_text(const struct wb_xtype *t, const struct wb_xval *v,
		    char *buf, size_t n);

#endif
