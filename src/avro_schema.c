/* avro_schema.c — Avro schemas of table events, Parsing Canonical Form,
 * CRC-64-AVRO. */
#include "avro_schema.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"

/* ---- names ---------------------------------------------------------- */

static int is_name_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(unsigned char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

char *wb_avro_sanitize_name(const char *name)
{
	if (name == NULL)
		name = "";
	size_t n = strlen(name);
	/* One '_' per code point at most, plus a prefix and the NUL. */
	char *out = malloc(n + 2);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	if (name[0] >= '0' && name[0] <= '9')
		out[o++] = '_';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (is_name_char(c)) {
			out[o++] = (char)c;
			continue;
		}
		/* A multi-byte UTF-8 character becomes a single '_', so
		 * "naïve" reads "na_ve" rather than "na__ve". */
		out[o++] = '_';
		if (c >= 0xC0)
			while (i + 1 < n &&
			       ((unsigned char)name[i + 1] & 0xC0) == 0x80)
				i++;
	}
	if (o == 0)
		out[o++] = '_';
	out[o] = '\0';
	return out;
}

/* A dotted name (a namespace): each component sanitised on its own, so that
 * "acme.wms1" stays a two-level namespace. */
static char *sanitize_dotted(const char *name)
{
	struct wb_buf b;
	wb_buf_init(&b);
	const char *p = name ? name : "";
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char *part = strndup(p, n);
		char *s = part ? wb_avro_sanitize_name(part) : NULL;
		free(part);
		if (s == NULL) {
			wb_buf_free(&b);
			return NULL;
		}
		if (b.len > 0)
			wb_buf_append(&b, ".", 1);
		wb_buf_append(&b, s, strlen(s));
		free(s);
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	wb_buf_append(&b, "", 1);
	if (b.failed) {
		wb_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

/* ---- CRC-64-AVRO ---------------------------------------------------- */

#define WB_CRC64_EMPTY 0xc15d213aa4d7a795ULL

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init(void)
{
	for (int i = 0; i < 256; i++) {
		uint64_t fp = (uint64_t)i;
		for (int j = 0; j < 8; j++)
			fp = (fp >> 1) ^ (WB_CRC64_EMPTY & -(fp & 1));
		crc64_table[i] = fp;
	}
}

uint64_t wb_avro_crc64(const void *p, size_t n)
{
	pthread_once(&crc64_once, crc64_init);
	const uint8_t *b = p;
	uint64_t fp = WB_CRC64_EMPTY;
	for (size_t i = 0; i < n; i++)
		fp = (fp >> 8) ^ crc64_table[(fp ^ b[i]) & 0xff];
	return fp;
}

/* ---- Parsing Canonical Form ----------------------------------------- */

struct canon {
	struct wb_buf out;
	char **defined; /* full names of named types already written */
	size_t ndefined;
	size_t capdefined;
	wb_error_t *err;
};

static const char *const primitives[] = {
	"null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

static int is_primitive(const char *s)
{
	for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
		if (strcmp(s, primitives[i]) == 0)
			return 1;
	return 0;
}

/* STRINGS: literal UTF-8, only what JSON requires escaped. */
static void put_json_string(struct wb_buf *b, const char *s)
{
	wb_buf_append(b, "\"", 1);
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			wb_buf_append(b, e, 2);
		} else if (c < 0x20) {
			char e[8];
			snprintf(e, sizeof(e), "\\u%04x", c);
			wb_buf_append(b, e, 6);
		} else {
			wb_buf_append(b, p, 1);
		}
	}
	wb_buf_append(b, "\"", 1);
}

static void put_lit(struct wb_buf *b, const char *s)
{
	wb_buf_append(b, s, strlen(s));
}

/* Full name of a name in an enclosing namespace (specification, "Names"). */
static char *full_name(const char *name, const char *ns)
{
	if (strchr(name, '.') != NULL || ns == NULL || ns[0] == '\0')
		return strdup(name);
	size_t n = strlen(ns) + 1 + strlen(name) + 1;
	char *f = malloc(n);
	if (f)
		snprintf(f, n, "%s.%s", ns, name);
	return f;
}

static int is_defined(const struct canon *c, const char *fn)
{
	for (size_t i = 0; i < c->ndefined; i++)
		if (strcmp(c->defined[i], fn) == 0)
			return 1;
	return 0;
}

static int add_defined(struct canon *c, char *fn)
{
	if (c->ndefined == c->capdefined) {
		size_t cap = c->capdefined ? c->capdefined * 2 : 16;
		char **d = realloc(c->defined, cap * sizeof(*d));
		if (d == NULL)
			return wb_error_set(c->err, WB_ERR_NOMEM,
					    "out of memory");
		c->defined = d;
		c->capdefined = cap;
	}
	c->defined[c->ndefined++] = fn;
	return WB_OK;
}

static int canon_node(struct canon *c, json_t *node, const char *ns);

static int canon_named(struct canon *c, json_t *node, const char *type,
		       const char *ns)
{
	json_t *jname = json_object_get(node, "name");
	if (!json_is_string(jname))
		return wb_error_set(c->err, WB_ERR_CONFIG,
				    "schema: %s without a name", type);
	const char *name = json_string_value(jname);
	const char *own_ns = ns;
	json_t *jns = json_object_get(node, "namespace");
	if (json_is_string(jns))
		own_ns = json_string_value(jns);
	char *fn = full_name(name, own_ns);
	if (fn == NULL)
		return wb_error_set(c->err, WB_ERR_NOMEM, "out of memory");
	if (is_defined(c, fn)) {
		put_json_string(&c->out, fn);
		free(fn);
		return WB_OK;
	}
	if (add_defined(c, fn) != WB_OK) {
		free(fn);
		return c->err ? c->err->code : WB_ERR_NOMEM;
	}
	put_lit(&c->out, "{\"name\":");
	put_json_string(&c->out, fn);
	put_lit(&c->out, ",\"type\":");
	put_json_string(&c->out, type);

	if (strcmp(type, "enum") == 0) {
		json_t *syms = json_object_get(node, "symbols");
		if (!json_is_array(syms))
			return wb_error_set(c->err, WB_ERR_CONFIG,
					    "schema: enum %s without symbols",
					    fn);
		put_lit(&c->out, ",\"symbols\":[");
		for (size_t i = 0; i < json_array_size(syms); i++) {
			json_t *s = json_array_get(syms, i);
			if (!json_is_string(s))
				return wb_error_set(c->err, WB_ERR_CONFIG,
						    "schema: enum %s: symbol "
						    "is not a string",
						    fn);
			if (i > 0)
				put_lit(&c->out, ",");
			put_json_string(&c->out, json_string_value(s));
		}
		put_lit(&c->out, "]}");
		return WB_OK;
	}
	if (strcmp(type, "fixed") == 0) {
		json_t *size = json_object_get(node, "size");
		if (!json_is_integer(size))
			return wb_error_set(c->err, WB_ERR_CONFIG,
					    "schema: fixed %s without a size",
					    fn);
		char num[32];
		snprintf(num, sizeof(num), ",\"size\":%" PRId64 "}",
			 (int64_t)json_integer_value(size));
		put_lit(&c->out, num);
		return WB_OK;
	}

	/* record or error: fields resolve names in the record's namespace. */
	json_t *fields = json_object_get(node, "fields");
	if (!json_is_array(fields))
		return wb_error_set(c->err, WB_ERR_CONFIG,
				    "schema: record %s without fields", fn);
	const char *dot = strrchr(fn, '.');
	char *inner_ns = dot ? strndup(fn, (size_t)(dot - fn)) : strdup("");
	if (inner_ns == NULL)
		return wb_error_set(c->err, WB_ERR_NOMEM, "out of memory");
	int rc = WB_OK;
	put_lit(&c->out, ",\"fields\":[");
	for (size_t i = 0; i < json_array_size(fields); i++) {
		json_t *f = json_array_get(fields, i);
		json_t *fname = json_object_get(f, "name");
		json_t *ftype = json_object_get(f, "type");
		if (!json_is_string(fname) || ftype == NULL) {
			rc = wb_error_set(c->err, WB_ERR_CONFIG,
					  "schema: record %s: field %zu needs "
					  "a name and a type",
					  fn, i);
			goto done;
		}
		if (i > 0)
			put_lit(&c->out, ",");
		put_lit(&c->out, "{\"name\":");
		put_json_string(&c->out, json_string_value(fname));
		put_lit(&c->out, ",\"type\":");
		rc = canon_node(c, ftype, inner_ns);
		if (rc != WB_OK)
			goto done;
		put_lit(&c->out, "}");
	}
	put_lit(&c->out, "]}");
done:
	free(inner_ns);
	return rc;
}

static int canon_node(struct canon *c, json_t *node, const char *ns)
{
	if (json_is_string(node)) {
		const char *s = json_string_value(node);
		if (is_primitive(s)) {
			put_json_string(&c->out, s);
			return WB_OK;
		}
		char *fn = full_name(s, ns);
		if (fn == NULL)
			return wb_error_set(c->err, WB_ERR_NOMEM,
					    "out of memory");
		put_json_string(&c->out, fn);
		free(fn);
		return WB_OK;
	}
	if (json_is_array(node)) {
		put_lit(&c->out, "[");
		for (size_t i = 0; i < json_array_size(node); i++) {
			if (i > 0)
				put_lit(&c->out, ",");
			int rc = canon_node(c, json_array_get(node, i), ns);
			if (rc != WB_OK)
				return rc;
		}
		put_lit(&c->out, "]");
		return WB_OK;
	}
	if (!json_is_object(node))
		return wb_error_set(c->err, WB_ERR_CONFIG,
				    "schema: expected a string, array or "
				    "object");
	json_t *type = json_object_get(node, "type");
	if (type == NULL)
		return wb_error_set(c->err, WB_ERR_CONFIG,
				    "schema: object without \"type\"");
	if (!json_is_string(type))
		return canon_node(c, type, ns);
	const char *t = json_string_value(type);
	if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0 ||
	    strcmp(t, "enum") == 0 || strcmp(t, "fixed") == 0)
		return canon_named(c, node, t, ns);
	if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
		const char *key = t[0] == 'a' ? "items" : "values";
		json_t *sub = json_object_get(node, key);
		if (sub == NULL)
			return wb_error_set(c->err, WB_ERR_CONFIG,
					    "schema: %s without \"%s\"", t,
					    key);
		put_lit(&c->out, "{\"type\":");
		put_json_string(&c->out, t);
		put_lit(&c->out, ",\"");
		put_lit(&c->out, key);
		put_lit(&c->out, "\":");
		int rc = canon_node(c, sub, ns);
		if (rc != WB_OK)
			return rc;
		put_lit(&c->out, "}");
		return WB_OK;
	}
	/* A primitive (or a reference) in object form: STRIP drops every
	 * other attribute, logicalType included, and PRIMITIVES leaves the
	 * bare name. */
	return canon_node(c, type, ns);
}

