/* config.c — loads a pipeline YAML file; errors name file, line and key. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "buf.h"

#define WB_CONFIG_NAME_MAX 40
#define WB_CONFIG_SLOT_MAX 63	      /* PostgreSQL's NAMEDATALEN - 1 */
#define WB_CONFIG_FILE_MAX (16 << 20) /* refuse junk, not configs */
#define WB_CONFIG_DEPTH_MAX 16	      /* nested maps flattened into extra */
/* Aliases can make a small file expand to an enormous tree ("billion
 * laughs"), or even a cyclic one; flattening stops at this many keys. */
#define WB_CONFIG_EXTRA_MAX 4096
#define WB_CONFIG_KEY_MAX 256 /* dotted key shown in messages */
#define WB_CONFIG_SHOW_MAX 60 /* how much of a bad value a message repeats */

struct loader {
	const char *path;
	yaml_document_t *doc;
	wb_error_t *err;
};

/* A scalar value after ${VAR} expansion. */
struct scalar {
	char *text;	 /* owned; NULL when the value is YAML null */
	const char *raw; /* as written in the file, for messages */
	bool from_env;	 /* a ${VAR} was substituted: never show it */
};

struct kv_list {
	struct wb_kv *kv;
	int n;
	int cap;
};

static const char *const top_keys[] = {
	"name",
	"checkpoint_dir",
	"checkpoint_interval",
	"queue_bytes",
	"topic_prefix",
	"emit",
	"mappings",
	"metrics",
	"log_level",
	"log_format",
	"source",
	"sink",
	"status_log_interval",
	NULL,
};
/* The keys of a mysql source besides the common ones (tables, exclude,
 * snapshot, connect_timeout, on_gap, status_interval). */
static const char *const mysql_keys[] = {
	"type",	    "tables",	 "exclude",  "snapshot", "connect_timeout",
	"on_gap",   "host",	 "port",     "socket",	 "user",
	"password", "server_id", "ssl_mode", "ssl_ca",	 "ssl_cert",
	"ssl_key",  "heartbeat", NULL,
};
static const char *const mysql_extra_keys[] = {
	"host",	    "port",   "socket",	  "user",    "password",  "server_id",
	"ssl_mode", "ssl_ca", "ssl_cert", "ssl_key", "heartbeat", NULL,
};
/* The keys of an odbc source. */
static const char *const odbc_keys[] = {
	"type",		 "connection",	    "tables",
	"snapshot",	 "poll_interval",   "time_zone",
	"login_timeout", "query_timeout",   "fetch_rows",
	"chunk_rows",	 "lookback_rows",   "tracking",
	"deletes",	 "connect_timeout", NULL,
};
static const char *const odbc_table_keys[] = {
	"mode",	 "timestamp", "incrementing", "lag", "lookback",
	"query", "deleted",   "horizon",      NULL,
};
static const char *const odbc_modes[] = {
	"bulk", "timestamp", "incrementing", "timestamp+incrementing", NULL,
};
static const char *const odbc_detects[] = {"none", "keyset", NULL};
static const char *const odbc_deletes_keys[] = {"detect", "interval",
						"chunk_rows", NULL};
static const char *const odbc_deleted_keys[] = {"column", "value", NULL};
static const char *const source_keys[] = {
	"type",
	"dsn",
	"tables",
	"exclude",
	"slot",
	"publication",
	"snapshot",
	"decimal_handling",
	"status_interval",
	"connect_timeout",
	"on_gap",
	NULL,
};
static const char *const sink_keys[] = {
	"type",	       "dir",	     "codec",	 "codec_level",
	"block_bytes", "roll_bytes", "roll_age", "flush_interval",
	NULL,
};
static const char *const metrics_keys[] = {"listen", "ready_checkpoint_age",
					   NULL};
static const char *const snapshot_keys[] = {"mode", "chunk_size", "parallelism",
					    NULL};

static const char *const source_types[] = {"postgres", "mysql", "odbc", NULL};
static const char *const sink_types[] = {"avro-file", "kafka", NULL};
static const char *const codecs[] = {"zstandard", "deflate", "null", NULL};
static const char *const snapshot_modes[] = {"initial", "never", "always",
					     "initial_only", NULL};
static const char *const decimal_modes[] = {"string", "double", NULL};
static const char *const on_gap_modes[] = {"stop", "resnapshot", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error",
					 NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const emit_kinds[] = {"raw", "mapped", NULL};

static int line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
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

/* YAML's null: an empty or ~/null plain scalar. A quoted "null" is text. */
static bool is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)n->data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* Copies text for a one-line message: control characters escaped, long
 * text cut. Only ever called on text from the file itself. */
