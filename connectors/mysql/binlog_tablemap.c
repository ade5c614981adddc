/* binlog_tablemap.c — decoder of the TABLE_MAP event (layout in
 * binlog_tablemap.h).
 *
 * Optional metadata (binlog_row_metadata; MINIMAL carries 1, 2/3, 8/9,
 * 10/11; FULL all), each field: type u8, length packed, value:
 *   1  SIGNEDNESS      bitmap, most significant bit first, one bit per
 *                      numeric column, set = UNSIGNED
 *   2  DEFAULT_CHARSET packed default collation, then pairs (packed index
 *                      among the character columns, packed collation) for
 *                      the columns that differ
 *   3  COLUMN_CHARSET  packed collation per character column
 *   4  COLUMN_NAME     per column: packed length, name
 *   5  SET_STR_VALUE   per SET column: packed count, count x (packed
 *                      length, string)
 *   6  ENUM_STR_VALUE  per ENUM column: the same
 *   7  GEOMETRY_TYPE   packed geometry type per GEOMETRY column
 *   8  SIMPLE_PRIMARY_KEY       packed column index per key column
 *   9  PRIMARY_KEY_WITH_PREFIX  pairs (packed index, packed prefix length)
 *   10 ENUM_AND_SET_DEFAULT_CHARSET  as 2, over the ENUM and SET columns
 *   11 ENUM_AND_SET_COLUMN_CHARSET   as 3, over the ENUM and SET columns
 *   12 COLUMN_VISIBILITY       bitmap as 1 over all columns, set = visible
 *
 * Which columns the per-kind lists run over follows the servers' own
 * rules (MySQL sql/log_event.cc, sql/field_common_properties.h; MariaDB
 * log_event_server.cc / log_event_client.cc):
 *   numeric   TINY, SHORT, INT24, LONG, LONGLONG, YEAR, FLOAT, DOUBLE,
 *             DECIMAL, NEWDECIMAL (has_signedess_information_type: YEAR
 *             gets a bit although it has no sign)
 *   character STRING whose real type is STRING, VAR_STRING, VARCHAR, the
 *             BLOB types; MySQL also VECTOR, MariaDB also GEOMETRY (its
 *             geometry field is a blob with a character set). Binary
 *             strings count, with collation 63. ENUM and SET never do:
 *             they have their own fields 10 and 11.
 * The null bitmap is least significant bit first, the optional bitmaps
 * most significant bit first. */
#include "binlog_tablemap.h"

#include <stdlib.h>
#include <string.h>

#include "binlog_rd.h"

#define MAX_COLUMNS 4096 /* both servers' limit per table */

enum {
	OPT_SIGNEDNESS = 1,
	OPT_DEFAULT_CHARSET = 2,
	OPT_COLUMN_CHARSET = 3,
	OPT_COLUMN_NAME = 4,
	OPT_SET_STR_VALUE = 5,
	OPT_ENUM_STR_VALUE = 6,
	OPT_GEOMETRY_TYPE = 7,
	OPT_SIMPLE_PRIMARY_KEY = 8,
	OPT_PRIMARY_KEY_WITH_PREFIX = 9,
	OPT_ENUM_AND_SET_DEFAULT_CHARSET = 10,
	OPT_ENUM_AND_SET_COLUMN_CHARSET = 11,
	OPT_COLUMN_VISIBILITY = 12,
};

int wb_my_table_id_len(const struct wb_my_format *fmt, uint8_t type)
{
	return fmt->post_header_len[type] == 6 ? 4 : 6;
}

static bool is_numeric(uint8_t t)
{
	switch (t) {
	case WB_MY_T_TINY:
	case WB_MY_T_SHORT:
	case WB_MY_T_INT24:
	case WB_MY_T_LONG:
	case WB_MY_T_LONGLONG:
	case WB_MY_T_YEAR:
	case WB_MY_T_FLOAT:
	case WB_MY_T_DOUBLE:
	case WB_MY_T_DECIMAL:
	case WB_MY_T_NEWDECIMAL:
		return true;
	default:
		return false;
	}
}

