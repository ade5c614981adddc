/* my_json.c — MySQL's binary JSON (sql-common/json_binary.cc) to the text
 * the server prints, and the partial JSON updates of PARTIAL_UPDATE_ROWS.
 *
 * A document is a type byte and its value:
 *   0x00/0x01  object, small/large    0x02/0x03  array, small/large
 *   0x04       literal: 0 null, 1 true, 2 false
 *   0x05/0x06  int16/uint16           0x07/0x08  int32/uint32
 *   0x09/0x0a  int64/uint64           0x0b       double
 *   0x0c       string: variable length (7 bits a byte, low first), bytes
 *   0x0f       opaque: field type u8, variable length, bytes
 * Objects and arrays (offsets from the start of their value, little-endian,
 * 2 bytes when small, 4 when large): element count, size in bytes; objects
 * then have a key entry (offset, length u16) per member; then a value
 * entry (type u8, offset or, for literals and small enough integers, the
 * value itself) per element; then the keys and the values.
 *
 * The text is MySQL's Json_wrapper::to_string: ", " and ": " separators,
 * members in stored order (by key length, then bytes), strings escaped as
 * double_quote() does, doubles as my_gcvt() prints them plus ".0" when they
 * show neither point nor exponent, opaque DECIMAL as its number, opaque
 * DATE/TIME/DATETIME/TIMESTAMP as quoted text with 6 fractional digits,
 * opaque VAR_STRING as a string, other opaque values as
 * "base64:type<n>:<base64>" (with an escaped newline, \n, after every 76
 * characters, as MySQL's base64_encode puts one there). */
#include "my_json.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_rd.h"
#include "my_types.h"
#include "valconv.h"

#define MAX_DEPTH 100 /* JSON_DOCUMENT_MAX_DEPTH */

/* ---- output: counted first, then written --------------------------------- */

struct out {
	char *p; /* NULL while counting */
	size_t len;
};

static inline void put(struct out *o, const void *s, size_t n)
{
	if (o->p && n)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

static inline void putc_(struct out *o, char ch)
{
	if (o->p)
		o->p[o->len] = ch;
	o->len++;
}

static inline void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* MySQL's double_quote(): escapes ", \, and bytes up to 0x1f. */
static void put_quoted(struct out *o, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	putc_(o, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = s[i];
		if (ch > 0x1f && ch != '"' && ch != '\\')
			continue;
		put(o, s + run, i - run);
		run = i + 1;
		putc_(o, '\\');
		switch (ch) {
		case '\b':
			putc_(o, 'b');
			break;
		case '\t':
			putc_(o, 't');
			break;
		case '\n':
			putc_(o, 'n');
			break;
		case '\f':
			putc_(o, 'f');
			break;
		case '\r':
			putc_(o, 'r');
			break;
		case '"':
		case '\\':
			putc_(o, (char)ch);
			break;
		default:
			put(o, "u00", 3);
			putc_(o, hex[ch >> 4]);
			putc_(o, hex[ch & 15]);
		}
	}
	put(o, s + run, n - run);
	putc_(o, '"');
}

/* ---- doubles as my_gcvt(MY_GCVT_ARG_DOUBLE, MY_GCVT_MAX_FIELD_WIDTH) ---- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* The shortest digits that read back as d (d > 0, finite), and the
 * position of the point: d = 0.DIGITS * 10^decpt. */
static int shortest_digits(double d, char *digits, int *decpt)
{
	char buf[40];
	int lo = 1, hi = 17;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		snprintf(buf, sizeof(buf), "%.*e", mid - 1, d);
		double back = c_locale ? strtod_l(buf, NULL, c_locale)
				       : strtod(buf, NULL);
		if (back == d)
			hi = mid;
		else
			lo = mid + 1;
	}
	int n = snprintf(buf, sizeof(buf), "%.*e", lo - 1, d);
	int nd = 0, i = 0;
	for (; i < n && buf[i] != 'e'; i++)
		if (buf[i] >= '0' && buf[i] <= '9')
			digits[nd++] = buf[i];
	int exp = atoi(buf + i + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	*decpt = exp + 1;
	return nd;
}

/* my_gcvt's choice with a field of 34 characters: the shortest digits, in
 * fixed notation for points from -14 to 15 digits (and past 15 while
 * digits remain after the point), else as d.ddde[-]x. */
static size_t gcvt_text(double d, char *out)
{
	size_t o = 0;
	if (!isfinite(d)) {
		out[o++] = '0'; /* dtoa's overflow answer */
		return o;
	}
	if (signbit(d))
		out[o++] = '-';
	if (d == 0) {
		out[o++] = '0';
		return o;
	}
	pthread_once(&c_locale_once, c_locale_init);
	char digits[24];
	int decpt;
	int len = shortest_digits(fabs(d), digits, &decpt);
	if ((decpt >= -14 && decpt <= 15) || (decpt > 15 && len > decpt)) {
		if (decpt <= 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int k = decpt; k < 0; k++)
				out[o++] = '0';
			memcpy(out + o, digits, (size_t)len);
			o += (size_t)len;
		} else {
			for (int k = 0; k < len; k++) {
				out[o++] = digits[k];
				if (k + 1 == decpt && k + 1 < len)
					out[o++] = '.';
			}
			for (int k = len; k < decpt; k++)
				out[o++] = '0';
		}
		return o;
	}
	out[o++] = digits[0];
	if (len > 1) {
		out[o++] = '.';
		memcpy(out + o, digits + 1, (size_t)len - 1);
		o += (size_t)len - 1;
	}
	o += (size_t)sprintf(out + o, "e%d", decpt - 1);
	return o;
}

