/* mapping_test.c — `waybill mapping test MAPPING.yaml... TESTS.yaml`: runs
 * sample raw changes through mappings offline and compares what comes out
 * with the events and dead letters the test file expects (the format is in
 * mappings/README.md, "Testing a mapping").
 *
 * Tables are declared in the test file with PostgreSQL type names and made
 * into wb_table versions the way the postgres source makes them; values are
 * written as PostgreSQL prints them and parsed by the same code the source
 * uses. Actual events are decoded back from their Avro bytes (the JSON of
 * `waybill cat`) before they are compared, so the comparison sees what a
 * consumer would. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "avro_cat.h"
#include "mapping.h"
#include "mapping_int.h"
#include "ocf.h"
#include "pg_types.h"
#include "valconv.h"

struct ttable {
	char *name; /* schema.table */
	struct wb_table *t;
	bool before_complete;
};

struct emit {
	char *topic;
	struct wb_ocf_writer *w;
};

struct tester {
	const char *path;
	yaml_document_t doc;
	char *system;
	char *prefix;
	int64_t now_us;
	struct ttable *tables;
	int ntables;
	struct wb_mappings *m;
	struct wb_arena arena;
	struct wb_buf diff; /* the current case's differences */
	int ndiff;
	const char *emit_dir;
	struct emit *emits;
	int nemits;
	bool verbose;
};

static yaml_node_t *ynode(struct tester *ts, int id)
{
	return yaml_document_get_node(&ts->doc, id);
}

static const char *yscalar(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE
		       ? (const char *)n->data.scalar.value
		       : NULL;
}

static bool ynull(const yaml_node_t *n)
{
	if (n == NULL)
		return true;
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = yscalar(n);
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

static yaml_node_t *yget(struct tester *ts, const yaml_node_t *map,
			 const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const char *k = yscalar(ynode(ts, p->key));
		if (k != NULL && strcmp(k, key) == 0)
			return ynode(ts, p->value);
	}
	return NULL;
}

__attribute__((format(printf, 3, 4))) static int
bad(struct tester *ts, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n != NULL)
		fprintf(stderr, "waybill: %s:%d:%d: %s\n", ts->path,
			(int)n->start_mark.line + 1,
			(int)n->start_mark.column + 1, msg);
	else
		fprintf(stderr, "waybill: %s: %s\n", ts->path, msg);
	return 2;
}

/* Checks that map has only the given keys. */
static int only_keys(struct tester *ts, const yaml_node_t *map,
		     const char *what, const char *const *keys)
{
	if (map->type != YAML_MAPPING_NODE)
		return bad(ts, map, "%s: expected a mapping", what);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = ynode(ts, p->key);
		const char *k = yscalar(kn);
		bool ok = false;
		for (int i = 0; k != NULL && keys[i] && !ok; i++)
			ok = strcmp(keys[i], k) == 0;
		if (!ok)
			return bad(ts, kn, "%s: unknown key \"%s\"", what,
				   k ? k : "?");
	}
	return 0;
}

/* ---- timestamps ------------------------------------------------------ */

/* Parses "YYYY-MM-DD HH:MM:SS[.f][+hh[:mm]]" (also with T and Z). */
static int parse_ts(const char *s, int64_t *us)
{
	char tmp[80];
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(tmp) - 4)
		return -1;
	memcpy(tmp, s, n + 1);
	if (n > 10 && tmp[10] == 'T')
		tmp[10] = ' ';
	if (tmp[n - 1] == 'Z') {
		memcpy(tmp + n - 1, "+00", 4);
		n += 2;
	}
	struct wb_type t;
	memset(&t, 0, sizeof(t));
	t.s.kind = WB_T_LONG;
	t.s.logical = WB_L_TIMESTAMP_MICROS;
	struct wb_arena a;
	wb_arena_init(&a, 1024);
	struct wb_value v;
	wb_error_t err;
	int rc = wb_pg_text_to_value(&t, tmp, n, &a, &v, &err);
	wb_arena_free(&a);
	if (rc != 0 || v.state != WB_VAL_PRESENT)
		return -1;
	*us = v.u.i;
	return 0;
}

/* ---- tables ------------------------------------------------------------ */

struct type_name {
	const char *name;
	uint32_t oid;
	int args; /* 0 none, 1 (n) allowed, 2 (p,s) allowed */
};

