# test_odbc_deletes_mariadb.py — keyset delete detection through MariaDB
# Connector/ODBC against a real MariaDB 10.11: runs the cases of
# tests/unit/test_odbc_deletes.c (200,000 rows with 10 deletes spread out,
# deletes at chunk edges, a delete hidden from COUNT by an insert, composite
# text + integer keys on quoted names, empty table and store, decimal keys,
# a case-insensitive collation) with WB_ODBC_CONN set, so that the database
# side computes the CRC32 checksums (MariaDB's CRC32()) that the key store
# must match exactly.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB  # noqa: E402

MAODBC = "/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so"


def test():
    build = os.environ.get("WB_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
    prog = os.path.join(build, "test_odbc_deletes")
    check(os.access(prog, os.X_OK), f"{prog} is built")
    check(os.path.exists(MAODBC), f"{MAODBC} is installed (odbc-mariadb)")
    db = MariaDB().start()
    db.sql("CREATE DATABASE odbc_deletes CHARACTER SET utf8mb4")
    conn = (f"Driver={MAODBC};Socket={db.sock};User=root;Database=odbc_deletes;"
            f"CHARSET=utf8mb4")
    tmp = make_tmpdir("wbtest-odbc-")
    # No system odbc.ini / odbcinst.ini is read: the driver is named by path.
    env = waybill_env(dict(os.environ, WB_ODBC_CONN=conn, TMPDIR=tmp, ODBCSYSINI=tmp,
                           ODBCINI=os.path.join(tmp, "odbc.ini")))
    r = subprocess.run([prog], env=env, capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stdout)
    sys.stdout.write(r.stderr)
    check_sanitizer(r.returncode, r.stderr, "test_odbc_deletes on MariaDB")
    check(r.returncode == 0, "test_odbc_deletes passes against MariaDB via Connector/ODBC",
          f"exit {r.returncode}")
    check("connected: MariaDB" in r.stdout or "connected: MySQL" in r.stdout,
          "the cases ran on MariaDB, not SQLite")
    check("pass big: 200 chunks, 10 differing, 9990 key rows read in 10 pages, 10 deleted (" in r.stdout,
          "200,000 rows: only the 10 differing chunks read")


main(test)
