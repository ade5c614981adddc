# test_my_exact.py — every change once from a MariaDB binlog, across what
# happens to a running replica: kill -9 of waybill (several rounds, under
# load), binlog rotations (FLUSH LOGS and a small max_binlog_size), the
# dump thread killed on the server, and the server restarted and crashed
# mid-stream. A consumer's view (events applied in order) must equal the
# table, and every row's versions must arrive exactly once, in order.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB, MyPipeline, Session, dump_threads  # noqa: E402


class Load:
    """Transactions of inserts, version bumps and deletes on app.acct, from
    a background thread through one client session."""

    def __init__(self, db, rnd, first_id=1):
        self.db = db
        self.rnd = rnd
        self.next_id = first_id
        self.live = []
        self.stop = False
        self.session = Session(db)
        self.thread = Thread(self.run, "load")

    def run(self):
        while not self.stop:
            stmts = ["BEGIN;"]
            for _ in range(self.rnd.randint(1, 20)):
                k = self.rnd.random()
                if k < 0.5 or not self.live:
                    i = self.next_id
                    self.next_id += 1
                    self.live.append(i)
                    stmts.append(f"INSERT INTO acct VALUES ({i}, 0, REPEAT('n', {self.rnd.randint(0, 90)}));")
                elif k < 0.9:
                    i = self.rnd.choice(self.live)
                    stmts.append(f"UPDATE acct SET v = v + 1 WHERE id = {i};")
                else:
                    i = self.live.pop(self.rnd.randrange(len(self.live)))
                    stmts.append(f"DELETE FROM acct WHERE id = {i};")
            stmts.append("COMMIT;")
            self.session.send("\n".join(stmts))
            time.sleep(0.002)

    def finish(self):
        self.stop = True
        self.thread.join(60)
        rc = self.session.close()
        check_eq(rc, 0, f"load session exit code ({self.session.error()[-500:]})")


def verify(db, out):
    recs = records(out, "m1.app.acct")
    # versions of each row arrive once each, in order
    last = {}
    for r in recs:
        img = r["after"] if r["op"] in ("c", "u") else r["before"]
        rid, v = img["id"], img["v"]
        if r["op"] == "c":
            check(rid not in last, f"row {rid} inserted once", f"seen before at version {last.get(rid)}")
            check_eq(v, 0, f"row {rid} inserted at version 0")
        elif r["op"] == "u":
            check_eq(v, last.get(rid, -99) + 1, f"row {rid}: next version after {last.get(rid)}")
        elif r["op"] == "d":
            check_eq(v, last.get(rid), f"row {rid} deleted at its last version")
        last[rid] = v if r["op"] != "d" else None
    state = replay(recs)
    rows = db.sql("SELECT id, v, note FROM app.acct ORDER BY id")
    want = {int(i): {"id": int(i), "v": int(v), "note": n} for i, v, n in rows}
    check_eq(len(state), len(want), "rows in the consumer's view vs the table")
    for i, row in want.items():
        check_eq(state.get(i), row, f"row {i}")
    ids = [r["event_id"] for r in recs]
    check_eq(len(set(ids)), len(ids), "distinct event ids")
    return len(recs)


def test():
    rnd = seeded_random()
    db = MariaDB(settings={"max-binlog-size": "65536", "log-slave-updates": None}).start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.acct (id INT PRIMARY KEY, v INT NOT NULL, "
           "note VARCHAR(100)) ENGINE=InnoDB;")
    p = MyPipeline(db, extra_top="", extra_source="  heartbeat: 500ms\n")
    p.run_idle(1)
    load = Load(db, rnd)

    # kill -9 rounds
    for rnd_no in range(5):
        proc = p.start()
        time.sleep(rnd.uniform(0.5, 2.0))
        check(proc.alive(), "waybill running", proc.stderr()[-2000:])
        proc.kill()
        log(f"round {rnd_no}: killed waybill")
        load.thread.check()

    # rotations, the dump thread killed, the server restarted and crashed
    proc = p.start()
    time.sleep(1)
    db.sql("FLUSH BINARY LOGS")
    time.sleep(0.5)
    wait_until(lambda: dump_threads(db), 20, "waybill's dump thread")
    for tid in dump_threads(db):
        db.sql(f"KILL {tid}", check_ok=False)
    log("killed the dump thread")
    time.sleep(1.5)
    check(proc.alive(), "waybill rides through a killed dump thread", proc.stderr()[-3000:])
    load.finish()
    db.restart()
    log("server restarted")
    load = Load(db, rnd, first_id=10_000_000)
    time.sleep(2)
    check(proc.alive(), "waybill rides through a server restart", proc.stderr()[-3000:])
    load.finish()
    db.restart(sig=signal.SIGKILL)
    log("server crashed and started again")
    time.sleep(2)
    check(proc.alive(), "waybill rides through a server crash", proc.stderr()[-3000:])
    # a server that stops answering (no reset, no heartbeat): the stream
    # is presumed dead after three heartbeats and connected again
    db.proc.send_signal(signal.SIGSTOP)
    time.sleep(5)
    db.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: "presumed dead" in proc.stderr(), 30, "the silent connection noticed")
    db.sql("INSERT INTO app.acct VALUES (20000000, 0, 'after the silence')")
    time.sleep(2)
    check(proc.alive(), "waybill rides through a silent server", proc.stderr()[-3000:])
    check_eq(proc.kill(signal.SIGTERM), 0, "exit code on SIGTERM")
    err = proc.stderr()
    check("connection lost" in err.lower() or "outage" in err.lower(), "the outage is logged", err[-3000:])
    p.run_idle(2)
    n = verify(db, p.out)
    log(f"{n} events checked")


if __name__ == "__main__":
    main(test)
