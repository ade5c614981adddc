/* mapping.c — mappings at run time: files (and globs) to a set, the check
 * against the source tables, one change to its canonical events and dead
 * letters, and the fingerprint that tells a changed mapping on restart.
 *
 * An event is written field by field in the order of its schema while the
 * expressions are evaluated: the header (event_id, event_type,
 * schema_version, occurred_at, correlation_id, source, mapping) by waybill,
 * each other field by its expression, a record field by its nested plan, a
 * field left out as null (or its default). Should any step fail, the
 * partial event is dropped and a DeadLetter written instead, naming the
 * field and the reason. Expression values live in an arena reset per
 * change; output buffers are kept and reused. */
#include "mapping.h"

#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping_int.h"
#include "valconv.h"

#define CACHE_MAX 4096 /* table versions compiled before starting afresh */

static const char *const dead_letter_fields[] = {
	"event_id", "failed_at", "mapping", "event_type", "field",
	"reason",   "source",	 "change",  NULL,
};

/* ---- the set ---------------------------------------------------------- */

static void compiled_clear(struct wb_mcompiled *c, int nex)
{
	if (c->e != NULL)
		for (int i = 0; i < nex; i++)
			wb_expr_free(c->e[i]);
	free(c->e);
	free(c->error);
	c->e = NULL;
	c->error = NULL;
}

static void cache_clear(struct wb_mappings *m)
{
	for (size_t i = 0; i < m->capcache; i++) {
		struct wb_tcache *t = &m->cache[i];
		if (t->table_id == 0)
			continue;
		for (int j = 0; j < t->n; j++)
			compiled_clear(&t->c[j], m->v[t->c[j].mapping].nex);
		free(t->c);
		free(t->full);
		wb_buf_free(&t->src_head);
		memset(t, 0, sizeof(*t));
	}
	m->ncache = 0;
}

void wb_mappings_free(struct wb_mappings *m)
{
	if (m == NULL)
		return;
	cache_clear(m);
	free(m->cache);
	for (int i = 0; i < m->n; i++)
		wb_mapping_clear(&m->v[i]);
	free(m->v);
	wb_cs_set_free(&m->cs);
	free(m->system);
	free(m->prefix);
	free(m->event_topic);
	free(m->dlq_topic);
	wb_arena_free(&m->arena);
	for (int i = 0; i < 2 * m->capout; i++)
		wb_buf_free(&m->bufs[i]);
	free(m->bufs);
	free(m->out);
	wb_buf_free(&m->scratch);
	wb_buf_free(&m->src_tail);
	free(m);
}

/* Replaces {prefix} and {event} in tmpl; malloc'd. */
static char *topic_of(const char *tmpl, const char *prefix, const char *event)
{
	struct wb_buf b;
	wb_buf_init(&b);
	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "{prefix}", 8) == 0) {
			wb_buf_append(&b, prefix, strlen(prefix));
			p += 8;
		} else if (strncmp(p, "{event}", 7) == 0) {
			wb_buf_append(&b, event, strlen(event));
			p += 7;
		} else {
			wb_buf_append(&b, p, 1);
			p++;
		}
	}
	wb_buf_append(&b, "", 1);
	if (b.failed) {
		wb_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

static int expand(const char *pattern, const char *base, char ***files,
		  int *nfiles, struct wb_mapping_diags *diags)
{
	char path[4096];
	if (pattern[0] == '/' || base == NULL || base[0] == '\0')
		snprintf(path, sizeof(path), "%s", pattern);
	else
		snprintf(path, sizeof(path), "%s/%s", base, pattern);
	bool is_glob = strpbrk(pattern, "*?[") != NULL;
	glob_t g;
	memset(&g, 0, sizeof(g));
	int rc = glob(path, 0, NULL, &g);
	if (rc == GLOB_NOSPACE) {
		globfree(&g);
		return -1;
	}
	if (rc != 0 || g.gl_pathc == 0) {
		globfree(&g);
		return wb_mapping_diag_add(diags, path, 0, 0, "%s",
					   is_glob ? "matches no file"
						   : "no such file") != 0
			       ? -1
			       : 0;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char **v = realloc(*files, (size_t)(*nfiles + 2) * sizeof(*v));
		if (v == NULL) {
			globfree(&g);
			return -1;
		}
		*files = v;
		if ((v[*nfiles] = strdup(g.gl_pathv[i])) == NULL) {
			globfree(&g);
			return -1;
		}
		(*nfiles)++;
	}
	globfree(&g);
	return 0;
}

struct wb_mappings *wb_mappings_load(const char *const *patterns, int n,
				     const struct wb_mapping_options *opt,
				     struct wb_mapping_diags *diags,
				     wb_error_t *err)
{
	struct wb_mappings *m = calloc(1, sizeof(*m));
	char **files = NULL;
	int nfiles = 0, cap = 0;
	int before = diags->n;
	if (m == NULL)
		goto nomem;
	wb_arena_init(&m->arena, 64 << 10);
	wb_buf_init(&m->scratch);
	wb_buf_init(&m->src_tail);
	if (wb_cs_set_load(&m->cs, err) != 0) {
		wb_mappings_free(m);
		return NULL;
	}
	const struct wb_cs_schema *dl = wb_cs_find(&m->cs, "DeadLetter");
	for (int i = 0; dl == NULL || dead_letter_fields[i]; i++)
		if (dl == NULL || i >= dl->root.nfields ||
		    strcmp(dl->root.fields[i].name, dead_letter_fields[i]) !=
			    0) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "the embedded DeadLetter schema does not "
				     "have the fields this build writes");
			wb_mappings_free(m);
			return NULL;
		}
	const char *system = opt->system ? opt->system : "waybill";
	m->system = strdup(system);
	m->prefix = strdup(opt->topic_prefix ? opt->topic_prefix : system);
	m->event_topic =
		strdup(opt->event_topic ? opt->event_topic
					: "{prefix}.canonical.{event}");
	m->dlq_topic =
		topic_of(opt->dlq_topic ? opt->dlq_topic : "{prefix}.dlq",
			 m->prefix ? m->prefix : "", "DeadLetter");
	if (m->system == NULL || m->prefix == NULL || m->event_topic == NULL ||
	    m->dlq_topic == NULL)
		goto nomem;
	for (int i = 0; i < n; i++)
		if (expand(patterns[i], opt->base_dir, &files, &nfiles,
			   diags) != 0)
			goto nomem;
	for (int i = 0; i < nfiles; i++) {
		bool seen = false;
		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(files[i], files[j]) == 0;
		if (seen)
			continue;
		if (wb_mapping_load_file(files[i], &m->cs, &m->v, &m->n, &cap,
					 diags) != 0)
			goto nomem;
	}
	for (int i = 0; i < m->n; i++) {
		struct wb_mapping *mp = &m->v[i];
		for (int j = 0; j < i; j++)
			if (strcmp(m->v[j].name, mp->name) == 0 &&
			    wb_mapping_diag_add(
				    diags, mp->file, mp->line, 1,
				    "mapping %s: the name is taken by the "
				    "mapping at %s:%d",
				    mp->name, m->v[j].file, m->v[j].line) != 0)
				goto nomem;
		char *t = topic_of(mp->topic ? mp->topic : m->event_topic,
				   m->prefix, mp->schema->name);
		if (t == NULL)
			goto nomem;
		free(mp->topic);
		mp->topic = t;
		mp->info.name = mp->name;
		mp->info.version = mp->version;
		mp->info.file = mp->file;
		mp->info.file_hash = mp->hash;
		size_t hn = strlen(mp->name) + strlen(mp->hash) + 16;
		free(mp->header);
		if ((mp->header = malloc(hn)) == NULL)
			goto nomem;
		snprintf(mp->header, hn, "%s %d %s", mp->name, mp->version,
			 mp->hash);
		mp->info.header = mp->header;
		mp->info.event_type = mp->schema->name;
		mp->corr_node =
			wb_cs_field(&mp->schema->root, "correlation_id", NULL);
		wb_buf_init(&mp->head_type);
		wb_buf_init(&mp->head_mapping);
		wb_avro_put_string(&mp->head_type, mp->schema->name);
		wb_avro_put_string(&mp->head_mapping, mp->name);
		wb_avro_put_long(&mp->head_mapping, mp->version);
		if (mp->head_type.failed || mp->head_mapping.failed)
			goto nomem;
	}
	if (m->n == 0 && diags->n == before &&
	    wb_mapping_diag_add(diags, "mappings", 0, 0,
				"no mapping file given") != 0)
		goto nomem;
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	if (diags->n > before) {
		wb_error_set(err, WB_ERR_CONFIG,
			     "%d problem%s in mapping files", diags->n - before,
			     diags->n - before == 1 ? "" : "s");
		wb_mappings_free(m);
		return NULL;
	}
	return m;
