# test_odbc_horizon.py — a real commit horizon (source.tracking.<t>.horizon)
# through psqlODBC: the incrementing column holds the writer's transaction
# id and the horizon query returns the oldest transaction still running
# (txid_snapshot_xmin), PostgreSQL's counterpart of SQL Server's
# rowversion and MIN_ACTIVE_ROWVERSION(). A row written by a transaction
# that commits after a later one was polled is captured exactly once
# without any look-back or lag; the same table polled without the horizon
# (lag and look-back 0) misses it, which is what the horizon is for.
# An initial load while an older transaction runs: polling starts below
# the horizon (not at MAX), so that transaction's row is polled once and
# the loaded rows are not emitted again. `check` prints the horizon; a
# horizon with lag, with mode bulk, and a query returning NULL are errors
# naming the key.
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from odbctest import OdbcPipeline, pg_connection  # noqa: E402

HORIZON = "SELECT txid_snapshot_xmin(txid_current_snapshot())"


def values(p, topic):
    return [(x["op"], x["after"]["v"]) for x in records(p.out, topic)]


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE mv (xid bigint PRIMARY KEY DEFAULT txid_current(), v text NOT NULL);")
    with_h = {"public.mv": {"mode": "incrementing", "incrementing": "xid", "lookback": "0",
                            "horizon": HORIZON}}
    without = {"public.mv": {"mode": "incrementing", "incrementing": "xid", "lookback": "0"}}
    ph = OdbcPipeline(pg_connection(pg), ["public.mv"], with_h, name="oh")
    pw = OdbcPipeline(pg_connection(pg), ["public.mv"], without, name="ow")

    r = ph.run(["check", "-c", ph.config])
    check(r.rc == 0 and "table public.mv: horizon query returned " in r.stdout, "check prints the horizon", r)

    procs = [ph.start(), pw.start()]
    a, b = pg.session(), pg.session()
    a.run("BEGIN; INSERT INTO mv (v) VALUES ('late')")  # the lower xid, committed last
    b.run("INSERT INTO mv (v) VALUES ('early')")
    early = pg.value("SELECT xid FROM mv WHERE v = 'early'")

    def watermark(p):
        for pr in procs:
            if not pr.alive():
                fail(f"waybill exited early: {pr.stderr()[-3000:]}")
        ck = p.checkpoint()
        t = ck and (ck.get("source") or {}).get("tables", {}).get("public.mv")
        return t and t.get("watermark") and t["watermark"][0]
    wait_until(lambda: watermark(pw) == early, 30, "the poller without horizon read 'early'")
    time.sleep(1.5)  # several polls of both
    check(not watermark(ph), "with the horizon nothing is read while an older transaction runs",
          str(ph.checkpoint()))
    a.run("COMMIT")
    b.run("INSERT INTO mv (v) VALUES ('after')")
    after = pg.value("SELECT xid FROM mv WHERE v = 'after'")
    want = [("c", "late"), ("c", "early"), ("c", "after")]
    wait_until(lambda: watermark(ph) == after, 30, "the horizon poller read up to 'after'")
    wait_until(lambda: watermark(pw) == after, 30, "the other too")
    time.sleep(1.5)  # more polls: nothing more, nothing twice
    for pr in procs:
        pr.kill(signal.SIGTERM)
    check_eq(values(ph, "oh.public.mv"), want, "with the horizon: every row exactly once")
    check_eq(values(pw, "ow.public.mv"), [("c", "early"), ("c", "after")],
             "without it (no lag, no look-back) the late row is missed")

    log("restart: the watermark resumes below nothing new")
    b.run("INSERT INTO mv (v) VALUES ('next')")
    ph.run_idle(1)
    check_eq(values(ph, "oh.public.mv"), want + [("c", "next")], "resumed exactly")

    log("initial load while an older transaction runs: polling starts below the horizon, not at MAX")
    pg.psql("CREATE TABLE ml (xid bigint PRIMARY KEY DEFAULT txid_current(), v text NOT NULL);"
            "INSERT INTO ml (v) VALUES ('old');")
    a.run("BEGIN; INSERT INTO ml (v) VALUES ('late')")
    b.run("INSERT INTO ml (v) VALUES ('early')")
    pl = OdbcPipeline(pg_connection(pg), ["public.ml"],
                      {"public.ml": {"mode": "incrementing", "incrementing": "xid", "lookback": "0",
                                     "horizon": HORIZON}}, name="ol", snapshot="initial")
    pl.run_idle(1)
    check_eq(values(pl, "ol.public.ml"), [("r", "old"), ("r", "early")], "the load: the committed rows")
    a.run("COMMIT")
    pl.run_idle(1)
    check_eq(values(pl, "ol.public.ml"), [("r", "old"), ("r", "early"), ("c", "late")],
             "the late row polled once, the loaded ones not again")

    log("configuration errors")
    for tr, msg in [({"mode": "incrementing", "incrementing": "xid", "horizon": HORIZON, "lag": "1s"},
                     "lag and horizon exclude each other"),
                    ({"mode": "bulk", "horizon": HORIZON}, "horizon works with the modes")]:
        p = OdbcPipeline(pg_connection(pg), ["public.mv"], {"public.mv": tr}, name="oe")
        r = p.run(["check", "-c", p.config])
        check(r.rc == 2 and msg in r.stderr and "source.tracking.public.mv" in r.stderr, msg, r)
    p = OdbcPipeline(pg_connection(pg), ["public.mv"],
                     {"public.mv": {"mode": "incrementing", "incrementing": "xid", "horizon": "SELECT NULL"}},
                     name="on")
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=60)
    check(r.rc != 0 and "the horizon query returned NULL" in r.stderr, "a NULL horizon stops the poll", r)
    check(records(p.out, "on.public.mv") == [], "nothing emitted without a horizon")
    a.close()
    b.close()


main(test)
