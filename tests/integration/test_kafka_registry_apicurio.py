# test_kafka_registry_apicurio.py — the kafka sink against a real schema
# registry: Apicurio Registry 3.0 (tools/registry) through its
# Confluent-compatible API (/apis/ccompat/v7). test_kafka_registry.py drives
# a scripted registry (basic auth, refusals on demand, unreachable); this
# one shows the same contract holds with a registry we did not write:
#   - subjects <topic>-key / <topic>-value, one version each, and the ids in
#     the Confluent framing are the ids the registry gives those versions;
#   - every message decodes with python3-confluent-kafka's AvroDeserializer,
#     which fetches the writer schema by id from the registry (fastavro and
#     requests from PyPI, installed once into <build>/pypi), values exact;
#   - a compatible change (a nullable column added) under BACKWARD
#     compatibility becomes version 2;
#   - an incompatible one (a NOT NULL column, no Avro default) is refused by
#     the registry's own compatibility check: waybill stops naming the
#     subject and the registry's reason, nothing of that table's new rows is published,
#     and once the operator relaxes the subject's compatibility the row
#     arrives, once.
# Apicurio's authentication is OpenID Connect (Keycloak), so no credentials
# here; the scripted test covers basic auth.
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import wbtest  # noqa: E402
import kafkatest as kt  # noqa: E402

TOOLS_REGISTRY = os.path.join(wbtest.SOURCE_DIR, "tools", "registry")
# What AvroDeserializer of Debian's python3-confluent-kafka (1.7) imports
# besides itself, pinned; fetched once into <build>/pypi.
PYPI = ["fastavro==1.9.7", "requests==2.32.3", "urllib3==2.2.3", "idna==3.10",
        "certifi==2024.8.30", "charset-normalizer==3.4.0"]


def pypi_modules():
    """Makes fastavro and requests importable from <build>/pypi, installing
    them there with pip the first time."""
    target = os.path.join(kt.BUILD_DIR, "pypi")
    stamp = os.path.join(target, ".complete-" + "-".join(p.replace("==", "_") for p in PYPI[:2]))
    if not os.path.exists(stamp):
        log(f"installing {' '.join(PYPI)} into {target} (once)")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            "--no-deps", "--only-binary=:all:", "--target", target, "--upgrade"] + PYPI,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            fail(f"pip install into {target} failed: {r.stderr[-2000:]}")
        open(stamp, "w").close()
    sys.path.insert(0, target)


class Apicurio:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wb-registry-")
        add_cleanup(self.stop)
        r = subprocess.run([TOOLS_REGISTRY, "start", "--dir", self.dir], capture_output=True, text=True,
                           timeout=900)
        if r.returncode != 0:
            fail(f"tools/registry start failed ({r.returncode}): {r.stderr[-3000:]}")
        self.url = r.stdout.strip().splitlines()[-1]
        if not self.url.endswith("/apis/ccompat/v7"):
            fail(f"tools/registry printed {self.url!r}")
        log(f"Apicurio Registry at {self.url}")

    def stop(self):
        subprocess.run([TOOLS_REGISTRY, "stop", "--dir", self.dir], capture_output=True, timeout=120)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path):
        code, obj = self.call("GET", path)
        if code != 200:
            fail(f"GET {path}: {code} {obj}")
        return obj

    def compatibility(self, subject, level):
        code, obj = self.call("PUT", f"/config/{subject}", {"compatibility": level})
        check_eq((code, obj.get("compatibility") or obj.get("compatibilityLevel")), (200, level),
                 f"{subject}: compatibility {level}")

    def version_ids(self, subject):
        """[(version, id)] of the subject, oldest first."""
        return [(v, self.get(f"/subjects/{subject}/versions/{v}")["id"])
                for v in self.get(f"/subjects/{subject}/versions")]


def framed_id(data):
    if data[:1] != b"\x00" or len(data) < 5:
        fail(f"not Confluent framing: {data[:8]!r}")
    return int.from_bytes(data[1:5], "big")


