# test_my_types.py — every MySQL/MariaDB column type of DESIGN.md "Types"
# through the row binlog of a real MariaDB 10.11 into Avro files, decoded
# by python3-avro and compared exactly with what the server itself prints
# for each value (the mariadb client, session time zone UTC); NULLs,
# extremes, non-ASCII text in utf8mb4, utf8mb3 and latin1, fractional
# seconds, zero dates, negative TIME; inserts, updates and deletes.
import datetime
import decimal
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB, MyPipeline  # noqa: E402

UTC = datetime.timezone.utc

DDL = """
CREATE DATABASE app;
USE app;
CREATE TABLE t (
  id INT PRIMARY KEY,
  c_tiny TINYINT, c_utiny TINYINT UNSIGNED, c_small SMALLINT, c_usmall SMALLINT UNSIGNED,
  c_med MEDIUMINT, c_umed MEDIUMINT UNSIGNED, c_int INT, c_uint INT UNSIGNED,
  c_big BIGINT, c_ubig BIGINT UNSIGNED,
  c_dec DECIMAL(12,3), c_dec_big DECIMAL(38,10), c_dec0 DECIMAL(5,0),
  c_float FLOAT, c_double DOUBLE,
  c_bit1 BIT(1), c_bit12 BIT(12),
  c_year YEAR, c_date DATE, c_time TIME, c_time6 TIME(6), c_dt DATETIME, c_dt3 DATETIME(3),
  c_dt6 DATETIME(6), c_ts TIMESTAMP(6) NULL DEFAULT NULL,
  c_char CHAR(5), c_varchar VARCHAR(300), c_text TEXT,
  c_latin1 VARCHAR(20) CHARACTER SET latin1, c_utf8mb3 VARCHAR(20) CHARACTER SET utf8mb3,
  c_binary BINARY(4), c_varbinary VARBINARY(10), c_blob BLOB,
  c_enum ENUM('small','medium','large'), c_set SET('a','b','c'),
  c_json JSON, c_geom GEOMETRY
) ENGINE=InnoDB;
"""

# (column, server expression printing the value as the test compares it)
COLUMNS = [
    ("id", "id"), ("c_tiny", "c_tiny"), ("c_utiny", "c_utiny"), ("c_small", "c_small"),
    ("c_usmall", "c_usmall"), ("c_med", "c_med"), ("c_umed", "c_umed"), ("c_int", "c_int"),
    ("c_uint", "c_uint"), ("c_big", "c_big"), ("c_ubig", "c_ubig"), ("c_dec", "c_dec"),
    ("c_dec_big", "c_dec_big"), ("c_dec0", "c_dec0"), ("c_float", "c_float"), ("c_double", "c_double"),
    ("c_bit1", "c_bit1+0"), ("c_bit12", "HEX(c_bit12)"), ("c_year", "c_year"), ("c_date", "c_date"),
    ("c_time", "c_time"), ("c_time6", "c_time6"), ("c_dt", "c_dt"), ("c_dt3", "c_dt3"),
    ("c_dt6", "c_dt6"), ("c_ts", "c_ts"), ("c_char", "c_char"), ("c_varchar", "c_varchar"),
    ("c_text", "c_text"), ("c_latin1", "c_latin1"), ("c_utf8mb3", "c_utf8mb3"),
    ("c_binary", "HEX(c_binary)"), ("c_varbinary", "HEX(c_varbinary)"), ("c_blob", "HEX(c_blob)"),
    ("c_enum", "c_enum"), ("c_set", "c_set"), ("c_json", "c_json"), ("c_geom", "HEX(c_geom)"),
]