static void show(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (size_t i = 0; s[i] != '\0' && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= WB_CONFIG_SHOW_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '\n' || c == '\t' || c == '\r' || c < 0x20 ||
		    c == 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		} else if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* "got" part of a message: the value as written, unless it came (partly)
 * from the environment, which may hold a secret. */
static void shown_value(char *out, size_t cap, const struct scalar *sc)
{
	if (sc->from_env) {
		snprintf(out, cap, "(value from environment)");
		return;
	}
	char tmp[WB_CONFIG_SHOW_MAX * 4 + 8];
	show(tmp, sizeof(tmp), sc->raw);
	snprintf(out, cap, "\"%s\"", tmp);
}

/* Fills err with "path[:line]: [key: ]message" and returns WB_ERR_CONFIG. */
__attribute__((format(printf, 4, 5))) static int fail(struct loader *ld,
						      const yaml_node_t *n,
						      const char *key,
						      const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char where[32] = "";
	if (n != NULL)
		snprintf(where, sizeof(where), ":%d", line_of(n));
	if (key != NULL)
		return wb_error_set(ld->err, WB_ERR_CONFIG, "%s%s: %s: %s",
				    ld->path, where, key, msg);
	return wb_error_set(ld->err, WB_ERR_CONFIG, "%s%s: %s", ld->path, where,
			    msg);
}

/* "expected <what>, got <the value as shown_value shows it>". */
static int fail_got(struct loader *ld, const yaml_node_t *n, const char *key,
		    const struct scalar *sc, const char *what)
{
	char got[WB_CONFIG_SHOW_MAX * 4 + 32];
	shown_value(got, sizeof(got), sc);
	return fail(ld, n, key, "expected %s, got %s", what, got);
}

static int nomem(struct loader *ld)
{
	return wb_error_set(ld->err, WB_ERR_NOMEM, "%s: out of memory",
			    ld->path);
}

static void join_key(char *out, size_t cap, const char *parent, const char *k)
{
	char tmp[WB_CONFIG_KEY_MAX];
	int n;
	show(tmp, sizeof(tmp), k);
	if (parent == NULL)
		n = snprintf(out, cap, "%s", tmp);
	else
		n = snprintf(out, cap, "%s.%s", parent, tmp);
	/* A cut key still points at the right line; mark it as cut. */
	if (n >= (int)cap && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

/* "key[i]", for a message about one item of a list. */
static void index_key(char *out, size_t cap, const char *key, size_t i)
{
	int n = snprintf(out, cap, "%s[%zu]", key, i);
	if (n >= (int)cap && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

static bool valid_var_name(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Expands ${VAR} from the environment; $${ stands for a literal ${. */
static int expand(struct loader *ld, const yaml_node_t *n, const char *key,
		  struct scalar *sc)
{
	const char *s = sc->raw;
	struct wb_buf b;
	int rc = 0;
	wb_buf_init(&b);
	while (*s != '\0') {
		size_t run = strcspn(s, "$");
		wb_buf_append(&b, s, run);
		s += run;
		if (*s == '\0')
			break;
		if (s[1] == '$' && s[2] == '{') {
			wb_buf_append(&b, "${", 2);
			s += 3;
			continue;
		}
		if (s[1] != '{') {
			wb_buf_append(&b, s, 1);
			s++;
			continue;
		}
		const char *name = s + 2;
		const char *end = strchr(name, '}');
		if (end == NULL) {
			rc = fail(ld, n, key,
				  "unterminated \"${\" (write \"$${\" for a "
				  "literal \"${\")");
			goto done;
		}
		size_t len = (size_t)(end - name);
		char var[WB_CONFIG_KEY_MAX];
		if (!valid_var_name(name, len) || len >= sizeof(var)) {
			char tmp[WB_CONFIG_KEY_MAX];
			char cut[WB_CONFIG_KEY_MAX];
			snprintf(cut, sizeof(cut), "%.*s",
				 (int)(len < 100 ? len : 100), name);
			show(tmp, sizeof(tmp), cut);
			rc = fail(ld, n, key,
				  "invalid environment variable name \"%s\" "
				  "(expected ${NAME} with letters, digits "
				  "and _)",
				  tmp);
			goto done;
		}
		memcpy(var, name, len);
		var[len] = '\0';
		const char *val = getenv(var);
		if (val == NULL) {
			rc = fail(ld, n, key,
				  "environment variable \"%s\" is not set",
				  var);
			goto done;
		}
		wb_buf_append(&b, val, strlen(val));
		sc->from_env = true;
		s = end + 1;
	}
	wb_buf_append(&b, "", 1);
	if (b.failed) {
		rc = nomem(ld);
		goto done;
	}
	sc->text = (char *)b.data;
	b.data = NULL;
done:
	wb_buf_free(&b);
	return rc;
}

/* Reads a scalar value. A YAML null leaves sc->text NULL ("not given"). */
static int get_scalar(struct loader *ld, const yaml_node_t *n, const char *key,
		      struct scalar *sc)
{
	sc->text = NULL;
	sc->from_env = false;
	sc->raw = "";
	if (n->type != YAML_SCALAR_NODE)
		return fail(ld, n, key, "expected a scalar, got %s",
			    kind_of(n));
	sc->raw = (const char *)n->data.scalar.value;
	if (strlen(sc->raw) != n->data.scalar.length)
		return fail(ld, n, key, "value contains a NUL character");
	if (is_null(n))
		return 0;
	return expand(ld, n, key, sc);
}

/* Like get_string, but keeps the text as written: ${VAR} is checked (an
 * unset variable fails here, naming it) but left for the consumer to
 * expand after it has parsed the text (see wb_config_expand). */
static int get_unexpanded(struct loader *ld, const yaml_node_t *n,
			  const char *key, char **dst)
{
	struct scalar sc;
	int rc = get_scalar(ld, n, key, &sc);
	if (rc != 0 || sc.text == NULL)
		return rc;
	free(sc.text);
	char *raw = strdup(sc.raw);
	if (raw == NULL)
		return nomem(ld);
	free(*dst);
	*dst = raw;
	return 0;
}

/* Replaces *dst with the value when one is given. */
static int get_string(struct loader *ld, const yaml_node_t *n, const char *key,
		      char **dst)
{
	struct scalar sc;
	int rc = get_scalar(ld, n, key, &sc);
	if (rc != 0 || sc.text == NULL)
		return rc;
	free(*dst);
	*dst = sc.text;
	return 0;
}

static int choice_index(const char *const *choices, const char *s)
{
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(choices[i], s) == 0)
			return i;
	return -1;
}

static void choice_list(char *out, size_t cap, const char *const *choices)
{
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; choices[i] != NULL && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "",
				      choices[i]);
}

/* *idx is left alone when the value is null. */
static int get_enum(struct loader *ld, const yaml_node_t *n, const char *key,
		    const char *const *choices, int *idx)
{
	/* "codec: null" names the null codec; it is not YAML's null here. */
	int i = choice_index(choices, "null");
	if (i >= 0 && n->type == YAML_SCALAR_NODE &&
	    strcmp((const char *)n->data.scalar.value, "null") == 0) {
		*idx = i;
		return 0;
	}
	struct scalar sc;
	int rc = get_scalar(ld, n, key, &sc);
	if (rc != 0 || sc.text == NULL)
		return rc;
	i = choice_index(choices, sc.text);
	if (i < 0) {
		char list[200], what[sizeof(list) + 8];
		choice_list(list, sizeof(list), choices);
		snprintf(what, sizeof(what), "one of %s", list);
		rc = fail_got(ld, n, key, &sc, what);
	} else {
		*idx = i;
	}
	free(sc.text);
	return rc;
}

/* A value that parse() reads as greater than 0 and at most max; what
 * describes the expected form for the message. */
static int get_positive(struct loader *ld, const yaml_node_t *n,
			const char *key, int64_t (*parse)(const char *),
			int64_t max, const char *what, int64_t *dst)
{
	struct scalar sc;
	int rc = get_scalar(ld, n, key, &sc);
	if (rc != 0 || sc.text == NULL)
		return rc;
	int64_t v = parse(sc.text);
	if (v <= 0 || v > max)
		rc = fail_got(ld, n, key, &sc, what);
	else
		*dst = v;
	free(sc.text);
	return rc;
}

static int get_duration(struct loader *ld, const yaml_node_t *n,
			const char *key, int64_t max, int64_t *dst)
{
	return get_positive(ld, n, key, wb_config_parse_duration_ms, max,
			    "a duration greater than 0 such as 250ms, 5s, 2m "
			    "or 1h",
			    dst);
}

static int get_size(struct loader *ld, const yaml_node_t *n, const char *key,
		    int64_t *dst)
{
	return get_positive(ld, n, key, wb_config_parse_size, INT64_MAX,
			    "a size greater than 0 such as 1048576, 64KiB, "
			    "16MiB or 1GiB",
			    dst);
}

static int get_int(struct loader *ld, const yaml_node_t *n, const char *key,
		   int *dst, bool *given)
{
	struct scalar sc;
	int rc = get_scalar(ld, n, key, &sc);
	if (rc != 0 || sc.text == NULL)
		return rc;
	char *end;
	errno = 0;
	long v = strtol(sc.text, &end, 10);
	if (sc.text[0] == '\0' || isspace((unsigned char)sc.text[0]) ||
	    *end != '\0' || errno != 0 || v < INT_MIN || v > INT_MAX) {
		rc = fail_got(ld, n, key, &sc, "an integer");
	} else {
		*dst = (int)v;
		*given = true;
	}
	free(sc.text);
	return rc;
}

static void free_strv(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

/* A list of text values; a null value leaves *dst alone. Each item may be
 * checked against choices (NULL: any text). */
static int get_list(struct loader *ld, const yaml_node_t *n, const char *key,
		    char ***dst, int *count)
{
	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(ld, n, key, "expected a list, got %s", kind_of(n));
	size_t len = (size_t)(n->data.sequence.items.top -
			      n->data.sequence.items.start);
	char **v = calloc(len + 1, sizeof(*v));
	if (v == NULL)
		return nomem(ld);
	int rc = 0;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *item = yaml_document_get_node(
			ld->doc, n->data.sequence.items.start[i]);
		char ikey[WB_CONFIG_KEY_MAX + 16];
		index_key(ikey, sizeof(ikey), key, i);
		struct scalar sc;
		rc = get_scalar(ld, item, ikey, &sc);
		if (rc != 0)
			goto fail;
		if (sc.text == NULL) {
			rc = fail(ld, item, ikey, "expected a value, got null");
			goto fail;
		}
		v[i] = sc.text;
	}
	free_strv(*dst);
	*dst = v;
	*count = (int)len;
	return 0;
fail:
	free_strv(v);
	return rc;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static bool in_list(const char *name, const char *const *list)
{
	for (int i = 0; list[i] != NULL; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

static int unknown_key(struct loader *ld, const yaml_node_t *k,
		       const char *parent, const char *type,
		       const char *const *known)
{
	const char *name = (const char *)k->data.scalar.value;
	const char *best = NULL;
	size_t best_d = 3; /* more than two edits is no longer a typo */
	for (int i = 0; known[i] != NULL; i++) {
		size_t d = edit_distance(name, known[i]);
		if (d < best_d && d < strlen(known[i])) {
			best_d = d;
			best = known[i];
		}
	}
	char shown_name[WB_CONFIG_KEY_MAX];
	char hint[96] = "";
	char for_type[64] = "";
	show(shown_name, sizeof(shown_name), name);
	if (best != NULL)
		snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", best);
	if (type != NULL)
		snprintf(for_type, sizeof(for_type), " for type %s", type);
	return fail(ld, k, parent, "unknown key \"%s\"%s%s", shown_name,
		    for_type, hint);
}

/* Every key of a mapping must be a scalar and appear once. */
static int check_mapping(struct loader *ld, const yaml_node_t *n,
			 const char *key)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, key, "expected a mapping, got %s",
			    kind_of(n));
	yaml_node_pair_t *start = n->data.mapping.pairs.start;
	for (yaml_node_pair_t *p = start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
		if (k->type != YAML_SCALAR_NODE)
			return fail(ld, k, key, "expected a text key, got %s",
				    kind_of(k));
		const char *name = (const char *)k->data.scalar.value;
		if (strlen(name) != k->data.scalar.length)
			return fail(ld, k, key, "key contains a NUL character");
		for (yaml_node_pair_t *q = start; q < p; q++) {
			yaml_node_t *prev =
				yaml_document_get_node(ld->doc, q->key);
			if (strcmp((const char *)prev->data.scalar.value,
				   name) == 0) {
				char full[WB_CONFIG_KEY_MAX];
				join_key(full, sizeof(full), key, name);
				return fail(ld, k, full,
					    "duplicate key (first at line %d)",
					    line_of(prev));
			}
		}
	}
	return 0;
}

static yaml_node_t *find_value(struct loader *ld, const yaml_node_t *map,
			       const char *name, yaml_node_t **key_node)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
		if (strcmp((const char *)k->data.scalar.value, name) == 0) {
			if (key_node != NULL)
				*key_node = k;
			return yaml_document_get_node(ld->doc, p->value);
		}
	}
	return NULL;
}

/* One pair of a mapping as a loader's per-key function sees it. */
struct pair {
	const yaml_node_t *k, *v;
	const char *name;	     /* the key as written */
	char key[WB_CONFIG_KEY_MAX]; /* its dotted path, for messages */
};

typedef int (*pair_fn)(struct loader *ld, const struct pair *p, void *ctx);

/* Calls fn for each pair of the mapping n (which check_mapping accepted),
 * in order, with the key's path below parent, until one returns non-zero;
 * returns that. */
static int each_pair(struct loader *ld, const yaml_node_t *n,
		     const char *parent, pair_fn fn, void *ctx)
{
	int rc = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && rc == 0; p++) {
		struct pair pr;
		pr.k = yaml_document_get_node(ld->doc, p->key);
		pr.v = yaml_document_get_node(ld->doc, p->value);
		pr.name = (const char *)pr.k->data.scalar.value;
		join_key(pr.key, sizeof(pr.key), parent, pr.name);
		rc = fn(ld, &pr, ctx);
	}
	return rc;
}

static int kv_add(struct loader *ld, struct kv_list *l, const yaml_node_t *n,
		  const char *cfgkey, char *key, char *value)
{
	int rc = 0;
	for (int i = 0; i < l->n; i++) {
		if (strcmp(l->kv[i].key, key) == 0) {
			rc = fail(ld, n, cfgkey, "duplicate key");
			goto fail;
		}
	}
	if (l->n >= WB_CONFIG_EXTRA_MAX) {
		rc = fail(ld, n, cfgkey, "more than %d keys",
			  WB_CONFIG_EXTRA_MAX);
		goto fail;
	}
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 8;
		struct wb_kv *kv = realloc(l->kv, (size_t)cap * sizeof(*kv));
		if (kv == NULL) {
			rc = nomem(ld);
			goto fail;
		}
		l->kv = kv;
		l->cap = cap;
	}
	l->kv[l->n].key = key;
	l->kv[l->n].value = value;
	l->n++;
	return 0;
fail:
	free(key);
	free(value);
	return rc;
}

static int add_extra(struct loader *ld, struct kv_list *l, const char *key,
		     const yaml_node_t *n, const char *cfgkey, int depth);

struct extra_ctx {
	struct kv_list *l;
	const char *key;
	int depth;
};

static int extra_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct extra_ctx *c = ctx;
	size_t len = strlen(c->key) + 1 + strlen(p->name) + 1;
	char *full = malloc(len);
	if (full == NULL)
		return nomem(ld);
	snprintf(full, len, "%s.%s", c->key, p->name);
	int rc = add_extra(ld, c->l, full, p->v, p->key, c->depth + 1);
	free(full);
	return rc;
}

/* Keeps a connector-specific value as text under its dotted key: nested maps
 * become "a.b" keys, lists comma-joined text. */
static int add_extra(struct loader *ld, struct kv_list *l, const char *key,
		     const yaml_node_t *n, const char *cfgkey, int depth)
{
	if (n->type == YAML_MAPPING_NODE) {
		if (depth >= WB_CONFIG_DEPTH_MAX)
			return fail(ld, n, cfgkey, "nested too deeply");
		int rc = check_mapping(ld, n, cfgkey);
		if (rc != 0)
			return rc;
		struct extra_ctx c = {l, key, depth};
		return each_pair(ld, n, cfgkey, extra_pair, &c);
	}
	char *value = NULL;
	if (n->type == YAML_SEQUENCE_NODE) {
		struct wb_buf b;
		wb_buf_init(&b);
		size_t len = (size_t)(n->data.sequence.items.top -
				      n->data.sequence.items.start);
		for (size_t i = 0; i < len; i++) {
			yaml_node_t *item = yaml_document_get_node(
				ld->doc, n->data.sequence.items.start[i]);
			char ik[WB_CONFIG_KEY_MAX + 16];
			index_key(ik, sizeof(ik), cfgkey, i);
			struct scalar sc;
			int rc = get_scalar(ld, item, ik, &sc);
			if (rc != 0) {
				wb_buf_free(&b);
				return rc;
			}
			if (i > 0)
				wb_buf_append(&b, ",", 1);
			if (sc.text != NULL)
				wb_buf_append(&b, sc.text, strlen(sc.text));
			free(sc.text);
		}
		wb_buf_append(&b, "", 1);
		if (b.failed) {
			wb_buf_free(&b);
			return nomem(ld);
		}
		value = (char *)b.data;
	} else {
		struct scalar sc;
		int rc = get_scalar(ld, n, cfgkey, &sc);
		if (rc != 0)
			return rc;
		value = sc.text != NULL ? sc.text : strdup("");
	}
	char *k = strdup(key);
	if (value == NULL || k == NULL) {
		free(value);
		free(k);
		return nomem(ld);
	}
	return kv_add(ld, l, n, cfgkey, k, value);
}

static int metrics_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct wb_config *cfg = ctx;
	if (strcmp(p->name, "listen") == 0)
		return get_string(ld, p->v, p->key, &cfg->metrics_listen);
	if (strcmp(p->name, "ready_checkpoint_age") == 0) {
		int64_t ms = 0;
		int rc = get_duration(ld, p->v, p->key, INT64_MAX, &ms);
		if (rc == 0 && ms > 0)
			cfg->metrics_ready_age_s = (ms + 999) / 1000;
		return rc;
	}
	return unknown_key(ld, p->k, "metrics", NULL, metrics_keys);
}

static int load_metrics(struct loader *ld, const yaml_node_t *n,
			struct wb_config *cfg)
{
	if (is_null(n))
		return 0;
	int rc = check_mapping(ld, n, "metrics");
	if (rc != 0)
		return rc;
	return each_pair(ld, n, "metrics", metrics_pair, cfg);
}

/* The section's type decides which keys are allowed, so it is read first. */
static int load_type(struct loader *ld, const yaml_node_t *n,
		     const char *section, const char *const *types, char **dst)
{
	char key[32];
	snprintf(key, sizeof(key), "%s.type", section);
	yaml_node_t *v = find_value(ld, n, "type", NULL);
	int idx = -1;
	if (v != NULL) {
		int rc = get_enum(ld, v, key, types, &idx);
		if (rc != 0)
			return rc;
	}
	if (idx < 0)
		return fail(ld, NULL, NULL, "missing required key \"%s\"", key);
	*dst = strdup(types[idx]);
	return *dst == NULL ? nomem(ld) : 0;
}

/* A positive integer no larger than max. */
static int get_count(struct loader *ld, const yaml_node_t *n, const char *key,
		     int max, int *dst)
{
	int v = *dst;
	bool given = false;
	int rc = get_int(ld, n, key, &v, &given);
	if (rc != 0 || !given)
		return rc;
	if (v < 1 || v > max)
		return fail(ld, n, key, "expected 1 to %d, got %d", max, v);
	*dst = v;
	return 0;
}

static int snapshot_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct wb_source_config *src = ctx;
	if (strcmp(p->name, "mode") == 0) {
		int idx = -1;
		int rc = get_enum(ld, p->v, p->key, snapshot_modes, &idx);
		if (idx >= 0)
			src->snapshot = (enum wb_snapshot_mode)idx;
		return rc;
	}
	if (strcmp(p->name, "chunk_size") == 0)
		return get_count(ld, p->v, p->key, 10000000,
				 &src->snapshot_chunk_rows);
	if (strcmp(p->name, "parallelism") == 0)
		return get_count(ld, p->v, p->key, 64,
				 &src->snapshot_parallelism);
	return unknown_key(ld, p->k, "source.snapshot", NULL, snapshot_keys);
}

