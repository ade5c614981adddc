# test_pg_alter.py — ALTER TABLE ADD COLUMN / DROP COLUMN while one waybill
# process streams: rows keep the shape they had when written, and each new
# shape starts a new file (one writer schema per file).
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

TOPIC = "al.public.shape"


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE shape (id int PRIMARY KEY, a int);")
    p = Pipeline(pg, name="al", tables=["public.shape"])

    log("starting one waybill run in the background")
    proc = p.start()
    p.wait_slot_active(proc)

    pg.psql("INSERT INTO shape VALUES (1, 10), (2, 20);")
    pg.psql("ALTER TABLE shape ADD COLUMN b text DEFAULT 'dflt';")
    pg.psql("INSERT INTO shape VALUES (3, 30, 'x');")
    pg.psql("UPDATE shape SET a = 11 WHERE id = 1;")
    pg.psql("ALTER TABLE shape DROP COLUMN a;")
    pg.psql("INSERT INTO shape VALUES (4, 'y');")
    last_lo = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    pg.psql("UPDATE shape SET b = 'z' WHERE id = 3;")

    log("waiting for the checkpoint to cover the last commit, then SIGTERM")
    p.wait_checkpoint_past(last_lo, proc)
    proc.kill(signal.SIGTERM)
    check_eq(proc.p.returncode, 0, "waybill exits 0 on SIGTERM")
    check_eq(part_files(p.out), [], "no .part files after SIGTERM")

    files = p.read().get(TOPIC, [])
    log("files: " + ", ".join(f"{f.name} {f.row_fields()} ({len(f.records)} records)" for f in files))
    check_eq(len(files), 3, "three files, one per table shape")
    check_eq([f.row_fields() for f in files], [["id", "a"], ["id", "a", "b"], ["id", "b"]],
             "row schemas in file order: before ADD, after ADD, after DROP")
    got = [[(r["op"], r["before"], r["after"]) for r in f.records] for f in files]
    expected = [
        [("c", None, {"id": 1, "a": 10}), ("c", None, {"id": 2, "a": 20})],
        [("c", None, {"id": 3, "a": 30, "b": "x"}), ("u", None, {"id": 1, "a": 11, "b": "dflt"})],
        [("c", None, {"id": 4, "b": "y"}), ("u", None, {"id": 3, "b": "z"})],
    ]
    for i, (g, e) in enumerate(zip(got, expected)):
        check_eq(g, e, f"file {i + 1} records (op, before, after)")
    recs = [r for f in files for r in f.records]
    pos = [position(r["source"]["position"]) for r in recs]
    check(all(a < b for a, b in zip(pos, pos[1:])), "positions strictly increasing across the files")
    check_eq([list(r["unchanged"]) for r in recs], [[]] * 6, "unchanged empty everywhere")


main(test)
