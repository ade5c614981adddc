/* expr_check.c — the expression language's checker and compiler: resolves
 * names against the table's columns, types every node (statically: a
 * mismatch is an error at its line:column, never a run-time surprise),
 * infers decimal result types, inserts the conversions that unify
 * branches and reach the wanted type, binds each node's evaluator, and
 * refuses what the caller rules out (NULL, run-time failures, before.
 * columns the source does not send). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "expr_int.h"
#include "valconv.h"
#include "xdecimal.h"

void *wb_xerr(struct xcomp *cc, int line, int col, const char *fmt, ...)
{
	if (cc->failed)
		return NULL;
	cc->failed = true;
	cc->diag->line = line;
	cc->diag->column = col;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cc->diag->message, sizeof(cc->diag->message), fmt, ap);
	va_end(ap);
	return NULL;
}

struct xnode *wb_xnode(struct xcomp *cc, int syn, int line, int col)
{
	struct xnode *n = wb_xalloc(&cc->e->arena, sizeof(*n));
	if (n == NULL)
		return wb_xerr(cc, line, col, "out of memory");
	memset(n, 0, sizeof(*n));
	n->syn = (uint8_t)syn;
	n->line = line;
	n->col = col;
	return n;
}

bool wb_xown(struct xcomp *cc, void *p, void (*fr)(void *))
{
	struct wb_expr *e = cc->e;
	if (e->nowned == e->capowned) {
		int nc = e->capowned ? e->capowned * 2 : 4;
		struct xowned *o = realloc(e->owned, (size_t)nc * sizeof(*o));
		if (o == NULL) {
			fr(p);
			return false;
		}
		e->owned = o;
		e->capowned = nc;
	}
	e->owned[e->nowned++] = (struct xowned){p, fr};
	return true;
}

const char *wb_xtype_name(const struct wb_xtype *t, char *buf, size_t n)
{
	switch (t->kind) {
	case WB_X_BOOL:
		return "bool";
	case WB_X_INT:
		return "int";
	case WB_X_DECIMAL:
		snprintf(buf, n, "decimal(%d,%d)", t->precision, t->scale);
		return buf;
	case WB_X_STRING:
		return "string";
	case WB_X_DATE:
		return "date";
	case WB_X_TIMESTAMP:
		return t->local ? "local timestamp" : "timestamp";
	case WB_X_NULLTYPE:
		return "null";
	default:
		return "?";
	}
}

static int int_digits(const struct wb_xtype *t)
{
	return t->precision == 0 || t->precision > 19 ? 19 : t->precision;
}

/* An int as the decimal type that holds all its values. */
static struct wb_xtype int_as_dec(const struct wb_xtype *t)
{
	return (struct wb_xtype){.kind = WB_X_DECIMAL,
				 .precision = (uint8_t)int_digits(t),
				 .nullable = t->nullable};
}

static bool numeric(int kind)
{
	return kind == WB_X_INT || kind == WB_X_DECIMAL;
}

bool wb_xunify(const struct wb_xtype *a, const struct wb_xtype *b,
	       struct wb_xtype *out)
{
	bool nul = a->nullable || b->nullable;
	if (a->kind == WB_X_NULLTYPE || b->kind == WB_X_NULLTYPE) {
		*out = a->kind == WB_X_NULLTYPE ? *b : *a;
		out->nullable = true;
		return true;
	}
	if (numeric(a->kind) && numeric(b->kind)) {
		if (a->kind == WB_X_INT && b->kind == WB_X_INT) {
			*out = *a;
			int d = int_digits(a) > int_digits(b) ? int_digits(a)
							      : int_digits(b);
			out->precision = (uint8_t)d;
			out->nullable = nul;
			return true;
		}
		struct wb_xtype x = a->kind == WB_X_INT ? int_as_dec(a) : *a;
		struct wb_xtype y = b->kind == WB_X_INT ? int_as_dec(b) : *b;
		int s = x.scale > y.scale ? x.scale : y.scale;
		int ix = x.precision - x.scale, iy = y.precision - y.scale;
		int p = (ix > iy ? ix : iy) + s;
		*out = (struct wb_xtype){.kind = WB_X_DECIMAL,
					 .precision =
						 (uint8_t)(p > 38 ? 38 : p),
					 .scale = (uint8_t)s,
					 .nullable = nul};
		return true;
	}
	if (a->kind != b->kind || a->local != b->local)
		return false;
	*out = *a;
	out->nullable = nul;
	return true;
}

