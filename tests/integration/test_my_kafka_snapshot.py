# test_my_kafka_snapshot.py — kill -9 of waybill in the middle of a MySQL
# (MariaDB) snapshot into a real Apache Kafka, 5 rounds at random moments:
# a read_committed consumer sees every snapshot row exactly once, with
# exact values (the snapshot marks the end of every batch, the Kafka
# transaction and the checkpoint cover whole batches; see
# test_kafka_snapshot_crash for PostgreSQL).
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402
import wbtest  # noqa: E402
from wbtest import WAYBILL  # noqa: E402
from mytest import MariaDB, MyPipeline  # noqa: E402

# A round advances the snapshot by about 12,000 rows (it waits for one more
# durable chunk, then kills within 1.2 s, at 100 µs a row): 5 rounds need a
# table with room to spare, or the last kill can fall after the snapshot.
ROWS = 150000
ROUNDS = 5


def test():
    rnd = seeded_random()
    db = MariaDB().start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.big (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL) "
           "ENGINE=InnoDB;")
    db.sql(f"USE app; INSERT INTO app.big SELECT seq, CONCAT('n', seq) FROM seq_1_to_{ROWS};")
    k = kt.Kafka()
    p = MyPipeline(db, name="mks", snapshot="{mode: initial, chunk_size: 5000}")
    text = p.config_text.split("sink:\n")[0]
    p.write_config(text + f"sink:\n  type: kafka\n  brokers: [\"{k.bootstrap}\"]\n")
    env = dict(os.environ, WB_DELAY="sink.write:100")
    durable = 0
    for i in range(ROUNDS):
        proc = wbtest.Proc([WAYBILL, "run", "-c", p.config], p._logfile("bg"), env=env)
        p.wait_snapshot(proc, "app.big", lambda t: t is not None and t["rows"] > durable)
        time.sleep(rnd.uniform(0.0, 1.2))
        if not proc.alive():
            fail(f"waybill exited early: {proc.stderr()[-3000:]}")
        proc.kill(signal.SIGKILL)
        t = p.snapshot_table("app.big")
        durable = t["rows"]
        log(f"round {i + 1}: killed; durable progress {durable} rows")
        check(not t.get("done"), f"round {i + 1} fell inside the snapshot")
    p.run_idle(2, timeout=300)

    schemas = kt.load_schemas(k.bootstrap, "mks")
    msgs = [m for m in kt.data_messages(k.bootstrap, "mks") if m.topic == "mks.app.big"]
    seen = {}
    dups = []
    for m in msgs:
        a = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])["after"]
        if a["id"] in seen:
            dups.append(a["id"])
        seen[a["id"]] = a["name"]
    check_eq(dups[:10], [], f"no snapshot row twice ({len(dups)} duplicates)")
    check_eq(seen, {i: f"n{i}" for i in range(1, ROWS + 1)}, "every row once, values exact")


main(test)
