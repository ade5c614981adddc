/* sink.h — the seam every sink connector (avro-file, kafka) implements. */
#ifndef WB_SINK_H
#define WB_SINK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "position.h"
#include "table.h"

/* An Avro schema as the encoder produced it. */
struct wb_schema {
	char *json;	      /* full schema JSON (NUL-terminated) */
	char *canonical;      /* Parsing Canonical Form */
	uint64_t fingerprint; /* CRC-64-AVRO of canonical */
	/* CRC-64-AVRO of the full JSON: the schema's identity. Two schemas
	 * with one fingerprint can differ in what a reader needs (logicalType,
	 * precision, scale are not in the canonical form); they never share
	 * an identity. Compare identities, not fingerprints, to decide
	 * whether a schema changed. */
	uint64_t identity;
	char *full_name; /* e.g. "wms1.public.stock_move_envelope" */
};

/* One encoded event handed to a sink. Everything is valid only for the
 * duration of the write call; the sink copies what it keeps. */
struct wb_event {
	const struct wb_table *table;
	const char *topic; /* <topic_prefix>.<schema>.<table> */
	const struct wb_schema *key_schema;
	const struct wb_schema *value_schema;
	const uint8_t *key; /* Avro binary of the key record */
	size_t key_len;
	const uint8_t
		*value; /* Avro binary of the envelope; NULL = tombstone */
	size_t value_len;
	/* An envelope holding a large value is given in parts instead, not
	 * copied into one buffer (the value's bytes stay where the source
	 * put them): value is then NULL, value_len the parts' total, and the
	 * envelope is value_parts[0..nvalue_parts) in order. */
	const struct wb_span *value_parts;
	size_t nvalue_parts;
	/* A key-changing update also carries the key before the change and a
	 * delete envelope (op d, before = the old image) for that old key;
	 * both NULL otherwise. */
	const uint8_t *old_key;
	size_t old_key_len;
	/* the schema of old_key when it differs from key_schema (the table's
	 * key changed), else NULL */
	const struct wb_schema *old_key_schema;
	const uint8_t *old_value;
	size_t old_value_len;
	wb_position_t pos;
	const char *position; /* text form */
	const char *event_id;
	uint8_t op;
	/* A canonical event or a dead letter (mappings): `topic` is the
	 * destination as given (not derived from the table), the op is 'c'
	 * (never a tombstone), correlation_id (or NULL) goes into the
	 * waybill.correlation_id header and mapping into waybill.mapping. */
	bool direct_topic;
	const char *correlation_id;
	/* the mapping that produced it, "<name> <version> <file hash>"
	 * (the waybill.mapping header), or NULL */
	const char *mapping;
};

/* Whether ev carries an envelope (in one piece or in parts); not: a
 * tombstone. */
static inline bool wb_event_has_value(const struct wb_event *ev)
{
	return ev->value != NULL || ev->nvalue_parts > 0;
}

/* Called by a sink (on the sink thread, from write/poll/flush) when every
 * event up to and including pos has been delivered. */
typedef void (*wb_delivered_fn)(void *opaque, const wb_position_t *pos);

struct wb_sink_ops;

/* Base struct: each connector embeds it as its first member. */
struct wb_sink {
	const struct wb_sink_ops *ops;
	const struct wb_config *cfg;
	wb_delivered_fn delivered;
	void *delivered_opaque;
	/* Set when the user asked to stop: a write blocked on a full producer
	 * queue gives up (retriable error) instead of waiting forever. */
	const volatile sig_atomic_t *stop;
	/* Set by the pipeline (NULL elsewhere; called with delivered_opaque):
	 * a transactional sink calls it once per transaction, just before it
	 * commits, with `where` describing the commit (what resolve() needs);
	 * the pipeline then writes the checkpoint with the state the commit
	 * makes durable as pending (checkpoint.h). An error: no commit. */
	int (*before_commit)(void *opaque, json_t *where, wb_error_t *err);
	/* Set by the pipeline before each poll(): true when no change waits
	 * in the queue, so that a sink may deliver what it holds without
	 * slowing a backlog down (avro-file: flush_interval). */
	bool idle;
	/* Set by a sink whose writes are delivered only by a checkpoint's
	 * flush (a Kafka transaction, committed there): while something
	 * written is undelivered the pipeline checkpoints at least this often
	 * (ms), also in a steady stream that never leaves the queue empty.
	 * 0: the sink delivers on its own (the checkpoint interval rules). */
	int commit_every_ms;
};

struct wb_sink_ops {
	const char *name;
	struct wb_sink *(*create)(const struct wb_config *cfg, wb_error_t *err);
	/* Opens the sink. `state` is what state() returned at the last durable
	 * checkpoint (NULL when there is none): the sink restores itself to it
	 * (the avro-file sink truncates files to their checkpointed length). */
	int (*open)(struct wb_sink *k, json_t *state, wb_error_t *err);
	/* Accepts one event, possibly asynchronously. */
	int (*write)(struct wb_sink *k, const struct wb_event *ev,
		     wb_error_t *err);
	/* Serves delivery reports for up to timeout_ms. */
	int (*poll)(struct wb_sink *k, int timeout_ms, wb_error_t *err);
	/* Makes events written so far delivered and durable, waiting at most
	 * timeout_ms (0: only serve what is ready — the periodic checkpoint
	 * uses 0 so an asynchronous sink never stalls the stream). Returns 0
	 * when every written event is delivered, WB_ERR_RUNTIME with
	 * retriable set when some are still in flight at the deadline, or
	 * another error for a delivery that failed for good. Synchronous
	 * sinks (avro-file) ignore the timeout and deliver everything. */
	int (*flush)(struct wb_sink *k, int timeout_ms, wb_error_t *err);
	/* State to store in the checkpoint, consistent with the last flush.
	 * Caller owns the reference. NULL if the sink keeps none. */
	json_t *(*state)(struct wb_sink *k);
	/* Called after a checkpoint holding state() is durable. */
	int (*checkpointed)(struct wb_sink *k, wb_error_t *err);
	/* Clean stop: completes what it can (files), after a final flush.
	 * The caller checkpoints state() afterwards and then calls
	 * checkpointed() once more. */
	int (*close)(struct wb_sink *k, wb_error_t *err);
	/* Optional (with before_commit): after open(), whether the commit
	 * that `where` (as given to before_commit) describes happened. */
	int (*resolve)(struct wb_sink *k, json_t *where, bool *committed,
		       wb_error_t *err);
	/* `waybill check`: one line per check to out; 0 when all are fine. */
	int (*check)(struct wb_sink *k, FILE *out, wb_error_t *err);
	void (*destroy)(struct wb_sink *k); /* accepts NULL */
};

const struct wb_sink_ops *wb_sink_lookup(const char *type);

extern const struct wb_sink_ops wb_avrofile_sink_ops;
extern const struct wb_sink_ops wb_kafka_sink_ops;

#endif
