/* expr_parse.c — the expression language's parser: precedence climbing
 * over the lexer's tokens into a tree of nodes, each with the line:column
 * of its token (an operator's node has the operator's position).
 *
 * Grammar, lowest precedence first:
 *   expr    := or ('??' or)*
 *   or      := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | cmp
 *   cmp     := concat (('='|'!='|'<'|'<='|'>'|'>=') concat)?   (no chains)
 *   concat  := add ('||' add)*
 *   add     := mul (('+'|'-') mul)*
 *   mul     := unary (('*'|'/'|'%') unary)*
 *   unary   := '-' unary | primary
 *   primary := literal | name ['.' (name | "quoted")] | name '(' args ')'
 *            | 'date' 'text' | 'timestamp' 'text' | '(' expr ')'
 *   args    := [arg (',' arg)*];  arg := expr | '{' [expr ':' expr
 *              (',' expr ':' expr)*] '}' | name ':' (expr | 'dlq') */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "expr_int.h"
#include "valconv.h"
#include "xdecimal.h"

#define MAX_DEPTH 64
#define MAX_NODES 20000

struct xparser {
	struct xcomp *cc;
	struct xlex lx;
	struct xtok tok;
};

static void next(struct xparser *ps)
{
	wb_xlex_next(&ps->lx, &ps->tok);
}

/* The kind of the token after the current one. */
static int peek(struct xparser *ps)
{
	struct xlex save = ps->lx;
	struct xtok t;
	wb_xlex_next(&ps->lx, &t);
	ps->lx = save;
	return t.kind;
}

static bool kw(const struct xtok *t, const char *word)
{
	return t->kind == T_IDENT && strlen(word) == t->n &&
	       strncasecmp(t->p, word, t->n) == 0;
}

static void *unexpected(struct xparser *ps, const char *want)
{
	const struct xtok *t = &ps->tok;
	if (t->kind == T_ERR)
		return wb_xerr(ps->cc, t->line, t->col, "%s", ps->lx.err);
	if (t->kind == T_EOF)
		return wb_xerr(ps->cc, t->line, t->col,
			       "expected %s, found the end of the expression",
			       want);
	int n = t->n > 40 ? 40 : (int)t->n;
	return wb_xerr(ps->cc, t->line, t->col, "expected %s, found '%.*s'",
		       want, n, t->p);
}

static bool expect(struct xparser *ps, int kind, const char *want)
{
	if (ps->tok.kind != kind) {
		unexpected(ps, want);
		return false;
	}
	next(ps);
	return true;
}

static struct xnode *node_at(struct xparser *ps, int syn, const struct xtok *t)
{
	if (++ps->cc->nnodes > MAX_NODES)
		return wb_xerr(ps->cc, t->line, t->col,
			       "expression too large (over %d nodes)",
			       MAX_NODES);
	return wb_xnode(ps->cc, syn, t->line, t->col);
}

static bool add_kid(struct xparser *ps, struct xnode *n, struct xnode *k,
		    int *cap)
{
	if (n->nkid == *cap) {
		int nc = *cap ? *cap * 2 : 4;
		struct xnode **kids = wb_arena_alloc(
			&ps->cc->e->arena, (size_t)nc * sizeof(*kids));
		if (kids == NULL) {
			wb_xerr(ps->cc, n->line, n->col, "out of memory");
			return false;
		}
		if (n->nkid)
			memcpy(kids, n->kid, (size_t)n->nkid * sizeof(*kids));
		n->kid = kids;
		*cap = nc;
	}
	n->kid[n->nkid++] = k;
	return true;
}

/* The text of a quoted token without its quotes, doubled quotes made
 * single, in the expression's arena. */
static const char *unquote(struct xparser *ps, const struct xtok *t,
			   size_t *len)
{
	char q = t->p[0];
	char *out = wb_arena_alloc(&ps->cc->e->arena, t->n);
	if (out == NULL)
		return wb_xerr(ps->cc, t->line, t->col, "out of memory");
	size_t o = 0;
	for (size_t i = 1; i + 1 < t->n; i++) {
		out[o++] = t->p[i];
		if (t->p[i] == q)
			i++;
	}
	out[o] = '\0';
	*len = o;
	if (wb_utf8_first_invalid((const uint8_t *)out, o) != o)
		return wb_xerr(ps->cc, t->line, t->col, "%s is not valid UTF-8",
			       q == '\'' ? "text literal" : "quoted name");
	return out;
}

