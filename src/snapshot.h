/* snapshot.h — what every source's table snapshot shares: the tables and
 * their key-range parts, which part a reader takes next, the position of
 * each emitted row, the marks that become durable as the pipeline reports
 * durable positions, the progress the checkpoint keeps (and restores), and
 * the progress line. Database-independent: a table is its full name
 * ("schema.table", "db.table"), a key is an array of text values, positions
 * are wb_position_t. A full name is qualified (it holds a dot); restore()
 * ignores any other.
 *
 * Files: snapshot_progress.c (tables, parts, marks, durable(), state(),
 * restore()), snapshot_plan.c (integer key ranges split into parts, the
 * part a reader takes next), snapshot_round.c (a round: tables opened,
 * rows and their positions, chunk ends, the progress line).
 *
 * What a source supplies
 *   - its consistent point P: a stream position (major P) at which a
 *     transaction-consistent view of every table can be read, and that
 *     view (PostgreSQL: a slot's exported snapshot imported by each
 *     reader; MySQL: START TRANSACTION WITH CONSISTENT SNAPSHOT on each
 *     reader, with the binlog position read under the shortest lock the
 *     server offers);
 *   - the description of each table (a struct wb_table whose key columns
 *     are flagged) and its row count estimate;
 *   - for a part, the SQL from the part's start and the SQL for the chunk
 *     after a key: rows with key > cur_key (and <= hi for a bounded part)
 *     in key order, chunk_rows at most; values always as bound
 *     parameters. A table split into parts has one integer key column,
 *     and the part's lo/hi are decimal integers as text;
 *   - its readers (connections) and the reading of their rows into
 *     changes: the values of wb_snapshot_row()'s change, and the text of
 *     each chunk's last key.
 *
 * What the module gives
 *   - which tables need reading (pending), from add() or restore();
 *   - the parts of each table: the whole table, or, with parallelism > 1
 *     and an integer key, equal key ranges (split_wanted(), split());
 *   - which part a free reader reads next (take_part());
 *   - the position of each emitted row: (P - 1, n), n = 1, 2, ... in
 *     emission order within the round, and the change envelope (op 'r',
 *     snapshot, table held by the batch, commit time = the round's start);
 *   - marks: after a chunk's last row (chunk_end()), its part's key, rows
 *     and done at that row's position; durable() applies the marks at or
 *     below a durable position, state() writes them for the checkpoint,
 *     restore() reads them back and the next round resumes each part
 *     after its durable key (cur_key) or skips it when done;
 *   - the log: split, table finished, the rate-limited progress line with
 *     ETA, the round's summary.
 *
 * Hand-off to the stream (the source's part, the rules fixed here): the
 * rows of a round at P are emitted at (P - 1, n), below every stream
 * position of a transaction committing at or after P and above every one
 * before it. So the source emits the stream up to P first, then holds the
 * first transaction committing at or after P (or learns, while idle, that
 * the stream is past P) and emits the round's rows before it; only when
 * round_complete() does the stream go on. An event the source adds at the
 * point before the rows (a truncate ending a table that is gone) takes
 * next_position(). A table that ends without a row takes the source's last
 * position as its mark.
 *
 * Sequence of a round (source thread):
 *   round_open(P) → for each pending table: table_skip() (no longer
 *   captured) or table_open() [split_wanted() → min/max of the key →
 *   split()] table_ready() and the source's SQL for each part →
 *   round_readers() readers opened → round_start() → steps: take_part()
 *   for each free reader; row() for each row; chunk_end() after each
 *   chunk; progress() → round_complete() → round_end().
 *
 * Threads: the source thread drives everything but durable() and state(),
 * which any thread may call; they share a mutex inside. The structs below
 * are read by the source thread without the mutex (only that thread
 * changes them, under it). */
#ifndef WB_SNAPSHOT_H
#define WB_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "change.h"
#include "error.h"
#include "position.h"
#include "table.h"

/* A key range of a table that one reader reads at a time: the whole table,
 * or one of the parts of a table split between readers. */
