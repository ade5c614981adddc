/* kafka_sink.c — the kafka sink: events to Kafka topics through librdkafka's
 * idempotent producer, with exactly-once delivery across restarts by reading
 * back the last position of each partition.
 *
 * Messages. Topic = the `topic` template ({prefix}, {schema}, {table}, each
 * component with characters outside [A-Za-z0-9._-] replaced by '_'). Key =
 * the Avro key record, value = the envelope, both framed:
 *   registry:    0x00 | schema id (4 bytes, big-endian) | Avro binary
 *   no registry: 0xC3 0x01 | fingerprint (8 bytes, little-endian) | Avro
 * Headers: always waybill.position and waybill.op (the exactly-once
 * read-back reads them); then those `headers` names: schema_id
 * (waybill.schema_id / waybill.key_schema_id, 16 hex digits of the identity
 * (CRC-64-AVRO of the full JSON) of the value's / key's schema, which tell
 * apart schemas that share a fingerprint: the canonical form drops
 * logicalType, precision, scale), correlation_id (a canonical event's),
 * event_id and table ("schema.table"). Default: [schema_id, correlation_id]
 * without a registry, [correlation_id] with one (its id in the framing
 * names the exact schema). A canonical event or dead letter also carries
 * waybill.mapping ("<name> <version> <file hash>"). event_id and table repeat
 * the envelope and are off by default: each header costs librdkafka an
 * allocation, a copy and its serialisation, and six of them took a third of
 * waybill's CPU (measured; docs/DESIGN.md). A delete is followed by a tombstone
 * (same key and headers, null value) unless `tombstones: false`; an update that
 * changes the key is sent as delete + tombstone under the old key, then the
 * update under the new one. Without a registry every schema is written to
 * <prefix>._schemas (key: 16 lowercase hex digits of the identity, value: the
 * schema JSON, header waybill.fingerprint) and acknowledged before the first
 * message that uses it; open() creates that topic compacted (or checks its
 * policy) and reads it back so a restart does not write them again.
 *
 * Partitions are chosen here, not by librdkafka, so that exactly-once can
 * reason per partition: murmur2 of the key's Avro binary without framing
 * (Java client compatible, kafka_record.h), so that only the key values
 * decide; a message without key (truncate, table without key) goes by
 * murmur2 of its position text. Each topic's partition count is kept in
 * the checkpoint (state()); a count that changed while replayed events
 * are still in the topic is refused (check_npart).
 *
 * Delivery. Each produced message gets a slot in a ring in write order; the
 * delivery report marks it done and the sink reports, through
 * base.delivered, the position of the last slot before which everything is
 * done; only the last message of a change carries its position. A failed
 * delivery report (librdkafka gave up, or a fatal idempotence error) is
 * never skipped: poll/flush/write return a non-retriable error naming
 * topic, partition and error.
 *
 * Exactly once. Before the first write to a topic the sink reads the last
 * message of each of its partitions and remembers its waybill.position and
 * step (delete value, tombstone, other value: the messages of one change
 * reach one partition in that order). A replayed message at a lower
 * position, or at the same position with a step not after the last one,
 * is skipped. Since the idempotent producer appends each partition's
 * messages in order without gaps, the log of a partition is always a prefix
 * of what was written to it, so this yields each message exactly once.
 *
 * Transactions (exactly_once, unless transactions: false): every message is
 * in a Kafka transaction (transactional.id waybill.<name>) that flush()
 * commits; only a commit reports positions delivered, so the checkpoint
 * never passes an uncommitted message. open() starts with
 * init_transactions, which fences an older instance of the pipeline and
 * aborts what a crashed run left open, and the read-back reads committed
 * messages only (the last data message of a partition sits before a
 * commit marker, or before an aborted transaction: read_topic reads a
 * growing window before the end). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "buf.h"
#include "crashpoint.h"
#include "kafka_admin.h"
#include "kafka_record.h"
#include "log.h"
#include "notify.h"
#include "metrics.h"
#include "priority.h"
#include "registry.h"
#include "sink.h"
#include "source.h"

#define META_TIMEOUT_MS 30000 /* metadata, watermarks, readback */
/* a topic unknown this long is not being auto-created (a broker that just
 * restarted may take several seconds before it creates one) */
#define UNKNOWN_TOPIC_MS 30000
#define OUTAGE_MS 5000 /* no acknowledgement for this long */
/* a transaction is committed at the next checkpoint once it is this old,
 * even while messages are in flight; it is also the sink's commit_every_ms,
 * so a steady stream gets a checkpoint (a commit) this often (1 s before:
 * p50 commit -> committed 0.39-0.66 s; now 72 ms, docs/DESIGN.md) */
#define TXN_MAX_AGE_MS 100
#define TXN_TIMEOUT_DEFAULT "60000"
/* messages read back per partition first (the last data message of a
 * transactional partition is followed by a commit marker; an aborted
 * transaction leaves its messages and a marker): the window grows 16-fold
 * until a message of ours or the partition's start is found */
#define READBACK_WINDOW 8
#define QUEUE_KBYTES_DEFAULT "32768"
#define QUEUE_MESSAGES_DEFAULT "50000"
/* the largest framing buffer kept between messages */
#define KAFKA_BUF_KEEP ((size_t)4 << 20)

struct kpart {
	bool have_last; /* the partition ends with a message of ours */
	struct wb_kafka_last last; /* its waybill.position and step */
	/* read-back: the last message read has no valid waybill.position */
	bool bad;
	long long bad_offset;
	char bad_why[256];
};

struct ktopic {
	char *name;
	rd_kafka_topic_t *rkt;
	int32_t npart;
	struct kpart *parts; /* exactly_once: state read back, else NULL */
	/* identities of the schemas last used on this topic, known to be
	 * published (or registered) */
	uint64_t key_ident, value_ident;
	bool key_ok, value_ok;
	int32_t key_id, value_id; /* registry ids of those */
	struct ktopic *next;	  /* hash chain */
};

struct slot {
	wb_position_t pos;
	bool has_pos; /* delivering this slot delivers pos */
	bool done;
};

/* A schema identity's header text, kept for the next message. */
struct hexcache {
	uint64_t identity;
	bool valid;
	char hex[17];
};

struct kafka_sink {
	struct wb_sink base;
	const struct wb_source_ops *sops;
	const char *path;
	const char *brokers;
	char *tmpl;   /* topic template */
	char *prefix; /* sanitised topic prefix */
	bool tombstones;
	bool exactly_once;
	unsigned hdrs;		    /* HDR_*: the optional headers sent */
	struct hexcache vhex, khex; /* waybill.schema_id, key_schema_id */
	/* Kafka transactions: every message in a transaction committed with
	 * the checkpoint; the transactional.id fences an older producer of
	 * the same pipeline (a second instance) */
	bool txn;
	char *txn_id;
	bool txn_open;	/* begun; nothing produced outside one */
	bool txn_dirty; /* something produced in the open transaction */
	/* the open transaction's last data message, for before_commit */
	struct ktopic *txn_last;
	int32_t txn_last_part;
	wb_position_t txn_last_pos;
	bool txn_commiting; /* commit_transaction started, not finished */
	long long txn_start_ms;
	uint64_t txn_commits;
	/* the position up to which everything is acknowledged; with
	 * transactions it is reported as delivered when committed */
	wb_position_t acked;
	bool have_acked;
	struct wb_registry_config regcfg;
	struct wb_registry *reg;
	rd_kafka_conf_t *conf; /* validated in create, consumed by open */
	rd_kafka_t *rk;
	rd_kafka_t *consumer; /* readback; created on first need */

	struct ktopic *buckets[256];
	uint64_t last_table_id; /* table version of last_topic */
	char table_hdr[512];	/* "schema.table" of table_hdr_id */
	uint64_t table_hdr_id;
	struct ktopic *last_topic;
	struct ktopic *schemas; /* <prefix>._schemas, without a registry */
	uint64_t *known;	/* schema identities present in _schemas */
	size_t nknown, capknown;

	struct slot *ring;
	size_t cap, head, len;
	uint64_t base_seq; /* seq of ring[head] */
	uint64_t next_seq;

	bool failed;
	wb_error_t fail_err;

	bool in_outage;
	bool progress; /* a delivery report arrived in this serve() */
	bool quiet;    /* `waybill check`: no outage logging */
	long long outage_start_ms;
	long long last_progress_ms;
	char last_error[256]; /* last error librdkafka reported */

	struct wb_buf kbuf, vbuf;   /* framed key and value */
	struct wb_buf okbuf, ovbuf; /* a key change: framed old key, value */
	uint64_t skipped;

	/* {"topic": partitions} of every topic written by this pipeline, as
	 * restored from the checkpoint and updated on first use */
	json_t *npart_state;
	/* the position up to which everything written was delivered: at the
	 * last checkpoint (restored), then as reported (never above the
	 * checkpoint's position, which covers what is delivered) */
	wb_position_t delivered;
	bool have_delivered;
};

static bool secret_key(const char *key)
{
	return strstr(key, "password") || strstr(key, "secret") ||
	       strstr(key, "key");
}

/* ------------------------------------------------------------ configuration */

static const char *const known_keys[] = {
	"brokers",	    "topic",	    "topic_prefix",
	"tombstones",	    "exactly_once", "transactions",
	"transactional_id", "headers",	    NULL,
};

/* The optional headers (`headers:`), beside waybill.position and
 * waybill.op, which every message carries. */
enum {
	HDR_SCHEMA_ID = 1,
	HDR_CORRELATION_ID = 2,
	HDR_EVENT_ID = 4,
	HDR_TABLE = 8,
};
static const char *const header_names[] = {"schema_id", "correlation_id",
					   "event_id", "table", NULL};
static const char *const registry_keys[] = {
	"url",		 "username",	 "password", "ca_location",
	"cert_location", "key_location", "timeout",  NULL,
};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static int get_bool(const struct kafka_sink *s, const char *key, bool def,
		    bool *out, wb_error_t *err)
{
	const struct wb_sink_config *c = &s->base.cfg->sink;
	const char *v = wb_config_extra(c->extra, c->nextra, key);
	if (v == NULL) {
		*out = def;
		return WB_OK;
	}
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "on") == 0) {
		*out = true;
		return WB_OK;
	}
	if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "off") == 0) {
		*out = false;
		return WB_OK;
	}
	return wb_error_set(err, WB_ERR_CONFIG,
			    "%s: sink.%s: expected true or false, got '%s'",
			    s->path, key, v);
}

