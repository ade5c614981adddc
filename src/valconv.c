/* valconv.c — value conversions shared by the sources: Avro decimal bytes
 * (the unscaled value as big-endian two's complement in the fewest bytes),
 * UTF-8 validation and repair, proleptic Gregorian dates. */
#include "valconv.h"

#include <string.h>

/* ---- UTF-8 --------------------------------------------------------------- */

size_t wb_utf8_seq(const uint8_t *p, size_t n, int *ok)
{
	uint8_t c = p[0];
	size_t need;
	uint8_t lo = 0x80, hi = 0xbf;
	if (c < 0x80) {
		*ok = 1;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		*ok = 0;
		return 1;
	}
	for (size_t k = 1; k <= need; k++) {
		if (k >= n || p[k] < lo || p[k] > hi) {
			*ok = 0;
			return k;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	*ok = 1;
	return need + 1;
}

size_t wb_utf8_first_invalid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		/* ASCII runs are the common case: 8 bytes at a time. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & UINT64_C(0x8080808080808080))
				break;
			i += 8;
		}
		if (i >= n)
			break;
		int ok;
		size_t k = wb_utf8_seq(p + i, n - i, &ok);
		if (!ok)
			return i;
		i += k;
	}
	return n;
}

size_t wb_utf8_sanitize(const uint8_t *p, size_t n, uint8_t *dst)
{
	size_t i = 0, o = 0;
	while (i < n) {
		int ok;
		size_t k = wb_utf8_seq(p + i, n - i, &ok);
		if (ok) {
			memcpy(dst + o, p + i, k);
			o += k;
		} else {
			dst[o++] = 0xef;
			dst[o++] = 0xbf;
			dst[o++] = 0xbd;
		}
		i += k;
	}
	return o;
}

size_t wb_utf8_sanitized_len(const uint8_t *p, size_t n)
{
	size_t i = 0, need = 0;
	while (i < n) {
		int ok;
		size_t k = wb_utf8_seq(p + i, n - i, &ok);
		need += ok ? k : 3;
		i += k;
	}
	return need;
}

int wb_utf8_value(const uint8_t *p, size_t len, struct wb_arena *a,
		  struct wb_value *out, wb_error_t *err)
{
	size_t bad = wb_utf8_first_invalid(p, len);
	uint8_t *d;
	size_t n;
	if (bad == len) {
		d = len <= UINT32_MAX ? wb_arena_dup(a, p, len) : NULL;
		n = len;
	} else {
		size_t need = bad + wb_utf8_sanitized_len(p + bad, len - bad);
		d = need <= UINT32_MAX ? wb_arena_alloc(a, need) : NULL;
		if (d != NULL) {
			memcpy(d, p, bad);
			n = bad + wb_utf8_sanitize(p + bad, len - bad, d + bad);
		} else {
			n = need;
		}
	}
	if (n > UINT32_MAX)
		return wb_error_set(err, WB_ERR_TYPE,
				    "string value of %zu bytes is too long", n);
	if (d == NULL)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "out of memory copying a %zu-byte string",
				    n);
	out->u.b.p = d;
	out->u.b.n = (uint32_t)n;
	return 0;
}

/* ---- decimals ------------------------------------------------------------ */

size_t wb_decimal_from_magnitude(const uint8_t *mag, size_t mlen, bool neg,
				 uint8_t *dst)
{
	while (mlen > 0 && mag[0] == 0) {
		mag++;
		mlen--;
	}
	if (mlen == 0) {
		dst[0] = 0;
		return 1;
	}
	if (!neg) {
		size_t o = 0;
		if (mag[0] & 0x80)
			dst[o++] = 0;
		memcpy(dst + o, mag, mlen);
		return o + mlen;
	}
	/* 2^(8*mlen) - mag, then one more 0xff byte if the sign bit came out
	 * clear (mag > 2^(8*mlen-1)). No shorter form exists because mag has
	 * no leading zero byte. */
	uint8_t *t = dst + 1;
	unsigned carry = 1;
	for (size_t i = mlen; i-- > 0;) {
		unsigned v = (unsigned)(uint8_t)~mag[i] + carry;
		t[i] = (uint8_t)v;
		carry = v >> 8;
	}
	if (t[0] & 0x80) {
		memmove(dst, t, mlen);
		return mlen;
	}
	dst[0] = 0xff;
	return mlen + 1;
}

int wb_decimal_from_u64(uint64_t v, bool neg, struct wb_arena *a,
			struct wb_value *out)
{
	uint8_t mag[8];
	for (int i = 0; i < 8; i++)
		mag[i] = (uint8_t)(v >> (56 - 8 * i));
	uint8_t *d = wb_arena_alloc(a, 9);
	if (d == NULL)
		return -1;
	out->u.b.p = d;
	out->u.b.n = (uint32_t)wb_decimal_from_magnitude(mag, 8, neg, d);
	return 0;
}

int wb_decimal_from_i64(int64_t v, struct wb_arena *a, struct wb_value *out)
{
	return v < 0 ? wb_decimal_from_u64(0 - (uint64_t)v, true, a, out)
		     : wb_decimal_from_u64((uint64_t)v, false, a, out);
}

/* The digits of a decimal in up to three pieces (integer part, fraction,
 * then pad zeros), read as one digit string. */
struct digits {
	const char *p1;
	size_t n1;
	const char *p2;
	size_t n2;
	size_t pad;
};

static unsigned digit_at(const struct digits *g, size_t k)
{
	if (k < g->n1)
		return (unsigned)(g->p1[k] - '0');
	k -= g->n1;
	if (k < g->n2)
		return (unsigned)(g->p2[k] - '0');
	return 0;
}

/* The unscaled value of g (no leading zeros: the caller strips them) as
 * Avro decimal bytes. */
static int from_digits(const struct digits *g, bool neg, struct wb_arena *a,
		       struct wb_value *out)
{
	size_t ndig = g->n1 + g->n2 + g->pad;
	if (ndig <= 19) {
		uint64_t v = 0;
		for (size_t k = 0; k < ndig; k++)
			v = v * 10 + digit_at(g, k);
		return wb_decimal_from_u64(v, neg, a, out);
	}
	/* Base 10 → base 2^32 limbs (little-endian), 9 digits at a time;
	 * each chunk adds < 30 bits, so chunks + 1 limbs do. */
	size_t nchunks = (ndig + 8) / 9;
	uint32_t small[16];
	uint32_t *limb = small;
	if (nchunks + 1 > sizeof(small) / sizeof(small[0])) {
		limb = wb_arena_alloc(a, (nchunks + 1) * 4);
		if (limb == NULL)
			return -1;
	}
	size_t nl = 0, seen = 0;
	uint32_t chunk = 0, mul = 1;
	for (size_t k = 0; k < ndig; k++) {
		chunk = chunk * 10 + digit_at(g, k);
		mul *= 10;
		if (++seen == 9 || k + 1 == ndig) {
			uint64_t carry = chunk;
			for (size_t l = 0; l < nl; l++) {
				uint64_t t = (uint64_t)limb[l] * mul + carry;
				limb[l] = (uint32_t)t;
				carry = t >> 32;
			}
			if (carry)
				limb[nl++] = (uint32_t)carry;
			seen = 0;
			chunk = 0;
			mul = 1;
		}
	}
	/* big-endian magnitude in place of the result's tail, then encoded
	 * into the head (the encoding is at most one byte longer) */
	size_t mlen = nl * 4;
	uint8_t *d = wb_arena_alloc(a, 2 * mlen + 1);
	if (d == NULL)
		return -1;
	uint8_t *mag = d + mlen + 1;
	for (size_t l = 0; l < nl; l++)
		for (int b = 0; b < 4; b++)
			mag[(nl - 1 - l) * 4 + (size_t)(3 - b)] =
				(uint8_t)(limb[l] >> (8 * b));
	out->u.b.p = d;
	out->u.b.n = (uint32_t)wb_decimal_from_magnitude(mag, mlen, neg, d);
	return 0;
}

int wb_decimal_from_digits(const char *digits, size_t n, bool neg,
			   struct wb_arena *a, struct wb_value *out)
{
	while (n > 0 && digits[0] == '0') {
		digits++;
		n--;
	}
	struct digits g = {.p1 = digits, .n1 = n};
	return from_digits(&g, neg, a, out);
}

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int wb_decimal_from_text(const char *p, size_t n, int precision, int scale,
			 struct wb_arena *a, struct wb_value *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		neg = p[i++] == '-';
	size_t int_start = i;
	while (i < n && is_digit(p[i]))
		i++;
	size_t int_end = i, frac_start = i, frac_end = i;
	if (i < n && p[i] == '.') {
		frac_start = ++i;
		while (i < n && is_digit(p[i]))
			i++;
		frac_end = i;
	}
	if (i != n || (int_end == int_start && frac_end == frac_start))
		return WB_DEC_SYNTAX;
	size_t nfrac = frac_end - frac_start;
	size_t sc = scale > 0 ? (size_t)scale : 0;
	if (nfrac > sc) /* a value the column's scale would not let in */
		return WB_DEC_NOFIT;
	size_t pad = sc - nfrac;

	/* The unscaled value's digits: integer part without leading zeros,
	 * the fraction, then pad zeros. */
	while (int_start < int_end && p[int_start] == '0')
		int_start++;
	if (int_start == int_end)
		while (frac_start < frac_end && p[frac_start] == '0')
			frac_start++;
	struct digits g = {p + int_start, int_end - int_start, p + frac_start,
			   frac_end - frac_start, pad};
	if (g.n1 + g.n2 == 0)
		g.pad = 0; /* zero */
	else if (precision > 0 && g.n1 + g.n2 + g.pad > (size_t)precision)
		return WB_DEC_NOFIT;
	return from_digits(&g, neg, a, out) == 0 ? WB_DEC_OK : WB_DEC_NOMEM;
}

int wb_decimal_to_text(const uint8_t *p, size_t n, int scale, struct wb_buf *o)
{
	uint8_t mag[WB_DECIMAL_MAX_BYTES];
	char digits[WB_DECIMAL_MAX_BYTES * 3 + 2];
	if (n > WB_DECIMAL_MAX_BYTES)
		return -1;
	if (scale < 0)
		scale = 0;
	if (n > 0)
		memcpy(mag, p, n);
	bool neg = n > 0 && (p[0] & 0x80);
	if (neg) {
		unsigned carry = 1;
		for (size_t i = n; i-- > 0;) {
			unsigned v = (uint8_t)~mag[i] + carry;
			mag[i] = (uint8_t)v;
			carry = v >> 8;
		}
	}
	/* digits, least significant first, by repeated division by 10^9 */
	size_t nd = 0, start = 0;
	while (start < n && mag[start] == 0)
		start++;
	while (start < n) {
		uint64_t rem = 0;
		for (size_t i = start; i < n; i++) {
			uint64_t cur = rem * 256 + mag[i];
			mag[i] = (uint8_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		while (start < n && mag[start] == 0)
			start++;
		for (int k = 0; k < 9; k++) {
			digits[nd++] = (char)('0' + rem % 10);
			rem /= 10;
			if (start == n && rem == 0)
				break;
		}
	}
	size_t us = (size_t)scale;
	size_t total = nd > us ? nd : us + 1; /* digits shown */
	if (wb_buf_reserve(o, total + 2) != 0)
		return 0;
	char *w = (char *)o->data + o->len;
	if (neg)
		*w++ = '-';
	for (size_t i = total; i-- > 0;) {
		*w++ = i < nd ? digits[i] : '0';
		if (i == us && us > 0)
			*w++ = '.';
	}
	o->len = (size_t)(w - (char *)o->data);
	return 0;
}

/* ---- dates and times ----------------------------------------------------- */

int64_t wb_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void wb_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int wb_days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return dim[m - 1];
}

bool wb_micros_from_civil(int64_t y, int m, int d, int64_t us, int64_t off_us,
			  int64_t *out)
{
	/* in 128 bits: the local time may pass the range the UTC one is in */
	__int128 w = (__int128)wb_days_from_civil(y, m, d) * WB_USECS_PER_DAY +
		     us - off_us;
	if (w < INT64_MIN || w > INT64_MAX)
		return false;
	*out = (int64_t)w;
	return true;
}

size_t wb_utf16_to_utf8(const uint16_t *p, size_t n, uint8_t *dst)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		/* a run of ASCII, four units at a time (most text) */
		for (; i + 4 <= n; i += 4, o += 4) {
			uint64_t w;
			memcpy(&w, p + i, sizeof(w));
			if (w & UINT64_C(0xff80ff80ff80ff80))
				break;
			dst[o] = (uint8_t)p[i];
			dst[o + 1] = (uint8_t)p[i + 1];
			dst[o + 2] = (uint8_t)p[i + 2];
			dst[o + 3] = (uint8_t)p[i + 3];
		}
		if (i == n)
			break;
		uint32_t c = p[i];
		if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n &&
		    p[i + 1] >= 0xDC00 && p[i + 1] <= 0xDFFF) {
			c = 0x10000 + ((c - 0xD800) << 10) +
			    (p[i + 1] - 0xDC00);
			i++;
		} else if (c >= 0xD800 && c <= 0xDFFF) {
			c = 0xFFFD;
		}
		if (c < 0x80) {
			dst[o++] = (uint8_t)c;
		} else if (c < 0x800) {
			dst[o++] = (uint8_t)(0xC0 | (c >> 6));
			dst[o++] = (uint8_t)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			dst[o++] = (uint8_t)(0xE0 | (c >> 12));
			dst[o++] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
			dst[o++] = (uint8_t)(0x80 | (c & 0x3F));
		} else {
			/* two units made these four bytes: within 3 * n */
			dst[o++] = (uint8_t)(0xF0 | (c >> 18));
			dst[o++] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
			dst[o++] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
			dst[o++] = (uint8_t)(0x80 | (c & 0x3F));
		}
	}
	return o;
}

size_t wb_utf8_to_utf16(const uint8_t *p, size_t n, uint16_t *dst)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		int ok;
		size_t len = wb_utf8_seq(p + i, n - i, &ok);
		uint32_t c;
		if (!ok) {
			c = 0xFFFD;
		} else if (len == 1) {
			c = p[i];
		} else if (len == 2) {
			c = ((uint32_t)(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
		} else if (len == 3) {
			c = ((uint32_t)(p[i] & 0x0F) << 12) |
			    ((uint32_t)(p[i + 1] & 0x3F) << 6) |
			    (p[i + 2] & 0x3F);
		} else {
			c = ((uint32_t)(p[i] & 0x07) << 18) |
			    ((uint32_t)(p[i + 1] & 0x3F) << 12) |
			    ((uint32_t)(p[i + 2] & 0x3F) << 6) |
			    (p[i + 3] & 0x3F);
		}
		i += len;
		if (c >= 0x10000) {
			c -= 0x10000;
			dst[o++] = (uint16_t)(0xD800 + (c >> 10));
			dst[o++] = (uint16_t)(0xDC00 + (c & 0x3FF));
		} else {
			dst[o++] = (uint16_t)c;
		}
	}
	return o;
}
