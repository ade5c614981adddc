/* xdecimal.c — exact decimal arithmetic on scaled 128-bit integers.
 *
 * Signs and magnitudes are kept apart: a magnitude below 10^38 fits an
 * unsigned 128-bit integer with room for one addition, and products and
 * scaled dividends go through a 256-bit unsigned pair (hi, lo). */
#include "xdecimal.h"

#include <string.h>

typedef unsigned __int128 u128;

struct u256 {
	u128 hi, lo;
};

#define E19 ((__int128)10000000000000000000ULL)

const __int128 wb_xdec_pow10[WB_XDEC_MAXP + 1] = {
	1,
	10,
	100,
	1000,
	10000,
	100000,
	1000000,
	10000000,
	100000000,
	1000000000,
	10000000000LL,
	100000000000LL,
	1000000000000LL,
	10000000000000LL,
	100000000000000LL,
	1000000000000000LL,
	10000000000000000LL,
	100000000000000000LL,
	1000000000000000000LL,
	E19,
	E19 * 10,
	E19 * 100,
	E19 * 1000,
	E19 * 10000,
	E19 * 100000,
	E19 * 1000000,
	E19 * 10000000,
	E19 * 100000000,
	E19 * 1000000000,
	E19 * 10000000000LL,
	E19 * 100000000000LL,
	E19 * 1000000000000LL,
	E19 * 10000000000000LL,
	E19 * 100000000000000LL,
	E19 * 1000000000000000LL,
	E19 * 10000000000000000LL,
	E19 * 100000000000000000LL,
	E19 * 1000000000000000000LL,
	E19 *E19,
};

static const struct {
	const char *name;
	int mode;
} round_names[] = {
	{"half_even", WB_XR_HALF_EVEN}, {"half_up", WB_XR_HALF_UP},
	{"down", WB_XR_DOWN},		{"up", WB_XR_UP},
	{"floor", WB_XR_FLOOR},		{"ceiling", WB_XR_CEILING},
};

int wb_xdec_round_parse(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(round_names) / sizeof(round_names[0]);
	     i++)
		if (strlen(round_names[i].name) == n &&
		    memcmp(round_names[i].name, s, n) == 0)
			return round_names[i].mode;
	return -1;
}

const char *wb_xdec_round_name(int mode)
{
	for (size_t i = 0; i < sizeof(round_names) / sizeof(round_names[0]);
	     i++)
		if (round_names[i].mode == mode)
			return round_names[i].name;
	return "none";
}

static inline u128 mag(__int128 v)
{
	return v < 0 ? (u128)0 - (u128)v : (u128)v;
}

static inline __int128 with_sign(u128 m, bool neg)
{
	return neg ? -(__int128)m : (__int128)m;
}

/* Whether to add one to a truncated magnitude q: half is the dropped
 * part against one half (-1 below, 0 exactly, 1 above), nonzero whether
 * anything was dropped. */
static bool round_inc(int mode, bool neg, u128 q, bool nonzero, int half)
{
	if (!nonzero)
		return false;
	switch (mode) {
	case WB_XR_HALF_EVEN:
		return half > 0 || (half == 0 && (q & 1));
	case WB_XR_HALF_UP:
		return half >= 0;
	case WB_XR_UP:
		return true;
	case WB_XR_FLOOR:
		return neg;
	case WB_XR_CEILING:
		return !neg;
	default:
		return false;
	}
}

static struct u256 mul128(u128 a, u128 b)
{
	uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
	uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
	u128 p00 = (u128)a0 * b0, p01 = (u128)a0 * b1;
	u128 p10 = (u128)a1 * b0, p11 = (u128)a1 * b1;
	u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
	struct u256 r;
	r.lo = (u128)(uint64_t)p00 | (mid << 64);
	r.hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
	return r;
}

/* x * m; false when the product passes 256 bits. */
static bool mul256(struct u256 x, u128 m, struct u256 *out)
{
	struct u256 lo = mul128(x.lo, m);
	struct u256 hi = mul128(x.hi, m);
	if (hi.hi != 0)
		return false;
	u128 h = lo.hi + hi.lo;
	if (h < lo.hi)
		return false;
	out->hi = h;
	out->lo = lo.lo;
	return true;
}

