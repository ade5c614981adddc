# test_pg_partitions.py — a partitioned table is captured as its root: one
# series for the snapshot and the stream, whatever partition a row is in;
# an update that moves a row to another partition comes as consecutive
# events of that one series, and the events rebuild the table exactly.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401


def test():
    pg = Postgres().start()
    pg.psql("""
        CREATE TABLE pt (id int, region int, v text, PRIMARY KEY (id, region))
            PARTITION BY LIST (region);
        CREATE TABLE pt_1 PARTITION OF pt FOR VALUES IN (1);
        CREATE TABLE pt_2 PARTITION OF pt FOR VALUES IN (2);
        CREATE TABLE pt_3 PARTITION OF pt FOR VALUES IN (3);
        INSERT INTO pt SELECT g, 1 + g % 3, 'v' || g FROM generate_series(1, 30) g;
        -- a publication made beforehand without publish_via_partition_root
        CREATE PUBLICATION waybill_pp FOR TABLE pt;
    """)
    p = Pipeline(pg, name="pp", tables=["public.*"])
    p.run_idle(idle=1)
    check_eq(pg.value("SELECT pubviaroot FROM pg_publication WHERE pubname = 'waybill_pp'"), "t",
             "waybill set publish_via_partition_root on the publication")
    pg.psql("""
        INSERT INTO pt VALUES (100, 1, 'new');
        UPDATE pt SET region = 3 WHERE id = 100;         -- moves pt_1 -> pt_3
        UPDATE pt SET v = 'same' WHERE id = 2;            -- stays
        UPDATE pt SET region = 1 WHERE id = 5;            -- moves pt_3 -> pt_1
        DELETE FROM pt WHERE id = 7;
    """)
    p.run_idle(idle=1)
    out = p.read()
    check_eq(sorted(out), ["pp.public.pt"], "one series, the root's (no pt_1, pt_2, pt_3)")
    recs = records(p.out, "pp.public.pt")
    check_eq(sum(1 for r in recs if r["op"] == "r"), 30, "the snapshot of the root: 30 rows")
    stream = [(r["op"], r["before"] and (r["before"]["id"], r["before"]["region"]),
               r["after"] and (r["after"]["id"], r["after"]["region"])) for r in recs if r["op"] != "r"]
    check_eq(stream, [("c", None, (100, 1)),
                      ("d", (100, 1), None), ("c", None, (100, 3)),
                      ("u", None, (2, 3)),
                      ("d", (5, 3), None), ("c", None, (5, 1)),
                      ("d", (7, 2), None)],
             "a row moving between partitions: a delete and an insert, consecutive, in the one series")
    rows = pg.psql("SELECT id, region, v FROM pt")
    expect = {(int(i), int(g)): {"id": int(i), "region": int(g), "v": v}
              for i, g, v in (x.split("|") for x in rows)}
    check_eq(replay(recs, key=lambda row: (row["id"], row["region"])), expect, "the events rebuild the partitioned table exactly")


main(test)
