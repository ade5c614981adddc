# test_mapping_golden.py — the sample mappings' golden tests through
# `waybill mapping test` (mappings/tests/*.test.yaml), and what they emit
# (--emit-avro) read back with python3-avro: schemas as in schemas/avro,
# exact decimal sums, dead letters with their raw change; a wrong
# expectation fails with a readable diff, a bad mapping with file:line:column.
import decimal
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

SETS = {
    # name: (cases, events by type, dead letters)
    "wms_inventory": (24, {"InventoryMovement": 20, "InventoryBalance": 16}, 1),
    "wms_shipments": (11, {"ShipmentCreated": 1, "ShipmentStatusChanged": 9, "ProofOfDelivery": 2}, 2),
    "wms_freight": (5, {"FreightCharge": 4}, 0),
    "erp2_inventory": (9, {"InventoryMovement": 4, "InventoryBalance": 4}, 6),
    "erp2_shipments": (10, {"ShipmentCreated": 1, "ShipmentStatusChanged": 8, "ProofOfDelivery": 1,
                            "FreightCharge": 1}, 2),
}

SCHEMA_FILES = {
    "InventoryMovement": "inventory_movement", "InventoryBalance": "inventory_balance",
    "ShipmentCreated": "shipment_created", "ShipmentStatusChanged": "shipment_status_changed",
    "ProofOfDelivery": "proof_of_delivery", "FreightCharge": "freight_charge", "DeadLetter": "dead_letter",
}


def read_ocf(path):
    with open(path, "rb") as f:
        r = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        schema = r.meta["avro.schema"].decode()
        recs = list(r)
    return schema, recs


def run_set(name, prefix):
    cases, want_events, want_dead = SETS[name]
    out = make_tmpdir()
    m = os.path.join(SOURCE_DIR, "mappings", name + ".yaml")
    t = os.path.join(SOURCE_DIR, "mappings", "tests", name + ".test.yaml")
    r = run_waybill(["mapping", "test", "--emit-avro", out, m, t])
    check(r.rc == 0, f"{name}: golden test passes", r)
    check_eq(r.stdout.strip().splitlines()[-1], f"{t}: {cases} cases, 0 failed", f"{name}: summary")
    got_events, dead = {}, []
    for path in sorted(glob.glob(os.path.join(out, "*.avro"))):
        topic = os.path.basename(path)[:-5]
        schema, recs = read_ocf(path)
        if topic == f"{prefix}.dlq":
            typ = "DeadLetter"
            dead = recs
        else:
            check(topic.startswith(f"{prefix}.canonical."), f"{name}: topic {topic}")
            typ = topic[len(prefix) + len(".canonical."):]
            got_events[typ] = recs
        # the schema in the file is the one in the source tree, byte for byte
        with open(os.path.join(SOURCE_DIR, "schemas", "avro", SCHEMA_FILES[typ] + ".avsc")) as f:
            check_eq(schema, f.read(), f"{name}: schema of {topic}")
        for rec in recs:
            if typ == "DeadLetter":
                continue
            check_eq(rec["event_type"], typ, f"{name}: event_type")
            check_eq(rec["schema_version"], 1, f"{name}: schema_version")
            check_eq(rec["event_id"], rec["source"]["event_id"] + "#" + rec["mapping"]["name"],
                     f"{name}: event_id from the raw event_id and the mapping")
            check_eq(rec["source"]["system"], prefix, f"{name}: source.system")
    check_eq({k: len(v) for k, v in got_events.items()}, want_events, f"{name}: events per type")
    check_eq(len(dead), want_dead, f"{name}: dead letters")
    for d in dead:
        ch = json.loads(d["change"])
        check_eq(sorted(ch), ["after", "before", "op", "table", "unchanged"], f"{name}: dead letter change keys")
        check_eq(ch["table"], d["source"]["table"], f"{name}: dead letter table")
        check_eq(d["event_id"], d["source"]["event_id"] + "#" + d["mapping"]["name"], f"{name}: dead letter id")
        check(d["reason"] != "", f"{name}: dead letter reason")
    return got_events, dead


