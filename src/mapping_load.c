/* mapping_load.c — reads mapping files (YAML, one mapping per document)
 * into struct wb_mapping, checking every key, the event type and the
 * fields against the canonical schema. Every problem is a diagnostic with
 * file:line:column; loading goes on to find the others. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"
#include "mapping_int.h"

#define FILE_MAX (4 << 20)

static const char *const mapping_keys[] = {
	"mapping",     "version", "description", "source",
	"ops",	       "when",	  "event",	 "correlation_id",
	"occurred_at", "topic",	  "on_failure",	 "fields",
	NULL,
};

/* The header fields of a canonical event, in enum wb_plan_header order. */
static const char *const header_names[] = {
	"event_id",	  "event_type", "schema_version", "occurred_at",
	"correlation_id", "source",	"mapping",	  NULL,
};

int wb_mapping_diag_add(struct wb_mapping_diags *d, const char *file, int line,
			int column, const char *fmt, ...)
{
	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 16;
		struct wb_mapping_diag *v =
			realloc(d->v, (size_t)cap * sizeof(*v));
		if (v == NULL)
			return -1;
		d->v = v;
		d->cap = cap;
	}
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct wb_mapping_diag *g = &d->v[d->n];
	g->file = strdup(file ? file : "");
	g->message = strdup(msg);
	g->line = line;
	g->column = column;
	if (g->file == NULL || g->message == NULL) {
		free(g->file);
		free(g->message);
		return -1;
	}
	d->n++;
	return 0;
}

void wb_mapping_diags_print(const struct wb_mapping_diags *d, FILE *out)
{
	for (int i = 0; i < d->n; i++) {
		const struct wb_mapping_diag *g = &d->v[i];
		if (g->line > 0)
			fprintf(out, "%s:%d:%d: %s\n", g->file, g->line,
				g->column, g->message);
		else
			fprintf(out, "%s: %s\n", g->file, g->message);
	}
}

void wb_mapping_diags_free(struct wb_mapping_diags *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].message);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static void plan_clear(struct wb_plan *p)
{
	for (int i = 0; i < p->nsub; i++)
		plan_clear(&p->sub[i]);
	free(p->sub);
	p->sub = NULL;
	p->nsub = 0;
}

void wb_mapping_clear(struct wb_mapping *mp)
{
	free(mp->name);
	free(mp->file);
	free(mp->hash);
	free(mp->header);
	free(mp->topic);
	for (int i = 0; i < mp->nsources; i++)
		free(mp->sources[i]);
	free(mp->sources);
	for (int i = 0; i < mp->nex; i++) {
		free(mp->ex[i].text);
		free(mp->ex[i].what);
	}
	free(mp->ex);
	wb_buf_free(&mp->head_type);
	wb_buf_free(&mp->head_mapping);
	plan_clear(&mp->root);
	memset(mp, 0, sizeof(*mp));
}

bool wb_mapping_want(const struct wb_cs_node *f, struct wb_xtype *out)
{
	memset(out, 0, sizeof(*out));
	out->nullable = f->nullable;
	switch (f->kind) {
	case WB_CS_BOOL:
		out->kind = WB_X_BOOL;
		return true;
	case WB_CS_INT:
	case WB_CS_LONG:
		out->kind = WB_X_INT;
		return true;
	case WB_CS_STRING:
	case WB_CS_ENUM:
		out->kind = WB_X_STRING;
		return true;
	case WB_CS_DECIMAL:
		out->kind = WB_X_DECIMAL;
		out->precision = f->precision;
		out->scale = f->scale;
		return true;
	case WB_CS_DATE:
		out->kind = WB_X_DATE;
		return true;
	case WB_CS_TIMESTAMP:
		out->kind = WB_X_TIMESTAMP;
		return true;
	default:
		return false;
	}
}

/* ---- one file ------------------------------------------------------- */

struct ld {
	const char *path;
	const char *text; /* the file's bytes, for block scalar indents */
	size_t len;
	yaml_document_t *doc;
	const struct wb_cs_set *cs;
	struct wb_mapping_diags *diags;
	int nomem;
	int errors; /* diagnostics added for the current mapping */
};

