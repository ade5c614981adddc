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
# WB_BENCH_WARM_PASSES (default 3) is the number of warm-up passes of the
# real broker (below).
#
# A broker that has just started compiles its hot paths (JIT) during its
# first minutes of load, which would slow whichever reader comes first, and
# with its default settings the JVM throws compiled code away again when it
# has not run for a while (the code cache sweeper), so that the idle minutes
# between a benchmark's phases (the writes, pg_recvlogical's run) brought
# the compilations back into the measured runs: 1.3-4.5 CPU-s of the
# broker's compiler threads during one waybill run (measured, JFR). So the
# broker keeps its compiled code (-XX:-UseCodeCacheFlushing, as a broker
# under steady load would) and, before the measured readers, gets warm-up
# passes of the measured load itself (bench_kafka_warm: waybill on slots of
# their own, into topics warm1.* to warm3.*). The first passes send small
# requests: the broker's per-request methods run once per produce request
# (~2,100 per pass in the measured configuration), and three such passes
# left them in the JVM's profiling tier, to be compiled by C2 in the middle
# of the measured run (JFR: 2.1-2.9 CPU-s of the broker's compiler threads
# there, UnifiedLog.append and Processor.processCompletedReceives first).

bench_kafka_linger=${WB_BENCH_LINGER:-20}
bench_kafka_jvm="-Xms1g -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:-UseCodeCacheFlushing"

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

# bench_kafka_sink_yaml [LINGER [NAME=VALUE...]]: the sink: block, with
# linger.ms LINGER (default $bench_kafka_linger) and, after
# WB_BENCH_KAFKA_PROPS, the producer properties given.
bench_kafka_sink_yaml()
{
	local linger=${1:-$bench_kafka_linger}
	shift $(($# > 0 ? 1 : 0))
	cat <<YAML
sink:
  type: kafka
  brokers: ["$bench_kafka_bootstrap"]
  exactly_once: $([ "$exactly_once" = 1 ] && echo true || echo false)
  properties:
    acks: all
    enable.idempotence: true
    linger.ms: $linger
YAML
	local kv
	for kv in ${WB_BENCH_KAFKA_PROPS:-} "$@"; do
		echo "    ${kv%%=*}: ${kv#*=}"
	done
	if [ -n "${WB_BENCH_KAFKA_HEADERS+set}" ]; then
		echo "  headers: [${WB_BENCH_KAFKA_HEADERS}]"
	fi
}

# bench_kafka_warm_passes: how many unmeasured passes warm the broker up
# (above); the first ones in small requests (bench_kafka_warm).
bench_kafka_warm_passes=${WB_BENCH_WARM_PASSES:-3}

# bench_kafka_warm_topics: the warm-up's topics, one per pass.
bench_kafka_warm_topics()
{
	local i
	for ((i = 1; i <= bench_kafka_warm_passes; i++)); do
		echo "warm$i.public.item"
	done
}

# bench_kafka_warm_slots_sql: SQL that makes the warm-up's slots, w1 to wN
# (before the writes, so that each pass reads every change).
bench_kafka_warm_slots_sql()
{
	local i
	for ((i = 1; i <= bench_kafka_warm_passes; i++)); do
		echo "SELECT 1 FROM pg_create_logical_replication_slot('w$i', 'pgoutput');"
	done
}

# bench_kafka_warm WAYBILL: the broker's warm-up (above): one waybill run
# per pass over the benchmark's changes, from slot wI into topic
# warmI.public.item, each stopped after 1 s without news. All but the last
# pass send small requests (linger.ms 0, 100 messages per batch: ~17,800
# produce requests each instead of ~2,100), so that the broker's
# per-request code reaches the JVM's optimizing compiler before the
# measured runs; the last pass is the measured configuration. Nothing is
# measured. Uses tools/bench's bench_source_yaml.
bench_kafka_warm()
{
	local wb=$1 i y
	for ((i = 1; i <= bench_kafka_warm_passes; i++)); do
		say "warming the broker up: waybill over the same changes into warm$i.public.item (slot w$i; not measured)"
		y=$work/warm$i.yaml
		bench_source_yaml "warm$i" "$work/ckpt-warm$i" "w$i" >"$y"
		if ((i < bench_kafka_warm_passes)); then
			bench_kafka_sink_yaml 0 batch.num.messages=100 >>"$y"
		else
			bench_kafka_sink_yaml >>"$y"
		fi
		if ! "$wb" run -c "$y" --stop-when-idle 1 2>"$work/warm$i.log"; then
			tail -n 20 "$work/warm$i.log" >&2
			echo "error: the broker's warm-up run failed" >&2
			exit 1
		fi
	done
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
