# bench_kafka.sh — the Kafka parts of `tools/bench pg --sink kafka` and
# `--peer debezium`, sourced by tools/bench: the broker (a real Apache Kafka
# started by tools/kafka, or waybill-mock-kafka with --broker mock), the
# sink: block, and counts of what reached the topics, read back with
# python3-confluent-kafka.
#
# Real broker: one broker (tools/kafka start --dir $work/kafka), stopped when
# the benchmark ends; the topics are created up front with
# WB_BENCH_KAFKA_PARTITIONS partitions (default 4, the broker's default), so
# that waybill and Debezium write to topics of the same shape.
# Mock: at most 5 MiB (and 100000 batches) per partition, older messages are
# dropped beyond that, so the benchmark topic is created with enough
# partitions to hold every change (1.5M changes ≈ 400 MB → 128).
# WB_BENCH_LINGER (linger.ms, default 20) and WB_BENCH_KAFKA_PROPS (more
# producer properties, "name=value name=value", e.g. compression.type=lz4)
# are used by waybill and Debezium alike. WB_BENCH_KAFKA_HEADERS, when set
# (even empty), is waybill's `headers:` list (e.g. "" for only
# waybill.position and waybill.op, to measure what the optional headers
# cost).
#
# A broker that has just started compiles its hot paths (JIT) during the
# first minute of load, which would slow whichever reader comes first; so
# before the writes the real broker gets a warm-up: 1,000,000 messages of
# 400 bytes (acks=all, idempotent) to a topic of its own.

bench_kafka_linger=${WB_BENCH_LINGER:-20}
bench_kafka_jvm="-Xms1g -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent"

# bench_kafka_start KIND TOPIC...: KIND real or mock; the topics to create.
bench_kafka_start()
{
	local kind=$1
	shift
	if [ "$kind" = real ]; then
		bench_kafka_partitions=${WB_BENCH_KAFKA_PARTITIONS:-4}
		say "starting Apache Kafka (tools/kafka, one broker)"
		wb_cleanup_push "'$repo/tools/kafka' stop --dir '$work/kafka' >/dev/null 2>&1 || true"
		# The broker's JVM as Kafka's own start scripts run it (1 GiB heap,
		# G1 with a 20 ms pause goal, the full JIT), not tools/kafka's
		# quick-start settings for tests (client compiler, serial
		# collector, 384 MiB), which a benchmark would measure instead of
		# the broker. WB_KAFKA_JAVA_OPTS, when set, overrides them.
		if ! WB_KAFKA_JAVA_OPTS=${WB_KAFKA_JAVA_OPTS-$bench_kafka_jvm} \
			"$repo/tools/kafka" start --dir "$work/kafka" >"$work/kafka-start.log" 2>&1; then
			cat "$work/kafka-start.log" >&2
			echo "error: tools/kafka start failed" >&2
			exit 1
		fi
		bench_kafka_bootstrap=$(tail -n 1 "$work/kafka-start.log")
		/usr/bin/python3 - "$bench_kafka_bootstrap" "$bench_kafka_partitions" "$@" <<'PY' ||
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1], "log_level": 3})
fs = a.create_topics([NewTopic(t, int(sys.argv[2]), 1) for t in sys.argv[3:]], request_timeout=30)
for t, f in fs.items():
    f.result(60)
PY
			{ echo "error: creating the benchmark topics failed" >&2; exit 1; }
		say "Apache Kafka at $bench_kafka_bootstrap; topics $* with $bench_kafka_partitions partitions"
		# The warm-up messages have the shape of waybill's (four headers, a
		# key, ~300 bytes, four partitions): the broker's JIT compiles the
		# paths the measured runs take (with header-less messages into one
		# partition its compiler threads still took ~1 CPU-s during the
		# first measured run).
		say "warming the broker up (1,000,000 messages to warmup, 4 partitions, 4 headers each)"
		/usr/bin/python3 - "$bench_kafka_bootstrap" <<'PY' ||
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1], "log_level": 3})
a.create_topics([NewTopic("warmup", 4, 1)], request_timeout=30)["warmup"].result(60)
p = Producer({"bootstrap.servers": sys.argv[1], "acks": "all", "enable.idempotence": True,
              "linger.ms": 20, "max.in.flight.requests.per.connection": 1, "log_level": 3})
failed = []
def report(err, msg):
    if err:
        failed.append(err)
v = b"w" * 300
for i in range(1000000):
    h = [("waybill.position", b"0/%X/%d" % (i * 100, i)), ("waybill.op", b"c"),
         ("waybill.schema_id", b"0123456789abcdef"), ("waybill.key_schema_id", b"fedcba9876543210")]
    while True:
        try:
            p.produce("warmup", value=v, key=b"%d" % (i % 1000), partition=i % 4, headers=h,
                      on_delivery=report)
            break
        except BufferError:
            p.poll(0.05)
    if i % 10000 == 0:
        p.poll(0)
if p.flush(120) or failed:
    sys.exit(f"warm-up failed: {failed[:1]}")
PY
			{ echo "error: warming the broker up failed" >&2; exit 1; }
		return 0
	fi
	bench_kafka_partitions=${WB_BENCH_KAFKA_PARTITIONS:-128}
	local mock=$build/waybill-mock-kafka
	[ "${mock#/}" = "$mock" ] && mock=$repo/$mock
	mkfifo "$work/mock.in"
	local targs=() t
	for t in "$@"; do targs+=(--topic "$t"); done
	"$mock" --brokers 1 --partitions "$bench_kafka_partitions" "${targs[@]}" \
		--bootstrap-file "$work/bootstrap" \
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
	say "waybill-mock-kafka: 1 broker at $bench_kafka_bootstrap, $* with $bench_kafka_partitions partitions"
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
    linger.ms: $bench_kafka_linger
YAML
	local kv
	for kv in ${WB_BENCH_KAFKA_PROPS:-}; do
		echo "    ${kv%%=*}: ${kv#*=}"
	done
	if [ -n "${WB_BENCH_KAFKA_HEADERS+set}" ]; then
		echo "  headers: [${WB_BENCH_KAFKA_HEADERS}]"
	fi
}

# bench_kafka_count FILE: "<count> op:<c|u|...>" lines of waybill's bench.*
# topics (every message read, its waybill.op header counted).
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

# bench_kafka_topic_stats TOPIC: prints "<messages> <bytes>" of the topic:
# the sum of its partitions' high watermarks (nothing was ever deleted from
# them) and of the sizes of their log segments on the real broker's disk.
bench_kafka_topic_stats()
{
	local n bytes=0
	n=$(/usr/bin/python3 - "$bench_kafka_bootstrap" "$1" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "wb-bench", "log_level": 3})
md = c.list_topics(sys.argv[2], timeout=20)
total = 0
for p in md.topics[sys.argv[2]].partitions:
    lo, hi = c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=20)
    total += hi - lo
c.close()
print(total)
PY
)
	if [ -d "$work/kafka" ]; then
		bytes=$(find "$work/kafka" -path "*/$1-[0-9]*/*.log" -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	fi
	echo "$n $bytes"
}
