/* avro_cat.c — decodes Avro Object Container Files into JSON lines.
 *
 * Container layout (Avro specification, "Object Container Files"):
 *   "Obj\x01"
 *   metadata: map<bytes> as Avro blocks (long count, [long size if count
 *             < 0], count × (string key, bytes value)), ended by count 0;
 *             avro.schema = writer schema JSON, avro.codec = codec name
 *   16-byte sync marker
 *   blocks until end of file: long object count, long data size, data
 *             (compressed by the codec), the sync marker again.
 *
 * Every length read from the file is checked against what is left before it
 * is used. Work is bounded: nesting depth is limited, an array/map/block
 * count may not exceed the bytes left unless the item type encodes in zero
 * bytes (then a per-file allowance applies), decompressed blocks are capped. */
#include "avro_cat.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>
#include <zstd.h>

#include "buf.h"
#include "valconv.h"

#define MAX_DEPTH 128	       /* schema nesting and value nesting */
#define MAX_BLOCK (256u << 20) /* decompressed block size */
#define MAX_META (64u << 20)   /* one metadata key or value */
#define MAX_DECIMAL_BYTES 1024 /* ~2466 digits, beyond any database's */
#define MAX_PRECISION 2600
#define ZERO_ALLOWANCE (1 << 20) /* zero-byte values per file */
#define SYNC_LEN 16

enum kind {
	K_NULL,
	K_BOOLEAN,
	K_INT,
	K_LONG,
	K_FLOAT,
	K_DOUBLE,
	K_BYTES,
	K_STRING,
	K_RECORD,
	K_ENUM,
	K_ARRAY,
	K_MAP,
	K_UNION,
	K_FIXED,
};

enum logical {
	L_NONE,
	L_DECIMAL,
	L_DATE,
	L_TIME_MILLIS,
	L_TIME_MICROS,
	L_TS_MILLIS,
	L_TS_MICROS,
	L_TS_NANOS,
	L_LTS_MILLIS,
	L_LTS_MICROS,
	L_LTS_NANOS,
};

/* A compiled schema node. Named types may be referenced from several places
 * (and from themselves), so nodes form a graph owned by struct schema. */
struct node {
	enum kind kind;
	enum logical logical;
	int scale;
	size_t size;	    /* fixed */
	char *name;	    /* full name of named types */
	size_t n;	    /* fields, symbols or branches */
	char **labels;	    /* record: "\"field\":"; enum: "\"SYMBOL\"" */
	struct node **sub;  /* record field types, union branches */
	struct node *items; /* array items, map values */
	int sized;	    /* 0 unknown, 1 in progress, 2 known */
	int zero;	    /* may encode in zero bytes */
	int64_t weight;	    /* nodes visited decoding one zero-byte value */
};

struct schema {
	struct node **all;
	size_t nall, capall;
	struct node **named;
	size_t nnamed, capnamed;
	const char *why; /* parse error */
	char whybuf[256];
};

static const struct {
	const char *name;
	enum kind kind;
} primitives[] = {
	{"null", K_NULL},   {"boolean", K_BOOLEAN}, {"int", K_INT},
	{"long", K_LONG},   {"float", K_FLOAT},	    {"double", K_DOUBLE},
	{"bytes", K_BYTES}, {"string", K_STRING},
};

static void schema_free(struct schema *s)
{
	for (size_t i = 0; i < s->nall; i++) {
		struct node *t = s->all[i];
		if (t->labels)
			for (size_t j = 0; j < t->n; j++)
				free(t->labels[j]);
		free(t->labels);
		free(t->sub);
		free(t->name);
		free(t);
	}
	free(s->all);
	free(s->named);
}

static struct node *node_new(struct schema *s, enum kind kind)
{
	if (s->nall == s->capall) {
		size_t cap = s->capall ? s->capall * 2 : 32;
		struct node **v = realloc(s->all, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		s->all = v;
		s->capall = cap;
	}
	struct node *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->kind = kind;
	s->all[s->nall++] = t;
	return t;
}

/* JSON string literal of p[0..n): escapes, invalid UTF-8 → U+FFFD. */
static void put_json_string(struct wb_buf *o, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	wb_buf_append(o, "\"", 1);
	size_t i = 0, run = 0;
	while (i < n) {
		uint8_t c = p[i];
		size_t len = 0;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			/* Length of a valid UTF-8 sequence at i, or 0. */
			uint8_t c1 = i + 1 < n ? p[i + 1] : 0;
			if (c >= 0xc2 && c <= 0xdf)
				len = (c1 & 0xc0) == 0x80 ? 2 : 0;
			else if (c >= 0xe0 && c <= 0xef) {
				int ok = (c1 & 0xc0) == 0x80 &&
					 !(c == 0xe0 && c1 < 0xa0) &&
					 !(c == 0xed && c1 > 0x9f) &&
					 i + 2 < n && (p[i + 2] & 0xc0) == 0x80;
				len = ok ? 3 : 0;
			} else if (c >= 0xf0 && c <= 0xf4) {
				int ok = (c1 & 0xc0) == 0x80 &&
					 !(c == 0xf0 && c1 < 0x90) &&
					 !(c == 0xf4 && c1 > 0x8f) &&
					 i + 3 < n &&
					 (p[i + 2] & 0xc0) == 0x80 &&
					 (p[i + 3] & 0xc0) == 0x80;
				len = ok ? 4 : 0;
			}
			if (len) {
				i += len;
				continue;
			}
		}
		wb_buf_append(o, p + run, i - run);
		if (c == '"')
			wb_buf_append(o, "\\\"", 2);
		else if (c == '\\')
			wb_buf_append(o, "\\\\", 2);
		else if (c == '\n')
			wb_buf_append(o, "\\n", 2);
		else if (c == '\t')
			wb_buf_append(o, "\\t", 2);
		else if (c == '\r')
			wb_buf_append(o, "\\r", 2);
		else if (c < 0x20) {
			char u[6] = {'\\', 'u',		'0',
				     '0',  hex[c >> 4], hex[c & 15]};
			wb_buf_append(o, u, 6);
		} else
			wb_buf_append(o, "\\ufffd", 6);
		i++;
		run = i;
	}
	wb_buf_append(o, p + run, n - run);
	wb_buf_append(o, "\"", 1);
}

