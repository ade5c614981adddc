# test_odbc_keyset.py — `deletes: {detect: keyset}` through Debian's SQLite
# ODBC driver: a 200,000-row table polled into Avro files, one row updated,
# 10 rows deleted spread out; the pass at the next start emits exactly
# those 10 as op d with their last images and source.detected_delete, and
# reads only the 10 differing chunks (its log line: chunks, rows read,
# pages); the next pass reads nothing. Then 3 more deletes and a kill -9
# at the crash point odbc_keys.committed (the key store committed, the
# checkpoint not yet written): the restart reports those 3 exactly once.
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import OdbcPipeline, SQLiteDB  # noqa: E402

ROWS = 200000
DELETED = [7, 20013, 40000, 61234, 80500, 100001, 133333, 150001, 180007, 199999]
UPDATED = 61234
LATER = [5000, 90000, 170000]
TOPIC = "o1.main.k"


def pass_stats(stderr):
    """The figures of every delete pass logged in stderr."""
    out = []
    for m in re.finditer(r"main\.k: delete pass: (\d+) chunk\(s\), (\d+) differing, (\d+) key "
                         r"row\(s\) read in (\d+) page\(s\), (\d+) delete\(s\)", stderr):
        out.append(tuple(int(x) for x in m.groups()))
    return out


_read = {}


def topic_records(p):
    """The topic's records in file order; a completed .avro file never
    changes, so each is decoded once (200,000 records take seconds)."""
    tdir = os.path.join(p.out, TOPIC)
    out = []
    for name in sorted(os.listdir(tdir)):
        if name.endswith(".avro"):
            path = os.path.join(tdir, name)
            if path not in _read:
                _read[path] = read_avro(path).records
            out.extend(_read[path])
    return out


def events(p):
    return [(r["op"], (r["after"] or r["before"])["id"], r) for r in topic_records(p)]


def image(i, v=None):
    return {"id": i, "ts": None, "v": v if v is not None else f"v{i}", "n": i * 3}


def test():
    db = SQLiteDB()
    db.sql("CREATE TABLE k (id INTEGER PRIMARY KEY, ts TIMESTAMP, v TEXT, n INTEGER);"
           "CREATE INDEX k_ts ON k (ts);"
           f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {ROWS}) "
           "INSERT INTO k SELECT i, strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', "
           "(i / 1000.0) || ' seconds'), 'v' || i, i * 3 FROM g;")
    tracking = {"main.k": {"mode": "timestamp+incrementing", "timestamp": "ts",
                           "incrementing": "id", "lag": "0"}}
    p = OdbcPipeline(db.connection, ["main.k"], tracking,
                     extra_source="  chunk_rows: 20000\n"
                                  "  deletes: {detect: keyset, interval: 1h, chunk_rows: 1000}\n")

    # 1. every row once; the pass after the first poll finds the table as
    # emitted: 200 chunks, none read
    r = p.run_idle(idle=1, timeout=120)
    ev = events(p)
    check_eq(len(ev), ROWS, "every row emitted once")
    check_eq(pass_stats(r.stderr), [(200, 0, 0, 0, 0)], "the pass after the first poll")
    check(os.path.exists(os.path.join(p.base, "checkpoints", "o1.keys.sqlite"))
          or any(f.endswith(".keys.sqlite") for _, _, fs in os.walk(p.base) for f in fs),
          "the key store beside the checkpoint")

    # 2. an update (its new image is what the delete must carry), then
    # 10 deletes spread over 10 chunks
    db.sql(f"UPDATE k SET v = 'changed', ts = '2026-02-01 00:00:00' WHERE id = {UPDATED};")
    r = p.run_idle(idle=1)
    ev = events(p)
    # op c: the row is outside the look-back set (polling's rule; the
    # key store is not consulted per row)
    check_eq([(o, i, x["after"]["v"]) for o, i, x in ev[ROWS:]], [("c", UPDATED, "changed")],
             "the update")
    db.sql("DELETE FROM k WHERE id IN (%s);" % ", ".join(map(str, DELETED)))
    r = p.run_idle(idle=1)
    stats = pass_stats(r.stderr)
    # 10 differing chunks of 1,000 keys minus the deleted one each
    check_eq(stats, [(200, 10, 9990, 10, 10)], "the pass at start reads only the differing chunks")
    ev = events(p)
    dels = [x for x in ev if x[0] == "d"]
    check_eq([i for _, i, _ in dels], DELETED, "exactly the deleted keys, in key order")
    for _, i, rec in dels:
        src = rec["source"]
        check(src["detected_delete"] is True, f"id {i} marked as a detected delete", src)
        b = rec["before"]
        want_v = "changed" if i == UPDATED else f"v{i}"
        check_eq((b["id"], b["v"], b["n"]), (i, want_v, i * 3), f"id {i}: the last image")
        check(rec["after"] is None, f"id {i}: no after image")
    check(all(not x[2]["source"]["detected_delete"] for x in ev if x[0] != "d"),
          "other events are not marked")

    # 3. nothing deleted since: the next pass reads no key rows
    r = p.run_idle(idle=1)
    check_eq(pass_stats(r.stderr), [(200, 0, 0, 0, 0)], "a pass with nothing deleted")
    check_eq(len(events(p)), ROWS + 1 + len(DELETED), "nothing new")

    # 4. kill -9 after the store's commit, before the checkpoint: the
    # store already dropped the keys, the sink drops the events after the
    # checkpoint; the restart puts the keys back and reports them once
    db.sql("DELETE FROM k WHERE id IN (%s);" % ", ".join(map(str, LATER)))
    ck_before = p.checkpoint()
    r = run_waybill(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=60,
                    env={"WB_CRASH_AT": "odbc_keys.committed:2"})
    check(r.rc == -9 or r.rc == 137, "killed at the crash point", r)
    check_eq(pass_stats(r.stderr), [(200, 3, 2997, 3, 3)], "the pass before the kill")
    check_eq(p.checkpoint()["position"], ck_before["position"], "the checkpoint not written")
    r = p.run_idle(idle=1)
    check("detected delete(s) were not checkpointed" in r.stderr, "the stash put back", r.stderr[-2000:])
    check_eq(pass_stats(r.stderr), [(200, 3, 2997, 3, 3)], "the pass after the restart")
    ev = events(p)
    dels = [i for o, i, _ in ev if o == "d"]
    check_eq(dels, DELETED + LATER, "every delete exactly once across the kill")
    check_eq(len(ev), ROWS + 1 + len(DELETED) + len(LATER), "nothing lost or repeated")
    state = replay(topic_records(p))
    check_eq(sorted(state), sorted(set(range(1, ROWS + 1)) - set(DELETED) - set(LATER)),
             "the replayed table equals the database")


if __name__ == "__main__":
    main(test)
