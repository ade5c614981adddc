# test_crash_points.py — waybill stopped dead (SIGKILL from a crash point,
# src/crashpoint.h) between each two durable steps of a checkpoint write,
# and in the middle of a stream: after the restart every committed change
# is in the avro files exactly once, in commit order, and the slot was
# never confirmed past the checkpoint.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

POINTS = [
    "checkpoint.tmp_synced:3",   # the new checkpoint written and synced, not renamed
    "checkpoint.renamed:3",      # renamed, directory not synced
    "checkpoint.saved:3",        # durable, the sink not told (files not renamed)
    "checkpoint.sink_done:3",    # the sink told, the source not (slot not confirmed)
    "sink.write:2500",           # in the middle of a transaction's events
]


def run_crashing(p, point):
    env = dict(os.environ, WB_CRASH_AT=point, WB_DELAY="sink.write:40")  # several checkpoints
    r = run_waybill(["run", "-c", p.config, "--stop-when-idle", "2"], timeout=120, env=env,
                    logfile=os.path.join(p.base, f"crash-{point.replace(':', '_')}.stderr"))
    name = point.split(":")[0]
    check(r.rc == -9 and f"crash point {name} reached" in r.stderr,
          f"waybill stopped dead at {point}", f"rc {r.rc}: {r.stderr[-500:]}")


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE cp (id int PRIMARY KEY, v int NOT NULL);")
    p = Pipeline(pg, name="cpt", tables=["public.cp"])
    p.write_config(p.config_text.replace("checkpoint_interval: 1s", "checkpoint_interval: 100ms"))
    p.run_idle(idle=1)
    expected = []
    next_id = 1
    for round_, point in enumerate(POINTS):
        log(f"round {round_ + 1}: crash at {point}")
        # several transactions, one of them large, so that checkpoints
        # fall between and inside transactions
        sql = []
        for t in range(6):
            n = 12000 if t == 2 else 200
            sql.append(f"INSERT INTO cp SELECT g, g * 7 FROM generate_series({next_id}, "
                       f"{next_id + n - 1}) g;")
            expected += [("c", i) for i in range(next_id, next_id + n)]
            next_id += n
        sql.append(f"UPDATE cp SET v = v + 1 WHERE id % 97 = {round_};")
        pg.psql("\n".join(sql))
        expected += [("u", i) for i in range(1, next_id) if i % 97 == round_]
        run_crashing(p, point)
        confirmed = pg.slot(p.slot_name)[0]
        ck = p.checkpoint()
        check(lsn(confirmed) <= lsn(ck["flush_lsn"]),
              "the slot's confirmed_flush_lsn is not past the checkpoint's flush_lsn",
              f"confirmed {confirmed}, checkpoint {ck['flush_lsn']}")
        p.run_idle(idle=1)
    recs = records(p.out, "cpt.public.cp")
    got = [(r["op"], r["after"]["id"]) for r in recs]
    check_eq(len(got), len(expected), "as many events as committed changes")
    check_eq(sorted(got), sorted(expected), "every committed change once")
    pos = [position(r["source"]["position"]) for r in recs]
    check(all(a < b for a, b in zip(pos, pos[1:])), "in commit order")
    final = {int(i): int(v) for i, v in (x.split("|") for x in pg.psql("SELECT id, v FROM cp"))}
    state = {}
    for r in recs:
        state[r["after"]["id"]] = r["after"]["v"]
    check_eq(state, final, "the events rebuild the table")
    check_eq(part_files(p.out), [], "no .part file after the last clean stop")


main(test)
