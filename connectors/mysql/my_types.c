/* my_types.c — MySQL/MariaDB column values (binlog row images and the text
 * protocol) to wb_value.
 *
 * Binlog value layouts (little-endian unless said otherwise):
 *   TINY/SHORT/INT24/LONG/LONGLONG   1/2/3/4/8 bytes
 *   FLOAT/DOUBLE                     4/8 bytes IEEE 754
 *   YEAR                             1 byte: 0, or year - 1900
 *   DATE (NEWDATE)                   3 bytes: day 5 bits, month 4, year 15
 *   NEWDECIMAL                       packed: 9 digits per 4 bytes big-endian
 *                                    (leading/trailing partial groups in
 *                                    1-4 bytes), first bit flipped, all
 *                                    bytes inverted when negative
 *   BIT                              (bits + 7) / 8 bytes big-endian
 *   TIME2                            3 bytes BE + 0x800000 offset, then
 *                                    (fsp+1)/2 bytes of fraction
 *   DATETIME2                        5 bytes BE + 0x8000000000 offset:
 *                                    (year*13+month) 17 bits, day 5, hour 5,
 *                                    minute 6, second 6; then the fraction
 *   TIMESTAMP2                       4 bytes BE seconds, then the fraction
 *   TIME (old)                       3 bytes signed HHMMSS; MariaDB with
 *                                    fsp > 0: 3-6 bytes BE microseconds
 *                                    (shifted by the digits kept) + offset
 *   DATETIME (old)                   8 bytes YYYYMMDDhhmmss; MariaDB with
 *                                    fsp > 0: 5-8 bytes BE of the packed
 *                                    microseconds (see old_datetime)
 *   TIMESTAMP (old)                  4 bytes seconds; MariaDB with fsp > 0:
 *                                    4 bytes BE seconds + 1-3 bytes BE
 *   VARCHAR, STRING                  1-byte length (max < 256) or 2 bytes
 *   ENUM / SET                       1-2 / 1-8 bytes
 *   BLOB, TEXT, JSON, GEOMETRY       1-4 bytes length (pack_len), bytes
 * CHAR values come without their trailing spaces, BINARY without trailing
 * zero bytes: the server strips its padding when it packs them. */
#include "my_types.h"

#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_json.h"
#include "valconv.h"

/* ---- character sets ------------------------------------------------------ */

enum cs {
	CS_UNKNOWN,
	CS_BINARY,
	CS_UTF8MB4,
	CS_UTF8MB3,
	CS_ASCII,
	CS_LATIN1,
	/* converted with iconv */
	CS_ARMSCII8,
	CS_BIG5,
	CS_CP1250,
	CS_CP1251,
	CS_CP1256,
	CS_CP1257,
	CS_CP850,
	CS_CP852,
	CS_CP866,
	CS_CP932,
	CS_DEC8,
	CS_EUCJPMS,
	CS_EUCKR,
	CS_GB18030,
	CS_GB2312,
	CS_GBK,
	CS_GEOSTD8,
	CS_GREEK,
	CS_HEBREW,
	CS_HP8,
	CS_KEYBCS2,
	CS_KOI8R,
	CS_KOI8U,
	CS_LATIN2,
	CS_LATIN5,
	CS_LATIN7,
	CS_MACCE,
	CS_MACROMAN,
	CS_SJIS,
	CS_SWE7,
	CS_TIS620,
	CS_UCS2,
	CS_UJIS,
	CS_UTF16,
	CS_UTF16LE,
	CS_UTF32,
	CS_COUNT
};

/* iconv's names for the charsets it converts (glibc); NULL: none. */
static const char *const iconv_name[CS_COUNT] = {
	[CS_ARMSCII8] = "ARMSCII-8",
	[CS_BIG5] = "BIG5",
	[CS_CP1250] = "CP1250",
	[CS_CP1251] = "CP1251",
	[CS_CP1256] = "CP1256",
	[CS_CP1257] = "CP1257",
	[CS_CP850] = "CP850",
	[CS_CP852] = "CP852",
	[CS_CP866] = "CP866",
	[CS_CP932] = "CP932",
	[CS_DEC8] = "DEC-MCS",
	[CS_EUCJPMS] = "EUC-JP-MS",
	[CS_EUCKR] = "EUC-KR",
	[CS_GB18030] = "GB18030",
	[CS_GB2312] = "EUC-CN",
	[CS_GBK] = "GBK",
	[CS_GEOSTD8] = "GEORGIAN-PS",
	[CS_GREEK] = "ISO-8859-7",
	[CS_HEBREW] = "ISO-8859-8",
	[CS_HP8] = "HP-ROMAN8",
	[CS_KEYBCS2] = NULL,
	[CS_KOI8R] = "KOI8-R",
	[CS_KOI8U] = "KOI8-U",
	[CS_LATIN2] = "ISO-8859-2",
	[CS_LATIN5] = "ISO-8859-9",
	[CS_LATIN7] = "ISO-8859-13",
	[CS_MACCE] = "MAC-CENTRALEUROPE",
	[CS_MACROMAN] = "MACINTOSH",
	[CS_SJIS] = "SJIS",
	[CS_SWE7] = NULL,
	[CS_TIS620] = "TIS-620",
	[CS_UCS2] = "UCS-2BE",
	[CS_UJIS] = "EUC-JP",
	[CS_UTF16] = "UTF-16BE",
	[CS_UTF16LE] = "UTF-16LE",
	[CS_UTF32] = "UTF-32BE",
};

/* Collation id ranges and their charsets: MariaDB 10.11's
 * information_schema.COLLATIONS, plus MySQL 8's utf8mb4 0900 collations
 * (255-309), gb18030 (248-250) and utf8mb3_tolower_ci (76). Sorted. */
