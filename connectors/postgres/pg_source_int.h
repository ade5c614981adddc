/* pg_source_int.h — the PostgreSQL source's state, shared by its files:
 * pg_source.c (the stream), pg_publication.c (the publication and what
 * may be published), pg_slot.c (the slot against the checkpoint: gaps),
 * pg_tables.c (tables that appear and disappear). Not a public interface. */
#ifndef WB_PG_SOURCE_INT_H
#define WB_PG_SOURCE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "change.h"
#include "pg_catalog.h"
#include "pg_slot.h"
#include "snapshot_request.h"
#include "pg_snapshot.h"
#include "pg_wire.h"
#include "source.h"

struct pg_rel {
	uint32_t oid;
	bool captured;
	struct wb_table *table;
};

struct pg_source {
	struct wb_source base;
	struct wb_pg_catalog cat;
	PGconn *repl;
	/* Without TLS or GSS encryption the stream is read and written on
	 * repl's socket itself (pg_wire.h), raw; libpq's reader otherwise. */
	bool raw;
	struct wb_pg_wire wire;
	bool mem_wait; /* raw: a large message waits for memory */
	/* the message being decoded is owned by the batch: string values
	 * point into it */
	bool borrow;
	char *slot;
	char *publication;

	struct pg_rel *rels;
	int nrels, caprels;
	int last_rel;

	/* current transaction */
	bool in_txn;
	uint64_t final_lsn;
	uint32_t xid;
	int64_t commit_ts_us;
	uint64_t ordinal;

	uint64_t received_lsn; /* highest walEnd seen */
	bool caught_up;
	/* caught_up and no snapshot pending, as of the end of the last
	 * poll: the one view of the source thread's state that other
	 * threads read (pg_caught_up) */
	atomic_bool caught_up_shared;
	bool got_data; /* data arrived since pg_poll last read the clock */
	/* the socket ran dry after data: the next wait is a short sleep
	 * (READ_COALESCE_US in pg_source.c), not a wait on the socket */
	bool coalesce;
	uint64_t server_end; /* server's WAL flush LSN when we last asked */
	long long last_status_ms;
	long long last_data_ms;
	uint64_t sent_flush;

	pthread_mutex_t mu; /* guards the durable fields */
	wb_position_t durable_pos;
	uint64_t durable_ack;
	uint64_t idle_candidate;
	bool warned_type;
	/* after a reconnect the server sends again what it sent before:
	 * changes at or below this were produced already */
	wb_position_t replay_upto;
	bool created_slot;   /* this process created the slot */
	atomic_bool acked;   /* a checkpoint was acknowledged */
	uint64_t slot_point; /* consistent point of a slot we created */
	/* where the slot stood when this process began streaming: the floor
	 * a reconnect checks the slot against */
	uint64_t open_ack;
	bool null_in_notnull; /* convert_tuple met a NULL the table's
				 version calls impossible */

	/* snapshots */
	struct wb_pg_reltarget *targets; /* captured tables */
	int ntargets;

	/* Tables appearing and disappearing. known: OID text -> "schema.
	 * table" of every captured table, kept in the checkpoint's source
	 * state; a table that is gone stays there until the truncate that
	 * ends its series is durable (under mu). */
	json_t *known;
	struct gone_table {
		uint32_t oid;
		struct wb_table *table; /* its last shape, or no columns */
		bool emitted;
		wb_position_t at; /* the truncate's position, once emitted */
	} * gone;
	int ngone;
	json_t *refused; /* OID text -> true: warned, not capturable */

	/* Tables whose key changed (pg_rekey.c): their rows are read again,
	 * each with its previous key, so that a keyed sink deletes the rows
	 * under the keys they had. Source thread only. */
	struct wb_pgsrc_rekey {
		char *full;	      /* "schema.table" */
		struct wb_table *old; /* the version before the change */
		bool in_round;	      /* the open round reads it */
	} * rekeys;
	int nrekeys;
	long long last_discover_ms;
	long long last_retained_ms; /* wb_pgsrc_slot_retained */
	struct wb_pg_snapshot *snap;
	PGconn *snap_conn;   /* holds the open round's exported snapshot */
	uint64_t snap_point; /* P of the open round */
	bool snap_ready;     /* the stream is at P: emit the rows */
	char *held;	     /* stream message held back at P (malloc'd) */
	int held_len;
	wb_position_t last_pos; /* last position produced */
	atomic_bool finished;
	struct wb_snapshot_request req; /* `waybill snapshot --tables` */
};

/* pg_publication.c */
int wb_pgsrc_check_identity(struct pg_source *s, struct wb_pg_reltarget *t,
			    int n, wb_error_t *err);
int wb_pgsrc_check_select(struct pg_source *s, const struct wb_pg_reltarget *t,
			  int n, wb_error_t *err);
int wb_pgsrc_ensure_publication(struct pg_source *s, struct wb_pg_reltarget *t,
				int n, bool *refused, wb_error_t *err);

/* pg_slot.c */
/* Reads how much WAL the slot retains (at most every 15 s) into the
 * waybill_source_slot_retained_wal_bytes metric; a failed query only
 * leaves the metric as it was. Source thread, catalog connection idle. */
void wb_pgsrc_slot_retained(struct pg_source *s);
int wb_pgsrc_find_gap(struct pg_source *s,
		      const struct wb_source_resume *resume,
		      const struct wb_pg_slot *si, wb_error_t *err);
int wb_pgsrc_drop_slot(struct pg_source *s, wb_error_t *err);

/* pg_rekey.c */
/* A Relation message replaced `old` by `now` (both captured versions of one
 * table): when the key columns differ, the table is read again (a snapshot
 * round) and its rows carry their old keys. Takes no reference it does not
 * keep. */
int wb_pgsrc_rekey_note(struct pg_source *s, struct wb_table *old,
			struct wb_table *now, wb_error_t *err);
/* A round begins / ends: which re-keyed tables it covers. */
void wb_pgsrc_rekey_round(struct pg_source *s, bool begin);
/* Gives the snapshot rows b->changes[n0..] of re-keyed tables their old
 * key (old_table, old_image). */
int wb_pgsrc_rekey_rows(struct pg_source *s, struct wb_batch *b, uint32_t n0,
			wb_error_t *err);
/* A streamed update or delete of a re-keyed table, before its rows are
 * read again: the change carries the row's old key too. */
int wb_pgsrc_rekey_change(struct pg_source *s, struct wb_batch *b,
			  struct wb_change *c, wb_error_t *err);
void wb_pgsrc_rekey_free(struct pg_source *s);

/* pg_sample.c: the source's sample op (source.h) */
int wb_pgsrc_sample(struct wb_source *base, struct wb_table *t, int limit,
		    struct wb_batch *b, wb_error_t *err);

/* pg_tables.c */
int wb_pgsrc_known_init(struct pg_source *s, const struct wb_source_resume *r,
			bool snapshot_new, wb_error_t *err);
int wb_pgsrc_discover(struct pg_source *s, wb_error_t *err);
bool wb_pgsrc_gone_pending(const struct pg_source *s);
int wb_pgsrc_emit_truncates(struct pg_source *s, struct wb_batch *b,
			    wb_error_t *err);
/* The known-tables list for the checkpoint (caller owns), after dropping the
 * tables whose truncate is durable at `durable`. Any thread. */
json_t *wb_pgsrc_known_state(struct pg_source *s, const wb_position_t *durable);

#endif