nomem:
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	wb_mappings_free(m);
	wb_error_set(err, WB_ERR_NOMEM, "loading mappings: out of memory");
	return NULL;
}

int wb_mappings_count(const struct wb_mappings *m)
{
	return m->n;
}

const struct wb_mapping_info *wb_mappings_info(const struct wb_mappings *m,
					       int i)
{
	return i >= 0 && i < m->n ? &m->v[i].info : NULL;
}

const struct wb_schema *wb_mappings_schema(const struct wb_mappings *m,
					   const char *name)
{
	const struct wb_cs_schema *s = wb_cs_find(&m->cs, name);
	return s ? &s->schema : NULL;
}

/* ---- matching and compiling ---------------------------------------------- */

bool wb_mapping_matches(const struct wb_mapping *mp, const char *full)
{
	for (int i = 0; i < mp->nsources; i++)
		if (fnmatch(mp->sources[i], full, 0) == 0)
			return true;
	return false;
}

bool wb_mappings_match_table(const struct wb_mappings *m, const char *schema,
			     const char *table)
{
	char full[512];
	snprintf(full, sizeof(full), "%s.%s", schema, table);
	for (int i = 0; i < m->n; i++)
		if (wb_mapping_matches(&m->v[i], full))
			return true;
	return false;
}

/* The file coordinates of a position inside expression x. */
static void expr_pos(const struct wb_mexpr *x, int dline, int dcol, int *line,
		     int *col)
{
	if (dline < 1) {
		dline = 1;
		dcol = 1;
	}
	if (dcol < 1)
		dcol = 1;
	if (x->block_indent >= 0) {
		*line = x->line + dline;
		*col = x->block_indent + dcol;
	} else {
		*line = x->line + dline - 1;
		*col = dline == 1 ? x->column + dcol - 1 : dcol;
	}
}

/* Compiles mapping mi for table t into out. Problems go to diags (with
 * positions) when diags is not NULL, else into out->error. Returns the
 * number of problems, -1 when out of memory. */
static int compile_for(struct wb_mappings *m, int mi, struct wb_table *t,
		       const struct wb_mapping_table *bt,
		       struct wb_mcompiled *out, struct wb_mapping_diags *diags)
{
	struct wb_mapping *mp = &m->v[mi];
	/* what the source sends as before image (bt NULL: everything) */
	enum wb_expr_before before = WB_EXPR_BEFORE_FULL;
	const char *before_fix = bt ? bt->before_fix : NULL;
	if (bt && bt->before_none_on_update)
		before = strchr(mp->ops, 'u') ? WB_EXPR_BEFORE_NONE
					      : WB_EXPR_BEFORE_FULL;
	else if (bt && !bt->before_complete)
		before = WB_EXPR_BEFORE_KEYS;
	out->mapping = mi;
	out->error = NULL;
	out->e = calloc((size_t)mp->nex + 1, sizeof(*out->e));
	if (out->e == NULL)
		return -1;
	int problems = 0;
	for (int i = 0; i < mp->nex; i++) {
		const struct wb_mexpr *x = &mp->ex[i];
		struct wb_xtype want;
		const struct wb_xtype *wp = NULL;
		if (i == mp->ex_when) {
			memset(&want, 0, sizeof(want));
			want.kind = WB_X_BOOL;
			want.nullable = true;
			wp = &want;
		} else if (x->has_want) {
			want = x->want;
			wp = &want;
		}
		struct wb_expr_diag dg;
		memset(&dg, 0, sizeof(dg));
		out->e[i] = wb_expr_compile_before(x->text, t, wp, true, before,
						   !mp->reject_fallible, &dg);
		if (out->e[i] != NULL)
			continue;
		problems++;
		char hint[400] = "";
		if (before != WB_EXPR_BEFORE_FULL) {
			/* Would it compile with every before column sent?
			 * Then what is missing is the source's setting. */
			struct wb_expr_diag d2;
			struct wb_expr *e2 =
				wb_expr_compile(x->text, t, wp, true, true,
						!mp->reject_fallible, &d2);
			if (e2 != NULL && before_fix != NULL)
				snprintf(hint, sizeof(hint), " (here: %s)",
					 before_fix);
			wb_expr_free(e2);
		}
		dg.message[sizeof(dg.message) - 1] = '\0';
		if (diags != NULL) {
			int line, col;
			expr_pos(x, dg.line, dg.column, &line, &col);
			if (wb_mapping_diag_add(diags, mp->file, line, col,
						"mapping %s, table %s.%s: %s: "
						"%s%s",
						mp->name, t->schema, t->name,
						x->what, dg.message, hint) != 0)
				return -1;
		} else if (out->error == NULL) {
			char msg[1200];
			snprintf(msg, sizeof(msg),
				 "the mapping does not compile against the "
				 "table's columns: %s: %s",
				 x->what, dg.message);
			if ((out->error = strdup(msg)) == NULL)
				return -1;
		}
	}
	return problems;
}

