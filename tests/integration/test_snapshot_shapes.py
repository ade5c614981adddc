# test_snapshot_shapes.py — initial snapshot of awkward tables: empty, no
# primary key (REPLICA IDENTITY FULL, read whole by one COPY without ORDER
# BY), large TOASTed values, a composite key of text and timestamp paged
# across many chunks, and text/bytea/array values full of what COPY's text
# format escapes (tabs, newlines, backslashes, \N, non-ASCII) — in the key
# too; a bigint key spanning the whole int64 range, split between the two
# readers; each table's r events are exactly its rows, then the stream
# follows.
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "shp"

# Values COPY must escape, and look-alikes of its escapes that must stay as
# they are. Inserted inside $q$...$q$, so the server takes them verbatim.
NASTY = ["tab\there", "nl\nhere", "cr\rhere", "back\\slash", "\\N", "\\", "", "é ü 日本 🚀",
         "ctl\b\f\v\x01end", "mix\t\\\n\\t\\n", " lead/trail ", "\\x41\\101", "N", "\t\t"]
TEXT_ROWS = 300


def text_row(i):
    k = f"{i:04d}{NASTY[i % len(NASTY)]}"
    t = None if i % 13 == 0 else NASTY[(i * 7) % len(NASTY)]
    b = bytes([0, 9, 10, 92, i % 256, 0xFF])
    a = [NASTY[i % len(NASTY)], 'q"uo{t,e}', None]
    return k, t, b, a


def sql_text(v):
    return "NULL" if v is None else f"$q${v}$q$"


def topic(t):
    return f"{NAME}.public.{t}"