/* source.snapshot: a mode, or {mode, chunk_size, parallelism}. */
static int load_snapshot(struct loader *ld, const yaml_node_t *n,
			 struct wb_source_config *src)
{
	int idx = -1;
	if (n->type != YAML_MAPPING_NODE) {
		int rc = get_enum(ld, n, "source.snapshot", snapshot_modes,
				  &idx);
		if (idx >= 0)
			src->snapshot = (enum wb_snapshot_mode)idx;
		return rc;
	}
	int rc = check_mapping(ld, n, "source.snapshot");
	if (rc != 0)
		return rc;
	return each_pair(ld, n, "source.snapshot", snapshot_pair, src);
}

/* ------------------------------------------------------------------ odbc */

static struct wb_odbc_table *odbc_table(struct wb_odbc_config *o,
					const char *name)
{
	for (int i = 0; i < o->ntables; i++)
		if (strcmp(o->tables[i].name, name) == 0)
			return &o->tables[i];
	return NULL;
}

static struct wb_odbc_table *
odbc_table_add(struct loader *ld, struct wb_odbc_config *o, const char *name)
{
	struct wb_odbc_table *t = odbc_table(o, name);
	if (t != NULL)
		return t;
	struct wb_odbc_table *n =
		realloc(o->tables, (size_t)(o->ntables + 1) * sizeof(*n));
	if (n == NULL) {
		nomem(ld);
		return NULL;
	}
	o->tables = n;
	t = &n[o->ntables];
	memset(t, 0, sizeof(*t));
	t->mode = WB_ODBC_BULK;
	t->lag_ms = 5000;
	t->lookback_ms = 60000;
	t->lookback_ids = 1000;
	if ((t->name = strdup(name)) == NULL) {
		nomem(ld);
		return NULL;
	}
	o->ntables++;
	return t;
}

