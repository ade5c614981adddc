/* odbc_keys.h — the keys waybill has emitted for each polled table, each
 * with its last emitted row image, kept in SQLite beside the checkpoint:
 * what keyset delete detection (odbc_deletes.h) compares a table with.
 *
 * Keys. A key is an ordered tuple of typed values (one per key column,
 * composite keys allowed), encoded so that memcmp() of two encodings
 * orders them as the database orders the tuples with ORDER BY c1, c2, ...:
 *   integer  0x10, 8 bytes big-endian of the value with the sign bit
 *            flipped (signed 64-bit order);
 *   text     0x20, the bytes with 0x00 written as 0x00 0xFF, then 0x00 0x01
 *            (byte order, a prefix before its extensions: binary / "C"
 *            collation of UTF-8 text);
 *   decimal  0x30, then 0x02 for zero, or 0x03 (positive) / 0x01
 *            (negative), the decimal exponent + 32768 as 2 bytes
 *            big-endian, the significant digits as ASCII and 0x00 (all
 *            bits inverted for a negative value, so larger magnitudes sort
 *            first): numeric order, "1.50" and "1.5" encode alike.
 * Collation caveat: text keys sort as bytes. A column whose collation
 * orders differently (case-insensitive, locale-aware: SQL Server's default,
 * MariaDB's utf8mb4_general_ci, PostgreSQL's en_US.UTF-8) puts the rows of
 * a key range in another order than the store does; odbc_deletes.c detects
 * rows that arrive out of order and fails rather than report false deletes,
 * but such a table can only be compared when its key columns are read with
 * a binary collation. Integers and decimals have no such caveat.
 *
 * Storage. One SQLite database (WAL, synchronous=FULL), one table
 * wb_keys(tbl, k, image) WITHOUT ROWID, primary key (tbl, k): a B-tree in
 * key order per table, its size bounded by the number of keys emitted (one
 * row per live key, never one per event). wb_meta holds the format version
 * and the checkpoint position of the last commit.
 *
 * Transactions and the checkpoint. Writes (put, remove, forget) go into
 * one open transaction, begun by the first write; the caller commits it
 * with the position of the checkpoint it is about to write, after the sink
 * acknowledged the events whose keys the batch holds and *before* it
 * writes the checkpoint file. Dying between the two leaves the store ahead
 * of the checkpoint: the restart re-polls from the checkpoint and re-emits
 * events whose keys are already stored; put is an upsert and remove of an
 * absent key does nothing, so replaying them leaves the same store, and a
 * delete already emitted and removed is not reported again. The opposite
 * order would lose keys (a checkpoint past events whose keys the store
 * never got: their deletes would never be seen), which is why it is not
 * used. wb_odbc_keys_position() returns the position the store was last
 * committed with: at or past the checkpoint is consistent; behind it (the
 * file was restored or replaced) means the store misses keys and must be
 * rebuilt. Dying with a transaction open loses only that transaction
 * (SQLite's journal), which the replay from the checkpoint redoes.
 *
 * A store is used by one thread; it is not thread-safe. */
#ifndef WB_ODBC_KEYS_H
#define WB_ODBC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define WB_ODBC_KEY_MAX_COLS 16
#define WB_ODBC_KEY_MAX_DIGITS 1000 /* decimal digits in one value */

enum wb_odbc_key_type {
	WB_ODBC_KEY_INT = 1,
	WB_ODBC_KEY_TEXT = 2,
	WB_ODBC_KEY_DECIMAL = 3,
};

/* One key column's value. TEXT: s/len, any bytes (NUL allowed). DECIMAL:
 * s/len is its text, [+-]digits[.digits] (as a driver returns it). */
struct wb_odbc_key_val {
	enum wb_odbc_key_type type;
	int64_t i;
	const char *s;
	size_t len;
};

/* Appends the encoding of the tuple vals[0..n) to out. 0, or WB_ERR_TYPE
 * for a malformed decimal or n out of 1..WB_ODBC_KEY_MAX_COLS,
 * WB_ERR_NOMEM. Pure. */
int wb_odbc_key_encode(const struct wb_odbc_key_val *vals, size_t n,
		       struct wb_buf *out, wb_error_t *err);

/* Decodes key[0..len) into vals[0..*n) (at most max). Text and decimal
 * values point into scratch (reset first; decimals in canonical form:
 * "-12.5", "0", "1200"), valid until scratch changes. 0, or WB_ERR_DECODE
 * for bytes that are not an encoding. Pure. */
int wb_odbc_key_decode(const uint8_t *key, size_t len,
		       struct wb_odbc_key_val *vals, size_t max, size_t *n,
		       struct wb_buf *scratch, wb_error_t *err);

/* Writes the key as text for logs: (42, 'abc', 1.5). */
void wb_odbc_key_format(const uint8_t *key, size_t len, char *out, size_t size);