static const struct type_name type_names[] = {
	{"smallint", 21, 0},
	{"int2", 21, 0},
	{"integer", 23, 0},
	{"int", 23, 0},
	{"int4", 23, 0},
	{"bigint", 20, 0},
	{"int8", 20, 0},
	{"numeric", 1700, 2},
	{"decimal", 1700, 2},
	{"real", 700, 0},
	{"float4", 700, 0},
	{"double precision", 701, 0},
	{"float8", 701, 0},
	{"boolean", 16, 0},
	{"bool", 16, 0},
	{"text", 25, 0},
	{"varchar", 1043, 1},
	{"character varying", 1043, 1},
	{"char", 1042, 1},
	{"character", 1042, 1},
	{"bpchar", 1042, 1},
	{"bytea", 17, 0},
	{"date", 1082, 0},
	{"time", 1083, 0},
	{"timestamp with time zone", 1184, 0},
	{"timestamptz", 1184, 0},
	{"timestamp without time zone", 1114, 0},
	{"timestamp", 1114, 0},
	{"uuid", 2950, 0},
	{"jsonb", 3802, 0},
	{"json", 114, 0},
	{NULL, 0, 0},
};

/* "numeric(14,3) key not null" → type, key, nullable. */
static int parse_column(const char *spec, struct wb_type *type, bool *key,
			bool *nullable)
{
	char s[200];
	snprintf(s, sizeof(s), "%s", spec);
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	*key = false;
	*nullable = true;
	char *p;
	while ((p = strstr(s, " not null")) != NULL) {
		memmove(p, p + 9, strlen(p + 9) + 1);
		*nullable = false;
	}
	while ((p = strstr(s, " key")) != NULL &&
	       (p[4] == '\0' || p[4] == ' ')) {
		memmove(p, p + 4, strlen(p + 4) + 1);
		*key = true;
		*nullable = false;
	}
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	for (const struct type_name *tn = type_names; tn->name; tn++) {
		size_t k = strlen(tn->name);
		if (strncmp(s, tn->name, k) != 0)
			continue;
		const char *rest = s + k;
		int32_t typmod = -1;
		if (*rest == '(' && tn->args > 0) {
			int a = 0, b = 0, used = 0;
			if (tn->args == 2 &&
			    sscanf(rest, "(%d,%d)%n", &a, &b, &used) == 2 &&
			    rest[used] == '\0')
				typmod = ((a << 16) | b) + 4;
			else if (sscanf(rest, "(%d)%n", &a, &used) == 1 &&
				 rest[used] == '\0')
				typmod = tn->args == 2 ? (a << 16) + 4 : a + 4;
			else
				continue;
		} else if (*rest != '\0') {
			continue;
		}
		wb_pg_map_type(tn->oid, typmod, NULL, NULL, WB_DECIMAL_STRING,
			       type);
		type->src_type = tn->oid;
		return 0;
	}
	return -1;
}

static int load_tables(struct tester *ts, const yaml_node_t *tables)
{
	static uint64_t next_id = 1;
	if (tables->type != YAML_MAPPING_NODE)
		return bad(ts, tables,
			   "tables: expected a mapping of "
			   "schema.table to its columns");
	size_t k = (size_t)(tables->data.mapping.pairs.top -
			    tables->data.mapping.pairs.start);
	ts->tables = calloc(k + 1, sizeof(*ts->tables));
	if (ts->tables == NULL)
		return bad(ts, NULL, "out of memory");
	for (size_t i = 0; i < k; i++) {
		yaml_node_pair_t *p = &tables->data.mapping.pairs.start[i];
		yaml_node_t *kn = ynode(ts, p->key), *v = ynode(ts, p->value);
		const char *full = yscalar(kn);
		const char *dot = full ? strchr(full, '.') : NULL;
		if (dot == NULL)
			return bad(ts, kn, "tables: expected schema.table");
		static const char *const keys[] = {"columns", "before", NULL};
		int rc = only_keys(ts, v, full, keys);
		if (rc != 0)
			return rc;
		struct ttable *tt = &ts->tables[ts->ntables++];
		tt->name = strdup(full);
		tt->before_complete = true;
		yaml_node_t *bf = yget(ts, v, "before");
		if (bf != NULL) {
			const char *s = yscalar(bf);
			if (s != NULL && strcmp(s, "key") == 0)
				tt->before_complete = false;
			else if (s == NULL || strcmp(s, "full") != 0)
				return bad(ts, bf,
					   "before: expected full or key");
		}
		yaml_node_t *cols = yget(ts, v, "columns");
		if (cols == NULL || cols->type != YAML_MAPPING_NODE)
			return bad(ts, cols ? cols : v,
				   "%s: columns: expected a mapping of column "
				   "name to type (numeric(14,3) key not null)",
				   full);
		int nc = (int)(cols->data.mapping.pairs.top -
			       cols->data.mapping.pairs.start);
		char *schema = strndup(full, (size_t)(dot - full));
		tt->t = schema ? wb_table_new("test", schema, dot + 1, nc)
			       : NULL;
		free(schema);
		if (tt->name == NULL || tt->t == NULL)
			return bad(ts, NULL, "out of memory");
		tt->t->id = next_id++;
		for (int c = 0; c < nc; c++) {
			yaml_node_pair_t *cp =
				&cols->data.mapping.pairs.start[c];
			yaml_node_t *cn = ynode(ts, cp->key);
			yaml_node_t *cv = ynode(ts, cp->value);
			const char *spec = yscalar(cv);
			struct wb_type type;
			bool key, nullable;
			memset(&type, 0, sizeof(type));
			if (yscalar(cn) == NULL || spec == NULL ||
			    parse_column(spec, &type, &key, &nullable) != 0)
				return bad(ts, cv,
					   "%s: expected a PostgreSQL type "
					   "name, optionally followed by key "
					   "and not null",
					   yscalar(cn) ? yscalar(cn)
						       : "column");
			if (wb_table_set_column(tt->t, c, yscalar(cn), &type,
						nullable, key) != 0)
				return bad(ts, NULL, "out of memory");
		}
	}
	return 0;
}

