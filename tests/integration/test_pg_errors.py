# test_pg_errors.py — bad configurations and bad servers: one-line error on
# stderr naming the problem, the documented exit code, and no side effects
# (no output, no checkpoint written, no slot created or moved). Also what
# `waybill check` says about wal_level and tables without a primary key.
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401


def snapshot_state(pg, p):
    ck = None
    if os.path.exists(p.checkpoint_path):
        st = os.stat(p.checkpoint_path)
        with open(p.checkpoint_path, "rb") as f:
            ck = (f.read(), st.st_mtime_ns)
    return {"slot": pg.slot(p.slot_name), "checkpoint": ck}


def expect_error(what, pg, p, rcs, contains=(), not_contains=(), regex=None, state_of=None):
    """Runs `waybill run` on p's config and checks the failure contract."""
    log(f"{what}")
    ref = state_of or p
    before = snapshot_state(pg, ref) if pg else None
    ck_existed = os.path.exists(p.checkpoint_path)
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1"], timeout=60, tag="err")
    lines = r.stderr_lines()
    detail = f"\nconfig:\n{p.config_text}\n{r}"
    if r.rc not in rcs:
        fail(f"{what}: exit code {r.rc}, expected one of {sorted(rcs)}{detail}")
    log(f"  ok: exit code {r.rc}")
    if len(lines) != 1:
        fail(f"{what}: expected exactly one line on stderr, got {len(lines)}{detail}")
    line = lines[0]
    log(f"  ok: one line: {line}")
    for s in contains:
        if s.lower() not in line.lower():
            fail(f"{what}: message does not mention {s!r}: {line}")
    for s in not_contains:
        if s in line:
            fail(f"{what}: message must not contain {s!r}: {line}")
    if regex and not re.search(regex, line):
        fail(f"{what}: message does not match {regex!r}: {line}")
    log(f"  ok: message names the problem ({', '.join(list(contains) + ([regex] if regex else []))})")
    check_eq(all_files(p.out), [], "nothing written to the output dir")
    if not ck_existed:
        check(not os.path.exists(p.checkpoint_path), f"no checkpoint file created at {p.checkpoint_path}")
    if pg:
        after = snapshot_state(pg, ref)
        check_eq(after["slot"], before["slot"], "slot not created or moved (confirmed_flush_lsn, restart_lsn)")
        check(after["checkpoint"] == before["checkpoint"], "existing checkpoint file unchanged")


def check_output(r):
    return [l.strip() for l in (r.stdout + "\n" + r.stderr).split("\n") if l.strip()]


