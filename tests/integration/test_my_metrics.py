# test_my_metrics.py — the metrics of a MariaDB source: waybill_server_position
# is the server's binlog end (file sequence << 32 | offset) and
# waybill_lag_bytes the bytes of binlog after the checkpointed transaction,
# exactly: 0 once everything is delivered, and, while a slowed sink holds
# back a burst written during a stop, the burst's bytes as SHOW MASTER
# STATUS counts them; transactions on tables not captured do not leave a
# lag behind. promtool accepts the scrape.
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from metricstest import get, scrape, value  # noqa: E402
from mytest import MariaDB, MyPipeline  # noqa: E402


def server_end(db):
    f, off = db.sql("SHOW MASTER STATUS")[0][:2]
    return int(f.rsplit(".", 1)[1]), int(off)


def major(seq, off):
    return float((seq << 32) | off)


def wait_metric(port, proc, name, want, what, timeout=30):
    """Waits until name's value is want (the source probes every 5 s)."""
    def ok():
        if not proc.alive():
            fail(f"waybill exited early: {proc.stderr()[-3000:]}")
        st, _ = get(port, "/metrics")
        return st == 200 and value(scrape(port)[1], name) == want
    wait_until(ok, timeout, what, interval=0.2)
    return scrape(port)


def test():
    db = MariaDB().start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id int PRIMARY KEY, v text);")
    port = free_port()
    p = MyPipeline(db, name="mm", tables=("app.t",),
                   extra_top=f"metrics: {{listen: \"127.0.0.1:{port}\"}}\n")

    log("idle after a few transactions: server position = the binlog end, lag 0")
    proc = p.start()
    wait_until(lambda: get(port, "/readyz")[0] == 200 or not proc.alive(), 60, "/readyz 200")
    for i in range(1, 6):
        db.sql(f"INSERT INTO app.t VALUES ({i}, 'v{i}')", db="app")
    seq, off = server_end(db)
    body, s = wait_metric(port, proc, "waybill_server_position", major(seq, off), "the server position probed")
    wait_metric(port, proc, "waybill_lag_bytes", 0.0, "lag 0 once the burst is checkpointed")
    log("writes to a table not captured: the lag still returns to 0")
    db.sql("CREATE TABLE app.other (id int PRIMARY KEY)", db="app")
    for i in range(1, 4):
        db.sql(f"INSERT INTO app.other VALUES ({i})", db="app")
    seq, off = server_end(db)
    wait_metric(port, proc, "waybill_server_position", major(seq, off), "the server position probed again")
    body, s = wait_metric(port, proc, "waybill_lag_bytes", 0.0, "lag 0 past transactions on other tables")
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
    check(r.returncode == 0, "promtool check metrics accepts the scrape", r.stdout + r.stderr)
    proc.kill(signal.SIGTERM)
    proc.wait(60)

    log("a burst written while stopped, a slow sink: the lag is the burst's bytes")
    ck = p.checkpoint()
    check(ck is not None, "a checkpoint")
    for i in range(6, 56):
        db.sql(f"INSERT INTO app.t VALUES ({i}, '{'x' * 200}')", db="app")
    seq2, off2 = server_end(db)
    check_eq(seq2, seq, "the burst stays in one binlog file")
    env = dict(os.environ, WB_DELAY="sink.write:8000000")
    proc = Proc([WAYBILL, "run", "-c", p.config], p._logfile("slow"), env=env)
    _, s = wait_metric(port, proc, "waybill_server_position", major(seq2, off2), "the new end probed")
    check_eq(value(s, "waybill_lag_bytes"), float(off2 - off),
             f"lag = the burst's bytes ({off2 - off}) while the sink holds it")
    proc.kill(signal.SIGKILL)
    proc.wait(30)
    r = p.run_idle(2)
    got = [x["after"]["id"] for x in records(p.out, "mm.app.t")]
    check_eq(sorted(set(got)), list(range(1, 56)), "every row delivered in the end")


main(test)