static struct ttable *find_table(struct tester *ts, const char *name)
{
	for (int i = 0; i < ts->ntables; i++)
		if (strcmp(ts->tables[i].name, name) == 0)
			return &ts->tables[i];
	return NULL;
}

/* An image from a YAML mapping of column: value. */
static int load_image(struct tester *ts, const struct wb_table *t,
		      const yaml_node_t *img, const yaml_node_t *unchanged,
		      struct wb_value **out)
{
	*out = NULL;
	if (img == NULL || ynull(img))
		return 0;
	if (img->type != YAML_MAPPING_NODE)
		return bad(ts, img, "expected a mapping of column: value");
	struct wb_value *v =
		wb_arena_alloc(&ts->arena, sizeof(*v) * (size_t)(t->ncols + 1));
	if (v == NULL)
		return bad(ts, NULL, "out of memory");
	memset(v, 0, sizeof(*v) * (size_t)(t->ncols + 1));
	for (yaml_node_pair_t *p = img->data.mapping.pairs.start;
	     p < img->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = ynode(ts, p->key), *vn = ynode(ts, p->value);
		const char *col = yscalar(kn);
		int ci = -1;
		for (int i = 0; col != NULL && i < t->ncols; i++)
			if (strcmp(t->cols[i].name, col) == 0)
				ci = i;
		if (ci < 0)
			return bad(ts, kn, "%s.%s has no column \"%s\"",
				   t->schema, t->name, col ? col : "?");
		if (ynull(vn))
			continue;
		const char *text = yscalar(vn);
		if (text == NULL)
			return bad(ts, vn, "%s: expected a value", col);
		char tmp[128];
		const struct wb_type *ty = &t->cols[ci].type;
		if (ty->s.kind == WB_T_BOOLEAN && !ty->is_array) {
			if (strcmp(text, "true") == 0)
				text = "t";
			else if (strcmp(text, "false") == 0)
				text = "f";
		} else if (ty->s.logical == WB_L_TIMESTAMP_MICROS ||
			   ty->s.logical == WB_L_LOCAL_TIMESTAMP_MICROS) {
			size_t n = strlen(text);
			if (n < sizeof(tmp) - 4) {
				memcpy(tmp, text, n + 1);
				if (n > 10 && tmp[10] == 'T')
					tmp[10] = ' ';
				if (n > 0 && tmp[n - 1] == 'Z')
					memcpy(tmp + n - 1, "+00", 4);
				text = tmp;
			}
		}
		wb_error_t err;
		if (wb_pg_text_to_value(ty, text, strlen(text), &ts->arena,
					&v[ci], &err) != 0)
			return bad(ts, vn, "%s: %s", col, err.message);
	}
	if (unchanged != NULL) {
		if (unchanged->type != YAML_SEQUENCE_NODE)
			return bad(ts, unchanged,
				   "unchanged: expected a list of columns");
		for (yaml_node_item_t *i = unchanged->data.sequence.items.start;
		     i < unchanged->data.sequence.items.top; i++) {
			const char *col = yscalar(ynode(ts, *i));
			int ci = -1;
			for (int c = 0; col != NULL && c < t->ncols; c++)
				if (strcmp(t->cols[c].name, col) == 0)
					ci = c;
			if (ci < 0)
				return bad(ts, ynode(ts, *i),
					   "unchanged: no column \"%s\"",
					   col ? col : "?");
			memset(&v[ci], 0, sizeof(v[ci]));
			v[ci].state = WB_VAL_UNCHANGED;
		}
	}
	*out = v;
	return 0;
}

