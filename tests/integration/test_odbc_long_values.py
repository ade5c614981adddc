# test_odbc_long_values.py — long text and binary columns through Debian's
# SQLite ODBC driver (which reports TEXT and BLOB as long types): polls
# bind them with bounded buffers for array fetches; a value longer than
# the buffer (1,023 characters) makes the table fall back to SQLGetData
# for good, re-reading the chunk, with every value exact and every row
# exactly once.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import OdbcPipeline, SQLiteDB  # noqa: E402


def test():
    db = SQLiteDB()
    db.sql("CREATE TABLE l (id INTEGER PRIMARY KEY, t TEXT, b BLOB);")
    # 1..300 short; exactly 1,023 characters (fits) at 100; non-ASCII
    db.sql("INSERT INTO l VALUES " + ", ".join(f"({i}, 'é{i}', x'00ff{i % 256:02x}')"
                                               for i in range(1, 301)))
    db.conn.execute("UPDATE l SET t = ? WHERE id = 100", ("x" * 1023,))
    tracking = {"main.l": {"mode": "incrementing", "incrementing": "id", "lookback": "0"}}
    p = OdbcPipeline(db.connection, ["main.l"], tracking, extra_source="  chunk_rows: 1000\n")
    r = p.run_idle(idle=1)
    check("row by row" not in r.stderr, "short values: array fetches throughout", r.stderr[-2000:])
    recs = p.rows("o1.main.l")
    check_eq([x["after"]["id"] for x in recs], list(range(1, 301)), "every row once")
    check_eq(recs[99]["after"]["t"], "x" * 1023, "1,023 characters fit")
    check_eq((recs[0]["after"]["t"], recs[0]["after"]["b"]), ("é1", b"\x00\xff\x01"), "row 1")

    # a long text and a long blob among short rows: the chunk is read again
    # with SQLGetData, nothing twice
    long_t = "ü" * 5000
    long_b = bytes(range(256)) * 12
    db.sql("INSERT INTO l VALUES " + ", ".join(f"({i}, 'v{i}', NULL)" for i in range(301, 401)))
    db.conn.execute("UPDATE l SET t = ?, b = ? WHERE id = 350", (long_t, long_b))
    r = p.run_idle(idle=1)
    check_eq(r.stderr.count("main.l: column t holds a value longer than its bound buffer: "
                            "reading its long columns row by row from now on"), 1,
             "the fallback logged once")
    recs = p.rows("o1.main.l")
    check_eq([x["after"]["id"] for x in recs], list(range(1, 401)), "every row once across the fallback")
    check_eq((recs[349]["after"]["t"], recs[349]["after"]["b"]), (long_t, long_b), "the long values exact")
    check_eq((recs[300]["after"]["t"], recs[300]["after"]["b"]), ("v301", None), "row 301")


if __name__ == "__main__":
    main(test)
