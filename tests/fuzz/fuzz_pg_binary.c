/* fuzz_pg_binary.c — fuzz target for the binary COPY message decoder and
 * the binary send forms of values.
 *
 * Input: one mode byte, then the bytes to decode (from an exact-size copy, so
 * a read past them is a heap overflow).
 *   mode & 0x80: a CopyData message for wb_pg_copy_bin_msg, with first =
 *     mode & 0x40 and nfields = mode & 15. On success every field of a row
 *     must lie inside the message, in order and without overlap, and the
 *     field bytes plus their framing must not exceed the message.
 *   else: a value of types[(mode & 0x7f) % NTYPES] for wb_pg_binary_to_value.
 *     It may only return WB_OK, WB_ERR_TYPE or WB_ERR_NOMEM; on WB_OK the
 *     value is PRESENT, its bytes are read (hashed) and a decimal is
 *     minimal two's complement, or it is UNREPRESENTABLE with its text. Where
 * the value is one the server could print, the text it would print (DateStyle
 * ISO, TimeZone UTC) goes through wb_pg_text_to_value too, and both must agree:
 * same code, same value. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "pg_binary.h"
#include "pg_bytes.h"
#include "pg_oids.h"
#include "pg_types.h"

static volatile uint32_t sink; /* keeps the reads from being optimised out */

#define NUMERIC(p, s) ((int32_t)((((p) << 16) | ((s)&0x7ff)) + 4))

