# test_pg_check_gap.py — `waybill check` and `waybill status` compare the
# checkpoint with the slot on a real PostgreSQL 15: a slot dropped while
# waybill was stopped, a slot confirmed past the checkpoint (dropped and
# created again), a slot invalidated through max_slot_wal_keep_size
# (wal_status 'lost'), and a slot without a checkpoint each make `check`
# FAIL (exit 1) with what happened, the LSN range at risk and the ways out
# (`on_gap: resnapshot`, `waybill run --resnapshot`), and `status` print its
# JSON with the slot's state, the problem on stderr, exit 1.
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

NAME = "gap"
SLOT = f"waybill_{NAME}"


def slot_fail_line(r):
    fails = [l for l in r.stdout.split("\n") if l.startswith("FAIL")]
    if r.rc != 1 or len(fails) != 1 or not fails[0].startswith("FAIL slot: "):
        fail(f"check: expected exit 1 and exactly one FAIL, on the slot\n{r}")
    check(r.stdout.rstrip().endswith("problems found"), "check ends with 'problems found'")
    return fails[0]


def ways_out(line, p):
    check(f"ways out: " in line and f"set `on_gap: resnapshot` under source in {p.config}" in line
          and f"`waybill run -c {p.config} --resnapshot`" in line,
          "names the ways out: on_gap: resnapshot, run --resnapshot")


def status(p, want_rc, state):
    r = p.run(["status", "-c", p.config])
    check_eq(r.rc, want_rc, f"status exit code (slot {state})")
    try:
        st = json.loads(r.stdout)
    except ValueError as e:
        fail(f"status output is not JSON ({e})\n{r}")
    check_eq(st["source"]["slot"]["state"], state, "status source.slot.state")
    if want_rc:
        lines = r.stderr_lines()
        check(len(lines) == 1 and lines[0] == "waybill: " + st["source"]["problem"],
              "status: the problem once on stderr, as in the JSON", r.stderr)
    else:
        check("problem" not in st["source"], "status: no problem")
    return st


def check_ok(p, slot_line):
    r = p.run(["check", "-c", p.config])
    if r.rc != 0 or "all checks passed" not in r.stdout:
        fail(f"check: expected all checks passed\n{r}")
    check(slot_line in r.stdout, f"check says: {slot_line}", r.stdout)


def fresh_start(pg, p):
    """No slot, no checkpoint, no output; then a first run."""
    if pg.slot(SLOT) is not None:
        pg.psql(f"SELECT pg_drop_replication_slot('{SLOT}')")
    for f in os.listdir(p.ckpt_dir) if os.path.isdir(p.ckpt_dir) else []:
        os.unlink(os.path.join(p.ckpt_dir, f))
    check_ok(p, f"ok slot: {SLOT} will be created")
    p.run_idle(1)
    check_ok(p, f"ok slot: {SLOT} exists and continues the checkpoint")
    status(p, 0, "ok")


