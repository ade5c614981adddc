# test_kafka_cluster.py — a 3-broker Apache Kafka cluster (replication
# factor 3, min.insync.replicas 2): the leader of a partition waybill
# writes to is killed (SIGKILL) mid-stream while a workload runs; waybill
# goes on with the new leader, nothing is lost or duplicated; then waybill
# itself is killed and restarted (the exactly-once read-back against the
# cluster with one broker down), and the broker comes back. Runs alone
# (RUN_SERIAL): three brokers take most of the machine.
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

TOPIC = "cl.public.items"


def test():
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL)
    k = kt.Kafka(brokers=3)
    k.create_topic(TOPIC, 4)
    p = kt.kafka_pipeline(pg, k, name="cl")
    p.run_idle(1)
    wl = kt.Workload(pg)
    wl.start(pause=0.002)
    proc = p.start()
    p.wait_slot_active(proc)
    wait_until(lambda: "already holds" in proc.stderr() or "published" in proc.stderr(), 60,
               "first messages")
    time.sleep(2)

    victim = k.leader(TOPIC, 0)
    check(victim in (1, 2, 3), f"partition 0 of {TOPIC} is led by broker {victim}")
    k.kill(victim)
    t0 = time.time()
    wait_until(lambda: k.leader(TOPIC, 0) not in (victim, -1), 60, "a new leader of partition 0")
    log(f"  new leader of partition 0: broker {k.leader(TOPIC, 0)} after {time.time() - t0:.1f} s")
    steps = wl.n
    time.sleep(4)
    check(proc.alive(), "waybill goes on without the old leader", proc.stderr()[-3000:])
    mark = lsn(pg.value("SELECT pg_current_wal_lsn()"))
    p.wait_checkpoint_past(mark, proc, timeout=90)
    check(wl.n > steps, "the workload went on meanwhile")

    # waybill killed and restarted while the broker is still down
    proc.kill(signal.SIGKILL)
    proc = p.start()
    p.wait_slot_active(proc)
    time.sleep(3)
    k.restart(victim)
    time.sleep(3)
    check(proc.alive(), "waybill goes on after the broker came back", proc.stderr()[-3000:])
    wl.stop()
    mark = lsn(pg.value("SELECT pg_current_wal_lsn()"))
    wl.run(1)
    p.wait_checkpoint_past(mark, proc, timeout=120)
    proc.kill(signal.SIGTERM)
    check_eq(proc.p.returncode, 0, "waybill stopped cleanly")

    schemas = kt.load_schemas(k.bootstrap, "cl")
    msgs = kt.data_messages(k.bootstrap, "cl")
    kt.verify(msgs, schemas, wl, kt.partition_counts(k.bootstrap), TOPIC, exactly_once=True)


main(test)