static const struct {
	uint16_t lo, hi;
	uint8_t cs;
} collations[] = {
	{1, 1, CS_BIG5},	   {2, 2, CS_LATIN2},
	{3, 3, CS_DEC8},	   {4, 4, CS_CP850},
	{5, 5, CS_LATIN1},	   {6, 6, CS_HP8},
	{7, 7, CS_KOI8R},	   {8, 8, CS_LATIN1},
	{9, 9, CS_LATIN2},	   {10, 10, CS_SWE7},
	{11, 11, CS_ASCII},	   {12, 12, CS_UJIS},
	{13, 13, CS_SJIS},	   {14, 14, CS_CP1251},
	{15, 15, CS_LATIN1},	   {16, 16, CS_HEBREW},
	{18, 18, CS_TIS620},	   {19, 19, CS_EUCKR},
	{20, 20, CS_LATIN7},	   {21, 21, CS_LATIN2},
	{22, 22, CS_KOI8U},	   {23, 23, CS_CP1251},
	{24, 24, CS_GB2312},	   {25, 25, CS_GREEK},
	{26, 26, CS_CP1250},	   {27, 27, CS_LATIN2},
	{28, 28, CS_GBK},	   {29, 29, CS_CP1257},
	{30, 30, CS_LATIN5},	   {31, 31, CS_LATIN1},
	{32, 32, CS_ARMSCII8},	   {33, 33, CS_UTF8MB3},
	{34, 34, CS_CP1250},	   {35, 35, CS_UCS2},
	{36, 36, CS_CP866},	   {37, 37, CS_KEYBCS2},
	{38, 38, CS_MACCE},	   {39, 39, CS_MACROMAN},
	{40, 40, CS_CP852},	   {41, 42, CS_LATIN7},
	{43, 43, CS_MACCE},	   {44, 44, CS_CP1250},
	{45, 46, CS_UTF8MB4},	   {47, 49, CS_LATIN1},
	{50, 52, CS_CP1251},	   {53, 53, CS_MACROMAN},
	{54, 55, CS_UTF16},	   {56, 56, CS_UTF16LE},
	{57, 57, CS_CP1256},	   {58, 59, CS_CP1257},
	{60, 61, CS_UTF32},	   {62, 62, CS_UTF16LE},
	{63, 63, CS_BINARY},	   {64, 64, CS_ARMSCII8},
	{65, 65, CS_ASCII},	   {66, 66, CS_CP1250},
	{67, 67, CS_CP1256},	   {68, 68, CS_CP866},
	{69, 69, CS_DEC8},	   {70, 70, CS_GREEK},
	{71, 71, CS_HEBREW},	   {72, 72, CS_HP8},
	{73, 73, CS_KEYBCS2},	   {74, 74, CS_KOI8R},
	{75, 75, CS_KOI8U},	   {76, 76, CS_UTF8MB3},
	{77, 77, CS_LATIN2},	   {78, 78, CS_LATIN5},
	{79, 79, CS_LATIN7},	   {80, 80, CS_CP850},
	{81, 81, CS_CP852},	   {82, 82, CS_SWE7},
	{83, 83, CS_UTF8MB3},	   {84, 84, CS_BIG5},
	{85, 85, CS_EUCKR},	   {86, 86, CS_GB2312},
	{87, 87, CS_GBK},	   {88, 88, CS_SJIS},
	{89, 89, CS_TIS620},	   {90, 90, CS_UCS2},
	{91, 91, CS_UJIS},	   {92, 93, CS_GEOSTD8},
	{94, 94, CS_LATIN1},	   {95, 96, CS_CP932},
	{97, 98, CS_EUCJPMS},	   {99, 99, CS_CP1250},
	{101, 124, CS_UTF16},	   {128, 151, CS_UCS2},
	{159, 159, CS_UCS2},	   {160, 183, CS_UTF32},
	{192, 215, CS_UTF8MB3},	   {223, 223, CS_UTF8MB3},
	{224, 247, CS_UTF8MB4},	   {248, 250, CS_GB18030},
	{255, 309, CS_UTF8MB4},	   {576, 578, CS_UTF8MB3},
	{608, 610, CS_UTF8MB4},	   {640, 642, CS_UCS2},
	{672, 674, CS_UTF16},	   {736, 738, CS_UTF32},
	{1025, 1025, CS_BIG5},	   {1027, 1027, CS_DEC8},
	{1028, 1028, CS_CP850},	   {1030, 1030, CS_HP8},
	{1031, 1031, CS_KOI8R},	   {1032, 1032, CS_LATIN1},
	{1033, 1033, CS_LATIN2},   {1034, 1034, CS_SWE7},
	{1035, 1035, CS_ASCII},	   {1036, 1036, CS_UJIS},
	{1037, 1037, CS_SJIS},	   {1040, 1040, CS_HEBREW},
	{1042, 1042, CS_TIS620},   {1043, 1043, CS_EUCKR},
	{1046, 1046, CS_KOI8U},	   {1048, 1048, CS_GB2312},
	{1049, 1049, CS_GREEK},	   {1050, 1050, CS_CP1250},
	{1052, 1052, CS_GBK},	   {1054, 1054, CS_LATIN5},
	{1056, 1056, CS_ARMSCII8}, {1057, 1057, CS_UTF8MB3},
	{1059, 1059, CS_UCS2},	   {1060, 1060, CS_CP866},
	{1061, 1061, CS_KEYBCS2},  {1062, 1062, CS_MACCE},
	{1063, 1063, CS_MACROMAN}, {1064, 1064, CS_CP852},
	{1065, 1065, CS_LATIN7},   {1067, 1067, CS_MACCE},
	{1069, 1070, CS_UTF8MB4},  {1071, 1071, CS_LATIN1},
	{1074, 1075, CS_CP1251},   {1077, 1077, CS_MACROMAN},
	{1078, 1079, CS_UTF16},	   {1080, 1080, CS_UTF16LE},
	{1081, 1081, CS_CP1256},   {1082, 1083, CS_CP1257},
	{1084, 1085, CS_UTF32},	   {1086, 1086, CS_UTF16LE},
	{1088, 1088, CS_ARMSCII8}, {1089, 1089, CS_ASCII},
	{1090, 1090, CS_CP1250},   {1091, 1091, CS_CP1256},
	{1092, 1092, CS_CP866},	   {1093, 1093, CS_DEC8},
	{1094, 1094, CS_GREEK},	   {1095, 1095, CS_HEBREW},
	{1096, 1096, CS_HP8},	   {1097, 1097, CS_KEYBCS2},
	{1098, 1098, CS_KOI8R},	   {1099, 1099, CS_KOI8U},
	{1101, 1101, CS_LATIN2},   {1102, 1102, CS_LATIN5},
	{1103, 1103, CS_LATIN7},   {1104, 1104, CS_CP850},
	{1105, 1105, CS_CP852},	   {1106, 1106, CS_SWE7},
	{1107, 1107, CS_UTF8MB3},  {1108, 1108, CS_BIG5},
	{1109, 1109, CS_EUCKR},	   {1110, 1110, CS_GB2312},
	{1111, 1111, CS_GBK},	   {1112, 1112, CS_SJIS},
	{1113, 1113, CS_TIS620},   {1114, 1114, CS_UCS2},
	{1115, 1115, CS_UJIS},	   {1116, 1117, CS_GEOSTD8},
	{1119, 1120, CS_CP932},	   {1121, 1122, CS_EUCJPMS},
	{1125, 1125, CS_UTF16},	   {1147, 1147, CS_UTF16},
	{1152, 1152, CS_UCS2},	   {1174, 1174, CS_UCS2},
	{1184, 1184, CS_UTF32},	   {1206, 1206, CS_UTF32},
	{1216, 1216, CS_UTF8MB3},  {1238, 1238, CS_UTF8MB3},
	{1248, 1248, CS_UTF8MB4},  {1270, 1270, CS_UTF8MB4},
};

static enum cs charset_of(int32_t id)
{
	if (id == 45 || id == 46 || id == 255 || id == 224)
		return CS_UTF8MB4; /* the usual ones first */
	size_t lo = 0, hi = sizeof(collations) / sizeof(collations[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (id < collations[mid].lo)
			hi = mid;
		else if (id > collations[mid].hi)
			lo = mid + 1;
		else
			return (enum cs)collations[mid].cs;
	}
	return CS_UNKNOWN;
}

/* MySQL's latin1 is Windows-1252 with the five bytes it leaves undefined
 * mapped to the C1 controls of the same number (as the server converts). */
static const uint16_t cp1252_high[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static int nomem(wb_error_t *err)
{
	return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
}

static int latin1_value(const uint8_t *p, size_t n, struct wb_arena *a,
			struct wb_value *out, wb_error_t *err)
{
	size_t need = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c < 0x80)
			need += 1;
		else if (c >= 0xa0)
			need += 2;
		else
			need += cp1252_high[c - 0x80] < 0x800 ? 2 : 3;
	}
	if (need > UINT32_MAX)
		return wb_error_set(err, WB_ERR_TYPE,
				    "string value of %zu bytes is too long",
				    need);
	uint8_t *d = wb_arena_alloc(a, need ? need : 1);
	if (d == NULL)
		return nomem(err);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		uint32_t u = c < 0x80 || c >= 0xa0 ? c : cp1252_high[c - 0x80];
		if (u < 0x80) {
			d[o++] = (uint8_t)u;
		} else if (u < 0x800) {
			d[o++] = (uint8_t)(0xc0 | u >> 6);
			d[o++] = (uint8_t)(0x80 | (u & 0x3f));
		} else {
			d[o++] = (uint8_t)(0xe0 | u >> 12);
			d[o++] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
			d[o++] = (uint8_t)(0x80 | (u & 0x3f));
		}
	}
	out->u.b.p = d;
	out->u.b.n = (uint32_t)o;
	return 0;
}