/* ---- comparison ------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void differ(struct tester *ts,
							 const char *fmt, ...)
{
	char msg[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wb_buf_append(&ts->diff, "    ", 4);
	wb_buf_append(&ts->diff, msg, strlen(msg));
	wb_buf_append(&ts->diff, "\n", 1);
	ts->ndiff++;
}

/* A decimal's text without trailing fraction zeros: "600.5000" → "600.5",
 * "-0.00" → "0". */
static void norm_decimal(const char *s, char *out, size_t n)
{
	snprintf(out, n, "%s", s);
	char *dot = strchr(out, '.');
	if (dot != NULL) {
		size_t k = strlen(out);
		while (k > 0 && out[k - 1] == '0')
			out[--k] = '\0';
		if (k > 0 && out[k - 1] == '.')
			out[--k] = '\0';
	}
	char *d = out[0] == '-' || out[0] == '+' ? out + 1 : out;
	while (d[0] == '0' && d[1] != '\0' && d[1] != '.')
		memmove(d, d + 1, strlen(d));
	if (out[0] == '+')
		memmove(out, out + 1, strlen(out));
	if (strcmp(out, "-0") == 0)
		strcpy(out, "0");
}

static void show_json(const json_t *j, char *buf, size_t n)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(buf, n, "%s", s ? s : "?");
	free(s);
}

static void show_yaml(struct tester *ts, const yaml_node_t *y, char *buf,
		      size_t n)
{
	if (ynull(y))
		snprintf(buf, n, "null");
	else if (y->type == YAML_SCALAR_NODE)
		snprintf(buf, n, "%s", yscalar(y));
	else
		snprintf(buf, n, "%s",
			 y->type == YAML_MAPPING_NODE ? "{...}" : "[...]");
	(void)ts;
}

static void compare(struct tester *ts, const char *what,
		    const struct wb_cs_node *f, const json_t *act,
		    const yaml_node_t *exp);

static void compare_record(struct tester *ts, const char *prefix,
			   const struct wb_cs_node *rec, const json_t *act,
			   const yaml_node_t *exp, int skip)
{
	/* every field the expectation names must exist */
	if (exp != NULL && exp->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *p = exp->data.mapping.pairs.start;
		     p < exp->data.mapping.pairs.top; p++) {
			const char *k = yscalar(ynode(ts, p->key));
			int idx = -1;
			if (k == NULL || wb_cs_field(rec, k, &idx) == NULL ||
			    idx < skip)
				differ(ts,
				       "%s%s: the test names a field %s has "
				       "not",
				       prefix, k ? k : "?",
				       rec->type_name ? rec->type_name
						      : "the event");
		}
	for (int i = skip; i < rec->nfields; i++) {
		const struct wb_cs_node *f = &rec->fields[i];
		char what[300];
		snprintf(what, sizeof(what), "%s%s", prefix, f->name);
		compare(ts, what, f, json_object_get(act, f->name),
			yget(ts, exp, f->name));
	}
}

static void compare(struct tester *ts, const char *what,
		    const struct wb_cs_node *f, const json_t *act,
		    const yaml_node_t *exp)
{
	char a[600], e[600];
	bool exp_null = exp == NULL || ynull(exp);
	if (act == NULL || json_is_null(act)) {
		bool empty_list = exp == NULL && f->kind == WB_CS_ARRAY;
		if (!exp_null && !empty_list) {
			show_yaml(ts, exp, e, sizeof(e));
			differ(ts, "%s: expected %s, got null", what, e);
		}
		return;
	}
	if (exp_null) {
		if (f->kind == WB_CS_ARRAY && exp == NULL &&
		    json_array_size(act) == 0)
			return;
		show_json(act, a, sizeof(a));
		differ(ts, "%s: expected null%s, got %s", what,
		       exp == NULL ? " (not in the test)" : "", a);
		return;
	}
	if (f->kind == WB_CS_RECORD) {
		char prefix[320];
		snprintf(prefix, sizeof(prefix), "%s.", what);
		compare_record(ts, prefix, f, act, exp, 0);
		return;
	}
	if (f->kind == WB_CS_ARRAY) {
		size_t na = json_array_size(act);
		size_t ne = exp->type == YAML_SEQUENCE_NODE
				    ? (size_t)(exp->data.sequence.items.top -
					       exp->data.sequence.items.start)
				    : 0;
		if (exp->type != YAML_SEQUENCE_NODE || na != ne) {
			show_json(act, a, sizeof(a));
			differ(ts, "%s: expected %zu items, got %zu: %s", what,
			       ne, na, a);
			return;
		}
		for (size_t i = 0; i < na; i++) {
			char w[340];
			snprintf(w, sizeof(w), "%s[%zu]", what, i);
			compare(ts, w, f->items, json_array_get(act, i),
				ynode(ts, exp->data.sequence.items.start[i]));
		}
		return;
	}
	const char *es = yscalar(exp);
	if (es == NULL) {
		differ(ts, "%s: the test gives a list or mapping for a %s",
		       what, "scalar field");
		return;
	}
	bool same;
	if (json_is_string(act))
		snprintf(a, sizeof(a), "%s", json_string_value(act));
	else
		show_json(act, a, sizeof(a));
	switch (f->kind) {
	case WB_CS_DECIMAL: {
		char na[600], ne[600];
		norm_decimal(a, na, sizeof(na));
		norm_decimal(es, ne, sizeof(ne));
		same = strcmp(na, ne) == 0;
		break;
	}
	case WB_CS_TIMESTAMP: {
		int64_t ua, ue;
		same = parse_ts(a, &ua) == 0 && parse_ts(es, &ue) == 0 &&
		       ua == ue;
		break;
	}
	default:
		same = strcmp(a, es) == 0;
	}
	if (!same)
		differ(ts, "%s: expected %s, got %s", what, es, a);
}

