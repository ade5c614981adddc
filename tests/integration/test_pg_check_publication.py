# test_pg_check_publication.py — `waybill check` on the publication, for a
# role that does not own the tables: a missing publication, or one that
# lacks a captured table, FAILs with the exact statement for the owner to
# run; running that statement as the owner makes `check` pass. A role that
# owns the tables and the publication is told waybill creates or extends
# it. A publication of a partitioned table without publish_via_partition_root
# FAILs the same way.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

ROLE = "wb_reader"


def publication_line(r, want_fail):
    lines = [l for l in r.stdout.split("\n") if l.startswith(("ok publication:", "FAIL publication:"))]
    if len(lines) != 1:
        fail(f"check: expected one publication line\n{r}")
    line = lines[0]
    if want_fail:
        others = [l for l in r.stdout.split("\n") if l.startswith("FAIL") and l != line]
        if r.rc != 1 or not line.startswith("FAIL") or others:
            fail(f"check: expected exit 1 and the publication as the only FAIL\n{r}")
    elif r.rc != 0 or "all checks passed" not in r.stdout:
        fail(f"check: expected all checks passed\n{r}")
    return line


def statement(line):
    """The statement the line tells the owner to run."""
    return line.split(" run ", 1)[1]


def test():
    pg = Postgres().start()
    pg.psql(f"CREATE ROLE {ROLE} WITH LOGIN REPLICATION;"
            "CREATE TABLE pub_a (id int PRIMARY KEY); CREATE TABLE \"Pub B\" (id int PRIMARY KEY);"
            f"GRANT SELECT ON pub_a, \"Pub B\" TO {ROLE};")
    dsn = f"host={pg.sock} port={pg.port} dbname=postgres user={ROLE}"
    p = Pipeline(pg, name="pc", tables=["public.*"], dsn=dsn)

    log("no publication, and the role may not create one")
    line = publication_line(p.run(["check", "-c", p.config]), True)
    want = ("FAIL publication: waybill_pc does not exist and wb_reader may not create it (no CREATE privilege "
            "on the database); as the tables' owner run "
            "CREATE PUBLICATION \"waybill_pc\" FOR TABLE \"public\".\"Pub B\", \"public\".\"pub_a\" "
            "WITH (publish_via_partition_root = true);")
    check_eq(line, want, "check names the statement")

    log("with CREATE on the database but not owning the tables")
    pg.psql(f"GRANT CREATE ON DATABASE postgres TO {ROLE}")
    line = publication_line(p.run(["check", "-c", p.config]), True)
    check_eq(line, want.replace("(no CREATE privilege on the database)", "(it must own every captured table)"),
             "check names the statement and why")
    pg.psql(f"REVOKE CREATE ON DATABASE postgres FROM {ROLE}")

    log("the owner runs the statement: check passes")
    pg.psql(statement(line))
    line = publication_line(p.run(["check", "-c", p.config]), False)
    check_eq(line, "ok publication: waybill_pc holds every captured table", "publication ok")

    log("a new table matching the globs, not in the publication")
    pg.psql(f"CREATE TABLE pub_c (id int PRIMARY KEY); GRANT SELECT ON pub_c TO {ROLE};")
    line = publication_line(p.run(["check", "-c", p.config]), True)
    check_eq(line, "FAIL publication: waybill_pc lacks \"public\".\"pub_c\" and wb_reader may not add it "
                   "(that needs ownership of the publication and of the table); as the owner run "
                   "ALTER PUBLICATION \"waybill_pc\" ADD TABLE \"public\".\"pub_c\";",
             "check names the statement")
    pg.psql(statement(line))
    check_eq(pg.value("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'waybill_pc'"), "3",
             "the statement added the table")
    publication_line(p.run(["check", "-c", p.config]), False)
    pg.psql("INSERT INTO pub_a VALUES (1); INSERT INTO \"Pub B\" VALUES (2); INSERT INTO pub_c VALUES (3);")
    p.run_idle(1)
    got = {t: [(r["op"], r["after"]["id"]) for r in recs] for t, recs in records(p.out).items()}
    check_eq(got, {"pc.public.Pub_B": [("r", 2)], "pc.public.pub_a": [("r", 1)], "pc.public.pub_c": [("r", 3)]},
             "a run as that role snapshots the three tables")

    log("a role owning the tables and the publication: waybill extends it")
    own = Pipeline(pg, name="po", tables=["public.pub_a", "public.pub_c"])
    pg.psql("CREATE PUBLICATION waybill_po FOR TABLE pub_a")
    line = publication_line(own.run(["check", "-c", own.config]), False)
    check_eq(line, "ok publication: waybill_po lacks \"public\".\"pub_c\"; waybill adds it when it starts",
             "says it will add the table")
    pg.psql("DROP PUBLICATION waybill_po")
    line = publication_line(own.run(["check", "-c", own.config]), False)
    check_eq(line, "ok publication: waybill_po will be created for the 2 captured tables", "says it creates it")

    log("a partitioned table in a publication without publish_via_partition_root")
    pg.psql("CREATE TABLE pt (id int, k int, PRIMARY KEY (id, k)) PARTITION BY LIST (k);"
            "CREATE TABLE pt_1 PARTITION OF pt FOR VALUES IN (1);"
            "CREATE TABLE pt_2 PARTITION OF pt FOR VALUES IN (2);"
            f"GRANT SELECT ON pt TO {ROLE};"
            "CREATE PUBLICATION waybill_pp FOR TABLE pt;")
    part = Pipeline(pg, name="pp", tables=["public.pt"], dsn=dsn)
    r = part.run(["check", "-c", part.config])
    lines = [l for l in r.stdout.split("\n") if l.startswith(("ok publication:", "FAIL publication:"))]
    check_eq(lines, ["ok publication: waybill_pp holds every captured table",
                     "FAIL publication: waybill_pp publishes partitioned tables through their partitions "
                     "(publish_via_partition_root is off) and wb_reader may not change it; as the owner run "
                     "ALTER PUBLICATION \"waybill_pp\" SET (publish_via_partition_root = true);"],
             "check names the statement")
    check_eq(r.rc, 1, "check exit code")
    pg.psql(statement(lines[1]))
    r = part.run(["check", "-c", part.config])
    check(r.rc == 0 and "all checks passed" in r.stdout, "after the statement check passes", str(r))

    log("a publication FOR ALL TABLES covers every table")
    pg.psql("CREATE PUBLICATION waybill_pa FOR ALL TABLES")
    alltab = Pipeline(pg, name="pa", tables=["public.pub_*"], dsn=dsn)
    line = publication_line(alltab.run(["check", "-c", alltab.config]), False)
    check_eq(line, "ok publication: waybill_pa holds every captured table", "FOR ALL TABLES is enough")


main(test)
