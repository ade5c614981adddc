# test_pg_gap.py — never a silent gap, and no stop where a retry heals:
#  - the slot dropped while waybill is stopped: `run` exits 1 naming the
#    LSN range at risk and the ways out; `run --resnapshot` then rebuilds
#    the tables exactly;
#  - the slot invalidated by max_slot_wal_keep_size (wal_status 'lost'):
#    exit 1 with PostgreSQL's reason; with `on_gap: resnapshot` the dead
#    slot is replaced and the tables rebuilt exactly;
#  - the checkpoint lost while the slot remains: exit 1, nothing written;
#  - the server restarted (fast and immediate) and the walsender and the
#    catalog connection terminated, under a running workload: waybill
#    reconnects by itself, and every committed change is in the files
#    exactly once (unique event ids; the replayed state equals the table).
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401


def table_state(pg, table):
    rows = pg.psql(f"SELECT id, v FROM {table} ORDER BY id")
    return {int(i): {"id": int(i), "v": v} for i, v in (r.split("|") for r in rows)}


def check_exact(pg, p, table, topic):
    recs = records(p.out, topic)
    ids = [r["event_id"] for r in recs]
    check_eq(len(ids), len(set(ids)), f"{topic}: no event twice ({len(ids)} events)")
    check_eq(replay(recs), table_state(pg, table), f"{topic}: the events rebuild the table exactly")
    return recs


def slot_dropped(pg):
    pg.psql("CREATE TABLE sd (id int PRIMARY KEY, v text);"
            "INSERT INTO sd SELECT g, 'a' || g FROM generate_series(1, 100) g;")
    p = Pipeline(pg, name="sd", tables=["public.sd"])
    p.run_idle(idle=1)
    ck = p.checkpoint()
    pg.psql("INSERT INTO sd VALUES (101, 'lost?'); UPDATE sd SET v = 'b' WHERE id <= 10;")
    pg.psql(f"SELECT pg_drop_replication_slot('{p.slot_name}')")
    r = p.run_idle(idle=1, expect_rc=1)
    err = r.stderr
    log("stderr: " + err.strip().splitlines()[-1])
    check("gap: slot waybill_sd is missing" in err, "the error says the slot is gone")
    check(f"the checkpoint is at flush_lsn {ck['flush_lsn']}" in err, "it names the checkpoint's LSN")
    check("--resnapshot" in err and "on_gap: resnapshot" in err, "it names the ways out")
    check(pg.slot(p.slot_name) is None, "no new slot was created silently")
    c = p.run(["check", "-c", p.config])
    check(c.rc == 1 and "FAIL slot: slot waybill_sd is missing" in c.stdout,
          "`waybill check` fails (exit 1) on the missing slot", repr(c))
    log("run --resnapshot")
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1", "--resnapshot"], timeout=120, tag="run")
    check_eq(r.rc, 0, "run --resnapshot exits 0")
    recs = check_exact(pg, p, "sd", "sd.public.sd")
    check_eq(sum(1 for x in recs if x["op"] == "r"), 201,
             "the first snapshot (100 rows) and the new one (101 rows) are in the files")


def slot_invalidated(pg):
    pg.psql("CREATE TABLE si (id int PRIMARY KEY, v text);"
            "INSERT INTO si SELECT g, 'a' || g FROM generate_series(1, 50) g;")
    p = Pipeline(pg, name="si", tables=["public.si"])
    p.run_idle(idle=1)
    pg.psql("INSERT INTO si VALUES (51, 'after');")
    log("making the server invalidate the slot (max_slot_wal_keep_size = 1MB)")
    pg.psql("CREATE TABLE filler (x text);")
    for i in range(12):
        status = pg.value(f"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{p.slot_name}'")
        if status == "lost":
            break
        pg.psql("INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 3000);"
                "SELECT pg_switch_wal(); CHECKPOINT;")
    check_eq(pg.value(f"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{p.slot_name}'"),
             "lost", "the slot is invalidated")
    r = p.run_idle(idle=1, expect_rc=1)
    check("invalidated" in r.stderr and "wal_status lost" in r.stderr,
          "run stops: the slot was invalidated", r.stderr[-800:])
    log("on_gap: resnapshot")
    p.write_config(p.config_text.replace("  tables:", "  on_gap: resnapshot\n  tables:"))
    p.run_idle(idle=1)
    check_exact(pg, p, "si", "si.public.si")
    check(pg.value(f"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{p.slot_name}'")
          != "lost", "a new slot replaced the dead one")
    pg.psql("DROP TABLE filler;")