/* ---- outputs ---------------------------------------------------------- */

static json_t *decode(const struct wb_mapped *o, char *err_text, size_t n)
{
	struct wb_buf b;
	wb_buf_init(&b);
	wb_error_t err;
	json_t *j = NULL;
	if (wb_avro_datum_json(o->schema->json, o->value, o->value_len, &b,
			       &err) != 0) {
		snprintf(err_text, n, "%s", err.message);
	} else {
		json_error_t je;
		j = json_loadb((const char *)b.data, b.len, 0, &je);
		if (j == NULL)
			snprintf(err_text, n, "%s", je.text);
	}
	wb_buf_free(&b);
	return j;
}

static void show_output(struct tester *ts, const struct wb_mapped *o,
			const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	differ(ts, "  %s %s (mapping %s): %s",
	       o->dead_letter ? "dead letter of" : "event", o->event_type,
	       o->mapping->name, s ? s : "?");
	free(s);
}

static void check_scalar(struct tester *ts, const yaml_node_t *exp,
			 const char *key, const char *what, const char *act)
{
	yaml_node_t *n = yget(ts, exp, key);
	if (n == NULL)
		return;
	const char *es = ynull(n) ? NULL : yscalar(n);
	if ((es == NULL) != (act == NULL) ||
	    (es != NULL && strcmp(es, act) != 0))
		differ(ts, "%s%s: expected %s, got %s", what, key,
		       es ? es : "null", act ? act : "null");
}

