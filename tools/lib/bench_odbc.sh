#!/usr/bin/env bash
# tools/lib/bench_odbc.sh — `tools/bench odbc`: waybill's ODBC polling source
# against a plain array-bound SQLFetch loop (tools/odbc-fetch.c) over the
# same query, through the same driver (psqlODBC), in one run.
#
#   tools/bench odbc [--rows N] [--runs R] [--array N] [--idle S] [--keep] [--no-waybill]
#
# Starts a throwaway PostgreSQL 15 (tools/lib/pg.sh), writes an odbcinst.ini
# for psqlODBC ("PostgreSQL Unicode", psqlodbcw.so) into the work directory
# (ODBCSYSINI: nothing outside it is read or written), creates a table of N
# rows (bigint id, numeric(12,2), text, timestamp, ~70 bytes of text per
# row) and then reads all of it with:
#   (a) odbc-fetch CONNECTION "SELECT ... ORDER BY id": every column bound as
#       text, column-wise arrays of --array rows (default 1000), rows per
#       fetch from SQL_ATTR_ROWS_FETCHED_PTR — once with the plain
#       connection string (psqlODBC reads the whole result into memory) and
#       once with UseDeclareFetch=1 (a server-side cursor, Fetch=--array
#       rows at a time);
#   (b) waybill run --stop-when-idle S (--idle, default 1): type odbc,
#       mode incrementing on id, snapshot: never, into the avro-file sink
#       (zstandard), the plain connection string.
# (--runs R: all three R times, alternating.) Each reader runs under
# /usr/bin/time -v; printed are seconds and rows/s (median over the runs),
# peak RSS (the largest run) and CPU user + sys (median), and the ratio
# waybill/odbc-fetch in throughput against the faster of the two
# odbc-fetch configurations (target >= 0.8; waybill's peak RSS <= 64
# MiB). It fails
# if odbc-fetch does not read exactly N rows or waybill's files do not hold
# exactly N records.
#
# waybill's time is its wall time minus the idle wait (its checkpoint's ODBC
# watermark is not read here). Being idle is only known after one poll that
# finds nothing, one poll_interval after the last chunk: the configuration
# polls every 100 ms so that this wait (1 s with poll_interval: 1s) does
# not count as reading time. Each waybill run starts without a checkpoint, so its first poll
# (incrementing, snapshot: never) reads the table from its lowest id. A waybill built without the odbc source rejects the
# configuration; the script then says so, reports the odbc-fetch half and
# exits 0. Release build in build-bench/ (WB_BENCH_BUILD_DIR).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

usage()
{
	cat <<USAGE
usage: tools/bench odbc [--rows N] [--runs R] [--array N] [--idle S] [--keep] [--no-waybill]
  --rows N             rows in the table (default 1000000)
  --runs R             measure the readers R times each, alternating (default 1)
  --array N            odbc-fetch's rows per SQLFetch, and psqlODBC's Fetch= with
                       UseDeclareFetch (default 1000)
  --idle S             waybill's --stop-when-idle seconds (default 1)
  --keep               keep the work directory (output files, logs) and print its path
  --no-waybill         only measure odbc-fetch
Targets: ratio waybill/odbc-fetch (throughput) >= 0.80; waybill's peak RSS <= 64 MiB.
USAGE
}

rows=1000000
runs=1
array=1000
idle=1
keep=0
no_waybill=0
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=${2:?--rows needs a number}; shift 2 ;;
	--runs) runs=${2:?--runs needs a number}; shift 2 ;;
	--array) array=${2:?--array needs a number}; shift 2 ;;
	--idle) idle=${2:?--idle needs seconds}; shift 2 ;;
	--keep) keep=1; shift ;;
	--no-waybill) no_waybill=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "tools/bench odbc: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $rows =~ ^[0-9]+$ && $rows -ge 1 ]] || { echo "tools/bench odbc: --rows must be a positive number" >&2; exit 2; }
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || { echo "tools/bench odbc: --runs must be a positive number" >&2; exit 2; }
[[ $array =~ ^[0-9]+$ && $array -ge 1 ]] || { echo "tools/bench odbc: --array must be a positive number" >&2; exit 2; }
[[ $idle =~ ^[0-9]+$ && $idle -ge 1 ]] || { echo "tools/bench odbc: --idle must be a positive number of seconds" >&2; exit 2; }

# shellcheck source=tools/lib/deps.sh
source tools/lib/deps.sh
# shellcheck source=tools/lib/pg.sh
source tools/lib/pg.sh

