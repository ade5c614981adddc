# test_my_errors.py — a MySQL source that cannot work says why and what
# fixes it: binlog_format=STATEMENT (check and run), a purged position
# (run stops with the way out, never skips), a wrong password (never
# printed), a key the mysql source does not know; `check` on a server in
# order, and on a user without the replication grants.
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB, MyPipeline  # noqa: E402


def test():
    db = MariaDB().start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;")
    p = MyPipeline(db)

    r = p.run(["check", "-c", p.config])
    check_eq(r.rc, 0, f"check on a server in order: {r.stdout}{r.stderr}")
    for want in ("ok binlog_format: ROW", "ok binlog_row_metadata: FULL", "ok privilege: REPLICATION SLAVE"):
        check(want in r.stdout, f"check says {want!r}", r.stdout)

    # a least-privileged user without REPLICATION grants
    db.sql("CREATE USER 'ro'@'127.0.0.1' IDENTIFIED BY 'pw with space=\\'q\\''; "
           "GRANT SELECT ON app.* TO 'ro'@'127.0.0.1';")
    os.environ["WB_MY_PW"] = "pw with space='q'"
    q = MyPipeline(db, name="m2", user="ro", password="${WB_MY_PW}")
    r = q.run(["check", "-c", q.config])
    check_eq(r.rc, 1, "check without replication grants fails")
    check("GRANT REPLICATION SLAVE ON *.* TO 'ro'" in r.stdout, "check prints the GRANT that fixes it", r.stdout)
    check("pw with space" not in r.stdout + r.stderr, "the password is never printed")

    # a wrong password: refused, not retried for ever, never printed
    os.environ["WB_MY_PW"] = "wrong secret pw"
    r = q.run(["run", "-c", q.config, "--stop-when-idle", "1"])
    check_eq(r.rc, 1, "run with a wrong password")
    check("Access denied" in r.stderr, "the server's reason", r.stderr[-2000:])
    check("wrong secret pw" not in r.stderr + r.stdout, "the password is never printed")

    # a key the mysql source does not have
    bad = MyPipeline(db, name="m3", extra_source="  slot: x\n")
    r = bad.run(["run", "-c", bad.config])
    check_eq(r.rc, 2, "unknown key: configuration error")
    check("unknown key \"slot\"" in r.stderr, "the error names the key", r.stderr)

    # a purged position: the checkpoint's file is gone from the server
    p.run_idle(1)
    db.sql("INSERT INTO app.t VALUES (1, 1);", db="app")
    p.run_idle(1)
    r = p.run(["status", "-c", p.config])
    check_eq(r.rc, 0, f"status: {r.stderr}")
    st = json.loads(r.stdout)
    src = st.get("source", st)
    text = json.dumps(st)
    check('"server_position": "mysql-bin.000001:' in text, "status shows the server's position", text)
    check('"lag_seconds": 0' in text, "no lag while caught up", text)
    check_eq(st["source"]["lag_bytes"], 0, "no lag in bytes while caught up")
    db.sql("INSERT INTO app.t VALUES (2, 2); FLUSH BINARY LOGS; INSERT INTO app.t VALUES (3, 3);", db="app")
    # waybill has not seen rows 2 and 3; the file holding row 2 goes
    def purged():
        # the server keeps a file until its binlog checkpoint has passed
        db.sql("FLUSH BINARY LOGS")
        cur = db.sql("SHOW MASTER STATUS")[0][0]
        db.sql(f"PURGE BINARY LOGS TO '{cur}'")
        return [r[0] for r in db.sql("SHOW BINARY LOGS")] == [cur]
    wait_until(purged, 30, "old binlog files purged", interval=0.5)
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=60)
    check_eq(r.rc, 1, "run from a purged position stops")
    check("--resnapshot" in r.stderr and "purged" in r.stderr, "the error gives the way out", r.stderr[-2000:])
    recs = records(p.out, "m1.app.t")
    check_eq([x["after"]["id"] for x in recs], [1], "nothing after the gap was written")
    r = p.run(["status", "-c", p.config])
    check("purged" in r.stdout + r.stderr, "status reports the purged position", r.stdout + r.stderr)
    r = p.run(["check", "-c", p.config])
    check_eq(r.rc, 1, "check fails on a purged position")
    check("FAIL binlog retention" in r.stdout, "check names the purged file", r.stdout)

    # binlog_format=STATEMENT: check and run say what to change
    db.sql("SET GLOBAL binlog_format = 'STATEMENT';")
    s = MyPipeline(db, name="m4")
    r = s.run(["check", "-c", s.config])
    check_eq(r.rc, 1, "check with binlog_format=STATEMENT")
    check("FAIL binlog_format: STATEMENT" in r.stdout and "binlog_format=ROW" in r.stdout,
          "check names the fix", r.stdout)
    r = s.run(["run", "-c", s.config, "--stop-when-idle", "1"])
    check(r.rc != 0, "run with binlog_format=STATEMENT fails", r.stderr)
    check("binlog_format=ROW" in r.stderr, "run names the fix", r.stderr[-2000:])


main(test)
