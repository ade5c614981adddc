# test_my_kafka.py — a MySQL source into Kafka (a real broker) with
# exactly_once: kill -9 of waybill rounds under load; an ordinary consumer
# decodes every message (python3-avro, the schemas of <prefix>._schemas)
# and sees every version of every row exactly once, keyed by id, with the
# GTID in the envelope.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402
from mytest import MariaDB, MyPipeline  # noqa: E402
from test_my_exact import Load  # noqa: E402


def test():
    rnd = seeded_random()
    db = MariaDB().start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.acct (id INT PRIMARY KEY, v INT NOT NULL, "
           "note VARCHAR(100)) ENGINE=InnoDB; INSERT INTO app.acct VALUES (0, 0, 'before');")
    k = kt.Kafka()
    p = MyPipeline(db, name="mk", snapshot="initial")
    text = p.config_text.split("sink:\n")[0]
    p.write_config(text + f"sink:\n  type: kafka\n  brokers: [\"{k.bootstrap}\"]\n  exactly_once: true\n")
    p.run_idle(1)
    load = Load(db, rnd, first_id=1)
    for i in range(5):
        proc = p.start()
        time.sleep(rnd.uniform(0.5, 2.0))
        check(proc.alive(), "waybill running", proc.stderr()[-2000:])
        proc.kill()
        log(f"round {i}: killed waybill")
    load.finish()
    p.run_idle(2)
    schemas = kt.load_schemas(k.bootstrap, "mk")
    msgs = [m for m in kt.data_messages(k.bootstrap, "mk") if m.topic == "mk.app.acct"]
    check(msgs, "messages in mk.app.acct")
    last = {}
    state = {}
    ids = set()
    for m in msgs:
        key = kt.decode_single_object(m.key, schemas, m.headers.get("waybill.key_schema_id"))
        if m.value is None:
            check(key["id"] not in state, f"tombstone after the delete of {key['id']}")
            continue
        env = kt.decode_single_object(m.value, schemas, m.headers.get("waybill.schema_id"))
        check(env["event_id"] not in ids, "every event once", env["event_id"])
        ids.add(env["event_id"])
        img = env["after"] if env["op"] in ("r", "c", "u") else env["before"]
        check_eq(key["id"], img["id"], "key matches the row")
        rid, v = img["id"], img["v"]
        if env["op"] == "u":
            check_eq(v, last.get(rid, -99) + 1, f"row {rid}: next version")
        if env["op"] != "r":
            check(env["source"]["gtid"] and env["source"]["gtid"].startswith("0-1-"), "GTID",
                  str(env["source"]))
        last[rid] = v
        if env["op"] == "d":
            state.pop(rid, None)
        else:
            state[rid] = img
    rows = db.sql("SELECT id, v, note FROM app.acct ORDER BY id")
    want = {int(i): {"id": int(i), "v": int(v), "note": n} for i, v, n in rows}
    check_eq(state, want, "the consumer's view equals the table")
    log(f"{len(msgs)} messages checked")


main(test)
