# odbctest.py — helpers for the ODBC source's integration tests: Debian's
# ODBC drivers registered in an odbcinst.ini of a temp dir (ODBCSYSINI /
# ODBCINI in the environment, inherited by waybill), pipelines with an
# odbc source, SQLite databases written through Python's sqlite3 (another
# connection than waybill's), PostgreSQL and MariaDB servers started the
# way wbtest.py and mytest.py start them.
import json
import os
import sqlite3
import subprocess
import time

from wbtest import (PG_BIN, Pipeline, Postgres, add_cleanup, fail, log, make_tmpdir,  # noqa: F401
                    records, wait_until)

ODBC_LIB = "/usr/lib/x86_64-linux-gnu/odbc"
DRIVERS = {
    "SQLite3": f"{ODBC_LIB}/libsqlite3odbc.so",
    "PostgreSQL Unicode": f"{ODBC_LIB}/psqlodbcw.so",
    "MariaDB": f"{ODBC_LIB}/libmaodbc.so",
}
_env_dir = None


def odbc_env():
    """Registers the drivers once per process (a temp odbcinst.ini; no
    system file is touched) and returns the directory."""
    global _env_dir
    if _env_dir is None:
        _env_dir = make_tmpdir("wbtest-odbc-")
        with open(os.path.join(_env_dir, "odbcinst.ini"), "w") as f:
            for name, path in DRIVERS.items():
                if not os.path.exists(path):
                    fail(f"ODBC driver {path} is missing (packages libsqliteodbc, "
                         f"odbc-postgresql, odbc-mariadb)")
                f.write(f"[{name}]\nDriver = {path}\nThreading = 0\n\n")
        open(os.path.join(_env_dir, "odbc.ini"), "w").close()
        os.environ["ODBCSYSINI"] = _env_dir
        os.environ["ODBCINI"] = os.path.join(_env_dir, "odbc.ini")
    return _env_dir


class OdbcPipeline(Pipeline):
    """A pipeline with an odbc source: tracking is {table: {mode: ...}}
    (written as YAML flow, i.e. JSON)."""

    def __init__(self, connection, tables, tracking=None, name="o1", snapshot="never",
                 poll="200ms", extra_source="", **kw):
        odbc_env()
        super().__init__(None, name=name, dsn="unused", **kw)
        lines = ["source:", "  type: odbc",
                 f"  connection: {json.dumps(connection)}",
                 f"  tables: {json.dumps(list(tables))}",
                 f"  snapshot: {snapshot}",
                 f"  poll_interval: {poll}"]
        if tracking:
            lines.append(f"  tracking: {json.dumps(tracking)}")
        text = self.config_text
        a = text.index("source:\n")
        b = text.index("sink:\n")
        self.write_config(text[:a] + "\n".join(lines) + "\n" + extra_source + text[b:])

    def rows(self, topic):
        return records(self.out, topic)


class SQLiteDB:
    """A SQLite file and a Python connection to it (autocommit)."""

    def __init__(self):
        self.dir = make_tmpdir("wbtest-sqlite-")
        self.path = os.path.join(self.dir, "db.sqlite")
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        add_cleanup(self.conn.close)

    def sql(self, text, params=()):
        if params:
            return self.conn.execute(text, params).fetchall()
        self.conn.executescript(text)
        return None

    @property
    def connection(self):
        return f"Driver=SQLite3;Database={self.path};Timeout=30000"


def pg_connection(pg, db="postgres"):
    return (f"Driver={{PostgreSQL Unicode}};Servername=127.0.0.1;Port={pg.port};"
            f"Database={db};Username=postgres;UseDeclareFetch=0;BoolsAsChar=0")


def pg_stop(pg):
    r = pg._as_pg([f"{PG_BIN}/pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "-t", "30", "stop"],
                  timeout=60)
    if r.returncode != 0:
        fail(f"pg_ctl stop failed: {r.stdout}{r.stderr}")
    pg.started = False


def pg_start_again(pg):
    opts = (f"-p {pg.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={pg.sock} "
            f"-c fsync=off")
    r = pg._as_pg([f"{PG_BIN}/pg_ctl", "-D", pg.data, "-l", os.path.join(pg.dir, "server.log"),
                   "-o", opts, "-w", "-t", "60", "start"], timeout=90)
    if r.returncode != 0:
        fail(f"pg_ctl start failed: {r.stdout}{r.stderr}")
    pg.started = True


def maria_connection(db, database="app"):
    return (f"Driver={{MariaDB}};Server=127.0.0.1;Port={db.port};User=root;"
            f"Database={database}")


def run_peak_rss(p, idle=1, timeout=120):
    """Runs the pipeline until idle; returns waybill's own peak RSS (MiB,
    VmHWM sampled until it exits)."""
    proc = p.start(["--stop-when-idle", str(idle)])
    peak = 0
    deadline = time.time() + timeout
    while proc.p.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        if time.time() > deadline:
            fail("waybill did not stop when idle")
        time.sleep(0.05)
    if proc.p.returncode != 0:
        fail(f"waybill exited {proc.p.returncode}: {proc.stderr()[-3000:]}")
    return peak / 1024.0


def by_id(recs, col="id"):
    """{id: [records]} in order."""
    out = {}
    for r in recs:
        row = r["after"] if r["after"] is not None else r["before"]
        out.setdefault(row[col], []).append(r)
    return out


# The look-back set's row hash (w64, docs/DESIGN.md "The look-back set's
# hash"), in Python, so that the tests check the checkpoint's entries
# against hashes computed outside waybill's C code.
M64 = (1 << 64) - 1
W64_INIT = 14695981039346656037


def w64_word(h, w):
    w = (w * 0x9E3779B97F4A7C15) & M64
    w ^= w >> 29
    w = (w * 0xBF58476D1CE4E5B9) & M64
    h = ((h ^ w) * 0x94D049BB133111EB) & M64
    return ((h << 27) | (h >> 37)) & M64


def w64_cell(h, b):
    """A cell as the look-back set hashes it (w64): its length as a word
    (SQL_NULL_DATA, -1, for NULL), then its bytes, eight at a time."""
    if b is None:
        return w64_word(h, M64)
    h = w64_word(h, len(b))
    while len(b) >= 8:
        h = w64_word(h, int.from_bytes(b[:8], "little"))
        b = b[8:]
    if b:
        h = w64_word(h, int.from_bytes(b, "little") ^ (len(b) << 56))
    return h