/* ---- binary documents ---------------------------------------------------- */

struct reader {
	wb_error_t *err;
};

static int malformed(wb_error_t *err, const char *what)
{
	return wb_error_set(err, WB_ERR_DECODE, "malformed binary JSON: %s",
			    what);
}

static inline uint32_t rd(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* Variable-length size (7 bits a byte, low first, at most 5 bytes). */
static int varlen(const uint8_t *p, size_t n, size_t *len, size_t *used)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 5 && i < n; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (v > UINT32_MAX)
				return -1;
			*len = (size_t)v;
			*used = i + 1;
			return 0;
		}
	}
	return -1;
}

static void put_base64(struct out *o, const uint8_t *s, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		"vwxyz0123456789+/";
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		if (col == 76) {
			put(o, "\\n", 2); /* a newline, escaped */
			col = 0;
		}
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		putc_(o, tab[v >> 18]);
		putc_(o, tab[(v >> 12) & 63]);
		putc_(o, i + 1 < n ? tab[(v >> 6) & 63] : '=');
		putc_(o, i + 2 < n ? tab[v & 63] : '=');
		col += 4;
	}
}

/* MySQL's packed temporal (TIME_to_longlong_packed) of field type ft. */
static int put_temporal(struct out *o, uint8_t ft, const uint8_t *p, size_t n,
			wb_error_t *err)
{
	if (n != 8)
		return malformed(err, "temporal value not 8 bytes");
	int64_t packed =
		(int64_t)((uint64_t)rd(p, 4) | (uint64_t)rd(p + 4, 4) << 32);
	int neg = packed < 0;
	uint64_t t = neg ? 0 - (uint64_t)packed : (uint64_t)packed;
	uint64_t us = t % (1u << 24), ip = t >> 24;
	char buf[64];
	int k;
	if (ft == WB_MY_T_TIME) {
		uint64_t h = (ip >> 12) % (1u << 10), m = (ip >> 6) % 64,
			 s = ip % 64;
		k = snprintf(buf, sizeof(buf),
			     "%s%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64
			     ".%06" PRIu64,
			     neg ? "-" : "", h, m, s, us);
	} else {
		uint64_t ymd = ip >> 17, hms = ip % (1u << 17);
		uint64_t ym = ymd >> 5;
		uint64_t y = ym / 13, mo = ym % 13, d = ymd % 32;
		if (ft == WB_MY_T_DATE)
			k = snprintf(buf, sizeof(buf),
				     "%04" PRIu64 "-%02" PRIu64 "-%02" PRIu64,
				     y, mo, d);
		else
			k = snprintf(buf, sizeof(buf),
				     "%04" PRIu64 "-%02" PRIu64 "-%02" PRIu64
				     " %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64
				     ".%06" PRIu64,
				     y, mo, d, hms >> 12, (hms >> 6) % 64,
				     hms % 64, us);
	}
	putc_(o, '"');
	put(o, buf, (size_t)k);
	putc_(o, '"');
	return 0;
}