static struct xnode *cvt(struct xcomp *cc, struct xnode *n, xfn_t fn,
			 const struct wb_xtype *to)
{
	struct xnode *c = wb_xnode(cc, XS_CVT, n->line, n->col);
	if (c == NULL)
		return NULL;
	c->kid = wb_arena_alloc(&cc->e->arena, sizeof(*c->kid));
	if (c->kid == NULL)
		return wb_xerr(cc, n->line, n->col, "out of memory");
	c->kid[0] = n;
	c->nkid = 1;
	c->fn = fn;
	c->t = *to;
	c->t.nullable = n->t.nullable;
	return c;
}

struct xnode *wb_xconvert(struct xcomp *cc, struct xnode *n,
			  const struct wb_xtype *to, const char *what)
{
	const struct wb_xtype *f = &n->t;
	char b1[32], b2[32];
	if (f->kind == WB_X_NULLTYPE) {
		bool nul = n->t.nullable;
		n->t = *to;
		n->t.nullable = nul;
		return n;
	}
	if (f->kind == WB_X_INT && to->kind == WB_X_INT)
		return n;
	if (n->syn == XS_LIT && !n->k.null && to->kind == WB_X_DECIMAL &&
	    (f->kind == WB_X_INT || f->kind == WB_X_DECIMAL) &&
	    f->scale <= to->scale) {
		/* a literal converts now, when it fits */
		__int128 v =
			f->kind == WB_X_INT ? (__int128)n->k.u.i : n->k.u.d;
		__int128 r;
		if (wb_xdec_rescale(v, f->kind == WB_X_INT ? 0 : f->scale,
				    to->scale, to->precision, WB_XR_NONE,
				    &r) == WB_XDEC_OK) {
			n->k.u.d = r;
			n->t = *to;
			n->t.nullable = false;
			return n;
		}
	}
	if (f->kind == WB_X_INT && to->kind == WB_X_DECIMAL) {
		struct xnode *c = cvt(cc, n, wb_xf_int_to_dec, to);
		if (c == NULL)
			return NULL;
		c->m1 = wb_xdec_pow10[to->scale];
		c->i1 = to->precision;
		if (int_digits(f) > to->precision - to->scale)
			c->fail = "an int that may not fit the decimal "
				  "(overflow)";
		return c;
	}
	if (f->kind == WB_X_DECIMAL && to->kind == WB_X_DECIMAL) {
		if (f->scale > to->scale)
			return wb_xerr(cc, n->line, n->col,
				       "%s: %s has more fraction digits than "
				       "%s: round it first, e.g. round(x, %d) "
				       "or decimal(x, %d, %d, 'half_even')",
				       what, wb_xtype_name(f, b1, sizeof(b1)),
				       wb_xtype_name(to, b2, sizeof(b2)),
				       to->scale, to->precision, to->scale);
		bool narrower =
			f->precision - f->scale > to->precision - to->scale;
		if (f->scale == to->scale && !narrower) {
			n->t.precision = to->precision;
			return n;
		}
		struct xnode *c = cvt(cc, n, wb_xf_dec_up, to);
		if (c == NULL)
			return NULL;
		c->m1 = wb_xdec_pow10[to->scale - f->scale];
		c->i1 = to->precision;
		if (narrower)
			c->fail = "a decimal that may not fit the narrower "
				  "decimal (overflow)";
		return c;
	}
	if (f->kind == WB_X_DECIMAL && to->kind == WB_X_INT) {
		if (f->scale != 0)
			return wb_xerr(cc, n->line, n->col,
				       "%s: expected int, found %s: int(x) "
				       "converts (failing on a fraction), "
				       "round(x, 0) rounds first",
				       what, wb_xtype_name(f, b1, sizeof(b1)));
		struct xnode *c = cvt(cc, n, wb_xf_dec_to_int, to);
		if (c == NULL)
			return NULL;
		c->t.precision = f->precision > 19 ? 19 : f->precision;
		if (f->precision > 18)
			c->fail = "a decimal that may not fit an int "
				  "(overflow)";
		return c;
	}
	if (f->kind == to->kind && f->local == to->local)
		return n;
	if (f->kind == WB_X_TIMESTAMP && to->kind == WB_X_TIMESTAMP)
		return wb_xerr(cc, n->line, n->col,
			       "%s: expected %s, found %s: name its zone with "
			       "timestamp(x, 'Europe/Berlin')",
			       what, wb_xtype_name(to, b1, sizeof(b1)),
			       wb_xtype_name(f, b2, sizeof(b2)));
	const char *hint =
		to->kind == WB_X_STRING ? ": string(x) converts" : "";
	return wb_xerr(cc, n->line, n->col, "%s: expected %s, found %s%s", what,
		       wb_xtype_name(to, b1, sizeof(b1)),
		       wb_xtype_name(f, b2, sizeof(b2)), hint);
}

