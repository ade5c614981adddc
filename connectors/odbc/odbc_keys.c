/* odbc_keys.c — the emitted-key store of keyset delete detection: key
 * encoding, the checksums both sides compute, and the SQLite store. The
 * formats and the crash argument are in odbc_keys.h. */
#include "odbc_keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <zlib.h>

#include "crashpoint.h"

enum {
	TAG_INT = 0x10,
	TAG_TEXT = 0x20,
	TAG_DECIMAL = 0x30,
	DEC_NEG = 0x01,
	DEC_ZERO = 0x02,
	DEC_POS = 0x03,
};

#define FORMAT_VERSION "1"

/* ---- Encoding */

static int encode_decimal(const char *s, size_t len, struct wb_buf *out,
			  wb_error_t *err)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	/* digits without the point; exp = digits before the point */
	char digits[WB_ODBC_KEY_MAX_DIGITS];
	size_t nd = 0, before = 0, seen = 0;
	bool point = false;
	for (; i < len; i++) {
		char c = s[i];
		if (c == '.' && !point) {
			point = true;
			continue;
		}
		if (c < '0' || c > '9')
			return wb_error_set(err, WB_ERR_TYPE,
					    "decimal key value '%.*s' is not "
					    "[+-]digits[.digits]",
					    (int)(len > 60 ? 60 : len), s);
		seen++;
		if (nd >= sizeof digits)
			return wb_error_set(err, WB_ERR_TYPE,
					    "decimal key value has more than "
					    "%d digits",
					    WB_ODBC_KEY_MAX_DIGITS);
		digits[nd++] = c;
		if (!point)
			before++;
	}
	if (seen == 0)
		return wb_error_set(err, WB_ERR_TYPE,
				    "decimal key value '%.*s' has no digits",
				    (int)(len > 60 ? 60 : len), s);
	/* Strip leading zeros (each moves the exponent) and trailing ones. */
	size_t first = 0;
	long exp = (long)before;
	while (first < nd && digits[first] == '0') {
		first++;
		exp--;
	}
	while (nd > first && digits[nd - 1] == '0')
		nd--;
	uint8_t tag = TAG_DECIMAL;
	wb_buf_append(out, &tag, 1);
	if (first == nd) {
		uint8_t z = DEC_ZERO;
		wb_buf_append(out, &z, 1);
		return out->failed ? wb_error_set(err, WB_ERR_NOMEM,
						  "out of memory")
				   : 0;
	}
	uint16_t e = (uint16_t)(exp + 32768);
	uint8_t head[3] = {neg ? DEC_NEG : DEC_POS, (uint8_t)(e >> 8),
			   (uint8_t)e};
	if (neg) {
		head[1] = (uint8_t)~head[1];
		head[2] = (uint8_t)~head[2];
	}
	wb_buf_append(out, head, 3);
	if (wb_buf_reserve(out, nd - first + 1) != 0)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (size_t k = first; k < nd; k++) {
		uint8_t c = (uint8_t)digits[k];
		out->data[out->len++] = neg ? (uint8_t)~c : c;
	}
	out->data[out->len++] = neg ? 0xFF : 0x00;
	return 0;
}

int wb_odbc_key_encode(const struct wb_odbc_key_val *vals, size_t n,
		       struct wb_buf *out, wb_error_t *err)
{
	if (n == 0 || n > WB_ODBC_KEY_MAX_COLS)
		return wb_error_set(err, WB_ERR_TYPE,
				    "a key has 1 to %d columns, not %zu",
				    WB_ODBC_KEY_MAX_COLS, n);
	for (size_t c = 0; c < n; c++) {
		const struct wb_odbc_key_val *v = &vals[c];
		switch (v->type) {
		case WB_ODBC_KEY_INT: {
			uint64_t u = (uint64_t)v->i ^ UINT64_C(1) << 63;
			uint8_t b[9] = {TAG_INT};
			for (int k = 0; k < 8; k++)
				b[1 + k] = (uint8_t)(u >> (56 - 8 * k));
			wb_buf_append(out, b, sizeof b);
			break;
		}
		case WB_ODBC_KEY_TEXT: {
			if (wb_buf_reserve(out, 2 * v->len + 3) != 0)
				break;
			uint8_t *d = out->data + out->len;
			*d++ = TAG_TEXT;
			for (size_t k = 0; k < v->len; k++) {
				*d++ = (uint8_t)v->s[k];
				if (v->s[k] == '\0')
					*d++ = 0xFF;
			}
			*d++ = 0x00;
			*d++ = 0x01;
			out->len = (size_t)(d - out->data);
			break;
		}
		case WB_ODBC_KEY_DECIMAL: {
			int rc = encode_decimal(v->s, v->len, out, err);
			if (rc != 0)
				return rc;
			break;
		}
		default:
			return wb_error_set(err, WB_ERR_TYPE,
					    "key column %zu has no key type",
					    c + 1);
		}
	}
	if (out->failed)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return 0;
}

