# test_pg_values.py — values the Avro types cannot hold are never altered
# silently (issue 8, item 6): NaN in numeric(8,2), timestamps past a long of
# microseconds since 1970, +-infinity dates and timestamps, multi-dimensional
# arrays (nested arrays in an int[][] column; kept as text in a 1-D column,
# never flattened), arrays with lower bounds other than 1 and arrays with a
# NaN element. Each such value is null in the row, named in the envelope's
# `unrepresentable` and its server text kept in `unrepresentable_text`,
# logged once per column; the snapshot (binary COPY) gives exactly what the
# stream gives. Read back with python3-avro.
import datetime
import decimal
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

UTC = datetime.timezone.utc
D = decimal.Decimal
INT64_MAX = 2**63 - 1

COLUMNS = ["id", "n82", "n82n", "ts", "tsz", "d", "a2", "a1", "ta2", "na"]

DDL = """
CREATE TABLE vals (
  id int PRIMARY KEY,
  n82 numeric(8,2) NOT NULL,
  n82n numeric(8,2),
  ts timestamp,
  tsz timestamptz NOT NULL,
  d date,
  a2 int[][],
  a1 int[],
  ta2 text[][],
  na numeric(5,2)[]
);
ALTER TABLE vals REPLICA IDENTITY FULL;
CREATE TABLE tkey (k timestamptz PRIMARY KEY, v int);
"""


def dec(p, s):
    return {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}


def opt(t):
    return ["null", t]


def arr(t):
    return {"type": "array", "items": t}


EXPECTED_TYPES = {
    "id": "int",
    "n82": opt(dec(8, 2)),   # NOT NULL, but NaN has no decimal form
    "n82n": opt(dec(8, 2)),
    "ts": opt({"type": "long", "logicalType": "local-timestamp-micros"}),
    "tsz": opt({"type": "long", "logicalType": "timestamp-micros"}),  # NOT NULL
    "d": opt({"type": "int", "logicalType": "date"}),
    "a2": opt(arr(arr(opt("int")))),
    "a1": opt(arr(opt("int"))),
    "ta2": opt(arr(arr(opt("string")))),
    "na": opt(arr(opt(dec(5, 2)))),
}


def local_us(*args):
    return (datetime.datetime(*args) - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)


def row(**kw):
    r = {c: None for c in COLUMNS}
    r.update(kw)
    return r


# (SQL values, expected Avro row, expected {column: server text})
ROWS = [
    ("(1, 1.50, NULL, '2024-01-01 00:00:00', '2024-01-01 00:00:00+00', '2024-01-01', '{{1,2},{3,NULL}}',"
     " '{1,2}', '{{\"a\",\"b\"},{NULL,\"c,d\"}}', '{1.50,NULL}')",
     row(id=1, n82=D("1.50"), ts=local_us(2024, 1, 1), tsz=datetime.datetime(2024, 1, 1, tzinfo=UTC),
         d=datetime.date(2024, 1, 1), a2=[[1, 2], [3, None]], a1=[1, 2], ta2=[["a", "b"], [None, "c,d"]],
         na=[D("1.50"), None]),
     {}),
    ("(2, 'NaN', 'NaN', '294276-12-31 23:59:59.999999', 'infinity', '-infinity', '{1,2}',"
     " '{{1,2},{3,NULL}}', '{}', '{1.00,NaN}')",
     row(id=2, ta2=[]),
     {"n82": "NaN", "n82n": "NaN", "ts": "294276-12-31 23:59:59.999999", "tsz": "infinity", "d": "-infinity",
      "a2": "{1,2}", "a1": "{{1,2},{3,NULL}}", "na": "{1.00,NaN}"}),
    ("(3, -0.01, 999999.99, 'infinity', '-infinity', 'infinity', '[0:1][1:2]={{1,2},{3,4}}',"
     " '[0:1]={5,6}', NULL, '[2:2]={0.5}')",
     row(id=3, n82=D("-0.01"), n82n=D("999999.99")),
     {"ts": "infinity", "tsz": "-infinity", "d": "infinity", "a2": "[0:1][1:2]={{1,2},{3,4}}",
      "a1": "[0:1]={5,6}", "na": "[2:2]={0.50}"}),
    # the last microsecond a long holds, and the next one
    ("(4, 0, NULL, '294247-01-10 04:00:54.775807', '1970-01-01 00:00:00+00', '1970-01-01', '{{7}}', '{}',"
     " '{{\"{}\"}}', '{}')",
     row(id=4, n82=D("0.00"), ts=INT64_MAX, tsz=datetime.datetime(1970, 1, 1, tzinfo=UTC),
         d=datetime.date(1970, 1, 1), a2=[[7]], a1=[], ta2=[["{}"]], na=[]),
     {}),
    ("(5, 1, NULL, '294247-01-10 04:00:54.775808', '294276-12-31 23:59:59.5+00', '0001-01-01', '{}',"
     " '{{{1}}}', '{{{\"x\"}}}', NULL)",
     row(id=5, n82=D("1.00"), d=datetime.date(1, 1, 1), a2=[]),
     {"ts": "294247-01-10 04:00:54.775808", "tsz": "294276-12-31 23:59:59.5+00", "a1": "{{{1}}}",
      "ta2": "{{{x}}}"}),
]