__attribute__((format(printf, 3, 4))) static void
diag(struct ld *ld, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int line = n ? (int)n->start_mark.line + 1 : 0;
	int col = n ? (int)n->start_mark.column + 1 : 0;
	if (wb_mapping_diag_add(ld->diags, ld->path, line, col, "%s", msg) != 0)
		ld->nomem = 1;
	ld->errors++;
}

static yaml_node_t *node(struct ld *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
					   : NULL;
}

static bool is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = scalar(n);
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

static const char *kind_of(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static char *xstrdup(struct ld *ld, const char *s)
{
	char *r = strdup(s);
	if (r == NULL)
		ld->nomem = 1;
	return r;
}

/* The indent of the first non-empty line after line0 (0-based). */
static int block_indent(struct ld *ld, size_t line0)
{
	size_t line = 0, i = 0;
	while (i < ld->len && line <= line0) {
		if (ld->text[i] == '\n')
			line++;
		i++;
	}
	while (i < ld->len) {
		int ind = 0;
		while (i < ld->len && ld->text[i] == ' ') {
			ind++;
			i++;
		}
		if (i < ld->len && ld->text[i] != '\n')
			return ind;
		i++; /* an empty line: the next one */
	}
	return 0;
}

/* Adds an expression for scalar node n; returns its index or -1. */
static int add_expr(struct ld *ld, struct wb_mapping *mp, const yaml_node_t *n,
		    const char *what, const struct wb_cs_node *f)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		diag(ld, n, "%s: expected an expression (text), got %s", what,
		     is_null(n) ? "nothing" : kind_of(n));
		return -1;
	}
	struct wb_mexpr *v =
		realloc(mp->ex, (size_t)(mp->nex + 1) * sizeof(*mp->ex));
	if (v == NULL) {
		ld->nomem = 1;
		return -1;
	}
	mp->ex = v;
	struct wb_mexpr *x = &mp->ex[mp->nex];
	memset(x, 0, sizeof(*x));
	x->text = xstrdup(ld, scalar(n));
	x->what = xstrdup(ld, what);
	if (x->text == NULL || x->what == NULL) {
		free(x->text);
		free(x->what);
		return -1;
	}
	x->line = (int)n->start_mark.line + 1;
	x->column = (int)n->start_mark.column + 1;
	x->block_indent = -1;
	switch (n->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		x->column++;
		break;
	case YAML_LITERAL_SCALAR_STYLE:
	case YAML_FOLDED_SCALAR_STYLE:
		x->block_indent = block_indent(ld, n->start_mark.line);
		break;
	default:
		break;
	}
	x->node = f;
	if (f != NULL)
		x->has_want = wb_mapping_want(f, &x->want);
	return mp->nex++;
}

static void list_fields(const struct wb_cs_node *rec, char *buf, size_t n,
			bool skip_header)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < rec->nfields && o < n; i++) {
		bool hdr = false;
		for (int h = 0; skip_header && header_names[h]; h++)
			if (strcmp(header_names[h], rec->fields[i].name) == 0)
				hdr = true;
		if (hdr)
			continue;
		int k = snprintf(buf + o, n - o, "%s%s", o ? ", " : "",
				 rec->fields[i].name);
		if (k < 0)
			break;
		o += (size_t)k;
	}
}

static int header_index(const char *name)
{
	for (int h = 0; header_names[h]; h++)
		if (strcmp(header_names[h], name) == 0)
			return h;
	return -1;
}

static void plan_record(struct ld *ld, struct wb_mapping *mp,
			const yaml_node_t *map, const yaml_node_t *at,
			const struct wb_cs_node *rec, struct wb_plan *p,
			const char *prefix, bool top);