/* Decodes one decimal at key[*pos..len) into scratch as text. */
static int decode_decimal(const uint8_t *key, size_t len, size_t *pos,
			  struct wb_buf *scratch)
{
	size_t p = *pos;
	if (p >= len)
		return -1;
	uint8_t sign = key[p++];
	if (sign == DEC_ZERO) {
		wb_buf_append(scratch, "0", 1);
		*pos = p;
		return 0;
	}
	if ((sign != DEC_NEG && sign != DEC_POS) || len - p < 2)
		return -1;
	bool neg = sign == DEC_NEG;
	uint16_t e = (uint16_t)((neg ? (uint8_t)~key[p] : key[p]) << 8 |
				(neg ? (uint8_t)~key[p + 1] : key[p + 1]));
	p += 2;
	long exp = (long)e - 32768;
	char digits[WB_ODBC_KEY_MAX_DIGITS];
	size_t nd = 0;
	for (;;) {
		if (p >= len)
			return -1;
		uint8_t c = neg ? (uint8_t)~key[p++] : key[p++];
		if (c == 0x00)
			break;
		if (c < '0' || c > '9' || nd >= sizeof digits)
			return -1;
		digits[nd++] = (char)c;
	}
	if (nd == 0 || digits[0] == '0' || digits[nd - 1] == '0' ||
	    exp > WB_ODBC_KEY_MAX_DIGITS || exp < -WB_ODBC_KEY_MAX_DIGITS)
		return -1;
	if (neg)
		wb_buf_append(scratch, "-", 1);
	if (exp <= 0) {
		wb_buf_append(scratch, "0.", 2);
		for (long k = 0; k < -exp; k++)
			wb_buf_append(scratch, "0", 1);
		wb_buf_append(scratch, digits, nd);
	} else if ((size_t)exp >= nd) {
		wb_buf_append(scratch, digits, nd);
		for (size_t k = nd; k < (size_t)exp; k++)
			wb_buf_append(scratch, "0", 1);
	} else {
		wb_buf_append(scratch, digits, (size_t)exp);
		wb_buf_append(scratch, ".", 1);
		wb_buf_append(scratch, digits + exp, nd - (size_t)exp);
	}
	*pos = p;
	return 0;
}

int wb_odbc_key_decode(const uint8_t *key, size_t len,
		       struct wb_odbc_key_val *vals, size_t max, size_t *n,
		       struct wb_buf *scratch, wb_error_t *err)
{
	/* Offsets into scratch first: its data moves while it grows. */
	size_t offs[WB_ODBC_KEY_MAX_COLS];
	size_t pos = 0, c = 0;
	wb_buf_reset(scratch);
	*n = 0;
	while (pos < len) {
		if (c >= max || c >= WB_ODBC_KEY_MAX_COLS)
			return wb_error_set(err, WB_ERR_DECODE,
					    "key has more than %zu columns",
					    max);
		struct wb_odbc_key_val *v = &vals[c];
		memset(v, 0, sizeof *v);
		uint8_t tag = key[pos++];
		offs[c] = scratch->len;
		if (tag == TAG_INT) {
			if (len - pos < 8)
				goto bad;
			uint64_t u = 0;
			for (int k = 0; k < 8; k++)
				u = u << 8 | key[pos + (size_t)k];
			pos += 8;
			v->type = WB_ODBC_KEY_INT;
			v->i = (int64_t)(u ^ UINT64_C(1) << 63);
		} else if (tag == TAG_TEXT) {
			v->type = WB_ODBC_KEY_TEXT;
			for (;;) {
				if (pos >= len)
					goto bad;
				uint8_t b = key[pos++];
				if (b != 0x00) {
					wb_buf_append(scratch, &b, 1);
					continue;
				}
				if (pos >= len)
					goto bad;
				uint8_t e = key[pos++];
				if (e == 0x01)
					break;
				if (e != 0xFF)
					goto bad;
				wb_buf_append(scratch, &b, 1);
			}
			v->len = scratch->len - offs[c];
		} else if (tag == TAG_DECIMAL) {
			v->type = WB_ODBC_KEY_DECIMAL;
			if (decode_decimal(key, len, &pos, scratch) != 0)
				goto bad;
			v->len = scratch->len - offs[c];
		} else {
			goto bad;
		}
		c++;
	}
	if (c == 0)
		goto bad;
	if (scratch->failed)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	/* NUL after the last value, so that text is printable as a string. */
	wb_buf_append(scratch, "", 1);
	if (scratch->failed)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (size_t k = 0; k < c; k++)
		if (vals[k].type != WB_ODBC_KEY_INT)
			vals[k].s = (const char *)scratch->data + offs[k];
	*n = c;
	return 0;
bad:
	return wb_error_set(err, WB_ERR_DECODE,
			    "stored key is not a valid key encoding (byte %zu)",
			    pos);
}

