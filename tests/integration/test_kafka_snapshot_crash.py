# test_kafka_snapshot_crash.py — kill -9 of waybill in the middle of a
# snapshot into a real Apache Kafka, 10 rounds at random moments, two
# readers splitting the table into parts: a read_committed consumer sees
# every snapshot row exactly once, with exact values, and then the changes
# streamed after the snapshot. What makes it exact: a Kafka transaction and
# the checkpoint both cover whole batches, and the snapshot leaves a mark
# (the part's last key) at the end of every batch, so a restart resumes each
# part right after its last delivered row; what a crash left uncommitted is
# aborted and emitted again.
#
# First, three rounds killed right after a Kafka commit and before the
# checkpoint that follows it (crash point kafka.committed): the commit's
# rows are in Kafka, the checkpoint file does not cover them. Before each
# commit the checkpoint is written with the state after it as pending; the
# restart asks Kafka whether that commit happened (it did) and continues
# after its rows instead of reading them again under new positions.
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
import kafkatest as kt  # noqa: E402
import wbtest  # noqa: E402
from wbtest import WAYBILL  # noqa: E402

ROWS = 160000
ROUNDS = 10


def test():
    rnd = seeded_random()
    pg = Postgres().start()
    pg.psql(kt.ITEMS_DDL + f"""
        INSERT INTO items SELECT g, 'n' || g, (g % 1000) + (g % 100) / 100.0
          FROM generate_series(1, {ROWS}) g;
        ANALYZE items;""")
    k = kt.Kafka()
    p = kt.kafka_pipeline(pg, k, name="ks",
                          extra_source="  snapshot: {mode: initial, chunk_size: 5000, parallelism: 2}\n")
    # slowed down (200 µs a row) so that the kills fall inside the snapshot:
    # a round advances it by about 5,500 rows on a quiet machine and up to
    # twice that under load, 13 rounds well within the table
    env = dict(os.environ, WB_DELAY="sink.write:200")
    durable = 0
    for i in range(3):
        crash = dict(env, WB_CRASH_AT="kafka.committed:2")
        proc = wbtest.Proc([WAYBILL, "run", "-c", p.config], p._logfile("committed"), env=crash)
        check_eq(proc.wait(120), -signal.SIGKILL, f"crash round {i + 1}: killed after its second commit")
        ck = p.checkpoint()
        check("pending" in ck, f"crash round {i + 1}: the checkpoint holds the commit as pending")
        t = p.snapshot_table("public.items")
        check(t is None or not t.get("done"), f"crash round {i + 1} fell inside the snapshot")
        durable = t["rows"] if t else 0
        log(f"crash round {i + 1}: killed after a commit; durable progress {durable} rows")
    for i in range(ROUNDS):
        proc = wbtest.Proc([WAYBILL, "run", "-c", p.config], p._logfile("bg"), env=env)
        # a checkpoint with more rows than the last round's, then a moment
        # anywhere within the next checkpoint interval
        p.wait_snapshot(proc, "public.items", lambda t: t is not None and t["rows"] > durable)
        time.sleep(rnd.uniform(0.0, 1.2))
        if not proc.alive():
            fail(f"waybill exited early: {proc.stderr()[-3000:]}")
        proc.kill(signal.SIGKILL)
        t = p.snapshot_table("public.items")
        durable = t["rows"]
        log(f"round {i + 1}: killed; durable progress {durable} rows")
        check(t is None or not t.get("done"), f"round {i + 1} fell inside the snapshot")
    r = p.run_idle(2, timeout=300)
    check("snapshot of public.items finished" in r.stderr, "the snapshot finished", r.stderr[-2000:])
    pg.psql("UPDATE items SET name = 'after' WHERE id = 7; DELETE FROM items WHERE id = 8;")
    p.run_idle(2)

    schemas = kt.load_schemas(k.bootstrap, "ks")
    msgs = [m for m in kt.data_messages(k.bootstrap, "ks") if m.topic == "ks.public.items"]
    seen = {}
    dups = []
    stream = []
    for m in msgs:
        if m.headers["waybill.op"] != "r":
            stream.append(m)
            continue
        v = kt.decode_single_object(m.value, schemas, m.headers["waybill.schema_id"])
        a = v["after"]
        if a["id"] in seen:
            dups.append(a["id"])
            continue
        seen[a["id"]] = (a["name"], str(a["qty"]))
    check_eq(dups[:10], [], f"no snapshot row twice ({len(dups)} duplicates)")
    check_eq(len(seen), ROWS, "every snapshot row once")
    bad = [i for i in range(1, ROWS + 1)
           if seen.get(i) != (f"n{i}", f"{(i % 1000) + (i % 100) / 100:.2f}")]
    check_eq(bad[:10], [], "snapshot values exact")
    check_eq(sorted((m.headers["waybill.op"], m.value is None) for m in stream),
             [("d", False), ("d", True), ("u", False)],
             "then the streamed update, delete and tombstone")


main(test)
