/* expr_eval.c — the evaluators of the compiled tree: one small function
 * per node kind and operand type, chosen by the checker, so evaluating is
 * a chain of indirect calls with no dispatch on node types at run time.
 * Each returns 0 with *out set (out->null for SQL NULL) or -1 with the
 * reason in the context. */
#include <string.h>

#include "expr_int.h"
#include "valconv.h"
#include "xdecimal.h"

int wb_xf_lit(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	*out = n->k;
	return 0;
}

int wb_xf_col_bool(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const struct wb_value *v;
	if (wb_xcolumn(n, c, &v) != 0)
		return -1;
	out->null = v == NULL;
	if (v)
		out->u.b = v->u.i != 0;
	return 0;
}

int wb_xf_col_int(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const struct wb_value *v;
	if (wb_xcolumn(n, c, &v) != 0)
		return -1;
	out->null = v == NULL;
	if (v)
		out->u.i = v->u.i;
	return 0;
}

int wb_xf_col_date(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const struct wb_value *v;
	if (wb_xcolumn(n, c, &v) != 0)
		return -1;
	out->null = v == NULL;
	if (v)
		out->u.date = (int32_t)v->u.i;
	return 0;
}

int wb_xf_col_ts(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const struct wb_value *v;
	if (wb_xcolumn(n, c, &v) != 0)
		return -1;
	out->null = v == NULL;
	if (v)
		out->u.ts = v->u.i;
	return 0;
}

int wb_xf_col_str(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const struct wb_value *v;
	if (wb_xcolumn(n, c, &v) != 0)
		return -1;
	out->null = v == NULL;
	if (v) {
		out->u.s.p = (const char *)v->u.b.p;
		out->u.s.n = v->u.b.n;
	}
	return 0;
}

int wb_xf_col_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const struct wb_value *v;
	if (wb_xcolumn(n, c, &v) != 0)
		return -1;
	out->null = v == NULL;
	if (v == NULL)
		return 0;
	uint32_t len = v->u.b.n;
	if (len - 1 < 8) { /* 1 to 8 bytes: the common case, in 64 bits */
		const uint8_t *b = v->u.b.p;
		uint64_t u = (b[0] & 0x80) ? ~UINT64_C(0) : 0;
		for (uint32_t i = 0; i < len; i++)
			u = (u << 8) | b[i];
		out->u.d = (int64_t)u;
		if (n->t.precision >= 19 ||
		    wb_xdec_fits(out->u.d, n->t.precision))
			return 0;
		return xfail(c, "overflow");
	}
	if (wb_xdec_from_bytes(v->u.b.p, len, &out->u.d) != WB_XDEC_OK ||
	    !wb_xdec_fits(out->u.d, n->t.precision))
		return xfail(c, "overflow");
	return 0;
}

static inline void str_out(struct wb_xval *out, const char *s, size_t n)
{
	out->null = s == NULL;
	out->u.s.p = s;
	out->u.s.n = (uint32_t)n;
}

int wb_xf_op(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	static const char ops[] = "cudrtBC";
	const char *p = memchr(ops, c->ch->op, sizeof(ops) - 1);
	str_out(out, p ? p : "?", 1);
	return 0;
}

int wb_xf_src_table(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const char *s = c->ch->table->name;
	str_out(out, s, s ? strlen(s) : 0);
	return 0;
}

int wb_xf_src_schema(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const char *s = c->ch->table->schema;
	str_out(out, s, s ? strlen(s) : 0);
	return 0;
}

int wb_xf_src_db(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const char *s = c->ch->table->db;
	str_out(out, s, s ? strlen(s) : 0);
	return 0;
}

int wb_xf_src_position(const struct xnode *n, struct xctx *c,
		       struct wb_xval *out)
{
	const char *s = c->row->position;
	str_out(out, s, s ? strlen(s) : 0);
	return 0;
}

int wb_xf_src_ts(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	out->null = false;
	out->u.ts = c->ch->commit_ts_us;
	return 0;
}

/* ---- conversions --------------------------------------------------------- */

int wb_xf_int_to_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	__int128 v;
	if (wb_xdec_mul(out->u.i, n->m1, n->i1, &v) != WB_XDEC_OK)
		return xfail(c, "overflow");
	out->u.d = v;
	return 0;
}

int wb_xf_dec_up(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	/* the operand is below 10^38; the factor at most 10^38 */
	__int128 v;
	if (wb_xdec_mul(out->u.d, n->m1, n->i1, &v) != WB_XDEC_OK)
		return xfail(c, "overflow");
	out->u.d = v;
	return 0;
}

int wb_xf_dec_to_int(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	if (out->u.d > INT64_MAX || out->u.d < INT64_MIN)
		return xfail(c, "overflow");
	out->u.i = (int64_t)out->u.d;
	return 0;
}