struct wb_snapshot_part {
	/* Rows with a key above lo and up to hi (decimal integers as text;
	 * NULL: open). Set by the module. */
	char *lo;
	char *hi;
	/* Round state, source thread only. */
	/* The key (the table's nkeys values) after which the next chunk
	 * starts; NULL: from the part's start. Set by table_ready(); the
	 * source moves it to the last key of each chunk it has received
	 * (wb_snapshot_part_resume_after()). */
	char **cur_key;
	/* The source's statements for this part (from its start; the chunk
	 * after cur_key), built after table_ready(); owned by the part,
	 * freed with its round state. */
	char *sql_start;
	char *sql_next;
	int64_t rows;	   /* emitted, counting durable rows of earlier runs */
	bool assigned;	   /* a reader took it (module) */
	bool emitted_done; /* its last row is emitted (module) */
	/* Durable progress: the module's, under its mutex. */
	bool d_done;
	char **d_key;
	int d_nkey;
	int64_t d_rows;
};

struct wb_snapshot_table {
	char *full;    /* the name the checkpoint keys it by */
	bool pending;  /* needs reading (module) */
	bool in_round; /* opened in the current round (module) */
	/* Round state set by table_open(), source thread only. */
	struct wb_table *table; /* one reference */
	int nkeys;
	int *keycols; /* indexes of the key columns, in column order */
	/* Under the module's mutex (the source thread reads them freely). */
	struct wb_snapshot_part *parts;
	int np;
	uint64_t gen;	  /* new for every snapshot from scratch */
	int64_t estimate; /* rows, -1 when unknown */
};

struct wb_snapshot;

/* component names the log lines ("postgres"); chunk_rows <= 0 means
 * 10000; parallelism is the number of readers wanted (<= 1: one, no
 * split). NULL when out of memory. */
struct wb_snapshot *wb_snapshot_new(const char *component, int chunk_rows,
				    int parallelism);
void wb_snapshot_free(struct wb_snapshot *sn); /* accepts NULL */

int wb_snapshot_chunk_rows(const struct wb_snapshot *sn);

/* ------------------------------------------------- tables and progress */

/* Marks the table for a snapshot from scratch (forgetting its progress;
 * marks of its earlier rounds are void). May be called during a round. */
int wb_snapshot_add(struct wb_snapshot *sn, const char *full, wb_error_t *err);

/* Restores progress from the object state() returned (a checkpoint's).
 * Tables not done become pending; parts that are not a split of an
 * integer key are dropped (the table is read from its start, with a
 * warning). Unknown shapes are ignored. */
int wb_snapshot_restore(struct wb_snapshot *sn, json_t *state, wb_error_t *err);

/* The durable progress as JSON (caller owns), or NULL when no table was
 * ever snapshotted. Format:
 *   {"point": "<P as text>", "tables": {"<full>": {"done": bool,
 *    "rows": N, "estimate": N, "key": ["text", ...] | null,
 *    "parts": [{"hi": "N" | null, "done": bool, "rows": N,
 *               "key": [...] | null}, ...]  (only for a split table)}}} */
json_t *wb_snapshot_state(struct wb_snapshot *sn);

/* Everything up to durable is delivered: the marks at or below it are
 * applied, in emission order, to their parts' durable progress. */
void wb_snapshot_durable(struct wb_snapshot *sn, const wb_position_t *durable);

/* True when some table still needs reading. */
bool wb_snapshot_pending(const struct wb_snapshot *sn);
/* True between round_start() and round_end(). */
bool wb_snapshot_active(const struct wb_snapshot *sn);

/* The tables, by index (stable: tables are only ever appended). The
 * pointer is valid until the next add() or restore(). */
int wb_snapshot_ntables(const struct wb_snapshot *sn);
struct wb_snapshot_table *wb_snapshot_table(struct wb_snapshot *sn, int ti);

/* Frees a key of n values; accepts NULL. */
void wb_snapshot_key_free(char **key, int n);

/* ---------------------------------------------------------------- round */

/* Opens a round at consistent point P (major of its stream position) and
 * its text, which state() records as "point". */
void wb_snapshot_round_open(struct wb_snapshot *sn, uint64_t point,
			    const char *point_text);

/* A pending table the source no longer captures: logged, and done. */
void wb_snapshot_table_skip(struct wb_snapshot *sn, int ti);

/* Gives pending table ti its description (takes the reference, also on
 * failure) and row estimate (-1: unknown). A table split in an earlier
 * run whose key is no longer one integer column is read again from its
 * start. */
int wb_snapshot_table_open(struct wb_snapshot *sn, int ti,
			   struct wb_table *table, int64_t estimate,
			   wb_error_t *err);