/* ---- names --------------------------------------------------------------- */

static bool is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(p, word, n) == 0;
}

static struct xnode *column_ref(struct xcomp *cc, struct xnode *n, bool after)
{
	const struct wb_table *t = cc->table;
	int idx = -1;
	for (int i = 0; t != NULL && i < t->ncols; i++)
		if (is(n->name2, n->nname2, t->cols[i].name)) {
			idx = i;
			break;
		}
	const char *img = after ? "after" : "before";
	if (idx < 0) {
		char list[200];
		size_t o = 0;
		list[0] = '\0';
		for (int i = 0; t != NULL && i < t->ncols && o < 150; i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o,
					      "%s%s", i ? ", " : "",
					      t->cols[i].name);
		if (t != NULL && o >= 150)
			snprintf(list + o, sizeof(list) - o, ", ...");
		return wb_xerr(cc, n->line, n->col,
			       "unknown column %s.%.*s: %s%s%s has %s", img,
			       (int)n->nname2, n->name2,
			       t && t->schema ? t->schema : "",
			       t && t->schema ? "." : "", t ? t->name : "?",
			       list[0] ? list : "no columns");
	}
	const struct wb_column *col = &t->cols[idx];
	if (!after && cc->before == WB_EXPR_BEFORE_NONE)
		return wb_xerr(cc, n->line, n->col,
			       "before.%s: the source sends no before image "
			       "for the changes this mapping takes (its ops "
			       "include u)",
			       col->name);
	if (!after && cc->before == WB_EXPR_BEFORE_KEYS && !col->key)
		return wb_xerr(
			cc, n->line, n->col,
			"before.%s: the source does not send this column in "
			"the before image (only key columns): PostgreSQL: "
			"ALTER TABLE %s%s%s REPLICA IDENTITY FULL; MySQL: "
			"binlog_row_image=FULL",
			col->name, t->schema ? t->schema : "",
			t->schema ? "." : "", t->name);
	const struct wb_type *ty = &col->type;
	n->i1 = idx;
	n->i2 = after;
	n->t.nullable = true;
	const char *bad = NULL;
	if (ty->is_array) {
		bad = "an array";
	} else {
		switch (ty->s.logical) {
		case WB_L_DECIMAL:
			if (ty->s.scale > WB_XDEC_MAXP || ty->s.scale < 0 ||
			    ty->s.scale > ty->s.precision) {
				bad = "a decimal with more than 38 fraction "
				      "digits";
				break;
			}
			n->t.kind = WB_X_DECIMAL;
			n->t.precision = (uint8_t)(ty->s.precision > 38
							   ? 38
							   : ty->s.precision);
			n->t.scale = (uint8_t)ty->s.scale;
			n->fn = wb_xf_col_dec;
			if (ty->s.precision > 38)
				n->fail = "a decimal column of more than 38 "
					  "digits (a larger value fails)";
			break;
		case WB_L_DATE:
			n->t.kind = WB_X_DATE;
			n->fn = wb_xf_col_date;
			break;
		case WB_L_TIMESTAMP_MICROS:
		case WB_L_LOCAL_TIMESTAMP_MICROS:
			n->t.kind = WB_X_TIMESTAMP;
			n->t.local =
				ty->s.logical == WB_L_LOCAL_TIMESTAMP_MICROS;
			n->fn = wb_xf_col_ts;
			break;
		case WB_L_TIME_MICROS:
			bad = "a time of day";
			break;
		case WB_L_UUID:
		case WB_L_JSON:
			n->t.kind = WB_X_STRING;
			n->fn = wb_xf_col_str;
			break;
		default:
			switch (ty->s.kind) {
			case WB_T_BOOLEAN:
				n->t.kind = WB_X_BOOL;
				n->fn = wb_xf_col_bool;
				break;
			case WB_T_INT:
				n->t.kind = WB_X_INT;
				n->t.precision = 10;
				n->fn = wb_xf_col_int;
				break;
			case WB_T_LONG:
				n->t.kind = WB_X_INT;
				n->t.precision = 19;
				n->fn = wb_xf_col_int;
				break;
			case WB_T_STRING:
				n->t.kind = WB_X_STRING;
				n->fn = wb_xf_col_str;
				break;
			case WB_T_FLOAT:
			case WB_T_DOUBLE:
				/* only decimal(x, p, s, mode) takes it */
				n->t.kind = WB_X_NULLTYPE;
				n->i3 = ty->s.kind;
				bad = "";
				break;
			default:
				bad = "binary";
				break;
			}
		}
	}
	if (bad != NULL && bad[0] != '\0')
		return wb_xerr(cc, n->line, n->col,
			       "%s.%s is %s: not usable in expressions", img,
			       col->name, bad);
	if (bad != NULL)
		n->fn = NULL; /* a float column: decimal() checks the use */
	return n;
}