def checkpoint_lost(pg):
    pg.psql("CREATE TABLE cl (id int PRIMARY KEY, v text); INSERT INTO cl VALUES (1, 'a');")
    p = Pipeline(pg, name="cl", tables=["public.cl"])
    p.run_idle(idle=1)
    os.unlink(p.checkpoint_path)
    before = all_files(p.out)
    r = p.run_idle(idle=1, expect_rc=1)
    check("there is no checkpoint" in r.stderr and "pg_drop_replication_slot" in r.stderr,
          "run stops: slot without checkpoint, with the ways out", r.stderr[-800:])
    check_eq(all_files(p.out), before, "nothing was written or deleted")
    # snapshot: never is how a pipeline attaches to a slot made for it: it
    # streams from where the slot stands, with a warning
    pg.psql("INSERT INTO cl VALUES (2, 'b');")
    p.write_config(p.config_text.replace("  tables:", "  snapshot: never\n  tables:"))
    r = p.run_idle(idle=1)
    check("no checkpoint: streaming from slot waybill_cl where it stands" in r.stderr,
          "with snapshot: never the start streams from the slot, with a warning", r.stderr[-600:])
    check_eq([x["after"]["id"] for x in records(p.out, "cl.public.cl") if x["op"] == "c"], [2],
             "the change after the slot's position is streamed")


class Workload:
    """Small transactions through psql, retried while the server is away,
    on a wbtest.Thread (an exception or a hang fails the test)."""

    def __init__(self, pg, table, rng):
        self.pg, self.table, self.rng = pg, table, rng
        self.stop = threading.Event()
        self.commits = 0
        self.next_id = 1
        self.thread = None

    def start(self):
        self.thread = Thread(self.run, name="workload")   # starts it

    def join(self, timeout):
        self.thread.join(timeout)

    def run(self):
        while not self.stop.is_set():
            i = self.next_id
            op = self.rng.random()
            if op < 0.6 or i < 20:
                sql = f"INSERT INTO {self.table} VALUES ({i}, 'v{i}')"
                self.next_id += 1
            elif op < 0.9:
                k = self.rng.randrange(1, i)
                sql = f"UPDATE {self.table} SET v = v || '+' WHERE id = {k}"
            else:
                k = self.rng.randrange(1, i)
                sql = f"DELETE FROM {self.table} WHERE id = {k}"
            r = subprocess.run(self.pg.psql_args() + ["-c", sql], capture_output=True, text=True,
                               timeout=60)
            if r.returncode == 0:
                self.commits += 1
            else:
                time.sleep(0.05)   # the server is restarting: try later


def reconnects(pg):
    pg.psql("CREATE TABLE rc (id int PRIMARY KEY, v text);")
    p = Pipeline(pg, name="rc", tables=["public.rc"])
    proc = p.start()
    p.wait_slot_active(proc)
    rng = seeded_random(1)
    wl = Workload(pg, "rc", rng)
    wl.start()

    def settle(what):
        time.sleep(1.5)
        check(proc.alive(), f"waybill still running after {what}", proc.stderr()[-2000:])
        p.wait_slot_active(proc, timeout=60)

    time.sleep(1)
    for mode in ("fast", "immediate"):
        log(f"pg_ctl restart -m {mode}")
        r = pg._as_pg([f"{PG_BIN}/pg_ctl", "-D", pg.data, "-l", os.path.join(pg.dir, "server.log"),
                       "-m", mode, "-w", "-t", "60", "restart"],
                      timeout=90)
        if r.returncode != 0:
            fail(f"pg_ctl restart failed: {r.stdout}{r.stderr}")
        settle(f"restart -m {mode}")
    log("pg_terminate_backend of the walsender")
    pg.psql(f"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
            f"WHERE slot_name = '{p.slot_name}'")
    settle("the walsender was terminated")
    log("pg_terminate_backend of the catalog connection")
    pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'waybill%' AND backend_type = 'client backend'")
    time.sleep(1)
    settle("the catalog connection was terminated")
    wl.stop.set()
    wl.join(timeout=60)   # fails the test on the thread's exception or a hang
    log(f"{wl.commits} workload transactions committed")
    end = lsn(pg.value("SELECT pg_current_wal_insert_lsn()"))
    pg.psql("INSERT INTO rc VALUES (-1, 'last');")
    p.wait_checkpoint_past(end, proc, timeout=60)
    proc.kill(signal.SIGTERM)
    check_eq(proc.p.returncode, 0, "waybill exits 0 on SIGTERM after the outages")
    err = proc.stderr()
    check(err.count("source connection lost") >= 3, "each outage is logged when it starts")
    check(err.count("source connection back") >= 3, "and when it ends")
    check(wl.commits > 20, "the workload ran")
    check_exact(pg, p, "rc", "rc.public.rc")


