# test_pg_crash.py — kill -9 waybill five times while a workload commits
# transactions; after a final clean run every committed change is in the
# files exactly once and in commit order, no .part file remains, and the
# slot's confirmed_flush_lsn never passed the checkpoint's flush_lsn.
import collections
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "cr"
TOPIC = f"{NAME}.public.crash_item"
NTX = int(os.environ.get("WB_CRASH_TX", "3000"))


class Live:
    """Set of live ids with O(1) random pick and removal."""

    def __init__(self, items=()):
        self.ids = list(items)
        self.index = {x: i for i, x in enumerate(self.ids)}

    def copy(self):
        return Live(self.ids)

    def add(self, x):
        self.index[x] = len(self.ids)
        self.ids.append(x)

    def remove(self, x):
        i = self.index.pop(x)
        last = self.ids.pop()
        if i < len(self.ids):
            self.ids[i] = last
            self.index[last] = i

    def pick(self, rng):
        return self.ids[rng.randrange(len(self.ids))]

    def __len__(self):
        return len(self.ids)


class Workload(threading.Thread):
    """NTX transactions of 1-20 changes through one session; logs each
    committed change as (op, id, row-or-None) in commit order."""

    def __init__(self, pg, rng):
        super().__init__(daemon=True)
        self.sess = pg.session()
        self.rng = rng
        self.rows = {}
        self.live = Live()
        self.log = []
        self.next_id = 1
        self.committed = 0
        self.rolled_back = 0
        self.error = None

    def run(self):
        try:
            self._run()
        except BaseException as e:  # reported by the main thread
            self.error = e

    def _run(self):
        rng = self.rng
        for _ in range(NTX):
            rows = dict(self.rows)
            changes, stmts = [], []
            next_id = self.next_id
            for _ in range(rng.randint(1, 20)):
                r = rng.random()
                if r < 0.55 or len(self.live) < 20:
                    i = next_id
                    next_id += 1
                    row = (rng.randint(0, 9), rng.randint(-10**6, 10**6), "n%x" % rng.getrandbits(rng.randint(1, 120)))
                    stmts.append(f"INSERT INTO crash_item VALUES ({i}, {row[0]}, {row[1]}, '{row[2]}');")
                    rows[i] = row
                    changes.append(("c", i, row))
                else:
                    # Pick among rows committed before this transaction so
                    # that the choice needs no per-transaction copy.
                    i = self.live.pick(rng)
                    if i not in rows:
                        continue
                    if r < 0.85:
                        old = rows[i]
                        row = (old[0], rng.randint(-10**6, 10**6), old[2] + "u")
                        stmts.append(f"UPDATE crash_item SET val = {row[1]}, note = '{row[2]}' WHERE id = {i};")
                        rows[i] = row
                        changes.append(("u", i, row))
                    else:
                        stmts.append(f"DELETE FROM crash_item WHERE id = {i};")
                        del rows[i]
                        changes.append(("d", i, None))
            if not stmts:
                continue
            rollback = rng.random() < 0.03
            self.sess.run("BEGIN;\n" + "\n".join(stmts) + ("\nROLLBACK;" if rollback else "\nCOMMIT;"), timeout=60)
            if rollback:
                self.rolled_back += 1
                continue
            for op, i, _ in changes:
                if op == "c":
                    self.live.add(i)
                elif op == "d" and i in self.live.index:
                    self.live.remove(i)
            self.rows = rows
            self.next_id = next_id
            self.log.extend(changes)
            self.committed += 1
            time.sleep(0.002)


class Sampler(threading.Thread):
    """Samples the slot's confirmed_flush_lsn, then the checkpoint file:
    the slot must never be ahead of the checkpoint read just after it."""

    def __init__(self, pg, p):
        super().__init__(daemon=True)
        self.pg, self.p = pg, p
        self.stop = threading.Event()
        self.samples = 0
        self.violation = None
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                slot = self.pg.slot(self.p.slot_name)
                ck = self.p.checkpoint()
                if slot and slot[0] and ck is not None:
                    self.samples += 1
                    if lsn(slot[0]) > lsn(ck["flush_lsn"]):
                        self.violation = (f"slot confirmed_flush_lsn {slot[0]} is ahead of the checkpoint's "
                                          f"flush_lsn {ck['flush_lsn']} (checkpoint {ck})")
                        return
                time.sleep(0.05)
        except BaseException as e:
            self.error = e