static void plan_value(struct ld *ld, struct wb_mapping *mp,
		       const yaml_node_t *v, const struct wb_cs_node *f,
		       struct wb_plan *p, const char *what)
{
	p->node = f;
	if (f->kind == WB_CS_RECORD) {
		if (v->type != YAML_MAPPING_NODE) {
			diag(ld, v,
			     "%s: expected a mapping of the fields of %s, got "
			     "%s",
			     what, f->type_name, kind_of(v));
			return;
		}
		p->how = WB_PLAN_RECORD;
		plan_record(ld, mp, v, v, f, p, what, false);
		return;
	}
	if (f->kind == WB_CS_ARRAY) {
		if (v->type != YAML_SEQUENCE_NODE ||
		    f->items->kind != WB_CS_RECORD) {
			diag(ld, v,
			     "%s: expected a list of %s, one mapping of fields "
			     "per item, got %s",
			     what,
			     f->items->type_name ? f->items->type_name
						 : "items",
			     kind_of(v));
			return;
		}
		p->how = WB_PLAN_ARRAY;
		size_t k = (size_t)(v->data.sequence.items.top -
				    v->data.sequence.items.start);
		p->sub = calloc(k ? k : 1, sizeof(*p->sub));
		if (p->sub == NULL) {
			ld->nomem = 1;
			return;
		}
		p->nsub = (int)k;
		for (size_t i = 0; i < k; i++) {
			yaml_node_t *it =
				node(ld, v->data.sequence.items.start[i]);
			char sub[340];
			snprintf(sub, sizeof(sub), "%.300s[%zu]", what, i);
			p->sub[i].node = f->items;
			if (it->type != YAML_MAPPING_NODE) {
				diag(ld, it,
				     "%s: expected a mapping of the fields of "
				     "%s, got %s",
				     sub, f->items->type_name, kind_of(it));
				continue;
			}
			p->sub[i].how = WB_PLAN_RECORD;
			plan_record(ld, mp, it, it, f->items, &p->sub[i], sub,
				    false);
		}
		return;
	}
	p->how = WB_PLAN_EXPR;
	p->expr = add_expr(ld, mp, v, what, f);
}

/* Plans record rec from the YAML mapping map (NULL: no fields given). */
static void plan_record(struct ld *ld, struct wb_mapping *mp,
			const yaml_node_t *map, const yaml_node_t *at,
			const struct wb_cs_node *rec, struct wb_plan *p,
			const char *prefix, bool top)
{
	p->node = rec;
	p->how = WB_PLAN_RECORD;
	p->sub = calloc((size_t)rec->nfields + 1, sizeof(*p->sub));
	if (p->sub == NULL) {
		ld->nomem = 1;
		return;
	}
	p->nsub = rec->nfields;
	bool *given = calloc((size_t)rec->nfields + 1, sizeof(bool));
	if (given == NULL) {
		ld->nomem = 1;
		return;
	}
	for (int i = 0; i < rec->nfields; i++) {
		p->sub[i].node = &rec->fields[i];
		p->sub[i].how = WB_PLAN_DEFAULT;
		int h = top ? header_index(rec->fields[i].name) : -1;
		if (h >= 0) {
			p->sub[i].how = WB_PLAN_HEADER;
			p->sub[i].hdr = (uint8_t)h;
			given[i] = true;
		}
	}
	if (map != NULL) {
		for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
		     pr < map->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = node(ld, pr->key);
			yaml_node_t *v = node(ld, pr->value);
			const char *name = scalar(k);
			if (name == NULL) {
				diag(ld, k, "%s: expected a field name, got %s",
				     prefix, kind_of(k));
				continue;
			}
			char what[300];
			snprintf(what, sizeof(what), "%.150s.%.140s", prefix,
				 name);
			int idx = -1;
			const struct wb_cs_node *f =
				wb_cs_field(rec, name, &idx);
			if (f == NULL) {
				char names[600];
				list_fields(rec, names, sizeof(names), top);
				diag(ld, k,
				     "%s: unknown field \"%s\" of %s (its "
				     "fields: %s)",
				     prefix, name,
				     top ? mp->schema->name : rec->type_name,
				     names);
				continue;
			}
			if (p->sub[idx].how == WB_PLAN_HEADER) {
				if (strcmp(name, "correlation_id") == 0 ||
				    strcmp(name, "occurred_at") == 0)
					diag(ld, k,
					     "%s: %s is set by the mapping's "
					     "top-level key %s, not under "
					     "fields",
					     prefix, name, name);
				else
					diag(ld, k,
					     "%s: %s is set by waybill, not by "
					     "the mapping",
					     prefix, name);
				continue;
			}
			if (given[idx]) {
				diag(ld, k, "%s: field \"%s\" given twice",
				     prefix, name);
				continue;
			}
			given[idx] = true;
			plan_value(ld, mp, v, f, &p->sub[idx], what);
		}
	}
	for (int i = 0; i < rec->nfields; i++) {
		if (given[i] || wb_cs_optional(&rec->fields[i]))
			continue;
		char desc[200];
		wb_cs_describe(&rec->fields[i], desc, sizeof(desc));
		diag(ld, at, "%s: missing required field \"%s\" (%s) of %s",
		     prefix, rec->fields[i].name, desc,
		     top ? mp->schema->name : rec->type_name);
	}
	free(given);
}

