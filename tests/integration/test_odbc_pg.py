# test_odbc_pg.py — the ODBC polling source through psqlODBC (Debian's
# odbc-postgresql, the Unicode driver) against a PostgreSQL 15 server the
# test starts: exact values of every type the driver maps, in every mode (numeric
# exactly, timestamps with and without a zone, bytea, non-ASCII text,
# NULLs, a type without a mapping as its text); a row committed late with
# an older timestamp by a second connection while the first row was
# already polled, captured exactly once; a schema, table and columns
# named with spaces, quotes and keywords; the password from ${VAR} never
# shown, also when it is refused; chunks read ahead, across a fallback to
# SQLGetData and a restart. (test_odbc_pg_faults.py: the
# server stopped mid-poll, the initial snapshot, peak memory.)
import datetime
import decimal
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import (W64_INIT, OdbcPipeline, by_id, pg_connection, pg_start_again,  # noqa: E402
                      pg_stop, run_peak_rss, w64_cell)

UTC = datetime.timezone.utc
D = decimal.Decimal


def types(pg):
    pg.psql("""
CREATE TABLE ty (id int PRIMARY KEY, upd timestamp NOT NULL, c_i2 smallint, c_i8 bigint,
  c_n numeric(12,3), c_n38 numeric(38,10), c_real real, c_dbl double precision, c_bool boolean,
  c_text text, c_vc varchar(20), c_ch char(3), c_bytea bytea, c_date date, c_time time(6),
  c_ts timestamp(6), c_tstz timestamptz, c_uuid uuid, c_inet inet);
INSERT INTO ty VALUES (1, '2026-01-01 00:00:00', -32768, -9223372036854775808, -123456789.125,
  '1234567890123456789012345678.0123456789', 1.5, 2.25, true, 'tëxt ☃ 😀', 'héllo', 'ab',
  '\\x00ff10', '2026-02-03', '13:14:15.123456', '2026-03-04 05:06:07.654321',
  '2026-03-04 05:06:07.5+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.1.2.3');
INSERT INTO ty (id, upd) VALUES (2, '2026-01-01 00:00:01');
""")
    tracking = {"public.ty": {"mode": "timestamp+incrementing", "timestamp": "upd",
                              "incrementing": "id", "lag": "0"}}
    extra = ""
    p = OdbcPipeline(pg_connection(pg), ["public.ty"], tracking)
    r = p.run(["check", "-c", p.config])
    check(r.rc == 0 and "connected to PostgreSQL" in r.stdout and
          "no index starts with upd: every poll scans the table" in r.stdout, "check", r)
    p.run_idle(idle=1)
    recs = p.rows("o1.public.ty")
    check_eq([(x["op"], x["after"]["id"]) for x in recs], [("c", 1), ("c", 2)], "rows")
    expected = {
        "id": 1, "upd": datetime.datetime(2026, 1, 1, tzinfo=UTC), "c_i2": -32768,
        "c_i8": -9223372036854775808, "c_n": D("-123456789.125"),
        "c_n38": D("1234567890123456789012345678.0123456789"), "c_real": 1.5, "c_dbl": 2.25,
        "c_bool": True, "c_text": "tëxt ☃ 😀", "c_vc": "héllo", "c_ch": "ab ", "c_bytea": b"\x00\xff\x10",
        "c_date": datetime.date(2026, 2, 3), "c_time": datetime.time(13, 14, 15, 123456),
        "c_ts": datetime.datetime(2026, 3, 4, 5, 6, 7, 654321, tzinfo=UTC),
        "c_tstz": datetime.datetime(2026, 3, 4, 3, 6, 7, 500000, tzinfo=UTC),
        "c_uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "c_inet": "10.1.2.3",
    }
    for k, v in expected.items():
        check_eq(recs[0]["after"][k], v, f"{k}, exact")
    check_eq(sorted(recs[0]["after"]), sorted(expected), "columns")
    check_eq(recs[1]["after"], dict({k: None for k in expected}, id=2,
                                     upd=datetime.datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)), "NULLs")

    # the same values through the other modes
    for i, (mode, tr, op) in enumerate((
            ("timestamp", {"timestamp": "upd", "lag": "0"}, "c"),
            ("incrementing", {"incrementing": "id"}, "c"),
            ("bulk", {}, "r"))):
        pm = OdbcPipeline(pg_connection(pg), ["public.ty"], {"public.ty": dict(tr, mode=mode)}, name=f"m{i}",
                          poll="10s" if mode == "bulk" else "300ms", extra_source=extra)
        pm.run_idle(idle=1)
        got = pm.rows(f"m{i}.public.ty")
        check_eq([(x["op"], x["after"]) for x in got], [(op, recs[0]["after"]), (op, recs[1]["after"])],
                 f"mode {mode}: the same exact values")