say() { printf '==> %s\n' "$*"; }
now() { date +%s.%N; }
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; }
# Floating-point arithmetic (awk: bc is not in a minimal Debian).
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
time_field() { sed -n "s/^[[:space:]]*$2: //p" "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

wb_install_deps >/dev/null

psqlodbc=/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so
[ -f "$psqlodbc" ] || psqlodbc=$(dpkg -L odbc-postgresql 2>/dev/null | grep '/psqlodbcw\.so$' | head -n 1)
[ -n "$psqlodbc" ] && [ -f "$psqlodbc" ] ||
	{ echo "error: psqlODBC's psqlodbcw.so not found; install odbc-postgresql" >&2; exit 1; }

# odbc-fetch is always built (it is the half that runs without the odbc
# source); waybill too unless --no-waybill.
build=${WB_BENCH_BUILD_DIR:-build-bench}
targets=(--target odbc-fetch)
[ $no_waybill = 0 ] && targets+=(--target waybill)
say "building $([ $no_waybill = 0 ] && echo "waybill and ")odbc-fetch (Release) into $build/"
mkdir -p "$build"
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release &&
	cmake --build "$build" -j"$(nproc)" "${targets[@]}"; } >"$build/bench-build.log" 2>&1; then
	tail -n 40 "$build/bench-build.log" >&2
	echo "error: build failed; full log in $build/bench-build.log" >&2
	exit 1
fi
bin=$build
[ "${build#/}" = "$build" ] && bin=$repo/$build
waybill=$bin/waybill
odbc_fetch=$bin/odbc-fetch

work=$(mktemp -d "${TMPDIR:-/tmp}/wb-bench-odbc.XXXXXX")
if [ $keep = 1 ]; then
	wb_cleanup_push "echo 'kept: $work'"
else
	wb_cleanup_push "rm -rf '$work'"
fi
# postgres (when run as root) only needs to reach its own directory.
chmod 755 "$work"

# unixODBC reads the driver list from $ODBCSYSINI/odbcinst.ini; no DSN
# file: the connection string names the driver.
mkdir -p "$work/odbc"
cat >"$work/odbc/odbcinst.ini" <<INI
[PostgreSQL Unicode]
Description = psqlODBC (written by tools/bench odbc)
Driver      = $psqlodbc
INI
: >"$work/odbc/odbc.ini"
export ODBCSYSINI=$work/odbc ODBCINSTINI=odbcinst.ini ODBCINI=$work/odbc/odbc.ini

say "starting PostgreSQL 15 (fsync=off, shared_buffers=256MB)"
wb_pg_start -c fsync=off -c shared_buffers=256MB -c autovacuum=off
pg_version=$(wb_psql postgres -Atc "SHOW server_version")
wb_psql postgres -c "CREATE DATABASE bench"
say "creating public.item with $rows rows"
t0=$(now)
wb_psql bench -o /dev/null <<SQL
CREATE TABLE item (
	id         bigint PRIMARY KEY,
	price      numeric(12,2) NOT NULL,
	sku        text NOT NULL,
	note       text,
	created_at timestamp NOT NULL
);
INSERT INTO item
SELECT g, (g % 500000) / 100.0 + 0.99, 'SKU-' || lpad((g % 100000)::text, 6, '0'),
	substr(md5(g::text), 1, 30) || ' ' || substr(md5((g + 1)::text), 1, 20),
	timestamp '2024-03-01 00:00:00' + g * interval '1 second'
FROM generate_series(1, $rows) g;
VACUUM ANALYZE item;
SQL
table_mb=$(wb_psql bench -Atc "SELECT pg_total_relation_size('item') / 1048576")
echo "    $(fmt "$(calc "$(now) - $t0")" '%.1f') s; $table_mb MiB with its index"

conn="Driver={PostgreSQL Unicode};Servername=$WB_PG_HOST;Port=$WB_PG_PORT;Database=bench;Username=postgres"
conn_cursor="$conn;UseDeclareFetch=1;Fetch=$array"
query="SELECT id, price, sku, note, created_at FROM public.item ORDER BY id"

