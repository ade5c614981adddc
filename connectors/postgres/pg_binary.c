/* pg_binary.c — rows of a binary COPY and the binary send form of the common
 * scalar types.
 *
 * A binary COPY is an 11-byte signature "PGCOPY\n\377\r\n\0", an int32 flags
 * word (bits 16-31 critical, refused: 16 says rows carry OIDs, never asked
 * for; bits 0-15 ignored as the format says), an int32
 * header-extension length and that many bytes; then rows, each an int16
 * field count and per field an int32 length (-1 for NULL) and the value's
 * send form; then the trailer, a field count of -1. Integers are big-endian.
 *
 * Send forms read here (PostgreSQL's *send functions):
 *   bool 1 byte; int2/int4/int8 two's complement; oid uint32;
 *   float4/float8 IEEE 754; text, varchar, bpchar, name, json: the text;
 *   jsonb: version byte 1, then the text; bytea: the bytes; uuid: 16 bytes;
 *   date: int32 days since 2000-01-01 (INT32_MIN/MAX: -infinity/infinity);
 *   time: int64 microseconds after midnight; timestamp, timestamptz: int64
 *   microseconds since 2000-01-01 00:00 (UTC for timestamptz;
 *   INT64_MIN/MAX: -infinity/infinity);
 *   numeric: int16 ndigits, int16 weight, uint16 sign (0 +, 0x4000 -,
 *   0xC000 NaN, 0xD000 Infinity, 0xF000 -Infinity), int16 dscale, then
 *   ndigits base-10000 digits, the first worth 10000^weight.
 * Anything the fast paths do not settle (a decimal of more than 18 digits,
 * a special numeric, an infinite date or timestamp, a timestamp past a long
 * of microseconds since 1970, a value the text form would reject) is turned
 * into the text form the server would print and handed to
 * wb_pg_text_to_value, so both forms give the same value, the same
 * unrepresentable text, or the same error. */
#include "pg_binary.h"
#include "pg_bytes.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pg_oids.h"
#include "pg_types.h"
#include "valconv.h"

#define PG_EPOCH_DAYS 10957 /* 2000-01-01 - 1970-01-01 */
#define PG_EPOCH_US (INT64_C(10957) * 86400000000)
#define USECS_PER_DAY INT64_C(86400000000)
#define PG_END_TIMESTAMP INT64_C(9223371331200000000) /* 294277-01-01 */

static const uint8_t signature[11] = {'P',  'G',  'C',	'O',  'P', 'Y',
				      '\n', 0xff, '\r', '\n', 0};

/* ---- rows -------------------------------------------------------------- */

int wb_pg_copy_bin_msg(const uint8_t *msg, size_t len, bool first,
		       struct wb_pg_copy_field *fields, int nfields,
		       enum wb_pg_bin_msg *what, wb_error_t *err)
{
	size_t i = 0;
	*what = WB_PG_BIN_NOTHING;
	if (first) {
		if (len < 19 || memcmp(msg, signature, sizeof(signature)) != 0)
			return wb_error_set(err, WB_ERR_DECODE,
					    "binary COPY: no file header");
		/* bits 16-31 are critical: 16 says rows carry OIDs (never
		 * asked for), the others are not defined yet; 0-15 may be
		 * ignored */
		uint32_t flags = wb_pg_get_u32(msg + 11);
		if (flags & UINT32_C(0xffff0000))
			return wb_error_set(
				err, WB_ERR_DECODE,
				"binary COPY: %s (flags 0x%08" PRIx32 ")",
				flags & (UINT32_C(1) << 16)
					? "rows carry OIDs"
					: "unknown critical flags",
				flags);
		uint32_t ext = wb_pg_get_u32(msg + 15);
		if (ext > len - 19)
			return wb_error_set(
				err, WB_ERR_DECODE,
				"binary COPY: header extension of %" PRIu32
				" bytes past the message end",
				ext);
		i = 19 + (size_t)ext;
		if (i == len)
			return WB_OK;
	}
	if (len - i < 2)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binary COPY: message of %zu bytes has no "
				    "field count",
				    len - i);
	int16_t n = (int16_t)wb_pg_get_u16(msg + i);
	i += 2;
	if (n == -1) {
		if (i != len)
			return wb_error_set(err, WB_ERR_DECODE,
					    "binary COPY: bytes after the "
					    "trailer");
		*what = WB_PG_BIN_END;
		return WB_OK;
	}
	if (n != nfields)
		return wb_error_set(
			err, WB_ERR_DECODE,
			"binary COPY: row of %d fields, expected %d", n,
			nfields);
	for (int f = 0; f < nfields; f++) {
		if (len - i < 4)
			return wb_error_set(err, WB_ERR_DECODE,
					    "binary COPY: field %d has no "
					    "length",
					    f + 1);
		int32_t flen = (int32_t)wb_pg_get_u32(msg + i);
		i += 4;
		if (flen == -1) {
			fields[f].p = NULL;
			fields[f].len = 0;
			continue;
		}
		if (flen < 0 || (size_t)flen > len - i)
			return wb_error_set(err, WB_ERR_DECODE,
					    "binary COPY: field %d of %" PRId32
					    " bytes past the message end",
					    f + 1, flen);
		fields[f].p = (const char *)msg + i;
		fields[f].len = (size_t)flen;
		i += (size_t)flen;
	}
	if (i != len)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binary COPY: %zu bytes after the row's "
				    "last field",
				    len - i);
	*what = WB_PG_BIN_ROW;
	return WB_OK;
}