/* Replaces characters Kafka does not allow in topic names. */
static void sanitize_into(struct wb_buf *b, const char *s)
{
	for (; *s; s++) {
		char c = *s;
		bool ok = isalnum((unsigned char)c) || c == '.' || c == '_' ||
			  c == '-';
		c = ok ? c : '_';
		wb_buf_append(b, &c, 1);
	}
}

static int check_template(const struct kafka_sink *s, wb_error_t *err)
{
	for (const char *p = s->tmpl; *p; p++) {
		if (*p == '}')
			goto bad;
		if (*p != '{')
			continue;
		const char *e = strchr(p, '}');
		if (e == NULL)
			goto bad;
		size_t n = (size_t)(e - p - 1);
		if (!((n == 6 && strncmp(p + 1, "prefix", 6) == 0) ||
		      (n == 6 && strncmp(p + 1, "schema", 6) == 0) ||
		      (n == 5 && strncmp(p + 1, "table", 5) == 0)))
			goto bad;
		p = e;
	}
	if (s->tmpl[0] == '\0')
		goto bad;
	return WB_OK;
bad:
	return wb_error_set(err, WB_ERR_CONFIG,
			    "%s: sink.topic: '%s' may only use {prefix}, "
			    "{schema} and {table} (default "
			    "\"{prefix}.{schema}.{table}\")",
			    s->path, s->tmpl);
}

/* Sets one librdkafka property; never echoes values of secret keys. */
static int conf_set(const struct kafka_sink *s, rd_kafka_conf_t *conf,
		    const char *key, const char *value, wb_error_t *err)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
	    RD_KAFKA_CONF_OK)
		return WB_OK;
	if (secret_key(key))
		return wb_error_set(err, WB_ERR_CONFIG,
				    "%s: sink.properties.%s: librdkafka "
				    "rejects this property (value not shown)",
				    s->path, key);
	return wb_error_set(err, WB_ERR_CONFIG, "%s: sink.properties.%s: %s",
			    s->path, key, errstr);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf)
{
	(void)rk;
	(void)level;
	wb_debug("kafka", "librdkafka %s: %s", fac, buf);
}

static void outage_begin(struct kafka_sink *s, const char *why)
{
	if (s->in_outage || s->quiet)
		return;
	s->in_outage = true;
	s->outage_start_ms = wb_clock_mono_ms();
	wb_metrics_sink_down();
	wb_warn("kafka",
		"brokers %s unavailable (%s): holding %zu messages "
		"and reading no further ahead until they return",
		s->brokers, why, s->len);
}

static void outage_end(struct kafka_sink *s)
{
	if (!s->in_outage)
		return;
	s->in_outage = false;
	wb_metrics_sink_up();
	wb_info("kafka", "brokers %s available again after %.1f s: resuming",
		s->brokers,
		(double)(wb_clock_mono_ms() - s->outage_start_ms) / 1000.0);
}

static void set_failure(struct kafka_sink *s, const char *topic,
			int32_t partition, const char *what)
{
	if (s->failed)
		return;
	s->failed = true;
	if (topic)
		wb_error_set(&s->fail_err, WB_ERR_RUNTIME,
			     "kafka: delivery to %s partition %d failed for "
			     "good: %s",
			     topic, (int)partition, what);
	else
		wb_error_set(&s->fail_err, WB_ERR_RUNTIME, "kafka: %s", what);
	s->fail_err.retriable = false;
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
	struct kafka_sink *s = opaque;
	snprintf(s->last_error, sizeof(s->last_error), "%s", reason);
	if (code == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[256];
		rd_kafka_resp_err_t e =
			rd_kafka_fatal_error(rk, buf, sizeof(buf));
		char what[600];
		if (s->txn && (e == RD_KAFKA_RESP_ERR__FENCED ||
			       e == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
			       e == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH))
			snprintf(what, sizeof(what),
				 "fenced: another producer with "
				 "transactional.id %s started (a second "
				 "waybill running pipeline %s?); this one "
				 "stops, its open transaction is aborted and "
				 "nothing of it is visible to read_committed "
				 "consumers (%s: %s)",
				 s->txn_id, s->base.cfg->name,
				 rd_kafka_err2name(e), buf);
		else
			snprintf(what, sizeof(what),
				 "fatal producer error %s: %s",
				 rd_kafka_err2name(e), buf);
		set_failure(s, NULL, -1, what);
		return;
	}
	if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		outage_begin(s, "all brokers down");
	else
		wb_debug("kafka", "librdkafka: %s", reason);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque)
{
	(void)rk;
	struct kafka_sink *s = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)m->_private;
	if (m->err) {
		wb_mcount_add(&wb_metrics.delivery_errors, 1);
		set_failure(s, rd_kafka_topic_name(m->rkt), m->partition,
			    rd_kafka_err2str(m->err));
		return;
	}
	if (seq < s->base_seq || seq - s->base_seq >= s->len)
		return; /* cannot happen: every slot is reported once */
	s->ring[(s->head + (seq - s->base_seq)) % s->cap].done = true;
	s->progress = true;
	outage_end(s);
}

/* librdkafka's threads run below waybill's own (priority.h). */
static rd_kafka_resp_err_t on_thread_start(rd_kafka_t *rk,
					   rd_kafka_thread_type_t type,
					   const char *name, void *opaque)
{
	(void)rk;
	(void)type;
	(void)name;
	(void)opaque;
	wb_priority_background();
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf,
				  void *opaque, char *errstr,
				  size_t errstr_size)
{
	(void)conf;
	(void)errstr;
	(void)errstr_size;
	return rd_kafka_interceptor_add_on_thread_start(
		rk, "waybill.priority", on_thread_start, opaque);
}

/* `headers: [schema_id, correlation_id, event_id, table]`: the optional
 * headers; the default is schema_id and correlation_id without a registry,
 * correlation_id with one. */
static int parse_headers(struct kafka_sink *s, wb_error_t *err)
{
	const struct wb_sink_config *c = &s->base.cfg->sink;
	const char *v = wb_config_extra(c->extra, c->nextra, "headers");
	if (v == NULL) {
		s->hdrs = HDR_CORRELATION_ID | (s->reg ? 0 : HDR_SCHEMA_ID);
		return WB_OK;
	}
	s->hdrs = 0;
	while (*v) {
		size_t n = strcspn(v, ",");
		int bit = -1;
		for (int i = 0; header_names[i]; i++)
			if (strlen(header_names[i]) == n &&
			    strncmp(header_names[i], v, n) == 0)
				bit = i;
		if (bit < 0)
			return wb_error_set(
				err, WB_ERR_CONFIG,
				"%s: sink.headers: unknown header '%.*s' "
				"(expected a list of schema_id, "
				"correlation_id, event_id, table; "
				"waybill.position and waybill.op are always "
				"sent)",
				s->path, (int)n, v);
		s->hdrs |= 1u << bit;
		v += n;
		if (*v == ',')
			v++;
	}
	return WB_OK;
}

/* Builds the producer configuration: our defaults, then the user's
 * properties, then what waybill's guarantees need. */
static rd_kafka_conf_t *build_conf(struct kafka_sink *s, bool producer,
				   wb_error_t *err)
{
	const struct wb_sink_config *c = &s->base.cfg->sink;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_interceptor_add_on_new(conf, "waybill.priority", on_new,
					     NULL);
	char client_id[256];
	snprintf(client_id, sizeof(client_id), "waybill-%s", s->base.cfg->name);
	bool user_kbytes = wb_config_extra(
		c->extra, c->nextra, "properties.queue.buffering.max.kbytes");
	bool user_msgs = wb_config_extra(
		c->extra, c->nextra, "properties.queue.buffering.max.messages");
	bool user_inflight =
		wb_config_extra(c->extra, c->nextra,
				"properties.max.in.flight") ||
		wb_config_extra(
			c->extra, c->nextra,
			"properties.max.in.flight.requests.per.connection");
	bool user_timeout = wb_config_extra(c->extra, c->nextra,
					    "properties.message.timeout.ms") ||
			    wb_config_extra(c->extra, c->nextra,
					    "properties.delivery.timeout.ms");
	if (conf_set(s, conf, "bootstrap.servers", s->brokers, err) ||
	    conf_set(s, conf, "client.id", client_id, err))
		goto fail;
	/* find returning brokers within a second or two, not librdkafka's 10 s
	 */
	if (!wb_config_extra(c->extra, c->nextra,
			     "properties.reconnect.backoff.max.ms") &&
	    conf_set(s, conf, "reconnect.backoff.max.ms", "2000", err))
		goto fail;
	if (producer) {
		if ((!user_kbytes &&
		     conf_set(s, conf, "queue.buffering.max.kbytes",
			      QUEUE_KBYTES_DEFAULT, err)) ||
		    (!user_msgs &&
		     conf_set(s, conf, "queue.buffering.max.messages",
			      QUEUE_MESSAGES_DEFAULT, err)) ||
		    /* an outage may last any time: never expire messages
		     * (a transactional producer: not longer than its
		     * transaction, which the coordinator aborts then) */
		    (!user_timeout && !s->txn &&
		     conf_set(s, conf, "message.timeout.ms", "0", err)) ||
		    /* one produce request in flight per broker: with the
		     * idempotent producer and five (librdkafka's default)
		     * requests wait behind a slow one (p99 commit ->
		     * acknowledged 290-390 ms at 3,500 changes/s, 44-54 ms
		     * with one; docs/DESIGN.md) */
		    (!user_inflight &&
		     conf_set(s, conf, "max.in.flight.requests.per.connection",
			      "1", err)))
			goto fail;
		if (s->txn) {
			const char *tt = wb_config_extra(
				c->extra, c->nextra,
				"properties.transaction.timeout.ms");
			if (conf_set(s, conf, "transactional.id", s->txn_id,
				     err) ||
			    (!tt && conf_set(s, conf, "transaction.timeout.ms",
					     TXN_TIMEOUT_DEFAULT, err)) ||
			    (!user_timeout &&
			     conf_set(s, conf, "message.timeout.ms",
				      tt ? tt : TXN_TIMEOUT_DEFAULT, err)))
				goto fail;
		}
	}
	for (int i = 0; i < c->nextra; i++) {
		const char *k = c->extra[i].key;
		if (strncmp(k, "properties.", 11) != 0)
			continue;
		k += 11;
		if (!producer && (strcmp(k, "enable.idempotence") == 0 ||
				  strcmp(k, "acks") == 0 ||
				  strncmp(k, "transaction", 11) == 0))
			continue;
		if (strcmp(k, "transactional.id") == 0) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "%s: sink.properties.transactional.id: "
				     "set sink.transactional_id instead",
				     s->path);
			goto fail;
		}
		if (conf_set(s, conf, k, c->extra[i].value, err))
			goto fail;
	}
	if (producer) {
		const char *v = wb_config_extra(
			c->extra, c->nextra, "properties.enable.idempotence");
		if (v && strcmp(v, "true") != 0) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "%s: sink.properties.enable.idempotence: "
				     "waybill needs true (no duplicates or "
				     "reordering on retries)",
				     s->path);
			goto fail;
		}
		v = wb_config_extra(c->extra, c->nextra, "properties.acks");
		if (v && strcmp(v, "all") != 0 && strcmp(v, "-1") != 0) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "%s: sink.properties.acks: waybill needs "
				     "all (every in-sync replica has a "
				     "message before it counts as delivered)",
				     s->path);
			goto fail;
		}
		if (conf_set(s, conf, "enable.idempotence", "true", err) ||
		    conf_set(s, conf, "acks", "all", err))
			goto fail;
		rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	} else {
		if (conf_set(s, conf, "enable.partition.eof", "true", err) ||
		    conf_set(s, conf, "enable.auto.commit", "false", err) ||
		    /* what a crash left in an open or aborted transaction is
		     * not there for the read-back (nor for any consumer) */
		    conf_set(s, conf, "isolation.level", "read_committed",
			     err) ||
		    /* the end of a partition is known after an empty fetch:
		     * not after the broker's default wait of 500 ms */
		    conf_set(s, conf, "fetch.wait.max.ms", "20", err) ||
		    conf_set(s, conf, "queued.max.messages.kbytes", "4096",
			     err))
			goto fail;
	}
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_opaque(conf, s);
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static void kafka_destroy(struct wb_sink *k);

