/* pg_snapshot_state.c — a snapshot's progress as the checkpoint keeps it:
 * the parts of each table, marks applied as positions become durable, and
 * the JSON that state() writes and restore() reads back (format in
 * pg_snapshot.h). */
#include "pg_snapshot_int.h"

#include <errno.h>
#include <stdio.h>

#include "log.h"

void wb_pgsnap_part_clear_round(struct part *pt, int nkeys)
{
	free(pt->sql_copy);
	free(pt->sql_next);
	pt->sql_copy = pt->sql_next = NULL;
	free_key(pt->cur_key, nkeys);
	pt->cur_key = NULL;
	pt->assigned = pt->emitted_done = false;
}

void wb_pgsnap_parts_free(struct part *parts, int np, int nkeys)
{
	for (int i = 0; parts && i < np; i++) {
		wb_pgsnap_part_clear_round(&parts[i], nkeys);
		free(parts[i].lo);
		free(parts[i].hi);
		free_key(parts[i].d_key, parts[i].d_nkey);
	}
	free(parts);
}

/* Makes t one part again, the whole table, with no progress; call with mu
 * held (and outside a round, or before the table's round starts). false
 * when out of memory. */
bool wb_pgsnap_whole_table(struct snap_table *t)
{
	struct part *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return false;
	wb_pgsnap_parts_free(t->parts, t->np, t->nkeys);
	t->parts = p;
	t->np = 1;
	return true;
}

/* Finds or appends "schema.name"; call with mu held. -1 when out of memory. */
static int table_index(struct wb_pg_snapshot *sn, const char *schema,
		       const char *name)
{
	for (int i = 0; i < sn->nt; i++)
		if (strcmp(sn->t[i].schema, schema) == 0 &&
		    strcmp(sn->t[i].name, name) == 0)
			return i;
	if (sn->nt == sn->capt) {
		int cap = sn->capt ? sn->capt * 2 : 8;
		struct snap_table *nt =
			realloc(sn->t, (size_t)cap * sizeof(*nt));
		if (nt == NULL)
			return -1;
		sn->t = nt;
		sn->capt = cap;
	}
	struct snap_table *t = &sn->t[sn->nt];
	memset(t, 0, sizeof(*t));
	t->schema = strdup(schema);
	t->name = strdup(name);
	if (t->schema == NULL || t->name == NULL || !wb_pgsnap_whole_table(t) ||
	    asprintf(&t->full, "%s.%s", schema, name) < 0) {
		free(t->schema);
		free(t->name);
		free(t->parts);
		return -1;
	}
	t->estimate = -1;
	return sn->nt++;
}

