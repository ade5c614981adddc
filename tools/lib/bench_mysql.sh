#!/usr/bin/env bash
# tools/lib/bench_mysql.sh — `tools/bench mysql`: waybill's mysql source
# against MariaDB's own binlog decoder, on the same binlog range, in one run.
#
#   tools/bench mysql [--rows N] [--updates M] [--one-transaction] [--runs R] [--keep]
#
# Starts a throwaway MariaDB 10.11 (tools/lib/mariadb.sh: log_bin,
# binlog_format=ROW, binlog_row_metadata=FULL), creates a table of ~100-byte
# rows (the shape of tools/bench pg's item table: decimals, text, a
# datetime), runs waybill once so that its checkpoint fixes its starting
# point before the writes (with snapshot: never a first start begins at the
# server's current end), writes N inserts (1,000 per transaction, or all in
# one with --one-transaction) and M updates (1,000 per transaction), then
# decodes the same binlog range twice:
#   (a) mariadb-binlog --read-from-remote-server -v, from the binlog position
#       before the writes to the one after them, to /dev/null
#   (b) waybill run --stop-when-idle 1 (--idle), avro-file, zstandard
# (--runs R: both R times, alternating, on the same writes; waybill from the
# same checkpoint each time) and prints seconds, rows/s, the ratio,
# waybill's peak RSS and CPU, and the output size. It fails if the range
# does not hold exactly the writes (mariadb-binlog -v's rows counted once,
# untimed) or waybill's files do not hold exactly N inserts and M updates.
# Release build in build-bench/ (WB_BENCH_BUILD_DIR).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

usage()
{
	cat <<USAGE
usage: tools/bench mysql [--rows N] [--updates M] [--one-transaction] [--runs R] [--keep]
  --rows N             inserts (default 1000000)
  --updates M          updates after the inserts (default 500000)
  --one-transaction    all inserts in one transaction (default: 1,000 per transaction)
  --idle S             waybill's --stop-when-idle seconds (default 1)
  --runs R             measure (a) and (b) R times each, alternating, on the same writes (default 1)
  --keep               keep the work directory (output files, logs) and print its path
  --no-waybill         only measure mariadb-binlog (no build, no waybill run)
Targets: ratio mariadb-binlog/waybill (time) >= 1.00 (waybill faster); peak RSS <= 64 MiB.
USAGE
}

rows=1000000
updates=500000
one_txn=0
keep=0
no_waybill=0
idle=1
runs=1
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=${2:?--rows needs a number}; shift 2 ;;
	--updates) updates=${2:?--updates needs a number}; shift 2 ;;
	--one-transaction) one_txn=1; shift ;;
	--keep) keep=1; shift ;;
	--idle) idle=${2:?--idle needs seconds}; shift 2 ;;
	--no-waybill) no_waybill=1; shift ;;
	--runs) runs=${2:?--runs needs a number}; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "tools/bench mysql: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $rows =~ ^[0-9]+$ && $rows -ge 1 ]] || { echo "tools/bench mysql: --rows must be a positive number" >&2; exit 2; }
[[ $updates =~ ^[0-9]+$ ]] || { echo "tools/bench mysql: --updates must be a number" >&2; exit 2; }
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || { echo "tools/bench mysql: --runs must be a positive number" >&2; exit 2; }
[[ $idle =~ ^[0-9]+$ && $idle -ge 1 ]] || { echo "tools/bench mysql: --idle must be a positive number of seconds" >&2; exit 2; }

# shellcheck source=tools/lib/deps.sh
source tools/lib/deps.sh
# shellcheck source=tools/lib/mariadb.sh
source tools/lib/mariadb.sh

