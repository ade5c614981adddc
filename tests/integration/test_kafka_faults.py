# test_kafka_faults.py — faults injected into waybill-mock-kafka while a
# workload runs: Produce requests failing with NOT_LEADER_OR_FOLLOWER and
# REQUEST_TIMED_OUT are retried without loss, duplicates or reordering; a
# 10 s broker outage in the middle of a running workload (with a bulk load
# that fills every queue) loses nothing, keeps waybill's memory bounded and
# is logged once when it starts and once when it ends.
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

# The bulk load during the outage is about 20 times queue_bytes (2 MiB) of row
# data, so a queue that did not bound memory would show in RSS. The mock keeps
# only about 5 MB per partition (older messages are dropped): the bulk topic
# is created with enough partitions to hold all of it.
BULK = 200000
QUEUE_MIB = 2
RDKAFKA_MIB = 4
BULK_PARTITIONS = 48


def test():
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL + "CREATE TABLE bulk (id int PRIMARY KEY, pad text);")
    k = kt.MockKafka(args=["--topic", "f1.public.bulk", "--partitions", str(BULK_PARTITIONS)])
    # max.in.flight 1: the mock does not check the sequence numbers of an
    # idempotent producer, so with several requests in flight it appends a
    # request that follows a failed one, and librdkafka then takes the failed
    # one as persisted (a real broker answers OUT_OF_ORDER_SEQUENCE_NUMBER and
    # the producer resends in order). See docs/DESIGN.md, "Kafka sink".
    p = kt.kafka_pipeline(pg, k, name="f1", extra_top=f"queue_bytes: {QUEUE_MIB}MiB\n",
                          extra_sink="  properties:\n    queue.buffering.max.messages: 5000\n"
                                     f"    queue.buffering.max.kbytes: {RDKAFKA_MIB * 1024}\n"
                                     "    max.in.flight.requests.per.connection: 1\n")
    p.run_idle(1)
    proc = p.start()
    p.wait_slot_active(proc)
    wl = kt.Workload(pg)
    wl.run(20)
    wait_until(lambda: kt.vmrss_kib(proc.pid) is not None and "f1.public.items" in
               kt.partition_counts(k.bootstrap), 30, "first messages")

    # --- request errors: retried, nothing lost or reordered
    wl.start()
    for i in range(6):
        k.must(f"errors 0 {6 if i % 2 == 0 else 7} 3")
        time.sleep(0.5)
    time.sleep(1)
    check("unavailable" not in proc.stderr(), "request errors are not reported as an outage",
          proc.stderr()[-2000:])

    # --- a 10 s outage while the workload goes on and a bulk load arrives
    base = kt.vmrss_kib(proc.pid)
    k.must("down 1")
    t0 = time.time()
    bulk_done = threading.Event()

    def bulk():
        pg.psql(f"INSERT INTO bulk SELECT g, repeat('x', 200) FROM generate_series(1, {BULK}) g;",
                timeout=120)
        bulk_done.set()
    threading.Thread(target=bulk, daemon=True).start()
    peak = 0
    while time.time() - t0 < 10:
        if not proc.alive():
            fail(f"waybill exited during the outage: {proc.stderr()[-3000:]}")
        peak = max(peak, kt.vmrss_kib(proc.pid) or 0)
        time.sleep(0.2)
    check(bulk_done.is_set(), f"the bulk load ({BULK} rows) committed during the outage")
    k.must("up 1")
    log(f"outage over; peak RSS during it {peak / 1024:.1f} MiB")
    # what may be held: the pipeline queue, librdkafka's queue (payload bound,
    # plus its per-message overhead for 5000 messages), one batch being
    # built and one being encoded, and allocator slack
    limit = base + (QUEUE_MIB + RDKAFKA_MIB) * 1024 + 24 * 1024
    bulk_mib = BULK * 200 / 2**20
    check(peak < limit, f"RSS bounded during the outage: peak {peak / 1024:.1f} MiB < "
          f"{limit / 1024:.1f} MiB (RSS before {base / 1024:.1f} MiB + queues + 24 MiB), "
          f"with {bulk_mib:.0f} MiB of rows pushed")
    wait_until(bulk_done.is_set, 120, "bulk load committed")
    time.sleep(1)
    wl.stop()
    wait_until(lambda: "available again" in proc.stderr(), 60, "outage end logged")
    time.sleep(3)
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

    schemas = kt.load_schemas(k.bootstrap, "f1")
    msgs = kt.data_messages(k.bootstrap, "f1")
    parts = kt.partition_counts(k.bootstrap)
    # Nothing lost, order per key, exact values. A request the mock appended
    # just as the broker went down may be appended again when librdkafka
    # resends it: the 2.0.2 mock does not deduplicate an idempotent
    # producer's sequence numbers (a real broker does). So here duplicates
    # are allowed only as byte-identical resends of the same event;
    # exactly-once across crashes is test_kafka_crash's subject.
    dups = kt.verify(msgs, schemas, wl, parts, "f1.public.items", exactly_once=False)
    ids = [kt.decode_single_object(m.key, schemas)["id"] for m in msgs if m.topic == "f1.public.bulk"]
    log(f"  resends appended twice by the mock: {dups} item(s), {len(ids) - len(set(ids))} bulk row(s)")
    check_eq(sorted(set(ids)), list(range(1, BULK + 1)), "every bulk row delivered (ids exact)")


main(test)