static const struct {
	uint32_t oid;
	int32_t typmod;
} types[] = {
	{OID_BOOL, -1},
	{OID_INT2, -1},
	{OID_INT4, -1},
	{OID_INT8, -1},
	{OID_OID, -1},
	{OID_FLOAT4, -1},
	{OID_FLOAT8, -1},
	{OID_TEXT, -1},
	{OID_VARCHAR, 24},
	{OID_BPCHAR, 14},
	{OID_NAME, -1},
	{OID_JSON, -1},
	{OID_JSONB, -1},
	{OID_BYTEA, -1},
	{OID_UUID, -1},
	{OID_DATE, -1},
	{OID_TIME, -1},
	{OID_TIMESTAMP, -1},
	{OID_TIMESTAMPTZ, -1},
	{OID_NUMERIC, NUMERIC(12, 3)},
	{OID_NUMERIC, NUMERIC(38, 10)},
	{OID_NUMERIC, NUMERIC(5, 0)},
	{OID_NUMERIC, NUMERIC(4, 4)},
	{OID_NUMERIC, NUMERIC(18, 0)},
	{OID_NUMERIC, NUMERIC(19, 2)},
	{OID_NUMERIC, NUMERIC(1, 0)},
	{OID_NUMERIC, NUMERIC(18, 18)},
	{OID_NUMERIC, NUMERIC(2, -3)},
	{OID_NUMERIC, NUMERIC(1000, 500)},
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* ---- messages ---------------------------------------------------------- */

static void message(const uint8_t *data, size_t size, bool first, int nfields)
{
	uint8_t *msg = malloc(size ? size : 1);
	if (msg == NULL)
		return;
	memcpy(msg, data, size);
	struct wb_pg_copy_field f[16];
	enum wb_pg_bin_msg what;
	wb_error_t err;
	int rc = wb_pg_copy_bin_msg(msg, size, first, f, nfields, &what, &err);
	if (rc == WB_OK && what == WB_PG_BIN_ROW) {
		const uint8_t *end = msg + size, *prev = msg;
		size_t framing = 2 + 4 * (size_t)nfields;
		for (int i = 0; i < nfields; i++) {
			const uint8_t *p = (const uint8_t *)f[i].p;
			if (p == NULL) {
				if (f[i].len != 0)
					abort();
				continue;
			}
			if (p < prev || p > end || f[i].len > (size_t)(end - p))
				abort(); /* outside, or before the last field */
			uint32_t h = 0;
			for (size_t k = 0; k < f[i].len; k++)
				h = h * 31 + p[k];
			sink += h;
			framing += f[i].len;
			prev = p + f[i].len;
		}
		if (framing > size)
			abort();
	} else if (rc == WB_OK) {
		if (what != WB_PG_BIN_NOTHING && what != WB_PG_BIN_END)
			abort();
		if (what == WB_PG_BIN_NOTHING && !first)
			abort(); /* only a header can come without a row */
	} else if (rc != WB_ERR_DECODE || err.message[0] == '\0') {
		abort();
	}
	free(msg);
}

/* ---- the text the server would print ----------------------------------- */

#define POSTGRES_EPOCH_JDATE 2451545
#define DATE_END_JULIAN 2147483494 /* date2j(5874898, 1, 1) */
#define USECS_PER_DAY INT64_C(86400000000)
#define MIN_TIMESTAMP INT64_C(-211813488000000000) /* 4714-11-24 BC */
#define END_TIMESTAMP INT64_C(9223371331200000000) /* 294277-01-01 */

/* PostgreSQL's j2date, for Julian days 0 to DATE_END_JULIAN - 1. */
static void j2date(int jd, int *year, int *month, int *day)
{
	unsigned int julian, quad, extra;
	int y;
	julian = (unsigned int)jd;
	julian += 32044;
	quad = julian / 146097;
	extra = (julian - quad * 146097) * 4 + 3;
	julian += 60 + quad * 3 + extra / 146097;
	quad = julian / 1461;
	julian -= quad * 1461;
	y = (int)(julian * 4 / 1461);
	julian = ((y != 0) ? ((julian + 305) % 365) : ((julian + 306) % 366)) +
		 123;
	y += (int)quad * 4;
	*year = y - 4800;
	quad = julian * 2141 / 65536;
	*day = (int)(julian - 7834 * quad / 256);
	*month = (int)((quad + 10) % 12 + 1);
}

/* "YYYY-MM-DD" of a Julian day; *bc set for years <= 0. */
static int date_text(char *out, size_t size, int jd, bool *bc)
{
	int y, m, d;
	j2date(jd, &y, &m, &d);
	*bc = y <= 0;
	return snprintf(out, size, "%04d-%02d-%02d", y > 0 ? y : 1 - y, m, d);
}

static int time_text(char *out, size_t size, int64_t us)
{
	int64_t s = us / 1000000, f = us % 1000000;
	int n = snprintf(out, size, "%02" PRId64 ":%02" PRId64 ":%02" PRId64,
			 s / 3600, s / 60 % 60, s % 60);
	if (f != 0) {
		n += snprintf(out + n, size - (size_t)n, ".%06" PRId64, f);
		while (out[n - 1] == '0')
			out[--n] = '\0';
	}
	return n;
}

/* numeric_out (get_str_from_var) of a well-formed send form: base-10000
 * digits before the point (the first without leading zeros), then dscale
 * digits after it, cut off, not rounded. Returns a malloc'd text, or NULL
 * for a form numeric_recv would refuse. */
static char *numeric_text(const uint8_t *p, size_t len, size_t *tlen)
{
	if (len < 8)
		return NULL;
	int ndigits = (int16_t)wb_pg_get_u16(p),
	    weight = (int16_t)wb_pg_get_u16(p + 2);
	uint16_t sign = wb_pg_get_u16(p + 4);
	int dscale = (int16_t)wb_pg_get_u16(p + 6);
	if (ndigits < 0 || (size_t)ndigits * 2 != len - 8 || dscale < 0)
		return NULL;
	for (int i = 0; i < ndigits; i++)
		if (wb_pg_get_u16(p + 8 + 2 * i) > 9999)
			return NULL;
	const char *special = sign == 0xC000   ? "NaN"
			      : sign == 0xD000 ? "Infinity"
			      : sign == 0xF000 ? "-Infinity"
					       : NULL;
	if (special != NULL) {
		*tlen = strlen(special);
		return strdup(special);
	}
	if (sign != 0 && sign != 0x4000)
		return NULL;
	size_t cap = 2 + (weight >= 0 ? 4 * ((size_t)weight + 1) : 1) + 1 +
		     (size_t)dscale + 4;
	char *out = malloc(cap), *cp = out;
	if (out == NULL)
		return NULL;
	if (sign == 0x4000)
		*cp++ = '-';
	int d;
	if (weight < 0) {
		d = weight + 1;
		*cp++ = '0';
	} else {
		for (d = 0; d <= weight; d++) {
			int dig =
				d < ndigits ? wb_pg_get_u16(p + 8 + 2 * d) : 0;
			bool putit = d > 0;
			for (int div = 1000; div >= 1; div /= 10) {
				int x = dig / div % 10;
				putit |= x > 0 || div == 1;
				if (putit)
					*cp++ = (char)('0' + x);
			}
		}
	}
	if (dscale > 0) {
		*cp++ = '.';
		char *endcp = cp + dscale;
		for (int i = 0; i < dscale; d++, i += 4) {
			int dig = d >= 0 && d < ndigits
					  ? wb_pg_get_u16(p + 8 + 2 * d)
					  : 0;
			for (int div = 1000; div >= 1; div /= 10)
				*cp++ = (char)('0' + dig / div % 10);
		}
		cp = endcp;
	}
	*tlen = (size_t)(cp - out);
	return out;
}

/* The text the server prints for the send form p[0..len) of type t, in a
 * malloc'd block; NULL when there is none (a malformed form, or a value out
 * of the server's range). */
static char *text_form(const struct wb_type *t, const uint8_t *p, size_t len,
		       size_t *tlen)
{
	char buf[96];
	int n = -1;
	switch (t->src_type) {
	case OID_BOOL:
		if (len == 1 && p[0] <= 1)
			n = snprintf(buf, sizeof(buf), "%s", p[0] ? "t" : "f");
		break;
	case OID_INT2:
		if (len == 2)
			n = snprintf(buf, sizeof(buf), "%d",
				     (int16_t)wb_pg_get_u16(p));
		break;
	case OID_INT4:
		if (len == 4)
			n = snprintf(buf, sizeof(buf), "%" PRId32,
				     (int32_t)wb_pg_get_u32(p));
		break;
	case OID_OID:
		if (len == 4)
			n = snprintf(buf, sizeof(buf), "%" PRIu32,
				     wb_pg_get_u32(p));
		break;
	case OID_INT8:
		if (len == 8)
			n = snprintf(buf, sizeof(buf), "%" PRId64,
				     (int64_t)wb_pg_get_u64(p));
		break;
	case OID_FLOAT4:
	case OID_FLOAT8: {
		double d;
		if (t->src_type == OID_FLOAT4 && len == 4) {
			uint32_t bits = wb_pg_get_u32(p);
			float f;
			memcpy(&f, &bits, 4);
			d = f;
		} else if (t->src_type == OID_FLOAT8 && len == 8) {
			uint64_t bits = wb_pg_get_u64(p);
			memcpy(&d, &bits, 8);
		} else {
			break;
		}
		if (isnan(d))
			n = snprintf(buf, sizeof(buf), "NaN");
		else if (isinf(d))
			n = snprintf(buf, sizeof(buf), "%s",
				     d > 0 ? "Infinity" : "-Infinity");
		else /* digits enough to read back the same bits */
			n = snprintf(buf, sizeof(buf), "%.*g",
				     t->src_type == OID_FLOAT4 ? 9 : 17, d);
		break;
	}
	case OID_DATE: {
		if (len != 4)
			break;
		int32_t days = (int32_t)wb_pg_get_u32(p);
		int64_t jd = (int64_t)days + POSTGRES_EPOCH_JDATE;
		bool bc;
		if (days == INT32_MAX)
			n = snprintf(buf, sizeof(buf), "infinity");
		else if (days == INT32_MIN)
			n = snprintf(buf, sizeof(buf), "-infinity");
		else if (jd >= 0 && jd < DATE_END_JULIAN) {
			n = date_text(buf, sizeof(buf), (int)jd, &bc);
			if (bc)
				n += snprintf(buf + n, sizeof(buf) - (size_t)n,
					      " BC");
		}
		break;
	}
	case OID_TIME: {
		int64_t us = len == 8 ? (int64_t)wb_pg_get_u64(p) : -1;
		if (us >= 0 && us <= USECS_PER_DAY)
			n = time_text(buf, sizeof(buf), us);
		break;
	}
	case OID_TIMESTAMP:
	case OID_TIMESTAMPTZ: {
		if (len != 8)
			break;
		int64_t us = (int64_t)wb_pg_get_u64(p);
		if (us == INT64_MAX) {
			n = snprintf(buf, sizeof(buf), "infinity");
			break;
		}
		if (us == INT64_MIN) {
			n = snprintf(buf, sizeof(buf), "-infinity");
			break;
		}
		if (us < MIN_TIMESTAMP || us >= END_TIMESTAMP)
			break;
		int64_t date = us / USECS_PER_DAY, time = us % USECS_PER_DAY;
		if (time < 0) {
			time += USECS_PER_DAY;
			date -= 1;
		}
		bool bc;
		n = date_text(buf, sizeof(buf),
			      (int)(date + POSTGRES_EPOCH_JDATE), &bc);
		buf[n++] = ' ';
		n += time_text(buf + n, sizeof(buf) - (size_t)n, time);
		if (t->src_type == OID_TIMESTAMPTZ)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "+00");
		if (bc)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " BC");
		break;
	}
	case OID_UUID:
		if (len == 16) {
			n = 0;
			for (int i = 0; i < 16; i++)
				n += snprintf(buf + n, sizeof(buf) - (size_t)n,
					      "%s%02x",
					      i == 4 || i == 6 || i == 8 ||
							      i == 10
						      ? "-"
						      : "",
					      p[i]);
		}
		break;
	case OID_BYTEA: {
		char *out = malloc(2 + 2 * len + 1);
		if (out == NULL)
			return NULL;
		out[0] = '\\';
		out[1] = 'x';
		for (size_t i = 0; i < len; i++)
			snprintf(out + 2 + 2 * i, 3, "%02x", p[i]);
		*tlen = 2 + 2 * len;
		return out;
	}
	case OID_JSONB:
		if (len < 1 || p[0] != 1)
			return NULL;
		p++;
		len--;
		/* fall through */
	case OID_TEXT:
	case OID_VARCHAR:
	case OID_BPCHAR:
	case OID_NAME:
	case OID_JSON: {
		char *out = malloc(len ? len : 1);
		if (out != NULL && len)
			memcpy(out, p, len);
		*tlen = len;
		return out;
	}
	case OID_NUMERIC:
		return numeric_text(p, len, tlen);
	default:
		break;
	}
	if (n < 0)
		return NULL;
	*tlen = (size_t)n;
	return strdup(buf);
}

