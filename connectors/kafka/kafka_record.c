/* kafka_record.c — the Kafka sink's pure parts: partitioner, read-back of a
 * message's position headers, cleanup policy check (kafka_record.h). */
#include "kafka_record.h"

#include <string.h>

uint32_t wb_kafka_murmur2(const void *data, size_t len)
{
	const uint8_t *p = data;
	const uint32_t m = 0x5bd1e995u;
	const int r = 24;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t n4 = len / 4;
	for (size_t i = 0; i < n4; i++) {
		const uint8_t *b = p + 4 * i;
		uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
			     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	const uint8_t *tail = p + 4 * n4;
	switch (len & 3) {
	case 3:
		h ^= (uint32_t)tail[2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)tail[1] << 8;
		/* fall through */
	case 1:
		h ^= (uint32_t)tail[0];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

int32_t wb_kafka_partition(const void *bytes, size_t len, int32_t npart)
{
	if (npart <= 0)
		return 0;
	return (int32_t)((wb_kafka_murmur2(bytes, len) & 0x7fffffffu) %
			 (uint32_t)npart);
}

enum wb_kafka_step wb_kafka_step_of(const char *op, size_t op_len,
				    bool tombstone, bool old_key)
{
	if (tombstone)
		return old_key ? WB_KSTEP_OLD_TOMBSTONE : WB_KSTEP_TOMBSTONE;
	if (op != NULL && op_len == 1 && op[0] == 'd')
		return old_key ? WB_KSTEP_OLD_DELETE : WB_KSTEP_DELETE;
	return WB_KSTEP_VALUE;
}

int wb_kafka_last_decode(const void *pos, size_t pos_len, const void *op,
			 size_t op_len, bool tombstone, bool old_key,
			 int (*parse)(const char *text, wb_position_t *pos),
			 struct wb_kafka_last *out, wb_error_t *err)
{
	char text[128];
	if (pos == NULL)
		return wb_error_set(err, WB_ERR_DECODE,
				    "no waybill.position header");
	if (pos_len == 0 || pos_len >= sizeof(text))
		return wb_error_set(err, WB_ERR_DECODE,
				    "waybill.position header of %zu bytes",
				    pos_len);
	if (memchr(pos, '\0', pos_len) != NULL)
		return wb_error_set(err, WB_ERR_DECODE,
				    "waybill.position header holds a NUL byte");
	memcpy(text, pos, pos_len);
	text[pos_len] = '\0';
	wb_position_t p;
	if (parse == NULL || parse(text, &p) != 0)
		return wb_error_set(
			err, WB_ERR_DECODE,
			"waybill.position header is not a position");
	out->pos = p;
	out->step = wb_kafka_step_of(op, op_len, tombstone, old_key);
	return WB_OK;
}

bool wb_kafka_already_written(const struct wb_kafka_last *last,
			      const wb_position_t *pos, enum wb_kafka_step step)
{
	int c = wb_position_cmp(pos, &last->pos);
	return c < 0 || (c == 0 && step <= last->step);
}

bool wb_kafka_policy_compact_only(const char *policy)
{
	if (policy == NULL)
		return false;
	const char *p = policy;
	while (*p == ' ')
		p++;
	if (strncmp(p, "compact", 7) != 0)
		return false;
	p += 7;
	while (*p == ' ')
		p++;
	return *p == '\0';
}