static void compare_output(struct tester *ts, int idx,
			   const struct wb_mapped *o, const yaml_node_t *exp,
			   bool *showed)
{
	static const char *const ev_keys[] = {
		"event", "mapping",	"correlation_id", "event_id",
		"topic", "occurred_at", "fields",	  NULL,
	};
	static const char *const dl_keys[] = {"dead_letter", "field", "reason",
					      "event_id",    "topic", "change",
					      "event",	     NULL};
	char what[64];
	snprintf(what, sizeof(what), "output %d: ", idx + 1);
	char why[600] = "";
	json_t *j = decode(o, why, sizeof(why));
	if (j == NULL) {
		differ(ts, "%sdoes not decode: %s", what, why);
		return;
	}
	int before = ts->ndiff;
	yaml_node_t *dl = yget(ts, exp, "dead_letter");
	if (dl != NULL) {
		only_keys(ts, exp, "expect", dl_keys);
		if (!o->dead_letter) {
			differ(ts,
			       "%sexpected a dead letter of mapping %s, got an "
			       "event",
			       what, yscalar(dl) ? yscalar(dl) : "?");
		} else {
			check_scalar(ts, exp, "dead_letter", what,
				     o->mapping->name);
			check_scalar(ts, exp, "field", what, o->field);
			check_scalar(ts, exp, "reason", what, o->reason);
			check_scalar(ts, exp, "event_id", what, o->event_id);
			check_scalar(ts, exp, "topic", what, o->topic);
			check_scalar(ts, exp, "event", what, o->event_type);
			check_scalar(ts, exp, "change", what,
				     json_string_value(
					     json_object_get(j, "change")));
			if (yget(ts, exp, "field") == NULL && o->field != NULL)
				differ(ts, "%sfield: expected null, got %s",
				       what, o->field);
		}
	} else {
		only_keys(ts, exp, "expect", ev_keys);
		if (o->dead_letter) {
			differ(ts,
			       "%sexpected an event, got a dead letter: %s: %s",
			       what, o->field ? o->field : "(mapping)",
			       o->reason);
		} else {
			check_scalar(ts, exp, "event", what, o->event_type);
			if (yget(ts, exp, "event") == NULL)
				differ(ts,
				       "%sthe test does not say which "
				       "event (event: %s)",
				       what, o->event_type);
			check_scalar(ts, exp, "mapping", what,
				     o->mapping->name);
			check_scalar(ts, exp, "correlation_id", what,
				     o->correlation_id);
			check_scalar(ts, exp, "event_id", what, o->event_id);
			check_scalar(ts, exp, "topic", what, o->topic);
			yaml_node_t *occ = yget(ts, exp, "occurred_at");
			if (occ != NULL) {
				compare(ts, "output occurred_at",
					wb_cs_field(&wb_cs_find(&ts->m->cs,
								o->event_type)
							     ->root,
						    "occurred_at", NULL),
					json_object_get(j, "occurred_at"), occ);
			}
			const struct wb_cs_schema *cs =
				wb_cs_find(&ts->m->cs, o->event_type);
			/* the header's seven fields are waybill's */
			char prefix[80];
			snprintf(prefix, sizeof(prefix), "%sfields.", what);
			compare_record(ts, prefix, &cs->root, j,
				       yget(ts, exp, "fields"), 7);
		}
	}
	if (ts->ndiff > before && !*showed) {
		show_output(ts, o, j);
		*showed = true;
	}
	json_decref(j);
}

static int emit(struct tester *ts, const struct wb_mapped *o)
{
	struct emit *e = NULL;
	for (int i = 0; i < ts->nemits; i++)
		if (strcmp(ts->emits[i].topic, o->topic) == 0)
			e = &ts->emits[i];
	wb_error_t err;
	if (e == NULL) {
		struct emit *v = realloc(ts->emits,
					 (size_t)(ts->nemits + 1) * sizeof(*v));
		if (v == NULL)
			return bad(ts, NULL, "out of memory");
		ts->emits = v;
		e = &v[ts->nemits];
		memset(e, 0, sizeof(*e));
		e->topic = strdup(o->topic);
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s.avro", ts->emit_dir,
			 o->topic);
		unlink(path);
		e->w = wb_ocf_create(path, o->schema->json, WB_OCF_NULL, 0,
				     1 << 20, &err);
		if (e->topic == NULL || e->w == NULL)
			return bad(ts, NULL, "--emit-avro: %s",
				   e->w ? "out of memory" : err.message);
		ts->nemits++;
	}
	if (wb_ocf_append(e->w, o->value, o->value_len, &err) != 0)
		return bad(ts, NULL, "--emit-avro: %s", err.message);
	return 0;
}

/* ---- cases ------------------------------------------------------------ */

