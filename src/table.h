/* table.h — a captured table's shape, shared by the source and sink threads. */
#ifndef WB_TABLE_H
#define WB_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "value.h"

struct wb_column {
	char *name;
	struct wb_type type;
	bool nullable;
	bool key; /* part of the primary key / replica identity */
};

/* One version of a table's shape. A change holds a reference to the version
 * it was decoded with, so an ALTER TABLE mid-stream gives new changes a new
 * version while queued ones keep theirs. Immutable once published, except
 * enc_cache, which only the encoding (sink) thread touches. */
struct wb_table {
	atomic_int refs;
	uint64_t id; /* unique within the process: new for every version */
	char *db;
	char *schema;
	char *name;
	int ncols;
	struct wb_column *cols;
	uint32_t src_id; /* source's table id (PG relation OID) */

	/* metrics registry slot + 1 (metrics.c); 0 until first looked up */
	atomic_int metrics_slot;

	void *enc_cache; /* encoder state; freed with enc_cache_free */
	void (*enc_cache_free)(void *);
};

/* Returns a table with ncols zeroed columns and one reference, or NULL. The
 * strings are copied. */
struct wb_table *wb_table_new(const char *db, const char *schema,
			      const char *name, int ncols);
/* Sets column i (name copied). */
int wb_table_set_column(struct wb_table *t, int i, const char *name,
			const struct wb_type *type, bool nullable, bool key);
/* A new version with the same shape (new id, no encoder state, one
 * reference), for a change of a column's properties; NULL when out of
 * memory. */
struct wb_table *wb_table_copy(const struct wb_table *t);
struct wb_table *wb_table_ref(struct wb_table *t);
/* Drops a reference; frees at zero. Accepts NULL. */
void wb_table_unref(struct wb_table *t);
/* Number of key columns. */
int wb_table_nkeys(const struct wb_table *t);

#endif
