# test_odbc_kafka.py — the ODBC polling source into a real Kafka broker with
# exactly_once (the default): waybill killed with SIGKILL at random points,
# 10 rounds, while a workload inserts and updates rows of a SQLite table
# (timestamp+incrementing tracking). Rows re-read after a crash get new
# positions, but what the killed run had written was never committed, so an
# ordinary read_committed consumer sees no row image twice, every inserted
# row, and the table's final state as the last event of each key.
import os
import signal
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402
from odbctest import OdbcPipeline, SQLiteDB  # noqa: E402

ROUNDS = 10
NAME = "ok"
TOPIC = f"{NAME}.main.t"


class Load:
    """Inserts a row and updates an earlier one every few ms."""

    def __init__(self, db, rnd):
        self.db, self.rnd, self.n = db, rnd, 0
        self.error = None
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        try:
            c = sqlite3.connect(self.db.path, isolation_level=None, timeout=30)
            while not self.stop_flag.is_set():
                self.n += 1
                c.execute("INSERT INTO t (id, upd, v) VALUES (?, strftime('%Y-%m-%d %H:%M:%f', 'now'), 0)",
                          (self.n,))
                c.execute("UPDATE t SET v = v + 1, upd = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = ?",
                          (self.rnd.randint(1, self.n),))
                time.sleep(0.003)
            c.close()
        except Exception as e:  # reported by stop()
            self.error = e

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(30)
        check(self.error is None, "the workload ran without error", repr(self.error))


def test():
    rnd = seeded_random()
    db = SQLiteDB()
    db.sql("CREATE TABLE t (id integer PRIMARY KEY, upd text NOT NULL, v integer NOT NULL);"
           "CREATE INDEX t_upd ON t (upd);")
    k = kt.Kafka()
    p = OdbcPipeline(db.connection, ["main.t"],
                     {"main.t": {"mode": "timestamp+incrementing", "timestamp": "upd", "incrementing": "id",
                                 "lag": "0", "lookback": "2s"}}, name=NAME, poll="100ms")
    text = p.config_text.split("sink:\n")[0]
    p.write_config(text + f"sink:\n  type: kafka\n  brokers: [\"{k.bootstrap}\"]\n")
    load = Load(db, rnd)
    load.start()
    for i in range(ROUNDS):
        proc = p.start()
        d = rnd.uniform(0.5, 2.5)
        time.sleep(d)
        if not proc.alive():
            fail(f"waybill exited early: {proc.stderr()[-3000:]}")
        proc.kill(signal.SIGKILL)
        log(f"round {i + 1}: killed after {d:.2f}s ({load.n} rows inserted so far)")
    load.stop()
    r = p.run_idle(3, timeout=180)
    log(r.stderr[-1500:])

    schemas = kt.load_schemas(k.bootstrap, NAME)
    msgs = [m for m in kt.data_messages(k.bootstrap, NAME) if m.topic == TOPIC]
    images = {}
    last = {}
    for m in msgs:
        v = kt.decode_single_object(m.value, schemas, m.headers.get("waybill.schema_id"))
        a = v["after"]
        img = (a["id"], a["v"], a["upd"])
        if img in images:
            fail(f"row image {img} twice: {images[img]} and {m.headers}")
        images[img] = m.headers
        last[a["id"]] = (a["v"], a["upd"])
    final = {i: (v, u) for i, u, v in db.conn.execute("SELECT id, upd, v FROM t").fetchall()}
    check_eq(sorted(last), list(range(1, load.n + 1)), f"every inserted row ({load.n}) delivered")
    check(last == final, "the last event of each key is the table's final state",
          str([(i, last.get(i), final[i]) for i in final if last.get(i) != final[i]][:5]))
    log(f"{len(msgs)} messages, {load.n} rows, no image twice")


main(test)
