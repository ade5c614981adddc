#!/usr/bin/env bash
# tools/lib/bench_latency.sh — `tools/bench pg --latency`: end-to-end latency
# at a steady load, not throughput. waybill streams a table into the
# avro-file sink while pgbench inserts one row per transaction at a fixed
# rate (-R), about a quarter of the maximum the same setup sustains
# (measured first, 10 s unthrottled), for 60 s. Two views of the same
# changes:
#   - waybill's own histogram, waybill_delivery_latency_seconds (commit →
#     the sink's acknowledgement: the block written and fsynced), the
#     difference of two scrapes around the measured window, quantiles
#     interpolated as Prometheus' histogram_quantile does;
#   - an external consumer (tools/lib/bench_latency_consumer.py: its own
#     OCF parser, python3-zstandard, python3-avro) tailing the files and
#     comparing the commit time in each event (source.ts_ms) with the time
#     it read the block.
# Prints p50, p99 and max of both; target p99 <= 50 ms.
#
# --sink kafka: the same into one real Apache Kafka broker (tools/kafka,
# via tools/lib/bench_kafka.sh: warmed up, topic with 4 partitions, acks=all,
# idempotent, linger.ms 5 unless WB_BENCH_LINGER says otherwise), waybill's
# histogram then ends at the broker's acknowledgement (with --exactly-once,
# at the transaction's commit), and the external consumer is
# tools/lib/bench_latency_kafka_consumer.py (read_committed, from the end of
# the topic; receive time minus source.ts_ms).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

duration=60
fraction=4
rate=
flush_interval=
keep=0
sink_kind=avro-file
exactly_once=0
usage()
{
	cat <<USAGE
usage: tools/bench pg --latency [--duration S] [--rate TPS] [--flush-interval D] [--sink avro-file|kafka]
                              [--exactly-once] [--keep]
  --duration S         seconds of steady load (default $duration)
  --rate TPS           transactions/s (default: a quarter of the measured maximum)
  --flush-interval D   the avro-file sink's flush_interval (default: the sink's, 20ms)
  --sink KIND          avro-file (default) or kafka (one real broker, tools/kafka)
  --exactly-once       with --sink kafka: exactly_once: true (transactions)
  --keep               keep the work directory (output, logs)
Target (issue 12): p99 commit → acknowledged <= 50 ms.
USAGE
}
while [ $# -gt 0 ]; do
	case $1 in
	--duration) duration=${2:?}; shift 2 ;;
	--rate) rate=${2:?}; shift 2 ;;
	--flush-interval) flush_interval=${2:?}; shift 2 ;;
	--sink)
		case ${2:-} in
		avro-file|kafka) sink_kind=$2; shift 2 ;;
		*) echo "bench_latency: --sink ${2:-?} is not supported (avro-file or kafka)" >&2; exit 2 ;;
		esac ;;
	--exactly-once) exactly_once=1; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench_latency: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $duration =~ ^[0-9]+$ && $duration -ge 5 ]] || { echo "bench_latency: --duration must be >= 5 seconds" >&2; exit 2; }

# shellcheck source=tools/lib/deps.sh
source tools/lib/deps.sh
# shellcheck source=tools/lib/pg.sh
source tools/lib/pg.sh

say() { printf '==> %s\n' "$*"; }
wb_install_deps >/dev/null

build=${WB_BENCH_BUILD_DIR:-build-bench}
say "building waybill (Release) into $build/"
mkdir -p "$build"
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release &&
	cmake --build "$build" -j"$(nproc)"; } >"$build/bench-build.log" 2>&1; then
	tail -n 40 "$build/bench-build.log" >&2
	echo "error: build failed; full log in $build/bench-build.log" >&2
	exit 1
fi
waybill=$build/waybill
[ "${build#/}" = "$build" ] && waybill=$repo/$build/waybill

work=$(mktemp -d "${TMPDIR:-/tmp}/wb-latency.XXXXXX")
if [ $keep = 1 ]; then
	wb_cleanup_push "echo 'kept: $work'"
else
	wb_cleanup_push "rm -rf '$work'"
fi

# fsync=off: the server's disk is not what is measured. Not
# synchronous_commit=off: the walsender sends only flushed WAL, and the WAL
# writer would flush it every wal_writer_delay (200 ms), a delay of the
# server's own that no reader of the slot could avoid.
say "starting PostgreSQL 15 (fsync=off)"
wb_pg_start -c fsync=off -c shared_buffers=128MB -c autovacuum=off
wb_psql postgres -c "CREATE DATABASE bench"
wb_psql bench -o /dev/null -c "CREATE TABLE lat (id bigserial PRIMARY KEY, sku text NOT NULL,
	qty numeric(12,3) NOT NULL, at timestamptz NOT NULL DEFAULT now())"