static struct wb_sink *kafka_create(const struct wb_config *cfg,
				    wb_error_t *err)
{
	struct kafka_sink *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->base.ops = &wb_kafka_sink_ops;
	s->base.cfg = cfg;
	s->path = cfg->path ? cfg->path : "config";
	wb_buf_init(&s->kbuf);
	wb_buf_init(&s->vbuf);
	wb_buf_init(&s->okbuf);
	wb_buf_init(&s->ovbuf);
	const struct wb_sink_config *c = &cfg->sink;

	for (int i = 0; i < c->nextra; i++) {
		const char *k = c->extra[i].key;
		if (strncmp(k, "properties.", 11) == 0 && k[11] != '\0')
			continue;
		if (strncmp(k, "schema_registry.", 16) == 0 &&
		    in_list(registry_keys, k + 16))
			continue;
		if (in_list(known_keys, k))
			continue;
		wb_error_set(err, WB_ERR_CONFIG,
			     "%s: sink.%s: unknown key for sink type kafka "
			     "(expected brokers, topic, topic_prefix, "
			     "tombstones, exactly_once, transactions, "
			     "transactional_id, headers, schema_registry.{url, "
			     "username, password, ca_location, cert_location, "
			     "key_location, timeout} or properties.*)",
			     s->path, k);
		goto fail;
	}
	s->brokers = wb_config_extra(c->extra, c->nextra, "brokers");
	if (s->brokers == NULL || s->brokers[0] == '\0') {
		wb_error_set(err, WB_ERR_CONFIG,
			     "%s: sink.brokers: missing: give the Kafka "
			     "bootstrap servers, e.g. brokers: "
			     "[\"kafka1:9092\"]",
			     s->path);
		goto fail;
	}
	const char *tmpl = wb_config_extra(c->extra, c->nextra, "topic");
	s->tmpl = strdup(tmpl ? tmpl : "{prefix}.{schema}.{table}");
	const char *prefix =
		wb_config_extra(c->extra, c->nextra, "topic_prefix");
	if (prefix == NULL)
		prefix = cfg->topic_prefix ? cfg->topic_prefix : cfg->name;
	struct wb_buf pb;
	wb_buf_init(&pb);
	sanitize_into(&pb, prefix ? prefix : "waybill");
	wb_buf_append(&pb, "", 1);
	s->prefix = pb.failed ? NULL : (char *)pb.data;
	if (pb.failed)
		wb_buf_free(&pb);
	if (s->tmpl == NULL || s->prefix == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (check_template(s, err) ||
	    get_bool(s, "tombstones", true, &s->tombstones, err) ||
	    get_bool(s, "exactly_once", true, &s->exactly_once, err) ||
	    get_bool(s, "transactions", s->exactly_once, &s->txn, err))
		goto fail;
	const char *tid =
		wb_config_extra(c->extra, c->nextra, "transactional_id");
	if (tid && (!s->txn || tid[0] == '\0')) {
		wb_error_set(err, WB_ERR_CONFIG,
			     "%s: sink.transactional_id: %s", s->path,
			     s->txn ? "must not be empty"
				    : "given while transactions are off "
				      "(sink.transactions: false)");
		goto fail;
	}
	if (s->txn) {
		s->base.commit_every_ms = TXN_MAX_AGE_MS;
		struct wb_buf tb;
		wb_buf_init(&tb);
		if (tid)
			wb_buf_append(&tb, tid, strlen(tid));
		else {
			wb_buf_append(&tb, "waybill.", 8);
			wb_buf_append(&tb, cfg->name, strlen(cfg->name));
		}
		wb_buf_append(&tb, "", 1);
		if (tb.failed) {
			wb_buf_free(&tb);
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			goto fail;
		}
		s->txn_id = (char *)tb.data;
	}

	s->regcfg.url =
		wb_config_extra(c->extra, c->nextra, "schema_registry.url");
	s->regcfg.username = wb_config_extra(c->extra, c->nextra,
					     "schema_registry.username");
	s->regcfg.password = wb_config_extra(c->extra, c->nextra,
					     "schema_registry.password");
	s->regcfg.ca_location = wb_config_extra(c->extra, c->nextra,
						"schema_registry.ca_location");
	s->regcfg.cert_location = wb_config_extra(
		c->extra, c->nextra, "schema_registry.cert_location");
	s->regcfg.key_location = wb_config_extra(
		c->extra, c->nextra, "schema_registry.key_location");
	s->regcfg.timeout_ms = 10000;
	const char *t =
		wb_config_extra(c->extra, c->nextra, "schema_registry.timeout");
	if (t) {
		int64_t ms = wb_config_parse_duration_ms(t);
		if (ms <= 0 || ms > 600000) {
			wb_error_set(
				err, WB_ERR_CONFIG,
				"%s: sink.schema_registry.timeout: expected "
				"a duration up to 10m such as 10s, got '%s'",
				s->path, t);
			goto fail;
		}
		s->regcfg.timeout_ms = (long)ms;
	}
	bool other_reg = s->regcfg.username || s->regcfg.password ||
			 s->regcfg.ca_location || s->regcfg.cert_location ||
			 s->regcfg.key_location || t;
	if (s->regcfg.url == NULL && other_reg) {
		wb_error_set(
			err, WB_ERR_CONFIG,
			"%s: sink.schema_registry.url: missing while other "
			"schema_registry keys are set",
			s->path);
		goto fail;
	}
	if (s->regcfg.url) {
		if (strncmp(s->regcfg.url, "http://", 7) != 0 &&
		    strncmp(s->regcfg.url, "https://", 8) != 0) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "%s: sink.schema_registry.url: expected "
				     "http://... or https://... (value not "
				     "shown: it may hold credentials)",
				     s->path);
			goto fail;
		}
		s->reg = wb_registry_new(&s->regcfg, err);
		if (s->reg == NULL)
			goto fail;
	}
	if (parse_headers(s, err))
		goto fail;
	s->sops = wb_source_lookup(cfg->source.type);
	if (s->exactly_once && (s->sops == NULL || !s->sops->parse_position)) {
		wb_error_set(err, WB_ERR_CONFIG,
			     "%s: sink.exactly_once: source type %s cannot "
			     "parse positions back; set exactly_once: false",
			     s->path, cfg->source.type);
		goto fail;
	}
	s->conf = build_conf(s, true, err);
	if (s->conf == NULL)
		goto fail;
	return &s->base;
fail:
	if (err->code == 0)
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	kafka_destroy(&s->base);
	return NULL;
}

/* ------------------------------------------------------------ delivery ring */