/* ---- values ------------------------------------------------------------ */

bool wb_pg_binary_reads(const struct wb_type *t)
{
	if (t->is_array)
		return false;
	switch (t->src_type) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_TEXT:
	case OID_VARCHAR:
	case OID_BPCHAR:
	case OID_NAME:
	case OID_JSON:
	case OID_JSONB:
	case OID_BYTEA:
	case OID_UUID:
	case OID_DATE:
	case OID_TIME:
	case OID_TIMESTAMP:
	case OID_TIMESTAMPTZ:
		return true;
	case OID_NUMERIC:
		return t->s.logical == WB_L_DECIMAL;
	default:
		return false;
	}
}

static int wrong_length(wb_error_t *err, const char *type, size_t len,
			size_t want)
{
	return wb_error_set(err, WB_ERR_TYPE,
			    "invalid binary %s value: %zu bytes, expected %zu",
			    type, len, want);
}

/* A numeric's send form, checked; digits stay big-endian in p. */
struct numeric {
	int ndigits;
	int weight;
	uint16_t sign;
	int dscale;
	const uint8_t *digits;
};

static int numeric_parse(const uint8_t *p, size_t len, struct numeric *n,
			 wb_error_t *err)
{
	if (len < 8)
		return wb_error_set(err, WB_ERR_TYPE,
				    "invalid binary numeric value: %zu bytes",
				    len);
	n->ndigits = (int16_t)wb_pg_get_u16(p);
	n->weight = (int16_t)wb_pg_get_u16(p + 2);
	n->sign = wb_pg_get_u16(p + 4);
	n->dscale = (int16_t)wb_pg_get_u16(p + 6);
	n->digits = p + 8;
	if (n->ndigits < 0 || (size_t)n->ndigits * 2 != len - 8 ||
	    n->dscale < 0 ||
	    (n->sign != 0 && n->sign != 0x4000 && n->sign != 0xC000 &&
	     n->sign != 0xD000 && n->sign != 0xF000))
		return wb_error_set(err, WB_ERR_TYPE,
				    "invalid binary numeric value (%d digits "
				    "in %zu bytes, sign 0x%04x, scale %d)",
				    n->ndigits, len, n->sign, n->dscale);
	for (int i = 0; i < n->ndigits; i++)
		if (wb_pg_get_u16(n->digits + 2 * i) > 9999)
			return wb_error_set(err, WB_ERR_TYPE,
					    "invalid binary numeric value "
					    "(digit %u)",
					    wb_pg_get_u16(n->digits + 2 * i));
	return WB_OK;
}

/* The decimal digit worth 10^e. */
static int numeric_digit(const struct numeric *n, int e)
{
	static const int pow10[4] = {1, 10, 100, 1000};
	int q = e >= 0 ? e / 4 : -((-e + 3) / 4); /* floor(e / 4) */
	int i = n->weight - q;
	if (i < 0 || i >= n->ndigits)
		return 0;
	return wb_pg_get_u16(n->digits + 2 * i) / pow10[e - 4 * q] % 10;
}

