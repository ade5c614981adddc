# test_snapshot_resume.py — kill -9 in the middle of the snapshot of a
# 200k-row table (chunks of 1000), change rows on both sides of the last
# durable key, restart: the snapshot resumes after the last durable chunk
# (rows read by the new process = rows after that key, exactly), re-emits at
# most one chunk, and r + stream events replay to the exact final table.
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "sr"
TOPIC = f"{NAME}.public.big"
ROWS = 200000
CHUNK = 1000


def table_state(pg):
    return {int(a): (int(b), c) for a, b, c in
            (l.split("|") for l in pg.psql("SELECT id, grp, note FROM big"))}


def test():
    pg = Postgres().start()
    pg.psql(f"""
        CREATE TABLE big (id bigint PRIMARY KEY, grp int NOT NULL, note text NOT NULL);
        INSERT INTO big SELECT i, i % 100, md5(i::text) || repeat('x', 100) FROM generate_series(1, {ROWS}) i;
        ANALYZE big;
    """)
    p = Pipeline(pg, name=NAME, tables=["public.big"],
                 extra_source=f"  snapshot: {{mode: initial, chunk_size: {CHUNK}}}\n")
    p.write_config(p.config_text.replace("checkpoint_interval: 1s", "checkpoint_interval: 50ms"))

    kills = 0
    durable_keys = []
    finished_log = None  # stderr of a run that completed the snapshot
    for attempt in range(2):
        proc = p.start()
        after = (durable_keys[-1] if durable_keys else 0) + 2000
        p.wait_snapshot(proc, "public.big",
                        lambda t: t and (t["done"] or (t["key"] and int(t["key"][0]) > after)))
        proc.kill(signal.SIGKILL)
        t = p.checkpoint()["source"]["snapshot"]["tables"]["public.big"]
        if t["done"]:
            # the restarted run was quicker than the kill: it is the run
            # that read the rest of the table
            log(f"  snapshot finished before kill #{attempt + 1}")
            finished_log = proc.stderr()
            break
        kills += 1
        key = int(t["key"][0])
        check(0 < t["rows"] <= key, f"kill #{kills}: durable progress in the middle of the table")
        durable_keys.append(key)
        log(f"  kill -9 #{kills}: durable key {key}, {t['rows']} rows durable")
        wait_until(lambda: pg.value(f"SELECT active FROM pg_replication_slots WHERE slot_name = '{p.slot_name}'") == "f",
                   30, "slot released")
        # changes on both sides of the durable key, committed before the restart
        pg.psql(f"""
            UPDATE big SET grp = -1, note = 'done side {attempt}' WHERE id IN ({key // 2}, {key});
            UPDATE big SET grp = -2, note = 'todo side {attempt}' WHERE id IN ({key + 1}, {key + 5000}, {ROWS});
            DELETE FROM big WHERE id IN ({key // 3}, {key + 7});
            INSERT INTO big VALUES ({ROWS + 1 + attempt}, 7, 'new {attempt}');
        """)
        if attempt == 0:
            remaining_expected = int(pg.value(f"SELECT count(*) FROM big WHERE id > {key}"))
    check(kills >= 1, "killed at least once in the middle of the table")

    r = p.run_idle(2, timeout=300)
    pattern = r"snapshot rows read by this process: (\d+)"
    reads = [int(x) for x in re.findall(pattern, r.stderr)]
    if finished_log is not None:
        check_eq(reads, [], "a run after the completed snapshot reads no row")
        reads = [int(x) for x in re.findall(pattern, finished_log)]
    final_key = durable_keys[-1]
    expect_read = int(pg.value(f"SELECT count(*) FROM big WHERE id > {final_key}"))
    check_eq(reads, [expect_read], f"the last run read only the rows after the durable key {final_key}")

    recs = records(p.out, TOPIC)
    rr = [x for x in recs if x["op"] == "r"]
    n_rows_ever = ROWS + kills
    check(len(rr) <= n_rows_ever + CHUNK * kills,
          f"{len(rr)} r events <= {n_rows_ever} rows + one chunk per kill ({kills})")
    check(len(rr) >= ROWS - 2 * kills, "every row read at least once")
    pos = [position(x["source"]["position"]) for x in recs]
    check(all(a < b for a, b in zip(pos, pos[1:])), "positions strictly increasing across the restarts")
    state = {}
    for x in recs:
        if x["op"] == "d":
            state.pop(x["before"]["id"], None)
        else:
            a = x["after"]
            state[a["id"]] = (a["grp"], a["note"])
    want = table_state(pg)
    check(state == want, f"r + stream events replay to the final table ({len(want)} rows)")
    ck = p.checkpoint()["source"]["snapshot"]["tables"]["public.big"]
    check(ck["done"] and ck["key"] is None, "checkpoint: table done")
    st = p.run(["status", "-c", p.config])
    check(st.rc == 0 and '"done": true' in st.stdout, "waybill status shows the snapshot done", st.stdout)


main(test)