struct odbc_table_ctx {
	struct wb_odbc_table *t;
	const char *key;
	const yaml_node_t *lookback;
	bool lag_given;
};

static int odbc_deleted_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct odbc_table_ctx *c = ctx;
	if (strcmp(p->name, "column") == 0)
		return get_string(ld, p->v, p->key, &c->t->deleted_column);
	if (strcmp(p->name, "value") == 0)
		return get_string(ld, p->v, p->key, &c->t->deleted_value);
	return unknown_key(ld, p->k, c->key, NULL, odbc_deleted_keys);
}

/* source.tracking.<table>.deleted: {column, value} */
static int load_odbc_deleted(struct loader *ld, const yaml_node_t *n,
			     const char *key, struct wb_odbc_table *t)
{
	int rc = check_mapping(ld, n, key);
	struct odbc_table_ctx c = {t, key, NULL, false};
	if (rc == 0)
		rc = each_pair(ld, n, key, odbc_deleted_pair, &c);
	if (rc == 0 && (t->deleted_column == NULL || t->deleted_value == NULL))
		rc = fail(ld, n, key, "expected both column and value");
	return rc;
}

static int odbc_table_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct odbc_table_ctx *c = ctx;
	struct wb_odbc_table *t = c->t;
	if (strcmp(p->name, "mode") == 0) {
		int idx = -1;
		int rc = get_enum(ld, p->v, p->key, odbc_modes, &idx);
		if (idx >= 0)
			t->mode = (enum wb_odbc_mode)idx;
		return rc;
	}
	if (strcmp(p->name, "timestamp") == 0)
		return get_string(ld, p->v, p->key, &t->timestamp);
	if (strcmp(p->name, "incrementing") == 0)
		return get_string(ld, p->v, p->key, &t->incrementing);
	if (strcmp(p->name, "lag") == 0) {
		c->lag_given = true;
		struct scalar sc;
		int rc = get_scalar(ld, p->v, p->key, &sc);
		if (rc == 0 && sc.text != NULL) {
			int64_t ms =
				strcmp(sc.text, "0") == 0
					? 0
					: wb_config_parse_duration_ms(sc.text);
			if (ms < 0)
				rc = fail(ld, p->v, p->key,
					  "expected a duration such as "
					  "0, 500ms, 5s or 1m");
			else
				t->lag_ms = ms;
		}
		free(sc.text);
		return rc;
	}
	if (strcmp(p->name, "lookback") == 0) {
		c->lookback = p->v;
		return 0;
	}
	if (strcmp(p->name, "query") == 0)
		return get_string(ld, p->v, p->key, &t->query);
	if (strcmp(p->name, "horizon") == 0)
		return get_string(ld, p->v, p->key, &t->horizon);
	if (strcmp(p->name, "deleted") == 0)
		return load_odbc_deleted(ld, p->v, p->key, t);
	return unknown_key(ld, p->k, c->key, NULL, odbc_table_keys);
}

/* source.tracking.<table>: {mode, timestamp, incrementing, lag, lookback,
 * query, deleted} */
static int load_odbc_table(struct loader *ld, const yaml_node_t *n,
			   const char *key, struct wb_odbc_table *t)
{
	int rc = check_mapping(ld, n, key);
	struct odbc_table_ctx c = {t, key, NULL, false};
	if (rc == 0)
		rc = each_pair(ld, n, key, odbc_table_pair, &c);
	if (rc != 0)
		return rc;
	const yaml_node_t *lookback = c.lookback;
	bool lag_given = c.lag_given;
	bool ts = t->mode == WB_ODBC_TIMESTAMP ||
		  t->mode == WB_ODBC_TIMESTAMP_INC;
	bool inc = t->mode == WB_ODBC_INCREMENTING ||
		   t->mode == WB_ODBC_TIMESTAMP_INC;
	char sub[WB_CONFIG_KEY_MAX];
	if (lookback != NULL) {
		join_key(sub, sizeof(sub), key, "lookback");
		struct scalar sc;
		rc = get_scalar(ld, lookback, sub, &sc);
		if (rc == 0 && sc.text != NULL) {
			char *end;
			long long ids = strtoll(sc.text, &end, 10);
			if (t->mode == WB_ODBC_INCREMENTING) {
				if (*end != '\0' || end == sc.text || ids < 0)
					rc = fail(ld, lookback, sub,
						  "expected a number of ids "
						  "(incrementing mode)");
				else
					t->lookback_ids = ids;
			} else {
				int64_t ms =
					strcmp(sc.text, "0") == 0
						? 0
						: wb_config_parse_duration_ms(
							  sc.text);
				if (ms < 0)
					rc = fail(ld, lookback, sub,
						  "expected a duration such as "
						  "0, 30s or 10m");
				else
					t->lookback_ms = ms;
			}
		}
		free(sc.text);
		if (rc != 0)
			return rc;
	}
	if (ts && t->timestamp == NULL)
		return fail(ld, n, key, "mode %s needs a timestamp column",
			    odbc_modes[t->mode]);
	if (inc && t->incrementing == NULL)
		return fail(ld, n, key, "mode %s needs an incrementing column",
			    odbc_modes[t->mode]);
	if (!ts && t->timestamp != NULL)
		return fail(ld, n, key,
			    "timestamp is only used by the modes timestamp "
			    "and timestamp+incrementing");
	if (!inc && t->incrementing != NULL)
		return fail(ld, n, key,
			    "incrementing is only used by the modes "
			    "incrementing and timestamp+incrementing");
	if (t->horizon != NULL && t->mode == WB_ODBC_BULK)
		return fail(ld, n, key,
			    "horizon works with the modes timestamp, "
			    "incrementing and timestamp+incrementing");
	if (t->horizon != NULL && t->query != NULL)
		return fail(ld, n, key,
			    "horizon does not work with a custom query (its "
			    ":to is the clock horizon)");
	if (t->horizon != NULL && lag_given)
		return fail(ld, n, key,
			    "lag and horizon exclude each other: the horizon "
			    "query replaces the clock horizon (now - lag)");
	if (t->query != NULL) {
		if (t->mode != WB_ODBC_TIMESTAMP && t->mode != WB_ODBC_BULK)
			return fail(ld, n, key,
				    "a custom query works with the modes "
				    "timestamp and bulk");
		if (t->mode == WB_ODBC_TIMESTAMP &&
		    (strstr(t->query, ":from") == NULL ||
		     strstr(t->query, ":to") == NULL))
			return fail(ld, n, key,
				    "a custom query in mode timestamp must "
				    "bound its timestamp with the parameters "
				    ":from (inclusive) and :to (exclusive)");
	}
	return 0;
}

static int odbc_tracking_pair(struct loader *ld, const struct pair *p,
			      void *ctx)
{
	struct wb_odbc_table *t = odbc_table_add(ld, ctx, p->name);
	if (t == NULL)
		return WB_ERR_NOMEM;
	return load_odbc_table(ld, p->v, p->key, t);
}

static int load_odbc_tracking(struct loader *ld, const yaml_node_t *n,
			      struct wb_odbc_config *o)
{
	int rc = check_mapping(ld, n, "source.tracking");
	if (rc != 0)
		return rc;
	return each_pair(ld, n, "source.tracking", odbc_tracking_pair, o);
}