/* t is the resolved type (ENUM/SET already told apart from STRING). */
static bool is_character(uint8_t t, bool mariadb)
{
	switch (t) {
	case WB_MY_T_STRING:
	case WB_MY_T_VAR_STRING:
	case WB_MY_T_VARCHAR:
	case WB_MY_T_BLOB:
	case WB_MY_T_TINY_BLOB:
	case WB_MY_T_MEDIUM_BLOB:
	case WB_MY_T_LONG_BLOB:
		return true;
	case WB_MY_T_VECTOR:
		return !mariadb;
	case WB_MY_T_GEOMETRY:
		return mariadb;
	default:
		return false;
	}
}

static bool is_enum_or_set(uint8_t t)
{
	return t == WB_MY_T_ENUM || t == WB_MY_T_SET;
}

static void free_strings(char **v, int n)
{
	if (v == NULL)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void wb_my_tablemap_free(struct wb_my_tablemap *tm)
{
	if (tm == NULL)
		return;
	if (tm->cols != NULL) {
		for (uint32_t i = 0; i < tm->ncols; i++) {
			struct wb_my_tmcol *c = &tm->cols[i];
			free(c->name);
			free_strings(c->enum_values, c->nenum);
			free_strings(c->set_values, c->nset);
			free(c->declared);
		}
	}
	free(tm->cols);
	free(tm->db);
	free(tm->table);
	free(tm->raw);
	free(tm);
}

bool wb_my_tablemap_same(const struct wb_my_tablemap *tm,
			 const struct wb_my_event *ev)
{
	return tm != NULL && ev->type == WB_MY_EV_TABLE_MAP &&
	       tm->raw_len == ev->body_len &&
	       memcmp(tm->raw, ev->body, ev->body_len) == 0;
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static int nomem(wb_error_t *err)
{
	return wb_error_set(err, WB_ERR_NOMEM,
			    "binlog TABLE_MAP: out of memory");
}

/* A length-prefixed name: u8 length, bytes, NUL. */
static int rd_name(struct wb_my_rd *r, const char *field, char **out)
{
	uint8_t len, nul;
	const uint8_t *s;
	if (wb_my_rd_u8(r, field, &len) || wb_my_rd_bytes(r, len, field, &s) ||
	    wb_my_rd_u8(r, field, &nul))
		return WB_ERR_DECODE;
	if (nul != 0)
		return wb_my_rd_fail(r, field, "is not NUL-terminated");
	if (memchr(s, '\0', len) != NULL)
		return wb_my_rd_fail(r, field, "contains NUL");
	*out = dup_bytes(s, len);
	return *out == NULL ? nomem(r->err) : 0;
}

/* The type metadata of one column, m[0..mlen) advanced past it. */
static int column_meta(struct wb_my_rd *m, struct wb_my_tmcol *c)
{
	uint64_t v;
	uint8_t b0, b1;
	c->type = c->wire_type;
	switch (c->wire_type) {
	case WB_MY_T_FLOAT:
	case WB_MY_T_DOUBLE:
		if (wb_my_rd_u8(m, "float metadata", &b0))
			return WB_ERR_DECODE;
		c->meta = b0;
		c->pack_len = b0;
		return 0;
	case WB_MY_T_VARCHAR:
	case WB_MY_T_VAR_STRING:
		if (wb_my_rd_uint(m, 2, "varchar metadata", &v))
			return WB_ERR_DECODE;
		c->meta = (uint16_t)v;
		c->length = (uint16_t)v;
		return 0;
	case WB_MY_T_BLOB:
	case WB_MY_T_TINY_BLOB:
	case WB_MY_T_MEDIUM_BLOB:
	case WB_MY_T_LONG_BLOB:
	case WB_MY_T_GEOMETRY:
	case WB_MY_T_JSON:
	case WB_MY_T_VECTOR:
		if (wb_my_rd_u8(m, "blob metadata", &b0))
			return WB_ERR_DECODE;
		if (b0 < 1 || b0 > 4)
			return wb_my_rd_fail(m, "blob metadata",
					     "has a length prefix outside 1-4");
		c->meta = b0;
		c->pack_len = b0;
		return 0;
	case WB_MY_T_STRING:
	case WB_MY_T_ENUM:
	case WB_MY_T_SET:
		if (wb_my_rd_u8(m, "string metadata", &b0) ||
		    wb_my_rd_u8(m, "string metadata", &b1))
			return WB_ERR_DECODE;
		c->meta = (uint16_t)(b0 << 8 | b1);
		if ((b0 & 0x30) != 0x30) {
			/* CHAR longer than 255 bytes: the length's bits 8
			 * and 9 are stored inverted in bits 4 and 5 */
			c->length =
				(uint16_t)(b1 | (((b0 & 0x30) ^ 0x30) << 4));
			b0 |= 0x30;
		} else {
			c->length = b1;
		}
		if (c->wire_type != WB_MY_T_STRING && b0 != c->wire_type)
			return wb_my_rd_fail(m, "string metadata",
					     "has a real type other than the "
					     "column's");
		if (b0 == WB_MY_T_ENUM || b0 == WB_MY_T_SET)
			c->type = b0;
		else if (b0 == WB_MY_T_STRING)
			c->type = WB_MY_T_STRING;
		else
			return wb_my_rd_fail(m, "string metadata",
					     "has an unknown real type");
		return 0;
	case WB_MY_T_NEWDECIMAL:
		if (wb_my_rd_u8(m, "decimal metadata", &b0) ||
		    wb_my_rd_u8(m, "decimal metadata", &b1))
			return WB_ERR_DECODE;
		c->meta = (uint16_t)(b0 << 8 | b1);
		c->precision = b0;
		c->scale = b1;
		return 0;
	case WB_MY_T_BIT:
		if (wb_my_rd_u8(m, "bit metadata", &b0) ||
		    wb_my_rd_u8(m, "bit metadata", &b1))
			return WB_ERR_DECODE;
		c->meta = (uint16_t)(b1 << 8 | b0);
		c->bits = (uint16_t)(b1 * 8 + b0);
		return 0;
	case WB_MY_T_TIME2:
	case WB_MY_T_DATETIME2:
	case WB_MY_T_TIMESTAMP2:
		if (wb_my_rd_u8(m, "temporal metadata", &b0))
			return WB_ERR_DECODE;
		if (b0 > 6)
			return wb_my_rd_fail(m, "temporal metadata",
					     "has more than 6 fractional "
					     "digits");
		c->meta = b0;
		c->fsp = b0;
		return 0;
	case WB_MY_T_DECIMAL:
	case WB_MY_T_TINY:
	case WB_MY_T_SHORT:
	case WB_MY_T_LONG:
	case WB_MY_T_NULL:
	case WB_MY_T_TIMESTAMP:
	case WB_MY_T_LONGLONG:
	case WB_MY_T_INT24:
	case WB_MY_T_DATE:
	case WB_MY_T_TIME:
	case WB_MY_T_DATETIME:
	case WB_MY_T_YEAR:
	case WB_MY_T_NEWDATE:
		return 0;
	default:
		return wb_error_set(m->err, WB_ERR_DECODE,
				    "binlog TABLE_MAP: column type %u unknown",
				    c->wire_type);
	}
}

/* The columns a per-kind optional field runs over. */
enum kind { K_NUMERIC, K_CHARACTER, K_ENUM_SET, K_ENUM, K_SET, K_GEOMETRY };

static bool of_kind(const struct wb_my_tmcol *c, enum kind k, bool mariadb)
{
	switch (k) {
	case K_NUMERIC:
		return is_numeric(c->type);
	case K_CHARACTER:
		return is_character(c->type, mariadb);
	case K_ENUM_SET:
		return is_enum_or_set(c->type);
	case K_ENUM:
		return c->type == WB_MY_T_ENUM;
	case K_SET:
		return c->type == WB_MY_T_SET;
	case K_GEOMETRY:
		return c->type == WB_MY_T_GEOMETRY;
	}
	return false;
}

static uint32_t count_kind(const struct wb_my_tablemap *tm, enum kind k,
			   bool mariadb)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < tm->ncols; i++)
		n += of_kind(&tm->cols[i], k, mariadb);
	return n;
}