ROWS = [
    "(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
    "-9223372036854775808, 18446744073709551615, -123456789.125, "
    "1234567890123456789012345678.0123456789, 99999, 1.5, -2.25, b'1', b'101010101010', "
    "2155, '9999-12-31', '-838:59:59', '838:59:58.999999', '1000-01-01 00:00:00', "
    "'2024-02-29 23:59:59.123', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', "
    "'ab', 'grüße, 東京 😀', REPEAT('x', 3000), 'café €', 'naïve ü', "
    "x'0102', x'00ff00', x'deadbeef00', 'large', 'a,c', '{\"k\": [1, 2.5, \"v\"], \"n\": null}', "
    "ST_GeomFromText('POINT(1 2)'))",
    "(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, 0.000, "
    "-0.0000000001, -99999, 0, 0, b'0', b'0', 1901, '1000-01-01', '00:00:00', '-00:00:00.000001', "
    "'1970-01-01 00:00:00', '1970-01-01 00:00:00.001', '2000-01-01 12:00:00.000001', "
    "'1970-01-01 00:00:01.000000', '', '', '', '', '', x'', x'', x'', 'small', '', '[]', NULL)",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL)",
    "(4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.5, 1, 1, 1, 1, b'1', b'1', 0, '2020-01-01', '-01:02:03', "
    "'100:00:00.5', '2020-01-01 00:00:00', '2020-01-01 00:00:00.5', '2020-01-01 00:00:00.25', "
    "'2020-06-01 12:00:00', 'abcde', 'x', 'y', 'z', 'w', x'61', x'62', x'63', 'medium', 'b', "
    "'\"text\"', ST_GeomFromText('LINESTRING(0 0, 1 1)'))",
]


def fmt_time_us(us):
    sign = "-" if us < 0 else ""
    us = abs(us)
    s, f = divmod(us, 1000000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return sign, h, m, s, f


def render(col, v, server_text):
    """The Avro value v of col as the server prints it (server_text tells
    the number of fractional digits the server shows)."""
    if v is None:
        return None
    frac = 0
    if server_text is not None and "." in server_text and col.startswith(("c_time", "c_dt", "c_ts")):
        frac = len(server_text.split(".")[-1])
    if col == "c_bit12":   # the server's HEX() of a BIT value has no leading zeros
        check_eq(len(v), 2, "BIT(12) bytes")
        return format(int.from_bytes(v, "big"), "X")
    if col in ("c_binary", "c_varbinary", "c_blob", "c_geom"):
        return v.hex().upper()
    if col == "c_bit1":
        return "1" if v else "0"
    if col == "c_year":
        return "0000" if v == 0 else str(v)
    if col in ("c_float", "c_double"):
        return ("%g" % v)
    if col == "c_date":
        return v.isoformat()
    if col in ("c_time", "c_time6"):
        sign, h, m, s, f = fmt_time_us(v)
        t = f"{sign}{h:02d}:{m:02d}:{s:02d}"
        return t + (f".{f:06d}"[:frac + 1] if frac else "")
    if col in ("c_dt", "c_dt3", "c_dt6"):
        d = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=v)
        t = d.strftime("%Y-%m-%d %H:%M:%S")
        return t + (f".{d.microsecond:06d}"[:frac + 1] if frac else "")
    if col == "c_ts":
        d = v.astimezone(UTC)
        t = d.strftime("%Y-%m-%d %H:%M:%S")
        return t + (f".{d.microsecond:06d}"[:frac + 1] if frac else "")
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    return str(v)


def server_rows(db):
    exprs = ", ".join(e for _, e in COLUMNS)
    rows = db.sql(f"SET time_zone = '+00:00'; SELECT {exprs} FROM app.t ORDER BY id")
    return {int(r[0]): r for r in rows}


def compare(db, out):
    recs = records(out, "m1.app.t")
    check(recs, "events for app.t", f"topics: {list(records(out).keys())}")
    state = replay(recs)
    srv = server_rows(db)
    check_eq(sorted(state), sorted(srv), "row ids")
    for rid, row in srv.items():
        got = state[rid]
        for i, (col, _) in enumerate(COLUMNS):
            want = row[i]
            have = render(col, got[col], want)
            if col in ("c_float", "c_double") and want is not None:
                want = "%g" % float(want)
            check_eq(have, want, f"row {rid} column {col}")
    return recs


