# test_mapping_preview.py — `waybill mapping preview`: live rows of a real
# PostgreSQL (tools/sample/wms_schema.sql and a few rows more) through the
# sample mappings (mappings/wms_*.yaml) as snapshot reads, and as inserts
# for the mappings that take no snapshot reads: the exact events and dead
# letters, one JSON line each; nothing created on the server (no slot, no
# publication) and no checkpoint or output written. One MariaDB case: key
# order, a value longer than the fetch buffer, an unknown code as a dead
# letter.
import datetime
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB, MyPipeline  # noqa: E402

MAPS = sorted(glob.glob(os.path.join(SOURCE_DIR, "mappings", "wms_*.yaml")))
SAMPLE = os.path.join(SOURCE_DIR, "tools", "sample")
NOW = "<now>"


def mappings_line(files):
    return "mappings: [" + ", ".join(json.dumps(m) for m in files) + "]\n"


def ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def preview(p, args):
    """Runs the preview; returns (lines as dicts with the run's own time
    replaced by NOW, stderr lines)."""
    t0 = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    r = p.run(["mapping", "preview", "-c", p.config] + args)
    t1 = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    if r.rc != 0:
        fail(f"preview exited {r.rc}: {r.stderr[-2000:]}")

    def now_to_mark(d):
        for k, v in d.items():
            if isinstance(v, dict):
                now_to_mark(v)
            elif k in ("occurred_at", "at", "failed_at") and isinstance(v, str) and t0 <= ts(v) <= t1:
                d[k] = NOW
        return d
    out = [now_to_mark(json.loads(l)) for l in r.stdout.splitlines()]
    return out, [l for l in r.stderr.splitlines() if l.startswith("waybill: preview ")]


def header(system, table, row, mapping, event_type, corr, occurred):
    pos = f"preview:{table}:{row}"
    return {"event_id": f"{system}:{pos}#{mapping}", "event_type": event_type, "schema_version": 1,
            "occurred_at": occurred, "correlation_id": corr,
            "source": {"system": system, "table": table, "position": pos, "event_id": f"{system}:{pos}"},
            "mapping": {"name": mapping, "version": 1}}


def event(system, table, row, op, mapping, event_type, corr, occurred, **fields):
    ev = header(system, table, row, mapping, event_type, corr, occurred)
    ev.update(fields)
    return {"table": table, "row": row, "op": op, "mapping": mapping, "event_type": event_type,
            "topic": f"{system}.canonical.{event_type}", "correlation_id": corr, "event": ev}


def dead_letter(system, table, row, op, mapping, event_type, field, reason, change):
    pos = f"preview:{table}:{row}"
    return {"table": table, "row": row, "op": op, "mapping": mapping, "event_type": event_type,
            "topic": f"{system}.dlq", "field": field, "reason": reason,
            "dead_letter": {"event_id": f"{system}:{pos}#{mapping}", "failed_at": NOW,
                            "mapping": {"name": mapping, "version": 1}, "event_type": event_type,
                            "field": field, "reason": reason,
                            "source": {"system": system, "table": table, "position": pos,
                                       "event_id": f"{system}:{pos}"},
                            "change": change}}


def check_lines(got, want, what):
    check_eq(len(got), len(want), f"{what}: number of lines")
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            fail(f"{what}: line {i + 1}:\n  expected {json.dumps(w, sort_keys=True)}\n"
                 f"  got      {json.dumps(g, sort_keys=True)}")
    log(f"ok: {what}: {len(want)} lines as expected")


