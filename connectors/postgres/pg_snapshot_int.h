/* pg_snapshot_int.h — what the PostgreSQL snapshot's files share (private
 * to connectors/postgres/pg_snapshot*.c): its readers and the functions one
 * file gives the other. Tables, parts, marks and progress are the
 * database-independent tracker's (src/snapshot.h).
 *   pg_snapshot.c        rounds: readers, COPY and keyset chunks, emitting
 *   pg_snapshot_sql.c    the queries: column lists, bounds, the key range
 *                        of a table to split */
#ifndef WB_PG_SNAPSHOT_INT_H
#define WB_PG_SNAPSHOT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "arena.h"
#include "pg_copy.h"
#include "pg_snapshot.h"
#include "snapshot.h"

/* How a table of the round comes out of its COPY. */
struct pg_copy_cols {
	bool binary; /* the COPY is binary */
	bool *bin;   /* binary: which columns come in binary (the rest are
			cast to text) */
};

enum copy_state { COPY_NONE, COPY_STARTING, COPY_STREAMING };

struct reader {
	PGconn *conn;
	int table; /* table of the query in flight, -1 when none */
	int part;  /* and its part */
	bool busy;
	enum copy_state copy;
	int since_mark; /* COPY: rows emitted since the last chunk boundary */
	bool bin_first; /* binary COPY: the next message starts with the header
			 */
	PGresult *collecting;
	PGresult *ready; /* a chunk being emitted */
	int ready_table;
	int ready_part;
	int ready_row;
	int ready_marked; /* rows of ready covered by a mark */
	bool ready_last;
};

struct wb_pg_snapshot {
	const struct wb_config *cfg;
	struct wb_snapshot *s; /* tables, parts, marks, progress */
	int chunk;

	/* round: source thread only */
	struct reader *r;
	int nr;
	struct pg_copy_cols *cols; /* by table index, the round's tables */
	int ncols;
	bool warned_type;
	int turn; /* reader served first by the next step (fairness) */
	struct wb_arena scratch; /* COPY fields with escapes, one row */
	struct wb_pg_copy_field *fields;
	int capfields;
};

/* pg_snapshot_sql.c */
/* The smallest and largest key of table ti (one integer column) in the
 * snapshot: *range false when the table is empty or the values are not
 * integers. */
int wb_pgsnap_key_range(struct wb_pg_snapshot *sn, PGconn *conn, int ti,
			bool *range, long long *lo, long long *hi,
			wb_error_t *err);
/* Builds each part's COPY and keyset query for table ti (opened, its
 * parts ready), and chooses the columns its COPY reads in binary. */
int wb_pgsnap_build_sql(struct wb_pg_snapshot *sn, PGconn *conn, int ti,
			wb_error_t *err);
/* Sets a part's COPY bounds in the reader's transaction. */
int wb_pgsnap_set_bounds(const struct wb_snapshot_table *t,
			 const struct wb_snapshot_part *pt, struct reader *r,
			 wb_error_t *err);

#endif
