/* pg_types.c — PostgreSQL type OIDs to Avro types, and text values to wb_value.
 *
 * The text forms parsed here are what the server prints with the session
 * settings DateStyle=ISO, TimeZone=UTC, extra_float_digits=3,
 * bytea_output=hex:
 *   bool         t | f
 *   date         2024-02-29 | 0044-03-15 BC | infinity | -infinity
 *   time         13:45:07[.123456]            (24:00:00 allowed)
 *   timestamp    2024-02-29 13:45:07[.5][ BC]
 *   timestamptz  2024-02-29 13:45:07[.5]+00[:00[:00]][ BC]
 *   bytea        \x0a0b
 *   numeric      -123.4500 | NaN | Infinity | -Infinity
 *   arrays       [0:1]={{"a,b",NULL},{"c\"d",x}}
 * Decimal values become the unscaled integer as big-endian two's complement
 * (Avro "decimal"); arrays become their complete Avro binary encoding,
 * nested arrays for several dimensions. Values with no Avro form (NaN and
 * infinities, timestamps past a long of microseconds, arrays of other
 * dimensions or with bounds) are kept as their text, marked
 * WB_VAL_UNREPRESENTABLE. */
#include "pg_types.h"
#include "pg_oids.h"
#include "valconv.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Builtin array types and their element types (pg_type.typelem). */
static const struct {
	uint32_t array;
	uint32_t elem;
} builtin_arrays[] = {
	{1000, OID_BOOL},	 {1001, OID_BYTEA},   {1002, OID_CHAR},
	{1003, OID_NAME},	 {1005, OID_INT2},    {1007, OID_INT4},
	{1016, OID_INT8},	 {1009, OID_TEXT},    {1028, OID_OID},
	{199, OID_JSON},	 {143, OID_XML},      {1021, OID_FLOAT4},
	{1022, OID_FLOAT8},	 {1014, OID_BPCHAR},  {1015, OID_VARCHAR},
	{1182, OID_DATE},	 {1183, OID_TIME},    {1115, OID_TIMESTAMP},
	{1185, OID_TIMESTAMPTZ}, {1231, OID_NUMERIC}, {2951, OID_UUID},
	{3807, OID_JSONB},
};

/* Internal result of a conversion: the text is a value the server can hold
 * but the Avro type cannot (NaN in a decimal, an infinite or out-of-range
 * timestamp, an array of other dimensions). Never returned to callers:
 * wb_pg_text_to_value turns it into WB_VAL_UNREPRESENTABLE. */
#define UNREP (-1000)

/* Builds the scalar type of a builtin; returns 0 when oid is not one. */
static int map_builtin_scalar(uint32_t oid, int32_t typmod,
			      enum wb_decimal_handling decimals,
			      struct wb_scalar_type *s)
{
	memset(s, 0, sizeof(*s));
	switch (oid) {
	case OID_INT2:
	case OID_INT4:
		s->kind = WB_T_INT;
		return 1;
	case OID_INT8:
	case OID_OID:
		s->kind = WB_T_LONG;
		return 1;
	case OID_FLOAT4:
		s->kind = WB_T_FLOAT;
		return 1;
	case OID_FLOAT8:
		s->kind = WB_T_DOUBLE;
		return 1;
	case OID_BOOL:
		s->kind = WB_T_BOOLEAN;
		return 1;
	case OID_TEXT:
	case OID_VARCHAR:
	case OID_BPCHAR:
	case OID_CHAR:
	case OID_NAME:
	case OID_XML:
		s->kind = WB_T_STRING;
		return 1;
	case OID_BYTEA:
		s->kind = WB_T_BYTES;
		return 1;
	case OID_DATE:
		s->kind = WB_T_INT;
		s->logical = WB_L_DATE;
		return 1;
	case OID_TIME:
		s->kind = WB_T_LONG;
		s->logical = WB_L_TIME_MICROS;
		return 1;
	case OID_TIMESTAMP:
		s->kind = WB_T_LONG;
		s->logical = WB_L_LOCAL_TIMESTAMP_MICROS;
		return 1;
	case OID_TIMESTAMPTZ:
		s->kind = WB_T_LONG;
		s->logical = WB_L_TIMESTAMP_MICROS;
		return 1;
	case OID_UUID:
		s->kind = WB_T_STRING;
		s->logical = WB_L_UUID;
		return 1;
	case OID_JSON:
	case OID_JSONB:
		s->kind = WB_T_STRING;
		s->logical = WB_L_JSON;
		return 1;
	case OID_NUMERIC: {
		/* typmod = ((precision << 16) | scale) + VARHDRSZ; since
		 * PostgreSQL 15 the scale is an 11-bit signed field and may be
		 * negative or exceed the precision. Avro wants
		 * 0 <= scale <= precision, so widen the precision to hold every
		 * value the column can: numeric(2,-3) → decimal(5,0),
		 * numeric(2,5) → decimal(5,5). */
		int p = 0, sc = 0;
		if (typmod >= 4) {
			int32_t t = typmod - 4;
			p = (t >> 16) & 0xffff;
			sc = ((t & 0x7ff) ^ 1024) - 1024;
		}
		if (p < 1 || p > 1000) {
			s->kind = decimals == WB_DECIMAL_DOUBLE ? WB_T_DOUBLE
								: WB_T_STRING;
			return 1;
		}
		if (sc < 0) {
			p -= sc;
			sc = 0;
		} else if (sc > p) {
			p = sc;
		}
		s->kind = WB_T_BYTES;
		s->logical = WB_L_DECIMAL;
		s->precision = (int16_t)p;
		s->scale = (int16_t)sc;
		return 1;
	}
	default:
		return 0;
	}
}