int wb_pg_snapshot_add(struct wb_pg_snapshot *sn, const char *schema,
		       const char *name, wb_error_t *err)
{
	pthread_mutex_lock(&sn->mu);
	int i = table_index(sn, schema, name);
	if (i >= 0) {
		struct snap_table *t = &sn->t[i];
		t->gen++;
		if (!wb_pgsnap_whole_table(t))
			i = -1;
		else
			t->pending = true;
	}
	pthread_mutex_unlock(&sn->mu);
	if (i < 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

/* A part's durable progress from its JSON (the table's own object for a
 * table in one part). */
static bool restore_progress(struct part *pt, json_t *v)
{
	pt->d_done = json_is_true(json_object_get(v, "done"));
	pt->d_rows = json_integer_value(json_object_get(v, "rows"));
	pt->rows = pt->d_rows;
	json_t *key = json_object_get(v, "key");
	if (pt->d_done || !json_is_array(key) || json_array_size(key) == 0)
		return true;
	size_t nk = json_array_size(key);
	pt->d_key = calloc(nk, sizeof(char *));
	if (pt->d_key == NULL)
		return false;
	pt->d_nkey = (int)nk;
	for (size_t k = 0; k < nk; k++) {
		const char *s = json_string_value(json_array_get(key, k));
		if ((pt->d_key[k] = strdup(s ? s : "")) == NULL)
			return false;
	}
	return true;
}

/* Whether s is a decimal int64, as wb_pgsnap_split() writes bounds. */
bool wb_pgsnap_int_text(const char *s, long long *v)
{
	char *end;
	errno = 0;
	*v = s && *s ? strtoll(s, &end, 10) : 0;
	return s && *s && errno == 0 && *end == '\0';
}

/* Every part but the last ends at an integer, each above the one before;
 * the last is open. */
static bool bounds_valid(const struct part *p, int np)
{
	long long prev = 0, v;
	for (int i = 0; i < np; i++) {
		if (i == np - 1)
			return p[i].hi == NULL;
		if (!wb_pgsnap_int_text(p[i].hi, &v) || (i > 0 && v <= prev))
			return false;
		prev = v;
	}
	return true;
}

/* The parts of a table from its checkpoint object: "parts" when it was
 * split, else the table's own done/rows/key. Call with mu held. */
static bool restore_parts(struct snap_table *t, json_t *v)
{
	if (!wb_pgsnap_whole_table(t))
		return false;
	json_t *parts = json_object_get(v, "parts");
	size_t np = json_is_array(parts) ? json_array_size(parts) : 0;
	if (np > 1) {
		struct part *p = calloc(np, sizeof(*p));
		if (p == NULL)
			return false;
		wb_pgsnap_parts_free(t->parts, t->np, 0);
		t->parts = p;
		t->np = (int)np;
		for (size_t i = 0; i < np; i++) {
			json_t *pv = json_array_get(parts, i);
			const char *hi =
				json_string_value(json_object_get(pv, "hi"));
			if (hi && (p[i].hi = strdup(hi)) == NULL)
				return false;
			if (i > 0 && p[i - 1].hi &&
			    (p[i].lo = strdup(p[i - 1].hi)) == NULL)
				return false;
			if (!restore_progress(&p[i], pv))
				return false;
		}
		if (!bounds_valid(p, (int)np)) {
			wb_warn("postgres",
				"snapshot of %s: the checkpoint's parts are "
				"not a split of the key; the table is read "
				"again from its start",
				t->full);
			if (!wb_pgsnap_whole_table(t))
				return false;
		}
	} else if (!restore_progress(&t->parts[0], v)) {
		return false;
	}
	t->pending = false;
	for (int i = 0; i < t->np; i++)
		t->pending |= !t->parts[i].d_done;
	return true;
}

int wb_pg_snapshot_restore(struct wb_pg_snapshot *sn, json_t *state,
			   wb_error_t *err)
{
	json_t *tables = json_object_get(state, "tables");
	const char *point = json_string_value(json_object_get(state, "point"));
	if (point)
		snprintf(sn->point_text, sizeof(sn->point_text), "%s", point);
	if (!json_is_object(tables))
		return WB_OK;
	const char *full;
	json_t *v;
	json_object_foreach(tables, full, v)
	{
		const char *dot = strchr(full, '.');
		if (dot == NULL || !json_is_object(v))
			continue;
		char *schema = strndup(full, (size_t)(dot - full));
		if (schema == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		pthread_mutex_lock(&sn->mu);
		int i = table_index(sn, schema, dot + 1);
		free(schema);
		if (i < 0) {
			pthread_mutex_unlock(&sn->mu);
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		}
		struct snap_table *t = &sn->t[i];
		json_t *est = json_object_get(v, "estimate");
		t->estimate =
			json_is_integer(est) ? json_integer_value(est) : -1;
		bool ok = restore_parts(t, v);
		pthread_mutex_unlock(&sn->mu);
		if (!ok)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	return WB_OK;
}

void wb_pg_snapshot_durable(struct wb_pg_snapshot *sn,
			    const wb_position_t *durable)
{
	pthread_mutex_lock(&sn->mu);
	size_t k = 0;
	while (k < sn->nmarks &&
	       wb_position_cmp(&sn->marks[k].pos, durable) <= 0) {
		struct mark *m = &sn->marks[k++];
		struct snap_table *t = &sn->t[m->table];
		if (m->gen != t->gen || m->part >= t->np) {
			free_key(m->key, m->nkey);
			continue;
		}
		struct part *pt = &t->parts[m->part];
		pt->d_rows = m->rows;
		pt->d_done = m->done;
		if (m->key) {
			free_key(pt->d_key, pt->d_nkey);
			pt->d_key = m->key;
			pt->d_nkey = m->nkey;
		} else {
			free_key(m->key, m->nkey);
		}
	}
	if (k > 0) {
		memmove(sn->marks, sn->marks + k,
			(sn->nmarks - k) * sizeof(*sn->marks));
		sn->nmarks -= k;
	}
	pthread_mutex_unlock(&sn->mu);
}

/* A durable key as JSON: null when none (or done). */
static json_t *key_json(const struct part *pt)
{
	if (pt->d_key == NULL || pt->d_done)
		return json_null();
	json_t *key = json_array();
	for (int k = 0; key && k < pt->d_nkey; k++)
		json_array_append_new(key, json_string(pt->d_key[k]));
	return key;
}

json_t *wb_pg_snapshot_state(struct wb_pg_snapshot *sn)
{
	pthread_mutex_lock(&sn->mu);
	if (sn->nt == 0) {
		pthread_mutex_unlock(&sn->mu);
		return NULL;
	}
	json_t *tables = json_object();
	for (int i = 0; tables && i < sn->nt; i++) {
		const struct snap_table *t = &sn->t[i];
		bool done = true;
		int64_t rows = 0;
		json_t *parts = t->np > 1 ? json_array() : NULL;
		for (int k = 0; k < t->np; k++) {
			const struct part *pt = &t->parts[k];
			done &= pt->d_done;
			rows += pt->d_rows;
			if (parts)
				json_array_append_new(
					parts, json_pack("{s:s?,s:b,s:I,s:o}",
							 "hi", pt->hi, "done",
							 pt->d_done, "rows",
							 (json_int_t)pt->d_rows,
							 "key", key_json(pt)));
		}
		json_t *o = json_pack("{s:b,s:I,s:I,s:o}", "done", done, "rows",
				      (json_int_t)rows, "estimate",
				      (json_int_t)t->estimate, "key",
				      t->np == 1 ? key_json(&t->parts[0])
						 : json_null());
		if (o && parts)
			json_object_set_new(o, "parts", parts);
		else
			json_decref(parts);
		json_object_set_new(tables, t->full, o);
	}
	json_t *out = json_pack("{s:s,s:o}", "point", sn->point_text, "tables",
				tables);
	pthread_mutex_unlock(&sn->mu);
	return out;
}