static int odbc_deletes_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct wb_odbc_config *o = ctx;
	if (strcmp(p->name, "detect") == 0) {
		int idx = -1;
		int rc = get_enum(ld, p->v, p->key, odbc_detects, &idx);
		if (idx >= 0)
			o->detect = (enum wb_odbc_detect)idx;
		return rc;
	}
	if (strcmp(p->name, "interval") == 0)
		return get_duration(ld, p->v, p->key, INT64_MAX,
				    &o->deletes_interval_ms);
	if (strcmp(p->name, "chunk_rows") == 0)
		return get_count(ld, p->v, p->key, 10000000,
				 &o->deletes_chunk_rows);
	return unknown_key(ld, p->k, "source.deletes", NULL, odbc_deletes_keys);
}

static int load_odbc_deletes(struct loader *ld, const yaml_node_t *n,
			     struct wb_odbc_config *o)
{
	int rc = check_mapping(ld, n, "source.deletes");
	if (rc != 0)
		return rc;
	return each_pair(ld, n, "source.deletes", odbc_deletes_pair, o);
}

/* One key of an odbc source (not type, tables, snapshot,
 * connect_timeout). */
static int load_odbc_key(struct loader *ld, const yaml_node_t *k,
			 const yaml_node_t *v, struct wb_source_config *src)
{
	struct wb_odbc_config *o = &src->odbc;
	const char *name = (const char *)k->data.scalar.value;
	char key[WB_CONFIG_KEY_MAX];
	join_key(key, sizeof(key), "source", name);
	if (strcmp(name, "connection") == 0)
		return get_unexpanded(ld, v, key, &o->connection);
	if (strcmp(name, "poll_interval") == 0)
		return get_duration(ld, v, key, INT_MAX, &o->poll_interval_ms);
	if (strcmp(name, "time_zone") == 0)
		return get_string(ld, v, key, &o->time_zone);
	if (strcmp(name, "login_timeout") == 0)
		return get_duration(ld, v, key, INT_MAX, &o->login_timeout_ms);
	if (strcmp(name, "query_timeout") == 0)
		return get_duration(ld, v, key, INT_MAX, &o->query_timeout_ms);
	if (strcmp(name, "fetch_rows") == 0)
		return get_count(ld, v, key, 100000, &o->fetch_rows);
	if (strcmp(name, "chunk_rows") == 0)
		return get_count(ld, v, key, 10000000, &o->chunk_rows);
	if (strcmp(name, "lookback_rows") == 0)
		return get_count(ld, v, key, 100000000, &o->lookback_rows);
	if (strcmp(name, "tracking") == 0)
		return load_odbc_tracking(ld, v, o);
	if (strcmp(name, "deletes") == 0)
		return load_odbc_deletes(ld, v, o);
	return unknown_key(ld, k, "source", "odbc", odbc_keys);
}

/* After the whole source mapping: defaults, and every tracked table is
 * captured; every captured table gets an entry (bulk by default). */
static int finish_odbc(struct loader *ld, const yaml_node_t *n,
		       struct wb_source_config *src)
{
	struct wb_odbc_config *o = &src->odbc;
	if (o->connection == NULL)
		return fail(ld, n, "source.connection",
			    "an odbc source needs a connection string "
			    "(\"DSN=...\" or \"Driver={...};...\")");
	if (src->ntables == 0)
		return fail(ld, n, "source.tables",
			    "an odbc source needs its tables listed "
			    "(\"schema.table\")");
	for (int i = 0; i < o->ntables; i++) {
		bool listed = false;
		for (int j = 0; j < src->ntables; j++)
			listed |=
				strcmp(src->tables[j], o->tables[i].name) == 0;
		if (!listed) {
			char key[WB_CONFIG_KEY_MAX];
			join_key(key, sizeof(key), "source.tracking",
				 o->tables[i].name);
			return fail(ld, n, key,
				    "table is not in source.tables");
		}
	}
	for (int j = 0; j < src->ntables; j++) {
		const char *t = src->tables[j];
		char key[32];
		index_key(key, sizeof(key), "source.tables", (size_t)j);
		if (wb_config_is_glob(t))
			return fail(ld, n, key,
				    "an odbc source lists its tables by name, "
				    "without globs");
		const char *dot = strchr(t, '.');
		if (dot == NULL || dot == t || dot[1] == '\0')
			return fail(ld, n, key,
				    "expected \"schema.table\" (SQLite: "
				    "\"main.table\")");
		if (odbc_table_add(ld, o, t) == NULL)
			return WB_ERR_NOMEM;
	}
	/* entries in the order of source.tables */
	for (int j = 0; j < src->ntables; j++)
		for (int i = j; i < o->ntables; i++)
			if (strcmp(o->tables[i].name, src->tables[j]) == 0 &&
			    i != j) {
				struct wb_odbc_table tmp = o->tables[i];
				o->tables[i] = o->tables[j];
				o->tables[j] = tmp;
			}
	if (o->time_zone == NULL && (o->time_zone = strdup("UTC")) == NULL)
		return nomem(ld);
	if (o->login_timeout_ms == 0)
		o->login_timeout_ms = src->connect_timeout_ms > 0
					      ? src->connect_timeout_ms
					      : 10000;
	return 0;
}

static void free_odbc(struct wb_odbc_config *o)
{
	free(o->connection);
	free(o->time_zone);
	for (int i = 0; i < o->ntables; i++) {
		struct wb_odbc_table *t = &o->tables[i];
		free(t->name);
		free(t->timestamp);
		free(t->incrementing);
		free(t->query);
		free(t->horizon);
		free(t->deleted_column);
		free(t->deleted_value);
	}
	free(o->tables);
}

struct source_ctx {
	struct wb_source_config *src;
	struct kv_list *extra;
	bool postgres, mysql, odbc;
};

static int source_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct source_ctx *c = ctx;
	struct wb_source_config *src = c->src;
	int idx = -1;
	int rc = 0;
	if (strcmp(p->name, "type") == 0) {
		rc = 0;
	} else if (c->mysql && !in_list(p->name, mysql_keys)) {
		rc = unknown_key(ld, p->k, "source", src->type, mysql_keys);
	} else if (c->odbc && !in_list(p->name, odbc_keys)) {
		rc = unknown_key(ld, p->k, "source", src->type, odbc_keys);
	} else if (c->odbc && strcmp(p->name, "tables") != 0 &&
		   strcmp(p->name, "snapshot") != 0 &&
		   strcmp(p->name, "connect_timeout") != 0) {
		rc = load_odbc_key(ld, p->k, p->v, src);
	} else if (c->mysql && in_list(p->name, mysql_extra_keys)) {
		rc = add_extra(ld, c->extra, p->name, p->v, p->key, 0);
	} else if (strcmp(p->name, "dsn") == 0) {
		rc = get_unexpanded(ld, p->v, p->key, &src->dsn);
	} else if (strcmp(p->name, "tables") == 0) {
		rc = get_list(ld, p->v, p->key, &src->tables, &src->ntables);
	} else if (strcmp(p->name, "exclude") == 0) {
		rc = get_list(ld, p->v, p->key, &src->exclude, &src->nexclude);
	} else if (strcmp(p->name, "slot") == 0) {
		rc = get_string(ld, p->v, p->key, &src->slot);
		const char *s = src->slot;
		if (rc == 0 && s != NULL &&
		    (s[0] == '\0' || strlen(s) > WB_CONFIG_SLOT_MAX ||
		     strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
			     strlen(s)))
			rc = fail(ld, p->v, p->key,
				  "expected 1 to %d characters from "
				  "a-z, 0-9 and _",
				  WB_CONFIG_SLOT_MAX);
	} else if (strcmp(p->name, "publication") == 0) {
		rc = get_string(ld, p->v, p->key, &src->publication);
	} else if (strcmp(p->name, "snapshot") == 0) {
		rc = load_snapshot(ld, p->v, src);
	} else if (strcmp(p->name, "decimal_handling") == 0) {
		rc = get_enum(ld, p->v, p->key, decimal_modes, &idx);
		if (idx >= 0)
			src->decimal_handling = (enum wb_decimal_handling)idx;
	} else if (strcmp(p->name, "status_interval") == 0) {
		int64_t ms = src->status_interval_ms;
		rc = get_duration(ld, p->v, p->key, INT_MAX, &ms);
		src->status_interval_ms = (int)ms;
	} else if (strcmp(p->name, "connect_timeout") == 0) {
		rc = get_duration(ld, p->v, p->key, INT_MAX,
				  &src->connect_timeout_ms);
	} else if (strcmp(p->name, "on_gap") == 0) {
		rc = get_enum(ld, p->v, p->key, on_gap_modes, &idx);
		if (idx >= 0)
			src->on_gap = (enum wb_on_gap)idx;
	} else if (c->postgres) {
		rc = unknown_key(ld, p->k, "source", src->type, source_keys);
	} else {
		rc = add_extra(ld, c->extra, p->name, p->v, p->key, 0);
	}
	return rc;
}

