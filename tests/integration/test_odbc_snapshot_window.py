# test_odbc_snapshot_window.py — the initial load and the first polls after
# it, through SQLite's ODBC driver: the polls re-read a look-back window
# behind the watermark the load recorded, which holds rows the load already
# emitted as op r. Each row must come once: 300 rows loaded, none again as
# c (mode incrementing, whose default window of 1000 ids covers them all;
# and timestamp+incrementing with a 1-minute window of recent rows). Then
# new rows and updates are c and u, once; a restart changes nothing.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import OdbcPipeline, SQLiteDB  # noqa: E402

NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def ops(p, topic):
    return sorted((x["op"], (x["after"] or x["before"])["id"]) for x in p.rows(topic))


def test():
    db = SQLiteDB()
    db.sql("CREATE TABLE inc (id INTEGER PRIMARY KEY, v TEXT NOT NULL);"
           "CREATE TABLE tsi (id INTEGER PRIMARY KEY, upd TEXT NOT NULL, v TEXT NOT NULL);"
           "CREATE INDEX tsi_upd ON tsi (upd);")
    for i in range(1, 301):
        db.sql(f"INSERT INTO inc VALUES ({i}, 'v{i}'); INSERT INTO tsi VALUES ({i}, {NOW}, 'v{i}');")
    p = OdbcPipeline(db.connection, ["main.inc", "main.tsi"],
                     {"main.inc": {"mode": "incrementing", "incrementing": "id"},
                      "main.tsi": {"mode": "timestamp+incrementing", "timestamp": "upd", "incrementing": "id",
                                   "lag": "0", "lookback": "1m"}},
                     name="sw", snapshot="initial")
    p.run_idle(idle=2)
    for t in ("inc", "tsi"):
        check_eq(ops(p, f"sw.main.{t}"), [("r", i) for i in range(1, 301)],
                 f"{t}: every row once, as r, none again from the look-back window")

    db.sql(f"INSERT INTO inc VALUES (301, 'new'); UPDATE inc SET v = 'upd' WHERE id = 300;"
           f"INSERT INTO tsi VALUES (301, {NOW}, 'new'); UPDATE tsi SET v = 'upd', upd = {NOW} WHERE id = 7;")
    p.run_idle(idle=2)
    check_eq(ops(p, "sw.main.inc"), sorted([("r", i) for i in range(1, 301)] + [("c", 301), ("u", 300)]),
             "inc: the new row as c, the update inside the window as u")
    check_eq(ops(p, "sw.main.tsi"), sorted([("r", i) for i in range(1, 301)] + [("c", 301), ("u", 7)]),
             "tsi: the new row as c, the update as u")
    n = {t: len(p.rows(f"sw.main.{t}")) for t in ("inc", "tsi")}
    p.run_idle(idle=2)
    check_eq({t: len(p.rows(f"sw.main.{t}")) for t in ("inc", "tsi")}, n, "a restart emits nothing again")


main(test)