def replay(events):
    state = {}
    for op, i, row in events:
        if op == "d":
            state.pop(i, None)
        else:
            state[i] = row
    return state


def test():
    log(f"{NTX} transactions")
    rng = seeded_random()
    pg = Postgres().start()
    pg.psql("CREATE TABLE crash_item (id bigint PRIMARY KEY, grp int NOT NULL, val int NOT NULL, note text);")
    # Small blocks and files so that kills also land around block writes
    # and file completions, not only inside one long file.
    p = Pipeline(pg, name=NAME, tables=["public.crash_item"],
                 extra_sink="  block_bytes: 16KiB\n  roll_bytes: 128KiB\n")
    p.run_idle(1)
    check(pg.slot(p.slot_name) is not None, "slot created by the first run")

    work = Workload(pg, rng)
    sampler = Sampler(pg, p)
    work.start()
    sampler.start()

    for k in range(5):
        proc = p.start()
        delay = rng.uniform(0.3, 2.0)
        time.sleep(delay)
        if not proc.alive():
            fail(f"waybill run (restart {k}) exited {proc.p.returncode} by itself; stderr:\n{proc.stderr()[-4000:]}")
        proc.kill(signal.SIGKILL)
        parts = part_files(p.out)
        log(f"  kill -9 #{k + 1} after {delay:.2f}s: {work.committed} transactions committed so far, "
            f"{len(parts)} .part file(s) left")
        if work.error:
            fail(f"workload failed: {work.error}")
        if sampler.violation:
            fail(sampler.violation)
        # The server drops the killed walsender on its own; wait for that
        # rather than racing it.
        wait_until(lambda: pg.value(f"SELECT active FROM pg_replication_slots "
                                    f"WHERE slot_name = '{p.slot_name}'") == "f", 30, "slot released")

    log("waiting for the workload to finish")
    work.join(timeout=240)
    check(not work.is_alive(), "workload finished")
    if work.error:
        fail(f"workload failed: {work.error}")
    log(f"  workload: {work.committed} committed, {work.rolled_back} rolled back, {len(work.log)} changes")

    log("final run with --stop-when-idle")
    p.run_idle(3, timeout=240)
    sampler.stop.set()
    sampler.join(timeout=30)
    check(not sampler.is_alive(), "sampler finished")
    if sampler.error:
        fail(f"sampler failed: {sampler.error}")
    if sampler.violation:
        fail(sampler.violation)
    check(sampler.samples > 20, f"confirmed_flush_lsn <= checkpoint flush_lsn in all {sampler.samples} samples")
    check_eq(part_files(p.out), [], "no .part files remain")

    files = p.read().get(TOPIC, [])
    recs = [r for f in files for r in f.records]
    log(f"  {len(files)} files, {len(recs)} records")
    got = []
    for r in recs:
        if r["op"] not in ("c", "u", "d"):
            fail(f"unexpected op {r['op']!r}: {short(r)}")
        if r["op"] == "d":
            got.append(("d", r["before"]["id"], None))
        else:
            a = r["after"]
            got.append((r["op"], a["id"], (a["grp"], a["val"], a["note"])))
    want = work.log
    cg, cw = collections.Counter(got), collections.Counter(want)
    missing = cw - cg
    extra = cg - cw
    if missing or extra:
        fail(f"multiset of changes differs: {sum(missing.values())} missing (e.g. {list(missing.items())[:5]}), "
             f"{sum(extra.values())} extra/duplicated (e.g. {list(extra.items())[:5]})")
    check(True, f"every one of the {len(want)} committed changes is in the files exactly once")
    if got != want:
        i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        fail(f"changes out of commit order at index {i}: got {got[i]}, expected {want[i]}")
    check(True, "changes are in commit order")
    pos = [position(r["source"]["position"]) for r in recs]
    check(all(a < b for a, b in zip(pos, pos[1:])), "positions strictly increasing")
    ids = [r["event_id"] for r in recs]
    check_eq(len(set(ids)), len(ids), "event_ids unique")

    table = {}
    for line in pg.psql("SELECT id, grp, val, coalesce(note, '') FROM crash_item ORDER BY id"):
        i, g, v, n = line.split("|")
        table[int(i)] = (int(g), int(v), n)
    check(replay(want) == table, f"the logged changes replay to the table's final state ({len(table)} rows)")
    check(replay(got) == table, "the captured changes replay to the table's final state")


main(test)
