# test_pg_changes.py — inserts, updates (also of the primary key), deletes,
# truncate, multi-statement, rolled-back and interleaved transactions: the
# events are exactly the committed changes in commit order, with the right
# op/before/after/source; positions increase; a restart adds nothing.
import decimal
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

D = decimal.Decimal
NAME = "ch"

DDL = """
CREATE TABLE items (id int PRIMARY KEY, name text, qty numeric(10,2));
ALTER TABLE items REPLICA IDENTITY FULL;
CREATE TABLE plain (id int PRIMARY KEY, v text);
"""


def item(i, name, qty):
    return {"id": i, "name": name, "qty": None if qty is None else D(qty)}


def plain(i, v):
    return {"id": i, "v": v}


class Expect:
    """The committed changes, in commit order, as the test makes them."""

    def __init__(self, pg):
        self.pg = pg
        self.txns = []   # [{txid, lsn_lo, lsn_hi, events: [(op, table, before, after, key_only_before)]}]

    def tx(self, sql, events):
        """Runs sql as one transaction; records its txid, WAL bounds and the
        events it must produce."""
        out = self.pg.psql("SELECT pg_current_wal_insert_lsn();\nBEGIN;\nSELECT txid_current();\n" + sql +
                           "\nCOMMIT;\nSELECT pg_current_wal_insert_lsn();")
        lo, txid, hi = out[0], int(out[1]), out[-1]
        self.add(txid, events, lo, hi)
        return txid

    def add(self, txid, events, lo=None, hi=None):
        self.txns.append({"txid": txid, "lo": lo, "hi": hi, "events": events})

    def flat(self):
        return [(t, e) for t in self.txns for e in t["events"]]


def commit_ts_ms(pg, txid):
    us = int(pg.value(f"SELECT (extract(epoch FROM pg_xact_commit_timestamp('{txid}'::xid)) * 1000000)::bigint"))
    return us // 1000


def check_events(pg, p, exp, t_start_ms, what):
    out = p.read()
    check_eq(part_files(p.out), [], f"{what}: no .part files")
    for topic, files in out.items():
        check(topic in (f"{NAME}.public.items", f"{NAME}.public.plain"), f"{what}: topic {topic} expected")
        pos = [position(r["source"]["position"]) for f in files for r in f.records]
        check(all(a < b for a, b in zip(pos, pos[1:])), f"{what}: {topic}: positions strictly increasing in file order")
    recs = sorted((r for fs in out.values() for f in fs for r in f.records),
                  key=lambda r: position(r["source"]["position"]))
    flat = exp.flat()
    check_eq(len(recs), len(flat), f"{what}: number of events")
    pos = [position(r["source"]["position"]) for r in recs]
    check(len(set(pos)) == len(pos), f"{what}: positions unique across topics")
    now_ms = int(time.time() * 1000) + 1000
    ts_cache = {}
    for i, (rec, (txn, ev)) in enumerate(zip(recs, flat)):
        op, table, before, after, key_only = ev
        w = f"event {i} ({op} {table} txid {txn['txid']})"
        src = rec["source"]
        if rec["op"] != op or src["table"] != table:
            fail(f"{w}: got op {rec['op']!r} on {src['table']!r} — events out of commit order or wrong op; "
                 f"record: {short(rec, 600)}")
        if key_only:
            # The server sent only the key of the old row (default replica identity).
            if rec["before"] is None or rec["before"].get("id") != before["id"]:
                fail(f"{w}: before should carry the old key {before}, got {rec['before']}")
            others = sorted(c for c in rec["before"] if c != "id")
            if any(rec["before"][c] is not None for c in others):
                fail(f"{w}: the columns the server did not send must be null, got {rec['before']}")
            # unchanged names the columns of the image the event is about:
            # the before image of a delete, the (complete) after image of
            # an update, whose key-only before is documented as such
            want = others if op == "d" else []
            if sorted(rec["unchanged"]) != want:
                fail(f"{w}: unchanged must be {want}, got {list(rec['unchanged'])}")
        elif not same(rec["before"], before):
            fail(f"{w}: before expected {before}, got {rec['before']}")
        if not same(rec["after"], after):
            fail(f"{w}: after expected {after}, got {rec['after']}")
        if op in ("c", "u", "d") and not key_only and list(rec["unchanged"]) != []:
            fail(f"{w}: unchanged expected [], got {rec['unchanged']}")
        for k, v in (("connector", "postgres"), ("name", NAME), ("db", "postgres"), ("schema", "public"),
                     ("txid", txn["txid"]), ("gtid", None), ("snapshot", False)):
            if not same(src[k], v):
                fail(f"{w}: source.{k} expected {v!r}, got {src[k]!r}")
        if txn["txid"] not in ts_cache:
            ts_cache[txn["txid"]] = commit_ts_ms(pg, txn["txid"])
        if src["ts_ms"] != ts_cache[txn["txid"]]:
            fail(f"{w}: source.ts_ms expected the commit time {ts_cache[txn['txid']]}, got {src['ts_ms']}")
        if not (t_start_ms <= rec["ts_ms"] <= now_ms):
            fail(f"{w}: ts_ms {rec['ts_ms']} not between test start {t_start_ms} and now {now_ms}")
        if rec["event_id"] != f"{NAME}:{src['position']}":
            fail(f"{w}: event_id {rec['event_id']!r} is not name:position ({NAME}:{src['position']})")
        if txn["lo"] is not None and not (lsn(txn["lo"]) < pos[i][0] < lsn(txn["hi"])):
            fail(f"{w}: position LSN {src['position']} not within the transaction's WAL range "
                 f"{txn['lo']}..{txn['hi']}")
    log(f"  ok: {what}: {len(recs)} events match op/table/before/after/source.txid/ts_ms/event_id in commit order")
    # Per transaction: one commit LSN, ordinals 1..n; LSNs increase in commit order.
    i = 0
    last = -1
    for txn in exp.txns:
        n = len(txn["events"])
        if n == 0:
            continue
        ps = pos[i:i + n]
        i += n
        lsns = {x[0] for x in ps}
        if len(lsns) != 1:
            fail(f"txid {txn['txid']}: events carry several LSNs {sorted(lsns)}")
        if [x[1] for x in ps] != list(range(1, n + 1)):
            fail(f"txid {txn['txid']}: ordinals {[x[1] for x in ps][:20]}..., expected 1..{n}")
        if ps[0][0] <= last:
            fail(f"txid {txn['txid']}: commit LSN not after the previous transaction's")
        last = ps[0][0]
    check(True, f"{what}: each transaction has one commit LSN and ordinals 1..n, LSNs increase")
    return recs


