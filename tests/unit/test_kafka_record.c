/* test_kafka_record.c — the Kafka sink's pure parts (kafka_record.h): the
 * partitioner against librdkafka's Java-compatible murmur2 partitioner, the
 * read-back decode, the "already written" rule for the several messages of
 * one position, the cleanup policy check. No server. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "check.h"
#include "kafka_record.h"

static void test_partition(void)
{
	/* Kafka's own test vectors (clients UtilsTest.testMurmur2) */
	CHECK((int32_t)wb_kafka_murmur2("21", 2) == -973932308);
	CHECK((int32_t)wb_kafka_murmur2("foobar", 6) == -790332482);
	CHECK((int32_t)wb_kafka_murmur2("a-little-bit-long-string", 24) ==
	      -985981536);
	CHECK((int32_t)wb_kafka_murmur2("a-little-bit-longer-string", 26) ==
	      -1486304829);
	CHECK((int32_t)wb_kafka_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229"
					"phr9h19h89h8",
					48) == -58897971);
	CHECK((int32_t)wb_kafka_murmur2("abc", 3) == 479470107);

	/* the same partition as librdkafka's murmur2 partitioner (the Java
	 * client's default) for keys of every length mod 4 */
	unsigned seed = 12345;
	uint8_t key[64];
	int mismatches = 0;
	for (int i = 0; i < 2000; i++) {
		size_t len = (size_t)(i % 64) + 1;
		for (size_t j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			key[j] = (uint8_t)(seed >> 16);
		}
		int32_t n = (int32_t)(i % 13) + 1;
		int32_t want = rd_kafka_msg_partitioner_murmur2(NULL, key, len,
								n, NULL, NULL);
		if (wb_kafka_partition(key, len, n) != want)
			mismatches++;
	}
	CHECK(mismatches == 0);
	/* the key bytes alone decide: the Avro binary of {id: 7} is 0x0e */
	CHECK(wb_kafka_partition("\x0e", 1, 1) == 0);
	CHECK(wb_kafka_partition("\x0e", 1, 8) ==
	      rd_kafka_msg_partitioner_murmur2(NULL, "\x0e", 1, 8, NULL, NULL));
}

static int parse_pos(const char *text, wb_position_t *pos)
{
	unsigned long long a, b;
	int n = 0;
	if (sscanf(text, "%llu:%llu%n", &a, &b, &n) != 2 || text[n] != '\0')
		return -1;
	pos->major = a;
	pos->minor = b;
	return 0;
}

static void test_decode(void)
{
	struct wb_kafka_last last;
	wb_error_t err;
	CHECK(wb_kafka_last_decode("5:3", 3, "d", 1, false, false, parse_pos,
				   &last, &err) == WB_OK);
	CHECK(last.pos.major == 5 && last.pos.minor == 3 &&
	      last.step == WB_KSTEP_DELETE);
	CHECK(wb_kafka_last_decode("5:3", 3, "d", 1, true, false, parse_pos,
				   &last, &err) == WB_OK);
	CHECK(last.step == WB_KSTEP_TOMBSTONE);
	CHECK(wb_kafka_last_decode("5:3", 3, "u", 1, false, false, parse_pos,
				   &last, &err) == WB_OK);
	CHECK(last.step == WB_KSTEP_VALUE);
	CHECK(wb_kafka_last_decode("5:3", 3, NULL, 0, false, false, parse_pos,
				   &last, &err) == WB_OK);
	CHECK(last.step == WB_KSTEP_VALUE);
	/* not NUL-terminated: only len bytes count */
	CHECK(wb_kafka_last_decode("5:39", 3, "c", 1, false, false, parse_pos,
				   &last, &err) == WB_OK);
	CHECK(last.pos.minor == 3);
	CHECK(wb_kafka_last_decode(NULL, 0, "c", 1, false, false, parse_pos,
				   &last, &err) == WB_ERR_DECODE);
	CHECK(strstr(err.message, "no waybill.position") != NULL);
	CHECK(wb_kafka_last_decode("", 0, "c", 1, false, false, parse_pos,
				   &last, &err) == WB_ERR_DECODE);
	CHECK(wb_kafka_last_decode("5\0:3", 4, "c", 1, false, false, parse_pos,
				   &last, &err) == WB_ERR_DECODE);
	CHECK(wb_kafka_last_decode("x:3", 3, "c", 1, false, false, parse_pos,
				   &last, &err) == WB_ERR_DECODE);
	char big[200];
	memset(big, '1', sizeof(big));
	CHECK(wb_kafka_last_decode(big, sizeof(big), "c", 1, false, false,
				   parse_pos, &last, &err) == WB_ERR_DECODE);
}

