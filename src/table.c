/* table.c — refcounted table versions. */
#include "table.h"

#include <stdlib.h>
#include <string.h>

static atomic_uint_fast64_t next_table_id = 1;

struct wb_table *wb_table_new(const char *db, const char *schema,
			      const char *name, int ncols)
{
	struct wb_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	atomic_init(&t->refs, 1);
	t->id = atomic_fetch_add(&next_table_id, 1);
	t->db = strdup(db ? db : "");
	t->schema = strdup(schema ? schema : "");
	t->name = strdup(name ? name : "");
	t->ncols = ncols;
	t->cols = calloc(ncols > 0 ? (size_t)ncols : 1, sizeof(*t->cols));
	if (!t->db || !t->schema || !t->name || !t->cols) {
		wb_table_unref(t);
		return NULL;
	}
	return t;
}

int wb_table_set_column(struct wb_table *t, int i, const char *name,
			const struct wb_type *type, bool nullable, bool key)
{
	if (i < 0 || i >= t->ncols)
		return -1;
	struct wb_column *c = &t->cols[i];
	free(c->name);
	c->name = strdup(name);
	if (c->name == NULL)
		return -1;
	c->type = *type;
	c->nullable = nullable;
	c->key = key;
	return 0;
}

struct wb_table *wb_table_ref(struct wb_table *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void wb_table_unref(struct wb_table *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	if (t->enc_cache && t->enc_cache_free)
		t->enc_cache_free(t->enc_cache);
	for (int i = 0; t->cols && i < t->ncols; i++)
		free(t->cols[i].name);
	free(t->cols);
	free(t->db);
	free(t->schema);
	free(t->name);
	free(t);
}

int wb_table_nkeys(const struct wb_table *t)
{
	int n = 0;
	for (int i = 0; i < t->ncols; i++)
		n += t->cols[i].key;
	return n;
}

struct wb_table *wb_table_copy(const struct wb_table *t)
{
	struct wb_table *c = wb_table_new(t->db, t->schema, t->name, t->ncols);
	if (c == NULL)
		return NULL;
	c->src_id = t->src_id;
	for (int i = 0; i < t->ncols; i++)
		if (wb_table_set_column(c, i, t->cols[i].name, &t->cols[i].type,
					t->cols[i].nullable,
					t->cols[i].key) != 0) {
			wb_table_unref(c);
			return NULL;
		}
	return c;
}
