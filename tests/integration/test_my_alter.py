# test_my_alter.py — table definitions that change under a MySQL source:
# ALTER TABLE ADD/DROP/MODIFY/RENAME COLUMN mid-stream with
# binlog_row_metadata=FULL (every event decoded with the columns it was
# written with); with MINIMAL metadata, a table altered while waybill was
# behind stops it with the fix, never shifted columns; binlog_row_image=
# MINIMAL: columns the server leaves out are `unchanged`, never NULL.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB, MyPipeline  # noqa: E402


def full_metadata():
    db = MariaDB().start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, a VARCHAR(10), b INT) ENGINE=InnoDB;")
    p = MyPipeline(db)
    p.run_idle(1)
    proc = p.start()
    db.sql("""
        INSERT INTO t VALUES (1, 'one', 10);
        ALTER TABLE t ADD COLUMN c DECIMAL(6,2) NOT NULL DEFAULT 1.50;
        INSERT INTO t VALUES (2, 'two', 20, 2.25);
        UPDATE t SET a = 'uno' WHERE id = 1;
        ALTER TABLE t DROP COLUMN b;
        INSERT INTO t VALUES (3, 'three', 3.75);
        ALTER TABLE t MODIFY COLUMN a VARCHAR(40), MODIFY COLUMN id BIGINT;
        INSERT INTO t VALUES (4000000000, 'four', 4.00);
        ALTER TABLE t RENAME COLUMN a TO label;
        INSERT INTO t VALUES (5, 'five', 5.00);
        DELETE FROM t WHERE id = 2;
    """, db="app")
    check_eq(proc.kill(signal.SIGTERM), 0, "exit code")
    p.run_idle(1)
    recs = records(p.out, "m1.app.t")
    got = [(r["op"], r["before"], r["after"]) for r in recs]
    D = decimal.Decimal
    want = [
        ("c", None, {"id": 1, "a": "one", "b": 10}),
        ("c", None, {"id": 2, "a": "two", "b": 20, "c": D("2.25")}),
        ("u", {"id": 1, "a": "one", "b": 10, "c": D("1.50")}, {"id": 1, "a": "uno", "b": 10, "c": D("1.50")}),
        ("c", None, {"id": 3, "a": "three", "c": D("3.75")}),
        ("c", None, {"id": 4000000000, "a": "four", "c": D("4.00")}),
        ("c", None, {"id": 5, "label": "five", "c": D("5.00")}),
        ("d", {"id": 2, "label": "two", "c": D("2.25")}, None),
    ]
    check_eq(got, want, "events with the columns of their time")
    files = read_output(p.out)["m1.app.t"]
    log(f"{len(files)} files for {len(want)} events (a new file for each new schema)")


def minimal_metadata():
    db = MariaDB(settings={"binlog-row-metadata": "MINIMAL"}).start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, a VARCHAR(10)) ENGINE=InnoDB;")
    p = MyPipeline(db, name="m1")
    p.run_idle(1)
    db.sql("INSERT INTO app.t VALUES (1, 'x');")
    p.run_idle(1)
    check_eq([r["after"] for r in records(p.out, "m1.app.t")], [{"id": 1, "a": "x"}],
             "names from information_schema without FULL metadata")
    # live: a rename while waybill is caught up takes the new definition
    proc = p.start()
    time.sleep(1.5)
    db.sql("ALTER TABLE app.t RENAME COLUMN a TO b;")
    time.sleep(1.5)
    db.sql("INSERT INTO app.t VALUES (2, 'y');")
    time.sleep(1.5)
    check_eq(proc.kill(signal.SIGTERM), 0, "exit code")
    check_eq([r["after"] for r in records(p.out, "m1.app.t")], [{"id": 1, "a": "x"}, {"id": 2, "b": "y"}],
             "a rename seen live")
    # behind: a rename that keeps count and types cannot be told from the
    # events; waybill stops rather than name a column wrongly
    db.sql("INSERT INTO app.t VALUES (3, 'z'); ALTER TABLE app.t RENAME COLUMN b TO c; "
           "INSERT INTO app.t VALUES (4, 'w');")
    r = p.run_idle(1, expect_rc=1)
    check("binlog_row_metadata=FULL" in r.stderr and "--resnapshot" in r.stderr, "the error names the fixes",
          r.stderr[-2000:])
    recs = records(p.out, "m1.app.t")
    check(all(set(r["after"]) <= {"id", "a", "b"} for r in recs), "no event decoded with a guessed name",
          str([r["after"] for r in recs]))
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1", "--resnapshot"])
    check_eq(r.rc, 0, f"--resnapshot: {r.stderr[-2000:]}")
    check_eq(replay(records(p.out, "m1.app.t"))[4], {"id": 4, "c": "w"}, "read again with the new names")
    # a change of the column count while behind, caught the same way
    db.sql("INSERT INTO app.t VALUES (5, 'v'); ALTER TABLE app.t ADD COLUMN z INT FIRST;")
    r = p.run_idle(1, expect_rc=1)
    check("binlog_row_metadata=FULL" in r.stderr, "the error names the fix", r.stderr[-2000:])
    r = p.run(["check", "-c", p.config])
    check("recommended: FULL" in r.stdout, "check recommends FULL", r.stdout)


def minimal_image():
    db = MariaDB(settings={"binlog-row-image": "MINIMAL"}).start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, a VARCHAR(10), b INT) ENGINE=InnoDB;")
    p = MyPipeline(db)
    p.run_idle(1)
    db.sql("INSERT INTO app.t VALUES (1, 'x', NULL); UPDATE app.t SET b = 7 WHERE id = 1; "
           "DELETE FROM app.t WHERE id = 1;")
    p.run_idle(1)
    recs = records(p.out, "m1.app.t")
    check_eq([r["op"] for r in recs], ["c", "u", "d"], "ops")
    check_eq(recs[0]["unchanged"], [], "insert: every column sent")
    check_eq(recs[1]["after"]["b"], 7, "update: the changed column")
    check_eq(recs[1]["after"]["id"], 1, "update: the key from the before image")
    # unchanged names what the server did not send in the after image (the
    # key's value comes from the before image, as DESIGN.md says)
    check_eq(sorted(recs[1]["unchanged"]), ["a", "id"], "update: the columns the server left out")
    check_eq(recs[1]["after"]["a"], None, "update: a column left out is not given a value")
    check_eq(recs[2]["before"]["id"], 1, "delete: the key")
    check_eq(sorted(recs[2]["unchanged"]), ["a", "b"], "delete: the columns left out")


def test():
    full_metadata()
    minimal_metadata()
    minimal_image()


main(test)