def test():
    db = MariaDB().start()
    db.sql(DDL)
    p = MyPipeline(db)
    p.run_idle(1)       # the first start fixes the position: the server's end
    db.sql("INSERT INTO app.t VALUES " + ",\n".join(ROWS), db="app")
    p.run_idle(2)
    recs = compare(db, p.out)
    check_eq([r["op"] for r in recs], ["c"] * 4, "ops")
    schema = read_output(p.out)["m1.app.t"][0].row_schema()
    types = {f["name"]: f["type"] for f in schema["fields"]}
    check_eq(types["c_ubig"], ["null", {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 0}],
             "BIGINT UNSIGNED type")
    check_eq(types["c_uint"], ["null", "long"], "INT UNSIGNED type")
    check_eq(types["c_time6"], ["null", "long"], "TIME type")
    check_eq(types["id"], "int", "key type")
    # updates and deletes, in one transaction and in several
    db.sql("UPDATE app.t SET c_varchar = 'changed ✓', c_dec = c_dec + 1, c_time6 = '-12:00:00.5' "
           "WHERE id IN (1, 2); DELETE FROM app.t WHERE id = 3; "
           "BEGIN; UPDATE app.t SET c_int = 42 WHERE id = 4; INSERT INTO app.t (id) VALUES (5); COMMIT;",
           db="app")
    p.run_idle(2)
    recs = compare(db, p.out)
    check_eq([r["op"] for r in recs[4:]], ["u", "u", "d", "u", "c"], "ops after the updates")
    upd = recs[4]
    check_eq(upd["before"]["c_varchar"], "grüße, 東京 😀", "before image of an update")
    check_eq(upd["unchanged"], [], "unchanged list with FULL images")
    src = upd["source"]
    check(src["position"].startswith("000001:"), "position text", src["position"])
    check_eq(src["snapshot"], False, "snapshot flag")
    gtid = db.value("SELECT @@gtid_binlog_pos")
    check_eq(recs[-1]["source"]["gtid"], gtid, "the last transaction's GTID")
    check(src["gtid"].startswith("0-1-"), "GTID in the source record", src["gtid"])
    # zero dates: real values with no Avro form, marked, never altered
    db.sql("SET SESSION sql_mode = ''; CREATE TABLE app.z (id INT PRIMARY KEY, d DATE NOT NULL, "
           "dt DATETIME(3) NOT NULL, ts TIMESTAMP NULL); "
           "INSERT INTO app.z VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'), "
           "(2, '2020-00-15', '2024-01-01 10:00:00.5', NULL);", db="app")
    p.run_idle(2)
    z = records(p.out, "m1.app.z")
    check_eq([r["after"] for r in z], [{"id": 1, "d": None, "dt": None, "ts": None},
                                      {"id": 2, "d": None, "dt": 1704103200500000, "ts": None}],
             "zero dates written as null")
    check_eq(sorted(z[0]["unrepresentable"]), ["d", "dt", "ts"], "zero dates named")
    check_eq(z[0]["unrepresentable_text"], {"after": {"d": "0000-00-00", "dt": "0000-00-00 00:00:00.000",
                                                      "ts": "0000-00-00 00:00:00"}},
             "the server's text kept")
    check_eq(z[1]["unrepresentable_text"], {"after": {"d": "2020-00-15"}}, "a zero in a date")
    # a non-transactional table: its statements come as BEGIN ... COMMIT
    # query events, no XID
    db.sql("CREATE TABLE app.m (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM; "
           "INSERT INTO app.m VALUES (1, 'a'), (2, 'b'); UPDATE app.m SET v = 'c' WHERE id = 2; "
           "DELETE FROM app.m WHERE id = 1;", db="app")
    p.run_idle(2)
    m = records(p.out, "m1.app.m")
    check_eq([(r["op"], (r["after"] or r["before"])["id"]) for r in m], [("c", 1), ("c", 2), ("u", 2), ("d", 1)],
             "MyISAM statements")
    check_eq(replay(m), {2: {"id": 2, "v": "c"}}, "MyISAM table")
    # the same changes again from the start give the same event ids
    ids = [r["event_id"] for r in recs]
    check_eq(len(set(ids)), len(ids), "distinct event ids")


if __name__ == "__main__":
    main(test)
