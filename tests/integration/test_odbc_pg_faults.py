# test_odbc_pg_faults.py — the ODBC polling source through psqlODBC
# against a PostgreSQL 15 server the test starts: the server stopped for a few
# seconds while polling under a write load: retried, nothing lost,
# nothing duplicated; the initial snapshot; peak memory on a table larger
# than the queue.
import datetime
import decimal
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import (OdbcPipeline, by_id, pg_connection, pg_start_again,  # noqa: E402
                      pg_stop, run_peak_rss)

UTC = datetime.timezone.utc
D = decimal.Decimal


def snapshot_and_memory(pg):
    rows = 100000
    pg.psql(f"CREATE TABLE big (id int PRIMARY KEY, upd timestamp NOT NULL, pad text);"
            f"INSERT INTO big SELECT g, timestamp '2026-01-01' + g * interval '1 ms', repeat('x', 200)"
            f" FROM generate_series(1, {rows}) g;")
    tracking = {"public.big": {"mode": "timestamp+incrementing", "timestamp": "upd",
                               "incrementing": "id", "lag": "0"}}
    p = OdbcPipeline(pg_connection(pg), ["public.big"], tracking, name="o4", snapshot="initial",
                     extra_top="queue_bytes: 1MiB\n",
                     extra_source="  chunk_rows: 5000\n")
    peak = run_peak_rss(p)
    recs = records(p.out, "o4.public.big")
    check_eq(len(recs), rows, "every row once")
    check(all(x["op"] == "r" for x in recs), "snapshot rows are op r")
    check_eq([x["after"]["id"] for x in recs[:3]], [1, 2, 3], "in key order")
    ck = p.checkpoint()
    check(ck["source"]["snapshot"]["tables"]["public.big"]["done"], "snapshot done", ck)
    check(ck["source"]["tables"]["public.big"]["watermark"] is not None, "a watermark from its start")
    log(f"peak RSS {peak:.1f} MiB for {rows} rows of ~230 bytes")
    if not sanitized():  # ASan's quarantine holds freed memory
        check(peak < 64, f"peak RSS {peak:.1f} MiB under 64 MiB on a {rows}-row table", f"{peak:.1f}")
    pg.psql("INSERT INTO big VALUES (100001, localtimestamp, 'new')")
    p.run_idle(idle=1)
    recs = records(p.out, "o4.public.big")
    check_eq([(x["op"], x["after"]["id"]) for x in recs[rows:]], [("c", 100001)],
             "polling from the watermark recorded at the snapshot's start")



def outage(pg):
    pg.psql("CREATE TABLE ou (id bigint PRIMARY KEY, upd timestamp NOT NULL DEFAULT localtimestamp,"
            " v text); CREATE INDEX ON ou (upd);")
    tracking = {"public.ou": {"mode": "timestamp+incrementing", "timestamp": "upd",
                              "incrementing": "id", "lag": "1s"}}
    p = OdbcPipeline(pg_connection(pg), ["public.ou"], tracking, name="o3", poll="100ms",
                     extra_source="  chunk_rows: 50\n  login_timeout: 2s\n")
    proc = p.start()
    n = 0

    def insert(k):
        nonlocal n
        pg.psql(f"INSERT INTO ou (id, v) SELECT g, 'v' || g FROM generate_series({n + 1}, {n + k}) g")
        n += k
    for _ in range(10):
        insert(100)
        time.sleep(0.1)
    pg_stop(pg)
    time.sleep(3)
    pg_start_again(pg)
    for _ in range(10):
        insert(100)
        time.sleep(0.1)
    want = n

    def done():
        ck = p.checkpoint()
        wm = ck and ck["source"]["tables"]["public.ou"]["watermark"]
        return wm is not None and wm[1] == str(want)
    wait_until(lambda: proc.alive() and done(), 60, f"all {want} rows checkpointed")
    proc.kill(signal.SIGTERM)
    log_text = proc.stderr()
    check(log_text.count("source connection lost") == 1, "the outage logged once", log_text[-3000:])
    check("source connection back" in log_text, "its end logged", log_text[-3000:])
    ids = [x["after"]["id"] for x in records(p.out, "o3.public.ou")]
    check_eq(len(ids), want, "no row duplicated")
    check_eq(sorted(ids), list(range(1, want + 1)), "no row lost")



def test():
    pg = Postgres(wal_level="replica").start()
    snapshot_and_memory(pg)
    outage(pg)


if __name__ == "__main__":
    main(test)