static int put_opaque(struct out *o, const uint8_t *p, size_t n,
		      wb_error_t *err)
{
	if (n < 1)
		return malformed(err, "opaque value without its type");
	uint8_t ft = p[0];
	size_t len, used;
	if (varlen(p + 1, n - 1, &len, &used) || len > n - 1 - used)
		return malformed(err, "opaque value length");
	const uint8_t *d = p + 1 + used;
	switch (ft) {
	case WB_MY_T_NEWDECIMAL: {
		char text[80];
		size_t tlen;
		if (len < 2 || wb_my_decimal_bin_size(d[0], d[1]) != len - 2 ||
		    wb_my_decimal_text(d + 2, len - 2, d[0], d[1], text,
				       &tlen) != 0)
			return malformed(err, "opaque DECIMAL");
		put(o, text, tlen);
		return 0;
	}
	case WB_MY_T_DATE:
	case WB_MY_T_TIME:
	case WB_MY_T_DATETIME:
	case WB_MY_T_TIMESTAMP:
		return put_temporal(o, ft, d, len, err);
	case WB_MY_T_VAR_STRING:
		put_quoted(o, d, len);
		return 0;
	default: {
		char head[32];
		int k = snprintf(head, sizeof(head), "\"base64:type%u:", ft);
		put(o, head, (size_t)k);
		put_base64(o, d, len);
		putc_(o, '"');
		return 0;
	}
	}
}

static int put_value(struct out *o, uint8_t type, const uint8_t *p, size_t n,
		     int depth, wb_error_t *err);

/* An object or array whose value area is p[0..n). */
static int put_container(struct out *o, uint8_t type, const uint8_t *p,
			 size_t n, int depth, wb_error_t *err)
{
	bool large = type == 0x01 || type == 0x03;
	bool object = type <= 0x01;
	int w = large ? 4 : 2;
	if (depth + 1 > MAX_DEPTH)
		return malformed(err, "nested deeper than 100");
	if (n < (size_t)(2 * w))
		return malformed(err, "container header cut short");
	size_t count = rd(p, w), size = rd(p + w, w);
	if (size > n || size < (size_t)(2 * w))
		return malformed(err, "container size out of range");
	size_t key_entry = (size_t)w + 2, value_entry = 1 + (size_t)w;
	size_t hdr = 2 * (size_t)w;
	if (count > (size - hdr) / (value_entry + (object ? key_entry : 0)))
		return malformed(err, "more elements than bytes");
	size_t ventries = hdr + (object ? count * key_entry : 0);
	putc_(o, object ? '{' : '[');
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			put(o, ", ", 2);
		if (object) {
			const uint8_t *ke = p + hdr + i * key_entry;
			size_t koff = rd(ke, w), klen = rd(ke + w, 2);
			if (koff > size || klen > size - koff)
				return malformed(err, "key outside the object");
			put_quoted(o, p + koff, klen);
			put(o, ": ", 2);
		}
		const uint8_t *ve = p + ventries + i * value_entry;
		uint8_t vt = ve[0];
		int rc;
		bool inlined = vt == 0x04 || vt == 0x05 || vt == 0x06 ||
			       (large && (vt == 0x07 || vt == 0x08));
		if (inlined) {
			rc = put_value(o, vt, ve + 1, (size_t)w, depth + 1,
				       err);
		} else {
			size_t voff = rd(ve + 1, w);
			if (voff >= size)
				return malformed(err,
						 "value outside its container");
			rc = put_value(o, vt, p + voff, size - voff, depth + 1,
				       err);
		}
		if (rc)
			return rc;
	}
	putc_(o, object ? '}' : ']');
	return 0;
}