char *wb_avro_canonical_form(const char *schema_json, wb_error_t *err)
{
	struct canon c = {.err = err};
	wb_buf_init(&c.out);
	char *result = NULL;
	json_error_t jerr;
	json_t *root = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		wb_error_set(err, WB_ERR_CONFIG,
			     "schema: invalid JSON at line %d column %d: %s",
			     jerr.line, jerr.column, jerr.text);
		goto cleanup;
	}
	if (canon_node(&c, root, "") != WB_OK)
		goto cleanup;
	wb_buf_append(&c.out, "", 1);
	if (c.out.failed) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	result = (char *)c.out.data;
	wb_buf_init(&c.out);
cleanup:
	wb_buf_free(&c.out);
	for (size_t i = 0; i < c.ndefined; i++)
		free(c.defined[i]);
	free(c.defined);
	json_decref(root);
	return result;
}

int wb_schema_finish(struct wb_schema *s, wb_error_t *err)
{
	free(s->canonical);
	s->canonical = wb_avro_canonical_form(s->json, err);
	if (s->canonical == NULL)
		return err ? err->code : WB_ERR_RUNTIME;
	s->fingerprint = wb_avro_crc64(s->canonical, strlen(s->canonical));
	s->identity = wb_avro_crc64(s->json, strlen(s->json));
	return WB_OK;
}