static int run_case(struct tester *ts, int ci, const yaml_node_t *cn,
		    bool *passed)
{
	static const char *const keys[] = {
		"name",	  "op",	   "table",	"position", "commit_ts",
		"before", "after", "unchanged", "expect",   NULL};
	int rc = only_keys(ts, cn, "case", keys);
	if (rc != 0)
		return rc;
	wb_arena_reset(&ts->arena);
	const char *name = yscalar(yget(ts, cn, "name"));
	const char *op = yscalar(yget(ts, cn, "op"));
	const char *tname = yscalar(yget(ts, cn, "table"));
	if (op == NULL || strlen(op) != 1 || strchr("cudrt", op[0]) == NULL)
		return bad(ts, yget(ts, cn, "op") ? yget(ts, cn, "op") : cn,
			   "case %d: op: expected c, u, d, r or t", ci + 1);
	struct ttable *tt = tname ? find_table(ts, tname) : NULL;
	if (tt == NULL)
		return bad(ts,
			   yget(ts, cn, "table") ? yget(ts, cn, "table") : cn,
			   "case %d: table: expected one of the tables "
			   "declared under tables:",
			   ci + 1);
	struct wb_change c;
	memset(&c, 0, sizeof(c));
	c.op = (uint8_t)op[0];
	c.table = tt->t;
	c.commit_ts_us = ts->now_us;
	yaml_node_t *cts = yget(ts, cn, "commit_ts");
	if (cts != NULL && (yscalar(cts) == NULL ||
			    parse_ts(yscalar(cts), &c.commit_ts_us) != 0))
		return bad(ts, cts,
			   "commit_ts: expected a timestamp with zone "
			   "(2024-03-05 10:42:00+01)");
	rc = load_image(ts, tt->t, yget(ts, cn, "before"), NULL, &c.before);
	if (rc == 0)
		rc = load_image(ts, tt->t, yget(ts, cn, "after"),
				yget(ts, cn, "unchanged"), &c.after);
	if (rc != 0)
		return rc;
	char position[64];
	const char *pos = yscalar(yget(ts, cn, "position"));
	if (pos == NULL) {
		snprintf(position, sizeof(position), "%d", ci + 1);
		pos = position;
	}
	char raw_id[300];
	snprintf(raw_id, sizeof(raw_id), "%s:%s", ts->system, pos);
	const struct wb_mapped *out;
	int nout;
	wb_error_t err;
	if (wb_mappings_apply(ts->m, &c, pos, raw_id, ts->now_us, &out, &nout,
			      &err) != 0)
		return bad(ts, NULL, "%s", err.message);
	wb_buf_reset(&ts->diff);
	ts->diff.failed = 0;
	ts->ndiff = 0;
	yaml_node_t *exp = yget(ts, cn, "expect");
	if (exp == NULL || (exp->type != YAML_SEQUENCE_NODE && !ynull(exp)))
		return bad(ts, exp ? exp : cn,
			   "case %d: expect: expected a list of events and "
			   "dead letters ([] for none)",
			   ci + 1);
	int ne = ynull(exp) ? 0
			    : (int)(exp->data.sequence.items.top -
				    exp->data.sequence.items.start);
	for (int i = 0; i < nout || i < ne; i++) {
		bool showed = false;
		if (ts->emit_dir != NULL && i < nout &&
		    (rc = emit(ts, &out[i])) != 0)
			return rc;
		if (i >= ne) {
			char why[600] = "";
			json_t *j = decode(&out[i], why, sizeof(why));
			differ(ts, "output %d: not expected:", i + 1);
			show_output(ts, &out[i], j);
			json_decref(j);
			continue;
		}
		yaml_node_t *e = ynode(ts, exp->data.sequence.items.start[i]);
		if (i >= nout) {
			const char *ev = yscalar(yget(ts, e, "event"));
			const char *dl = yscalar(yget(ts, e, "dead_letter"));
			differ(ts, "output %d: expected %s%s, got nothing",
			       i + 1, dl ? "a dead letter of " : "event ",
			       dl   ? dl
			       : ev ? ev
				    : "?");
			continue;
		}
		compare_output(ts, i, &out[i], e, &showed);
	}
	*passed = ts->ndiff == 0;
	if (ts->diff.failed)
		return bad(ts, NULL, "out of memory");
	if (*passed) {
		if (ts->verbose)
			printf("ok %d - %s\n", ci + 1, name ? name : "");
	} else {
		printf("FAIL %d - %s (%s:%d)\n", ci + 1, name ? name : "",
		       ts->path, (int)cn->start_mark.line + 1);
		fwrite(ts->diff.data, 1, ts->diff.len, stdout);
	}
	return 0;
}

static const char usage_text[] =
	"usage: waybill mapping test [--emit-avro DIR] [-v] MAPPING.yaml... "
	"TESTS.yaml\n"
	"  runs the test file's sample changes through the mappings and "
	"compares\n"
	"  the events and dead letters with the expected ones (see "
	"mappings/README.md)\n";