static struct xnode *name_ref(struct xcomp *cc, struct xnode *n)
{
	bool before = is(n->name, n->nname, "before");
	bool after = is(n->name, n->nname, "after");
	if ((before || after) && n->name2 != NULL)
		return column_ref(cc, n, after);
	if (before || after)
		return wb_xerr(cc, n->line, n->col, "write %.*s.<column>",
			       (int)n->nname, n->name);
	if (is(n->name, n->nname, "op") && n->name2 == NULL) {
		n->t.kind = WB_X_STRING;
		n->fn = wb_xf_op;
		return n;
	}
	if (is(n->name, n->nname, "source") && n->name2 != NULL) {
		static const struct {
			const char *name;
			int kind;
			xfn_t fn;
		} fields[] = {
			{"table", WB_X_STRING, wb_xf_src_table},
			{"schema", WB_X_STRING, wb_xf_src_schema},
			{"db", WB_X_STRING, wb_xf_src_db},
			{"position", WB_X_STRING, wb_xf_src_position},
			{"ts", WB_X_TIMESTAMP, wb_xf_src_ts},
		};
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (is(n->name2, n->nname2, fields[i].name)) {
				n->t.kind = (uint8_t)fields[i].kind;
				n->fn = fields[i].fn;
				/* db, schema: a source may have none */
				n->t.nullable = i == 1 || i == 2 || i == 3;
				return n;
			}
		return wb_xerr(cc, n->line, n->col,
			       "unknown field source.%.*s: source.table, "
			       "source.schema, source.db, source.position, "
			       "source.ts",
			       (int)n->nname2, n->name2);
	}
	if (n->name2 == NULL && wb_xis_function(n->name, n->nname))
		return wb_xerr(cc, n->line, n->col,
			       "%.*s is a function: write %.*s(...)",
			       (int)n->nname, n->name, (int)n->nname, n->name);
	return wb_xerr(cc, n->line, n->col,
		       "unknown name '%.*s%s%.*s': names are before.<column>, "
		       "after.<column>, op and source.<field>; text is quoted "
		       "'like this'",
		       (int)n->nname, n->name, n->name2 ? "." : "",
		       (int)n->nname2, n->name2 ? n->name2 : "");
}

/* ---- operators ----------------------------------------------------------- */

static const char *op_text(int op)
{
	switch (op) {
	case T_PLUS:
		return "+";
	case T_MINUS:
		return "-";
	case T_STAR:
		return "*";
	case T_SLASH:
		return "/";
	case T_PCT:
		return "%";
	case T_CONCAT:
		return "||";
	case T_COALESCE:
		return "??";
	case T_EQ:
		return "=";
	case T_NE:
		return "!=";
	case T_LT:
		return "<";
	case T_LE:
		return "<=";
	case T_GT:
		return ">";
	case T_GE:
		return ">=";
	default:
		return "?";
	}
}

static bool nonzero_literal(const struct xnode *n)
{
	if (n->syn != XS_LIT || n->k.null)
		return false;
	return n->t.kind == WB_X_INT ? n->k.u.i != 0 : n->k.u.d != 0;
}

