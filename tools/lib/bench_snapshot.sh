#!/usr/bin/env bash
# tools/lib/bench_snapshot.sh — `tools/bench pg --snapshot`: waybill's snapshot
# of a 1,000,000-row table into the avro-file sink (mode initial_only, which
# exits once every row is durable) against PostgreSQL's own fastest reader,
# `COPY (SELECT ...) TO STDOUT (FORMAT binary)` to /dev/null, on the same
# table in one run. waybill runs once with one reader and once with one
# reader per CPU (the table then split into key ranges read at once; see
# docs/DESIGN.md, "Snapshots"). Prints the timings, the throughput ratios,
# waybill's peak RSS, and checks that every id is in the output once. Also times text COPY (what
# waybill's reader uses for a table read from its start) and a plain text
# SELECT (keyset chunks of a resumed table), and splits waybill's time into
# start-up, the snapshot itself (first to last row emitted, from its log) and
# the drain (queue, sink, fsync) after the last row.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

rows=1000000
chunk=10000
parallelism="1 $(nproc)"
codec=zstandard
level=
keep=0
usage()
{
	cat <<EOF
usage: tools/bench pg --snapshot [--rows N] [--chunk N] [--parallelism "N ..."] [--codec C] [--level N] [--keep]
  --rows N         rows in the table (default $rows)
  --chunk N        snapshot chunk_size (default $chunk)
  --parallelism "N ..."  snapshot parallelism of each waybill run (default "$parallelism":
                   one reader, then one per CPU, which splits the table into key ranges)
  --codec C        avro-file codec: zstandard (default), deflate, null
  --level N        codec level (default: the sink's, 3 for zstandard)
  --keep           keep the work directory
Targets (issue 4): throughput ratio waybill/COPY binary >= 0.8; peak RSS <= 64 MiB.
EOF
}
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=${2:?}; shift 2 ;;
	--chunk) chunk=${2:?}; shift 2 ;;
	--parallelism) parallelism=${2:?}; shift 2 ;;
	--codec) codec=${2:?}; shift 2 ;;
	--level) level=${2:?}; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench_snapshot: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $rows =~ ^[0-9]+$ && $rows -ge 1 ]] || { echo "bench_snapshot: --rows must be a positive number" >&2; exit 2; }

# shellcheck source=tools/lib/deps.sh
source tools/lib/deps.sh
# shellcheck source=tools/lib/pg.sh
source tools/lib/pg.sh