static char *render_label(const char *s, int colon)
{
	struct wb_buf b;
	wb_buf_init(&b);
	put_json_string(&b, (const uint8_t *)s, strlen(s));
	if (colon)
		wb_buf_append(&b, ":", 1);
	wb_buf_append(&b, "", 1);
	if (b.failed) {
		wb_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

static int schema_fail(struct schema *s, const char *fmt, const char *arg)
{
	snprintf(s->whybuf, sizeof(s->whybuf), fmt, arg);
	s->why = s->whybuf;
	return -1;
}

/* Full name from a name and the namespaces around it (malloc'd). */
static char *full_name(const char *name, json_t *j, const char *ns)
{
	json_t *jns = json_object_get(j, "namespace");
	const char *use = ns;
	if (json_is_string(jns))
		use = json_string_value(jns);
	size_t n = strlen(name) + (use ? strlen(use) : 0) + 2;
	char *full = malloc(n);
	if (full == NULL)
		return NULL;
	if (strchr(name, '.') || use == NULL || use[0] == '\0')
		snprintf(full, n, "%s", name);
	else
		snprintf(full, n, "%s.%s", use, name);
	return full;
}

static struct node *lookup_named(struct schema *s, const char *name,
				 const char *ns)
{
	char buf[1024];
	if (strchr(name, '.') == NULL && ns && ns[0]) {
		snprintf(buf, sizeof(buf), "%s.%s", ns, name);
		for (size_t i = 0; i < s->nnamed; i++)
			if (strcmp(s->named[i]->name, buf) == 0)
				return s->named[i];
	}
	for (size_t i = 0; i < s->nnamed; i++)
		if (strcmp(s->named[i]->name, name) == 0)
			return s->named[i];
	return NULL;
}

static int register_named(struct schema *s, struct node *t)
{
	if (lookup_named(s, t->name, NULL) != NULL)
		return schema_fail(s, "type %s defined twice", t->name);
	if (s->nnamed == s->capnamed) {
		size_t cap = s->capnamed ? s->capnamed * 2 : 16;
		struct node **v = realloc(s->named, cap * sizeof(*v));
		if (v == NULL)
			return schema_fail(s, "out of memory%s", "");
		s->named = v;
		s->capnamed = cap;
	}
	s->named[s->nnamed++] = t;
	return 0;
}

static enum logical parse_logical(json_t *j, enum kind kind, int *scale)
{
	const char *lt = json_string_value(json_object_get(j, "logicalType"));
	if (lt == NULL)
		return L_NONE;
	if (strcmp(lt, "decimal") == 0 &&
	    (kind == K_BYTES || kind == K_FIXED)) {
		json_t *jp = json_object_get(j, "precision");
		json_t *js = json_object_get(j, "scale");
		if (!json_is_integer(jp) || (js && !json_is_integer(js)))
			return L_NONE;
		json_int_t p = json_integer_value(jp);
		json_int_t sc = js ? json_integer_value(js) : 0;
		/* Invalid decimals fall back to the underlying type, as the
		 * specification asks. */
		if (p <= 0 || p > MAX_PRECISION || sc < 0 || sc > p)
			return L_NONE;
		*scale = (int)sc;
		return L_DECIMAL;
	}
	static const struct {
		const char *name;
		enum kind kind;
		enum logical l;
	} map[] = {
		{"date", K_INT, L_DATE},
		{"time-millis", K_INT, L_TIME_MILLIS},
		{"time-micros", K_LONG, L_TIME_MICROS},
		{"timestamp-millis", K_LONG, L_TS_MILLIS},
		{"timestamp-micros", K_LONG, L_TS_MICROS},
		{"timestamp-nanos", K_LONG, L_TS_NANOS},
		{"local-timestamp-millis", K_LONG, L_LTS_MILLIS},
		{"local-timestamp-micros", K_LONG, L_LTS_MICROS},
		{"local-timestamp-nanos", K_LONG, L_LTS_NANOS},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (kind == map[i].kind && strcmp(lt, map[i].name) == 0)
			return map[i].l;
	return L_NONE;
}

static struct node *parse(struct schema *s, json_t *j, const char *ns,
			  int depth);

static struct node *parse_named(struct schema *s, json_t *j, const char *ns,
				enum kind kind, int depth)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	if (name == NULL || name[0] == '\0') {
		schema_fail(s, "named type without a name%s", "");
		return NULL;
	}
	struct node *t = node_new(s, kind);
	if (t == NULL) {
		schema_fail(s, "out of memory%s", "");
		return NULL;
	}
	t->name = full_name(name, j, ns);
	if (t->name == NULL) {
		schema_fail(s, "out of memory%s", "");
		return NULL;
	}
	if (register_named(s, t) != 0)
		return NULL;
	/* The namespace of nested definitions: the full name minus its last
	 * component. */
	char inner[1024] = "";
	const char *dot = strrchr(t->name, '.');
	if (dot && (size_t)(dot - t->name) < sizeof(inner)) {
		memcpy(inner, t->name, (size_t)(dot - t->name));
		inner[dot - t->name] = '\0';
	}

	if (kind == K_FIXED) {
		json_t *js = json_object_get(j, "size");
		if (!json_is_integer(js) || json_integer_value(js) < 0 ||
		    json_integer_value(js) > (json_int_t)MAX_BLOCK) {
			schema_fail(s, "fixed %s: bad size", t->name);
			return NULL;
		}
		t->size = (size_t)json_integer_value(js);
		t->logical = parse_logical(j, K_FIXED, &t->scale);
		return t;
	}
	json_t *arr = json_object_get(j, kind == K_ENUM ? "symbols" : "fields");
	if (!json_is_array(arr)) {
		schema_fail(s, "%s: missing symbols or fields", t->name);
		return NULL;
	}
	size_t n = json_array_size(arr);
	t->labels = calloc(n ? n : 1, sizeof(char *));
	t->sub = calloc(n ? n : 1, sizeof(struct node *));
	if (t->labels == NULL || t->sub == NULL) {
		schema_fail(s, "out of memory%s", "");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *label =
			kind == K_ENUM
				? json_string_value(e)
				: json_string_value(json_object_get(e, "name"));
		if (label == NULL) {
			schema_fail(s, "%s: symbol or field without a name",
				    t->name);
			return NULL;
		}
		t->labels[i] = render_label(label, kind == K_RECORD);
		t->n = i + 1;
		if (t->labels[i] == NULL) {
			schema_fail(s, "out of memory%s", "");
			return NULL;
		}
		if (kind == K_RECORD) {
			t->sub[i] = parse(s, json_object_get(e, "type"), inner,
					  depth + 1);
			if (t->sub[i] == NULL)
				return NULL;
		}
	}
	return t;
}

static struct node *parse(struct schema *s, json_t *j, const char *ns,
			  int depth)
{
	if (depth > MAX_DEPTH) {
		schema_fail(s, "schema nested too deeply%s", "");
		return NULL;
	}
	if (json_is_string(j)) {
		const char *name = json_string_value(j);
		for (size_t i = 0;
		     i < sizeof(primitives) / sizeof(primitives[0]); i++)
			if (strcmp(name, primitives[i].name) == 0)
				return node_new(s, primitives[i].kind);
		struct node *t = lookup_named(s, name, ns);
		if (t == NULL)
			schema_fail(s, "unknown type \"%.200s\"", name);
		return t;
	}
	if (json_is_array(j)) {
		struct node *t = node_new(s, K_UNION);
		if (t == NULL)
			return NULL;
		size_t n = json_array_size(j);
		t->sub = calloc(n ? n : 1, sizeof(struct node *));
		if (t->sub == NULL)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			t->sub[i] =
				parse(s, json_array_get(j, i), ns, depth + 1);
			if (t->sub[i] == NULL)
				return NULL;
			t->n = i + 1;
		}
		return t;
	}
	if (!json_is_object(j)) {
		schema_fail(s, "a type must be a string, array or object%s",
			    "");
		return NULL;
	}
	json_t *jt = json_object_get(j, "type");
	if (!json_is_string(jt))
		return parse(s, jt, ns, depth + 1);
	const char *type = json_string_value(jt);
	if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0)
		return parse_named(s, j, ns, K_RECORD, depth);
	if (strcmp(type, "enum") == 0)
		return parse_named(s, j, ns, K_ENUM, depth);
	if (strcmp(type, "fixed") == 0)
		return parse_named(s, j, ns, K_FIXED, depth);
	if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
		int arr = type[0] == 'a';
		struct node *t = node_new(s, arr ? K_ARRAY : K_MAP);
		if (t == NULL)
			return NULL;
		t->items =
			parse(s, json_object_get(j, arr ? "items" : "values"),
			      ns, depth + 1);
		return t->items ? t : NULL;
	}
	struct node *t = parse(s, jt, ns, depth + 1);
	if (t == NULL)
		return NULL;
	enum logical l = L_NONE;
	int scale = 0;
	if (t->kind <= K_STRING)
		l = parse_logical(j, t->kind, &scale);
	if (l != L_NONE) {
		/* Primitive nodes are not shared, so they can carry it. */
		t->logical = l;
		t->scale = scale;
	}
	return t;
}

