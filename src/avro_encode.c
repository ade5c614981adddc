/* avro_encode.c — change records to Avro binary events (envelope and key).
 *
 * The envelope is written field by field straight into a reused buffer, in
 * the order of the schema avro_schema.c builds:
 *   before  union {null, Row}     0 | 2 Row
 *   after   union {null, Row}     0 | 2 Row
 *   op      string                02 <op>
 *   source  record                connector name db schema table (cached
 *                                 bytes per table version), position,
 *                                 txid union, gtid union, ts_ms, snapshot,
 *                                 detected_delete
 *   ts_ms   long                  wall clock at encoding
 *   event_id string               <pipeline>:<position>
 *   unchanged array<string>       count, names, 0 (or just 0)
 *   unrepresentable array<string> count, names, 0 (or just 0)
 *   unrepresentable_text map<map<string>>
 *                                 count, ("before"|"after", count, (name,
 *                                 text)..., 0)..., 0 (or just 0)
 * A Row is its columns in table order, each "0" (null) or "2 value" when the
 * column's field is a union with null, the bare value otherwise. A value
 * the Avro type cannot hold (WB_VAL_UNREPRESENTABLE) is written as null
 * (such columns are always nullable in the row schema) and named in
 * `unrepresentable`, its text in `unrepresentable_text`; in the key its
 * field has a last "string" branch that holds the text. Nothing is
 * allocated per event once the buffers have grown to the largest event
 * seen. */
#include "clock.h"
#include "avro_encode.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_schema.h"
#include "buf.h"
#include "log.h"

/* A value of WB_ENC_HOLE_MIN bytes or more is not copied into the
 * envelope's buffer: the buffer gets its length, the hole records where its
 * bytes go, and the event hands the envelope over in parts (the buffer's
 * pieces and the values' own bytes, which live in the batch), so that a
 * large value is held once, not once more per buffer. */
#define WB_ENC_HOLE_MIN (64 * 1024)

struct hole {
	size_t off; /* where in the buffer the bytes belong */
	const uint8_t *p;
	size_t n;
};

struct wb_encoder {
	uint64_t id;
	char *pipeline;
	size_t pipeline_len;
	char *topic_prefix;
	char *connector;
	void (*format_position)(const wb_position_t *pos, char *buf, size_t n);
	struct wb_buf key;
	struct wb_buf value;
	struct wb_buf old_key, old_value; /* a key-changing update's old key */
	struct wb_buf event_id;
	char position[256];
	int64_t now_ms; /* processing time set by the caller; 0: read the clock
			 */
	/* the event's large values, not copied into value (see holes) */
	struct hole *holes;
	size_t nholes, capholes;
	struct wb_span *parts;
	size_t capparts;
};

/* What a table version keeps for the encoder (table->enc_cache). */
struct enc_cache {
	struct wb_table_schemas s;
	char *topic_prefix;  /* the prefix the schemas were built with */
	uint64_t encoder_id; /* the encoder source_head was written for */
	struct wb_buf
		source_head; /* Avro of source.connector .. source.table */
	int nkeys;
	int *keys;	 /* indexes of the key columns */
	uint8_t *warned; /* per column: an unrepresentable value was logged */
};

static atomic_uint_fast64_t next_encoder_id = 1;

static void default_format_position(const wb_position_t *pos, char *buf,
				    size_t n)
{
	snprintf(buf, n, "%" PRIu64 ":%" PRIu64, pos->major, pos->minor);
}

struct wb_encoder *wb_encoder_new(const struct wb_encoder_config *cfg,
				  wb_error_t *err)
{
	struct wb_encoder *e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto nomem;
	e->id = atomic_fetch_add(&next_encoder_id, 1);
	e->pipeline = strdup(cfg->pipeline ? cfg->pipeline : "");
	e->topic_prefix = strdup(cfg->topic_prefix ? cfg->topic_prefix
				 : e->pipeline	   ? e->pipeline
						   : "");
	e->connector = strdup(cfg->connector ? cfg->connector : "");
	if (!e->pipeline || !e->topic_prefix || !e->connector)
		goto nomem;
	e->pipeline_len = strlen(e->pipeline);
	e->format_position = cfg->format_position ? cfg->format_position
						  : default_format_position;
	wb_buf_init(&e->key);
	wb_buf_init(&e->value);
	wb_buf_init(&e->old_key);
	wb_buf_init(&e->old_value);
	wb_buf_init(&e->event_id);
	return e;
nomem:
	wb_encoder_free(e);
	wb_error_set(err, WB_ERR_NOMEM, "encoder: out of memory");
	return NULL;
}

