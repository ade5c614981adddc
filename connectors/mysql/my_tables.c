/* my_tables.c — TABLE_MAP events to table shapes.
 *
 * A TABLE_MAP precedes the row events of every transaction. With
 * binlog_row_metadata=FULL it carries column names, signedness, charsets,
 * ENUM/SET strings and the primary key; what it lacks (MariaDB's declared
 * types such as UUID and INET6, the fractional digits of old-format
 * temporals, and everything under MINIMAL) comes from information_schema,
 * read when a table's map first appears or changes. Without FULL, the
 * definition read there must match the event column by column (count and
 * type family): a table altered while waybill was behind would otherwise
 * shift or misname columns, so a mismatch stops the pipeline. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "my_connect.h"
#include "my_source_int.h"
#include "my_types.h"

#define MAX_TABLES 4096

/* One column as information_schema.COLUMNS describes it. */
struct is_col {
	char *name;
	char *data_type;   /* lower case */
	char *column_type; /* "int(10) unsigned", "enum('a','b')" */
	bool nullable;
	bool key;
	int collation; /* -1 none */
	int fsp;       /* DATETIME_PRECISION, -1 none */
};

struct is_table {
	struct is_col *cols;
	int n, cap;
};

static void is_free(struct is_table *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->cols[i].name);
		free(t->cols[i].data_type);
		free(t->cols[i].column_type);
	}
	free(t->cols);
	memset(t, 0, sizeof(*t));
}

static int is_row(void *ctx, char **v, unsigned long *lens, int n)
{
	struct is_table *t = ctx;
	(void)lens;
	if (n < 7)
		return WB_ERR_RUNTIME;
	if (t->n == t->cap) {
		int cap = t->cap ? t->cap * 2 : 16;
		struct is_col *c = realloc(t->cols, (size_t)cap * sizeof(*c));
		if (c == NULL)
			return WB_ERR_NOMEM;
		t->cols = c;
		t->cap = cap;
	}
	struct is_col *c = &t->cols[t->n];
	memset(c, 0, sizeof(*c));
	c->name = strdup(v[0] ? v[0] : "");
	c->data_type = strdup(v[1] ? v[1] : "");
	c->column_type = strdup(v[2] ? v[2] : "");
	if (!c->name || !c->data_type || !c->column_type) {
		free(c->name);
		free(c->data_type);
		free(c->column_type);
		return WB_ERR_NOMEM;
	}
	for (char *p = c->data_type; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	c->nullable = v[3] && strcmp(v[3], "YES") == 0;
	c->key = v[4] && strcmp(v[4], "PRI") == 0;
	c->collation = v[5] ? atoi(v[5]) : -1;
	c->fsp = v[6] ? atoi(v[6]) : -1;
	t->n++;
	return 0;
}

static int is_read(struct my_source *s, const char *db, const char *name,
		   struct is_table *t, wb_error_t *err)
{
	static const char sql[] =
		"SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, "
		"c.IS_NULLABLE, c.COLUMN_KEY, co.ID, c.DATETIME_PRECISION "
		"FROM information_schema.COLUMNS c "
		"LEFT JOIN information_schema.COLLATIONS co "
		"ON co.COLLATION_NAME = c.COLLATION_NAME "
		"WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? "
		"ORDER BY c.ORDINAL_POSITION";
	const char *params[2] = {db, name};
	memset(t, 0, sizeof(*t));
	int rc = wb_my_select(s->meta, sql, params, 2, is_row, t, err);
	if (rc == WB_ERR_NOMEM)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	if (rc && err->message[0] == '\0')
		wb_error_set(err, WB_ERR_RUNTIME,
			     "information_schema.COLUMNS: unexpected row");
	return rc;
}

/* ENUM/SET strings from COLUMN_TYPE "enum('a','b''c')". */
static int parse_values(const char *ct, char ***out, int *nout)
{
	const char *p = strchr(ct, '(');
	int n = 0, cap = 0;
	char **v = NULL;
	if (p == NULL)
		return 0;
	p++;
	while (*p == '\'') {
		p++;
		size_t len = 0;
		char *s = malloc(strlen(p) + 1);
		if (s == NULL)
			goto nomem;
		while (*p) {
			if (*p == '\'' && p[1] == '\'') {
				s[len++] = '\'';
				p += 2;
			} else if (*p == '\'') {
				p++;
				break;
			} else if (*p == '\\' && p[1]) {
				s[len++] = p[1];
				p += 2;
			} else {
				s[len++] = *p++;
			}
		}
		s[len] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			char **nv = realloc(v, (size_t)cap * sizeof(*nv));
			if (nv == NULL) {
				free(s);
				goto nomem;
			}
			v = nv;
		}
		v[n++] = s;
		if (*p == ',')
			p++;
	}
	*out = v;
	*nout = n;
	return 0;
nomem:
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -1;
}