/* Appends a slot; returns its sequence number through seq. */
static int ring_push(struct kafka_sink *s, const wb_position_t *pos,
		     bool has_pos, bool done, uint64_t *seq, wb_error_t *err)
{
	if (s->len == 0)
		s->last_progress_ms = wb_clock_mono_ms();
	if (s->len == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		struct slot *r = malloc(cap * sizeof(*r));
		if (r == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		for (size_t i = 0; i < s->len; i++)
			r[i] = s->ring[(s->head + i) % s->cap];
		free(s->ring);
		s->ring = r;
		s->cap = cap;
		s->head = 0;
	}
	struct slot *sl = &s->ring[(s->head + s->len) % s->cap];
	sl->pos = *pos;
	sl->has_pos = has_pos;
	sl->done = done;
	*seq = s->next_seq++;
	s->len++;
	return WB_OK;
}

/* Drops the slot just pushed (its produce failed). */
static void ring_pop_last(struct kafka_sink *s)
{
	s->len--;
	s->next_seq--;
}

/* Reports the position up to which everything is delivered. */
static void advance(struct kafka_sink *s)
{
	bool moved = false;
	wb_position_t pos = {0, 0};
	while (s->len > 0 && s->ring[s->head].done) {
		if (s->ring[s->head].has_pos) {
			pos = s->ring[s->head].pos;
			moved = true;
		}
		s->head = (s->head + 1) % s->cap;
		s->len--;
		s->base_seq++;
	}
	if (!moved)
		return;
	s->acked = pos;
	s->have_acked = true;
	/* in an open transaction acknowledged is not yet delivered: that
	 * waits for the commit (txn_commit) */
	if (s->txn && s->txn_dirty)
		return;
	s->delivered = pos;
	s->have_delivered = true;
	if (s->base.delivered)
		s->base.delivered(s->base.delivered_opaque, &pos);
}

/* Serves callbacks for up to timeout_ms and reports progress. */
static int serve(struct kafka_sink *s, int timeout_ms, wb_error_t *err)
{
	rd_kafka_poll(s->rk, timeout_ms);
	wb_notify_alive(); /* waiting for the brokers is no hang */
	/* the sink thread turns while it waits for brokers: alive (healthz),
	 * though not ready during an outage */
	wb_mset(&wb_metrics.sink_heartbeat_ms, (uint64_t)wb_clock_mono_ms());
	if (s->progress) {
		s->progress = false;
		s->last_progress_ms = wb_clock_mono_ms();
	}
	advance(s);
	if (s->failed) {
		*err = s->fail_err;
		return err->code;
	}
	if (!s->in_outage && s->len > 0 &&
	    wb_clock_mono_ms() - s->last_progress_ms >= OUTAGE_MS)
		outage_begin(s, "no acknowledgement for 5 s");
	return WB_OK;
}

static bool slot_done(const struct kafka_sink *s, uint64_t seq)
{
	return seq < s->base_seq ||
	       s->ring[(s->head + (seq - s->base_seq)) % s->cap].done;
}

static int stopped(struct kafka_sink *s, const char *what, wb_error_t *err)
{
	wb_error_set(err, WB_ERR_RUNTIME, "kafka: stop requested while %s",
		     what);
	err->retriable = true;
	(void)s;
	return WB_ERR_RUNTIME;
}

/* ------------------------------------------------------------ topics */

static uint32_t hash_str(const char *str)
{
	uint32_t h = 2166136261u;
	for (; *str; str++)
		h = (h ^ (uint8_t)*str) * 16777619u;
	return h;
}

static void topic_free(struct ktopic *t)
{
	if (t == NULL)
		return;
	if (t->rkt)
		rd_kafka_topic_destroy(t->rkt);
	free(t->parts);
	free(t->name);
	free(t);
}

static int connect_error(struct kafka_sink *s, const char *what,
			 rd_kafka_resp_err_t e, wb_error_t *err)
{
	wb_error_set(err, WB_ERR_CONNECT,
		     "kafka: %s: %s (brokers %s%s%s): check that the brokers "
		     "are up and reachable and the TLS/SASL properties",
		     what, rd_kafka_err2str(e), s->brokers,
		     s->last_error[0] ? "; last error: " : "", s->last_error);
	err->retriable = true;
	return WB_ERR_CONNECT;
}

/* Partition count of a topic, waiting for auto-creation. */
static int topic_metadata(struct kafka_sink *s, struct ktopic *t,
			  wb_error_t *err)
{
	long long deadline = wb_clock_mono_ms() + META_TIMEOUT_MS;
	/* auto-creation takes well under a second: a topic still unknown
	 * after this long is not being created */
	long long unknown_deadline = wb_clock_mono_ms() + UNKNOWN_TOPIC_MS;
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
	/* the brokers' last answer about the topic: a request that timed
	 * out locally (the last one may have had only a few milliseconds
	 * left) does not replace it */
	rd_kafka_resp_err_t answer = RD_KAFKA_RESP_ERR_NO_ERROR;
	for (;;) {
		if (*s->base.stop)
			return stopped(s, "reading topic metadata", err);
		if (answer == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
		    wb_clock_mono_ms() >= unknown_deadline)
			break;
		const struct rd_kafka_metadata *md = NULL;
		long left = (long)(deadline - wb_clock_mono_ms());
		if (left <= 0)
			break;
		e = rd_kafka_metadata(s->rk, 0, t->rkt, &md,
				      left < 5000 ? (int)left : 5000);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (md->topic_cnt == 1) {
				e = md->topics[0].err;
				answer = e;
				t->npart = md->topics[0].partition_cnt;
			}
			rd_kafka_metadata_destroy(md);
			if (e == RD_KAFKA_RESP_ERR_NO_ERROR && t->npart > 0)
				return WB_OK;
		}
		rd_kafka_poll(s->rk, 200);
		wb_notify_alive();
	}
	if (answer == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
		wb_error_set(err, WB_ERR_RUNTIME,
			     "kafka: topic %s does not exist and the brokers "
			     "do not create it (auto.create.topics.enable is "
			     "off): create it, e.g. kafka-topics.sh "
			     "--bootstrap-server %s --create --topic %s "
			     "--partitions 4, then start waybill again",
			     t->name, s->brokers, t->name);
		err->retriable = false;
		return WB_ERR_RUNTIME;
	}
	char what[400];
	snprintf(what, sizeof(what), "no metadata for topic %s within %d s",
		 t->name, META_TIMEOUT_MS / 1000);
	return connect_error(s, what, e ? e : RD_KAFKA_RESP_ERR__TIMED_OUT,
			     err);
}

static int ensure_consumer(struct kafka_sink *s, wb_error_t *err)
{
	if (s->consumer)
		return WB_OK;
	rd_kafka_conf_t *conf = build_conf(s, false, err);
	if (conf == NULL)
		return err->code;
	char errstr[512];
	s->consumer =
		rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (s->consumer == NULL) {
		rd_kafka_conf_destroy(conf);
		return wb_error_set(err, WB_ERR_CONFIG,
				    "%s: sink.properties: %s", s->path, errstr);
	}
	return WB_OK;
}

/* Called for each message read back; returns an error to stop. */
typedef int (*readback_fn)(struct kafka_sink *s, struct ktopic *t,
			   const rd_kafka_message_t *m, wb_error_t *err);

/* Reads partitions of t up to their high watermark as of now; every
 * message goes to fn. All of each partition, or (last_only) enough of its
 * end to find the last message that is not a transaction marker nor
 * aborted: a window of READBACK_WINDOW offsets before the end, 16 times
 * larger each round while a partition gave no message and has older ones.
 * The consumer reads committed messages only. */
static int read_topic(struct kafka_sink *s, struct ktopic *t, bool last_only,
		      readback_fn fn, wb_error_t *err)
{
	int rc = ensure_consumer(s, err);
	if (rc)
		return rc;
	size_t n = (size_t)t->npart;
	int64_t *high = calloc(n, sizeof(*high));
	int64_t *low = calloc(n, sizeof(*low));
	int64_t *from = calloc(n, sizeof(*from));
	bool *started = calloc(n, sizeof(*started));
	bool *got = calloc(n, sizeof(*got));
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->consumer, t->name, NULL);
	if (high == NULL || low == NULL || from == NULL || started == NULL ||
	    got == NULL || rkt == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto out;
	}
	long long deadline = wb_clock_mono_ms() + META_TIMEOUT_MS;
	for (int32_t p = 0; p < t->npart; p++) {
		int64_t lo = 0, hi = 0;
		rd_kafka_resp_err_t e;
		/* a topic just created may not have its leaders yet, nor be
		 * in the client's metadata (a cluster: "Local: Unknown
		 * partition") */
		while ((e = rd_kafka_query_watermark_offsets(
				s->rk, t->name, p, &lo, &hi,
				META_TIMEOUT_MS)) &&
		       (e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
			e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
			e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
			e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) &&
		       wb_clock_mono_ms() < deadline && !*s->base.stop)
			rd_kafka_poll(s->rk, 100);
		if (e) {
			char what[400];
			snprintf(what, sizeof(what),
				 "cannot read the end offsets of %s "
				 "partition %d",
				 t->name, (int)p);
			rc = connect_error(s, what, e, err);
			goto out;
		}
		high[p] = hi;
		low[p] = lo;
		from[p] = last_only && hi - lo > READBACK_WINDOW
				  ? hi - READBACK_WINDOW
				  : lo;
	}
	for (int64_t window = READBACK_WINDOW;; window *= 16) {
		bool any = false;
		for (int32_t p = 0; p < t->npart; p++) {
			if (high[p] <= from[p])
				continue;
			if (rd_kafka_consume_start(rkt, p, from[p]) != 0) {
				rc = connect_error(s,
						   "cannot start reading back",
						   rd_kafka_last_error(), err);
				goto out;
			}
			started[p] = true;
			any = true;
		}
		if (!any)
			break;
		for (int32_t p = 0; p < t->npart; p++) {
			while (started[p]) {
				if (*s->base.stop) {
					rc = stopped(s, "reading back topics",
						     err);
					goto out;
				}
				if (wb_clock_mono_ms() > deadline) {
					char what[400];
					snprintf(what, sizeof(what),
						 "reading back %s partition "
						 "%d timed out",
						 t->name, (int)p);
					rc = connect_error(
						s, what,
						RD_KAFKA_RESP_ERR__TIMED_OUT,
						err);
					goto out;
				}
				rd_kafka_message_t *m =
					rd_kafka_consume(rkt, p, 200);
				if (m == NULL)
					continue;
				bool end = false;
				if (m->err ==
				    RD_KAFKA_RESP_ERR__PARTITION_EOF) {
					end = m->offset >= high[p];
				} else if (m->err) {
					char what[400];
					snprintf(what, sizeof(what),
						 "reading back %s partition "
						 "%d",
						 t->name, (int)p);
					rc = connect_error(s, what, m->err,
							   err);
					rd_kafka_message_destroy(m);
					goto out;
				} else {
					got[p] = true;
					rc = fn(s, t, m, err);
					end = m->offset >= high[p] - 1;
				}
				rd_kafka_message_destroy(m);
				if (rc)
					goto out;
				if (end) {
					rd_kafka_consume_stop(rkt, p);
					started[p] = false;
				}
			}
		}
		/* partitions whose window held no message: a larger one */
		any = false;
		for (int32_t p = 0; p < t->npart; p++) {
			int64_t to = from[p];
			if (got[p] || to <= low[p]) {
				high[p] = from[p] = 0;
				continue;
			}
			from[p] = to - low[p] > window * 16 ? to - window * 16
							    : low[p];
			high[p] = to;
			any = true;
		}
		if (!any)
			break;
	}
out:
	for (int32_t p = 0; started && p < t->npart; p++)
		if (started[p])
			rd_kafka_consume_stop(rkt, p);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	free(high);
	free(low);
	free(from);
	free(started);
	free(got);
	return rc;
}

/* The raw bytes of a message's last header called name, or NULL. */
static const void *header_raw(const rd_kafka_message_t *m, const char *name,
			      size_t *len)
{
	rd_kafka_headers_t *h = NULL;
	const void *v = NULL;
	*len = 0;
	if (rd_kafka_message_headers(m, &h) ||
	    rd_kafka_header_get_last(h, name, &v, len))
		return NULL;
	return v;
}