void wb_schema_free(struct wb_schema *s)
{
	if (s == NULL)
		return;
	free(s->json);
	free(s->canonical);
	free(s->full_name);
	memset(s, 0, sizeof(*s));
}

/* ---- table schemas -------------------------------------------------- */

/* Builders return new references; NULL only when out of memory or when a
 * string is not valid UTF-8 (jansson refuses those). set_new steals. */

static json_t *type_obj(const char *base, const char *logical)
{
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "type", json_string(base)) != 0 ||
	    json_object_set_new(o, "logicalType", json_string(logical)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Kinds whose binary encodings agree (zigzag longs, length-prefixed bytes),
 * so a source may use either one with a logical type. */
static int kind_fits(int kind, int base)
{
	if (kind == base)
		return 1;
	if ((kind == WB_T_INT || kind == WB_T_LONG) &&
	    (base == WB_T_INT || base == WB_T_LONG))
		return 1;
	if ((kind == WB_T_STRING || kind == WB_T_BYTES) &&
	    (base == WB_T_STRING || base == WB_T_BYTES))
		return 1;
	return 0;
}

static json_t *scalar_json(const struct wb_scalar_type *s, const char *col,
			   wb_error_t *err)
{
	static const char *const kinds[] = {
		[WB_T_BOOLEAN] = "boolean", [WB_T_INT] = "int",
		[WB_T_LONG] = "long",	    [WB_T_FLOAT] = "float",
		[WB_T_DOUBLE] = "double",   [WB_T_STRING] = "string",
		[WB_T_BYTES] = "bytes",
	};
	int base = -1;
	json_t *j = NULL;
	switch (s->logical) {
	case WB_L_NONE:
		if (s->kind > WB_T_BYTES) {
			wb_error_set(err, WB_ERR_TYPE,
				     "column %s: kind %d is not a scalar", col,
				     s->kind);
			return NULL;
		}
		j = json_string(kinds[s->kind]);
		base = s->kind;
		break;
	case WB_L_DECIMAL:
		if (s->precision < 1 || s->scale < 0 ||
		    s->scale > s->precision) {
			wb_error_set(err, WB_ERR_TYPE,
				     "column %s: decimal(%d,%d) is not a valid "
				     "Avro decimal",
				     col, s->precision, s->scale);
			return NULL;
		}
		j = type_obj("bytes", "decimal");
		if (j &&
		    (json_object_set_new(j, "precision",
					 json_integer(s->precision)) ||
		     json_object_set_new(j, "scale", json_integer(s->scale)))) {
			json_decref(j);
			j = NULL;
		}
		base = WB_T_BYTES;
		break;
	case WB_L_DATE:
		j = type_obj("int", "date");
		base = WB_T_INT;
		break;
	case WB_L_TIME_MICROS:
		j = type_obj("long", "time-micros");
		base = WB_T_LONG;
		break;
	case WB_L_TIMESTAMP_MICROS:
		j = type_obj("long", "timestamp-micros");
		base = WB_T_LONG;
		break;
	case WB_L_LOCAL_TIMESTAMP_MICROS:
		j = type_obj("long", "local-timestamp-micros");
		base = WB_T_LONG;
		break;
	case WB_L_UUID:
		j = type_obj("string", "uuid");
		base = WB_T_STRING;
		break;
	case WB_L_JSON:
		j = json_object();
		if (j &&
		    (json_object_set_new(j, "type", json_string("string")) ||
		     json_object_set_new(j, "waybill.type",
					 json_string("json")))) {
			json_decref(j);
			j = NULL;
		}
		base = WB_T_STRING;
		break;
	default:
		wb_error_set(err, WB_ERR_TYPE,
			     "column %s: unknown logical type %d", col,
			     s->logical);
		return NULL;
	}
	if (j == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (!kind_fits(s->kind, base)) {
		json_decref(j);
		wb_error_set(err, WB_ERR_TYPE,
			     "column %s: logical type %d does not fit kind %d",
			     col, s->logical, s->kind);
		return NULL;
	}
	return j;
}

/* ["null", t]; consumes t. */
static json_t *nullable(json_t *t)
{
	if (t == NULL)
		return NULL;
	json_t *u = json_array();
	if (u == NULL) {
		json_decref(t);
		return NULL;
	}
	if (json_array_append_new(u, json_string("null")) != 0) {
		json_decref(t);
		json_decref(u);
		return NULL;
	}
	if (json_array_append_new(u, t) != 0) {
		json_decref(u);
		return NULL;
	}
	return u;
}

/* {"type":"array","items":items}; consumes items. */
static json_t *array_of(json_t *items)
{
	json_t *a = items ? json_object() : NULL;
	if (a == NULL || json_object_set_new(a, "type", json_string("array")) ||
	    json_object_set_new(a, "items", json_incref(items))) {
		json_decref(a);
		a = NULL;
	}
	json_decref(items);
	return a;
}

/* A column's field type. Rows: the value type, in a union with null when
 * the column is nullable or its type may not fit (an unrepresentable value
 * is written as null). Keys: the value type, with null when the column is
 * nullable, and where the type may not fit a "string" branch last, which
 * holds an unrepresentable value's text, so that two rows whose keys have
 * no Avro form keep different keys. Arrays nest wb_type_ndims levels, the
 * innermost items a union with null. */
static json_t *column_type_json(const struct wb_column *col, int key,
				wb_error_t *err)
{
	json_t *t = scalar_json(&col->type.s, col->name, err);
	if (t == NULL)
		return NULL;
	if (col->type.is_array) {
		t = array_of(nullable(t));
		for (int d = 1; t && d < wb_type_ndims(&col->type); d++)
			t = array_of(t);
	}
	if (t && !key && wb_type_avro_nullable(&col->type, col->nullable))
		t = nullable(t);
	if (t && key && col->nullable)
		t = nullable(t);
	if (t && key && col->type.may_not_fit) {
		if (!json_is_array(t)) {
			json_t *u = json_array();
			if (u == NULL || json_array_append_new(u, t) != 0) {
				json_decref(u);
				u = NULL;
			}
			t = u;
		}
		if (t && json_array_append_new(t, json_string("string")) != 0) {
			json_decref(t);
			t = NULL;
		}
	}
	if (t == NULL)
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return t;
}

static json_t *str_or_fail(const char *s, const char *what, wb_error_t *err)
{
	json_t *j = json_string(s);
	if (j == NULL)
		wb_error_set(err, WB_ERR_TYPE, "%s is not valid UTF-8", what);
	return j;
}

/* {"name":..., ["waybill.name":...,] "type":..., ["default":null]};
 * consumes type. */
static json_t *field_json(const char *name, const char *original, json_t *type,
			  int with_default, wb_error_t *err)
{
	json_t *f = json_object();
	if (f == NULL || type == NULL)
		goto fail;
	if (json_object_set_new(f, "name", json_string(name)) != 0)
		goto fail;
	if (original && strcmp(original, name) != 0) {
		json_t *o = str_or_fail(original, "a column name", err);
		if (o == NULL) {
			json_decref(type);
			json_decref(f);
			return NULL;
		}
		if (json_object_set_new(f, "waybill.name", o) != 0)
			goto fail;
	}
	json_t *ty = type;
	type = NULL; /* set_new consumes it, also when it fails */
	if (json_object_set_new(f, "type", ty) != 0)
		goto fail;
	if (with_default && json_object_set_new(f, "default", json_null()) != 0)
		goto fail;
	return f;
fail:
	wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	json_decref(type);
	json_decref(f);
	return NULL;
}

/* {"type":"map","values":values}; consumes values. */
static json_t *map_of(json_t *values)
{
	json_t *m = values ? json_object() : NULL;
	if (m == NULL || json_object_set_new(m, "type", json_string("map")) ||
	    json_object_set_new(m, "values", json_incref(values))) {
		json_decref(m);
		m = NULL;
	}
	json_decref(values);
	return m;
}

/* Gives field f the default dflt; consumes both; NULL when either is. */
static json_t *with_value(json_t *f, json_t *dflt)
{
	if (f == NULL || dflt == NULL ||
	    json_object_set_new(f, "default", json_incref(dflt)) != 0) {
		json_decref(f);
		f = NULL;
	}
	json_decref(dflt);
	return f;
}

/* {"type":"record","name":...,"namespace":...,["waybill.name":...,]
 * "fields":...}; consumes fields (which stays valid while the record
 * lives). */
static json_t *record_json(const char *name, const char *ns, json_t *original,
			   json_t *fields)
{
	json_t *r = json_object();
	if (r == NULL || fields == NULL ||
	    json_object_set_new(r, "type", json_string("record")) ||
	    json_object_set_new(r, "name", json_string(name)) ||
	    json_object_set_new(r, "namespace", json_string(ns))) {
		json_decref(r);
		json_decref(fields);
		json_decref(original);
		return NULL;
	}
	if (original && json_object_set_new(r, "waybill.name", original)) {
		json_decref(r);
		json_decref(fields);
		return NULL;
	}
	if (json_object_set_new(r, "fields", fields) != 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* Appends the fields of the columns that pass `keys_only`. */
static int add_column_fields(const struct wb_table *t, char **names,
			     int keys_only, json_t *fields, wb_error_t *err)
{
	for (int i = 0; i < t->ncols; i++) {
		const struct wb_column *col = &t->cols[i];
		if (keys_only && !col->key)
			continue;
		json_t *type = column_type_json(col, keys_only, err);
		if (type == NULL)
			return err ? err->code : WB_ERR_TYPE;
		/* a union whose first branch is null defaults to null */
		int with_default =
			json_is_array(type) &&
			json_is_string(json_array_get(type, 0)) &&
			strcmp(json_string_value(json_array_get(type, 0)),
			       "null") == 0;
		json_t *f = field_json(names[i], col->name, type, with_default,
				       err);
		if (f == NULL || json_array_append_new(fields, f) != 0)
			return err ? err->code : WB_ERR_NOMEM;
	}
	return WB_OK;
}

/* Unique Avro field names for the columns: sanitised, with _2, _3 ... when
 * two sanitise to the same name. */
static char **field_names(const struct wb_table *t)
{
	char **names =
		calloc((size_t)(t->ncols > 0 ? t->ncols : 1), sizeof(*names));
	if (names == NULL)
		return NULL;
	for (int i = 0; i < t->ncols; i++) {
		char *base = wb_avro_sanitize_name(t->cols[i].name);
		if (base == NULL)
			goto fail;
		char *cand = base;
		for (int suffix = 2;; suffix++) {
			int clash = 0;
			for (int j = 0; j < i && !clash; j++)
				clash = strcmp(names[j], cand) == 0;
			if (!clash)
				break;
			if (cand != base)
				free(cand);
			size_t n = strlen(base) + 16;
			cand = malloc(n);
			if (cand == NULL) {
				free(base);
				goto fail;
			}
			snprintf(cand, n, "%s_%d", base, suffix);
		}
		if (cand != base)
			free(base);
		names[i] = cand;
	}
	return names;
fail:
	for (int i = 0; i < t->ncols; i++)
		free(names[i]);
	free(names);
	return NULL;
}

static json_t *source_record_json(void)
{
	static const char *const src_fields[][2] = {
		{"connector", "string"}, {"name", "string"},
		{"db", "string"},	 {"schema", "string"},
		{"table", "string"},	 {"position", "string"},
		{"txid", "long?"},	 {"gtid", "string?"},
		{"ts_ms", "long"},	 {"snapshot", "boolean"},
	};
	json_t *fields = json_array();
	if (fields == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(src_fields) / sizeof(src_fields[0]);
	     i++) {
		const char *ty = src_fields[i][1];
		size_t n = strlen(ty);
		int opt = ty[n - 1] == '?';
		json_t *jt = json_stringn(ty, opt ? n - 1 : n);
		if (opt)
			jt = nullable(jt);
		json_t *f = field_json(src_fields[i][0], NULL, jt, opt, NULL);
		if (f == NULL || json_array_append_new(fields, f) != 0) {
			json_decref(fields);
			return NULL;
		}
	}
	/* added later: a default, so readers of older events still resolve */
	json_t *dd = field_json("detected_delete", NULL, json_string("boolean"),
				0, NULL);
	if (dd && json_object_set_new(dd, "default", json_false()) != 0) {
		json_decref(dd);
		dd = NULL;
	}
	if (dd == NULL || json_array_append_new(fields, dd) != 0) {
		json_decref(fields);
		return NULL;
	}
	return record_json("Source", "waybill", NULL, fields);
}

static int dump_schema(json_t *root, const char *full, struct wb_schema *s,
		       wb_error_t *err)
{
	s->json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	s->full_name = strdup(full);
	if (s->json == NULL || s->full_name == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return wb_schema_finish(s, err);
}

static char *join3(const char *a, const char *sep, const char *b)
{
	size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, sep, b);
	return s;
}

int wb_table_schemas_build(const struct wb_table *t, const char *topic_prefix,
			   struct wb_table_schemas *out, wb_error_t *err)
{
	int rc = WB_ERR_NOMEM;
	char *tname = NULL, *pfx = NULL, *sch = NULL, *ns = NULL;
	char *key_name = NULL, *env_name = NULL, *row_full = NULL;
	char *full = NULL, *topic_tail = NULL;
	char **names = NULL;
	json_t *row = NULL, *key = NULL, *env = NULL;

	memset(out, 0, sizeof(*out));
	if (topic_prefix == NULL)
		topic_prefix = "";

	tname = wb_avro_sanitize_name(t->name);
	pfx = sanitize_dotted(topic_prefix);
	sch = wb_avro_sanitize_name(t->schema);
	names = field_names(t);
	if (!tname || !pfx || !sch || !names)
		goto nomem;
	ns = join3(pfx, ".", sch);
	key_name = join3(tname, "_", "key");
	env_name = join3(tname, "_", "envelope");
	if (!ns || !key_name || !env_name)
		goto nomem;
	row_full = join3(ns, ".", tname);
	topic_tail = join3(t->schema, ".", t->name);
	if (!row_full || !topic_tail)
		goto nomem;
	out->topic = join3(topic_prefix, ".", topic_tail);
	if (out->topic == NULL)
		goto nomem;

	/* Row record. */
	json_t *orig = str_or_fail(t->name, "the table name", err);
	if (orig == NULL) {
		rc = WB_ERR_TYPE;
		goto cleanup;
	}
	json_t *fields = json_array();
	row = record_json(tname, ns, orig, fields);
	if (row == NULL)
		goto nomem;
	rc = add_column_fields(t, names, 0, fields, err);
	if (rc != WB_OK)
		goto cleanup;
	rc = WB_ERR_NOMEM;

	/* Key record. */
	if (wb_table_nkeys(t) > 0) {
		json_t *kf = json_array();
		key = record_json(key_name, ns, NULL, kf);
		if (key == NULL)
			goto nomem;
		rc = add_column_fields(t, names, 1, kf, err);
		if (rc != WB_OK)
			goto cleanup;
		full = join3(ns, ".", key_name);
		if (full == NULL)
			goto nomem;
		rc = dump_schema(key, full, &out->key, err);
		if (rc != WB_OK)
			goto cleanup;
		free(full);
		full = NULL;
		rc = WB_ERR_NOMEM;
	}

	/* Envelope. */
	json_t *ef = json_array();
	env = record_json(env_name, ns, NULL, ef);
	if (env == NULL)
		goto nomem;
	json_incref(row);
	json_t *src = source_record_json();
	json_t *unchanged = array_of(json_string("string"));
	json_t *unrep = array_of(json_string("string"));
	json_t *unrep_text = map_of(map_of(json_string("string")));
	json_t *efs[] = {
		field_json("before", NULL, nullable(row), 1, NULL),
		field_json("after", NULL, nullable(json_string(row_full)), 1,
			   NULL),
		field_json("op", NULL, json_string("string"), 0, NULL),
		field_json("source", NULL, src, 0, NULL),
		field_json("ts_ms", NULL, json_string("long"), 0, NULL),
		field_json("event_id", NULL, json_string("string"), 0, NULL),
		field_json("unchanged", NULL, unchanged, 0, NULL),
		with_value(field_json("unrepresentable", NULL, unrep, 0, NULL),
			   json_array()),
		with_value(field_json("unrepresentable_text", NULL, unrep_text,
				      0, NULL),
			   json_object()),
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(efs) / sizeof(efs[0]); i++) {
		if (efs[i] == NULL || json_array_append_new(ef, efs[i]) != 0)
			bad = 1;
	}
	if (bad)
		goto nomem;
	full = join3(ns, ".", env_name);
	if (full == NULL)
		goto nomem;
	rc = dump_schema(env, full, &out->value, err);
	goto cleanup;

nomem:
	rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
cleanup:
	if (rc != WB_OK) {
		wb_error_prefix(err, "table %s.%s", t->schema, t->name);
		wb_table_schemas_free(out);
	}
	json_decref(row);
	json_decref(key);
	json_decref(env);
	for (int i = 0; names && i < t->ncols; i++)
		free(names[i]);
	free(names);
	free(tname);
	free(pfx);
	free(sch);
	free(ns);
	free(key_name);
	free(env_name);
	free(row_full);
	free(full);
	free(topic_tail);
	return rc;
}

void wb_table_schemas_free(struct wb_table_schemas *s)
{
	if (s == NULL)
		return;
	wb_schema_free(&s->value);
	wb_schema_free(&s->key);
	free(s->topic);
	s->topic = NULL;
}
