# test_kafka_delivery.py — the kafka sink against waybill-mock-kafka, read
# back with python3-confluent-kafka and decoded with python3-avro using the
# schemas found by fingerprint in <prefix>._schemas: every change arrives
# once, in order per key, with exact values, headers and tombstones after
# deletes; typed values are exact; a restart adds nothing; tombstones: false
# and exactly_once: false; a SIGTERM while the sink waits for room in
# librdkafka's queue drains and exits 0; configuration errors; `waybill check`.
import decimal
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

D = decimal.Decimal


def config_errors(pg, k):
    base = kt.kafka_pipeline(pg, k, name="bad")
    head = base.config_text.split("sink:\n")[0] + "sink:\n  type: kafka\n"
    cases = [
        ("  brokers: [\"127.0.0.1:9\"]\n  exactly_once: maybe\n",
         "sink.exactly_once: expected true or false, got 'maybe'"),
        ("  brokers: [\"127.0.0.1:9\"]\n  tombstone: false\n",
         "sink.tombstone: unknown key for sink type kafka"),
        ("  topic_prefix: x\n", "sink.brokers: missing"),
        ("  brokers: [\"127.0.0.1:9\"]\n  headers: [event_id, position]\n",
         "sink.headers: unknown header 'position' (expected a list of schema_id, correlation_id, event_id, table;"),
        ("  brokers: [\"127.0.0.1:9\"]\n  topic: \"{prefix}.{db}.{table}\"\n",
         "sink.topic: '{prefix}.{db}.{table}' may only use {prefix}, {schema} and {table}"),
        ("  brokers: [\"127.0.0.1:9\"]\n  properties:\n    linger.ms: soon\n",
         "sink.properties.linger.ms: "),
        ("  brokers: [\"127.0.0.1:9\"]\n  properties:\n    no.such.property: 1\n",
         "sink.properties.no.such.property: "),
        ("  brokers: [\"127.0.0.1:9\"]\n  properties:\n    my.secret.thing: s3cr3tvalue\n",
         "sink.properties.my.secret.thing: librdkafka rejects this property (value not shown)"),
        ("  brokers: [\"127.0.0.1:9\"]\n  properties:\n    enable.idempotence: false\n",
         "sink.properties.enable.idempotence: waybill needs true"),
        ("  brokers: [\"127.0.0.1:9\"]\n  properties:\n    acks: 1\n",
         "sink.properties.acks: waybill needs all"),
        ("  brokers: [\"127.0.0.1:9\"]\n  schema_registry:\n    url: ftp://u:pw@x\n",
         "sink.schema_registry.url: expected http://... or https://..."),
        ("  brokers: [\"127.0.0.1:9\"]\n  schema_registry:\n    username: u\n",
         "sink.schema_registry.url: missing while other schema_registry keys are set"),
        ("  brokers: [\"127.0.0.1:9\"]\n  schema_registry:\n    url: http://x\n    usrname: u\n",
         "sink.schema_registry.usrname: unknown key"),
    ]
    for body, expect in cases:
        base.write_config(head + body)
        r = base.run(["run", "-c", base.config], timeout=30)
        lines = r.stderr_lines()
        check(r.rc == 2 and any(expect in l for l in lines),
              f"config error: {expect}", repr(r))
        for secret in ("s3cr3tvalue", "pw@"):
            if secret in r.stderr:
                fail(f"secret {secret!r} printed: {r.stderr}")


def stop_under_backpressure(pg, k):
    """SIGTERM while the sink waits for room in librdkafka's queue (a tiny
    one, so that it waits for most of the run) with the broker up: waybill
    drains what it read and exits 0, it does not give up as during an
    outage; a second run delivers the rest, every row once."""
    rows = 20000
    pg.psql("CREATE TABLE bp (id int PRIMARY KEY, v text NOT NULL);")
    p = kt.kafka_pipeline(pg, k, name="k4", tables=("public.bp",),
                          extra_sink="  properties:\n    queue.buffering.max.messages: 20\n"
                                     "    linger.ms: 30\n")
    proc = p.start()
    p.wait_slot_active(proc)
    pg.psql(f"INSERT INTO bp SELECT g, repeat('v', 100) FROM generate_series(1, {rows}) g;")
    wait_until(lambda: "schema" in proc.stderr() and "bp_envelope" in proc.stderr(), 60,
               "k4 started writing")
    time.sleep(0.5)
    rc = proc.kill(signal.SIGTERM)
    check(rc == 0 and "stop requested" not in proc.stderr(),
          "SIGTERM during backpressure (broker up): drained and exited 0", proc.stderr()[-2000:])
    p.run_idle(2, timeout=120)
    ids = []
    for m in kt.consume(k.bootstrap, topics=["k4.public.bp"]):
        if m.value is not None:
            ids.append(m.key)
    check_eq(len(ids), rows, "k4: every row once after the stop and a second run (messages)")
    check_eq(len(set(ids)), rows, "k4: every row once after the stop and a second run (keys)")