say() { printf '==> %s\n' "$*"; }
now() { date +%s.%N; }
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; }
# Floating-point arithmetic (awk: bc is not in a minimal Debian).
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
time_field() { sed -n "s/^[[:space:]]*$2: //p" "$1"; }
# "mysql-bin.000003" → 3
file_seq() { echo $((10#${1##*.})); }

wb_install_deps >/dev/null

build=${WB_BENCH_BUILD_DIR:-build-bench}
if [ $no_waybill = 0 ]; then
	say "building waybill (Release) into $build/"
	mkdir -p "$build"
	if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release &&
		cmake --build "$build" -j"$(nproc)"; } >"$build/bench-build.log" 2>&1; then
		tail -n 40 "$build/bench-build.log" >&2
		echo "error: build failed; full log in $build/bench-build.log" >&2
		exit 1
	fi
fi
waybill=$build/waybill
[ "${build#/}" = "$build" ] && waybill=$repo/$build/waybill

work=$(mktemp -d "${TMPDIR:-/tmp}/wb-bench-my.XXXXXX")
if [ $keep = 1 ]; then
	wb_cleanup_push "echo 'kept: $work'"
else
	wb_cleanup_push "rm -rf '$work'"
fi

# Durability is not what is measured: innodb_flush_log_at_trx_commit=2 and
# sync_binlog=0 (tools/lib/mariadb.sh). One binlog file up to 1 GiB, so
# the writes normally stay in one file (the range may span several).
say "starting MariaDB (log_bin, ROW, binlog_row_metadata=FULL, sync_binlog=0)"
wb_mariadb_start --max-binlog-size=1G --innodb-buffer-pool-size=512M
mariadb_version=$(wb_mariadb -e 'SELECT VERSION()')
wb_mariadb <<'SQL'
CREATE DATABASE bench;
CREATE TABLE bench.item (
	id         BIGINT        NOT NULL PRIMARY KEY,
	sku        VARCHAR(20)   NOT NULL,
	warehouse  CHAR(4)       NOT NULL,
	qty        DECIMAL(14,3) NOT NULL,
	price      DECIMAL(12,2) NOT NULL,
	status     CHAR(2)       NOT NULL,
	updated_at DATETIME      NOT NULL,
	note       TEXT
) ENGINE=InnoDB;
SQL

# waybill's configuration; the bench database is read as root over TCP.
cat >"$work/bench.yaml" <<YAML
name: bench
checkpoint_dir: $work/checkpoints
checkpoint_interval: 250ms
source:
  type: mysql
  host: 127.0.0.1
  port: $WB_MY_PORT
  user: root
  server_id: 4242
  tables: ["bench.item"]
  snapshot: never
sink:
  type: avro-file
  dir: $work/out
  codec: zstandard
YAML
ckpt=$work/checkpoints/bench.json

if [ $no_waybill = 0 ]; then
	# A first start with snapshot: never begins at the server's current
	# end; this run writes the checkpoint that makes the measured run below
	# start before the writes.
	say "waybill run --stop-when-idle 1 before the writes (fixes its starting point)"
	if ! "$waybill" run -c "$work/bench.yaml" --stop-when-idle 1 \
		>"$work/waybill-pre.log" 2>&1; then
		tail -n 30 "$work/waybill-pre.log" >&2
		echo "error: waybill's first run failed (log above)" >&2
		exit 1
	fi
	if [ ! -s "$ckpt" ]; then
		tail -n 30 "$work/waybill-pre.log" >&2
		echo "error: waybill's first run left no checkpoint $ckpt; the measured run would start after the writes" >&2
		exit 1
	fi
	cp "$ckpt" "$work/checkpoint.start"
	rm -rf "$work/out"
fi

# The workload as SQL, one mariadb client session. Inserts come from the
# SEQUENCE engine (seq_A_to_B), one statement per transaction (autocommit).
# SHOW MASTER STATUS is printed before the last transaction and after it:
# waybill's checkpoint names a transaction by the offset of its first event,
# so "the last transaction is durable" is binlog_position >= the position
# before it; mariadb-binlog stops at the position after it.
chunk=1000
sql=$work/workload.sql
stmts=()
row="seq, CONCAT('SKU-', LPAD(seq % 100000, 6, '0')), CONCAT('WH', LPAD(seq % 7 + 1, 2, '0')),
	(seq % 1000) * 1.125, (seq % 5000) / 100.0 + 0.99, 'OK',
	TIMESTAMP '2024-03-01 00:00:00' + INTERVAL seq SECOND, SUBSTR(MD5(seq), 1, 30)"
if [ $one_txn = 1 ]; then
	stmts+=("INSERT INTO item SELECT $row FROM seq_1_to_$rows;")
else
	for ((a = 1; a <= rows; a += chunk)); do
		b=$((a + chunk - 1 > rows ? rows : a + chunk - 1))
		stmts+=("INSERT INTO item SELECT $row FROM seq_${a}_to_$b;")
	done
fi
# Updates walk through the rows (wrapping around when M > N).
uchunk=$((chunk < rows ? chunk : rows))
set_clause="SET qty = qty + 1, status = 'UP', updated_at = updated_at + INTERVAL 1 DAY"
for ((a = 0; a < updates; a += uchunk)); do
	n=$((a + uchunk > updates ? updates - a : uchunk))
	lo=$((a % rows + 1))
	hi=$((lo + n - 1))
	if [ "$hi" -le "$rows" ]; then
		stmts+=("UPDATE item $set_clause WHERE id BETWEEN $lo AND $hi;")
	else
		stmts+=("BEGIN; UPDATE item $set_clause WHERE id BETWEEN $lo AND $rows; UPDATE item $set_clause WHERE id BETWEEN 1 AND $((hi - rows)); COMMIT;")
	fi
done
{
	last=$((${#stmts[@]} - 1))
	printf '%s\n' "${stmts[@]:0:$last}"
	echo "SHOW MASTER STATUS;"
	printf '%s\n' "${stmts[$last]}"
	echo "SHOW MASTER STATUS;"
} >"$sql"
unset stmts

changes=$((rows + updates))
txn_desc=$([ $one_txn = 1 ] && echo "in one transaction" || echo "in $chunk-row transactions")
read -r start_file start_off < <(wb_mariadb_master_status)
say "writing $rows inserts ($txn_desc) and $updates updates ($chunk-row transactions)"
t0=$(now)
wb_mariadb bench <"$sql" >"$work/workload.out"
t1=$(now)
read -r last_file last_off _ < <(sed -n 1p "$work/workload.out")
read -r end_file end_off _ < <(sed -n 2p "$work/workload.out")
[ -n "${end_off:-}" ] || { cat "$work/workload.out" >&2; echo "error: no SHOW MASTER STATUS after the writes" >&2; exit 1; }

# The files of the range and its size in bytes.
range_files=()
binlog_bytes=0
while IFS=$'\t' read -r name size _; do
	seq=$(file_seq "$name")
	[ "$seq" -ge "$(file_seq "$start_file")" ] && [ "$seq" -le "$(file_seq "$end_file")" ] || continue
	range_files+=("$name")
	lo=0
	hi=$size
	[ "$name" = "$start_file" ] && lo=$start_off
	[ "$name" = "$end_file" ] && hi=$end_off
	binlog_bytes=$((binlog_bytes + hi - lo))
done < <(wb_mariadb -e 'SHOW BINARY LOGS')
echo "    $(fmt "$(calc "$t1 - $t0")" '%.1f') s; binlog $start_file:$start_off .. $end_file:$end_off ($((binlog_bytes / 1048576)) MiB, ${#range_files[@]} file(s)); last transaction at $last_file:$last_off"

binlog_args=(--no-defaults --read-from-remote-server --host=127.0.0.1
	--port="$WB_MY_PORT" --user=root --start-position="$start_off"
	--stop-position="$end_off")

# Not timed: the range decoded once, counting the rows mariadb-binlog -v
# shows, to prove that it holds exactly the writes.
say "range check (not timed): the rows mariadb-binlog -v decodes in it"
mariadb-binlog "${binlog_args[@]}" -v "${range_files[@]}" 2>/dev/null |
	grep -oE '^### (INSERT INTO|UPDATE|DELETE FROM) ' | sort | uniq -c >"$work/mariadb-binlog.ops"
mb_ins=$(awk '$3 == "INSERT" { print $1 }' "$work/mariadb-binlog.ops")
mb_upd=$(awk '$3 == "UPDATE" { print $1 }' "$work/mariadb-binlog.ops")
mb_del=$(awk '$3 == "DELETE" { print $1 }' "$work/mariadb-binlog.ops")
mb_ins=${mb_ins:-0}
mb_upd=${mb_upd:-0}
mb_del=${mb_del:-0}
echo "    $mb_ins inserts, $mb_upd updates, $mb_del deletes"
if [ "$mb_ins" -ne "$rows" ] || [ "$mb_upd" -ne "$updates" ] || [ "$mb_del" -ne 0 ]; then
	echo "error: the binlog range does not hold exactly the writes ($rows inserts, $updates updates)" >&2
	exit 1
fi

# (a) MariaDB's own decoder, -v: the rows decoded into pseudo-SQL comments
#     (and the events as BINLOG base64 statements), to /dev/null. Sets
#     mb_secs, mb_user, mb_sys, mb_rss_kb.
run_mariadb_binlog()
{
	local t0 t1 r=$1
	say "(a) run $r: mariadb-binlog --read-from-remote-server -v, $start_file:$start_off .. $end_file:$end_off, to /dev/null"
	t0=$(now)
	/usr/bin/time -v -o "$work/mariadb-binlog.time" \
		mariadb-binlog "${binlog_args[@]}" -v "${range_files[@]}" \
		>/dev/null 2>"$work/mariadb-binlog.log" ||
		{ cat "$work/mariadb-binlog.log" >&2; echo "error: mariadb-binlog failed" >&2; exit 1; }
	t1=$(now)
	mb_secs=$(calc "$t1 - $t0")
	mb_user=$(time_field "$work/mariadb-binlog.time" "User time (seconds)")
	mb_sys=$(time_field "$work/mariadb-binlog.time" "System time (seconds)")
	mb_rss_kb=$(time_field "$work/mariadb-binlog.time" "Maximum resident set size (kbytes)")
}

# (b) waybill, from the checkpoint the run before the writes left. It stops
#     once everything is delivered and checkpointed and nothing arrived for
#     $idle s, so its wall time includes that idle wait. What is reported
#     instead: from start until its checkpoint file first shows a
#     binlog_position at or past the last transaction's start, i.e. every
#     change is in the Avro files, fsynced, and the checkpoint durable.
#     Sets wb_secs, wb_measure, wb_user, wb_sys, wb_rss_kb, and from the
#     output (waybill cat) got_c, got_u, got_total, out_bytes, nfiles, partial.
run_waybill()
{
	local t0 t1 r=$1 poller wb_rc=0 wb_wall files f
	say "(b) run $r: waybill run --stop-when-idle $idle, avro-file sink (zstandard)"
	cp "$work/checkpoint.start" "$ckpt"
	rm -rf "$work/out" "$work/caught_up"
	# Polls the checkpoint; writes the time the end was first durable. One
	# python process that sleeps between reads (as tools/bench pg's poller).
	/usr/bin/python3 - "$ckpt" "$(file_seq "$last_file")" "$last_off" "$work/caught_up" <<'PY' &
import json, re, sys, time
path, seq, off, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# binlog_position: [e<epoch>/]<file sequence>:<offset>:<ordinal>
pat = re.compile(r"^(?:e\d+/)?(\d+):(\d+):")
while True:
    try:
        with open(path) as f:
            pos = json.load(f).get("binlog_position") or ""
        m = pat.match(pos)
        if m and (int(m.group(1)), int(m.group(2))) >= (seq, off):
            with open(out, "w") as o:
                o.write("%.9f\n" % time.time())
            sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.01)
PY
	poller=$!
	wb_cleanup_push "kill $poller 2>/dev/null || true"
	sleep 0.3 # the poller's start-up is not waybill's time
	t0=$(now)
	/usr/bin/time -v -o "$work/waybill.time" \
		"$waybill" run -c "$work/bench.yaml" --stop-when-idle "$idle" \
		2>"$work/waybill.log" || wb_rc=$?
	t1=$(now)
	kill "$poller" 2>/dev/null || true
	wait "$poller" 2>/dev/null || true
	if [ $wb_rc -ne 0 ]; then
		tail -n 30 "$work/waybill.log" >&2
		echo "error: waybill run exited with $wb_rc (log above)" >&2
		exit 1
	fi
	wb_wall=$(calc "$t1 - $t0")
	if [ -f "$work/caught_up" ]; then
		wb_secs=$(calc "$(cat "$work/caught_up") - $t0")
		wb_measure="start to durable checkpoint at the last transaction (wall time incl. idle stop: $(fmt "$wb_wall" '%.2f') s)"
	else
		wb_secs=$(calc "$wb_wall - $idle")
		wb_measure="wall time minus the $idle s idle wait (the checkpoint never showed binlog_position >= $(file_seq "$last_file"):$last_off)"
	fi
	wb_user=$(time_field "$work/waybill.time" "User time (seconds)")
	wb_sys=$(time_field "$work/waybill.time" "System time (seconds)")
	wb_rss_kb=$(time_field "$work/waybill.time" "Maximum resident set size (kbytes)")

	say "    verifying the output (waybill cat)"
	mapfile -t files < <(find "$work/out" -name '*.avro' | sort)
	nfiles=${#files[@]}
	partial=$(find "$work/out" -name '*.part' | wc -l)
	out_bytes=0
	for f in "${files[@]}"; do out_bytes=$((out_bytes + $(stat -c %s "$f"))); done
	if [ "$nfiles" -gt 0 ]; then
		"$waybill" cat "${files[@]}" | grep -o '"op": *"[a-z]"' | tr -d ' "' |
			sort | uniq -c >"$work/ops.txt"
	else
		: >"$work/ops.txt"
	fi
	got_c=$(awk '$2 == "op:c" { print $1 }' "$work/ops.txt")
	got_u=$(awk '$2 == "op:u" { print $1 }' "$work/ops.txt")
	got_total=$(awk '{ s += $1 } END { print s + 0 }' "$work/ops.txt")
	got_c=${got_c:-0}
	got_u=${got_u:-0}
}

report_head()
{
	printf '\n'
	printf 'MariaDB %s → row binlog, %d inserts (%s) + %d updates, ~100-byte rows, %d CPUs\n' \
		"${mariadb_version%%-*}" "$rows" "$txn_desc" "$updates" "$(nproc)"
	printf '  changes                    %d (binlog %d MiB)\n' "$changes" $((binlog_bytes / 1048576))
}
report_mb()
{
	printf '  mariadb-binlog -v → /dev/null %7.2f s  %9.0f rows/s  (CPU %.2f s user + %.2f s sys, peak RSS %.1f MiB)\n' \
		"$mb_secs" "$(calc "$changes / $mb_secs")" "$mb_user" "$mb_sys" "$(calc "$mb_rss_kb / 1024")"
}
report_wb()
{
	printf '  waybill → avro-file           %7.2f s  %9.0f rows/s\n' \
		"$wb_secs" "$(calc "$changes / $wb_secs")"
	printf '    measured: %s\n' "$wb_measure"
	printf '  ratio (time) mariadb-binlog/waybill %.2f (1.00 = as fast; target >= 1.00: waybill faster)\n' \
		"$(calc "$mb_secs / $wb_secs")"
	printf '  waybill peak RSS           %8.1f MiB (target <= 64 MiB)\n' "$(calc "$wb_rss_kb / 1024")"
	printf '  waybill CPU                %8.2f s user + %.2f s sys (%.2f µs per change)\n' \
		"$wb_user" "$wb_sys" "$(calc "($wb_user + $wb_sys) * 1000000 / $changes")"
	printf '  output                     %d bytes in %d .avro files (%.1f bytes per change), %d .part left\n' \
		"$out_bytes" "$nfiles" "$(calc "$out_bytes / $changes")" "$partial"
	printf '  records                    %d (inserts %d, updates %d)\n' "$got_total" "$got_c" "$got_u"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The runs alternate (a) and (b), so a change in the machine's load
# weighs on both alike.
report=
failed=
ratios=()
for ((r = 1; r <= runs; r++)); do
	run_mariadb_binlog "$r"
	[ "$runs" -gt 1 ] && report+="run $r"$'\n'
	if [ $no_waybill = 1 ]; then
		report+=$(report_mb)$'\n'
		continue
	fi
	run_waybill "$r"
	ratios+=("$(calc "$mb_secs / $wb_secs")")
	report+=$(report_mb)$'\n'$(report_wb)$'\n'
	if [ "$got_c" -ne "$rows" ] || [ "$got_u" -ne "$updates" ] || [ "$got_total" -ne "$changes" ]; then
		failed+=$(printf 'run %d: waybill wrote %d records (%d inserts, %d updates); expected %d (%d + %d)' \
			"$r" "$got_total" "$got_c" "$got_u" "$changes" "$rows" "$updates")$'\n'
	fi
done

report_head
printf '%s' "$report"
if [ "$runs" -gt 1 ] && [ $no_waybill = 0 ]; then
	printf 'ratio mariadb-binlog/waybill over %d runs: %s (median %.2f)\n' \
		"$runs" "$(printf '%.2f ' "${ratios[@]}" | sed 's/ $//')" "$(median "${ratios[@]}")"
fi
[ $no_waybill = 1 ] && exit 0
if [ -n "$failed" ]; then
	printf '\nFAIL: %s' "$failed" >&2
	exit 1
fi
printf '\nok: every change delivered exactly once\n'
