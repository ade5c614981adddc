# test_avrofile_crash_roll.py — kill -9 between each durable step of an
# avro-file roll (last block written → fsync → checkpoint → rename
# .part→.avro → directory fsync), of parking an idle series, of an idle
# roll_age completion, and of recovery; after the restarts every row is in
# the .avro files exactly once, in order (python3-avro).
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

TX = 20      # transactions per table and run
ROWS = 50    # rows per transaction
SINK = "  block_bytes: 1024\n  roll_bytes: 6000\n"

# (crash point and pass, sink config): small blocks and files so that rolls
# happen several times per run.
SCENARIOS = [
    ("sink.write:700", SINK),
    ("avrofile.last_block:2", SINK),
    ("avrofile.completed:3", SINK),
    ("checkpoint.tmp_synced:3", SINK),
    ("checkpoint.saved:3", SINK),
    ("avrofile.renamed:2", SINK),
    ("checkpoint.sink_done:4", SINK),
    ("avrofile.parked:1", SINK),
    ("avrofile.age_renamed:1", SINK + "  roll_age: 1s\n"),
]
RECOVERY = ["avrofile.recover_deleted:1", "avrofile.recover_renamed:1", "avrofile.recover_truncated:1"]


def spawn(p, env_extra, args=()):
    env = dict(os.environ, **env_extra)
    log_path = p._logfile("bg")
    errf = open(log_path, "w")
    proc = subprocess.Popen([WAYBILL, "run", "-c", p.config] + list(args), stdout=subprocess.DEVNULL,
                            stderr=errf, env=env)
    add_cleanup(lambda: proc.poll() is None and proc.kill())
    return proc, errf, log_path


def workload(pg, tables, start, pause):
    """TX transactions of ROWS rows into each table in turn (ids from start);
    returns the next id."""
    n = start
    for tb in tables:
        for _ in range(TX):
            pg.psql(f"INSERT INTO {tb} SELECT g, repeat('x', 40) || g "
                    f"FROM generate_series({n}, {n + ROWS - 1}) g;")
            n += ROWS
            time.sleep(pause)
    return n


def scenario(pg, i, point, sink, killed_recovery):
    tables = [f"c{i}a", f"c{i}b"]
    pg.psql("".join(f"CREATE TABLE {t} (id int PRIMARY KEY, v text);" for t in tables))
    p = Pipeline(pg, name=f"cr{i}", tables=[f"public.{t}" for t in tables], extra_sink=sink)
    log(f"--- {point}")
    proc, errf, log_path = spawn(p, {"WB_CRASH_AT": point})
    p.wait_slot_active(type("P", (), {"alive": lambda self: proc.poll() is None,
                                      "p": proc, "stderr": lambda self: open(log_path).read()})())
    wait_until(lambda: p.checkpoint() is not None or proc.poll() is not None, 30, "the first checkpoint")
    nxt = 1
    # a first burst into a, then b slowly (a goes idle and is parked)
    nxt = workload(pg, tables[:1], nxt, 0)
    nxt = workload(pg, tables[1:], nxt, 0.1)
    if point.startswith("avrofile.age_renamed"):
        time.sleep(2.5)  # idle: the open files complete on age
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail(f"{point}: waybill never reached the crash point; stderr:\n{open(log_path).read()[-3000:]}")
    errf.close()
    check_eq(rc, -9, f"{point}: killed there")
    # more rows while it is down
    nxt = workload(pg, tables, nxt, 0)
    # each restart may stop dead in recovery; the order turns with the
    # scenario, since a restart that is not killed completes the files
    for r in RECOVERY[i % 3:] + RECOVERY[:i % 3]:
        res = run_waybill(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=120,
                          logfile=p._logfile("rec"), env=dict(os.environ, WB_CRASH_AT=r))
        if res.rc == -9:
            killed_recovery.add(r)
            log(f"  restart killed at {r}")
        elif res.rc != 0:
            fail(f"{point}: restart with {r} exited {res.rc}: {res.stderr[-3000:]}")
    res = run_waybill(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=120, logfile=p._logfile("run"))
    check_eq(res.rc, 0, f"{point}: the last restart exits 0")
    check_eq(part_files(p.out), [], f"{point}: no .part file after a clean stop")
    per = {t: list(range(1 + k * TX * ROWS, 1 + (k + 1) * TX * ROWS)) for k, t in enumerate(tables)}
    per[tables[0]] += list(range(1 + 2 * TX * ROWS, 1 + 3 * TX * ROWS))
    per[tables[1]] += list(range(1 + 3 * TX * ROWS, 1 + 4 * TX * ROWS))
    data = p.read()
    for t in tables:
        files = data.get(f"cr{i}.public.{t}", [])
        ids = [r["after"]["id"] for f in files for r in f.records]
        if ids != per[t]:
            dup = len(ids) - len(set(ids))
            miss = len(set(per[t]) - set(ids))
            fail(f"{point}: {t}: {len(ids)} rows, {dup} repeated, {miss} missing")
        check(len(files) > 2, f"{point}: {t}: all {len(ids)} rows exactly once, in order, in {len(files)} files")
        seqs = [int(f.name[:12]) for f in files]
        check_eq(seqs, list(range(seqs[0], seqs[0] + len(seqs))), f"{point}: {t}: file numbers without holes")
        for f in files:
            check(len(f.records) > 0 or f is files[-1], f"{point}: {t}: {f.name} not empty")


def test():
    pg = Postgres().start()
    killed = set()
    for i, (point, sink) in enumerate(SCENARIOS):
        scenario(pg, i, point, sink, killed)
    check_eq(sorted(killed), sorted(RECOVERY), "each recovery crash point was hit at least once")


main(test)