static int load_source(struct loader *ld, const yaml_node_t *n,
		       struct wb_source_config *src)
{
	int rc = check_mapping(ld, n, "source");
	if (rc != 0)
		return rc;
	rc = load_type(ld, n, "source", source_types, &src->type);
	if (rc != 0)
		return rc;
	bool postgres = strcmp(src->type, "postgres") == 0;
	bool mysql = strcmp(src->type, "mysql") == 0;
	bool odbc = strcmp(src->type, "odbc") == 0;
	struct kv_list extra = {NULL, 0, 0};
	if (odbc) {
		struct wb_odbc_config *o = &src->odbc;
		o->poll_interval_ms = 1000;
		o->query_timeout_ms = 60000;
		o->fetch_rows = 500;
		o->chunk_rows = 10000;
		o->lookback_rows = 100000;
		o->deletes_interval_ms = 600000;
		o->deletes_chunk_rows = 10000;
	}
	struct source_ctx c = {src, &extra, postgres, mysql, odbc};
	rc = each_pair(ld, n, "source", source_pair, &c);
	src->extra = extra.kv;
	src->nextra = extra.n;
	if (rc == 0 && odbc)
		rc = finish_odbc(ld, n, src);
	return rc;
}

struct sink_ctx {
	struct wb_sink_config *sink;
	struct kv_list *extra;
	bool kafka;
	bool *level_given;
	const yaml_node_t **level_node;
};

static int sink_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct sink_ctx *c = ctx;
	struct wb_sink_config *sink = c->sink;
	int idx = -1;
	int rc = 0;
	if (strcmp(p->name, "type") == 0) {
		rc = 0;
	} else if (strcmp(p->name, "dir") == 0) {
		rc = get_string(ld, p->v, p->key, &sink->dir);
	} else if (strcmp(p->name, "codec") == 0) {
		rc = get_enum(ld, p->v, p->key, codecs, &idx);
		if (rc == 0 && idx >= 0) {
			free(sink->codec);
			sink->codec = strdup(codecs[idx]);
			if (sink->codec == NULL)
				rc = nomem(ld);
		}
	} else if (strcmp(p->name, "codec_level") == 0) {
		rc = get_int(ld, p->v, p->key, &sink->codec_level,
			     c->level_given);
		*c->level_node = p->v;
	} else if (strcmp(p->name, "block_bytes") == 0) {
		rc = get_size(ld, p->v, p->key, &sink->block_bytes);
	} else if (strcmp(p->name, "roll_bytes") == 0) {
		rc = get_size(ld, p->v, p->key, &sink->roll_bytes);
	} else if (strcmp(p->name, "roll_age") == 0) {
		rc = get_duration(ld, p->v, p->key, INT64_MAX,
				  &sink->roll_age_ms);
	} else if (strcmp(p->name, "flush_interval") == 0 && !c->kafka) {
		rc = get_duration(ld, p->v, p->key, 3600 * 1000,
				  &sink->flush_interval_ms);
	} else if (c->kafka) {
		rc = add_extra(ld, c->extra, p->name, p->v, p->key, 0);
	} else {
		rc = unknown_key(ld, p->k, "sink", sink->type, sink_keys);
	}
	return rc;
}

static int load_sink(struct loader *ld, const yaml_node_t *n,
		     struct wb_sink_config *sink, bool *level_given,
		     const yaml_node_t **level_node)
{
	int rc = check_mapping(ld, n, "sink");
	if (rc != 0)
		return rc;
	rc = load_type(ld, n, "sink", sink_types, &sink->type);
	if (rc != 0)
		return rc;
	bool kafka = strcmp(sink->type, "kafka") == 0;
	struct kv_list extra = {NULL, 0, 0};
	struct sink_ctx c = {sink, &extra, kafka, level_given, level_node};
	rc = each_pair(ld, n, "sink", sink_pair, &c);
	sink->extra = extra.kv;
	sink->nextra = extra.n;
	return rc;
}

static int check_name(struct loader *ld, const yaml_node_t *n,
		      const struct scalar *sc)
{
	size_t len = strlen(sc->text);
	if (len >= 1 && len <= WB_CONFIG_NAME_MAX &&
	    strspn(sc->text, "abcdefghijklmnopqrstuvwxyz0123456789_") == len)
		return 0;
	char what[64];
	snprintf(what, sizeof(what), "1 to %d characters from a-z, 0-9 and _",
		 WB_CONFIG_NAME_MAX);
	return fail_got(ld, n, "name", sc, what);
}

static int load_emit(struct loader *ld, const yaml_node_t *n,
		     struct wb_config *cfg)
{
	char **kinds = NULL;
	int nkinds = 0;
	if (is_null(n))
		return 0;
	int rc = get_list(ld, n, "emit", &kinds, &nkinds);
	if (rc != 0)
		return rc;
	if (nkinds == 0) {
		rc = fail(ld, n, "emit",
			  "expected at least one of raw, mapped");
		goto done;
	}
	cfg->emit_raw = cfg->emit_mapped = false;
	for (int i = 0; i < nkinds; i++) {
		int idx = choice_index(emit_kinds, kinds[i]);
		if (idx < 0) {
			yaml_node_t *item = yaml_document_get_node(
				ld->doc, n->data.sequence.items.start[i]);
			struct scalar sc = {
				kinds[i], (const char *)item->data.scalar.value,
				false};
			sc.from_env = strstr(sc.raw, "${") != NULL;
			char key[32];
			index_key(key, sizeof(key), "emit", (size_t)i);
			rc = fail_got(ld, item, key, &sc, "one of raw, mapped");
			goto done;
		}
		if (idx == 0)
			cfg->emit_raw = true;
		else
			cfg->emit_mapped = true;
	}
done:
	free_strv(kinds);
	return rc;
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d = strdup(s);
	if (d == NULL)
		*failed = true;
	return d;
}

static char **strv_of(const char *only, int *count, bool *failed)
{
	char **v = calloc(2, sizeof(*v));
	if (v == NULL) {
		*failed = true;
		return NULL;
	}
	*count = 0;
	if (only != NULL) {
		v[0] = dup_or_null(only, failed);
		*count = v[0] != NULL;
	}
	return v;
}

/* The directory holding the config file, absolute (symbolic links
 * resolved), in a malloc'd string. */
static char *config_dir(struct loader *ld)
{
	const char *slash = strrchr(ld->path, '/');
	char *dir;
	if (slash == NULL)
		dir = strdup(".");
	else if (slash == ld->path)
		dir = strdup("/");
	else
		dir = strndup(ld->path, (size_t)(slash - ld->path));
	if (dir == NULL)
		return NULL;
	char *abs = realpath(dir, NULL);
	if (abs == NULL && dir[0] != '/') {
		/* not resolvable (gone since it was read?): join with the
		 * working directory, which is what it is relative to */
		char *cwd = getcwd(NULL, 0);
		size_t len = (cwd ? strlen(cwd) : 0) + strlen(dir) + 2;
		abs = cwd ? malloc(len) : NULL;
		if (abs)
			snprintf(abs, len, "%s/%s", cwd, dir);
		free(cwd);
	} else if (abs == NULL) {
		abs = strdup(dir);
	}
	free(dir);
	return abs;
}

/* A relative path from the file means relative to the file's directory,
 * not to wherever waybill was started: *path becomes absolute. */
static int resolve_path(struct loader *ld, char **path)
{
	if (*path == NULL || (*path)[0] == '/')
		return 0;
	char *dir = config_dir(ld);
	if (dir == NULL)
		return nomem(ld);
	const char *rel = *path;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	if (strcmp(rel, ".") == 0)
		rel = "";
	size_t len = strlen(dir) + 1 + strlen(rel) + 1;
	char *abs = malloc(len);
	if (abs == NULL) {
		free(dir);
		return nomem(ld);
	}
	if (rel[0] == '\0')
		snprintf(abs, len, "%s", dir);
	else
		snprintf(abs, len, "%s%s%s", dir,
			 strcmp(dir, "/") == 0 ? "" : "/", rel);
	free(dir);
	free(*path);
	*path = abs;
	return 0;
}

