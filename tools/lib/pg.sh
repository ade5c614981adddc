# tools/lib/pg.sh — start and stop a throwaway PostgreSQL 15 for tools and
# tests: its own temporary directory, unix socket and port, wal_level=logical,
# removed again on exit, Ctrl-C or SIGTERM. Sourced (bash); it defines:
#
#   wb_cleanup_push CMD   run CMD (a string, eval'ed) when the script ends;
#                         the last pushed runs first. pg.sh owns the traps on
#                         EXIT/INT/TERM, so scripts push their own cleanup
#                         here instead of setting traps of their own.
#   wb_pg_start [-c name=value]...
#                         initdb + start; extra -c settings go into
#                         postgresql.conf. Sets WB_PG_DIR (temp dir),
#                         WB_PG_DATA, WB_PG_HOST (socket dir), WB_PG_PORT,
#                         WB_PG_LOG. WB_PG_PORT may be preset; WB_PG_TCP=1
#                         also listens on 127.0.0.1 (default: socket only,
#                         so parallel servers never collide).
#   wb_pg_stop            pg_ctl stop -m fast and remove the directory
#                         (also done automatically at exit).
#   wb_pg_dsn [DB]        libpq connection string for user postgres.
#   wb_psql [DB] [psql args...]   psql -X -q -v ON_ERROR_STOP=1 against it.
#
# initdb and postgres refuse to run as root: as root they run as the
# `postgres` user (created by Debian's postgresql-15 package), which owns the
# temporary directory. Authentication is trust, on the private socket only.

# shellcheck shell=bash
WB_PG_BIN=${WB_PG_BIN:-/usr/lib/postgresql/15/bin}
WB_PG_DIR=
WB_PG_DATA=
WB_PG_HOST=
WB_PG_LOG=
_wb_cleanups=()
_wb_traps_set=

_wb_run_cleanups()
{
	local i
	for ((i = ${#_wb_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_wb_cleanups[$i]}" || true
	done
	_wb_cleanups=()
}

_wb_on_signal()
{
	local code=$1
	trap - EXIT INT TERM
	echo >&2
	echo "==> interrupted; cleaning up" >&2
	_wb_run_cleanups
	exit "$code"
}

wb_cleanup_push()
{
	_wb_cleanups+=("$1")
	if [ -z "$_wb_traps_set" ]; then
		trap '_wb_run_cleanups' EXIT
		trap '_wb_on_signal 130' INT
		trap '_wb_on_signal 143' TERM
		_wb_traps_set=1
	fi
}

# Runs a command as the server's owner.
_wb_as_pg()
{
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

_wb_pick_port()
{
	local port tries=0
	while :; do
		port=$((20000 + RANDOM % 20000))
		# With TCP on, skip ports something already listens on.
		if [ "${WB_PG_TCP:-0}" != 1 ] ||
			! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
		tries=$((tries + 1))
		[ $tries -lt 50 ] || return 1
	done
}

wb_pg_start()
{
	local settings=() listen="''"
	while [ $# -gt 0 ]; do
		case $1 in
		-c) settings+=("$2"); shift 2 ;;
		*) echo "wb_pg_start: unknown argument $1" >&2; return 2 ;;
		esac
	done
	if [ ! -x "$WB_PG_BIN/initdb" ]; then
		echo "error: $WB_PG_BIN/initdb not found; install postgresql-15" >&2
		return 1
	fi
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "error: no 'postgres' user to run the server as; install postgresql-15" >&2
		return 1
	fi
	WB_PG_PORT=${WB_PG_PORT:-$(_wb_pick_port)}
	WB_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wb-pg.XXXXXX")
	wb_cleanup_push wb_pg_stop
	WB_PG_DATA=$WB_PG_DIR/data
	WB_PG_HOST=$WB_PG_DIR/sock
	WB_PG_LOG=$WB_PG_DIR/server.log
	mkdir -p "$WB_PG_HOST"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$WB_PG_DIR"
	fi
	if ! _wb_as_pg "$WB_PG_BIN/initdb" -D "$WB_PG_DATA" -U postgres -A trust \
		-E UTF8 --locale=C.UTF-8 --no-sync >"$WB_PG_DIR/initdb.log" 2>&1; then
		cat "$WB_PG_DIR/initdb.log" >&2
		echo "error: initdb failed" >&2
		return 1
	fi
	[ "${WB_PG_TCP:-0}" = 1 ] && listen="'127.0.0.1'"
	{
		echo "# added by tools/lib/pg.sh"
		echo "listen_addresses = $listen"
		echo "port = $WB_PG_PORT"
		echo "unix_socket_directories = '$WB_PG_HOST'"
		echo "wal_level = logical"
		echo "max_replication_slots = 10"
		echo "max_wal_senders = 10"
		echo "timezone = 'UTC'"
		local kv
		for kv in "${settings[@]}"; do
			echo "${kv%%=*} = '${kv#*=}'"
		done
	} | _wb_as_pg tee -a "$WB_PG_DATA/postgresql.conf" >/dev/null
	if ! _wb_as_pg "$WB_PG_BIN/pg_ctl" -D "$WB_PG_DATA" -l "$WB_PG_LOG" \
		-w -t 60 start >/dev/null; then
		cat "$WB_PG_LOG" >&2 2>/dev/null
		echo "error: PostgreSQL did not start (log above)" >&2
		return 1
	fi
}

wb_pg_stop()
{
	[ -n "$WB_PG_DIR" ] || return 0
	if [ -f "$WB_PG_DATA/postmaster.pid" ]; then
		_wb_as_pg "$WB_PG_BIN/pg_ctl" -D "$WB_PG_DATA" -m fast -w -t 60 \
			stop >/dev/null 2>&1 || true
	fi
	rm -rf "$WB_PG_DIR"
	WB_PG_DIR=
}

wb_pg_dsn()
{
	echo "host=$WB_PG_HOST port=$WB_PG_PORT dbname=${1:-postgres} user=postgres"
}

wb_psql()
{
	local db=${1:-postgres}
	[ $# -gt 0 ] && shift
	"$WB_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WB_PG_HOST" \
		-p "$WB_PG_PORT" -U postgres -d "$db" "$@"
}
