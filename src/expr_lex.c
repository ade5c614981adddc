/* expr_lex.c — tokens of the expression language, each with its 1-based
 * line and column (columns count characters, not bytes). */
#include <stdio.h>
#include <string.h>

#include "expr_int.h"

void wb_xlex_init(struct xlex *lx, const char *s, size_t n)
{
	memset(lx, 0, sizeof(*lx));
	lx->s = s;
	lx->n = n;
	lx->line = 1;
	lx->col = 1;
}

/* Moves past one byte; a UTF-8 continuation byte does not count as a
 * column. */
static void adv(struct xlex *lx)
{
	unsigned char c = (unsigned char)lx->s[lx->i++];
	if (c == '\n') {
		lx->line++;
		lx->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		lx->col++;
	}
}

static bool at(const struct xlex *lx, size_t k, char c)
{
	return lx->i + k < lx->n && lx->s[lx->i + k] == c;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static void quoted(struct xlex *lx, struct xtok *t, char q, int kind)
{
	adv(lx);
	for (;;) {
		if (lx->i >= lx->n) {
			snprintf(lx->err, sizeof(lx->err),
				 "unterminated %s: a %c is missing",
				 q == '\'' ? "text literal"
					   : "quoted column name",
				 q);
			t->kind = T_ERR;
			return;
		}
		if (lx->s[lx->i] == q) {
			if (at(lx, 1, q)) {
				adv(lx);
				adv(lx);
				continue;
			}
			adv(lx);
			break;
		}
		adv(lx);
	}
	t->kind = kind;
}

void wb_xlex_next(struct xlex *lx, struct xtok *t)
{
	for (;;) {
		while (lx->i < lx->n &&
		       (lx->s[lx->i] == ' ' || lx->s[lx->i] == '\t' ||
			lx->s[lx->i] == '\n' || lx->s[lx->i] == '\r'))
			adv(lx);
		/* -- to the end of the line is a comment */
		if (at(lx, 0, '-') && at(lx, 1, '-')) {
			while (lx->i < lx->n && lx->s[lx->i] != '\n')
				adv(lx);
			continue;
		}
		break;
	}
	t->p = lx->s + lx->i;
	t->line = lx->line;
	t->col = lx->col;
	t->n = 0;
	if (lx->i >= lx->n) {
		t->kind = T_EOF;
		return;
	}
	char c = lx->s[lx->i];
	size_t start = lx->i;
	if (digit(c)) {
		while (lx->i < lx->n && digit(lx->s[lx->i]))
			adv(lx);
		t->kind = T_INT;
		if (at(lx, 0, '.') && lx->i + 1 < lx->n &&
		    digit(lx->s[lx->i + 1])) {
			adv(lx);
			while (lx->i < lx->n && digit(lx->s[lx->i]))
				adv(lx);
			t->kind = T_DEC;
		}
		if (lx->i < lx->n &&
		    (ident_start(lx->s[lx->i]) || lx->s[lx->i] == '.')) {
			snprintf(lx->err, sizeof(lx->err),
				 "malformed number: write digits, or "
				 "digits.digits");
			t->kind = T_ERR;
		}
	} else if (ident_start(c)) {
		while (lx->i < lx->n &&
		       (ident_start(lx->s[lx->i]) || digit(lx->s[lx->i])))
			adv(lx);
		t->kind = T_IDENT;
	} else if (c == '\'') {
		quoted(lx, t, '\'', T_STR);
	} else if (c == '"') {
		quoted(lx, t, '"', T_QIDENT);
	} else {
		static const struct {
			const char *s;
			int kind;
		} ops[] = {
			{"||", T_CONCAT}, {"??", T_COALESCE}, {"==", T_EQ},
			{"!=", T_NE},	  {"<>", T_NE},	      {"<=", T_LE},
			{">=", T_GE},	  {"(", T_LP},	      {")", T_RP},
			{",", T_COMMA},	  {".", T_DOT},	      {"{", T_LBRACE},
			{"}", T_RBRACE},  {":", T_COLON},     {"+", T_PLUS},
			{"-", T_MINUS},	  {"*", T_STAR},      {"/", T_SLASH},
			{"%", T_PCT},	  {"=", T_EQ},	      {"<", T_LT},
			{">", T_GT},
		};
		t->kind = T_ERR;
		for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
			size_t l = strlen(ops[k].s);
			if (lx->n - lx->i >= l &&
			    memcmp(lx->s + lx->i, ops[k].s, l) == 0) {
				t->kind = ops[k].kind;
				for (size_t j = 0; j < l; j++)
					adv(lx);
				break;
			}
		}
		if (t->kind == T_ERR) {
			if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
				snprintf(lx->err, sizeof(lx->err),
					 "unexpected character '%c'", c);
			else
				snprintf(lx->err, sizeof(lx->err),
					 "unexpected character (byte 0x%02x)",
					 (unsigned char)c);
		}
	}
	t->n = lx->i - start;
}

const char *wb_xtok_name(int kind)
{
	static const char *names[] = {
		[T_EOF] = "end of expression",
		[T_INT] = "number",
		[T_DEC] = "number",
		[T_STR] = "text literal",
		[T_IDENT] = "name",
		[T_QIDENT] = "quoted name",
		[T_LP] = "'('",
		[T_RP] = "')'",
		[T_COMMA] = "','",
		[T_DOT] = "'.'",
		[T_LBRACE] = "'{'",
		[T_RBRACE] = "'}'",
		[T_COLON] = "':'",
		[T_PLUS] = "'+'",
		[T_MINUS] = "'-'",
		[T_STAR] = "'*'",
		[T_SLASH] = "'/'",
		[T_PCT] = "'%'",
		[T_CONCAT] = "'||'",
		[T_COALESCE] = "'?"
			       "?'",
		[T_EQ] = "'='",
		[T_NE] = "'!='",
		[T_LT] = "'<'",
		[T_LE] = "'<='",
		[T_GT] = "'>'",
		[T_GE] = "'>='",
		[T_ERR] = "error",
	};
	return kind >= 0 && kind <= T_ERR ? names[kind] : "?";
}
