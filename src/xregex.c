/* xregex.c — a pattern parsed into a small tree, compiled to NFA
 * instructions (CHAR, ANY, CLASS, SPLIT, JMP, BOL, EOL, MATCH) and run by
 * a Pike VM without captures: one list of live instructions per text
 * position, each instruction at most once per list. */
#include "xregex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_MAXPROG 1500
#define RX_MAXNODE 1500
#define RX_MAXRANGE 1000
#define RX_MAXDEPTH 100
#define RX_MAXREP 100

enum { I_CHAR, I_ANY, I_CLASS, I_SPLIT, I_JMP, I_BOL, I_EOL, I_MATCH };

struct inst {
	uint8_t op;
	bool neg;     /* I_CLASS */
	int32_t x, y; /* I_CHAR: x = code point; I_CLASS: ranges [x, y);
			 I_SPLIT: x, y; I_JMP: x */
};

struct range {
	uint32_t lo, hi;
};

struct wb_regex {
	int n;
	struct inst *prog;
	struct range *ranges;
};

enum { N_EMPTY, N_LIT, N_ANY, N_CLASS, N_BOL, N_EOL, N_CAT, N_ALT, N_REP };

struct node {
	uint8_t type;
	bool neg;
	int a, b;     /* children; N_CLASS: ranges [a, b) */
	uint32_t c;   /* N_LIT */
	int min, max; /* N_REP; max -1: unbounded */
};

struct rx {
	const char *p;
	size_t n, i;
	int ch; /* characters read, for messages */
	struct node nodes[RX_MAXNODE];
	int nnodes;
	struct range ranges[RX_MAXRANGE];
	int nranges;
	struct inst prog[RX_MAXPROG];
	int nprog;
	char *err;
	size_t err_n;
	bool failed;
	int depth;
};

/* A problem at the next character (or the end of the pattern). */
static void rx_fail(struct rx *r, const char *what)
{
	if (!r->failed)
		snprintf(r->err, r->err_n, "regular expression: %s at %d", what,
			 r->ch + 1);
	r->failed = true;
}

/* A problem with the character just read. */
static void rx_fail_here(struct rx *r, const char *what)
{
	r->ch--;
	rx_fail(r, what);
	r->ch++;
}

/* One code point of UTF-8 at s[*i] (a byte that starts no valid
 * sequence stands for itself). */