static struct xnode *number(struct xparser *ps)
{
	const struct xtok *t = &ps->tok;
	struct xnode *n = node_at(ps, XS_LIT, t);
	if (n == NULL)
		return NULL;
	size_t lead = 0, nint = 0;
	while (lead < t->n && t->p[lead] == '0')
		lead++;
	while (lead + nint < t->n && t->p[lead + nint] != '.')
		nint++;
	int scale = t->kind == T_DEC ? (int)(t->n - lead - nint - 1) : 0;
	int prec = (int)nint + scale;
	if (prec == 0)
		prec = 1;
	if (prec > WB_XDEC_MAXP)
		return wb_xerr(ps->cc, t->line, t->col,
			       "number with %d digits: at most 38", prec);
	__int128 v;
	if (wb_xdec_from_text(t->p, t->n, scale, WB_XDEC_MAXP, WB_XR_NONE,
			      &v) != WB_XDEC_OK)
		return wb_xerr(ps->cc, t->line, t->col, "malformed number");
	if (t->kind == T_INT && v <= INT64_MAX) {
		n->t = (struct wb_xtype){.kind = WB_X_INT,
					 .precision = (uint8_t)prec};
		n->k.u.i = (int64_t)v;
	} else {
		n->t = (struct wb_xtype){.kind = WB_X_DECIMAL,
					 .precision = (uint8_t)prec,
					 .scale = (uint8_t)scale};
		n->k.u.d = v;
	}
	next(ps);
	return n;
}

static struct xnode *parse(struct xparser *ps, int minprec);

static struct xnode *args(struct xparser *ps, struct xnode *call)
{
	int cap = 0;
	next(ps); /* ( */
	if (ps->tok.kind == T_RP) {
		next(ps);
		return call;
	}
	for (;;) {
		struct xnode *a;
		struct xtok t = ps->tok;
		if (t.kind == T_LBRACE) {
			a = node_at(ps, XS_DICT, &t);
			if (a == NULL)
				return NULL;
			int dcap = 0;
			next(ps);
			while (ps->tok.kind != T_RBRACE) {
				struct xnode *k = parse(ps, 1);
				if (k == NULL || !expect(ps, T_COLON, "':'"))
					return NULL;
				struct xnode *v = parse(ps, 1);
				if (v == NULL || !add_kid(ps, a, k, &dcap) ||
				    !add_kid(ps, a, v, &dcap))
					return NULL;
				if (ps->tok.kind == T_COMMA)
					next(ps);
				else if (ps->tok.kind != T_RBRACE)
					return unexpected(ps, "',' or '}'");
			}
			next(ps);
		} else if (t.kind == T_IDENT && peek(ps) == T_COLON) {
			a = node_at(ps, XS_NAMED, &t);
			if (a == NULL)
				return NULL;
			a->name = t.p;
			a->nname = t.n;
			next(ps);
			next(ps); /* : */
			struct xnode *v;
			if (kw(&ps->tok, "dlq")) {
				v = node_at(ps, XS_DLQ, &ps->tok);
				next(ps);
			} else {
				v = parse(ps, 1);
			}
			int ncap = 0;
			if (v == NULL || !add_kid(ps, a, v, &ncap))
				return NULL;
		} else {
			a = parse(ps, 1);
			if (a == NULL)
				return NULL;
		}
		if (!add_kid(ps, call, a, &cap))
			return NULL;
		if (ps->tok.kind == T_COMMA) {
			next(ps);
			continue;
		}
		if (!expect(ps, T_RP, "',' or ')'"))
			return NULL;
		return call;
	}
}

static struct xnode *primary(struct xparser *ps)
{
	struct xtok t = ps->tok;
	struct xnode *n;
	switch (t.kind) {
	case T_INT:
	case T_DEC:
		return number(ps);
	case T_STR:
		n = node_at(ps, XS_LIT, &t);
		if (n == NULL)
			return NULL;
		size_t len;
		n->k.u.s.p = unquote(ps, &t, &len);
		if (n->k.u.s.p == NULL)
			return NULL;
		n->k.u.s.n = (uint32_t)len;
		n->t.kind = WB_X_STRING;
		next(ps);
		return n;
	case T_LP:
		next(ps);
		n = parse(ps, 1);
		if (n == NULL || !expect(ps, T_RP, "')'"))
			return NULL;
		return n;
	case T_IDENT:
		break;
	default:
		return unexpected(ps, "a value, a name or '('");
	}
	next(ps);
	if (kw(&t, "true") || kw(&t, "false")) {
		n = node_at(ps, XS_LIT, &t);
		if (n == NULL)
			return NULL;
		n->t.kind = WB_X_BOOL;
		n->k.u.b = kw(&t, "true");
		return n;
	}
	if (kw(&t, "null")) {
		n = node_at(ps, XS_LIT, &t);
		if (n == NULL)
			return NULL;
		n->t = (struct wb_xtype){.kind = WB_X_NULLTYPE,
					 .nullable = true};
		n->k.null = true;
		return n;
	}
	if ((kw(&t, "date") || kw(&t, "timestamp")) && ps->tok.kind == T_STR) {
		n = node_at(ps, kw(&t, "date") ? XS_DATELIT : XS_TSLIT, &t);
		if (n == NULL)
			return NULL;
		n->name = unquote(ps, &ps->tok, &n->nname);
		if (n->name == NULL)
			return NULL;
		next(ps);
		return n;
	}
	static const char *reserved[] = {"and", "or", "not", "dlq"};
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (kw(&t, reserved[i]))
			return wb_xerr(ps->cc, t.line, t.col,
				       "expected a value, found '%s'",
				       reserved[i]);
	if (ps->tok.kind == T_LP) {
		n = node_at(ps, XS_CALL, &t);
		if (n == NULL)
			return NULL;
		n->name = t.p;
		n->nname = t.n;
		return args(ps, n);
	}
	n = node_at(ps, XS_REF, &t);
	if (n == NULL)
		return NULL;
	n->name = t.p;
	n->nname = t.n;
	if (ps->tok.kind == T_DOT) {
		next(ps);
		if (ps->tok.kind == T_IDENT) {
			n->name2 = ps->tok.p;
			n->nname2 = ps->tok.n;
		} else if (ps->tok.kind == T_QIDENT) {
			n->name2 = unquote(ps, &ps->tok, &n->nname2);
			if (n->name2 == NULL)
				return NULL;
		} else {
			return unexpected(ps, "a column name after '.'");
		}
		next(ps);
	}
	return n;
}