/* Fills zero/weight: whether t can encode in zero bytes and how many nodes
 * decoding such a value visits. A cycle (a record containing itself without
 * a union or array in between) can never be decoded; it counts as sized. */
static void size_info(struct node *t, int depth)
{
	if (t->sized)
		return;
	if (depth > MAX_DEPTH * 4) {
		t->zero = 0;
		return;
	}
	t->sized = 1;
	int zero = 0;
	int64_t w = 1;
	if (t->kind == K_NULL || (t->kind == K_FIXED && t->size == 0)) {
		zero = 1;
	} else if (t->kind == K_RECORD) {
		zero = 1;
		for (size_t i = 0; i < t->n && zero; i++) {
			size_info(t->sub[i], depth + 1);
			if (t->sub[i]->sized != 2 || !t->sub[i]->zero)
				zero = 0;
			else if (w < ((int64_t)1 << 40))
				w += t->sub[i]->weight;
		}
	}
	t->zero = zero;
	t->weight = w;
	t->sized = 2;
}

/* ---- value decoding ---- */

struct dec {
	const uint8_t *p;
	size_t n, pos;
	struct wb_buf *o;
	int64_t *zero_left; /* per-file allowance of zero-byte values */
	const char *why;
};

static int dfail(struct dec *d, const char *why)
{
	d->why = why;
	return -1;
}

static int get_long(struct dec *d, int64_t *v)
{
	size_t k = wb_avro_get_long(d->p + d->pos, d->n - d->pos, v);
	if (k == 0)
		return dfail(d, "bad or truncated varint");
	d->pos += k;
	return 0;
}