static uint32_t utf8_next(const char *s, size_t n, size_t *i)
{
	const uint8_t *u = (const uint8_t *)s + *i;
	size_t left = n - *i;
	uint32_t c = u[0];
	int len = 1;
	if (c >= 0xc2 && c < 0xe0 && left >= 2 && (u[1] & 0xc0) == 0x80) {
		c = (c & 0x1f) << 6 | (u[1] & 0x3f);
		len = 2;
	} else if (c >= 0xe0 && c < 0xf0 && left >= 3 &&
		   (u[1] & 0xc0) == 0x80 && (u[2] & 0xc0) == 0x80) {
		c = (c & 0x0f) << 12 | (uint32_t)(u[1] & 0x3f) << 6 |
		    (u[2] & 0x3f);
		len = 3;
	} else if (c >= 0xf0 && c < 0xf5 && left >= 4 &&
		   (u[1] & 0xc0) == 0x80 && (u[2] & 0xc0) == 0x80 &&
		   (u[3] & 0xc0) == 0x80) {
		c = (c & 0x07) << 18 | (uint32_t)(u[1] & 0x3f) << 12 |
		    (uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
		len = 4;
	}
	*i += (size_t)len;
	return c;
}

static int rx_node(struct rx *r, int type)
{
	if (r->nnodes == RX_MAXNODE) {
		rx_fail(r, "pattern too long");
		return 0;
	}
	struct node *nd = &r->nodes[r->nnodes];
	memset(nd, 0, sizeof(*nd));
	nd->type = (uint8_t)type;
	return r->nnodes++;
}

static bool rx_more(struct rx *r)
{
	return r->i < r->n;
}

static uint32_t rx_peek(struct rx *r)
{
	size_t j = r->i;
	return utf8_next(r->p, r->n, &j);
}

static uint32_t rx_get(struct rx *r)
{
	r->ch++;
	return utf8_next(r->p, r->n, &r->i);
}

static void rx_range(struct rx *r, uint32_t lo, uint32_t hi)
{
	if (r->nranges == RX_MAXRANGE) {
		rx_fail(r, "too many character ranges");
		return;
	}
	r->ranges[r->nranges++] = (struct range){lo, hi};
}

/* \d \w \s as ranges. */
static bool rx_perl_class(struct rx *r, uint32_t c)
{
	switch (c) {
	case 'd':
		rx_range(r, '0', '9');
		return true;
	case 'w':
		rx_range(r, '0', '9');
		rx_range(r, 'A', 'Z');
		rx_range(r, 'a', 'z');
		rx_range(r, '_', '_');
		return true;
	case 's':
		rx_range(r, '\t', '\r'); /* \t \n \v \f \r */
		rx_range(r, ' ', ' ');
		return true;
	default:
		return false;
	}
}

static bool is_alnum(uint32_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* The character an escape stands for (after the backslash), or fails. */
static uint32_t rx_escape_char(struct rx *r, uint32_t c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	default:
		if (is_alnum(c))
			rx_fail_here(r, "unknown escape");
		return c;
	}
}

static int rx_class(struct rx *r)
{
	int nd = rx_node(r, N_CLASS);
	int start = r->nranges;
	bool neg = false;
	if (rx_more(r) && rx_peek(r) == '^') {
		rx_get(r);
		neg = true;
	}
	bool first = true;
	for (;;) {
		if (!rx_more(r)) {
			rx_fail(r, "missing ]");
			return nd;
		}
		uint32_t c = rx_get(r);
		if (c == ']' && !first)
			break;
		first = false;
		if (c == '\\') {
			if (!rx_more(r)) {
				rx_fail(r, "trailing \\");
				return nd;
			}
			c = rx_get(r);
			if (rx_perl_class(r, c))
				continue;
			if (c == 'D' || c == 'W' || c == 'S') {
				rx_fail_here(r,
					     "\\D, \\W, \\S inside [] are not "
					     "supported");
				return nd;
			}
			c = rx_escape_char(r, c);
		}
		uint32_t hi = c;
		if (r->i + 1 < r->n && r->p[r->i] == '-' &&
		    r->p[r->i + 1] != ']') {
			rx_get(r);
			hi = rx_get(r);
			if (hi == '\\') {
				if (!rx_more(r)) {
					rx_fail(r, "trailing \\");
					return nd;
				}
				hi = rx_escape_char(r, rx_get(r));
			}
			if (hi < c) {
				rx_fail_here(r, "range out of order");
				return nd;
			}
		}
		rx_range(r, c, hi);
		if (r->failed)
			return nd;
	}
	r->nodes[nd].a = start;
	r->nodes[nd].b = r->nranges;
	r->nodes[nd].neg = neg;
	return nd;
}

static int rx_alt(struct rx *r);

static int rx_atom(struct rx *r)
{
	uint32_t c = rx_get(r);
	int nd;
	switch (c) {
	case '(':
		if (r->i + 1 < r->n && r->p[r->i] == '?' &&
		    r->p[r->i + 1] == ':') {
			rx_get(r);
			rx_get(r);
		}
		nd = rx_alt(r);
		if (!rx_more(r) || rx_get(r) != ')')
			rx_fail(r, "missing )");
		return nd;
	case '[':
		return rx_class(r);
	case '.':
		return rx_node(r, N_ANY);
	case '^':
		return rx_node(r, N_BOL);
	case '$':
		return rx_node(r, N_EOL);
	case '*':
	case '+':
	case '?':
	case '{':
		rx_fail_here(r, "nothing to repeat");
		return 0;
	case ')':
		rx_fail(r, "unmatched )");
		return 0;
	case '\\':
		if (!rx_more(r)) {
			rx_fail(r, "trailing \\");
			return 0;
		}
		c = rx_get(r);
		if (c == 'd' || c == 'w' || c == 's' || c == 'D' || c == 'W' ||
		    c == 'S') {
			nd = rx_node(r, N_CLASS);
			r->nodes[nd].a = r->nranges;
			rx_perl_class(r, c | 0x20);
			r->nodes[nd].b = r->nranges;
			r->nodes[nd].neg = c < 'a';
			return nd;
		}
		c = rx_escape_char(r, c);
		break;
	default:
		break;
	}
	nd = rx_node(r, N_LIT);
	r->nodes[nd].c = c;
	return nd;
}

static bool rx_int(struct rx *r, int *out)
{
	if (!rx_more(r) || r->p[r->i] < '0' || r->p[r->i] > '9')
		return false;
	int v = 0;
	while (rx_more(r) && r->p[r->i] >= '0' && r->p[r->i] <= '9') {
		v = v * 10 + (r->p[r->i] - '0');
		if (v > RX_MAXREP)
			v = RX_MAXREP + 1;
		rx_get(r);
	}
	*out = v;
	return true;
}

static int rx_repeat(struct rx *r)
{
	int nd = rx_atom(r);
	while (!r->failed && rx_more(r)) {
		uint32_t c = rx_peek(r);
		int min, max;
		if (c == '*')
			min = 0, max = -1;
		else if (c == '+')
			min = 1, max = -1;
		else if (c == '?')
			min = 0, max = 1;
		else if (c == '{') {
			rx_get(r);
			if (!rx_int(r, &min)) {
				rx_fail(r, "expected a count after {");
				return nd;
			}
			max = min;
			if (rx_more(r) && r->p[r->i] == ',') {
				rx_get(r);
				if (!rx_int(r, &max))
					max = -1;
			}
			if (!rx_more(r) || r->p[r->i] != '}') {
				rx_fail(r, "expected }");
				return nd;
			}
			if (min > RX_MAXREP || max > RX_MAXREP ||
			    (max >= 0 && max < min)) {
				rx_fail(r, "bad count (at most 100, m <= n)");
				return nd;
			}
		} else
			break;
		rx_get(r);
		if (rx_more(r) && rx_peek(r) == '?')
			rx_get(r); /* lazy: same set of matches */
		int rep = rx_node(r, N_REP);
		r->nodes[rep].a = nd;
		r->nodes[rep].min = min;
		r->nodes[rep].max = max;
		nd = rep;
	}
	return nd;
}

static int rx_concat(struct rx *r)
{
	int nd = -1;
	while (!r->failed && rx_more(r)) {
		uint32_t c = rx_peek(r);
		if (c == '|' || c == ')')
			break;
		int a = rx_repeat(r);
		if (nd < 0) {
			nd = a;
		} else {
			int cat = rx_node(r, N_CAT);
			r->nodes[cat].a = nd;
			r->nodes[cat].b = a;
			nd = cat;
		}
	}
	return nd < 0 ? rx_node(r, N_EMPTY) : nd;
}

static int rx_alt(struct rx *r)
{
	if (++r->depth > RX_MAXDEPTH) {
		rx_fail(r, "nested too deeply");
		return 0;
	}
	int nd = rx_concat(r);
	while (!r->failed && rx_more(r) && rx_peek(r) == '|') {
		rx_get(r);
		int b = rx_concat(r);
		int alt = rx_node(r, N_ALT);
		r->nodes[alt].a = nd;
		r->nodes[alt].b = b;
		nd = alt;
	}
	r->depth--;
	return nd;
}

static int emit(struct rx *r, int op, int x, int y)
{
	if (r->nprog == RX_MAXPROG) {
		rx_fail(r, "pattern compiles too large");
		return 0;
	}
	r->prog[r->nprog] = (struct inst){(uint8_t)op, false, x, y};
	return r->nprog++;
}

static void gen(struct rx *r, int ni, int depth)
{
	if (r->failed)
		return;
	if (depth > 3 * RX_MAXDEPTH + 10) {
		rx_fail(r, "nested too deeply");
		return;
	}
	const struct node *nd = &r->nodes[ni];
	int i, j;
	switch (nd->type) {
	case N_EMPTY:
		break;
	case N_LIT:
		emit(r, I_CHAR, (int32_t)nd->c, 0);
		break;
	case N_ANY:
		emit(r, I_ANY, 0, 0);
		break;
	case N_CLASS:
		i = emit(r, I_CLASS, nd->a, nd->b);
		r->prog[i].neg = nd->neg;
		break;
	case N_BOL:
		emit(r, I_BOL, 0, 0);
		break;
	case N_EOL:
		emit(r, I_EOL, 0, 0);
		break;
	case N_CAT:
		gen(r, nd->a, depth + 1);
		gen(r, nd->b, depth + 1);
		break;
	case N_ALT:
		i = emit(r, I_SPLIT, 0, 0);
		r->prog[i].x = r->nprog;
		gen(r, nd->a, depth + 1);
		j = emit(r, I_JMP, 0, 0);
		r->prog[i].y = r->nprog;
		gen(r, nd->b, depth + 1);
		r->prog[j].x = r->nprog;
		break;
	case N_REP:
		for (int k = 0; k < nd->min && !r->failed; k++)
			gen(r, nd->a, depth + 1);
		if (nd->max < 0) {
			i = emit(r, I_SPLIT, 0, 0);
			r->prog[i].x = r->nprog;
			gen(r, nd->a, depth + 1);
			emit(r, I_JMP, i, 0);
			r->prog[i].y = r->nprog;
		} else {
			for (int k = nd->min; k < nd->max && !r->failed; k++) {
				i = emit(r, I_SPLIT, 0, 0);
				r->prog[i].x = r->nprog;
				gen(r, nd->a, depth + 1);
				r->prog[i].y = r->nprog;
			}
		}
		break;
	}
}

struct wb_regex *wb_regex_compile(const char *p, size_t n, char *err,
				  size_t err_n)
{
	struct rx *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, err_n, "out of memory");
		return NULL;
	}
	r->p = p;
	r->n = n;
	r->err = err;
	r->err_n = err_n;
	int root = rx_alt(r);
	if (!r->failed && rx_more(r))
		rx_fail(r, "unmatched )");
	if (!r->failed)
		gen(r, root, 0);
	emit(r, I_MATCH, 0, 0);
	struct wb_regex *re = NULL;
	if (!r->failed) {
		re = calloc(1, sizeof(*re));
		if (re != NULL) {
			re->n = r->nprog;
			re->prog = malloc((size_t)r->nprog * sizeof(*re->prog));
			re->ranges = malloc(((size_t)r->nranges + 1) *
					    sizeof(*re->ranges));
			if (re->prog == NULL || re->ranges == NULL) {
				wb_regex_free(re);
				re = NULL;
			} else {
				memcpy(re->prog, r->prog,
				       (size_t)r->nprog * sizeof(*re->prog));
				memcpy(re->ranges, r->ranges,
				       (size_t)r->nranges *
					       sizeof(*re->ranges));
			}
		}
		if (re == NULL)
			snprintf(err, err_n, "out of memory");
	}
	free(r);
	return re;
}

