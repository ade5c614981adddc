# test_my_endpos.py — `waybill run --endpos FILENUMBER:OFFSET` on a MariaDB
# source: SHOW MASTER STATUS after a commit names where the next
# transaction starts; --endpos there delivers exactly the transactions
# before it (as mysqlbinlog --stop-position) and checkpoints nothing past
# them, and the next run continues with the next transaction, nothing lost
# or repeated. A PostgreSQL LSN is refused with exit 2.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB, MyPipeline  # noqa: E402

TOPIC = "me.app.t"


def test():
    db = MariaDB().start()
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id int PRIMARY KEY, v text);")
    p = MyPipeline(db, name="me", tables=("app.t",))
    p.run_idle(1)
    db.sql("BEGIN; INSERT INTO app.t VALUES (1, 'a'), (2, 'b'); COMMIT;", db="app")
    db.sql("INSERT INTO app.t VALUES (3, 'c')", db="app")
    f, off = db.sql("SHOW MASTER STATUS")[0][:2]
    endpos = f"{f.rsplit('.', 1)[1]}:{off}"
    db.sql("BEGIN; INSERT INTO app.t VALUES (4, 'd'); UPDATE app.t SET v = 'x' WHERE id = 1; COMMIT;", db="app")
    log(f"run --endpos {endpos} ({f} position {off})")
    r = p.run(["run", "-c", p.config, "--endpos", endpos], timeout=60, tag="endpos")
    check_eq(r.rc, 0, f"run --endpos exits 0: {r.stderr[-2000:]}")
    check_eq([(x["op"], x["after"]["id"]) for x in records(p.out, TOPIC)], [("c", 1), ("c", 2), ("c", 3)],
             "exactly the two transactions before the position: 3 events")
    ck = p.checkpoint()
    seq, offset = ck["position"].split(":")[:2]
    check(int(seq) == int(f.rsplit(".", 1)[1]) and int(offset) < int(off),
          f"checkpoint {ck['position']} before the end position {endpos}")
    r = p.run_idle(1)
    check_eq([(x["op"], x["after"]["id"]) for x in records(p.out, TOPIC)],
             [("c", 1), ("c", 2), ("c", 3), ("c", 4), ("u", 1)], "the next run continues: 2 more, none repeated")
    r = p.run(["run", "-c", p.config, "--endpos", "0/16B3748"], tag="bad")
    check_eq(r.rc, 2, "a PostgreSQL LSN on a MySQL source exits 2")
    check("000042:1234" in r.stderr, "says what a MySQL position looks like", repr(r))


main(test)
