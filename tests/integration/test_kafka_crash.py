# test_kafka_crash.py — kill -9 of waybill at random points of a running
# workload, 10 rounds, for two pipelines side by side: with exactly_once
# (the default) an ordinary consumer sees each change exactly once; with
# exactly_once: false at least once, every duplicate identical (same
# event_id and bytes). Also: a second waybill with the same name refuses to
# start while the first runs, and nothing is interleaved.
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

ROUNDS = 10


def wait_inactive(pg, p):
    wait_until(lambda: pg.value(f"SELECT active FROM pg_replication_slots WHERE slot_name = "
                                f"'{p.slot_name}'") == "f", 30, f"slot {p.slot_name} released")


def test():
    rnd = seeded_random()
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL)
    k = kt.Kafka()
    eo = kt.kafka_pipeline(pg, k, name="eo")
    alo = kt.kafka_pipeline(pg, k, name="alo", extra_sink="  exactly_once: false\n")
    eo.run_idle(1)
    alo.run_idle(1)

    wl = kt.Workload(pg)
    wl.start(pause=0.001)
    for rnd_i in range(ROUNDS):
        procs = [(p, p.start()) for p in (eo, alo)]
        for p, proc in procs:
            p.wait_slot_active(proc)
        if rnd_i == 3:
            r = eo.run(["run", "-c", eo.config], timeout=30)
            check(r.rc == 1 and "pipeline eo is already running" in r.stderr,
                  "a second waybill with the same name refuses to start", repr(r))
        delays = [rnd.uniform(0.2, 2.0) for _ in procs]
        t0 = time.time()
        for (p, proc), d in sorted(zip(procs, delays), key=lambda x: x[1]):
            time.sleep(max(0, t0 + d - time.time()))
            if not proc.alive():
                fail(f"waybill {p.name} exited early: {proc.stderr()[-3000:]}")
            proc.kill(signal.SIGKILL)
        for p, _ in procs:
            wait_inactive(pg, p)
        log(f"round {rnd_i + 1}: killed after {delays[0]:.2f}s / {delays[1]:.2f}s "
            f"({wl.n} workload steps so far)")
    wl.stop()
    r_eo = eo.run_idle(2, timeout=180)
    alo.run_idle(2, timeout=180)
    log("  " + "\n  ".join(l for l in r_eo.stderr.split("\n") if "skipped" in l)[:2000])

    parts = kt.partition_counts(k.bootstrap)
    kt.verify(kt.data_messages(k.bootstrap, "eo"), kt.load_schemas(k.bootstrap, "eo"), wl, parts,
              "eo.public.items", exactly_once=True)
    kt.verify(kt.data_messages(k.bootstrap, "alo"), kt.load_schemas(k.bootstrap, "alo"), wl, parts,
              "alo.public.items", exactly_once=False)


main(test)