def test():
    pg = Postgres().start()
    pg.psql("CREATE TABLE gap_t (id int PRIMARY KEY, v text); INSERT INTO gap_t VALUES (1, 'a');")
    p = Pipeline(pg, name=NAME, tables=["public.gap_t"])

    log("a first run: check passes, status says ok")
    fresh_start(pg, p)
    pg.psql("INSERT INTO gap_t VALUES (2, 'b')")
    p.run_idle(1)
    check_ok(p, f"ok slot: {SLOT} exists and continues the checkpoint")

    log("slot dropped while waybill is stopped")
    pg.psql("INSERT INTO gap_t VALUES (3, 'c')")
    pg.psql(f"SELECT pg_drop_replication_slot('{SLOT}')")
    flush = p.checkpoint()["flush_lsn"]
    r = p.run(["check", "-c", p.config])
    line = slot_fail_line(r)
    check(line.startswith(f"FAIL slot: slot {SLOT} is missing but the checkpoint is at flush_lsn {flush}: "
                          f"the changes committed from {flush} to "), f"says what happened and from where: {line}")
    to = line.split(f"from {flush} to ")[1].split(" ")[0]
    check(lsn(to) >= lsn(flush), f"the range ends at the server's position ({to})")
    ways_out(line, p)
    st = status(p, 1, "missing")
    check_eq(st["source"]["slot"]["exists"], False, "status: slot.exists false")

    log("slot created again: confirmed past the checkpoint")
    pg.psql(f"SELECT pg_create_logical_replication_slot('{SLOT}', 'pgoutput')")
    confirmed = pg.slot(SLOT)[0]
    check(lsn(confirmed) > lsn(flush), f"the new slot starts past the checkpoint ({confirmed} > {flush})")
    line = slot_fail_line(p.run(["check", "-c", p.config]))
    check(f"slot {SLOT} has confirmed_flush_lsn {confirmed}, past the checkpoint's flush_lsn {flush}: "
          f"the changes committed from {flush} to {confirmed} " in line, f"says what and which range: {line}")
    ways_out(line, p)
    status(p, 1, "ahead")

    log("slot without a checkpoint")
    os.unlink(p.checkpoint_path)
    line = slot_fail_line(p.run(["check", "-c", p.config]))
    check(f"slot {SLOT} exists but there is no checkpoint ({p.ckpt_dir}/{NAME}.json)" in line
          and f"SELECT pg_drop_replication_slot('{SLOT}');" in line, f"says so, and how to start afresh: {line}")
    ways_out(line, p)
    status(p, 1, "no_checkpoint")

    log("slot invalidated through max_slot_wal_keep_size")
    fresh_start(pg, p)
    flush = p.checkpoint()["flush_lsn"]
    pg.psql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'; SELECT pg_reload_conf();")
    for i in range(40):
        pg.psql("INSERT INTO gap_t SELECT g, repeat('x', 1000) FROM generate_series(1000 + 100 * %d, 1099 + 100 * %d) g;"
                "SELECT pg_switch_wal(); CHECKPOINT;" % (i, i))
        if pg.value(f"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{SLOT}'") == "lost":
            break
    check_eq(pg.value(f"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{SLOT}'"), "lost",
             "the slot is invalidated (wal_status lost)")
    line = slot_fail_line(p.run(["check", "-c", p.config]))
    check(line.startswith(f"FAIL slot: slot {SLOT} was invalidated (wal_status lost: ")
          and "max_slot_wal_keep_size" in line
          and f"the changes committed from {flush} (the checkpoint's flush_lsn) to " in line,
          f"says what happened and the range: {line}")
    ways_out(line, p)
    st = status(p, 1, "lost")
    check_eq(st["source"]["slot"]["wal_status"], "lost", "status: slot.wal_status")
    pg.psql("ALTER SYSTEM RESET max_slot_wal_keep_size; SELECT pg_reload_conf();")

    log("a running pipeline is no gap: before its first checkpoint, and while it confirms changes")
    pg.psql(f"SELECT pg_drop_replication_slot('{SLOT}')")
    os.unlink(p.checkpoint_path)
    os.environ["WB_DELAY"] = "checkpoint.tmp_synced:3000000"   # the first checkpoint comes late
    proc = p.start()
    del os.environ["WB_DELAY"]
    p.wait_slot_active(proc)
    if p.checkpoint() is None:
        st = status(p, 0, "ok")
        check_eq(st["checkpoint"], None, "status: no checkpoint yet, slot active: not a problem")
    s = pg.session()
    for i in range(15):
        s.run(f"INSERT INTO gap_t VALUES ({100000 + i}, 'load')")
        status(p, 0, "ok")
    proc.p.send_signal(signal.SIGTERM)
    check_eq(proc.wait(60), 0, "the pipeline stops cleanly")

    log("with on_gap: resnapshot set")
    pg.psql(f"SELECT pg_drop_replication_slot('{SLOT}')")
    p.write_config(p.config_text.replace("  tables:", "  on_gap: resnapshot\n  tables:"))
    line = slot_fail_line(p.run(["check", "-c", p.config]))
    check(line.endswith(f"would be skipped; ways out: `on_gap: resnapshot` is set in {p.config}: the next run "
                        "reads the captured tables again (online) and streams from there"),
          f"with on_gap: resnapshot, check says what the next run does: {line}")

    log("a slot of that name that is not waybill's")
    pg.psql("SELECT pg_create_logical_replication_slot('wb_foreign', 'test_decoding')")
    other = Pipeline(pg, name="gapx", tables=["public.gap_t"], extra_source="  slot: wb_foreign\n")
    line = slot_fail_line(other.run(["check", "-c", other.config]))
    check_eq(line, "FAIL slot: wb_foreign exists but is not a pgoutput slot of database postgres; "
                   "choose another source.slot", "check names the foreign slot")


main(test)