/* The i-th column of kind k (i < count_kind). */
static struct wb_my_tmcol *nth_of_kind(struct wb_my_tablemap *tm, enum kind k,
				       bool mariadb, uint32_t i)
{
	for (uint32_t c = 0; c < tm->ncols; c++) {
		if (!of_kind(&tm->cols[c], k, mariadb))
			continue;
		if (i == 0)
			return &tm->cols[c];
		i--;
	}
	return NULL;
}

/* SIGNEDNESS and COLUMN_VISIBILITY: one bit per column of the kind (or
 * every column), most significant bit first. */
static int opt_bitmap(struct wb_my_rd *v, struct wb_my_tablemap *tm, bool all,
		      bool mariadb)
{
	uint32_t n = all ? tm->ncols : count_kind(tm, K_NUMERIC, mariadb);
	const uint8_t *bits;
	if (wb_my_rd_left(v) != (n + 7) / 8)
		return wb_my_rd_fail(v, "bitmap",
				     "does not match the column count");
	if (wb_my_rd_bytes(v, (n + 7) / 8, "bitmap", &bits))
		return WB_ERR_DECODE;
	uint32_t j = 0;
	for (uint32_t c = 0; c < tm->ncols; c++) {
		struct wb_my_tmcol *col = &tm->cols[c];
		if (!all && !is_numeric(col->type))
			continue;
		int bit = (bits[j / 8] >> (7 - j % 8)) & 1;
		if (all)
			col->visible = (int8_t)bit;
		else
			col->is_unsigned = (int8_t)bit;
		j++;
	}
	return 0;
}