static uint64_t hash_id(uint64_t id)
{
	id ^= id >> 33;
	id *= UINT64_C(0xff51afd7ed558ccd);
	id ^= id >> 33;
	return id;
}

static struct wb_tcache *cache_slot(struct wb_mappings *m, uint64_t id)
{
	size_t mask = m->capcache - 1;
	for (size_t i = hash_id(id) & mask;; i = (i + 1) & mask)
		if (m->cache[i].table_id == id || m->cache[i].table_id == 0)
			return &m->cache[i];
}

static int cache_grow(struct wb_mappings *m)
{
	if (m->ncache >= CACHE_MAX)
		cache_clear(m);
	if (m->capcache != 0 && (m->ncache + 1) * 2 <= m->capcache)
		return 0;
	size_t cap = m->capcache ? m->capcache * 2 : 64;
	struct wb_tcache *old = m->cache;
	size_t oldcap = m->capcache;
	m->cache = calloc(cap, sizeof(*m->cache));
	if (m->cache == NULL) {
		m->cache = old;
		return -1;
	}
	m->capcache = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].table_id != 0)
			*cache_slot(m, old[i].table_id) = old[i];
	free(old);
	return 0;
}

/* The compiled mappings of table version t, compiling them on first use.
 * NULL when out of memory. */
static struct wb_tcache *cache_get(struct wb_mappings *m, struct wb_table *t,
				   const struct wb_mapping_table *bt,
				   struct wb_mapping_diags *diags,
				   int *problems)
{
	uint64_t id = t->id ? t->id : UINT64_MAX;
	if (m->capcache != 0) {
		struct wb_tcache *s = cache_slot(m, id);
		if (s->table_id == id)
			return s;
	}
	if (cache_grow(m) != 0)
		return NULL;
	struct wb_tcache *s = cache_slot(m, id);
	char full[512];
	snprintf(full, sizeof(full), "%s.%s", t->schema, t->name);
	struct wb_tcache e = {.table_id = id, .full = strdup(full)};
	if (e.full == NULL)
		return NULL;
	wb_buf_init(&e.src_head);
	wb_avro_put_string(&e.src_head, m->system);
	wb_avro_put_string(&e.src_head, full);
	if (e.src_head.failed) {
		wb_buf_free(&e.src_head);
		free(e.full);
		return NULL;
	}
	e.c = calloc((size_t)m->n + 1, sizeof(*e.c));
	if (e.c == NULL) {
		wb_buf_free(&e.src_head);
		free(e.full);
		return NULL;
	}
	for (int i = 0; i < m->n; i++) {
		if (!wb_mapping_matches(&m->v[i], full))
			continue;
		int r = compile_for(m, i, t, bt, &e.c[e.n], diags);
		e.n++;
		if (r < 0) {
			for (int j = 0; j < e.n; j++)
				compiled_clear(&e.c[j],
					       m->v[e.c[j].mapping].nex);
			free(e.c);
			free(e.full);
			wb_buf_free(&e.src_head);
			return NULL;
		}
		if (problems != NULL)
			*problems += r;
	}
	*s = e;
	m->ncache++;
	return s;
}

int wb_mappings_check(struct wb_mappings *m, const struct wb_mapping_table *t,
		      int n, struct wb_mapping_diags *diags, wb_error_t *err)
{
	int problems = 0;
	for (int i = 0; i < n; i++) {
		struct wb_table *tb = t[i].table;
		/* A check compiles afresh, with its own idea of before. */
		if (m->capcache != 0) {
			struct wb_tcache *s =
				cache_slot(m, tb->id ? tb->id : UINT64_MAX);
			if (s->table_id != 0) {
				for (int j = 0; j < s->n; j++)
					compiled_clear(
						&s->c[j],
						m->v[s->c[j].mapping].nex);
				free(s->c);
				s->c = NULL;
				s->n = 0;
				/* keep the slot taken (probing); recompile */
				int p = 0;
				char full[512];
				snprintf(full, sizeof(full), "%s.%s",
					 tb->schema, tb->name);
				s->c = calloc((size_t)m->n + 1, sizeof(*s->c));
				if (s->c == NULL)
					goto nomem;
				for (int k = 0; k < m->n; k++) {
					if (!wb_mapping_matches(&m->v[k], full))
						continue;
					int r = compile_for(m, k, tb, &t[i],
							    &s->c[s->n], diags);
					s->n++;
					if (r < 0)
						goto nomem;
					p += r;
				}
				problems += p;
				continue;
			}
		}
		if (cache_get(m, tb, &t[i], diags, &problems) == NULL)
			goto nomem;
	}
	for (int k = 0; k < m->n; k++) {
		struct wb_mapping *mp = &m->v[k];
		bool any = false;
		for (int i = 0; i < n && !any; i++) {
			char full[512];
			snprintf(full, sizeof(full), "%s.%s",
				 t[i].table->schema, t[i].table->name);
			any = wb_mapping_matches(mp, full);
		}
		if (any)
			continue;
		char src[600] = "";
		size_t o = 0;
		for (int i = 0; i < mp->nsources && o < sizeof(src); i++)
			o += (size_t)snprintf(src + o, sizeof(src) - o, "%s%s",
					      i ? ", " : "", mp->sources[i]);
		if (wb_mapping_diag_add(diags, mp->file, mp->source_line,
					mp->source_column,
					"mapping %s: source %s matches none of "
					"the captured tables",
					mp->name, src) != 0)
			goto nomem;
		problems++;
	}
	return problems;
nomem:
	wb_error_set(err, WB_ERR_NOMEM, "checking mappings: out of memory");
	return -1;
}

