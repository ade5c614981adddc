# test_snapshot_modes.py — snapshot modes and on-demand snapshots:
#  - initial: snapshot once; a restart after completion does not repeat it;
#  - `waybill snapshot --tables` while waybill runs: only the named table is
#    read again (at a new point), the other table's stream stays exact;
#    an unknown table is refused with exit 2;
#  - initial_only: exits 0 by itself once the snapshot is durable, streams
#    nothing; a later `initial` run streams from the snapshot's point;
#  - never: no r events, changes stream.
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401


def ops(recs):
    return [x["op"] for x in recs]


def replay(recs, key="id"):
    st = {}
    for x in recs:
        if x["op"] == "d":
            st.pop(x["before"][key], None)
        else:
            st[x["after"][key]] = x["after"]["v"]
    return st


def pg_state(pg, t):
    return {int(a): b for a, b in (l.split("|") for l in pg.psql(f"SELECT id, v FROM {t}"))}


def test():
    pg = Postgres().start()
    pg.psql("""
        CREATE TABLE ma (id int PRIMARY KEY, v text NOT NULL);
        CREATE TABLE mb (id int PRIMARY KEY, v text NOT NULL);
        INSERT INTO ma SELECT i, 'a' || i FROM generate_series(1, 3000) i;
        INSERT INTO mb SELECT i, 'b' || i FROM generate_series(1, 2000) i;
        ANALYZE ma;
        ANALYZE mb;
    """)

    log("initial, then a restart after completion")
    p = Pipeline(pg, name="mi", tables=["public.ma", "public.mb"],
                 extra_source="  snapshot: {mode: initial, chunk_size: 250, parallelism: 2}\n")
    r = p.run_idle(1)
    check(len(re.findall(r"snapshot of public\.m[ab]: split into 2 parts", r.stderr)) == 2,
          "both tables split between the two readers", r.stderr[-2000:])
    pg.psql("UPDATE ma SET v = 'a1x' WHERE id = 1; INSERT INTO mb VALUES (5000, 'b5000');")
    p.run_idle(1)
    a, b = records(p.out, "mi.public.ma"), records(p.out, "mi.public.mb")
    check_eq(ops(a), ["r"] * 3000 + ["u"], "ma: 3000 r once, then the update")
    check_eq(ops(b), ["r"] * 2000 + ["c"], "mb: 2000 r once, then the insert")

    log("waybill snapshot --tables while waybill runs")
    bad = p.run(["snapshot", "-c", p.config, "--tables", "public.nosuch"])
    check_eq(bad.rc, 2, "unknown table: exit 2")
    bad = p.run(["snapshot", "-c", p.config, "--tables", "other.ma"])
    check_eq(bad.rc, 2, "table outside the configuration: exit 2")
    proc = p.start()
    p.wait_slot_active(proc)
    sess = pg.session()
    for i in range(200):
        sess.run(f"UPDATE mb SET v = 'm{i}' WHERE id = {1 + i * 7}; UPDATE ma SET v = 'n{i}' WHERE id = {3000 - i};"
                 if i % 2 else f"INSERT INTO mb VALUES ({6000 + i}, 'i{i}'); DELETE FROM ma WHERE id = {10 + i};")
        if i == 60:
            r = p.run(["snapshot", "-c", p.config, "--tables", "public.ma"])
            check(r.rc == 0 and "public.ma" in r.stdout, "snapshot request accepted (exit 0)", repr(r))
    def resnapped():
        ck = p.checkpoint()
        return (not os.path.exists(os.path.join(p.ckpt_dir, "mi.snapshot-request")) and
                not os.path.exists(os.path.join(p.ckpt_dir, "mi.snapshot-request.taken")) and
                ck["source"]["snapshot"]["tables"]["public.ma"]["done"])
    wait_until(resnapped, 60, "request taken, recorded and done")
    time.sleep(1.5)
    proc.kill(signal.SIGTERM)
    check_eq(proc.p.returncode, 0, "waybill stopped cleanly")
    p.run_idle(1)
    a, b = records(p.out, "mi.public.ma"), records(p.out, "mi.public.mb")
    rr = [x for x in a if x["op"] == "r"]
    second = rr[3000:]
    check(len(second) > 2800, f"ma read again ({len(second)} rows)")
    p2 = position(second[0]["source"]["position"])[0]
    check(all(position(x["source"]["position"])[0] == p2 for x in second), "second ma snapshot at one point")
    check(p2 > position(rr[0]["source"]["position"])[0], "at a new point after the first")
    # the second snapshot is ma at that point: apply stream events before it
    # to the first snapshot and compare
    i2 = a.index(second[0])
    before = replay(a[:i2])
    check_eq({x["after"]["id"]: x["after"]["v"] for x in second}, before,
             "second snapshot = ma as the stream had made it at that point")
    check(replay(a) == pg_state(pg, "ma"), "ma: r + stream replay to the final table")
    check_eq(ops(b).count("r"), 2000, "mb not read again")
    check(replay(b) == pg_state(pg, "mb"), "mb: stream exact through the other table's snapshot")
    check_eq(len(b) - 2000, 1 + 200, "mb: every change once")
    allpos = [position(x["source"]["position"]) for x in a]
    check(all(x < y for x, y in zip(allpos, allpos[1:])), "ma positions increasing")

    log("initial_only")
    q = Pipeline(pg, name="mo", tables=["public.ma"],
                 extra_source="  snapshot: initial_only\n")
    r = q.run(["run", "-c", q.config], timeout=60)
    check_eq(r.rc, 0, "initial_only: exits 0 by itself")
    qa = records(q.out, "mo.public.ma")
    check(len(qa) > 2000 and set(ops(qa)) == {"r"}, "initial_only: only r events")
    check(q.checkpoint()["source"]["snapshot"]["tables"]["public.ma"]["done"], "initial_only: done is durable")
    pg.psql("UPDATE ma SET v = 'after-only' WHERE id = 2000;")
    q.write_config(q.config_text.replace("snapshot: initial_only", "snapshot: initial"))
    q.run_idle(1)
    qa = records(q.out, "mo.public.ma")
    check_eq(ops(qa)[len(qa) - 1:], ["u"], "then initial: no second snapshot, the change streams")
    check(replay(qa) == pg_state(pg, "ma"), "initial_only + stream replay to the table")

    log("never")
    n = Pipeline(pg, name="mn", tables=["public.mb"], extra_source="  snapshot: never\n")
    n.run_idle(1)
    pg.psql("UPDATE mb SET v = 'never' WHERE id = 3;")
    n.run_idle(1)
    nb = records(n.out, "mn.public.mb")
    check_eq([(x["op"], x["after"]["v"]) for x in nb], [("u", "never")], "never: no r events, the change streams")
    check((n.checkpoint()["source"] or {}).get("snapshot") is None, "never: no snapshot state")


main(test)
