/* kafka_admin.h — the Kafka sink's admin requests (CreateTopics,
 * DescribeConfigs) for <prefix>._schemas. */
#ifndef WB_KAFKA_ADMIN_H
#define WB_KAFKA_ADMIN_H

#include <librdkafka/rdkafka.h>

#include "error.h"

/* Makes sure the topic `name` keeps every schema for as long as a message
 * may use it: creates it with cleanup.policy=compact (1 partition, the
 * brokers' default replication factor) or, when it exists, reads its
 * cleanup.policy. Returns WB_ERR_CONFIG (not retriable, message naming the
 * policy and the command that fixes it) when the policy is anything but
 * "compact"; WB_OK otherwise, after one warning when the brokers refuse
 * CreateTopics, cannot answer DescribeConfigs, or name no controller among
 * them (librdkafka's mock cluster has no admin API): the topic is then
 * auto-created with the brokers' default policy. Blocks up to ~30 s. */
int wb_kafka_schemas_topic_ensure(rd_kafka_t *rk, const char *name,
				  wb_error_t *err);

#endif
