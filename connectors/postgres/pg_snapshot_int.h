/* pg_snapshot_int.h — what the snapshot's files share (private to
 * connectors/postgres/pg_snapshot*.c): the round's tables, their parts,
 * readers and marks, and the functions one file gives the others.
 *   pg_snapshot.c        rounds: readers, COPY and keyset chunks, emitting
 *   pg_snapshot_sql.c    the queries: column lists, bounds, splitting
 *   pg_snapshot_state.c  the progress the checkpoint keeps: parts, marks
 *                        made durable, restore and state */
#ifndef WB_PG_SNAPSHOT_INT_H
#define WB_PG_SNAPSHOT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "arena.h"
#include "pg_copy.h"
#include "pg_snapshot.h"
#include "table.h"

/* A key range of a table that one reader reads at a time: the whole table,
 * or one of the parts of a table split between readers (see wb_pgsnap_split()).
 */
struct part {
	char *lo; /* rows with a key above this integer, NULL: from the start */
	char *hi; /* rows with a key up to this integer, NULL: to the end */
	/* durable progress: under mu */
	bool d_done;
	char **d_key;
	int d_nkey;
	int64_t d_rows;
	/* round state: source thread only */
	bool assigned;
	bool emitted_done;
	char *sql_copy; /* the range from its start, in key order */
	char *sql_next; /* the keyset chunk after $1.. (and up to hi) */
	char **cur_key; /* start key of the next query (NULL: from lo) */
	int64_t rows;	/* rows emitted, counting durable rows of earlier
			   runs */
};

struct snap_table {
	char *schema, *name, *full;
	uint64_t gen;	    /* under mu */
	int64_t estimate;   /* under mu */
	struct part *parts; /* under mu (the array; see struct part) */
	int np;
	/* round state: source thread only */
	bool pending;
	bool in_round;
	struct wb_table *table;
	bool binary; /* the COPY is binary */
	bool *bin;   /* binary: which columns come in binary (the rest are
			cast to text) */
	int nkeys;
	int *keycols;
};

struct mark {
	int table;
	int part;
	uint64_t gen;
	wb_position_t pos;
	bool done;
	char **key;
	int nkey;
	int64_t rows;
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
	bool ready_last;
};

struct wb_pg_snapshot {
	const struct wb_config *cfg;
	pthread_mutex_t mu;
	struct snap_table *t;
	int nt, capt;
	struct mark *marks;
	size_t nmarks, capmarks;
	uint64_t point;
	char point_text[32];

	/* round: source thread only */
	bool active;
	struct reader *r;
	int nr;
	int chunk;
	int64_t ts_us;
	uint64_t n;
	uint64_t rows_read; /* this process, every round */
	uint64_t round_rows;
	long long round_start_ms;
	long long last_progress_ms;
	int current; /* table last emitted from, for progress */
	bool tty;
	bool progress_shown;
	bool warned_type;
	int turn; /* reader served first by the next step (fairness) */
	struct wb_arena scratch; /* COPY fields with escapes, one row */
	struct wb_pg_copy_field *fields;
	int capfields;
};

static inline void free_key(char **key, int n)
{
	for (int i = 0; key && i < n; i++)
		free(key[i]);
	free(key);
}

static inline char **copy_key(char *const *key, int n)
{
	if (key == NULL || n == 0)
		return NULL;
	char **k = calloc((size_t)n, sizeof(*k));
	if (k == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
		if ((k[i] = strdup(key[i])) == NULL) {
			free_key(k, n);
			return NULL;
		}
	return k;
}

static inline int64_t table_rows(const struct snap_table *t)
{
	int64_t n = 0;
	for (int i = 0; i < t->np; i++)
		n += t->parts[i].rows;
	return n;
}

static inline bool table_emitted(const struct snap_table *t)
{
	for (int i = 0; i < t->np; i++)
		if (!t->parts[i].emitted_done)
			return false;
	return true;
}

/* pg_snapshot_state.c */
/* Frees a part's round state (queries, cursor) and makes it unassigned. */
void wb_pgsnap_part_clear_round(struct part *pt, int nkeys);
/* Frees np parts (round state with keys of nkeys columns, and progress). */
void wb_pgsnap_parts_free(struct part *parts, int np, int nkeys);
/* Makes t one part again, the whole table, with no progress; call with mu
 * held, outside the table's round. false when out of memory. */
bool wb_pgsnap_whole_table(struct snap_table *t);
/* Whether s is a decimal int64 (into *v), as bounds are written. */
bool wb_pgsnap_int_text(const char *s, long long *v);

/* pg_snapshot_sql.c */
/* One key column, an integer: what wb_pgsnap_split() can divide. */
bool wb_pgsnap_integer_key(const struct snap_table *t);
/* Splits a fresh table read by several readers into key ranges (see the
 * function); a no-op when that does not apply. */
int wb_pgsnap_split(struct wb_pg_snapshot *sn, PGconn *conn,
		    struct snap_table *t, wb_error_t *err);
/* Builds each part's COPY and keyset query for table ti (its wb_table,
 * keys and parts set). */
int wb_pgsnap_build_sql(struct wb_pg_snapshot *sn, PGconn *conn, int ti,
			wb_error_t *err);
/* Sets a part's COPY bounds in the reader's transaction. */
int wb_pgsnap_set_bounds(struct snap_table *t, struct part *pt,
			 struct reader *r, wb_error_t *err);

#endif