/* Whether an opened table should be split between readers: it is read
 * from its start, its key is one integer column (wb_snapshot_integer_key)
 * and its estimate holds at least two chunks. The number of parts (up to
 * parallelism, at most one per chunk), 0 for no split. */
int wb_snapshot_split_wanted(struct wb_snapshot *sn, int ti);

/* Splits table ti into `parts` equal ranges of its key between the
 * smallest (lo) and largest (hi) key in the snapshot; the first is open
 * below and the last above, so the split covers every key. A no-op when
 * the range is too small to divide. The parts go into the checkpoint, so
 * a resumed table keeps them. */
int wb_snapshot_split(struct wb_snapshot *sn, int ti, long long lo,
		      long long hi, int parts, wb_error_t *err);

/* Sets up each part's round state from its durable progress (a done part
 * is skipped, a part with a durable key resumes after it, any other
 * starts from its start) and puts the table in the round. */
int wb_snapshot_table_ready(struct wb_snapshot *sn, int ti, wb_error_t *err);

/* The rows of the round must sort after pos, the position the pipeline
 * resumes from: when pos is a row of a round at this round's point (the
 * source found the same point again, e.g. a MySQL server that wrote
 * nothing since), the numbering continues after it instead of from 1,
 * which the pipeline would skip as already delivered. Call after
 * round_open(), before round_start(). */
void wb_snapshot_round_after(struct wb_snapshot *sn, const wb_position_t *pos);

/* The readers the round needs: parallelism, at most one per part left. */
int wb_snapshot_round_readers(const struct wb_snapshot *sn);

/* The readers are ready: the round starts (counters, clock). */
void wb_snapshot_round_start(struct wb_snapshot *sn);

/* The next part of the round no reader has taken, marked taken; false
 * when none is left. */
bool wb_snapshot_take_part(struct wb_snapshot *sn, int *ti, int *pi);
/* Whether take_part() would give one. */
bool wb_snapshot_parts_waiting(const struct wb_snapshot *sn);

/* Sets part (ti, pi)'s cur_key to key (takes it; nkeys values). */
void wb_snapshot_part_resume_after(struct wb_snapshot *sn, int ti, int pi,
				   char **key);

/* Appends the change of the next row of part (ti, pi) to b: op 'r',
 * snapshot, the table (held by b), position (P - 1, n), the round's
 * commit time; the source fills in `after`. Counts the row. NULL when out
 * of memory. */
struct wb_change *wb_snapshot_row(struct wb_snapshot *sn, int ti, int pi,
				  struct wb_batch *b);

/* After the last row of a chunk of part (ti, pi), at position last (the
 * source's last position when the part ends without a row): key is the
 * chunk's last key (taken; NULL for a table without a key), done whether
 * the part has no more rows. Queues the mark (none for a chunk of a table
 * without a key, which can only restart from its start); logs a table
 * that is finished. */
int wb_snapshot_chunk_end(struct wb_snapshot *sn, int ti, int pi,
			  const wb_position_t *last, char **key, bool done,
			  wb_error_t *err);

/* Rows read from the server (emitted or not), for the round's summary. */
void wb_snapshot_count_read(struct wb_snapshot *sn, uint64_t rows);
/* Rows read by this process, every round. */
uint64_t wb_snapshot_rows_read(const struct wb_snapshot *sn);

/* Prints the progress line when it is due: every 500 ms on a terminal
 * (rewritten in place), every 5 s in the log. */
void wb_snapshot_progress(struct wb_snapshot *sn);

/* True when every part of the round's tables is emitted. */
bool wb_snapshot_round_complete(const struct wb_snapshot *sn);

/* The next position of the round, (P - 1, n + 1), for an event the source
 * emits at the point besides the rows. */
wb_position_t wb_snapshot_next_position(struct wb_snapshot *sn);

/* Ends the round: the summary line, round state freed. A no-op when no
 * round is active. */
void wb_snapshot_round_end(struct wb_snapshot *sn);

/* ------------------------------------------------------------- planning */

/* One key column, an integer: what split() divides by value. */
bool wb_snapshot_integer_key(const struct wb_snapshot_table *t);

/* Whether s is a decimal int64 (into *v), as part bounds are written. */
bool wb_snapshot_int_text(const char *s, long long *v);

#endif