static struct xnode *arith(struct xcomp *cc, struct xnode *n)
{
	struct xnode *a = n->kid[0], *b = n->kid[1];
	int op = n->op;
	char b1[32], b2[32];
	if (a->t.kind == WB_X_NULLTYPE && b->t.kind == WB_X_NULLTYPE)
		a->t = b->t = (struct wb_xtype){
			.kind = WB_X_INT, .precision = 1, .nullable = true};
	if (a->t.kind == WB_X_NULLTYPE)
		a = wb_xconvert(cc, a, &b->t, "");
	if (b->t.kind == WB_X_NULLTYPE)
		b = wb_xconvert(cc, b, &a->t, "");
	if (!numeric(a->t.kind) || !numeric(b->t.kind))
		return wb_xerr(cc, n->line, n->col,
			       "'%s' needs numbers, found %s and %s%s",
			       op_text(op),
			       wb_xtype_name(&a->t, b1, sizeof(b1)),
			       wb_xtype_name(&b->t, b2, sizeof(b2)),
			       op == T_PLUS && (a->t.kind == WB_X_STRING ||
						b->t.kind == WB_X_STRING)
				       ? ": '||' joins text"
				       : "");
	bool nul = a->t.nullable || b->t.nullable;
	if (a->t.kind == WB_X_INT && b->t.kind == WB_X_INT && op != T_SLASH) {
		int da = int_digits(&a->t), db = int_digits(&b->t);
		int d = op == T_STAR  ? da + db
			: op == T_PCT ? (da < db ? da : db)
				      : (da > db ? da : db) + 1;
		n->t = (struct wb_xtype){.kind = WB_X_INT,
					 .precision =
						 (uint8_t)(d > 19 ? 19 : d),
					 .nullable = nul};
		if (op == T_PCT && !nonzero_literal(b))
			n->fail = "'%' may divide by zero";
		else if (d > 18 && op != T_PCT)
			n->fail = op == T_STAR	 ? "'*' may overflow int64"
				  : op == T_PLUS ? "'+' may overflow int64"
						 : "'-' may overflow int64";
		n->kid[0] = a;
		n->kid[1] = b;
		n->fn = wb_xf_binary(op, WB_X_INT);
		return n;
	}
	bool b_nonzero = nonzero_literal(b);
	if (a->t.kind == WB_X_INT) {
		struct wb_xtype to = int_as_dec(&a->t);
		a = wb_xconvert(cc, a, &to, "");
	}
	if (b->t.kind == WB_X_INT) {
		struct wb_xtype to = int_as_dec(&b->t);
		b = wb_xconvert(cc, b, &to, "");
	}
	if (a == NULL || b == NULL)
		return NULL;
	int pa = a->t.precision, sa = a->t.scale;
	int pb = b->t.precision, sb = b->t.scale;
	int ia = pa - sa, ib = pb - sb;
	int s, p;
	switch (op) {
	case T_PLUS:
	case T_MINUS:
		s = sa > sb ? sa : sb;
		p = (ia > ib ? ia : ib) + s + 1;
		if (p > 38)
			n->fail = op == T_PLUS ? "'+' may pass 38 digits "
						 "(overflow)"
					       : "'-' may pass 38 digits "
						 "(overflow)";
		break;
	case T_STAR:
		s = sa + sb;
		if (s > 38)
			return wb_xerr(cc, n->line, n->col,
				       "'*' of %s and %s has %d fraction "
				       "digits, more than 38: round an operand "
				       "first",
				       wb_xtype_name(&a->t, b1, sizeof(b1)),
				       wb_xtype_name(&b->t, b2, sizeof(b2)), s);
		p = pa + pb;
		if (p > 38)
			n->fail = "'*' may pass 38 digits (overflow)";
		break;
	case T_SLASH:
		s = (sa > sb ? sa : sb) + 6;
		if (s > 38)
			s = 38;
		p = ia + sb + s;
		if (!b_nonzero)
			n->fail = "'/' may divide by zero";
		else if (p > 38)
			n->fail = "'/' may pass 38 digits (overflow)";
		break;
	default: /* % */
		s = sa > sb ? sa : sb;
		p = (ia < ib ? ia : ib) + s;
		if (!b_nonzero)
			n->fail = "'%' may divide by zero";
		break;
	}
	if (p > 38)
		p = 38;
	if (p < 1)
		p = 1;
	n->t = (struct wb_xtype){.kind = WB_X_DECIMAL,
				 .precision = (uint8_t)p,
				 .scale = (uint8_t)s,
				 .nullable = nul};
	n->i1 = sa;
	n->i2 = sb;
	n->i3 = p;
	n->m1 = wb_xdec_pow10[s - sa];
	n->m2 = wb_xdec_pow10[s - sb];
	n->kid[0] = a;
	n->kid[1] = b;
	n->fn = wb_xf_binary(op, WB_X_DECIMAL);
	return n;
}