static int readback_last(struct kafka_sink *s, struct ktopic *t,
			 const rd_kafka_message_t *m, wb_error_t *err)
{
	struct kpart *kp = &t->parts[m->partition];
	size_t plen, olen;
	const void *pos = header_raw(m, "waybill.position", &plen);
	const void *op = header_raw(m, "waybill.op", &olen);
	size_t klen;
	const void *which = header_raw(m, "waybill.key", &klen);
	bool old_key = which && klen == 3 && memcmp(which, "old", 3) == 0;
	wb_error_t why;
	wb_error_clear(&why);
	(void)err;
	/* messages come in offset order: the last one read decides */
	if (wb_kafka_last_decode(pos, plen, op, olen, m->payload == NULL,
				 old_key, s->sops->parse_position, &kp->last,
				 &why)) {
		kp->bad = true;
		kp->bad_offset = (long long)m->offset;
		snprintf(kp->bad_why, sizeof(kp->bad_why), "%.200s",
			 why.message);
		kp->have_last = false;
		return WB_OK;
	}
	kp->bad = false;
	kp->have_last = true;
	return WB_OK;
}

/* After the read-back: a partition that ends with a message of another
 * producer cannot be reasoned about. */
static int readback_check(const struct ktopic *t, wb_error_t *err)
{
	for (int32_t p = 0; p < t->npart; p++) {
		const struct kpart *kp = &t->parts[p];
		if (!kp->bad)
			continue;
		wb_error_set(err, WB_ERR_RUNTIME,
			     "kafka: %s partition %d ends with a message "
			     "without a valid waybill.position header (offset "
			     "%lld: %s): exactly_once needs waybill to be the "
			     "only producer of its topics; set exactly_once: "
			     "false or use another topic",
			     t->name, (int)p, kp->bad_offset, kp->bad_why);
		err->retriable = false;
		return WB_ERR_RUNTIME;
	}
	return WB_OK;
}

static int known_add(struct kafka_sink *s, uint64_t fp)
{
	for (size_t i = 0; i < s->nknown; i++)
		if (s->known[i] == fp)
			return 0;
	if (s->nknown == s->capknown) {
		size_t cap = s->capknown ? s->capknown * 2 : 64;
		uint64_t *k = realloc(s->known, cap * sizeof(*k));
		if (k == NULL)
			return -1;
		s->known = k;
		s->capknown = cap;
	}
	s->known[s->nknown++] = fp;
	return 0;
}

static bool known_has(const struct kafka_sink *s, uint64_t fp)
{
	for (size_t i = 0; i < s->nknown; i++)
		if (s->known[i] == fp)
			return true;
	return false;
}