static int put_value(struct out *o, uint8_t type, const uint8_t *p, size_t n,
		     int depth, wb_error_t *err)
{
	char buf[48];
	int k;
	switch (type) {
	case 0x00:
	case 0x01:
	case 0x02:
	case 0x03:
		return put_container(o, type, p, n, depth, err);
	case 0x04:
		if (n < 1)
			return malformed(err, "literal cut short");
		if (p[0] == 0)
			puts_(o, "null");
		else if (p[0] == 1)
			puts_(o, "true");
		else if (p[0] == 2)
			puts_(o, "false");
		else
			return malformed(err, "unknown literal");
		return 0;
	case 0x05:
	case 0x06:
		if (n < 2)
			return malformed(err, "int16 cut short");
		k = type == 0x05 ? snprintf(buf, sizeof(buf), "%d",
					    (int16_t)rd(p, 2))
				 : snprintf(buf, sizeof(buf), "%u", rd(p, 2));
		put(o, buf, (size_t)k);
		return 0;
	case 0x07:
	case 0x08:
		if (n < 4)
			return malformed(err, "int32 cut short");
		k = type == 0x07 ? snprintf(buf, sizeof(buf), "%d",
					    (int32_t)rd(p, 4))
				 : snprintf(buf, sizeof(buf), "%u", rd(p, 4));
		put(o, buf, (size_t)k);
		return 0;
	case 0x09:
	case 0x0a:
	case 0x0b: {
		if (n < 8)
			return malformed(err, "8-byte number cut short");
		uint64_t v = (uint64_t)rd(p, 4) | (uint64_t)rd(p + 4, 4) << 32;
		if (type == 0x09) {
			k = snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)v);
		} else if (type == 0x0a) {
			k = snprintf(buf, sizeof(buf), "%" PRIu64, v);
		} else {
			double d;
			memcpy(&d, &v, 8);
			k = (int)gcvt_text(d, buf);
			if (memchr(buf, '.', (size_t)k) == NULL &&
			    memchr(buf, 'e', (size_t)k) == NULL) {
				buf[k++] = '.';
				buf[k++] = '0';
			}
		}
		put(o, buf, (size_t)k);
		return 0;
	}
	case 0x0c: {
		size_t len, used;
		if (varlen(p, n, &len, &used) || len > n - used)
			return malformed(err, "string length");
		put_quoted(o, p + used, len);
		return 0;
	}
	case 0x0f:
		return put_opaque(o, p, n, err);
	default:
		return malformed(err, "unknown value type");
	}
}

static int put_document(struct out *o, const uint8_t *p, size_t n,
			wb_error_t *err)
{
	if (n == 0) {
		puts_(o, "null");
		return 0;
	}
	return put_value(o, p[0], p + 1, n - 1, 0, err);
}