void wb_regex_free(struct wb_regex *re)
{
	if (re == NULL)
		return;
	free(re->prog);
	free(re->ranges);
	free(re);
}

struct vm {
	int16_t list[2][RX_MAXPROG];
	int n[2];
	uint32_t mark[RX_MAXPROG];
	int16_t stack[2 * RX_MAXPROG];
};

/* Adds pc and what it reaches without reading (SPLIT, JMP, assertions
 * that hold at pos) to list k; true when MATCH is reached. */
static bool add(const struct wb_regex *re, struct vm *v, int k, int pc,
		uint32_t gen, bool bol, bool eol)
{
	int sp = 0;
	v->stack[sp++] = (int16_t)pc;
	while (sp > 0) {
		pc = v->stack[--sp];
		if (v->mark[pc] == gen)
			continue;
		v->mark[pc] = gen;
		const struct inst *in = &re->prog[pc];
		switch (in->op) {
		case I_JMP:
			v->stack[sp++] = (int16_t)in->x;
			break;
		case I_SPLIT:
			v->stack[sp++] = (int16_t)in->y;
			v->stack[sp++] = (int16_t)in->x;
			break;
		case I_BOL:
			if (bol)
				v->stack[sp++] = (int16_t)(pc + 1);
			break;
		case I_EOL:
			if (eol)
				v->stack[sp++] = (int16_t)(pc + 1);
			break;
		case I_MATCH:
			return true;
		default:
			v->list[k][v->n[k]++] = (int16_t)pc;
			break;
		}
	}
	return false;
}

