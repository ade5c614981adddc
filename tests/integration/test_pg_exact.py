# test_pg_exact.py — the delivery path stays exact where it used to lose or
# invent data (issue "Exactly once, for real"):
#  1. a checkpoint inside a large transaction whose COMMIT is already
#     decoded (slow sink) must not confirm the slot past the transaction:
#     kill -9, restart, every row once;
#  2. ordinals do not depend on the capture: a table added to the
#     configuration between a crash and the restart does not shift the
#     positions of the transaction being replayed;
#  3. old changes are decoded with the key and nullability they were
#     written with: a NULL written before SET NOT NULL stays a NULL, and a
#     delete's key-only image written before a primary-key change lists the
#     new key column as unchanged instead of inventing a value.
import collections
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401


def start_with_env(p, env_extra):
    """Starts `waybill run` for pipeline p with extra environment."""
    old = {k: os.environ.get(k) for k in env_extra}
    os.environ.update(env_extra)
    try:
        return p.start()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kill_inside(pg, p, table, n, delay_us):
    """Writes an n-row transaction into table, streams it through a sink
    slowed by delay_us per event, and kills waybill (SIGKILL) while its
    checkpoint is inside the transaction, well after the transaction's
    COMMIT was decoded. Checks that neither the checkpoint's flush_lsn nor
    the slot was confirmed past the transaction."""
    before = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    pg.psql(f"INSERT INTO {table} SELECT g, 'row ' || g FROM generate_series(1, {n}) g;")
    after = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    log(f"streaming the {n}-row transaction through a slowed sink ({delay_us} us per event)")
    proc = start_with_env(p, {"WB_DELAY": f"sink.write:{delay_us}"})

    # the transaction's commit LSN lies between before and after; the
    # checkpoint's position names it
    def inside(min_ordinal):
        ck = p.checkpoint()
        if ck is None or ck["position"].endswith(":end"):
            return None
        l, k = position(ck["position"])
        return ck if before < l <= after and min_ordinal <= k < n else None

    def started():
        if not proc.alive():
            fail(f"waybill exited ({proc.p.returncode}) early: {proc.stderr()[-3000:]}")
        return inside(2000) is not None
    wait_until(started, 120, "a checkpoint inside the big transaction", interval=0.02)
    # the whole transaction is decoded long before the sink is through it:
    # give the source time for keepalives (it asks after 1 s without data)
    time.sleep(2.5)
    ck = inside(0)
    if ck is None:
        fail(f"could not stop inside the transaction (checkpoint {p.checkpoint()}); "
             "the sink was not slow enough")
    l, _ = position(ck["position"])
    log(f"checkpoint inside the transaction: position {ck['position']}, flush_lsn {ck['flush_lsn']}")
    check(lsn(ck["flush_lsn"]) < l,
          "the checkpoint's flush_lsn stays below the partly delivered transaction",
          f"flush_lsn {ck['flush_lsn']} position {ck['position']}")
    proc.kill(signal.SIGKILL)
    slot = pg.slot(p.slot_name)
    check(lsn(slot[0]) < l, "the slot's confirmed_flush_lsn stays below the partly delivered transaction",
          f"confirmed {slot[0]}, transaction at {ck['position']}")


def big_transaction(pg):
    pg.psql("CREATE TABLE big (id int PRIMARY KEY, v text NOT NULL);")
    p = Pipeline(pg, name="bt", tables=["public.big"], extra_top="queue_bytes: 64MiB\n")
    p.run_idle(idle=1)
    pg.psql("INSERT INTO big VALUES (0, 'before');")
    n = 30000
    kill_inside(pg, p, "big", n, 200)

    log("restart without delay")
    p.run_idle(idle=1)
    recs = records(p.out, "bt.public.big")
    ids = collections.Counter(r["after"]["id"] for r in recs if r["op"] == "c")
    check_eq(len(ids), n + 1, "every row of the big transaction (and the one before) is in the files")
    check_eq(max(ids.values()), 1, "no row twice")
    check_eq(sorted(ids), list(range(0, n + 1)), "ids 0..n")


def big_transaction_kafka(pg):
    """The same through the Kafka sink (exactly_once): after kill -9 inside
    the transaction and a restart, a consumer sees every row once."""
    import kafkatest
    kafka = kafkatest.Kafka()
    pg.psql("CREATE TABLE bigk (id int PRIMARY KEY, v text NOT NULL);")
    p = kafkatest.kafka_pipeline(pg, kafka, name="bk", tables=["public.bigk"])
    p.run_idle(idle=1)
    n = 20000
    kill_inside(pg, p, "bigk", n, 300)
    log("restart without delay")
    p.run_idle(idle=1)
    msgs = [m for m in kafkatest.data_messages(kafka.bootstrap, "bk") if m.value is not None]
    schemas = kafkatest.load_schemas(kafka.bootstrap, "bk")
    ids = collections.Counter()
    wrong = []
    for m in msgs:
        e = kafkatest.decode_single_object(m.value, schemas, m.headers.get("waybill.schema_id"))
        ids[e["after"]["id"]] += 1
        if e["after"]["v"] != f"row {e['after']['id']}":
            wrong.append(e["after"])
    check_eq(wrong[:5], [], "Kafka: values exact")
    check_eq(sorted(ids), list(range(1, n + 1)), "Kafka: every row of the transaction")
    check_eq(max(ids.values()), 1, "Kafka: no row twice")