static int readback_schema(struct kafka_sink *s, struct ktopic *t,
			   const rd_kafka_message_t *m, wb_error_t *err)
{
	(void)t;
	char hex[17];
	if (m->key_len != 16 || m->payload == NULL)
		return WB_OK; /* not ours: ignore */
	memcpy(hex, m->key, 16);
	hex[16] = '\0';
	char *end;
	uint64_t fp = strtoull(hex, &end, 16);
	if (*end != '\0')
		return WB_OK;
	if (known_add(s, fp))
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

/* Refuses a topic whose partition count differs from the one in the
 * checkpoint while one of its partitions holds a message written after the
 * position delivered at that checkpoint: that message's change is replayed,
 * and the read-back finds what a partition holds only if each replayed
 * change goes to the partition it went to the first time, which another
 * count does not give (loss or duplicates). Without such a message nothing
 * is replayed into the topic and the new count is taken. Needs t->parts
 * (exactly_once); without exactly_once a count change only warns. */
static int check_npart(struct kafka_sink *s, const struct ktopic *t,
		       wb_error_t *err)
{
	json_t *v = json_object_get(s->npart_state, t->name);
	if (!json_is_integer(v) || json_integer_value(v) == t->npart)
		return WB_OK;
	long long was = json_integer_value(v);
	if (!s->exactly_once) {
		wb_warn("kafka",
			"topic %s had %lld partitions at the last checkpoint "
			"and has %d now: replayed events may go to other "
			"partitions than the first time (exactly_once is off: "
			"they are written again)",
			t->name, was, (int)t->npart);
		return WB_OK;
	}
	for (int32_t p = 0; p < t->npart; p++) {
		const struct kpart *kp = &t->parts[p];
		if (!kp->have_last ||
		    (s->have_delivered &&
		     wb_position_cmp(&kp->last.pos, &s->delivered) <= 0))
			continue;
		char text[64];
		s->sops->format_position(&kp->last.pos, text, sizeof(text));
		wb_error_set(
			err, WB_ERR_RUNTIME,
			"kafka: topic %s had %lld partitions at the last "
			"checkpoint and has %d now, and partition %d holds "
			"events up to %s written after that checkpoint: "
			"replayed into other partitions, exactly-once "
			"could not find them; give %s %lld partitions "
			"again, or run once with sink.exactly_once: false "
			"(the replayed events may then appear twice)",
			t->name, was, (int)t->npart, (int)p, text, t->name,
			was);
		err->retriable = false;
		return WB_ERR_RUNTIME;
	}
	wb_info("kafka",
		"topic %s had %lld partitions at the last checkpoint and has "
		"%d "
		"now; nothing written after that checkpoint is in it: going on "
		"with %d",
		t->name, was, (int)t->npart, (int)t->npart);
	return WB_OK;
}

/* Records a topic's partition count for the checkpoint. */
static int note_npart(struct kafka_sink *s, const char *topic, int32_t npart,
		      wb_error_t *err)
{
	if (s->npart_state == NULL && (s->npart_state = json_object()) == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	json_t *v = json_object_get(s->npart_state, topic);
	if (json_is_integer(v) && json_integer_value(v) == npart)
		return WB_OK;
	if (json_object_set_new(s->npart_state, topic, json_integer(npart)))
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

static struct ktopic *topic_new(struct kafka_sink *s, const char *name,
				wb_error_t *err)
{
	struct ktopic *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->name = strdup(name)) == NULL) {
		free(t);
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	t->rkt = rd_kafka_topic_new(s->rk, name, NULL);
	if (t->rkt == NULL) {
		wb_error_set(err, WB_ERR_RUNTIME, "kafka: topic %s: %s", name,
			     rd_kafka_err2str(rd_kafka_last_error()));
		topic_free(t);
		return NULL;
	}
	if (topic_metadata(s, t, err)) {
		topic_free(t);
		return NULL;
	}
	return t;
}

static struct ktopic *topic_open(struct kafka_sink *s, const char *name,
				 wb_error_t *err);

/* The topic of an event, created (metadata, readback) on first use. */
static struct ktopic *topic_get(struct kafka_sink *s,
				const struct wb_table *tbl, wb_error_t *err)
{
	if (s->last_topic && s->last_table_id == tbl->id)
		return s->last_topic;
	char name[512];
	struct wb_buf b;
	wb_buf_init(&b);
	for (const char *p = s->tmpl; *p; p++) {
		if (strncmp(p, "{prefix}", 8) == 0) {
			wb_buf_append(&b, s->prefix, strlen(s->prefix));
			p += 7;
		} else if (strncmp(p, "{schema}", 8) == 0) {
			sanitize_into(&b, tbl->schema);
			p += 7;
		} else if (strncmp(p, "{table}", 7) == 0) {
			sanitize_into(&b, tbl->name);
			p += 6;
		} else {
			wb_buf_append(&b, p, 1);
		}
	}
	if (b.failed || b.len >= sizeof(name) || b.len > 249) {
		wb_error_set(err, b.failed ? WB_ERR_NOMEM : WB_ERR_RUNTIME,
			     "kafka: topic name for %s.%s is longer than "
			     "Kafka's 249 characters",
			     tbl->schema, tbl->name);
		wb_buf_free(&b);
		return NULL;
	}
	memcpy(name, b.data, b.len);
	name[b.len] = '\0';
	wb_buf_free(&b);

	struct ktopic *t = topic_open(s, name, err);
	if (t == NULL)
		return NULL;
	s->last_topic = t;
	s->last_table_id = tbl->id;
	return t;
}

/* A data topic by name, created (metadata, read-back, partition count
 * check) on first use. */
static struct ktopic *topic_open(struct kafka_sink *s, const char *name,
				 wb_error_t *err)
{
	uint32_t h = hash_str(name) % 256;
	for (struct ktopic *t = s->buckets[h]; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	struct ktopic *t = topic_new(s, name, err);
	if (t == NULL)
		return NULL;
	if (s->exactly_once) {
		t->parts = calloc((size_t)t->npart, sizeof(*t->parts));
		if (t->parts == NULL) {
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
			topic_free(t);
			return NULL;
		}
		if (read_topic(s, t, true, readback_last, err) ||
		    readback_check(t, err)) {
			topic_free(t);
			return NULL;
		}
		char text[64];
		for (int32_t p = 0; p < t->npart; p++) {
			if (!t->parts[p].have_last)
				continue;
			s->sops->format_position(&t->parts[p].last.pos, text,
						 sizeof(text));
			wb_info("kafka",
				"%s partition %d already holds events "
				"up to %s: replayed events at or below it are "
				"skipped",
				name, (int)p, text);
		}
	}
	if (check_npart(s, t, err) || note_npart(s, t->name, t->npart, err)) {
		topic_free(t);
		return NULL;
	}
	t->next = s->buckets[h];
	s->buckets[h] = t;
	return t;
}

/* ------------------------------------------------------------ transactions */

/* An error of the transactional API as a wb_error: retriable ones (the
 * brokers or the coordinator unreachable) as such; fencing names the
 * other instance. Takes ownership of e. */
static int txn_error(struct kafka_sink *s, const char *what,
		     rd_kafka_error_t *e, wb_error_t *err)
{
	rd_kafka_resp_err_t code = rd_kafka_error_code(e);
	if (s->failed) {
		*err = s->fail_err; /* the fatal error, already worded */
	} else if (code == RD_KAFKA_RESP_ERR__FENCED ||
		   code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
		   code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
		wb_error_set(err, WB_ERR_RUNTIME,
			     "kafka: %s: fenced: another producer with "
			     "transactional.id %s started (a second waybill "
			     "running pipeline %s?); this one stops",
			     what, s->txn_id, s->base.cfg->name);
		err->retriable = false;
	} else {
		wb_error_set(err, WB_ERR_RUNTIME,
			     "kafka: %s (transactional.id %s): %s%s%s", what,
			     s->txn_id, rd_kafka_error_string(e),
			     s->last_error[0] ? "; last error: " : "",
			     s->last_error);
		err->retriable = rd_kafka_error_is_retriable(e) &&
				 !rd_kafka_error_is_fatal(e);
	}
	rd_kafka_error_destroy(e);
	return err->code;
}

/* init_transactions: fences any older producer with our transactional.id
 * and lets the coordinator abort (or finish committing) what it left open,
 * so that the read-back sees only committed messages. */
static int txn_init(struct kafka_sink *s, wb_error_t *err)
{
	long long deadline = wb_clock_mono_ms() + META_TIMEOUT_MS;
	for (;;) {
		rd_kafka_error_t *e = rd_kafka_init_transactions(s->rk, 1000);
		if (e == NULL)
			return WB_OK;
		if (!rd_kafka_error_is_retriable(e) ||
		    wb_clock_mono_ms() >= deadline)
			return txn_error(s, "cannot initialise transactions", e,
					 err);
		rd_kafka_error_destroy(e);
		if (*s->base.stop)
			return stopped(s, "initialising transactions", err);
	}
}

static int txn_begin(struct kafka_sink *s, wb_error_t *err)
{
	if (!s->txn || s->txn_open)
		return WB_OK;
	rd_kafka_error_t *e = rd_kafka_begin_transaction(s->rk);
	if (e)
		return txn_error(s, "cannot begin a transaction", e, err);
	s->txn_open = true;
	s->txn_dirty = false;
	s->txn_start_ms = wb_clock_mono_ms();
	return WB_OK;
}

/* A commit that did not end within its time (or before a stop): the next
 * call resumes it. */
static int not_committed_yet(struct kafka_sink *s, wb_error_t *err)
{
	wb_error_set(err, WB_ERR_RUNTIME,
		     "kafka: the transaction of %zu messages is not committed "
		     "yet",
		     s->len);
	err->retriable = true;
	return WB_ERR_RUNTIME;
}

/* Commits the open transaction: everything produced in it is then
 * visible to read_committed consumers and reported delivered. Waits until
 * the commit is done, up to timeout_ms when it is > 0, else until a stop
 * is requested (the stream waits meanwhile: an outage holds the sink here
 * as a full queue would). A commit cut short is resumed by the next call;
 * nothing is produced meanwhile. */
static int txn_commit(struct kafka_sink *s, int timeout_ms, wb_error_t *err)
{
	if (!s->txn_open || !s->txn_dirty)
		return WB_OK;
	long long deadline = wb_clock_mono_ms() + timeout_ms;
	if (!s->txn_commiting && s->exactly_once && s->txn_last &&
	    s->base.before_commit) {
		/* the pipeline records the state this commit makes durable,
		 * and where to look whether it happened (kafka_resolve) */
		char text[64];
		s->sops->format_position(&s->txn_last_pos, text, sizeof(text));
		json_t *where = json_pack(
			"{s:s,s:i,s:s}", "topic", s->txn_last->name,
			"partition", (int)s->txn_last_part, "position", text);
		if (where == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		int rc = s->base.before_commit(s->base.delivered_opaque, where,
					       err);
		json_decref(where);
		if (rc)
			return rc;
	}
	s->txn_commiting = true;
	/* the messages first, by our own flush: a commit_transaction that
	 * times out while it flushes leaves the transaction in BeginCommit,
	 * where librdkafka 2.0 refuses the call that would resume it
	 * ("Operation not valid in state BeginCommit", seen on a loaded
	 * machine); with nothing left to flush the commit only ends the
	 * transaction, and a timeout there is resumable */
	while (rd_kafka_outq_len(s->rk) > 0) {
		rd_kafka_flush(s->rk, 200);
		int rc = serve(s, 0, err); /* outages are logged */
		if (rc)
			return rc;
		if (rd_kafka_outq_len(s->rk) > 0 &&
		    (timeout_ms > 0 ? wb_clock_mono_ms() >= deadline
				    : *s->base.stop != 0)) {
			return not_committed_yet(s, err);
		}
	}
	for (;;) {
		rd_kafka_error_t *e = rd_kafka_commit_transaction(s->rk, 10000);
		if (e == NULL)
			break;
		if (rd_kafka_error_txn_requires_abort(e)) {
			/* what it held replays from the checkpoint, which
			 * never passed it */
			int rc = txn_error(s, "cannot commit a transaction", e,
					   err);
			rd_kafka_error_t *a =
				rd_kafka_abort_transaction(s->rk, 30000);
			if (a)
				rd_kafka_error_destroy(a);
			s->txn_open = false;
			s->txn_commiting = false;
			err->retriable = false;
			return rc;
		}
		if (!rd_kafka_error_is_retriable(e))
			return txn_error(s, "cannot commit a transaction", e,
					 err);
		rd_kafka_error_destroy(e);
		int rc = serve(s, 0, err); /* outages are logged */
		if (rc)
			return rc;
		if (timeout_ms > 0 ? wb_clock_mono_ms() >= deadline
				   : *s->base.stop != 0) {
			return not_committed_yet(s, err);
		}
	}
	/* tests: a crash after the commit, before the checkpoint that
	 * covers it (Kafka then holds events after the checkpoint) */
	wb_crashpoint("kafka.committed");
	s->txn_commiting = false;
	s->txn_open = false;
	s->txn_dirty = false;
	s->txn_last = NULL;
	s->txn_commits++;
	/* the commit flushed everything: every slot is acknowledged */
	advance(s);
	if (s->have_acked) {
		s->delivered = s->acked;
		s->have_delivered = true;
		if (s->base.delivered)
			s->base.delivered(s->base.delivered_opaque, &s->acked);
	}
	return WB_OK;
}

/* ------------------------------------------------------------ producing */

/* Produces one message; waits (serving delivery reports) while librdkafka's
 * queue is full. Takes ownership of hdrs. */
static int produce(struct kafka_sink *s, struct ktopic *t, int32_t partition,
		   const void *key, size_t klen, const void *val, size_t vlen,
		   rd_kafka_headers_t *hdrs, const wb_position_t *pos,
		   bool has_pos, uint64_t *seqp, wb_error_t *err)
{
	uint64_t seq;
	int rc = WB_OK;
	if (s->txn_commiting)
		rc = txn_commit(s, 0, err);
	if (rc == WB_OK)
		rc = txn_begin(s, err);
	if (rc == WB_OK)
		rc = ring_push(s, pos, has_pos, false, &seq, err);
	if (rc) {
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return rc;
	}
	s->txn_dirty = s->txn;
	for (;;) {
		rd_kafka_resp_err_t e = rd_kafka_producev(
			s->rk, RD_KAFKA_V_RKT(t->rkt),
			RD_KAFKA_V_PARTITION(partition),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_KEY(key, klen),
			RD_KAFKA_V_VALUE((void *)val, vlen),
			RD_KAFKA_V_HEADERS(hdrs),
			RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq),
			RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			ring_pop_last(s);
			if (hdrs)
				rd_kafka_headers_destroy(hdrs);
			wb_error_set(err, WB_ERR_RUNTIME,
				     "kafka: cannot produce to %s partition "
				     "%d: %s",
				     t->name, (int)partition,
				     rd_kafka_err2str(e));
			err->retriable = false;
			return WB_ERR_RUNTIME;
		}
		/* Backpressure: the source stops reading ahead meanwhile. A
		 * stop gives up only while the brokers are away (an outage):
		 * brokers that acknowledge make room, and the stop then drains
		 * what was read, as it does without backpressure. */
		rc = serve(s, 100, err);
		if (rc == WB_OK && *s->base.stop && s->in_outage)
			rc = stopped(s, "waiting for the brokers", err);
		if (rc) {
			ring_pop_last(s);
			if (hdrs)
				rd_kafka_headers_destroy(hdrs);
			return rc;
		}
	}
	if (s->txn && t != s->schemas) {
		s->txn_last = t;
		s->txn_last_part = partition;
		s->txn_last_pos = *pos;
	}
	if (seqp)
		*seqp = seq;
	return WB_OK;
}

static void put_frame(struct wb_buf *b, bool registry, uint64_t fp, int32_t id)
{
	uint8_t h[10];
	if (registry) {
		h[0] = 0;
		h[1] = (uint8_t)((uint32_t)id >> 24);
		h[2] = (uint8_t)((uint32_t)id >> 16);
		h[3] = (uint8_t)((uint32_t)id >> 8);
		h[4] = (uint8_t)id;
		wb_buf_append(b, h, 5);
		return;
	}
	h[0] = 0xC3;
	h[1] = 0x01;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (uint8_t)(fp >> (8 * i));
	wb_buf_append(b, h, 10);
}

/* Makes sure a schema is findable (published to _schemas and acknowledged,
 * or registered) before a message uses it; id: the registry's id. A schema
 * is told apart from the last one of the topic by its identity (the full
 * JSON), not its fingerprint: the canonical form drops logicalType,
 * precision and scale, which a reader needs. */
static int ensure_schema(struct kafka_sink *s, struct ktopic *t,
			 const struct wb_schema *sc, bool is_key,
			 const wb_position_t *pos, int32_t *id, wb_error_t *err)
{
	bool *ok = is_key ? &t->key_ok : &t->value_ok;
	uint64_t *ident = is_key ? &t->key_ident : &t->value_ident;
	int32_t *tid = is_key ? &t->key_id : &t->value_id;
	if (*ok && *ident == sc->identity) {
		*id = *tid;
		return WB_OK;
	}
	if (s->reg) {
		/* the registry's cache is keyed by the full schema text */
		char subject[600];
		snprintf(subject, sizeof(subject), "%s-%s", t->name,
			 is_key ? "key" : "value");
		int rc = wb_registry_register(s->reg, subject, sc->json, tid,
					      err);
		if (rc) {
			if (strstr(err->message, subject) == NULL)
				wb_error_prefix(err, "registering %s", subject);
			return rc;
		}
	} else if (!known_has(s, sc->identity)) {
		char hex[17], fphex[17];
		snprintf(hex, sizeof(hex), "%016" PRIx64, sc->identity);
		snprintf(fphex, sizeof(fphex), "%016" PRIx64, sc->fingerprint);
		int32_t part = wb_kafka_partition(hex, 16, s->schemas->npart);
		rd_kafka_headers_t *h = rd_kafka_headers_new(2);
		rd_kafka_header_add(h, "waybill.schema", -1, sc->full_name, -1);
		rd_kafka_header_add(h, "waybill.fingerprint", -1, fphex, 16);
		uint64_t seq;
		int rc = produce(s, s->schemas, part, hex, 16, sc->json,
				 strlen(sc->json), h, pos, false, &seq, err);
		if (rc)
			return rc;
		/* Consumers must find a schema before any value using it. */
		while (!slot_done(s, seq)) {
			rc = serve(s, 50, err);
			if (rc == WB_OK && *s->base.stop && s->in_outage)
				rc = stopped(s, "publishing a schema", err);
			if (rc)
				return rc;
		}
		if (known_add(s, sc->identity))
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		wb_info("kafka",
			"schema %s (%s, fingerprint %s) published to %s", hex,
			sc->full_name, fphex, s->schemas->name);
	}
	*ident = sc->identity;
	*ok = true;
	*id = *tid;
	return WB_OK;
}

/* The 16 hex digits of sc's identity, formatted once per schema in a row
 * (not once per message). */
static const char *identity_hex(struct hexcache *c, const struct wb_schema *sc)
{
	if (c->identity != sc->identity || !c->valid) {
		snprintf(c->hex, sizeof(c->hex), "%016" PRIx64, sc->identity);
		c->identity = sc->identity;
		c->valid = true;
	}
	return c->hex;
}

/* The headers of one message: key_sc / val_sc the schemas of its key and
 * value (NULL when it has none), named by identity so that a consumer finds
 * the exact writer schema in _schemas (the framing's fingerprint may be
 * shared by schemas that differ in logical types). */
static rd_kafka_headers_t *make_headers(struct kafka_sink *s,
					const struct wb_event *ev, char op,
					const struct wb_schema *key_sc,
					const struct wb_schema *val_sc,
					bool old_key)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(4);
	char opc[2] = {op, '\0'};
	if (s->hdrs & HDR_EVENT_ID)
		rd_kafka_header_add(h, "waybill.event_id", -1, ev->event_id,
				    -1);
	rd_kafka_header_add(h, "waybill.position", -1, ev->position, -1);
	if (s->hdrs & HDR_TABLE) {
		/* formatted once per table version, not per message */
		if (s->table_hdr_id != ev->table->id) {
			snprintf(s->table_hdr, sizeof(s->table_hdr), "%s.%s",
				 ev->table->schema, ev->table->name);
			s->table_hdr_id = ev->table->id;
		}
		rd_kafka_header_add(h, "waybill.table", -1, s->table_hdr, -1);
	}
	rd_kafka_header_add(h, "waybill.op", -1, opc, 1);
	if (ev->correlation_id && (s->hdrs & HDR_CORRELATION_ID))
		rd_kafka_header_add(h, "waybill.correlation_id", -1,
				    ev->correlation_id, -1);
	if (ev->mapping)
		rd_kafka_header_add(h, "waybill.mapping", -1, ev->mapping, -1);
	if (val_sc && (s->hdrs & HDR_SCHEMA_ID))
		rd_kafka_header_add(h, "waybill.schema_id", -1,
				    identity_hex(&s->vhex, val_sc), 16);
	if (key_sc && (s->hdrs & HDR_SCHEMA_ID))
		rd_kafka_header_add(h, "waybill.key_schema_id", -1,
				    identity_hex(&s->khex, key_sc), 16);
	if (old_key)
		rd_kafka_header_add(h, "waybill.key", -1, "old", 3);
	return h;
}

/* One message of a change (see enum wb_kafka_step). */
struct kmsg {
	const struct wb_buf *key; /* framed key, NULL: none */
	const struct wb_buf *val; /* framed value, NULL: tombstone */
	const uint8_t *part_key;  /* what the partition is computed from */
	size_t part_key_len;
	enum wb_kafka_step step;
	char op;
	int32_t part;
	bool send;
};

static void frame(struct wb_buf *b, bool reg, const struct wb_schema *sc,
		  int32_t id, const uint8_t *data, size_t len)
{
	wb_buf_reset(b);
	put_frame(b, reg, sc->fingerprint, id);
	wb_buf_append(b, data, len);
}

/* The envelope of ev, in one piece or in parts, framed into b. */
static void frame_value(struct wb_buf *b, bool reg, const struct wb_event *ev,
			int32_t id)
{
	if (ev->nvalue_parts == 0) {
		frame(b, reg, ev->value_schema, id, ev->value, ev->value_len);
		return;
	}
	wb_buf_reset(b);
	put_frame(b, reg, ev->value_schema->fingerprint, id);
	if (wb_buf_reserve(b, ev->value_len) != 0)
		return;
	for (size_t i = 0; i < ev->nvalue_parts; i++)
		wb_buf_append(b, ev->value_parts[i].p, ev->value_parts[i].n);
}

/* A buffer grown for one large message is not kept for the next ones. */
static void shrink(struct wb_buf *b)
{
	if (b->cap > KAFKA_BUF_KEEP)
		wb_buf_free(b);
}

static int kafka_write(struct wb_sink *k, const struct wb_event *ev,
		       wb_error_t *err)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	if (s->failed) {
		*err = s->fail_err;
		return err->code;
	}
	struct ktopic *t = ev->direct_topic ? topic_open(s, ev->topic, err)
					    : topic_get(s, ev->table, err);
	if (t == NULL)
		return err->code;
	bool reg = s->reg != NULL;
	int32_t kid = 0, vid = 0;
	int rc;
	bool has_key = ev->key != NULL && ev->key_schema != NULL;
	bool key_change = has_key && ev->old_key != NULL && ev->old_value;
	if (has_key && (rc = ensure_schema(s, t, ev->key_schema, true, &ev->pos,
					   &kid, err)))
		return rc;
	bool has_value = wb_event_has_value(ev);
	if (has_value && (rc = ensure_schema(s, t, ev->value_schema, false,
					     &ev->pos, &vid, err)))
		return rc;

	if (has_key)
		frame(&s->kbuf, reg, ev->key_schema, kid, ev->key, ev->key_len);
	if (has_value)
		frame_value(&s->vbuf, reg, ev, vid);
	const struct wb_schema *oks =
		ev->old_key_schema ? ev->old_key_schema : ev->key_schema;
	int32_t okid = kid;
	if (key_change && ev->old_key_schema &&
	    (rc = ensure_schema(s, t, oks, true, &ev->pos, &okid, err)))
		return rc;
	if (key_change) {
		frame(&s->okbuf, reg, oks, okid, ev->old_key, ev->old_key_len);
		frame(&s->ovbuf, reg, ev->value_schema, vid, ev->old_value,
		      ev->old_value_len);
	}
	if (s->kbuf.failed || s->vbuf.failed || s->okbuf.failed ||
	    s->ovbuf.failed)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");

	/* The messages of this change, all at its position: a key-changing
	 * update deletes the row under its old key (delete, tombstone) and
	 * then writes it under the new one; a delete is followed by its
	 * tombstone. */
	struct kmsg m[4];
	int n = 0;
	const struct wb_buf *key = has_key ? &s->kbuf : NULL;
	const struct wb_buf *val = has_value ? &s->vbuf : NULL;
	const uint8_t *pk = has_key ? ev->key : (const uint8_t *)ev->position;
	size_t pklen = has_key ? ev->key_len : strlen(ev->position);
	if (key_change) {
		m[n++] = (struct kmsg){&s->okbuf,
				       &s->ovbuf,
				       ev->old_key,
				       ev->old_key_len,
				       WB_KSTEP_OLD_DELETE,
				       'd',
				       0,
				       true};
		if (s->tombstones)
			m[n++] = (struct kmsg){&s->okbuf,
					       NULL,
					       ev->old_key,
					       ev->old_key_len,
					       WB_KSTEP_OLD_TOMBSTONE,
					       'd',
					       0,
					       true};
	}
	if (ev->op == 'd') {
		m[n++] = (struct kmsg){key, val, pk,  pklen, WB_KSTEP_DELETE,
				       'd', 0,	 true};
		if (has_key && s->tombstones)
			m[n++] = (struct kmsg){
				key, NULL, pk,	pklen, WB_KSTEP_TOMBSTONE,
				'd', 0,	   true};
	} else {
		m[n++] = (struct kmsg){
			key,	      val, pk,	pklen, WB_KSTEP_VALUE,
			(char)ev->op, 0,   true};
	}

	/* Exactly once: what a partition already holds is not sent again. */
	int last_sent = -1;
	for (int i = 0; i < n; i++) {
		m[i].part = wb_kafka_partition(m[i].part_key, m[i].part_key_len,
					       t->npart);
		struct kpart *kp = t->parts ? &t->parts[m[i].part] : NULL;
		if (kp && kp->have_last &&
		    wb_kafka_already_written(&kp->last, &ev->pos, m[i].step))
			m[i].send = false;
		else
			last_sent = i;
	}
	for (int i = 0; i < n && t->parts; i++) {
		struct kpart *kp = &t->parts[m[i].part];
		if (kp->have_last &&
		    wb_position_cmp(&ev->pos, &kp->last.pos) > 0)
			kp->have_last = false; /* past the replay for good */
	}
	if (last_sent < 0) {
		uint64_t seq;
		s->skipped++;
		return ring_push(s, &ev->pos, true, true, &seq, err);
	}
	for (int i = 0; i <= last_sent; i++) {
		if (!m[i].send)
			continue;
		wb_crashpoint("kafka.produce");
		const struct wb_schema *ksc = m[i].key == &s->okbuf ? oks
					      : m[i].key ? ev->key_schema
							 : NULL;
		const struct wb_schema *vsc =
			m[i].val ? ev->value_schema : NULL;
		rc = produce(s, t, m[i].part, m[i].key ? m[i].key->data : NULL,
			     m[i].key ? m[i].key->len : 0,
			     m[i].val ? m[i].val->data : NULL,
			     m[i].val ? m[i].val->len : 0,
			     make_headers(s, ev, m[i].op, ksc, vsc,
					  m[i].key == &s->okbuf),
			     &ev->pos, i == last_sent, NULL, err);
		if (rc)
			return rc;
	}
	shrink(&s->vbuf);
	shrink(&s->ovbuf);
	if ((s->next_seq & 1023) == 0)
		return serve(s, 0, err);
	return WB_OK;
}

/* ------------------------------------------------------------ lifecycle */

/* Restores the partition counts and the delivered position of the
 * checkpoint, and opens (read-back, check_npart) every topic whose count
 * changed, so that a refusal comes before anything is produced. */
static int restore_npart(struct kafka_sink *s, json_t *state, wb_error_t *err)
{
	json_t *parts = json_object_get(state, "partitions");
	const char *d = json_string_value(json_object_get(state, "delivered"));
	if (d && s->sops && s->sops->parse_position &&
	    s->sops->parse_position(d, &s->delivered) == 0)
		s->have_delivered = true;
	if (json_is_object(parts)) {
		s->npart_state = json_deep_copy(parts);
		if (s->npart_state == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	if (json_object_size(s->npart_state) == 0)
		return WB_OK;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e =
		rd_kafka_metadata(s->rk, 1, NULL, &md, META_TIMEOUT_MS);
	if (e)
		return connect_error(s, "cannot read the topics' metadata", e,
				     err);
	int rc = WB_OK;
	for (int i = 0; i < md->topic_cnt && rc == WB_OK; i++) {
		const struct rd_kafka_metadata_topic *mt = &md->topics[i];
		json_t *v = json_object_get(s->npart_state, mt->topic);
		if (mt->err || !json_is_integer(v) ||
		    json_integer_value(v) == mt->partition_cnt)
			continue;
		if (topic_open(s, mt->topic, err) == NULL)
			rc = err->code;
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

static int kafka_open(struct wb_sink *k, json_t *state, wb_error_t *err)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	char errstr[512];
	rd_kafka_conf_t *conf = s->conf;
	s->conf = NULL;
	s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (s->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		return wb_error_set(err, WB_ERR_CONFIG,
				    "%s: sink.properties: %s", s->path, errstr);
	}
	/* before any read-back: fences an older instance, and what it left
	 * in an open transaction is aborted */
	int rc = s->txn ? txn_init(s, err) : WB_OK;
	if (rc)
		return rc;
	rc = restore_npart(s, state, err);
	if (rc)
		return rc;
	if (s->reg)
		return WB_OK;
	char name[512];
	snprintf(name, sizeof(name), "%s._schemas", s->prefix);
	rc = wb_kafka_schemas_topic_ensure(s->rk, name, err);
	if (rc)
		return rc;
	s->schemas = topic_new(s, name, err);
	if (s->schemas == NULL)
		return err->code;
	rc = read_topic(s, s->schemas, false, readback_schema, err);
	if (rc)
		return rc;
	wb_info("kafka", "connected to %s; %zu schemas already in %s%s%s%s",
		s->brokers, s->nknown, name,
		s->exactly_once ? "; exactly_once on" : "",
		s->txn ? "; transactional.id " : "", s->txn ? s->txn_id : "");
	return WB_OK;
}

/* Whether the commit before_commit described happened: the partition of
 * its last message, read back (read_committed, after open() fenced the
 * producer that crashed and let its last commit finish), holds a message
 * of ours at or past that message's position. Positions only grow within
 * a partition, and nothing was produced after that commit. */
static int kafka_resolve(struct wb_sink *k, json_t *where, bool *committed,
			 wb_error_t *err)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	const char *topic = json_string_value(json_object_get(where, "topic"));
	json_t *part = json_object_get(where, "partition");
	const char *text =
		json_string_value(json_object_get(where, "position"));
	wb_position_t pos;
	*committed = false;
	if (topic == NULL || !json_is_integer(part) || text == NULL ||
	    s->sops == NULL || s->sops->parse_position(text, &pos))
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "%s: the checkpoint's pending commit is "
				    "not described as topic, partition and "
				    "position; restore the checkpoint",
				    s->path);
	if (!s->exactly_once) {
		/* at least once: what the commit held is sent again */
		wb_info("kafka",
			"exactly_once is off: the changes of the last "
			"commit before the stop (to %s) may be sent twice",
			topic);
		return WB_OK;
	}
	struct ktopic *t = topic_open(s, topic, err);
	if (t == NULL)
		return err->code;
	json_int_t p = json_integer_value(part);
	if (p < 0 || p >= t->npart)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "kafka: the checkpoint's pending commit "
				    "names partition %lld of %s, which has %d",
				    (long long)p, topic, (int)t->npart);
	const struct kpart *kp = &t->parts[p];
	*committed = kp->have_last && wb_position_cmp(&kp->last.pos, &pos) >= 0;
	return WB_OK;
}

/* {"partitions": {"topic": n, ...}, "delivered": "position"}. */
static json_t *kafka_state(struct wb_sink *k)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	json_t *parts =
		s->npart_state ? json_deep_copy(s->npart_state) : json_object();
	if (parts == NULL)
		return NULL;
	json_t *st = json_object();
	char text[128];
	bool with_pos = s->have_delivered && s->sops != NULL;
	if (with_pos)
		s->sops->format_position(&s->delivered, text, sizeof(text));
	if (st == NULL || json_object_set_new(st, "partitions", parts) ||
	    (with_pos &&
	     json_object_set_new(st, "delivered", json_string(text)))) {
		json_decref(st);
		return NULL;
	}
	return st;
}

