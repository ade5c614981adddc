/* checkpoint.h — the durable position of a pipeline: one JSON file per name.
 *
 * File <dir>/<name>.json:
 *   {"version": 1, "position": "<source text>", "<ack_name>": "<source text>",
 *    "time": "<ISO-8601 UTC>", "sink": {...sink state...}}
 * Written as <name>.json.tmp, fsync, rename over <name>.json, fsync of the
 * directory: a reader sees the old or the new checkpoint, never a mix.
 *
 * A transactional sink (Kafka with transactions) has the pipeline write,
 * just before each commit, the checkpoint with a "pending" object beside
 * the last durable state:
 *   "pending": {"position": "<text>", "source": {...}, "sink": {...},
 *               "where": {...what the sink needs to tell whether the
 *                         commit happened...}}
 * that is, the checkpoint as it will be once the commit is done. A crash
 * between the commit and the checkpoint after it leaves the pending state
 * on disk; the next start asks the sink (resolve) whether the commit
 * happened and continues from the pending state if it did, from the
 * durable one if not. */
#ifndef WB_CHECKPOINT_H
#define WB_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "position.h"
#include "source.h"

struct wb_checkpoint {
	bool have;
	wb_position_t pos;
	uint64_t ack;
	json_t *sink;	/* owned; NULL when absent */
	json_t *source; /* owned; NULL when absent */
	char time[32];	/* when it was written, ISO-8601 UTC */
	/* the state after a commit that may or may not have happened */
	bool have_pending;
	wb_position_t pending_pos;
	json_t *pending_source; /* owned; NULL when absent */
	json_t *pending_sink;	/* owned; NULL when absent */
	json_t *pending_where;	/* owned; an object when have_pending */
};

/* Parses the text of a checkpoint file (len bytes, need not be
 * NUL-terminated) with the source's ops. Pure: no I/O, every field checked,
 * so it can be fuzzed. The file is corrupt (WB_ERR_RUNTIME, err says why,
 * *cp left empty) unless it is a JSON object with "version": 1, a position
 * and an ack (ops->ack_name) that parse and read back exactly as written
 * (hex digits in either case), an optional "time" string, and "source" and
 * "sink" each absent, null or an object. On success cp->have is true and
 * cp owns the state objects (wb_checkpoint_clear frees them). */
int wb_checkpoint_parse(const char *text, size_t len,
			const struct wb_source_ops *ops,
			struct wb_checkpoint *cp, wb_error_t *err);

/* Loads the checkpoint of `name` from dir. A missing file is not an error
 * (cp->have = false). A corrupt file is WB_ERR_RUNTIME naming the file. */
int wb_checkpoint_load(const char *dir, const char *name,
		       const struct wb_source_ops *ops,
		       struct wb_checkpoint *cp, wb_error_t *err);
/* Writes durably (see above). sink may be NULL. */
int wb_checkpoint_save(const char *dir, const char *name,
		       const struct wb_source_ops *ops,
		       const wb_position_t *pos, uint64_t ack, json_t *source,
		       json_t *sink, wb_error_t *err);
/* The same with a "pending" object (see above): pos/ack/source/sink the
 * durable state, ppos/psource/psink the state once the sink's commit is
 * done, where the sink's description of that commit. */
int wb_checkpoint_save_pending(const char *dir, const char *name,
			       const struct wb_source_ops *ops,
			       const wb_position_t *pos, uint64_t ack,
			       json_t *source, json_t *sink,
			       const wb_position_t *ppos, json_t *psource,
			       json_t *psink, json_t *where, wb_error_t *err);
void wb_checkpoint_clear(struct wb_checkpoint *cp);

/* A checkpoint writer: one thread that makes checkpoints durable (as
 * wb_checkpoint_save) while its caller goes on, so that the fsyncs of the
 * checkpoint file and its directory do not hold up delivery. One save at a
 * time; the caller learns its result from wb_checkpoint_writer_done and
 * only then treats the checkpoint as durable. Created and used by one
 * thread (the pipeline's sink thread). */
struct wb_checkpoint_writer;

/* Starts the thread. NULL with err filled when it cannot. */
struct wb_checkpoint_writer *
wb_checkpoint_writer_new(const char *dir, const char *name, wb_error_t *err);
/* Waits for a save in progress to end (its result is dropped), stops the
 * thread. Accepts NULL. */
void wb_checkpoint_writer_free(struct wb_checkpoint_writer *w);
/* Starts saving the checkpoint pos/ack/source/sink (sink may be NULL). The
 * file's text is made before it returns: the caller keeps its objects and
 * may change them. WB_ERR_RUNTIME when a save started earlier has not been
 * reported by wb_checkpoint_writer_done yet. */
int wb_checkpoint_writer_start(struct wb_checkpoint_writer *w,
			       const struct wb_source_ops *ops,
			       const wb_position_t *pos, uint64_t ack,
			       json_t *source, json_t *sink, wb_error_t *err);
/* Whether a save was started and not reported yet. */
bool wb_checkpoint_writer_busy(struct wb_checkpoint_writer *w);
/* Waits up to timeout_ms (0: not at all, -1: as long as it takes) for the
 * save started last. True when it ended, reported once: *rc is its result
 * (WB_OK: the checkpoint is durable; else err says why). False while it
 * is still being written, or when none was started. */
bool wb_checkpoint_writer_done(struct wb_checkpoint_writer *w, int timeout_ms,
			       int *rc, wb_error_t *err);

/* Creates dir if missing and takes an exclusive lock (<dir>/<name>.lock)
 * held until wb_checkpoint_unlock, so two processes never run the same
 * pipeline. Returns the lock fd (>= 0) or -1 with err filled. */
int wb_checkpoint_lock(const char *dir, const char *name, wb_error_t *err);
void wb_checkpoint_unlock(int fd);

#endif
