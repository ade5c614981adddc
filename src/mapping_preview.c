/* mapping_preview.c — `waybill mapping preview -c PIPELINE.yaml [--limit
 * N]`: what a pipeline's mappings would make of the rows its tables hold
 * now, before it runs.
 *
 * The mappings are loaded and checked as `run` checks them; then, for each
 * captured table some mapping reads, the source reads up to N current rows
 * with a plain query (its `sample` op: no slot, no publication, nothing
 * created, no checkpoint read or written) and each row goes through the
 * mappings as a snapshot read (op 'r'). A mapping whose ops lack 'r' would
 * never see such a row, so the row also goes through it as an insert (op
 * 'c'), to show what a row like it would produce when written. Every
 * output is printed to stdout as one JSON line; a summary per table goes
 * to stderr. Nothing is written anywhere else. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "avro_cat.h"
#include "config.h"
#include "mapping.h"
#include "mapping_int.h"
#include "mapping_setup.h"
#include "source.h"

#define PREVIEW_LIMIT_MAX 100000

static const char usage_text[] =
	"usage: waybill mapping preview -c PIPELINE.yaml [--limit N]\n"
	"  reads up to N (default 10) current rows of each table the "
	"pipeline's\n"
	"  mappings read (a plain query: no slot, nothing published, no "
	"checkpoint)\n"
	"  and prints the events and dead letters they would produce, as "
	"JSON lines\n";

struct preview {
	struct wb_mappings *m;
	int64_t now_us;
	struct wb_buf line;
	struct wb_buf json;
	/* per table */
	uint64_t events[2], dead[2]; /* [0]: as 'r', [1]: as 'c' */
};

static const struct wb_mapping *mapping_of(const struct wb_mappings *m,
					   const struct wb_mapping_info *info)
{
	for (int i = 0; i < m->n; i++)
		if (&m->v[i].info == info)
			return &m->v[i];
	return NULL;
}

static void put_key(struct wb_buf *b, const char *key, const char *value)
{
	wb_buf_append(b, ",", 1);
	wb_mapping_json_string(b, key, strlen(key));
	wb_buf_append(b, ":", 1);
	if (value == NULL)
		wb_buf_append(b, "null", 4);
	else
		wb_mapping_json_string(b, value, strlen(value));
}

/* One output as a JSON line:
 * {"table", "row", "op", "mapping", "event_type", "topic",
 *  "correlation_id", "event": {...}} or, for a dead letter,
 * {..., "field", "reason", "dead_letter": {...}}. */
static int print_output(struct preview *pv, const char *table, int row, char op,
			const struct wb_mapped *o, wb_error_t *err)
{
	struct wb_buf *b = &pv->line;
	wb_buf_reset(b);
	b->failed = 0;
	wb_buf_reset(&pv->json);
	pv->json.failed = 0;
	if (wb_avro_datum_json(o->schema->json, o->value, o->value_len,
			       &pv->json, err) != 0) {
		wb_error_prefix(err, "mapping %s: the %s does not decode",
				o->mapping->name,
				o->dead_letter ? "dead letter" : "event");
		return err->code;
	}
	char rowtext[24], optext[2] = {op, '\0'};
	snprintf(rowtext, sizeof(rowtext), "%d", row);
	wb_buf_append(b, "{\"table\":", 9);
	wb_mapping_json_string(b, table, strlen(table));
	wb_buf_append(b, ",\"row\":", 7);
	wb_buf_append(b, rowtext, strlen(rowtext));
	put_key(b, "op", optext);
	put_key(b, "mapping", o->mapping->name);
	put_key(b, "event_type", o->event_type);
	put_key(b, "topic", o->topic);
	if (o->dead_letter) {
		put_key(b, "field", o->field);
		put_key(b, "reason", o->reason);
		wb_buf_append(b, ",\"dead_letter\":", 15);
	} else {
		put_key(b, "correlation_id", o->correlation_id);
		wb_buf_append(b, ",\"event\":", 9);
	}
	wb_buf_append(b, pv->json.data, pv->json.len);
	wb_buf_append(b, "}\n", 2);
	if (b->failed || pv->json.failed)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	fwrite(b->data, 1, b->len, stdout);
	return WB_OK;
}

/* Maps row `row` of table (change c) as op; prints the outputs of the
 * mappings whose ops lack 'r' when as_insert, of all otherwise. */
static int map_row(struct preview *pv, const char *table, int row,
		   struct wb_change *c, bool as_insert, wb_error_t *err)
{
	char position[600], raw_id[700];
	snprintf(position, sizeof(position), "preview:%s:%d", table, row);
	snprintf(raw_id, sizeof(raw_id), "%s:%s", pv->m->system, position);
	c->op = as_insert ? WB_OP_INSERT : WB_OP_READ;
	c->snapshot = !as_insert;
	const struct wb_mapped *out;
	int nout = 0;
	int rc = wb_mappings_apply(pv->m, c, position, raw_id, pv->now_us, &out,
				   &nout, err);
	if (rc)
		return rc;
	for (int i = 0; i < nout; i++) {
		const struct wb_mapping *mp = mapping_of(pv->m, out[i].mapping);
		if (as_insert && mp != NULL && strchr(mp->ops, 'r') != NULL)
			continue; /* shown as a snapshot read */
		if ((rc = print_output(pv, table, row, (char)c->op, &out[i],
				       err)))
			return rc;
		if (out[i].dead_letter)
			pv->dead[as_insert]++;
		else
			pv->events[as_insert]++;
	}
	return WB_OK;
}

/* Which ops the mappings reading table t would see its rows as: 'r' by
 * those that take snapshot reads, 'c' by those that take inserts only. */