static int kafka_poll(struct wb_sink *k, int timeout_ms, wb_error_t *err)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	return serve(s, timeout_ms, err);
}

static int kafka_flush(struct wb_sink *k, int timeout_ms, wb_error_t *err)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	long long deadline = wb_clock_mono_ms() + timeout_ms;
	int rc = serve(s, 0, err);
	/* a transaction is committed when all of it is acknowledged, when it
	 * is old, or when the caller waits (a stop) */
	if (rc == WB_OK && s->txn_dirty &&
	    (timeout_ms > 0 || s->len == 0 || s->txn_commiting ||
	     wb_clock_mono_ms() - s->txn_start_ms >= TXN_MAX_AGE_MS))
		rc = txn_commit(s, timeout_ms, err);
	while (rc == WB_OK && s->len > 0) {
		long left = (long)(deadline - wb_clock_mono_ms());
		if (left <= 0)
			break;
		rc = serve(s, left < 100 ? (int)left : 100, err);
	}
	if (rc)
		return rc;
	if (s->len > 0) {
		wb_error_set(err, WB_ERR_RUNTIME,
			     "kafka: %zu messages still in flight", s->len);
		err->retriable = true;
		return WB_ERR_RUNTIME;
	}
	return WB_OK;
}

static int kafka_close(struct wb_sink *k, wb_error_t *err)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	if (s->skipped)
		wb_info("kafka",
			"%llu replayed events were already in Kafka "
			"and skipped",
			(unsigned long long)s->skipped);
	if (s->txn)
		wb_debug("kafka", "%llu transactions committed",
			 (unsigned long long)s->txn_commits);
	return kafka_flush(k, 30000, err);
}

