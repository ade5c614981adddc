# test_kafka_schema_change.py — ALTER TABLE ... TYPE numeric(10,2) →
# numeric(10,4) and timestamp → timestamptz while rows stream to Kafka. The
# schemas before and after each ALTER share their fingerprint (the Parsing
# Canonical Form drops logicalType, precision and scale), so a consumer that
# finds the writer schema by fingerprint decodes 1.5000 as 150.00. Every
# message names the exact schema in its waybill.schema_id header (identity:
# CRC-64-AVRO of the full JSON); without a registry each new identity is
# published to <prefix>._schemas (key = identity), with a registry each is
# registered (a new id). Values must be exact when decoded by an
# independent consumer (python3-confluent-kafka + python3-avro) with those
# schemas, in both modes.
import datetime
import decimal
import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

import avro.schema  # noqa: E402

D = decimal.Decimal
UTC = datetime.timezone.utc
FAKE_REGISTRY = os.path.join(SOURCE_DIR, "tests", "fixtures", "registry", "fake_registry.py")


def start_registry():
    d = make_tmpdir("wbtest-reg-")
    port_file = os.path.join(d, "port")
    p = subprocess.Popen(["/usr/bin/python3", FAKE_REGISTRY, "--port-file", port_file],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

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
    if p.poll() is not None:
        fail(f"fake registry exited: {p.stderr.read()}")
    with open(port_file) as f:
        return f"http://127.0.0.1:{int(f.read().strip())}"


def micros(text):
    t = datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int((t - datetime.datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1000000 + t.microsecond


# (op, id, amount, ts) in commit order; ts: int microseconds for timestamp
# (local-timestamp-micros, which python3-avro leaves a long), an aware
# datetime for timestamptz (timestamp-micros)
EXPECTED = [
    ("c", 1, "1.50", micros("2024-01-02 03:04:05.123456")),
    ("c", 2, "1.5000", micros("2024-01-02 03:04:06")),
    ("u", 1, "2.1234", micros("2024-01-02 03:04:05.123456")),
    ("c", 3, "3.0001", datetime.datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)),
    ("u", 2, "0.0001", datetime.datetime(2024, 1, 2, 3, 4, 6, tzinfo=UTC)),
]


def check_values(mode, rows):
    """rows: [(position, op, after)] decoded by the consumer."""
    rows.sort(key=lambda r: position(r[0]))
    got = []
    for _, op, after in rows:
        amount = after["amount"]
        if not isinstance(amount, D):
            fail(f"{mode}: amount decoded as {amount!r}, not a Decimal")
        got.append((op, after["id"], str(amount), after["ts"]))
    check_eq(got, EXPECTED, f"{mode}: (op, id, amount with its scale, ts) of every change")


def topic_config(bootstrap, topic, name):
    from confluent_kafka.admin import AdminClient, ConfigResource
    a = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return a.describe_configs([res])[res].result(timeout=30)[name].value


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE price (id int PRIMARY KEY, amount numeric(10,2), ts timestamp);")
    k = kt.Kafka()
    reg_url = start_registry()
    plain = kt.kafka_pipeline(pg, k, name="sc")
    reg = kt.kafka_pipeline(pg, k, name="sr", extra_sink=f"  schema_registry:\n    url: {reg_url}\n")
    plain_first = plain.run_idle(1)
    reg.run_idle(1)

    pg.psql("""
        SET TimeZone = 'UTC';
        INSERT INTO price VALUES (1, 1.50, '2024-01-02 03:04:05.123456');
        ALTER TABLE price ALTER amount TYPE numeric(10,4);
        INSERT INTO price VALUES (2, 1.5, '2024-01-02 03:04:06');
        UPDATE price SET amount = 2.1234 WHERE id = 1;
        ALTER TABLE price ALTER ts TYPE timestamptz;
        INSERT INTO price VALUES (3, 3.0001, '2024-05-06 07:08:09.5+00');
        UPDATE price SET amount = 0.0001 WHERE id = 2;
    """)
    r = plain.run_idle(2)
    reg.run_idle(2)
    # _schemas is created compacted by waybill (auto-creation would give the
    # brokers' default policy, delete)
    made = [l for l in plain_first.stderr_lines() if "created sc._schemas with cleanup.policy=compact" in l]
    check_eq(len(made), 1, "sc: one line saying _schemas was created compacted")
    check_eq(topic_config(k.bootstrap, "sc._schemas", "cleanup.policy"), "compact",
             "sc._schemas has cleanup.policy=compact on the broker")
    check("cleanup.policy" not in r.stderr, "sc: the next run accepts it without a word", r.stderr[-2000:])

    # without a registry: the exact schema from _schemas by waybill.schema_id
    schemas = kt.load_schemas(k.bootstrap, "sc")
    msgs = [m for m in kt.data_messages(k.bootstrap, "sc") if m.topic == "sc.public.price"]
    check_eq(len(msgs), 5, "sc: five messages")
    ids = set()
    rows = []
    for m in msgs:
        for h in ("waybill.schema_id", "waybill.key_schema_id"):
            if h not in m.headers:
                fail(f"sc: message without {h}: {m}")
        ids.add(m.headers["waybill.schema_id"])
        v = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])
        key = kt.decode_single_object(m.key, schemas, m.headers["waybill.key_schema_id"])
        check_eq(key, {"id": v["after"]["id"]}, "sc: key matches the row")
        rows.append((m.headers["waybill.position"], v["op"], v["after"]))
    check_eq(len(ids), 3, "sc: three value schemas (before and after each ALTER)")
    fps = {struct_fp(m.value) for m in msgs}
    check_eq(len(fps), 1, "sc: the three value schemas share one fingerprint (the framing is unchanged)")
    check_values("sc", rows)

    # with a registry: the schema by Confluent id, as a registry consumer does
    cache = {}

    def by_id(sid):
        if sid not in cache:
            with urllib.request.urlopen(f"{reg_url}/schemas/ids/{sid}", timeout=10) as r:
                cache[sid] = avro.schema.parse(json.loads(r.read())["schema"])
        return cache

    msgs = [m for m in kt.data_messages(k.bootstrap, "sr") if m.topic == "sr.public.price"]
    check_eq(len(msgs), 5, "sr: five messages")
    rows = []
    for m in msgs:
        sid = int.from_bytes(m.value[1:5], "big")
        v = kt.decode_confluent(m.value, by_id(sid))
        rows.append((m.headers["waybill.position"], v["op"], v["after"]))
    check_eq(len({int.from_bytes(m.value[1:5], "big") for m in msgs}), 3,
             "sr: three registry ids for the three value schemas")
    check_values("sr", rows)


def struct_fp(data):
    return data[2:10]


main(test)