void wb_odbc_key_format(const uint8_t *key, size_t len, char *out, size_t size)
{
	struct wb_odbc_key_val vals[WB_ODBC_KEY_MAX_COLS];
	struct wb_buf scratch;
	size_t n = 0, at = 0;
	wb_buf_init(&scratch);
	if (size == 0)
		return;
	out[0] = '\0';
	if (wb_odbc_key_decode(key, len, vals, WB_ODBC_KEY_MAX_COLS, &n,
			       &scratch, NULL) != 0) {
		snprintf(out, size, "(undecodable key of %zu bytes)", len);
		goto out;
	}
	for (size_t c = 0; c < n && at < size; c++) {
		const char *sep = c == 0 ? "(" : ", ";
		int w;
		if (vals[c].type == WB_ODBC_KEY_INT)
			w = snprintf(out + at, size - at, "%s%" PRId64, sep,
				     vals[c].i);
		else if (vals[c].type == WB_ODBC_KEY_TEXT)
			w = snprintf(out + at, size - at, "%s'%.*s'", sep,
				     (int)vals[c].len, vals[c].s);
		else
			w = snprintf(out + at, size - at, "%s%.*s", sep,
				     (int)vals[c].len, vals[c].s);
		if (w < 0)
			break;
		at += (size_t)w;
	}
	if (at < size)
		snprintf(out + at, size - at, ")");
out:
	wb_buf_free(&scratch);
}

/* ---- Checksums */

/* The nonlinear mix of an integer key value: see odbc_keys.h. Every
 * intermediate is below 2^63 (the SQL side computes it in signed 64-bit
 * arithmetic). */
static uint64_t mix64(uint64_t u)
{
	uint64_t a1 = u & 65535, a2 = (u >> 16) & 65535, b1 = (u >> 32) & 65535,
		 b2 = (u >> 48) & 65535;
	return ((a1 * 40499 + a2) * (a2 * 40493 + b1 + 1)) % 4294967291u +
	       b2 * b2;
}