say() { printf '==> %s\n' "$*"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
time_field() { sed -n "s/^[[:space:]]*$2: //p" "$1"; }

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

work=$(mktemp -d "${TMPDIR:-/tmp}/wb-bench-snap.XXXXXX")
if [ $keep = 1 ]; then
	wb_cleanup_push "echo 'kept: $work'"
else
	wb_cleanup_push "rm -rf '$work'"
fi

say "starting PostgreSQL 15 (fsync=off, shared_buffers=256MB)"
wb_pg_start -c fsync=off -c shared_buffers=256MB -c max_wal_size=20GB \
	-c checkpoint_timeout=1h -c autovacuum=off
wb_psql postgres -c "CREATE DATABASE bench"
say "loading $rows rows (the shape of tools/bench's item table, ~100-byte rows)"
wb_psql bench -o /dev/null <<SQL
CREATE TABLE item (
	id         bigint PRIMARY KEY,
	sku        text NOT NULL,
	warehouse  char(4) NOT NULL,
	qty        numeric(14,3) NOT NULL,
	price      numeric(12,2) NOT NULL,
	status     char(2) NOT NULL,
	updated_at timestamptz NOT NULL,
	note       text
);
INSERT INTO item SELECT g, 'SKU-' || lpad((g % 100000)::text, 6, '0'),
	'WH' || lpad((g % 7 + 1)::text, 2, '0'), (g % 1000) * 1.125,
	(g % 5000) / 100.0 + 0.99, 'OK',
	timestamptz '2024-03-01 00:00:00+00' + g * interval '1 second',
	substr(md5(g::text), 1, 30)
	FROM generate_series(1, $rows) g;
VACUUM ANALYZE item;
SELECT count(*) FROM item;
SQL
table_mib=$(wb_psql bench -Atc "SELECT pg_table_size('item') / 1048576")

cols="id, sku, warehouse, qty, price, status, updated_at, note"
timed_psql()
{
	local t0 t1
	t0=$(now)
	wb_psql bench -At -c "$1" >/dev/null
	t1=$(now)
	calc "$t1 - $t0"
}
# Best of three: the first pass also warms the cache for everyone.
best_of()
{
	local best=999999 t i
	for i in 1 2 3; do
		t=$(timed_psql "$1")
		best=$(awk -v a="$t" -v b="$best" 'BEGIN { print (a < b) ? a : b }')
	done
	echo "$best"
}
say "(a) COPY (SELECT ...) TO STDOUT (FORMAT binary) > /dev/null, best of 3"
copy_bin=$(best_of "COPY (SELECT $cols FROM item ORDER BY id) TO STDOUT (FORMAT binary)")
say "    COPY text and SELECT text (psql -At), best of 3, for comparison"
copy_text=$(best_of "COPY (SELECT $cols FROM item ORDER BY id) TO STDOUT")
select_text=$(best_of "SELECT $cols FROM item ORDER BY id")

# (b) waybill, once per parallelism given (default: one reader, then one
# reader per CPU, which splits the table into that many key ranges).
run_waybill()
{
	local par=$1 dir=$work/p$1
	mkdir -p "$dir"
	say "(b) waybill snapshot (initial_only, chunk_size $chunk, parallelism $par) → avro-file ($codec${level:+ level $level})"
	cat >"$dir/bench.yaml" <<YAML
name: snapbench
checkpoint_dir: $dir/checkpoints
source:
  type: postgres
  dsn: "$(wb_pg_dsn bench)"
  tables: ["public.item"]
  slot: waybill_snapbench_p$par
  snapshot: {mode: initial_only, chunk_size: $chunk, parallelism: $par}
sink:
  type: avro-file
  dir: $dir/out
  codec: $codec
${level:+  codec_level: $level}
YAML
	local t0 t1 wb_rc=0
	t0=$(now)
	/usr/bin/time -v -o "$dir/waybill.time" "$waybill" run -c "$dir/bench.yaml" \
		2>"$dir/waybill.log" || wb_rc=$?
	t1=$(now)
	if [ $wb_rc -ne 0 ]; then
		tail -n 30 "$dir/waybill.log" >&2
		echo "error: waybill exited with $wb_rc (log above)" >&2
		exit 1
	fi
	local wb_secs
	wb_secs=$(calc "$t1 - $t0")
	# phases from the log's timestamps (ms): process start = t0
	log_ms() { sed -n "s/^[0-9-]*T\([0-9:.]*\)Z.*$1.*/\1/p" "$dir/waybill.log" | head -n 1 |
		awk -F: '{ printf "%.3f", ($1 * 3600 + $2 * 60 + $3) }'; }
	local t0_day snap_begin snap_end stopped snap_line split_line
	t0_day=$(date -u -d "@$t0" +%H:%M:%S.%N | awk -F: '{ printf "%.3f", ($1 * 3600 + $2 * 60 + $3) }')
	snap_begin=$(log_ms "snapshot of [0-9]* table")
	snap_end=$(log_ms "snapshot at .* done")
	stopped=$(log_ms "pipeline: stopped at")
	snap_line=$(sed -n 's/.*\(snapshot at .* done: .*\)/\1/p' "$dir/waybill.log" | head -n 1)
	split_line=$(sed -n 's/.*snapshot of public.item: \(split into .*\)/\1/p' "$dir/waybill.log" | head -n 1)
	local wb_rss_kb wb_user wb_sys
	wb_rss_kb=$(time_field "$dir/waybill.time" "Maximum resident set size (kbytes)")
	wb_user=$(time_field "$dir/waybill.time" "User time (seconds)")
	wb_sys=$(time_field "$dir/waybill.time" "System time (seconds)")

	say "verifying the output (waybill cat): every id once"
	local files out_bytes=0 got=0 distinct=0 f
	mapfile -t files < <(find "$dir/out" -name '*.avro' | sort)
	for f in "${files[@]}"; do out_bytes=$((out_bytes + $(stat -c %s "$f"))); done
	if [ ${#files[@]} -gt 0 ]; then
		"$waybill" cat "${files[@]}" | grep '"op": *"r"' |
			sed -n 's/.*"after": *{"id": *\([0-9]*\).*/\1/p' >"$dir/ids"
		got=$(wc -l <"$dir/ids")
		distinct=$(sort -u "$dir/ids" | wc -l)
		rm -f "$dir/ids"
	fi

	report+=$(printf '\n  waybill, parallelism %d  %8.2f s  %10.0f rows/s  (start to exit: slot, snapshot, fsync, files completed)' \
		"$par" "$wb_secs" "$(calc "$rows / $wb_secs")")
	[ -n "$split_line" ] && report+=$(printf '\n    table %s' "$split_line")
	if [ -n "$snap_begin" ] && [ -n "$snap_end" ] && [ -n "$stopped" ]; then
		report+=$(printf '\n    = start-up %.2f s + snapshot %.2f s + drain %.2f s + exit (%s)' \
			"$(calc "$snap_begin - $t0_day")" "$(calc "$snap_end - $snap_begin")" \
			"$(calc "$stopped - $snap_end")" "$snap_line")
	fi
	report+=$(printf '\n    ratio (throughput) waybill/COPY binary %.2f (target >= 0.80)' "$(calc "$copy_bin / $wb_secs")")
	report+=$(printf '\n    peak RSS %.1f MiB (target <= 64 MiB); CPU %.2f s user + %.2f s sys (%.2f µs per row)' \
		"$(calc "$wb_rss_kb / 1024")" "$wb_user" "$wb_sys" "$(calc "($wb_user + $wb_sys) * 1000000 / $rows")")
	report+=$(printf '\n    output %d bytes in %d .avro files (%s), %d r records, %d distinct ids' \
		"$out_bytes" "${#files[@]}" "$codec${level:+ $level}" "$got" "$distinct")
	if [ "$got" -ne "$rows" ] || [ "$distinct" -ne "$rows" ]; then
		failed+=" parallelism $par: $got r records, $distinct distinct ids, expected $rows;"
	fi
	rm -rf "$dir/out"
}

report=
failed=
for par in $parallelism; do
	run_waybill "$par"
done

printf '\nPostgreSQL 15 snapshot of %d rows (%s MiB table), %d CPUs\n' "$rows" "$table_mib" "$(nproc)"
printf '  COPY binary → /dev/null   %8.2f s  %10.0f rows/s\n' "$copy_bin" "$(calc "$rows / $copy_bin")"
printf '  COPY text   → /dev/null   %8.2f s  %10.0f rows/s\n' "$copy_text" "$(calc "$rows / $copy_text")"
printf '  SELECT text (psql -At)    %8.2f s  %10.0f rows/s' "$select_text" "$(calc "$rows / $select_text")"
printf '%s\n' "$report"
if [ -n "$failed" ]; then
	printf '\nFAIL:%s\n' "$failed" >&2
	exit 1
fi
printf '\nok: every row delivered exactly once\n'