int wb_xf_retype(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	return n->kid[0]->fn(n->kid[0], c, out);
}

/* ---- arithmetic ---------------------------------------------------------- */

/* Both operands into a and out; returns 1 (out set NULL) when either is
 * NULL, -1 on failure, 0 otherwise. */
static inline int operands(const struct xnode *n, struct xctx *c,
			   struct wb_xval *a, struct wb_xval *out)
{
	if (n->kid[0]->fn(n->kid[0], c, a) != 0)
		return -1;
	if (n->kid[1]->fn(n->kid[1], c, out) != 0)
		return -1;
	if (a->null || out->null) {
		out->null = true;
		return 1;
	}
	return 0;
}

#define OPERANDS(n, c, a, out)                                                 \
	struct wb_xval a;                                                      \
	do {                                                                   \
		int rc_ = operands(n, c, &a, out);                             \
		if (rc_ != 0)                                                  \
			return rc_ < 0 ? -1 : 0;                               \
	} while (0)

static int add_int(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (__builtin_add_overflow(a.u.i, out->u.i, &out->u.i))
		return xfail(c, "overflow");
	return 0;
}

static int sub_int(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (__builtin_sub_overflow(a.u.i, out->u.i, &out->u.i))
		return xfail(c, "overflow");
	return 0;
}

static int mul_int(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (__builtin_mul_overflow(a.u.i, out->u.i, &out->u.i))
		return xfail(c, "overflow");
	return 0;
}

static int mod_int(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (out->u.i == 0)
		return xfail(c, "division by zero");
	out->u.i = out->u.i == -1 ? 0 : a.u.i % out->u.i;
	return 0;
}

static int neg_int(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	if (out->u.i == INT64_MIN)
		return xfail(c, "overflow");
	out->u.i = -out->u.i;
	return 0;
}

static int neg_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (!out->null)
		out->u.d = -out->u.d;
	return 0;
}

/* Decimal nodes: i1, i2 the operands' scales, i3 the result's precision,
 * t.scale the result's scale. */
static int add_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (n->i1 == n->i2) {
		/* |a|, |b| < 10^38: the sum fits 128 bits only below 2^127;
		 * the builtin tells */
		__int128 r;
		if (__builtin_add_overflow(a.u.d, out->u.d, &r) ||
		    !wb_xdec_fits(r, n->i3))
			return xfail(c, "overflow");
		out->u.d = r;
		return 0;
	}
	if (wb_xdec_add(a.u.d, n->i1, out->u.d, n->i2, n->t.scale, n->i3,
			&out->u.d) != WB_XDEC_OK)
		return xfail(c, "overflow");
	return 0;
}

static int sub_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (n->i1 == n->i2) {
		__int128 r;
		if (__builtin_sub_overflow(a.u.d, out->u.d, &r) ||
		    !wb_xdec_fits(r, n->i3))
			return xfail(c, "overflow");
		out->u.d = r;
		return 0;
	}
	if (wb_xdec_add(a.u.d, n->i1, -out->u.d, n->i2, n->t.scale, n->i3,
			&out->u.d) != WB_XDEC_OK)
		return xfail(c, "overflow");
	return 0;
}

static int mul_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (wb_xdec_mul(a.u.d, out->u.d, n->i3, &out->u.d) != WB_XDEC_OK)
		return xfail(c, "overflow");
	return 0;
}

static int div_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	int rc = wb_xdec_div(a.u.d, n->i1, out->u.d, n->i2, n->t.scale, n->i3,
			     WB_XR_HALF_EVEN, &out->u.d);
	if (rc == WB_XDEC_DIVZERO)
		return xfail(c, "division by zero");
	if (rc != WB_XDEC_OK)
		return xfail(c, "overflow");
	return 0;
}

static int mod_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (wb_xdec_mod(a.u.d, n->i1, out->u.d, n->i2, n->t.scale, &out->u.d) !=
	    WB_XDEC_OK)
		return xfail(c, "division by zero");
	return 0;
}

static int concat2(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	OPERANDS(n, c, a, out);
	if (a.u.s.n == 0)
		return 0;
	if (out->u.s.n == 0) {
		*out = a;
		return 0;
	}
	size_t len = (size_t)a.u.s.n + out->u.s.n;
	if (len > UINT32_MAX)
		return xfail(c, "text too long");
	char *p = wb_arena_alloc(c->a, len);
	if (p == NULL)
		return xfail(c, "out of memory");
	memcpy(p, a.u.s.p, a.u.s.n);
	memcpy(p + a.u.s.n, out->u.s.p, out->u.s.n);
	out->u.s.p = p;
	out->u.s.n = (uint32_t)len;
	return 0;
}

/* ---- comparisons --------------------------------------------------------- */

