/* pg_slot.h — the replication slot against the checkpoint, one judgement for
 * `waybill run` (at start and at every reconnect), `check` and `status`: a
 * position the stream cannot continue from (a gap) is never skipped. */
#ifndef WB_PG_SLOT_H
#define WB_PG_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "config.h"
#include "error.h"
#include "position.h"

/* The slot as pg_replication_slots shows it, and the server's position. */
struct wb_pg_slot {
	bool exists;
	bool active;	     /* a walsender (a running pipeline) holds it */
	bool foreign;	     /* not a pgoutput slot of the connected database */
	bool lost;	     /* wal_status = 'lost' */
	char wal_status[16]; /* "" when unknown (before PostgreSQL 13) */
	bool has_confirmed;  /* confirmed_flush_lsn is not null */
	uint64_t confirmed;  /* confirmed_flush_lsn */
	uint64_t current;    /* the server's WAL position now */
	char current_text[32];
};

/* Reads the slot `slot` and the server's WAL position over conn (works on
 * PostgreSQL 10+; wal_status from 13 on). */
int wb_pg_slot_read(PGconn *conn, const char *slot, struct wb_pg_slot *v,
		    wb_error_t *err);

/* Whether the slot can continue a checkpoint (have: one exists; ack: the
 * LSN up to which it holds every change, see wb_pg_slot_checkpoint_ack).
 * Returns "ok", "missing", "lost", "ahead" or "no_checkpoint"; unless ok,
 * problem gets one line: what happened, the LSN range at risk and the ways
 * out (which name cfg's file). */
const char *wb_pg_slot_problem(const struct wb_config *cfg, bool have,
			       uint64_t ack, const struct wb_pg_slot *v,
			       char *problem, size_t n);

/* The LSN up to which a checkpoint holds every change: its ack, or for a
 * checkpoint that holds only snapshot rows at (P - 1, n) and no ack, P. */
uint64_t wb_pg_slot_checkpoint_ack(bool have, uint64_t ack,
				   const wb_position_t *pos);

/* `waybill slot list` and `waybill slot drop` (wb_source_ops slot_list,
 * slot_drop): connect with the pipeline's DSN, no replication connection. */
struct wb_source;
int wb_pg_slot_list(struct wb_source *s, FILE *out, wb_error_t *err);
int wb_pg_slot_drop(struct wb_source *s, const char *name, wb_error_t *err);

#endif
