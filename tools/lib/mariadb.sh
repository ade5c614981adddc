# tools/lib/mariadb.sh — start and stop a throwaway MariaDB (Debian 12's
# 10.11) for tools: its own temporary directory, data directory, unix socket
# and a free port on 127.0.0.1, the binary log on (ROW, FULL row metadata,
# server_id 1), removed again on exit, Ctrl-C or SIGTERM. Sourced (bash); it
# defines:
#
#   wb_mariadb_start [--name=value]...
#                         mariadb-install-db + mariadbd; extra server options
#                         are passed on as given (--max-binlog-size=1G, ...).
#                         Sets WB_MY_DIR (temp dir), WB_MY_DATA, WB_MY_SOCK,
#                         WB_MY_PORT, WB_MY_LOG (error log), WB_MY_PID.
#                         WB_MY_PORT may be preset.
#   wb_mariadb_stop       shuts the server down (SIGTERM, then SIGKILL after
#                         60 s) and removes the directory (also done
#                         automatically at exit).
#   wb_mariadb [DB] [client args...]
#                         the mariadb client as root on the private socket,
#                         batch mode (tab-separated, no column names), stops
#                         at the first error.
#   wb_mariadb_master_status
#                         prints "FILE OFFSET" of SHOW MASTER STATUS (the
#                         binary log's current end).
#
# Cleanup goes through wb_cleanup_push from tools/lib/pg.sh (sourced here
# when the script has not done so yet), so scripts using both servers
# share one set of traps.
#
# The server runs as the invoking user (as root with --user=root). Speed over
# durability: innodb_flush_log_at_trx_commit=2, sync_binlog=0. root has no
# password and is reachable from the socket and from 127.0.0.1 (what
# mariadb-binlog --read-from-remote-server and waybill connect to).

# shellcheck shell=bash
if ! declare -F wb_cleanup_push >/dev/null; then
	# shellcheck source=tools/lib/pg.sh
	source "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
fi

WB_MY_MARIADBD=${WB_MY_MARIADBD:-/usr/sbin/mariadbd}
WB_MY_DIR=
WB_MY_DATA=
WB_MY_SOCK=
WB_MY_LOG=
WB_MY_PID=

_wb_my_pick_port()
{
	local port tries=0
	while :; do
		port=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
		tries=$((tries + 1))
		[ $tries -lt 50 ] || return 1
	done
}

# _wb_my_ping: true once the server answers on its socket.
_wb_my_ping()
{
	mariadb --no-defaults -S "$WB_MY_SOCK" -uroot -Nse 'SELECT 1' >/dev/null 2>&1
}

wb_mariadb_start()
{
	local extra=() preset=${WB_MY_PORT:-} attempt user_opt=()
	while [ $# -gt 0 ]; do
		case $1 in
		--*=*|--*) extra+=("$1"); shift ;;
		*) echo "wb_mariadb_start: unknown argument $1" >&2; return 2 ;;
		esac
	done
	if [ ! -x "$WB_MY_MARIADBD" ] || ! command -v mariadb-install-db >/dev/null; then
		echo "error: mariadbd or mariadb-install-db not found; install mariadb-server" >&2
		return 1
	fi
	[ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
	WB_MY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wb-my.XXXXXX")
	wb_cleanup_push wb_mariadb_stop
	WB_MY_DATA=$WB_MY_DIR/data
	WB_MY_SOCK=$WB_MY_DIR/mysqld.sock
	WB_MY_LOG=$WB_MY_DIR/server.log
	if ! mariadb-install-db --no-defaults --datadir="$WB_MY_DATA" "${user_opt[@]}" \
		--auth-root-authentication-method=normal --skip-test-db \
		>"$WB_MY_DIR/install-db.log" 2>&1; then
		cat "$WB_MY_DIR/install-db.log" >&2
		echo "error: mariadb-install-db failed" >&2
		return 1
	fi
	# A port picked free can be taken before mariadbd binds it: retry.
	for attempt in 1 2 3 4 5; do
		WB_MY_PORT=${preset:-$(_wb_my_pick_port)}
		: >"$WB_MY_LOG"
		"$WB_MY_MARIADBD" --no-defaults "${user_opt[@]}" \
			--datadir="$WB_MY_DATA" --socket="$WB_MY_SOCK" \
			--port="$WB_MY_PORT" --bind-address=127.0.0.1 \
			--pid-file="$WB_MY_DIR/mysqld.pid" --log-error="$WB_MY_LOG" \
			--server-id=1 --log-bin="$WB_MY_DATA/mysql-bin" \
			--binlog-format=ROW --binlog-row-metadata=FULL \
			--binlog-row-image=FULL \
			--innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
			--innodb-buffer-pool-size=256M --innodb-log-file-size=256M \
			--skip-name-resolve --character-set-server=utf8mb4 \
			--collation-server=utf8mb4_general_ci --max-allowed-packet=256M \
			"${extra[@]}" </dev/null >/dev/null 2>&1 &
		WB_MY_PID=$!
		local i
		for ((i = 0; i < 600; i++)); do
			kill -0 "$WB_MY_PID" 2>/dev/null || break
			if _wb_my_ping; then
				return 0
			fi
			sleep 0.1
		done
		if kill -0 "$WB_MY_PID" 2>/dev/null; then
			kill -KILL "$WB_MY_PID" 2>/dev/null
			wait "$WB_MY_PID" 2>/dev/null || true
			WB_MY_PID=
			tail -n 30 "$WB_MY_LOG" >&2
			echo "error: MariaDB did not answer within 60 s (log above)" >&2
			return 1
		fi
		wait "$WB_MY_PID" 2>/dev/null || true
		WB_MY_PID=
		if [ -z "$preset" ] && grep -q 'Address already in use' "$WB_MY_LOG"; then
			continue
		fi
		tail -n 30 "$WB_MY_LOG" >&2
		echo "error: MariaDB did not start (log above)" >&2
		return 1
	done
	echo "error: could not start MariaDB on a free port" >&2
	return 1
}

wb_mariadb_stop()
{
	[ -n "$WB_MY_DIR" ] || return 0
	if [ -n "$WB_MY_PID" ] && kill -0 "$WB_MY_PID" 2>/dev/null; then
		kill -TERM "$WB_MY_PID" 2>/dev/null || true
		local i
		for ((i = 0; i < 600; i++)); do
			kill -0 "$WB_MY_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$WB_MY_PID" 2>/dev/null || true
		wait "$WB_MY_PID" 2>/dev/null || true
	fi
	WB_MY_PID=
	rm -rf "$WB_MY_DIR"
	WB_MY_DIR=
}

wb_mariadb()
{
	local db=()
	if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
		db=("$1")
		shift
	fi
	mariadb --no-defaults -S "$WB_MY_SOCK" -uroot --batch --skip-column-names \
		--default-character-set=utf8mb4 "$@" "${db[@]}"
}

wb_mariadb_master_status()
{
	wb_mariadb -e 'SHOW MASTER STATUS' | awk -F'\t' 'NR == 1 { print $1, $2 }'
}