int wb_my_json_to_text(const uint8_t *p, size_t n, struct wb_buf *b,
		       wb_error_t *err)
{
	struct out o = {0};
	int rc = put_document(&o, p, n, err);
	if (rc)
		return rc;
	if (wb_buf_reserve(b, o.len + 1) != 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	size_t need = o.len;
	o = (struct out){.p = (char *)b->data + b->len};
	put_document(&o, p, n, err);
	b->len += need;
	return 0;
}

int wb_my_json_text(const uint8_t *p, size_t n, struct wb_arena *a,
		    const uint8_t **text, size_t *len, wb_error_t *err)
{
	struct out o = {0};
	int rc = put_document(&o, p, n, err);
	if (rc)
		return rc;
	if (o.len > UINT32_MAX)
		return wb_error_set(err, WB_ERR_TYPE,
				    "JSON text of %zu bytes is too long",
				    o.len);
	size_t need = o.len;
	char *d = wb_arena_alloc(a, need + 1);
	if (d == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	o = (struct out){.p = d};
	put_document(&o, p, n, err);
	d[need] = '\0';
	*text = (const uint8_t *)d;
	*len = need;
	return 0;
}

/* ---- partial updates: a small DOM over the printed text ------------------ */

enum { JN_SCALAR, JN_ARRAY, JN_OBJECT };

struct jkey {
	const char *p; /* unescaped */
	size_t n;
};

struct jnode {
	uint8_t kind;
	const char *text; /* scalars: the printed text */
	size_t len;
	struct jnode **items; /* arrays and objects */
	struct jkey *keys;    /* objects */
	size_t n, cap;
};

struct parser {
	const char *p;
	size_t n, i;
	struct wb_arena *a;
	int nomem;
};

#define NOT_APPLICABLE 1

static void skip_ws(struct parser *ps)
{
	while (ps->i < ps->n && (ps->p[ps->i] == ' ' || ps->p[ps->i] == '\n' ||
				 ps->p[ps->i] == '\t' || ps->p[ps->i] == '\r'))
		ps->i++;
}

static int hexdig(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static size_t put_utf8(char *d, uint32_t u)
{
	if (u < 0x80) {
		d[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		d[0] = (char)(0xc0 | u >> 6);
		d[1] = (char)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		d[0] = (char)(0xe0 | u >> 12);
		d[1] = (char)(0x80 | ((u >> 6) & 0x3f));
		d[2] = (char)(0x80 | (u & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | u >> 18);
	d[1] = (char)(0x80 | ((u >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((u >> 6) & 0x3f));
	d[3] = (char)(0x80 | (u & 0x3f));
	return 4;
}

/* A JSON string at s[*i] (on its quote) → its unescaped bytes in the arena
 * (unless out is NULL); *i past the closing quote. -1 when malformed. */
static int json_string(const char *s, size_t n, size_t *i, struct wb_arena *a,
		       struct jkey *out, int *nomem)
{
	if (*i >= n || s[*i] != '"')
		return -1;
	size_t start = ++*i;
	size_t end = start;
	while (end < n && s[end] != '"') {
		if (s[end] == '\\')
			end++;
		end++;
	}
	if (end >= n)
		return -1;
	*i = end + 1;
	if (out == NULL)
		return 0;
	char *d = wb_arena_alloc(a, end - start + 1);
	if (d == NULL) {
		*nomem = 1;
		return -1;
	}
	size_t o = 0;
	for (size_t k = start; k < end; k++) {
		if (s[k] != '\\') {
			d[o++] = s[k];
			continue;
		}
		char e = s[++k];
		switch (e) {
		case 'b':
			d[o++] = '\b';
			break;
		case 'f':
			d[o++] = '\f';
			break;
		case 'n':
			d[o++] = '\n';
			break;
		case 'r':
			d[o++] = '\r';
			break;
		case 't':
			d[o++] = '\t';
			break;
		case 'u': {
			uint32_t u = 0;
			if (k + 4 >= end)
				return -1;
			for (int j = 1; j <= 4; j++) {
				int h = hexdig(s[k + (size_t)j]);
				if (h < 0)
					return -1;
				u = u << 4 | (uint32_t)h;
			}
			k += 4;
			if (u >= 0xd800 && u < 0xdc00 && k + 6 < end &&
			    s[k + 1] == '\\' && s[k + 2] == 'u') {
				uint32_t lo = 0;
				for (int j = 3; j <= 6; j++) {
					int h = hexdig(s[k + (size_t)j]);
					if (h < 0)
						return -1;
					lo = lo << 4 | (uint32_t)h;
				}
				if (lo >= 0xdc00 && lo < 0xe000) {
					u = 0x10000 + ((u - 0xd800) << 10) +
					    (lo - 0xdc00);
					k += 6;
				}
			}
			o += put_utf8(d + o, u);
			break;
		}
		default:
			d[o++] = e;
		}
	}
	out->p = d;
	out->n = o;
	return 0;
}

static struct jnode *new_node(struct parser *ps, uint8_t kind)
{
	struct jnode *j = wb_arena_alloc(ps->a, sizeof(*j));
	if (j == NULL) {
		ps->nomem = 1;
		return NULL;
	}
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	return j;
}

/* Room for one more element. */
static int grow(struct wb_arena *a, struct jnode *j)
{
	if (j->n < j->cap)
		return 0;
	size_t cap = j->cap ? 2 * j->cap : 4;
	struct jnode **items = wb_arena_alloc(a, cap * sizeof(*items));
	struct jkey *keys = j->kind == JN_OBJECT
				    ? wb_arena_alloc(a, cap * sizeof(*keys))
				    : NULL;
	if (items == NULL || (j->kind == JN_OBJECT && keys == NULL))
		return -1;
	if (j->n) {
		memcpy(items, j->items, j->n * sizeof(*items));
		if (keys)
			memcpy(keys, j->keys, j->n * sizeof(*keys));
	}
	j->items = items;
	j->keys = keys;
	j->cap = cap;
	return 0;
}

static struct jnode *parse_node(struct parser *ps, int depth)
{
	skip_ws(ps);
	if (ps->i >= ps->n || depth > MAX_DEPTH + 1)
		return NULL;
	char ch = ps->p[ps->i];
	if (ch == '[' || ch == '{') {
		bool obj = ch == '{';
		struct jnode *j = new_node(ps, obj ? JN_OBJECT : JN_ARRAY);
		if (j == NULL)
			return NULL;
		ps->i++;
		skip_ws(ps);
		if (ps->i < ps->n && ps->p[ps->i] == (obj ? '}' : ']')) {
			ps->i++;
			return j;
		}
		for (;;) {
			struct jkey key = {0};
			skip_ws(ps);
			if (obj) {
				if (json_string(ps->p, ps->n, &ps->i, ps->a,
						&key, &ps->nomem))
					return NULL;
				skip_ws(ps);
				if (ps->i >= ps->n || ps->p[ps->i] != ':')
					return NULL;
				ps->i++;
			}
			struct jnode *v = parse_node(ps, depth + 1);
			if (v == NULL)
				return NULL;
			if (grow(ps->a, j)) {
				ps->nomem = 1;
				return NULL;
			}
			if (obj)
				j->keys[j->n] = key;
			j->items[j->n++] = v;
			skip_ws(ps);
			if (ps->i >= ps->n)
				return NULL;
			char sep = ps->p[ps->i++];
			if (sep == (obj ? '}' : ']'))
				return j;
			if (sep != ',')
				return NULL;
		}
	}
	struct jnode *j = new_node(ps, JN_SCALAR);
	if (j == NULL)
		return NULL;
	size_t start = ps->i;
	if (ch == '"') {
		if (json_string(ps->p, ps->n, &ps->i, NULL, NULL, &ps->nomem))
			return NULL;
	} else {
		while (ps->i < ps->n && ps->p[ps->i] != ',' &&
		       ps->p[ps->i] != ']' && ps->p[ps->i] != '}' &&
		       ps->p[ps->i] != ' ')
			ps->i++;
		if (ps->i == start)
			return NULL;
	}
	j->text = ps->p + start;
	j->len = ps->i - start;
	return j;
}

static void put_node(struct out *o, const struct jnode *j)
{
	if (j->kind == JN_SCALAR) {
		put(o, j->text, j->len);
		return;
	}
	bool obj = j->kind == JN_OBJECT;
	putc_(o, obj ? '{' : '[');
	for (size_t i = 0; i < j->n; i++) {
		if (i > 0)
			put(o, ", ", 2);
		if (obj) {
			put_quoted(o, (const uint8_t *)j->keys[i].p,
				   j->keys[i].n);
			put(o, ": ", 2);
		}
		put_node(o, j->items[i]);
	}
	putc_(o, obj ? '}' : ']');
}

/* Members are kept as the server orders them: by length, then bytes. */
static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return an < bn ? -1 : 1;
	return memcmp(a, b, an);
}

/* One leg of a path: a member name (unescaped) or an array index. */
struct leg {
	bool member;
	const char *name;
	size_t nlen;
	bool from_end; /* [last-N] */
	uint64_t index;
};

#define MAX_LEGS 128

/* MySQL's path text: $ then .name, ."quoted name", [N], [last], [last-N].
 * -1 when it is not such a path (wildcards included). */
static int parse_path(const char *s, size_t n, struct wb_arena *a,
		      struct leg *legs, int *nlegs)
{
	size_t i = 0;
	int nl = 0, nomem = 0;
	while (i < n && s[i] == ' ')
		i++;
	if (i >= n || s[i++] != '$')
		return -1;
	for (;;) {
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		if (nl >= MAX_LEGS)
			return -1;
		struct leg *l = &legs[nl];
		memset(l, 0, sizeof(*l));
		if (s[i] == '.') {
			i++;
			while (i < n && s[i] == ' ')
				i++;
			l->member = true;
			if (i < n && s[i] == '"') {
				struct jkey k;
				if (json_string(s, n, &i, a, &k, &nomem))
					return -1;
				l->name = k.p;
				l->nlen = k.n;
			} else {
				size_t st = i;
				while (i < n && s[i] != '.' && s[i] != '[' &&
				       s[i] != ' ')
					i++;
				if (i == st || s[st] == '*')
					return -1;
				l->name = s + st;
				l->nlen = i - st;
			}
		} else if (s[i] == '[') {
			i++;
			while (i < n && s[i] == ' ')
				i++;
			if (n - i >= 4 && memcmp(s + i, "last", 4) == 0) {
				l->from_end = true;
				i += 4;
				while (i < n && s[i] == ' ')
					i++;
				if (i < n && s[i] == '-') {
					i++;
					while (i < n && s[i] == ' ')
						i++;
				} else {
					goto close;
				}
			}
			if (i >= n || s[i] < '0' || s[i] > '9')
				return -1;
			while (i < n && s[i] >= '0' && s[i] <= '9') {
				if (l->index > UINT32_MAX)
					return -1;
				l->index =
					l->index * 10 + (uint64_t)(s[i] - '0');
				i++;
			}
		close:
			while (i < n && s[i] == ' ')
				i++;
			if (i >= n || s[i++] != ']')
				return -1;
		} else {
			return -1;
		}
		nl++;
	}
	*nlegs = nl;
	return 0;
}

/* Position of leg l in an array of size elements; *within: it names an
 * existing element (Json_path_leg::first_array_index). */
static size_t array_pos(const struct leg *l, size_t size, bool *within)
{
	if (l->from_end) {
		*within = l->index < size;
		return *within ? size - 1 - (size_t)l->index : 0;
	}
	*within = l->index < size;
	return l->index < size ? (size_t)l->index : size;
}

/* The member's position in obj, or where it would go (*found false). */
static size_t member_pos(const struct jnode *obj, const struct leg *l,
			 bool *found)
{
	size_t i = 0;
	for (; i < obj->n; i++) {
		int c = key_cmp(obj->keys[i].p, obj->keys[i].n, l->name,
				l->nlen);
		if (c == 0) {
			*found = true;
			return i;
		}
		if (c > 0)
			break;
	}
	*found = false;
	return i;
}

/* The node at legs[0..nl), or NULL (seek_exact_path). */
static struct jnode *seek(struct jnode *j, const struct leg *legs, int nl)
{
	for (int k = 0; k < nl; k++) {
		bool ok;
		if (j->kind == JN_ARRAY && !legs[k].member) {
			size_t pos = array_pos(&legs[k], j->n, &ok);
			if (!ok)
				return NULL;
			j = j->items[pos];
		} else if (j->kind == JN_OBJECT && legs[k].member) {
			size_t pos = member_pos(j, &legs[k], &ok);
			if (!ok)
				return NULL;
			j = j->items[pos];
		} else {
			return NULL;
		}
	}
	return j;
}

int wb_my_json_apply_diffs(const uint8_t *before, size_t blen,
			   const uint8_t *diffs, size_t n, struct wb_arena *a,
			   const uint8_t **text, size_t *len, wb_error_t *err)
{
	struct parser ps = {.p = (const char *)before, .n = blen, .a = a};
	struct jnode *root = parse_node(&ps, 0);
	if (ps.nomem)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	skip_ws(&ps);
	bool usable = root != NULL && ps.i == ps.n;
	struct leg legs[MAX_LEGS];
	size_t i = 0;
	while (i < n) {
		uint8_t op = diffs[i++];
		uint64_t plen, vlen = 0;
		int nl;
		if (op > 2)
			return wb_error_set(err, WB_ERR_DECODE,
					    "JSON diff: unknown operation %u",
					    op);
		if (wb_my_packed_at(diffs, n, &i, &plen) || plen > n - i)
			return wb_error_set(err, WB_ERR_DECODE,
					    "JSON diff: path cut short");
		const char *path = (const char *)diffs + i;
		i += (size_t)plen;
		const uint8_t *val = NULL;
		if (op != 2) {
			if (wb_my_packed_at(diffs, n, &i, &vlen) ||
			    vlen > n - i)
				return wb_error_set(
					err, WB_ERR_DECODE,
					"JSON diff: value cut short");
			val = diffs + i;
			i += (size_t)vlen;
		}
		if (parse_path(path, (size_t)plen, a, legs, &nl))
			return wb_error_set(err, WB_ERR_DECODE,
					    "JSON diff: bad path \"%.*s\"",
					    (int)(plen > 60 ? 60 : plen), path);
		struct jnode *v = NULL;
		if (val != NULL) {
			/* validated even when the document is unusable */
			const uint8_t *vt;
			size_t vl;
			int rc = wb_my_json_text(val, (size_t)vlen, a, &vt, &vl,
						 err);
			if (rc)
				return rc;
			struct parser vp = {
				.p = (const char *)vt, .n = vl, .a = a};
			v = parse_node(&vp, 0);
			if (vp.nomem)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			if (v == NULL)
				usable = false;
		}
		if (!usable || nl == 0) {
			usable = false; /* the root is never a diff's target */
			continue;
		}
		struct jnode *parent = seek(root, legs, nl - 1);
		const struct leg *last = &legs[nl - 1];
		if (parent == NULL) {
			usable = false;
			continue;
		}
		bool found;
		size_t pos;
		if (parent->kind == JN_OBJECT && last->member) {
			pos = member_pos(parent, last, &found);
		} else if (parent->kind == JN_ARRAY && !last->member) {
			pos = array_pos(last, parent->n, &found);
		} else {
			usable = false;
			continue;
		}
		if (op == 0) { /* replace */
			if (!found)
				usable = false;
			else
				parent->items[pos] = v;
		} else if (op == 1) { /* insert */
			if (parent->kind == JN_OBJECT && found) {
				usable = false;
				continue;
			}
			if (grow(a, parent))
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			memmove(parent->items + pos + 1, parent->items + pos,
				(parent->n - pos) * sizeof(*parent->items));
			parent->items[pos] = v;
			if (parent->kind == JN_OBJECT) {
				memmove(parent->keys + pos + 1,
					parent->keys + pos,
					(parent->n - pos) *
						sizeof(*parent->keys));
				parent->keys[pos] =
					(struct jkey){last->name, last->nlen};
			}
			parent->n++;
		} else { /* remove */
			if (!found) {
				usable = false;
				continue;
			}
			memmove(parent->items + pos, parent->items + pos + 1,
				(parent->n - pos - 1) * sizeof(*parent->items));
			if (parent->kind == JN_OBJECT)
				memmove(parent->keys + pos,
					parent->keys + pos + 1,
					(parent->n - pos - 1) *
						sizeof(*parent->keys));
			parent->n--;
		}
	}
	if (!usable)
		return NOT_APPLICABLE;
	struct out o = {0};
	put_node(&o, root);
	size_t need = o.len;
	char *d = wb_arena_alloc(a, need + 1);
	if (d == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	o = (struct out){.p = d};
	put_node(&o, root);
	d[need] = '\0';
	*text = (const uint8_t *)d;
	*len = need;
	return 0;
}
