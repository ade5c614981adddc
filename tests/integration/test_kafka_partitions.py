# test_kafka_partitions.py — the partition of a message depends on the key
# values alone (murmur2 of the key's Avro binary without the schema framing)
# and the partition count of each topic is kept in the checkpoint.
#
# 1. A topic's partition count changes between a crash and the restart while
#    its partitions hold events written after the checkpoint: the restart
#    refuses (exit 1, one line naming the topic, both counts and the way
#    out) and produces nothing. The crash falls after a transaction's
#    commit and before the checkpoint that covers it (crash point
#    kafka.committed), and the partitions are added as `kafka-topics --alter
#    --partitions 8` does. The way out (one run with exactly_once: false)
#    then works and the checkpoint records the new count.
# 2. A key-schema change (id int -> bigint: a new key schema, fingerprint
#    and identity, the same key bytes) in the middle of kill -9 rounds: every
#    change exactly once, every key in one partition, the one murmur2 of its
#    values gives.
# 3. A crash (without transactions: delivered events past the checkpoint),
#    then a restart against another schema registry (the same
#    schemas get other ids, so the framed key bytes differ): the replay
#    lands in the partitions of the first time, exactly once.
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402
import wbtest  # noqa: E402
from wbtest import WAYBILL  # noqa: E402

import avro.schema  # noqa: E402

TOPIC = "pa.public.items"
FAKE_REGISTRY = os.path.join(SOURCE_DIR, "tests", "fixtures", "registry", "fake_registry.py")


def count_change(pg, a):
    a.create_topic(TOPIC, 4)
    p = kt.kafka_pipeline(pg, a, name="pa")
    p.run_idle(1)
    wl = kt.Workload(pg)
    wl.run(100)
    p.run_idle(2)
    ck = p.checkpoint()
    check_eq(ck["sink"]["partitions"].get(TOPIC), 4, "the checkpoint keeps the partition count")
    delivered = position(ck["sink"]["delivered"], allow_end=True)

    wl.run(100)
    env = dict(os.environ, WB_CRASH_AT="kafka.committed:1")
    proc = wbtest.Proc([WAYBILL, "run", "-c", p.config], p._logfile("crash"), env=env)
    rc = proc.wait(120)
    check_eq(rc, -signal.SIGKILL, "waybill killed after its first commit, before its checkpoint")
    wl.run(200)

    old = [m for m in kt.consume(a.bootstrap, prefix="pa.")]
    after = [m for m in old if m.topic == TOPIC and
             position(m.headers["waybill.position"]) > delivered]
    check(len(after) > 0, "the partitions hold events written after the checkpoint",
          f"{len(after)} of {len(old)} messages")
    a.add_partitions(TOPIC, 8)
    b = a
    before = len(kt.consume(b.bootstrap, prefix="pa."))
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "2"], timeout=120)
    want = (f"kafka: topic {TOPIC} had 4 partitions at the last checkpoint and has 8 now, "
            f"and partition ")
    lines = [l for l in r.stderr_lines() if want in l]
    check(r.rc == 1 and len(lines) == 1, "restart with another partition count refused, exit 1",
          repr(r))
    for part in ("give pa.public.items 4 partitions again", "sink.exactly_once: false"):
        check(part in lines[0], f"the message says the way out: {part!r}", lines[0])
    check_eq(len(kt.consume(b.bootstrap, prefix="pa.")), before, "nothing produced by the refused run")
    check_eq(p.checkpoint()["sink"]["partitions"].get(TOPIC), 4, "checkpoint unchanged")

    # the way out: one run at least once, then the new count is the checkpoint's
    p.write_config(p.config_text + "  exactly_once: false\n")
    p.run_idle(2)
    check_eq(p.checkpoint()["sink"]["partitions"].get(TOPIC), 8, "the checkpoint has the new count")
    p.write_config(p.config_text.replace("  exactly_once: false\n", ""))
    wl.run(10)
    r = p.run_idle(2)
    check("had 4 partitions" not in r.stderr, "exactly once again afterwards", r.stderr[-2000:])
    msgs = [m for m in kt.consume(b.bootstrap, topics=[TOPIC])]
    ids = set()
    for m in msgs:
        if m.value is not None:
            ids.add(m.headers["waybill.position"])
    expected = sum(1 for evs in wl.expected.values() for e in evs if e[0] != "tomb")
    check_eq(len(ids), expected, "every change of the workload is in the topic (at least once)")


