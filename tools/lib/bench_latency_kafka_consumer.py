# tools/lib/bench_latency_kafka_consumer.py — the external consumer of
# `tools/bench pg --latency --sink kafka`: reads the topic from its end
# (python3-confluent-kafka, read_committed), notes when it received each
# message, and at the end decodes the values (Avro single-object encoding,
# the writer schema from <prefix>._schemas by the waybill.schema_id header,
# python3-avro) and writes, per change committed at or after the time in
# WINDOW_FILE, the receive time minus the commit time in the event
# (source.ts_ms).
#
#   bench_latency_kafka_consumer.py BOOTSTRAP TOPIC SCHEMAS_TOPIC READY_FILE
#                                   STOP_FILE RESULT_FILE WINDOW_FILE
import io
import json
import os
import sys
import time

import avro.io
import avro.schema
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

bootstrap, topic, schemas_topic, ready_file, stop_file, result_file, window_file = sys.argv[1:8]

c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wb-latency", "enable.auto.commit": False,
              "isolation.level": "read_committed", "fetch.wait.max.ms": 10, "log_level": 3})
md = c.list_topics(topic, timeout=30)
parts = sorted(md.topics[topic].partitions)
c.assign([TopicPartition(topic, p, OFFSET_END) for p in parts])
# the assignment takes effect with the first poll: only then is it ready
c.poll(0.5)
open(ready_file, "w").close()
got = []  # (received at, value, schema id)
while not os.path.exists(stop_file):
    m = c.poll(0.05)
    if m is None or m.error() or m.value() is None:
        continue
    now_ms = time.time() * 1000.0
    sid = dict(m.headers() or []).get("waybill.schema_id")
    got.append((now_ms, m.value(), sid.decode() if sid else None))
c.close()

# the writer schemas, by identity
schemas = {}
s = Consumer({"bootstrap.servers": bootstrap, "group.id": "wb-latency-schemas", "enable.auto.commit": False,
              "enable.partition.eof": True, "log_level": 3})
smd = s.list_topics(schemas_topic, timeout=30)
sparts = sorted(smd.topics[schemas_topic].partitions)
s.assign([TopicPartition(schemas_topic, p, OFFSET_BEGINNING) for p in sparts])
eof = set()
deadline = time.time() + 30
while len(eof) < len(sparts) and time.time() < deadline:
    m = s.poll(0.5)
    if m is None:
        continue
    if m.error():
        eof.add(m.partition())
        continue
    schemas[int(m.key().decode(), 16)] = avro.schema.parse(m.value().decode())
s.close()

with open(window_file) as f:
    since = int(f.read())
lat = []
series = []  # (commit time, latency): where in the window the slow ones lie
for now_ms, value, sid in got:
    if value[:2] != b"\xc3\x01" or sid is None or int(sid, 16) not in schemas:
        raise SystemExit(f"cannot decode a message (framing {value[:2]!r}, schema id {sid})")
    rec = avro.io.DatumReader(schemas[int(sid, 16)]).read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))
    ts = (rec.get("source") or {}).get("ts_ms")
    if ts and ts >= since:
        lat.append(now_ms - ts)
        series.append((ts, now_ms - ts))
with open(result_file, "w") as f:
    json.dump({"count": len(lat), "latencies_ms": lat, "series": series}, f)
