# test_pg_types.py — every PostgreSQL type of DESIGN.md "Types" through
# waybill into Avro files, decoded by python3-avro and compared exactly;
# NULLs, extremes, non-ASCII text, TOASTed values and the `unchanged` list.
import datetime
import decimal
import os
import random
import string
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

UTC = datetime.timezone.utc
D = decimal.Decimal

COLUMNS = ["id", "c_int2", "c_int4", "c_int8", "c_num12_3", "c_num38_10", "c_num", "c_real", "c_double",
           "c_bool", "c_text", "c_varchar", "c_char", "c_bytea", "c_date", "c_time", "c_ts", "c_tstz",
           "c_uuid", "c_json", "c_jsonb", "c_enum", "c_int_arr", "c_text_arr", "c_num_arr"]


def dec(p, s):
    return {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}


def opt(t):
    return ["null", t]


EXPECTED_TYPES = {
    "id": "int",
    "c_int2": opt("int"),
    "c_int4": opt("int"),
    "c_int8": opt("long"),
    "c_num12_3": opt(dec(12, 3)),
    "c_num38_10": opt(dec(38, 10)),
    "c_num": opt("string"),
    "c_real": opt("float"),
    "c_double": opt("double"),
    "c_bool": opt("boolean"),
    "c_text": opt("string"),
    "c_varchar": opt("string"),
    "c_char": opt("string"),
    "c_bytea": opt("bytes"),
    "c_date": opt({"type": "int", "logicalType": "date"}),
    "c_time": opt({"type": "long", "logicalType": "time-micros"}),
    "c_ts": opt({"type": "long", "logicalType": "local-timestamp-micros"}),
    "c_tstz": opt({"type": "long", "logicalType": "timestamp-micros"}),
    "c_uuid": opt({"type": "string", "logicalType": "uuid"}),
    "c_json": opt("string"),
    "c_jsonb": opt("string"),
    "c_enum": opt("string"),
    "c_int_arr": opt({"type": "array", "items": opt("int")}),
    "c_text_arr": opt({"type": "array", "items": opt("string")}),
    "c_num_arr": opt({"type": "array", "items": opt(dec(10, 2))}),
}

DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy 😀');
CREATE TABLE all_types (
  id int PRIMARY KEY,
  c_int2 smallint, c_int4 int, c_int8 bigint,
  c_num12_3 numeric(12,3), c_num38_10 numeric(38,10), c_num numeric,
  c_real real, c_double double precision, c_bool boolean,
  c_text text, c_varchar varchar(20), c_char char(4), c_bytea bytea,
  c_date date, c_time time, c_ts timestamp, c_tstz timestamptz,
  c_uuid uuid, c_json json, c_jsonb jsonb, c_enum mood,
  c_int_arr int[], c_text_arr text[], c_num_arr numeric(10,2)[]
);
ALTER TABLE all_types REPLICA IDENTITY FULL;
CREATE TABLE toast_plain (id int PRIMARY KEY, big text, n int);
"""


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def local_us(*args):
    """local-timestamp-micros as python-avro 1.11.1 returns it: a long."""
    return (datetime.datetime(*args) - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)


def sqlstr(s):
    return "'" + s.replace("'", "''") + "'"


def row(**kw):
    r = {c: None for c in COLUMNS}
    r.update(kw)
    return r


NASTY = "中文 😀👍🏽 e\u0301 \"q\" 's \\ tab\t nl\n end"
ALL_BYTES = bytes(range(256))
rng = random.Random(20240611)
BIG = "".join(rng.choices(string.ascii_letters + string.digits + "中😀é", k=100_000))

# (SQL values tuple in column order, expected Avro row)
ROWS = [
    ("(1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
     " NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
     row(id=1)),
    ("(2, 32767, 2147483647, 9223372036854775807, 999999999.999, 9999999999999999999999999999.9999999999,"
     " 3.14159265358979323846264338327950288419716939937510582097494459, 'Infinity', 1.7976931348623157e308,"
     " true, 'max', 'abcdefghijklmnopqrst', 'wxyz', decode('" + ALL_BYTES.hex() + "', 'hex'),"
     " '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00',"
     " 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '{\"b\": 1, \"a\": [1, 2.50, null]}',"
     " '{\"b\": 1, \"a\": [1, 2.50, null]}', 'happy 😀', '{2147483647,-2147483648,NULL}',"
     " ARRAY['a b', '', NULL, 'q\"uote', '中', 'NULL'], ARRAY[1.5, NULL, -99999999.99])",
     row(id=2, c_int2=32767, c_int4=2147483647, c_int8=9223372036854775807, c_num12_3=D("999999999.999"),
         c_num38_10=D("9999999999999999999999999999.9999999999"),
         c_num="3.14159265358979323846264338327950288419716939937510582097494459", c_real=float("inf"),
         c_double=1.7976931348623157e308, c_bool=True, c_text="max", c_varchar="abcdefghijklmnopqrst",
         c_char="wxyz", c_bytea=ALL_BYTES, c_date=datetime.date(9999, 12, 31),
         c_time=datetime.time(23, 59, 59, 999999), c_ts=local_us(9999, 12, 31, 23, 59, 59, 999999),
         c_tstz=datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
         c_uuid="ffffffff-ffff-ffff-ffff-ffffffffffff", c_json='{"b": 1, "a": [1, 2.50, null]}',
         c_jsonb='{"a": [1, 2.50, null], "b": 1}', c_enum="happy 😀", c_int_arr=[2147483647, -2147483648, None],
         c_text_arr=["a b", "", None, 'q"uote', "中", "NULL"], c_num_arr=[D("1.50"), None, D("-99999999.99")])),
    ("(3, -32768, -2147483648, -9223372036854775808, -999999999.999, -9999999999999999999999999999.9999999999,"
     " 'NaN', '-Infinity', '-Infinity', false, '', '', '', '', '0001-01-01', '00:00:00', '0001-01-01 00:00:00',"
     " '0001-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', '[]', 'null', 'sad', '{}', '{}', '{}')",
     row(id=3, c_int2=-32768, c_int4=-2147483648, c_int8=-9223372036854775808, c_num12_3=D("-999999999.999"),
         c_num38_10=D("-9999999999999999999999999999.9999999999"), c_num="NaN", c_real=float("-inf"),
         c_double=float("-inf"), c_bool=False, c_text="", c_varchar="", c_char="    ", c_bytea=b"",
         c_date=datetime.date(1, 1, 1), c_time=datetime.time(0, 0, 0), c_ts=local_us(1, 1, 1),
         c_tstz=datetime.datetime(1, 1, 1, tzinfo=UTC), c_uuid="00000000-0000-0000-0000-000000000000",
         c_json="[]", c_jsonb="null", c_enum="sad", c_int_arr=[], c_text_arr=[], c_num_arr=[])),
    ("(4, 0, -1, 1, -0.5, 0.0000000001, -0.000000000000000000001, 'NaN', '-0', true, " + sqlstr(NASTY) + ","
     " '日本語テキスト', 'é', decode('00275c', 'hex'), '2000-02-29', '12:34:56.789', '2024-03-10 02:30:00',"
     " '2024-01-01 12:00:00.5+05:30', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\"中\"', '{\"k\": \"😀\"}', 'ok',"
     " '{1}', '{\"😀\"}', '{0.01}')",
     row(id=4, c_int2=0, c_int4=-1, c_int8=1, c_num12_3=D("-0.500"), c_num38_10=D("0.0000000001"),
         c_num="-0.000000000000000000001", c_real=float("nan"), c_double=-0.0, c_bool=True, c_text=NASTY,
         c_varchar="日本語テキスト", c_char="é   ", c_bytea=b"\x00'\\", c_date=datetime.date(2000, 2, 29),
         c_time=datetime.time(12, 34, 56, 789000), c_ts=local_us(2024, 3, 10, 2, 30),
         c_tstz=datetime.datetime(2024, 1, 1, 6, 30, 0, 500000, tzinfo=UTC),
         c_uuid="a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", c_json='"中"', c_jsonb='{"k": "😀"}', c_enum="ok",
         c_int_arr=[1], c_text_arr=["😀"], c_num_arr=[D("0.01")])),
    ("(6, 1, 2, 3, 1, 1, 100, 3.14, 0.1, false, 'x', 'y', 'zzzz', '\\x01', '1970-01-01', '00:00:00.000001',"
     " '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999+00', '6ba7b810-9dad-11d1-80b4-00c04fd430c8',"
     " '{}', '{}', 'happy 😀', '{-1,0}', '{NULL}', '{NULL,0}')",
     row(id=6, c_int2=1, c_int4=2, c_int8=3, c_num12_3=D("1.000"), c_num38_10=D("1.0000000000"), c_num="100",
         c_real=f32(3.14), c_double=0.1, c_bool=False, c_text="x", c_varchar="y", c_char="zzzz",
         c_bytea=b"\x01", c_date=datetime.date(1970, 1, 1), c_time=datetime.time(0, 0, 0, 1), c_ts=0,
         c_tstz=datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
         c_uuid="6ba7b810-9dad-11d1-80b4-00c04fd430c8", c_json="{}", c_jsonb="{}", c_enum="happy 😀",
         c_int_arr=[-1, 0], c_text_arr=[None], c_num_arr=[None, D("0.00")])),
    ("(7, NULL, NULL, NULL, NULL, NULL, '1e-20', 3.4028235e38, 5e-324, NULL, NULL, NULL, NULL, NULL,"
     " '1969-12-31', NULL, '1969-12-31 23:59:59.999999', NULL, NULL, NULL, NULL, NULL, '{NULL}', NULL, NULL)",
     row(id=7, c_num="0.00000000000000000001", c_real=f32(3.4028235e38), c_double=5e-324,
         c_date=datetime.date(1969, 12, 31), c_ts=-1, c_int_arr=[None])),
]


def norm_type(t):
    """A field type reduced to what the contract fixes (drops extra props)."""
    if isinstance(t, list):
        return [norm_type(x) for x in t]
    if isinstance(t, dict):
        if t.get("type") == "array":
            return {"type": "array", "items": norm_type(t["items"])}
        keep = {k: t[k] for k in ("type", "logicalType", "precision", "scale") if k in t}
        if set(keep) == {"type"}:
            return keep["type"]
        return keep
    return t


def check_row(actual, expected, what):
    if actual is None:
        fail(f"{what}: row image is null")
    if list(actual.keys()) != list(expected.keys()):
        fail(f"{what}: fields {list(actual.keys())}, expected {list(expected.keys())}")
    for c in expected:
        if not same(actual[c], expected[c]):
            fail(f"{what} column {c}: expected {short(expected[c])}, got {short(actual[c])}")
    log(f"  ok: {what}: all {len(expected)} columns exact")


def check_source(rec, table, what):
    src = rec["source"]
    for k, v in (("connector", "postgres"), ("name", "ty"), ("db", "postgres"), ("schema", "public"),
                 ("table", table), ("gtid", None), ("snapshot", False)):
        if not same(src.get(k), v):
            fail(f"{what}: source.{k} expected {v!r}, got {src.get(k)!r}")
    check_eq(rec["event_id"], "ty:" + src["position"], f"{what}: event_id = name:position")


def test():
    pg = Postgres(settings={"timezone": "America/New_York"}).start()
    pg.psql(DDL)
    p = Pipeline(pg, name="ty", tables=["public.all_types", "public.toast_plain"])

    log("first run: creates slot and publication, tables empty")
    p.run_idle(1)
    check(pg.slot(p.slot_name) is not None, "slot waybill_ty exists after the first run")
    check_eq(sum(len(fs) for fs in p.read().values()), 0, "no output file for empty tables")

    log("inserting rows")
    pg.psql("INSERT INTO all_types VALUES " + ",\n".join(sql for sql, _ in ROWS) + ";")
    pg.psql(f"INSERT INTO all_types (id, c_int4, c_text) VALUES (5, 1, {sqlstr(BIG)});")
    pg.psql(f"INSERT INTO toast_plain VALUES (1, {sqlstr(BIG)}, 1);")
    toast = int(pg.value("SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'all_types'"))
    check(toast > 50_000, "the 100 kB value is stored out of line (TOAST)", f"toast relation {toast} bytes")
    pg.psql("UPDATE all_types SET c_int4 = 42 WHERE id = 5;")
    pg.psql("UPDATE toast_plain SET n = 2 WHERE id = 1;")
    jsonb_text = pg.value("SELECT c_jsonb::text FROM all_types WHERE id = 2")
    check_eq(jsonb_text, '{"a": [1, 2.50, null], "b": 1}', "server's jsonb text (expected value is right)")

    log("second run: captures the changes")
    p.run_idle(2)
    check_eq(part_files(p.out), [], "no .part files after a clean exit")
    out = p.read()
    check_eq(sorted(out), ["ty.public.all_types", "ty.public.toast_plain"], "topics")

    files = out["ty.public.all_types"]
    check_eq(len(files), 1, "all_types: one file (one schema)")
    f = files[0]
    check(f.name.endswith(".avro") and len(f.name) == len("000000000001.avro") and f.name[:12].isdigit(),
          "file name is <12-digit seq>.avro", f.name)
    check_eq(f.codec, "zstandard", "file codec")
    rs = f.row_schema()
    check_eq([c["name"] for c in rs["fields"]], COLUMNS, "row schema: column names in table order")
    check_eq(rs["name"], "all_types", "row record named after the table")
    for c in rs["fields"]:
        check_eq(norm_type(c["type"]), EXPECTED_TYPES[c["name"]], f"schema type of {c['name']}")

    recs = f.records
    big_row = row(id=5, c_int4=1, c_text=BIG)
    n_ins = len(ROWS) + 1
    check_eq(len(recs), n_ins + 1, f"all_types: {n_ins} inserts + 1 update")
    inserted = [r for _, r in ROWS] + [big_row]
    for i, exp in enumerate(inserted):
        rec = recs[i]
        what = f"insert id={exp['id']}"
        check_eq(rec["op"], "c", f"{what}: op")
        check_eq(rec["before"], None, f"{what}: before is null")
        check_row(rec["after"], exp, f"{what}: after")
        check_eq(list(rec["unchanged"]), [], f"{what}: unchanged is empty")
        check_source(rec, "all_types", what)

    upd = recs[n_ins]
    what = "update id=5 (TOASTed c_text not sent, REPLICA IDENTITY FULL)"
    check_eq(upd["op"], "u", f"{what}: op")
    check_row(upd["before"], big_row, f"{what}: before (full old row)")
    check_eq(list(upd["unchanged"]), ["c_text"], f"{what}: unchanged lists c_text")
    after_exp = dict(big_row, c_int4=42)
    check_row(upd["after"], after_exp, f"{what}: after (c_text taken from before)")
    check_source(upd, "all_types", what)

    positions = [position(r["source"]["position"]) for r in recs]
    check(all(a < b for a, b in zip(positions, positions[1:])), "positions strictly increasing")

    files = out["ty.public.toast_plain"]
    recs = [r for fl in files for r in fl.records]
    check_eq([r["op"] for r in recs], ["c", "u"], "toast_plain: insert + update")
    check_row(recs[0]["after"], {"id": 1, "big": BIG, "n": 1}, "toast_plain insert: after")
    u = recs[1]
    what = "toast_plain update (default replica identity, TOASTed big unchanged)"
    check_eq(u["before"], None, f"{what}: before is null (server sent no old row)")
    check_eq(list(u["unchanged"]), ["big"], f"{what}: unchanged lists big")
    check_eq(u["after"]["id"], 1, f"{what}: after.id")
    check_eq(u["after"]["n"], 2, f"{what}: after.n")
    check_eq(u["after"]["big"], None,
             f"{what}: after.big is null, never a value the server did not send (listed in unchanged)")

    # The snapshot reads the same rows with a binary COPY (most types in
    # their binary send form, the rest as text): the values must be those
    # the stream gave. Chunks of 2 rows print the integer key back as text.
    log("snapshot of the same table (binary COPY): the same values")
    sp = Pipeline(pg, name="tysnap", tables=["public.all_types"],
                  extra_source="  snapshot: {mode: initial_only, chunk_size: 2}\n")
    sp.run_idle(1)
    recs = [r for fl in sp.read()["tysnap.public.all_types"] for r in fl.records]
    final = {r["id"]: r for r in inserted}
    final[5] = after_exp
    check_eq(sorted(r["after"]["id"] for r in recs), sorted(final), "snapshot: every row once")
    for rec in recs:
        what = f"snapshot id={rec['after']['id']}"
        check_eq((rec["op"], rec["source"]["snapshot"]), ("r", True), f"{what}: op r, snapshot true")
        check_row(rec["after"], final[rec["after"]["id"]], f"{what}: after")


main(test)