static struct xnode *compare(struct xcomp *cc, struct xnode *n)
{
	struct xnode *a = n->kid[0], *b = n->kid[1];
	char b1[32], b2[32];
	if (a->t.kind == WB_X_NULLTYPE && b->t.kind == WB_X_NULLTYPE)
		a->t = b->t =
			(struct wb_xtype){.kind = WB_X_BOOL, .nullable = true};
	if (a->t.kind == WB_X_NULLTYPE)
		a = wb_xconvert(cc, a, &b->t, "");
	if (b->t.kind == WB_X_NULLTYPE)
		b = wb_xconvert(cc, b, &a->t, "");
	if (a->t.kind == WB_X_INT && b->t.kind == WB_X_DECIMAL) {
		struct wb_xtype to = int_as_dec(&a->t);
		a = wb_xconvert(cc, a, &to, "");
	} else if (b->t.kind == WB_X_INT && a->t.kind == WB_X_DECIMAL) {
		struct wb_xtype to = int_as_dec(&b->t);
		b = wb_xconvert(cc, b, &to, "");
	}
	if (a == NULL || b == NULL)
		return NULL;
	if (a->t.kind != b->t.kind || a->t.local != b->t.local)
		return wb_xerr(cc, n->line, n->col,
			       "'%s' compares values of one type, found %s "
			       "and %s",
			       op_text(n->op),
			       wb_xtype_name(&a->t, b1, sizeof(b1)),
			       wb_xtype_name(&b->t, b2, sizeof(b2)));
	n->kid[0] = a;
	n->kid[1] = b;
	n->i1 = a->t.scale;
	n->i2 = b->t.scale;
	n->t = (struct wb_xtype){.kind = WB_X_BOOL,
				 .nullable = a->t.nullable || b->t.nullable};
	n->fn = wb_xf_binary(n->op, a->t.kind);
	if (n->fn == NULL)
		return wb_xerr(cc, n->line, n->col, "cannot compare %s",
			       wb_xtype_name(&a->t, b1, sizeof(b1)));
	return n;
}

static struct xnode *boolean_kid(struct xcomp *cc, struct xnode *n, int i,
				 const char *what)
{
	struct xnode *k = n->kid[i];
	char b1[32];
	if (k->t.kind == WB_X_NULLTYPE) {
		struct wb_xtype bt = {.kind = WB_X_BOOL};
		k = wb_xconvert(cc, k, &bt, "");
	}
	if (k != NULL && k->t.kind != WB_X_BOOL)
		return wb_xerr(cc, k->line, k->col, "%s needs a bool, found %s",
			       what, wb_xtype_name(&k->t, b1, sizeof(b1)));
	n->kid[i] = k;
	return k;
}

static struct xnode *check_any(struct xcomp *cc, struct xnode *n,
			       bool allow_float);