/* The text numeric_out would print, into the arena; NULL when out of
 * memory. */
static char *numeric_text(const struct numeric *n, struct wb_arena *a,
			  size_t *len)
{
	if (n->sign == 0xC000 || n->sign == 0xD000 || n->sign == 0xF000) {
		const char *s = n->sign == 0xC000   ? "NaN"
				: n->sign == 0xD000 ? "Infinity"
						    : "-Infinity";
		*len = strlen(s);
		return wb_arena_dup(a, s, *len);
	}
	int top = n->weight >= 0 ? 4 * n->weight + 3 : 0;
	char *out = wb_arena_alloc(a, (size_t)top + (size_t)n->dscale + 4);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	if (n->sign == 0x4000)
		out[o++] = '-';
	/* as get_str_from_var: each base-10000 digit of the integer part,
	 * the first without its leading zeros (a non-canonical leading zero
	 * digit prints as "0"), or "0" when there is no integer part */
	if (n->weight < 0)
		out[o++] = '0';
	for (int g = 0; g <= n->weight; g++) {
		unsigned dig =
			g < n->ndigits ? wb_pg_get_u16(n->digits + 2 * g) : 0;
		bool putit = g > 0;
		for (unsigned div = 1000; div >= 1; div /= 10) {
			unsigned x = dig / div % 10;
			putit |= x > 0 || div == 1;
			if (putit)
				out[o++] = (char)('0' + x);
		}
	}
	if (n->dscale > 0) {
		out[o++] = '.';
		for (int e = -1; e >= -n->dscale; e--)
			out[o++] = (char)('0' + numeric_digit(n, e));
	}
	*len = o;
	return out;
}

