/* expr_fn.c — the expression language's functions: for each, a check that
 * types its arguments at start-up (and prepares what it can: regular
 * expressions compiled, zones loaded, map tables sorted) and evaluators
 * chosen by argument type. Also the date and timestamp text forms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "expr_int.h"
#include "valconv.h"
#include "xdecimal.h"
#include "xregex.h"
#include "xtz.h"

/* ---- text forms of dates and times --------------------------------------- */

static bool digits(const char *s, size_t n, size_t at, int count, int *out)
{
	if (at + (size_t)count > n)
		return false;
	int v = 0;
	for (int i = 0; i < count; i++) {
		char c = s[at + (size_t)i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return true;
}

static bool parse_ymd(const char *s, size_t n, int64_t *days)
{
	int y, m, d;
	if (!digits(s, n, 0, 4, &y) || n < 10 || s[4] != '-' ||
	    !digits(s, n, 5, 2, &m) || s[7] != '-' || !digits(s, n, 8, 2, &d))
		return false;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > wb_days_in_month(y, m))
		return false;
	*days = wb_days_from_civil(y, m, d);
	return true;
}

bool wb_xparse_date(const char *s, size_t n, int32_t *days)
{
	int64_t d;
	if (n != 10 || !parse_ymd(s, n, &d))
		return false;
	*days = (int32_t)d;
	return true;
}

bool wb_xparse_ts(const char *s, size_t n, int64_t *us, bool *has_off,
		  int32_t *off)
{
	int64_t days;
	if (!parse_ymd(s, n, &days))
		return false;
	size_t i = 10;
	int h = 0, mi = 0, se = 0;
	int64_t frac = 0;
	if (i < n && (s[i] == ' ' || s[i] == 'T' || s[i] == 't')) {
		i++;
		if (!digits(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' ||
		    !digits(s, n, i + 3, 2, &mi))
			return false;
		i += 5;
		if (i < n && s[i] == ':') {
			if (!digits(s, n, i + 1, 2, &se))
				return false;
			i += 3;
			if (i < n && s[i] == '.') {
				i++;
				int nd = 0;
				while (i < n && s[i] >= '0' && s[i] <= '9') {
					if (++nd > 6)
						return false;
					frac = frac * 10 + (s[i++] - '0');
				}
				if (nd == 0)
					return false;
				while (nd++ < 6)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || se > 59)
			return false;
	}
	*has_off = false;
	*off = 0;
	if (i < n && s[i] == ' ')
		i++;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		*has_off = true;
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1, oh, om = 0;
		if (!digits(s, n, i + 1, 2, &oh))
			return false;
		i += 3;
		if (i < n && s[i] == ':')
			i++;
		if (i < n) {
			if (!digits(s, n, i, 2, &om))
				return false;
			i += 2;
		}
		if (oh > 18 || om > 59)
			return false;
		*has_off = true;
		*off = sign * (oh * 3600 + om * 60);
	}
	if (i != n)
		return false;
	*us = days * WB_USECS_PER_DAY +
	      ((int64_t)h * 3600 + mi * 60 + se) * WB_USECS_PER_SEC + frac;
	return true;
}

static size_t date_text(int64_t days, char *buf, size_t n)
{
	int64_t y;
	int m, d;
	wb_civil_from_days(days, &y, &m, &d);
	return (size_t)snprintf(buf, n, "%04lld-%02d-%02d", (long long)y, m, d);
}

static size_t ts_text(int64_t us, bool local, char *buf, size_t n)
{
	int64_t days = wb_floor_div(us, WB_USECS_PER_DAY);
	int64_t rest = us - days * WB_USECS_PER_DAY;
	size_t o = date_text(days, buf, n);
	int64_t secs = rest / WB_USECS_PER_SEC, frac = rest % WB_USECS_PER_SEC;
	o += (size_t)snprintf(buf + o, n - o, "T%02d:%02d:%02d",
			      (int)(secs / 3600), (int)(secs / 60 % 60),
			      (int)(secs % 60));
	if (frac != 0)
		o += (size_t)snprintf(buf + o, n - o, ".%06lld",
				      (long long)frac);
	if (!local)
		o += (size_t)snprintf(buf + o, n - o, "Z");
	return o;
}

size_t wb_xval_text(const struct wb_xtype *t, const struct wb_xval *v,
		    char *buf, size_t n)
{
	switch (t->kind) {
	case WB_X_BOOL:
		return (size_t)snprintf(buf, n, "%s",
					v->u.b ? "true" : "false");
	case WB_X_INT:
		return (size_t)snprintf(buf, n, "%lld", (long long)v->u.i);
	case WB_X_DECIMAL:
		return wb_xdec_text(v->u.d, t->scale, buf, n);
	case WB_X_DATE:
		return date_text(v->u.date, buf, n);
	case WB_X_TIMESTAMP:
		return ts_text(v->u.ts, t->local, buf, n);
	default:
		return (size_t)snprintf(buf, n, "?");
	}
}

/* ---- helpers ------------------------------------------------------------- */

/* A failure reason naming a value: "<pre>'<text>' <post>" in the arena
 * (the text cut at 60 bytes on a character boundary). */
static int fail_value(struct xctx *c, const char *pre, const char *s, size_t n,
		      const char *post)
{
	bool cut = n > 60;
	if (cut) {
		n = 60;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	size_t len = strlen(pre) + n + strlen(post) + 8;
	char *r = wb_arena_alloc(c->a, len);
	if (r == NULL)
		return xfail(c, post[0] ? post : pre);
	snprintf(r, len, "%s'%.*s%s'%s%s", pre, (int)n, s, cut ? "..." : "",
		 post[0] ? " " : "", post);
	return xfail(c, r);
}

static int fail_text(struct xctx *c, const char *s, size_t n, const char *what)
{
	return fail_value(c, "", s, n, what);
}

static int str_result(struct xctx *c, struct wb_xval *out, const char *s,
		      size_t n)
{
	char *p = wb_arena_dup(c->a, s, n);
	if (p == NULL)
		return xfail(c, "out of memory");
	out->null = false;
	out->u.s.p = p;
	out->u.s.n = (uint32_t)n;
	return 0;
}

/* Length of the UTF-8 character at s[0] (1 for a stray byte), bounded by
 * n. */
static size_t char_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t l = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	return l > n ? n : l;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static bool lit_int(const struct xnode *k, int64_t *v)
{
	if (k->syn != XS_LIT || k->t.kind != WB_X_INT || k->k.null)
		return false;
	*v = k->k.u.i;
	return true;
}

static bool lit_str(const struct xnode *k)
{
	return k->syn == XS_LIT && k->t.kind == WB_X_STRING && !k->k.null;
}

static struct xnode *want_kind(struct xcomp *cc, struct xnode *n, int i,
			       int kind, const char *what)
{
	struct xnode *k = n->kid[i];
	char b1[32], b2[32];
	if (k->t.kind == WB_X_NULLTYPE) {
		struct wb_xtype t = {.kind = (uint8_t)kind};
		if (kind == WB_X_INT)
			t.precision = 19;
		k = n->kid[i] = wb_xconvert(cc, k, &t, "");
		return k;
	}
	if (k->t.kind != kind) {
		struct wb_xtype t = {.kind = (uint8_t)kind};
		return wb_xerr(cc, k->line, k->col,
			       "%.*s: %s must be %s, found %s", (int)n->nname,
			       n->name, what, wb_xtype_name(&t, b1, sizeof(b1)),
			       wb_xtype_name(&k->t, b2, sizeof(b2)));
	}
	return k;
}

static bool any_nullable(const struct xnode *n)
{
	for (int i = 0; i < n->nkid; i++)
		if (n->kid[i]->t.nullable)
			return true;
	return false;
}

static struct wb_tz *zone_arg(struct xcomp *cc, struct xnode *n, int i)
{
	struct xnode *k = n->kid[i];
	if (!lit_str(k))
		return wb_xerr(cc, k->line, k->col,
			       "%.*s: the time zone must be a text literal "
			       "such as 'Europe/Berlin'",
			       (int)n->nname, n->name);
	char err[200];
	struct wb_tz *z = wb_tz_load(k->k.u.s.p, err, sizeof(err));
	if (z == NULL)
		return wb_xerr(cc, k->line, k->col, "%s", err);
	if (!wb_xown(cc, z, (void (*)(void *))wb_tz_free))
		return wb_xerr(cc, k->line, k->col, "out of memory");
	return z;
}

/* ---- coalesce, if, case, try -------------------------------------------- */

static int f_if(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	const struct xnode *k = !out->null && out->u.b ? n->kid[1] : n->kid[2];
	return k->fn(k, c, out);
}

static int f_case(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	int i;
	for (i = 0; i + 1 < n->nkid; i += 2) {
		XEVAL(n->kid[i], c, out);
		if (!out->null && out->u.b)
			return n->kid[i + 1]->fn(n->kid[i + 1], c, out);
	}
	return n->kid[i]->fn(n->kid[i], c, out);
}

static int f_try(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	if (n->kid[0]->fn(n->kid[0], c, out) == 0)
		return 0;
	c->reason = NULL;
	return n->kid[1]->fn(n->kid[1], c, out);
}

/* Unifies kids[from], kids[from + step], ... (and converts them). */
static bool unify_kids(struct xcomp *cc, struct xnode *n, int from, int step,
		       bool also_last, struct wb_xtype *u)
{
	bool first = true;
	char b1[32], b2[32];
	for (int pass = 0; pass < 2; pass++) {
		for (int i = from; i < n->nkid; i += step) {
			if (i == n->nkid - 1 && !also_last && step > 1)
				continue;
			struct xnode *k = n->kid[i];
			if (pass == 0) {
				if (first) {
					*u = k->t;
					first = false;
				} else if (!wb_xunify(u, &k->t, u)) {
					wb_xerr(cc, k->line, k->col,
						"%.*s: values must have one "
						"type, found %s and %s",
						(int)n->nname, n->name,
						wb_xtype_name(u, b1,
							      sizeof(b1)),
						wb_xtype_name(&k->t, b2,
							      sizeof(b2)));
					return false;
				}
			} else if ((n->kid[i] = wb_xconvert(
					    cc, k, u, "a value")) == NULL) {
				return false;
			}
		}
		if (pass == 0 && u->kind == WB_X_NULLTYPE) {
			u->kind = WB_X_STRING; /* only nulls: any type */
		}
	}
	return true;
}

static struct xnode *c_coalesce(struct xcomp *cc, struct xnode *n)
{
	struct wb_xtype u;
	if (!unify_kids(cc, n, 0, 1, true, &u))
		return NULL;
	u.nullable = true;
	for (int i = 0; i < n->nkid; i++)
		if (!n->kid[i]->t.nullable)
			u.nullable = false;
	n->t = u;
	n->fn = wb_xf_coalesce;
	return n;
}

static struct xnode *c_if(struct xcomp *cc, struct xnode *n)
{
	if (want_kind(cc, n, 0, WB_X_BOOL, "the condition") == NULL)
		return NULL;
	struct wb_xtype u;
	if (!unify_kids(cc, n, 1, 1, true, &u))
		return NULL;
	u.nullable = n->kid[1]->t.nullable || n->kid[2]->t.nullable;
	n->t = u;
	n->fn = f_if;
	return n;
}

static struct xnode *c_case(struct xcomp *cc, struct xnode *n)
{
	if (n->nkid % 2 == 0)
		return wb_xerr(cc, n->line, n->col,
			       "case(c1, v1, c2, v2, ..., default): the "
			       "default value is missing");
	for (int i = 0; i + 1 < n->nkid; i += 2)
		if (want_kind(cc, n, i, WB_X_BOOL, "a condition") == NULL)
			return NULL;
	struct wb_xtype u;
	/* values: 1, 3, ..., and the default (last) */
	if (!unify_kids(cc, n, 1, 2, true, &u))
		return NULL;
	struct xnode *d = n->kid[n->nkid - 1];
	struct wb_xtype du;
	if (!wb_xunify(&u, &d->t, &du)) {
		char b1[32], b2[32];
		return wb_xerr(cc, d->line, d->col,
			       "case: values must have one type, found %s and "
			       "%s",
			       wb_xtype_name(&u, b1, sizeof(b1)),
			       wb_xtype_name(&d->t, b2, sizeof(b2)));
	}
	for (int i = 1; i < n->nkid; i += 2)
		if ((n->kid[i] = wb_xconvert(cc, n->kid[i], &du, "a value")) ==
		    NULL)
			return NULL;
	if ((n->kid[n->nkid - 1] = wb_xconvert(cc, d, &du, "the default")) ==
	    NULL)
		return NULL;
	du.nullable = false;
	for (int i = 1; i < n->nkid; i += 2)
		du.nullable = du.nullable || n->kid[i]->t.nullable;
	du.nullable = du.nullable || n->kid[n->nkid - 1]->t.nullable;
	n->t = du;
	n->fn = f_case;
	return n;
}

static struct xnode *c_try(struct xcomp *cc, struct xnode *n)
{
	struct wb_xtype u;
	if (!unify_kids(cc, n, 0, 1, true, &u))
		return NULL;
	u.nullable = n->kid[0]->t.nullable || n->kid[1]->t.nullable;
	n->t = u;
	n->fn = f_try;
	return n;
}

/* ---- map ----------------------------------------------------------------- */

struct map_entry {
	struct wb_xval key;
	const struct xnode *val;
};

struct map_table {
	int n;
	bool is_int;
	const struct xnode *dflt; /* NULL: dlq */
	struct map_entry e[];
};

static int key_cmp(const struct wb_xval *a, const struct wb_xval *b,
		   bool is_int)
{
	if (is_int)
		return a->u.i < b->u.i ? -1 : a->u.i > b->u.i ? 1 : 0;
	/* by length first: status codes are short and mostly differ in it
	 * or in their first byte */
	if (a->u.s.n != b->u.s.n)
		return a->u.s.n < b->u.s.n ? -1 : 1;
	if (a->u.s.n == 0)
		return 0;
	if (a->u.s.p[0] != b->u.s.p[0])
		return (unsigned char)a->u.s.p[0] < (unsigned char)b->u.s.p[0]
			       ? -1
			       : 1;
	return memcmp(a->u.s.p, b->u.s.p, a->u.s.n);
}

static int f_map(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	const struct map_table *m = n->aux;
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	int lo = 0, hi = m->n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int r = key_cmp(out, &m->e[mid].key, m->is_int);
		if (r == 0)
			return m->e[mid].val->fn(m->e[mid].val, c, out);
		if (r < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	if (m->dflt != NULL)
		return m->dflt->fn(m->dflt, c, out);
	if (m->is_int) {
		char b[32];
		int l = snprintf(b, sizeof(b), "%lld", (long long)out->u.i);
		return fail_value(c, "no mapping for ", b, (size_t)l, "");
	}
	return fail_value(c, "no mapping for ", out->u.s.p, out->u.s.n, "");
}

static struct xnode *c_map(struct xcomp *cc, struct xnode *n)
{
	if (n->nkid != 3 || n->kid[1]->syn != XS_DICT ||
	    n->kid[2]->syn != XS_NAMED ||
	    strncmp(n->kid[2]->name, "default", n->kid[2]->nname) != 0 ||
	    n->kid[2]->nname != 7)
		return wb_xerr(cc, n->line, n->col,
			       "write map(x, {'key': value, ...}, default: "
			       "value) or map(x, {...}, default: dlq)");
	struct xnode *x = n->kid[0], *d = n->kid[1], *dn = n->kid[2];
	char b1[32];
	if (x->t.kind == WB_X_NULLTYPE)
		return wb_xerr(cc, x->line, x->col, "map of null");
	if (x->t.kind != WB_X_STRING && x->t.kind != WB_X_INT)
		return wb_xerr(cc, x->line, x->col,
			       "map: the key must be text or an int, found "
			       "%s: string(x) converts",
			       wb_xtype_name(&x->t, b1, sizeof(b1)));
	bool is_int = x->t.kind == WB_X_INT;
	int ne = d->nkid / 2;
	if (ne == 0)
		return wb_xerr(cc, d->line, d->col, "map: no entries");
	struct map_table *m = wb_xalloc(
		&cc->e->arena, sizeof(*m) + (size_t)ne * sizeof(m->e[0]));
	if (m == NULL)
		return wb_xerr(cc, n->line, n->col, "out of memory");
	m->n = ne;
	m->is_int = is_int;
	m->dflt = NULL;
	struct xnode *dv = dn->kid[0];
	bool dlq = dv->syn == XS_DLQ;
	/* the values' type */
	struct wb_xtype u = {.kind = WB_X_NULLTYPE, .nullable = true};
	bool first = true;
	for (int i = 0; i <= ne; i++) {
		const struct xnode *v = i < ne ? d->kid[2 * i + 1] : dv;
		if (i == ne && dlq)
			break;
		struct wb_xtype nu;
		if (first) {
			u = v->t;
			first = false;
		} else if (!wb_xunify(&u, &v->t, &nu)) {
			char b2[32];
			return wb_xerr(cc, v->line, v->col,
				       "map: values must have one type, found "
				       "%s and %s",
				       wb_xtype_name(&u, b1, sizeof(b1)),
				       wb_xtype_name(&v->t, b2, sizeof(b2)));
		} else {
			u = nu;
		}
	}
	if (u.kind == WB_X_NULLTYPE)
		u.kind = WB_X_STRING;
	bool nul = x->t.nullable;
	for (int i = 0; i < ne; i++) {
		struct xnode *k = d->kid[2 * i];
		bool ok = is_int ? (k->syn == XS_LIT && k->t.kind == WB_X_INT)
				 : lit_str(k);
		if (!ok)
			return wb_xerr(cc, k->line, k->col,
				       "map: keys must be %s literals",
				       is_int ? "int" : "text");
		struct xnode *v =
			wb_xconvert(cc, d->kid[2 * i + 1], &u, "map value");
		if (v == NULL)
			return NULL;
		nul = nul || v->t.nullable;
		d->kid[2 * i + 1] = v; /* seen by the fallibility check */
		m->e[i].key = k->k;
		m->e[i].val = v;
	}
	if (!dlq) {
		dv = wb_xconvert(cc, dv, &u, "map default");
		if (dv == NULL)
			return NULL;
		dn->kid[0] = dv;
		nul = nul || dv->t.nullable;
		m->dflt = dv;
	} else {
		n->fail = "map(..., default: dlq) fails on a key it does not "
			  "list";
	}
	for (int i = 1; i < ne; i++) { /* insertion sort: maps are short */
		struct map_entry e = m->e[i];
		int j = i;
		for (; j > 0 && key_cmp(&e.key, &m->e[j - 1].key, is_int) < 0;
		     j--)
			m->e[j] = m->e[j - 1];
		m->e[j] = e;
	}
	for (int i = 1; i < ne; i++)
		if (key_cmp(&m->e[i - 1].key, &m->e[i].key, is_int) == 0) {
			char t[64];
			struct wb_xtype kt = {.kind = is_int ? WB_X_INT
							     : WB_X_STRING};
			if (is_int)
				wb_xval_text(&kt, &m->e[i].key, t, sizeof(t));
			else
				snprintf(t, sizeof(t), "%.*s",
					 (int)m->e[i].key.u.s.n,
					 m->e[i].key.u.s.p);
			return wb_xerr(cc, d->line, d->col,
				       "map: the key '%s' is listed twice", t);
		}
	n->aux = m;
	n->t = u;
	n->t.nullable = nul;
	n->fn = f_map;
	return n;
}

/* ---- text ---------------------------------------------------------------- */

#define STR_ARG(n, c, i, v)                                                    \
	struct wb_xval v;                                                      \
	XEVAL((n)->kid[i], c, &v);                                             \
	if (v.null) {                                                          \
		out->null = true;                                              \
		return 0;                                                      \
	}

/* Upper (up) or lower case of code point cp in the ranges handled:
 * ASCII, Latin-1, Greek, Cyrillic (all keep their UTF-8 length). */
static uint32_t fold(uint32_t cp, bool up)
{
	if (up) {
		if ((cp >= 'a' && cp <= 'z') ||
		    (cp >= 0xe0 && cp <= 0xfe && cp != 0xf7) ||
		    (cp >= 0x3b1 && cp <= 0x3c9 && cp != 0x3c2) ||
		    (cp >= 0x430 && cp <= 0x44f))
			return cp - 0x20;
		if (cp >= 0x450 && cp <= 0x45f)
			return cp - 0x50;
	} else {
		if ((cp >= 'A' && cp <= 'Z') ||
		    (cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ||
		    (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) ||
		    (cp >= 0x410 && cp <= 0x42f))
			return cp + 0x20;
		if (cp >= 0x400 && cp <= 0x40f)
			return cp + 0x50;
	}
	return cp;
}

static int case_map(const struct xnode *n, struct xctx *c, struct wb_xval *out,
		    bool up)
{
	STR_ARG(n, c, 0, s);
	const char *p = s.u.s.p;
	uint32_t len = s.u.s.n;
	char *r = NULL;
	/* the ASCII letters that change: a-z (up) or A-Z (down) */
	unsigned char first = up ? 'a' : 'A';
	for (uint32_t i = 0; i < len;) {
		unsigned char b = (unsigned char)p[i];
		uint32_t cp, ncp;
		size_t l = 1;
		if (b < 0x80) {
			if ((unsigned char)(b - first) >= 26) {
				i++;
				continue;
			}
			cp = b;
		} else if (b >= 0xc2 && b < 0xe0 && i + 1 < len) {
			cp = (uint32_t)(b & 0x1f) << 6 | (p[i + 1] & 0x3f);
			l = 2;
		} else {
			i += (uint32_t)char_len(p + i, len - i);
			continue;
		}
		ncp = fold(cp, up);
		if (ncp != cp) {
			if (r == NULL) {
				r = wb_arena_alloc(c->a, len ? len : 1);
				if (r == NULL)
					return xfail(c, "out of memory");
				memcpy(r, p, len);
			}
			if (l == 1)
				r[i] = (char)ncp;
			else {
				r[i] = (char)(0xc0 | (ncp >> 6));
				r[i + 1] = (char)(0x80 | (ncp & 0x3f));
			}
		}
		i += (uint32_t)l;
	}
	*out = s;
	if (r != NULL)
		out->u.s.p = r;
	return 0;
}

static int f_upper(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	return case_map(n, c, out, true);
}

static int f_lower(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	return case_map(n, c, out, false);
}

/* i1: trim the left, i2: trim the right */
static int f_trim(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	STR_ARG(n, c, 0, s);
	const char *p = s.u.s.p;
	uint32_t a = 0, b = s.u.s.n;
	if (n->i1)
		while (a < b && is_space(p[a]))
			a++;
	if (n->i2)
		while (b > a && is_space(p[b - 1]))
			b--;
	*out = s;
	out->u.s.p = p + a;
	out->u.s.n = b - a;
	return 0;
}

static int f_length(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	STR_ARG(n, c, 0, s);
	int64_t k = 0;
	for (uint32_t i = 0; i < s.u.s.n; i++)
		k += ((unsigned char)s.u.s.p[i] & 0xc0) != 0x80;
	out->null = false;
	out->u.i = k;
	return 0;
}

/* Byte offset of the character at index k (0-based) of s, or its end. */
static uint32_t char_offset(const struct wb_xval *s, int64_t k)
{
	uint32_t i = 0;
	while (k > 0 && i < s->u.s.n) {
		i += (uint32_t)char_len(s->u.s.p + i, s->u.s.n - i);
		k--;
	}
	return i;
}

static int f_substring(const struct xnode *n, struct xctx *c,
		       struct wb_xval *out)
{
	STR_ARG(n, c, 0, s);
	struct wb_xval st, ln;
	XEVAL(n->kid[1], c, &st);
	if (st.null) {
		out->null = true;
		return 0;
	}
	/* characters [start, start + len) of 1-based positions */
	__int128 from = st.u.i, to = (__int128)INT64_MAX + 1;
	if (n->nkid > 2) {
		XEVAL(n->kid[2], c, &ln);
		if (ln.null) {
			out->null = true;
			return 0;
		}
		to = ln.u.i < 0 ? from : from + ln.u.i;
	}
	if (from < 1)
		from = 1;
	*out = s;
	if (to <= from) {
		out->u.s.n = 0;
		return 0;
	}
	int64_t f = from - 1 > INT64_MAX ? INT64_MAX : (int64_t)(from - 1);
	int64_t t = to - 1 > INT64_MAX ? INT64_MAX : (int64_t)(to - 1);
	uint32_t a = char_offset(&s, f);
	uint32_t b = char_offset(&s, t);
	out->u.s.p = s.u.s.p + a;
	out->u.s.n = b - a;
	return 0;
}

static int f_replace(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	STR_ARG(n, c, 0, s);
	STR_ARG(n, c, 1, from);
	STR_ARG(n, c, 2, to);
	if (from.u.s.n == 0 || s.u.s.n < from.u.s.n) {
		*out = s;
		return 0;
	}
	size_t count = 0;
	const char *p = s.u.s.p, *end = s.u.s.p + s.u.s.n;
	while ((p = memmem(p, (size_t)(end - p), from.u.s.p, from.u.s.n))) {
		count++;
		p += from.u.s.n;
	}
	if (count == 0) {
		*out = s;
		return 0;
	}
	__int128 len = (__int128)s.u.s.n +
		       (__int128)count * ((__int128)to.u.s.n - from.u.s.n);
	if (len > UINT32_MAX)
		return xfail(c, "text too long");
	char *r = wb_arena_alloc(c->a, len ? (size_t)len : 1);
	if (r == NULL)
		return xfail(c, "out of memory");
	size_t o = 0;
	p = s.u.s.p;
	const char *q;
	while ((q = memmem(p, (size_t)(end - p), from.u.s.p, from.u.s.n))) {
		memcpy(r + o, p, (size_t)(q - p));
		o += (size_t)(q - p);
		memcpy(r + o, to.u.s.p, to.u.s.n);
		o += to.u.s.n;
		p = q + from.u.s.n;
	}
	memcpy(r + o, p, (size_t)(end - p));
	o += (size_t)(end - p);
	out->null = false;
	out->u.s.p = r;
	out->u.s.n = (uint32_t)o;
	return 0;
}

/* i1: 0 starts_with, 1 ends_with, 2 contains */
static int f_find(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	STR_ARG(n, c, 0, s);
	STR_ARG(n, c, 1, t);
	bool r;
	if (t.u.s.n > s.u.s.n)
		r = false;
	else if (t.u.s.n == 0)
		r = true;
	else if (n->i1 == 0)
		r = memcmp(s.u.s.p, t.u.s.p, t.u.s.n) == 0;
	else if (n->i1 == 1)
		r = memcmp(s.u.s.p + s.u.s.n - t.u.s.n, t.u.s.p, t.u.s.n) == 0;
	else
		r = memmem(s.u.s.p, s.u.s.n, t.u.s.p, t.u.s.n) != NULL;
	out->null = false;
	out->u.b = r;
	return 0;
}

static int f_matches(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	STR_ARG(n, c, 0, s);
	out->null = false;
	out->u.b = wb_regex_search(n->aux, s.u.s.p, s.u.s.n);
	return 0;
}

/* string(x) of each type */
static int f_str_of(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	char b[64];
	size_t l = wb_xval_text(&n->kid[0]->t, out, b, sizeof(b));
	return str_result(c, out, b, l);
}

static int f_str_bool(const struct xnode *n, struct xctx *c,
		      struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	bool b = out->u.b;
	out->u.s.p = b ? "true" : "false";
	out->u.s.n = b ? 4 : 5;
	return 0;
}

/* concat(a, ...): NULLs are skipped; the kids are strings */
static int f_concat(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	struct wb_xval v[16];
	struct wb_xval *vals = v;
	if (n->nkid > 16) {
		vals = wb_xalloc(c->a, (size_t)n->nkid * sizeof(*vals));
		if (vals == NULL)
			return xfail(c, "out of memory");
	}
	size_t len = 0;
	for (int i = 0; i < n->nkid; i++) {
		XEVAL(n->kid[i], c, &vals[i]);
		if (!vals[i].null)
			len += vals[i].u.s.n;
	}
	if (len > UINT32_MAX)
		return xfail(c, "text too long");
	char *r = wb_arena_alloc(c->a, len ? len : 1);
	if (r == NULL)
		return xfail(c, "out of memory");
	size_t o = 0;
	for (int i = 0; i < n->nkid; i++)
		if (!vals[i].null && vals[i].u.s.n) {
			memcpy(r + o, vals[i].u.s.p, vals[i].u.s.n);
			o += vals[i].u.s.n;
		}
	out->null = false;
	out->u.s.p = r;
	out->u.s.n = (uint32_t)o;
	return 0;
}

static struct xnode *to_string(struct xcomp *cc, struct xnode *k)
{
	if (k->t.kind == WB_X_STRING)
		return k;
	if (k->t.kind == WB_X_NULLTYPE) {
		struct wb_xtype st = {.kind = WB_X_STRING, .nullable = true};
		return wb_xconvert(cc, k, &st, "");
	}
	struct xnode *s = wb_xnode(cc, XS_CVT, k->line, k->col);
	if (s == NULL)
		return NULL;
	s->kid = wb_arena_alloc(&cc->e->arena, sizeof(*s->kid));
	if (s->kid == NULL)
		return wb_xerr(cc, k->line, k->col, "out of memory");
	s->kid[0] = k;
	s->nkid = 1;
	s->t = (struct wb_xtype){.kind = WB_X_STRING,
				 .nullable = k->t.nullable};
	s->fn = k->t.kind == WB_X_BOOL ? f_str_bool : f_str_of;
	return s;
}

static struct xnode *c_text1(struct xcomp *cc, struct xnode *n)
{
	if (want_kind(cc, n, 0, WB_X_STRING, "the argument") == NULL)
		return NULL;
	n->t = (struct wb_xtype){.kind = WB_X_STRING,
				 .nullable = n->kid[0]->t.nullable};
	if (n->nname == 5 && strncmp(n->name, "upper", 5) == 0)
		n->fn = f_upper;
	else if (n->nname == 5 && strncmp(n->name, "lower", 5) == 0)
		n->fn = f_lower;
	else {
		n->fn = f_trim;
		n->i1 = n->name[0] != 'r'; /* trim, ltrim */
		n->i2 = n->name[0] != 'l'; /* trim, rtrim */
	}
	return n;
}

static struct xnode *c_length(struct xcomp *cc, struct xnode *n)
{
	if (want_kind(cc, n, 0, WB_X_STRING, "the argument") == NULL)
		return NULL;
	n->t = (struct wb_xtype){.kind = WB_X_INT,
				 .precision = 10,
				 .nullable = n->kid[0]->t.nullable};
	n->fn = f_length;
	return n;
}

static struct xnode *c_substring(struct xcomp *cc, struct xnode *n)
{
	if (want_kind(cc, n, 0, WB_X_STRING, "the text") == NULL ||
	    want_kind(cc, n, 1, WB_X_INT, "the start") == NULL ||
	    (n->nkid > 2 &&
	     want_kind(cc, n, 2, WB_X_INT, "the length") == NULL))
		return NULL;
	n->t = (struct wb_xtype){.kind = WB_X_STRING,
				 .nullable = any_nullable(n)};
	n->fn = f_substring;
	return n;
}

static struct xnode *c_replace(struct xcomp *cc, struct xnode *n)
{
	for (int i = 0; i < 3; i++)
		if (want_kind(cc, n, i, WB_X_STRING, "an argument") == NULL)
			return NULL;
	n->t = (struct wb_xtype){.kind = WB_X_STRING,
				 .nullable = any_nullable(n)};
	n->fn = f_replace;
	return n;
}

static struct xnode *c_find(struct xcomp *cc, struct xnode *n)
{
	for (int i = 0; i < 2; i++)
		if (want_kind(cc, n, i, WB_X_STRING, "an argument") == NULL)
			return NULL;
	n->t = (struct wb_xtype){.kind = WB_X_BOOL,
				 .nullable = any_nullable(n)};
	n->fn = f_find;
	n->i1 = n->name[0] == 's' ? 0 : n->name[0] == 'e' ? 1 : 2;
	return n;
}

static struct xnode *c_matches(struct xcomp *cc, struct xnode *n)
{
	if (want_kind(cc, n, 0, WB_X_STRING, "the text") == NULL)
		return NULL;
	struct xnode *p = n->kid[1];
	if (!lit_str(p))
		return wb_xerr(cc, p->line, p->col,
			       "matches: the pattern must be a text literal");
	char err[200];
	struct wb_regex *re =
		wb_regex_compile(p->k.u.s.p, p->k.u.s.n, err, sizeof(err));
	if (re == NULL)
		return wb_xerr(cc, p->line, p->col, "%s", err);
	if (!wb_xown(cc, re, (void (*)(void *))wb_regex_free))
		return wb_xerr(cc, p->line, p->col, "out of memory");
	n->aux = re;
	n->t = (struct wb_xtype){.kind = WB_X_BOOL,
				 .nullable = n->kid[0]->t.nullable};
	n->fn = f_matches;
	return n;
}

static struct xnode *c_concat(struct xcomp *cc, struct xnode *n)
{
	for (int i = 0; i < n->nkid; i++)
		if ((n->kid[i] = to_string(cc, n->kid[i])) == NULL)
			return NULL;
	n->t = (struct wb_xtype){.kind = WB_X_STRING};
	n->fn = f_concat;
	return n;
}

static struct xnode *c_string(struct xcomp *cc, struct xnode *n)
{
	return to_string(cc, n->kid[0]);
}

/* ---- numbers ------------------------------------------------------------- */

/* decimal(x, p, s[, mode]): i1 p, i2 s, i3 mode; m1 a scale factor (an
 * int operand is the implicit conversion, wb_xf_int_to_dec) */
static int f_dec_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	if (wb_xdec_rescale(out->u.d, n->kid[0]->t.scale, n->i2, n->i1, n->i3,
			    &out->u.d) != WB_XDEC_OK)
		return xfail(c, "overflow");
	return 0;
}

static int dec_text(struct xctx *c, const char *p, size_t len, int prec,
		    int scale, int mode, __int128 *v)
{
	int rc = wb_xdec_from_text(p, len, scale, prec, mode, v);
	if (rc == WB_XDEC_SYNTAX)
		return fail_text(c, p, len, "is not a number");
	if (rc == WB_XDEC_INEXACT)
		return fail_text(c, p, len,
				 "has more fraction digits than the scale "
				 "(name a rounding mode)");
	if (rc != WB_XDEC_OK)
		return fail_text(c, p, len, "does not fit (overflow)");
	return 0;
}

static int f_dec_str(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	return dec_text(c, out->u.s.p, out->u.s.n, n->i1, n->i2, n->i3,
			&out->u.d);
}

/* A float column through the shortest text that reads back as the same
 * number (what databases print), then as decimal text. */
static int f_dec_float(const struct xnode *n, struct xctx *c,
		       struct wb_xval *out)
{
	const struct xnode *k = n->kid[0];
	const struct wb_value *v;
	out->null = true;
	if (wb_xcolumn(k, c, &v) != 0)
		return -1;
	if (v == NULL)
		return 0;
	bool is_float = k->i3 == WB_T_FLOAT;
	double d = is_float ? (double)v->u.f : v->u.d;
	if (isnan(d))
		return xfail(c, "'NaN' is not a number");
	if (isinf(d))
		return xfail(c, d < 0 ? "'-Infinity' is not a number"
				      : "'Infinity' is not a number");
	char b[40];
	int len = 0;
	for (int digits = 1; digits <= 17; digits++) {
		len = snprintf(b, sizeof(b), "%.*e", digits - 1, d);
		if (is_float ? strtof(b, NULL) == (float)d
			     : strtod(b, NULL) == d)
			break;
	}
	out->null = false;
	return dec_text(c, b, (size_t)len, n->i1, n->i2, n->i3, &out->u.d);
}

static struct xnode *c_decimal(struct xcomp *cc, struct xnode *n)
{
	int64_t p, s;
	if (n->nkid < 3 || !lit_int(n->kid[1], &p) || !lit_int(n->kid[2], &s))
		return wb_xerr(cc, n->line, n->col,
			       "write decimal(x, precision, scale[, "
			       "'half_even']) with int literals");
	if (p < 1 || p > 38 || s < 0 || s > p)
		return wb_xerr(cc, n->kid[1]->line, n->kid[1]->col,
			       "decimal(x, %lld, %lld): precision 1 to 38, "
			       "scale 0 to precision",
			       (long long)p, (long long)s);
	int mode = WB_XR_NONE;
	if (n->nkid == 4) {
		struct xnode *m = n->kid[3];
		if (!lit_str(m) ||
		    (mode = wb_xdec_round_parse(m->k.u.s.p, m->k.u.s.n)) < 0)
			return wb_xerr(cc, m->line, m->col,
				       "rounding mode: 'half_even', 'half_up', "
				       "'down', 'up', 'floor' or 'ceiling'");
	}
	struct xnode *x = n->kid[0];
	n->i1 = (int)p;
	n->i2 = (int)s;
	n->i3 = mode;
	n->t = (struct wb_xtype){.kind = WB_X_DECIMAL,
				 .precision = (uint8_t)p,
				 .scale = (uint8_t)s,
				 .nullable = x->t.nullable};
	char b1[32];
	if (x->syn == XS_REF && x->fn == NULL) { /* a float column */
		if (mode == WB_XR_NONE)
			return wb_xerr(cc, n->line, n->col,
				       "decimal() of a floating-point column "
				       "needs a rounding mode: decimal(x, %d, "
				       "%d, 'half_even')",
				       (int)p, (int)s);
		n->fn = f_dec_float;
		n->fail = "decimal() of a floating-point column fails on NaN, "
			  "infinity or overflow";
		n->t.nullable = true;
		return n;
	}
	switch (x->t.kind) {
	case WB_X_NULLTYPE:
		return wb_xconvert(cc, x, &n->t, "");
	case WB_X_INT:
		n->fn = wb_xf_int_to_dec;
		n->m1 = wb_xdec_pow10[s];
		if ((x->t.precision ? x->t.precision : 19) > p - s)
			n->fail = "decimal() of an int may overflow";
		return n;
	case WB_X_DECIMAL:
		if (x->t.scale > s && mode == WB_XR_NONE)
			return wb_xerr(cc, n->line, n->col,
				       "decimal(x, %d, %d) drops fraction "
				       "digits of %s: name the rounding, e.g. "
				       "decimal(x, %d, %d, 'half_even')",
				       (int)p, (int)s,
				       wb_xtype_name(&x->t, b1, sizeof(b1)),
				       (int)p, (int)s);
		n->fn = f_dec_dec;
		if (x->t.precision - x->t.scale > p - s ||
		    (x->t.scale > s && x->t.precision - x->t.scale >= p - s))
			n->fail = "decimal() may overflow";
		return n;
	case WB_X_STRING:
		n->fn = f_dec_str;
		n->fail = "decimal() of text fails on text that is not a "
			  "number";
		return n;
	default:
		return wb_xerr(cc, x->line, x->col,
			       "decimal() takes an int, a decimal or text, "
			       "found %s",
			       wb_xtype_name(&x->t, b1, sizeof(b1)));
	}
}

static int f_int_str(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	__int128 v;
	int rc = wb_xdec_from_text(out->u.s.p, out->u.s.n, 0, 19, WB_XR_NONE,
				   &v);
	if (rc == WB_XDEC_SYNTAX)
		return fail_text(c, out->u.s.p, out->u.s.n, "is not a number");
	if (rc == WB_XDEC_INEXACT)
		return fail_text(c, out->u.s.p, out->u.s.n,
				 "is not an integer");
	if (rc != WB_XDEC_OK || v > INT64_MAX || v < INT64_MIN)
		return fail_text(c, out->u.s.p, out->u.s.n,
				 "does not fit an int (overflow)");
	out->u.i = (int64_t)v;
	return 0;
}

static int f_int_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	int s = n->kid[0]->t.scale;
	__int128 v = out->u.d;
	if (s > 0) {
		if (v % wb_xdec_pow10[s] != 0) {
			char b[48];
			size_t l = wb_xdec_text(v, s, b, sizeof(b));
			return fail_text(c, b, l, "is not an integer");
		}
		v /= wb_xdec_pow10[s];
	}
	if (v > INT64_MAX || v < INT64_MIN)
		return xfail(c, "overflow");
	out->u.i = (int64_t)v;
	return 0;
}

static struct xnode *c_int(struct xcomp *cc, struct xnode *n)
{
	struct xnode *x = n->kid[0];
	char b1[32];
	n->t = (struct wb_xtype){
		.kind = WB_X_INT, .precision = 19, .nullable = x->t.nullable};
	switch (x->t.kind) {
	case WB_X_NULLTYPE:
	case WB_X_INT:
		return wb_xconvert(cc, x, &n->t, "");
	case WB_X_STRING:
		n->fn = f_int_str;
		n->fail = "int() of text fails on text that is not an integer";
		return n;
	case WB_X_DECIMAL:
		n->fn = f_int_dec;
		n->t.precision =
			(uint8_t)(x->t.precision - x->t.scale > 19
					  ? 19
					  : x->t.precision - x->t.scale);
		if (n->t.precision == 0)
			n->t.precision = 1;
		if (x->t.scale > 0)
			n->fail = "int() of a decimal fails on a fraction";
		else if (x->t.precision > 18)
			n->fail = "int() of a decimal may overflow";
		return n;
	default:
		return wb_xerr(cc, x->line, x->col,
			       "int() takes text or a decimal, found %s",
			       wb_xtype_name(&x->t, b1, sizeof(b1)));
	}
}

static int f_abs_int(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null || out->u.i >= 0)
		return 0;
	if (out->u.i == INT64_MIN)
		return xfail(c, "overflow");
	out->u.i = -out->u.i;
	return 0;
}

static int f_abs_dec(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (!out->null && out->u.d < 0)
		out->u.d = -out->u.d;
	return 0;
}

static struct xnode *c_abs(struct xcomp *cc, struct xnode *n)
{
	struct xnode *x = n->kid[0];
	char b1[32];
	if (x->t.kind == WB_X_NULLTYPE)
		return x;
	if (x->t.kind != WB_X_INT && x->t.kind != WB_X_DECIMAL)
		return wb_xerr(cc, x->line, x->col,
			       "abs() takes a number, found %s",
			       wb_xtype_name(&x->t, b1, sizeof(b1)));
	n->t = x->t;
	n->fn = x->t.kind == WB_X_INT ? f_abs_int : f_abs_dec;
	if (x->t.kind == WB_X_INT &&
	    (x->t.precision == 0 || x->t.precision > 18))
		n->fail = "abs() of the smallest int64 overflows";
	return n;
}

/* round(x, s[, mode]): i1 digits dropped, i3 mode, i2 precision */
static int f_round(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	__int128 v = wb_xdec_div_pow10(out->u.d, n->i1, n->i3, NULL);
	if (!wb_xdec_fits(v, n->i2))
		return xfail(c, "overflow");
	out->u.d = v;
	return 0;
}

static struct xnode *c_round(struct xcomp *cc, struct xnode *n)
{
	struct xnode *x = n->kid[0];
	int64_t s;
	char b1[32];
	if (!lit_int(n->kid[1], &s) || s < 0 || s > 38)
		return wb_xerr(cc, n->kid[1]->line, n->kid[1]->col,
			       "round(x, s): s must be an int literal from 0 "
			       "to 38");
	int mode = WB_XR_HALF_EVEN;
	if (n->nkid == 3) {
		struct xnode *m = n->kid[2];
		if (!lit_str(m) ||
		    (mode = wb_xdec_round_parse(m->k.u.s.p, m->k.u.s.n)) < 0)
			return wb_xerr(cc, m->line, m->col,
				       "rounding mode: 'half_even', 'half_up', "
				       "'down', 'up', 'floor' or 'ceiling'");
	}
	if (x->t.kind == WB_X_NULLTYPE || x->t.kind == WB_X_INT)
		return x;
	if (x->t.kind != WB_X_DECIMAL)
		return wb_xerr(cc, x->line, x->col,
			       "round() takes a number, found %s",
			       wb_xtype_name(&x->t, b1, sizeof(b1)));
	if (s >= x->t.scale)
		return x;
	int p = x->t.precision - x->t.scale + (int)s + 1;
	if (p > 38) {
		p = 38;
		n->fail = "round() may pass 38 digits (overflow)";
	}
	n->t = (struct wb_xtype){.kind = WB_X_DECIMAL,
				 .precision = (uint8_t)p,
				 .scale = (uint8_t)s,
				 .nullable = x->t.nullable};
	n->i1 = x->t.scale - (int)s;
	n->i2 = p;
	n->i3 = mode;
	n->fn = f_round;
	return n;
}

/* ---- dates and times ----------------------------------------------------- */

static int f_now(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	out->null = false;
	out->u.ts = c->row->now_us;
	return 0;
}

/* Microseconds: wall clock in zone z -> UTC. */
static int local_to_utc(const struct wb_tz *z, int64_t local, int64_t *utc)
{
	int64_t secs = wb_floor_div(local, WB_USECS_PER_SEC);
	int64_t frac = local - secs * WB_USECS_PER_SEC;
	int64_t u = wb_tz_local_to_utc(z, secs);
	if (__builtin_mul_overflow(u, WB_USECS_PER_SEC, utc) ||
	    __builtin_add_overflow(*utc, frac, utc))
		return -1;
	return 0;
}

/* timestamp(x[, zone]): aux the zone or NULL */
static int f_ts_str(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	int64_t us;
	bool has_off;
	int32_t off;
	if (!wb_xparse_ts(out->u.s.p, out->u.s.n, &us, &has_off, &off))
		return fail_text(c, out->u.s.p, out->u.s.n,
				 "is not a timestamp");
	if (has_off) {
		out->u.ts = us - (int64_t)off * WB_USECS_PER_SEC;
		return 0;
	}
	if (n->aux == NULL)
		return fail_text(c, out->u.s.p, out->u.s.n,
				 "has no time zone offset");
	if (local_to_utc(n->aux, us, &out->u.ts) != 0)
		return xfail(c, "overflow");
	return 0;
}

static int f_ts_date(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	int64_t us = (int64_t)out->u.date * WB_USECS_PER_DAY;
	if (n->aux == NULL) {
		out->u.ts = us;
		return 0;
	}
	if (local_to_utc(n->aux, us, &out->u.ts) != 0)
		return xfail(c, "overflow");
	return 0;
}

static int f_ts_local(const struct xnode *n, struct xctx *c,
		      struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	if (local_to_utc(n->aux, out->u.ts, &out->u.ts) != 0)
		return xfail(c, "overflow");
	return 0;
}

static struct xnode *c_timestamp(struct xcomp *cc, struct xnode *n)
{
	struct xnode *x = n->kid[0];
	char b1[32];
	struct wb_tz *z = NULL;
	if (n->nkid == 2 && (z = zone_arg(cc, n, 1)) == NULL)
		return NULL;
	n->aux = z;
	n->t = (struct wb_xtype){.kind = WB_X_TIMESTAMP,
				 .nullable = x->t.nullable};
	switch (x->t.kind) {
	case WB_X_NULLTYPE:
		return wb_xconvert(cc, x, &n->t, "");
	case WB_X_STRING:
		n->fn = f_ts_str;
		n->fail = "timestamp() of text fails on text that is not a "
			  "timestamp";
		return n;
	case WB_X_DATE:
		n->fn = f_ts_date;
		if (z != NULL)
			n->fail = "timestamp() may overflow";
		return n;
	case WB_X_TIMESTAMP:
		if (!x->t.local) {
			if (z != NULL)
				return wb_xerr(cc, n->kid[1]->line,
					       n->kid[1]->col,
					       "timestamp(x, zone): x is "
					       "already a timestamp (UTC)");
			return x;
		}
		if (z == NULL)
			return wb_xerr(cc, n->line, n->col,
				       "timestamp() of a local timestamp "
				       "needs its zone: timestamp(x, "
				       "'Europe/Berlin')");
		n->fn = f_ts_local;
		n->fail = "timestamp() may overflow";
		return n;
	default:
		return wb_xerr(cc, x->line, x->col,
			       "timestamp() takes text, a date or a local "
			       "timestamp, found %s",
			       wb_xtype_name(&x->t, b1, sizeof(b1)));
	}
}

static int f_date_str(const struct xnode *n, struct xctx *c,
		      struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	int32_t d;
	if (!wb_xparse_date(out->u.s.p, out->u.s.n, &d))
		return fail_text(c, out->u.s.p, out->u.s.n, "is not a date");
	out->u.date = d;
	return 0;
}

/* date of a timestamp (in zone aux, or UTC) or of a local timestamp */
static int f_date_ts(const struct xnode *n, struct xctx *c, struct wb_xval *out)
{
	XEVAL(n->kid[0], c, out);
	if (out->null)
		return 0;
	int64_t us = out->u.ts;
	if (n->aux != NULL) {
		int64_t off = wb_tz_offset(n->aux,
					   wb_floor_div(us, WB_USECS_PER_SEC));
		if (__builtin_add_overflow(us, off * WB_USECS_PER_SEC, &us))
			return xfail(c, "overflow");
	}
	out->u.date = (int32_t)wb_floor_div(us, WB_USECS_PER_DAY);
	return 0;
}

static struct xnode *c_date(struct xcomp *cc, struct xnode *n)
{
	struct xnode *x = n->kid[0];
	char b1[32];
	struct wb_tz *z = NULL;
	if (n->nkid == 2) {
		if (x->t.kind != WB_X_TIMESTAMP || x->t.local)
			return wb_xerr(cc, n->kid[1]->line, n->kid[1]->col,
				       "date(x, zone) takes a timestamp");
		if ((z = zone_arg(cc, n, 1)) == NULL)
			return NULL;
	}
	n->aux = z;
	n->t = (struct wb_xtype){.kind = WB_X_DATE, .nullable = x->t.nullable};
	switch (x->t.kind) {
	case WB_X_NULLTYPE:
	case WB_X_DATE:
		return wb_xconvert(cc, x, &n->t, "");
	case WB_X_STRING:
		n->fn = f_date_str;
		n->fail = "date() of text fails on text that is not a date";
		return n;
	case WB_X_TIMESTAMP:
		n->fn = f_date_ts;
		if (z != NULL)
			n->fail = "date() may overflow";
		return n;
	default:
		return wb_xerr(cc, x->line, x->col,
			       "date() takes text or a timestamp, found %s",
			       wb_xtype_name(&x->t, b1, sizeof(b1)));
	}
}

static struct xnode *c_now(struct xcomp *cc, struct xnode *n)
{
	n->t = (struct wb_xtype){.kind = WB_X_TIMESTAMP};
	n->fn = f_now;
	return n;
}

/* ---- the table ----------------------------------------------------------- */

static const struct fn_def {
	const char *name;
	int min, max; /* max -1: any */
	struct xnode *(*check)(struct xcomp *cc, struct xnode *n);
	const char *usage;
} fns[] = {
	{"coalesce", 1, -1, c_coalesce, "coalesce(a, b, ...)"},
	{"if", 3, 3, c_if, "if(condition, then, else)"},
	{"case", 3, -1, c_case, "case(c1, v1, c2, v2, ..., default)"},
	{"map", 3, 3, c_map, "map(x, {'k': v, ...}, default: v | dlq)"},
	{"try", 2, 2, c_try, "try(x, fallback)"},
	{"upper", 1, 1, c_text1, "upper(text)"},
	{"lower", 1, 1, c_text1, "lower(text)"},
	{"trim", 1, 1, c_text1, "trim(text)"},
	{"ltrim", 1, 1, c_text1, "ltrim(text)"},
	{"rtrim", 1, 1, c_text1, "rtrim(text)"},
	{"substring", 2, 3, c_substring, "substring(text, start[, length])"},
	{"length", 1, 1, c_length, "length(text)"},
	{"concat", 1, -1, c_concat, "concat(a, ...)"},
	{"replace", 3, 3, c_replace, "replace(text, from, to)"},
	{"starts_with", 2, 2, c_find, "starts_with(text, prefix)"},
	{"ends_with", 2, 2, c_find, "ends_with(text, suffix)"},
	{"contains", 2, 2, c_find, "contains(text, part)"},
	{"matches", 2, 2, c_matches, "matches(text, 'regex')"},
	{"decimal", 3, 4, c_decimal, "decimal(x, precision, scale[, mode])"},
	{"int", 1, 1, c_int, "int(x)"},
	{"string", 1, 1, c_string, "string(x)"},
	{"date", 1, 2, c_date, "date(x[, 'Zone'])"},
	{"timestamp", 1, 2, c_timestamp, "timestamp(x[, 'Zone'])"},
	{"now", 0, 0, c_now, "now()"},
	{"abs", 1, 1, c_abs, "abs(x)"},
	{"round", 2, 3, c_round, "round(x, scale[, mode])"},
};

static const struct fn_def *find_fn(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (strlen(fns[i].name) == n &&
		    strncasecmp(fns[i].name, name, n) == 0)
			return &fns[i];
	return NULL;
}

bool wb_xis_function(const char *name, size_t n)
{
	return find_fn(name, n) != NULL;
}

struct xnode *wb_xcheck_call(struct xcomp *cc, struct xnode *n)
{
	const struct fn_def *f = find_fn(n->name, n->nname);
	if (f == NULL)
		return wb_xerr(cc, n->line, n->col, "unknown function %.*s",
			       (int)n->nname, n->name);
	n->name = f->name; /* the canonical spelling */
	if (n->nkid < f->min || (f->max >= 0 && n->nkid > f->max))
		return wb_xerr(cc, n->line, n->col,
			       "%s takes %s%d argument%s, found %d: %s",
			       f->name,
			       f->max < 0	  ? "at least "
			       : f->min != f->max ? "at most "
						  : "",
			       f->max < 0 || f->min == f->max ? f->min : f->max,
			       (f->max < 0 ? f->min : f->max) == 1 ? "" : "s",
			       n->nkid, f->usage);
	if (f->check != c_map)
		for (int i = 0; i < n->nkid; i++)
			if (n->kid[i]->syn == XS_DICT ||
			    n->kid[i]->syn == XS_NAMED)
				return wb_xerr(cc, n->kid[i]->line,
					       n->kid[i]->col,
					       "%s belongs in map(...)",
					       n->kid[i]->syn == XS_DICT
						       ? "{...}"
						       : "a named argument");
	return f->check(cc, n);
}
