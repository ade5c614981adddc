# test_avrofile_idle_roll.py — a file completed by roll_age while the
# pipeline is idle becomes .avro without waiting for another checkpoint
# (its whole length is in the last durable one), and a kill -9 right after,
# then a restart from that checkpoint, keeps it complete: every row once.
# Before, the rename waited for a checkpoint recording the file complete,
# which an idle pipeline writes only when something else moves (new
# events, or the server's WAL end for the idle acknowledgement).
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

TOPIC = "ir.public.t"


def test():
    pg = Postgres(settings={"autovacuum": "off"}).start()
    pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text);")
    p = Pipeline(pg, name="ir", tables=["public.t"], extra_sink="  roll_age: 2s\n")
    proc = p.start()
    p.wait_slot_active(proc)
    last = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    pg.psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;")
    p.wait_checkpoint_past(last, proc)
    log("idle: no more changes; waiting for roll_age (2 s) to complete the file")
    t0 = time.time()
    done = os.path.join(p.out, TOPIC, "000000000001.avro")
    while True:
        # the checkpoint first, then the file: a rename that had waited for
        # a checkpoint recording the file complete shows that checkpoint
        ck = p.checkpoint()
        if os.path.exists(done):
            break
        if not proc.alive():
            fail(f"waybill exited: {proc.stderr()[-2000:]}")
        if time.time() - t0 > 60:
            fail(f"still {all_files(p.out)} after 60 s idle with roll_age 2s")
        time.sleep(0.01)
    log(f"  {os.path.relpath(done, p.out)} after {time.time() - t0:.1f}s idle")
    st = ck["sink"]["series"]["ir.public.t"]
    check_eq((st["seq"], st["closed_through"]), (1, 0),
             "renamed while the latest checkpoint still had it open (seq 1, closed_through 0)")
    check_eq(part_files(p.out), [], "no .part left while idle")
    proc.kill()

    log("restart from the checkpoint written before the rename; more rows")
    pg.psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(101, 150) g;")
    p.run_idle(idle=2)
    files = p.read().get(TOPIC, [])
    check_eq([f.name for f in files], ["000000000001.avro", "000000000002.avro"], "two files")
    check_eq([[r["after"]["id"] for r in f.records] for f in files],
             [list(range(1, 101)), list(range(101, 151))], "every row once, the old file untouched")


main(test)