/* ---- fingerprint ------------------------------------------------------- */

json_t *wb_mappings_fingerprint(const struct wb_mappings *m)
{
	json_t *a = json_array();
	for (int i = 0; a != NULL && i < m->n; i++) {
		const struct wb_mapping *mp = &m->v[i];
		json_t *o = json_pack("{s:s, s:i, s:s, s:s}", "name", mp->name,
				      "version", mp->version, "file", mp->file,
				      "hash", mp->hash);
		if (o == NULL || json_array_append_new(a, o) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

__attribute__((format(printf, 4, 5))) static void
add_line(char *buf, size_t n, size_t *o, const char *fmt, ...)
{
	if (*o >= n)
		return;
	if (*o > 0 && *o + 1 < n) {
		buf[(*o)++] = '\n';
		buf[*o] = '\0';
	}
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *o, n - *o, fmt, ap);
	va_end(ap);
	if (k > 0)
		*o += (size_t)k < n - *o ? (size_t)k : n - *o - 1;
}

int wb_mappings_fingerprint_diff(const struct wb_mappings *m, json_t *old,
				 char *buf, size_t n)
{
	size_t o = 0;
	int diffs = 0;
	if (n > 0)
		buf[0] = '\0';
	for (int i = 0; i < m->n; i++) {
		const struct wb_mapping *mp = &m->v[i];
		json_t *was = NULL;
		size_t k;
		json_t *e;
		json_array_foreach(old, k, e)
		{
			const char *nm =
				json_string_value(json_object_get(e, "name"));
			if (nm != NULL && strcmp(nm, mp->name) == 0)
				was = e;
		}
		if (was == NULL) {
			add_line(buf, n, &o, "mapping %s: new (version %d)",
				 mp->name, mp->version);
			diffs++;
			continue;
		}
		int v0 = (int)json_integer_value(
			json_object_get(was, "version"));
		const char *h0 =
			json_string_value(json_object_get(was, "hash"));
		bool hash_changed = h0 == NULL || strcmp(h0, mp->hash) != 0;
		if (v0 != mp->version && hash_changed)
			add_line(buf, n, &o,
				 "mapping %s: version %d -> %d, file changed",
				 mp->name, v0, mp->version);
		else if (v0 != mp->version)
			add_line(buf, n, &o, "mapping %s: version %d -> %d",
				 mp->name, v0, mp->version);
		else if (hash_changed)
			add_line(buf, n, &o,
				 "mapping %s: file changed, version still %d",
				 mp->name, mp->version);
		else
			continue;
		diffs++;
	}
	size_t k;
	json_t *e;
	json_array_foreach(old, k, e)
	{
		const char *nm = json_string_value(json_object_get(e, "name"));
		bool found = false;
		for (int i = 0; nm != NULL && i < m->n && !found; i++)
			found = strcmp(m->v[i].name, nm) == 0;
		if (nm != NULL && !found) {
			add_line(buf, n, &o, "mapping %s: removed", nm);
			diffs++;
		}
	}
	return diffs;
}

/* ---- values --------------------------------------------------------- */

static const __int128 *pow10s(void)
{
	static __int128 p[39];
	if (p[0] == 0) { /* p[0] last: filled means complete */
		__int128 v = 1;
		for (int i = 1; i < 39; i++) {
			v *= 10;
			p[i] = v;
		}
		p[0] = 1;
	}
	return p;
}

/* Avro bytes or string: the length and the data under one reservation
 * (every field of every event comes through here). */
static void put_str(struct wb_buf *b, const void *s, size_t n)
{
	if (wb_buf_reserve(b, n + 10) != 0)
		return;
	uint8_t *o = b->data + b->len;
	uint64_t z = (uint64_t)n << 1; /* zigzag of a length */
	while (z > 0x7f) {
		*o++ = (uint8_t)((z & 0x7f) | 0x80);
		z >>= 7;
	}
	*o++ = (uint8_t)z;
	if (n > 0)
		memcpy(o, s, n);
	b->len = (size_t)(o - b->data) + n;
}

static void fmt_date(int64_t days, char *buf, size_t n)
{
	int64_t y;
	int mo, d;
	wb_civil_from_days(days, &y, &mo, &d);
	snprintf(buf, n, "%04" PRId64 "-%02d-%02d", y, mo, d);
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" of microseconds since the epoch. */
static void fmt_ts(int64_t us, char *buf, size_t n)
{
	int64_t days = wb_floor_div(us, WB_USECS_PER_DAY);
	int64_t rem = us - days * WB_USECS_PER_DAY;
	char d[32];
	fmt_date(days, d, sizeof(d));
	int64_t s = rem / WB_USECS_PER_SEC, f = rem % WB_USECS_PER_SEC;
	if (f != 0)
		snprintf(buf, n, "%s %02d:%02d:%02d.%06d", d, (int)(s / 3600),
			 (int)(s / 60 % 60), (int)(s % 60), (int)f);
	else
		snprintf(buf, n, "%s %02d:%02d:%02d", d, (int)(s / 3600),
			 (int)(s / 60 % 60), (int)(s % 60));
}

static const char *arena_fmt(struct wb_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *arena_fmt(struct wb_arena *a, const char *fmt, ...)
{
	char tmp[600];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k < 0)
		return "failure";
	char *r = wb_arena_dup(a, tmp, strlen(tmp));
	return r ? r : "out of memory";
}

/* Writes v (of expression type xt) as field f. NULL, or the reason. */
static const char *put_value(struct wb_buf *b, const struct wb_cs_node *f,
			     const struct wb_xtype *xt, const struct wb_xval *v,
			     struct wb_arena *a)
{
	if (v->null || xt->kind == WB_X_NULLTYPE) {
		if (!f->nullable)
			return "null where the schema requires a value";
		wb_avro_put_long(b, f->null_index);
		return NULL;
	}
	size_t mark = b->len;
	if (f->nullable)
		wb_avro_put_long(b, 1 - f->null_index);
	const __int128 *p10 = pow10s();
	char tmp[64];
	switch (f->kind) {
	case WB_CS_BOOL:
		if (xt->kind != WB_X_BOOL)
			break;
		wb_avro_put_bool(b, v->u.b);
		return NULL;
	case WB_CS_INT:
	case WB_CS_LONG: {
		int64_t i;
		if (xt->kind == WB_X_INT) {
			i = v->u.i;
		} else if (xt->kind == WB_X_DECIMAL) {
			__int128 q = v->u.d / p10[xt->scale];
			if (q * p10[xt->scale] != v->u.d)
				return "not a whole number";
			if (q > INT64_MAX || q < INT64_MIN)
				return "overflow";
			i = (int64_t)q;
		} else {
			break;
		}
		if (f->kind == WB_CS_INT && (i > INT32_MAX || i < INT32_MIN)) {
			b->len = mark;
			return arena_fmt(a,
					 "overflow: %" PRId64
					 " does not fit a 32-bit int",
					 i);
		}
		wb_avro_put_long(b, i);
		return NULL;
	}
	case WB_CS_STRING:
	case WB_CS_ENUM: {
		const char *s;
		size_t n;
		switch (xt->kind) {
		case WB_X_STRING:
			s = v->u.s.p;
			n = v->u.s.n;
			break;
		case WB_X_INT:
			n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64,
					     v->u.i);
			s = tmp;
			break;
		case WB_X_DECIMAL:
			n = wb_xdecimal_text(v->u.d, xt->scale, tmp,
					     sizeof(tmp));
			s = tmp;
			break;
		case WB_X_BOOL:
			s = v->u.b ? "true" : "false";
			n = strlen(s);
			break;
		case WB_X_DATE:
			fmt_date(v->u.date, tmp, sizeof(tmp));
			s = tmp;
			n = strlen(s);
			break;
		case WB_X_TIMESTAMP:
			fmt_ts(v->u.ts, tmp, sizeof(tmp) - 1);
			n = strlen(tmp);
			tmp[n++] = 'Z';
			tmp[n] = '\0';
			s = tmp;
			break;
		default:
			s = NULL;
			n = 0;
		}
		if (s == NULL)
			break;
		if (f->kind == WB_CS_STRING) {
			put_str(b, s, n);
			return NULL;
		}
		for (int i = 0; i < f->nsymbols; i++)
			if (strlen(f->symbols[i]) == n &&
			    memcmp(f->symbols[i], s, n) == 0) {
				wb_avro_put_long(b, i);
				return NULL;
			}
		b->len = mark;
		char desc[300];
		wb_cs_describe(f, desc, sizeof(desc));
		return arena_fmt(a, "'%.*s' is not a %s (%s)",
				 (int)(n > 60 ? 60 : n), s, f->type_name, desc);
	}
	case WB_CS_DECIMAL: {
		__int128 d;
		int sc;
		if (xt->kind == WB_X_INT) {
			d = v->u.i;
			sc = 0;
		} else if (xt->kind == WB_X_DECIMAL) {
			d = v->u.d;
			sc = xt->scale;
		} else {
			break;
		}
		if (sc > 38)
			sc = 38;
		__int128 lim = p10[f->precision];
		if (sc < f->scale) {
			int k = f->scale - sc;
			/* |d| * 10^k < 10^precision or it does not fit */
			if (d >= p10[38 - k] || d <= -p10[38 - k])
				goto overflow;
			d *= p10[k];
		} else if (sc > f->scale) {
			__int128 q = d / p10[sc - f->scale];
			if (q * p10[sc - f->scale] != d) {
				b->len = mark;
				wb_xdecimal_text(v->u.d, sc, tmp, sizeof(tmp));
				return arena_fmt(a,
						 "%s would have to be rounded "
						 "to fit decimal(%d,%d)",
						 tmp, f->precision, f->scale);
			}
			d = q;
		}
		if (d >= lim || d <= -lim)
			goto overflow;
		uint8_t bytes[16];
		size_t len = wb_cs_decimal_bytes(d, bytes);
		put_str(b, bytes, len);
		return NULL;
	overflow:
		b->len = mark;
		if (xt->kind == WB_X_INT)
			snprintf(tmp, sizeof(tmp), "%" PRId64, v->u.i);
		else
			wb_xdecimal_text(v->u.d, sc, tmp, sizeof(tmp));
		return arena_fmt(a, "overflow: %s does not fit decimal(%d,%d)",
				 tmp, f->precision, f->scale);
	}
	case WB_CS_DATE:
		if (xt->kind != WB_X_DATE)
			break;
		wb_avro_put_long(b, v->u.date);
		return NULL;
	case WB_CS_TIMESTAMP:
		if (xt->kind == WB_X_TIMESTAMP) {
			wb_avro_put_long(b, v->u.ts);
			return NULL;
		}
		if (xt->kind == WB_X_DATE) {
			wb_avro_put_long(b,
					 (int64_t)v->u.date * WB_USECS_PER_DAY);
			return NULL;
		}
		break;
	default:
		break;
	}
	b->len = mark;
	char desc[200];
	wb_cs_describe(f, desc, sizeof(desc));
	return arena_fmt(a, "a value of another type than the field's (%s)",
			 desc);
}

/* ---- the change as JSON ------------------------------------------------ */

void wb_mapping_json_string(struct wb_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	wb_buf_append(out, "\"", 1);
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		wb_buf_append(out, s + start, i - start);
		char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
		size_t k = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		}
		wb_buf_append(out, esc, k);
		start = i + 1;
	}
	wb_buf_append(out, s + start, n - start);
	wb_buf_append(out, "\"", 1);
}

