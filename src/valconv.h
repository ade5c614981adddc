/* valconv.h — value conversions every source needs: exact decimals to
 * Avro's decimal bytes and back, UTF-8 checks and repair, civil dates and
 * microsecond time arithmetic. Pure functions, no I/O, no state. */
#ifndef WB_VALCONV_H
#define WB_VALCONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "value.h"

/* ---- UTF-8 --------------------------------------------------------------- */

/* Length of the well-formed sequence at p[0] (*ok = 1), or of its maximal
 * ill-formed subpart (*ok = 0), per Unicode "U+FFFD Substitution of Maximal
 * Subparts" (what Python and browsers replace). n >= 1. */
size_t wb_utf8_seq(const uint8_t *p, size_t n, int *ok);

/* Offset of the first ill-formed sequence, or n when p is valid UTF-8. */
size_t wb_utf8_first_invalid(const uint8_t *p, size_t n);

/* Copies p to dst replacing each ill-formed subpart with U+FFFD; dst must
 * hold 3 * n bytes (wb_utf8_sanitized_len tells exactly). Returns the bytes
 * written. */
size_t wb_utf8_sanitize(const uint8_t *p, size_t n, uint8_t *dst);
size_t wb_utf8_sanitized_len(const uint8_t *p, size_t n);

/* Sets out->u.b to a copy of p[0..n) in arena a made valid UTF-8 (each
 * ill-formed subpart replaced by U+FFFD); out->state is left alone.
 * WB_ERR_TYPE when the result passes 4 GiB - 1, WB_ERR_NOMEM. */
int wb_utf8_value(const uint8_t *p, size_t n, struct wb_arena *a,
		  struct wb_value *out, wb_error_t *err);

/* ---- UTF-16 (ODBC's SQLWCHAR) ------------------------------------------- */

/* Converts n UTF-16 code units (host byte order) to UTF-8 in dst, which
 * holds 3 * n bytes; an unpaired surrogate becomes U+FFFD. Returns the
 * bytes written. Pure. */
size_t wb_utf16_to_utf8(const uint16_t *p, size_t n, uint8_t *dst);

/* Converts n bytes of UTF-8 to UTF-16 in dst, which holds n units (a
 * UTF-8 sequence never yields more units than bytes); each ill-formed
 * subpart becomes U+FFFD. Returns the units written. Pure. */
size_t wb_utf8_to_utf16(const uint8_t *p, size_t n, uint16_t *dst);

/* ---- decimals ------------------------------------------------------------ */

/* Writes ±mag (a big-endian magnitude; leading zero bytes allowed, mlen 0
 * is zero) as big-endian two's complement in the fewest bytes (Avro's
 * decimal). dst holds mlen + 1 bytes and may not overlap mag. Returns the
 * length written (at least 1). */
size_t wb_decimal_from_magnitude(const uint8_t *mag, size_t mlen, bool neg,
				 uint8_t *dst);

/* out->u.b = the Avro decimal bytes of the unscaled integer ±digits, where
 * digits[0..n) are ASCII decimal digits (leading zeros allowed, n 0 is
 * zero). Bytes go into a. 0, or -1 when out of memory. */
int wb_decimal_from_digits(const char *digits, size_t n, bool neg,
			   struct wb_arena *a, struct wb_value *out);

/* Same for a 64-bit integer and for ±a 64-bit magnitude. */
int wb_decimal_from_i64(int64_t v, struct wb_arena *a, struct wb_value *out);
int wb_decimal_from_u64(uint64_t mag, bool neg, struct wb_arena *a,
			struct wb_value *out);

/* Results of wb_decimal_from_text. */
enum {
	WB_DEC_OK = 0,
	WB_DEC_SYNTAX = -1, /* not [+-]digits[.digits] */
	WB_DEC_NOFIT = -2,  /* more fraction digits than scale, or more
			       digits than precision */
	WB_DEC_NOMEM = -3,
};

/* Parses the plain decimal text "[+-]ddd[.ddd]" (at least one digit) as a
 * value of decimal(precision, scale) and sets out->u.b to its unscaled
 * value's Avro bytes (in a). precision <= 0: any number of digits. */
int wb_decimal_from_text(const char *p, size_t n, int precision, int scale,
			 struct wb_arena *a, struct wb_value *out);

#define WB_DECIMAL_MAX_BYTES 1024 /* ~2466 digits, beyond any database's */

/* Appends the text of the Avro decimal p[0..n) with scale digits after the
 * point ("-12.50", "0.05", "7"). 0, or -1 when n > WB_DECIMAL_MAX_BYTES
 * (nothing appended); an allocation failure marks out failed. */
int wb_decimal_to_text(const uint8_t *p, size_t n, int scale,
		       struct wb_buf *out);

/* ---- dates and times ----------------------------------------------------- */

#define WB_USECS_PER_SEC INT64_C(1000000)
#define WB_USECS_PER_DAY INT64_C(86400000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (astronomical year:
 * 1 BC is year 0), and back. H. Hinnant's days_from_civil and
 * civil_from_days. */
int64_t wb_days_from_civil(int64_t y, int m, int d);
void wb_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Days in month m (1-12) of year y, proleptic Gregorian. */
int wb_days_in_month(int64_t y, int m);

/* Microseconds since 1970-01-01 00:00:00 of the date y-m-d at us
 * microseconds after its midnight, minus off_us; false when the result
 * does not fit an int64_t. */
bool wb_micros_from_civil(int64_t y, int m, int d, int64_t us, int64_t off_us,
			  int64_t *out);

/* floor(a / b) and its non-negative remainder, for b > 0. */
static inline int64_t wb_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

#endif