def late_commit(pg):
    pg.psql("CREATE TABLE lt (id int PRIMARY KEY, upd timestamp NOT NULL, v text);"
            "CREATE INDEX ON lt (upd);")
    tracking = {"public.lt": {"mode": "timestamp+incrementing", "timestamp": "upd",
                              "incrementing": "id", "lag": "0", "lookback": "1m"}}
    p = OdbcPipeline(pg_connection(pg), ["public.lt"], tracking, name="o2")
    proc = p.start()
    a, b = pg.session(), pg.session()
    # a's row is older (timestamp and id) and committed after b's was polled
    a.run("BEGIN; INSERT INTO lt VALUES (1, localtimestamp - interval '5 s', 'late')")
    b.run("INSERT INTO lt VALUES (2, localtimestamp - interval '2 s', 'early')")
    deadline = time.time() + 30

    def seen(n):
        ck = p.checkpoint()
        wm = ck and ck["source"]["tables"]["public.lt"]["watermark"]
        return wm is not None and wm[1] == str(n)
    wait_until(lambda: proc.alive() and seen(2), 30, "row 2 polled and checkpointed")
    a.run("COMMIT")
    b.run("INSERT INTO lt VALUES (3, localtimestamp - interval '1 s', 'after')")
    wait_until(lambda: proc.alive() and seen(3), 30, "row 3 polled")
    time.sleep(1.5)  # a few more polls re-read the window
    check(time.time() < deadline + 30, "in time")
    proc.kill(signal.SIGTERM)
    got = by_id(records(p.out, "o2.public.lt"))
    check_eq({k: [x["op"] for x in v] for k, v in got.items()}, {1: ["c"], 2: ["c"], 3: ["c"]},
             "the late row captured exactly once")



def secrets():
    pg = Postgres(wal_level="replica", auth="scram", password="Right-pw-4711").start()
    pg.psql("CREATE TABLE s (id int PRIMARY KEY, v text); INSERT INTO s VALUES (1, 'x');")
    conn = (f"Driver={{PostgreSQL Unicode}};Servername=127.0.0.1;Port={pg.port};Database=postgres;"
            f"Username=postgres;Password=${{WB_ODBC_PW}}")
    p = OdbcPipeline(conn, ["public.s"], name="o5", poll="10s")  # bulk: one poll
    check("Right-pw" not in p.config_text, "the password is not in the file")
    os.environ["WB_ODBC_PW"] = "Wrong-pw-0815"
    for args in (["check", "-c", p.config], ["run", "-c", p.config, "--stop-when-idle", "1"]):
        r = p.run(args)
        check(r.rc != 0, f"{args[0]} fails with a wrong password", r)
        check("Wrong-pw" not in r.stdout + r.stderr, f"{args[0]}: the password is never shown", r)
        check("password authentication failed" in r.stdout + r.stderr, "the reason is shown", r)
    os.environ["WB_ODBC_PW"] = "Right-pw-4711"
    r = p.run_idle(idle=1)
    check("Right-pw" not in r.stderr, "the right password is not logged either", r)
    check_eq([x["after"] for x in p.rows("o5.public.s")], [{"id": 1, "v": "x"}], "connected with ${VAR}")


def odd_names(pg):
    pg.psql('CREATE SCHEMA "my schema"; CREATE TABLE "my schema"."select ""x"" from" '
            '("order" int PRIMARY KEY, "last ""change""" timestamp NOT NULL, "é v" text);'
            "INSERT INTO \"my schema\".\"select \"\"x\"\" from\" VALUES (1, '2026-01-01', 'a'),"
            " (2, '2026-01-01', 'b'), (3, '2026-01-02', 'c');")
    name = 'my schema.select "x" from'
    tracking = {name: {"mode": "timestamp", "timestamp": 'last "change"', "lag": "0"}}
    p = OdbcPipeline(pg_connection(pg), [name], tracking, name="o6",
                     extra_source="  chunk_rows: 1\n")
    p.run_idle(idle=1)
    recs = list(records(p.out).values())
    check_eq(len(recs), 1, "one series")
    check_eq([(x["op"], x["after"]["order"]) for x in recs[0]], [("c", 1), ("c", 2), ("c", 3)],
             "quoted schema, table and columns, one-row chunks across equal timestamps")


