# test_kafka_keys.py — a primary-key-changing UPDATE goes to Kafka as
# delete(old key) + tombstone(old key) + update(new key), all at the
# change's position, as Debezium does (it sends a create for the new key;
# waybill keeps op u with the before image). Read through a compacted view
# of the topic (last value per key, a tombstone deletes the key), the final
# state per key equals the table: no ghost row under an old key.
#
# Exactly once holds with the extra messages: kill -9 at a crash point in
# the middle of the three messages of a key change (kafka.produce, before a
# message is handed to librdkafka), restart, and every message is in Kafka
# once. With REPLICA IDENTITY FULL (the whole old row on every update) only
# an update whose key bytes change is split.
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402
import wbtest  # noqa: E402
from wbtest import WAYBILL  # noqa: E402

TOPIC = "kk.public.acct"


def compacted(msgs, schemas):
    """{id: row} as a compacted topic (or a KTable) ends: per key, the last
    value in its partition's order; a tombstone removes the key."""
    state = {}
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        kid = kt.decode_single_object(m.key, schemas, m.headers["waybill.key_schema_id"])["id"]
        if m.value is None:
            state.pop(kid, None)
            continue
        v = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])
        if v["op"] == "d":
            state[kid] = None  # deleted; its tombstone follows
        else:
            state[kid] = dict(v["after"])
    return state


def table(pg):
    out = {}
    for line in pg.psql("SELECT id, v FROM acct ORDER BY id;"):
        if "|" in line:
            i, v = line.split("|")
            out[int(i)] = {"id": int(i), "v": v}
    return out


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE acct (id int PRIMARY KEY, v text);"
            "CREATE TABLE fullrow (id int PRIMARY KEY, v text); ALTER TABLE fullrow REPLICA IDENTITY FULL;")
    k = kt.Kafka()
    # every optional header (sink.headers): event_id and table are off by
    # default; checked below on every message
    p = kt.kafka_pipeline(pg, k, name="kk",
                          extra_sink="  headers: [event_id, table, schema_id, correlation_id]\n")
    p.run_idle(1)

    pg.psql("INSERT INTO acct SELECT g, 'v' || g FROM generate_series(1, 40) g;")
    pg.psql("UPDATE acct SET id = id + 100 WHERE id <= 10;")          # ten key changes
    pg.psql("UPDATE acct SET id = 1, v = 'back' WHERE id = 101;")     # back to a key it had
    pg.psql("UPDATE acct SET v = 'plain' WHERE id = 20;")             # no key change
    pg.psql("DELETE FROM acct WHERE id = 21;")
    pg.psql("BEGIN; UPDATE acct SET id = -22 WHERE id = 22; UPDATE acct SET id = 22 WHERE id = 23;"
            " UPDATE acct SET id = 23 WHERE id = -22; COMMIT;")       # swap 22 and 23
    # REPLICA IDENTITY FULL: the old image is the whole row; an update that
    # keeps the key is one message
    pg.psql("INSERT INTO fullrow VALUES (1, 'a'), (2, 'b'); UPDATE fullrow SET v = 'c' WHERE id = 2;"
            "UPDATE fullrow SET id = 3 WHERE id = 1;")
    # 40 inserts (40 messages), 10 key changes (30), then the crash point
    # lands in the middle of the key change of 101 -> 1 (messages 71-73)
    env = dict(os.environ, WB_CRASH_AT="kafka.produce:72", WB_DELAY="kafka.produce:20000")
    proc = wbtest.Proc([WAYBILL, "run", "-c", p.config], p._logfile("crash"), env=env)
    check_eq(proc.wait(120), -signal.SIGKILL, "waybill killed inside a key change")
    before = kt.consume(k.bootstrap, topics=[TOPIC])
    log(f"  {len(before)} messages in Kafka after the crash")
    check(len(before) < 77, "the crash left the stream incomplete", str(len(before)))
    p.run_idle(2)

    msgs = kt.consume(k.bootstrap, topics=[TOPIC])
    schemas = kt.load_schemas(k.bootstrap, "kk")
    for m in msgs:
        check(m.headers.get("waybill.event_id") == "kk:" + m.headers["waybill.position"]
              and m.headers.get("waybill.table") in ("public.acct", "public.fullrow"),
              "event_id and table headers when asked for", str(m.headers))
    ident = [(m.headers["waybill.event_id"], m.key, m.value is None) for m in msgs]
    dups = [i for i in set(ident) if ident.count(i) > 1]
    check_eq(dups, [], "no message twice")
    # 40 + 3 * 10 + 3 (101 -> 1) + 1 + 2 (delete + tombstone) + 3 * 3 (swap)
    check_eq(len(msgs), 85, "every message once")

    # the three messages of the key change 5 -> 105, in order, one position
    five = [m for m in msgs if m.headers["waybill.position"] ==
            next(x.headers["waybill.position"] for x in msgs
                 if x.value is not None and x.headers["waybill.op"] == "u" and
                 kt.decode_single_object(x.value, schemas, x.headers["waybill.schema_id"])
                 ["after"]["id"] == 105)]
    got = []
    for m in five:
        kid = kt.decode_single_object(m.key, schemas, m.headers["waybill.key_schema_id"])["id"]
        if m.value is None:
            got.append(("tomb", kid, None, None))
        else:
            v = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])
            got.append((v["op"], kid, v["before"] and dict(v["before"]), v["after"] and dict(v["after"])))
    got.sort(key=lambda g: ["d", "tomb", "u"].index(g[0]))
    check_eq(got, [("d", 5, {"id": 5, "v": None}, None), ("tomb", 5, None, None),
                   ("u", 105, {"id": 5, "v": None}, {"id": 105, "v": "v5"})],
             "key change 5 -> 105: delete(5), tombstone(5), update(105)")
    old_part = {m.partition for m in five if m.headers["waybill.op"] == "d"}
    check_eq(len(old_part), 1, "delete and tombstone of the old key in one partition")

    view = compacted(msgs, schemas)
    check_eq(view, table(pg), "compacted view of the topic = the table (no ghost key)")

    full = kt.consume(k.bootstrap, topics=["kk.public.fullrow"])
    got = []
    for m in sorted(full, key=lambda m: position(m.headers["waybill.position"])):
        kid = kt.decode_single_object(m.key, schemas, m.headers["waybill.key_schema_id"])["id"]
        if m.value is None:
            got.append(("tomb", kid))
            continue
        v = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])
        got.append((v["op"], kid, v["before"] and dict(v["before"]), v["after"] and dict(v["after"])))
    # the three messages of the key change share a position: order them by step
    step = {"d": 0, "tomb": 1}
    got[-3:] = sorted(got[-3:], key=lambda g: step.get(g[0], 2))
    check_eq(got, [("c", 1, None, {"id": 1, "v": "a"}), ("c", 2, None, {"id": 2, "v": "b"}),
                   ("u", 2, {"id": 2, "v": "b"}, {"id": 2, "v": "c"}),
                   ("d", 1, {"id": 1, "v": "a"}, None), ("tomb", 1),
                   ("u", 3, {"id": 1, "v": "a"}, {"id": 3, "v": "a"})],
             "REPLICA IDENTITY FULL: one message for an update that keeps the key; the key change's "
             "delete carries the whole old row")


main(test)