static void test_already_written(void)
{
	/* a key change at position 5:3 sends delete(old), tombstone(old),
	 * update(new); a partition ending with one of them holds the earlier
	 * steps of that position that went to it, not the later ones */
	struct wb_kafka_last last = {{5, 3}, WB_KSTEP_DELETE};
	wb_position_t at = {5, 3}, before = {5, 2}, after = {5, 4};
	CHECK(wb_kafka_already_written(&last, &at, WB_KSTEP_DELETE));
	CHECK(!wb_kafka_already_written(&last, &at, WB_KSTEP_TOMBSTONE));
	CHECK(!wb_kafka_already_written(&last, &at, WB_KSTEP_VALUE));
	CHECK(wb_kafka_already_written(&last, &before, WB_KSTEP_VALUE));
	CHECK(!wb_kafka_already_written(&last, &after, WB_KSTEP_DELETE));
	last.step = WB_KSTEP_TOMBSTONE;
	CHECK(wb_kafka_already_written(&last, &at, WB_KSTEP_DELETE));
	CHECK(wb_kafka_already_written(&last, &at, WB_KSTEP_TOMBSTONE));
	CHECK(!wb_kafka_already_written(&last, &at, WB_KSTEP_VALUE));
	last.step = WB_KSTEP_VALUE;
	CHECK(wb_kafka_already_written(&last, &at, WB_KSTEP_VALUE));
	CHECK(wb_kafka_already_written(&last, &at, WB_KSTEP_TOMBSTONE));
	wb_position_t major = {6, 0};
	CHECK(!wb_kafka_already_written(&last, &major, WB_KSTEP_DELETE));

	CHECK(wb_kafka_step_of("d", 1, false, false) == WB_KSTEP_DELETE);
	CHECK(wb_kafka_step_of("d", 1, true, false) == WB_KSTEP_TOMBSTONE);
	CHECK(wb_kafka_step_of("dd", 2, false, false) == WB_KSTEP_VALUE);
	CHECK(wb_kafka_step_of("r", 1, false, false) == WB_KSTEP_VALUE);
	/* under the previous key: before everything under the key */
	CHECK(wb_kafka_step_of("d", 1, false, true) == WB_KSTEP_OLD_DELETE);
	CHECK(wb_kafka_step_of("d", 1, true, true) == WB_KSTEP_OLD_TOMBSTONE);
	CHECK(wb_kafka_step_of("u", 1, false, true) == WB_KSTEP_VALUE);
	struct wb_kafka_last old_tomb = {{5, 3}, WB_KSTEP_OLD_TOMBSTONE};
	wb_position_t five3 = {5, 3};
	CHECK(wb_kafka_already_written(&old_tomb, &five3, WB_KSTEP_OLD_DELETE));
	CHECK(!wb_kafka_already_written(&old_tomb, &five3, WB_KSTEP_DELETE));
	CHECK(!wb_kafka_already_written(&old_tomb, &five3, WB_KSTEP_TOMBSTONE));
	CHECK(!wb_kafka_already_written(&old_tomb, &five3, WB_KSTEP_VALUE));
}

static void test_policy(void)
{
	CHECK(wb_kafka_policy_compact_only("compact"));
	CHECK(wb_kafka_policy_compact_only(" compact "));
	CHECK(!wb_kafka_policy_compact_only("delete"));
	CHECK(!wb_kafka_policy_compact_only("compact,delete"));
	CHECK(!wb_kafka_policy_compact_only("delete,compact"));
	CHECK(!wb_kafka_policy_compact_only(""));
	CHECK(!wb_kafka_policy_compact_only(NULL));
}

int main(void)
{
	test_partition();
	test_decode();
	test_already_written();
	test_policy();
	if (failures != 0) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("test_kafka_record: all checks passed\n");
	return 0;
}
