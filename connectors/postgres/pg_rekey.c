/* pg_rekey.c — a table whose key changes (ALTER TABLE ... DROP CONSTRAINT
 * ..._pkey, ADD PRIMARY KEY (...)): every row it holds now has another key.
 * A keyed consumer (a compacted topic, a KTable) would keep each row under
 * its old key forever. So the table is read again at a new point, and each
 * row read carries the key it had in the previous version: the Kafka sink
 * sends a delete and a tombstone under the old key before the row under
 * the new one, as for an update that changes a row's key. Updates and
 * deletes streamed between the key change and the point where the rows are
 * read again also go under the old key first: a row deleted in between is
 * not read again, and would otherwise stay under its old key. */
#include "pg_source_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static int col_index(const struct wb_table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return i;
	return -1;
}

/* The key columns of t as "a, b", or "(none)". */
static void key_names(const struct wb_table *t, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int i = 0; i < t->ncols && len + 1 < n; i++)
		if (t->cols[i].key)
			len += (size_t)snprintf(buf + len, n - len, "%s%s",
						len ? ", " : "",
						t->cols[i].name);
	if (len == 0)
		snprintf(buf, n, "(none)");
}

static bool same_key(const struct wb_table *a, const struct wb_table *b)
{
	for (int i = 0; i < a->ncols; i++) {
		int j = col_index(b, a->cols[i].name);
		if (a->cols[i].key != (j >= 0 && b->cols[j].key))
			return false;
	}
	for (int j = 0; j < b->ncols; j++)
		if (b->cols[j].key && col_index(a, b->cols[j].name) < 0)
			return false;
	return true;
}

int wb_pgsrc_rekey_note(struct pg_source *s, struct wb_table *old,
			struct wb_table *now, wb_error_t *err)
{
	if (old == NULL || now == NULL || wb_table_nkeys(old) == 0 ||
	    same_key(old, now))
		return WB_OK;
	char was[256], is[256], full[512];
	key_names(old, was, sizeof(was));
	key_names(now, is, sizeof(is));
	snprintf(full, sizeof(full), "%s.%s", now->schema, now->name);
	bool snap = s->base.cfg->source.snapshot != WB_SNAPSHOT_NEVER;
	if (!snap) {
		wb_warn("postgres",
			"the key of %s changed (%s -> %s): with snapshot: "
			"never its rows are not read again, so a keyed "
			"consumer keeps them under their old keys too",
			full, was, is);
		return WB_OK;
	}
	struct wb_pgsrc_rekey *r = NULL;
	for (int i = 0; i < s->nrekeys && r == NULL; i++)
		if (strcmp(s->rekeys[i].full, full) == 0 &&
		    !s->rekeys[i].in_round)
			r = &s->rekeys[i];
	if (r == NULL) {
		struct wb_pgsrc_rekey *nr = realloc(
			s->rekeys, (size_t)(s->nrekeys + 1) * sizeof(*nr));
		if (nr == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		s->rekeys = nr;
		r = &s->rekeys[s->nrekeys];
		memset(r, 0, sizeof(*r));
		if ((r->full = strdup(full)) == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		s->nrekeys++;
		r->old = wb_table_ref(old);
	}
	/* A second change before the round keeps the oldest key: the one
	 * consumers have the rows under. */
	wb_info("postgres",
		"the key of %s changed (%s -> %s): reading its rows again so "
		"that keyed consumers get each under its new key, after a "
		"delete under its old one",
		full, was, is);
	return wb_pg_snapshot_add(s->snap, now->schema, now->name, err);
}

void wb_pgsrc_rekey_round(struct pg_source *s, bool begin)
{
	for (int i = 0; i < s->nrekeys;) {
		struct wb_pgsrc_rekey *r = &s->rekeys[i];
		if (begin) {
			r->in_round = true;
			i++;
			continue;
		}
		if (!r->in_round) {
			i++;
			continue;
		}
		free(r->full);
		wb_table_unref(r->old);
		s->rekeys[i] = s->rekeys[--s->nrekeys];
	}
}

/* Gives c (a row of a re-keyed table) the key it had before: its image
 * (the old image when the change has one, else the new) in the previous
 * version's columns. */
static int give_old_key(struct wb_batch *b, struct wb_change *c,
			struct wb_table *old, wb_error_t *err)
{
	const struct wb_value *src = c->before ? c->before : c->after;
	if (src == NULL)
		return WB_OK;
	struct wb_value *img = wb_batch_values(b, old->ncols);
	if (img == NULL || wb_batch_hold(b, old) == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int j = 0; j < old->ncols; j++) {
		int at = col_index(c->table, old->cols[j].name);
		if (at >= 0)
			img[j] = src[at]; /* bytes stay in the batch arena */
	}
	c->old_table = old;
	c->old_image = img;
	return WB_OK;
}

static struct wb_pgsrc_rekey *find(struct pg_source *s,
				   const struct wb_table *t, bool in_round)
{
	for (int k = 0; k < s->nrekeys; k++)
		if ((!in_round || s->rekeys[k].in_round) &&
		    strcmp(s->rekeys[k].old->schema, t->schema) == 0 &&
		    strcmp(s->rekeys[k].old->name, t->name) == 0)
			return &s->rekeys[k];
	return NULL;
}

int wb_pgsrc_rekey_rows(struct pg_source *s, struct wb_batch *b, uint32_t n0,
			wb_error_t *err)
{
	for (uint32_t i = n0; i < b->n; i++) {
		struct wb_change *c = &b->changes[i];
		if (c->op != WB_OP_READ || c->table == NULL)
			continue;
		struct wb_pgsrc_rekey *r = find(s, c->table, true);
		int rc = r ? give_old_key(b, c, r->old, err) : WB_OK;
		if (rc)
			return rc;
	}
	return WB_OK;
}

int wb_pgsrc_rekey_change(struct pg_source *s, struct wb_batch *b,
			  struct wb_change *c, wb_error_t *err)
{
	if (c->op != WB_OP_UPDATE && c->op != WB_OP_DELETE)
		return WB_OK;
	struct wb_pgsrc_rekey *r = find(s, c->table, false);
	return r ? give_old_key(b, c, r->old, err) : WB_OK;
}

void wb_pgsrc_rekey_free(struct pg_source *s)
{
	for (int i = 0; i < s->nrekeys; i++) {
		free(s->rekeys[i].full);
		wb_table_unref(s->rekeys[i].old);
	}
	free(s->rekeys);
	s->rekeys = NULL;
	s->nrekeys = 0;
}