void wb_encoder_free(struct wb_encoder *e)
{
	if (e == NULL)
		return;
	wb_buf_free(&e->key);
	wb_buf_free(&e->value);
	wb_buf_free(&e->old_key);
	wb_buf_free(&e->old_value);
	wb_buf_free(&e->event_id);
	free(e->holes);
	free(e->parts);
	free(e->pipeline);
	free(e->topic_prefix);
	free(e->connector);
	free(e);
}

static void enc_cache_free(void *p)
{
	struct enc_cache *ec = p;
	if (ec == NULL)
		return;
	wb_table_schemas_free(&ec->s);
	wb_buf_free(&ec->source_head);
	free(ec->topic_prefix);
	free(ec->keys);
	free(ec->warned);
	free(ec);
}

static int write_source_head(struct wb_encoder *e, const struct wb_table *t,
			     struct enc_cache *ec, wb_error_t *err)
{
	struct wb_buf *b = &ec->source_head;
	wb_buf_reset(b);
	wb_avro_put_string(b, e->connector);
	wb_avro_put_bytes(b, e->pipeline, e->pipeline_len);
	wb_avro_put_string(b, t->db);
	wb_avro_put_string(b, t->schema);
	wb_avro_put_string(b, t->name);
	if (b->failed) {
		b->failed = 0;
		return wb_error_set(err, WB_ERR_NOMEM,
				    "encoder: out of memory");
	}
	ec->encoder_id = e->id;
	return WB_OK;
}

static struct enc_cache *get_cache(struct wb_encoder *e, struct wb_table *t,
				   wb_error_t *err)
{
	struct enc_cache *ec = t->enc_cache;
	if (ec != NULL) {
		if (t->enc_cache_free != enc_cache_free) {
			wb_error_set(err, WB_ERR_RUNTIME,
				     "table %s.%s: enc_cache belongs to "
				     "another module",
				     t->schema, t->name);
			return NULL;
		}
		if (ec->encoder_id == e->id)
			return ec;
		/* Another encoder: the schemas still serve it if they were
		 * built with the same prefix; the source names may differ. */
		if (strcmp(ec->topic_prefix, e->topic_prefix) == 0)
			return write_source_head(e, t, ec, err) == WB_OK ? ec
									 : NULL;
		enc_cache_free(ec);
		t->enc_cache = NULL;
		t->enc_cache_free = NULL;
	}

	ec = calloc(1, sizeof(*ec));
	if (ec == NULL)
		goto nomem;
	wb_buf_init(&ec->source_head);
	ec->topic_prefix = strdup(e->topic_prefix);
	ec->keys = calloc((size_t)(t->ncols > 0 ? t->ncols : 1),
			  sizeof(*ec->keys));
	ec->warned = calloc((size_t)(t->ncols > 0 ? t->ncols : 1), 1);
	if (ec->topic_prefix == NULL || ec->keys == NULL || ec->warned == NULL)
		goto nomem;
	for (int i = 0; i < t->ncols; i++)
		if (t->cols[i].key)
			ec->keys[ec->nkeys++] = i;
	if (wb_table_schemas_build(t, e->topic_prefix, &ec->s, err) != WB_OK)
		goto fail;
	if (write_source_head(e, t, ec, err) != WB_OK)
		goto fail;
	t->enc_cache = ec;
	t->enc_cache_free = enc_cache_free;
	return ec;
nomem:
	wb_error_set(err, WB_ERR_NOMEM, "encoder: out of memory");
fail:
	enc_cache_free(ec);
	return NULL;
}

const struct wb_table_schemas *
wb_encoder_schemas(struct wb_encoder *e, struct wb_table *t, wb_error_t *err)
{
	struct enc_cache *ec = get_cache(e, t, err);
	return ec ? &ec->s : NULL;
}

/* ---- values --------------------------------------------------------- */

static inline void put_byte(struct wb_buf *b, uint8_t c)
{
	if (b->len < b->cap)
		b->data[b->len++] = c;
	else
		wb_buf_append(b, &c, 1);
}