/* A list of strings, or one string. */
static int get_strings(struct ld *ld, const yaml_node_t *v, const char *key,
		       char ***out, int *n)
{
	if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
		*out = calloc(2, sizeof(char *));
		if (*out == NULL ||
		    ((*out)[0] = xstrdup(ld, scalar(v))) == NULL) {
			ld->nomem = 1;
			return -1;
		}
		*n = 1;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top == v->data.sequence.items.start) {
		diag(ld, v,
		     "%s: expected a table name or glob, or a list of "
		     "them, got %s",
		     key, is_null(v) ? "nothing" : kind_of(v));
		return -1;
	}
	size_t k = (size_t)(v->data.sequence.items.top -
			    v->data.sequence.items.start);
	*out = calloc(k + 1, sizeof(char *));
	if (*out == NULL) {
		ld->nomem = 1;
		return -1;
	}
	for (size_t i = 0; i < k; i++) {
		yaml_node_t *it = node(ld, v->data.sequence.items.start[i]);
		if (it->type != YAML_SCALAR_NODE || is_null(it)) {
			diag(ld, it, "%s[%zu]: expected a table name or glob",
			     key, i);
			continue;
		}
		(*out)[*n] = xstrdup(ld, scalar(it));
		if ((*out)[*n] == NULL)
			return -1;
		(*n)++;
	}
	return 0;
}

static void check_source(struct ld *ld, const yaml_node_t *v, const char *s)
{
	const char *dot = strchr(s, '.');
	if (dot == NULL || dot == s || dot[1] == '\0')
		diag(ld, v,
		     "source: expected schema.table (globs allowed: "
		     "public.stock_*), got \"%s\"",
		     s);
}

static void load_ops(struct ld *ld, const yaml_node_t *v, struct wb_mapping *mp)
{
	static const char valid[] = "cudrt";
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top == v->data.sequence.items.start) {
		diag(ld, v,
		     "ops: expected a list of c (insert), u (update), d "
		     "(delete), r (snapshot read), t (truncate), got %s",
		     kind_of(v));
		return;
	}
	size_t o = 0;
	mp->ops[0] = '\0';
	for (yaml_node_item_t *i = v->data.sequence.items.start;
	     i < v->data.sequence.items.top; i++) {
		yaml_node_t *it = node(ld, *i);
		const char *s = scalar(it);
		if (s == NULL || strlen(s) != 1 ||
		    strchr(valid, s[0]) == NULL) {
			diag(ld, it,
			     "ops: expected c, u, d, r or t, got \"%s\"",
			     s ? s : kind_of(it));
			continue;
		}
		if (strchr(mp->ops, s[0]) != NULL) {
			diag(ld, it, "ops: %s given twice", s);
			continue;
		}
		mp->ops[o++] = s[0];
		mp->ops[o] = '\0';
	}
}

static bool valid_name(const char *s)
{
	if (s[0] == '\0' || strlen(s) > 100)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return true;
}

/* One YAML document: one mapping. Returns 0 (kept), 1 (dropped: errors),
 * -1 out of memory. */