/* One iconv descriptor per charset, opened on first use and kept: iconv
 * holds conversion state, so a conversion runs under the lock. */
static pthread_mutex_t iconv_lock = PTHREAD_MUTEX_INITIALIZER;
static iconv_t iconv_cd[CS_COUNT];
static uint8_t iconv_tried[CS_COUNT];

/* Converts p[0..n) in charset cs to UTF-8. Returns 1 when iconv cannot
 * convert that charset at all (the caller then repairs the bytes as
 * UTF-8). Bytes iconv rejects become U+FFFD. */
static int iconv_value(enum cs cs, const uint8_t *p, size_t n,
		       struct wb_arena *a, struct wb_value *out,
		       wb_error_t *err)
{
	if (iconv_name[cs] == NULL)
		return 1;
	/* UTF-8 never needs more than 3 bytes per input byte, or 4 for
	 * the 4-byte input sequences */
	size_t cap = 3 * n + 4;
	if (cap > UINT32_MAX)
		return wb_error_set(err, WB_ERR_TYPE,
				    "string value of %zu bytes is too long", n);
	uint8_t *d = wb_arena_alloc(a, cap);
	if (d == NULL)
		return nomem(err);
	pthread_mutex_lock(&iconv_lock);
	if (!iconv_tried[cs]) {
		iconv_tried[cs] = 1;
		iconv_cd[cs] = iconv_open("UTF-8", iconv_name[cs]);
	}
	iconv_t cd = iconv_cd[cs];
	if (cd == (iconv_t)-1) {
		pthread_mutex_unlock(&iconv_lock);
		return 1;
	}
	iconv(cd, NULL, NULL, NULL, NULL);
	char *in = (char *)p, *o = (char *)d;
	size_t inleft = n, outleft = cap;
	while (inleft > 0) {
		if (iconv(cd, &in, &inleft, &o, &outleft) != (size_t)-1)
			break;
		if (errno == E2BIG || outleft < 3)
			break; /* cannot happen with the bound above */
		/* EILSEQ: one byte is replaced; EINVAL: the input ends inside a
		 * sequence */
		*o++ = (char)0xef;
		*o++ = (char)0xbf;
		*o++ = (char)0xbd;
		outleft -= 3;
		if (errno == EINVAL)
			break;
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&iconv_lock);
	out->u.b.p = d;
	out->u.b.n = (uint32_t)(o - (char *)d);
	return 0;
}

/* Text in the column's charset → UTF-8 in a. */
static int text_value(int32_t charset, const uint8_t *p, size_t n,
		      struct wb_arena *a, struct wb_value *out, wb_error_t *err)
{
	enum cs cs = charset_of(charset);
	if (cs == CS_LATIN1)
		return latin1_value(p, n, a, out, err);
	if (cs >= CS_ARMSCII8) {
		int rc = iconv_value(cs, p, n, a, out, err);
		if (rc != 1)
			return rc;
	}
	return wb_utf8_value(p, n, a, out, err);
}

/* ---- type mapping -------------------------------------------------------- */

static int declared_is(const struct wb_my_tmcol *c, const char *name)
{
	return c->declared != NULL && strcmp(c->declared, name) == 0;
}

void wb_my_map_type(const struct wb_my_tmcol *c, struct wb_type *out)
{
	memset(out, 0, sizeof(*out));
	out->src_type = c->type;
	struct wb_scalar_type *s = &out->s;
	s->kind = WB_T_STRING;
	switch (c->type) {
	case WB_MY_T_TINY:
	case WB_MY_T_SHORT:
	case WB_MY_T_INT24:
	case WB_MY_T_YEAR:
		s->kind = WB_T_INT;
		break;
	case WB_MY_T_LONG:
		s->kind = c->is_unsigned == 1 ? WB_T_LONG : WB_T_INT;
		break;
	case WB_MY_T_LONGLONG:
		if (c->is_unsigned == 1) {
			s->kind = WB_T_BYTES;
			s->logical = WB_L_DECIMAL;
			s->precision = 20;
			s->scale = 0;
		} else {
			s->kind = WB_T_LONG;
		}
		break;
	case WB_MY_T_NEWDECIMAL:
		s->kind = WB_T_BYTES;
		s->logical = WB_L_DECIMAL;
		s->precision = c->precision;
		s->scale = c->scale;
		break;
	case WB_MY_T_FLOAT:
		s->kind = c->pack_len == 8 ? WB_T_DOUBLE : WB_T_FLOAT;
		break;
	case WB_MY_T_DOUBLE:
		s->kind = WB_T_DOUBLE;
		break;
	case WB_MY_T_BIT:
		s->kind = c->bits == 1 ? WB_T_BOOLEAN : WB_T_BYTES;
		break;
	case WB_MY_T_DATE:
	case WB_MY_T_NEWDATE:
		s->kind = WB_T_INT;
		s->logical = WB_L_DATE;
		out->may_not_fit = 1;
		break;
	case WB_MY_T_TIME:
	case WB_MY_T_TIME2:
		s->kind = WB_T_LONG;
		break;
	case WB_MY_T_DATETIME:
	case WB_MY_T_DATETIME2:
		s->kind = WB_T_LONG;
		s->logical = WB_L_LOCAL_TIMESTAMP_MICROS;
		out->may_not_fit = 1;
		break;
	case WB_MY_T_TIMESTAMP:
	case WB_MY_T_TIMESTAMP2:
		s->kind = WB_T_LONG;
		s->logical = WB_L_TIMESTAMP_MICROS;
		out->may_not_fit = 1;
		break;
	case WB_MY_T_JSON:
		s->logical = WB_L_JSON;
		break;
	case WB_MY_T_ENUM:
	case WB_MY_T_SET:
		break;
	case WB_MY_T_STRING:
	case WB_MY_T_VARCHAR:
	case WB_MY_T_VAR_STRING:
		if (declared_is(c, "uuid"))
			s->logical = WB_L_UUID;
		else if (declared_is(c, "inet6") || declared_is(c, "inet4"))
			; /* string */
		else if (c->charset == 63)
			s->kind = WB_T_BYTES;
		break;
	case WB_MY_T_TINY_BLOB:
	case WB_MY_T_MEDIUM_BLOB:
	case WB_MY_T_LONG_BLOB:
	case WB_MY_T_BLOB:
		if (declared_is(c, "json"))
			s->logical = WB_L_JSON;
		else if (c->charset == 63 || c->charset < 0)
			s->kind = WB_T_BYTES;
		break;
	case WB_MY_T_GEOMETRY:
	case WB_MY_T_VECTOR:
		s->kind = WB_T_BYTES;
		break;
	default:
		break; /* string: the server's text form */
	}
}