/* The binlog type family a declared type is written as. */
static bool type_matches(const struct wb_my_tmcol *c, const struct is_col *i)
{
	const char *d = i->data_type;
	switch (c->wire_type) {
	case WB_MY_T_TINY:
		return strcmp(d, "tinyint") == 0 || strcmp(d, "bool") == 0 ||
		       strcmp(d, "boolean") == 0;
	case WB_MY_T_SHORT:
		return strcmp(d, "smallint") == 0;
	case WB_MY_T_INT24:
		return strcmp(d, "mediumint") == 0;
	case WB_MY_T_LONG:
		return strcmp(d, "int") == 0 || strcmp(d, "integer") == 0;
	case WB_MY_T_LONGLONG:
		return strcmp(d, "bigint") == 0;
	case WB_MY_T_FLOAT:
		return strcmp(d, "float") == 0;
	case WB_MY_T_DOUBLE:
		return strcmp(d, "double") == 0 || strcmp(d, "real") == 0;
	case WB_MY_T_NEWDECIMAL:
		return strcmp(d, "decimal") == 0 || strcmp(d, "numeric") == 0;
	case WB_MY_T_YEAR:
		return strcmp(d, "year") == 0;
	case WB_MY_T_DATE:
	case WB_MY_T_NEWDATE:
		return strcmp(d, "date") == 0;
	case WB_MY_T_TIME:
	case WB_MY_T_TIME2:
		return strcmp(d, "time") == 0;
	case WB_MY_T_DATETIME:
	case WB_MY_T_DATETIME2:
		return strcmp(d, "datetime") == 0;
	case WB_MY_T_TIMESTAMP:
	case WB_MY_T_TIMESTAMP2:
		return strcmp(d, "timestamp") == 0;
	case WB_MY_T_BIT:
		return strcmp(d, "bit") == 0;
	case WB_MY_T_VARCHAR:
	case WB_MY_T_VAR_STRING:
		return strcmp(d, "varchar") == 0 ||
		       strcmp(d, "varbinary") == 0 || strcmp(d, "inet6") == 0;
	case WB_MY_T_STRING:
		if (c->type == WB_MY_T_ENUM)
			return strcmp(d, "enum") == 0;
		if (c->type == WB_MY_T_SET)
			return strcmp(d, "set") == 0;
		return strcmp(d, "char") == 0 || strcmp(d, "binary") == 0 ||
		       strcmp(d, "uuid") == 0 || strcmp(d, "inet6") == 0 ||
		       strcmp(d, "inet4") == 0;
	case WB_MY_T_BLOB:
	case WB_MY_T_TINY_BLOB:
	case WB_MY_T_MEDIUM_BLOB:
	case WB_MY_T_LONG_BLOB:
		return strstr(d, "blob") != NULL || strstr(d, "text") != NULL ||
		       strcmp(d, "json") == 0;
	case WB_MY_T_JSON:
		return strcmp(d, "json") == 0;
	case WB_MY_T_GEOMETRY:
		return true; /* point, linestring, ... */
	default:
		return true;
	}
}