static int cmp256(struct u256 a, struct u256 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static struct u256 add256(struct u256 a, struct u256 b)
{
	struct u256 r;
	r.lo = a.lo + b.lo;
	r.hi = a.hi + b.hi + (r.lo < a.lo);
	return r;
}

static struct u256 sub256(struct u256 a, struct u256 b) /* a >= b */
{
	struct u256 r;
	r.lo = a.lo - b.lo;
	r.hi = a.hi - b.hi - (a.lo < b.lo);
	return r;
}

/* n / d and n % d for 0 < d < 2^127. */
static void divmod256(struct u256 n, u128 d, struct u256 *q, u128 *r)
{
	q->hi = n.hi / d;
	u128 rem = n.hi % d;
	if (rem == 0) {
		q->lo = n.lo / d;
		*r = n.lo % d;
		return;
	}
	u128 ql = 0;
	for (int i = 127; i >= 0; i--) {
		rem = (rem << 1) | ((n.lo >> i) & 1);
		ql <<= 1;
		if (rem >= d) {
			rem -= d;
			ql |= 1;
		}
	}
	q->lo = ql;
	*r = rem;
}

/* |v| * 10^k as 256 bits (k 0..76); false past 256 bits. */
static bool scaled(u128 m, int k, struct u256 *out)
{
	int k1 = k > WB_XDEC_MAXP ? WB_XDEC_MAXP : k;
	*out = mul128(m, (u128)wb_xdec_pow10[k1]);
	if (k > k1)
		return mul256(*out, (u128)wb_xdec_pow10[k - k1], out);
	return true;
}

static bool fits256(struct u256 m, int p)
{
	return m.hi == 0 && m.lo < (u128)wb_xdec_pow10[p];
}

__int128 wb_xdec_div_pow10(__int128 v, int k, int mode, bool *inexact)
{
	if (k == 0) {
		if (inexact)
			*inexact = false;
		return v;
	}
	u128 m = mag(v), d = (u128)wb_xdec_pow10[k];
	u128 q = m / d, r = m % d;
	if (inexact)
		*inexact = r != 0;
	u128 h = d / 2; /* d is even */
	int half = r < h ? -1 : r > h ? 1 : 0;
	if (round_inc(mode, v < 0, q, r != 0, half))
		q++;
	return with_sign(q, v < 0);
}

int wb_xdec_rescale(__int128 v, int from, int to, int p, int mode,
		    __int128 *out)
{
	if (to >= from) {
		int k = to - from;
		if (v == 0) {
			*out = 0;
			return WB_XDEC_OK;
		}
		if (k > p || !wb_xdec_fits(v, p - k))
			return WB_XDEC_OVERFLOW;
		*out = v * wb_xdec_pow10[k];
		return WB_XDEC_OK;
	}
	bool inexact;
	__int128 q = wb_xdec_div_pow10(
		v, from - to, mode == WB_XR_NONE ? WB_XR_DOWN : mode, &inexact);
	if (inexact && mode == WB_XR_NONE)
		return WB_XDEC_INEXACT;
	if (!wb_xdec_fits(q, p))
		return WB_XDEC_OVERFLOW;
	*out = q;
	return WB_XDEC_OK;
}

int wb_xdec_add(__int128 a, int sa, __int128 b, int sb, int s, int p,
		__int128 *out)
{
	int ka = s - sa, kb = s - sb;
	u128 ma = mag(a), mb = mag(b);
	bool na = a < 0, nb = b < 0;
	if ((ka == 0 || ma < (u128)wb_xdec_pow10[WB_XDEC_MAXP - ka]) &&
	    (kb == 0 || mb < (u128)wb_xdec_pow10[WB_XDEC_MAXP - kb])) {
		ma *= (u128)wb_xdec_pow10[ka];
		mb *= (u128)wb_xdec_pow10[kb];
		u128 m;
		bool neg;
		if (na == nb) {
			m = ma + mb; /* both < 10^38: no wrap */
			neg = na;
		} else if (ma >= mb) {
			m = ma - mb;
			neg = na;
		} else {
			m = mb - ma;
			neg = nb;
		}
		if (m >= (u128)wb_xdec_pow10[p])
			return WB_XDEC_OVERFLOW;
		*out = with_sign(m, neg);
		return WB_XDEC_OK;
	}
	struct u256 A = mul128(ma, (u128)wb_xdec_pow10[ka]);
	struct u256 B = mul128(mb, (u128)wb_xdec_pow10[kb]);
	struct u256 m;
	bool neg;
	if (na == nb) {
		m = add256(A, B);
		neg = na;
	} else if (cmp256(A, B) >= 0) {
		m = sub256(A, B);
		neg = na;
	} else {
		m = sub256(B, A);
		neg = nb;
	}
	if (!fits256(m, p))
		return WB_XDEC_OVERFLOW;
	*out = with_sign(m.lo, neg);
	return WB_XDEC_OK;
}

int wb_xdec_mul(__int128 a, __int128 b, int p, __int128 *out)
{
	u128 ma = mag(a), mb = mag(b);
	bool neg = (a < 0) != (b < 0);
	u128 m;
	if ((ma >> 63) == 0 && (mb >> 63) == 0) {
		m = ma * mb;
	} else {
		struct u256 r = mul128(ma, mb);
		if (r.hi != 0)
			return WB_XDEC_OVERFLOW;
		m = r.lo;
	}
	if (m >= (u128)wb_xdec_pow10[p])
		return WB_XDEC_OVERFLOW;
	*out = with_sign(m, neg);
	return WB_XDEC_OK;
}

int wb_xdec_div(__int128 a, int sa, __int128 b, int sb, int s, int p, int mode,
		__int128 *out)
{
	if (b == 0)
		return WB_XDEC_DIVZERO;
	u128 ma = mag(a), mb = mag(b);
	bool neg = (a < 0) != (b < 0);
	int e = s + sb - sa;
	u128 q;
	bool nonzero;
	int half;
	if (e >= 0) {
		/* q = |a| * 10^e / |b|; a quotient of p digits needs a
		 * dividend below 10^p * |b| < 10^76 */
		struct u256 n, qq;
		u128 r;
		if (ma != 0 && e >= WB_XDEC_MAXP + p)
			return WB_XDEC_OVERFLOW;
		if (!scaled(ma, e, &n))
			return WB_XDEC_OVERFLOW;
		divmod256(n, mb, &qq, &r);
		if (qq.hi != 0)
			return WB_XDEC_OVERFLOW;
		q = qq.lo;
		nonzero = r != 0;
		u128 r2 = r * 2; /* r < mb < 2^127 */
		half = r2 < mb ? -1 : r2 > mb ? 1 : 0;
	} else {
		/* q = |a| / (|b| * 10^k): divide by |b| first, then by 10^k,
		 * keeping what the first division dropped as a sticky part */
		int k = -e;
		u128 q1 = ma / mb, r1 = ma % mb;
		u128 d = (u128)wb_xdec_pow10[k];
		q = q1 / d;
		u128 r2 = q1 % d, h = d / 2;
		nonzero = r2 != 0 || r1 != 0;
		half = r2 < h ? -1 : r2 > h ? 1 : r1 != 0 ? 1 : 0;
	}
	if (mode == WB_XR_NONE && nonzero)
		return WB_XDEC_INEXACT;
	if (round_inc(mode, neg, q, nonzero, half))
		q++;
	if (q >= (u128)wb_xdec_pow10[p])
		return WB_XDEC_OVERFLOW;
	*out = with_sign(q, neg);
	return WB_XDEC_OK;
}

int wb_xdec_mod(__int128 a, int sa, __int128 b, int sb, int s, __int128 *out)
{
	if (b == 0)
		return WB_XDEC_DIVZERO;
	struct u256 A = mul128(mag(a), (u128)wb_xdec_pow10[s - sa]);
	struct u256 B = mul128(mag(b), (u128)wb_xdec_pow10[s - sb]);
	u128 r;
	if (B.hi != 0 || (B.lo >> 127) != 0) {
		/* |b| scaled passes 2^127 only when a is not scaled: then
		 * |a| < 10^38 < |b| */
		r = A.lo;
	} else {
		struct u256 q;
		divmod256(A, B.lo, &q, &r);
	}
	*out = with_sign(r, a < 0);
	return WB_XDEC_OK;
}

int wb_xdec_cmp(__int128 a, int sa, __int128 b, int sb)
{
	if (sa == sb)
		return a < b ? -1 : a > b ? 1 : 0;
	bool na = a < 0, nb = b < 0;
	if (na != nb)
		return na ? -1 : 1;
	int s = sa > sb ? sa : sb;
	int c = cmp256(mul128(mag(a), (u128)wb_xdec_pow10[s - sa]),
		       mul128(mag(b), (u128)wb_xdec_pow10[s - sb]));
	return na ? -c : c;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int wb_xdec_from_text(const char *t, size_t n, int s, int p, int mode,
		      __int128 *out)
{
	size_t i = 0;
	while (i < n && blank(t[i]))
		i++;
	while (n > i && blank(t[n - 1]))
		n--;
	bool neg = false;
	if (i < n && (t[i] == '+' || t[i] == '-'))
		neg = t[i++] == '-';
	size_t d0 = i, nint = 0, nfrac = 0;
	while (i < n && t[i] >= '0' && t[i] <= '9')
		i++, nint++;
	size_t f0 = i;
	if (i < n && t[i] == '.') {
		f0 = ++i;
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++, nfrac++;
	}
	if (nint + nfrac == 0)
		return WB_XDEC_SYNTAX;
	long exp = 0;
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		bool eneg = false;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			eneg = t[i++] == '-';
		if (i == n || t[i] < '0' || t[i] > '9')
			return WB_XDEC_SYNTAX;
		while (i < n && t[i] >= '0' && t[i] <= '9') {
			if (exp < 100000)
				exp = exp * 10 + (t[i] - '0');
			i++;
		}
		if (eneg)
			exp = -exp;
	}
	if (i != n)
		return WB_XDEC_SYNTAX;
	/* digit j of the nint + nfrac digits weighs 10^(w0 - j) at scale s */
	long w0 = (long)nint - 1 + exp + s;
	u128 m = 0;
	int rd = 0;
	bool sticky = false, over = false;
	for (size_t j = 0; j < nint + nfrac; j++) {
		char c = j < nint ? t[d0 + j] : t[f0 + (j - nint)];
		int dv = c - '0';
		long w = w0 - (long)j;
		if (w >= 0) {
			if (m >= (u128)wb_xdec_pow10[WB_XDEC_MAXP - 1])
				over = true; /* m * 10 >= 10^38 */
			else
				m = m * 10 + (u128)dv;
		} else if (w == -1) {
			rd = dv;
		} else if (dv != 0) {
			sticky = true;
		}
	}
	/* digits that weigh more than 10^0 past the last one: trailing zeros */
	long lastw = w0 - (long)(nint + nfrac) + 1;
	if (lastw > 0 && m != 0) {
		if (lastw > WB_XDEC_MAXP ||
		    m >= (u128)wb_xdec_pow10[WB_XDEC_MAXP - lastw])
			over = true;
		else
			m *= (u128)wb_xdec_pow10[lastw];
	}
	if (over || m >= (u128)wb_xdec_pow10[WB_XDEC_MAXP])
		return WB_XDEC_OVERFLOW;
	bool nonzero = rd != 0 || sticky;
	if (nonzero && mode == WB_XR_NONE)
		return WB_XDEC_INEXACT;
	int half = rd < 5 ? -1 : rd > 5 ? 1 : sticky ? 1 : 0;
	if (round_inc(mode, neg, m, nonzero, half))
		m++;
	if (m >= (u128)wb_xdec_pow10[p])
		return WB_XDEC_OVERFLOW;
	*out = with_sign(m, neg);
	return WB_XDEC_OK;
}

int wb_xdec_from_bytes(const uint8_t *b, size_t n, __int128 *out)
{
	if (n == 0) {
		*out = 0;
		return WB_XDEC_OK;
	}
	bool neg = (b[0] & 0x80) != 0;
	size_t i = 0;
	if (n > 16) {
		/* leading bytes beyond 16 must only extend the sign */
		uint8_t ext = neg ? 0xff : 0x00;
		for (; i < n - 16; i++)
			if (b[i] != ext)
				return WB_XDEC_OVERFLOW;
		if (((b[i] & 0x80) != 0) != neg)
			return WB_XDEC_OVERFLOW;
	}
	u128 u = neg ? ~(u128)0 : 0;
	for (; i < n; i++)
		u = (u << 8) | b[i];
	__int128 v = (__int128)u;
	if (!wb_xdec_fits(v, WB_XDEC_MAXP))
		return WB_XDEC_OVERFLOW;
	*out = v;
	return WB_XDEC_OK;
}

size_t wb_xdec_text(__int128 v, int s, char *buf, size_t n)
{
	char d[48];
	int nd = 0;
	u128 m = mag(v);
	do {
		d[nd++] = (char)('0' + (int)(m % 10));
		m /= 10;
	} while (m != 0 && nd < 45);
	while (nd <= s && nd < 45)
		d[nd++] = '0';
	char t[64];
	size_t o = 0;
	if (v < 0)
		t[o++] = '-';
	for (int i = nd - 1; i >= 0; i--) {
		t[o++] = d[i];
		if (i == s && s > 0)
			t[o++] = '.';
	}
	if (n == 0)
		return o;
	size_t c = o < n - 1 ? o : n - 1;
	memcpy(buf, t, c);
	buf[c] = '\0';
	return o;
}
