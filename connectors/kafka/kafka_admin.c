/* kafka_admin.c — the Kafka sink's admin requests: <prefix>._schemas
 * created compacted, or its cleanup.policy checked (kafka_admin.h).
 *
 * Without a registry, <prefix>._schemas must keep every schema for as long
 * as a message may use it, so it is created with cleanup.policy=compact and
 * an existing one with another policy is refused. Brokers that answer
 * neither CreateTopics nor DescribeConfigs (librdkafka's mock cluster) only
 * get a warning: the topic is then auto-created. */
#include "kafka_admin.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "kafka_record.h"
#include "log.h"

#define ADMIN_TIMEOUT_MS 30000 /* the whole exchange */
#define REQUEST_TIMEOUT_MS 10000

/* Waits for the result event of an admin request on q; -1 on timeout. */
static int admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type,
		      rd_kafka_event_t **out)
{
	long long deadline = wb_clock_mono_ms() + ADMIN_TIMEOUT_MS;
	while (wb_clock_mono_ms() < deadline) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 200);
		if (ev == NULL)
			continue;
		if (rd_kafka_event_type(ev) == type) {
			*out = ev;
			return 0;
		}
		rd_kafka_event_destroy(ev);
	}
	return -1;
}

/* 0 with the topic created; RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS; or
 * another error with why filled. */
static rd_kafka_resp_err_t create_compacted(rd_kafka_t *rk, const char *name,
					    char *why, size_t n)
{
	char errstr[256];
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_NewTopic_t *nt =
		rd_kafka_NewTopic_new(name, 1, -1, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_t *o =
		rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_event_t *ev = NULL;
	snprintf(why, n, "no answer within %d s", ADMIN_TIMEOUT_MS / 1000);
	if (q == NULL || nt == NULL || o == NULL ||
	    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact")) {
		snprintf(why, n, "%s", nt ? "out of memory" : errstr);
		e = RD_KAFKA_RESP_ERR__FAIL;
		goto out;
	}
	rd_kafka_AdminOptions_set_request_timeout(o, REQUEST_TIMEOUT_MS, NULL,
						  0);
	rd_kafka_CreateTopics(rk, &nt, 1, o, q);
	if (admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, &ev))
		goto out;
	e = rd_kafka_event_error(ev);
	if (e) {
		snprintf(why, n, "%s", rd_kafka_event_error_string(ev));
		goto out;
	}
	size_t cnt = 0;
	const rd_kafka_topic_result_t **res =
		rd_kafka_CreateTopics_result_topics(
			rd_kafka_event_CreateTopics_result(ev), &cnt);
	e = cnt == 1 ? rd_kafka_topic_result_error(res[0])
		     : RD_KAFKA_RESP_ERR__FAIL;
	if (e)
		snprintf(why, n, "%s",
			 cnt == 1 && rd_kafka_topic_result_error_string(res[0])
				 ? rd_kafka_topic_result_error_string(res[0])
				 : rd_kafka_err2str(e));
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (o)
		rd_kafka_AdminOptions_destroy(o);
	if (nt)
		rd_kafka_NewTopic_destroy(nt);
	if (q)
		rd_kafka_queue_destroy(q);
	return e;
}