echo "INSERT INTO lat (sku, qty) VALUES ('SKU-' || (random() * 100000)::int, random() * 1000);" \
	>"$work/insert.sql"
chmod 644 "$work/insert.sql"
dsn=$(wb_pg_dsn bench)
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$sink_kind" = kafka ]; then
	# bench_kafka_start (the broker, its warm-up, the topic) and
	# bench_kafka_sink_yaml (honours $exactly_once and WB_BENCH_LINGER)
	WB_BENCH_LINGER=${WB_BENCH_LINGER:-5}
	# shellcheck source=tools/lib/bench_kafka.sh
	source tools/lib/bench_kafka.sh
	bench_kafka_start real lat.public.lat
fi
{
	echo "name: lat"
	echo "checkpoint_dir: $work/ckpt"
	echo "metrics: {listen: \"127.0.0.1:$port\"}"
	echo "source:"
	echo "  type: postgres"
	echo "  dsn: \"$dsn\""
	echo "  tables: [\"public.lat\"]"
	echo "  snapshot: never"
	if [ "$sink_kind" = kafka ]; then
		bench_kafka_sink_yaml
	else
		echo "sink:"
		echo "  type: avro-file"
		echo "  dir: $work/out"
		echo "  codec: zstandard"
		[ -n "$flush_interval" ] && echo "  flush_interval: $flush_interval"
	fi
} >"$work/lat.yaml"

"$waybill" run -c "$work/lat.yaml" 2>"$work/waybill.log" &
wpid=$!
wb_cleanup_push "kill $wpid 2>/dev/null || true"
scrape() { curl -sf "http://127.0.0.1:$port/metrics"; }
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
	kill -0 $wpid 2>/dev/null || { cat "$work/waybill.log" >&2; echo "error: waybill exited" >&2; exit 1; }
	sleep 0.1
done

pgb=("$WB_PG_BIN/pgbench" -h "$WB_PG_HOST" -p "$WB_PG_PORT" -U postgres -n -f "$work/insert.sql" bench)
if [ -z "$rate" ]; then
	say "maximum: pgbench, 4 clients, 10 s, unthrottled, waybill streaming"
	max=$("${pgb[@]}" -c 4 -j 2 -T 10 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
	[ -n "$max" ] || { echo "error: pgbench gave no tps" >&2; exit 1; }
	rate=$(awk -v m="$max" -v f="$fraction" 'BEGIN { r = int(m / f); print (r > 0 ? r : 1) }')
	echo "    $max transactions/s; the steady load: $rate/s"
	sleep 3 # the backlog drains
fi

if [ "$sink_kind" = kafka ]; then
	/usr/bin/python3 "$repo/tools/lib/bench_latency_kafka_consumer.py" "$bench_kafka_bootstrap" \
		lat.public.lat lat._schemas "$work/ready" "$work/stop" "$work/consumer.json" "$work/window" &
else
	/usr/bin/python3 "$repo/tools/lib/bench_latency_consumer.py" "$work/out" "$work/stop" \
		"$work/consumer.json" "$work/window" &
	touch "$work/ready"
fi
cpid=$!
wb_cleanup_push "touch '$work/stop'; kill $cpid 2>/dev/null || true"
for _ in $(seq 300); do
	[ -f "$work/ready" ] && break
	sleep 0.1
done
sleep 1
scrape >"$work/before.prom"
/usr/bin/python3 -c 'import time; print(int(time.time() * 1000))' >"$work/window"
before_rows=$(wb_psql bench -Atc "SELECT count(*) FROM lat")
say "steady load: pgbench -R $rate, 2 clients, $duration s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
"${pgb[@]}" -c 2 -j 2 -R "$rate" -T "$duration" >"$work/pgbench.log" 2>&1
sleep 2 # the last changes reach the files
scrape >"$work/after.prom"
rows=$(($(wb_psql bench -Atc "SELECT count(*) FROM lat") - before_rows))
touch "$work/stop"
wait $cpid
kill -TERM $wpid
wait $wpid || true

desc="avro-file (zstandard)"
[ "$sink_kind" = kafka ] && desc="Kafka (one broker, acks=all, linger.ms $WB_BENCH_LINGER, exactly_once $([ $exactly_once = 1 ] && echo true || echo false))"
/usr/bin/python3 "$repo/tools/lib/bench_latency_report.py" "$work" "$rows" "$rate" "$duration" "$desc" "$sink_kind"
