# test_odbc_mapping.py — mappings on the ODBC polling source (SQLite ODBC,
# an embedded database): a mapping that takes updates and reads before.<column>
# is refused by `check` and `run` with file:line:column and what to do
# (polling sees no before image of an update); one that takes inserts and
# updates through after.<column> and deletes through before.<column> (a
# soft delete carries the whole row) turns the polled rows into canonical
# InventoryBalance events, decoded by python3-avro, exact decimals (SQLite
# ODBC describes DECIMAL columns as text: the mappings read them with
# decimal(x, p, s)).
import decimal
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import OdbcPipeline, SQLiteDB  # noqa: E402

D = decimal.Decimal

TAKES_UPDATES = """mapping: balance_delta
source: main.stock
ops: [c, u, d]
event: InventoryMovement
correlation_id: "coalesce(after.sku, before.sku)"
fields:
  sku: "coalesce(after.sku, before.sku)"
  to_location: "coalesce(after.wh, before.wh)"
  quantity_delta: "coalesce(decimal(after.qty, 18, 4), 0) - coalesce(decimal(before.qty, 18, 4), 0)"
  reason: "'balance_change'"
"""

BALANCES = """mapping: balance_now
source: main.stock
ops: [c, u]
event: InventoryBalance
correlation_id: "after.sku"
fields:
  sku: "after.sku"
  location: "after.wh"
  on_hand: "decimal(after.qty, 18, 4, 'half_even')"
  available: "decimal(after.qty, 18, 4, 'half_even')"
---
mapping: balance_gone
source: main.stock
ops: [d]
event: InventoryBalance
correlation_id: "before.sku"
fields:
  sku: "before.sku"
  location: "before.wh"
  on_hand: "0"
  available: "0"
"""


def pipeline(db, name, mapping_file):
    tracking = {"main.stock": {"mode": "timestamp", "timestamp": "ts", "lag": "0",
                               "deleted": {"column": "gone", "value": "Y"}}}
    return OdbcPipeline(db.connection, ["main.stock"], tracking, name=name,
                        extra_top=f"mappings: [{json.dumps(mapping_file)}]\n")


def test():
    db = SQLiteDB()
    db.sql("""
CREATE TABLE stock (sku TEXT PRIMARY KEY, wh TEXT, qty DECIMAL(12,3), ts TIMESTAMP, gone TEXT);
CREATE INDEX stock_ts ON stock (ts);
INSERT INTO stock VALUES ('A-1', 'W1', 10.5, '2026-01-01 00:00:00', 'N'),
                         ('B-2', 'W2', 3.125, '2026-01-01 00:00:00', 'N');
""")
    d = make_tmpdir()
    bad = os.path.join(d, "delta.yaml")
    with open(bad, "w") as f:
        f.write(TAKES_UPDATES)
    p = pipeline(db, "om1", bad)
    r = p.run(["check", "-c", p.config])
    check_eq(r.rc, 2, "check refuses a mapping that reads before.<column> of updates")
    for line, col in ((5, 38), (7, 29), (8, 36), (9, 78)):
        check(f"{bad}:{line}:{col}:" in r.stdout, f"file:line:column {line}:{col}", r.stdout[-3000:])
    check("no before image" in r.stdout and "read after.<column>" in r.stdout,
          "says why and what to do", r.stdout[-3000:])
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1"])
    check_eq(r.rc, 2, "run refuses to start")
    check(f"{bad}:7:29:" in r.stderr, "run prints the problem", r.stderr[-2000:])

    good = os.path.join(d, "balances.yaml")
    with open(good, "w") as f:
        f.write(BALANCES)
    p = pipeline(db, "om2", good)
    r = p.run(["check", "-c", p.config])
    check(r.rc == 0, "check accepts after.<column> for updates, before.<column> for deletes",
          r.stdout[-3000:] + r.stderr[-2000:])
    p.run_idle(idle=1)
    db.sql("UPDATE stock SET qty = 7.25, ts = '2026-01-01 00:00:05' WHERE sku = 'A-1';"
           "UPDATE stock SET gone = 'Y', ts = '2026-01-01 00:00:06' WHERE sku = 'B-2';"
           "INSERT INTO stock VALUES ('C-3', 'W1', 0.001, '2026-01-01 00:00:07', 'N');")
    p.run_idle(idle=1)
    recs = records(p.out)
    ev = recs.get("om2.canonical.InventoryBalance", [])
    got = [(e["source"]["table"], e["mapping"]["name"], e["sku"], e["location"], e["on_hand"],
            e["available"], e["correlation_id"]) for e in ev]
    check_eq(got, [
        ("main.stock", "balance_now", "A-1", "W1", D("10.5000"), D("10.5000"), "A-1"),
        ("main.stock", "balance_now", "B-2", "W2", D("3.1250"), D("3.1250"), "B-2"),
        ("main.stock", "balance_now", "A-1", "W1", D("7.2500"), D("7.2500"), "A-1"),
        ("main.stock", "balance_gone", "B-2", "W2", D("0.0000"), D("0.0000"), "B-2"),
        ("main.stock", "balance_now", "C-3", "W1", D("0.0010"), D("0.0010"), "C-3"),
    ], "canonical balances from the polled rows, exact")
    raw = recs.get("om2.main.stock", [])
    check_eq([x["op"] for x in raw], ["c", "c", "u", "d", "c"], "the raw changes beside them")
    ids = [e["event_id"] for e in ev]
    check_eq(ids, [f"{x['event_id']}#{e['mapping']['name']}" for x, e in zip(raw, ev)],
             "event ids from the raw ones")
    check(not recs.get("om2.dlq"), "no dead letters")


if __name__ == "__main__":
    main(test)
