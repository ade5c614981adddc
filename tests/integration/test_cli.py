# test_cli.py — the command line: --help, --version, unknown commands,
# `waybill cat` (JSON lines in the documented formats, checked against
# python3-avro's reading of the same file), `status` and `schema`; relative paths in the config resolve against its
# directory, whatever the working directory.
import base64
import datetime
import json
import math
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "cl"
TOPIC = f"{NAME}.public.cli_t"


class F32:
    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return f"F32({self.v!r})"


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def special(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return None


def to_doc_json(value, schema, names):
    """python3-avro's value → the JSON `waybill cat` documents."""
    if isinstance(schema, str) and schema in names:
        schema = names[schema]
    if isinstance(schema, list):
        if value is None:
            return None
        branches = [s for s in schema if s != "null"]
        if len(branches) != 1:
            fail(f"test expects unions of null and one type, got {schema}")
        return to_doc_json(value, branches[0], names)
    t = schema if isinstance(schema, str) else schema["type"]
    lt = None if isinstance(schema, str) else schema.get("logicalType")
    if t == "record":
        return {f["name"]: to_doc_json(value[f["name"]], f["type"], names) for f in schema["fields"]}
    if t == "array":
        return [to_doc_json(v, schema["items"], names) for v in value]
    if t == "bytes" and lt == "decimal":
        return "{:f}".format(value)
    if t == "bytes":
        return base64.b64encode(value).decode()
    if t == "int" and lt == "date":
        return value.isoformat()
    if t == "long" and lt == "time-micros":
        return value.strftime("%H:%M:%S.%f")
    if t == "long" and lt == "timestamp-micros":
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if t == "long" and lt == "local-timestamp-micros":
        dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=value)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if t in ("float", "double"):
        s = special(value)
        if s:
            return s
        return F32(value) if t == "float" else value
    return value