static void json_cstr(struct wb_buf *out, const char *s)
{
	wb_mapping_json_string(out, s, strlen(s));
}

void wb_mapping_value_json(const struct wb_column *col,
			   const struct wb_value *v, struct wb_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[80];
	const struct wb_type *t = &col->type;
	if (v->state == WB_VAL_NULL) {
		wb_buf_append(out, "null", 4);
		return;
	}
	if (v->state == WB_VAL_UNREPRESENTABLE) {
		wb_mapping_json_string(out, (const char *)v->u.b.p, v->u.b.n);
		return;
	}
	if (t->is_array) {
		/* the Avro binary of the array, in hex */
		wb_buf_append(out, "{\"avro\": \"", 10);
		for (uint32_t i = 0; i < v->u.b.n; i++) {
			char h[2] = {hex[v->u.b.p[i] >> 4],
				     hex[v->u.b.p[i] & 15]};
			wb_buf_append(out, h, 2);
		}
		wb_buf_append(out, "\"}", 2);
		return;
	}
	switch (t->s.kind) {
	case WB_T_BOOLEAN:
		wb_buf_append(out, v->u.i ? "true" : "false", v->u.i ? 4 : 5);
		return;
	case WB_T_INT:
	case WB_T_LONG:
		if (t->s.logical == WB_L_DATE) {
			fmt_date(v->u.i, tmp, sizeof(tmp));
			json_cstr(out, tmp);
		} else if (t->s.logical == WB_L_TIMESTAMP_MICROS) {
			fmt_ts(v->u.i, tmp, sizeof(tmp) - 4);
			strcat(tmp, "+00");
			json_cstr(out, tmp);
		} else if (t->s.logical == WB_L_LOCAL_TIMESTAMP_MICROS) {
			fmt_ts(v->u.i, tmp, sizeof(tmp));
			json_cstr(out, tmp);
		} else if (t->s.logical == WB_L_TIME_MICROS) {
			int64_t s = v->u.i / WB_USECS_PER_SEC,
				f = v->u.i % WB_USECS_PER_SEC;
			if (f)
				snprintf(tmp, sizeof(tmp),
					 "%02d:%02d:%02d.%06d", (int)(s / 3600),
					 (int)(s / 60 % 60), (int)(s % 60),
					 (int)f);
			else
				snprintf(tmp, sizeof(tmp), "%02d:%02d:%02d",
					 (int)(s / 3600), (int)(s / 60 % 60),
					 (int)(s % 60));
			json_cstr(out, tmp);
		} else {
			snprintf(tmp, sizeof(tmp), "%" PRId64, v->u.i);
			wb_buf_append(out, tmp, strlen(tmp));
		}
		return;
	case WB_T_FLOAT:
	case WB_T_DOUBLE: {
		double d = t->s.kind == WB_T_FLOAT ? (double)v->u.f : v->u.d;
		if (d != d)
			json_cstr(out, "NaN");
		else if (d > 1e308 || d < -1e308)
			json_cstr(out, d > 0 ? "Infinity" : "-Infinity");
		else {
			snprintf(tmp, sizeof(tmp), "%.17g", d);
			wb_buf_append(out, tmp, strlen(tmp));
		}
		return;
	}
	case WB_T_STRING:
		wb_mapping_json_string(out, (const char *)v->u.b.p, v->u.b.n);
		return;
	case WB_T_BYTES:
		if (t->s.logical == WB_L_DECIMAL) {
			struct wb_buf d;
			wb_buf_init(&d);
			if (wb_decimal_to_text(v->u.b.p, v->u.b.n, t->s.scale,
					       &d) == 0 &&
			    !d.failed)
				wb_mapping_json_string(
					out, (const char *)d.data, d.len);
			else
				json_cstr(out, "(decimal too long)");
			wb_buf_free(&d);
			return;
		}
		wb_buf_append(out, "\"\\\\x", 4);
		for (uint32_t i = 0; i < v->u.b.n; i++) {
			char h[2] = {hex[v->u.b.p[i] >> 4],
				     hex[v->u.b.p[i] & 15]};
			wb_buf_append(out, h, 2);
		}
		wb_buf_append(out, "\"", 1);
		return;
	default:
		wb_buf_append(out, "null", 4);
	}
}