static int apply_defaults(struct loader *ld, struct wb_config *cfg)
{
	bool failed = false;
	struct wb_source_config *src = &cfg->source;
	struct wb_sink_config *sink = &cfg->sink;
	size_t len = strlen(cfg->name) + sizeof("waybill_");
	if (src->slot == NULL || src->publication == NULL) {
		char *d = malloc(len);
		if (d == NULL)
			return nomem(ld);
		snprintf(d, len, "waybill_%s", cfg->name);
		if (src->slot == NULL)
			src->slot = dup_or_null(d, &failed);
		if (src->publication == NULL)
			src->publication = dup_or_null(d, &failed);
		free(d);
	}
	if (cfg->checkpoint_dir == NULL)
		cfg->checkpoint_dir = dup_or_null("checkpoints", &failed);
	if (cfg->topic_prefix == NULL)
		cfg->topic_prefix = dup_or_null(cfg->name, &failed);
	if (cfg->log_level == NULL)
		cfg->log_level = dup_or_null("info", &failed);
	if (cfg->log_format == NULL)
		cfg->log_format = dup_or_null("text", &failed);
	if (cfg->mappings == NULL)
		cfg->mappings = strv_of(NULL, &cfg->nmappings, &failed);
	if (src->tables == NULL)
		src->tables = strv_of(
			strcmp(src->type, "postgres") == 0 ? "public.*" : NULL,
			&src->ntables, &failed);
	if (src->exclude == NULL)
		src->exclude = strv_of(NULL, &src->nexclude, &failed);
	if (sink->dir == NULL)
		sink->dir = dup_or_null("out", &failed);
	if (sink->codec == NULL)
		sink->codec = dup_or_null("zstandard", &failed);
	if (failed)
		return nomem(ld);
	int rc = resolve_path(ld, &cfg->checkpoint_dir);
	if (rc == 0)
		rc = resolve_path(ld, &sink->dir);
	return rc;
}

/* Checks the codec level against the codec, which may come after it. */
static int check_codec_level(struct loader *ld, struct wb_sink_config *sink,
			     bool given, const yaml_node_t *level_node)
{
	int lo = 0, hi = 0, dflt = 0;
	if (strcmp(sink->codec, "zstandard") == 0) {
		lo = -7; /* zstd's fast levels (zstd --fast=N is -N) */
		hi = 22;
		dflt = 1; /* CDC throughput first: level 3 costs ~45% more CPU
			   * for ~3.5% smaller files (measured, docs/DESIGN.md)
			   */
	} else if (strcmp(sink->codec, "deflate") == 0) {
		lo = 0;
		hi = 9;
		dflt = 6;
	}
	if (!given) {
		sink->codec_level = dflt;
		return 0;
	}
	if (strcmp(sink->codec, "null") == 0)
		return fail(ld, level_node, "sink.codec_level",
			    "the null codec takes no level");
	if (lo < 0 && sink->codec_level == 0)
		lo = 1; /* zstd reads 0 as "its default", which is 3 */
	if (sink->codec_level < lo || sink->codec_level > hi) {
		if (lo < 0)
			return fail(ld, level_node, "sink.codec_level",
				    "expected 1 to %d, or -1 to %d (zstd's "
				    "fast levels), for codec %s, got %d",
				    hi, lo, sink->codec, sink->codec_level);
		return fail(ld, level_node, "sink.codec_level",
			    "expected %d to %d for codec %s, got %d", lo, hi,
			    sink->codec, sink->codec_level);
	}
	return 0;
}

struct root_ctx {
	struct wb_config *cfg;
	const yaml_node_t *source, *sink, *emit_node;
};

static int root_pair(struct loader *ld, const struct pair *p, void *ctx)
{
	struct root_ctx *c = ctx;
	struct wb_config *cfg = c->cfg;
	int idx = -1;
	int rc = 0;
	if (strcmp(p->name, "name") == 0) {
		struct scalar sc;
		rc = get_scalar(ld, p->v, "name", &sc);
		if (rc == 0 && sc.text != NULL &&
		    (rc = check_name(ld, p->v, &sc)) != 0)
			free(sc.text);
		else if (rc == 0)
			cfg->name = sc.text;
	} else if (strcmp(p->name, "checkpoint_dir") == 0) {
		rc = get_string(ld, p->v, p->name, &cfg->checkpoint_dir);
	} else if (strcmp(p->name, "checkpoint_interval") == 0) {
		rc = get_duration(ld, p->v, p->name, INT64_MAX,
				  &cfg->checkpoint_interval_ms);
	} else if (strcmp(p->name, "queue_bytes") == 0) {
		rc = get_size(ld, p->v, p->name, &cfg->queue_bytes);
	} else if (strcmp(p->name, "topic_prefix") == 0) {
		rc = get_string(ld, p->v, p->name, &cfg->topic_prefix);
	} else if (strcmp(p->name, "emit") == 0) {
		rc = load_emit(ld, p->v, cfg);
		c->emit_node = p->v;
	} else if (strcmp(p->name, "mappings") == 0) {
		rc = get_list(ld, p->v, p->name, &cfg->mappings,
			      &cfg->nmappings);
	} else if (strcmp(p->name, "metrics") == 0) {
		rc = load_metrics(ld, p->v, cfg);
	} else if (strcmp(p->name, "log_level") == 0) {
		rc = get_enum(ld, p->v, p->name, log_levels, &idx);
		if (rc == 0 && idx >= 0) {
			cfg->log_level = strdup(log_levels[idx]);
			rc = cfg->log_level ? 0 : nomem(ld);
		}
	} else if (strcmp(p->name, "status_log_interval") == 0) {
		rc = get_duration(ld, p->v, p->name, INT64_MAX,
				  &cfg->status_log_interval_ms);
	} else if (strcmp(p->name, "log_format") == 0) {
		rc = get_enum(ld, p->v, p->name, log_formats, &idx);
		if (rc == 0 && idx >= 0) {
			cfg->log_format = strdup(log_formats[idx]);
			rc = cfg->log_format ? 0 : nomem(ld);
		}
	} else if (strcmp(p->name, "source") == 0) {
		c->source = is_null(p->v) ? NULL : p->v;
	} else if (strcmp(p->name, "sink") == 0) {
		c->sink = is_null(p->v) ? NULL : p->v;
	} else {
		rc = unknown_key(ld, p->k, NULL, NULL, top_keys);
	}
	return rc;
}

static int load_root(struct loader *ld, const yaml_node_t *root,
		     struct wb_config *cfg)
{
	int rc;
	const yaml_node_t *level_node = NULL;
	bool level_given = false;
	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, root, NULL,
			    "expected a mapping of keys at the top level, got "
			    "%s",
			    kind_of(root));
	rc = check_mapping(ld, root, NULL);
	if (rc != 0)
		return rc;
	struct root_ctx c = {cfg, NULL, NULL, NULL};
	rc = each_pair(ld, root, NULL, root_pair, &c);
	if (rc != 0)
		return rc;
	const yaml_node_t *source = c.source, *sink = c.sink;
	const yaml_node_t *emit_node = c.emit_node;
	/* emit: [raw] unless mappings are given, then [raw, mapped] */
	if (emit_node == NULL && cfg->nmappings > 0)
		cfg->emit_mapped = true;
	if (cfg->emit_mapped && cfg->nmappings == 0)
		return fail(ld, emit_node, "emit",
			    "\"mapped\" needs mappings: list the mapping "
			    "files under mappings:");
	/* Sections after the scalars, so an error in name comes first. */
	if (source != NULL && (rc = load_source(ld, source, &cfg->source)) != 0)
		return rc;
	if (sink != NULL && (rc = load_sink(ld, sink, &cfg->sink, &level_given,
					    &level_node)) != 0)
		return rc;
	if (cfg->name == NULL)
		return fail(ld, NULL, NULL, "missing required key \"name\"");
	if (source == NULL)
		return fail(ld, NULL, NULL, "missing required key \"source\"");
	if (strcmp(cfg->source.type, "postgres") == 0 &&
	    cfg->source.dsn == NULL)
		return fail(ld, NULL, NULL,
			    "missing required key \"source.dsn\"");
	if (sink == NULL)
		return fail(ld, NULL, NULL, "missing required key \"sink\"");
	rc = apply_defaults(ld, cfg);
	if (rc != 0)
		return rc;
	return check_codec_level(ld, &cfg->sink, level_given, level_node);
}