def doc_same(actual, expected):
    if isinstance(expected, F32):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool) and f32(actual) == expected.v
    if isinstance(expected, float):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool) and float(actual) == expected
    if isinstance(expected, dict):
        return isinstance(actual, dict) and actual.keys() == expected.keys() and \
            all(doc_same(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and \
            all(doc_same(a, e) for a, e in zip(actual, expected))
    return type(actual) is type(expected) and actual == expected


def json_docs(text):
    """Every JSON document in text (concatenated or one per line); arrays
    are flattened; '#' comment lines (waybill's headers) are skipped."""
    text = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("#"))
    dec = json.JSONDecoder()
    docs, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        try:
            doc, i = dec.raw_decode(text, i)
        except ValueError as e:
            fail(f"output is not JSON at offset {i}: {e}: {short(text[i:i + 200])}")
        docs.extend(doc if isinstance(doc, list) else [doc])
    return docs


def test():
    log("--help, --version, unknown command")
    r = run_waybill(["--help"])
    check_eq(r.rc, 0, "--help exits 0")
    for cmd in ("run", "check", "status", "schema", "cat"):
        check(cmd in r.stdout, f"--help mentions {cmd}", repr(r))
    r = run_waybill(["--version"])
    check_eq(r.rc, 0, "--version exits 0")
    check("0.1.0" in r.stdout, "--version prints 0.1.0", repr(r))
    r = run_waybill(["frobnicate"])
    check_eq(r.rc, 2, "unknown command exits 2")
    check(len(r.stderr_lines()) == 1 and "frobnicate" in r.stderr, "one stderr line naming the command", repr(r))
    r = run_waybill(["run"])
    check_eq(r.rc, 2, "run without -c exits 2")
    check_eq(len(r.stderr_lines()), 1, "one stderr line")

    pg = Postgres(settings={"timezone": "Europe/Berlin"}).start()
    pg.psql("CREATE TABLE cli_t (id int PRIMARY KEY, amount numeric(10,2), raw bytea, at timestamptz,"
            " local timestamp, d date, t time, r real, x double precision, s text, arr numeric(10,2)[], u uuid,"
            " n numeric);")
    p = Pipeline(pg, name=NAME, tables=["public.cli_t"])

    log("status and schema before the first run")
    r = p.run(["status", "-c", p.config])
    check_eq(r.rc, 0, "status exits 0 before any run")
    st = json.loads(r.stdout)
    check_eq(st.get("name"), NAME, "status name")
    check_eq(st.get("checkpoint"), None, "status checkpoint is null before any run")
    check_eq(pg.slot(p.slot_name), None, "status created no slot")

    p.run_idle(1)
    pg.psql("INSERT INTO cli_t VALUES (1, 12.5, '\\x00ff10', '2024-05-06 07:08:09.123456+00',"
            " '2024-05-06 07:08:09.5', '2024-05-06', '07:08:09.000001', 'NaN', 'Infinity', 'hé \"q\"\n',"
            " '{1.5,NULL}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 123.4500),"
            " (2, -0.01, '', '1999-12-31 23:00:00-01', '1999-12-31 23:59:59', '1999-12-31', '23:59:59',"
            " 3.14, -0.5, '', '{}', NULL, 'NaN'),"
            " (3, NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity', '-Infinity', NULL, NULL, NULL, NULL);"
            "UPDATE cli_t SET amount = 0 WHERE id = 1; DELETE FROM cli_t WHERE id = 3;")
    p.run_idle(2)
    files = p.read().get(TOPIC, [])
    check(len(files) >= 1, f"output file(s) for {TOPIC}", str(all_files(p.out)))
    paths = [f.path for f in files]
    recs = [r for f in files for r in f.records]
    check_eq(len(recs), 5, "5 records (3 inserts, update, delete)")

    log("waybill cat")
    r = run_waybill(["cat"] + paths)
    check_eq(r.rc, 0, "cat exits 0")
    lines = [l for l in r.stdout.split("\n") if l.strip()]
    check_eq(len(lines), len(recs), "one JSON line per record")
    i = 0
    for f in files:
        env = json.loads(str(f.schema))
        for rec in f.records:
            try:
                got = json.loads(lines[i])
            except ValueError as e:
                fail(f"cat line {i + 1} is not JSON ({e}): {lines[i]}")
            want = to_doc_json(rec, env, collect_names(env, {}))
            if not doc_same(got, want):
                fail(f"cat line {i + 1} differs from python3-avro's reading in the documented format\n"
                     f"  got:      {lines[i]}\n  expected: {want}")
            i += 1
    check(True, f"all {len(lines)} cat lines equal python3-avro's records in the documented JSON formats")
    a1 = json.loads(lines[0])["after"]
    spot = {"amount": "12.50", "raw": "AP8Q", "at": "2024-05-06T07:08:09.123456Z",
            "local": "2024-05-06T07:08:09.500000", "d": "2024-05-06", "t": "07:08:09.000001", "r": "NaN",
            "x": "Infinity", "s": 'hé "q"\n', "arr": ["1.50", None], "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "n": "123.4500"}
    for k, v in spot.items():
        check_eq(a1[k], v, f"cat row 1 {k} literally")
    a2 = json.loads(lines[1])["after"]
    check_eq(a2["amount"], "-0.01", "cat row 2 amount")
    check_eq(a2["raw"], "", "cat row 2 empty bytes")
    check_eq(a2["at"], "2000-01-01T00:00:00.000000Z", "cat row 2 timestamptz shifted to UTC")
    check_eq(a2["n"], "NaN", "cat row 2 numeric NaN")
    check_eq(json.loads(lines[2])["after"]["r"], "-Infinity", "cat row 3 real -Infinity")
    check_eq(json.loads(lines[3])["after"]["amount"], "0.00", "cat update: amount 0.00")

    r = run_waybill(["cat", os.path.join(p.base, "no_such_file.avro")])
    check(r.rc == 1, "cat of a missing file exits 1 (a runtime failure, not a usage error)", repr(r))
    check(len(r.stderr_lines()) == 1 and "no_such_file.avro" in r.stderr, "one stderr line naming the file",
          repr(r))

    log("waybill status after runs")
    r = p.run(["status", "-c", p.config])
    log("  status: " + " ".join(r.stdout.split()))
    check_eq(r.rc, 0, "status exits 0")
    try:
        st = json.loads(r.stdout)
    except ValueError as e:
        fail(f"status output is not JSON: {e}\n{r}")
    ck = p.checkpoint()
    check_eq(st["name"], NAME, "status name")
    check_eq(st["checkpoint"]["position"], ck["position"], "status checkpoint.position = checkpoint file")
    check_eq(st["checkpoint"]["flush_lsn"], ck["flush_lsn"], "status checkpoint.flush_lsn = checkpoint file")
    cur = lsn(st["source"]["current_lsn"])
    check(cur >= lsn(ck["flush_lsn"]), "source.current_lsn >= checkpoint flush_lsn")
    check(cur <= lsn(pg.value("SELECT pg_current_wal_lsn()")), "source.current_lsn <= server's current LSN now")
    check_eq(st["source"]["slot"]["confirmed_flush_lsn"], pg.slot(p.slot_name)[0],
             "status slot.confirmed_flush_lsn = pg_replication_slots")
    lag = st["source"]["lag_bytes"]
    check(isinstance(lag, int) and not isinstance(lag, bool) and lag >= 0, "lag_bytes is a non-negative integer",
          repr(lag))

    log("waybill schema")
    r = p.run(["schema", "-c", p.config])
    check_eq(r.rc, 0, "schema exits 0")
    docs = json_docs(r.stdout)
    check(len(docs) >= 1, "schema printed at least one JSON schema")
    parsed = []
    for d in docs:
        try:
            parsed.append(avro.schema.parse(json.dumps(d)))
        except Exception as e:
            fail(f"python3-avro rejects a printed schema ({type(e).__name__}: {e}): {short(d, 1000)}")
    check(True, f"python3-avro parses all {len(docs)} printed schemas")
    file_schema = json.loads(str(files[-1].schema))
    file_row = [x for x in [f for f in file_schema["fields"] if f["name"] == "after"][0]["type"] if x != "null"][0]
    if isinstance(file_row, str):
        file_row = collect_names(file_schema, {})[file_row]

    def found(d):
        if d == file_schema or json.loads(str(avro.schema.parse(json.dumps(d)))) == file_schema:
            return True
        if isinstance(d, dict) and d.get("type") == "record" and d.get("name") == "cli_t":
            return d.get("fields") == file_row.get("fields")
        return False
    check(any(found(d) for d in docs), "the printed schemas include the file's envelope or row schema")
    check("time" in st["checkpoint"], "status checkpoint.time present (cli.md)", str(st["checkpoint"]))

    log("relative checkpoint_dir and sink dir resolve against the config file's directory")
    check_relative_paths(pg)

    log("--resnapshot belongs to run")
    r = run_waybill(["check", "-c", p.config, "--resnapshot"])
    check_eq(r.rc, 2, "check --resnapshot exits 2")
    check("--resnapshot belongs to the run command" in r.stderr, "says --resnapshot belongs to run", repr(r))


def check_relative_paths(pg):
    """A config with relative paths, started from two other working
    directories (the config named relative to each): the checkpoint and the
    output land next to the config file, and the second start resumes from
    the first one's checkpoint (no second snapshot)."""
    pg.psql("CREATE TABLE rel_t (id int PRIMARY KEY, v text); INSERT INTO rel_t VALUES (1, 'a'), (2, 'b');")
    base = make_tmpdir("wbtest-rel-")
    conf = os.path.join(base, "conf")
    cwd1 = os.path.join(base, "elsewhere")
    cwd2 = os.path.join(base, "elsewhere", "deeper")
    os.makedirs(cwd2)
    os.mkdir(conf)
    with open(os.path.join(conf, "rel.yaml"), "w") as f:
        f.write(f"name: clrel\ncheckpoint_dir: state\nsource:\n  type: postgres\n"
                f"  dsn: {json.dumps(pg.dsn())}\n  tables: [public.rel_t]\n"
                f"sink:\n  type: avro-file\n  dir: ./data\n")

    def run_from(cwd, args):
        r = subprocess.run([WAYBILL] + args, cwd=cwd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            fail(f"waybill {' '.join(args)} from {cwd}: exit {r.returncode}\n{r.stderr[-3000:]}")
        return r

    run_from(cwd1, ["run", "-c", "../conf/rel.yaml", "--stop-when-idle", "1"])
    check(os.path.isfile(os.path.join(conf, "state", "clrel.json")), "checkpoint in <config dir>/state")
    check_eq([r["after"]["id"] for r in records(os.path.join(conf, "data"), "clrel.public.rel_t")], [1, 2],
             "snapshot in <config dir>/data")
    check_eq(all_files(cwd1), [], "nothing in the working directory")
    pg.psql("INSERT INTO rel_t VALUES (3, 'c')")
    run_from(cwd2, ["run", "-c", "../../conf/rel.yaml", "--stop-when-idle", "1"])
    recs = records(os.path.join(conf, "data"), "clrel.public.rel_t")
    check_eq([(r["op"], r["after"]["id"]) for r in recs], [("r", 1), ("r", 2), ("c", 3)],
             "second start from another directory resumed: no second snapshot")
    check_eq(all_files(cwd1), [], "nothing in either working directory")
    st = json.loads(run_from(cwd2, ["status", "-c", os.path.join(conf, "rel.yaml")]).stdout)
    check(st["checkpoint"] is not None, "status from another directory finds the checkpoint")


main(test)