/* Checks that count items of type t can be in what is left. */
static int check_count(struct dec *d, const struct node *t, int64_t count)
{
	if (count < 0)
		return dfail(d, "negative count");
	if (!t->zero) {
		if ((uint64_t)count > d->n - d->pos)
			return dfail(d, "count larger than the bytes left");
		return 0;
	}
	if (count > *d->zero_left / t->weight)
		return dfail(d,
			     "too many zero-byte values (limit 1M per file)");
	*d->zero_left -= count * t->weight;
	return 0;
}

static void put_str(struct wb_buf *o, const char *s)
{
	wb_buf_append(o, s, strlen(s));
}

static void put_fmt(struct wb_buf *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put_fmt(struct wb_buf *o, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		wb_buf_append(o, tmp,
			      (size_t)n < sizeof(tmp) ? (size_t)n
						      : sizeof(tmp) - 1);
}

static void put_base64(struct wb_buf *o, const uint8_t *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
				  "stuvwxyz0123456789+/";
	if (wb_buf_reserve(o, (n + 2) / 3 * 4 + 2) != 0)
		return;
	char *w = (char *)o->data + o->len;
	*w++ = '"';
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];
		*w++ = tab[v >> 18];
		*w++ = tab[(v >> 12) & 63];
		*w++ = tab[(v >> 6) & 63];
		*w++ = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*w++ = tab[v >> 18];
		*w++ = tab[(v >> 12) & 63];
		*w++ = '=';
		*w++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*w++ = tab[v >> 18];
		*w++ = tab[(v >> 12) & 63];
		*w++ = tab[(v >> 6) & 63];
		*w++ = '=';
	}
	*w++ = '"';
	o->len = (size_t)(w - (char *)o->data);
}

/* Big-endian two's complement unscaled value → "-12.50" (quoted). */
static int put_decimal(struct wb_buf *o, const uint8_t *p, size_t n, int scale)
{
	if (n > MAX_DECIMAL_BYTES)
		return -1;
	wb_buf_append(o, "\"", 1);
	wb_decimal_to_text(p, n, scale, o);
	wb_buf_append(o, "\"", 1);
	return 0;
}

static void put_date(struct wb_buf *o, int64_t days)
{
	int64_t y;
	int m, d;
	wb_civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999)
		put_fmt(o, "%04" PRId64 "-%02d-%02d", y, m, d);
	else if (y < 0)
		put_fmt(o, "-%04" PRId64 "-%02d-%02d", -y, m, d);
	else
		put_fmt(o, "+%" PRId64 "-%02d-%02d", y, m, d);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b) != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* v in units of 1/per seconds since midnight or the epoch. */
static void put_time(struct wb_buf *o, int64_t v, int64_t per, int digits,
		     int with_date, int zulu)
{
	/* Not v - secs * per: that overflows near INT64_MIN. */
	int64_t secs = v / per;
	int64_t frac = v % per;
	if (frac < 0) {
		frac += per;
		secs--;
	}
	int64_t days = floor_div(secs, 86400);
	int64_t sod = secs - days * 86400;
	wb_buf_append(o, "\"", 1);
	if (with_date) {
		put_date(o, days);
		wb_buf_append(o, "T", 1);
	}
	put_fmt(o, "%02d:%02d:%02d.%0*" PRId64 "%s", (int)(sod / 3600),
		(int)(sod / 60 % 60), (int)(sod % 60), digits, frac,
		zulu ? "Z\"" : "\"");
}

