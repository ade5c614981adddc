# test_odbc_mariadb.py — the ODBC polling source through MariaDB
# Connector/ODBC (Debian's odbc-mariadb) against a MariaDB server the test
# starts: exact values of every type the driver maps, in every mode (DECIMAL exactly,
# BIGINT UNSIGNED as decimal(20,0), DATETIME(6) read in time_zone, BLOB,
# utf8mb4 text, NULLs); timestamp+incrementing with a restart; peak
# memory on a table larger than the queue (the driver buffers whole
# results: the bounded chunks keep it small).
import datetime
import decimal
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB  # noqa: E402
from odbctest import OdbcPipeline, maria_connection, run_peak_rss  # noqa: E402

UTC = datetime.timezone.utc
D = decimal.Decimal


def test():
    db = MariaDB().start()
    db.sql("""
CREATE DATABASE app CHARACTER SET utf8mb4;
USE app;
CREATE TABLE ty (id INT PRIMARY KEY, upd DATETIME(6) NOT NULL, c_tiny TINYINT, c_ubig BIGINT UNSIGNED,
  c_big BIGINT, c_dec DECIMAL(12,3), c_dec38 DECIMAL(38,10), c_float FLOAT, c_double DOUBLE,
  c_vc VARCHAR(30), c_text TEXT, c_blob BLOB, c_vb VARBINARY(10), c_date DATE, c_time TIME(6),
  c_ts TIMESTAMP(6) NULL DEFAULT NULL, KEY (upd));
INSERT INTO ty VALUES (1, '2026-01-01 00:00:00', -128, 18446744073709551615, -9223372036854775808,
  -123456789.125, 1234567890123456789012345678.0123456789, 1.5, 2.25, 'héllo € 😀', 'text ☃',
  x'00ff10', x'0102', '2026-02-03', '13:14:15.123456', '2026-03-04 05:06:07.654321');
INSERT INTO ty (id, upd) VALUES (2, '2026-01-01 00:00:01');
""")
    tracking = {"app.ty": {"mode": "timestamp+incrementing", "timestamp": "upd",
                           "incrementing": "id", "lag": "0"}}
    extra = "  time_zone: UTC\n"
    p = OdbcPipeline(maria_connection(db), ["app.ty"], tracking, extra_source=extra)
    r = p.run(["check", "-c", p.config])
    check(r.rc == 0 and "upd is indexed" in r.stdout, "check", r)
    p.run_idle(idle=1)
    recs = p.rows("o1.app.ty")
    check_eq([(x["op"], x["after"]["id"]) for x in recs], [("c", 1), ("c", 2)], "rows")
    expected = {
        "id": 1, "upd": datetime.datetime(2026, 1, 1, tzinfo=UTC), "c_tiny": -128,
        "c_ubig": D("18446744073709551615"), "c_big": -9223372036854775808,
        "c_dec": D("-123456789.125"), "c_dec38": D("1234567890123456789012345678.0123456789"),
        "c_float": 1.5, "c_double": 2.25, "c_vc": "héllo € 😀", "c_text": "text ☃",
        "c_blob": b"\x00\xff\x10", "c_vb": b"\x01\x02", "c_date": datetime.date(2026, 2, 3),
        "c_time": datetime.time(13, 14, 15, 123456),
        "c_ts": datetime.datetime(2026, 3, 4, 5, 6, 7, 654321, tzinfo=UTC),
    }
    for k, v in expected.items():
        check_eq(recs[0]["after"][k], v, f"{k}, exact")
    check_eq(recs[1]["after"], dict({k: None for k in expected}, id=2,
                                     upd=datetime.datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)), "NULLs")

    # the same values through the other modes
    for i, (mode, tr, op) in enumerate((
            ("timestamp", {"timestamp": "upd", "lag": "0"}, "c"),
            ("incrementing", {"incrementing": "id"}, "c"),
            ("bulk", {}, "r"))):
        pm = OdbcPipeline(maria_connection(db), ["app.ty"], {"app.ty": dict(tr, mode=mode)}, name=f"m{i}",
                          poll="10s" if mode == "bulk" else "300ms", extra_source=extra)
        pm.run_idle(idle=1)
        got = pm.rows(f"m{i}.app.ty")
        check_eq([(x["op"], x["after"]) for x in got], [(op, recs[0]["after"]), (op, recs[1]["after"])],
                 f"mode {mode}: the same exact values")
    db.sql("INSERT INTO ty (id, upd, c_vc) VALUES (3, '2026-01-01 00:00:02', 'three');"
           "UPDATE ty SET upd = '2026-01-01 00:00:03', c_vc = 'one!' WHERE id = 1", db="app")
    p.run_idle(idle=1)
    recs = p.rows("o1.app.ty")
    check_eq([(x["op"], x["after"]["id"], x["after"]["c_vc"]) for x in recs[2:]],
             [("c", 3, "three"), ("u", 1, "one!")], "after a restart: only the changes")

    rows = 100000
    db.sql(f"CREATE TABLE big (id INT PRIMARY KEY, upd DATETIME(6) NOT NULL, pad VARCHAR(250), KEY (upd));"
           f"INSERT INTO big SELECT seq, TIMESTAMP'2026-01-01 00:00:00' + INTERVAL seq * 1000 MICROSECOND,"
           f" REPEAT('x', 200) FROM seq_1_to_{rows};", db="app")
    tracking = {"app.big": {"mode": "timestamp+incrementing", "timestamp": "upd",
                            "incrementing": "id", "lag": "0"}}
    p = OdbcPipeline(maria_connection(db), ["app.big"], tracking, name="o2",
                     extra_top="queue_bytes: 1MiB\n", extra_source="  chunk_rows: 5000\n")
    peak = run_peak_rss(p)
    ids = [x["after"]["id"] for x in records(p.out, "o2.app.big")]
    check_eq(ids, list(range(1, rows + 1)), "every row once, in order")
    log(f"peak RSS {peak:.1f} MiB for {rows} rows of ~220 bytes")
    if not sanitized():  # ASan's quarantine holds freed memory
        check(peak < 64, f"peak RSS {peak:.1f} MiB under 64 MiB", f"{peak:.1f}")


if __name__ == "__main__":
    main(test)
