/* pg_snapshot.h — PostgreSQL table snapshots: COPY and keyset chunk
 * readers under an exported snapshot, on the database-independent tracker
 * of src/snapshot.h (parts, row positions, durable progress, restore).
 *
 * A snapshot round reads a set of tables under one exported snapshot taken
 * at stream point P, and emits their rows as op 'r' at positions (P - 1, n),
 * n = 1, 2, ... in emission order. Progress per table (done, last key of
 * the last emitted chunk, rows) becomes durable as the pipeline reports
 * durable positions, so a crash resumes after the last durable chunk.
 *
 * Threads: the source thread drives rounds (begin, step, end); any thread
 * may call durable()/state(); they share a mutex inside. */
#ifndef WB_PG_SNAPSHOT_H
#define WB_PG_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "change.h"
#include "config.h"
#include "error.h"
#include "pg_catalog.h"
#include "position.h"

struct wb_pg_snapshot;

struct wb_pg_snapshot *wb_pg_snapshot_new(const struct wb_config *cfg);
void wb_pg_snapshot_free(struct wb_pg_snapshot *sn); /* accepts NULL */

/* Restores progress from a checkpoint's source state (the object state()
 * returned). Tables not done become pending. Unknown shapes are ignored. */
int wb_pg_snapshot_restore(struct wb_pg_snapshot *sn, json_t *state,
			   wb_error_t *err);

/* Marks "schema.table" for a snapshot from scratch (forgetting progress). */
int wb_pg_snapshot_add(struct wb_pg_snapshot *sn, const char *schema,
		       const char *name, wb_error_t *err);

/* True when some table still needs reading. */
bool wb_pg_snapshot_pending(struct wb_pg_snapshot *sn);
/* True while a round is open (between begin and end). */
bool wb_pg_snapshot_active(struct wb_pg_snapshot *sn);

/* Opens a round for the pending tables: describes them with the catalog
 * (targets: the tables the configuration captures; a pending table no
 * longer among them is dropped with a warning), opens up to parallelism
 * reader connections, each in a REPEATABLE READ transaction that imports
 * snapshot `snapshot_name`, and sends their first queries. point = P. */
int wb_pg_snapshot_begin(struct wb_pg_snapshot *sn, struct wb_pg_catalog *cat,
			 const struct wb_pg_reltarget *targets, int ntargets,
			 const char *snapshot_name, uint64_t point,
			 wb_error_t *err);

/* Emits snapshot rows into b until it holds about target_bytes, or until
 * no chunk completed within timeout_ms. *last is the last position the
 * source produced; it is advanced past every emitted row (and is the
 * durability mark of a table that ends without a row). Sets *complete
 * when every table of the round is read and emitted. */
int wb_pg_snapshot_step(struct wb_pg_snapshot *sn, struct wb_batch *b,
			size_t target_bytes, int timeout_ms,
			wb_position_t *last, bool *complete, wb_error_t *err);

/* The next position of the open round, (P - 1, n + 1), for an event the
 * source emits at the round's point before its rows (a truncate that ends
 * the series of a table that is gone). */
wb_position_t wb_pg_snapshot_next_position(struct wb_pg_snapshot *sn);

/* Closes the round's reader connections; logs the summary. */
void wb_pg_snapshot_end(struct wb_pg_snapshot *sn);

/* Everything up to durable is delivered: the progress of chunks emitted at
 * or before it becomes durable. */
void wb_pg_snapshot_durable(struct wb_pg_snapshot *sn,
			    const wb_position_t *durable);
/* The durable progress as JSON (caller owns), or NULL when no table was
 * ever snapshotted: wb_snapshot_state()'s format, with "point" the LSN
 * ("X/Y") and tables keyed "schema.table". */
json_t *wb_pg_snapshot_state(struct wb_pg_snapshot *sn);

/* Rows read from the server by this process (all rounds). */
uint64_t wb_pg_snapshot_rows_read(struct wb_pg_snapshot *sn);

#endif
