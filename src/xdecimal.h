/* xdecimal.h — exact decimal arithmetic on scaled 128-bit integers, up to 38
 * digits: the expression language's decimal(p,s) values.
 *
 * A value is an unscaled integer v with a scale s (value = v / 10^s) and a
 * precision p (|v| < 10^p, p <= 38). Every operation is exact or rounds by
 * a named mode; a result of p or more digits is an overflow, never a
 * wrapped or truncated number. Products and quotients that pass 128 bits
 * on the way are computed in 256 bits. No floating point anywhere. */
#ifndef WB_XDECIMAL_H
#define WB_XDECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WB_XDEC_MAXP 38

/* Rounding modes (the names the language accepts, see
 * wb_xdec_round_parse). NONE: the result must be exact. */
enum wb_xround {
	WB_XR_NONE = 0,
	WB_XR_HALF_EVEN, /* 'half_even': ties to the even digit */
	WB_XR_HALF_UP,	 /* 'half_up': ties away from zero */
	WB_XR_DOWN,	 /* 'down': toward zero (truncate) */
	WB_XR_UP,	 /* 'up': away from zero */
	WB_XR_FLOOR,	 /* 'floor': toward -infinity */
	WB_XR_CEILING,	 /* 'ceiling': toward +infinity */
};

/* Results. */
enum {
	WB_XDEC_OK = 0,
	WB_XDEC_OVERFLOW = -1, /* needs more digits than the precision */
	WB_XDEC_INEXACT = -2,  /* would have to round, and mode is NONE */
	WB_XDEC_DIVZERO = -3,
	WB_XDEC_SYNTAX = -4, /* text that is not a number */
};

/* 10^0 .. 10^38. */
extern const __int128 wb_xdec_pow10[WB_XDEC_MAXP + 1];

/* The mode named by s[0..n) ("half_even", ...), or -1. */
int wb_xdec_round_parse(const char *s, size_t n);
const char *wb_xdec_round_name(int mode);

/* Whether |v| < 10^p. */
static inline bool wb_xdec_fits(__int128 v, int p)
{
	__int128 m = wb_xdec_pow10[p];
	return v < m && v > -m;
}

/* v / 10^k rounded by mode (k 0..38; any mode but NONE). *inexact (when
 * not NULL) is set when a non-zero remainder was dropped. */
__int128 wb_xdec_div_pow10(__int128 v, int k, int mode, bool *inexact);

/* v at scale `from` as a value of scale `to` and precision p: multiplies
 * exactly or divides rounding by mode (NONE: a dropped non-zero digit is
 * WB_XDEC_INEXACT). |v| < 10^38 on entry. */
int wb_xdec_rescale(__int128 v, int from, int to, int p, int mode,
		    __int128 *out);

/* a (scale sa) + b (scale sb) at scale s >= max(sa, sb), checked against
 * 10^p. Both operands below 10^38 in magnitude. */
int wb_xdec_add(__int128 a, int sa, __int128 b, int sb, int s, int p,
		__int128 *out);

/* a * b (scales add), checked against 10^p. */
int wb_xdec_mul(__int128 a, __int128 b, int p, __int128 *out);

/* a (scale sa) / b (scale sb) at scale s, rounded by mode (NONE: exact or
 * WB_XDEC_INEXACT), checked against 10^p. WB_XDEC_DIVZERO when b is 0. */
int wb_xdec_div(__int128 a, int sa, __int128 b, int sb, int s, int p, int mode,
		__int128 *out);

/* The remainder of a / b truncated toward zero (the sign of a), at scale
 * s = max(sa, sb). */
int wb_xdec_mod(__int128 a, int sa, __int128 b, int sb, int s, __int128 *out);

/* -1, 0, 1 as a (scale sa) is below, equal to or above b (scale sb). */
int wb_xdec_cmp(__int128 a, int sa, __int128 b, int sb);

/* Parses "[+-]digits[.digits][e[+-]digits]" (blanks around allowed, at
 * least one digit) as a value of scale s and precision p, rounding by mode
 * (NONE: more fraction digits than s that are not zero is
 * WB_XDEC_INEXACT). */
int wb_xdec_from_text(const char *t, size_t n, int s, int p, int mode,
		      __int128 *out);

/* The value of Avro decimal bytes (big-endian two's complement) p[0..n);
 * WB_XDEC_OVERFLOW past 38 digits. n 0 is zero. */
int wb_xdec_from_bytes(const uint8_t *b, size_t n, __int128 *out);

/* Decimal text of v at scale s ("-12.50", "0.05", "7"); buf holds at
 * least 42 bytes (sign, 39 digits, point, NUL) or the text is cut. Returns
 * the length (without the NUL). */
size_t wb_xdec_text(__int128 v, int s, char *buf, size_t n);

#endif
