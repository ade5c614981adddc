# test_pg_tables.py — tables appear and disappear, while waybill runs and
# while it is stopped: a new table matching the globs is added to the
# publication and snapshotted online, so every row since its creation is
# captured exactly once; a dropped table (or one re-created under the same
# name) ends its series with a truncate before anything of the new table;
# a table this user may not add to the publication is left out with one
# warning while the others stream on. The events of every series rebuild
# the database's tables exactly.
import collections
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401


def db_state(pg, table):
    if pg.value(f"SELECT to_regclass('public.{table}') IS NOT NULL") != "t":
        return {}
    return {int(i): v for i, v in (x.split("|") for x in pg.psql(f"SELECT id, v FROM {table}"))}


def check_series(pg, p, tables):
    for t in tables:
        recs = records(p.out, f"tb.public.{t}")
        ids = [r["event_id"] for r in recs]
        check_eq(len(ids), len(set(ids)), f"{t}: no event twice ({len(ids)} events)")
        check_eq({i: row["v"] for i, row in replay(recs).items()}, db_state(pg, t), f"{t}: the events rebuild the table")


def test():
    pg = Postgres().start()
    pg.psql("""
        CREATE TABLE base (id int PRIMARY KEY, v text);
        CREATE TABLE doomed (id int PRIMARY KEY, v text);
        CREATE TABLE again (id int PRIMARY KEY, v text);
        INSERT INTO base VALUES (1, 'b1');
        INSERT INTO doomed VALUES (1, 'd1'), (2, 'd2');
        INSERT INTO again VALUES (1, 'old1'), (2, 'old2');
    """)
    p = Pipeline(pg, name="tb", tables=["public.*"])
    proc = p.start()
    p.wait_slot_active(proc)

    log("while running: a new table filled in several transactions, a drop, a re-create")
    pg.psql("CREATE TABLE fresh (id int PRIMARY KEY, v text); INSERT INTO fresh VALUES (1, 'f1');")
    for i in range(2, 40):
        pg.psql(f"INSERT INTO fresh VALUES ({i}, 'f{i}'); UPDATE base SET v = 'b{i}' WHERE id = 1;")
        time.sleep(0.2)   # spans the discovery interval: rows before and after it
    pg.psql("DELETE FROM fresh WHERE id = 3; UPDATE fresh SET v = 'changed' WHERE id = 5;")
    pg.psql("DROP TABLE doomed;")
    pg.psql("DROP TABLE again; CREATE TABLE again (id int PRIMARY KEY, v text);"
            "INSERT INTO again VALUES (7, 'new7');")
    time.sleep(7)   # one discovery at least
    pg.psql("INSERT INTO again VALUES (8, 'new8'); INSERT INTO fresh VALUES (100, 'late');")
    end = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    pg.psql("UPDATE base SET v = 'last' WHERE id = 1;")
    p.wait_checkpoint_past(end, proc, timeout=60)
    proc.kill(signal.SIGTERM)
    check_eq(proc.p.returncode, 0, "waybill exits 0")
    err = proc.stderr()
    check("new table public.fresh: captured from now on" in err, "the new table was announced")
    check("table public.doomed" in err and "is gone" in err, "the dropped table was announced")
    check_series(pg, p, ["base", "fresh", "doomed", "again"])
    again = records(p.out, "tb.public.again")
    ops = [r["op"] for r in again]
    t_at = ops.index("t")
    check(all(r["after"]["v"].startswith("old") for r in again[:t_at] if r["after"]),
          "the re-created table: everything before the truncate is the old table's")
    tail = [(r["op"], r["after"]["v"]) for r in again[t_at + 1:]][-2:]
    # new7 was written before the table joined the publication (then only
    # the snapshot has it) or after (then it is streamed)
    check(tail in ([("r", "new7"), ("c", "new8")], [("c", "new7"), ("c", "new8")]),
          "after the truncate: the new table's rows", repr(tail))

    log("while stopped: a new table, a drop")
    pg.psql("CREATE TABLE later (id int PRIMARY KEY, v text);"
            "INSERT INTO later SELECT g, 'l' || g FROM generate_series(1, 50) g;"
            "DROP TABLE fresh;")
    p.run_idle(idle=1)
    check_series(pg, p, ["later", "fresh", "base"])
    check_eq(collections.Counter(r["op"] for r in records(p.out, "tb.public.later")), {"r": 50},
             "the table created while stopped: its snapshot at the next start")

    log("a table this user may not add to the publication")
    pg.psql("""
        CREATE ROLE wbuser LOGIN REPLICATION;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO wbuser;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO wbuser;
    """)
    p.write_config(p.config_text.replace("user=postgres", "user=wbuser"))
    proc = p.start()
    p.wait_slot_active(proc)
    pg.psql("CREATE TABLE private (id int PRIMARY KEY, v text); INSERT INTO private VALUES (1, 'p');")
    time.sleep(7)
    pg.psql("UPDATE base SET v = 'after private' WHERE id = 1;")
    end = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    pg.psql("UPDATE base SET v = 'final' WHERE id = 1;")
    p.wait_checkpoint_past(end, proc, timeout=60)
    proc.kill(signal.SIGTERM)
    check_eq(proc.p.returncode, 0, "waybill keeps running and exits 0")
    err = proc.stderr()
    check(err.count("public.private") >= 1 and "ALTER PUBLICATION" in err,
          "one warning names the table and the statement for the owner", err[-1500:])
    check_eq(records(p.out, "tb.public.private"), [], "the table is not captured")
    check_series(pg, p, ["base"])


main(test)