void wb_odbc_sum_add(enum wb_odbc_sum_kind kind,
		     const struct wb_odbc_key_val *vals, size_t n,
		     struct wb_odbc_sum *sum)
{
	sum->count++;
	if (kind == WB_ODBC_SUM_COUNT)
		return;
	/* T of MD5 and CRC32: "<bytes>:<text>" per column, built as the
	 * sums are taken. Large text keys are hashed in pieces. */
	uLong crc = crc32(0L, Z_NULL, 0);
	struct wb_buf t;
	wb_buf_init(&t);
	for (size_t c = 0; c < n; c++) {
		const struct wb_odbc_key_val *v = &vals[c];
		char num[32];
		const char *p = "";
		size_t plen = 0;
		if (v->type == WB_ODBC_KEY_INT) {
			uint64_t u = (uint64_t)v->i;
			sum->s1 += (u & 0xFFFFFFFFu) + (u >> 32);
			sum->s2 += (uint64_t)(c + 1) * mix64(u);
			int w = snprintf(num, sizeof num, "%" PRId64, v->i);
			p = num;
			plen = (size_t)w;
		} else if (v->type == WB_ODBC_KEY_TEXT) {
			sum->s1 += v->len;
			p = v->s;
			plen = v->len;
		}
		if (kind == WB_ODBC_SUM_MIX)
			continue;
		char head[32];
		int hw = snprintf(head, sizeof head, "%zu:", plen);
		wb_buf_append(&t, head, (size_t)hw);
		wb_buf_append(&t, p, plen);
	}
	if (kind == WB_ODBC_SUM_MD5) {
		uint8_t md[16];
		wb_odbc_md5(t.data ? t.data : (const uint8_t *)"", t.len, md);
		sum->s3 += (uint64_t)md[0] << 24 | (uint64_t)md[1] << 16 |
			   (uint64_t)md[2] << 8 | md[3];
	} else if (kind == WB_ODBC_SUM_CRC32) {
		const uint8_t *d = t.data;
		size_t left = t.len;
		while (left > 0) {
			uInt piece =
				left > (1u << 30) ? (1u << 30) : (uInt)left;
			crc = crc32(crc, d, piece);
			d += piece;
			left -= piece;
		}
		sum->s3 += (uint64_t)crc;
	}
	wb_buf_free(&t);
}

/* MD5, RFC 1321. */
struct md5 {
	uint32_t a, b, c, d;
};

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
	0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
	0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
	0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
static const uint8_t md5_r[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_block(struct md5 *s, const uint8_t *p)
{
	uint32_t m[16];
	for (int i = 0; i < 16; i++)
		m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 |
		       (uint32_t)p[4 * i + 3] << 24;
	uint32_t a = s->a, b = s->b, c = s->c, d = s->d;
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g;
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		uint32_t t = d;
		d = c;
		c = b;
		uint32_t x = a + f + md5_k[i] + m[g];
		b = b + (x << md5_r[i] | x >> (32 - md5_r[i]));
		a = t;
	}
	s->a += a;
	s->b += b;
	s->c += c;
	s->d += d;
}

void wb_odbc_md5(const void *data, size_t n, uint8_t out[16])
{
	struct md5 s = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
	const uint8_t *p = data;
	size_t left = n;
	for (; left >= 64; left -= 64, p += 64)
		md5_block(&s, p);
	uint8_t tail[128] = {0};
	memcpy(tail, p, left);
	tail[left] = 0x80;
	size_t tl = left < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)n * 8;
	for (int i = 0; i < 8; i++)
		tail[tl - 8 + (size_t)i] = (uint8_t)(bits >> (8 * i));
	md5_block(&s, tail);
	if (tl == 128)
		md5_block(&s, tail + 64);
	uint32_t w[4] = {s.a, s.b, s.c, s.d};
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 4; k++)
			out[4 * i + k] = (uint8_t)(w[i] >> (8 * k));
}

/* ---- The store */

struct wb_odbc_keys {
	sqlite3 *db;
	char *path;
	bool in_txn;
	sqlite3_stmt *put, *del, *get, *forget, *setpos, *getpos;
};

struct wb_odbc_keys_iter {
	struct wb_odbc_keys *ks;
	sqlite3_stmt *st;
};

static int db_error(struct wb_odbc_keys *ks, wb_error_t *err, const char *what)
{
	return wb_error_set(err, WB_ERR_IO, "key store %s: %s: %s", ks->path,
			    what, sqlite3_errmsg(ks->db));
}