# run_fetch TAG CONNECTION: odbc-fetch over the query. Sets f_secs[TAG]
# and f_line[TAG] (its output); appends to f_runs (seconds), f_rss (peak
# RSS, kB) and f_cpu (user + sys seconds), one word per run.
declare -A f_secs f_line f_runs f_rss f_cpu
run_fetch()
{
	local tag=$1 c=$2 t0 t1 out
	say "(a) odbc-fetch --array $array, $([ "$tag" = plain ] && echo "plain connection string" || echo "UseDeclareFetch=1;Fetch=$array")"
	t0=$(now)
	if ! /usr/bin/time -v -o "$work/fetch-$tag.time" \
		"$odbc_fetch" --array "$array" "$c" "$query" >"$work/fetch-$tag.out" 2>"$work/fetch-$tag.log"; then
		cat "$work/fetch-$tag.log" >&2
		echo "error: odbc-fetch failed (log above)" >&2
		exit 1
	fi
	t1=$(now)
	out=$(cat "$work/fetch-$tag.out")
	echo "    $out"
	local got
	got=$(sed -n 's/.*rows=\([0-9]*\).*/\1/p' <<<"$out")
	if [ "$got" != "$rows" ]; then
		echo "FAIL: odbc-fetch read $got rows; expected $rows" >&2
		exit 1
	fi
	# Start to exit, as waybill's figure (connecting included).
	f_secs[$tag]=$(calc "$t1 - $t0")
	f_runs[$tag]="${f_runs[$tag]:-} $(fmt "${f_secs[$tag]}" '%.2f')"
	local u s
	u=$(time_field "$work/fetch-$tag.time" "User time (seconds)")
	s=$(time_field "$work/fetch-$tag.time" "System time (seconds)")
	f_cpu[$tag]="${f_cpu[$tag]:-} $(calc "$u + $s")"
	f_rss[$tag]="${f_rss[$tag]:-} $(time_field "$work/fetch-$tag.time" "Maximum resident set size (kbytes)")"
	f_line[$tag]=$out
}

# waybill's configuration: the table polled by id, from the start.
cat >"$work/bench.yaml" <<YAML
name: bench
checkpoint_dir: $work/checkpoints
checkpoint_interval: 250ms
source:
  type: odbc
  connection: "$conn"
  poll_interval: 100ms
  tables: ["public.item"]
  tracking:
    public.item: {mode: incrementing, incrementing: id}
  snapshot: never
sink:
  type: avro-file
  dir: $work/out
  codec: zstandard
YAML