static uint32_t builtin_array_elem(uint32_t oid)
{
	for (size_t i = 0;
	     i < sizeof(builtin_arrays) / sizeof(builtin_arrays[0]); i++)
		if (builtin_arrays[i].array == oid)
			return builtin_arrays[i].elem;
	return 0;
}

int wb_pg_type_is_builtin(uint32_t oid)
{
	struct wb_scalar_type s;
	return map_builtin_scalar(oid, -1, WB_DECIMAL_STRING, &s) ||
	       builtin_array_elem(oid) != 0;
}

/* Scalar mapping for oid: builtins by table, domains through their base
 * type, enums and everything else as the server's text form. */
static void map_scalar(uint32_t oid, int32_t typmod,
		       const struct wb_pg_typeinfo *info,
		       enum wb_decimal_handling decimals,
		       struct wb_scalar_type *s)
{
	if (info != NULL && (info->oid == 0 || info->oid == oid) &&
	    info->typtype == 'd' && info->basetype != 0)
		oid = info->basetype;
	if (map_builtin_scalar(oid, typmod, decimals, s))
		return;
	memset(s, 0, sizeof(*s));
	s->kind = WB_T_STRING;
}

/* Types with values that have no Avro form: NaN and infinities of a
 * constrained numeric, infinite dates and timestamps, timestamps past the
 * range of a long of microseconds since 1970. */
static int scalar_may_not_fit(const struct wb_scalar_type *s)
{
	return s->logical == WB_L_DECIMAL || s->logical == WB_L_DATE ||
	       s->logical == WB_L_TIMESTAMP_MICROS ||
	       s->logical == WB_L_LOCAL_TIMESTAMP_MICROS;
}

void wb_pg_map_type(uint32_t oid, int32_t typmod,
		    const struct wb_pg_typeinfo *info,
		    const struct wb_pg_typeinfo *elem_info,
		    enum wb_decimal_handling decimals, struct wb_type *out)
{
	memset(out, 0, sizeof(*out));
	out->src_type = oid;

	uint32_t base = oid;
	if (info != NULL && info->typtype == 'd' && info->basetype != 0) {
		/* What we know about the domain says nothing about its base. */
		base = info->basetype;
		info = NULL;
	}
	uint32_t elem = builtin_array_elem(base);
	if (elem == 0 && info != NULL && info->typcategory == 'A' &&
	    info->typelem != 0)
		elem = info->typelem;
	if (elem != 0) {
		/* An array column's typmod is its element's (numeric(10,2)[]).
		 */
		out->is_array = 1;
		out->ndims = 1;
		map_scalar(elem, typmod, elem_info, decimals, &out->s);
		/* any array: another number of dimensions, bounds */
		out->may_not_fit = 1;
		return;
	}
	map_scalar(base, typmod, NULL, decimals, &out->s);
	out->may_not_fit = scalar_may_not_fit(&out->s);
}

void wb_pg_type_set_dims(struct wb_type *t, int attndims)
{
	if (t->is_array)
		t->ndims = (uint8_t)(attndims > 1 && attndims <= WB_PG_MAX_DIMS
					     ? attndims
					     : 1);
}

/* ---- error messages ---------------------------------------------------- */