/* The value a non-nullable column gets when the source gave none. */
static void put_zero(struct wb_buf *b, const struct wb_type *ty)
{
	static const uint8_t zeros[8];
	if (ty->is_array) {
		put_byte(b, 0); /* empty array */
		return;
	}
	switch (ty->s.kind) {
	case WB_T_FLOAT:
		wb_buf_append(b, zeros, 4);
		break;
	case WB_T_DOUBLE:
		wb_buf_append(b, zeros, 8);
		break;
	case WB_T_STRING:
	case WB_T_BYTES:
		if (ty->s.logical == WB_L_DECIMAL) {
			/* unscaled 0 is one byte, 0x00 */
			static const uint8_t dec0[2] = {2, 0};
			wb_buf_append(b, dec0, 2);
			break;
		}
		put_byte(b, 0);
		break;
	default: /* boolean false, int/long 0 */
		put_byte(b, 0);
		break;
	}
}

/* Bytes p[0..n) into b, or a hole for them when h (the encoder taking
 * holes) is given and they are many. */
static void put_raw(struct wb_buf *b, struct wb_encoder *h, const uint8_t *p,
		    size_t n)
{
	if (h == NULL || n < WB_ENC_HOLE_MIN) {
		wb_buf_append(b, p, n);
		return;
	}
	if (h->nholes == h->capholes) {
		size_t cap = h->capholes ? h->capholes * 2 : 4;
		struct hole *nh = realloc(h->holes, cap * sizeof(*nh));
		if (nh == NULL) {
			b->failed = 1;
			return;
		}
		h->holes = nh;
		h->capholes = cap;
	}
	h->holes[h->nholes++] = (struct hole){b->len, p, n};
}

static void put_value(struct wb_buf *b, const struct wb_type *ty,
		      const struct wb_value *v, struct wb_encoder *h)
{
	if (ty->is_array) {
		/* already the Avro encoding of the whole array */
		if (v->u.b.n == 0)
			put_byte(b, 0);
		else
			put_raw(b, h, v->u.b.p, v->u.b.n);
		return;
	}
	switch (ty->s.kind) {
	case WB_T_BOOLEAN:
		put_byte(b, v->u.i ? 1 : 0);
		break;
	case WB_T_FLOAT:
		wb_avro_put_float(b, v->u.f);
		break;
	case WB_T_DOUBLE:
		wb_avro_put_double(b, v->u.d);
		break;
	case WB_T_STRING:
	case WB_T_BYTES:
		wb_avro_put_long(b, (int64_t)v->u.b.n);
		put_raw(b, h, v->u.b.p, v->u.b.n);
		break;
	default: /* int, long and the logical types on them */
		wb_avro_put_long(b, v->u.i);
		break;
	}
}

/* One row field: v NULL or not PRESENT means "no value". */
static inline void put_field(struct wb_buf *b, const struct wb_column *col,
			     const struct wb_value *v, struct wb_encoder *h)
{
	int opt = wb_type_avro_nullable(&col->type, col->nullable);
	if (v != NULL && v->state == WB_VAL_PRESENT) {
		if (opt)
			put_byte(b, 2);
		put_value(b, &col->type, v, h);
	} else if (opt) {
		put_byte(b, 0);
	} else {
		put_zero(b, &col->type);
	}
}

/* One key field: [null,] T [, string] (see avro_schema.c). */
static void put_key_field(struct wb_buf *b, const struct wb_column *col,
			  const struct wb_value *v)
{
	int opt = col->nullable, str = col->type.may_not_fit;
	if (v != NULL && v->state == WB_VAL_UNREPRESENTABLE && str) {
		put_byte(b, opt ? 4 : 2); /* the last branch, zigzag */
		wb_avro_put_bytes(b, v->u.b.p, v->u.b.n);
		return;
	}
	if (v != NULL && v->state == WB_VAL_PRESENT) {
		if (opt)
			put_byte(b, 2);
		else if (str)
			put_byte(b, 0);
		put_value(b, &col->type, v, NULL);
	} else if (opt) {
		put_byte(b, 0);
	} else {
		if (str)
			put_byte(b, 0);
		put_zero(b, &col->type);
	}
}

/* A row image. An UNCHANGED value takes the value from `prior` (the before
 * image) when prior carries one. h: the encoder taking holes, or NULL. */
