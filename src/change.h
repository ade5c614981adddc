/* change.h — change records and the batches that carry them between threads. */
#ifndef WB_CHANGE_H
#define WB_CHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "position.h"
#include "table.h"
#include "value.h"

enum wb_op {
	WB_OP_INSERT = 'c',
	WB_OP_UPDATE = 'u',
	WB_OP_DELETE = 'd',
	WB_OP_READ = 'r', /* snapshot row */
	WB_OP_TRUNCATE = 't',
	WB_OP_BEGIN = 'B',  /* transaction boundary, no event */
	WB_OP_COMMIT = 'C', /* transaction boundary, no event; carries ack */
};

/* One change. For row ops, table is held by the batch (wb_batch_hold; one
 * reference per distinct table per batch, released with the batch) and
 * before/after point to table->ncols values in the batch arena (NULL when the
 * op has no such image). */
struct wb_change {
	uint8_t op;
	bool snapshot;
	/* op 'd' found by comparing the table's keys with those emitted
	 * (ODBC deletes.detect keyset), not read from a log or a row */
	bool detected_delete;
	struct wb_table *table;
	wb_position_t pos;
	uint64_t txid;
	/* the transaction's GTID as text (MySQL/MariaDB), NUL-terminated in
	 * the batch arena; NULL when the source has none */
	const char *gtid;
	int64_t commit_ts_us; /* commit time, microseconds since the Unix epoch
			       */
	/* COMMIT only: the value the source may acknowledge to its server once
	 * every change up to pos is durable (PG: the commit's end LSN). */
	uint64_t ack;
	struct wb_value *before;
	struct wb_value *after;
	/* A row re-read after its table's key changed (ALTER TABLE ... ADD
	 * PRIMARY KEY): the previous version (held by the batch) and the row
	 * in that version's columns, so that a keyed sink deletes the row
	 * under the key it had. NULL otherwise. */
	struct wb_table *old_table;
	struct wb_value *old_image;
};

/* A batch of changes in source order, with the arena that holds their
 * values. Built by the source thread, handed through the queue, consumed and
 * freed by the sink thread. */
struct wb_batch {
	struct wb_batch *next; /* queue link */
	size_t queued_bytes;   /* wb_batch_bytes when pushed (queue.c) */
	uint32_t n;
	uint32_t cap;
	struct wb_change *changes;
	struct wb_arena arena;
	/* the distinct tables the changes point to, one reference each: a
	 * reference per change would bounce the count's cache line between
	 * the source and sink threads on every row */
	struct wb_table **held;
	uint32_t nheld;
	uint32_t capheld;
	/* buffers the batch owns (wb_batch_adopt), freed with its arena */
	void **owned;
	uint32_t nowned;
	uint32_t capowned;
	size_t owned_bytes;
};

struct wb_batch *wb_batch_new(void);
/* Appends a change slot (zeroed) and returns it, or NULL when out of memory. */
struct wb_change *wb_batch_add(struct wb_batch *b);
/* Makes the batch hold a reference to t for its changes' lifetime (one per
 * distinct table) and returns t; NULL when out of memory. */
struct wb_table *wb_batch_hold(struct wb_batch *b, struct wb_table *t);
/* Makes the batch own p (n bytes from malloc) until it is reset or freed,
 * so that its values may point into p (a large source message read whole,
 * not copied into the arena); p counts in wb_batch_bytes meanwhile. Returns
 * 0, or -1 when out of memory (p not taken). */
int wb_batch_adopt(struct wb_batch *b, void *p, size_t n);
/* Values array for ncols columns in the arena, zeroed (all NULL). */
struct wb_value *wb_batch_values(struct wb_batch *b, int ncols);
/* Bytes the batch accounts for: its arena, the buffers it owns and the
 * changes it holds (not
 * the capacity it keeps for reuse; an empty batch counts 0). */
size_t wb_batch_bytes(const struct wb_batch *b);
/* Empties b for reuse: releases table references, keeps its memory. */
void wb_batch_reset(struct wb_batch *b);
/* Releases table references and memory. Accepts NULL. */
void wb_batch_free(struct wb_batch *b);

#endif