def postgres_case():
    pg = Postgres().start()
    pg.psql(open(os.path.join(SAMPLE, "wms_schema.sql")).read())
    pg.psql("""
        INSERT INTO stock_move (move_type, warehouse, sku, from_bin, to_bin, qty, ref_doc, created_ts, created_by)
        VALUES ('GR', 'WH01', 'NUT-M8', NULL, 'A-01-04', 100, 'PO-4711', '2024-03-05 10:00:00', 'anna'),
               ('XX', 'WH01', 'NUT-M8', 'A-01-04', NULL, 5, NULL, '2024-03-05 11:00:00', 'bert');
        INSERT INTO shipment (shipment_no, customer_no, warehouse, status, carrier, ship_date,
                              shipped_at, delivered_at, weight_kg, remarks)
        VALUES ('SH-1', 'C-100', 'WH01', 'OP', 'DHL ', '2024-03-06', NULL, NULL, 12.5, NULL),
               ('SH-2', 'C-200', 'WH2 ', 'DL', 'UPS ', '2024-03-04', '2024-03-04 10:00+00',
                '2024-03-05 14:30+00', 3, 'left at the door'),
               ('SH-3', 'C-300', 'WH01', 'ZZ', NULL, NULL, NULL, NULL, NULL, NULL);
        INSERT INTO freight_charge (shipment_no, charge_code, amount, currency, invoice_no, booked_ts)
        VALUES ('SH-2', 'FSC', 7.34, 'eur', 'INV-9', '2024-03-05 16:00:00');
    """)
    p = Pipeline(pg, name="pv", extra_top=mappings_line(MAPS))
    out, summary = preview(p, ["--limit", "2"])
    sb, sm, sh, fc = "public.stock_balance", "public.stock_move", "public.shipment", "public.freight_charge"
    want = [
        # freight_charge: ops [c]
        event("pv", fc, 1, "c", "wms_freight_charge", "FreightCharge", "SH-2", "2024-03-05T15:00:00.000000Z",
              shipment_id="SH-2", charge_type="fuel_surcharge", amount="7.3400", currency="EUR",
              invoice_id="INV-9", carrier=None),
        # shipment: three mappings, none with r; in key order, at most 2 rows
        event("pv", sh, 1, "c", "wms_shipment_created", "ShipmentCreated", "SH-1", NOW,
              shipment_id="SH-1", order_id=None, ship_from="WH01", ship_to="C-100", carrier="DHL",
              planned_ship_date="2024-03-06", lines=[]),
        event("pv", sh, 1, "c", "wms_shipment_status", "ShipmentStatusChanged", "SH-1", NOW,
              shipment_id="SH-1", milestone="released", previous_milestone=None, carrier="DHL",
              tracking_number=None, at=NOW, status_code="OP"),
        event("pv", sh, 2, "c", "wms_shipment_created", "ShipmentCreated", "SH-2", NOW,
              shipment_id="SH-2", order_id=None, ship_from="WH2", ship_to="C-200", carrier="UPS",
              planned_ship_date="2024-03-04", lines=[]),
        event("pv", sh, 2, "c", "wms_shipment_status", "ShipmentStatusChanged", "SH-2",
              "2024-03-05T14:30:00.000000Z", shipment_id="SH-2", milestone="delivered",
              previous_milestone=None, carrier="UPS", tracking_number=None, at="2024-03-05T14:30:00.000000Z",
              status_code="DL"),
        event("pv", sh, 2, "c", "wms_proof_of_delivery", "ProofOfDelivery", "SH-2",
              "2024-03-05T14:30:00.000000Z", shipment_id="SH-2", delivered_at="2024-03-05T14:30:00.000000Z",
              carrier="UPS", tracking_number=None, received_by=None, remarks="left at the door"),
        # stock_balance: wms_balance reads snapshots (r); the movement
        # mapping does not, so the row goes through it as an insert
        event("pv", sb, 1, "r", "wms_balance", "InventoryBalance", "BOLT-M8X40", "2024-03-01T06:12:00.000000Z",
              sku="BOLT-M8X40", location="WH01", on_hand="1200.0000", reserved="0.0000",
              available="1200.0000", unit="PCE"),
        event("pv", sb, 1, "c", "wms_balance_movement", "InventoryMovement", "BOLT-M8X40",
              "2024-03-01T06:12:00.000000Z", sku="BOLT-M8X40", from_location=None, to_location="WH01",
              quantity_delta="1200.0000", unit="PCE", reason="balance_change", reference=None),
        event("pv", sb, 2, "r", "wms_balance", "InventoryBalance", "CABLE-3X1.5", "2024-02-27T15:40:00.000000Z",
              sku="CABLE-3X1.5", location="WH01", on_hand="250.5000", reserved="0.0000",
              available="250.5000", unit="M"),
        event("pv", sb, 2, "c", "wms_balance_movement", "InventoryMovement", "CABLE-3X1.5",
              "2024-02-27T15:40:00.000000Z", sku="CABLE-3X1.5", from_location=None, to_location="WH01",
              quantity_delta="250.5000", unit="M", reason="balance_change", reference=None),
        # stock_move: the journal mapping (c); the reversal (u) sees nothing
        event("pv", sm, 1, "c", "wms_journal_movement", "InventoryMovement", "NUT-M8", "2024-03-05T09:00:00.000000Z",
              sku="NUT-M8", from_location=None, to_location="WH01/A-01-04", quantity_delta="100.0000",
              unit=None, reason="receipt", reference="PO-4711"),
        dead_letter("pv", sm, 2, "c", "wms_journal_movement", "InventoryMovement", "fields.reason",
                    "no mapping for 'XX'",
                    '{"op": "c", "table": "public.stock_move", "before": null, "after": {"move_id": 2, '
                    '"move_type": "XX", "warehouse": "WH01", "sku": "NUT-M8", "from_bin": "A-01-04", '
                    '"to_bin": null, "qty": "5.000", "ref_doc": null, "status": "OK", '
                    '"created_ts": "2024-03-05 11:00:00", "created_by": "bert"}, "unchanged": []}'),
    ]
    check_lines(out, want, "preview --limit 2")
    check_eq(summary, [
        f"waybill: preview {fc}: 1 row read, 1 mapping; as inserts (c) through the mappings without r: "
        "1 event, 0 dead letters",
        f"waybill: preview {sh}: 2 rows read, 3 mappings; as inserts (c) through the mappings without r: "
        "5 events, 0 dead letters",
        f"waybill: preview {sb}: 2 rows read, 2 mappings; as snapshot reads (r): 2 events, 0 dead letters; "
        "as inserts (c) through the mappings without r: 2 events, 0 dead letters",
        f"waybill: preview {sm}: 2 rows read, 2 mappings; as inserts (c) through the mappings without r: "
        "1 event, 1 dead letter",
    ], "the summary per table on stderr")

    # the default limit is 10: every row of these small tables, in key order
    out, _ = preview(p, [])
    check_eq([(o["row"], o["event"]["correlation_id"]) for o in out
              if o["table"] == sb and o["op"] == "r"],
             [(1, "BOLT-M8X40"), (2, "CABLE-3X1.5"), (3, "NUT-M8"), (4, "WASHER-8"), (5, "BOLT-M8X40")],
             "all five balances as snapshot reads")
    st = [(o["row"], o.get("reason")) for o in out if o["mapping"] == "wms_shipment_status"]
    check_eq(st, [(1, None), (2, None), (3, "no mapping for 'ZZ'")], "the unknown status code is a dead letter")

    # nothing was created or written: no slot, no publication, no checkpoint, no output
    check_eq(pg.value("SELECT count(*) FROM pg_replication_slots"), "0", "no replication slot")
    check_eq(pg.value("SELECT count(*) FROM pg_publication"), "0", "no publication")
    check(not os.path.exists(p.ckpt_dir), "no checkpoint directory", p.ckpt_dir)
    check(not os.path.exists(p.out), "no output directory", p.out)

    # usage and configuration errors
    r = p.run(["mapping", "preview", "-c", p.config, "--limit", "0"])
    check_eq(r.rc, 2, "--limit 0 is a usage error")
    check("--limit takes 1 to 100000 rows, got 0" in r.stderr, "says what --limit takes", r.stderr)
    r = p.run(["mapping", "preview"])
    check_eq(r.rc, 2, "preview needs -c")
    plain = Pipeline(pg, name="plain")
    r = plain.run(["mapping", "preview", "-c", plain.config])
    check_eq(r.rc, 2, "a pipeline without mappings")
    check("has no mappings" in r.stderr, "says there are none", r.stderr)
    d = make_tmpdir()
    bad = os.path.join(d, "bad.yaml")
    with open(bad, "w") as f:
        f.write("mapping: bad_one\nsource: public.stock_balance\nevent: InventoryBalance\n"
                "correlation_id: \"after.sku\"\nfields:\n  sku: \"after.sku\"\n"
                "  location: \"after.no_such_column\"\n  on_hand: \"after.qty_on_hand\"\n")
    bp = Pipeline(pg, name="bad", extra_top=mappings_line([bad]))
    r = bp.run(["mapping", "preview", "-c", bp.config])
    check_eq(r.rc, 2, "a mapping that does not check")
    check(f"{bad}:7:" in r.stderr and "no_such_column" in r.stderr, "file:line:column of the problem",
          r.stderr)
    check_eq(r.stdout, "", "nothing previewed")
    check_eq(pg.value("SELECT count(*) FROM pg_replication_slots"), "0", "still no replication slot")


