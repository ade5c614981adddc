/* mapping_schema.c — parses the embedded canonical schemas into the tree
 * the mappings fill in (see mapping_schema.h). */
#include "mapping_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"

static void node_free(struct wb_cs_node *n)
{
	if (n == NULL)
		return;
	free(n->name);
	free(n->type_name);
	json_decref(n->def);
	for (int i = 0; i < n->nsymbols; i++)
		free(n->symbols[i]);
	free(n->symbols);
	for (int i = 0; i < n->nfields; i++)
		node_free(&n->fields[i]);
	free(n->fields);
	if (n->items != NULL) {
		node_free(n->items);
		free(n->items);
	}
}

static const char *short_name(const char *full)
{
	const char *dot = strrchr(full, '.');
	return dot ? dot + 1 : full;
}

/* Parses the type t (a field's type, or an array's items) into n. Named
 * types seen before (by short name) are looked up in `named`. */
static int parse_type(json_t *t, struct wb_cs_node *n, json_t *named,
		      const char *where, wb_error_t *err);

static int parse_record(json_t *t, struct wb_cs_node *n, json_t *named,
			const char *where, wb_error_t *err)
{
	json_t *fields = json_object_get(t, "fields");
	if (!json_is_array(fields))
		return wb_error_set(err, WB_ERR_CONFIG,
				    "%s: record without fields", where);
	size_t nf = json_array_size(fields);
	n->fields = calloc(nf ? nf : 1, sizeof(*n->fields));
	if (n->fields == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	n->nfields = (int)nf;
	for (size_t i = 0; i < nf; i++) {
		json_t *f = json_array_get(fields, i);
		const char *fname =
			json_string_value(json_object_get(f, "name"));
		if (fname == NULL)
			return wb_error_set(err, WB_ERR_CONFIG,
					    "%s: field without name", where);
		struct wb_cs_node *c = &n->fields[i];
		c->name = strdup(fname);
		if (c->name == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		char sub[256];
		snprintf(sub, sizeof(sub), "%s.%s", where, fname);
		int rc = parse_type(json_object_get(f, "type"), c, named, sub,
				    err);
		if (rc != 0)
			return rc;
		json_t *d = json_object_get(f, "default");
		if (d != NULL)
			c->def = json_incref(d);
	}
	return 0;
}

static int parse_type(json_t *t, struct wb_cs_node *n, json_t *named,
		      const char *where, wb_error_t *err)
{
	if (json_is_array(t)) {
		if (json_array_size(t) != 2)
			return wb_error_set(err, WB_ERR_CONFIG,
					    "%s: only unions of null and one "
					    "type are supported",
					    where);
		int ni = -1;
		for (int i = 0; i < 2; i++) {
			const char *s =
				json_string_value(json_array_get(t, (size_t)i));
			if (s != NULL && strcmp(s, "null") == 0)
				ni = i;
		}
		if (ni < 0)
			return wb_error_set(err, WB_ERR_CONFIG,
					    "%s: a union without null", where);
		n->nullable = true;
		n->null_index = (uint8_t)ni;
		return parse_type(json_array_get(t, (size_t)(1 - ni)), n, named,
				  where, err);
	}
	if (json_is_string(t)) {
		const char *s = json_string_value(t);
		if (strcmp(s, "boolean") == 0)
			n->kind = WB_CS_BOOL;
		else if (strcmp(s, "int") == 0)
			n->kind = WB_CS_INT;
		else if (strcmp(s, "long") == 0)
			n->kind = WB_CS_LONG;
		else if (strcmp(s, "string") == 0)
			n->kind = WB_CS_STRING;
		else {
			json_t *def = json_object_get(named, short_name(s));
			if (def == NULL)
				return wb_error_set(err, WB_ERR_CONFIG,
						    "%s: unsupported type %s",
						    where, s);
			return parse_type(def, n, named, where, err);
		}
		return 0;
	}
	if (!json_is_object(t))
		return wb_error_set(err, WB_ERR_CONFIG, "%s: bad type", where);
	const char *type = json_string_value(json_object_get(t, "type"));
	const char *logical =
		json_string_value(json_object_get(t, "logicalType"));
	if (type == NULL)
		return wb_error_set(err, WB_ERR_CONFIG, "%s: bad type", where);
	if (strcmp(type, "bytes") == 0 && logical != NULL &&
	    strcmp(logical, "decimal") == 0) {
		json_int_t p =
			json_integer_value(json_object_get(t, "precision"));
		json_int_t sc = json_integer_value(json_object_get(t, "scale"));
		if (p < 1 || p > 38 || sc < 0 || sc > p)
			return wb_error_set(err, WB_ERR_CONFIG,
					    "%s: decimal precision 1-38 and "
					    "scale 0-precision expected",
					    where);
		n->kind = WB_CS_DECIMAL;
		n->precision = (uint8_t)p;
		n->scale = (uint8_t)sc;
		return 0;
	}
	if (strcmp(type, "long") == 0 && logical != NULL &&
	    strcmp(logical, "timestamp-micros") == 0) {
		n->kind = WB_CS_TIMESTAMP;
		return 0;
	}
	if (strcmp(type, "int") == 0 && logical != NULL &&
	    strcmp(logical, "date") == 0) {
		n->kind = WB_CS_DATE;
		return 0;
	}
	if (strcmp(type, "record") == 0 || strcmp(type, "enum") == 0) {
		const char *name =
			json_string_value(json_object_get(t, "name"));
		if (name == NULL)
			return wb_error_set(err, WB_ERR_CONFIG,
					    "%s: named type without name",
					    where);
		n->type_name = strdup(short_name(name));
		if (n->type_name == NULL ||
		    json_object_set(named, short_name(name), t) != 0)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		if (strcmp(type, "record") == 0) {
			n->kind = WB_CS_RECORD;
			return parse_record(t, n, named, where, err);
		}
		n->kind = WB_CS_ENUM;
		json_t *sy = json_object_get(t, "symbols");
		size_t ns = json_array_size(sy);
		n->symbols = calloc(ns ? ns : 1, sizeof(char *));
		if (n->symbols == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		for (size_t i = 0; i < ns; i++) {
			const char *v =
				json_string_value(json_array_get(sy, i));
			n->symbols[i] = strdup(v ? v : "");
			if (n->symbols[i] == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			n->nsymbols = (int)i + 1;
		}
		return 0;
	}
	if (strcmp(type, "array") == 0) {
		n->kind = WB_CS_ARRAY;
		n->items = calloc(1, sizeof(*n->items));
		if (n->items == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return parse_type(json_object_get(t, "items"), n->items, named,
				  where, err);
	}
	if (logical == NULL)
		return parse_type(json_object_get(t, "type"), n, named, where,
				  err);
	return wb_error_set(err, WB_ERR_CONFIG, "%s: unsupported type %s",
			    where, type);
}

int wb_cs_set_load(struct wb_cs_set *s, wb_error_t *err)
{
	memset(s, 0, sizeof(*s));
	int count = 0;
	while (wb_canonical_texts[count].file != NULL)
		count++;
	s->v = calloc((size_t)count + 1, sizeof(*s->v));
	if (s->v == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	int rc = 0;
	for (int i = 0; i < count && rc == 0; i++) {
		const struct wb_canonical_text *t = &wb_canonical_texts[i];
		struct wb_cs_schema *cs = &s->v[i];
		s->n = i + 1;
		json_error_t je;
		json_t *j = json_loadb(t->json, t->len, 0, &je);
		json_t *named = json_object();
		if (j == NULL || named == NULL) {
			json_decref(j);
			json_decref(named);
			return wb_error_set(err, WB_ERR_CONFIG, "schema %s: %s",
					    t->file,
					    j ? "out of memory" : je.text);
		}
		const char *name =
			json_string_value(json_object_get(j, "name"));
		cs->name = strdup(name ? name : t->file);
		cs->version = (int)json_integer_value(
			json_object_get(j, "waybill.schema_version"));
		if (cs->version < 1)
			cs->version = 1;
		cs->schema.json = strndup(t->json, t->len);
		if (cs->name == NULL || cs->schema.json == NULL)
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		if (rc == 0)
			rc = parse_type(j, &cs->root, named, cs->name, err);
		if (rc == 0 && cs->root.kind != WB_CS_RECORD)
			rc = wb_error_set(err, WB_ERR_CONFIG,
					  "schema %s is not a record", t->file);
		if (rc == 0)
			rc = wb_schema_finish(&cs->schema, err);
		json_decref(j);
		json_decref(named);
	}
	if (rc == 0) {
		s->key_schema.json = strdup("\"string\"");
		if (s->key_schema.json == NULL)
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		else
			rc = wb_schema_finish(&s->key_schema, err);
	}
	if (rc != 0)
		wb_cs_set_free(s);
	return rc;
}

void wb_cs_set_free(struct wb_cs_set *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].name);
		node_free(&s->v[i].root);
		wb_schema_free(&s->v[i].schema);
	}
	free(s->v);
	wb_schema_free(&s->key_schema);
	memset(s, 0, sizeof(*s));
}

const struct wb_cs_schema *wb_cs_find(const struct wb_cs_set *s,
				      const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

void wb_cs_event_names(const struct wb_cs_set *s, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < s->n && o < n; i++) {
		if (strcmp(s->v[i].name, "DeadLetter") == 0)
			continue;
		int k = snprintf(buf + o, n - o, "%s%s", o ? ", " : "",
				 s->v[i].name);
		if (k < 0)
			break;
		o += (size_t)k;
	}
}

const struct wb_cs_node *wb_cs_field(const struct wb_cs_node *rec,
				     const char *name, int *index)
{
	for (int i = 0; i < rec->nfields; i++)
		if (strcmp(rec->fields[i].name, name) == 0) {
			if (index != NULL)
				*index = i;
			return &rec->fields[i];
		}
	return NULL;
}

void wb_cs_describe(const struct wb_cs_node *f, char *buf, size_t n)
{
	const char *opt = f->nullable ? "optional " : "";
	switch (f->kind) {
	case WB_CS_BOOL:
		snprintf(buf, n, "%sboolean", opt);
		break;
	case WB_CS_INT:
		snprintf(buf, n, "%sint (32 bits)", opt);
		break;
	case WB_CS_LONG:
		snprintf(buf, n, "%sint", opt);
		break;
	case WB_CS_STRING:
		snprintf(buf, n, "%sstring", opt);
		break;
	case WB_CS_DECIMAL:
		snprintf(buf, n, "%sdecimal(%d,%d)", opt, f->precision,
			 f->scale);
		break;
	case WB_CS_DATE:
		snprintf(buf, n, "%sdate", opt);
		break;
	case WB_CS_TIMESTAMP:
		snprintf(buf, n, "%stimestamp", opt);
		break;
	case WB_CS_ENUM: {
		size_t o = (size_t)snprintf(buf, n, "%sstring, one of ", opt);
		for (int i = 0; i < f->nsymbols && o < n; i++) {
			int k = snprintf(buf + o, n - o, "%s%s", i ? ", " : "",
					 f->symbols[i]);
			if (k < 0)
				break;
			o += (size_t)k;
		}
		break;
	}
	case WB_CS_RECORD:
		snprintf(buf, n, "%srecord %s", opt, f->type_name);
		break;
	case WB_CS_ARRAY:
		if (f->items->kind == WB_CS_RECORD)
			snprintf(buf, n, "%slist of %s", opt,
				 f->items->type_name);
		else
			snprintf(buf, n, "%slist", opt);
		break;
	}
}

size_t wb_cs_decimal_bytes(__int128 v, uint8_t out[16])
{
	/* the significant bits of v's magnitude (of ~v when negative) and
	 * one sign bit, in whole bytes */
	unsigned __int128 m =
		v < 0 ? ~(unsigned __int128)v : (unsigned __int128)v;
	uint64_t hi = (uint64_t)(m >> 64), lo = (uint64_t)m;
	int bits = hi	? 128 - __builtin_clzll(hi)
		   : lo ? 64 - __builtin_clzll(lo)
			: 0;
	size_t len = (size_t)(bits / 8 + 1);
	unsigned __int128 u = (unsigned __int128)v;
	for (size_t i = len; i-- > 0; u >>= 8)
		out[i] = (uint8_t)u;
	return len;
}

static void put_json_default(struct wb_buf *b, const struct wb_cs_node *f,
			     json_t *d)
{
	switch (f->kind) {
	case WB_CS_BOOL:
		wb_avro_put_bool(b, json_is_true(d));
		break;
	case WB_CS_INT:
	case WB_CS_LONG:
	case WB_CS_DATE:
	case WB_CS_TIMESTAMP:
		wb_avro_put_long(b, (int64_t)json_integer_value(d));
		break;
	case WB_CS_STRING:
		wb_avro_put_bytes(b, json_string_value(d),
				  json_string_length(d));
		break;
	case WB_CS_ENUM: {
		const char *s = json_string_value(d);
		int idx = 0;
		for (int i = 0; s != NULL && i < f->nsymbols; i++)
			if (strcmp(f->symbols[i], s) == 0)
				idx = i;
		wb_avro_put_long(b, idx);
		break;
	}
	case WB_CS_DECIMAL:
	case WB_CS_RECORD:
	case WB_CS_ARRAY:
		/* The schemas give these no defaults but [] for arrays. */
		wb_avro_put_long(b, 0);
		break;
	}
}

void wb_cs_put_default(struct wb_buf *b, const struct wb_cs_node *f)
{
	if (f->nullable) {
		/* Avro: a union's default belongs to its first branch. */
		if (f->def == NULL || json_is_null(f->def)) {
			wb_avro_put_long(b, f->null_index);
			return;
		}
		wb_avro_put_long(b, 1 - f->null_index);
	}
	put_json_default(b, f, f->def);
}