static void image_json(const struct wb_table *t, const struct wb_value *img,
		       struct wb_buf *out)
{
	if (img == NULL) {
		wb_buf_append(out, "null", 4);
		return;
	}
	wb_buf_append(out, "{", 1);
	bool first = true;
	for (int i = 0; i < t->ncols; i++) {
		if (img[i].state == WB_VAL_UNCHANGED)
			continue;
		if (!first)
			wb_buf_append(out, ", ", 2);
		first = false;
		json_cstr(out, t->cols[i].name);
		wb_buf_append(out, ": ", 2);
		wb_mapping_value_json(&t->cols[i], &img[i], out);
	}
	wb_buf_append(out, "}", 1);
}

void wb_mapping_change_json(const struct wb_change *c, struct wb_buf *out)
{
	const struct wb_table *t = c->table;
	char op[2] = {(char)c->op, 0};
	wb_buf_append(out, "{\"op\": ", 7);
	json_cstr(out, op);
	wb_buf_append(out, ", \"table\": ", 11);
	struct wb_buf name;
	wb_buf_init(&name);
	wb_buf_append(&name, t->schema, strlen(t->schema));
	wb_buf_append(&name, ".", 1);
	wb_buf_append(&name, t->name, strlen(t->name));
	wb_mapping_json_string(out, name.failed ? "" : (const char *)name.data,
			       name.failed ? 0 : name.len);
	wb_buf_free(&name);
	wb_buf_append(out, ", \"before\": ", 12);
	image_json(t, c->before, out);
	wb_buf_append(out, ", \"after\": ", 11);
	image_json(t, c->after, out);
	wb_buf_append(out, ", \"unchanged\": [", 16);
	bool first = true;
	for (int i = 0; i < t->ncols; i++) {
		bool un = (c->after && c->after[i].state == WB_VAL_UNCHANGED) ||
			  (c->before && c->before[i].state == WB_VAL_UNCHANGED);
		if (!un)
			continue;
		if (!first)
			wb_buf_append(out, ", ", 2);
		first = false;
		json_cstr(out, t->cols[i].name);
	}
	wb_buf_append(out, "]}", 2);
}