static void put_double(struct wb_buf *o, double v)
{
	if (isnan(v)) {
		put_str(o, "\"NaN\"");
		return;
	}
	if (isinf(v)) {
		put_str(o, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	char s[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	put_str(o, s);
}

static void put_float(struct wb_buf *o, float v)
{
	if (isnan(v) || isinf(v)) {
		put_double(o, v);
		return;
	}
	char s[40];
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, (double)v);
		if (strtof(s, NULL) == v)
			break;
	}
	put_str(o, s);
}

static int dec_value(struct dec *d, const struct node *t, int depth);

static int dec_bytes(struct dec *d, const uint8_t **p, size_t *n)
{
	int64_t len;
	if (get_long(d, &len) != 0)
		return -1;
	if (len < 0 || (uint64_t)len > d->n - d->pos)
		return dfail(d, "bytes or string length beyond the block");
	*p = d->p + d->pos;
	*n = (size_t)len;
	d->pos += (size_t)len;
	return 0;
}

static int dec_items(struct dec *d, const struct node *t, int depth)
{
	int map = t->kind == K_MAP;
	int first = 1;
	wb_buf_append(d->o, map ? "{" : "[", 1);
	for (;;) {
		int64_t count;
		if (get_long(d, &count) != 0)
			return -1;
		if (count == 0)
			break;
		if (count < 0) {
			int64_t size;
			if (count == INT64_MIN)
				return dfail(d, "bad block count");
			count = -count;
			if (get_long(d, &size) != 0)
				return -1;
			if (size < 0)
				return dfail(d, "negative block size");
		}
		/* A map entry has a key string, so never zero bytes. */
		if (map) {
			if ((uint64_t)count > d->n - d->pos)
				return dfail(d, "count larger than the bytes "
						"left");
		} else if (check_count(d, t->items, count) != 0) {
			return -1;
		}
		for (int64_t i = 0; i < count; i++) {
			if (!first)
				wb_buf_append(d->o, ",", 1);
			first = 0;
			if (map) {
				const uint8_t *k;
				size_t kn;
				if (dec_bytes(d, &k, &kn) != 0)
					return -1;
				put_json_string(d->o, k, kn);
				wb_buf_append(d->o, ":", 1);
			}
			if (dec_value(d, t->items, depth + 1) != 0)
				return -1;
		}
	}
	wb_buf_append(d->o, map ? "}" : "]", 1);
	return 0;
}

static int dec_value(struct dec *d, const struct node *t, int depth)
{
	int64_t v;
	const uint8_t *p;
	size_t n;
	if (depth > MAX_DEPTH)
		return dfail(d, "values nested too deeply");
	if (d->o->failed)
		return dfail(d, "out of memory");
	switch (t->kind) {
	case K_NULL:
		put_str(d->o, "null");
		return 0;
	case K_BOOLEAN:
		if (d->pos >= d->n || d->p[d->pos] > 1)
			return dfail(d, "bad boolean");
		put_str(d->o, d->p[d->pos++] ? "true" : "false");
		return 0;
	case K_INT:
	case K_LONG:
		if (get_long(d, &v) != 0)
			return -1;
		if (t->kind == K_INT && (v < INT32_MIN || v > INT32_MAX))
			return dfail(d, "int out of range");
		switch (t->logical) {
		case L_DATE:
			wb_buf_append(d->o, "\"", 1);
			put_date(d->o, v);
			wb_buf_append(d->o, "\"", 1);
			return 0;
		case L_TIME_MILLIS:
		case L_TIME_MICROS: {
			int64_t per =
				t->logical == L_TIME_MILLIS ? 1000 : 1000000;
			if (v >= 0 && v < 86400 * per) {
				put_time(d->o, v, per,
					 t->logical == L_TIME_MILLIS ? 3 : 6, 0,
					 0);
				return 0;
			}
			break; /* not a time of day: the number itself */
		}
		case L_TS_MILLIS:
		case L_LTS_MILLIS:
			put_time(d->o, v, 1000, 3, 1,
				 t->logical == L_TS_MILLIS);
			return 0;
		case L_TS_MICROS:
		case L_LTS_MICROS:
			put_time(d->o, v, 1000000, 6, 1,
				 t->logical == L_TS_MICROS);
			return 0;
		case L_TS_NANOS:
		case L_LTS_NANOS:
			put_time(d->o, v, 1000000000, 9, 1,
				 t->logical == L_TS_NANOS);
			return 0;
		default:
			break;
		}
		put_fmt(d->o, "%" PRId64, v);
		return 0;
	case K_FLOAT: {
		if (d->n - d->pos < 4)
			return dfail(d, "truncated float");
		uint32_t u = 0;
		for (int i = 3; i >= 0; i--)
			u = u << 8 | d->p[d->pos + (size_t)i];
		d->pos += 4;
		float f;
		memcpy(&f, &u, 4);
		put_float(d->o, f);
		return 0;
	}
	case K_DOUBLE: {
		if (d->n - d->pos < 8)
			return dfail(d, "truncated double");
		uint64_t u = 0;
		for (int i = 7; i >= 0; i--)
			u = u << 8 | d->p[d->pos + (size_t)i];
		d->pos += 8;
		double x;
		memcpy(&x, &u, 8);
		put_double(d->o, x);
		return 0;
	}
	case K_BYTES:
	case K_STRING:
		if (dec_bytes(d, &p, &n) != 0)
			return -1;
		goto bytes;
	case K_FIXED:
		if (d->n - d->pos < t->size)
			return dfail(d, "truncated fixed");
		p = d->p + d->pos;
		n = t->size;
		d->pos += n;
		goto bytes;
	case K_ENUM:
		if (get_long(d, &v) != 0)
			return -1;
		if (v < 0 || (uint64_t)v >= t->n)
			return dfail(d, "enum index out of range");
		put_str(d->o, t->labels[v]);
		return 0;
	case K_UNION:
		if (get_long(d, &v) != 0)
			return -1;
		if (v < 0 || (uint64_t)v >= t->n)
			return dfail(d, "union index out of range");
		return dec_value(d, t->sub[v], depth + 1);
	case K_RECORD:
		wb_buf_append(d->o, "{", 1);
		for (size_t i = 0; i < t->n; i++) {
			if (i)
				wb_buf_append(d->o, ",", 1);
			put_str(d->o, t->labels[i]);
			if (dec_value(d, t->sub[i], depth + 1) != 0)
				return -1;
		}
		wb_buf_append(d->o, "}", 1);
		return 0;
	case K_ARRAY:
	case K_MAP:
		return dec_items(d, t, depth);
	}
	return dfail(d, "unknown type");
bytes:
	if (t->kind == K_STRING)
		put_json_string(d->o, p, n);
	else if (t->logical == L_DECIMAL) {
		if (put_decimal(d->o, p, n, t->scale) != 0)
			return dfail(d, "decimal longer than 1024 bytes");
	} else
		put_base64(d->o, p, n);
	return 0;
}

/* ---- container ---- */

/* Bytes of the file, from memory or a stream. */
struct src {
	const uint8_t *mem;
	size_t mlen;
	FILE *f;
	int64_t fsize; /* -1 when unknown */
	uint64_t pos;
	struct wb_buf tmp;
	const char *path; /* follow: the name watched for completion */
	const struct wb_avro_cat_options *opt;
	int shrunk;    /* follow: the file got shorter than pos */
	int completed; /* follow: renamed away, every byte read */
};

/* Follow mode, at the end of what the file holds: waits a moment for more.
 * 1: try reading again; 0: stop here (not following, asked to stop, or the
 * file completed or shrank). */
static int src_wait(struct src *s)
{
	if (s->f == NULL || s->opt == NULL || !s->opt->follow)
		return 0;
	if (s->opt->stop && *s->opt->stop)
		return 0;
	struct stat st;
	if (fstat(fileno(s->f), &st) == 0 && (uint64_t)st.st_size < s->pos) {
		s->shrunk = 1;
		return 0;
	}
	if (st.st_size > 0 && (uint64_t)st.st_size > s->pos) {
		clearerr(s->f);
		return 1; /* written meanwhile */
	}
	if (access(s->path, F_OK) != 0 && errno == ENOENT) {
		/* renamed to .avro (completed) or removed: nothing more
		 * comes; read what the last look may have missed */
		if (fstat(fileno(s->f), &st) == 0 &&
		    (uint64_t)st.st_size > s->pos) {
			clearerr(s->f);
			return 1;
		}
		s->completed = 1;
		return 0;
	}
	struct timespec ts = {0, 100 * 1000000L};
	nanosleep(&ts, NULL);
	clearerr(s->f);
	return 1;
}

static int src_getc(struct src *s)
{
	int c;
	while ((c = getc(s->f)) == EOF && src_wait(s))
		;
	return c;
}

/* 0 ok, -1 the file ends first, -2 malformed. */
static int src_long(struct src *s, int64_t *v)
{
	if (s->f == NULL) {
		size_t left = s->mlen - (size_t)s->pos;
		size_t k = wb_avro_get_long(s->mem + s->pos, left, v);
		if (k == 0)
			return left < 10 ? -1 : -2;
		s->pos += k;
		return 0;
	}
	uint8_t b[10];
	for (size_t i = 0; i < 10; i++) {
		int c = src_getc(s);
		if (c == EOF)
			return -1;
		b[i] = (uint8_t)c;
		s->pos++;
		if ((c & 0x80) == 0) {
			wb_avro_get_long(b, i + 1, v);
			return 0;
		}
	}
	return -2;
}

/* 0 ok (*out valid until the next call), -1 the file ends first, -2 too
 * large to hold. */
static int src_bytes(struct src *s, uint64_t n, const uint8_t **out)
{
	if (s->f == NULL) {
		if (n > s->mlen - s->pos)
			return -1;
		*out = s->mem + s->pos;
		s->pos += n;
		return 0;
	}
	if (s->fsize >= 0 && n > (uint64_t)s->fsize - s->pos)
		return -1;
	if (n > MAX_BLOCK)
		return -2;
	wb_buf_reset(&s->tmp);
	if (wb_buf_reserve(&s->tmp, n ? (size_t)n : 1) != 0) {
		s->tmp.failed = 0;
		return -2;
	}
	size_t r = 0;
	for (;;) {
		size_t k = fread(s->tmp.data + r, 1, (size_t)n - r, s->f);
		r += k;
		s->pos += k;
		if (r == n || !src_wait(s))
			break;
	}
	if (r != n)
		return -1;
	*out = s->tmp.data;
	return 0;
}

static int src_at_end(struct src *s)
{
	if (s->f == NULL)
		return s->pos >= s->mlen;
	int c = src_getc(s);
	if (c == EOF)
		return 1;
	ungetc(c, s->f);
	return 0;
}

struct codec_state {
	z_stream zs;
	int zs_ready;
	ZSTD_DCtx *zd;
};

/* Decompresses p[0..n) into out; returns NULL on success or why not. */
static const char *inflate_block(struct codec_state *c, const uint8_t *p,
				 size_t n, struct wb_buf *out)
{
	wb_buf_reset(out);
	if (!c->zs_ready) {
		memset(&c->zs, 0, sizeof(c->zs));
		if (inflateInit2(&c->zs, -15) != Z_OK)
			return "inflateInit failed";
		c->zs_ready = 1;
	} else if (inflateReset(&c->zs) != Z_OK) {
		return "inflateReset failed";
	}
	c->zs.next_in = (Bytef *)p;
	c->zs.avail_in = (uInt)n;
	for (;;) {
		size_t want = n * 4 > 65536 ? n * 4 : 65536;
		if (out->cap - out->len < want / 2 &&
		    wb_buf_reserve(out, want) != 0) {
			out->failed = 0;
			return "out of memory";
		}
		c->zs.next_out = out->data + out->len;
		c->zs.avail_out = (uInt)(out->cap - out->len);
		uInt before = c->zs.avail_out;
		int r = inflate(&c->zs, Z_NO_FLUSH);
		out->len += before - c->zs.avail_out;
		if (r == Z_STREAM_END)
			return NULL;
		if (r != Z_OK && r != Z_BUF_ERROR)
			return "corrupt deflate data";
		if (c->zs.avail_in == 0 && c->zs.avail_out != 0)
			return "truncated deflate data";
		if (out->len > MAX_BLOCK)
			return "block decompresses to more than 256 MiB";
	}
}

static const char *unzstd_block(struct codec_state *c, const uint8_t *p,
				size_t n, struct wb_buf *out)
{
	wb_buf_reset(out);
	if (c->zd == NULL) {
		c->zd = ZSTD_createDCtx();
		if (c->zd == NULL)
			return "out of memory";
	} else {
		ZSTD_DCtx_reset(c->zd, ZSTD_reset_session_only);
	}
	ZSTD_inBuffer in = {p, n, 0};
	size_t last = 1;
	while (in.pos < in.size || last != 0) {
		size_t want = n * 4 > 65536 ? n * 4 : 65536;
		if (out->cap - out->len < want / 2 &&
		    wb_buf_reserve(out, want) != 0) {
			out->failed = 0;
			return "out of memory";
		}
		ZSTD_outBuffer ob = {out->data + out->len, out->cap - out->len,
				     0};
		size_t in_before = in.pos;
		last = ZSTD_decompressStream(c->zd, &ob, &in);
		if (ZSTD_isError(last))
			return "corrupt zstandard data";
		out->len += ob.pos;
		if (out->len > MAX_BLOCK)
			return "block decompresses to more than 256 MiB";
		if (in.pos == in.size && last != 0 && ob.pos < ob.size &&
		    in.pos == in_before)
			return "truncated zstandard frame";
	}
	return NULL;
}

static int cat(struct src *s, const char *name, FILE *out, wb_error_t *err)
{
	struct schema sc = {0};
	struct codec_state cs = {0};
	struct wb_buf plain, line;
	wb_buf_init(&plain);
	wb_buf_init(&line);
	char *schema_json = NULL, *codec = NULL;
	json_t *js = NULL;
	const uint8_t *p;
	int64_t count, size;
	int rc = WB_OK;
	int64_t zero_left = ZERO_ALLOWANCE;
	uint8_t sync[SYNC_LEN];
	uint64_t at = 0; /* where the current block starts */

	if (src_bytes(s, 4, &p) != 0 || memcmp(p, "Obj\x01", 4) != 0) {
		rc = wb_error_set(err, WB_ERR_DECODE,
				  "%s: not an Avro object container file",
				  name);
		goto done;
	}
	for (;;) {
		if (src_long(s, &count) != 0)
			goto bad_header;
		if (count == 0)
			break;
		if (count < 0) {
			if (count == INT64_MIN || src_long(s, &size) != 0)
				goto bad_header;
			count = -count;
		}
		for (int64_t i = 0; i < count; i++) {
			int64_t kl, vl;
			char key[16] = "";
			if (src_long(s, &kl) != 0 || kl < 0 || kl > MAX_META ||
			    src_bytes(s, (uint64_t)kl, &p) != 0)
				goto bad_header;
			if ((size_t)kl < sizeof(key)) {
				memcpy(key, p, (size_t)kl);
				key[kl] = '\0';
			}
			if (src_long(s, &vl) != 0 || vl < 0 || vl > MAX_META ||
			    src_bytes(s, (uint64_t)vl, &p) != 0)
				goto bad_header;
			char **dst = strcmp(key, "avro.schema") == 0
					     ? &schema_json
				     : strcmp(key, "avro.codec") == 0 ? &codec
								      : NULL;
			if (dst == NULL)
				continue;
			free(*dst);
			*dst = malloc((size_t)vl + 1);
			if (*dst == NULL) {
				rc = wb_error_set(err, WB_ERR_NOMEM,
						  "%s: out of memory", name);
				goto done;
			}
			memcpy(*dst, p, (size_t)vl);
			(*dst)[vl] = '\0';
		}
	}
	if (src_bytes(s, SYNC_LEN, &p) != 0)
		goto bad_header;
	memcpy(sync, p, SYNC_LEN);
	if (schema_json == NULL) {
		rc = wb_error_set(err, WB_ERR_DECODE,
				  "%s: header has no avro.schema", name);
		goto done;
	}
	int cid = codec == NULL || strcmp(codec, "null") == 0 ? 0
		  : strcmp(codec, "deflate") == 0	      ? 1
		  : strcmp(codec, "zstandard") == 0	      ? 2
							      : -1;
	if (cid < 0) {
		rc = wb_error_set(err, WB_ERR_DECODE,
				  "%s: codec \"%.64s\" is not supported (null, "
				  "deflate, zstandard are)",
				  name, codec);
		goto done;
	}
	json_error_t jerr;
	js = json_loads(schema_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (js == NULL) {
		rc = wb_error_set(err, WB_ERR_DECODE,
				  "%s: schema is not JSON: %s", name,
				  jerr.text);
		goto done;
	}
	struct node *root = parse(&sc, js, "", 0);
	if (root == NULL) {
		rc = wb_error_set(err, WB_ERR_DECODE, "%s: bad schema: %s",
				  name, sc.why ? sc.why : "out of memory");
		goto done;
	}
	for (size_t i = 0; i < sc.nall; i++)
		size_info(sc.all[i], 0);

	for (;;) {
		at = s->pos;
		if (src_at_end(s))
			break;
		int r = src_long(s, &count);
		if (r == 0)
			r = src_long(s, &size);
		if (r == -1)
			goto torn;
		if (r != 0 || count < 0 || size < 0) {
			rc = wb_error_set(
				err, WB_ERR_DECODE,
				"%s: bad block header at byte %" PRIu64, name,
				at);
			goto done;
		}
		r = src_bytes(s, (uint64_t)size, &p);
		if (r == -1)
			goto torn;
		if (r != 0) {
			rc = wb_error_set(err, WB_ERR_DECODE,
					  "%s: block at byte %" PRIu64
					  " too large (%" PRId64 " bytes)",
					  name, at, size);
			goto done;
		}
		const uint8_t *data = p;
		size_t len = (size_t)size;
		const char *why = NULL;
		if (cid != 0) {
			why = cid == 1 ? inflate_block(&cs, p, len, &plain)
				       : unzstd_block(&cs, p, len, &plain);
			data = plain.data;
			len = plain.len;
		}
		/* Reading the sync marker from a stream reuses the buffer
		 * that holds uncompressed data. */
		if (why == NULL && cid == 0 && s->f != NULL) {
			wb_buf_reset(&plain);
			wb_buf_append(&plain, data, len);
			if (plain.failed) {
				rc = wb_error_set(err, WB_ERR_NOMEM,
						  "%s: out of memory", name);
				goto done;
			}
			data = plain.data;
		}
		r = src_bytes(s, SYNC_LEN, &p);
		if (r == -1)
			goto torn;
		if (r != 0 || memcmp(p, sync, SYNC_LEN) != 0) {
			rc = wb_error_set(err, WB_ERR_DECODE,
					  "%s: sync marker mismatch after the "
					  "block at byte %" PRIu64,
					  name, at);
			goto done;
		}
		if (why != NULL) {
			rc = wb_error_set(err, WB_ERR_DECODE,
					  "%s: block at byte %" PRIu64 ": %s",
					  name, at, why);
			goto done;
		}
		struct dec d = {data, len, 0, &line, &zero_left, NULL};
		if (check_count(&d, root, count) != 0) {
			rc = wb_error_set(err, WB_ERR_DECODE,
					  "%s: block at byte %" PRIu64 ": %s",
					  name, at, d.why);
			goto done;
		}
		for (int64_t i = 0; i < count; i++) {
			wb_buf_reset(&line);
			if (dec_value(&d, root, 0) != 0 || line.failed) {
				rc = wb_error_set(
					err, WB_ERR_DECODE,
					"%s: record %" PRId64
					" of the block at byte %" PRIu64 ": %s",
					name, i, at,
					d.why ? d.why : "out of memory");
				goto done;
			}
			const struct wb_avro_cat_options *o = s->opt;
			if (o && o->keep) {
				int k = o->keep(o->keep_opaque,
						(const char *)line.data,
						line.len, err);
				if (k < 0) {
					rc = err->code;
					goto done;
				}
				if (k == 0)
					continue;
			}
			wb_buf_append(&line, "\n", 1);
			if (fwrite(line.data, 1, line.len, out) != line.len) {
				rc = wb_error_set(err, WB_ERR_IO,
						  "writing output: %s",
						  strerror(errno));
				goto done;
			}
			if (o && o->remaining && --*o->remaining <= 0)
				goto done; /* --count reached */
		}
		if (d.pos != d.n) {
			rc = wb_error_set(err, WB_ERR_DECODE,
					  "%s: block at byte %" PRIu64
					  " has %zu bytes after its records",
					  name, at, d.n - d.pos);
			goto done;
		}
		/* a follower sees each block as soon as it is complete */
		if (s->opt && s->opt->follow && fflush(out) != 0) {
			rc = wb_error_set(err, WB_ERR_IO, "writing output: %s",
					  strerror(errno));
			goto done;
		}
	}
	goto done;
torn:
	if (s->opt && s->opt->stop && *s->opt->stop)
		goto done; /* interrupted while following */
	if (s->shrunk) {
		rc = wb_error_set(
			err, WB_ERR_RUNTIME,
			"%s: the file shrank below byte %" PRIu64
			" while followed (a restart of waybill "
			"truncated it to its last checkpointed block); "
			"follow it again to read on",
			name, s->pos);
		goto done;
	}
	rc = wb_error_set(err, WB_ERR_DECODE,
			  "%s: torn block at byte %" PRIu64
			  ": the file ends inside a block (still being "
			  "written, or cut by a crash)",
			  name, at);
	goto done;
bad_header:
	rc = wb_error_set(err, WB_ERR_DECODE,
			  "%s: bad or truncated header (byte %" PRIu64 ")",
			  name, s->pos);
done:
	if (fflush(out) != 0 && rc == WB_OK)
		rc = wb_error_set(err, WB_ERR_IO, "writing output: %s",
				  strerror(errno));
	if (cs.zs_ready)
		inflateEnd(&cs.zs);
	ZSTD_freeDCtx(cs.zd);
	schema_free(&sc);
	json_decref(js);
	free(schema_json);
	free(codec);
	wb_buf_free(&plain);
	wb_buf_free(&line);
	return rc;
}

int wb_avro_cat_buffer(const uint8_t *buf, size_t len, FILE *out,
		       wb_error_t *err)
{
	struct src s = {.mem = buf, .mlen = len, .fsize = (int64_t)len};
	wb_buf_init(&s.tmp);
	int rc = cat(&s, "<buffer>", out, err);
	wb_buf_free(&s.tmp);
	return rc;
}

int wb_avro_cat_path(const char *path, const struct wb_avro_cat_options *o,
		     FILE *out, wb_error_t *err)
{
	bool in = strcmp(path, "-") == 0;
	if (in && o && o->follow)
		return wb_error_set(err, WB_ERR_CONFIG,
				    "--follow needs a file name, not -");
	FILE *f = in ? stdin : fopen(path, "rb");
	if (f == NULL)
		return wb_error_set(err, WB_ERR_IO,
				    "open %s: %s; check the name (complete "
				    "files end in .avro, the one being "
				    "written in .part)",
				    path, strerror(errno));
	struct src s = {.f = f, .fsize = -1, .path = path, .opt = o};
	struct stat st;
	if (!(o && o->follow) && fstat(fileno(f), &st) == 0 &&
	    S_ISREG(st.st_mode))
		s.fsize = st.st_size;
	wb_buf_init(&s.tmp);
	int rc = cat(&s, in ? "<stdin>" : path, out, err);
	wb_buf_free(&s.tmp);
	if (!in)
		fclose(f);
	return rc;
}

int wb_avro_cat_file(const char *path, FILE *out, wb_error_t *err)
{
	return wb_avro_cat_path(path, NULL, out, err);
}

int wb_avro_datum_json(const char *schema_json, const uint8_t *p, size_t n,
		       struct wb_buf *out, wb_error_t *err)
{
	struct schema sc = {0};
	int64_t zero_left = ZERO_ALLOWANCE;
	json_error_t jerr;
	int rc = WB_OK;
	json_t *js = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
	if (js == NULL)
		return wb_error_set(err, WB_ERR_DECODE,
				    "schema is not JSON: %s", jerr.text);
	struct node *root = parse(&sc, js, "", 0);
	if (root == NULL) {
		rc = wb_error_set(err, WB_ERR_DECODE, "bad schema: %s",
				  sc.why ? sc.why : "out of memory");
		goto done;
	}
	for (size_t i = 0; i < sc.nall; i++)
		size_info(sc.all[i], 0);
	struct dec d = {p, n, 0, out, &zero_left, NULL};
	if (dec_value(&d, root, 0) != 0 || out->failed)
		rc = wb_error_set(err, WB_ERR_DECODE, "%s",
				  d.why ? d.why : "out of memory");
	else if (d.pos != d.n)
		rc = wb_error_set(err, WB_ERR_DECODE,
				  "%zu bytes after the datum", d.n - d.pos);
done:
	schema_free(&sc);
	json_decref(js);
	return rc;
}