static int binprec(const struct xtok *t)
{
	switch (t->kind) {
	case T_COALESCE:
		return 1;
	case T_EQ:
	case T_NE:
	case T_LT:
	case T_LE:
	case T_GT:
	case T_GE:
		return 5;
	case T_CONCAT:
		return 6;
	case T_PLUS:
	case T_MINUS:
		return 7;
	case T_STAR:
	case T_SLASH:
	case T_PCT:
		return 8;
	case T_IDENT:
		return kw(t, "or") ? 2 : kw(t, "and") ? 3 : 0;
	default:
		return 0;
	}
}

static struct xnode *parse(struct xparser *ps, int minprec)
{
	if (++ps->cc->depth > MAX_DEPTH)
		return wb_xerr(ps->cc, ps->tok.line, ps->tok.col,
			       "expression nested too deeply (over %d levels)",
			       MAX_DEPTH);
	struct xnode *lhs;
	struct xtok t = ps->tok;
	if (kw(&t, "not")) {
		next(ps);
		struct xnode *x = parse(ps, 4);
		lhs = x ? node_at(ps, XS_NOT, &t) : NULL;
		if (lhs != NULL) {
			lhs->kid = wb_arena_alloc(&ps->cc->e->arena,
						  sizeof(*lhs->kid));
			if (lhs->kid == NULL)
				return wb_xerr(ps->cc, t.line, t.col,
					       "out of memory");
			lhs->kid[0] = x;
			lhs->nkid = 1;
		}
	} else if (t.kind == T_MINUS) {
		next(ps);
		struct xnode *x = parse(ps, 9);
		lhs = x ? node_at(ps, XS_NEG, &t) : NULL;
		if (lhs != NULL) {
			lhs->kid = wb_arena_alloc(&ps->cc->e->arena,
						  sizeof(*lhs->kid));
			if (lhs->kid == NULL)
				return wb_xerr(ps->cc, t.line, t.col,
					       "out of memory");
			lhs->kid[0] = x;
			lhs->nkid = 1;
		}
	} else {
		lhs = primary(ps);
	}
	while (lhs != NULL) {
		struct xtok op = ps->tok;
		int p = binprec(&op);
		if (p == 0 || p < minprec)
			break;
		next(ps);
		struct xnode *rhs = parse(ps, p + 1);
		if (rhs == NULL)
			return NULL;
		int syn = kw(&op, "and")  ? XS_AND
			  : kw(&op, "or") ? XS_OR
					  : XS_BINARY;
		struct xnode *b = node_at(ps, syn, &op);
		if (b == NULL)
			return NULL;
		b->op = (uint8_t)op.kind;
		b->kid = wb_arena_alloc(&ps->cc->e->arena, 2 * sizeof(*b->kid));
		if (b->kid == NULL)
			return wb_xerr(ps->cc, op.line, op.col,
				       "out of memory");
		b->kid[0] = lhs;
		b->kid[1] = rhs;
		b->nkid = 2;
		lhs = b;
		if (p == 5 && binprec(&ps->tok) == 5)
			return wb_xerr(ps->cc, ps->tok.line, ps->tok.col,
				       "comparisons do not chain: write "
				       "a < b and b < c");
	}
	ps->cc->depth--;
	return lhs;
}

struct xnode *wb_xparse(struct xcomp *cc, const char *text, size_t n)
{
	struct xparser ps = {.cc = cc};
	wb_xlex_init(&ps.lx, text, n);
	next(&ps);
	if (ps.tok.kind == T_EOF)
		return wb_xerr(cc, ps.tok.line, ps.tok.col, "empty expression");
	struct xnode *root = parse(&ps, 1);
	if (root == NULL)
		return NULL;
	if (ps.tok.kind != T_EOF)
		return unexpected(&ps, "an operator or the end");
	return root;
}