static struct xnode *check(struct xcomp *cc, struct xnode *n)
{
	char b1[32];
	switch (n->syn) {
	case XS_LIT:
		n->fn = wb_xf_lit;
		return n;
	case XS_DATELIT:
		n->syn = XS_LIT;
		n->fn = wb_xf_lit;
		n->t.kind = WB_X_DATE;
		if (!wb_xparse_date(n->name, n->nname, &n->k.u.date))
			return wb_xerr(cc, n->line, n->col,
				       "'%s' is not a date (YYYY-MM-DD)",
				       n->name);
		return n;
	case XS_TSLIT: {
		n->syn = XS_LIT;
		n->fn = wb_xf_lit;
		n->t.kind = WB_X_TIMESTAMP;
		bool has_off;
		int32_t off;
		if (!wb_xparse_ts(n->name, n->nname, &n->k.u.ts, &has_off,
				  &off))
			return wb_xerr(cc, n->line, n->col,
				       "'%s' is not a timestamp "
				       "(YYYY-MM-DD HH:MM:SS[.ffffff] and Z "
				       "or +HH:MM)",
				       n->name);
		n->k.u.ts -= (int64_t)off * WB_USECS_PER_SEC;
		n->t.local = !has_off;
		return n;
	}
	case XS_REF:
		return name_ref(cc, n);
	case XS_DICT:
	case XS_NAMED:
	case XS_DLQ:
		return wb_xerr(cc, n->line, n->col,
			       "%s belongs in map(x, {...}, default: ...)",
			       n->syn == XS_DICT  ? "{...}"
			       : n->syn == XS_DLQ ? "dlq"
						  : "a named argument");
	default:
		break;
	}
	/* operands first */
	for (int i = 0; i < n->nkid; i++) {
		struct xnode *k = n->kid[i];
		if (n->syn == XS_CALL && k->syn == XS_DICT) {
			for (int j = 0; j < k->nkid; j++)
				if ((k->kid[j] = wb_xcheck(cc, k->kid[j])) ==
				    NULL)
					return NULL;
			continue;
		}
		if (n->syn == XS_CALL && k->syn == XS_NAMED) {
			if (k->kid[0]->syn != XS_DLQ &&
			    (k->kid[0] = wb_xcheck(cc, k->kid[0])) == NULL)
				return NULL;
			continue;
		}
		bool allow_float = n->syn == XS_CALL &&
				   is(n->name, n->nname, "decimal") && i == 0;
		if ((n->kid[i] = check_any(cc, k, allow_float)) == NULL)
			return NULL;
	}
	switch (n->syn) {
	case XS_NEG: {
		struct xnode *k = n->kid[0];
		if (k->t.kind == WB_X_NULLTYPE)
			return k;
		if (!numeric(k->t.kind))
			return wb_xerr(cc, n->line, n->col,
				       "'-' needs a number, found %s",
				       wb_xtype_name(&k->t, b1, sizeof(b1)));
		if (k->syn == XS_LIT) { /* a negative literal */
			if (k->t.kind == WB_X_INT)
				k->k.u.i = -k->k.u.i;
			else
				k->k.u.d = -k->k.u.d;
			k->line = n->line;
			k->col = n->col;
			return k;
		}
		n->t = k->t;
		n->fn = wb_xf_neg(k->t.kind);
		if (k->t.kind == WB_X_INT && int_digits(&k->t) > 18)
			n->fail = "'-' of the smallest int64 overflows";
		return n;
	}
	case XS_NOT:
		if (boolean_kid(cc, n, 0, "'not'") == NULL)
			return NULL;
		n->t = (struct wb_xtype){.kind = WB_X_BOOL,
					 .nullable = n->kid[0]->t.nullable};
		n->fn = wb_xf_not;
		return n;
	case XS_AND:
	case XS_OR:
		if (boolean_kid(cc, n, 0,
				n->syn == XS_AND ? "'and'" : "'or'") == NULL ||
		    boolean_kid(cc, n, 1,
				n->syn == XS_AND ? "'and'" : "'or'") == NULL)
			return NULL;
		n->t = (struct wb_xtype){.kind = WB_X_BOOL,
					 .nullable = n->kid[0]->t.nullable ||
						     n->kid[1]->t.nullable};
		n->fn = n->syn == XS_AND ? wb_xf_and : wb_xf_or;
		return n;
	case XS_CALL:
		return wb_xcheck_call(cc, n);
	default:
		break;
	}
	/* XS_BINARY */
	switch (n->op) {
	case T_COALESCE: {
		struct wb_xtype u;
		if (!wb_xunify(&n->kid[0]->t, &n->kid[1]->t, &u)) {
			char b2[32];
			return wb_xerr(
				cc, n->line, n->col,
				"'\?\?' needs operands of one type, "
				"found %s and %s",
				wb_xtype_name(&n->kid[0]->t, b1, sizeof(b1)),
				wb_xtype_name(&n->kid[1]->t, b2, sizeof(b2)));
		}
		bool nul = n->kid[0]->t.nullable && n->kid[1]->t.nullable;
		for (int i = 0; i < 2; i++)
			if ((n->kid[i] = wb_xconvert(cc, n->kid[i], &u,
						     "'\?\?'")) == NULL)
				return NULL;
		n->t = u;
		n->t.nullable = nul;
		n->fn = wb_xf_coalesce;
		return n;
	}
	case T_CONCAT:
		for (int i = 0; i < 2; i++) {
			struct wb_xtype st = {.kind = WB_X_STRING};
			struct xnode *k = n->kid[i];
			if (k->t.kind == WB_X_NULLTYPE)
				k = n->kid[i] = wb_xconvert(cc, k, &st, "");
			if (k->t.kind != WB_X_STRING)
				return wb_xerr(
					cc, k->line, k->col,
					"'||' joins text, found %s: "
					"string(x) converts",
					wb_xtype_name(&k->t, b1, sizeof(b1)));
		}
		n->t = (struct wb_xtype){.kind = WB_X_STRING,
					 .nullable = n->kid[0]->t.nullable ||
						     n->kid[1]->t.nullable};
		n->fn = wb_xf_binary(T_CONCAT, WB_X_STRING);
		return n;
	case T_EQ:
	case T_NE:
	case T_LT:
	case T_LE:
	case T_GT:
	case T_GE:
		return compare(cc, n);
	default:
		return arith(cc, n);
	}
}

static struct xnode *check_any(struct xcomp *cc, struct xnode *n,
			       bool allow_float)
{
	if (++cc->depth > 200)
		return wb_xerr(cc, n->line, n->col, "nested too deeply");
	struct xnode *r = check(cc, n);
	cc->depth--;
	if (r != NULL && r->fn == NULL && !allow_float)
		return wb_xerr(cc, n->line, n->col,
			       "%.*s.%.*s is a floating-point column: no exact "
			       "value; convert it with decimal(x, p, s, "
			       "'half_even')",
			       (int)n->nname, n->name, (int)n->nname2,
			       n->name2);
	return r;
}

