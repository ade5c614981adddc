/* source.h — the seam every source connector (postgres, mysql, odbc)
 * implements. */
#ifndef WB_SOURCE_H
#define WB_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "change.h"
#include "config.h"
#include "error.h"
#include "position.h"

struct wb_source_ops;

/* Base struct: each connector embeds it as its first member. */
struct wb_source {
	const struct wb_source_ops *ops;
	const struct wb_config *cfg;
	/* Set by the pipeline (NULL elsewhere): waits up to timeout_ms until
	 * `bytes` more fit in the memory queue_bytes allows beside what the
	 * queue and the sink hold. 1: they fit; 0: not yet; -1: stopping.
	 * A source calls it before it reads a message larger than a batch,
	 * so that one such row is in memory at a time. */
	int (*room)(void *opaque, size_t bytes, int timeout_ms);
	void *room_opaque;
};

/* What the checkpoint tells a source on start-up. */
struct wb_source_resume {
	bool have;	   /* false: no checkpoint yet */
	wb_position_t pos; /* last durable event position */
	uint64_t ack;	   /* last acknowledged value (PG: flush LSN) */
	json_t *state;	   /* what state() returned then; NULL if none */
	/* `run --resnapshot`: read every captured table again before
	 * streaming on (also the way past a gap) */
	bool resnapshot;
};

struct wb_source_ops {
	const char *name;
	/* Allocates the connector; no I/O. */
	struct wb_source *(*create)(const struct wb_config *cfg,
				    wb_error_t *err);
	/* Connects, verifies prerequisites, creates what is missing (slot,
	 * publication) and starts reading after `resume`. Configuration
	 * problems (unknown table, wal_level) fail with WB_ERR_CONFIG. */
	int (*open)(struct wb_source *s, const struct wb_source_resume *resume,
		    wb_error_t *err);
	/* Source thread. Appends decoded changes to b, in order, until b holds
	 * about target_bytes or no more input arrived within timeout_ms.
	 * Transaction boundaries come as BEGIN/COMMIT changes. Returns 0 or an
	 * error (retriable set where a reconnect may help). */
	int (*poll)(struct wb_source *s, struct wb_batch *b,
		    size_t target_bytes, int timeout_ms, wb_error_t *err);
	/* Source thread, while the queue is full: keep the connection alive
	 * (answer keepalives, send feedback) without reading ahead. */
	int (*keepalive)(struct wb_source *s, wb_error_t *err);
	/* Any thread: everything up to pos is durable, and `ack` (from a COMMIT
	 * change, 0 if none yet) may be acknowledged to the server. Only the
	 * source thread talks to the server; it sends this on its next turn. */
	void (*ack)(struct wb_source *s, const wb_position_t *pos,
		    uint64_t ack);
	/* Optional. Source thread, after poll() or keepalive() failed with a
	 * retriable error: connects again and continues from the durable
	 * position, never past a gap, producing nothing twice. 0 on success;
	 * an error with retriable set is worth another try later, one without
	 * stops the pipeline (gap, authentication, privilege). */
	int (*reconnect)(struct wb_source *s, wb_error_t *err);
	/* True when the source has read everything the server had at its last
	 * report (used by --stop-when-idle). */
	bool (*caught_up)(struct wb_source *s);
	/* Any thread: an ack value the source may confirm although no change
	 * carries it (PG: the end of WAL while the slot is idle or filtered),
	 * valid once everything the source has produced so far is durable; 0
	 * when there is none. The core stores it in the checkpoint before
	 * passing it back through ack(). May be NULL. */
	uint64_t (*idle_ack)(struct wb_source *s);
	/* Text form of a position, as the database prints it. */
	void (*format_position)(const wb_position_t *pos, char *buf, size_t n);
	/* Parses the text form; 0 on success. */
	int (*parse_position)(const char *text, wb_position_t *pos);
	/* Name of the ack value in checkpoints and status ("flush_lsn"). */
	const char *ack_name;
	/* Text form of an ack value (PG: LSN) and back. */
	void (*format_ack)(uint64_t ack, char *buf, size_t n);
	int (*parse_ack)(const char *text, uint64_t *ack);
	/* `waybill check`: connectivity, server settings, privileges. Writes
	 * one line per check to out ("ok ..." or "FAIL ...: <what fixes it>").
	 * Returns 0 when everything is in order. No open() needed. */
	int (*check)(struct wb_source *s, FILE *out, wb_error_t *err);
	/* `waybill status`: adds the source's view (server position, lag) to
	 * obj, given the durable resume point. No open() needed. */
	int (*status)(struct wb_source *s,
		      const struct wb_source_resume *resume, json_t *obj,
		      wb_error_t *err);
	/* Stops reading; sends a last feedback with the durable ack. */
	void (*close)(struct wb_source *s);
	void (*destroy)(struct wb_source *s); /* accepts NULL */
	/* Optional: the source's own progress (PG: snapshot chunks done) to
	 * store in the checkpoint, consistent with everything up to `durable`
	 * being delivered and nothing after it. Caller owns the reference. */
	json_t *(*state)(struct wb_source *s, const wb_position_t *durable);
	/* Optional: true once the source will produce nothing more (snapshot:
	 * initial_only done); the pipeline then drains, checkpoints and exits.
	 */
	bool (*finished)(struct wb_source *s);
	/* Optional (NULL if unsupported): the tables the configuration
	 * captures, with their current shapes, for `waybill schema`. Returns
	 * a NULL-terminated array of references the caller unrefs and frees. */
	struct wb_table **(*describe)(struct wb_source *s, wb_error_t *err);
	/* Optional (NULL: assumed complete): whether updates and deletes of
	 * table t carry every column in their before image (PostgreSQL:
	 * REPLICA IDENTITY FULL; MySQL: binlog_row_image FULL); when not, fix
	 * gets the statement that makes it so. *none_on_update (false
	 * unless set): updates carry no before image at all and deletes a
	 * complete one (a polling source); fix then says what to do instead.
	 * For mapping checks; may connect by itself like describe. */
	int (*before_image)(struct wb_source *s, const struct wb_table *t,
			    bool *complete, bool *none_on_update, char *fix,
			    size_t n, wb_error_t *err);
	/* Optional (NULL if unsupported): reads up to limit current rows of
	 * table t (a version describe() returned) with a plain query — no
	 * slot, no publication, no snapshot state, nothing written on the
	 * server — and appends them to b as op 'r' changes of t (table held
	 * by b, after image in t's columns, commit_ts_us 0, positions (0, 1),
	 * (0, 2), ...). For `waybill mapping preview`; may connect by itself
	 * like describe. */
	int (*sample)(struct wb_source *s, struct wb_table *t, int limit,
		      struct wb_batch *b, wb_error_t *err);
	/* Optional (NULL: the source has no replication slots): `waybill
	 * slot list` prints the server's replication slots to out, one line
	 * each, the pipeline's own marked. Connects by itself. */
	int (*slot_list)(struct wb_source *s, FILE *out, wb_error_t *err);
	/* `waybill slot drop`: drops the replication slot `name`; refuses
	 * one that is missing or that a process streams from (WB_ERR_RUNTIME,
	 * saying what to do). Connects by itself. */
	int (*slot_drop)(struct wb_source *s, const char *name,
			 wb_error_t *err);
};

/* Registry: the ops for a source type name, or NULL. */
const struct wb_source_ops *wb_source_lookup(const char *type);

extern const struct wb_source_ops wb_pg_source_ops;
extern const struct wb_source_ops wb_my_source_ops;
extern const struct wb_source_ops wb_odbc_source_ops;

#endif