/* ---- values ------------------------------------------------------------ */

static bool value_eq(const struct wb_type *t, const struct wb_value *a,
		     const struct wb_value *b)
{
	if (a->state != b->state)
		return false;
	if (a->state == WB_VAL_UNREPRESENTABLE)
		return a->u.b.n == b->u.b.n &&
		       memcmp(a->u.b.p, b->u.b.p, a->u.b.n) == 0;
	switch (t->s.kind) {
	case WB_T_FLOAT:
		return memcmp(&a->u.f, &b->u.f, sizeof(float)) == 0;
	case WB_T_DOUBLE:
		return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
	case WB_T_STRING:
	case WB_T_BYTES:
		return a->u.b.n == b->u.b.n &&
		       (a->u.b.n == 0 ||
			memcmp(a->u.b.p, b->u.b.p, a->u.b.n) == 0);
	default:
		return a->u.i == b->u.i;
	}
}

static void value(const uint8_t *data, size_t size, unsigned which)
{
	struct wb_type t;
	wb_pg_map_type(types[which].oid, types[which].typmod, NULL, NULL,
		       WB_DECIMAL_STRING, &t);
	if (!wb_pg_binary_reads(&t))
		abort();
	uint8_t *p = malloc(size ? size : 1);
	if (p == NULL)
		return;
	memcpy(p, data, size);
	struct wb_arena arena;
	wb_arena_init(&arena, 256);
	struct wb_value v;
	wb_error_t err;
	int rc = wb_pg_binary_to_value(&t, p, size, &arena, &v, &err);
	if (rc != WB_OK && rc != WB_ERR_TYPE && rc != WB_ERR_NOMEM)
		abort();
	if (rc != WB_OK && err.message[0] == '\0')
		abort();
	if (rc == WB_OK && v.state == WB_VAL_UNREPRESENTABLE) {
		if (v.u.b.n == 0 || v.u.b.p == NULL)
			abort(); /* the server's text is never empty */
		uint32_t h = 0;
		for (uint32_t k = 0; k < v.u.b.n; k++)
			h = h * 31 + v.u.b.p[k];
		sink += h;
	} else if (rc == WB_OK) {
		if (v.state != WB_VAL_PRESENT)
			abort();
		if (t.s.kind == WB_T_STRING || t.s.kind == WB_T_BYTES) {
			if (v.u.b.n > 0 && v.u.b.p == NULL)
				abort();
			uint32_t h = 0;
			for (uint32_t k = 0; k < v.u.b.n; k++)
				h = h * 31 + v.u.b.p[k];
			sink += h;
		}
		if (t.s.logical == WB_L_DECIMAL) {
			const uint8_t *b = v.u.b.p;
			if (v.u.b.n < 1 ||
			    (v.u.b.n > 1 && ((b[0] == 0 && !(b[1] & 0x80)) ||
					     (b[0] == 0xff && (b[1] & 0x80)))))
				abort(); /* not the minimal two's complement */
		}
	}

	/* the same value through the text the server would print */
	size_t tlen = 0;
	char *text = text_form(&t, p, size, &tlen);
	if (text != NULL) {
		struct wb_value tv;
		wb_error_t terr;
		int trc =
			wb_pg_text_to_value(&t, text, tlen, &arena, &tv, &terr);
		if (rc != WB_ERR_NOMEM && trc != WB_ERR_NOMEM &&
		    (rc != trc || (rc == WB_OK && !value_eq(&t, &v, &tv)))) {
			fprintf(stderr,
				"binary and text differ: type %" PRIu32
				" text \"%.*s\": rc %d / %d\n",
				t.src_type, (int)(tlen > 200 ? 200 : tlen),
				text, rc, trc);
			abort();
		}
		free(text);
	}
	wb_arena_free(&arena);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	if (mode & 0x80)
		message(data + 1, size - 1, (mode & 0x40) != 0, mode & 15);
	else
		value(data + 1, size - 1, (unsigned)(mode & 0x7f) % NTYPES);
	return 0;
}
