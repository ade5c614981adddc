# bench_debezium.sh — the Debezium side of `tools/bench pg --peer debezium`,
# sourced by tools/bench.
#
#   bench_debezium_prepare        fetch Debezium 3.6.1 (embedded engine,
#                                 PostgreSQL connector) once with Maven into
#                                 WB_DEBEZIUM_CACHE (default
#                                 build/debezium-lib) and compile
#                                 tools/peer/DebeziumPeer.java against it
#   bench_debezium_run TAG SLOT MODE
#                                 one run of the connector from SLOT, MODE
#                                 count (a consumer that only counts) or
#                                 kafka (Kafka's producer, acks=all,
#                                 idempotence, to dbz.public.item on the
#                                 benchmark's broker); records the reader TAG
#
# The connector is configured for throughput as Debezium's documentation
# advises: larger batches and queue than the defaults (max.batch.size 8192,
# max.queue.size 32768; the queue several batches deep), the asynchronous
# engine's record processing on every core (its default), pgoutput, no
# snapshot (snapshot.mode no_data), the slot and publication made up front
# (publication.autocreate.mode disabled). The JVM gets Kafka Connect's
# launcher's heap (-Xms256m -Xmx2g); WB_BENCH_DBZ_JVM overrides the JVM
# options and WB_BENCH_DBZ_PROPS (name=value lines) adds or overrides
# connector properties. To Kafka the records are converted by Kafka
# Connect's JsonConverter without embedded schemas (converter.schemas.enable
# false: smaller and cheaper than with them; Confluent's Avro converter is
# not on Maven Central), and the producer gets waybill's linger.ms and
# librdkafka's default batch size (batch.size 1000000), so both batch alike.

bench_debezium_cache=${WB_DEBEZIUM_CACHE:-$repo/build/debezium-lib}
bench_debezium_format="JSON, Kafka Connect's JsonConverter, no embedded schemas"

bench_debezium_prepare()
{
	if ! command -v javac >/dev/null; then
		wb_install_deps openjdk-17-jdk-headless >/dev/null ||
			{ echo "error: javac is needed (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
	fi
	if [ ! -f "$bench_debezium_cache/.complete" ]; then
		command -v mvn >/dev/null || { echo "error: maven is needed (apt-get install maven)" >&2; exit 1; }
		say "fetching Debezium 3.6.1 into $bench_debezium_cache (once)"
		mkdir -p "$bench_debezium_cache"
		if ! mvn -q -B -f "$repo/tools/lib/debezium-pom.xml" dependency:copy-dependencies \
			-DoutputDirectory="$bench_debezium_cache" -DincludeScope=runtime \
			>"$bench_debezium_cache/fetch.log" 2>&1; then
			tail -n 20 "$bench_debezium_cache/fetch.log" >&2
			echo "error: fetching Debezium failed; see $bench_debezium_cache/fetch.log" >&2
			exit 1
		fi
		touch "$bench_debezium_cache/.complete"
	fi
	bench_debezium_classes=$work/peer-classes
	mkdir -p "$bench_debezium_classes"
	if ! javac --release 17 -cp "$bench_debezium_cache/*" -d "$bench_debezium_classes" \
		"$repo/tools/peer/DebeziumPeer.java" >"$work/peer-javac.log" 2>&1; then
		cat "$work/peer-javac.log" >&2
		echo "error: compiling tools/peer/DebeziumPeer.java failed" >&2
		exit 1
	fi
	say "Debezium 3.6.1 harness compiled ($(javac -version 2>&1))"
}

bench_debezium_run()
{
	local tag=$1 slot=$2 mode=$3 props=$work/$1.properties
	cat >"$props" <<PROPS
name=bench-$tag
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore
offset.storage.file.filename=$work/$tag.offsets
offset.flush.interval.ms=10000
database.hostname=127.0.0.1
database.port=$WB_PG_PORT
database.user=postgres
database.password=unused
database.dbname=bench
topic.prefix=dbz
plugin.name=pgoutput
slot.name=$slot
publication.name=dbz
publication.autocreate.mode=disabled
snapshot.mode=no_data
table.include.list=public.item
max.batch.size=8192
max.queue.size=32768
converter.schemas.enable=false
producer.batch.size=1000000
PROPS
	local kv
	for kv in ${WB_BENCH_KAFKA_PROPS:-}; do
		echo "producer.$kv" >>"$props"
	done
	[ -n "${WB_BENCH_DBZ_PROPS:-}" ] && printf '%s\n' "$WB_BENCH_DBZ_PROPS" >>"$props"
	local -a jvm
	read -r -a jvm <<<"${WB_BENCH_DBZ_JVM:--Xms256m -Xmx2g}"
	local -a extra=()
	[ "$mode" = kafka ] && extra=(--bootstrap "$bench_kafka_bootstrap" --linger "$bench_kafka_linger")
	local desc="a consumer that only counts"
	[ "$mode" = kafka ] && desc="Apache Kafka (producer acks=all, idempotent), topic dbz.public.item"
	say "Debezium 3.6.1 (embedded engine, PostgreSQL connector), slot $slot, to $desc"
	local t0 t1 rc=0 busy0
	busy0=$(machine_busy)
	t0=$(now)
	/usr/bin/time -v -o "$work/$tag.time" \
		java "${jvm[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
		-cp "$bench_debezium_classes:$bench_debezium_cache/*" DebeziumPeer \
		--mode "$mode" --config "$props" --expect "$changes" --done "$work/$tag.done" \
		"${extra[@]}" >"$work/$tag.out" 2>"$work/$tag.log" &
	local tpid=$!
	profile_start $tpid "$tag"
	wait $tpid || rc=$?
	t1=$(now)
	r_busy[$tag]=$(calc "$(machine_busy) - $busy0")
	r_wall[$tag]=$(calc "$t1 - $t0")
	profile_stop "$tag"
	if [ $rc -ne 0 ] || [ ! -s "$work/$tag.done" ]; then
		tail -n 30 "$work/$tag.log" >&2
		cat "$work/$tag.out" >&2
		echo "error: Debezium ($tag) failed with $rc (log above)" >&2
		exit 1
	fi
	local secs
	secs=$(calc "$(cat "$work/$tag.done") - $t0")
	r_records[$tag]="$changes counted by the harness"
	if [ "$mode" = kafka ]; then
		local n bytes
		read -r n bytes < <(bench_kafka_topic_stats dbz.public.item)
		if [ "$n" -ne "$changes" ]; then
			printf '\nFAIL: dbz.public.item holds %d messages; expected %d\n' "$n" "$changes" >&2
			exit 1
		fi
		r_out[$tag]="$bytes bytes in the topic's log segments"
		r_records[$tag]="$n messages in dbz.public.item"
		r_bytes[$tag]=$bytes
	fi
	record "$tag" "Debezium → $([ "$mode" = kafka ] && echo kafka || echo "counting consumer")" "$secs" \
		"$work/$tag.time" "JVM start to the last record $([ "$mode" = kafka ] && echo "acknowledged by the broker" || echo counted) (wall time incl. JVM exit: $(fmt "$(calc "$t1 - $t0")" '%.2f') s); $(sed -n 's/^debezium [a-z]*: //p' "$work/$tag.out")"
}
