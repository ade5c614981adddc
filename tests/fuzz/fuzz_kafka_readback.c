/* fuzz_kafka_readback.c — fuzz target for the Kafka sink's read-back of the
 * last message of a partition (wb_kafka_last_decode: the waybill.position
 * and waybill.op headers, with the PostgreSQL source's position parser) and
 * for its partitioner.
 *
 * Input: one flags byte (bit 0: the value is null, bit 1: no waybill.op
 * header, bit 2: no waybill.position header), one byte L, then L bytes of
 * waybill.position (fewer if the input ends) and the rest as waybill.op.
 * Each header is an exact-size heap copy, so a read past it is caught.
 * Checks the contract: a decoded position formats and parses back to
 * itself, the step follows from op and null value, a message at the decoded
 * (position, step) counts as written and one at a later position does not;
 * the partition of any bytes is within [0, n). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_record.h"
#include "source.h"

static uint8_t *copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (c != NULL && n)
		memcpy(c, p, n);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const struct wb_source_ops *ops = wb_source_lookup("postgres");
	if (ops == NULL || ops->parse_position == NULL)
		abort();
	bool tombstone = data[0] & 1;
	bool no_op = data[0] & 2;
	bool no_pos = data[0] & 4;
	size_t plen = data[1];
	if (plen > size - 2)
		plen = size - 2;
	size_t olen = size - 2 - plen;
	uint8_t *pos = copy(data + 2, plen);
	uint8_t *op = copy(data + 2 + plen, olen);
	if (pos == NULL || op == NULL)
		goto out;

	struct wb_kafka_last last;
	wb_error_t err;
	bool old_key = (data[0] & 8) != 0;
	int rc = wb_kafka_last_decode(
		no_pos ? NULL : pos, plen, no_op ? NULL : op, olen, tombstone,
		old_key, ops->parse_position, &last, &err);
	if (rc == WB_OK) {
		if (no_pos || plen == 0)
			abort();
		bool del = !no_op && olen == 1 && op[0] == 'd';
		enum wb_kafka_step want =
			tombstone ? (old_key ? WB_KSTEP_OLD_TOMBSTONE
					     : WB_KSTEP_TOMBSTONE)
			: del	  ? (old_key ? WB_KSTEP_OLD_DELETE
					     : WB_KSTEP_DELETE)
				  : WB_KSTEP_VALUE;
		if (last.step != want)
			abort();
		char text[128];
		ops->format_position(&last.pos, text, sizeof(text));
		wb_position_t back;
		if (ops->parse_position(text, &back) != 0 ||
		    wb_position_cmp(&back, &last.pos) != 0)
			abort();
		if (!wb_kafka_already_written(&last, &last.pos, last.step))
			abort();
		wb_position_t later = last.pos;
		if (later.minor != UINT64_MAX) {
			later.minor++;
			if (wb_kafka_already_written(&last, &later,
						     WB_KSTEP_DELETE))
				abort();
		}
	} else if (rc != WB_ERR_DECODE || err.message[0] == '\0') {
		abort();
	}
	for (int32_t n = 1; n <= 7; n += 3) {
		int32_t p = wb_kafka_partition(data, size, n);
		if (p < 0 || p >= n)
			abort();
	}
out:
	free(pos);
	free(op);
	return 0;
}
