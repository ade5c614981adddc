# test_snapshot_parts.py — a table split between readers (parallelism 3, one
# integer key): the split is logged and recorded in the checkpoint, the parts
# cover the key range without gap or overlap, and a kill -9 in the middle
# resumes every part after its own durable key: the new process reads
# exactly the rows after each unfinished part's key (up to the part's end),
# and r + stream events replay to the exact final table.
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "sp"
TOPIC = f"{NAME}.public.wide"
ROWS = 300000
CHUNK = 1000
PARTS = 3


def table_state(pg):
    return {int(a): (int(b), c) for a, b, c in
            (l.split("|") for l in pg.psql("SELECT id, grp, note FROM wide"))}


def parts_of(p):
    t = p.snapshot_table("public.wide")
    return t, (t or {}).get("parts")


def rows_after(pg, lo, hi):
    """Rows of the range (lo, hi] (None: open)."""
    cond = ["true"]
    if lo is not None:
        cond.append(f"id > {lo}")
    if hi is not None:
        cond.append(f"id <= {hi}")
    return int(pg.value(f"SELECT count(*) FROM wide WHERE {' AND '.join(cond)}"))


def test():
    pg = Postgres().start()
    pg.psql(f"""
        CREATE TABLE wide (id bigint PRIMARY KEY, grp int NOT NULL, note text NOT NULL);
        INSERT INTO wide SELECT i, i % 100, md5(i::text) || repeat('x', 150) FROM generate_series(1, {ROWS}) i;
        ANALYZE wide;
    """)
    p = Pipeline(pg, name=NAME, tables=["public.wide"],
                 extra_source=f"  snapshot: {{mode: initial, chunk_size: {CHUNK}, parallelism: {PARTS}}}\n")
    p.write_config(p.config_text.replace("checkpoint_interval: 1s", "checkpoint_interval: 50ms"))

    proc = p.start()
    t = p.wait_snapshot(proc, "public.wide", lambda t: t and (
        t["done"] or sum(1 for x in t.get("parts") or [] if x["key"] or x["done"]) >= 2))
    proc.kill(signal.SIGKILL)
    if t["done"]:
        fail("the snapshot finished before the kill: make the table bigger")
    first_log = proc.stderr()
    check(re.search(rf"snapshot of public\.wide: split into {PARTS} parts by id \(1 to {ROWS}\)", first_log),
          "the split is logged", first_log[-2000:])
    t, parts = parts_of(p)
    check_eq(len(parts), PARTS, "the checkpoint records the parts")
    his = [x["hi"] for x in parts]
    check(his[-1] is None and all(h is not None for h in his[:-1]) and
          [int(h) for h in his[:-1]] == sorted(int(h) for h in his[:-1]),
          "parts end at increasing keys, the last one open", str(his))
    bounds = [None] + [int(h) for h in his[:-1]] + [None]  # part i: (bounds[i], bounds[i+1]]
    for i, x in enumerate(parts):
        if x["key"]:
            k = int(x["key"][0])
            check((bounds[i] is None or k > bounds[i]) and (bounds[i + 1] is None or k <= bounds[i + 1]),
                  f"part {i}: durable key {k} inside its range")
    check_eq(t["rows"], sum(x["rows"] for x in parts), "table rows = sum of the parts' rows")
    log(f"  kill -9: parts {[(x['hi'], x['key'], x['done'], x['rows']) for x in parts]}")

    wait_until(lambda: pg.value(f"SELECT active FROM pg_replication_slots WHERE slot_name = '{p.slot_name}'") == "f",
               30, "slot released")
    # changes in every part, on both sides of its durable key, before the restart
    for i, x in enumerate(parts):
        lo = bounds[i] or 0
        hi = bounds[i + 1] or ROWS
        key = int(x["key"][0]) if x["key"] else lo
        pg.psql(f"""
            UPDATE wide SET grp = -1, note = 'read side {i}' WHERE id IN ({max(lo + 1, key - 3)});
            UPDATE wide SET grp = -2, note = 'unread side {i}' WHERE id IN ({min(hi, key + 1)}, {hi});
            DELETE FROM wide WHERE id = {min(hi, key + 9)};
        """)
    pg.psql(f"INSERT INTO wide VALUES ({ROWS + 1}, 7, 'new')")
    expect_read = 0
    for i, x in enumerate(parts):
        if not x["done"]:
            start = int(x["key"][0]) if x["key"] else bounds[i]
            expect_read += rows_after(pg, start, bounds[i + 1])

    r = p.run_idle(2, timeout=300)
    reads = [int(x) for x in re.findall(r"snapshot rows read by this process: (\d+)", r.stderr)]
    check_eq(reads, [expect_read], "the restart read exactly the rows after each part's durable key")
    check("split into" not in r.stderr, "the resumed table keeps its parts (no new split)")

    recs = records(p.out, TOPIC)
    rr = [x for x in recs if x["op"] == "r"]
    check(len(rr) >= ROWS - PARTS, "every row read at least once")
    check(len(rr) <= ROWS + 1 + CHUNK * PARTS, f"{len(rr)} r events <= rows + one chunk per part")
    pos = [position(x["source"]["position"]) for x in recs]
    check(all(a < b for a, b in zip(pos, pos[1:])), "positions strictly increasing across the restart")
    # within one run, each part's rows come in key order
    first_point = None
    by_part = {}
    for x in rr:
        pt = x["source"]["position"].rsplit(":", 1)[0]
        first_point = first_point or pt
        i = next(j for j in range(PARTS) if bounds[j + 1] is None or x["after"]["id"] <= bounds[j + 1])
        by_part.setdefault((pt, i), []).append(x["after"]["id"])
    check(all(ids == sorted(ids) for ids in by_part.values()), "rows of a part come in key order")
    check(len({i for (_, i) in by_part}) == PARTS, "rows from every part")
    state = {}
    for x in recs:
        if x["op"] == "d":
            state.pop(x["before"]["id"], None)
        else:
            a = x["after"]
            state[a["id"]] = (a["grp"], a["note"])
    want = table_state(pg)
    check(state == want, f"r + stream events replay to the final table ({len(want)} rows)")
    t, parts = parts_of(p)
    check(t["done"] and all(x["done"] and x["key"] is None for x in parts), "checkpoint: every part done")
    st = p.run(["status", "-c", p.config])
    check(st.rc == 0 and '"done": true' in st.stdout, "waybill status shows the snapshot done", st.stdout)


main(test)