/* ---- apply ------------------------------------------------------------ */

struct run {
	struct wb_mappings *m;
	const struct wb_mapping *mp;
	const struct wb_mcompiled *mc;
	const struct wb_expr_row *row;
	const struct wb_change *c;
	const char *table;    /* schema.table */
	const char *position; /* text */
	const char *raw_id;   /* raw event id */
	const char *event_id; /* mapped */
	size_t event_id_len;
	const struct wb_buf *src_head, *src_tail;
	const char *corr; /* correlation id, NUL-terminated */
	size_t corr_len;
	int64_t occurred_at;
	/* failure */
	const char *field;
	const char *reason;
};

static int eval(struct run *r, int i, struct wb_xval *out)
{
	const char *why = NULL;
	if (wb_expr_eval(r->mc->e[i], r->row, &r->m->arena, out, &why) != 0) {
		r->field = r->mp->ex[i].what;
		r->reason = why ? why : "failed";
		return -1;
	}
	return 0;
}

static void put_cstr(struct wb_buf *b, const char *s)
{
	put_str(b, s, strlen(s));
}

static int put_plan(struct run *r, const struct wb_plan *p, struct wb_buf *b)
{
	const struct wb_cs_node *f = p->node;
	switch (p->how) {
	case WB_PLAN_HEADER:
		switch (p->hdr) {
		case WB_HDR_EVENT_ID:
			put_str(b, r->event_id, r->event_id_len);
			break;
		case WB_HDR_EVENT_TYPE:
			wb_buf_append(b, r->mp->head_type.data,
				      r->mp->head_type.len);
			break;
		case WB_HDR_SCHEMA_VERSION:
			wb_avro_put_long(b, r->mp->schema->version);
			break;
		case WB_HDR_OCCURRED_AT:
			wb_avro_put_long(b, r->occurred_at);
			break;
		case WB_HDR_CORRELATION_ID:
			put_str(b, r->corr, r->corr_len);
			break;
		case WB_HDR_SOURCE:
			wb_buf_append(b, r->src_head->data, r->src_head->len);
			wb_buf_append(b, r->src_tail->data, r->src_tail->len);
			break;
		case WB_HDR_MAPPING:
			wb_buf_append(b, r->mp->head_mapping.data,
				      r->mp->head_mapping.len);
			break;
		}
		return 0;
	case WB_PLAN_DEFAULT:
		wb_cs_put_default(b, f);
		return 0;
	case WB_PLAN_RECORD:
		if (f->nullable)
			wb_avro_put_long(b, 1 - f->null_index);
		for (int i = 0; i < p->nsub; i++)
			if (put_plan(r, &p->sub[i], b) != 0)
				return -1;
		return 0;
	case WB_PLAN_ARRAY:
		if (f->nullable)
			wb_avro_put_long(b, 1 - f->null_index);
		if (p->nsub > 0) {
			wb_avro_put_long(b, p->nsub);
			for (int i = 0; i < p->nsub; i++)
				if (put_plan(r, &p->sub[i], b) != 0)
					return -1;
		}
		wb_avro_put_long(b, 0);
		return 0;
	case WB_PLAN_EXPR: {
		struct wb_xval v;
		if (eval(r, p->expr, &v) != 0)
			return -1;
		const char *why =
			put_value(b, f, wb_expr_type(r->mc->e[p->expr]), &v,
				  &r->m->arena);
		if (why != NULL) {
			r->field = r->mp->ex[p->expr].what;
			r->reason = why;
			return -1;
		}
		return 0;
	}
	}
	return 0;
}

static int grow_out(struct wb_mappings *m, int need)
{
	if (need <= m->capout)
		return 0;
	int cap = m->capout ? m->capout : 4;
	while (cap < need)
		cap *= 2;
	struct wb_mapped *o = realloc(m->out, (size_t)cap * sizeof(*o));
	if (o == NULL)
		return -1;
	m->out = o;
	struct wb_buf *b = realloc(m->bufs, (size_t)cap * 2 * sizeof(*b));
	if (b == NULL)
		return -1;
	for (int i = 2 * m->capout; i < 2 * cap; i++)
		wb_buf_init(&b[i]);
	m->bufs = b;
	m->capout = cap;
	return 0;
}

static void put_dead_letter(struct run *r, int64_t now_us, struct wb_buf *b)
{
	wb_buf_reset(b);
	b->failed = 0;
	put_cstr(b, r->event_id);
	wb_avro_put_long(b, now_us);
	put_cstr(b, r->mp->name);
	wb_avro_put_long(b, r->mp->version);
	put_cstr(b, r->mp->schema->name);
	if (r->field != NULL) {
		wb_avro_put_long(b, 1);
		put_cstr(b, r->field);
	} else {
		wb_avro_put_long(b, 0);
	}
	put_cstr(b, r->reason ? r->reason : "failed");
	put_cstr(b, r->m->system);
	put_cstr(b, r->table);
	put_cstr(b, r->position);
	put_cstr(b, r->raw_id);
	struct wb_buf *j = &r->m->scratch;
	wb_buf_reset(j);
	j->failed = 0;
	wb_mapping_change_json(r->c, j);
	wb_avro_put_bytes(b, j->data, j->len);
}