static int rd_collation(struct wb_my_rd *v, int32_t *out)
{
	uint64_t id;
	*out = -1;
	if (wb_my_rd_packed(v, "collation", &id))
		return WB_ERR_DECODE;
	if (id > 0xffff)
		return wb_my_rd_fail(v, "collation", "out of range");
	*out = (int32_t)id;
	return 0;
}

/* DEFAULT_CHARSET / COLUMN_CHARSET and their ENUM/SET twins. */
static int opt_charset(struct wb_my_rd *v, struct wb_my_tablemap *tm,
		       enum kind k, bool per_column, bool mariadb)
{
	uint32_t n = count_kind(tm, k, mariadb);
	int32_t coll = -1;
	if (per_column) {
		for (uint32_t i = 0; i < n; i++) {
			if (rd_collation(v, &coll))
				return WB_ERR_DECODE;
			nth_of_kind(tm, k, mariadb, i)->charset = coll;
		}
		if (wb_my_rd_left(v) != 0)
			return wb_my_rd_fail(v, "column charsets",
					     "outnumber the columns");
		return 0;
	}
	if (rd_collation(v, &coll))
		return WB_ERR_DECODE;
	for (uint32_t i = 0; i < n; i++)
		nth_of_kind(tm, k, mariadb, i)->charset = coll;
	while (wb_my_rd_left(v) > 0) {
		uint64_t idx;
		if (wb_my_rd_packed(v, "charset column", &idx) ||
		    rd_collation(v, &coll))
			return WB_ERR_DECODE;
		if (idx >= n)
			return wb_my_rd_fail(v, "charset column",
					     "out of range");
		nth_of_kind(tm, k, mariadb, (uint32_t)idx)->charset = coll;
	}
	return 0;
}

static int opt_names(struct wb_my_rd *v, struct wb_my_tablemap *tm)
{
	for (uint32_t c = 0; c < tm->ncols; c++) {
		const uint8_t *s;
		size_t n;
		if (wb_my_rd_lenstr(v, "column name", &s, &n))
			return WB_ERR_DECODE;
		if (memchr(s, '\0', n) != NULL)
			return wb_my_rd_fail(v, "column name", "contains NUL");
		tm->cols[c].name = dup_bytes(s, n);
		if (tm->cols[c].name == NULL)
			return nomem(v->err);
	}
	if (wb_my_rd_left(v) != 0)
		return wb_my_rd_fail(v, "column names",
				     "outnumber the columns");
	return 0;
}

/* ENUM_STR_VALUE / SET_STR_VALUE. */
static int opt_strings(struct wb_my_rd *v, struct wb_my_tablemap *tm,
		       enum kind k)
{
	for (uint32_t c = 0; c < tm->ncols; c++) {
		struct wb_my_tmcol *col = &tm->cols[c];
		if (!of_kind(col, k, false))
			continue;
		uint64_t count;
		if (wb_my_rd_packed(v, "value count", &count))
			return WB_ERR_DECODE;
		/* every value takes at least its length byte */
		if (count > wb_my_rd_left(v) || count > 65535)
			return wb_my_rd_fail(v, "value count", "out of range");
		char **vals = calloc(count ? (size_t)count : 1, sizeof(*vals));
		if (vals == NULL)
			return nomem(v->err);
		if (k == K_ENUM) {
			col->enum_values = vals;
			col->nenum = (int)count;
		} else {
			col->set_values = vals;
			col->nset = (int)count;
		}
		for (uint64_t i = 0; i < count; i++) {
			const uint8_t *s;
			size_t n;
			if (wb_my_rd_lenstr(v, "value", &s, &n))
				return WB_ERR_DECODE;
			vals[i] = dup_bytes(s, n);
			if (vals[i] == NULL)
				return nomem(v->err);
		}
	}
	if (wb_my_rd_left(v) != 0)
		return wb_my_rd_fail(v, "value lists", "outnumber the columns");
	return 0;
}