MY_MAPPING = """\
mapping: my_stock_balance
source: app.stock
ops: [c, u, d, r]
event: InventoryBalance
correlation_id: "after.sku"
fields:
  sku: "after.sku"
  location: "trim(after.wh)"
  on_hand: "after.qty"
  unit: "map(upper(trim(after.uom)), {'PCE': 'PCE', 'EA': 'EA'}, default: dlq)"
"""


def mysql_case():
    db = MariaDB().start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.stock (wh CHAR(4) NOT NULL, sku VARCHAR(20) NOT NULL, "
           "qty DECIMAL(14,3) NOT NULL, uom CHAR(3), note TEXT, PRIMARY KEY (wh, sku)) ENGINE=InnoDB; "
           "INSERT INTO app.stock VALUES ('WH02', 'A-1', 0, NULL, 'x'), ('WH01', 'B-2', 1.5, 'box', "
           "REPEAT('n', 2000)), ('WH01', 'A-1', 12.5, 'pce', NULL)")
    d = make_tmpdir()
    mf = os.path.join(d, "my_stock.yaml")
    with open(mf, "w") as f:
        f.write(MY_MAPPING)
    p = MyPipeline(db, name="mp", extra_top=mappings_line([mf]))
    out, summary = preview(p, ["--limit", "2"])
    t = "app.stock"
    want = [
        event("mp", t, 1, "r", "my_stock_balance", "InventoryBalance", "A-1", NOW, sku="A-1", location="WH01",
              on_hand="12.5000", reserved=None, available=None, unit="PCE"),
        dead_letter("mp", t, 2, "r", "my_stock_balance", "InventoryBalance", "fields.unit",
                    "no mapping for 'BOX'",
                    '{"op": "r", "table": "app.stock", "before": null, "after": {"wh": "WH01", "sku": "B-2", '
                    '"qty": "1.500", "uom": "box", "note": "' + "n" * 2000 + '"}, "unchanged": []}'),
    ]
    check_lines(out, want, "mysql preview --limit 2")
    check_eq(summary, [f"waybill: preview {t}: 2 rows read, 1 mapping; as snapshot reads (r): 1 event, "
                       "1 dead letter"], "mysql summary")
    check(not os.path.exists(p.ckpt_dir), "mysql: no checkpoint directory", p.ckpt_dir)


def test():
    postgres_case()
    mysql_case()


main(test)