# run_waybill: waybill from an empty checkpoint directory each time. Sets
# wb_secs, wb_records, wb_out and appends to wb_secs_all, wb_rss_all (kB)
# and wb_cpu_all (user + sys); sets wb_missing=1 (and returns) when this
# build has no odbc source.
wb_missing=0
wb_secs_all=()
wb_rss_all=()
wb_cpu_all=()
run_waybill()
{
	local t0 t1 rc=0 files f
	rm -rf "$work/out" "$work/checkpoints"
	say "(b) waybill run --stop-when-idle $idle, odbc (incrementing on id) → avro-file (zstandard)"
	t0=$(now)
	/usr/bin/time -v -o "$work/waybill.time" \
		"$waybill" run -c "$work/bench.yaml" --stop-when-idle "$idle" \
		2>"$work/waybill.log" || rc=$?
	t1=$(now)
	if [ $rc -eq 2 ] && grep -q 'odbc is not supported' "$work/waybill.log"; then
		echo "    waybill has no odbc source in this build ($(grep -m1 'odbc is not supported' "$work/waybill.log"))"
		wb_missing=1
		return 0
	fi
	if [ $rc -ne 0 ]; then
		tail -n 30 "$work/waybill.log" >&2
		echo "error: waybill run exited with $rc (log above)" >&2
		exit 1
	fi
	wb_secs=$(calc "$t1 - $t0 - $idle")
	wb_secs_all+=("$wb_secs")
	wb_cpu_all+=("$(calc "$(time_field "$work/waybill.time" "User time (seconds)") + $(time_field "$work/waybill.time" "System time (seconds)")")")
	wb_rss_all+=("$(time_field "$work/waybill.time" "Maximum resident set size (kbytes)")")
	mapfile -t files < <(find "$work/out" -name '*.avro' | sort)
	wb_out=0
	for f in "${files[@]}"; do wb_out=$((wb_out + $(stat -c %s "$f"))); done
	wb_records=0
	[ ${#files[@]} -gt 0 ] && wb_records=$("$waybill" cat "${files[@]}" | wc -l)
	echo "    $(fmt "$wb_secs" '%.2f') s (wall minus the $idle s idle wait), $wb_records records, $wb_out bytes in ${#files[@]} .avro files"
	if [ "$wb_records" -ne "$rows" ]; then
		echo "FAIL: waybill wrote $wb_records records; expected $rows" >&2
		exit 1
	fi
}

fetch_plain=()
fetch_cursor=()
for ((r = 1; r <= runs; r++)); do
	[ "$runs" -gt 1 ] && say "run $r of $runs"
	run_fetch plain "$conn"
	fetch_plain+=("${f_secs[plain]}")
	run_fetch cursor "$conn_cursor"
	fetch_cursor+=("${f_secs[cursor]}")
	if [ $no_waybill = 0 ] && [ $wb_missing = 0 ]; then
		run_waybill
	fi
done

max_of() { printf '%s\n' "$@" | sort -g | tail -n 1; }
# shellcheck disable=SC2086 # the per-run words
fp_rss=$(max_of ${f_rss[plain]}) fc_rss=$(max_of ${f_rss[cursor]})
# shellcheck disable=SC2086
fp_cpu=$(median ${f_cpu[plain]}) fc_cpu=$(median ${f_cpu[cursor]})
fp=$(median "${fetch_plain[@]}")
fc=$(median "${fetch_cursor[@]}")
best=$fp best_desc="plain"
awk -v a="$fc" -v b="$fp" 'BEGIN { exit !(a < b) }' && { best=$fc; best_desc="UseDeclareFetch"; }

printf '\n'
printf 'PostgreSQL %s via psqlODBC (%s), %d rows (bigint, numeric(12,2), 2 text, timestamp; %s MiB), %d CPUs%s\n' \
	"$pg_version" "$(basename "$psqlodbc")" "$rows" "$table_mb" "$(nproc)" \
	"$([ "$runs" -gt 1 ] && echo ", median of $runs runs")"
printf '  %-40s %8s %11s %10s %10s\n' "" "seconds" "rows/s" "peak RSS" "CPU"
printf '  %-40s %8.2f %11.0f %6.1f MiB %8.2f s\n' "odbc-fetch, plain connection string" \
	"$fp" "$(calc "$rows / $fp")" "$(calc "$fp_rss / 1024")" "$fp_cpu"
printf '  %-40s %8.2f %11.0f %6.1f MiB %8.2f s\n' "odbc-fetch, UseDeclareFetch=1;Fetch=$array" \
	"$fc" "$(calc "$rows / $fc")" "$(calc "$fc_rss / 1024")" "$fc_cpu"
[ "$runs" -gt 1 ] && printf '    odbc-fetch runs (s): plain%s | UseDeclareFetch%s\n' "${f_runs[plain]}" "${f_runs[cursor]}"
printf '    odbc-fetch: start to exit (connect, execute, %s-row array fetches, every column as text)\n' "$array"
printf '    plain:  %s\n    cursor: %s\n' "${f_line[plain]}" "${f_line[cursor]}"
if [ $no_waybill = 1 ]; then
	exit 0
fi
if [ $wb_missing = 1 ]; then
	printf '  waybill                                  waybill has no odbc source in this build: not measured\n'
	exit 0
fi
ws=$(median "${wb_secs_all[@]}")
wb_rss=$(max_of "${wb_rss_all[@]}")
printf '  %-40s %8.2f %11.0f %6.1f MiB %8.2f s\n' "waybill → avro-file (incrementing on id)" \
	"$ws" "$(calc "$rows / $ws")" "$(calc "$wb_rss / 1024")" "$(median "${wb_cpu_all[@]}")"
[ "$runs" -gt 1 ] && printf '    waybill runs (s): %s\n' "$(printf '%.2f ' "${wb_secs_all[@]}" | sed 's/ $//')"
printf '    waybill: wall time minus the %s s idle wait; output %s bytes, %s records\n' "$idle" "$wb_out" "$wb_records"
ratio=$(calc "$best / $ws")
verdict=met
awk -v r="$ratio" 'BEGIN { exit !(r < 0.8) }' && verdict=MISSED
[ "$wb_rss" -gt $((64 * 1024)) ] && verdict=MISSED
printf '  ratio (throughput) waybill / odbc-fetch (%s, the faster) %.2f (1.00 = as fast; target >= 0.80)\n' \
	"$best_desc" "$ratio"
printf '  peak RSS waybill %.1f MiB, odbc-fetch %.1f MiB (plain) / %.1f MiB (UseDeclareFetch); target waybill <= 64 MiB\n' \
	"$(calc "$wb_rss / 1024")" "$(calc "$fp_rss / 1024")" "$(calc "$fc_rss / 1024")"
printf '  targets: %s\n' "$verdict"
printf '\nok: every row delivered exactly once\n'