/* ---- Checksums over sets of keys: what both the store and the database
 * compute for a key range (the SQL side is in odbc_deletes.c). All sums
 * are modulo 2^64.
 *   COUNT  count only;
 *   MIX    count; s1 = per integer column (low 32 bits + high 32 bits),
 *          per text column its length in bytes; s2 = per integer column
 *          i (0-based) (i + 1) * mix(v), mix a product of 16-bit pieces
 *          of v modulo the prime 4294967291 plus the square of the top
 *          16 bits (nonlinear; every intermediate below 2^63, so plain
 *          SQL integer arithmetic computes it without overflow);
 *   MD5    MIX, and s3 = the first 32 bits of md5(T) as an unsigned
 *          number, T = for each key column its text P as
 *          "<bytes of P>:<P>" (an integer in decimal, text as is, a
 *          decimal column as the empty string);
 *   CRC32  MIX, and s3 = CRC-32 (ISO-HDLC, zlib's and MySQL's) of T.
 * Decimal key columns take part in the count only. */
enum wb_odbc_sum_kind {
	WB_ODBC_SUM_COUNT = 0,
	WB_ODBC_SUM_MIX = 1,
	WB_ODBC_SUM_MD5 = 2,
	WB_ODBC_SUM_CRC32 = 3,
};

struct wb_odbc_sum {
	uint64_t count, s1, s2, s3;
};

/* Adds the decoded key vals[0..n) to sum. Pure. */
void wb_odbc_sum_add(enum wb_odbc_sum_kind kind,
		     const struct wb_odbc_key_val *vals, size_t n,
		     struct wb_odbc_sum *sum);

/* md5 of p[0..n) into out[16] (RFC 1321). Pure. */
void wb_odbc_md5(const void *p, size_t n, uint8_t out[16]);

/* ---- The store */

struct wb_odbc_keys;

/* Opens (creating) the store at path, usually
 * <checkpoint_dir>/<name>.keys.sqlite. NULL and err on failure
 * (WB_ERR_IO; a file of another format is refused). */
struct wb_odbc_keys *wb_odbc_keys_open(const char *path, wb_error_t *err);

/* Closes; an open transaction is rolled back. Accepts NULL. */
void wb_odbc_keys_close(struct wb_odbc_keys *ks);

/* Starts the write transaction if none is open (writes do this too). */
int wb_odbc_keys_begin(struct wb_odbc_keys *ks, wb_error_t *err);

/* Makes the open transaction durable together with position (the text of
 * the checkpoint position about to be written; NULL keeps the stored
 * one). Without an open transaction, only the position is written. */
int wb_odbc_keys_commit(struct wb_odbc_keys *ks, const char *position,
			wb_error_t *err);

/* Discards the open transaction, if any. */
void wb_odbc_keys_rollback(struct wb_odbc_keys *ks);

/* The position of the last commit: a malloc'd string the caller frees, or
 * NULL with *err untouched when none was ever committed (or NULL with
 * err->code set on failure). */
char *wb_odbc_keys_position(struct wb_odbc_keys *ks, wb_error_t *err);

/* Stores (inserting or replacing) key → image for table. */
int wb_odbc_keys_put(struct wb_odbc_keys *ks, const char *table,
		     const uint8_t *key, size_t key_len, const uint8_t *image,
		     size_t image_len, wb_error_t *err);

/* Removes key from table; an absent key is not an error. */
int wb_odbc_keys_remove(struct wb_odbc_keys *ks, const char *table,
			const uint8_t *key, size_t key_len, wb_error_t *err);

/* Removes every key of table (the table left the configuration). */
int wb_odbc_keys_forget(struct wb_odbc_keys *ks, const char *table,
			wb_error_t *err);

/* The image stored for key, copied into image (reset first); *found tells
 * whether the key is stored. */
int wb_odbc_keys_get(struct wb_odbc_keys *ks, const char *table,
		     const uint8_t *key, size_t key_len, struct wb_buf *image,
		     bool *found, wb_error_t *err);

/* Ranges: keys k with lo <= k < hi; lo NULL is unbounded below, hi NULL
 * unbounded above. */

/* count and checksums (kind) of the keys of table in [lo, hi). */
int wb_odbc_keys_range_sum(struct wb_odbc_keys *ks, const char *table,
			   const uint8_t *lo, size_t lo_len, const uint8_t *hi,
			   size_t hi_len, enum wb_odbc_sum_kind kind,
			   struct wb_odbc_sum *sum, wb_error_t *err);

/* The key n places after the first key >= lo (n = 0: that key), copied
 * into out (reset first); *found false when there are not that many. */
int wb_odbc_keys_nth(struct wb_odbc_keys *ks, const char *table,
		     const uint8_t *lo, size_t lo_len, uint64_t n,
		     struct wb_buf *out, bool *found, wb_error_t *err);

/* Iterates the keys of table in [lo, hi) in key order. lo and hi are
 * copied. Writes made through the same store while an iterator is open
 * may or may not be seen by it (SQLite's rule for one connection). */
struct wb_odbc_keys_iter;
struct wb_odbc_keys_iter *
wb_odbc_keys_iter_open(struct wb_odbc_keys *ks, const char *table,
		       const uint8_t *lo, size_t lo_len, const uint8_t *hi,
		       size_t hi_len, wb_error_t *err);

/* The next key and its image, valid until the next call; *has false at
 * the end. */
int wb_odbc_keys_iter_next(struct wb_odbc_keys_iter *it, const uint8_t **key,
			   size_t *key_len, const uint8_t **image,
			   size_t *image_len, bool *has, wb_error_t *err);

/* Accepts NULL. */
void wb_odbc_keys_iter_close(struct wb_odbc_keys_iter *it);

#endif