KEYS = [("'infinity'", "infinity"), ("'-infinity'", "-infinity"), ("'2024-01-01 00:00:00+00'", None)]


def norm_type(t):
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
    check_eq(list(actual.keys()), list(expected.keys()), f"{what}: fields")
    for c in expected:
        if not same(actual[c], expected[c]):
            fail(f"{what} column {c}: expected {short(expected[c])}, got {short(actual[c])}")


def check_unrep(rec, image, texts, what, listed=True):
    """rec's `unrepresentable` names texts' columns (in table order) when
    listed; `unrepresentable_text[image]` holds exactly texts."""
    names = [c for c in COLUMNS if c in texts]
    if listed:
        check_eq(list(rec["unrepresentable"]), names, f"{what}: unrepresentable")
    got = dict(rec["unrepresentable_text"].get(image, {}))
    check_eq(got, texts, f"{what}: unrepresentable_text[{image}]")


def test():
    pg = Postgres(settings={"timezone": "America/New_York"}).start()
    pg.psql(DDL)
    p = Pipeline(pg, name="va", tables=["public.vals", "public.tkey"])
    p.run_idle(1)

    log("inserting the values, then an update and a delete of rows holding unrepresentable values")
    pg.psql("INSERT INTO vals VALUES " + ",\n".join(sql for sql, _, _ in ROWS) + ";")
    pg.psql("INSERT INTO tkey VALUES " + ", ".join(f"({k}, {i})" for i, (k, _) in enumerate(KEYS)) + ";")
    check_eq(pg.value("SELECT ts::text FROM vals WHERE id = 2"), "294276-12-31 23:59:59.999999",
             "the server holds the timestamp past a long")
    check_eq(pg.value("SELECT array_ndims(a1) FROM vals WHERE id = 2"), "2",
             "the server holds a 2-D value in the int[] column")
    pg.psql("UPDATE vals SET n82 = 2, a2 = '{{5}}' WHERE id = 2;")
    pg.psql("DELETE FROM vals WHERE id = 3;")

    r = p.run_idle(2)
    out = p.read()
    files = out["va.public.vals"]
    check_eq(len(files), 1, "vals: one file")
    rs = files[0].row_schema()
    check_eq([c["name"] for c in rs["fields"]], COLUMNS, "row schema: columns")
    for c in rs["fields"]:
        check_eq(norm_type(c["type"]), EXPECTED_TYPES[c["name"]], f"schema type of {c['name']}")
    env = json.loads(str(files[0].schema))
    tail = [(f["name"], f.get("default", "no default")) for f in env["fields"][-3:]]
    check_eq(tail, [("unchanged", "no default"), ("unrepresentable", []), ("unrepresentable_text", {})],
             "envelope ends with unchanged, unrepresentable, unrepresentable_text")

    recs = files[0].records
    check_eq([x["op"] for x in recs], ["c"] * len(ROWS) + ["u", "d"], "ops")
    for (sql, exp, texts), rec in zip(ROWS, recs):
        what = f"stream insert id={exp['id']}"
        check_row(rec["after"], exp, what)
        check_unrep(rec, "after", texts, what)
        check_eq(sorted(rec["unrepresentable_text"]), ["after"] if texts else [], f"{what}: images with texts")
        log(f"  ok: {what}: values and {len(texts)} unrepresentable texts exact")

    upd = recs[len(ROWS)]
    before2, texts2 = ROWS[1][1], ROWS[1][2]
    after2 = dict(before2, n82=D("2.00"), a2=[[5]])
    after_texts = {k: v for k, v in texts2.items() if k not in ("n82", "a2")}
    check_row(upd["before"], before2, "update id=2: before")
    check_row(upd["after"], after2, "update id=2: after")
    check_unrep(upd, "after", after_texts, "update id=2")
    check_unrep(upd, "before", texts2, "update id=2", listed=False)
    log("  ok: update id=2: both images' texts kept, the after image's columns listed")

    dele = recs[len(ROWS) + 1]
    check_row(dele["before"], ROWS[2][1], "delete id=3: before")
    check_eq(dele["after"], None, "delete id=3: after")
    check_unrep(dele, "before", ROWS[2][2], "delete id=3")
    check_eq(sorted(dele["unrepresentable_text"]), ["before"], "delete id=3: only the before image has texts")
    log("  ok: delete id=3: the before image's columns listed, texts kept")

    krecs = [x for fl in out["va.public.tkey"] for x in fl.records]
    check_eq(len(krecs), len(KEYS), "tkey: one insert per row")
    for (sql, text), rec in zip(KEYS, krecs):
        what = f"tkey {sql}"
        if text is None:
            check_eq(rec["after"]["k"], datetime.datetime(2024, 1, 1, tzinfo=UTC), f"{what}: k")
            check_eq(list(rec["unrepresentable"]), [], f"{what}: nothing unrepresentable")
        else:
            check_eq(rec["after"]["k"], None, f"{what}: k is null in the row")
            check_eq(list(rec["unrepresentable"]), ["k"], f"{what}: k listed")
            check_eq(dict(rec["unrepresentable_text"]["after"]), {"k": text}, f"{what}: k's text")
    log("  ok: infinite primary keys: distinct texts")

    # one warning per column that had an unrepresentable value
    warned = [ln for ln in r.stderr_lines() if "has no Avro form" in ln]
    cols = sorted({c for _, _, t in ROWS for c in t})
    for c in cols:
        n = sum(1 for ln in warned if f"public.vals.{c}:" in ln)
        check_eq(n, 1, f"warnings for vals.{c}")
    check_eq(sum(1 for ln in warned if "public.tkey.k:" in ln), 1, "warnings for tkey.k")
    check_eq(len(warned), len(cols) + 1, "no other warning about values")
    log(f"  ok: one warning for each of the {len(cols) + 1} columns")

    # The snapshot reads the same table with a binary COPY (numeric,
    # timestamps and dates in their send form; arrays as text): the same
    # values, lists and texts as the stream.
    log("snapshot (binary COPY) of the same rows: the same result")
    final = {exp["id"]: (exp, texts) for _, exp, texts in ROWS}
    final[2] = (after2, after_texts)
    del final[3]
    sp = Pipeline(pg, name="vasnap", tables=["public.vals"],
                  extra_source="  snapshot: {mode: initial_only, chunk_size: 2}\n")
    sp.run_idle(1)
    srecs = [x for fl in sp.read()["vasnap.public.vals"] for x in fl.records]
    check_eq(sorted(x["after"]["id"] for x in srecs), sorted(final), "snapshot: every row once")
    for rec in srecs:
        exp, texts = final[rec["after"]["id"]]
        what = f"snapshot id={exp['id']}"
        check_eq((rec["op"], rec["source"]["snapshot"]), ("r", True), f"{what}: op r")
        check_row(rec["after"], exp, what)
        check_unrep(rec, "after", texts, what)
        log(f"  ok: {what}: same as the stream")


main(test)
