/* checkpoint.h — the durable position of a pipeline: one JSON file per name.
 *
 * File <dir>/<name>.json:
 *   {"version": 1, "position": "<source text>", "<ack_name>": "<source text>",
 *    "time": "<ISO-8601 UTC>", "sink": {...sink state...}}
 * Written as <name>.json.tmp, fsync, rename over <name>.json, fsync of the
 * directory: a reader sees the old or the new checkpoint, never a mix. */
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
void wb_checkpoint_clear(struct wb_checkpoint *cp);

/* Creates dir if missing and takes an exclusive lock (<dir>/<name>.lock)
 * held until wb_checkpoint_unlock, so two processes never run the same
 * pipeline. Returns the lock fd (>= 0) or -1 with err filled. */
int wb_checkpoint_lock(const char *dir, const char *name, wb_error_t *err);
void wb_checkpoint_unlock(int fd);

#endif