static void ops_for(const struct wb_mappings *m, const char *full,
		    bool *as_read, bool *as_insert, int *nmaps)
{
	*as_read = *as_insert = false;
	*nmaps = 0;
	for (int i = 0; i < m->n; i++) {
		const struct wb_mapping *mp = &m->v[i];
		if (!wb_mapping_matches(mp, full))
			continue;
		(*nmaps)++;
		if (strchr(mp->ops, 'r') != NULL)
			*as_read = true;
		else if (strchr(mp->ops, 'c') != NULL)
			*as_insert = true;
	}
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static int preview_table(struct preview *pv, struct wb_source *src,
			 struct wb_table *t, int limit, wb_error_t *err)
{
	bool as_read, as_insert;
	int nmaps;
	char table[520];
	snprintf(table, sizeof(table), "%s.%s", t->schema, t->name);
	ops_for(pv->m, table, &as_read, &as_insert, &nmaps);
	if (nmaps == 0)
		return WB_OK;
	memset(pv->events, 0, sizeof(pv->events));
	memset(pv->dead, 0, sizeof(pv->dead));
	struct wb_batch *b = wb_batch_new();
	if (b == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	int rc = src->ops->sample(src, t, limit, b, err);
	for (uint32_t i = 0; rc == WB_OK && i < b->n; i++) {
		struct wb_change *c = &b->changes[i];
		c->commit_ts_us = pv->now_us;
		if (as_read)
			rc = map_row(pv, table, (int)i + 1, c, false, err);
		if (rc == WB_OK && as_insert)
			rc = map_row(pv, table, (int)i + 1, c, true, err);
	}
	if (rc == WB_OK) {
		fflush(stdout);
		fprintf(stderr,
			"waybill: preview %s: %" PRIu32
			" row%s read, %d mapping%s",
			table, b->n, plural(b->n), nmaps,
			plural((uint64_t)nmaps));
		if (as_read)
			fprintf(stderr,
				"; as snapshot reads (r): %" PRIu64
				" event%s, %" PRIu64 " dead letter%s",
				pv->events[0], plural(pv->events[0]),
				pv->dead[0], plural(pv->dead[0]));
		if (as_insert)
			fprintf(stderr,
				"; as inserts (c) through the mappings without "
				"r: %" PRIu64 " event%s, %" PRIu64
				" dead letter%s",
				pv->events[1], plural(pv->events[1]),
				pv->dead[1], plural(pv->dead[1]));
		if (!as_read && !as_insert)
			fprintf(stderr, "; none of them maps inserts or "
					"snapshot reads");
		fputc('\n', stderr);
	}
	wb_batch_free(b);
	return rc;
}

static int fail(const wb_error_t *err)
{
	fprintf(stderr, "waybill: mapping preview: %s\n", err->message);
	return wb_error_exit_code(err->code ? err->code : WB_ERR_RUNTIME);
}

int wb_mapping_preview(int argc, char **argv)
{
	const char *config = NULL;
	int limit = 10;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 ||
		     strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			long v = strtol(argv[++i], &end, 10);
			if (*argv[i] == '\0' || *end != '\0' || errno ||
			    v < 1 || v > PREVIEW_LIMIT_MAX) {
				fprintf(stderr,
					"waybill: mapping preview: --limit "
					"takes 1 to %d rows, got %s\n",
					PREVIEW_LIMIT_MAX, argv[i]);
				return 2;
			}
			limit = (int)v;
		} else {
			fprintf(stderr,
				"waybill: mapping preview: unexpected "
				"argument %s\n%s",
				argv[i], usage_text);
			return 2;
		}
	}
	if (config == NULL) {
		fputs(usage_text, stderr);
		return 2;
	}
	wb_error_t err;
	wb_error_clear(&err);
	struct wb_config *cfg = wb_config_load(config, &err);
	if (cfg == NULL)
		return fail(&err);
	struct preview pv;
	memset(&pv, 0, sizeof(pv));
	wb_buf_init(&pv.line);
	wb_buf_init(&pv.json);
	struct wb_source *src = NULL;
	struct wb_table **tables = NULL;
	int ntables = 0, rc = WB_OK;
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	if (cfg->nmappings == 0) {
		rc = wb_error_set(&err, WB_ERR_CONFIG,
				  "%s has no mappings (mappings: [files or "
				  "globs])",
				  cfg->path);
		goto done;
	}
	if (sops == NULL || sops->sample == NULL) {
		rc = wb_error_set(&err, WB_ERR_CONFIG,
				  "source type %s cannot read sample rows",
				  cfg->source.type);
		goto done;
	}
	if ((src = sops->create(cfg, &err)) == NULL) {
		rc = err.code;
		goto done;
	}
	/* the same loading and checks as `run`: problems go to stderr */
	pv.m = wb_mapping_setup_tables(cfg, src, stderr, &tables, &ntables,
				       &err);
	if (pv.m == NULL) {
		rc = err.code ? err.code : WB_ERR_RUNTIME;
		goto done;
	}
	struct timeval tv;
	gettimeofday(&tv, NULL);
	pv.now_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	for (int i = 0; i < ntables && rc == WB_OK; i++)
		rc = preview_table(&pv, src, tables[i], limit, &err);
done:
	for (int i = 0; i < ntables && tables != NULL; i++)
		wb_table_unref(tables[i]);
	free(tables);
	wb_mappings_free(pv.m);
	if (src != NULL)
		sops->destroy(src);
	wb_buf_free(&pv.line);
	wb_buf_free(&pv.json);
	wb_config_free(cfg);
	fflush(stdout);
	return rc ? fail(&err) : 0;
}