static int cmd_test(int argc, char **argv)
{
	struct tester ts;
	memset(&ts, 0, sizeof(ts));
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--emit-avro") == 0 && i + 1 < argc) {
			ts.emit_dir = argv[++i];
		} else if (strcmp(argv[i], "-v") == 0) {
			ts.verbose = true;
		} else {
			fprintf(stderr,
				"waybill: mapping test: unknown option "
				"%s\n%s",
				argv[i], usage_text);
			return 2;
		}
	}
	if (argc - i < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	ts.path = argv[argc - 1];
	wb_arena_init(&ts.arena, 64 << 10);
	wb_buf_init(&ts.diff);
	int rc = 0, failed = 0, ncases = 0;
	struct wb_mapping_diags diags = {0};
	FILE *f = fopen(ts.path, "rb");
	if (f == NULL) {
		fprintf(stderr, "waybill: %s: %s\n", ts.path, strerror(errno));
		return 2;
	}
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &ts.doc)) {
		fprintf(stderr, "waybill: %s:%d:%d: YAML: %s\n", ts.path,
			(int)parser.problem_mark.line + 1,
			(int)parser.problem_mark.column + 1,
			parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		fclose(f);
		return 2;
	}
	yaml_parser_delete(&parser);
	fclose(f);
	yaml_node_t *root = yaml_document_get_root_node(&ts.doc);
	static const char *const top[] = {"pipeline", "topic_prefix", "now",
					  "tables",   "cases",	      NULL};
	if (root == NULL) {
		rc = bad(&ts, NULL, "empty test file");
		goto done;
	}
	if ((rc = only_keys(&ts, root, "test file", top)) != 0)
		goto done;
	const char *sys = yscalar(yget(&ts, root, "pipeline"));
	ts.system = strdup(sys ? sys : "test");
	const char *pre = yscalar(yget(&ts, root, "topic_prefix"));
	ts.prefix = strdup(pre ? pre : ts.system ? ts.system : "test");
	const char *now = yscalar(yget(&ts, root, "now"));
	ts.now_us = INT64_C(1704067200000000); /* 2024-01-01 00:00:00Z */
	if (now != NULL && parse_ts(now, &ts.now_us) != 0) {
		rc = bad(&ts, yget(&ts, root, "now"),
			 "now: expected a timestamp with zone");
		goto done;
	}
	yaml_node_t *tables = yget(&ts, root, "tables");
	if (tables == NULL) {
		rc = bad(&ts, root,
			 "missing key tables (the source tables' "
			 "columns)");
		goto done;
	}
	if ((rc = load_tables(&ts, tables)) != 0)
		goto done;
	struct wb_mapping_options opt = {.system = ts.system,
					 .topic_prefix = ts.prefix};
	wb_error_t err;
	ts.m = wb_mappings_load((const char *const *)argv + i, argc - 1 - i,
				&opt, &diags, &err);
	if (ts.m == NULL) {
		wb_mapping_diags_print(&diags, stderr);
		fprintf(stderr, "waybill: %s\n", err.message);
		rc = 2;
		goto done;
	}
	struct wb_mapping_table *mt =
		calloc((size_t)ts.ntables + 1, sizeof(*mt));
	if (mt == NULL) {
		rc = bad(&ts, NULL, "out of memory");
		goto done;
	}
	for (int k = 0; k < ts.ntables; k++) {
		mt[k].table = ts.tables[k].t;
		mt[k].before_complete = ts.tables[k].before_complete;
		mt[k].before_fix = NULL;
	}
	int problems = wb_mappings_check(ts.m, mt, ts.ntables, &diags, &err);
	free(mt);
	if (problems != 0) {
		wb_mapping_diags_print(&diags, stderr);
		if (problems < 0)
			fprintf(stderr, "waybill: %s\n", err.message);
		rc = 2;
		goto done;
	}
	yaml_node_t *cases = yget(&ts, root, "cases");
	if (cases == NULL || cases->type != YAML_SEQUENCE_NODE) {
		rc = bad(&ts, cases ? cases : root,
			 "cases: expected a list of changes with what they "
			 "produce");
		goto done;
	}
	for (yaml_node_item_t *it = cases->data.sequence.items.start;
	     it < cases->data.sequence.items.top; it++) {
		bool passed = false;
		rc = run_case(&ts, ncases, ynode(&ts, *it), &passed);
		if (rc != 0)
			goto done;
		ncases++;
		if (!passed)
			failed++;
	}
	printf("%s: %d case%s, %d failed\n", ts.path, ncases,
	       ncases == 1 ? "" : "s", failed);
	rc = failed ? 1 : 0;
done:
	for (int k = 0; k < ts.nemits; k++) {
		wb_error_t e2;
		if (wb_ocf_close(ts.emits[k].w, &e2) != 0 && rc == 0)
			rc = bad(&ts, NULL, "--emit-avro: %s", e2.message);
		free(ts.emits[k].topic);
	}
	free(ts.emits);
	wb_mappings_free(ts.m);
	wb_mapping_diags_free(&diags);
	for (int k = 0; k < ts.ntables; k++) {
		wb_table_unref(ts.tables[k].t);
		free(ts.tables[k].name);
	}
	free(ts.tables);
	free(ts.system);
	free(ts.prefix);
	wb_arena_free(&ts.arena);
	wb_buf_free(&ts.diff);
	if (root != NULL || ts.doc.nodes.start != NULL)
		yaml_document_delete(&ts.doc);
	return rc;
}

int wb_mapping_cli(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return cmd_test(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "preview") == 0)
		return wb_mapping_preview(argc - 1, argv + 1);
	fputs(usage_text, stderr);
	fputs("usage: waybill mapping preview -c PIPELINE.yaml [--limit N]\n",
	      stderr);
	return 2;
}
