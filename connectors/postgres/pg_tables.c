/* pg_tables.c — tables that appear (snapshotted online) and disappear (their
 * series end with a truncate) while the source runs or while it is stopped. */
#include "pg_source_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

static int target_index(const struct wb_pg_reltarget *t, int n, uint32_t oid)
{
	for (int i = 0; i < n; i++)
		if (t[i].oid == oid)
			return i;
	return -1;
}

static void oid_text(uint32_t oid, char *buf, size_t n)
{
	snprintf(buf, n, "%u", oid);
}

/* Queues the truncate that ends the series of a table that is gone; it is
 * emitted at the next round's point. name: "schema.table". */
static int gone_add(struct pg_source *s, uint32_t oid, const char *name,
		    wb_error_t *err)
{
	struct wb_table *t = NULL;
	for (int i = 0; i < s->nrels && t == NULL; i++)
		if (s->rels[i].oid == oid && s->rels[i].table)
			t = wb_table_ref(s->rels[i].table);
	if (t == NULL) {
		/* its shape is unknown: the truncate has a row of no columns */
		char schema[256];
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : 0;
		if (len >= sizeof(schema))
			len = sizeof(schema) - 1;
		memcpy(schema, name, len);
		schema[len] = '\0';
		t = wb_table_new(PQdb(s->cat.conn), schema,
				 dot ? dot + 1 : name, 0);
		if (t)
			t->src_id = oid;
	}
	if (t == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&s->mu); /* pg_state reads the array */
	struct gone_table *g =
		realloc(s->gone, (size_t)(s->ngone + 1) * sizeof(*g));
	if (g)
		s->gone = g;
	if (g)
		s->gone[s->ngone++] =
			(struct gone_table){oid, t, false, {0, 0}};
	pthread_mutex_unlock(&s->mu);
	if (g == NULL) {
		wb_table_unref(t);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	wb_info("postgres",
		"table %s (oid %u) is gone: its series ends with a truncate",
		name, oid);
	return WB_OK;
}

/* Frees the entries whose truncate is durable (pg_state took them off
 * the known list). Source thread. */
static void gone_sweep(struct pg_source *s)
{
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->ngone;) {
		char key[16];
		oid_text(s->gone[i].oid, key, sizeof(key));
		if (!s->gone[i].emitted || json_object_get(s->known, key)) {
			i++;
			continue;
		}
		wb_table_unref(s->gone[i].table);
		s->gone[i] = s->gone[--s->ngone];
	}
	pthread_mutex_unlock(&s->mu);
}

bool wb_pgsrc_gone_pending(const struct pg_source *s)
{
	for (int i = 0; i < s->ngone; i++)
		if (!s->gone[i].emitted)
			return true;
	return false;
}

/* At start: compares the captured tables with those the checkpoint knew.
 * A table that is new since (created, or now matching the globs) is
 * snapshotted; one that is gone (dropped, or re-created with a new OID)
 * gets its truncate. Without a list in the checkpoint (a first run, or an
 * older checkpoint), every captured table counts as known. */