static int syntax_error(struct loader *ld, const yaml_parser_t *parser,
			const char *text, size_t len)
{
	const char *problem =
		parser->problem ? parser->problem : "invalid YAML";
	if (parser->error == YAML_MEMORY_ERROR)
		return nomem(ld);
	if (parser->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark. */
		int line = 1;
		for (size_t i = 0; i < parser->problem_offset && i < len; i++)
			line += text[i] == '\n';
		return wb_error_set(ld->err, WB_ERR_CONFIG,
				    "%s:%d: %s (at byte %zu)", ld->path, line,
				    problem, parser->problem_offset);
	}
	const yaml_mark_t *pm = &parser->problem_mark;
	const yaml_mark_t *cm = &parser->context_mark;
	if (parser->context == NULL)
		return wb_error_set(ld->err, WB_ERR_CONFIG, "%s:%zu:%zu: %s",
				    ld->path, pm->line + 1, pm->column + 1,
				    problem);
	/* At the end of the file, the place where the unfinished construct
	 * (an unclosed quote, say) began is the useful one. */
	if (strstr(problem, "end of stream") != NULL)
		return wb_error_set(ld->err, WB_ERR_CONFIG,
				    "%s:%zu:%zu: %s, %s (at line %zu)",
				    ld->path, cm->line + 1, cm->column + 1,
				    parser->context, problem, pm->line + 1);
	return wb_error_set(ld->err, WB_ERR_CONFIG,
			    "%s:%zu:%zu: %s (%s at line %zu)", ld->path,
			    pm->line + 1, pm->column + 1, problem,
			    parser->context, cm->line + 1);
}

static int read_file(const char *path, char **out, size_t *out_len,
		     wb_error_t *err)
{
	int rc = 0;
	struct wb_buf b;
	wb_buf_init(&b);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return wb_error_set(err, WB_ERR_CONFIG,
				    "%s: cannot open: %s; give -c the path of "
				    "the pipeline's YAML file (see "
				    "/etc/waybill/example.yaml)",
				    path, strerror(errno));
	for (;;) {
		if (wb_buf_reserve(&b, 65536) != 0) {
			rc = wb_error_set(err, WB_ERR_NOMEM,
					  "%s: out of memory", path);
			goto done;
		}
		size_t n = fread(b.data + b.len, 1, 65536, f);
		b.len += n;
		if (b.len > WB_CONFIG_FILE_MAX) {
			rc = wb_error_set(err, WB_ERR_CONFIG,
					  "%s: larger than %d bytes", path,
					  WB_CONFIG_FILE_MAX);
			goto done;
		}
		if (n < 65536)
			break;
	}
	if (ferror(f)) {
		rc = wb_error_set(err, WB_ERR_CONFIG, "%s: cannot read: %s",
				  path, strerror(errno));
		goto done;
	}
	wb_buf_append(&b, "", 1);
	*out = (char *)b.data;
	*out_len = b.len - 1;
	b.data = NULL;
done:
	fclose(f);
	wb_buf_free(&b);
	return rc;
}

struct wb_config *wb_config_load(const char *path, wb_error_t *err)
{
	struct loader ld = {path, NULL, err};
	yaml_parser_t parser;
	yaml_document_t doc, next;
	bool have_parser = false, have_doc = false;
	char *text = NULL;
	size_t len = 0;
	int rc;
	struct wb_config *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "%s: out of memory", path);
		return NULL;
	}
	cfg->checkpoint_interval_ms = 1000;
	cfg->metrics_ready_age_s = 60;
	cfg->status_log_interval_ms = 60000;
	cfg->queue_bytes = 16 << 20;
	cfg->emit_raw = true;
	cfg->source.snapshot = WB_SNAPSHOT_INITIAL;
	cfg->source.snapshot_chunk_rows = 10000;
	cfg->source.snapshot_parallelism = 1;
	cfg->source.decimal_handling = WB_DECIMAL_STRING;
	cfg->source.status_interval_ms = 10000;
	cfg->source.connect_timeout_ms = 10000;
	cfg->source.on_gap = WB_ON_GAP_STOP;
	cfg->sink.block_bytes = 1 << 20;
	cfg->sink.roll_bytes = 256 << 20;
	cfg->sink.roll_age_ms = 3600 * 1000;
	cfg->sink.flush_interval_ms = WB_DEFAULT_FLUSH_INTERVAL_MS;
	cfg->path = strdup(path);
	if (cfg->path == NULL) {
		rc = nomem(&ld);
		goto fail;
	}
	rc = read_file(path, &text, &len, err);
	if (rc != 0)
		goto fail;
	if (!yaml_parser_initialize(&parser)) {
		rc = nomem(&ld);
		goto fail;
	}
	have_parser = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = syntax_error(&ld, &parser, text, len);
		goto fail;
	}
	have_doc = true;
	ld.doc = &doc;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		rc = wb_error_set(err, WB_ERR_CONFIG, "%s: the file is empty",
				  path);
		goto fail;
	}
	if (!yaml_parser_load(&parser, &next)) {
		rc = syntax_error(&ld, &parser, text, len);
		goto fail;
	}
	yaml_node_t *extra_root = yaml_document_get_root_node(&next);
	if (extra_root != NULL) {
		rc = wb_error_set(err, WB_ERR_CONFIG,
				  "%s:%zu: expected one YAML document, found "
				  "another",
				  path, extra_root->start_mark.line + 1);
		yaml_document_delete(&next);
		goto fail;
	}
	yaml_document_delete(&next);
	rc = load_root(&ld, root, cfg);
	if (rc != 0)
		goto fail;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(text);
	return cfg;
fail:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	free(text);
	wb_config_free(cfg);
	return NULL;
}

static void free_kv(struct wb_kv *kv, int n)
{
	for (int i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void wb_config_free(struct wb_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->name);
	free(cfg->checkpoint_dir);
	free(cfg->topic_prefix);
	free_strv(cfg->mappings);
	free(cfg->metrics_listen);
	free(cfg->log_level);
	free(cfg->log_format);
	free(cfg->source.type);
	free(cfg->source.dsn);
	free_strv(cfg->source.tables);
	free_strv(cfg->source.exclude);
	free(cfg->source.slot);
	free(cfg->source.publication);
	free_kv(cfg->source.extra, cfg->source.nextra);
	free_odbc(&cfg->source.odbc);
	free(cfg->sink.type);
	free(cfg->sink.dir);
	free(cfg->sink.codec);
	free_kv(cfg->sink.extra, cfg->sink.nextra);
	free(cfg);
}

char *wb_config_expand(const struct wb_config *cfg, const char *key,
		       const char *text, wb_error_t *err)
{
	struct loader ld = {cfg->path, NULL, err};
	struct scalar sc = {NULL, text, false};
	if (expand(&ld, NULL, key, &sc) != 0)
		return NULL;
	return sc.text;
}

const char *wb_config_extra(const struct wb_kv *kv, int n, const char *key)
{
	if (kv == NULL || key == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

/* Leading decimal digits of s into *v; returns the rest, or NULL when there
 * are none or they overflow. */
static const char *parse_count(const char *s, int64_t *v)
{
	if (!isdigit((unsigned char)*s))
		return NULL;
	int64_t n = 0;
	for (; isdigit((unsigned char)*s); s++) {
		int d = *s - '0';
		if (n > (INT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
	}
	*v = n;
	return s;
}

struct unit {
	const char *suffix;
	int64_t factor;
};

static int64_t scaled(const char *s, const struct unit *units)
{
	int64_t n;
	if (s == NULL || (s = parse_count(s, &n)) == NULL)
		return -1;
	for (const struct unit *u = units; u->suffix != NULL; u++) {
		if (strcmp(s, u->suffix) != 0)
			continue;
		if (n > INT64_MAX / u->factor)
			return -1;
		return n * u->factor;
	}
	return -1;
}

int64_t wb_config_parse_duration_ms(const char *s)
{
	static const struct unit units[] = {
		{"", 1},	  {"ms", 1},	      {"s", 1000},
		{"m", 60 * 1000}, {"h", 3600 * 1000}, {NULL, 0},
	};
	return scaled(s, units);
}

int64_t wb_config_parse_size(const char *s)
{
	static const struct unit units[] = {
		{"", 1},
		{"B", 1},
		{"K", 1LL << 10},
		{"KiB", 1LL << 10},
		{"KB", 1000LL},
		{"kB", 1000LL},
		{"M", 1LL << 20},
		{"MiB", 1LL << 20},
		{"MB", 1000LL * 1000},
		{"G", 1LL << 30},
		{"GiB", 1LL << 30},
		{"GB", 1000LL * 1000 * 1000},
		{"T", 1LL << 40},
		{"TiB", 1LL << 40},
		{"TB", 1000LL * 1000 * 1000 * 1000},
		{NULL, 0},
	};
	return scaled(s, units);
}

bool wb_config_is_glob(const char *pattern)
{
	return strpbrk(pattern, "*?[") != NULL;
}

bool wb_config_table_selected(const struct wb_config *cfg, const char *full)
{
	bool in = false;
	for (int i = 0; i < cfg->source.ntables && !in; i++)
		in = fnmatch(cfg->source.tables[i], full, 0) == 0;
	for (int i = 0; in && i < cfg->source.nexclude; i++)
		if (fnmatch(cfg->source.exclude[i], full, 0) == 0)
			in = false;
	return in;
}
