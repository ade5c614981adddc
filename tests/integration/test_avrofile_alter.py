# test_avrofile_alter.py — type changes that keep the Avro fingerprint
# (numeric(10,2) → numeric(10,4), timestamp → timestamptz: the canonical
# form drops precision, scale and logicalType) start a new file, so every
# value reads back exactly with python3-avro; also for a file reopened after
# kill -9.
import datetime
import decimal
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

TOPIC = "pa.public.price"
D = decimal.Decimal
UTC = datetime.timezone.utc


def test():
    pg = Postgres(settings={"timezone": "UTC"}).start()
    pg.psql("CREATE TABLE price (id int PRIMARY KEY, amount numeric(10,2), t timestamp);")
    p = Pipeline(pg, name="pa", tables=["public.price"])

    log("run 1: waybill in the background, two ALTER TYPEs mid-stream")
    proc = p.start()
    p.wait_slot_active(proc)
    pg.psql("INSERT INTO price VALUES (1, 1.50, '2024-01-02 03:04:05.123456');")
    pg.psql("ALTER TABLE price ALTER amount TYPE numeric(10,4);")
    pg.psql("INSERT INTO price VALUES (2, 1.5000, '2024-01-02 03:04:05.5');")
    pg.psql("ALTER TABLE price ALTER t TYPE timestamptz;")
    last = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    pg.psql("INSERT INTO price VALUES (3, 2.2500, '2024-01-02 03:04:05.123456+02');")
    p.wait_checkpoint_past(last, proc)
    log("kill -9 with the third file open")
    proc.kill()
    check_eq(len(part_files(p.out)), 1, "one .part file (the open one) after kill -9")

    log("run 2: the reopened file takes a row of its own schema, then another ALTER")
    pg.psql("INSERT INTO price VALUES (4, 3.1, '2024-06-30 23:59:59.999999+00');")
    pg.psql("ALTER TABLE price ALTER amount TYPE numeric(10,3);")
    pg.psql("INSERT INTO price VALUES (5, 4.125, '2024-07-01 00:00:00+00');")
    p.run_idle(idle=2)
    check_eq(part_files(p.out), [], "no .part files after a clean stop")

    files = p.read().get(TOPIC, [])
    log("files: " + ", ".join(f"{f.name} ({len(f.records)} records)" for f in files))
    got = [[(r["after"]["id"], r["after"]["amount"], r["after"]["t"]) for r in f.records] for f in files]
    # timestamp is local-timestamp-micros (python3-avro 1.11 reads a long);
    # timestamptz is timestamp-micros, read as an aware datetime.
    t1 = 1704164645123456
    t2 = 1704164645500000
    expected = [
        [(1, D("1.50"), t1)],
        [(2, D("1.5000"), t2)],
        [(3, D("2.2500"), datetime.datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=UTC)),
         (4, D("3.1000"), datetime.datetime(2024, 6, 30, 23, 59, 59, 999999, tzinfo=UTC))],
        [(5, D("4.125"), datetime.datetime(2024, 7, 1, 0, 0, 0, tzinfo=UTC))],
    ]
    check_eq(len(got), len(expected), "one file per schema identity")
    for i, (g, e) in enumerate(zip(got, expected)):
        check_eq(g, e, f"file {i + 1}: (id, amount, t) exact")
    scales = []
    for f in files:
        row = f.row_schema()
        amount = [c for c in row["fields"] if c["name"] == "amount"][0]["type"]
        amount = [x for x in amount if x != "null"][0] if isinstance(amount, list) else amount
        scales.append(amount.get("scale"))
    check_eq(scales, [2, 4, 4, 3], "decimal scale in each file's header")


main(test)