struct xnode *wb_xcheck(struct xcomp *cc, struct xnode *n)
{
	return check_any(cc, n, false);
}

/* The first fallible node outside try(). */
static const struct xnode *unhandled(const struct xnode *n)
{
	if (n->fail != NULL)
		return n;
	if (n->syn == XS_CALL && is(n->name, n->nname, "try"))
		return n->nkid > 1 ? unhandled(n->kid[1]) : NULL;
	for (int i = 0; i < n->nkid; i++) {
		const struct xnode *k = n->kid[i];
		if (k->syn == XS_DICT || k->syn == XS_NAMED) {
			for (int j = 0; j < k->nkid; j++) {
				if (k->kid[j]->syn == XS_DLQ)
					continue;
				const struct xnode *f = unhandled(k->kid[j]);
				if (f != NULL)
					return f;
			}
			continue;
		}
		const struct xnode *f = unhandled(k);
		if (f != NULL)
			return f;
	}
	return NULL;
}

struct wb_expr *wb_expr_compile(const char *text, const struct wb_table *table,
				const struct wb_xtype *want, bool allow_null,
				bool before_complete, bool fallible_ok,
				struct wb_expr_diag *diag)
{
	return wb_expr_compile_before(text, table, want, allow_null,
				      before_complete ? WB_EXPR_BEFORE_FULL
						      : WB_EXPR_BEFORE_KEYS,
				      fallible_ok, diag);
}

struct wb_expr *
wb_expr_compile_before(const char *text, const struct wb_table *table,
		       const struct wb_xtype *want, bool allow_null,
		       enum wb_expr_before before, bool fallible_ok,
		       struct wb_expr_diag *diag)
{
	memset(diag, 0, sizeof(*diag));
	struct wb_expr *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		snprintf(diag->message, sizeof(diag->message), "out of memory");
		diag->line = diag->column = 1;
		return NULL;
	}
	wb_arena_init(&e->arena, 4096);
	struct xcomp cc = {.text = text,
			   .table = table,
			   .before = before,
			   .e = e,
			   .diag = diag};
	struct xnode *root = wb_xparse(&cc, text, strlen(text));
	cc.depth = 0;
	if (root != NULL)
		root = wb_xcheck(&cc, root);
	if (root != NULL && want != NULL && want->kind != WB_X_NULLTYPE) {
		bool nul = root->t.nullable;
		root = wb_xconvert(&cc, root, want, "the result");
		if (root != NULL) {
			if (root->t.kind == WB_X_DECIMAL ||
			    root->t.kind == WB_X_INT)
				root->t.precision = want->precision
							    ? want->precision
							    : root->t.precision;
			root->t.nullable = nul;
		}
		if (root != NULL && nul && !want->nullable && !allow_null)
			root = wb_xerr(&cc, root->line, root->col,
				       "the result may be NULL where a value "
				       "is required: before./after. columns "
				       "are NULL when the change has no such "
				       "image; coalesce(x, default) gives one");
	}
	if (root != NULL && !fallible_ok) {
		const struct xnode *f = unhandled(root);
		if (f != NULL)
			root = wb_xerr(&cc, f->line, f->col,
				       "%s, and failures are not allowed "
				       "here: handle it with try(x, fallback)",
				       f->fail);
	}
	if (root == NULL) {
		if (!cc.failed)
			wb_xerr(&cc, 1, 1, "out of memory");
		wb_expr_free(e);
		return NULL;
	}
	e->root = root;
	e->type = root->t;
	return e;
}

const struct wb_xtype *wb_expr_type(const struct wb_expr *e)
{
	return &e->type;
}

void wb_expr_free(struct wb_expr *e)
{
	if (e == NULL)
		return;
	for (int i = 0; i < e->nowned; i++)
		e->owned[i].free(e->owned[i].p);
	free(e->owned);
	wb_arena_free(&e->arena);
	free(e);
}

int wb_expr_eval(const struct wb_expr *e, const struct wb_expr_row *row,
		 struct wb_arena *a, struct wb_xval *out, const char **reason)
{
	struct xctx c = {.ch = row->change, .row = row, .a = a};
	if (e->root->fn(e->root, &c, out) != 0) {
		*reason = c.reason ? c.reason : "failed";
		return -1;
	}
	return 0;
}

size_t wb_xdecimal_text(__int128 v, int scale, char *buf, size_t n)
{
	return wb_xdec_text(v, scale, buf, n);
}