static inline int str_cmp(const struct wb_xval *a, const struct wb_xval *b)
{
	uint32_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
	int r = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
	if (r != 0)
		return r < 0 ? -1 : 1;
	return a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n ? 1 : 0;
}

#define CMP_SCALAR(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

#define DEF_CMP(suffix, expr)                                                  \
	static int cmp_##suffix(const struct xnode *n, struct xctx *c,         \
				const struct wb_xval *a,                       \
				const struct wb_xval *b)                       \
	{                                                                      \
		(void)n;                                                       \
		(void)c;                                                       \
		return expr;                                                   \
	}

DEF_CMP(b, CMP_SCALAR(a->u.b, b->u.b))
DEF_CMP(i, CMP_SCALAR(a->u.i, b->u.i))
DEF_CMP(d, wb_xdec_cmp(a->u.d, n->i1, b->u.d, n->i2))
DEF_CMP(s, str_cmp(a, b))
DEF_CMP(dt, CMP_SCALAR(a->u.date, b->u.date))
DEF_CMP(ts, CMP_SCALAR(a->u.ts, b->u.ts))

#define DEF_REL(kind, name, test)                                              \
	static int rel_##name##_##kind(const struct xnode *n, struct xctx *c,  \
				       struct wb_xval *out)                    \
	{                                                                      \
		OPERANDS(n, c, a, out);                                        \
		int r = cmp_##kind(n, c, &a, out);                             \
		out->u.b = (test);                                             \
		return 0;                                                      \
	}

#define DEF_RELS(kind)                                                         \
	DEF_REL(kind, eq, r == 0)                                              \
	DEF_REL(kind, ne, r != 0)                                              \
	DEF_REL(kind, lt, r < 0)                                               \
	DEF_REL(kind, le, r <= 0)                                              \
	DEF_REL(kind, gt, r > 0)                                               \
	DEF_REL(kind, ge, r >= 0)

DEF_RELS(b)
DEF_RELS(i)
DEF_RELS(d)
DEF_RELS(s)
DEF_RELS(dt)
DEF_RELS(ts)

#define RELS(kind)                                                             \
	{                                                                      \
		rel_eq_##kind, rel_ne_##kind, rel_lt_##kind, rel_le_##kind,    \
			rel_gt_##kind, rel_ge_##kind                           \
	}

xfn_t wb_xf_binary(int op, int kind)
{
	static const xfn_t rels[][6] = {
		[WB_X_BOOL] = RELS(b),	  [WB_X_INT] = RELS(i),
		[WB_X_DECIMAL] = RELS(d), [WB_X_STRING] = RELS(s),
		[WB_X_DATE] = RELS(dt),	  [WB_X_TIMESTAMP] = RELS(ts),
	};
	if (op >= T_EQ && op <= T_GE)
		return kind <= WB_X_TIMESTAMP ? rels[kind][op - T_EQ] : NULL;
	if (op == T_CONCAT)
		return kind == WB_X_STRING ? concat2 : NULL;
	if (kind == WB_X_INT) {
		switch (op) {
		case T_PLUS:
			return add_int;
		case T_MINUS:
			return sub_int;
		case T_STAR:
			return mul_int;
		case T_PCT:
			return mod_int;
		default:
			return NULL;
		}
	}
	if (kind == WB_X_DECIMAL) {
		switch (op) {
		case T_PLUS:
			return add_dec;
		case T_MINUS:
			return sub_dec;
		case T_STAR:
			return mul_dec;
		case T_SLASH:
			return div_dec;
		case T_PCT:
			return mod_dec;
		default:
			return NULL;
		}
	}
	return NULL;
}

xfn_t wb_xf_neg(int kind)
{
	return kind == WB_X_INT ? neg_int : neg_dec;
}

/* ---- logic --------------------------------------------------------------- */

/* Three-valued: false and anything is false, even NULL. */
int wb_xf_and(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (!out->null && !out->u.b)
		return 0;
	struct wb_xval b;
	XEVAL(n->kid[1], c, &b);
	if (!b.null && !b.u.b) {
		*out = b;
		return 0;
	}
	out->null = out->null || b.null;
	out->u.b = true;
	return 0;
}

/* Three-valued: true or anything is true, even NULL. */
int wb_xf_or(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (!out->null && out->u.b)
		return 0;
	struct wb_xval b;
	XEVAL(n->kid[1], c, &b);
	if (!b.null && b.u.b) {
		*out = b;
		return 0;
	}
	out->null = out->null || b.null;
	out->u.b = false;
	return 0;
}

int wb_xf_not(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (!out->null)
		out->u.b = !out->u.b;
	return 0;
}

int wb_xf_coalesce(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	for (int i = 0; i < n->nkid; i++) {
		XEVAL(n->kid[i], c, out);
		if (!out->null)
			return 0;
	}
	return 0;
}