static void put_row(struct wb_buf *b, const struct wb_table *t,
		    const struct wb_value *img, const struct wb_value *prior,
		    struct wb_encoder *h)
{
	for (int i = 0; i < t->ncols; i++) {
		const struct wb_value *v = &img[i];
		if (v->state == WB_VAL_UNCHANGED && prior != NULL &&
		    prior[i].state != WB_VAL_UNCHANGED)
			v = &prior[i];
		put_field(b, &t->cols[i], v, h);
	}
}

static void put_key(struct wb_buf *b, const struct wb_table *t,
		    const struct enc_cache *ec, const struct wb_value *img,
		    const struct wb_value *other)
{
	for (int k = 0; k < ec->nkeys; k++) {
		int i = ec->keys[k];
		const struct wb_value *v = img ? &img[i] : NULL;
		if ((v == NULL || v->state == WB_VAL_UNCHANGED) &&
		    other != NULL && other[i].state != WB_VAL_UNCHANGED)
			v = &other[i];
		put_key_field(b, &t->cols[i], v);
	}
}

/* Column i's value in image img, an UNCHANGED one taken from prior. */
static inline const struct wb_value *
resolved(const struct wb_value *img, const struct wb_value *prior, int i)
{
	if (img[i].state == WB_VAL_UNCHANGED && prior != NULL &&
	    prior[i].state != WB_VAL_UNCHANGED)
		return &prior[i];
	return &img[i];
}

/* Logs the first unrepresentable value of each column of a table version. */
static void warn_unrep(struct enc_cache *ec, const struct wb_table *t, int i,
		       const struct wb_value *v)
{
	if (ec->warned[i])
		return;
	ec->warned[i] = 1;
	int n = v->u.b.n > 60 ? 60 : (int)v->u.b.n;
	while (n > 0 && n < (int)v->u.b.n && (v->u.b.p[n] & 0xc0) == 0x80)
		n--; /* do not cut a UTF-8 sequence */
	wb_warn("encoder",
		"%s.%s.%s: value \"%.*s\"%s has no Avro form in the column's "
		"type; written as null, named in `unrepresentable` with its "
		"text in `unrepresentable_text` (logged once per column)",
		t->schema, t->name, t->cols[i].name, n, (const char *)v->u.b.p,
		n < (int)v->u.b.n ? "..." : "");
}

/* Number of unrepresentable values in image img (prior fills UNCHANGED). */
static int64_t count_unrep(struct enc_cache *ec, const struct wb_table *t,
			   const struct wb_value *img,
			   const struct wb_value *prior)
{
	int64_t n = 0;
	for (int i = 0; img && i < t->ncols; i++) {
		const struct wb_value *v = resolved(img, prior, i);
		if (v->state == WB_VAL_UNREPRESENTABLE) {
			warn_unrep(ec, t, i, v);
			n++;
		}
	}
	return n;
}

/* One entry of unrepresentable_text: "before"/"after" -> {column: text}. */
static void put_unrep_texts(struct wb_buf *b, const char *image,
			    const struct wb_table *t,
			    const struct wb_value *img,
			    const struct wb_value *prior, int64_t n)
{
	wb_avro_put_string(b, image);
	wb_avro_put_long(b, n);
	for (int i = 0; i < t->ncols; i++) {
		const struct wb_value *v = resolved(img, prior, i);
		if (v->state == WB_VAL_UNREPRESENTABLE) {
			wb_avro_put_string(b, t->cols[i].name);
			wb_avro_put_bytes(b, v->u.b.p, v->u.b.n);
		}
	}
	put_byte(b, 0);
}

/* ---- events --------------------------------------------------------- */

/* The envelope of a change with the given images and op into b; large
 * values as holes when b is e->value. */
static void put_envelope(struct wb_encoder *e, struct enc_cache *ec,
			 const struct wb_table *t, const struct wb_change *c,
			 const struct wb_value *before,
			 const struct wb_value *after, uint8_t op, size_t plen,
			 struct wb_buf *b)
{
	struct wb_buf *id = &e->event_id;
	struct wb_encoder *h = b == &e->value ? e : NULL;
	if (h)
		e->nholes = 0;
	wb_buf_reset(b);
	b->failed = 0;
	if (before != NULL) {
		put_byte(b, 2);
		put_row(b, t, before, NULL, h);
	} else {
		put_byte(b, 0);
	}
	if (after != NULL) {
		put_byte(b, 2);
		put_row(b, t, after, before, h);
	} else {
		put_byte(b, 0);
	}
	uint8_t opb[2] = {2, op};
	wb_buf_append(b, opb, 2);