/* ---- helpers ------------------------------------------------------------- */

static const char *type_name(uint8_t type)
{
	switch (type) {
	case WB_MY_T_TINY:
		return "TINYINT";
	case WB_MY_T_SHORT:
		return "SMALLINT";
	case WB_MY_T_INT24:
		return "MEDIUMINT";
	case WB_MY_T_LONG:
		return "INT";
	case WB_MY_T_LONGLONG:
		return "BIGINT";
	case WB_MY_T_FLOAT:
		return "FLOAT";
	case WB_MY_T_DOUBLE:
		return "DOUBLE";
	case WB_MY_T_NEWDECIMAL:
		return "DECIMAL";
	case WB_MY_T_YEAR:
		return "YEAR";
	case WB_MY_T_DATE:
	case WB_MY_T_NEWDATE:
		return "DATE";
	case WB_MY_T_TIME:
		return "TIME (old format)";
	case WB_MY_T_TIME2:
		return "TIME";
	case WB_MY_T_DATETIME:
		return "DATETIME (old format)";
	case WB_MY_T_DATETIME2:
		return "DATETIME";
	case WB_MY_T_TIMESTAMP:
		return "TIMESTAMP (old format)";
	case WB_MY_T_TIMESTAMP2:
		return "TIMESTAMP";
	case WB_MY_T_BIT:
		return "BIT";
	case WB_MY_T_VARCHAR:
	case WB_MY_T_VAR_STRING:
		return "VARCHAR";
	case WB_MY_T_STRING:
		return "CHAR";
	case WB_MY_T_ENUM:
		return "ENUM";
	case WB_MY_T_SET:
		return "SET";
	case WB_MY_T_TINY_BLOB:
	case WB_MY_T_MEDIUM_BLOB:
	case WB_MY_T_LONG_BLOB:
	case WB_MY_T_BLOB:
		return "BLOB";
	case WB_MY_T_JSON:
		return "JSON";
	case WB_MY_T_GEOMETRY:
		return "GEOMETRY";
	case WB_MY_T_VECTOR:
		return "VECTOR";
	default:
		return "column";
	}
}

static int short_value(const struct wb_my_tmcol *c, size_t avail, size_t need,
		       wb_error_t *err)
{
	return wb_error_set(err, WB_ERR_DECODE,
			    "%s value cut short: %zu bytes left, %zu needed",
			    type_name(c->type), avail, need);
}

static int bad_value(const struct wb_my_tmcol *c, const char *why,
		     wb_error_t *err)
{
	return wb_error_set(err, WB_ERR_DECODE, "malformed %s value: %s",
			    type_name(c->type), why);
}

static inline uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static inline uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The source's text of a value with no Avro form, marked so. */
static int unrep_text(const char *text, size_t n, struct wb_arena *a,
		      struct wb_value *out, wb_error_t *err)
{
	uint8_t *d = wb_arena_dup(a, text, n);
	if (d == NULL)
		return nomem(err);
	out->state = WB_VAL_UNREPRESENTABLE;
	out->u.b.p = d;
	out->u.b.n = (uint32_t)n;
	return 0;
}

static const int32_t pow10_i32[10] = {1,	 10,	    100,     1000,
				      10000,	 100000,    1000000, 10000000,
				      100000000, 1000000000};

/* "YYYY-MM-DD[ hh:mm:ss[.f{fsp}]]" as the server prints it. */
static size_t datetime_text(char *buf, size_t size, int y, int m, int d,
			    int with_time, int hh, int mi, int ss, int64_t us,
			    int fsp)
{
	int n;
	if (!with_time)
		n = snprintf(buf, size, "%04d-%02d-%02d", y, m, d);
	else
		n = snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d", y, m,
			     d, hh, mi, ss);
	if (with_time && fsp > 0 && fsp <= 6)
		n += snprintf(buf + n, size - (size_t)n, ".%0*d", fsp,
			      (int)(us / pow10_i32[6 - fsp]));
	return (size_t)n;
}

/* A date (and time) to the value of its type: days for DATE, local
 * microseconds for DATETIME, UTC microseconds (the value is UTC already)
 * for TIMESTAMP. A zero date, a zero in a date and a day the month does
 * not have become WB_VAL_UNREPRESENTABLE with the server's text. */
static int civil_value(int y, int m, int d, int with_time, int hh, int mi,
		       int ss, int64_t us, int fsp, struct wb_arena *a,
		       struct wb_value *out, wb_error_t *err)
{
	if (m < 1 || m > 12 || d < 1 || d > wb_days_in_month(y, m) || hh > 23 ||
	    mi > 59 || ss > 59 || y > 9999) {
		char text[48];
		size_t n = datetime_text(text, sizeof(text), y, m, d, with_time,
					 hh, mi, ss, us, fsp);
		return unrep_text(text, n, a, out, err);
	}
	int64_t days = wb_days_from_civil(y, m, d);
	if (!with_time)
		out->u.i = days;
	else
		out->u.i = days * WB_USECS_PER_DAY +
			   ((int64_t)hh * 3600 + mi * 60 + ss) * 1000000 + us;
	out->state = WB_VAL_PRESENT;
	return 0;
}

/* A TIMESTAMP as seconds and microseconds since the epoch: 0 is MySQL's
 * zero timestamp, 0000-00-00 00:00:00, which no instant represents. */
static int timestamp_value(int64_t sec, int64_t us, int fsp, struct wb_arena *a,
			   struct wb_value *out, wb_error_t *err)
{
	if (sec == 0 && us == 0)
		return civil_value(0, 0, 0, 1, 0, 0, 0, 0, fsp, a, out, err);
	out->u.i = sec * 1000000 + us;
	return 0;
}

/* Bytes of the fraction of TIME2/DATETIME2/TIMESTAMP2 with fsp digits. */
static int frac_bytes(int fsp)
{
	return (fsp + 1) / 2;
}

/* Microseconds of TIME2's binary form (MySQL's my_time_packed_from_binary
 * and TIME_from_longlong_time_packed). */
static int64_t time2_micros(const uint8_t *p, int fsp)
{
	int64_t packed;
	int64_t intpart = (int64_t)be(p, 3) - 0x800000;
	int64_t frac = 0;
	switch (fsp) {
	case 1:
	case 2:
		frac = p[3];
		if (intpart < 0 && frac) {
			intpart++;
			frac -= 0x100;
		}
		frac *= 10000;
		packed = intpart * (1 << 24) + frac;
		break;
	case 3:
	case 4:
		frac = (int64_t)be(p + 3, 2);
		if (intpart < 0 && frac) {
			intpart++;
			frac -= 0x10000;
		}
		frac *= 100;
		packed = intpart * (1 << 24) + frac;
		break;
	case 5:
	case 6:
		packed = (int64_t)be(p, 6) - INT64_C(0x800000000000);
		break;
	default:
		packed = intpart * (1 << 24);
		break;
	}
	int neg = packed < 0;
	uint64_t t = neg ? (uint64_t)-packed : (uint64_t)packed;
	uint64_t hms = t >> 24;
	int64_t us = (int64_t)(t % (1u << 24));
	int64_t h = (int64_t)((hms >> 12) % (1u << 10));
	int64_t mi = (int64_t)((hms >> 6) % (1u << 6));
	int64_t s = (int64_t)(hms % (1u << 6));
	int64_t v = (h * 3600 + mi * 60 + s) * 1000000 + us;
	return neg ? -v : v;
}