static char *dup_lower(const char *s)
{
	char *d = strdup(s);
	if (d)
		for (char *p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return d;
}

/* Completes tm's columns with what information_schema says; checks the
 * definition against the event where the event carries no names. */
static int complete_map(struct my_source *s, struct wb_my_tablemap *tm,
			wb_error_t *err)
{
	struct is_table it;
	int rc = is_read(s, tm->db, tm->table, &it, err);
	if (rc)
		return rc;
	if (!tm->has_names) {
		if (it.n != (int)tm->ncols) {
			rc = wb_error_set(
				err, WB_ERR_RUNTIME,
				"table %s.%s: the binlog has %u columns, "
				"information_schema %d: the table changed "
				"since this event was written, and without "
				"column names in the binlog its columns "
				"cannot be matched; set binlog_row_metadata="
				"FULL on the server (then restart waybill "
				"from a position written with it, e.g. "
				"snapshot: always once)",
				tm->db, tm->table, tm->ncols, it.n);
			goto done;
		}
		for (uint32_t i = 0; i < tm->ncols; i++) {
			if (!type_matches(&tm->cols[i], &it.cols[i])) {
				rc = wb_error_set(
					err, WB_ERR_RUNTIME,
					"table %s.%s column %u (%s): the "
					"binlog "
					"has type %u, information_schema %s: "
					"the table changed since this event "
					"was written; set binlog_row_metadata="
					"FULL on the server",
					tm->db, tm->table, i + 1,
					it.cols[i].name, tm->cols[i].wire_type,
					it.cols[i].data_type);
				goto done;
			}
		}
	}
	for (uint32_t i = 0; i < tm->ncols; i++) {
		struct wb_my_tmcol *c = &tm->cols[i];
		const struct is_col *ic = NULL;
		if (tm->has_names) {
			for (int j = 0; j < it.n; j++)
				if (c->name &&
				    strcmp(it.cols[j].name, c->name) == 0) {
					ic = &it.cols[j];
					break;
				}
		} else {
			ic = &it.cols[i];
		}
		if (ic == NULL)
			continue; /* dropped since: the event's facts stand */
		if (c->name == NULL && (c->name = strdup(ic->name)) == NULL)
			goto nomem;
		if (c->is_unsigned < 0)
			c->is_unsigned =
				strstr(ic->column_type, "unsigned") != NULL;
		if (c->charset < 0)
			c->charset = ic->collation >= 0 ? ic->collation : 63;
		if (!tm->has_key)
			c->key = ic->key;
		if ((c->type == WB_MY_T_ENUM && c->enum_values == NULL &&
		     parse_values(ic->column_type, &c->enum_values,
				  &c->nenum)) ||
		    (c->type == WB_MY_T_SET && c->set_values == NULL &&
		     parse_values(ic->column_type, &c->set_values, &c->nset)))
			goto nomem;
		if ((c->wire_type == WB_MY_T_TIME ||
		     c->wire_type == WB_MY_T_DATETIME ||
		     c->wire_type == WB_MY_T_TIMESTAMP) &&
		    ic->fsp > 0)
			c->fsp = (uint8_t)ic->fsp;
		const char *d = ic->data_type;
		if (c->declared == NULL &&
		    (strcmp(d, "uuid") == 0 || strcmp(d, "inet6") == 0 ||
		     strcmp(d, "inet4") == 0 || strcmp(d, "json") == 0) &&
		    (c->declared = dup_lower(d)) == NULL)
			goto nomem;
	}
	if (!tm->has_key)
		tm->has_key = true;
done:
	is_free(&it);
	return rc;
nomem:
	is_free(&it);
	return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
}

static struct wb_table *build_table(const struct wb_my_tablemap *tm,
				    struct wb_type **types_out)
{
	struct wb_table *t =
		wb_table_new(tm->db, tm->db, tm->table, (int)tm->ncols);
	struct wb_type *types =
		calloc(tm->ncols ? tm->ncols : 1, sizeof(*types));
	if (t == NULL || types == NULL)
		goto fail;
	for (uint32_t i = 0; i < tm->ncols; i++) {
		const struct wb_my_tmcol *c = &tm->cols[i];
		char fallback[32];
		wb_my_map_type(c, &types[i]);
		const char *name = c->name;
		if (name == NULL) {
			snprintf(fallback, sizeof(fallback), "col%u", i + 1);
			name = fallback;
		}
		if (wb_table_set_column(t, (int)i, name, &types[i], c->nullable,
					c->key))
			goto fail;
	}
	*types_out = types;
	return t;
fail:
	wb_table_unref(t);
	free(types);
	return NULL;
}

struct my_tentry *wb_mysrc_table_find(struct my_source *s, uint64_t id)
{
	for (int i = 0; i < s->ntables; i++)
		if (s->tables[i].table_id == id) {
			s->tables[i].used = ++s->use_clock;
			return &s->tables[i];
		}
	return NULL;
}

static void entry_clear(struct my_tentry *e)
{
	wb_my_tablemap_free(e->tm);
	wb_table_unref(e->table);
	free(e->types);
	memset(e, 0, sizeof(*e));
}

void wb_mysrc_tables_clear(struct my_source *s)
{
	for (int i = 0; i < s->ntables; i++)
		entry_clear(&s->tables[i]);
	s->ntables = 0;
}

/* Same columns, names, types and keys: the table version can stay. */
static bool same_shape(const struct wb_table *a, const struct wb_table *b)
{
	if (a->ncols != b->ncols)
		return false;
	for (int i = 0; i < a->ncols; i++) {
		const struct wb_column *x = &a->cols[i], *y = &b->cols[i];
		if (strcmp(x->name, y->name) != 0 || x->key != y->key ||
		    x->nullable != y->nullable ||
		    memcmp(&x->type, &y->type, sizeof(x->type)) != 0)
			return false;
	}
	return true;
}

struct my_tentry *wb_mysrc_table_map(struct my_source *s,
				     const struct wb_my_event *ev,
				     wb_error_t *err)
{
	struct wb_my_tablemap *tm = NULL;
	if (wb_my_tablemap_parse(&s->fmt, ev, &tm, err))
		return NULL;
	struct my_tentry *e = wb_mysrc_table_find(s, tm->table_id);
	if (e && wb_my_tablemap_same(e->tm, ev)) {
		wb_my_tablemap_free(tm);
		return e;
	}
	char full[512];
	snprintf(full, sizeof(full), "%s.%s", tm->db, tm->table);
	bool captured = wb_config_table_selected(s->base.cfg, full);
	struct wb_table *t = NULL;
	struct wb_type *types = NULL;
	if (captured) {
		if (complete_map(s, tm, err))
			goto fail;
		t = build_table(tm, &types);
		if (t == NULL) {
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto fail;
		}
		/* the same shape under a new table id (tables are reopened)
		 * keeps its version: a new one would mean a new schema */
		for (int i = 0; i < s->ntables; i++) {
			struct my_tentry *o = &s->tables[i];
			if (o->table && strcmp(o->tm->db, tm->db) == 0 &&
			    strcmp(o->tm->table, tm->table) == 0 &&
			    same_shape(o->table, t)) {
				wb_table_unref(t);
				t = wb_table_ref(o->table);
				break;
			}
		}
	}
	if (e == NULL) {
		if (s->ntables == s->captables) {
			if (s->captables >= MAX_TABLES) {
				/* evict the least recently used map */
				int lru = 0;
				for (int i = 1; i < s->ntables; i++)
					if (s->tables[i].used <
					    s->tables[lru].used)
						lru = i;
				entry_clear(&s->tables[lru]);
				s->tables[lru] = s->tables[--s->ntables];
			} else {
				int cap = s->captables ? s->captables * 2 : 32;
				struct my_tentry *nt = realloc(
					s->tables, (size_t)cap * sizeof(*nt));
				if (nt == NULL) {
					wb_error_set(err, WB_ERR_NOMEM,
						     "out of memory");
					goto fail;
				}
				s->tables = nt;
				s->captables = cap;
			}
		}
		e = &s->tables[s->ntables++];
		memset(e, 0, sizeof(*e));
	} else {
		entry_clear(e);
	}
	e->table_id = tm->table_id;
	e->tm = tm;
	e->captured = captured;
	e->table = t;
	e->types = types;
	e->used = ++s->use_clock;
	if (captured)
		wb_debug("mysql", "table %s: %u columns%s", full, tm->ncols,
			 tm->has_names ? ""
				       : " (names from information_schema)");
	return e;
fail:
	wb_table_unref(t);
	free(types);
	wb_my_tablemap_free(tm);
	return NULL;
}

struct wb_table *wb_mysrc_describe_table(struct my_source *s, const char *db,
					 const char *name, wb_error_t *err)
{
	(void)s;
	(void)db;
	(void)name;
	wb_error_set(err, WB_ERR_RUNTIME, "not available");
	return NULL;
}