static const char *type_name(const struct wb_scalar_type *s, char *buf,
			     size_t size)
{
	switch (s->logical) {
	case WB_L_DECIMAL:
		snprintf(buf, size, "decimal(%d,%d)", s->precision, s->scale);
		return buf;
	case WB_L_DATE:
		return "date";
	case WB_L_TIME_MICROS:
		return "time";
	case WB_L_TIMESTAMP_MICROS:
		return "timestamptz";
	case WB_L_LOCAL_TIMESTAMP_MICROS:
		return "timestamp";
	default:
		break;
	}
	switch (s->kind) {
	case WB_T_BOOLEAN:
		return "boolean";
	case WB_T_INT:
		return "int";
	case WB_T_LONG:
		return "long";
	case WB_T_FLOAT:
		return "float";
	case WB_T_DOUBLE:
		return "double";
	case WB_T_BYTES:
		return "bytes";
	default:
		return "string";
	}
}

/* Fills err with `invalid value for <type>: "<text>"[ (<why>)]`; the text is
 * cut to 40 bytes and made valid UTF-8 so that log lines stay readable. */
static int bad_value(wb_error_t *err, const struct wb_scalar_type *s,
		     int is_array, const char *text, size_t len,
		     const char *why)
{
	char name[40];
	uint8_t shown[40 * 3 + 1];
	size_t cut = len;
	if (cut > 40) {
		cut = 40;
		while (cut > 0 && ((uint8_t)text[cut] & 0xc0) == 0x80)
			cut--;
	}
	size_t m =
		cut ? wb_utf8_sanitize((const uint8_t *)text, cut, shown) : 0;
	for (size_t i = 0; i < m; i++)
		if (shown[i] < 0x20 || shown[i] == 0x7f)
			shown[i] = '?';
	shown[m] = '\0';
	return wb_error_set(
		err, WB_ERR_TYPE, "invalid value for %s%s: \"%s\"%s%s%s%s",
		type_name(s, name, sizeof(name)), is_array ? "[]" : "",
		(const char *)shown, cut < len ? "..." : "", why ? " (" : "",
		why ? why : "", why ? ")" : "");
}

/* ---- strings ----------------------------------------------------------- */

static int to_string(const char *text, size_t len, struct wb_arena *a,
		     struct wb_value *out, wb_error_t *err)
{
	return wb_utf8_value((const uint8_t *)text, len, a, out, err);
}

/* ---- numbers ----------------------------------------------------------- */

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parses [+-]digits into [lo, hi]. Returns 0, -1 on syntax, -2 on range. */
static int parse_int(const char *p, size_t n, int64_t lo, int64_t hi,
		     int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		neg = p[i++] == '-';
	if (i == n)
		return -1;
	uint64_t limit = neg ? (uint64_t)(-(lo + 1)) + 1 : (uint64_t)hi;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (limit - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale; /* written once under c_locale_once */

static void c_locale_init(void)
{
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static int eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* Parses a float8/float4/numeric text as a double (is_float: as a float).
 * Only plain decimal notation and PostgreSQL's NaN/Infinity spellings are
 * accepted: strtod alone would also take hex floats, "inf" and spaces. */
static int parse_floating(const char *p, size_t n, int is_float,
			  struct wb_arena *a, double *dout, float *fout)
{
	if (eq(p, n, "NaN")) {
		*dout = NAN;
		*fout = NAN;
		return 0;
	}
	if (eq(p, n, "Infinity") || eq(p, n, "+Infinity")) {
		*dout = INFINITY;
		*fout = INFINITY;
		return 0;
	}
	if (eq(p, n, "-Infinity")) {
		*dout = -INFINITY;
		*fout = -INFINITY;
		return 0;
	}
	size_t i = 0, digits = 0;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		i++;
	for (; i < n && is_digit(p[i]); i++)
		digits++;
	if (i < n && p[i] == '.')
		for (i++; i < n && is_digit(p[i]); i++)
			digits++;
	if (digits == 0)
		return -1;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '-' || p[i] == '+'))
			i++;
		size_t e = i;
		while (i < n && is_digit(p[i]))
			i++;
		if (i == e)
			return -1;
	}
	if (i != n)
		return -1;

	char small[64];
	char *z = small;
	if (n >= sizeof(small)) {
		z = wb_arena_alloc(a, n + 1);
		if (z == NULL)
			return -3;
	}
	memcpy(z, p, n);
	z[n] = '\0';
	pthread_once(&c_locale_once, c_locale_init);
	char *end;
	if (is_float) {
		float f = c_locale ? strtof_l(z, &end, c_locale)
				   : strtof(z, &end);
		if (isinf(f))
			return -2;
		*fout = f;
	} else {
		double d = c_locale ? strtod_l(z, &end, c_locale)
				    : strtod(z, &end);
		if (isinf(d))
			return -2;
		*dout = d;
	}
	return end == z + n ? 0 : -1;
}