def no_slot_left_behind(pg):
    """A first run that cannot read a table stops before it creates a slot."""
    pg.psql("""
        CREATE TABLE nsa (id int PRIMARY KEY, v text);
        CREATE TABLE nsb (id int PRIMARY KEY, v text);
        CREATE ROLE nsuser LOGIN REPLICATION;
        GRANT SELECT ON nsa TO nsuser;
        CREATE PUBLICATION waybill_ns FOR TABLE nsa, nsb;
    """)
    p = Pipeline(pg, name="ns", tables=["public.ns*"], dsn=pg.dsn().replace("user=postgres", "user=nsuser"))
    r = p.run_idle(idle=1, expect_rc=2)
    check('GRANT SELECT ON "public"."nsb" TO "nsuser"' in r.stderr, "the error names the GRANT that fixes it",
          r.stderr[-500:])
    check(pg.slot(p.slot_name) is None, "no slot was left behind")
    check(not os.path.exists(p.checkpoint_path), "no checkpoint was written")


def promoted_standby(pg):
    """Failover: PostgreSQL 15 keeps logical slots on the primary only, so a
    promoted standby has no slot; waybill stops with the gap instead of
    streaming from a new slot, and --resnapshot rebuilds from the new
    primary."""
    pg.psql("CREATE TABLE fo (id int PRIMARY KEY, v text);"
            "INSERT INTO fo SELECT g, 'a' || g FROM generate_series(1, 20) g;")
    p = Pipeline(pg, name="fo", tables=["public.fo"])
    p.run_idle(idle=1)
    sb = Postgres(settings=dict(pg.settings))
    sb.port = free_port()
    r = pg._as_pg([f"{PG_BIN}/pg_basebackup", "-h", pg.sock, "-p", str(pg.port), "-U", "postgres",
                   "-D", sb.data, "-R", "-X", "stream", "--no-sync"], timeout=120)
    if r.returncode != 0:
        fail(f"pg_basebackup failed: {r.stderr}")
    opts = (f"-c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10 "
            f"-c listen_addresses=127.0.0.1 -c fsync=off -c unix_socket_directories={sb.sock} "
            f"-c hot_standby=on -p {sb.port}")
    add_cleanup(sb.stop)
    r = sb._as_pg([f"{PG_BIN}/pg_ctl", "-D", sb.data, "-l", os.path.join(sb.dir, "server.log"),
                   "-o", opts, "-w", "-t", "60", "start"], timeout=90)
    if r.returncode != 0:
        fail(f"standby did not start: {r.stdout}{r.stderr}")
    sb.started = True
    pg.psql("INSERT INTO fo VALUES (21, 'before failover');")
    wait_until(lambda: sb.value("SELECT count(*) FROM fo") == "21", 30, "the standby replays the insert")
    log("promoting the standby; the old primary goes away")
    pg.stop()
    r = sb._as_pg([f"{PG_BIN}/pg_ctl", "-D", sb.data, "-w", "-t", "60", "promote"], timeout=90)
    if r.returncode != 0:
        fail(f"promote failed: {r.stdout}{r.stderr}")
    sb.psql("INSERT INTO fo VALUES (22, 'after failover');")
    p.write_config(p.config_text.replace(f"host={pg.sock} port={pg.port}", f"host={sb.sock} port={sb.port}"))
    r = p.run_idle(idle=1, expect_rc=1)
    check("gap: slot waybill_fo is missing" in r.stderr,
          "on the promoted standby the slot is missing: a gap, not a silent new slot", r.stderr[-600:])
    r = p.run(["run", "-c", p.config, "--stop-when-idle", "1", "--resnapshot"], timeout=120, tag="run")
    check_eq(r.rc, 0, "run --resnapshot against the new primary")
    check_exact(sb, p, "fo", "fo.public.fo")


def test():
    pg = Postgres(settings={"max_slot_wal_keep_size": "1MB", "wal_keep_size": "0"}).start()
    slot_dropped(pg)
    slot_invalidated(pg)
    checkpoint_lost(pg)
    no_slot_left_behind(pg)
    reconnects(pg)
    promoted_standby(pg)   # last: it stops pg


main(test)