static int opt_geometry(struct wb_my_rd *v, struct wb_my_tablemap *tm)
{
	for (uint32_t c = 0; c < tm->ncols; c++) {
		uint64_t g;
		if (tm->cols[c].type != WB_MY_T_GEOMETRY)
			continue;
		if (wb_my_rd_packed(v, "geometry type", &g))
			return WB_ERR_DECODE;
		tm->cols[c].geometry_type = (uint32_t)g;
	}
	if (wb_my_rd_left(v) != 0)
		return wb_my_rd_fail(v, "geometry types",
				     "outnumber the columns");
	return 0;
}

static int opt_key(struct wb_my_rd *v, struct wb_my_tablemap *tm,
		   bool with_prefix)
{
	while (wb_my_rd_left(v) > 0) {
		uint64_t idx, prefix;
		if (wb_my_rd_packed(v, "key column", &idx))
			return WB_ERR_DECODE;
		if (with_prefix && wb_my_rd_packed(v, "key prefix", &prefix))
			return WB_ERR_DECODE;
		if (idx >= tm->ncols)
			return wb_my_rd_fail(v, "key column", "out of range");
		tm->cols[idx].key = true;
	}
	return 0;
}

static int optional_metadata(struct wb_my_rd *r, struct wb_my_tablemap *tm,
			     bool mariadb)
{
	uint32_t seen = 0;
	while (wb_my_rd_left(r) > 0) {
		uint8_t type;
		const uint8_t *val;
		size_t len;
		struct wb_my_rd v;
		int rc = 0;
		if (wb_my_rd_u8(r, "optional metadata type", &type) ||
		    wb_my_rd_lenstr(r, "optional metadata", &val, &len))
			return WB_ERR_DECODE;
		if (type >= 1 && type <= 12) {
			if (seen & (1u << type))
				return wb_error_set(
					r->err, WB_ERR_DECODE,
					"binlog TABLE_MAP: optional "
					"metadata %u repeated",
					type);
			seen |= 1u << type;
		}
		wb_my_rd_init(&v, val, len, "TABLE_MAP optional metadata",
			      r->err);
		switch (type) {
		case OPT_SIGNEDNESS:
			rc = opt_bitmap(&v, tm, false, mariadb);
			tm->has_signedness = true;
			break;
		case OPT_DEFAULT_CHARSET:
		case OPT_COLUMN_CHARSET:
			rc = opt_charset(&v, tm, K_CHARACTER,
					 type == OPT_COLUMN_CHARSET, mariadb);
			tm->has_charsets = true;
			break;
		case OPT_ENUM_AND_SET_DEFAULT_CHARSET:
		case OPT_ENUM_AND_SET_COLUMN_CHARSET:
			rc = opt_charset(
				&v, tm, K_ENUM_SET,
				type == OPT_ENUM_AND_SET_COLUMN_CHARSET,
				mariadb);
			break;
		case OPT_COLUMN_NAME:
			rc = opt_names(&v, tm);
			tm->has_names = true;
			break;
		case OPT_SET_STR_VALUE:
			rc = opt_strings(&v, tm, K_SET);
			tm->has_enum_set = true;
			break;
		case OPT_ENUM_STR_VALUE:
			rc = opt_strings(&v, tm, K_ENUM);
			tm->has_enum_set = true;
			break;
		case OPT_GEOMETRY_TYPE:
			rc = opt_geometry(&v, tm);
			break;
		case OPT_SIMPLE_PRIMARY_KEY:
		case OPT_PRIMARY_KEY_WITH_PREFIX:
			rc = opt_key(&v, tm,
				     type == OPT_PRIMARY_KEY_WITH_PREFIX);
			tm->has_key = true;
			break;
		case OPT_COLUMN_VISIBILITY:
			rc = opt_bitmap(&v, tm, true, mariadb);
			tm->has_visibility = true;
			break;
		default: /* a later server's: skipped by its length */
			break;
		}
		if (rc != 0)
			return rc;
	}
	/* complete only when every ENUM and SET column got its values */
	for (uint32_t c = 0; c < tm->ncols && tm->has_enum_set; c++) {
		const struct wb_my_tmcol *col = &tm->cols[c];
		if ((col->type == WB_MY_T_ENUM && col->enum_values == NULL) ||
		    (col->type == WB_MY_T_SET && col->set_values == NULL))
			tm->has_enum_set = false;
	}
	return 0;
}

