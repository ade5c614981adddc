/* my_textrow.h — reading whole rows of a table as text through a prepared
 * statement: the SELECT list of a table's columns, every result column
 * bound as text (the snapshot and `mapping preview` read rows this way and
 * convert each value with wb_my_text_to_value). */
#ifndef WB_MY_TEXTROW_H
#define WB_MY_TEXTROW_H

#include <mysql.h>

#include "arena.h"
#include "buf.h"
#include "table.h"

/* Appends name quoted as an identifier; -1 when it is too long. */
int wb_my_append_ident(struct wb_buf *b, const char *name);

/* Appends "SELECT `c1`, `c2`, ... FROM `db`.`table`"; -1 when a name is
 * too long or memory ran out. */
int wb_my_append_select(struct wb_buf *b, const struct wb_table *t);

/* The result columns of an executed statement, bound as text. */
struct wb_my_textrow {
	MYSQL_STMT *stmt; /* not owned */
	int ncols;
	MYSQL_BIND *bind;
	unsigned long *len; /* length of each column's value */
	my_bool *null;	    /* whether it is NULL */
	char *buf;	    /* the short values, WB_MY_TEXTROW_INLINE each */
};

#define WB_MY_TEXTROW_INLINE 512 /* bytes fetched with the row */

/* Binds the ncols result columns of stmt. 0; -1: out of memory; 1: the
 * server refused (mysql_stmt_error tells). */
int wb_my_textrow_bind(struct wb_my_textrow *r, MYSQL_STMT *stmt, int ncols);

/* The text of column i of the fetched row (r->len[i] bytes; not for a NULL
 * column): in the bound buffer, or, when longer, fetched whole into a (NUL
 * after it). 0; -1: out of memory; 1: the fetch failed. */
int wb_my_textrow_text(struct wb_my_textrow *r, int i, struct wb_arena *a,
		       char **text);

/* Frees the bindings (not the statement); accepts a zeroed struct. */
void wb_my_textrow_free(struct wb_my_textrow *r);

#endif
