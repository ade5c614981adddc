# test_kafka_fencing.py — a second waybill with the same pipeline name on a
# second checkpoint directory (as on a second machine) must not interleave
# with the first. The first instance A is frozen (SIGSTOP: a hung machine
# or a network partition) with a transaction open, and PostgreSQL drops its
# replication connection; B takes over the slot and, starting its Kafka
# transactions with the same transactional.id (waybill.<name>), fences A.
# When A wakes up it must not deliver what it held: it stops with exit 1
# and a line saying it was fenced, and its open transaction stays invisible
# to read_committed consumers. B goes on from the slot's position, skipping
# what A had committed (the read-back), and the topic holds every change of
# the workload exactly once, in order per key.
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402
import wbtest  # noqa: E402


def test():
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL)
    k = kt.Kafka()
    a = kt.kafka_pipeline(pg, k, name="fz", extra_source="  snapshot: never\n")
    b = kt.kafka_pipeline(pg, k, name="fz", extra_source="  snapshot: never\n")
    check(a.ckpt_dir != b.ckpt_dir, "two checkpoint directories")
    a.run_idle(1)

    wl = kt.Workload(pg)
    wl.start(pause=0.002)
    pa = a.start()
    a.wait_slot_active(pa)
    time.sleep(3)
    # freeze A in the middle of the stream: its messages in flight and its
    # open transaction stay where they are
    os.kill(pa.pid, signal.SIGSTOP)
    add_cleanup(lambda: os.kill(pa.pid, signal.SIGCONT) if pa.p.poll() is None else None)
    pg.psql(f"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
            f"WHERE slot_name = '{a.slot_name}' AND active_pid IS NOT NULL;")
    wait_until(lambda: pg.value(f"SELECT active FROM pg_replication_slots WHERE slot_name = "
                                f"'{a.slot_name}'") == "f", 30, "A's walsender gone")
    log(f"  A frozen at workload step {wl.n}")

    pb = b.start()
    b.wait_slot_active(pb)
    wait_until(lambda: "transactional.id waybill.fz" in pb.stderr() or not pb.alive(), 60,
               "B connected to Kafka")
    time.sleep(3)
    os.kill(pa.pid, signal.SIGCONT)
    log(f"  A woken up at workload step {wl.n}")
    rc = pa.wait(60)
    err = pa.stderr()
    fenced = [l for l in err.split("\n") if "fenced" in l]
    check(rc == 1 and len(fenced) >= 1, "A stops with exit 1 once it finds itself fenced", err[-3000:])
    check("another producer with transactional.id waybill.fz" in fenced[-1],
          "A's line names the transactional.id", fenced[-1])
    log("  " + fenced[-1])
    time.sleep(2)
    check(pb.alive(), "B goes on", pb.stderr()[-3000:])
    wl.stop()
    mark = lsn(pg.value("SELECT pg_current_wal_lsn()"))
    wl.run(1)
    b.wait_checkpoint_past(mark, pb, timeout=120)
    pb.kill(signal.SIGTERM)
    check_eq(pb.p.returncode, 0, "B stopped cleanly")
    check("fenced" not in pb.stderr(), "B was never fenced", pb.stderr()[-2000:])

    schemas = kt.load_schemas(k.bootstrap, "fz")
    msgs = kt.data_messages(k.bootstrap, "fz")
    kt.verify(msgs, schemas, wl, kt.partition_counts(k.bootstrap), "fz.public.items",
              exactly_once=True)
    # a reader of uncommitted data sees A's aborted transaction too: only
    # read_committed consumers get exactly once
    raw = [m for m in kt.consume(k.bootstrap, prefix="fz.public.", isolation="read_uncommitted")]
    log(f"  read_uncommitted: {len(raw)} messages, read_committed: {len(msgs)}")
    check(len(raw) >= len(msgs), "read_uncommitted sees at least what read_committed sees")


main(test)