	wb_buf_append(b, ec->source_head.data, ec->source_head.len);
	wb_avro_put_bytes(b, e->position, plen);
	if (c->txid != 0) {
		put_byte(b, 2);
		wb_avro_put_long(b, (int64_t)c->txid);
	} else {
		put_byte(b, 0);
	}
	if (c->gtid != NULL) {
		put_byte(b, 2);
		wb_avro_put_string(b, c->gtid);
	} else {
		put_byte(b, 0);
	}
	wb_avro_put_long(b, c->commit_ts_us / 1000);
	put_byte(b, c->snapshot ? 1 : 0);
	put_byte(b, c->detected_delete ? 1 : 0);

	int64_t now_ms = e->now_ms;
	if (now_ms == 0)
		now_ms = wb_clock_real_ms();
	wb_avro_put_long(b, now_ms);
	wb_avro_put_bytes(b, id->data, id->len - 1);

	/* Values the source did not send, named so that nobody mistakes the
	 * null/zero written for them for real ones. Without an after image,
	 * the before image is the one that tells. */
	const struct wb_value *img = after ? after : before;
	int64_t nunchanged = 0;
	for (int i = 0; img && i < t->ncols; i++)
		nunchanged += img[i].state == WB_VAL_UNCHANGED;
	if (nunchanged > 0) {
		wb_avro_put_long(b, nunchanged);
		for (int i = 0; i < t->ncols; i++)
			if (img[i].state == WB_VAL_UNCHANGED)
				wb_avro_put_string(b, t->cols[i].name);
	}
	put_byte(b, 0);

	/* Values the Avro types cannot hold, written as null: named for the
	 * image the event is about (as `unchanged`), their text kept for
	 * both images. The after image's UNCHANGED values are those of the
	 * before image, as put_row writes them. */
	int64_t nbefore = count_unrep(ec, t, before, NULL);
	int64_t nafter = count_unrep(ec, t, after, before);
	int64_t nmain = after ? nafter : nbefore;
	if (nmain > 0) {
		const struct wb_value *prior = after ? before : NULL;
		wb_avro_put_long(b, nmain);
		for (int i = 0; i < t->ncols; i++)
			if (resolved(img, prior, i)->state ==
			    WB_VAL_UNREPRESENTABLE)
				wb_avro_put_string(b, t->cols[i].name);
	}
	put_byte(b, 0);
	if (nbefore + nafter > 0) {
		wb_avro_put_long(b, (nbefore > 0) + (nafter > 0));
		if (nbefore > 0)
			put_unrep_texts(b, "before", t, before, NULL, nbefore);
		if (nafter > 0)
			put_unrep_texts(b, "after", t, after, before, nafter);
	}
	put_byte(b, 0);
}

/* The envelope in e->value with its holes filled, as parts: the buffer's
 * pieces between the holes and the holes' bytes. 0 or -1 (out of
 * memory). */
static int make_parts(struct wb_encoder *e, struct wb_event *ev)
{
	size_t need = 2 * e->nholes + 1;
	if (need > e->capparts) {
		struct wb_span *p = realloc(e->parts, need * sizeof(*p));
		if (p == NULL)
			return -1;
		e->parts = p;
		e->capparts = need;
	}
	const struct wb_buf *b = &e->value;
	size_t k = 0, at = 0, total = b->len;
	for (size_t i = 0; i < e->nholes; i++) {
		const struct hole *h = &e->holes[i];
		e->parts[k++] = (struct wb_span){b->data + at, h->off - at};
		e->parts[k++] = (struct wb_span){h->p, h->n};
		at = h->off;
		total += h->n;
	}
	e->parts[k++] = (struct wb_span){b->data + at, b->len - at};
	ev->value = NULL;
	ev->value_parts = e->parts;
	ev->nvalue_parts = k;
	ev->value_len = total;
	return 0;
}

