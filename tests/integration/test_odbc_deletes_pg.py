# test_odbc_deletes_pg.py — keyset delete detection through psqlODBC against
# a real PostgreSQL 15: runs the cases of tests/unit/test_odbc_deletes.c
# (200,000 rows with 10 deletes spread out, deletes at chunk edges, a delete
# hidden from COUNT by an insert, composite text + integer keys on quoted
# names, empty table and store, decimal keys, a non-binary collation) with
# WB_ODBC_CONN set, so that the database side computes the MD5
# checksums (PostgreSQL's md5()) that the key store must match exactly.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

PSQLODBC = "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so"


def test():
    build = os.environ.get("WB_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
    prog = os.path.join(build, "test_odbc_deletes")
    check(os.access(prog, os.X_OK), f"{prog} is built")
    check(os.path.exists(PSQLODBC), f"{PSQLODBC} is installed (odbc-postgresql)")
    pg = Postgres(wal_level="replica").start()
    pg.psql("CREATE DATABASE odbc_deletes")
    conn = (f"Driver={PSQLODBC};Servername={pg.sock};Port={pg.port};"
            f"Database=odbc_deletes;Username=postgres")
    tmp = make_tmpdir("wbtest-odbc-")
    # No system odbc.ini / odbcinst.ini is read: the driver is named by path.
    env = dict(os.environ, WB_ODBC_CONN=conn, TMPDIR=tmp, ODBCSYSINI=tmp,
               ODBCINI=os.path.join(tmp, "odbc.ini"))
    r = subprocess.run([prog], env=env, capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stdout)
    sys.stdout.write(r.stderr)
    check(r.returncode == 0, "test_odbc_deletes passes against PostgreSQL via psqlODBC",
          f"exit {r.returncode}")
    check("connected: PostgreSQL" in r.stdout, "the cases ran on PostgreSQL, not SQLite")
    check("pass big: 200 chunks, 10 differing, 9990 key rows read in 10 pages, 10 deleted (" in r.stdout,
          "200,000 rows: only the 10 differing chunks read")


main(test)
