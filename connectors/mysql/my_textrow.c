/* my_textrow.c — a table's rows as text through a prepared statement
 * (my_textrow.h). */
#include "my_textrow.h"

#include <stdlib.h>
#include <string.h>

#include "my_connect.h"

int wb_my_append_ident(struct wb_buf *b, const char *name)
{
	char q[600];
	size_t n = 0;
	if (!wb_my_quote_ident(q, sizeof(q), &n, name))
		return -1;
	wb_buf_append(b, q, n);
	return 0;
}

int wb_my_append_select(struct wb_buf *b, const struct wb_table *t)
{
	wb_buf_append(b, "SELECT ", 7);
	for (int i = 0; i < t->ncols; i++) {
		if (i)
			wb_buf_append(b, ", ", 2);
		if (wb_my_append_ident(b, t->cols[i].name))
			return -1;
	}
	wb_buf_append(b, " FROM ", 6);
	if (wb_my_append_ident(b, t->db))
		return -1;
	wb_buf_append(b, ".", 1);
	if (wb_my_append_ident(b, t->name))
		return -1;
	return b->failed ? -1 : 0;
}

int wb_my_textrow_bind(struct wb_my_textrow *r, MYSQL_STMT *stmt, int ncols)
{
	size_t n = (size_t)ncols;
	memset(r, 0, sizeof(*r));
	r->stmt = stmt;
	r->ncols = ncols;
	r->bind = calloc(n, sizeof(*r->bind));
	r->len = calloc(n, sizeof(*r->len));
	r->null = calloc(n, sizeof(*r->null));
	r->buf = malloc(n * WB_MY_TEXTROW_INLINE);
	if (!r->bind || !r->len || !r->null || !r->buf)
		return -1;
	for (size_t i = 0; i < n; i++) {
		r->bind[i].buffer_type = MYSQL_TYPE_STRING;
		r->bind[i].buffer = r->buf + i * WB_MY_TEXTROW_INLINE;
		r->bind[i].buffer_length = WB_MY_TEXTROW_INLINE;
		r->bind[i].length = &r->len[i];
		r->bind[i].is_null = &r->null[i];
	}
	return mysql_stmt_bind_result(stmt, r->bind) ? 1 : 0;
}

int wb_my_textrow_text(struct wb_my_textrow *r, int i, struct wb_arena *a,
		       char **text)
{
	if (r->len[i] <= WB_MY_TEXTROW_INLINE) {
		*text = r->buf + (size_t)i * WB_MY_TEXTROW_INLINE;
		return 0;
	}
	/* a long value: fetched whole */
	char *v = wb_arena_alloc(a, r->len[i] + 1);
	if (v == NULL)
		return -1;
	MYSQL_BIND one;
	unsigned long got = 0;
	memset(&one, 0, sizeof(one));
	one.buffer_type = MYSQL_TYPE_STRING;
	one.buffer = v;
	one.buffer_length = r->len[i] + 1;
	one.length = &got;
	if (mysql_stmt_fetch_column(r->stmt, &one, (unsigned int)i, 0))
		return 1;
	*text = v;
	return 0;
}

void wb_my_textrow_free(struct wb_my_textrow *r)
{
	free(r->bind);
	free(r->len);
	free(r->null);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}