/* ---- packed decimals ----------------------------------------------------- */

static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

static size_t decimal_size(int precision, int scale)
{
	int intg = precision - scale;
	return (size_t)((intg / 9) * 4 + dig2bytes[intg % 9] + (scale / 9) * 4 +
			dig2bytes[scale % 9]);
}

/* MySQL's binary DECIMAL(precision, scale) at p (decimal_size bytes) →
 * its digits (precision of them, leading zeros included) and sign.
 * -1 when a group holds more than its digits. */
static int decimal_digits(const uint8_t *p, int precision, int scale,
			  char *digits, bool *neg)
{
	int intg = precision - scale;
	uint8_t mask = (p[0] & 0x80) ? 0 : 0xff;
	*neg = mask != 0;
	size_t size = decimal_size(precision, scale);
	uint8_t buf[64];
	memcpy(buf, p, size);
	buf[0] ^= 0x80;
	for (size_t i = 0; i < size; i++)
		buf[i] ^= mask;
	const uint8_t *q = buf;
	size_t nd = 0;
	/* groups in order: leading partial, full integer groups, full
	 * fraction groups, trailing partial */
	int groups[4][2] = {
		{intg % 9, 1}, {9, intg / 9}, {9, scale / 9}, {scale % 9, 1}};
	for (int g = 0; g < 4; g++) {
		int k = groups[g][0];
		if (k == 0)
			continue;
		for (int r = 0; r < groups[g][1]; r++) {
			int nb = dig2bytes[k];
			uint32_t v = (uint32_t)be(q, nb);
			q += nb;
			if (v >= (uint32_t)pow10_i32[k])
				return -1;
			for (int j = k; j-- > 0;) {
				digits[nd + (size_t)j] = (char)('0' + v % 10);
				v /= 10;
			}
			nd += (size_t)k;
		}
	}
	return 0;
}

/* The decimal's text as the server prints it: "-12.50", "0.05", "7". */
static size_t decimal_text(const char *digits, int precision, int scale,
			   bool neg, char *out)
{
	int intg = precision - scale, i = 0;
	while (i < intg && digits[i] == '0')
		i++;
	bool zero = true;
	for (int k = i; k < precision; k++)
		if (digits[k] != '0')
			zero = false;
	size_t o = 0;
	if (neg && !zero)
		out[o++] = '-';
	if (i == intg)
		out[o++] = '0';
	for (; i < intg; i++)
		out[o++] = digits[i];
	if (scale > 0) {
		out[o++] = '.';
		memcpy(out + o, digits + intg, (size_t)scale);
		o += (size_t)scale;
	}
	return o;
}

size_t wb_my_decimal_bin_size(int precision, int scale)
{
	if (precision < 1 || precision > 65 || scale < 0 || scale > 30 ||
	    scale > precision)
		return 0;
	return decimal_size(precision, scale);
}

int wb_my_decimal_text(const uint8_t *p, size_t n, int precision, int scale,
		       char *out, size_t *len)
{
	size_t size = wb_my_decimal_bin_size(precision, scale);
	char digits[72];
	bool neg;
	if (size == 0 || n < size ||
	    decimal_digits(p, precision, scale, digits, &neg) != 0)
		return -1;
	*len = decimal_text(digits, precision, scale, neg, out);
	return 0;
}

/* ---- binlog values ------------------------------------------------------- */

/* ENUM index → its string; 0 is ''; unknown → the number. */
static int enum_value(const struct wb_my_tmcol *c, uint64_t idx,
		      struct wb_arena *a, struct wb_value *out, wb_error_t *err)
{
	const char *s;
	char num[24];
	if (idx == 0) {
		s = "";
	} else if (c->enum_values != NULL && idx <= (uint64_t)c->nenum) {
		s = c->enum_values[idx - 1];
	} else {
		snprintf(num, sizeof(num), "%" PRIu64, idx);
		s = num;
	}
	return wb_utf8_value((const uint8_t *)s, strlen(s), a, out, err);
}

/* SET bits → "a,c" in member order; bits past the known members → the
 * number. */
static int set_value(const struct wb_my_tmcol *c, uint64_t bits,
		     struct wb_arena *a, struct wb_value *out, wb_error_t *err)
{
	char num[24];
	int known = c->set_values != NULL;
	if (known && c->nset < 64 && (bits >> c->nset) != 0)
		known = 0;
	if (!known) {
		int n = snprintf(num, sizeof(num), "%" PRIu64, bits);
		return wb_utf8_value((const uint8_t *)num, (size_t)n, a, out,
				     err);
	}
	size_t need = 0;
	for (int i = 0; i < c->nset && i < 64; i++)
		if (bits >> i & 1)
			need += strlen(c->set_values[i]) + 1;
	char *buf = wb_arena_alloc(a, need + 1);
	if (buf == NULL)
		return nomem(err);
	size_t o = 0;
	for (int i = 0; i < c->nset && i < 64; i++) {
		if (!(bits >> i & 1))
			continue;
		if (o > 0)
			buf[o++] = ',';
		size_t k = strlen(c->set_values[i]);
		memcpy(buf + o, c->set_values[i], k);
		o += k;
	}
	return wb_utf8_value((const uint8_t *)buf, o, a, out, err);
}