def test():
    pg = Postgres().start()
    replica = Postgres(wal_level="replica").start()
    scram = Postgres(auth="scram", password="right-password").start()
    pg.psql("CREATE TABLE good (id int PRIMARY KEY, v text); CREATE TABLE nopk (a int, b text);")
    replica.psql("CREATE TABLE good (id int PRIMARY KEY, v text);")
    scram.psql("CREATE TABLE good (id int PRIMARY KEY, v text);")

    log("a good pipeline e1 creates its slot and checkpoint; then changes are left pending")
    good = Pipeline(pg, name="e1", tables=["public.good"])
    good.run_idle(1)
    pg.psql("INSERT INTO good VALUES (1, 'x')")
    good.run_idle(1)
    check(good.checkpoint() is not None, "good pipeline has a checkpoint")
    pg.psql("INSERT INTO good VALUES (2, 'pending'), (3, 'pending')")
    r = good.run(["check", "-c", good.config])
    out = check_output(r)
    oks = [l for l in out if l.lower().startswith("ok")]
    if r.rc != 0 or not oks or any(l.lower().startswith("fail") for l in out):
        fail(f"waybill check on a good setup: expected exit 0, 'ok' lines and no FAIL\n{r}")
    check(True, f"waybill check on the good setup: exit 0, {len(oks)} ok lines")

    def variant(text, name="e1", **kw):
        p = Pipeline(pg, name=name, **kw)
        if text is not None:
            p.write_config(text)
        return p

    # Each bad run gets its own out dir; those that share e1's name also
    # share its checkpoint dir, whose file must stay untouched.
    p = variant(None, checkpoint_dir=good.ckpt_dir, tables=["public.good"])
    p.write_config(f"name: e1\ncheckpoint_dir: {good.ckpt_dir}\nsource:\n  type: postgres\n"
                   f"  dsn: \"{pg.dsn()}\"\n  tables: [\"public.good\"\nsink:\n  type: avro-file\n  dir: {p.out}\n")
    expect_error("malformed YAML (unclosed flow sequence)", pg, p, {2}, contains=[os.path.basename(p.config)],
                 regex=r"(line\s*\d+|:\d+)", state_of=good)

    p = variant(None, checkpoint_dir=good.ckpt_dir, tables=["public.good"])
    lines = p.config_text.split("\n")
    lines.insert(3, "colour: blue")   # becomes line 4
    p.write_config("\n".join(lines))
    expect_error("unknown key 'colour' on line 4", pg, p, {2}, contains=["colour"],
                 regex=r"(line\s*:?\s*4\b|:4\b)", state_of=good)

    p = variant(None, checkpoint_dir=good.ckpt_dir, tables=["public.no_such_table"])
    expect_error("unknown table public.no_such_table", pg, p, {2}, contains=["no_such_table"], state_of=good)

    p = Pipeline(replica, name="e2", tables=["public.good"])
    expect_error("server with wal_level=replica", replica, p, {2}, contains=["wal_level"])

    p = Pipeline(scram, name="e3", tables=["public.good"], dsn=scram.dsn(tcp=True, password="Wr0ngPassw0rd"))
    expect_error("wrong password", scram, p, {1}, not_contains=["Wr0ngPassw0rd"])
    line = p.run(["run", "-c", p.config, "--stop-when-idle", "1"]).stderr_lines()[0].lower()
    check("password" in line or "authentication" in line, "wrong-password message says authentication/password failed",
          line)

    base = make_tmpdir("wbtest-wb-")
    blocker = os.path.join(base, "afile")
    with open(blocker, "w") as f:
        f.write("a regular file where a directory should be\n")
    p = Pipeline(pg, name="e1", base=base, tables=["public.good"], checkpoint_dir=os.path.join(blocker, "ckpt"))
    expect_error("checkpoint dir under a regular file", pg, p, {1}, contains=[blocker], state_of=good)

    log("waybill check on the wal_level=replica server")
    p = Pipeline(replica, name="c1", tables=["public.good"])
    r = p.run(["check", "-c", p.config])
    out = check_output(r)
    check_eq(r.rc, 1, "check exits 1")
    fails = [l for l in out if l.lower().startswith("fail") and "wal_level" in l]
    if not fails or "logical" not in fails[0]:
        fail(f"check should print a FAIL line about wal_level with the fix (wal_level = logical)\n{r}")
    check(True, f"check names the fix: {fails[0]}")
    check_eq(replica.slot("waybill_c1"), None, "check created no slot")

    log("waybill check on a table without primary key or REPLICA IDENTITY FULL")
    p = Pipeline(pg, name="c2", tables=["public.nopk"])
    r = p.run(["check", "-c", p.config])
    out = check_output(r)
    check_eq(r.rc, 1, "check exits 1")
    norm = [re.sub(r"\s+", " ", l.replace('"', "")).lower() for l in out]
    hits = [l for l in norm if "alter table public.nopk replica identity full" in l]
    if not hits:
        fail(f"check should print ALTER TABLE public.nopk REPLICA IDENTITY FULL\n{r}")
    check(True, f"check prints the fix: {hits[0]}")
    pg.psql("ALTER TABLE nopk REPLICA IDENTITY FULL")
    r = p.run(["check", "-c", p.config])
    check(r.rc == 0, "after the ALTER, check passes", repr(r))


main(test)