static int exec(struct wb_odbc_keys *ks, const char *sql, wb_error_t *err)
{
	char *msg = NULL;
	if (sqlite3_exec(ks->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = wb_error_set(err, WB_ERR_IO, "key store %s: %s: %s",
				      ks->path, sql, msg ? msg : "?");
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

static int prepare(struct wb_odbc_keys *ks, const char *sql, sqlite3_stmt **st,
		   wb_error_t *err)
{
	if (sqlite3_prepare_v2(ks->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_error(ks, err, "prepare");
	return 0;
}

struct wb_odbc_keys *wb_odbc_keys_open(const char *path, wb_error_t *err)
{
	struct wb_odbc_keys *ks = calloc(1, sizeof *ks);
	if (ks == NULL || (ks->path = strdup(path)) == NULL) {
		free(ks);
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &ks->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		if (ks->db == NULL)
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		else
			db_error(ks, err, "open");
		goto fail;
	}
	sqlite3_busy_timeout(ks->db, 5000);
	/* WAL: a commit is one append and fsync; FULL: that fsync happens
	 * at every commit, so a committed batch survives power loss. */
	if (exec(ks, "PRAGMA journal_mode=WAL", err) != 0 ||
	    exec(ks, "PRAGMA synchronous=FULL", err) != 0 ||
	    exec(ks,
		 "CREATE TABLE IF NOT EXISTS wb_meta (name TEXT PRIMARY KEY, "
		 "value TEXT NOT NULL) WITHOUT ROWID;"
		 "CREATE TABLE IF NOT EXISTS wb_keys (tbl TEXT NOT NULL, "
		 "k BLOB NOT NULL, image BLOB NOT NULL, PRIMARY KEY (tbl, k)) "
		 "WITHOUT ROWID;"
		 "INSERT OR IGNORE INTO wb_meta VALUES ('format', "
		 "'" FORMAT_VERSION "')",
		 err) != 0)
		goto fail;
	sqlite3_stmt *st = NULL;
	if (prepare(ks, "SELECT value FROM wb_meta WHERE name = 'format'", &st,
		    err) != 0)
		goto fail;
	bool ok = sqlite3_step(st) == SQLITE_ROW &&
		  strcmp((const char *)sqlite3_column_text(st, 0),
			 FORMAT_VERSION) == 0;
	sqlite3_finalize(st);
	if (!ok) {
		wb_error_set(err, WB_ERR_IO,
			     "key store %s: not a waybill key store of format "
			     "%s",
			     path, FORMAT_VERSION);
		goto fail;
	}
	if (prepare(ks,
		    "INSERT OR REPLACE INTO wb_keys (tbl, k, image) VALUES "
		    "(?1, ?2, ?3)",
		    &ks->put, err) != 0 ||
	    prepare(ks, "DELETE FROM wb_keys WHERE tbl = ?1 AND k = ?2",
		    &ks->del, err) != 0 ||
	    prepare(ks, "SELECT image FROM wb_keys WHERE tbl = ?1 AND k = ?2",
		    &ks->get, err) != 0 ||
	    prepare(ks, "DELETE FROM wb_keys WHERE tbl = ?1", &ks->forget,
		    err) != 0 ||
	    prepare(ks,
		    "INSERT OR REPLACE INTO wb_meta VALUES ('position', ?1)",
		    &ks->setpos, err) != 0 ||
	    prepare(ks, "SELECT value FROM wb_meta WHERE name = 'position'",
		    &ks->getpos, err) != 0)
		goto fail;
	return ks;
fail:
	wb_odbc_keys_close(ks);
	return NULL;
}

void wb_odbc_keys_close(struct wb_odbc_keys *ks)
{
	if (ks == NULL)
		return;
	if (ks->in_txn)
		wb_odbc_keys_rollback(ks);
	sqlite3_finalize(ks->put);
	sqlite3_finalize(ks->del);
	sqlite3_finalize(ks->get);
	sqlite3_finalize(ks->forget);
	sqlite3_finalize(ks->setpos);
	sqlite3_finalize(ks->getpos);
	sqlite3_close(ks->db);
	free(ks->path);
	free(ks);
}

int wb_odbc_keys_begin(struct wb_odbc_keys *ks, wb_error_t *err)
{
	if (ks->in_txn)
		return 0;
	int rc = exec(ks, "BEGIN IMMEDIATE", err);
	if (rc == 0)
		ks->in_txn = true;
	return rc;
}

int wb_odbc_keys_commit(struct wb_odbc_keys *ks, const char *position,
			wb_error_t *err)
{
	int rc = wb_odbc_keys_begin(ks, err);
	if (rc != 0)
		return rc;
	if (position != NULL) {
		sqlite3_reset(ks->setpos);
		sqlite3_bind_text(ks->setpos, 1, position, -1, SQLITE_STATIC);
		int s = sqlite3_step(ks->setpos);
		sqlite3_clear_bindings(ks->setpos);
		if (s != SQLITE_DONE) {
			rc = db_error(ks, err, "writing the position");
			wb_odbc_keys_rollback(ks);
			return rc;
		}
	}
	rc = exec(ks, "COMMIT", err);
	if (rc != 0) {
		wb_odbc_keys_rollback(ks);
		return rc;
	}
	ks->in_txn = false;
	/* The store is durable, the checkpoint not yet written: the crash
	 * that leaves the store ahead (odbc_keys.h). */
	wb_crashpoint("odbc_keys.committed");
	return 0;
}

void wb_odbc_keys_rollback(struct wb_odbc_keys *ks)
{
	if (!ks->in_txn)
		return;
	sqlite3_exec(ks->db, "ROLLBACK", NULL, NULL, NULL);
	ks->in_txn = false;
}

char *wb_odbc_keys_position(struct wb_odbc_keys *ks, wb_error_t *err)
{
	sqlite3_reset(ks->getpos);
	int s = sqlite3_step(ks->getpos);
	char *out = NULL;
	if (s == SQLITE_ROW) {
		out = strdup((const char *)sqlite3_column_text(ks->getpos, 0));
		if (out == NULL)
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	} else if (s != SQLITE_DONE) {
		db_error(ks, err, "reading the position");
	}
	sqlite3_reset(ks->getpos);
	return out;
}

/* Runs a prepared write bound with table (1) and key (2). */
static int write_key(struct wb_odbc_keys *ks, sqlite3_stmt *st,
		     const char *table, const uint8_t *key, size_t key_len,
		     wb_error_t *err, const char *what)
{
	int rc = wb_odbc_keys_begin(ks, err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if (key != NULL)
		sqlite3_bind_blob64(st, 2, key, key_len, SQLITE_STATIC);
	int s = sqlite3_step(st);
	rc = s == SQLITE_DONE ? 0 : db_error(ks, err, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int wb_odbc_keys_put(struct wb_odbc_keys *ks, const char *table,
		     const uint8_t *key, size_t key_len, const uint8_t *image,
		     size_t image_len, wb_error_t *err)
{
	if (key_len == 0)
		return wb_error_set(err, WB_ERR_TYPE, "empty key");
	/* An empty image is stored as an empty blob, never as NULL. */
	sqlite3_bind_blob64(ks->put, 3, image_len ? (const void *)image : "",
			    image_len, SQLITE_STATIC);
	return write_key(ks, ks->put, table, key, key_len, err, "put");
}

int wb_odbc_keys_remove(struct wb_odbc_keys *ks, const char *table,
			const uint8_t *key, size_t key_len, wb_error_t *err)
{
	return write_key(ks, ks->del, table, key, key_len, err, "remove");
}

int wb_odbc_keys_forget(struct wb_odbc_keys *ks, const char *table,
			wb_error_t *err)
{
	return write_key(ks, ks->forget, table, NULL, 0, err, "forget");
}

int wb_odbc_keys_get(struct wb_odbc_keys *ks, const char *table,
		     const uint8_t *key, size_t key_len, struct wb_buf *image,
		     bool *found, wb_error_t *err)
{
	int rc = 0;
	wb_buf_reset(image);
	*found = false;
	sqlite3_bind_text(ks->get, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(ks->get, 2, key, key_len, SQLITE_STATIC);
	int s = sqlite3_step(ks->get);
	if (s == SQLITE_ROW) {
		*found = true;
		wb_buf_append(image, sqlite3_column_blob(ks->get, 0),
			      (size_t)sqlite3_column_bytes(ks->get, 0));
		if (image->failed)
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	} else if (s != SQLITE_DONE) {
		rc = db_error(ks, err, "get");
	}
	sqlite3_reset(ks->get);
	sqlite3_clear_bindings(ks->get);
	return rc;
}

/* Prepares "SELECT <cols> FROM wb_keys WHERE tbl = ?1 [AND k >= ?2]
 * [AND k < ?3] ORDER BY k <tail>" with its bounds bound (copied). */
static int range_stmt(struct wb_odbc_keys *ks, const char *cols,
		      const char *table, const uint8_t *lo, size_t lo_len,
		      const uint8_t *hi, size_t hi_len, const char *tail,
		      sqlite3_stmt **st, wb_error_t *err)
{
	char sql[256];
	snprintf(sql, sizeof sql,
		 "SELECT %s FROM wb_keys WHERE tbl = ?1%s%s ORDER BY k%s", cols,
		 lo ? " AND k >= ?2" : "", hi ? " AND k < ?3" : "", tail);
	int rc = prepare(ks, sql, st, err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(*st, 1, table, -1, SQLITE_TRANSIENT);
	if (lo)
		sqlite3_bind_blob64(*st, 2, lo, lo_len, SQLITE_TRANSIENT);
	if (hi)
		sqlite3_bind_blob64(*st, 3, hi, hi_len, SQLITE_TRANSIENT);
	return 0;
}

int wb_odbc_keys_range_sum(struct wb_odbc_keys *ks, const char *table,
			   const uint8_t *lo, size_t lo_len, const uint8_t *hi,
			   size_t hi_len, enum wb_odbc_sum_kind kind,
			   struct wb_odbc_sum *sum, wb_error_t *err)
{
	sqlite3_stmt *st = NULL;
	struct wb_buf scratch;
	wb_buf_init(&scratch);
	memset(sum, 0, sizeof *sum);
	int rc = range_stmt(ks, "k", table, lo, lo_len, hi, hi_len, "", &st,
			    err);
	if (rc != 0)
		goto out;
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (kind == WB_ODBC_SUM_COUNT) {
			sum->count++;
			continue;
		}
		struct wb_odbc_key_val vals[WB_ODBC_KEY_MAX_COLS];
		size_t n;
		rc = wb_odbc_key_decode(sqlite3_column_blob(st, 0),
					(size_t)sqlite3_column_bytes(st, 0),
					vals, WB_ODBC_KEY_MAX_COLS, &n,
					&scratch, err);
		if (rc != 0)
			goto out;
		wb_odbc_sum_add(kind, vals, n, sum);
	}
	if (s != SQLITE_DONE)
		rc = db_error(ks, err, "range checksum");
out:
	sqlite3_finalize(st);
	wb_buf_free(&scratch);
	return rc;
}

int wb_odbc_keys_nth(struct wb_odbc_keys *ks, const char *table,
		     const uint8_t *lo, size_t lo_len, uint64_t n,
		     struct wb_buf *out, bool *found, wb_error_t *err)
{
	sqlite3_stmt *st = NULL;
	char tail[48];
	snprintf(tail, sizeof tail, " LIMIT 1 OFFSET %" PRIu64, n);
	wb_buf_reset(out);
	*found = false;
	int rc =
		range_stmt(ks, "k", table, lo, lo_len, NULL, 0, tail, &st, err);
	if (rc != 0)
		return rc;
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		*found = true;
		wb_buf_append(out, sqlite3_column_blob(st, 0),
			      (size_t)sqlite3_column_bytes(st, 0));
		if (out->failed)
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	} else if (s != SQLITE_DONE) {
		rc = db_error(ks, err, "nth key");
	}
	sqlite3_finalize(st);
	return rc;
}

struct wb_odbc_keys_iter *
wb_odbc_keys_iter_open(struct wb_odbc_keys *ks, const char *table,
		       const uint8_t *lo, size_t lo_len, const uint8_t *hi,
		       size_t hi_len, wb_error_t *err)
{
	struct wb_odbc_keys_iter *it = calloc(1, sizeof *it);
	if (it == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	it->ks = ks;
	if (range_stmt(ks, "k, image", table, lo, lo_len, hi, hi_len, "",
		       &it->st, err) != 0) {
		wb_odbc_keys_iter_close(it);
		return NULL;
	}
	return it;
}

int wb_odbc_keys_iter_next(struct wb_odbc_keys_iter *it, const uint8_t **key,
			   size_t *key_len, const uint8_t **image,
			   size_t *image_len, bool *has, wb_error_t *err)
{
	int s = sqlite3_step(it->st);
	*has = false;
	if (s == SQLITE_DONE)
		return 0;
	if (s != SQLITE_ROW)
		return db_error(it->ks, err, "iterating keys");
	*key = sqlite3_column_blob(it->st, 0);
	*key_len = (size_t)sqlite3_column_bytes(it->st, 0);
	*image = sqlite3_column_blob(it->st, 1);
	*image_len = (size_t)sqlite3_column_bytes(it->st, 1);
	*has = true;
	return 0;
}

void wb_odbc_keys_iter_close(struct wb_odbc_keys_iter *it)
{
	if (it == NULL)
		return;
	sqlite3_finalize(it->st);
	free(it);
}