int wb_encoder_encode(struct wb_encoder *e, const struct wb_change *c,
		      struct wb_event *ev, wb_error_t *err)
{
	struct wb_table *t = c->table;
	switch (c->op) {
	case WB_OP_INSERT:
	case WB_OP_UPDATE:
	case WB_OP_DELETE:
	case WB_OP_READ:
	case WB_OP_TRUNCATE:
		break;
	default:
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "encoder: op '%c' is not a row change",
				    c->op);
	}
	if (t == NULL)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "encoder: change without a table");
	struct enc_cache *ec = get_cache(e, t, err);
	if (ec == NULL)
		return err ? err->code : WB_ERR_RUNTIME;

	const int truncate = c->op == WB_OP_TRUNCATE;
	const struct wb_value *before = truncate ? NULL : c->before;
	const struct wb_value *after = truncate ? NULL : c->after;

	e->position[0] = '\0';
	e->format_position(&c->pos, e->position, sizeof(e->position));
	size_t plen = strnlen(e->position, sizeof(e->position) - 1);
	e->position[plen] = '\0';

	struct wb_buf *id = &e->event_id;
	wb_buf_reset(id);
	id->failed = 0;
	wb_buf_append(id, e->pipeline, e->pipeline_len);
	wb_buf_append(id, ":", 1);
	wb_buf_append(id, e->position, plen + 1);

	/* Key: the row's identity after the change, before it for a delete;
	 * the other image fills in what one lacks. */
	struct wb_buf *k = &e->key;
	wb_buf_reset(k);
	k->failed = 0;
	int has_key = ec->nkeys > 0 && !truncate;
	if (has_key) {
		if (c->op == WB_OP_DELETE)
			put_key(k, t, ec, before, after);
		else
			put_key(k, t, ec, after, before);
	}

	struct wb_buf *b = &e->value;
	put_envelope(e, ec, t, c, before, after, c->op, plen, b);

	/* A key-changing update: the old key and a delete envelope for it,
	 * so that a keyed sink can delete the row under its old key. */
	struct wb_buf *ok = &e->old_key, *ov = &e->old_value;
	wb_buf_reset(ok);
	wb_buf_reset(ov);
	ok->failed = ov->failed = 0;
	int key_changed = 0;
	const struct wb_schema *old_key_schema = NULL;
	if (has_key && c->op == WB_OP_UPDATE && before != NULL) {
		put_key(ok, t, ec, before, after);
		key_changed = ok->len != k->len ||
			      memcmp(ok->data, k->data, k->len) != 0;
		if (key_changed)
			put_envelope(e, ec, t, c, before, NULL, WB_OP_DELETE,
				     plen, ov);
	} else if (has_key && c->old_table && c->old_image) {
		/* the table's key changed: the row's key in the previous
		 * version, with that version's key schema, and a delete
		 * envelope of the row */
		struct enc_cache *oc = get_cache(e, c->old_table, err);
		if (oc == NULL)
			return err ? err->code : WB_ERR_RUNTIME;
		if (oc->nkeys > 0) {
			put_key(ok, c->old_table, oc, c->old_image, NULL);
			key_changed =
				oc->s.key.identity != ec->s.key.identity ||
				ok->len != k->len ||
				memcmp(ok->data, k->data, k->len) != 0;
		}
		if (key_changed) {
			put_envelope(e, ec, t, c, after ? after : before, NULL,
				     WB_OP_DELETE, plen, ov);
			if (oc->s.key.identity != ec->s.key.identity)
				old_key_schema = &oc->s.key;
		}
	}

	if (b->failed || k->failed || id->failed || ok->failed || ov->failed)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "encoder: out of memory");

	memset(ev, 0, sizeof(*ev));
	ev->table = t;
	ev->topic = ec->s.topic;
	ev->key_schema = ec->s.key.json ? &ec->s.key : NULL;
	ev->value_schema = &ec->s.value;
	ev->key = has_key ? k->data : NULL;
	ev->key_len = has_key ? k->len : 0;
	if (e->nholes == 0) {
		ev->value = b->data;
		ev->value_len = b->len;
	} else if (make_parts(e, ev) != 0) {
		return wb_error_set(err, WB_ERR_NOMEM,
				    "encoder: out of memory");
	}
	if (key_changed) {
		ev->old_key = ok->data;
		ev->old_key_len = ok->len;
		ev->old_value = ov->data;
		ev->old_value_len = ov->len;
		ev->old_key_schema = old_key_schema;
	}
	ev->pos = c->pos;
	ev->position = e->position;
	ev->event_id = (const char *)id->data;
	ev->op = c->op;
	return WB_OK;
}

void wb_encoder_set_now(struct wb_encoder *e, int64_t now_ms)
{
	e->now_ms = now_ms;
}
