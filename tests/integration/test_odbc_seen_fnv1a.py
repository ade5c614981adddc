# test_odbc_seen_fnv1a.py — a checkpoint whose look-back set was hashed
# with fnv1a (written before the set was hashed with w64, no "seen_hash")
# resumes exactly: through Debian's SQLite ODBC driver, the rows of the
# window read again are suppressed (found by their fnv1a hashes), a row of
# the window that changed is emitted once as an update, a new row as an
# insert; the next checkpoint names w64 and keeps the fnv1a entries still
# in the window apart. The test first proves that it hashes the cells as
# the poller does: its own w64 of every row equals the checkpoint's.
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import M64, W64_INIT, OdbcPipeline, SQLiteDB, w64_cell  # noqa: E402

M = M64
INIT = W64_INIT


def fnv1a(h, b):
    for x in b:
        h = ((h ^ x) * 1099511628211) & M
    return h


def cell(alg, h, b):
    """A cell as the poller hashes it: its length (8 bytes), its bytes."""
    if alg == "w64":
        return w64_cell(h, b)
    return fnv1a(fnv1a(h, struct.pack("<q", len(b))), b)


def entry(alg, id_, n):
    """The checkpoint's text of row (id, n): 48 hex digits, the tracking
    value (id), the key's hash, the row's hash (two 8-byte integers)."""
    ib, nb = struct.pack("<q", id_), struct.pack("<q", n)
    key = cell(alg, INIT, ib)
    row = cell(alg, cell(alg, INIT, ib), nb)
    return f"{id_:016x}{key:016x}{row:016x}"


def test():
    db = SQLiteDB()
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);" +
           "".join(f"INSERT INTO t VALUES ({i}, {i * 10});" for i in range(1, 6)))
    tracking = {"main.t": {"mode": "incrementing", "incrementing": "id"}}
    p = OdbcPipeline(db.connection, ["main.t"], tracking)
    p.run_idle(idle=1)
    recs = p.rows("o1.main.t")
    check_eq([(x["op"], x["after"]["id"]) for x in recs], [("c", i) for i in range(1, 6)],
             "first poll")
    ck = p.checkpoint()
    tab = ck["source"]["tables"]["main.t"]
    check_eq(tab.get("seen_hash"), "w64", "the checkpoint names its hash")
    seen = tab["seen"]
    check_eq(sorted(seen[i:i + 48] for i in range(0, len(seen), 48)),
             sorted(entry("w64", i, i * 10) for i in range(1, 6)),
             "the test hashes the cells as the poller does")
    check("seen_fnv1a" not in tab, "no fnv1a entries", tab)

    # the checkpoint as the code before w64 wrote it
    del tab["seen_hash"]
    tab["seen"] = "".join(entry("fnv1a", i, i * 10) for i in range(1, 6))
    with open(p.checkpoint_path, "w") as f:
        json.dump(ck, f)

    # the poll from the watermark (5) reads the window again (ids from
    # 5 - 1000): rows 1-5 are found by their fnv1a hashes; row 3 changed
    db.sql("UPDATE t SET n = 31 WHERE id = 3; INSERT INTO t VALUES (6, 60);")
    r = p.run_idle(idle=1)
    check("hashed with fnv1a" in r.stderr, "the restart says so", r.stderr[-2000:])
    recs = p.rows("o1.main.t")[5:]
    check_eq([(x["op"], x["after"]["id"], x["after"]["n"]) for x in recs],
             [("u", 3, 31), ("c", 6, 60)], "after the restart: only what changed")
    tab = p.checkpoint()["source"]["tables"]["main.t"]
    check_eq(tab.get("seen_hash"), "w64", "the next checkpoint names w64")
    seen = tab["seen"]
    check_eq(sorted(seen[i:i + 48] for i in range(0, len(seen), 48)),
             sorted([entry("w64", 3, 31), entry("w64", 6, 60)]), "new entries in w64")
    old = tab.get("seen_fnv1a", "")
    check_eq(sorted(old[i:i + 48] for i in range(0, len(old), 48)),
             sorted(entry("fnv1a", i, i * 10) for i in range(1, 6)),
             "the fnv1a entries of the window kept apart")

    # and once more: nothing new, nothing emitted (both sets read back)
    p.run_idle(idle=1)
    check_eq(len(p.rows("o1.main.t")), 7, "a third run emits nothing")

    # an algorithm this version does not know: refused, not resumed
    ck = p.checkpoint()
    ck["source"]["tables"]["main.t"]["seen_hash"] = "xxh3"
    with open(p.checkpoint_path, "w") as f:
        json.dump(ck, f)
    r = p.run_idle(idle=1, expect_rc=None)
    check(r.rc != 0 and "xxh3" in r.stderr, "an unknown hash is refused", r.stderr[-2000:])
    check_eq(len(p.rows("o1.main.t")), 7, "nothing emitted then")


if __name__ == "__main__":
    main(test)
