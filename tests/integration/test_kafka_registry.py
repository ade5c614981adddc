# test_kafka_registry.py — the kafka sink with schema_registry.url pointing at
# a small scripted registry (Confluent REST: POST /subjects/{s}/versions →
# {"id": n}, GET /schemas/ids/{id}, GET /subjects) with basic auth: keys and
# values use Confluent framing and decode with the schemas a consumer gets
# from the registry by id; subjects are <topic>-key / <topic>-value; nothing
# goes to _schemas. A refusal (409) stops waybill with a message naming the
# subject and the reason, and nothing of that table is published; so does an
# unreachable registry. The password never appears in the output.
import base64
import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

import avro.schema  # noqa: E402

USER, PASSWORD = "wb", "regS3cret"


class Registry:
    def __init__(self):
        self.schemas = {}      # id → schema text
        self.ids = {}          # schema text → id
        self.subjects = {}     # subject → [ids]
        self.refuse = {}       # subject → (status, message)
        self.auth_seen = set()
        reg = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def authorized(self):
                want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                got = self.headers.get("Authorization")
                reg.auth_seen.add(got == want)
                if got != want:
                    self.reply(401, {"error_code": 401, "message": "Unauthorized"})
                    return False
                return True

            def do_POST(self):
                if not self.authorized():
                    return
                parts = self.path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
                    return self.reply(404, {"error_code": 404, "message": "not found"})
                subject = urllib.request.unquote(parts[1])
                n = int(self.headers.get("Content-Length", "0"))
                text = json.loads(self.rfile.read(n))["schema"]
                if subject in reg.refuse:
                    code, msg = reg.refuse[subject]
                    return self.reply(code, {"error_code": code * 100 + 1 if code == 422 else code,
                                             "message": msg})
                avro.schema.parse(text)   # a real registry rejects invalid schemas
                if text not in reg.ids:
                    reg.ids[text] = len(reg.ids) + 100
                    reg.schemas[reg.ids[text]] = text
                reg.subjects.setdefault(subject, [])
                if reg.ids[text] not in reg.subjects[subject]:
                    reg.subjects[subject].append(reg.ids[text])
                self.reply(200, {"id": reg.ids[text]})

            def do_GET(self):
                if not self.authorized():
                    return
                parts = self.path.strip("/").split("/")
                if parts == ["subjects"]:
                    return self.reply(200, sorted(reg.subjects))
                if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and int(parts[2]) in reg.schemas:
                    return self.reply(200, {"schema": reg.schemas[int(parts[2])]})
                self.reply(404, {"error_code": 40403, "message": "Schema not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        add_cleanup(self.server.shutdown)

    def fetch(self, sid):
        """What a consumer does: GET /schemas/ids/{id}."""
        req = urllib.request.Request(f"{self.url}/schemas/ids/{sid}")
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
        with urllib.request.urlopen(req, timeout=10) as r:
            return avro.schema.parse(json.loads(r.read())["schema"])


def test():
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL + "CREATE TABLE refused (id int PRIMARY KEY, v text);"
            "CREATE TABLE later (id int PRIMARY KEY);")
    k = kt.Kafka()
    reg = Registry()
    sink = (f"  schema_registry:\n    url: {reg.url}\n    username: {USER}\n"
            f"    password: ${{WB_TEST_REG_PASSWORD}}\n")
    os.environ["WB_TEST_REG_PASSWORD"] = PASSWORD
    p = kt.kafka_pipeline(pg, k, name="r1", extra_sink=sink)
    p.run_idle(1)

    r = p.run(["check", "-c", p.config], timeout=60)
    check(r.rc == 0 and "ok schema registry" in r.stdout, "waybill check: registry reachable", repr(r))

    wl = kt.Workload(pg)
    wl.run(60)
    r = p.run_idle(2, timeout=120)
    check(PASSWORD not in r.stderr, "password not printed")
    check_eq(sorted(reg.subjects), ["r1.public.items-key", "r1.public.items-value"], "subjects registered")
    check(reg.auth_seen == {True}, "every request carried the basic-auth credentials")
    check("r1._schemas" not in kt.partition_counts(k.bootstrap), "no _schemas topic with a registry")

    cache = {}

    def decode(data):
        if data[:1] != b"\x00":
            fail(f"not Confluent framing: {data[:8]!r}")
        sid = int.from_bytes(data[1:5], "big")
        if sid not in cache:
            cache[sid] = reg.fetch(sid)
        return kt.decode_confluent(data, cache)

    msgs = kt.data_messages(k.bootstrap, "r1")
    kt.verify(msgs, {}, wl, kt.partition_counts(k.bootstrap), "r1.public.items", exactly_once=True,
              decode=decode)
    check_eq(sorted(cache), sorted(reg.schemas), "every registered schema is used by a message")

    # a refusal stops the pipeline, naming subject and reason; nothing of it is published
    reg.refuse["r1.public.refused-key"] = (409, "Schema being registered is incompatible with an "
                                                "earlier schema for subject")
    pg.psql("INSERT INTO refused VALUES (1, 'a');")
    r = p.run_idle(2, timeout=120, expect_rc=None)
    check(r.rc == 1 and "r1.public.refused-key" in r.stderr and "incompatible" in r.stderr,
          "registry refusal (409) stops waybill naming subject and reason", repr(r))
    check("r1.public.refused" not in [m.topic for m in kt.data_messages(k.bootstrap, "r1")],
          "nothing of the refused table published")
    # the operator fixes the registry: the change is delivered, nothing lost
    del reg.refuse["r1.public.refused-key"]
    p.run_idle(2, timeout=120)
    got = [decode(m.value)["after"] for m in kt.data_messages(k.bootstrap, "r1")
           if m.topic == "r1.public.refused"]
    check_eq(got, [{"id": 1, "v": "a"}], "after the fix the refused change arrives once")

    # registry unreachable: a clear error, nothing published without an id
    pg.psql("INSERT INTO later VALUES (7);")
    p.write_config(p.config_text.replace(reg.url, "http://127.0.0.1:1"))
    r = p.run_idle(2, timeout=120, expect_rc=None)
    check(r.rc == 1 and "r1.public.later" in r.stderr and PASSWORD not in r.stderr,
          "registry unreachable: waybill stops with a message", repr(r))
    check("r1.public.later" not in [m.topic for m in kt.data_messages(k.bootstrap, "r1")],
          "nothing published without a schema id")


main(test)
