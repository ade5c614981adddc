# test_odbc_sqlite.py — the ODBC polling source through Debian's SQLite
# ODBC driver (an embedded database written by another connection):
# exact values of every type the driver reports, NULLs and non-ASCII
# text; timestamp+incrementing with a restart from the checkpoint (only
# what changed since), a row written late with an older timestamp caught
# exactly once, soft deletes as op d; the modes incrementing, timestamp
# (keyless too) and bulk; a table and columns named with spaces, quotes
# and SQL keywords; a custom query; equal timestamps across a kill -9
# between chunks (every row exactly once); the watchdog cancelling a
# statement past the query timeout; peak memory on a table larger than
# the queue; `waybill snapshot`.
import datetime
import decimal
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import OdbcPipeline, SQLiteDB, run_peak_rss  # noqa: E402

UTC = datetime.timezone.utc
D = decimal.Decimal


def ts(s):
    return datetime.datetime.fromisoformat(s).replace(tzinfo=UTC)


def types_and_tracking():
    db = SQLiteDB()
    db.sql("""
CREATE TABLE t (id INTEGER PRIMARY KEY, updated_at TIMESTAMP NOT NULL, c_small SMALLINT,
  c_big BIGINT, c_dec DECIMAL(10,2), c_real REAL, c_double DOUBLE, c_vc VARCHAR(20), c_text TEXT,
  c_char CHAR(3), c_blob BLOB, c_date DATE, c_time TIME, c_ts TIMESTAMP, c_bool BOOLEAN,
  c_other GEOMETRY, is_deleted CHAR(1));
CREATE INDEX t_upd ON t (updated_at);
INSERT INTO t VALUES (1, '2026-01-01 00:00:00', -32768, 9223372036854775807, 12345678.91, 1.5,
  2.25, 'héllo €', 'long text ☃ 😀 ' || hex(zeroblob(3000)), 'ab', x'00ff10', '2026-02-03',
  '13:14:15', '2026-03-04 05:06:07.123', 1, 'POINT(1 2)', 'N');
INSERT INTO t (id, updated_at) VALUES (2, '2026-01-01 00:00:00');
INSERT INTO t (id, updated_at, c_vc) VALUES (3, '2026-01-01 00:00:05', '三');
""")
    tracking = {"main.t": {"mode": "timestamp+incrementing", "timestamp": "updated_at",
                           "incrementing": "id", "lag": "0", "lookback": "1m",
                           "deleted": {"column": "is_deleted", "value": "Y"}}}
    p = OdbcPipeline(db.connection, ["main.t"], tracking)
    r = p.run(["check", "-c", p.config])
    check(r.rc == 0, "check passes", r)
    for want in ("connected to SQLite", "table main.t: 17 columns, SELECT granted",
                 "updated_at is indexed", "database clock read"):
        check(want in r.stdout, f"check says {want!r}", r.stdout)
    p.run_idle(idle=1)
    recs = p.rows("o1.main.t")
    check_eq([(x["op"], x["after"]["id"]) for x in recs], [("c", 1), ("c", 2), ("c", 3)], "first poll")
    a = recs[0]["after"]
    expected = {
        "id": 1, "updated_at": ts("2026-01-01 00:00:00"), "c_small": -32768,
        "c_big": 9223372036854775807, "c_dec": "12345678.91", "c_real": 1.5, "c_double": 2.25,
        "c_vc": "héllo €", "c_text": "long text ☃ 😀 " + "00" * 3000, "c_char": "ab",
        "c_blob": b"\x00\xff\x10", "c_date": datetime.date(2026, 2, 3),
        "c_time": datetime.time(13, 14, 15), "c_ts": ts("2026-03-04 05:06:07.123"),
        "c_bool": True, "c_other": "POINT(1 2)", "is_deleted": "N",
    }
    check_eq(a, expected, "row 1, every type")
    check_eq(recs[1]["after"], dict({k: None for k in expected}, id=2,
                                     updated_at=ts("2026-01-01 00:00:00")), "row 2, NULLs")
    check_eq(recs[2]["after"]["c_vc"], "三", "non-ASCII")
    ck = p.checkpoint()
    check_eq(ck["source"]["tables"]["main.t"]["watermark"], ["2026-01-01 00:00:05", "3"],
             "watermark in the checkpoint")

    # restart: only what changed; an update is op u (the key was seen)
    db.sql("INSERT INTO t (id, updated_at, c_vc) VALUES (4, '2026-01-01 00:00:10', 'four');"
           "UPDATE t SET updated_at = '2026-01-01 00:00:11', c_vc = 'two!' WHERE id = 2;")
    r = p.run(["status", "-c", p.config])
    st = json.loads(r.stdout)["source"]["tables"]["main.t"]
    check_eq((st["watermark"], st["rows_behind"]), (["2026-01-01 00:00:05", "3"], 2),
             "status: the watermark and the rows behind it")
    check(st["last_poll"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st["last_poll_ms"] // 1000))
          and abs(st["last_poll_ms"] / 1000 - time.time()) < 60, "status: the last poll", st)
    p.run_idle(idle=1)
    recs = p.rows("o1.main.t")
    check_eq([(x["op"], x["after"]["id"], x["after"]["c_vc"]) for x in recs[3:]],
             [("c", 4, "four"), ("u", 2, "two!")], "second run: only the changes")

    # a row written late with an older timestamp (behind the watermark,
    # inside the look-back window) is caught, once
    db.sql("INSERT INTO t (id, updated_at, c_vc) VALUES (5, '2026-01-01 00:00:07', 'late')")
    p.run_idle(idle=1)
    p.run_idle(idle=1)
    recs = p.rows("o1.main.t")
    check_eq([(x["op"], x["after"]["id"]) for x in recs[5:]], [("c", 5)], "late row once")

    # soft delete
    db.sql("UPDATE t SET is_deleted = 'Y', updated_at = '2026-01-01 00:00:12' WHERE id = 3")
    p.run_idle(idle=1)
    recs = p.rows("o1.main.t")
    check_eq(len(recs), 7, "one more event")
    d = recs[6]
    check_eq((d["op"], d["after"], d["before"]["id"], d["before"]["is_deleted"]),
             ("d", None, 3, "Y"), "soft delete is op d with the row as before")
    check_eq(sorted(replay(recs)), [1, 2, 4, 5], "replayed table")

    # `waybill snapshot`: the running (here: next) pipeline reads the table
    # again through the snapshot framework; a soft-deleted row is op d
    r = p.run(["snapshot", "-c", p.config])
    check(r.rc == 0, "snapshot requested", r)
    p.run_idle(idle=1)
    recs = p.rows("o1.main.t")
    check_eq([(x["op"], (x["after"] or x["before"])["id"], x["source"]["snapshot"]) for x in recs[7:]],
             [("r", 1, True), ("r", 2, True), ("d", 3, True), ("r", 4, True), ("r", 5, True)],
             "the snapshot in key order")
    ck = p.checkpoint()
    check_eq(ck["source"]["snapshot"]["tables"]["main.t"]["rows"], 5, "snapshot progress")


def modes():
    db = SQLiteDB()
    db.sql("""
CREATE TABLE inc (id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE tsk (k TEXT PRIMARY KEY, ts TIMESTAMP, v INTEGER);
CREATE TABLE tsn (ts TIMESTAMP, v INTEGER);
INSERT INTO inc VALUES (1, 'a'), (2, 'b');
INSERT INTO tsk VALUES ('x', '2026-01-01 00:00:00', 1), ('y', '2026-01-01 00:00:00', 2);
INSERT INTO tsn VALUES ('2026-01-01 00:00:00', 1), ('2026-01-01 00:00:00', 1);
""")
    tracking = {"main.inc": {"mode": "incrementing", "incrementing": "id", "lookback": "0"},
                "main.tsk": {"mode": "timestamp", "timestamp": "ts", "lag": "0"},
                "main.tsn": {"mode": "timestamp", "timestamp": "ts", "lag": "0"}}
    p = OdbcPipeline(db.connection, ["main.inc", "main.tsk", "main.tsn"], tracking)
    p.run_idle(idle=1)
    db.sql("INSERT INTO inc VALUES (3, 'c'); UPDATE inc SET v = 'A' WHERE id = 1;"
           "INSERT INTO tsk VALUES ('z', '2026-01-01 00:00:00', 3);"
           "UPDATE tsk SET ts = '2026-01-01 00:00:02', v = 20 WHERE k = 'y';"
           "INSERT INTO tsn VALUES ('2026-01-01 00:00:03', 7);")
    p.run_idle(idle=1)
    inc = p.rows("o1.main.inc")
    check_eq([(x["op"], x["after"]["id"], x["after"]["v"]) for x in inc],
             [("c", 1, "a"), ("c", 2, "b"), ("c", 3, "c")],
             "incrementing: new ids only (an update is not seen)")
    tsk = p.rows("o1.main.tsk")
    check_eq([(x["op"], x["after"]["k"], x["after"]["v"]) for x in tsk],
             [("c", "x", 1), ("c", "y", 2), ("c", "z", 3), ("u", "y", 20)],
             "timestamp with a key: a row at an old timestamp and an update")
    tsn = p.rows("o1.main.tsn")
    check_eq([(x["op"], x["after"]["v"]) for x in tsn], [("c", 1), ("c", 7)],
             "timestamp without a key: identical rows are one row")

    # bulk: the whole table on every poll (a long interval: the run stops
    # when idle for 1 s after the first)
    db.sql("CREATE TABLE blk (id INTEGER PRIMARY KEY, v TEXT);"
           "INSERT INTO blk VALUES (1, 'one'), (2, 'two');")
    p = OdbcPipeline(db.connection, ["main.blk"], {"main.blk": {"mode": "bulk"}}, name="o2",
                     poll="5s")
    p.run_idle(idle=1)
    p.run_idle(idle=1)
    check_eq([(x["op"], x["after"]["id"]) for x in p.rows("o2.main.blk")],
             [("r", 1), ("r", 2), ("r", 1), ("r", 2)], "bulk: the whole table, op r, every poll")


def odd_names():
    db = SQLiteDB()
    db.sql('CREATE TABLE "order ""x"" select" ("from" INTEGER PRIMARY KEY, "my ""ts"" col" TIMESTAMP,'
           ' "group by" TEXT);'
           'INSERT INTO "order ""x"" select" VALUES (1, \'2026-01-01 00:00:00\', \'g1\'),'
           ' (2, \'2026-01-01 00:00:01\', \'g2\');')
    name = 'main.order "x" select'
    tracking = {name: {"mode": "timestamp+incrementing", "timestamp": 'my "ts" col',
                       "incrementing": "from", "lag": "0"}}
    p = OdbcPipeline(db.connection, [name], tracking, extra_source="  chunk_rows: 1\n")
    p.run_idle(idle=1)
    recs = records(p.out)
    check_eq(len(recs), 1, "one series")
    rows = list(recs.values())[0]
    check_eq([(x["op"], x["after"]["from"], x["after"]["group_by"]) for x in rows],
             [("c", 1, "g1"), ("c", 2, "g2")], "odd names read in one-row chunks")


def custom_query():
    db = SQLiteDB()
    # timestamps near the database's clock: the window of a custom query
    # is the look-back before the horizon it last read up to
    db.sql("CREATE TABLE q (id INTEGER PRIMARY KEY, ts TIMESTAMP, v TEXT);"
           "INSERT INTO q VALUES (1, datetime('now', '-20 seconds'), 'a'),"
           " (2, datetime('now', '-10 seconds'), 'b');")
    tracking = {"main.q": {"mode": "timestamp", "timestamp": "ts", "lag": "0",
                           "query": "SELECT id, ts, upper(v) AS v FROM q WHERE ts >= :from AND ts < :to "
                                    "AND v <> 'x:to'"}}
    p = OdbcPipeline(db.connection, ["main.q"], tracking)
    p.run_idle(idle=1)
    db.sql("INSERT INTO q VALUES (3, datetime('now', '-15 seconds'), 'c')")
    p.run_idle(idle=1)
    check_eq([(x["op"], x["after"]["id"], x["after"]["v"]) for x in p.rows("o1.main.q")],
             [("c", 1, "A"), ("c", 2, "B"), ("c", 3, "C")], "custom query with :from and :to")


def equal_timestamps_across_a_kill():
    db = SQLiteDB()
    db.sql("CREATE TABLE e (id INTEGER PRIMARY KEY, ts TIMESTAMP, v TEXT);")
    db.sql("INSERT INTO e VALUES " + ", ".join(
        f"({i}, '2026-01-01 00:00:0{i // 20}', 'v{i}')" for i in range(1, 61)))
    tracking = {"main.e": {"mode": "timestamp", "timestamp": "ts", "lag": "0"}}
    p = OdbcPipeline(db.connection, ["main.e"], tracking, extra_source="  chunk_rows: 7\n")
    # 60 rows in three groups of equal timestamps, read 7 at a time; the
    # process dies at the 33rd event, in the middle of the second group
    r = run_waybill(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=60,
                    env={"WB_CRASH_AT": "sink.write:33", "WB_DELAY": "sink.write:80000"})
    check(r.rc == -9 or r.rc == 137, "killed at the crash point", r)
    ck = p.checkpoint()
    check(ck is not None, "a checkpoint before the kill")
    wm = ck["source"]["tables"]["main.e"]["watermark"]
    check(wm is not None and len(wm) == 2, "the watermark stands on (timestamp, key)", ck)
    p.run_idle(idle=1)
    ids = [x["after"]["id"] for x in p.rows("o1.main.e")]
    check_eq(sorted(ids), list(range(1, 61)), "every row exactly once across the kill")


def watchdog():
    # SQLite's driver does not stop a running statement at the query
    # timeout: the watchdog's SQLCancel does (sqlite3_interrupt)
    db = SQLiteDB()
    db.sql("CREATE TABLE w (id INTEGER PRIMARY KEY, ts TIMESTAMP, v TEXT);"
           "INSERT INTO w VALUES (1, datetime('now', '-5 seconds'), 'a');")
    slow = ("SELECT id, ts, v FROM w WHERE ts >= :from AND ts < :to AND (WITH RECURSIVE "
            "c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) "
            "SELECT count(*) FROM c) > 0")
    p = OdbcPipeline(db.connection, ["main.w"],
                     {"main.w": {"mode": "timestamp", "timestamp": "ts", "lag": "0", "query": slow}},
                     name="o3", extra_source="  query_timeout: 1s\n")
    proc = p.start()
    t0 = time.time()
    wait_until(lambda: "ran past query_timeout (1000 ms) and was cancelled" in proc.stderr(), 30,
               "the watchdog cancelling the query")
    took = time.time() - t0
    check(took < 10, f"cancelled after {took:.1f} s (timeout 1 s + the watchdog's 2 s)")
    # the statement is retried with backoff until stopped (the pipeline
    # exits 1 with the source's last error when stopped while retrying)
    rc = proc.kill(signal.SIGTERM)
    check(rc in (0, 1), "stopped by SIGTERM while retrying", rc)
    check_eq(proc.stderr().count("source connection lost"), 1, "the outage logged once")


def memory():
    # SQLite's driver (without StepAPI) holds a whole result in memory:
    # the bounded chunks keep the peak low on a table larger than the queue
    db = SQLiteDB()
    rows = 100000
    db.sql("CREATE TABLE big (id INTEGER PRIMARY KEY, ts TIMESTAMP, pad TEXT);"
           "CREATE INDEX big_ts ON big (ts);"
           f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {rows}) "
           "INSERT INTO big SELECT i, strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', (i / 1000.0) || ' seconds'),"
           " printf('%.200c', 'x') FROM g;")
    p = OdbcPipeline(db.connection, ["main.big"],
                     {"main.big": {"mode": "timestamp+incrementing", "timestamp": "ts",
                                   "incrementing": "id", "lag": "0"}},
                     name="o4", extra_top="queue_bytes: 1MiB\n", extra_source="  chunk_rows: 5000\n")
    peak = run_peak_rss(p)
    ids = [x["after"]["id"] for x in p.rows("o4.main.big")]
    check_eq(ids, list(range(1, rows + 1)), "every row once, in order")
    log(f"peak RSS {peak:.1f} MiB for {rows} rows of ~230 bytes")
    if not sanitized():  # ASan's quarantine holds freed memory
        check(peak < 64, f"peak RSS {peak:.1f} MiB under 64 MiB", f"{peak:.1f}")


def test():
    memory()
    watchdog()
    types_and_tracking()
    modes()
    odd_names()
    custom_query()
    equal_timestamps_across_a_kill()


if __name__ == "__main__":
    main(test)