def ordinals_independent_of_capture(pg):
    pg.psql("""
        CREATE TABLE oa (id int PRIMARY KEY, v int);
        CREATE TABLE ob (id int PRIMARY KEY, v int);
        CREATE PUBLICATION waybill_od FOR TABLE oa, ob;
    """)
    base = make_tmpdir("wbtest-od-")
    p = Pipeline(pg, name="od", tables=["public.oa"], base=base)
    p.run_idle(idle=1)
    n = 4000
    before = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    # one transaction alternating between the captured and the uncaptured
    # table: oa gets the odd ordinals, ob the even ones
    pg.psql(f"""
        DO $$ BEGIN
          FOR i IN 1..{n} LOOP
            INSERT INTO oa VALUES (i, i);
            INSERT INTO ob VALUES (i, -i);
          END LOOP;
        END $$;
    """)
    after = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    proc = start_with_env(p, {"WB_DELAY": "sink.write:500"})

    def mid():
        if not proc.alive():
            fail(f"waybill exited ({proc.p.returncode}) early: {proc.stderr()[-3000:]}")
        ck = p.checkpoint()
        if ck is None or ck["position"].endswith(":end"):
            return False
        l, k = position(ck["position"])
        return before < l <= after and k >= 600
    wait_until(mid, 120, "a checkpoint inside the transaction", interval=0.02)
    proc.kill(signal.SIGKILL)
    ck = p.checkpoint()
    log(f"killed with the checkpoint at {ck['position']}")

    log("restart capturing both tables (the uncaptured one is added)")
    p2 = Pipeline(pg, name="od", tables=["public.oa", "public.ob"], base=base,
                  extra_source="  snapshot: never\n")
    p2.run_idle(idle=1)
    oa = records(p2.out, "od.public.oa")
    ids = collections.Counter(r["after"]["id"] for r in oa)
    check_eq(sorted(ids), list(range(1, n + 1)), "every oa row of the transaction")
    check_eq(max(ids.values()), 1, "no oa row twice")
    odd = [position(r["source"]["position"])[1] for r in oa]
    check_eq(odd, [2 * i - 1 for i in range(1, n + 1)],
             "oa's positions count every change of the transaction (1, 3, 5, ...)")
    ob = records(p2.out, "od.public.ob")
    ck_lsn, ck_n = position(ck["position"])
    check_eq([position(r["source"]["position"])[1] for r in ob],
             [k for k in range(2, 2 * n + 1, 2) if k > ck_n],
             "ob's events are the even ordinals after the checkpoint position")


def old_changes_keep_their_shape(pg):
    pg.psql("""
        CREATE TABLE nn (id int PRIMARY KEY, c text, q int);
        CREATE TABLE pk (id int PRIMARY KEY, wh int NOT NULL, v text NOT NULL);
    """)
    p = Pipeline(pg, name="os", tables=["public.nn", "public.pk"])
    p.run_idle(idle=1)
    pg.psql("""
        INSERT INTO nn VALUES (1, NULL, NULL);
        UPDATE nn SET c = 'x', q = 7 WHERE id = 1;
        ALTER TABLE nn ALTER c SET NOT NULL, ALTER q SET NOT NULL;
        INSERT INTO nn VALUES (2, 'y', 8);
        INSERT INTO pk VALUES (1, 5, 'a');
        DELETE FROM pk WHERE id = 1;
        ALTER TABLE pk DROP CONSTRAINT pk_pkey, ADD PRIMARY KEY (id, wh);
        INSERT INTO pk VALUES (2, 6, 'b');
        DELETE FROM pk WHERE id = 2;
    """)
    p.run_idle(idle=1)
    nn = records(p.out, "os.public.nn")
    check_eq([(r["op"], r["after"], list(r["unchanged"])) for r in nn],
             [("c", {"id": 1, "c": None, "q": None}, []),
              ("u", {"id": 1, "c": "x", "q": 7}, []),
              ("c", {"id": 2, "c": "y", "q": 8}, [])],
             "the NULLs written before SET NOT NULL stay NULL (the schema widens)")
    pk = records(p.out, "os.public.pk")
    got = [(r["op"], r["before"] and r["before"]["id"], r["after"] and r["after"]["id"],
            sorted(r["unchanged"])) for r in pk]
    check_eq(got, [("c", None, 1, []), ("d", 1, None, ["v", "wh"]), ("c", None, 2, []),
                   ("d", 2, None, ["v"])],
             "a delete before the key change lists wh as unchanged (it was no key column then)")
    check_eq(pk[3]["before"]["wh"], 6, "a delete after the key change carries the new key column")


def test():
    pg = Postgres().start()
    big_transaction(pg)
    big_transaction_kafka(pg)
    ordinals_independent_of_capture(pg)
    old_changes_keep_their_shape(pg)


main(test)
