# test_mapping_pg.py — canonical events from a real PostgreSQL through the
# sample mappings (mappings/wms_*.yaml) next to the raw events, decoded by
# python3-avro: ids derived from the raw events', balances that the
# movements' exact decimal deltas add up to, milestones and freight
# charges; a kill -9 mid-stream loses and doubles no canonical event; a
# bad mapping stops `check` and `run` with file:line:column; into a real
# Apache Kafka with the correlation id as key and header, and the mapping's
# name, version and file hash (CRC-64-AVRO, computed here) as a header; a
# NaN quantity is a dead letter naming the field, never a NULL.
import decimal
import glob
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

D = decimal.Decimal
MAPS = sorted(glob.glob(os.path.join(SOURCE_DIR, "mappings", "wms_*.yaml")))
SAMPLE = os.path.join(SOURCE_DIR, "tools", "sample")


def mappings_line(files):
    return "mappings: [" + ", ".join(json.dumps(m) for m in files) + "]\n"


def raw_ids(out):
    return {r["event_id"] for t, recs in records(out).items() if ".canonical." not in t and
            not t.endswith(".dlq") for r in recs}


def check_ids(out, raw):
    seen = set()
    for t, recs in records(out).items():
        if ".canonical." not in t:
            continue
        for r in recs:
            check(r["event_id"] not in seen, f"{t}: event id once", r["event_id"])
            seen.add(r["event_id"])
            src = r["source"]["event_id"]
            check(src in raw, f"{t}: the raw change {src} exists")
            check_eq(r["event_id"], f"{src}#{r['mapping']['name']}", "event id from the raw one and the mapping")
    return seen