static int parse(const struct wb_my_format *fmt, const struct wb_my_event *ev,
		 struct wb_my_tablemap *tm, wb_error_t *err)
{
	struct wb_my_rd r;
	uint64_t v;
	const uint8_t *types, *meta, *nulls;
	size_t meta_len;
	wb_my_rd_init(&r, ev->body, ev->body_len, "TABLE_MAP", err);
	if (wb_my_rd_uint(&r, (size_t)wb_my_table_id_len(fmt, ev->type),
			  "table id", &tm->table_id) ||
	    wb_my_rd_uint(&r, 2, "flags", &v))
		return WB_ERR_DECODE;
	tm->flags = (uint16_t)v;
	int rc = rd_name(&r, "db", &tm->db);
	if (rc == 0)
		rc = rd_name(&r, "table", &tm->table);
	if (rc != 0)
		return rc;
	if (wb_my_rd_packed(&r, "column count", &v))
		return WB_ERR_DECODE;
	if (v == 0 || v > MAX_COLUMNS)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog TABLE_MAP %s.%s: %llu columns",
				    tm->db, tm->table, (unsigned long long)v);
	if (wb_my_rd_bytes(&r, (size_t)v, "column types", &types))
		return WB_ERR_DECODE;
	tm->cols = calloc((size_t)v, sizeof(*tm->cols));
	if (tm->cols == NULL)
		return nomem(err);
	tm->ncols = (uint32_t)v;
	if (wb_my_rd_lenstr(&r, "column metadata", &meta, &meta_len))
		return WB_ERR_DECODE;
	if (wb_my_rd_bytes(&r, (tm->ncols + 7) / 8, "null bitmap", &nulls))
		return WB_ERR_DECODE;
	struct wb_my_rd m;
	wb_my_rd_init(&m, meta, meta_len, "TABLE_MAP column metadata", err);
	for (uint32_t i = 0; i < tm->ncols; i++) {
		struct wb_my_tmcol *c = &tm->cols[i];
		c->wire_type = types[i];
		c->is_unsigned = -1;
		c->charset = -1;
		c->visible = -1;
		c->nullable = (nulls[i / 8] >> (i % 8)) & 1;
		rc = column_meta(&m, c);
		if (rc != 0)
			return rc;
	}
	if (wb_my_rd_left(&m) != 0)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog TABLE_MAP %s.%s: %zu bytes of "
				    "column metadata left over",
				    tm->db, tm->table, wb_my_rd_left(&m));
	return optional_metadata(&r, tm, fmt->mariadb);
}

int wb_my_tablemap_parse(const struct wb_my_format *fmt,
			 const struct wb_my_event *ev,
			 struct wb_my_tablemap **out, wb_error_t *err)
{
	*out = NULL;
	if (ev->type != WB_MY_EV_TABLE_MAP)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog TABLE_MAP expected, got event type "
				    "%u",
				    ev->type);
	struct wb_my_tablemap *tm = calloc(1, sizeof(*tm));
	if (tm == NULL)
		return nomem(err);
	int rc = parse(fmt, ev, tm, err);
	if (rc == 0) {
		tm->raw = malloc(ev->body_len ? ev->body_len : 1);
		if (tm->raw == NULL)
			rc = nomem(err);
		else {
			memcpy(tm->raw, ev->body, ev->body_len);
			tm->raw_len = ev->body_len;
		}
	}
	if (rc != 0) {
		wb_my_tablemap_free(tm);
		return rc;
	}
	*out = tm;
	return 0;
}
