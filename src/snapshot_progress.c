/* snapshot_progress.c — a snapshot's progress as the checkpoint keeps it:
 * the tables and their parts, marks applied as positions become durable,
 * and the JSON that state() writes and restore() reads back (format in
 * snapshot.h). */
#include "snapshot_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct wb_snapshot *wb_snapshot_new(const char *component, int chunk_rows,
				    int parallelism)
{
	struct wb_snapshot *sn = calloc(1, sizeof(*sn));
	if (sn == NULL)
		return NULL;
	if ((sn->component = strdup(component)) == NULL) {
		free(sn);
		return NULL;
	}
	pthread_mutex_init(&sn->mu, NULL);
	sn->chunk = chunk_rows > 0 ? chunk_rows : 10000;
	sn->parallelism = parallelism;
	sn->tty = isatty(2) && !wb_log_is_json(); /* JSON: lines only */
	sn->current = -1;
	return sn;
}

void wb_snapshot_free(struct wb_snapshot *sn)
{
	if (sn == NULL)
		return;
	for (int i = 0; i < sn->nt; i++) {
		struct wb_snapshot_table *t = &sn->t[i];
		wb_snap_parts_free(t->parts, t->np, t->nkeys);
		wb_table_unref(t->table);
		free(t->keycols);
		free(t->full);
	}
	free(sn->t);
	for (size_t i = 0; i < sn->nmarks; i++)
		wb_snapshot_key_free(sn->marks[i].key, sn->marks[i].nkey);
	free(sn->marks);
	pthread_mutex_destroy(&sn->mu);
	free(sn->component);
	free(sn);
}

int wb_snapshot_chunk_rows(const struct wb_snapshot *sn)
{
	return sn->chunk;
}

void wb_snapshot_key_free(char **key, int n)
{
	for (int i = 0; key && i < n; i++)
		free(key[i]);
	free(key);
}

