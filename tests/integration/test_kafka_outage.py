# test_kafka_outage.py — a real Apache Kafka broker (the only one, so also
# the transaction coordinator) killed mid-stream and started again 15 s
# later, while a workload runs and a bulk load arrives that fills every
# queue: nothing is lost or duplicated (read_committed consumer, exact
# values), waybill's memory stays bounded during the outage, and the outage
# is logged once when it starts and once when it ends.
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

# The bulk load is about 20 times queue_bytes of row data, so a queue that
# did not bound memory would show in RSS.
BULK = 200000
QUEUE_MIB = 2
RDKAFKA_MIB = 4
OUTAGE_S = 15


def test():
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL + "CREATE TABLE bulk (id int PRIMARY KEY, pad text);")
    k = kt.Kafka()
    p = kt.kafka_pipeline(pg, k, name="o1", extra_top=f"queue_bytes: {QUEUE_MIB}MiB\n",
                          extra_sink="  properties:\n    queue.buffering.max.messages: 5000\n"
                                     f"    queue.buffering.max.kbytes: {RDKAFKA_MIB * 1024}\n")
    p.run_idle(1)
    proc = p.start()
    p.wait_slot_active(proc)
    wl = kt.Workload(pg)
    wl.run(20)
    wait_until(lambda: "o1.public.items" in kt.partition_counts(k.bootstrap), 30, "first messages")
    wl.start()
    time.sleep(2)

    base = kt.vmrss_kib(proc.pid)
    k.kill(1)
    t0 = time.time()
    bulk_done = threading.Event()

    def bulk():
        pg.psql(f"INSERT INTO bulk SELECT g, repeat('x', 200) FROM generate_series(1, {BULK}) g;",
                timeout=120)
        bulk_done.set()
    threading.Thread(target=bulk, daemon=True).start()
    peak = 0
    while time.time() - t0 < OUTAGE_S:
        if not proc.alive():
            fail(f"waybill exited during the outage: {proc.stderr()[-3000:]}")
        peak = max(peak, kt.vmrss_kib(proc.pid) or 0)
        time.sleep(0.2)
    check(bulk_done.is_set(), f"the bulk load ({BULK} rows) committed during the outage")
    k.restart(1)
    log(f"outage over after {time.time() - t0:.1f} s; peak RSS during it {peak / 1024:.1f} MiB")
    # what may be held: the pipeline queue, librdkafka's queue (payload
    # bound, plus its per-message overhead for 5000 messages), one batch
    # being built and one being encoded, and allocator slack
    limit = base + (QUEUE_MIB + RDKAFKA_MIB) * 1024 + 24 * 1024
    check(peak < limit, f"RSS bounded during the outage: peak {peak / 1024:.1f} MiB < "
          f"{limit / 1024:.1f} MiB (RSS before {base / 1024:.1f} MiB + queues + 24 MiB), "
          f"with {BULK * 200 / 2**20:.0f} MiB of rows pushed")
    time.sleep(1)
    wl.stop()
    wait_until(lambda: "available again" in proc.stderr() or not proc.alive(), 90,
               "outage end logged")
    check(proc.alive(), "waybill went on after the outage", proc.stderr()[-3000:])
    # caught up: a checkpoint past one more change, made after everything
    mark = lsn(pg.value("SELECT pg_current_wal_lsn()"))
    wl.run(1)
    p.wait_checkpoint_past(mark, proc, timeout=180)
    proc.kill(signal.SIGTERM)
    check(proc.p.returncode == 0, "waybill stopped cleanly (SIGTERM)", proc.stderr()[-3000:])
    p.run_idle(2, timeout=180)   # delivers whatever the first run had not read yet
    err = proc.stderr()
    starts = [l for l in err.split("\n") if "unavailable" in l]
    ends = [l for l in err.split("\n") if "available again" in l]
    check_eq(len(starts), 1, "outage start logged once")
    check_eq(len(ends), 1, "outage end logged once")
    log("  " + starts[0])
    log("  " + ends[0])

    schemas = kt.load_schemas(k.bootstrap, "o1")
    msgs = kt.data_messages(k.bootstrap, "o1")
    parts = kt.partition_counts(k.bootstrap)
    kt.verify(msgs, schemas, wl, parts, "o1.public.items", exactly_once=True)
    ids = [kt.decode_single_object(m.key, schemas)["id"] for m in msgs if m.topic == "o1.public.bulk"]
    check_eq(len(ids), BULK, "bulk: one message per row")
    check_eq(sorted(ids), list(range(1, BULK + 1)), "every bulk row exactly once (ids exact)")


main(test)