def crc64_avro(data):
    """CRC-64-AVRO (the Avro specification's Rabin fingerprint)."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for b in data:
        fp = (fp >> 8) ^ table[(fp ^ b) & 0xFF]
    return fp


def mapping_header(event):
    """What waybill.mapping must say for the one sample mapping that makes
    event: its name and version, and the hash of its whole file."""
    found = []
    for path in MAPS:
        with open(path, "rb") as f:
            data = f.read()
        for doc in re.split(r"^---$", data.decode(), flags=re.M):
            if re.search(rf"^event:\s*{event}\s*$", doc, re.M):
                name = re.search(r"^mapping:\s*(\S+)", doc, re.M).group(1)
                v = re.search(r"^version:\s*(\d+)", doc, re.M)
                found.append(f"{name} {v.group(1) if v else 1} {crc64_avro(data):016x}")
    check_eq(len(found), 1, f"one sample mapping makes {event}")
    return found[0]


def balances(pg):
    rows = pg.psql("SELECT sku, trim(warehouse), qty_on_hand FROM stock_balance")
    # as the canonical schemas carry them: decimal(18,4)
    return {(s, w): D(q).quantize(D("0.0001")) for s, w, q in (l.split("|") for l in rows)}


def sample_workload(pg, p):
    # the snapshot's balances, then the morning's business steps
    p.run_idle(1)
    pg.psql(open(os.path.join(SAMPLE, "wms_burst.sql")).read())
    p.run_idle(2)
    out = records(p.out)
    raw = raw_ids(p.out)
    check_ids(p.out, raw)
    # the balance movements add up to the balances, exactly
    mv = [r for r in out["t1.canonical.InventoryMovement"] if r["mapping"]["name"] == "wms_balance_movement"]
    bal = [r for r in out["t1.canonical.InventoryBalance"]]
    snap = {(r["after"]["sku"], r["after"]["warehouse"].strip()): r["after"]["qty_on_hand"]
            for r in out["t1.public.stock_balance"] if r["op"] == "r"}
    last = {}
    for r in bal:
        last[(r["sku"], r["location"])] = r["on_hand"]
    sums = dict(snap)
    for r in mv:
        k = (r["sku"], r["to_location"])
        sums[k] = sums.get(k, D(0)) + r["quantity_delta"]
    want = balances(pg)
    for k, q in want.items():
        check_eq(last.get(k), q, f"last InventoryBalance of {k}")
        if k in sums:
            check_eq(sums[k].quantize(D("0.0001")), q, f"snapshot + deltas of {k}")
    # shipment milestones and freight
    st = [r["milestone"] for r in out["t1.canonical.ShipmentStatusChanged"]]
    check("delivered" in st, "a delivered milestone", str(st))
    fr = sorted((r["charge_type"], r["amount"], r["currency"]) for r in out["t1.canonical.FreightCharge"])
    check_eq([(a, b, c) for a, b, c in fr], [("freight", D("48.9000"), "EUR"), ("fuel_surcharge", D("7.3400"), "EUR")],
             "freight charges, exact")
    for r in out["t1.canonical.ShipmentStatusChanged"]:
        check_eq(r["correlation_id"], "SH24-000815", "correlation id of the shipment's events")


def crash_rounds(pg, p, rnd):
    stop = [False]

    def load():
        s = pg.session()
        i = 0
        while not stop[0]:
            i += 1
            s.run(f"UPDATE stock_balance SET qty_on_hand = qty_on_hand + 0.001 * {i % 7 + 1}, "
                  f"last_move_ts = '2024-03-06 08:00:00' WHERE sku = 'NUT-M8' AND warehouse = 'WH01'")
            time.sleep(0.003)
        s.close()
    th = Thread(load, "load")
    for i in range(3):
        proc = p.start()
        time.sleep(rnd.uniform(0.8, 2.0))
        proc.kill()
        th.check()
    stop[0] = True
    th.join(60)
    p.run_idle(2)
    raw = raw_ids(p.out)
    seen = check_ids(p.out, raw)
    # every raw balance update has its canonical events, once
    raw_bal = [r for r in records(p.out, "t1.public.stock_balance") if r["op"] == "u"]
    mv = {r["source"]["event_id"] for r in records(p.out, "t1.canonical.InventoryMovement")
          if r["mapping"]["name"] == "wms_balance_movement"}
    for r in raw_bal:
        if r["before"]["qty_on_hand"] != r["after"]["qty_on_hand"]:
            check(r["event_id"] in mv, "a movement for every balance change", r["event_id"])
    want = balances(pg)
    last = {}
    for r in records(p.out, "t1.canonical.InventoryBalance"):
        last[(r["sku"], r["location"])] = r["on_hand"]
    check_eq(last[("NUT-M8", "WH01")], want[("NUT-M8", "WH01")], "the balance after the crashes")
    log(f"{len(seen)} canonical events checked after 3 kills")
    r = p.run(["status", "-c", p.config])
    st = json.loads(r.stdout)
    counts = {m["name"]: (m["events"], m["dead_letters"]) for m in st["mappings"]}
    check(counts["wms_balance_movement"][0] > 0, "status counts events per mapping", str(counts))
    check("dead_letters" in st["mappings"][0], "status counts dead letters per mapping", r.stdout[-1500:])


def bad_mapping(pg):
    d = make_tmpdir()
    bad = os.path.join(d, "bad.yaml")
    with open(bad, "w") as f:
        f.write("mapping: bad_one\nsource: public.stock_balance\nops: [u]\nevent: InventoryMovement\n"
                "correlation_id: \"after.sku\"\nfields:\n  sku: \"after.sku\"\n"
                "  quantity_delta: \"after.qty_on_hand - before.no_such_column\"\n  reason: \"'x'\"\n")
    p = Pipeline(pg, name="t2", extra_top=mappings_line([bad]))
    r = p.run(["check", "-c", p.config])
    check_eq(r.rc, 2, "check fails on a bad mapping: a configuration error, exit 2 as run")
    check(f"{bad}:8:" in r.stdout and "no_such_column" in r.stdout, "file:line:column and the column",
          r.stdout[-2000:])
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1"])
    check_eq(r.rc, 2, "run refuses to start")
    check(f"{bad}:8:" in r.stderr, "run prints the problem", r.stderr[-2000:])


def into_kafka(pg):
    k = kt.Kafka()
    p = kt.kafka_pipeline(pg, k, name="km", extra_top=mappings_line(MAPS) + "emit: [mapped]\n")
    p.run_idle(1)
    pg.psql("UPDATE shipment SET status = 'IT' WHERE shipment_no = 'SH24-000815'")
    p.run_idle(2)
    schemas = kt.load_schemas(k.bootstrap, "km")
    msgs = kt.data_messages(k.bootstrap, "km")
    check(not [m for m in msgs if m.topic.startswith("km.public.")], "emit: [mapped]: no raw topics")
    st = [m for m in msgs if m.topic == "km.canonical.ShipmentStatusChanged"]
    check(st, "ShipmentStatusChanged messages")
    status_header = mapping_header("ShipmentStatusChanged")
    for m in st:
        check_eq(m.headers.get("waybill.correlation_id"), "SH24-000815", "correlation id header")
        check_eq(m.headers.get("waybill.mapping"), status_header, "mapping header: name, version, file hash")
        key = kt.decode_single_object(m.key, schemas, m.headers.get("waybill.key_schema_id"))
        check_eq(key, "SH24-000815", "key = correlation id")
        env = kt.decode_single_object(m.value, schemas, m.headers.get("waybill.schema_id"))
        check_eq(env["event_type"], "ShipmentStatusChanged", "event type")
    check_eq([kt.decode_single_object(m.value, schemas, m.headers.get("waybill.schema_id"))["milestone"]
              for m in st][-1], "in_transit", "the last milestone")


def not_a_number(pg, p):
    """A NaN balance has no decimal form: the mappings that read it send
    the change to the dead letters, naming the field and why; none of them
    reads it as NULL (which coalesce(x, 0) would turn into a delta of 0)."""
    pg.psql("INSERT INTO stock_balance (warehouse, sku, qty_on_hand) VALUES ('WH01', 'NAN-1', 'NaN')")
    p.run_idle(1)
    recs = records(p.out)
    dl = [r for t, rs in recs.items() if t.endswith(".dlq") for r in rs
          if "NAN-1" in json.dumps(r["change"], default=str)]
    got = sorted((r["mapping"]["name"], r["field"], r["reason"]) for r in dl)
    why = ("the value has no exact form in the column's type (unrepresentable: NaN, infinity, "
           "or out of range)")
    check_eq(got, [("wms_balance", "fields.on_hand", why),
                   ("wms_balance_movement", "fields.quantity_delta", why)],
             "a NaN quantity: dead letters with the field and the reason")
    ev = [r for t, rs in recs.items() if ".canonical." in t for r in rs if r.get("sku") == "NAN-1"]
    check_eq(ev, [], "no canonical event made of a NaN")


def test():
    rnd = seeded_random()
    pg = Postgres().start()
    pg.psql(open(os.path.join(SAMPLE, "wms_schema.sql")).read())
    p = Pipeline(pg, extra_top=mappings_line(MAPS))
    sample_workload(pg, p)
    crash_rounds(pg, p, rnd)
    not_a_number(pg, p)
    bad_mapping(pg)
    into_kafka(pg)


main(test)
