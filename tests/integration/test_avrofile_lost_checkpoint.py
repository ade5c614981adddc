# test_avrofile_lost_checkpoint.py — losing the checkpoint never deletes
# data. The open .part file up to its checkpointed offset was confirmed to
# PostgreSQL (the slot's flush LSN) and exists nowhere else: after kill -9
# and the checkpoint removed, a restart keeps it (whole: as .avro; torn: as
# .avro.orphan, untouched) with one warning naming it, and every row that
# was in the files is still there.
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

import avro.datafile  # noqa: E402
import avro.io  # noqa: E402


def ids_in(path):
    """ids of the records python3-avro reads from path, up to a torn tail."""
    out = []
    with open(path, "rb") as f:
        r = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        try:
            for rec in r:
                out.append(rec["after"]["id"])
        except Exception as e:  # the torn tail
            log(f"  {os.path.basename(path)}: stops after {len(out)} records ({type(e).__name__})")
    return out


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text);")
    p = Pipeline(pg, name="lc", tables=["public.a", "public.b"])

    log("run 1: 10 transactions of 10 rows in each table, then kill -9")
    proc = p.start()
    p.wait_slot_active(proc)
    for t in range(10):
        last = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
        pg.psql("BEGIN;" + "".join(f"INSERT INTO {tb} SELECT g, 'row ' || g "
                                   f"FROM generate_series({t * 10 + 1}, {t * 10 + 10}) g;" for tb in ("a", "b"))
                + "COMMIT;")
    p.wait_checkpoint_past(last, proc)
    wait_until(lambda: lsn(pg.slot(p.slot_name)[0]) > last, 30, "the slot to confirm every row of run 1")
    proc.kill()
    parts = part_files(p.out)
    check_eq([os.path.relpath(x, p.out) for x in parts],
             ["lc.public.a/000000000001.avro.part", "lc.public.b/000000000001.avro.part"],
             "two open .part files after kill -9")
    before = {tb: ids_in(x) for tb, x in zip("ab", parts)}
    check_eq(before, {"a": list(range(1, 101)), "b": list(range(1, 101))}, "run 1's rows are in the .part files")

    log("b's file gets a torn tail (power loss mid-block); the checkpoint is lost")
    with open(parts[1], "ab") as f:
        f.write(b"\x1e\x80torn")
    os.unlink(p.checkpoint_path)
    pg.psql("INSERT INTO a VALUES (101, 'after'); INSERT INTO b VALUES (101, 'after');")

    log("run 2: --resnapshot (the way out the source names), until idle")
    r = p.run(["run", "-c", p.config, "--resnapshot", "--stop-when-idle", "2"], timeout=120, tag="run")
    check_eq(r.rc, 0, "run 2 exits 0 (the sink keeps what it finds and goes on)")
    warns = [l for l in r.stderr_lines() if "no checkpoint: kept" in l]
    log("\n".join(warns))
    check_eq(len(warns), 2, "one warning per kept file")
    check("000000000001.avro.part as " in warns[0] + warns[1], "the warnings name the files")
    files = all_files(p.out)
    log("files: " + ", ".join(files))
    check("lc.public.a/000000000001.avro" in files, "a's whole file kept as .avro")
    check("lc.public.b/000000000001.avro.orphan" in files, "b's torn file kept aside as .avro.orphan")
    check_eq(part_files(p.out), [], "no .part files after a clean stop")

    for tb in "ab":
        kept = sorted(glob.glob(os.path.join(p.out, f"lc.public.{tb}", "*.avro*")))
        ids = [i for x in kept for i in ids_in(x)]
        missing = sorted(set(range(1, 102)) - set(ids))
        check_eq(missing, [], f"{tb}: no row of run 1 (nor the one after) is gone")
        first = ids_in(kept[0])
        check_eq(first, list(range(1, 101)), f"{tb}: the kept file still holds rows 1..100 in order")


main(test)