static bool step_ok(const struct wb_regex *re, const struct inst *in,
		    uint32_t c)
{
	switch (in->op) {
	case I_CHAR:
		return c == (uint32_t)in->x;
	case I_ANY:
		return c != '\n';
	case I_CLASS: {
		bool in_class = false;
		for (int i = in->x; i < in->y && !in_class; i++)
			in_class =
				c >= re->ranges[i].lo && c <= re->ranges[i].hi;
		return in_class != in->neg;
	}
	default:
		return false;
	}
}

bool wb_regex_search(const struct wb_regex *re, const char *s, size_t n)
{
	struct vm v;
	memset(v.mark, 0, (size_t)re->n * sizeof(v.mark[0]));
	uint32_t gen = 1;
	int cur = 0;
	v.n[0] = v.n[1] = 0;
	size_t i = 0;
	for (;;) {
		/* a match may start here: the unanchored search */
		if (add(re, &v, cur, 0, gen, i == 0, i == n))
			return true;
		if (i == n)
			return false;
		uint32_t c = utf8_next(s, n, &i);
		int nxt = cur ^ 1;
		v.n[nxt] = 0;
		gen++;
		for (int t = 0; t < v.n[cur]; t++) {
			const struct inst *in = &re->prog[v.list[cur][t]];
			if (step_ok(re, in, c) &&
			    add(re, &v, nxt, v.list[cur][t] + 1, gen, false,
				i == n))
				return true;
		}
		cur = nxt;
	}
}
