# test_my_snapshot.py — the mysql source's snapshot: every column type read
# through the snapshot equals the server's own text; a snapshot taken
# under a running load hands off to the binlog with nothing lost or
# doubled; killed with kill -9 mid-snapshot, it resumes after its last
# durable chunk (no row read twice); initial_only stops by itself;
# --resnapshot is the way past a purged position.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB, MyPipeline  # noqa: E402
import test_my_types  # noqa: E402
from test_my_exact import Load, verify  # noqa: E402


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


def types_by_snapshot(db):
    db.sql(test_my_types.DDL)
    db.sql("INSERT INTO app.t VALUES " + ",\n".join(test_my_types.ROWS), db="app")
    p = MyPipeline(db, name="m1", snapshot="initial")
    p.run_idle(1)
    recs = test_my_types.compare(db, p.out)
    check_eq([r["op"] for r in recs], ["r"] * len(test_my_types.ROWS), "snapshot reads")
    check(all(r["source"]["snapshot"] for r in recs), "snapshot flag")
    # the stream goes on from the snapshot's point
    db.sql("UPDATE app.t SET c_int = 7 WHERE id = 2", db="app")
    p.run_idle(1)
    recs = test_my_types.compare(db, p.out)
    check_eq(recs[-1]["op"], "u", "the change after the snapshot")
    db.sql("DROP DATABASE app")


def under_load(db, rnd):
    db.sql("CREATE DATABASE app; CREATE TABLE app.acct (id INT PRIMARY KEY, v INT NOT NULL, "
           "note VARCHAR(100)) ENGINE=InnoDB;")
    db.sql("INSERT INTO app.acct SELECT seq, 0, REPEAT('s', seq % 50) FROM seq_1_to_30000", db="app")
    load = Load(db, rnd, first_id=1_000_000)
    p = MyPipeline(db, name="m2", snapshot="initial")
    p.write_config(p.config_text.replace("  snapshot: initial\n",
                                         "  snapshot: {mode: initial, chunk_size: 1000}\n"))
    # a slowed sink, killed while the snapshot is half durable
    proc = start_with_env(p, {"WB_DELAY": "sink.write:40"})

    def half():
        ck = p.checkpoint()
        st = (ck or {}).get("source", {}).get("snapshot", {}).get("tables", {}).get("app.acct")
        return st and 5000 <= st.get("rows", 0) < 25000
    wait_until(half, 120, "the snapshot half durable")
    proc.kill()
    rows_before = p.checkpoint()["source"]["snapshot"]["tables"]["app.acct"]["rows"]
    log(f"killed with {rows_before} snapshot rows durable")
    proc = p.start()
    time.sleep(3)
    load.finish()
    check(proc.alive(), "waybill runs", proc.stderr()[-3000:])
    check_eq(proc.kill(signal.SIGTERM), 0, "exit code")
    p.run_idle(2)
    recs = records(p.out, "m2.app.acct")
    reads = [r["after"]["id"] for r in recs if r["op"] == "r"]
    # as for PostgreSQL: the resumed snapshot starts after the last
    # durable chunk, so at most the one chunk in flight is read again
    again = len(reads) - len(set(reads))
    check(again <= 1000, "at most one chunk read again", f"{again} rows read twice")
    log(f"{again} snapshot rows read again after the kill")
    check(set(range(1, 30001)) <= set(reads) | {r["after"]["id"] for r in recs if r["op"] == "c"} |
          {r["before"]["id"] for r in recs if r["op"] == "d"}, "every original row read or deleted")
    state = replay(recs)
    rows = db.sql("SELECT id, v, note FROM app.acct ORDER BY id")
    want = {int(i): {"id": int(i), "v": int(v), "note": n} for i, v, n in rows}
    check_eq(len(state), len(want), "rows in the consumer's view vs the table")
    for i, row in want.items():
        check_eq(state.get(i), row, f"row {i}")
    ck = p.checkpoint()
    check(ck["source"]["snapshot"]["tables"]["app.acct"]["done"], "the snapshot is done")


def initial_only_and_resnapshot(db):
    db.sql("CREATE DATABASE app3; CREATE TABLE app3.t (id INT PRIMARY KEY, v INT);"
           "INSERT INTO app3.t VALUES (1, 1), (2, 2);")
    p = MyPipeline(db, name="m3", tables=("app3.*",), snapshot="initial_only")
    r = p.run(["run", "-c", p.config], timeout=60)
    check_eq(r.rc, 0, f"initial_only exits by itself: {r.stderr[-2000:]}")
    check_eq(sorted(x["after"]["id"] for x in records(p.out, "m3.app3.t")), [1, 2], "initial_only rows")
    # a purged position, then --resnapshot
    q = MyPipeline(db, name="m4", tables=("app3.*",), snapshot="never")
    q.run_idle(1)
    db.sql("INSERT INTO app3.t VALUES (3, 3)")

    def purged():
        db.sql("FLUSH BINARY LOGS")
        cur = db.sql("SHOW MASTER STATUS")[0][0]
        db.sql(f"PURGE BINARY LOGS TO '{cur}'")
        return [x[0] for x in db.sql("SHOW BINARY LOGS")] == [cur]
    wait_until(purged, 30, "old binlog files purged", interval=0.5)
    q.run_idle(1, expect_rc=1)
    r = q.run(["run", "-c", q.config, "--stop-when-idle", "1", "--resnapshot"])
    check_eq(r.rc, 0, f"--resnapshot past the gap: {r.stderr[-2000:]}")
    state = replay(records(q.out, "m4.app3.t"))
    check_eq(sorted(state), [1, 2, 3], "the tables read again")
    # on_gap: resnapshot does the same by itself
    g = MyPipeline(db, name="m5", tables=("app3.*",), snapshot="never", extra_source="  on_gap: resnapshot\n")
    g.run_idle(1)
    db.sql("INSERT INTO app3.t VALUES (4, 4)")
    wait_until(purged, 30, "old binlog files purged", interval=0.5)
    r = g.run_idle(1)
    check("on_gap: resnapshot" in r.stderr, "the gap is logged", r.stderr[-2000:])
    state = replay(records(g.out, "m5.app3.t"))
    check_eq(sorted(state), [1, 2, 3, 4], "on_gap: resnapshot reads the tables again")
    # `waybill snapshot --tables` taken by a running pipeline
    w = MyPipeline(db, name="m6", tables=("app3.*",), snapshot="never")
    proc = w.start()
    time.sleep(1.5)
    r = w.run(["snapshot", "-c", w.config, "--tables", "app3.t"])
    check_eq(r.rc, 0, f"snapshot request: {r.stderr}")
    db.sql("INSERT INTO app3.t VALUES (5, 5)")
    time.sleep(3)
    check_eq(proc.kill(signal.SIGTERM), 0, "exit code")
    recs = records(w.out, "m6.app3.t")
    # row 5 may be committed before the round's point (then it is read
    # too) or after it (then only streamed)
    check(set(x["after"]["id"] for x in recs if x["op"] == "r") >= {1, 2, 3, 4}, "requested snapshot rows",
          str([x["after"]["id"] for x in recs]))
    check_eq(sorted(replay(recs)), [1, 2, 3, 4, 5], "snapshot and stream")
    check("took snapshot request" in proc.stderr(), "the request is logged", proc.stderr()[-2000:])


def test():
    rnd = seeded_random()
    db = MariaDB().start()
    types_by_snapshot(db)
    under_load(db, rnd)
    initial_only_and_resnapshot(db)


main(test)
