# test_kafka_rekey.py — a table's key changes while waybill streams it to
# Kafka (ALTER TABLE ... DROP CONSTRAINT ..._pkey, ADD PRIMARY KEY (id, wh)):
# every row it holds gets another key. waybill reads the table again, and
# each row comes as a delete and a tombstone under the key it had (framed
# with the old key schema) and then the row under its new key. Read
# through a compacted view of the topic (per raw key, the last message; a
# tombstone removes the key), the topic holds exactly the table, each row
# once, under its new key: no ghost of the old key.
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402

TOPIC = "rk.public.acct"


def compacted(msgs):
    """{raw key bytes: message} as a compacted topic ends."""
    state = {}
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        if m.value is None:
            state.pop(m.key, None)
        else:
            state[m.key] = m
    return state


def test():
    pg = Postgres().start()
    pg.psql("""
        CREATE TABLE acct (id int PRIMARY KEY, wh int NOT NULL, v text);
        INSERT INTO acct SELECT g, g % 3, 'v' || g FROM generate_series(1, 40) g;
    """)
    k = kt.Kafka()
    p = kt.kafka_pipeline(pg, k, name="rk", tables=["public.acct"])
    proc = p.start()
    p.wait_slot_active(proc)
    pg.psql("UPDATE acct SET v = 'before' WHERE id = 1;")
    log("the key changes: (id) -> (id, wh)")
    pg.psql("""
        ALTER TABLE acct DROP CONSTRAINT acct_pkey, ADD PRIMARY KEY (id, wh);
        UPDATE acct SET v = 'after' WHERE id = 2;
        INSERT INTO acct VALUES (41, 7, 'new');
        DELETE FROM acct WHERE id = 3;
    """)
    wait_until(lambda: "reading its rows again" in proc.stderr(), 30, "the key change noticed")
    end = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    pg.psql("UPDATE acct SET v = 'last' WHERE id = 4;")
    p.wait_checkpoint_past(end, proc, timeout=60)
    proc.kill(signal.SIGTERM)
    check_eq(proc.p.returncode, 0, "waybill exits 0")

    schemas = kt.load_schemas(k.bootstrap, "rk")
    msgs = [m for m in kt.data_messages(k.bootstrap, "rk") if m.topic == TOPIC]
    live = compacted(msgs)
    rows, ghosts = {}, []
    for key, m in live.items():
        kid = m.headers["waybill.key_schema_id"]
        kd = kt.decode_single_object(key, schemas, kid)
        v = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])
        if v["op"] == "d":
            fail(f"a delete without its tombstone under key {kd}")
        if set(kd) != {"id", "wh"}:
            ghosts.append(kd)
            continue
        rows[(kd["id"], kd["wh"])] = dict(v["after"])
    check_eq(ghosts, [], "no live key of the old key schema")
    want = {}
    for line in pg.psql("SELECT id, wh, v FROM acct"):
        i, w, v = line.split("|")
        want[(int(i), int(w))] = {"id": int(i), "wh": int(w), "v": v}
    check_eq(rows, want, "the compacted topic is the table, every row under its new key only")
    old_keys = [m for m in msgs if m.key is not None and
                set(kt.decode_single_object(m.key, schemas, m.headers["waybill.key_schema_id"])) == {"id"}]
    tomb = [m for m in old_keys if m.value is None and m.headers["waybill.op"] == "d"]
    check(len(tomb) >= 39, f"the rows re-read got tombstones under their old keys ({len(tomb)})")


main(test)
