/* kafka_record.h — what the Kafka sink puts into and reads back from a
 * message, as pure functions: the partitioner, the read-back of the last
 * message of a partition, the cleanup policy check of _schemas. */
#ifndef WB_KAFKA_RECORD_H
#define WB_KAFKA_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "position.h"

/* Kafka's murmur2 (the Java client's Utils.murmur2, seed 0x9747b28c). */
uint32_t wb_kafka_murmur2(const void *data, size_t len);

/* The partition of a message: murmur2 of bytes, made positive (& 0x7fffffff)
 * modulo npart, as the Java client's default partitioner does with its key.
 * The sink passes the Avro binary of the key record WITHOUT the schema
 * framing, so the partition depends on the key values alone, not on the
 * schema id or fingerprint. npart must be > 0. */
int32_t wb_kafka_partition(const void *bytes, size_t len, int32_t npart);

/* The messages of one change, in the order they are produced; all share the
 * change's position. Within one position, the messages sent to one
 * partition are written in increasing step order. */
enum wb_kafka_step {
	/* under the row's previous key (header waybill.key: old): a key-
	 * changing update, or a table whose key changed */
	WB_KSTEP_OLD_DELETE = 0,    /* op d with a value */
	WB_KSTEP_OLD_TOMBSTONE = 1, /* null value */
	/* under the row's key */
	WB_KSTEP_DELETE = 2,	/* op d with a value */
	WB_KSTEP_TOMBSTONE = 3, /* null value after a delete */
	WB_KSTEP_VALUE = 4,	/* any other value (c, u, r, t) */
};

/* The step of a message from its waybill.op header (NULL when absent),
 * whether its value is null, and whether it carries waybill.key: old. */
enum wb_kafka_step wb_kafka_step_of(const char *op, size_t op_len,
				    bool tombstone, bool old_key);

/* What the read-back keeps of the last message of a partition. */
struct wb_kafka_last {
	wb_position_t pos;
	enum wb_kafka_step step;
};

/* Decodes the read-back of one message: pos/pos_len the raw bytes of its
 * waybill.position header (not NUL-terminated; NULL when absent), op/op_len
 * its waybill.op header, tombstone whether its value is null, old_key
 * whether it carries the header waybill.key: old. parse is the
 * source's position parser (0 on success). Returns WB_OK, or WB_ERR_DECODE
 * (message filled) when the header is absent, too long, holds a NUL, or
 * does not parse. No I/O. */
int wb_kafka_last_decode(const void *pos, size_t pos_len, const void *op,
			 size_t op_len, bool tombstone, bool old_key,
			 int (*parse)(const char *text, wb_position_t *pos),
			 struct wb_kafka_last *out, wb_error_t *err);

/* Whether a message (pos, step) to a partition whose log ends with last is
 * already there: at an earlier position, or at the same position with a
 * step not after the last one. */
bool wb_kafka_already_written(const struct wb_kafka_last *last,
			      const wb_position_t *pos,
			      enum wb_kafka_step step);

/* Whether a topic's cleanup.policy value keeps every key's last message
 * forever: exactly "compact" (spaces ignored). "delete" and "compact,delete"
 * drop old messages after retention.ms. */
bool wb_kafka_policy_compact_only(const char *policy);

#endif
