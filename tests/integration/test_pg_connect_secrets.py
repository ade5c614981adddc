# test_pg_connect_secrets.py — a password with spaces, single and double
# quotes, backslashes and "=" (scram-sha-256), given through ${VAR} in
# source.dsn as the README shows: `run` (snapshot + stream), `check` and
# `status` connect with it, in the keyword=value form and in a URI; and the
# password (or any telling piece of it) never appears on stdout or stderr
# of run, check and status, also when it is wrong.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "sec"
ROLE = "wb_secret"
# space, single quotes, double quotes, backslashes (one at the end, where a
# naive quoting would escape the closing quote), "=" and a "${" that must
# not be expanded again
PASSWORD = "Sp ace'Pw9 b\\ack\\\\sl=ash='x' \"q\" $${HOME} ${NOPE} end\\"
WRONG = "Wr0ng pass'w=rd\\"
# pieces that would show a spliced or half-parsed password
PIECES = ["ace'Pw9", "sl=ash", "b\\ack", "Wr0ng", "w=rd", "Sp ace"]


def sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


def outputs_clean(what, r):
    text = r.stdout + "\n" + r.stderr
    for secret in [PASSWORD, WRONG] + PIECES:
        if secret in text:
            fail(f"{what}: output shows {secret!r}\n{r}")
    check("password=" not in text, f"{what}: no 'password=' (no DSN) in the output")


def rows(out):
    recs = records(out, f"{NAME}.public.sec_t")
    return [(r["op"], r["after"]["id"], r["after"]["v"]) for r in recs]


def test():
    pg = Postgres(auth="scram", password="postgres-pw").start()
    pg.psql(f"CREATE ROLE {ROLE} WITH LOGIN REPLICATION PASSWORD {sql_literal(PASSWORD)};"
            "CREATE TABLE sec_t (id int PRIMARY KEY, v text);"
            "INSERT INTO sec_t VALUES (1, 'one'), (2, 'two');"
            f"GRANT SELECT ON sec_t TO {ROLE};"
            f"CREATE PUBLICATION waybill_{NAME} FOR TABLE sec_t;")
    check_eq(pg.value(f"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{ROLE}'"),
             "t", "the role's password is stored as scram-sha-256")

    os.environ["WB_TEST_PG_PW"] = PASSWORD
    dsn = f"host=127.0.0.1 port={pg.port} dbname=postgres user={ROLE} password=${{WB_TEST_PG_PW}}"
    # debug logging: no log line at any level shows the secret
    p = Pipeline(pg, name=NAME, tables=["public.sec_t"], dsn=dsn, extra_top="log_level: debug\n")

    log("check with the password from ${VAR}")
    r = p.run(["check", "-c", p.config])
    if r.rc != 0 or "all checks passed" not in r.stdout:
        fail(f"waybill check: expected all checks passed\n{r}")
    check("ok connect: PostgreSQL 15 on database postgres as wb_secret" in r.stdout,
          "check connected as wb_secret")
    outputs_clean("check", r)

    log("run: snapshot, then a change streamed")
    r = p.run_idle(1)
    outputs_clean("run (snapshot)", r)
    pg.psql("INSERT INTO sec_t VALUES (3, 'three'); UPDATE sec_t SET v = 'uno' WHERE id = 1;")
    r = p.run_idle(1)
    outputs_clean("run (stream)", r)
    check_eq(rows(p.out), [("r", 1, "one"), ("r", 2, "two"), ("c", 3, "three"), ("u", 1, "uno")],
             "events read back with python3-avro")

    log("status")
    r = p.run(["status", "-c", p.config])
    check_eq(r.rc, 0, "status exit code")
    check('"exists": true' in r.stdout, "status sees the slot")
    outputs_clean("status", r)

    log("the same password in a URI (user info from ${VAR})")
    uri = Pipeline(pg, name=NAME, tables=["public.sec_t"], checkpoint_dir=p.ckpt_dir, out=p.out,
                   dsn=f"postgresql://{ROLE}:${{WB_TEST_PG_PW}}@127.0.0.1:{pg.port}/postgres")
    r = uri.run(["check", "-c", uri.config])
    if r.rc != 0 or "as wb_secret" not in r.stdout or "all checks passed" not in r.stdout:
        fail(f"waybill check with a URI dsn\n{r}")
    check(True, "check connects with the URI form")
    outputs_clean("check (URI)", r)

    log("a whole connection string in one variable")
    os.environ["WB_TEST_PG_DSN"] = (f"host=127.0.0.1 port={pg.port} dbname=postgres user={ROLE} "
                                    "password='" + PASSWORD.replace("\\", "\\\\").replace("'", "\\'") + "'")
    whole = Pipeline(pg, name=NAME, tables=["public.sec_t"], checkpoint_dir=p.ckpt_dir, out=p.out,
                     dsn="${WB_TEST_PG_DSN}")
    r = whole.run(["check", "-c", whole.config])
    if r.rc != 0 or "as wb_secret" not in r.stdout or "all checks passed" not in r.stdout:
        fail(f"waybill check with dsn: ${{WB_TEST_PG_DSN}}\n{r}")
    check(True, "check connects with a whole DSN from one variable")
    outputs_clean("check (whole DSN)", r)

    log("wrong password: run, check and status fail without showing it")
    os.environ["WB_TEST_PG_PW"] = WRONG
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1"], tag="wrong")
    check_eq(r.rc, 1, "run with a wrong password: exit code")
    check_eq(len(r.stderr_lines()), 1, "run: one line on stderr")
    check("password authentication failed" in r.stderr and p.config in r.stderr,
          "run: says authentication failed and names the config file", r.stderr)
    outputs_clean("run (wrong password)", r)
    r = p.run(["check", "-c", p.config])
    check_eq(r.rc, 1, "check with a wrong password: exit code")
    check("FAIL connect:" in r.stdout and "password authentication failed" in r.stdout,
          "check: FAIL connect, authentication failed", r.stdout)
    outputs_clean("check (wrong password)", r)
    r = p.run(["status", "-c", p.config])
    check_eq(r.rc, 1, "status with a wrong password: exit code")
    outputs_clean("status (wrong password)", r)

    log("a password written in the file itself, quoted wrongly: the parse error shows no part of it")
    bad = Pipeline(pg, name=NAME, tables=["public.sec_t"],
                   dsn=f"host=127.0.0.1 port={pg.port} user={ROLE} password=Sp ace'Pw9 x")
    for cmd in (["check", "-c", bad.config], ["status", "-c", bad.config],
                ["run", "-c", bad.config, "--stop-when-idle", "1"]):
        r = bad.run(cmd)
        check_eq(r.rc, 2 if cmd[0] != "check" else 1, f"{cmd[0]} with an unparsable dsn: exit code")
        check("source.dsn" in r.stdout + r.stderr and bad.config in r.stdout + r.stderr,
              f"{cmd[0]}: names the file and the key", r.stdout + r.stderr)
        outputs_clean(f"{cmd[0]} (unparsable dsn)", r)


main(test)
