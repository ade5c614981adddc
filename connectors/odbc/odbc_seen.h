/* odbc_seen.h — the look-back set of the ODBC poller: the (key, row hash)
 * pairs emitted for rows whose tracking value lies in the window that is
 * read again behind the watermark on every poll, so that a row read again
 * is suppressed and a row committed late (older tracking value) is not.
 * Pure: no I/O, no locking (the caller holds its own mutex).
 *
 * Each entry: the row's tracking value (timestamp in microseconds, or the
 * incrementing id), a 64-bit hash of its key, a 64-bit hash of the whole
 * row, and the round (position major) that emitted it, so that the
 * checkpoint keeps only entries of durable rounds and a round that failed
 * can be taken back. Bounded: past `max` entries the oldest tracking
 * groups are dropped and the caller raises the window's floor above them. */
#ifndef WB_ODBC_SEEN_H
#define WB_ODBC_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wb_odbc_seen_entry {
	int64_t track;
	uint64_t key;
	uint64_t row;
	uint64_t round;
};

struct wb_odbc_seen {
	struct wb_odbc_seen_entry *e;
	size_t n, cap, max;
	/* open addressing: entry index + 1, and a tag of the slot's hash
	 * (odbc_seen.c), on (key, row) and on key */
	uint64_t *pair_ix;
	uint64_t *key_ix;
	size_t ixcap; /* power of two, >= 2 * cap */
	/* at least the highest tracking value ever added (kept after
	 * removals: only an upper bound); valid when has_hi */
	int64_t hi;
	bool has_hi;
};

/* max: the bound (>= 1). */
void wb_odbc_seen_init(struct wb_odbc_seen *s, size_t max);
void wb_odbc_seen_free(struct wb_odbc_seen *s);

/* Whether (key, row) is present; *key_known whether any entry has key
 * (key_known NULL: not looked up). */
bool wb_odbc_seen_has(const struct wb_odbc_seen *s, uint64_t key, uint64_t row,
		      bool *key_known);
/* The same for a row whose tracking value is track: a row hash covers the
 * tracking column, so an entry with the same (key, row) has the same
 * tracking value, and a row above every value added cannot be present
 * (only the key is looked up: the common case of a poll reading new
 * rows). */
bool wb_odbc_seen_has_at(const struct wb_odbc_seen *s, int64_t track,
			 uint64_t key, uint64_t row, bool *key_known);

/* A hint: (key, row) is looked up or added soon; its index slots are
 * brought into the cache. */
void wb_odbc_seen_prefetch(const struct wb_odbc_seen *s, uint64_t key,
			   uint64_t row);

/* Adds an entry. When the set is full, first drops the oldest groups:
 * every entry whose tracking value is at most min + (max - min) / 16 (at
 * least the smallest value's group), and sets *dropped_upto to that bound
 * (untouched when nothing was dropped). 0, or -1 when out of memory. */
int wb_odbc_seen_add(struct wb_odbc_seen *s, int64_t track, uint64_t key,
		     uint64_t row, uint64_t round, int64_t *dropped_upto);

/* Drops entries with track < below. */
void wb_odbc_seen_evict(struct wb_odbc_seen *s, int64_t below);

/* Drops entries of round `round` (a round that was not delivered). */
void wb_odbc_seen_forget_round(struct wb_odbc_seen *s, uint64_t round);

/* Text of the entries with round <= upto and track >= from: 48 hex
 * digits each (track, key, row; round not kept). malloc'd; NULL when out
 * of memory. */
char *wb_odbc_seen_format(const struct wb_odbc_seen *s, uint64_t upto,
			  int64_t from);

/* Adds the entries of text (as format() wrote it) with round 0. 0, or -1
 * when the text is malformed or memory runs out. */
int wb_odbc_seen_parse(struct wb_odbc_seen *s, const char *text);

/* The hash algorithms of the entries' key and row hashes, as the
 * checkpoint names them ("seen_hash"): w64 (word at a time, see
 * wb_odbc_hash) since 2026-12; fnv1a (64-bit FNV-1a, byte at a time)
 * before, the algorithm of a checkpoint that names none. */
enum wb_odbc_hash_alg {
	WB_ODBC_HASH_FNV1A,
	WB_ODBC_HASH_W64,
};
#define WB_ODBC_HASH_NAME_FNV1A "fnv1a"
#define WB_ODBC_HASH_NAME_W64 "w64"

/* The seed of every key and row hash (both algorithms). */
#define WB_ODBC_HASH_INIT UINT64_C(14695981039346656037)
/* w64 over p[0..n), continuing from h: eight bytes at a time (host byte
 * order), each word mixed on its own and folded into h by a multiply and
 * a rotation, the tail word carrying n % 8. Not a stable function of the
 * concatenated bytes: hashing a then b differs from hashing ab. */
uint64_t wb_odbc_hash(uint64_t h, const void *p, size_t n);
/* 64-bit FNV-1a over p[0..n), continuing from h (the old algorithm:
 * only for the entries of a checkpoint written with it). */
uint64_t wb_odbc_hash_fnv1a(uint64_t h, const void *p, size_t n);
/* One cell folded into a row or key hash with alg: its length (8 bytes,
 * SQL_NULL_DATA for NULL), then its len bytes when len > 0 — the sequence
 * the poller has always hashed, so an fnv1a entry of an old checkpoint
 * is found again. */
uint64_t wb_odbc_hash_cell(enum wb_odbc_hash_alg alg, uint64_t h, const void *p,
			   int64_t len);

/* Reads a table's look-back set from its checkpoint: alg_name the
 * "seen_hash" value (NULL: none, fnv1a), seen the entries of that
 * algorithm, seen_fnv1a (w64 only; NULL when absent) entries still
 * hashed with fnv1a. Entries hashed with w64 go into cur, fnv1a ones into
 * old (both empty before). 0; -1 when a text is malformed or memory runs
 * out; -2 when alg_name is not an algorithm this code knows (nothing of
 * the set can be looked up then: the caller refuses to resume rather than
 * emit the window again). */
int wb_odbc_seen_restore(struct wb_odbc_seen *cur, struct wb_odbc_seen *old,
			 const char *alg_name, const char *seen,
			 const char *seen_fnv1a);

#endif
