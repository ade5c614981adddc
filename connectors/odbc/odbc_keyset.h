/* odbc_keyset.h — keyset delete detection wired into the ODBC source
 * (odbc_keyset.c): the emitted-key store kept with the checkpoint, passes
 * between polls. Every function does nothing when deletes.detect is not
 * keyset. */
#ifndef WB_ODBC_KEYSET_H
#define WB_ODBC_KEYSET_H

#include <stdbool.h>

#include "change.h"
#include "error.h"
#include "position.h"
#include "source.h"

struct wb_odbc_source;
struct wb_odbc_tab;

/* open(): opens <checkpoint_dir>/<name>.keys.sqlite and reconciles it with
 * the checkpoint (resume). */
int wb_odbc_keyset_open(struct wb_odbc_source *s,
			const struct wb_source_resume *resume, wb_error_t *err);
/* Closes the store (an open transaction is dropped). */
void wb_odbc_keyset_close(struct wb_odbc_source *s);
/* Source thread: change c of table t was appended to the batch. */
int wb_odbc_keyset_emitted(struct wb_odbc_source *s, struct wb_odbc_tab *t,
			   const struct wb_change *c, wb_error_t *err);
/* Source thread: the changes of round were cut from the batch. */
void wb_odbc_keyset_round_aborted(struct wb_odbc_source *s, uint64_t round);
/* Sink thread, from state(): everything up to durable is delivered and its
 * checkpoint is about to be written: commits the store. A failure is
 * logged and stops the next poll. */
void wb_odbc_keyset_durable(struct wb_odbc_source *s,
			    const wb_position_t *durable);
/* ack(): the checkpoint at pos is written. */
void wb_odbc_keyset_acked(struct wb_odbc_source *s, const wb_position_t *pos);
/* Source thread, between polls: a delete pass over every keyed table when
 * deletes.interval has passed (at start: tables the store has keys of);
 * *ran tells whether one ran (its d events are in b). */
int wb_odbc_keyset_poll(struct wb_odbc_source *s, struct wb_batch *b, bool *ran,
			wb_error_t *err);

#endif