static int load_doc(struct ld *ld, const yaml_node_t *root,
		    struct wb_mapping *mp)
{
	ld->errors = 0;
	mp->line = (int)root->start_mark.line + 1;
	mp->ex_when = mp->ex_corr = mp->ex_occ = -1;
	mp->version = 1;
	snprintf(mp->ops, sizeof(mp->ops), "%s", WB_MAPPING_OPS_DEFAULT);
	if (root->type != YAML_MAPPING_NODE) {
		diag(ld, root,
		     "expected a mapping (keys mapping, source, event, "
		     "correlation_id, fields), got %s",
		     kind_of(root));
		return 1;
	}
	const yaml_node_t *fields = NULL, *fields_key = NULL, *when = NULL,
			  *corr = NULL, *occ = NULL, *event = NULL;
	bool have_source = false;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(ld, p->key);
		yaml_node_t *v = node(ld, p->value);
		const char *key = scalar(k);
		if (key == NULL) {
			diag(ld, k, "expected a key, got %s", kind_of(k));
			continue;
		}
		for (yaml_node_pair_t *q = root->data.mapping.pairs.start;
		     q < p; q++) {
			const char *prev = scalar(node(ld, q->key));
			if (prev != NULL && strcmp(prev, key) == 0)
				diag(ld, k, "%s: given twice", key);
		}
		if (strcmp(key, "mapping") == 0) {
			const char *s = scalar(v);
			if (s == NULL || !valid_name(s)) {
				diag(ld, v,
				     "mapping: expected a name of a-z, 0-9 and "
				     "_ (up to 100), got %s%s%s",
				     s ? "\"" : "", s ? s : kind_of(v),
				     s ? "\"" : "");
				continue;
			}
			free(mp->name);
			mp->name = xstrdup(ld, s);
		} else if (strcmp(key, "version") == 0) {
			const char *s = scalar(v);
			char *end = NULL;
			long ver = s ? strtol(s, &end, 10) : 0;
			if (s == NULL || *s == '\0' || *end != '\0' ||
			    ver < 1 || ver > 1000000)
				diag(ld, v,
				     "version: expected a whole number from 1, "
				     "got %s",
				     s ? s : kind_of(v));
			else
				mp->version = (int)ver;
		} else if (strcmp(key, "description") == 0) {
			/* for people */
		} else if (strcmp(key, "source") == 0) {
			have_source = true;
			mp->source_line = (int)v->start_mark.line + 1;
			mp->source_column = (int)v->start_mark.column + 1;
			if (get_strings(ld, v, "source", &mp->sources,
					&mp->nsources) == 0) {
				for (int i = 0; i < mp->nsources; i++)
					check_source(ld, v, mp->sources[i]);
			}
		} else if (strcmp(key, "ops") == 0) {
			load_ops(ld, v, mp);
		} else if (strcmp(key, "when") == 0) {
			when = v;
		} else if (strcmp(key, "event") == 0) {
			event = v;
		} else if (strcmp(key, "correlation_id") == 0) {
			corr = v;
		} else if (strcmp(key, "occurred_at") == 0) {
			occ = v;
		} else if (strcmp(key, "topic") == 0) {
			const char *s = scalar(v);
			if (s == NULL || is_null(v))
				diag(ld, v, "topic: expected a topic name");
			else
				mp->topic = xstrdup(ld, s);
		} else if (strcmp(key, "on_failure") == 0) {
			const char *s = scalar(v);
			if (s != NULL && strcmp(s, "dead_letter") == 0)
				mp->reject_fallible = false;
			else if (s != NULL && strcmp(s, "reject") == 0)
				mp->reject_fallible = true;
			else
				diag(ld, v,
				     "on_failure: expected dead_letter or "
				     "reject, got %s",
				     s ? s : kind_of(v));
		} else if (strcmp(key, "fields") == 0) {
			fields = v;
			fields_key = k;
		} else {
			char keys[300] = "";
			size_t o = 0;
			for (int i = 0; mapping_keys[i] && o < sizeof(keys);
			     i++)
				o += (size_t)snprintf(
					keys + o, sizeof(keys) - o, "%s%s",
					i ? ", " : "", mapping_keys[i]);
			diag(ld, k, "unknown key \"%s\" (expected one of: %s)",
			     key, keys);
		}
	}
	if (mp->name == NULL)
		diag(ld, root, "missing required key \"mapping\" (its name)");
	if (!have_source)
		diag(ld, root,
		     "missing required key \"source\" (schema.table or a "
		     "list of globs)");
	if (event == NULL) {
		char names[300];
		wb_cs_event_names(ld->cs, names, sizeof(names));
		diag(ld, root, "missing required key \"event\" (one of: %s)",
		     names);
		return 1;
	}
	const char *ev = scalar(event);
	mp->schema = ev ? wb_cs_find(ld->cs, ev) : NULL;
	if (mp->schema == NULL || strcmp(ev, "DeadLetter") == 0) {
		char names[300];
		wb_cs_event_names(ld->cs, names, sizeof(names));
		diag(ld, event, "event: unknown event type %s%s%s (one of: %s)",
		     ev ? "\"" : "", ev ? ev : kind_of(event), ev ? "\"" : "",
		     names);
		mp->schema = NULL;
		return 1;
	}
	const struct wb_cs_node *rec = &mp->schema->root;
	if (when != NULL)
		mp->ex_when = add_expr(ld, mp, when, "when", NULL);
	if (corr == NULL)
		diag(ld, root,
		     "missing required key \"correlation_id\" (an expression: "
		     "the event's key)");
	else
		mp->ex_corr =
			add_expr(ld, mp, corr, "correlation_id",
				 wb_cs_field(rec, "correlation_id", NULL));
	if (occ != NULL)
		mp->ex_occ = add_expr(ld, mp, occ, "occurred_at",
				      wb_cs_field(rec, "occurred_at", NULL));
	if (fields == NULL) {
		diag(ld, root, "missing required key \"fields\"");
	} else if (fields->type != YAML_MAPPING_NODE) {
		diag(ld, fields,
		     "fields: expected a mapping of field: "
		     "expression, got %s",
		     kind_of(fields));
	} else {
		plan_record(ld, mp, fields, fields_key, rec, &mp->root,
			    "fields", true);
	}
	if (ld->nomem)
		return -1;
	return ld->errors ? 1 : 0;
}

