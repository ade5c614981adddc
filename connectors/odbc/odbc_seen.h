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
	uint32_t *pair_ix; /* open addressing on (key, row): entry index + 1 */
	uint32_t *key_ix;  /* open addressing on key: entry index + 1 */
	size_t ixcap;	   /* power of two, >= 2 * cap */
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

/* 64-bit FNV-1a over p[0..n), continuing from h (start with
 * WB_ODBC_HASH_INIT). */
#define WB_ODBC_HASH_INIT UINT64_C(14695981039346656037)
uint64_t wb_odbc_hash(uint64_t h, const void *p, size_t n);

#endif