def test():
    pypi_modules()
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    reg = Apicurio()
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL + "CREATE TABLE refused (id int PRIMARY KEY, v text);")
    k = kt.MockKafka()
    p = kt.kafka_pipeline(pg, k, name="r1", extra_sink=f"  schema_registry:\n    url: {reg.url}\n")
    p.run_idle(1)

    r = p.run(["check", "-c", p.config], timeout=60)
    check(r.rc == 0 and "ok schema registry" in r.stdout, "waybill check: Apicurio reachable", repr(r))

    wl = kt.Workload(pg)
    wl.run(60)
    p.run_idle(2, timeout=120)
    check_eq(sorted(reg.get("/subjects")), ["r1.public.items-key", "r1.public.items-value"],
             "subjects registered in Apicurio")
    key_versions = reg.version_ids("r1.public.items-key")
    value_versions = reg.version_ids("r1.public.items-value")
    check_eq([v for v, _ in key_versions], [1], "one key schema version")
    check_eq([v for v, _ in value_versions], [1], "one value schema version")
    check("r1._schemas" not in kt.partition_counts(k.bootstrap), "no _schemas topic with a registry")

    client = SchemaRegistryClient({"url": reg.url})
    deser = AvroDeserializer(client)

    def decoder(topic):
        def decode(data):
            framed_id(data)
            return deser(data, SerializationContext(topic, MessageField.VALUE))
        return decode

    msgs = kt.data_messages(k.bootstrap, "r1")
    items = [m for m in msgs if m.topic == "r1.public.items"]
    check_eq(sorted({framed_id(m.key) for m in items}), [key_versions[0][1]],
             "keys carry the id Apicurio gave the key subject's version 1")
    check_eq(sorted({framed_id(m.value) for m in items if m.value is not None}), [value_versions[0][1]],
             "values carry the id Apicurio gave the value subject's version 1")
    kt.verify(msgs, {}, wl, kt.partition_counts(k.bootstrap), "r1.public.items", exactly_once=True,
              decode=decoder("r1.public.items"))

    # a compatible change under BACKWARD: a nullable column (Avro default null)
    reg.compatibility("r1.public.items-value", "BACKWARD")
    pg.psql("ALTER TABLE items ADD COLUMN note text; INSERT INTO items VALUES (100000, 'x', 1.50, 'hi');")
    p.run_idle(2, timeout=120)
    value_versions = reg.version_ids("r1.public.items-value")
    check_eq([v for v, _ in value_versions], [1, 2], "the compatible schema is version 2")
    dec = decoder("r1.public.items")
    last = [m for m in kt.data_messages(k.bootstrap, "r1")
            if m.topic == "r1.public.items" and m.value is not None and dec(m.key)["id"] == 100000]
    check_eq(len(last), 1, "one message for the new row")
    last = last[0]
    check_eq(framed_id(last.value), value_versions[1][1], "the new row carries version 2's id")
    after = dec(last.value)["after"]
    check_eq((after["id"], after["name"], str(after["qty"]), after["note"]), (100000, "x", "1.50", "hi"),
             "the new row decodes with version 2 fetched from Apicurio")

    # an incompatible change under BACKWARD: Apicurio refuses it (409)
    pg.psql("INSERT INTO refused VALUES (1, 'a');")
    p.run_idle(2, timeout=120)
    reg.compatibility("r1.public.refused-value", "BACKWARD")
    pg.psql("ALTER TABLE refused ADD COLUMN w int NOT NULL DEFAULT 0; INSERT INTO refused VALUES (2, 'b', 5);")
    r = p.run_idle(2, timeout=120, expect_rc=None)
    log("  waybill said: " + (r.stderr.strip().splitlines() or [""])[-1])
    check(r.rc == 1 and "r1.public.refused-value" in r.stderr and "Incompatible artifact" in r.stderr,
          "Apicurio's compatibility refusal stops waybill naming subject and reason", repr(r))
    refused = [m for m in kt.data_messages(k.bootstrap, "r1") if m.topic == "r1.public.refused"]
    check_eq([decoder("r1.public.refused")(m.value)["after"] for m in refused], [{"id": 1, "v": "a"}],
             "nothing of the refused schema published")
    check_eq([v for v, _ in reg.version_ids("r1.public.refused-value")], [1], "the refused schema not registered")

    # the operator relaxes the subject: the row arrives, once
    reg.compatibility("r1.public.refused-value", "NONE")
    p.run_idle(2, timeout=120)
    refused = [m for m in kt.data_messages(k.bootstrap, "r1") if m.topic == "r1.public.refused"]
    check_eq([decoder("r1.public.refused")(m.value)["after"] for m in refused],
             [{"id": 1, "v": "a"}, {"id": 2, "v": "b", "w": 5}], "after the fix the row arrives once")
    check_eq([v for v, _ in reg.version_ids("r1.public.refused-value")], [1, 2], "and its schema is version 2")


main(test)