def check_checkpoint(pg, p, recs, what):
    ck = p.checkpoint()
    check(ck is not None, f"{what}: checkpoint file {p.checkpoint_path} exists")
    check_eq(ck.get("version"), 1, f"{what}: checkpoint version")
    last = position(recs[-1]["source"]["position"])
    check(position(ck["position"], allow_end=True) >= last, f"{what}: checkpoint position {ck['position']} >= last event {last}")
    check(lsn(ck["flush_lsn"]) >= last[0], f"{what}: checkpoint flush_lsn {ck['flush_lsn']} >= last commit LSN")
    slot = pg.slot(p.slot_name)
    check(lsn(slot[0]) <= lsn(ck["flush_lsn"]),
          f"{what}: slot confirmed_flush_lsn {slot[0]} <= checkpoint flush_lsn {ck['flush_lsn']}")


def test():
    t_start_ms = int(time.time() * 1000) - 1000
    pg = Postgres(settings={"track_commit_timestamp": "on"}).start()
    pg.psql(DDL)
    p = Pipeline(pg, name=NAME, tables=["public.*"])
    log("first run: creates slot and publication")
    p.run_idle(1)
    check_eq(sum(len(f.records) for fs in p.read().values() for f in fs), 0, "nothing captured yet")

    exp = Expect(pg)
    log("part 1: single and multi-statement transactions, rollback, savepoint, truncate")
    exp.tx("INSERT INTO items VALUES (1, 'a', 1);\nINSERT INTO items VALUES (2, 'b', 2);\n"
           "INSERT INTO items VALUES (3, 'c', 3.5);",
           [("c", "items", None, item(1, "a", "1.00"), False),
            ("c", "items", None, item(2, "b", "2.00"), False),
            ("c", "items", None, item(3, "c", "3.50"), False)])
    exp.tx("UPDATE items SET qty = qty + 1 WHERE id = 2;",
           [("u", "items", item(2, "b", "2.00"), item(2, "b", "3.00"), False)])
    exp.tx("UPDATE items SET id = 20 WHERE id = 3;",
           [("u", "items", item(3, "c", "3.50"), item(20, "c", "3.50"), False)])
    exp.tx("DELETE FROM items WHERE id = 1;",
           [("d", "items", item(1, "a", "1.00"), None, False)])
    pg.psql("BEGIN;\nINSERT INTO items VALUES (99, 'rolled back', 9);\nUPDATE items SET name = 'no' WHERE id = 2;\n"
            "ROLLBACK;")
    exp.tx("INSERT INTO plain VALUES (1, 'x');\nUPDATE plain SET v = 'y' WHERE id = 1;\n"
           "UPDATE plain SET id = 2 WHERE id = 1;\nDELETE FROM items WHERE id = 2;\n"
           "INSERT INTO items VALUES (4, 'd', NULL);",
           [("c", "plain", None, plain(1, "x"), False),
            ("u", "plain", None, plain(1, "y"), False),
            ("u", "plain", plain(1, None), plain(2, "y"), True),
            ("d", "items", item(2, "b", "3.00"), None, False),
            ("c", "items", None, item(4, "d", None), False)])
    exp.tx("INSERT INTO items VALUES (5, 'e', 5);\nSAVEPOINT s1;\nINSERT INTO items VALUES (6, 'gone', 6);\n"
           "ROLLBACK TO SAVEPOINT s1;\nINSERT INTO items VALUES (7, 'g', 7);",
           [("c", "items", None, item(5, "e", "5.00"), False),
            ("c", "items", None, item(7, "g", "7.00"), False)])
    exp.tx("DELETE FROM plain WHERE id = 2;",
           [("d", "plain", plain(2, None), None, True)])
    exp.tx("INSERT INTO plain VALUES (10, 'before truncate');",
           [("c", "plain", None, plain(10, "before truncate"), False)])
    exp.tx("TRUNCATE plain;", [("t", "plain", None, None, False)])

    log("running waybill over part 1")
    p.run_idle(2)
    recs = check_events(pg, p, exp, t_start_ms, "after part 1")
    check_checkpoint(pg, p, recs, "after part 1")

    log("part 2: two interleaved transactions (commit order decides), a 1000-row transaction")
    a, b = pg.session(), pg.session()
    a.run("BEGIN")
    txa = int(a.run("SELECT txid_current()")[0])
    a.run("INSERT INTO items VALUES (100, 'A1', 1)")
    b.run("BEGIN")
    txb = int(b.run("SELECT txid_current()")[0])
    b.run("INSERT INTO items VALUES (200, 'B1', 2)")
    a.run("INSERT INTO items VALUES (101, 'A2', 1)")
    b.run("UPDATE items SET name = 'B2' WHERE id = 200")
    b.run("COMMIT")
    a.run("COMMIT")
    check(txa < txb, "session A got its txid first (it must still come second)")
    exp.add(txb, [("c", "items", None, item(200, "B1", "2.00"), False),
                  ("u", "items", item(200, "B1", "2.00"), item(200, "B2", "2.00"), False)])
    exp.add(txa, [("c", "items", None, item(100, "A1", "1.00"), False),
                  ("c", "items", None, item(101, "A2", "1.00"), False)])
    exp.tx("INSERT INTO items SELECT g, 'bulk ' || g, g / 100.0 FROM generate_series(1000, 1999) g;",
           [("c", "items", None, item(g, f"bulk {g}", D(g).scaleb(-2)), False) for g in range(1000, 2000)])

    log("running waybill over part 2 (restart continues from the checkpoint)")
    files_before = all_files(p.out)
    p.run_idle(2)
    check(set(files_before) <= set(all_files(p.out)), "files of the first run are kept")
    recs = check_events(pg, p, exp, t_start_ms, "after part 2")
    check_checkpoint(pg, p, recs, "after part 2")

    log("restart without new changes: nothing new")
    files = {f: os.path.getsize(os.path.join(p.out, f)) for f in all_files(p.out)}
    ck = p.checkpoint()
    p.run_idle(1)
    files2 = {f: os.path.getsize(os.path.join(p.out, f)) for f in all_files(p.out)}
    check_eq(files2, files, "output files and sizes unchanged")
    check_events(pg, p, exp, t_start_ms, "after idle restart")
    ck2 = p.checkpoint()
    check(position(ck2["position"], allow_end=True) >= position(ck["position"], allow_end=True), "checkpoint did not go backwards")


main(test)