/* "8-4-4-4-12" lower-case hex of 16 bytes. */
static void uuid_text(const uint8_t *b, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

/* MariaDB's INET6 text (Inet6::to_string): the longest run of zero words
 * (the first of equal ones, a single zero word too) as "::", IPv4-mapped
 * and IPv4-compatible addresses with a dotted quad. */
static size_t inet6_text(const uint8_t *b, char *out)
{
	uint16_t w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
	int gpos = -1, glen = -1, rpos = -1, rlen = -1;
	for (int i = 0; i < 8; i++) {
		if (w[i] != 0) {
			if (rpos >= 0 && rlen > glen) {
				gpos = rpos;
				glen = rlen;
			}
			rpos = rlen = -1;
		} else if (rpos >= 0) {
			rlen++;
		} else {
			rpos = i;
			rlen = 1;
		}
	}
	if (rpos >= 0 && rlen > glen) {
		gpos = rpos;
		glen = rlen;
	}
	size_t o = 0;
	for (int i = 0; i < 8; i++) {
		if (i == gpos) {
			if (i == 0)
				out[o++] = ':';
			out[o++] = ':';
			i += glen - 1;
		} else if (i == 6 && gpos == 0 &&
			   (glen == 6 || (glen == 5 && w[5] == 0xffff))) {
			o += (size_t)sprintf(out + o, "%u.%u.%u.%u", b[12],
					     b[13], b[14], b[15]);
			break;
		} else {
			o += (size_t)sprintf(out + o, "%x", w[i]);
			if (i + 1 != 8)
				out[o++] = ':';
		}
	}
	out[o] = '\0';
	return o;
}

static int bytes_value(const uint8_t *p, size_t n, size_t pad_to,
		       struct wb_arena *a, struct wb_value *out,
		       wb_error_t *err)
{
	size_t total = n < pad_to ? pad_to : n;
	if (total > UINT32_MAX)
		return wb_error_set(err, WB_ERR_TYPE,
				    "value of %zu bytes is too long", total);
	uint8_t *d = wb_arena_alloc(a, total ? total : 1);
	if (d == NULL)
		return nomem(err);
	if (n)
		memcpy(d, p, n);
	if (total > n)
		memset(d + n, 0, total - n);
	out->u.b.p = d;
	out->u.b.n = (uint32_t)total;
	return 0;
}

/* A string column's bytes (CHAR/VARCHAR/TEXT/BLOB) as type t wants them. */
static int string_value(const struct wb_my_tmcol *c, const struct wb_type *t,
			const uint8_t *p, size_t n, struct wb_arena *a,
			struct wb_value *out, wb_error_t *err)
{
	if (declared_is(c, "uuid") || declared_is(c, "inet6")) {
		/* fixed 16 bytes, trailing zero bytes stripped */
		uint8_t b[16] = {0};
		char text[48];
		if (n > 16)
			return bad_value(c, "longer than 16 bytes", err);
		memcpy(b, p, n);
		size_t k;
		if (declared_is(c, "uuid")) {
			uuid_text(b, text);
			k = 36;
		} else {
			k = inet6_text(b, text);
		}
		return wb_utf8_value((const uint8_t *)text, k, a, out, err);
	}
	if (t->s.kind == WB_T_BYTES) {
		size_t pad = c->type == WB_MY_T_STRING && c->charset == 63
				     ? c->length
				     : 0;
		return bytes_value(p, n, pad, a, out, err);
	}
	return text_value(c->charset, p, n, a, out, err);
}

static int decode_value(const struct wb_my_tmcol *c, const struct wb_type *t,
			const uint8_t *p, size_t avail, size_t *used,
			struct wb_arena *a, struct wb_value *out,
			wb_error_t *err)
{
	size_t need;
	bool uns = c->is_unsigned == 1;
	out->state = WB_VAL_PRESENT;
#define NEED(k)                                                                \
	do {                                                                   \
		need = (k);                                                    \
		if (avail < need)                                              \
			return short_value(c, avail, need, err);               \
		*used = need;                                                  \
	} while (0)

	switch (c->type) {
	case WB_MY_T_TINY:
		NEED(1);
		out->u.i = uns ? p[0] : (int8_t)p[0];
		return 0;
	case WB_MY_T_SHORT:
		NEED(2);
		out->u.i = uns ? (int64_t)le(p, 2) : (int16_t)le(p, 2);
		return 0;
	case WB_MY_T_INT24: {
		NEED(3);
		uint32_t v = (uint32_t)le(p, 3);
		out->u.i = uns ? (int64_t)v
			       : (int64_t)(int32_t)(v << 8) >> 8; /* sign */
		return 0;
	}
	case WB_MY_T_LONG:
		NEED(4);
		out->u.i = uns ? (int64_t)le(p, 4) : (int32_t)le(p, 4);
		return 0;
	case WB_MY_T_LONGLONG: {
		NEED(8);
		uint64_t v = le(p, 8);
		if (t->s.logical == WB_L_DECIMAL) {
			int rc = uns ? wb_decimal_from_u64(v, false, a, out)
				     : wb_decimal_from_i64((int64_t)v, a, out);
			return rc ? nomem(err) : 0;
		}
		out->u.i = (int64_t)v;
		return 0;
	}
	case WB_MY_T_FLOAT: {
		NEED(4);
		uint32_t v = (uint32_t)le(p, 4);
		float f;
		memcpy(&f, &v, 4);
		if (t->s.kind == WB_T_DOUBLE)
			out->u.d = f;
		else
			out->u.f = f;
		return 0;
	}
	case WB_MY_T_DOUBLE: {
		NEED(8);
		uint64_t v = le(p, 8);
		double d;
		memcpy(&d, &v, 8);
		if (t->s.kind == WB_T_FLOAT)
			out->u.f = (float)d;
		else
			out->u.d = d;
		return 0;
	}
	case WB_MY_T_YEAR:
		NEED(1);
		out->u.i = p[0] == 0 ? 0 : 1900 + p[0];
		return 0;
	case WB_MY_T_NEWDECIMAL: {
		size_t size = wb_my_decimal_bin_size(c->precision, c->scale);
		if (size == 0)
			return bad_value(c, "bad precision or scale", err);
		NEED(size);
		char digits[72];
		bool neg;
		if (decimal_digits(p, c->precision, c->scale, digits, &neg))
			return bad_value(c, "digit group out of range", err);
		if (wb_decimal_from_digits(digits, c->precision, neg, a, out))
			return nomem(err);
		return 0;
	}
	case WB_MY_T_BIT: {
		size_t nb = ((size_t)c->bits + 7) / 8;
		if (c->bits == 0)
			return bad_value(c, "no bits", err);
		NEED(nb);
		if (t->s.kind == WB_T_BOOLEAN) {
			int any = 0;
			for (size_t i = 0; i < nb; i++)
				any |= p[i];
			out->u.i = any != 0;
			return 0;
		}
		return bytes_value(p, nb, 0, a, out, err);
	}
	case WB_MY_T_DATE:
	case WB_MY_T_NEWDATE: {
		NEED(3);
		uint32_t v = (uint32_t)le(p, 3);
		return civil_value((int)(v >> 9), (int)(v >> 5 & 15),
				   (int)(v & 31), 0, 0, 0, 0, 0, 0, a, out,
				   err);
	}
	case WB_MY_T_TIME2: {
		int fsp = c->fsp;
		if (fsp > 6)
			return bad_value(c, "more than 6 fractional digits",
					 err);
		NEED(3 + (size_t)frac_bytes(fsp));
		out->u.i = time2_micros(p, fsp);
		return 0;
	}
	case WB_MY_T_DATETIME2: {
		int fsp = c->fsp;
		if (fsp > 6)
			return bad_value(c, "more than 6 fractional digits",
					 err);
		NEED(5 + (size_t)frac_bytes(fsp));
		int64_t intpart = (int64_t)be(p, 5) - INT64_C(0x8000000000);
		int64_t us = 0;
		if (fsp > 0)
			us = (int64_t)be(p + 5, frac_bytes(fsp)) *
			     pow10_i32[6 - 2 * frac_bytes(fsp)];
		if (intpart < 0 || us > 999999)
			return bad_value(c, "out of range", err);
		int64_t ymd = intpart >> 17, hms = intpart % (1 << 17);
		int64_t ym = ymd >> 5;
		return civil_value((int)(ym / 13), (int)(ym % 13),
				   (int)(ymd % 32), 1, (int)(hms >> 12),
				   (int)((hms >> 6) % 64), (int)(hms % 64), us,
				   fsp, a, out, err);
	}
	case WB_MY_T_TIMESTAMP2: {
		int fsp = c->fsp;
		if (fsp > 6)
			return bad_value(c, "more than 6 fractional digits",
					 err);
		NEED(4 + (size_t)frac_bytes(fsp));
		int64_t sec = (int64_t)be(p, 4), us = 0;
		if (fsp > 0)
			us = (int64_t)be(p + 4, frac_bytes(fsp)) *
			     pow10_i32[6 - 2 * frac_bytes(fsp)];
		if (us > 999999)
			return bad_value(c, "out of range", err);
		return timestamp_value(sec, us, fsp, a, out, err);
	}
	case WB_MY_T_TIME: {
		int fsp = c->fsp;
		if (fsp > 6)
			return bad_value(c, "more than 6 fractional digits",
					 err);
		if (fsp == 0) {
			NEED(3);
			uint32_t v = (uint32_t)le(p, 3);
			int32_t s = (int32_t)(v << 8) >> 8;
			int neg = s < 0;
			uint32_t m = neg ? (uint32_t)-s : (uint32_t)s;
			int64_t us = ((int64_t)(m / 10000) * 3600 +
				      (m / 100 % 100) * 60 + m % 100) *
				     1000000;
			out->u.i = neg ? -us : us;
			return 0;
		}
		/* MariaDB's Field_time_hires: big-endian, offset so that
		 * -838:59:59.999999 is 0, in units of the digits kept */
		static const int hires[7] = {3, 4, 4, 5, 5, 5, 6};
		NEED((size_t)hires[fsp]);
		int64_t unit = pow10_i32[6 - fsp];
		int64_t zero = (INT64_C(838) * 3600 + 59 * 60 + 59 + 1) *
			       1000000 / unit;
		out->u.i = ((int64_t)be(p, hires[fsp]) - zero) * unit;
		return 0;
	}
	case WB_MY_T_DATETIME: {
		int fsp = c->fsp;
		if (fsp > 6)
			return bad_value(c, "more than 6 fractional digits",
					 err);
		int64_t y, mo, d, hh, mi, ss, us = 0;
		if (fsp == 0) {
			NEED(8);
			uint64_t v = le(p, 8);
			uint64_t dp = v / 1000000, tp = v % 1000000;
			y = (int64_t)(dp / 10000);
			mo = (int64_t)(dp / 100 % 100);
			d = (int64_t)(dp % 100);
			hh = (int64_t)(tp / 10000);
			mi = (int64_t)(tp / 100 % 100);
			ss = (int64_t)(tp % 100);
		} else {
			/* MariaDB's Field_datetime_hires: big-endian of
			 * (((((y*13+m)*32+d)*24+h)*60+mi)*60+s)*10^6+us, in
			 * units of the digits kept */
			static const int hires[7] = {5, 6, 6, 7, 7, 7, 8};
			NEED((size_t)hires[fsp]);
			uint64_t v = be(p, hires[fsp]) *
				     (uint64_t)pow10_i32[6 - fsp];
			us = (int64_t)(v % 1000000);
			v /= 1000000;
			ss = (int64_t)(v % 60);
			v /= 60;
			mi = (int64_t)(v % 60);
			v /= 60;
			hh = (int64_t)(v % 24);
			v /= 24;
			d = (int64_t)(v % 32);
			v /= 32;
			mo = (int64_t)(v % 13);
			y = (int64_t)(v / 13);
		}
		if (y > 9999 || mo > 12 || d > 31 || hh > 23 || mi > 59 ||
		    ss > 59)
			return bad_value(c, "out of range", err);
		return civil_value((int)y, (int)mo, (int)d, 1, (int)hh, (int)mi,
				   (int)ss, us, fsp, a, out, err);
	}
	case WB_MY_T_TIMESTAMP: {
		int fsp = c->fsp;
		if (fsp > 6)
			return bad_value(c, "more than 6 fractional digits",
					 err);
		int64_t sec, us = 0;
		if (fsp == 0) {
			NEED(4);
			sec = (int64_t)le(p, 4);
		} else {
			static const int sec_part[7] = {0, 1, 1, 2, 2, 3, 3};
			NEED(4 + (size_t)sec_part[fsp]);
			sec = (int64_t)be(p, 4);
			us = (int64_t)be(p + 4, sec_part[fsp]) *
			     pow10_i32[6 - fsp];
			if (us > 999999)
				return bad_value(c, "out of range", err);
		}
		return timestamp_value(sec, us, fsp, a, out, err);
	}
	case WB_MY_T_ENUM: {
		int nb = c->length == 2 ? 2 : 1;
		NEED((size_t)nb);
		return enum_value(c, le(p, nb), a, out, err);
	}
	case WB_MY_T_SET: {
		int nb = c->length >= 1 && c->length <= 8 ? c->length : 1;
		NEED((size_t)nb);
		return set_value(c, le(p, nb), a, out, err);
	}
	case WB_MY_T_VARCHAR:
	case WB_MY_T_VAR_STRING:
	case WB_MY_T_STRING: {
		int lb = c->length < 256 ? 1 : 2;
		NEED((size_t)lb);
		size_t n = (size_t)le(p, lb);
		NEED((size_t)lb + n);
		return string_value(c, t, p + lb, n, a, out, err);
	}
	case WB_MY_T_TINY_BLOB:
	case WB_MY_T_MEDIUM_BLOB:
	case WB_MY_T_LONG_BLOB:
	case WB_MY_T_BLOB:
	case WB_MY_T_JSON:
	case WB_MY_T_GEOMETRY:
	case WB_MY_T_VECTOR: {
		int lb = c->pack_len;
		if (lb < 1 || lb > 4)
			return bad_value(c, "bad length size", err);
		NEED((size_t)lb);
		size_t n = (size_t)le(p, lb);
		NEED((size_t)lb + n);
		if (c->type == WB_MY_T_JSON) {
			const uint8_t *text;
			size_t tlen;
			int rc = wb_my_json_text(p + lb, n, a, &text, &tlen,
						 err);
			if (rc)
				return rc;
			/* strings in the document are the server's utf8mb4;
			 * a damaged one still leaves valid UTF-8 */
			if (wb_utf8_first_invalid(text, tlen) != tlen)
				return wb_utf8_value(text, tlen, a, out, err);
			out->u.b.p = text;
			out->u.b.n = (uint32_t)tlen;
			return 0;
		}
		return string_value(c, t, p + lb, n, a, out, err);
	}
	default:
		return wb_error_set(err, WB_ERR_DECODE,
				    "column type %u cannot be decoded",
				    c->type);
	}
#undef NEED
}

/* rc of a value that did not decode: out cleared, the column named in
 * err. */
static int column_failed(const struct wb_my_tmcol *c, struct wb_value *out,
			 wb_error_t *err, int rc)
{
	memset(out, 0, sizeof(*out));
	if (c->name != NULL)
		wb_error_prefix(err, "column %s", c->name);
	return rc;
}

int wb_my_value_decode(const struct wb_my_tmcol *c, const struct wb_type *t,
		       const uint8_t *p, size_t avail, size_t *used,
		       struct wb_arena *a, struct wb_value *out,
		       wb_error_t *err)
{
	memset(out, 0, sizeof(*out));
	*used = 0;
	int rc = decode_value(c, t, p, avail, used, a, out, err);
	return rc != 0 ? column_failed(c, out, err, rc) : 0;
}

/* ---- text protocol ------------------------------------------------------- */

static inline int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int bad_text(const struct wb_my_tmcol *c, const char *text, size_t len,
		    wb_error_t *err)
{
	return wb_error_set(err, WB_ERR_TYPE, "invalid %s text \"%.*s\"%s",
			    type_name(c->type), (int)(len > 40 ? 40 : len),
			    text, len > 40 ? "..." : "");
}

/* Exactly k digits at text[*i]. */
static int digits_n(const char *p, size_t n, size_t *i, int k, int64_t *out)
{
	int64_t v = 0;
	if (*i + (size_t)k > n)
		return -1;
	for (int j = 0; j < k; j++) {
		char ch = p[*i + (size_t)j];
		if (!is_digit(ch))
			return -1;
		v = v * 10 + (ch - '0');
	}
	*i += (size_t)k;
	*out = v;
	return 0;
}

/* ".ffffff" (1-6 digits) → microseconds; none → 0. */
static int fraction(const char *p, size_t n, size_t *i, int64_t *us)
{
	*us = 0;
	if (*i >= n || p[*i] != '.')
		return 0;
	(*i)++;
	int k = 0;
	while (*i < n && is_digit(p[*i]) && k < 6) {
		*us = *us * 10 + (p[(*i)++] - '0');
		k++;
	}
	if (k == 0 || (*i < n && is_digit(p[*i])))
		return -1;
	*us *= pow10_i32[6 - k];
	return 0;
}

static int parse_integer(const char *p, size_t n, bool *neg, uint64_t *mag)
{
	size_t i = 0;
	*neg = false;
	*mag = 0;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		*neg = p[i++] == '-';
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		unsigned d = (unsigned)(p[i] - '0');
		if (*mag > (UINT64_MAX - d) / 10)
			return -1;
		*mag = *mag * 10 + d;
	}
	return 0;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static int text_scalar(const struct wb_my_tmcol *c, const struct wb_type *t,
		       const char *p, size_t n, struct wb_arena *a,
		       struct wb_value *out, wb_error_t *err)
{
	out->state = WB_VAL_PRESENT;
	switch (c->type) {
	case WB_MY_T_TINY:
	case WB_MY_T_SHORT:
	case WB_MY_T_INT24:
	case WB_MY_T_LONG:
	case WB_MY_T_LONGLONG:
	case WB_MY_T_YEAR: {
		bool neg;
		uint64_t mag;
		if (parse_integer(p, n, &neg, &mag))
			return bad_text(c, p, n, err);
		if (t->s.logical == WB_L_DECIMAL)
			return wb_decimal_from_u64(mag, neg, a, out)
				       ? nomem(err)
				       : 0;
		if ((!neg && mag > INT64_MAX) ||
		    (neg && mag > (uint64_t)INT64_MAX + 1))
			return bad_text(c, p, n, err);
		out->u.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		if (t->s.kind == WB_T_INT &&
		    (out->u.i < INT32_MIN || out->u.i > INT32_MAX))
			return bad_text(c, p, n, err);
		return 0;
	}
	case WB_MY_T_NEWDECIMAL:
		switch (wb_decimal_from_text(p, n, c->precision, c->scale, a,
					     out)) {
		case WB_DEC_OK:
			return 0;
		case WB_DEC_NOMEM:
			return nomem(err);
		default:
			return bad_text(c, p, n, err);
		}
	case WB_MY_T_FLOAT:
	case WB_MY_T_DOUBLE: {
		char buf[64];
		char *end;
		if (n == 0 || n >= sizeof(buf))
			return bad_text(c, p, n, err);
		memcpy(buf, p, n);
		buf[n] = '\0';
		pthread_once(&c_locale_once, c_locale_init);
		double d = c_locale ? strtod_l(buf, &end, c_locale)
				    : strtod(buf, &end);
		if (end != buf + n)
			return bad_text(c, p, n, err);
		if (t->s.kind == WB_T_FLOAT)
			out->u.f = (float)d;
		else
			out->u.d = d;
		return 0;
	}
	case WB_MY_T_BIT: {
		/* the raw bytes, big-endian */
		if (t->s.kind == WB_T_BOOLEAN) {
			int any = 0;
			for (size_t i = 0; i < n; i++)
				any |= (uint8_t)p[i];
			out->u.i = any != 0;
			return 0;
		}
		size_t nb = ((size_t)c->bits + 7) / 8;
		if (n > nb)
			return bad_text(c, p, n, err);
		/* right-align into the column's width */
		uint8_t *d = wb_arena_alloc(a, nb ? nb : 1);
		if (d == NULL)
			return nomem(err);
		memset(d, 0, nb);
		if (n)
			memcpy(d + nb - n, p, n);
		out->u.b.p = d;
		out->u.b.n = (uint32_t)nb;
		return 0;
	}
	case WB_MY_T_DATE:
	case WB_MY_T_NEWDATE:
	case WB_MY_T_DATETIME:
	case WB_MY_T_DATETIME2:
	case WB_MY_T_TIMESTAMP:
	case WB_MY_T_TIMESTAMP2: {
		size_t i = 0;
		int64_t y, mo, d, hh = 0, mi = 0, ss = 0, us = 0;
		int with_time =
			c->type != WB_MY_T_DATE && c->type != WB_MY_T_NEWDATE;
		if (digits_n(p, n, &i, 4, &y) || i >= n || p[i++] != '-' ||
		    digits_n(p, n, &i, 2, &mo) || i >= n || p[i++] != '-' ||
		    digits_n(p, n, &i, 2, &d))
			return bad_text(c, p, n, err);
		if (with_time &&
		    (i >= n || p[i++] != ' ' || digits_n(p, n, &i, 2, &hh) ||
		     i >= n || p[i++] != ':' || digits_n(p, n, &i, 2, &mi) ||
		     i >= n || p[i++] != ':' || digits_n(p, n, &i, 2, &ss) ||
		     fraction(p, n, &i, &us)))
			return bad_text(c, p, n, err);
		if (i != n || hh > 23 || mi > 59 || ss > 59)
			return bad_text(c, p, n, err);
		if (mo < 1 || mo > 12 || d < 1 ||
		    d > wb_days_in_month(y, (int)mo))
			return unrep_text(p, n, a, out, err);
		return civil_value((int)y, (int)mo, (int)d, with_time, (int)hh,
				   (int)mi, (int)ss, us, 0, a, out, err);
	}
	case WB_MY_T_TIME:
	case WB_MY_T_TIME2: {
		size_t i = 0;
		bool neg = false;
		if (i < n && p[i] == '-') {
			neg = true;
			i++;
		}
		int64_t h = 0, mi, ss, us;
		size_t start = i;
		while (i < n && is_digit(p[i]) && i - start < 4)
			h = h * 10 + (p[i++] - '0');
		if (i - start < 2 || i >= n || p[i++] != ':' ||
		    digits_n(p, n, &i, 2, &mi) || i >= n || p[i++] != ':' ||
		    digits_n(p, n, &i, 2, &ss) || fraction(p, n, &i, &us) ||
		    i != n || mi > 59 || ss > 59)
			return bad_text(c, p, n, err);
		int64_t v = (h * 3600 + mi * 60 + ss) * 1000000 + us;
		out->u.i = neg ? -v : v;
		return 0;
	}
	case WB_MY_T_JSON:
		return wb_utf8_value((const uint8_t *)p, n, a, out, err);
	case WB_MY_T_ENUM:
	case WB_MY_T_SET:
		return wb_utf8_value((const uint8_t *)p, n, a, out, err);
	default:
		break;
	}
	/* strings, blobs, geometry: text is utf8mb4 already, binary raw */
	if (t->s.kind == WB_T_BYTES) {
		size_t pad = c->type == WB_MY_T_STRING && c->charset == 63
				     ? c->length
				     : 0;
		return bytes_value((const uint8_t *)p, n, pad, a, out, err);
	}
	return wb_utf8_value((const uint8_t *)p, n, a, out, err);
}

int wb_my_text_to_value(const struct wb_my_tmcol *c, const struct wb_type *t,
			const char *text, size_t len, struct wb_arena *a,
			struct wb_value *out, wb_error_t *err)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		text = "";
	int rc = text_scalar(c, t, text, len, a, out, err);
	return rc != 0 ? column_failed(c, out, err, rc) : 0;
}