static int kafka_check(struct wb_sink *k, FILE *out, wb_error_t *err)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	int failed = 0;
	char errstr[512];
	s->quiet = true;
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(s->conf);
	rd_kafka_t *rk =
		rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		fprintf(out, "FAIL kafka: %s: fix sink.properties\n", errstr);
		return 1;
	}
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
	if (e) {
		rd_kafka_poll(rk, 0);
		fprintf(out,
			"FAIL kafka: cannot reach brokers %s within 10 s: "
			"%s%s%s: "
			"check the addresses, that the brokers run, and the "
			"TLS/SASL properties\n",
			s->brokers, rd_kafka_err2str(e),
			s->last_error[0] ? "; " : "", s->last_error);
		failed = 1;
	} else {
		fprintf(out, "ok kafka: %d broker%s reachable via %s\n",
			md->broker_cnt, md->broker_cnt == 1 ? "" : "s",
			s->brokers);
		char pfx[300];
		snprintf(pfx, sizeof(pfx), "%s.", s->prefix);
		int n = 0;
		char list[400] = "";
		for (int i = 0; i < md->topic_cnt; i++) {
			const char *name = md->topics[i].topic;
			if (strncmp(name, pfx, strlen(pfx)) != 0)
				continue;
			if (n++ < 5) {
				size_t l = strlen(list);
				snprintf(list + l, sizeof(list) - l, "%s%s",
					 l ? ", " : "", name);
			}
		}
		if (n)
			fprintf(out,
				"ok kafka topics: %d with prefix %s (%s%s)\n",
				n, pfx, list, n > 5 ? ", ..." : "");
		else
			fprintf(out,
				"ok kafka topics: none with prefix %s yet; "
				"they are created on first write if the "
				"brokers auto-create topics "
				"(auto.create.topics.enable), otherwise create "
				"them first\n",
				pfx);
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_destroy(rk);
	if (s->reg && wb_registry_check(s->reg, out, err) != 0)
		failed = 1;
	return failed;
}

static void kafka_destroy(struct wb_sink *k)
{
	struct kafka_sink *s = (struct kafka_sink *)k;
	if (s == NULL)
		return;
	if (s->consumer)
		rd_kafka_destroy_flags(s->consumer,
				       RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	for (size_t i = 0; i < 256; i++) {
		struct ktopic *t = s->buckets[i];
		while (t) {
			struct ktopic *n = t->next;
			topic_free(t);
			t = n;
		}
	}
	topic_free(s->schemas);
	if (s->rk) {
		/* Undelivered messages are replayed from the checkpoint. */
		rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE |
					      RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(s->rk, 0);
		/* an open transaction is aborted now rather than at its
		 * timeout, so read_committed consumers are not held up */
		if (s->txn_open && !s->failed) {
			rd_kafka_error_t *e =
				rd_kafka_abort_transaction(s->rk, 5000);
			if (e)
				rd_kafka_error_destroy(e);
		}
		rd_kafka_destroy(s->rk);
	}
	if (s->conf)
		rd_kafka_conf_destroy(s->conf);
	wb_registry_free(s->reg);
	free(s->ring);
	free(s->known);
	free(s->tmpl);
	free(s->prefix);
	free(s->txn_id);
	wb_buf_free(&s->kbuf);
	wb_buf_free(&s->vbuf);
	wb_buf_free(&s->okbuf);
	wb_buf_free(&s->ovbuf);
	json_decref(s->npart_state);
	free(s);
}

const struct wb_sink_ops wb_kafka_sink_ops = {
	.name = "kafka",
	.create = kafka_create,
	.open = kafka_open,
	.write = kafka_write,
	.poll = kafka_poll,
	.flush = kafka_flush,
	.state = kafka_state,
	.checkpointed = NULL,
	.close = kafka_close,
	.resolve = kafka_resolve,
	.check = kafka_check,
	.destroy = kafka_destroy,
};
