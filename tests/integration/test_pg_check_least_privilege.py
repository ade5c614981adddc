# test_pg_check_least_privilege.py — the role README.md ("Attaching to an
# existing PostgreSQL database") describes, created exactly so: LOGIN
# REPLICATION with a password (scram-sha-256 over TCP), SELECT on the four
# tables, the publication created by the tables' owner. `waybill check`
# passes for it, and a full run as that role (snapshot, then changes
# streamed while it runs) rebuilds the tables exactly, read back with
# python3-avro; `status` works too.
import decimal
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "wms1"
TABLES = {  # table: key columns
    "stock_balance": ("item", "location"),
    "stock_move": ("id",),
    "shipment": ("id",),
    "shipment_line": ("shipment_id", "line"),
}


def db_state(pg):
    """{table: {key: row}} as the database has it now."""
    state = {}
    for table, key in TABLES.items():
        conv = {"qty": int if table == "shipment_line" else decimal.Decimal,
                "id": int, "shipment_id": int, "line": int}
        cols = pg.psql(f"SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute "
                       f"WHERE attrelid = 'public.{table}'::regclass AND attnum > 0 AND NOT attisdropped")[0].split(",")
        rows = {}
        for line in pg.psql(f"SELECT {', '.join(f'coalesce({c}::text, chr(1))' for c in cols)} FROM {table}"):
            vals = line.split("|")
            row = {c: (None if v == "\x01" else conv.get(c, str)(v)) for c, v in zip(cols, vals)}
            rows[tuple(row[k] for k in key)] = row
        state[table] = rows
    return state


def rebuilt_state(out):
    state = {t: {} for t in TABLES}
    by_topic = records(out)
    for table, key in TABLES.items():
        for rec in by_topic.get(f"{NAME}.public.{table}", []):
            if rec["op"] in ("r", "c", "u"):
                row = dict(rec["after"])
                if rec["op"] == "u" and rec["before"] is not None:
                    state[table].pop(tuple(rec["before"][k] for k in key), None)
                state[table][tuple(row[k] for k in key)] = row
            elif rec["op"] == "d":
                state[table].pop(tuple(rec["before"][k] for k in key), None)
            else:
                fail(f"unexpected op {rec['op']!r} in {table}")
    return state


def test():
    pg = Postgres(auth="scram", password="postgres-pw").start()
    # the owner's schema and data
    pg.psql("CREATE TABLE stock_balance (item text, location text, qty numeric(12,3) NOT NULL,"
            " PRIMARY KEY (item, location));"
            "CREATE TABLE stock_move (id bigserial PRIMARY KEY, item text NOT NULL, qty numeric(12,3) NOT NULL,"
            " note text);"
            "CREATE TABLE shipment (id int PRIMARY KEY, status text NOT NULL);"
            "CREATE TABLE shipment_line (shipment_id int REFERENCES shipment, line int, item text, qty int,"
            " PRIMARY KEY (shipment_id, line));"
            "INSERT INTO stock_balance SELECT 'item' || i, 'L' || (i % 3), i * 1.5 FROM generate_series(1, 30) i;"
            "INSERT INTO stock_move (item, qty, note) SELECT 'item' || i, i, CASE WHEN i % 2 = 0 THEN 'n' || i END"
            " FROM generate_series(1, 50) i;"
            "INSERT INTO shipment SELECT i, 'open' FROM generate_series(1, 10) i;"
            "INSERT INTO shipment_line SELECT s, l, 'item' || l, l FROM generate_series(1, 10) s,"
            " generate_series(1, 3) l;")
    # README.md, step 2, as written
    pg.psql("""
   CREATE ROLE waybill WITH LOGIN REPLICATION PASSWORD 'change-me';
   GRANT SELECT ON public.stock_balance, public.stock_move, public.shipment,
                   public.shipment_line TO waybill;   -- or ON ALL TABLES IN SCHEMA public
   CREATE PUBLICATION waybill_wms1 FOR TABLE public.stock_balance,
          public.stock_move, public.shipment, public.shipment_line;
""")
    check_eq(pg.value("SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls FROM pg_roles "
                      "WHERE rolname = 'waybill'"), "f", "the role has no other attribute")
    check_eq(pg.value("SELECT has_database_privilege('waybill', 'postgres', 'CREATE')"), "f",
             "the role may not create in the database")

    os.environ["WAYBILL_PG_PASSWORD"] = "change-me"
    p = Pipeline(pg, name=NAME, tables=["public.*"],
                 dsn=f"host=127.0.0.1 port={pg.port} dbname=postgres user=waybill "
                     "password=${WAYBILL_PG_PASSWORD}")

    log("waybill check as the least-privileged role")
    r = p.run(["check", "-c", p.config])
    if r.rc != 0 or "all checks passed" not in r.stdout or "FAIL" in r.stdout:
        fail(f"check: expected all checks passed\n{r}")
    check("ok connect: PostgreSQL 15 on database postgres as waybill" in r.stdout, "check connected as waybill")
    check("ok publication: waybill_wms1 holds every captured table" in r.stdout, "check: publication complete")

    log("run: the snapshot")
    p.run_idle(1)
    check_eq(rebuilt_state(p.out), db_state(pg), "the snapshot equals the tables")

    log("run: changes streamed while it runs")
    proc = p.start()
    p.wait_slot_active(proc)
    s = pg.session()
    s.run("BEGIN; UPDATE stock_balance SET qty = qty - 1 WHERE item = 'item3';"
          " INSERT INTO stock_move (item, qty) VALUES ('item3', -1); COMMIT;")
    s.run("INSERT INTO shipment VALUES (11, 'open'); INSERT INTO shipment_line VALUES (11, 1, 'item7', 4);")
    s.run("UPDATE shipment SET status = 'shipped' WHERE id <= 5;")
    s.run("DELETE FROM shipment_line WHERE shipment_id = 2;")
    s.run("UPDATE stock_balance SET location = 'L9' WHERE item = 'item4';")  # a key change
    before_last = lsn(pg.value("SELECT pg_current_wal_lsn()"))
    s.run("BEGIN; DELETE FROM stock_move WHERE id % 10 = 0; UPDATE stock_move SET note = NULL WHERE id = 2;"
          " COMMIT;")
    p.wait_checkpoint_past(before_last, proc)
    proc.p.send_signal(signal.SIGTERM)
    check_eq(proc.wait(30), 0, "run stops cleanly on SIGTERM")
    check_eq(rebuilt_state(p.out), db_state(pg), "snapshot + stream equal the tables")

    log("status as that role")
    r = p.run(["status", "-c", p.config])
    check_eq(r.rc, 0, "status exit code")
    check('"state": "ok"' in r.stdout, "status: slot state ok", r.stdout)
    r = p.run(["check", "-c", p.config])
    check(r.rc == 0 and "ok slot: waybill_wms1 exists and continues the checkpoint" in r.stdout,
          "check passes after the run", str(r))


main(test)