def key_schema_change(pg, k):
    rnd = random.Random(int(os.environ.get("WB_SEED", time.time())))
    pg.psql("DROP TABLE items; " + kt.ITEMS_DDL)
    p = kt.kafka_pipeline(pg, k, name="pk")
    p.run_idle(1)
    wl = kt.Workload(pg)
    wl.start(pause=0.001)
    for i in range(4):
        proc = p.start()
        p.wait_slot_active(proc)
        if i == 1:
            time.sleep(rnd.uniform(0.2, 1.0))
            pg.psql("ALTER TABLE items ALTER id TYPE bigint;")
            log("  ALTER TABLE items ALTER id TYPE bigint")
        time.sleep(rnd.uniform(0.3, 1.5))
        if not proc.alive():
            fail(f"waybill exited early: {proc.stderr()[-3000:]}")
        proc.kill(signal.SIGKILL)
        wait_until(lambda: pg.value(f"SELECT active FROM pg_replication_slots WHERE slot_name = "
                                    f"'{p.slot_name}'") == "f", 30, "slot released")
        log(f"round {i + 1}: killed ({wl.n} workload steps so far)")
    wl.stop()
    p.run_idle(2, timeout=180)
    msgs = kt.data_messages(k.bootstrap, "pk")
    schemas = kt.load_schemas(k.bootstrap, "pk")
    key_ids = {m.headers.get("waybill.key_schema_id") for m in msgs}
    check_eq(len(key_ids), 2, "two key schemas (int, then bigint)")
    parts = kt.partition_counts(k.bootstrap)
    kt.verify(msgs, schemas, wl, parts, "pk.public.items", exactly_once=True)
    where = {}
    for m in msgs:
        kid = kt.decode_single_object(m.key, schemas, m.headers["waybill.key_schema_id"])["id"]
        where.setdefault(kid, set()).add(m.partition)
    split = {kk: v for kk, v in where.items() if len(v) > 1}
    check_eq(split, {}, "every key in one partition across the key-schema change")


def start_registry(dummies=0):
    """The fake registry; dummies schemas registered first, so that the
    real ones get ids after them."""
    d = make_tmpdir("wbtest-reg-")
    port_file = os.path.join(d, "port")
    p = subprocess.Popen(["/usr/bin/python3", FAKE_REGISTRY, "--port-file", port_file],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    add_cleanup(stop)
    wait_until(lambda: os.path.exists(port_file) or p.poll() is not None, 30, "fake registry port")
    check(p.poll() is None, "fake registry runs")
    with open(port_file) as f:
        url = f"http://127.0.0.1:{int(f.read().strip())}"
    for i in range(dummies):
        body = json.dumps({"schema": json.dumps({"type": "record", "name": f"d{i}", "fields": []})})
        req = urllib.request.Request(f"{url}/subjects/dummy/versions", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
    return url


def fetch(url, sid):
    with urllib.request.urlopen(f"{url}/schemas/ids/{sid}", timeout=10) as r:
        return avro.schema.parse(json.loads(r.read())["schema"])


def registry_change(pg, k):
    pg.psql("DROP TABLE items; " + kt.ITEMS_DDL)
    ra = start_registry()
    # without transactions, so that Kafka holds delivered events the
    # checkpoint does not cover (with them, the checkpoint written before
    # each commit covers what the commit holds: nothing is replayed)
    p = kt.kafka_pipeline(pg, k, name="pr", extra_sink=f"  schema_registry:\n    url: {ra}\n"
                          "  transactions: false\n")
    p.run_idle(1)
    wl = kt.Workload(pg)
    wl.run(100)
    p.run_idle(2)
    wl.run(100)
    env = dict(os.environ, WB_CRASH_AT="checkpoint.tmp_synced:1")
    proc = wbtest.Proc([WAYBILL, "run", "-c", p.config], p._logfile("crash"), env=env)
    check_eq(proc.wait(120), -signal.SIGKILL,
             "waybill killed after a delivery, before its checkpoint")
    wl.run(200)
    rb = start_registry(dummies=10)
    p.write_config(p.config_text.replace(ra, rb))
    r = p.run_idle(2)
    check("replayed events were already in Kafka and skipped" in r.stderr,
          "the restart replayed events that were in Kafka, and skipped them", r.stderr[-3000:])
    cache = {}

    def decode(data):
        sid = int.from_bytes(data[1:5], "big")
        if sid not in cache:
            cache[sid] = fetch(ra if sid <= 10 else rb, sid)
        return kt.decode_confluent(data, cache)

    msgs = kt.data_messages(k.bootstrap, "pr")
    kt.verify(msgs, {}, wl, kt.partition_counts(k.bootstrap), "pr.public.items",
              exactly_once=True, decode=decode)
    check(any(s <= 10 for s in cache) and any(s > 10 for s in cache),
          "messages framed with the ids of both registries", str(sorted(cache)))


def test():
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL)
    k = kt.Kafka()
    count_change(pg, k)
    key_schema_change(pg, k)
    registry_change(pg, k)


main(test)