def test():
    ev, dead = run_set("wms_inventory", "wms1")
    # Exact sums: the movements of SUM-1 add up to each balance after them,
    # and to zero once the balance is deleted.
    moves = [r for r in ev["InventoryMovement"] if r["sku"] == "SUM-1"]
    bals = [r for r in ev["InventoryBalance"] if r["sku"] == "SUM-1"]
    check_eq(len(moves), 12, "SUM-1 movements")
    check_eq(len(bals), 12, "SUM-1 balances")
    total = decimal.Decimal(0)
    for mv, bal in zip(moves, bals):
        check_eq(mv["quantity_delta"].as_tuple().exponent, -4, "quantity scale 4")
        total += mv["quantity_delta"]
        check_eq(total, bal["on_hand"], f"running sum at {mv['source']['position']}")
    check_eq(total, decimal.Decimal("0.0000"), "the sum over a deleted balance")
    check_eq(max(m["quantity_delta"] for m in moves), decimal.Decimal("100000000000.0000"), "largest delta")
    check_eq(min(m["quantity_delta"] for m in moves), decimal.Decimal("-199999999999.9980"), "smallest delta")
    check_eq(dead[0]["field"], "fields.reason", "unknown move type: field")
    check_eq(dead[0]["reason"], "no mapping for 'SC'", "unknown move type: reason")

    ev, dead = run_set("wms_shipments", "wms1")
    check_eq([r["milestone"] for r in ev["ShipmentStatusChanged"] if r["shipment_id"] == "SH24-000815"],
             ["released", "picked", "packed", "shipped", "in_transit", "delivered"], "milestones of SH24-000815")
    check_eq(sorted(d["reason"] for d in dead), ["no mapping for 'ZZ'", "null where the schema requires a value"],
             "shipment dead letters")

    ev, dead = run_set("wms_freight", "wms1")
    check_eq(sum(r["amount"] for r in ev["FreightCharge"]), decimal.Decimal("10000000051.2300"), "freight sum")

    ev, dead = run_set("erp2_inventory", "erp2")
    check_eq(sorted(d["field"] for d in dead), ["fields.on_hand"] * 3 + ["fields.quantity_delta"] * 3,
             "erp2 dead letter fields")
    ev, dead = run_set("erp2_shipments", "erp2")
    check_eq([r["milestone"] for r in ev["ShipmentStatusChanged"] if r["shipment_id"] == "50012"],
             ["released", "picked", "packed", "shipped", "in_transit", "delivered"], "milestones of 50012")

    # A wrong expectation: exit 1 and a diff naming the field.
    d = make_tmpdir()
    src = os.path.join(SOURCE_DIR, "mappings", "tests", "wms_freight.test.yaml")
    with open(src) as f:
        text = f.read()
    bad = os.path.join(d, "wrong.test.yaml")
    with open(bad, "w") as f:
        f.write(text.replace('fuel_surcharge, amount: "7.34"', 'fuel_surcharge, amount: "7.35"'))
    r = run_waybill(["mapping", "test", os.path.join(SOURCE_DIR, "mappings", "wms_freight.yaml"), bad])
    check_eq(r.rc, 1, "a wrong expectation fails")
    lines = r.stdout.splitlines()
    check_eq(lines[0], f"FAIL 2 - fuel surcharge, before it is invoiced ({bad}:27)", "diff header")
    check_eq(lines[1], "    output 1: fields.amount: expected 7.35, got 7.3400", "diff line")
    check_eq(lines[-1], f"{bad}: 5 cases, 1 failed", "summary")

    # A mapping that does not check: exit 2, file:line:column.
    m = os.path.join(d, "bad.yaml")
    with open(m, "w") as f:
        f.write("mapping: bad\nsource: public.freight_charge\nevent: FreightCharge\n"
                "correlation_id: \"after.shipment_no\"\nfields:\n"
                "  shipment_id: \"after.shipment\"\n  charge_type: \"'x'\"\n"
                "  amount: \"after.amount\"\n  currency: \"after.currency\"\n")
    r = run_waybill(["mapping", "test", m, src])
    check_eq(r.rc, 2, "a mapping that does not check")
    check(r.stderr.startswith(f"{m}:6:17: mapping bad, table public.freight_charge: fields.shipment_id: "
                              "unknown column after.shipment"), "check error position", r)

    r = run_waybill(["mapping", "test"])
    check_eq(r.rc, 2, "usage")
    check(r.stderr.startswith("usage: waybill mapping test"), "usage text", r)


main(test)