char **wb_snap_key_copy(char *const *key, int n)
{
	if (key == NULL || n == 0)
		return NULL;
	char **k = calloc((size_t)n, sizeof(*k));
	if (k == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
		if ((k[i] = strdup(key[i])) == NULL) {
			wb_snapshot_key_free(k, n);
			return NULL;
		}
	return k;
}

void wb_snap_part_clear_round(struct wb_snapshot_part *pt, int nkeys)
{
	free(pt->sql_start);
	free(pt->sql_next);
	pt->sql_start = pt->sql_next = NULL;
	wb_snapshot_key_free(pt->cur_key, nkeys);
	pt->cur_key = NULL;
	pt->assigned = pt->emitted_done = false;
}

void wb_snap_parts_free(struct wb_snapshot_part *parts, int np, int nkeys)
{
	for (int i = 0; parts && i < np; i++) {
		wb_snap_part_clear_round(&parts[i], nkeys);
		free(parts[i].lo);
		free(parts[i].hi);
		wb_snapshot_key_free(parts[i].d_key, parts[i].d_nkey);
	}
	free(parts);
}

bool wb_snap_whole_table(struct wb_snapshot_table *t)
{
	struct wb_snapshot_part *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return false;
	wb_snap_parts_free(t->parts, t->np, t->nkeys);
	t->parts = p;
	t->np = 1;
	return true;
}

int64_t wb_snap_table_rows(const struct wb_snapshot_table *t)
{
	int64_t n = 0;
	for (int i = 0; i < t->np; i++)
		n += t->parts[i].rows;
	return n;
}

bool wb_snap_table_emitted(const struct wb_snapshot_table *t)
{
	for (int i = 0; i < t->np; i++)
		if (!t->parts[i].emitted_done)
			return false;
	return true;
}

bool wb_snapshot_pending(const struct wb_snapshot *sn)
{
	for (int i = 0; i < sn->nt; i++)
		if (sn->t[i].pending)
			return true;
	return false;
}

bool wb_snapshot_active(const struct wb_snapshot *sn)
{
	return sn->active;
}

int wb_snapshot_ntables(const struct wb_snapshot *sn)
{
	return sn->nt;
}

struct wb_snapshot_table *wb_snapshot_table(struct wb_snapshot *sn, int ti)
{
	return ti >= 0 && ti < sn->nt ? &sn->t[ti] : NULL;
}

/* Finds or appends the table; call with mu held. -1 when out of memory. */
static int table_index(struct wb_snapshot *sn, const char *full)
{
	for (int i = 0; i < sn->nt; i++)
		if (strcmp(sn->t[i].full, full) == 0)
			return i;
	if (sn->nt == sn->capt) {
		int cap = sn->capt ? sn->capt * 2 : 8;
		struct wb_snapshot_table *nt =
			realloc(sn->t, (size_t)cap * sizeof(*nt));
		if (nt == NULL)
			return -1;
		sn->t = nt;
		sn->capt = cap;
	}
	struct wb_snapshot_table *t = &sn->t[sn->nt];
	memset(t, 0, sizeof(*t));
	if ((t->full = strdup(full)) == NULL || !wb_snap_whole_table(t)) {
		free(t->full);
		return -1;
	}
	t->estimate = -1;
	return sn->nt++;
}

int wb_snapshot_add(struct wb_snapshot *sn, const char *full, wb_error_t *err)
{
	pthread_mutex_lock(&sn->mu);
	int i = table_index(sn, full);
	if (i >= 0) {
		struct wb_snapshot_table *t = &sn->t[i];
		t->gen++;
		if (!wb_snap_whole_table(t))
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
static bool restore_progress(struct wb_snapshot_part *pt, json_t *v)
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

/* The parts of a table from its checkpoint object: "parts" when it was
 * split, else the table's own done/rows/key. Call with mu held. */
static bool restore_parts(struct wb_snapshot *sn, struct wb_snapshot_table *t,
			  json_t *v)
{
	if (!wb_snap_whole_table(t))
		return false;
	json_t *parts = json_object_get(v, "parts");
	size_t np = json_is_array(parts) ? json_array_size(parts) : 0;
	if (np > 1) {
		struct wb_snapshot_part *p = calloc(np, sizeof(*p));
		if (p == NULL)
			return false;
		wb_snap_parts_free(t->parts, t->np, 0);
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
		if (!wb_snap_bounds_valid(p, (int)np)) {
			wb_warn(sn->component,
				"snapshot of %s: the checkpoint's parts are "
				"not a split of the key; the table is read "
				"again from its start",
				t->full);
			if (!wb_snap_whole_table(t))
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

int wb_snapshot_restore(struct wb_snapshot *sn, json_t *state, wb_error_t *err)
{
	json_t *tables = json_object_get(state, "tables");
	const char *point = json_string_value(json_object_get(state, "point"));
	if (point) {
		pthread_mutex_lock(&sn->mu);
		snprintf(sn->point_text, sizeof(sn->point_text), "%s", point);
		pthread_mutex_unlock(&sn->mu);
	}
	if (!json_is_object(tables))
		return WB_OK;
	const char *full;
	json_t *v;
	json_object_foreach(tables, full, v)
	{
		/* a full name is qualified; anything else is not ours */
		if (strchr(full, '.') == NULL || !json_is_object(v))
			continue;
		pthread_mutex_lock(&sn->mu);
		int i = table_index(sn, full);
		bool ok = i >= 0;
		if (ok) {
			struct wb_snapshot_table *t = &sn->t[i];
			json_t *est = json_object_get(v, "estimate");
			t->estimate = json_is_integer(est)
					      ? json_integer_value(est)
					      : -1;
			ok = restore_parts(sn, t, v);
		}
		pthread_mutex_unlock(&sn->mu);
		if (!ok)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	return WB_OK;
}

void wb_snapshot_durable(struct wb_snapshot *sn, const wb_position_t *durable)
{
	pthread_mutex_lock(&sn->mu);
	size_t k = 0;
	while (k < sn->nmarks &&
	       wb_position_cmp(&sn->marks[k].pos, durable) <= 0) {
		struct snap_mark *m = &sn->marks[k++];
		struct wb_snapshot_table *t = &sn->t[m->table];
		if (m->gen != t->gen || m->part >= t->np) {
			wb_snapshot_key_free(m->key, m->nkey);
			continue;
		}
		struct wb_snapshot_part *pt = &t->parts[m->part];
		pt->d_rows = m->rows;
		pt->d_done = m->done;
		if (m->key) {
			wb_snapshot_key_free(pt->d_key, pt->d_nkey);
			pt->d_key = m->key;
			pt->d_nkey = m->nkey;
		} else {
			wb_snapshot_key_free(m->key, m->nkey);
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
static json_t *key_json(const struct wb_snapshot_part *pt)
{
	if (pt->d_key == NULL || pt->d_done)
		return json_null();
	json_t *key = json_array();
	for (int k = 0; key && k < pt->d_nkey; k++)
		json_array_append_new(key, json_string(pt->d_key[k]));
	return key;
}

json_t *wb_snapshot_state(struct wb_snapshot *sn)
{
	pthread_mutex_lock(&sn->mu);
	if (sn->nt == 0) {
		pthread_mutex_unlock(&sn->mu);
		return NULL;
	}
	json_t *tables = json_object();
	for (int i = 0; tables && i < sn->nt; i++) {
		const struct wb_snapshot_table *t = &sn->t[i];
		bool done = true;
		int64_t rows = 0;
		json_t *parts = t->np > 1 ? json_array() : NULL;
		for (int k = 0; k < t->np; k++) {
			const struct wb_snapshot_part *pt = &t->parts[k];
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
