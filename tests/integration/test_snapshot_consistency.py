# test_snapshot_consistency.py — a writer inserts, updates and deletes (one
# change per transaction, each stamping a unique version) during the whole
# initial snapshot of a 50k-row table read in many small chunks. The r events
# must be exactly the table as of one cut of the writer's log (the consistent
# point), the streamed events exactly the rest of that log, in order, each
# once; snapshot + stream replay to the table's final state. Twice: with one
# reader, and with the table split between three readers.
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "sc"
TOPIC = f"{NAME}.public.snap_w"
ROWS = 50000


class Writer(threading.Thread):
    """Single-statement transactions through one session, so the log is in
    commit order. Stops `linger` seconds after `until()` first holds."""

    def __init__(self, pg, rng, until, linger=1.5):
        super().__init__(daemon=True)
        self.sess = pg.session()
        self.rng, self.until, self.linger = rng, until, linger
        self.live = list(range(1, ROWS + 1))
        self.log = []          # (op, id, version-key) in commit order
        self.version = 0
        self.next_id = ROWS + 1
        self.error = None
        self.started = threading.Event()

    def run(self):
        try:
            stop_at = None
            while stop_at is None or time.time() < stop_at:
                self.step()
                if len(self.log) == 50:
                    self.started.set()
                if stop_at is None and len(self.log) % 20 == 0 and self.until():
                    stop_at = time.time() + self.linger
                if len(self.log) > 200000:
                    raise RuntimeError("snapshot never finished")
        except BaseException as e:
            self.error = e
            self.started.set()

    def step(self):
        rng = self.rng
        self.version += 1
        v = self.version
        r = rng.random()
        if r < 0.4:
            i = self.next_id
            self.next_id += 1
            self.sess.run(f"INSERT INTO snap_w VALUES ({i}, {v}, 'ins {v}')")
            self.live.append(i)
            self.log.append(("c", i, v))
        elif r < 0.8:
            i = self.live[rng.randrange(len(self.live))]
            self.sess.run(f"UPDATE snap_w SET ver = {v}, note = 'upd {v}' WHERE id = {i}")
            self.log.append(("u", i, v))
        else:
            k = rng.randrange(len(self.live))
            i = self.live[k]
            self.live[k] = self.live[-1]
            self.live.pop()
            self.sess.run(f"DELETE FROM snap_w WHERE id = {i}")
            self.log.append(("d", i, None))


def test():
    run(1)
    run(3)


def run(parallelism):
    log(f"parallelism {parallelism}")
    rng = seeded_random(parallelism)
    pg = Postgres().start()
    pg.psql(f"""
        CREATE TABLE snap_w (id int PRIMARY KEY, ver int NOT NULL, note text NOT NULL);
        ALTER TABLE snap_w REPLICA IDENTITY FULL;
        INSERT INTO snap_w SELECT i, -i, repeat('n', 150) || i FROM generate_series(1, {ROWS}) i;
        ANALYZE snap_w;
    """)
    p = Pipeline(pg, name=NAME, tables=["public.snap_w"],
                 extra_source=f"  snapshot: {{mode: initial, chunk_size: 150, parallelism: {parallelism}}}\n")

    def snapshot_done():
        ck = p.checkpoint()
        try:
            return ck["source"]["snapshot"]["tables"]["public.snap_w"]["done"]
        except (TypeError, KeyError):
            return False

    w = Writer(pg, rng, snapshot_done)
    w.start()
    w.started.wait(60)
    before = len(w.log)
    r = p.run_idle(2, timeout=300)
    w.join(60)
    if w.error:
        fail(f"writer failed: {w.error}")
    check(not w.is_alive(), "writer stopped")
    m = [l for l in r.stderr_lines() if "snapshot of public.snap_w finished" in l]
    check(len(m) == 1, "one snapshot of the table", r.stderr[-2000:])
    log(f"  writer: {len(w.log)} changes ({before} before waybill started)")

    recs = records(p.out, TOPIC)
    snap = [x for x in recs if x["op"] == "r"]
    stream = [x for x in recs if x["op"] != "r"]
    check(all(x["op"] == "r" for x in recs[:len(snap)]), "all r events come before the stream")
    check(all(x["source"]["snapshot"] is True for x in snap) and
          all(x["source"]["snapshot"] is False for x in stream), "source.snapshot marks exactly the r events")
    got_stream = []
    for x in stream:
        if x["op"] == "d":
            got_stream.append(("d", x["before"]["id"], None))
        else:
            got_stream.append((x["op"], x["after"]["id"], x["after"]["ver"]))
    k = len(w.log) - len(got_stream)
    check(k >= before, f"the cut lies after the writes made before waybill started (cut {k}, {before} before)")
    check(len(got_stream) > 100, f"many changes committed during the snapshot were streamed ({len(got_stream)})")
    check_eq(got_stream, w.log[k:], "streamed events = the writer's log after the cut, in order, each once")

    state = {i: (-i, "n" * 150 + str(i)) for i in range(1, ROWS + 1)}
    for op, i, v in w.log[:k]:
        if op == "d":
            del state[i]
        else:
            state[i] = (v, (("ins " if op == "c" else "upd ") + str(v)))
    got_snap = {x["after"]["id"]: (x["after"]["ver"], x["after"]["note"]) for x in snap}
    check_eq(len(got_snap), len(snap), "each row once in the snapshot")
    check(got_snap == state, f"snapshot = the table as of the cut ({len(state)} rows)")
    ids = [x["after"]["id"] for x in snap]
    parts = p.checkpoint()["source"]["snapshot"]["tables"]["public.snap_w"].get("parts")
    if parallelism == 1:
        check(parts is None, "one reader: the table is not split")
        check(ids == sorted(ids), "snapshot rows in key order (one reader)")
    else:
        check(parts is not None and len(parts) == parallelism, f"split into {parallelism} parts")
        his = [int(x["hi"]) for x in parts[:-1]] + [None]
        part_ids = [[i for i in ids if (k == 0 or i > his[k - 1]) and (h is None or i <= h)]
                    for k, h in enumerate(his)]
        check(all(x == sorted(x) and x for x in part_ids), "each part's rows in key order")
        check(ids != sorted(ids), "the parts were read at once (rows interleaved)")

    final = dict(got_snap)
    for op, i, v in got_stream:
        if op == "d":
            del final[i]
        else:
            final[i] = v
    table = {int(a): int(b) for a, b in (l.split("|") for l in pg.psql("SELECT id, ver FROM snap_w"))}
    check(table == {i: (v[0] if isinstance(v, tuple) else v) for i, v in final.items()},
          f"snapshot + stream replay to the final table ({len(table)} rows)")
    pos = [position(x["source"]["position"]) for x in recs]
    check(all(a < b for a, b in zip(pos, pos[1:])), "positions strictly increasing")
    p0 = pos[0][0] + 1
    slot_cp = pg.value(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{p.slot_name}'")
    check_eq(slot_cp, "1", "slot kept")
    check(all(pp[0] >= p0 for pp in pos[len(snap):]), "every streamed commit LSN >= P (snapshot at P - 1)")


main(test)