int wb_mappings_apply(struct wb_mappings *m, const struct wb_change *c,
		      const char *position, const char *raw_event_id,
		      int64_t now_us, const struct wb_mapped **out, int *nout,
		      wb_error_t *err)
{
	*out = m->out;
	*nout = 0;
	wb_arena_reset(&m->arena);
	if (c->table == NULL)
		return WB_OK;
	struct wb_tcache *tc = cache_get(m, c->table, NULL, NULL, NULL);
	if (tc == NULL)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "mapping a change: out of memory");
	if (tc->n == 0)
		return WB_OK;
	if (grow_out(m, tc->n) != 0)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "mapping a change: out of memory");
	*out = m->out;
	const char *full = tc->full;
	/* A value the source did not send (unchanged TOAST) is taken from
	 * the before image where there is one, as the raw envelope does, so
	 * that an expression does not read it as NULL. */
	struct wb_change patched;
	const struct wb_change *ec = c;
	const struct wb_table *t = c->table;
	for (int i = 0; c->after != NULL && c->before != NULL && i < t->ncols;
	     i++) {
		if (c->after[i].state != WB_VAL_UNCHANGED)
			continue;
		if (ec == c) {
			struct wb_value *a = wb_arena_alloc(
				&m->arena, (size_t)t->ncols * sizeof(*a));
			if (a == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "mapping a change: out of "
						    "memory");
			memcpy(a, c->after, (size_t)t->ncols * sizeof(*a));
			patched = *c;
			patched.after = a;
			ec = &patched;
		}
		if (c->before[i].state != WB_VAL_UNCHANGED)
			((struct wb_value *)ec->after)[i] = c->before[i];
	}
	struct wb_expr_row row = {ec, position, now_us};
	struct wb_buf *tail = &m->src_tail;
	wb_buf_reset(tail);
	tail->failed = 0;
	wb_avro_put_string(tail, position);
	wb_avro_put_string(tail, raw_event_id);
	if (tail->failed)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "mapping a change: out of memory");
	size_t rl = strlen(raw_event_id);
	int n = 0;
	for (int k = 0; k < tc->n; k++) {
		const struct wb_mcompiled *mc = &tc->c[k];
		struct wb_mapping *mp = &m->v[mc->mapping];
		if (strchr(mp->ops, (char)c->op) == NULL || c->op == 0)
			continue;
		struct run r = {
			.m = m,
			.mp = mp,
			.mc = mc,
			.row = &row,
			.c = c,
			.table = full,
			.position = position,
			.raw_id = raw_event_id,
		};
		size_t nl = strlen(mp->name);
		char *id = wb_arena_alloc(&m->arena, rl + nl + 2);
		if (id == NULL)
			return wb_error_set(err, WB_ERR_NOMEM,
					    "mapping a change: out of memory");
		memcpy(id, raw_event_id, rl);
		id[rl] = '#';
		memcpy(id + rl + 1, mp->name, nl + 1);
		r.event_id = id;
		r.event_id_len = rl + 1 + nl;
		r.src_head = &tc->src_head;
		r.src_tail = tail;
		struct wb_buf *vb = &m->bufs[2 * n], *kb = &m->bufs[2 * n + 1];
		wb_buf_reset(vb);
		vb->failed = 0;
		wb_buf_reset(kb);
		kb->failed = 0;
		int failed = 0;
		if (mc->error != NULL) {
			r.reason = mc->error;
			failed = 1;
		}
		struct wb_xval v;
		if (!failed && mp->ex_when >= 0) {
			if (eval(&r, mp->ex_when, &v) != 0)
				failed = 1;
			else if (v.null || !v.u.b)
				continue;
		}
		if (!failed) {
			if (eval(&r, mp->ex_corr, &v) != 0) {
				failed = 1;
			} else if (v.null) {
				r.field = "correlation_id";
				r.reason = "null where the schema requires a "
					   "value";
				failed = 1;
			} else {
				/* a string, or another type as text */
				const struct wb_xtype *xt =
					wb_expr_type(mc->e[mp->ex_corr]);
				struct wb_buf *s = &m->scratch;
				wb_buf_reset(s);
				s->failed = 0;
				const char *why = put_value(s, mp->corr_node,
							    xt, &v, &m->arena);
				int64_t len = 0;
				size_t hl =
					why ? 0
					    : wb_avro_get_long(s->data, s->len,
							       &len);
				if (why != NULL || hl == 0 || s->failed) {
					r.field = "correlation_id";
					r.reason = why ? why : "out of memory";
					failed = 1;
				} else {
					r.corr = wb_arena_dup(&m->arena,
							      s->data + hl,
							      (size_t)len);
					r.corr_len = (size_t)len;
					if (r.corr == NULL)
						return wb_error_set(
							err, WB_ERR_NOMEM,
							"out of memory");
				}
			}
		}
		if (!failed) {
			r.occurred_at =
				c->commit_ts_us ? c->commit_ts_us : now_us;
			if (mp->ex_occ >= 0) {
				if (eval(&r, mp->ex_occ, &v) != 0) {
					failed = 1;
				} else if (v.null) {
					r.field = "occurred_at";
					r.reason = "null where the schema "
						   "requires a value";
					failed = 1;
				} else {
					const struct wb_xtype *xt =
						wb_expr_type(mc->e[mp->ex_occ]);
					r.occurred_at =
						xt->kind == WB_X_DATE
							? (int64_t)v.u.date *
								  WB_USECS_PER_DAY
							: v.u.ts;
				}
			}
		}
		if (!failed && put_plan(&r, &mp->root, vb) != 0)
			failed = 1;
		struct wb_mapped *o = &m->out[n];
		memset(o, 0, sizeof(*o));
		o->mapping = &mp->info;
		o->event_type = mp->schema->name;
		o->event_id = r.event_id;
		if (failed) {
			put_dead_letter(&r, now_us, vb);
			o->dead_letter = true;
			o->topic = m->dlq_topic;
			o->key = (const uint8_t *)r.event_id;
			o->key_len = strlen(r.event_id);
			o->schema = wb_mappings_schema(m, "DeadLetter");
			o->field = r.field;
			o->reason = r.reason ? r.reason : "failed";
			mp->info.dead_letters++;
		} else {
			o->topic = mp->topic;
			o->correlation_id = r.corr;
			o->key = (const uint8_t *)r.corr;
			o->key_len = r.corr_len;
			o->schema = &mp->schema->schema;
			mp->info.events++;
		}
		put_str(kb, o->key, o->key_len);
		o->key_avro = kb->data;
		o->key_avro_len = kb->len;
		o->key_schema = &m->cs.key_schema;
		o->value = vb->data;
		o->value_len = vb->len;
		if (vb->failed || kb->failed)
			return wb_error_set(err, WB_ERR_NOMEM,
					    "mapping a change: out of memory");
		n++;
	}
	*nout = n;
	return WB_OK;
}