/* The topic's cleanup.policy into policy; an error with why filled. */
static rd_kafka_resp_err_t describe_policy(rd_kafka_t *rk, const char *name,
					   char *policy, size_t pn, char *why,
					   size_t n)
{
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_ConfigResource_t *cr =
		rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(
		rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_event_t *ev = NULL;
	snprintf(why, n, "no answer within %d s", ADMIN_TIMEOUT_MS / 1000);
	policy[0] = '\0';
	if (q == NULL || cr == NULL || o == NULL) {
		snprintf(why, n, "out of memory");
		e = RD_KAFKA_RESP_ERR__FAIL;
		goto out;
	}
	rd_kafka_AdminOptions_set_request_timeout(o, REQUEST_TIMEOUT_MS, NULL,
						  0);
	rd_kafka_DescribeConfigs(rk, &cr, 1, o, q);
	if (admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, &ev))
		goto out;
	e = rd_kafka_event_error(ev);
	if (e) {
		snprintf(why, n, "%s", rd_kafka_event_error_string(ev));
		goto out;
	}
	size_t cnt = 0;
	const rd_kafka_ConfigResource_t **res =
		rd_kafka_DescribeConfigs_result_resources(
			rd_kafka_event_DescribeConfigs_result(ev), &cnt);
	e = cnt == 1 ? rd_kafka_ConfigResource_error(res[0])
		     : RD_KAFKA_RESP_ERR__FAIL;
	if (e) {
		snprintf(why, n, "%s", rd_kafka_err2str(e));
		goto out;
	}
	size_t nc = 0;
	const rd_kafka_ConfigEntry_t **ents =
		rd_kafka_ConfigResource_configs(res[0], &nc);
	for (size_t i = 0; i < nc; i++) {
		const char *v = rd_kafka_ConfigEntry_value(ents[i]);
		if (strcmp(rd_kafka_ConfigEntry_name(ents[i]),
			   "cleanup.policy") == 0)
			snprintf(policy, pn, "%s", v ? v : "");
	}
	if (policy[0] == '\0') {
		snprintf(why, n, "no cleanup.policy in the answer");
		e = RD_KAFKA_RESP_ERR__FAIL;
	}
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (o)
		rd_kafka_AdminOptions_destroy(o);
	if (cr)
		rd_kafka_ConfigResource_destroy(cr);
	if (q)
		rd_kafka_queue_destroy(q);
	return e;
}

/* Whether the cluster's controller is one of the brokers in its metadata. */
static bool controller_known(rd_kafka_t *rk)
{
	int32_t id = rd_kafka_controllerid(rk, 10000);
	const struct rd_kafka_metadata *md = NULL;
	bool found = false;
	if (id < 0 || rd_kafka_metadata(rk, 0, NULL, &md, 10000))
		return false;
	for (int i = 0; i < md->broker_cnt; i++)
		found = found || md->brokers[i].id == id;
	rd_kafka_metadata_destroy(md);
	return found;
}

int wb_kafka_schemas_topic_ensure(rd_kafka_t *rk, const char *name,
				  wb_error_t *err)
{
	char why[300], policy[64];
	/* the admin requests go to the controller; a cluster whose controller
	 * is none of its brokers (librdkafka's mock names broker 0, which does
	 * not exist) would only let them time out */
	if (!controller_known(rk)) {
		wb_warn("kafka",
			"cannot create %s with cleanup.policy=compact or check "
			"its policy: the brokers name no controller among them "
			"(librdkafka's mock cluster); it is auto-created with "
			"the brokers' default policy: make sure it is compact, "
			"or schemas expire with retention.ms",
			name);
		return WB_OK;
	}
	rd_kafka_resp_err_t e = create_compacted(rk, name, why, sizeof(why));
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
		wb_info("kafka", "created %s with cleanup.policy=compact",
			name);
		return WB_OK;
	}
	if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		wb_warn("kafka",
			"cannot create %s with cleanup.policy=compact (%s): "
			"it is auto-created with the brokers' default policy; "
			"make sure it is compact, or schemas expire with "
			"retention.ms",
			name, why);
		return WB_OK;
	}
	e = describe_policy(rk, name, policy, sizeof(policy), why, sizeof(why));
	if (e) {
		wb_warn("kafka",
			"cannot read the cleanup.policy of %s (%s): make sure "
			"it is compact, or schemas expire with retention.ms",
			name, why);
		return WB_OK;
	}
	if (wb_kafka_policy_compact_only(policy))
		return WB_OK;
	wb_error_set(err, WB_ERR_CONFIG,
		     "kafka: %s has cleanup.policy=%s: schemas in use would "
		     "expire with retention.ms and consumers could no longer "
		     "decode; make it compact (kafka-configs.sh --alter "
		     "--entity-type topics --entity-name %s --add-config "
		     "cleanup.policy=compact) or use a schema registry",
		     name, policy, name);
	err->retriable = false;
	return WB_ERR_CONFIG;
}