int wb_pgsrc_known_init(struct pg_source *s, const struct wb_source_resume *r,
			bool snapshot_new, wb_error_t *err)
{
	json_t *prev = r->have && r->state ? json_object_get(r->state, "tables")
					   : NULL;
	if (!json_is_object(prev))
		prev = NULL;
	s->known = json_object();
	s->refused = json_object();
	if (s->known == NULL || s->refused == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	char key[16], full[512];
	for (int i = 0; i < s->ntargets; i++) {
		oid_text(s->targets[i].oid, key, sizeof(key));
		snprintf(full, sizeof(full), "%s.%s", s->targets[i].schema,
			 s->targets[i].name);
		json_object_set_new(s->known, key, json_string(full));
		if (prev && json_object_get(prev, key) == NULL) {
			wb_info("postgres",
				"table %s is new since the checkpoint%s", full,
				snapshot_new ? ": taking its snapshot" : "");
			int rc = snapshot_new ? wb_pg_snapshot_add(
							s->snap,
							s->targets[i].schema,
							s->targets[i].name, err)
					      : WB_OK;
			if (rc)
				return rc;
		}
	}
	const char *k;
	json_t *v;
	json_object_foreach(prev, k, v)
	{
		uint32_t oid = (uint32_t)strtoul(k, NULL, 10);
		if (target_index(s->targets, s->ntargets, oid) >= 0 ||
		    !json_is_string(v))
			continue;
		json_object_set(s->known, k, v);
		int rc = gone_add(s, oid, json_string_value(v), err);
		if (rc)
			return rc;
	}
	return WB_OK;
}

/* A table found while running: captured from now on, if it can be. */
static int adopt_table(struct pg_source *s, const struct wb_pg_reltarget *t,
		       wb_error_t *err)
{
	char key[16], full[512];
	oid_text(t->oid, key, sizeof(key));
	snprintf(full, sizeof(full), "%s.%s", t->schema, t->name);
	if (json_object_get(s->refused, key))
		return WB_OK;
	struct wb_pg_reltarget one = *t;
	bool refused = false;
	int rc = wb_pgsrc_check_identity(s, &one, 1, err);
	if (rc == WB_OK)
		rc = wb_pgsrc_check_select(s, &one, 1, err);
	if (rc == WB_OK)
		rc = wb_pgsrc_ensure_publication(s, &one, 1, &refused, err);
	if (rc == WB_ERR_NOMEM)
		return rc;
	if (rc || refused) {
		if (rc)
			wb_warn("postgres", "new table %s is not captured: %s",
				full, err->message);
		wb_error_clear(err);
		json_object_set_new(s->refused, key, json_true());
		return WB_OK;
	}
	struct wb_pg_reltarget *nt =
		realloc(s->targets, (size_t)(s->ntargets + 1) * sizeof(*nt));
	if (nt == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	s->targets = nt;
	nt[s->ntargets] = *t;
	nt[s->ntargets].schema = strdup(t->schema);
	nt[s->ntargets].name = strdup(t->name);
	if (!nt[s->ntargets].schema || !nt[s->ntargets].name) {
		free(nt[s->ntargets].schema);
		free(nt[s->ntargets].name);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	s->ntargets++;
	pthread_mutex_lock(&s->mu);
	json_object_set_new(s->known, key, json_string(full));
	pthread_mutex_unlock(&s->mu);
	bool snap = s->base.cfg->source.snapshot != WB_SNAPSHOT_NEVER;
	wb_info("postgres", "new table %s: captured from now on%s", full,
		snap ? ", after a snapshot of what it holds" : "");
	return snap ? wb_pg_snapshot_add(s->snap, t->schema, t->name, err)
		    : WB_OK;
}

/* Looks for tables that appeared (matching the globs) or disappeared
 * since the last look. Source thread, outside a transaction and a round. */
int wb_pgsrc_discover(struct pg_source *s, wb_error_t *err)
{
	struct wb_pg_reltarget *now = NULL;
	int n = 0;
	gone_sweep(s);
	int rc = wb_pg_list_tables(&s->cat, &now, &n, err);
	if (rc) {
		err->retriable = true;
		return rc;
	}
	for (int i = 0; i < n && rc == 0; i++)
		if (target_index(s->targets, s->ntargets, now[i].oid) < 0)
			rc = adopt_table(s, &now[i], err);
	for (int i = 0; i < s->ntargets && rc == 0;) {
		if (target_index(now, n, s->targets[i].oid) >= 0) {
			i++;
			continue;
		}
		char full[512];
		snprintf(full, sizeof(full), "%s.%s", s->targets[i].schema,
			 s->targets[i].name);
		rc = gone_add(s, s->targets[i].oid, full, err);
		free(s->targets[i].schema);
		free(s->targets[i].name);
		s->targets[i] = s->targets[--s->ntargets];
	}
	wb_pg_reltargets_free(now, n);
	return rc;
}

/* At a round's point, before its rows: the truncates of tables gone. */
int wb_pgsrc_emit_truncates(struct pg_source *s, struct wb_batch *b,
			    wb_error_t *err)
{
	for (int i = 0; i < s->ngone; i++) {
		struct gone_table *g = &s->gone[i];
		if (g->emitted)
			continue;
		struct wb_change *c = wb_batch_add(b);
		if (c == NULL || wb_batch_hold(b, g->table) == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		c->op = WB_OP_TRUNCATE;
		c->table = g->table;
		c->pos = wb_pg_snapshot_next_position(s->snap);
		c->commit_ts_us = wb_clock_real_ms() * 1000;
		s->last_pos = c->pos;
		pthread_mutex_lock(&s->mu);
		g->emitted = true;
		g->at = c->pos;
		pthread_mutex_unlock(&s->mu);
	}
	return WB_OK;
}

json_t *wb_pgsrc_known_state(struct pg_source *s, const wb_position_t *durable)
{
	pthread_mutex_lock(&s->mu);
	/* a gone table leaves the list once its truncate is durable (the
	 * source thread frees the entry later: gone_sweep) */
	for (int i = 0; i < s->ngone; i++) {
		struct gone_table *g = &s->gone[i];
		if (!g->emitted || wb_position_cmp(&g->at, durable) > 0)
			continue;
		char key[16];
		oid_text(g->oid, key, sizeof(key));
		json_object_del(s->known, key);
	}
	json_t *known = s->known ? json_deep_copy(s->known) : NULL;
	pthread_mutex_unlock(&s->mu);
	return known;
}