static int to_decimal(const struct wb_scalar_type *s, int is_array,
		      const char *p, size_t n, struct wb_arena *a,
		      struct wb_value *out, wb_error_t *err)
{
	/* NaN and infinities have no Avro decimal form */
	if (eq(p, n, "NaN") || eq(p, n, "Infinity") || eq(p, n, "-Infinity"))
		return UNREP;
	switch (wb_decimal_from_text(p, n, s->precision, s->scale, a, out)) {
	case WB_DEC_OK:
		return 0;
	case WB_DEC_NOFIT: /* a value the typmod would not let in */
		return UNREP;
	case WB_DEC_NOMEM:
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	default:
		return bad_value(err, s, is_array, p, n, NULL);
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* bytea: hex format "\x0a0b"; the older escape format ("a\\\001") is also
 * read in case a session overrides bytea_output. */
static int to_bytes(const struct wb_scalar_type *s, int is_array, const char *p,
		    size_t n, struct wb_arena *a, struct wb_value *out,
		    wb_error_t *err)
{
	int hex = n >= 2 && p[0] == '\\' && p[1] == 'x';
	if (hex && n % 2 != 0)
		return bad_value(err, s, is_array, p, n,
				 "odd number of hex digits");
	uint8_t *d = wb_arena_alloc(a, hex ? (n - 2) / 2 : n);
	size_t o = 0;
	if (d == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	if (hex) {
		for (size_t i = 2; i < n; i += 2) {
			int hi = hexval(p[i]), lo = hexval(p[i + 1]);
			if (hi < 0 || lo < 0)
				return bad_value(err, s, is_array, p, n, NULL);
			d[o++] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		for (size_t i = 0; i < n;) {
			if (p[i] != '\\') {
				d[o++] = (uint8_t)p[i++];
			} else if (i + 1 < n && p[i + 1] == '\\') {
				d[o++] = '\\';
				i += 2;
			} else if (i + 3 < n && p[i + 1] >= '0' &&
				   p[i + 1] <= '3' && p[i + 2] >= '0' &&
				   p[i + 2] <= '7' && p[i + 3] >= '0' &&
				   p[i + 3] <= '7') {
				d[o++] = (uint8_t)((p[i + 1] - '0') << 6 |
						   (p[i + 2] - '0') << 3 |
						   (p[i + 3] - '0'));
				i += 4;
			} else {
				return bad_value(err, s, is_array, p, n, NULL);
			}
		}
	}
	if (o > UINT32_MAX)
		return bad_value(err, s, is_array, p, n, "too long");
	out->u.b.p = d;
	out->u.b.n = (uint32_t)o;
	return 0;
}

/* ---- dates and times --------------------------------------------------- */

/* Reads exactly k digits at p[*i]. */
static int digits_n(const char *p, size_t n, size_t *i, int k, int *out)
{
	int v = 0;
	if (*i + (size_t)k > n)
		return -1;
	for (int j = 0; j < k; j++) {
		char c = p[*i + (size_t)j];
		if (!is_digit(c))
			return -1;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)k;
	*out = v;
	return 0;
}

/* "YYYY-MM-DD" with 4 to 7 year digits; the era is applied by the caller. */
static int parse_ymd(const char *p, size_t n, size_t *i, int64_t *y, int *m,
		     int *d)
{
	int64_t year = 0;
	size_t start = *i;
	while (*i < n && is_digit(p[*i]) && *i - start < 7)
		year = year * 10 + (p[(*i)++] - '0');
	if (*i - start < 4 || *i >= n || p[*i] != '-')
		return -1;
	(*i)++;
	if (digits_n(p, n, i, 2, m) || *i >= n || p[*i] != '-')
		return -1;
	(*i)++;
	if (digits_n(p, n, i, 2, d))
		return -1;
	*y = year;
	return 0;
}

/* "HH:MM:SS[.f{1,6}]" → microseconds after midnight (24:00:00 allowed). */
static int parse_hms(const char *p, size_t n, size_t *i, int64_t *us)
{
	int h, mi, se;
	if (digits_n(p, n, i, 2, &h) || *i >= n || p[*i] != ':')
		return -1;
	(*i)++;
	if (digits_n(p, n, i, 2, &mi) || *i >= n || p[*i] != ':')
		return -1;
	(*i)++;
	if (digits_n(p, n, i, 2, &se))
		return -1;
	int64_t frac = 0;
	if (*i < n && p[*i] == '.') {
		(*i)++;
		int k = 0;
		while (*i < n && is_digit(p[*i]) && k < 6) {
			frac = frac * 10 + (p[(*i)++] - '0');
			k++;
		}
		if (k == 0 || (*i < n && is_digit(p[*i])))
			return -1;
		for (; k < 6; k++)
			frac *= 10;
	}
	if (h > 24 || mi > 59 || se > 59 ||
	    (h == 24 && (mi != 0 || se != 0 || frac != 0)))
		return -1;
	*us = ((int64_t)h * 3600 + mi * 60 + se) * 1000000 + frac;
	return 0;
}

/* " BC" at p[*i], if present. */
static int parse_era(const char *p, size_t n, size_t *i)
{
	if (n - *i == 3 && memcmp(p + *i, " BC", 3) == 0) {
		*i += 3;
		return 1;
	}
	return 0;
}

static int check_ymd(int64_t *y, int m, int d, int bc)
{
	if (*y == 0) /* there is no year 0: 1 BC precedes 1 AD */
		return -1;
	if (bc)
		*y = 1 - *y;
	if (m < 1 || m > 12 || d < 1 || d > wb_days_in_month(*y, m))
		return -1;
	return 0;
}

static int to_date(const struct wb_scalar_type *s, int is_array, const char *p,
		   size_t n, struct wb_value *out, wb_error_t *err)
{
	if (eq(p, n, "infinity") || eq(p, n, "-infinity"))
		return UNREP;
	size_t i = 0;
	int64_t y;
	int m, d;
	if (parse_ymd(p, n, &i, &y, &m, &d))
		return bad_value(err, s, is_array, p, n, NULL);
	int bc = parse_era(p, n, &i);
	if (i != n || check_ymd(&y, m, d, bc))
		return bad_value(err, s, is_array, p, n, NULL);
	int64_t days = wb_days_from_civil(y, m, d);
	if (days < INT32_MIN || days > INT32_MAX)
		return UNREP;
	out->u.i = days;
	return 0;
}

static int to_time(const struct wb_scalar_type *s, int is_array, const char *p,
		   size_t n, struct wb_value *out, wb_error_t *err)
{
	size_t i = 0;
	int64_t us;
	if (parse_hms(p, n, &i, &us) || i != n)
		return bad_value(err, s, is_array, p, n, NULL);
	out->u.i = us;
	return 0;
}

static int to_timestamp(const struct wb_scalar_type *s, int is_array,
			const char *p, size_t n, struct wb_value *out,
			wb_error_t *err)
{
	if (eq(p, n, "infinity") || eq(p, n, "-infinity"))
		return UNREP;
	size_t i = 0;
	int64_t y, us;
	int m, d;
	if (parse_ymd(p, n, &i, &y, &m, &d) || i >= n || p[i++] != ' ' ||
	    parse_hms(p, n, &i, &us))
		return bad_value(err, s, is_array, p, n, NULL);
	/* Zone offset [+-]HH[:MM[:SS]]: east of Greenwich is positive, so
	 * UTC = local - offset. */
	int64_t off = 0;
	if (i < n && (p[i] == '+' || p[i] == '-')) {
		if (s->logical != WB_L_TIMESTAMP_MICROS)
			return bad_value(err, s, is_array, p, n,
					 "unexpected time zone");
		int sign = p[i++] == '-' ? -1 : 1;
		int oh, om = 0, os = 0;
		if (digits_n(p, n, &i, 2, &oh))
			return bad_value(err, s, is_array, p, n, NULL);
		if (i < n && p[i] == ':') {
			i++;
			if (digits_n(p, n, &i, 2, &om))
				return bad_value(err, s, is_array, p, n, NULL);
			if (i < n && p[i] == ':') {
				i++;
				if (digits_n(p, n, &i, 2, &os))
					return bad_value(err, s, is_array, p, n,
							 NULL);
			}
		}
		if (om > 59 || os > 59)
			return bad_value(err, s, is_array, p, n, NULL);
		off = sign * ((int64_t)oh * 3600 + om * 60 + os) * 1000000;
	}
	int bc = parse_era(p, n, &i);
	if (i != n || check_ymd(&y, m, d, bc))
		return bad_value(err, s, is_array, p, n, NULL);
	int64_t w;
	if (!wb_micros_from_civil(y, m, d, us, off, &w))
		return UNREP; /* past a long of microseconds since 1970 */
	out->u.i = w;
	return 0;
}

/* ---- scalars ----------------------------------------------------------- */

static int to_scalar(const struct wb_scalar_type *s, int is_array,
		     const char *p, size_t n, struct wb_arena *a,
		     struct wb_value *out, wb_error_t *err)
{
	int rc;
	int64_t v;
	switch (s->kind) {
	case WB_T_BOOLEAN:
		if (eq(p, n, "t") || eq(p, n, "true"))
			out->u.i = 1;
		else if (eq(p, n, "f") || eq(p, n, "false"))
			out->u.i = 0;
		else
			return bad_value(err, s, is_array, p, n, NULL);
		return 0;
	case WB_T_INT:
		if (s->logical == WB_L_DATE)
			return to_date(s, is_array, p, n, out, err);
		rc = parse_int(p, n, INT32_MIN, INT32_MAX, &v);
		if (rc)
			return bad_value(err, s, is_array, p, n,
					 rc == -2 ? "out of range" : NULL);
		out->u.i = v;
		return 0;
	case WB_T_LONG:
		if (s->logical == WB_L_TIME_MICROS)
			return to_time(s, is_array, p, n, out, err);
		if (s->logical == WB_L_TIMESTAMP_MICROS ||
		    s->logical == WB_L_LOCAL_TIMESTAMP_MICROS)
			return to_timestamp(s, is_array, p, n, out, err);
		rc = parse_int(p, n, INT64_MIN, INT64_MAX, &v);
		if (rc)
			return bad_value(err, s, is_array, p, n,
					 rc == -2 ? "out of range" : NULL);
		out->u.i = v;
		return 0;
	case WB_T_FLOAT:
	case WB_T_DOUBLE: {
		double d = 0;
		float f = 0;
		rc = parse_floating(p, n, s->kind == WB_T_FLOAT, a, &d, &f);
		if (rc == -3)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		if (rc)
			return bad_value(err, s, is_array, p, n,
					 rc == -2 ? "out of range" : NULL);
		if (s->kind == WB_T_FLOAT)
			out->u.f = f;
		else
			out->u.d = d;
		return 0;
	}
	case WB_T_BYTES:
		if (s->logical == WB_L_DECIMAL)
			return to_decimal(s, is_array, p, n, a, out, err);
		return to_bytes(s, is_array, p, n, a, out, err);
	case WB_T_STRING:
		return to_string(p, n, a, out, err);
	default:
		return wb_error_set(err, WB_ERR_TYPE,
				    "no conversion for column kind %d",
				    s->kind);
	}
}

/* ---- arrays ------------------------------------------------------------ */

#define WB_PG_MAX_ARRAY_DEPTH 32 /* the server allows 6 dimensions */

struct array_ctx {
	const struct wb_scalar_type *s;
	const char *p;
	size_t n;
	size_t i;
	struct wb_arena *a;
	char *scratch;	       /* one dequoted element, reused */
	struct wb_value *vals; /* elements, in order */
	size_t nvals, cap;
	size_t *counts; /* items of each {...}, in the order they open */
	size_t nlists, caplists;
	int leaf_depth; /* nesting of the elements; 0 before the first */
	int unrep;	/* an element has no Avro form */
	wb_error_t *err;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static void skip_space(struct array_ctx *c)
{
	while (c->i < c->n && is_space(c->p[c->i]))
		c->i++;
}

static int array_syntax(struct array_ctx *c, const char *why)
{
	struct wb_scalar_type s = *c->s;
	return bad_value(c->err, &s, 1, c->p, c->n, why);
}

/* One element: "quoted with \" escapes", or unquoted up to , or } where
 * NULL (any case, no escapes) is the null value. */
static int array_elem(struct array_ctx *c, int depth)
{
	if (c->leaf_depth == 0)
		c->leaf_depth = depth;
	else if (c->leaf_depth != depth)
		return array_syntax(c, "elements at different depths");
	const char *text;
	size_t len = 0;
	int is_null = 0;
	if (c->p[c->i] == '"') {
		c->i++;
		for (;;) {
			if (c->i >= c->n)
				return array_syntax(c, "unterminated quote");
			char ch = c->p[c->i++];
			if (ch == '"')
				break;
			if (ch == '\\') {
				if (c->i >= c->n)
					return array_syntax(c, "dangling \\");
				ch = c->p[c->i++];
			}
			c->scratch[len++] = ch;
		}
		text = c->scratch;
	} else {
		size_t start = c->i, last = 0; /* last: end of non-space */
		int escaped = 0;
		while (c->i < c->n && c->p[c->i] != ',' && c->p[c->i] != '}') {
			char ch = c->p[c->i++];
			if (ch == '"' || ch == '{')
				return array_syntax(c, "misplaced quote or {");
			if (ch == '\\') {
				if (c->i >= c->n)
					return array_syntax(c, "dangling \\");
				ch = c->p[c->i++];
				escaped = 1;
				c->scratch[len++] = ch;
				last = len;
			} else {
				c->scratch[len++] = ch;
				if (!is_space(ch))
					last = len;
			}
		}
		len = last;
		if (len == 0)
			return array_syntax(c, "empty element");
		text = escaped ? c->scratch : c->p + start;
		is_null = !escaped && len == 4 &&
			  strncasecmp(text, "NULL", 4) == 0;
	}
	if (c->nvals >= c->cap)
		return array_syntax(c, "too many elements");
	struct wb_value *v = &c->vals[c->nvals];
	memset(v, 0, sizeof(*v));
	if (!is_null) {
		int rc = to_scalar(c->s, 1, text, len, c->a, v, c->err);
		if (rc == UNREP) {
			/* the whole array becomes unrepresentable; the rest
			 * is still read for its syntax */
			c->unrep = 1;
			memset(v, 0, sizeof(*v));
			c->nvals++;
			return 0;
		}
		if (rc) {
			wb_error_prefix(c->err, "array element %zu",
					c->nvals + 1);
			return rc;
		}
		v->state = WB_VAL_PRESENT;
	}
	c->nvals++;
	return 0;
}

/* '{' [item (',' item)*] '}' with the cursor on '{'. */
static int array_list(struct array_ctx *c, int depth)
{
	if (depth > WB_PG_MAX_ARRAY_DEPTH)
		return array_syntax(c, "too many dimensions");
	if (c->nlists >= c->caplists)
		return array_syntax(c, "too many {");
	size_t me = c->nlists++;
	c->counts[me] = 0;
	c->i++;
	skip_space(c);
	if (c->i < c->n && c->p[c->i] == '}') {
		c->i++;
		/* the server prints an empty array as {} and never has
		 * empty sub-arrays */
		return depth == 1 ? 0 : array_syntax(c, "empty sub-array");
	}
	for (;;) {
		skip_space(c);
		if (c->i >= c->n)
			return array_syntax(c, "unexpected end");
		int rc = c->p[c->i] == '{' ? array_list(c, depth + 1)
					   : array_elem(c, depth);
		if (rc)
			return rc;
		c->counts[me]++;
		skip_space(c);
		if (c->i >= c->n)
			return array_syntax(c, "unexpected end");
		char ch = c->p[c->i++];
		if (ch == '}')
			return 0;
		if (ch != ',')
			return array_syntax(c, "expected , or }");
	}
}

static size_t varint_size(int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t k = 1;
	while (z > 0x7f) {
		z >>= 7;
		k++;
	}
	return k;
}

static uint8_t *put_varint(uint8_t *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	while (z > 0x7f) {
		*p++ = (uint8_t)((z & 0x7f) | 0x80);
		z >>= 7;
	}
	*p++ = (uint8_t)z;
	return p;
}

static size_t item_size(const struct wb_scalar_type *s,
			const struct wb_value *v)
{
	if (v->state != WB_VAL_PRESENT)
		return 1;
	switch (s->kind) {
	case WB_T_BOOLEAN:
		return 2;
	case WB_T_INT:
	case WB_T_LONG:
		return 1 + varint_size(v->u.i);
	case WB_T_FLOAT:
		return 5;
	case WB_T_DOUBLE:
		return 9;
	default:
		return 1 + varint_size(v->u.b.n) + v->u.b.n;
	}
}

static uint8_t *put_item(uint8_t *p, const struct wb_scalar_type *s,
			 const struct wb_value *v)
{
	if (v->state != WB_VAL_PRESENT) {
		*p++ = 0; /* union branch 0: null */
		return p;
	}
	*p++ = 2; /* union branch 1, zigzag */
	switch (s->kind) {
	case WB_T_BOOLEAN:
		*p++ = v->u.i ? 1 : 0;
		return p;
	case WB_T_INT:
	case WB_T_LONG:
		return put_varint(p, v->u.i);
	case WB_T_FLOAT: {
		uint32_t u;
		memcpy(&u, &v->u.f, 4);
		for (int k = 0; k < 4; k++)
			*p++ = (uint8_t)(u >> (8 * k));
		return p;
	}
	case WB_T_DOUBLE: {
		uint64_t u;
		memcpy(&u, &v->u.d, 8);
		for (int k = 0; k < 8; k++)
			*p++ = (uint8_t)(u >> (8 * k));
		return p;
	}
	default:
		p = put_varint(p, v->u.b.n);
		if (v->u.b.n)
			memcpy(p, v->u.b.p, v->u.b.n);
		return p + v->u.b.n;
	}
}

/* Cursors of the encoding walk over the parsed lists and elements. */
struct array_walk {
	const struct array_ctx *c;
	size_t list, val;
};

/* The Avro encoding of the list that opens next, at depth (1 = the
 * outermost): its items (inner lists below leaf_depth, else elements) in
 * one block, then the 0 that ends an array. With w NULL only counts the
 * bytes. Every list is followed by exactly its items, as parsed. */
static size_t walk_list(struct array_walk *k, int depth, uint8_t **w)
{
	const struct array_ctx *c = k->c;
	size_t count = c->counts[k->list++], size = 1;
	if (count > 0) {
		size += varint_size((int64_t)count);
		if (w)
			*w = put_varint(*w, (int64_t)count);
	}
	for (size_t j = 0; j < count; j++) {
		if (depth < c->leaf_depth) {
			size += walk_list(k, depth + 1, w);
		} else {
			const struct wb_value *v = &c->vals[k->val++];
			size += item_size(c->s, v);
			if (w)
				*w = put_item(*w, c->s, v);
		}
	}
	if (w)
		*(*w)++ = 0; /* end of blocks */
	return size;
}

/* An array's text into nested Avro arrays of wb_type_ndims(t) levels. A
 * value of another number of dimensions, with bounds other than 1
 * (the "[0:1]=" decoration), or with an element that has no Avro form is
 * UNREP: flattening it, or dropping its bounds, would change it. */
static int to_array(const struct wb_type *t, const char *p, size_t n,
		    struct wb_arena *a, struct wb_value *out, wb_error_t *err)
{
	struct array_ctx c = {.s = &t->s, .p = p, .n = n, .a = a, .err = err};
	int bounds = 0;
	/* Optional dimension decoration "[1:2][0:1]=" (non-default bounds). */
	if (n > 0 && p[0] == '[') {
		while (c.i < n && p[c.i] != '=') {
			char ch = p[c.i];
			if (!is_digit(ch) && ch != '[' && ch != ']' &&
			    ch != ':' && ch != '-' && ch != '+')
				return array_syntax(&c, "bad dimensions");
			c.i++;
		}
		if (c.i == n)
			return array_syntax(&c, "bad dimensions");
		c.i++;
		bounds = 1;
	}
	skip_space(&c);
	if (c.i >= n || p[c.i] != '{')
		return array_syntax(&c, "expected {");
	/* Every element but the last of a list is followed by a comma. */
	c.cap = 1;
	c.caplists = 0;
	for (size_t k = c.i; k < n; k++) {
		c.cap += p[k] == ',';
		c.caplists += p[k] == '{';
	}
	c.vals = wb_arena_alloc(a, c.cap * sizeof(*c.vals));
	c.counts = wb_arena_alloc(a, c.caplists * sizeof(*c.counts));
	c.scratch = wb_arena_alloc(a, n + 1);
	if (c.vals == NULL || c.counts == NULL || c.scratch == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	int rc = array_list(&c, 1);
	if (rc)
		return rc;
	skip_space(&c);
	if (c.i != n)
		return array_syntax(&c, "text after the closing }");
	if (bounds || c.unrep ||
	    (c.leaf_depth != 0 && c.leaf_depth != wb_type_ndims(t)))
		return UNREP;
	if (c.leaf_depth == 0)
		c.leaf_depth = 1; /* {}: an empty outermost array */

	struct array_walk k = {.c = &c};
	size_t total = walk_list(&k, 1, NULL);
	if (total > UINT32_MAX)
		return array_syntax(&c, "too long");
	uint8_t *d = wb_arena_alloc(a, total);
	if (d == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	uint8_t *w = d;
	k = (struct array_walk){.c = &c};
	walk_list(&k, 1, &w);
	out->u.b.p = d;
	out->u.b.n = (uint32_t)(w - d);
	return 0;
}

int wb_pg_text_to_value(const struct wb_type *t, const char *text, size_t len,
			struct wb_arena *a, struct wb_value *out,
			wb_error_t *err)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		text = "";
	int rc = t->is_array ? to_array(t, text, len, a, out, err)
			     : to_scalar(&t->s, 0, text, len, a, out, err);
	if (rc == UNREP) {
		memset(out, 0, sizeof(*out));
		rc = to_string(text, len, a, out, err);
		if (rc == 0)
			out->state = WB_VAL_UNREPRESENTABLE;
	} else if (rc == 0) {
		out->state = WB_VAL_PRESENT;
	}
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int wb_pg_text_to_value_ref(const struct wb_type *t, const char *text,
			    size_t len, struct wb_arena *a,
			    struct wb_value *out, wb_error_t *err)
{
	if (text != NULL && !t->is_array && t->s.kind == WB_T_STRING &&
	    len <= UINT32_MAX &&
	    wb_utf8_first_invalid((const uint8_t *)text, len) == len) {
		memset(out, 0, sizeof(*out));
		out->state = WB_VAL_PRESENT;
		out->u.b.p = (const uint8_t *)text;
		out->u.b.n = (uint32_t)len;
		return 0;
	}
	return wb_pg_text_to_value(t, text, len, a, out, err);
}