def test():
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL + """
        CREATE TABLE typed (id int PRIMARY KEY, t text, n numeric(12,3), f double precision,
                            ts timestamptz, b bytea, d date);
        CREATE TABLE nokey (a int, b text);
        ALTER TABLE nokey REPLICA IDENTITY FULL;
    """)
    k = kt.Kafka()

    p = kt.kafka_pipeline(pg, k, name="k1")
    p2 = kt.kafka_pipeline(pg, k, name="k2", extra_sink="  tombstones: false\n  exactly_once: false\n"
                           "  topic: \"{prefix}-{table}\"\n  properties:\n    linger.ms: 20\n"
                           "    compression.type: zstd\n")
    p.run_idle(1)   # creates the slots before the workload
    p2.run_idle(1)

    r = p.run(["check", "-c", p.config], timeout=60)
    check(r.rc == 0 and "ok kafka: 1 broker reachable via " + k.bootstrap in r.stdout,
          "waybill check: brokers reachable", repr(r))

    wl = kt.Workload(pg)
    wl.run(150)
    pg.psql("""
        INSERT INTO typed VALUES (1, 'é ü \u2603', 12345.678, 'NaN', '2024-02-29 12:34:56.123456+00',
                                  '\\x00ff10', '1999-12-31');
        INSERT INTO typed VALUES (2, NULL, -0.001, -1.5e300, NULL, NULL, NULL);
        INSERT INTO nokey VALUES (1, 'x'), (2, 'y');
        DELETE FROM nokey WHERE a = 1;
        TRUNCATE nokey;
    """)
    r = p.run_idle(2, timeout=120)
    check("unavailable" not in r.stderr, "no outage logged", r.stderr)

    schemas = kt.load_schemas(k.bootstrap, "k1")
    check(len(schemas) == 5, "5 schemas in k1._schemas (items, typed key+value, nokey value)",
          str(len(schemas)))
    msgs = kt.data_messages(k.bootstrap, "k1")
    parts = kt.partition_counts(k.bootstrap)
    kt.verify(msgs, schemas, wl, parts, "k1.public.items", exactly_once=True, tombstones=True)

    # Keys 1 and 2 may sit in different partitions, and a consumer sees partitions in no fixed
    # order: order the events by their id.
    typed = sorted((kt.decode_single_object(m.value, schemas) for m in msgs
                    if m.topic == "k1.public.typed"), key=lambda e: e["after"]["id"])
    check_eq(len(typed), 2, "typed: 2 events")
    a = typed[0]["after"]
    check_eq(a["t"], "é ü \u2603", "text exact")
    check_eq(a["n"], D("12345.678"), "numeric exact")
    check(a["f"] != a["f"], "double NaN preserved")
    check_eq(a["b"], b"\x00\xff\x10", "bytea exact")
    check_eq(str(a["d"]), "1999-12-31", "date exact")
    ts = a["ts"]
    us = ts if isinstance(ts, int) else None
    if us is None:
        import datetime
        us = int((ts - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds()) * 1000000 \
            + ts.microsecond
    check_eq(us, 1709210096123456, "timestamptz exact (µs since epoch, UTC)")
    check_eq(typed[1]["after"]["n"], D("-0.001"), "negative numeric exact")
    check_eq(typed[1]["after"]["f"], -1.5e300, "double exact")

    nk = [m for m in msgs if m.topic == "k1.public.nokey"]
    check_eq([m.headers["waybill.op"] for m in sorted(nk, key=lambda m: m.headers["waybill.position"])],
             ["c", "c", "d", "t"], "keyless table: insert, insert, delete, truncate; no tombstone")
    check(all(m.key is None and m.value is not None for m in nk), "keyless messages: null key, a value")
    for m in nk:
        exp = kt.java_partition(m.headers["waybill.position"].encode(), parts[m.topic])
        if m.partition != exp:
            fail(f"keyless message {m} not in partition murmur2(position) = {exp}")
    check(True, "keyless messages partitioned by murmur2 of the position text")

    # a restart replays nothing new
    before = len(msgs)
    p.run_idle(1)
    check_eq(len(kt.data_messages(k.bootstrap, "k1")), before, "restart adds no message")
    check_eq(len(kt.load_schemas(k.bootstrap, "k1")), 5, "restart writes no schema again")

    # second pipeline: topic template, no tombstones, exactly_once off
    p2.run_idle(2, timeout=120)
    schemas2 = kt.load_schemas(k.bootstrap, "k2")
    msgs2 = [m for m in kt.consume(k.bootstrap, prefix="k2-")]
    check(any(m.topic == "k2-items" for m in msgs2), "topic template {prefix}-{table} used")
    kt.verify(msgs2, schemas2, wl, kt.partition_counts(k.bootstrap), "k2-items", exactly_once=True,
              tombstones=False)

    stop_under_backpressure(pg, k)
    config_errors(pg, k)

    # check with unreachable brokers
    bad = kt.kafka_pipeline(pg, k, name="k3")
    bad.write_config(bad.config_text.replace(k.bootstrap, "127.0.0.1:1"))
    r = bad.run(["check", "-c", bad.config], timeout=60)
    check(r.rc == 1 and "FAIL kafka: cannot reach brokers 127.0.0.1:1" in r.stdout,
          "waybill check: unreachable brokers reported", repr(r))


main(test)