static int put_unscaled(int64_t v, struct wb_arena *a, struct wb_value *out,
			wb_error_t *err)
{
	if (wb_decimal_from_i64(v, a, out) != 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

/* Through the text form: the slow path for what the fast path declines. */
static int via_text(const struct wb_type *t, const char *text, size_t len,
		    struct wb_arena *a, struct wb_value *out, wb_error_t *err)
{
	if (text == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return wb_pg_text_to_value(t, text, len, a, out, err);
}

static int numeric_to_value(const struct wb_type *t, const uint8_t *p,
			    size_t len, struct wb_arena *a,
			    struct wb_value *out, wb_error_t *err)
{
	struct numeric n = {0};
	int rc = numeric_parse(p, len, &n, err);
	if (rc)
		return rc;
	int scale = t->s.scale;
	/* the text would show dscale fractional digits */
	if ((n.sign != 0 && n.sign != 0x4000) || n.dscale > scale)
		goto slow;
	/* unscaled = sum of digit i * 10^(4 * (weight - i) + scale): acc
	 * counts in units of 10^e, e the exponent of the last digit taken */
	static const uint64_t pow10[19] = {1,
					   10,
					   100,
					   1000,
					   10000,
					   100000,
					   1000000,
					   10000000,
					   100000000,
					   1000000000,
					   10000000000,
					   100000000000,
					   1000000000000,
					   10000000000000,
					   100000000000000,
					   1000000000000000,
					   10000000000000000,
					   100000000000000000,
					   1000000000000000000};
	const uint64_t limit = pow10[18];
	uint64_t acc = 0;
	int e = 0;
	for (int i = 0; i < n.ndigits; i++) {
		unsigned d = wb_pg_get_u16(n.digits + 2 * i);
		/* decimal digits past dscale are not in the text form (it
		 * cuts them off): leave any nonzero one to the slow path */
		int he = 4 * (n.weight - i) + n.dscale;
		if (he < 0 && (he <= -4 ? d != 0 : d % pow10[-he] != 0))
			goto slow;
		int de = 4 * (n.weight - i) + scale;
		if (de >= 0) {
			if (acc >= limit / 10000)
				goto slow;
			acc = acc * 10000 + d;
			e = de;
		} else if (de > -4) {
			/* the digit straddles the scale: its low part must
			 * be zero (else the text form errs) */
			if (d % pow10[-de] != 0 || acc >= limit / 10000)
				goto slow;
			acc = acc * pow10[4 + de] + d / pow10[-de];
			e = 0;
		} else if (d != 0) {
			goto slow;
		}
	}
	if (acc != 0) {
		if (e > 18 || acc >= limit / pow10[e])
			goto slow;
		acc *= pow10[e];
		int ndig = 1;
		while (ndig < 19 && acc >= pow10[ndig])
			ndig++;
		if (ndig > t->s.precision)
			goto slow;
	}
	memset(out, 0, sizeof(*out));
	rc = put_unscaled(n.sign == 0x4000 ? -(int64_t)acc : (int64_t)acc, a,
			  out, err);
	if (rc == WB_OK)
		out->state = WB_VAL_PRESENT;
	return rc;
slow:;
	size_t tlen = 0;
	const char *text = numeric_text(&n, a, &tlen);
	return via_text(t, text, tlen, a, out, err);
}

/* The text timestamp_out / timestamptz_out print (DateStyle ISO, TimeZone
 * UTC) for us microseconds after 2000-01-01, a value after 1 AD:
 * "YYYY-MM-DD HH:MM:SS[.ffffff]" (fraction without trailing zeros), with
 * "+00" for timestamptz. out holds 48 bytes. Returns the length. */
static size_t timestamp_text(int64_t us, bool tz, char *out)
{
	int64_t days = us / USECS_PER_DAY, tod = us % USECS_PER_DAY;
	if (tod < 0) {
		tod += USECS_PER_DAY;
		days--;
	}
	int64_t y;
	int m, d;
	wb_civil_from_days(days + PG_EPOCH_DAYS, &y, &m, &d);
	int64_t sec = tod / 1000000, frac = tod % 1000000;
	int n = snprintf(out, 48,
			 "%04" PRId64 "-%02d-%02d %02" PRId64 ":%02" PRId64
			 ":%02" PRId64,
			 y, m, d, sec / 3600, sec / 60 % 60, sec % 60);
	if (frac != 0) {
		n += snprintf(out + n, 48 - (size_t)n, ".%06" PRId64, frac);
		while (out[n - 1] == '0')
			n--;
	}
	if (tz) {
		memcpy(out + n, "+00", 3);
		n += 3;
	}
	out[n] = '\0';
	return (size_t)n;
}

static int fixed(const char *type, size_t len, size_t want, wb_error_t *err)
{
	return len == want ? WB_OK : wrong_length(err, type, len, want);
}

int wb_pg_binary_to_value(const struct wb_type *t, const uint8_t *p, size_t len,
			  struct wb_arena *a, struct wb_value *out,
			  wb_error_t *err)
{
	int rc = WB_OK;
	int64_t v;
	memset(out, 0, sizeof(*out));
	switch (t->src_type) {
	case OID_BOOL:
		if ((rc = fixed("boolean", len, 1, err)))
			return rc;
		if (p[0] > 1)
			return wb_error_set(err, WB_ERR_TYPE,
					    "invalid binary boolean value %u",
					    p[0]);
		out->u.i = p[0];
		break;
	case OID_INT2:
		if ((rc = fixed("smallint", len, 2, err)))
			return rc;
		out->u.i = (int16_t)wb_pg_get_u16(p);
		break;
	case OID_INT4:
		if ((rc = fixed("integer", len, 4, err)))
			return rc;
		out->u.i = (int32_t)wb_pg_get_u32(p);
		break;
	case OID_OID:
		if ((rc = fixed("oid", len, 4, err)))
			return rc;
		out->u.i = wb_pg_get_u32(p);
		break;
	case OID_INT8:
		if ((rc = fixed("bigint", len, 8, err)))
			return rc;
		out->u.i = (int64_t)wb_pg_get_u64(p);
		break;
	case OID_FLOAT4: {
		if ((rc = fixed("real", len, 4, err)))
			return rc;
		uint32_t bits = wb_pg_get_u32(p);
		memcpy(&out->u.f, &bits, sizeof(bits));
		if (isnan(out->u.f))
			out->u.f = NAN; /* the text form is NaN for any NaN */
		break;
	}
	case OID_FLOAT8: {
		if ((rc = fixed("double precision", len, 8, err)))
			return rc;
		uint64_t bits = wb_pg_get_u64(p);
		memcpy(&out->u.d, &bits, sizeof(bits));
		if (isnan(out->u.d))
			out->u.d = NAN; /* the text form is NaN for any NaN */
		break;
	}
	case OID_DATE: {
		if ((rc = fixed("date", len, 4, err)))
			return rc;
		int32_t d = (int32_t)wb_pg_get_u32(p);
		if (d == INT32_MIN || d == INT32_MAX) /* as the text */
			return via_text(t, d > 0 ? "infinity" : "-infinity",
					d > 0 ? 8 : 9, a, out, err);
		v = (int64_t)d + PG_EPOCH_DAYS;
		if (v < INT32_MIN || v > INT32_MAX) /* past the server's */
			return wb_error_set(err, WB_ERR_TYPE,
					    "invalid value for date: %" PRId32
					    " days after 2000-01-01 (out of "
					    "range)",
					    d);
		out->u.i = v;
		break;
	}
	case OID_TIME:
		if ((rc = fixed("time", len, 8, err)))
			return rc;
		v = (int64_t)wb_pg_get_u64(p);
		if (v < 0 || v > USECS_PER_DAY)
			return wb_error_set(err, WB_ERR_TYPE,
					    "invalid value for time: %" PRId64
					    " microseconds after midnight",
					    v);
		out->u.i = v;
		break;
	case OID_TIMESTAMP:
	case OID_TIMESTAMPTZ: {
		if ((rc = fixed("timestamp", len, 8, err)))
			return rc;
		int64_t us = (int64_t)wb_pg_get_u64(p);
		if (us == INT64_MIN || us == INT64_MAX) /* as the text */
			return via_text(t, us > 0 ? "infinity" : "-infinity",
					us > 0 ? 8 : 9, a, out, err);
		if (!__builtin_add_overflow(us, PG_EPOCH_US, &v)) {
			out->u.i = v;
			break;
		}
		/* Past a long of microseconds since 1970 but within the
		 * server's range (up to 294276 AD): the text form, which
		 * wb_pg_text_to_value keeps as unrepresentable. */
		if (us < PG_END_TIMESTAMP) {
			char text[48];
			size_t tlen = timestamp_text(
				us, t->src_type == OID_TIMESTAMPTZ, text);
			return via_text(t, text, tlen, a, out, err);
		}
		return wb_error_set(err, WB_ERR_TYPE,
				    "invalid value for timestamp: "
				    "%" PRId64 " microseconds after "
				    "2000-01-01 (out of range)",
				    us);
	}
	case OID_UUID: {
		if ((rc = fixed("uuid", len, 16, err)))
			return rc;
		char *s = wb_arena_alloc(a, 36);
		if (s == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		static const char hexd[] = "0123456789abcdef";
		size_t o = 0;
		for (int i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				s[o++] = '-';
			s[o++] = hexd[p[i] >> 4];
			s[o++] = hexd[p[i] & 15];
		}
		out->u.b.p = (const uint8_t *)s;
		out->u.b.n = 36;
		break;
	}
	case OID_BYTEA: {
		if (len > UINT32_MAX)
			return wb_error_set(err, WB_ERR_TYPE,
					    "bytea value of %zu bytes is too "
					    "long",
					    len);
		uint8_t *d =
			wb_arena_dup(a, len ? p : (const uint8_t *)"", len);
		if (d == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		out->u.b.p = d;
		out->u.b.n = (uint32_t)len;
		break;
	}
	case OID_JSONB:
		if (len < 1 || p[0] != 1)
			return wb_error_set(err, WB_ERR_TYPE,
					    "invalid binary jsonb value "
					    "(version %d)",
					    len ? p[0] : -1);
		return wb_pg_text_to_value(t, (const char *)p + 1, len - 1, a,
					   out, err);
	case OID_TEXT:
	case OID_VARCHAR:
	case OID_BPCHAR:
	case OID_NAME:
	case OID_JSON:
		/* the send form is the text (UTF-8 checks as for text) */
		return wb_pg_text_to_value(t, (const char *)p, len, a, out,
					   err);
	case OID_NUMERIC:
		if (t->s.logical == WB_L_DECIMAL && !t->is_array)
			return numeric_to_value(t, p, len, a, out, err);
		/* fall through */
	default:
		return wb_error_set(err, WB_ERR_TYPE,
				    "no binary conversion for type %" PRIu32,
				    t->src_type);
	}
	out->state = WB_VAL_PRESENT;
	return WB_OK;
}