def int_ids(pg):
    """Incrementing on bigint and smallint ids at the edges of their types,
    one-row chunks: the watermark's text is printed from the fetched integer
    (psqlODBC's int2/int4/int8 text is its decimal) instead of selecting the
    column a second time as text, and it is bound back exactly."""
    pg.psql("CREATE TABLE ii8 (id bigint PRIMARY KEY, v text);"
            "INSERT INTO ii8 VALUES (-9223372036854775808, 'a'), (-10, 'b'), (0, 'c'), (9, 'd');"
            "CREATE TABLE ii2 (id smallint PRIMARY KEY, v text);"
            "INSERT INTO ii2 VALUES (-32768, 'a'), (-1, 'b'), (32766, 'c');")
    pg.psql("ALTER DATABASE postgres SET log_statement = 'all'")
    tracking = {t: {"mode": "incrementing", "incrementing": "id"} for t in ("public.ii8", "public.ii2")}
    p = OdbcPipeline(pg_connection(pg), ["public.ii8", "public.ii2"], tracking, name="o7",
                     extra_source="  chunk_rows: 1\n")
    p.run_idle(idle=1)
    ids = {t: [(x["op"], x["after"]["id"]) for x in p.rows(f"o7.public.{t}")] for t in ("ii8", "ii2")}
    check_eq(ids["ii8"], [("c", -9223372036854775808), ("c", -10), ("c", 0), ("c", 9)], "bigint ids")
    check_eq(ids["ii2"], [("c", -32768), ("c", -1), ("c", 32766)], "smallint ids")
    tabs = p.checkpoint()["source"]["tables"]
    check_eq((tabs["public.ii8"]["watermark"], tabs["public.ii2"]["watermark"]), (["9"], ["32766"]),
             "watermarks as the server prints them")
    # new rows at the top of each type, and one committed late below the
    # watermark (inside the look-back window of 1000 ids)
    pg.psql("INSERT INTO ii8 VALUES (9223372036854775807, 'e'), (5, 'f');"
            "INSERT INTO ii2 VALUES (32767, 'd');")
    p.run_idle(idle=1)
    check_eq([(x["op"], x["after"]["id"]) for x in p.rows("o7.public.ii8")][4:],
             [("c", 5), ("c", 9223372036854775807)], "bigint: the new rows once")
    check_eq([(x["op"], x["after"]["id"]) for x in p.rows("o7.public.ii2")][3:],
             [("c", 32767)], "smallint: the new row once")
    tabs = p.checkpoint()["source"]["tables"]
    check_eq((tabs["public.ii8"]["watermark"], tabs["public.ii2"]["watermark"]),
             (["9223372036854775807"], ["32767"]), "watermarks at the maximum")
    pg.psql("ALTER DATABASE postgres RESET log_statement")
    for t in ("ii8", "ii2"):
        polls = [ln for ln in pg.server_log().splitlines()
                 if f'"{t}"' in ln and "ORDER BY" in ln and "SELECT" in ln]
        check(polls, f"{t}: the polls are in the server's log", pg.server_log()[-2000:])
        check(all('SELECT "id", "v" FROM' in ln for ln in polls),
              f"{t}: the id is selected once", "\n".join(polls[:5]))


def ts_struct(t):
    """ODBC's SQL_TIMESTAMP_STRUCT of t: year, month, day, hour, minute,
    second (16 bits each), fraction in nanoseconds (32 bits)."""
    if t is None:
        return None
    return struct.pack("<hHHHHHI", t.year, t.month, t.day, t.hour, t.minute, t.second,
                       t.microsecond * 1000)


