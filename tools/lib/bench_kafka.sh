# bench_kafka.sh — the Kafka parts of `tools/bench pg --sink kafka`, sourced by
# tools/bench: waybill-mock-kafka with one broker, the sink: block, and a
# count of the delivered changes by op read back with python3-confluent-kafka.
#
# The mock keeps at most 5 MiB (and 100000 batches) per partition and drops
# older messages beyond that, so the benchmark topic is created up front with
# enough partitions to hold every change (1.5M changes ≈ 400 MB → 128).
# WB_BENCH_KAFKA_PARTITIONS and WB_BENCH_LINGER (linger.ms, default 20) tune it.

bench_kafka_partitions=${WB_BENCH_KAFKA_PARTITIONS:-128}

bench_kafka_start()
{
	local mock=$build/waybill-mock-kafka
	[ "${mock#/}" = "$mock" ] && mock=$repo/$mock
	mkdir -p "$work/out" # tools/bench lists Avro files there: none with Kafka
	mkfifo "$work/mock.in"
	"$mock" --brokers 1 --partitions "$bench_kafka_partitions" \
		--topic bench.public.item --bootstrap-file "$work/bootstrap" \
		<"$work/mock.in" >"$work/mock.out" 2>"$work/mock.err" &
	bench_kafka_pid=$!
	exec {bench_kafka_fd}>"$work/mock.in" # keeps its stdin open
	wb_cleanup_push "kill $bench_kafka_pid 2>/dev/null || true"
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$work/bootstrap" ] && break
		sleep 0.05
	done
	[ -s "$work/bootstrap" ] || { cat "$work/mock.err" >&2; echo "error: waybill-mock-kafka did not start" >&2; exit 1; }
	bench_kafka_bootstrap=$(cat "$work/bootstrap")
	say "waybill-mock-kafka: 1 broker at $bench_kafka_bootstrap, bench.public.item with $bench_kafka_partitions partitions"
}

bench_kafka_sink_yaml()
{
	cat <<YAML
sink:
  type: kafka
  brokers: ["$bench_kafka_bootstrap"]
  exactly_once: $([ "$exactly_once" = 1 ] && echo true || echo false)
  properties:
    acks: all
    enable.idempotence: true
    linger.ms: ${WB_BENCH_LINGER:-20}
YAML
}

bench_kafka_count()
{
	/usr/bin/python3 - "$bench_kafka_bootstrap" >"$1" <<'PY'
import collections, sys
from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "wb-bench", "enable.partition.eof": True,
              "enable.auto.commit": False, "log_level": 3})
md = c.list_topics(timeout=20)
tps, pending = [], set()
for t, tm in md.topics.items():
    if not t.startswith("bench.") or t.endswith("._schemas"):
        continue
    for p in tm.partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=20)
        if lo != 0:
            sys.exit(f"{t} [{p}] starts at offset {lo}: the mock dropped messages (more partitions needed)")
        if hi > lo:
            tps.append(TopicPartition(t, p, OFFSET_BEGINNING))
            pending.add((t, p))
counts = collections.Counter()
c.assign(tps)
while pending:
    for m in c.consume(10000, 1.0):
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                pending.discard((m.topic(), m.partition()))
                continue
            sys.exit(f"consumer error: {m.error()}")
        if m.value() is None:
            continue
        op = dict(m.headers() or []).get("waybill.op", b"?").decode()
        counts[op] += 1
c.close()
for op, n in sorted(counts.items()):
    print(f"{n} op:{op}")
PY
}