static int read_file(const char *path, char **out, size_t *len,
		     struct wb_mapping_diags *diags)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return wb_mapping_diag_add(diags, path, 0, 0, "cannot open: %s",
					   strerror(errno)) != 0
			       ? -1
			       : 1;
	char *buf = malloc(FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	size_t n = fread(buf, 1, FILE_MAX + 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || n > FILE_MAX) {
		free(buf);
		return wb_mapping_diag_add(diags, path, 0, 0, "%s",
					   bad ? "read error"
					       : "larger than 4 MiB") != 0
			       ? -1
			       : 1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int wb_mapping_load_file(const char *path, const struct wb_cs_set *cs,
			 struct wb_mapping **v, int *n, int *cap,
			 struct wb_mapping_diags *diags)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_file(path, &text, &len, diags);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	char hash[17];
	snprintf(hash, sizeof(hash), "%016" PRIx64, wb_avro_crc64(text, len));
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	struct ld ld = {.path = path,
			.text = text,
			.len = len,
			.cs = cs,
			.diags = diags};
	int ndocs = 0;
	bool yaml_error = false;
	rc = 0;
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			yaml_error = true;
			int line = (int)parser.problem_mark.line + 1;
			int col = (int)parser.problem_mark.column + 1;
			if (wb_mapping_diag_add(
				    diags, path, line, col, "YAML: %s%s%s",
				    parser.problem ? parser.problem
						   : "syntax error",
				    parser.context ? " " : "",
				    parser.context ? parser.context : "") != 0)
				rc = -1;
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (root == NULL) {
			yaml_document_delete(&doc);
			break;
		}
		ndocs++;
		ld.doc = &doc;
		if (*n == *cap) {
			int nc = *cap ? *cap * 2 : 8;
			struct wb_mapping *nv =
				realloc(*v, (size_t)nc * sizeof(*nv));
			if (nv == NULL) {
				yaml_document_delete(&doc);
				rc = -1;
				break;
			}
			*v = nv;
			*cap = nc;
		}
		struct wb_mapping *mp = &(*v)[*n];
		memset(mp, 0, sizeof(*mp));
		int r = load_doc(&ld, root, mp);
		yaml_document_delete(&doc);
		if (r == 0) {
			mp->file = strdup(path);
			mp->hash = strdup(hash);
			if (mp->file == NULL || mp->hash == NULL)
				r = -1;
		}
		if (r != 0)
			wb_mapping_clear(mp);
		if (r < 0) {
			rc = -1;
			break;
		}
		if (r == 0)
			(*n)++;
	}
	if (rc == 0 && ndocs == 0 && !yaml_error &&
	    wb_mapping_diag_add(diags, path, 0, 0, "holds no mapping") != 0)
		rc = -1;
	yaml_parser_delete(&parser);
	free(text);
	return rc;
}