def ts_text(pg):
    """psqlODBC's timestamp columns selected as text (CAST(c AS varchar))
    and parsed by waybill into the struct the driver's conversion gives:
    exact values at the edges (0 to 6 fraction digits, before 1970, leap
    days, years 1 and 9999, NULL), and the look-back set's hashes those of
    that struct, computed here; a value not in that form (infinity) turns
    the table back to the driver's conversion once, nothing lost or
    repeated."""
    vals = {1: datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
            2: datetime.datetime(1969, 12, 31, 23, 59, 59, 500000),
            3: datetime.datetime(1900, 1, 1),
            4: datetime.datetime(1, 1, 1),
            5: datetime.datetime(9999, 12, 31, 23, 59, 59, 123456),
            6: datetime.datetime(2000, 2, 29, 12, 0, 0, 120000),
            7: datetime.datetime(1970, 1, 1, 0, 0, 0, 1),
            8: None,
            9: datetime.datetime(2023, 3, 15, 1, 2, 3, 123400),
            10: datetime.datetime(1583, 10, 15, 10, 11, 12, 100000)}
    text = {1: "2024-02-29 23:59:59.999999", 2: "1969-12-31 23:59:59.5", 3: "1900-01-01 00:00:00",
            4: "0001-01-01 00:00:00", 5: "9999-12-31 23:59:59.123456", 6: "2000-02-29 12:00:00.12",
            7: "1970-01-01 00:00:00.000001", 9: "2023-03-15 01:02:03.1234",
            10: "1583-10-15 10:11:12.1"}
    pg.psql("CREATE TABLE tt (id int PRIMARY KEY, ts timestamp(6));" +
            "".join(f"INSERT INTO tt VALUES ({i}, {repr(text[i]) if i in text else 'NULL'});"
                    for i in sorted(vals)) +
            "CREATE TABLE tf (id int PRIMARY KEY, ts timestamp);"
            "INSERT INTO tf VALUES (1, '2024-01-01 10:00:00'), (2, 'infinity'), (3, '2024-01-02');"
            "CREATE TABLE tl (id int PRIMARY KEY, ts timestamp, t text);"
            "INSERT INTO tl VALUES (1, '2024-05-06 07:08:09.25', 'short'),"
            " (2, '1960-01-02 03:04:05', repeat('x', 5000));")
    pg.psql("ALTER DATABASE postgres SET log_statement = 'all'")
    tables = ["public.tt", "public.tf", "public.tl"]
    tracking = {t: {"mode": "incrementing", "incrementing": "id"} for t in tables}
    p = OdbcPipeline(pg_connection(pg), tables, tracking, name="o8",
                     extra_source="  chunk_rows: 4\n")
    r = p.run_idle(idle=1)
    pg.psql("ALTER DATABASE postgres RESET log_statement")
    got = [(x["op"], x["after"]["id"], x["after"]["ts"]) for x in p.rows("o8.public.tt")]
    check_eq(got, [("c", i, v.replace(tzinfo=UTC) if v else None) for i, v in sorted(vals.items())],
             "timestamps read from their text, exact")
    # the look-back set's entries: (id, key hash, row hash) over the cells
    # as the typed fetch gave them (id as an 8-byte integer, the struct)
    want = []
    for i, v in sorted(vals.items()):
        ib = struct.pack("<q", i)
        key = w64_cell(W64_INIT, ib)
        row = w64_cell(w64_cell(W64_INIT, ib), ts_struct(v))
        want.append(f"{i:016x}{key:016x}{row:016x}")
    seen = p.checkpoint()["source"]["tables"]["public.tt"]["seen"]
    check_eq(sorted(seen[k:k + 48] for k in range(0, len(seen), 48)), want,
             "the look-back hashes of the typed fetch's cells")
    got = [(x["op"], x["after"]["id"], x["after"]["ts"]) for x in p.rows("o8.public.tf")]
    # psqlODBC's conversion of infinity: 9999-12-31 23:59:59
    check_eq(got, [("c", 1, datetime.datetime(2024, 1, 1, 10, tzinfo=UTC)),
                   ("c", 2, datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
                   ("c", 3, datetime.datetime(2024, 1, 2, tzinfo=UTC))],
             "a table with infinity: every row once, through the driver's conversion")
    check(r.stderr.count("reading its timestamps through the driver's conversion") == 1,
          "the fallback is logged once", r.stderr[-2000:])
    # a long text makes the table read row by row (SQLGetData): its
    # timestamps then come typed from the driver
    got = [(x["op"], x["after"]["id"], x["after"]["ts"], len(x["after"]["t"]))
           for x in p.rows("o8.public.tl")]
    check_eq(got, [("c", 1, datetime.datetime(2024, 5, 6, 7, 8, 9, 250000, tzinfo=UTC), 5),
                   ("c", 2, datetime.datetime(1960, 1, 2, 3, 4, 5, tzinfo=UTC), 5000)],
             "long values and timestamps: every row once, exact")
    logs = pg.server_log().splitlines()
    tt = [ln for ln in logs if '"tt"' in ln and "ORDER BY" in ln]
    check(tt and all('CAST("ts" AS varchar) AS "ts"' in ln for ln in tt),
          "tt: the timestamp selected as text", "\n".join(tt[:5]))
    tf = [ln for ln in logs if '"tf"' in ln and "ORDER BY" in ln]
    check(tf and 'CAST("ts"' in tf[0] and 'CAST("ts"' not in tf[-1],
          "tf: as text first, then not", "\n".join(tf))


def read_ahead(pg):
    # 1,000 rows in chunks of 100: each full chunk's successor is read
    # ahead while it is converted; the read ahead of rows 701-800 meets a
    # text longer than the bound buffers (row 750), so the table falls
    # back to SQLGetData and reads that chunk again; then a second run
    # from the checkpoint reads only the new rows
    pg.psql("CREATE TABLE ra (id bigint PRIMARY KEY, ts timestamp, t text);"
            "INSERT INTO ra SELECT g, timestamp '2024-01-01' + g * interval '1 second',"
            " CASE WHEN g = 750 THEN repeat('y', 3000) ELSE 'v' || g END"
            " FROM generate_series(1, 1000) g;")
    tracking = {"public.ra": {"mode": "incrementing", "incrementing": "id"}}
    p = OdbcPipeline(pg_connection(pg), ["public.ra"], tracking, name="o9",
                     extra_source="  chunk_rows: 100\n")
    r = p.run_idle(idle=1)
    check_eq(r.stderr.count("public.ra: column t holds a value longer than its bound buffer: "
                            "reading its long columns row by row from now on"), 1,
             "read ahead: the fallback logged once")
    got = [(x["op"], x["after"]["id"], x["after"]["t"], x["after"]["ts"]) for x in p.rows("o9.public.ra")]
    base = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    want = [("c", g, "y" * 3000 if g == 750 else f"v{g}", base + datetime.timedelta(seconds=g))
            for g in range(1, 1001)]
    check_eq(got, want, "read ahead: every row once, in order, exact")
    pg.psql("INSERT INTO ra SELECT g, timestamp '2024-01-01' + g * interval '1 second', 'w' || g"
            " FROM generate_series(1001, 1250) g;")
    p.run_idle(idle=1)
    got = [(x["op"], x["after"]["id"], x["after"]["t"]) for x in p.rows("o9.public.ra")]
    check_eq(got[1000:], [("c", g, f"w{g}") for g in range(1001, 1251)],
             "read ahead, after a restart: only the new rows, once")
    # wide rows: the first chunk (10,000 rows allowed) holds more than
    # what is read ahead (4 MiB of cells), so the rest of it is read from
    # the driver as it is converted, in the same poll; the next chunks are
    # sized to about 1 MiB
    pg.psql("CREATE TABLE rw (id bigint PRIMARY KEY, t text);"
            "INSERT INTO rw SELECT g, repeat(chr(97 + g % 26), 1000) FROM generate_series(1, 3000) g;")
    p = OdbcPipeline(pg_connection(pg), ["public.rw"],
                     {"public.rw": {"mode": "incrementing", "incrementing": "id"}}, name="o10")
    r = p.run_idle(idle=1)
    got = [(x["op"], x["after"]["id"], x["after"]["t"]) for x in p.rows("o10.public.rw")]
    check_eq(got, [("c", g, chr(97 + g % 26) * 1000) for g in range(1, 3001)],
             "wide rows: every row once, in order, exact")
    check("row by row" not in r.stderr, "wide rows: array fetches throughout", r.stderr[-2000:])
    rounds = {x["source"]["position"].split(":")[0] for x in p.rows("o10.public.rw")}
    check_eq(len(rounds), 1, "wide rows: the first chunk read whole (one round)")


def test():
    pg = Postgres(wal_level="replica").start()
    read_ahead(pg)
    ts_text(pg)
    int_ids(pg)
    odd_names(pg)
    types(pg)
    late_commit(pg)
    secrets()


if __name__ == "__main__":
    main(test)
