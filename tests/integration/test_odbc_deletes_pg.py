# test_odbc_deletes_pg.py — keyset delete detection through psqlODBC against
# a real PostgreSQL 15: runs the cases of tests/unit/test_odbc_deletes.c
# (200,000 rows with 10 deletes spread out, deletes at chunk edges, a delete
# hidden from COUNT by an insert, composite text + integer keys on quoted
# names, empty table and store, decimal keys, a non-binary collation) with
# WB_ODBC_CONN set, so that the database side computes the MD5
# checksums (PostgreSQL's md5()) that the key store must match exactly, in a
# UTF8 and in a LATIN1 database.
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
    # UTF8, and LATIN1: the server hashes the keys' text converted to UTF-8,
    # the bytes the driver delivers (client_encoding UTF8) and the store holds.
    pg.psql("CREATE DATABASE odbc_deletes")
    pg.psql("CREATE DATABASE odbc_deletes_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0")
    for db in ("odbc_deletes", "odbc_deletes_latin1"):
        log(f"database {db}")
        conn = (f"Driver={PSQLODBC};Servername={pg.sock};Port={pg.port};"
                f"Database={db};Username=postgres")
        tmp = make_tmpdir("wbtest-odbc-")
        # No system odbc.ini / odbcinst.ini is read: the driver is named by path.
        env = waybill_env(dict(os.environ, WB_ODBC_CONN=conn, TMPDIR=tmp, ODBCSYSINI=tmp,
                               ODBCINI=os.path.join(tmp, "odbc.ini")))
        # Under the sanitizers: psqlODBC (13.02) itself leaks 336 bytes when
        # a statement on a missing table fails (the "errors" case; a plain
        # SQLPrepare + SQLExecute program shows the same), so leaks inside
        # the driver are not reported; leaks anywhere else still are.
        supp = os.path.join(tmp, "lsan.supp")
        with open(supp, "w") as f:
            f.write("leak:psqlodbcw.so\n")
        env["LSAN_OPTIONS"] = env["LSAN_OPTIONS"] + ":suppressions=" + supp
        r = subprocess.run([prog], env=env, capture_output=True, text=True, timeout=600)
        sys.stdout.write(r.stdout)
        sys.stdout.write(r.stderr)
        check_sanitizer(r.returncode, r.stderr, f"test_odbc_deletes on {db}")
        check(r.returncode == 0, f"test_odbc_deletes passes against PostgreSQL ({db}) via psqlODBC",
              f"exit {r.returncode}")
        check("connected: PostgreSQL" in r.stdout, "the cases ran on PostgreSQL, not SQLite")
        check("pass big: 200 chunks, 10 differing, 9990 key rows read in 10 pages, 10 deleted (" in r.stdout,
              "200,000 rows: only the 10 differing chunks read")
        # the non-ASCII keys' chunks agree: only the 4 with a delete differ
        check("pass order lines: 12 chunks, 4 differing, 996 key rows read in 4 pages, 4 deleted (" in r.stdout,
              "text keys hashed alike on both sides")


main(test)