def test():
    pg = Postgres().start()
    pg.psql("""
        CREATE TABLE s_empty (id int PRIMARY KEY, v text);
        CREATE TABLE s_nokey (a int, b text);
        ALTER TABLE s_nokey REPLICA IDENTITY FULL;
        INSERT INTO s_nokey SELECT i % 7, 'x' || i FROM generate_series(1, 2500) i;
        INSERT INTO s_nokey VALUES (1, 'x1');  -- a duplicate row: no key, both kept
        CREATE TABLE s_toast (id int PRIMARY KEY, big text NOT NULL, blob bytea);
        INSERT INTO s_toast SELECT i, repeat(md5(i::text), 20000 + i), decode(repeat(md5(i::text), 5000), 'hex')
            FROM generate_series(1, 12) i;
        CREATE TABLE s_comp (k text, ts timestamp, v int NOT NULL, PRIMARY KEY (k, ts));
        INSERT INTO s_comp SELECT 'key ' || (i % 13) || ' é''"', timestamp '2024-02-29 23:59:59.999999' - i * interval '1 hour 1 microsecond', i
            FROM generate_series(1, 3000) i;
        CREATE TABLE s_text (k text PRIMARY KEY, t text, b bytea NOT NULL, a text[] NOT NULL);
        CREATE TABLE s_neg (id bigint PRIMARY KEY, v int NOT NULL);
        INSERT INTO s_neg SELECT i::bigint * 1000000007 - 500000000000, i FROM generate_series(1, 1000) i;
        INSERT INTO s_neg VALUES (-9223372036854775808, -1), (9223372036854775807, -2), (0, -3);
        ANALYZE s_neg;
    """)
    ins = []
    for i in range(TEXT_ROWS):
        k, t, b, a = text_row(i)
        arr = "ARRAY[" + ", ".join(sql_text(x) for x in a) + "]::text[]"
        ins.append(f"INSERT INTO s_text VALUES ({sql_text(k)}, {sql_text(t)}, '\\x{b.hex()}', {arr});")
    pg.psql("\n".join(ins))
    p = Pipeline(pg, name=NAME, tables=["public.s_*"],
                 extra_source="  snapshot: {mode: initial, chunk_size: 97, parallelism: 2}\n")
    p.run_idle(2)
    got = records(p.out)

    check_eq([r for r in got.get(topic("s_empty"), [])], [], "empty table: no events")

    nk = got.get(topic("s_nokey"), [])
    check(all(r["op"] == "r" and r["source"]["snapshot"] is True for r in nk), "no-key table: all op r, snapshot=true")
    want = sorted(tuple(l.split("|")) for l in pg.psql("SELECT a, b FROM s_nokey"))
    check_eq(sorted((str(r["after"]["a"]), r["after"]["b"]) for r in nk), want,
             f"no-key table: exactly its {len(want)} rows (duplicates kept)")

    tt = got.get(topic("s_toast"), [])
    check_eq(len(tt), 12, "toast table: 12 rows")
    lens = {r["after"]["id"]: (len(r["after"]["big"]), len(r["after"]["blob"])) for r in tt}
    want = {int(a): (int(b), int(c)) for a, b, c in
            (l.split("|") for l in pg.psql("SELECT id, length(big), length(blob) FROM s_toast"))}
    check_eq(lens, want, "toast table: full values (lengths as the server has them)")
    ok = pg.value("SELECT count(*) FROM s_toast") == "12"
    md = {int(a): b for a, b in (l.split("|") for l in pg.psql("SELECT id, md5(big) FROM s_toast"))}
    import hashlib
    check_eq({r["after"]["id"]: hashlib.md5(r["after"]["big"].encode()).hexdigest() for r in tt}, md,
             "toast table: values byte-exact (md5)")
    check(ok, "toast table count")

    cp = got.get(topic("s_comp"), [])
    want = [(k, ts, int(v)) for k, ts, v in (l.split("|") for l in pg.psql(
        "SELECT k, to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US'), v FROM s_comp ORDER BY k, ts"))]

    def fmt(us):
        return (datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)).strftime("%Y-%m-%d %H:%M:%S.%f")
    gotrows = [(r["after"]["k"], fmt(r["after"]["ts"]), r["after"]["v"]) for r in cp]
    check_eq(len(gotrows), 3000, "composite key: 3000 rows")
    check_eq(gotrows, want, "composite key: every row once, in key order (one COPY, 31 chunk boundaries of 97)")

    tx = got.get(topic("s_text"), [])
    server_order = [bytes.fromhex(h).decode() for h in
                    pg.psql("SELECT encode(convert_to(k, 'UTF8'), 'hex') FROM s_text ORDER BY k")]
    check_eq(len(server_order), TEXT_ROWS, "escapes table: rows in the server")
    want = {text_row(i)[0]: text_row(i) for i in range(TEXT_ROWS)}
    check_eq([r["after"]["k"] for r in tx], server_order,
             "escapes table: every key once, decoded, in the server's key order (3+ chunks of 97)")
    bad = [(r["after"]["k"], (r["after"]["k"], r["after"]["t"], r["after"]["b"], r["after"]["a"]))
           for r in tx if want.get(r["after"]["k"]) != (r["after"]["k"], r["after"]["t"], r["after"]["b"], r["after"]["a"])]
    check_eq(bad[:3], [], "escapes table: text, bytea and array values byte-exact")

    ng = got.get(topic("s_neg"), [])
    want = {int(a): int(b) for a, b in (l.split("|") for l in pg.psql("SELECT id, v FROM s_neg"))}
    check_eq(len(ng), len(want), "int64-range key: one event per row")
    check_eq({r["after"]["id"]: r["after"]["v"] for r in ng}, want, "int64-range key: exactly its rows")
    parts = p.checkpoint()["source"]["snapshot"]["tables"]["public.s_neg"].get("parts")
    check(parts is not None and len(parts) == 2 and parts[1]["hi"] is None, "int64-range key: split into 2 parts")
    hi = int(parts[0]["hi"])
    lo_ids = [r["after"]["id"] for r in ng if r["after"]["id"] <= hi]
    hi_ids = [r["after"]["id"] for r in ng if r["after"]["id"] > hi]
    check(lo_ids == sorted(lo_ids) and hi_ids == sorted(hi_ids) and lo_ids and hi_ids,
          f"int64-range key: each part in key order (split at {hi})")

    allr = [r for rs in got.values() for r in rs]
    pos = sorted(position(r["source"]["position"]) for r in allr)
    check_eq(len({pp[0] for pp in pos}), 1, "all snapshot rows share one LSN (P - 1)")
    check_eq([pp[1] for pp in pos], list(range(1, len(allr) + 1)), "ordinals 1..n without gap")
    check(all(r["before"] is None and r["source"]["txid"] is None for r in allr), "before null, no txid")
    ck = p.checkpoint()
    st = ck["source"]["snapshot"]["tables"]
    check_eq({t: (v["done"], v["rows"]) for t, v in st.items()},
             {"public.s_comp": (True, 3000), "public.s_empty": (True, 0), "public.s_nokey": (True, 2501),
              "public.s_toast": (True, 12), "public.s_text": (True, TEXT_ROWS),
              "public.s_neg": (True, 1003)}, "checkpoint: every table done with its row count")

    # then the stream: a change after the snapshot follows its rows
    pg.psql("INSERT INTO s_empty VALUES (1, 'one'); UPDATE s_comp SET v = -1 WHERE v = 5;")
    p.run_idle(2)
    got = records(p.out)
    check_eq([(r["op"], r["after"]["id"]) for r in got[topic("s_empty")]], [("c", 1)],
             "restart: no second snapshot, the insert streams")
    last = got[topic("s_comp")][-1]
    check_eq((last["op"], last["after"]["v"], last["source"]["snapshot"]), ("u", -1, False), "update streamed after the rows")
    check(position(last["source"]["position"])[0] > pos[0][0], "stream position after the snapshot's")


main(test)
